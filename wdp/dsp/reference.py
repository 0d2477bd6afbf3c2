"""Reference (plain numpy) DSP: phase sanitization.

Raw CSI phase is dominated by what the radio adds per packet, not by the room: a common
phase (carrier frequency offset, PLL) and a linear slope across subcarriers (the sampling
time offset of packet detection, a delay ``delta_t`` turns subcarrier k's phase by
``-2 pi k spacing delta_t``). Both are linear in the true subcarrier index, so unwrapping
across subcarriers and removing the least-squares line over the true indices leaves the
part of the phase that the environment shapes. The fitted slope is kept: it is the timing
offset (plus the channel's own mean delay), ``tau = -slope / (2 pi spacing)``.

The fit runs over whatever bins it is given: pass only bins that carry signal (an ESP32's
guard and DC bins are zero, their phase is meaningless and would bend the line).
"""

from __future__ import annotations

import numpy as np


def sanitize_phase(csi: np.ndarray, subcarriers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unwrap phase across subcarriers and remove its least-squares line, per chain.

    ``csi`` is complex [..., S] (e.g. a batch [N, T, R, S] or one frame [T, R, S]);
    ``subcarriers`` the true indices, [S] shared or [N, S] per frame (broadcast against
    ``csi``'s leading axes). The bins need not be sorted: unwrapping follows ascending
    index order and the result comes back in the input order.

    Returns ``(phase, slope)``: the sanitized phase (float64, same shape as ``csi``) and
    the fitted slope in radians per subcarrier index, shape ``csi.shape[:-1]``.
    """
    csi = np.asarray(csi)
    k = np.asarray(subcarriers, dtype=np.float64)
    if csi.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"csi has {csi.shape[-1]} subcarriers but {k.shape[-1]} indices were given"
        )
    if csi.shape[-1] < 2:
        raise ValueError("phase sanitization needs at least 2 subcarriers")
    # Broadcast the indices to csi's leading axes: [N, S] lines up with [N, T, R, S].
    if k.ndim > 1:
        k = k.reshape(k.shape[:-1] + (1,) * (csi.ndim - k.ndim) + k.shape[-1:])
    k = np.broadcast_to(k, csi.shape)
    order = np.argsort(k, axis=-1, kind="stable")
    ks = np.take_along_axis(k, order, axis=-1)
    phase = np.unwrap(np.angle(np.take_along_axis(csi, order, axis=-1)), axis=-1)
    k_mean = ks.mean(axis=-1, keepdims=True)
    p_mean = phase.mean(axis=-1, keepdims=True)
    dk = ks - k_mean
    denom = np.sum(dk * dk, axis=-1, keepdims=True)
    if np.any(denom == 0):
        raise ValueError("subcarrier indices must not all be equal")
    slope = np.sum(dk * (phase - p_mean), axis=-1, keepdims=True) / denom
    residual = phase - p_mean - slope * dk
    out = np.empty_like(residual)
    np.put_along_axis(out, order, residual, axis=-1)
    return out, slope[..., 0]


def timing_offset_s(slope: np.ndarray, spacing_hz: float) -> np.ndarray:
    """The delay a phase slope (rad per subcarrier index) stands for: -slope / (2 pi spacing)."""
    return -np.asarray(slope, dtype=np.float64) / (2 * np.pi * spacing_hz)
