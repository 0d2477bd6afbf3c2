"""Amplitude features, numba kernels: per-frame normalized amplitude and motion energy.

Same contracts as ``wdp.dsp.reference.normalize_amplitude`` and ``motion_energy``. The
amplitude of every bin comes from ``wdp.dsp.scalar.amplitude`` (vectorized, hypot's
accuracy, NaN for a NaN or inf part); sums run in float64, in eight interleaved partial
sums as numpy's pairwise sum does for short rows (they agree to a few ulp).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from wdp.dsp.layout import as_complex, as_real_or_complex, kernel_input, time_major
from wdp.dsp.reference import check_valid
from wdp.dsp.scalar import amplitude, sum8


@numba.njit(inline="always", error_model="numpy")
def _amplitudes(row, out):  # pragma: no cover - compiled
    """out[i] = |row[i]| (float64) for a 1-D complex or real row."""
    for i in range(row.shape[0]):
        out[i] = amplitude(np.float64(row[i].real), np.float64(row[i].imag))


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _normalize_kernel(csi, valid, out):  # pragma: no cover - compiled
    """csi complex [N, P, S], valid float64 [S] (1 valid, 0 not) -> out float32 [N, P, S]."""
    n, n_chain, n_sub = csi.shape
    amp = np.empty((n_chain, n_sub))
    per_bin = np.empty(n_sub)
    count = 0.0
    for k in range(n_sub):
        count += valid[k]
    count *= n_chain
    for t in range(n):
        per_bin[:] = 0.0
        for q in range(n_chain):
            a = amp[q]
            _amplitudes(csi[t, q], a)
            for k in range(
                n_sub
            ):  # the bins' sums over chains (a NaN in an invalid bin is skipped)
                per_bin[k] += a[k] if valid[k] != 0.0 else 0.0
        total = sum8(per_bin, n_sub)
        mean = total / count
        fill = 0.0 if mean == 0.0 else np.nan
        if (mean - mean) == 0.0 and mean != 0.0:
            for q in range(n_chain):
                a = amp[q]
                o = out[t, q]
                for k in range(n_sub):
                    o[k] = a[k] / mean
        else:  # all zero (the frame is 0) or not finite (the frame is NaN)
            for q in range(n_chain):
                o = out[t, q]
                for k in range(n_sub):
                    o[k] = fill


def normalize_amplitude(csi: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """``|csi|`` over each frame's mean amplitude on its valid bins, float32 [N, ..., S];
    see ``wdp.dsp.reference.normalize_amplitude`` (mean 0: the frame is 0; mean not
    finite: the frame is NaN; a NaN or inf bin outside the valid ones: NaN there)."""
    csi = np.asarray(csi)
    if csi.ndim < 2:
        raise ValueError(f"normalize_amplitude needs csi [N, ..., S], got shape {csi.shape}")
    v = check_valid(valid, csi.shape[-1]).astype(np.float64)
    csi = as_complex(csi)
    n, n_sub = csi.shape[0], csi.shape[-1]
    shape = (n, math.prod(csi.shape[1:-1]), n_sub)
    out = np.empty(shape, dtype=np.float32)
    if out.size:
        _normalize_kernel(kernel_input(csi, shape), kernel_input(v), out)
    return out.reshape(csi.shape)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _motion_kernel(x, out):  # pragma: no cover - compiled
    """x [N, C] complex or real -> out float64 [N]: mean squared amplitude step."""
    n, n_col = x.shape
    prev = np.empty(n_col)
    cur = np.empty(n_col)
    step = np.empty(n_col)
    if n == 0:
        return
    out[0] = 0.0
    _amplitudes(x[0], prev)
    for t in range(1, n):
        _amplitudes(x[t], cur)
        for j in range(n_col):
            d = cur[j] - prev[j]
            step[j] = d * d
        out[t] = sum8(step, n_col) / n_col
        prev, cur = cur, prev


def motion_energy(x: np.ndarray) -> np.ndarray:
    """Mean over channels of the squared first difference of amplitude, float64 [N];
    see ``wdp.dsp.reference.motion_energy`` (e_0 = 0; constant input gives exactly 0)."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("motion_energy needs x [N, C] with time on axis 0")
    x = as_real_or_complex(x)
    if x.dtype == np.float32:  # one real signature: float64 (complex64/128 kept as they are)
        x = x.astype(np.float64)
    flat = time_major(x)
    if flat.shape[1] == 0:
        raise ValueError("motion_energy needs at least one channel")
    out = np.empty(flat.shape[0])
    _motion_kernel(kernel_input(flat), out)
    return out
