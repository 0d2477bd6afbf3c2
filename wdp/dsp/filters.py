"""Filters over time, numba kernels: the Hampel outlier filter and static removal.

Same contracts as ``wdp.dsp.reference.hampel``, ``remove_static`` and ``StaticRemover``
(read those docstrings for the definitions, edge handling and non-finite rules). Both
kernels walk time in the outer loop and run the inner loop across channels, which is
contiguous in memory: the compiler turns it into SIMD code, where one time series at a
time would be a chain of dependent, branchy scalar steps.

Hampel's window is sorted per channel with an odd-even transposition network (``window``
passes of compare-exchange on whole rows): branch-free, and exact, so medians are the
same numbers numpy's partition picks. It costs O(window^2) per sample, fine for the
short windows a Hampel filter uses (5..15 samples). The MAD then needs no second sort
(see ``_mad_of_sorted``).
"""

from __future__ import annotations

import numba
import numpy as np

from wdp.dsp import reference
from wdp.dsp.layout import as_float, kernel_input, time_major
from wdp.dsp.reference import MAD_SCALE, check_alpha, check_hampel_args
from wdp.dsp.scalar import nonfinite


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _sort_rows(buf, width):  # pragma: no cover - compiled
    """Sort every column of buf[:width] ascending (odd-even transposition)."""
    n_col = buf.shape[1]
    for p in range(width):
        for i in range(p % 2, width - 1, 2):
            a = buf[i]
            b = buf[i + 1]
            for j in range(n_col):
                u = a[j]
                v = b[j]
                a[j] = u if u < v else v
                b[j] = v if u < v else u


@numba.njit(inline="always", error_model="numpy")
def _mad_of_sorted(buf, med, mad):  # pragma: no cover - compiled
    """The median absolute deviation of every column of buf (sorted, odd length 2h + 1,
    median buf[h] = med), without sorting the deviations: they are 0 and two ascending
    runs, A_i = med - buf[h - i] and B_i = buf[h + i] - med (i = 1..h), and the MAD is
    the h-th smallest of A and B together, min over i of max(A_i, B_(h-i)) (A_0 = B_0 =
    -inf). Exact: the same numbers the sort would pick."""
    w, n_col = buf.shape
    h = w // 2
    top = buf[w - 1]
    for j in range(n_col):
        mad[j] = top[j] - med[j]  # i = 0: B_h
    for i in range(1, h + 1):
        lo = buf[h - i]
        hi = buf[w - 1 - i]  # B_(h-i) = buf[2h - i] - med
        for j in range(n_col):
            a = med[j] - lo[j]
            b = hi[j] - med[j]
            v = (a if a > b else b) if i < h else a
            mad[j] = v if v < mad[j] else mad[j]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _hampel_kernel(x, window, threshold, out, flags):  # pragma: no cover - compiled
    """x float [N, C]; writes out (x's dtype) and flags (bool) [N, C]."""
    n, n_col = x.shape
    w = min(window, n)
    half = window // 2
    lo = (w - 1) // 2
    hi = w // 2
    buf = np.empty((w, n_col), dtype=x.dtype)
    dev = np.empty((w, n_col), dtype=x.dtype)
    med = np.empty(n_col, dtype=x.dtype)
    mad = np.empty(n_col, dtype=x.dtype)
    finite = np.empty(n_col, dtype=x.dtype)
    start = -1
    for t in range(n):
        s = min(max(t - half, 0), n - w)
        if s != start:  # a new window: its median, MAD and finiteness per column
            start = s
            for i in range(w):
                row = x[s + i]
                b = buf[i]
                for j in range(n_col):
                    b[j] = row[j]
            for j in range(n_col):
                finite[j] = 0.0
            for i in range(w):
                b = buf[i]
                for j in range(n_col):
                    finite[j] += nonfinite(b[j], 0.0)
            _sort_rows(buf, w)
            a = buf[lo]
            b = buf[hi]
            for j in range(n_col):
                med[j] = (a[j] + b[j]) * 0.5 if lo != hi else a[j]
            if lo == hi:
                _mad_of_sorted(buf, med, mad)
            else:  # an even count (a series shorter than the window): sort the deviations
                for i in range(w):
                    b = buf[i]
                    d = dev[i]
                    for j in range(n_col):
                        d[j] = abs(b[j] - med[j])
                _sort_rows(dev, w)
                a = dev[lo]
                b = dev[hi]
                for j in range(n_col):
                    mad[j] = (a[j] + b[j]) * 0.5
        row = x[t]
        o = out[t]
        f = flags[t]
        for j in range(n_col):
            v = row[j]
            m = med[j]
            hit = (finite[j] == 0.0) & (np.float64(abs(v - m)) > threshold * np.float64(mad[j]))
            o[j] = m if hit else v
            f[j] = hit


def hampel(x: np.ndarray, window: int = 5, n_sigmas: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Hampel filter over time (axis 0); see ``wdp.dsp.reference.hampel``.

    ``window`` is the full, odd window length in samples, shifted inside the series at
    its edges; returns ``(filtered in x's dtype, outliers bool)``. A window holding a NaN
    or inf leaves its centre sample as it is.
    """
    window, n_sigmas = check_hampel_args(window, n_sigmas)
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("hampel needs x [N, ...] with time on axis 0")
    x = as_float(x)
    if x.shape[0] == 0 or x.size == 0:
        return x.copy(), np.zeros(x.shape, dtype=bool)
    flat = kernel_input(time_major(x))
    out = np.empty(flat.shape, dtype=flat.dtype)
    flags = np.empty(flat.shape, dtype=bool)
    _hampel_kernel(flat, window, n_sigmas * MAD_SCALE, out, flags)
    return out.reshape(x.shape), flags.reshape(x.shape)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _ema_kernel(x, alpha, baseline, out):  # pragma: no cover - compiled
    """The recursion of ``remove_static`` over x [N, C]: baseline complex128 [C] (NaN:
    not started) is advanced in place, out [N, C] gets the dynamic part."""
    n, n_col = x.shape
    b_re = np.empty(n_col)
    b_im = np.empty(n_col)
    for j in range(n_col):
        b_re[j] = baseline[j].real
        b_im[j] = baseline[j].imag
    for t in range(n):
        row = x[t]
        o = out[t]
        for j in range(n_col):
            xr = np.float64(row[j].real)
            xi = np.float64(row[j].imag)
            fin = nonfinite(xr, xi) == 0.0
            br = b_re[j]
            bi = b_im[j]
            fresh = fin & (br != br)
            br = xr if fresh else br
            bi = xi if fresh else bi
            dr = xr - br
            di = xi - bi
            b_re[j] = br + alpha * dr if fin else br
            b_im[j] = bi + alpha * di if fin else bi
            o[j] = complex(dr, di)
    for j in range(n_col):
        baseline[j] = complex(b_re[j], b_im[j])


def _static_input(x: np.ndarray) -> np.ndarray:
    """x as complex64 (kept) or complex128 (anything else), the kernel's two dtypes."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("remove_static needs x [N, C] with time on axis 0")
    return x if x.dtype == np.complex64 else x.astype(np.complex128)


def remove_static(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Split x [N, C] into an EMA baseline (weight ``alpha`` per sample, started at the
    first sample) and the rest; see ``wdp.dsp.reference.remove_static``. Returns
    ``(dynamic like x: complex64 or complex128, baseline complex128 [C])``."""
    alpha = check_alpha(alpha)
    x = _static_input(x)
    flat = kernel_input(time_major(x))
    baseline = np.full(flat.shape[1], np.nan, dtype=np.complex128)
    out = np.empty(flat.shape, dtype=x.dtype)
    _ema_kernel(flat, alpha, baseline, out)
    return out.reshape(x.shape), baseline.reshape(x.shape[1:])


class StaticRemover(reference.StaticRemover):
    """Streaming ``remove_static`` (numba): feed chunks [M, C] in order; concatenating
    the outputs gives exactly ``remove_static`` of the concatenated input."""

    def update(self, x: np.ndarray) -> np.ndarray:
        """The dynamic part of chunk x [M, C...]; advances the baseline."""
        x = _static_input(x)
        baseline = self._state(x)
        flat = kernel_input(time_major(x))
        out = np.empty(flat.shape, dtype=x.dtype)
        _ema_kernel(flat, self.alpha, baseline, out)
        return out.reshape(x.shape)


__all__ = ["StaticRemover", "hampel", "remove_static"]
