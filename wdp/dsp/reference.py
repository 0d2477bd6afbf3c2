"""Reference (plain numpy) DSP: the definitions the numba kernels are checked against.

Every function here has a numba twin with the same signature exported from ``wdp.dsp``;
this module is the readable statement of what each one computes, and the tests hold the
kernels to it. All batch functions take time on axis 0 and are pure functions of their
inputs (``StaticRemover`` is the streaming form of ``remove_static`` and carries state).

Phase sanitization. Raw CSI phase is dominated by what the radio adds per packet, not by
the room: a common phase (carrier frequency offset, PLL) and a linear slope across
subcarriers (the sampling time offset of packet detection, a delay ``delta_t`` turns
subcarrier k's phase by ``-2 pi k spacing delta_t``). Both are linear in the true
subcarrier index, so unwrapping across subcarriers and removing the least-squares line
over the true indices leaves the part of the phase that the environment shapes.
Unwrapping sums the phase steps between neighbouring bins in ascending index order, each
step the angle of ``z[k] conj(z[k-1])`` in (-pi, pi]: the same as ``np.unwrap`` of the
bins' angles, except that a step of exactly pi (two exactly opposite bins, which integer
CSI such as nexmon's does produce) has one answer instead of whichever way the rounding
of two separate angles tips it. The fitted slope is kept: it is the timing offset (plus
the channel's own mean delay), ``tau = -slope / (2 pi spacing)``. The fit runs over
whatever bins it is given: pass only bins that carry signal (an ESP32's guard and DC
bins are zero, their phase is meaningless and would bend the line).

Non-finite input never raises; what comes out is stated per function (in short: a NaN or
inf poisons exactly the outputs that depend on it, and callers flag those).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from wdp.dsp.layout import as_float, time_major

#: 1 / Phi^-1(3/4): scales a median absolute deviation to a Gaussian standard deviation.
MAD_SCALE = 1.482602218505602


# --------------------------------------------------------------------------- checks
# Shared by the numba wrappers, so both implementations reject the same inputs alike.


def check_window(window: int, name: str = "window") -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {window!r}")
    return int(window)


def check_hampel_args(window: int, n_sigmas: float) -> tuple[int, float]:
    window = check_window(window)
    if window < 3 or window % 2 == 0:
        raise ValueError(f"hampel window must be an odd number of samples >= 3, got {window}")
    n_sigmas = float(n_sigmas)
    if not (np.isfinite(n_sigmas) and n_sigmas >= 0):
        raise ValueError(f"n_sigmas must be finite and >= 0, got {n_sigmas}")
    return window, n_sigmas


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha <= 1.0):
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    return alpha


def check_doppler_args(fs: float, window: int, hop: int) -> tuple[float, int, int]:
    fs = float(fs)
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be a positive sample rate, got {fs}")
    window, hop = check_window(window), check_window(hop, "hop")
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be >= 1, got window={window}, hop={hop}")
    return fs, window, hop


def check_valid(valid, n_sub: int) -> np.ndarray:
    """The valid-bin mask as bool [S] (None: all bins)."""
    v = np.ones(n_sub, dtype=bool) if valid is None else np.asarray(valid)
    if n_sub == 0:
        raise ValueError("csi has no subcarriers")
    if v.dtype != np.bool_ or v.shape != (n_sub,):
        raise ValueError(f"valid must be a bool mask of shape ({n_sub},), got {v.dtype} {v.shape}")
    if not v.any():
        raise ValueError("valid marks no bin: the amplitude mean needs at least one")
    return v


def check_ratio_args(csi: np.ndarray, ref_rx: int) -> int:
    if csi.ndim < 3:
        raise ValueError(f"csi_ratio needs csi [..., R, S] (e.g. [N, T, R, S]), got {csi.shape}")
    n_rx = csi.shape[-2]
    if n_rx < 2:
        raise ValueError("csi_ratio needs at least 2 receive chains (with one, use sanitize_phase)")
    ref_rx = check_window(ref_rx, "ref_rx")
    if not -n_rx <= ref_rx < n_rx:
        raise ValueError(f"ref_rx {ref_rx} out of range for {n_rx} receive chains")
    return ref_rx % n_rx


def subcarrier_rows(csi_shape: tuple[int, ...], subcarriers) -> np.ndarray:
    """The indices as float64 rows [K, S] lining up with csi's leading axes: [S] is one
    row for every chain; [N, S] (or any leading shape that prefixes csi's) one row per
    leading index, broadcast over the remaining axes."""
    k = np.asarray(subcarriers)
    if k.ndim == 1 and len(csi_shape) and csi_shape[-1] == k.shape[0] >= 2:  # the usual case
        return k.astype(np.float64).reshape(1, -1)
    k = k.astype(np.float64, copy=False)
    if k.ndim == 0:
        raise ValueError("subcarriers must be an array of indices [S] or [N, S]")
    if len(csi_shape) == 0 or csi_shape[-1] != k.shape[-1]:
        n = csi_shape[-1] if csi_shape else 0
        raise ValueError(f"csi has {n} subcarriers but {k.shape[-1]} indices were given")
    if k.shape[-1] < 2:
        raise ValueError("phase sanitization needs at least 2 subcarriers")
    lead = csi_shape[: k.ndim - 1]
    if k.ndim - 1 > len(csi_shape) - 1:
        raise ValueError(f"subcarriers {k.shape} has more axes than csi {csi_shape}")
    try:
        k = np.broadcast_to(k, lead + k.shape[-1:])
    except ValueError:
        raise ValueError(f"subcarriers {k.shape} does not line up with csi {csi_shape}") from None
    return np.ascontiguousarray(k.reshape(-1, k.shape[-1]))


# --------------------------------------------------------------------------- phase


def sanitize_phase(csi: np.ndarray, subcarriers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unwrap phase across subcarriers and remove its least-squares line, per chain.

    ``csi`` is complex [..., S] (e.g. a batch [N, T, R, S] or one frame [T, R, S]);
    ``subcarriers`` the true indices, [S] shared or [N, S] per frame (broadcast against
    ``csi``'s leading axes). The bins need not be sorted: unwrapping follows ascending
    index order and the result comes back in the input order.

    Returns ``(phase, slope)``: the sanitized phase (float64, same shape as ``csi``) and
    the fitted slope in radians per subcarrier index, shape ``csi.shape[:-1]``. A chain
    holding any NaN or inf comes out NaN (phase and slope); an all-zero chain has phase 0
    (the angle of 0) and slope 0. Fewer than 2 subcarriers, or indices all equal, raise
    ValueError.
    """
    csi = np.asarray(csi)
    rows = subcarrier_rows(csi.shape, subcarriers)  # validates
    k = np.asarray(subcarriers, dtype=np.float64)
    # Broadcast the indices to csi's leading axes: [N, S] lines up with [N, T, R, S].
    if k.ndim > 1:
        k = k.reshape(k.shape[:-1] + (1,) * (csi.ndim - k.ndim) + k.shape[-1:])
    k = np.broadcast_to(k, csi.shape)
    order = np.argsort(k, axis=-1, kind="stable")
    ks = np.take_along_axis(k, order, axis=-1)
    with np.errstate(invalid="ignore"):
        z = np.take_along_axis(csi, order, axis=-1).astype(np.complex128)
        re, im = z.real, z.imag
        steps = np.arctan2(
            im[..., 1:] * re[..., :-1] - re[..., 1:] * im[..., :-1],
            re[..., 1:] * re[..., :-1] + im[..., 1:] * im[..., :-1],
        )  # angle(z[k] conj(z[k-1])): each bin's phase step from the one below it
        phase = np.concatenate([np.angle(z[..., :1]), steps], axis=-1).cumsum(axis=-1)
        k_mean = ks.mean(axis=-1, keepdims=True)
        p_mean = phase.mean(axis=-1, keepdims=True)
        dk = ks - k_mean
        denom = np.sum(dk * dk, axis=-1, keepdims=True)
        if np.any(np.ptp(rows, axis=-1) == 0):
            raise ValueError("subcarrier indices must not all be equal")
        slope = np.sum(dk * (phase - p_mean), axis=-1, keepdims=True) / denom
        residual = phase - p_mean - slope * dk
    out = np.empty_like(residual)
    np.put_along_axis(out, order, residual, axis=-1)
    slope = slope[..., 0]
    bad = ~np.all(np.isfinite(csi), axis=-1)
    if bad.any():
        out[bad] = np.nan
        slope[bad] = np.nan
    return out, slope


def timing_offset_s(slope: np.ndarray, spacing_hz: float) -> np.ndarray:
    """The delay a phase slope (rad per subcarrier index) stands for: -slope / (2 pi spacing)."""
    return -np.asarray(slope, dtype=np.float64) / (2 * np.pi * spacing_hz)


# --------------------------------------------------------------------------- outliers


def hampel(x: np.ndarray, window: int = 5, n_sigmas: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Hampel filter over time (axis 0), independently for every other index.

    ``window`` is the full window length in samples (odd, >= 3): sample t is compared
    with the median m and the median absolute deviation MAD of the ``window`` samples
    centred on it, and replaced by m when ``|x - m| > n_sigmas * 1.4826 * MAD`` (the
    factor makes the MAD a standard deviation for Gaussian data; with MAD 0, any
    deviation counts). Edges: the window keeps its length and is shifted to lie inside
    the series (the first ``window // 2`` samples share the first window, the last ones
    the last window), so edge samples are judged on as many neighbours as any other;
    a series shorter than the window is judged on all of its samples (median of an even
    count: the mean of the middle two).

    Returns ``(filtered, outliers)``: ``x``'s dtype (float32 stays float32; other
    reals become float64) and a bool mask of the replaced samples. A window holding a NaN or
    inf leaves its centre sample as it is and unflagged (a non-finite sample is passed
    through; finite neighbours are not judged against it). The comparison runs in
    float64 on deviations computed in ``x``'s dtype.
    """
    window, n_sigmas = check_hampel_args(window, n_sigmas)
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("hampel needs x [N, ...] with time on axis 0")
    x = as_float(x)
    n = x.shape[0]
    if n == 0 or x.size == 0:
        return x.copy(), np.zeros(x.shape, dtype=bool)
    w = min(window, n)
    start = np.clip(np.arange(n) - window // 2, 0, n - w)
    wins = x[start[:, None] + np.arange(w)]  # [N, w, ...]
    with np.errstate(invalid="ignore"):
        med = np.median(wins, axis=1)
        mad = np.median(np.abs(wins - med[:, None]), axis=1)
        finite = np.all(np.isfinite(wins), axis=1)
        dev = np.abs(x - med).astype(np.float64)
        outliers = finite & (dev > (n_sigmas * MAD_SCALE) * mad.astype(np.float64))
    return np.where(outliers, med, x).astype(x.dtype, copy=False), outliers


# --------------------------------------------------------------------------- amplitude


def _amplitude(x: np.ndarray) -> np.ndarray:
    """|x| in float64, NaN where x is NaN or inf (any non-finite CSI value is alike)."""
    x = np.asarray(x)
    wide = x.astype(np.complex128 if np.iscomplexobj(x) else np.float64, copy=False)
    return np.where(np.isfinite(wide), np.abs(wide), np.nan)


def normalize_amplitude(csi: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """``|csi|`` divided by each frame's mean amplitude over its valid bins, float32.

    ``csi`` is complex [N, ..., S] (e.g. [N, T, R, S]); the mean of frame n runs over all
    of its chains and the bins ``valid`` marks (bool [S]; None: all). Every bin is
    divided, valid or not, so the shape is kept. Dividing out the per-frame level
    removes the packet-to-packet gain (AGC) common to the frame. A frame whose mean is 0
    comes out all 0; a frame whose mean is not finite (a NaN or inf in a valid bin)
    comes out all NaN; a NaN or inf in an invalid bin gives NaN in that bin only.
    A zero-padded batch counts its padding in the mean: pass frames of one true shape.
    """
    csi = np.asarray(csi)
    if csi.ndim < 2:
        raise ValueError(f"normalize_amplitude needs csi [N, ..., S], got shape {csi.shape}")
    v = check_valid(valid, csi.shape[-1])
    n = csi.shape[0]
    amp = _amplitude(csi)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = time_major(amp[..., v]).mean(axis=1)
        mean = mean.reshape((n,) + (1,) * (csi.ndim - 1))
        out = np.where(mean == 0, 0.0, amp / mean)
        out = np.where(np.isfinite(mean), out, np.nan)
    return out.astype(np.float32)


def csi_ratio(csi: np.ndarray, ref_rx: int = 0) -> np.ndarray:
    """Each other receive chain times the unit conjugate of the reference chain.

    ``csi`` complex [..., R, S] (e.g. [N, T, R, S]); returns [..., R-1, S], the chains
    other than ``ref_rx`` in ascending order, each ``x * conj(ref) / |ref|``. All chains
    of one packet share its common phase and timing slope, so the product cancels both
    exactly and keeps x's amplitude. Computed in complex128; complex64 input gives
    complex64 out, anything else complex128. Where the reference is exactly 0 the ratio
    is undefined and comes out 0; a NaN or inf in x or the reference gives a non-finite
    value in the bins it touches. R == 1 raises ValueError (use
    ``sanitize_phase`` then).
    """
    csi = np.asarray(csi)
    ref_rx = check_ratio_args(csi, ref_rx)
    out_dtype = np.complex64 if csi.dtype == np.complex64 else np.complex128
    wide = csi.astype(np.complex128, copy=False)
    n_rx = csi.shape[-2]
    others = [r for r in range(n_rx) if r != ref_rx]
    ref = wide[..., ref_rx : ref_rx + 1, :]
    mag = np.abs(ref)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(mag == 0, 0, np.conj(ref) / mag)
        return (wide[..., others, :] * unit).astype(out_dtype)


# --------------------------------------------------------------------------- static


def _ema(x: np.ndarray, alpha: float, baseline: np.ndarray) -> np.ndarray:
    """The EMA recursion of ``remove_static`` over x [N, C]; updates ``baseline`` in place."""
    dyn = np.empty(x.shape, dtype=np.complex128)
    for n in range(x.shape[0]):
        xn = x[n].astype(np.complex128)
        fin = np.isfinite(xn)
        fresh = fin & np.isnan(baseline)
        baseline[fresh] = xn[fresh]
        d = xn - baseline
        baseline[fin] += alpha * d[fin]
        dyn[n] = d
    return dyn


def _static_inputs(x: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("remove_static needs x [N, C] with time on axis 0")
    out_dtype = np.dtype(np.complex64 if x.dtype == np.complex64 else np.complex128)
    return x, out_dtype


def remove_static(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Split x [N, C] (time on axis 0) into a slowly adapting baseline and the rest.

    The baseline is an exponential moving average with weight ``alpha`` (0 < alpha <= 1)
    per sample, started at the first sample: b_0 = x_0, then ``d_n = x_n - b_{n-1}`` and
    ``b_n = b_{n-1} + alpha d_n``. Returns ``(dynamic [N, C], baseline [C])``: the d_n
    (complex64 for complex64 input, else complex128) and the final baseline (complex128;
    NaN for a column that never saw a finite sample). A non-finite sample gives a
    non-finite d_n and leaves its column's baseline untouched, so one bad packet does
    not poison the rest of the stream. Any trailing shape works ([N, T, R, S] too).
    """
    alpha = check_alpha(alpha)
    x, out_dtype = _static_inputs(x)
    x2 = time_major(x)
    baseline = np.full(x2.shape[1], np.nan, dtype=np.complex128)
    with np.errstate(invalid="ignore"):
        dyn = _ema(x2, alpha, baseline)
    return dyn.astype(out_dtype).reshape(x.shape), baseline.reshape(x.shape[1:])


class StaticRemover:
    """Streaming ``remove_static``: feed chunks [M, C] in order, get their dynamic part.

    Concatenating the chunks' outputs gives exactly ``remove_static`` of the
    concatenated input. The trailing shape is fixed by the first chunk.
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = check_alpha(alpha)
        self._baseline: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    @property
    def baseline(self) -> np.ndarray | None:
        """The current baseline (complex128, the chunk's trailing shape), None before data."""
        if self._baseline is None:
            return None
        return self._baseline.reshape(self._shape).copy()

    def _state(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 0:
            raise ValueError("StaticRemover.update needs x [M, C] with time on axis 0")
        if self._shape is None:
            self._shape = x.shape[1:]
            self._baseline = np.full(math.prod(self._shape), np.nan, dtype=np.complex128)
        elif x.shape[1:] != self._shape:
            raise ValueError(f"chunk shape {x.shape[1:]} differs from the first {self._shape}")
        return self._baseline

    def update(self, x: np.ndarray) -> np.ndarray:
        """The dynamic part of chunk x [M, C...]; advances the baseline."""
        x, out_dtype = _static_inputs(x)
        baseline = self._state(x)
        return self._run(time_major(x), baseline, out_dtype).reshape(x.shape)

    def _run(self, x2: np.ndarray, baseline: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
        """The recursion over x2 [M, C], advancing ``baseline`` in place."""
        with np.errstate(invalid="ignore"):
            return _ema(x2, self.alpha, baseline).astype(out_dtype)


# --------------------------------------------------------------------------- doppler


def doppler_frequencies(fs: float, window: int) -> np.ndarray:
    """The fftshifted bin frequencies (Hz) of a ``window``-sample DFT at rate ``fs``."""
    return _frequencies(float(fs), int(window)).copy()


@lru_cache(maxsize=64)
def _frequencies(fs: float, window: int) -> np.ndarray:
    return np.fft.fftshift(np.fft.fftfreq(window, 1.0 / fs))


def n_windows(n: int, window: int, hop: int) -> int:
    """How many whole windows of ``window`` samples, ``hop`` apart, fit in n samples."""
    return 0 if n < window else 1 + (n - window) // hop


def doppler_spectrum(
    x: np.ndarray, fs: float, window: int, hop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Short-time power spectrum of x [N, C] (time on axis 0) summed over channels.

    Windows of ``window`` samples start every ``hop`` samples (only whole windows: W =
    1 + (N - window) // hop, 0 when N < window); each is multiplied by a (symmetric)
    Hann window, ``np.hanning``, Fourier transformed over time, and ``|X|^2`` summed over
    the C channels. No mean is removed: remove the static part first (``remove_static``)
    or DC dominates. Returns ``(freqs [window], power [W, window])``, both fftshifted
    (negative frequencies first, float64). A non-finite sample makes its windows' rows
    NaN (or inf).
    """
    fs, window, hop = check_doppler_args(fs, window, hop)
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("doppler_spectrum needs x [N, C] with time on axis 0")
    x2 = time_major(x).astype(np.complex128, copy=False)
    w = n_windows(x2.shape[0], window, hop)
    hann = np.hanning(window)
    power = np.empty((w, window))
    chunk = 64
    with np.errstate(invalid="ignore", over="ignore"):
        for s in range(0, w, chunk):
            idx = (np.arange(s, min(w, s + chunk)) * hop)[:, None] + np.arange(window)
            spec = np.fft.fft(x2[idx] * hann[None, :, None], axis=1)
            power[s : s + chunk] = np.sum(spec.real**2 + spec.imag**2, axis=2)
    return doppler_frequencies(fs, window), np.fft.fftshift(power, axes=1)


# --------------------------------------------------------------------------- motion


def motion_energy(x: np.ndarray) -> np.ndarray:
    """Mean over channels of the squared first difference of amplitude, float64 [N].

    x is [N, C...] complex or real (amplitude ``|x|``); e_0 = 0 and
    ``e_n = mean_c (|x_n,c| - |x_n-1,c|)^2``. A constant input gives exactly 0; a
    NaN or inf sample makes e_n and e_n+1 NaN.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("motion_energy needs x [N, C] with time on axis 0")
    n = x.shape[0]
    x2 = time_major(x)
    if x2.shape[1] == 0:
        raise ValueError("motion_energy needs at least one channel")
    amp = _amplitude(x2)
    out = np.zeros(n)
    if n > 1:
        with np.errstate(invalid="ignore", over="ignore"):
            out[1:] = np.mean(np.diff(amp, axis=0) ** 2, axis=1)
    return out


__all__ = [
    "MAD_SCALE",
    "StaticRemover",
    "csi_ratio",
    "doppler_frequencies",
    "doppler_spectrum",
    "hampel",
    "motion_energy",
    "n_windows",
    "normalize_amplitude",
    "remove_static",
    "sanitize_phase",
    "timing_offset_s",
]
