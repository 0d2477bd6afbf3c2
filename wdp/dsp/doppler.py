"""Doppler spectrum, numba kernel: ``wdp.dsp.reference.doppler_spectrum`` made fast.

numba has no FFT, so this module carries one, shaped for the job: all C channels of a
window are transformed together, each butterfly applied to a whole row of channels (the
inner loop, contiguous, vectorized), and the power summed over channels straight from
the transform. Window lengths that are powers of two use a radix-2 decimation-in-time
FFT; any other length uses Bluestein's chirp-z algorithm on the next power of two
>= 2 window - 1 (a forward DIT transform, a pointwise product with the chirp's
transform, an inverse decimation-in-frequency transform; the final chirp factor has
modulus 1 and drops out of the power). Agreement with numpy's pocketfft is ~1e-15 of
the spectrum's peak.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from wdp.dsp.layout import as_complex, kernel_input, time_major
from wdp.dsp.portable import cis, cos
from wdp.dsp.reference import check_doppler_args, doppler_frequencies, n_windows
from wdp.dsp.scalar import sum8


def _hann(window: int) -> np.ndarray:
    """``np.hanning(window)`` (0.5 + 0.5 cos(pi n / (window - 1)), n = 1 - window, 3 -
    window, ..., window - 1) with the portable cos: the same bits on every CPU."""
    if window == 1:
        return np.ones(1)
    n = np.arange(1 - window, window, 2)
    return 0.5 + 0.5 * cos(np.pi * n / (window - 1))


@lru_cache(maxsize=32)
def _plan(window: int) -> tuple[bool, np.ndarray, ...]:
    """Tables for one window length: (bluestein, hann, bitrev, twiddle re/im, chirp
    re/im, chirp transform re/im). Read-only, shared between calls. Computed with
    ``wdp.dsp.portable``'s sin and cos and this module's FFT (not libm's, numpy's or
    pocketfft's), so that they are the same bits on every CPU."""
    bluestein = window & (window - 1) != 0
    m = 1 << (2 * window - 2).bit_length() if bluestein else window
    bits = max(m.bit_length() - 1, 0)
    idx = np.arange(m)
    bitrev = np.zeros(m, dtype=np.int64)
    for b in range(bits):
        bitrev |= ((idx >> b) & 1) << (bits - 1 - b)
    tw = cis(-2.0 * np.pi * np.arange(max(m // 2, 1)) / m)
    if bluestein:
        j = np.arange(window)
        chirp = cis(-np.pi * ((j * j) % (2 * window)) / window)
        b = np.zeros(m, dtype=np.complex128)
        b[:window] = np.conj(chirp)
        b[m - window + 1 :] = np.conj(chirp[1:])[::-1]
        bf_re = np.ascontiguousarray(b.real[bitrev].reshape(m, 1))
        bf_im = np.ascontiguousarray(b.imag[bitrev].reshape(m, 1))
        _fft_dit(bf_re, bf_im, kernel_input(tw.real), kernel_input(tw.imag))
        bf = bf_re[:, 0] + 1j * bf_im[:, 0]
    else:
        chirp = bf = np.zeros(0, dtype=np.complex128)
    tables = (
        _hann(window),
        bitrev,
        tw.real.copy(),
        tw.imag.copy(),
        chirp.real.copy(),
        chirp.imag.copy(),
        bf.real.copy(),
        bf.imag.copy(),
    )
    for t in tables:
        t.flags.writeable = False
    return (bluestein, *tables)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _fft_dit(re, im, tw_re, tw_im):  # pragma: no cover - compiled
    """In-place forward FFT over rows (axis 0) of re/im [m, C], bit-reversed row order
    in, natural order out; tw = exp(-2 pi i k / m), k < m / 2."""
    m, n_col = re.shape
    size = 2
    while size <= m:
        half = size // 2
        step = m // size
        for start in range(0, m, size):
            for j in range(half):
                wr = tw_re[j * step]
                wi = tw_im[j * step]
                ra = re[start + j]
                ia = im[start + j]
                rb = re[start + j + half]
                ib = im[start + j + half]
                for c in range(n_col):
                    tr = wr * rb[c] - wi * ib[c]
                    ti = wr * ib[c] + wi * rb[c]
                    rb[c] = ra[c] - tr
                    ib[c] = ia[c] - ti
                    ra[c] = ra[c] + tr
                    ia[c] = ia[c] + ti
        size *= 2


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _ifft_dif(re, im, tw_re, tw_im):  # pragma: no cover - compiled
    """In-place inverse FFT (unscaled) over rows of re/im [m, C], natural row order in,
    bit-reversed order out."""
    m, n_col = re.shape
    size = m
    while size >= 2:
        half = size // 2
        step = m // size
        for start in range(0, m, size):
            for j in range(half):
                wr = tw_re[j * step]
                wi = -tw_im[j * step]
                ra = re[start + j]
                ia = im[start + j]
                rb = re[start + j + half]
                ib = im[start + j + half]
                for c in range(n_col):
                    ur = ra[c] - rb[c]
                    ui = ia[c] - ib[c]
                    ra[c] = ra[c] + rb[c]
                    ia[c] = ia[c] + ib[c]
                    rb[c] = ur * wr - ui * wi
                    ib[c] = ur * wi + ui * wr
        size //= 2


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _doppler_kernel(
    x, hop, bluestein, hann, bitrev, tw_re, tw_im, ch_re, ch_im, bf_re, bf_im, power
):  # pragma: no cover - compiled
    """x complex [N, C] -> power float64 [W, window] (fftshifted), see the module doc."""
    n_win, window = power.shape
    n_col = x.shape[1]
    m = bitrev.shape[0]
    re = np.empty((m, n_col))
    im = np.empty((m, n_col))
    sq = np.empty(n_col)
    shift = window // 2
    scale = 1.0 / (np.float64(m) * np.float64(m))
    for w in range(n_win):
        seg = x[w * hop : w * hop + window]
        if bluestein:
            re[:, :] = 0.0
            im[:, :] = 0.0
        for t in range(window):
            row = seg[t]
            h = hann[t]
            cr = ch_re[t] * h if bluestein else h
            ci = ch_im[t] * h if bluestein else 0.0
            r = re[bitrev[t]]
            i = im[bitrev[t]]
            for c in range(n_col):
                xr = np.float64(row[c].real)
                xi = np.float64(row[c].imag)
                r[c] = xr * cr - xi * ci if bluestein else xr * h
                i[c] = xr * ci + xi * cr if bluestein else xi * h
        _fft_dit(re, im, tw_re, tw_im)
        if bluestein:
            for k in range(m):
                br = bf_re[k]
                bi = bf_im[k]
                r = re[k]
                i = im[k]
                for c in range(n_col):
                    a = r[c]
                    b = i[c]
                    r[c] = a * br - b * bi
                    i[c] = a * bi + b * br
            _ifft_dif(re, im, tw_re, tw_im)
        for k in range(window):
            src = bitrev[k] if bluestein else k
            r = re[src]
            i = im[src]
            for c in range(n_col):
                sq[c] = r[c] * r[c] + i[c] * i[c]
            s = sum8(sq, n_col)
            power[w, (k + shift) % window] = s * scale if bluestein else s


def doppler_spectrum(
    x: np.ndarray, fs: float, window: int, hop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Short-time power spectrum of x [N, C] summed over channels, Hann-windowed, whole
    windows only, fftshifted; see ``wdp.dsp.reference.doppler_spectrum``. Returns
    ``(freqs [window], power [W, window])`` (float64; W = 1 + (N - window) // hop)."""
    fs, window, hop = check_doppler_args(fs, window, hop)
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("doppler_spectrum needs x [N, C] with time on axis 0")
    flat = time_major(as_complex(x))
    n_win = n_windows(flat.shape[0], window, hop)
    power = np.empty((n_win, window))
    if n_win and flat.shape[1]:
        _doppler_kernel(kernel_input(flat), hop, *_plan(window), power)
    elif n_win:
        power[:] = 0.0
    return doppler_frequencies(fs, window), power
