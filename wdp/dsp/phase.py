"""Phase cleaning, numba kernels: ``sanitize_phase`` and ``csi_ratio`` (see the reference).

Why sanitize at all, and what the fit means, is in the reference's docstring; this is
the same computation, chain by chain: the phase step between neighbouring bins in
ascending index order (the angle of ``z[k] conj(z[k-1])``, through a branch-free atan2
the compiler vectorizes), summed into the unwrapped phase, then the least-squares line
over the true indices removed. The sort order and centred indices are computed once per
distinct subcarrier row, so a batch whose frames share their indices (the usual case)
sorts once.

Non-finite input: a NaN or inf anywhere in a chain makes that chain's phase and slope
NaN (the angle of an inf is meaningless); other chains are untouched. An all-zero chain
has phase 0 and slope 0 (the angle of 0 is 0).

``csi_ratio`` is the other way to clean phase when a frame has several receive chains:
every chain of one packet carries the same common phase and timing slope, so multiplying
by the reference chain's unit conjugate cancels both exactly.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from wdp.dsp.layout import as_complex, kernel_input
from wdp.dsp.reference import check_ratio_args, subcarrier_rows
from wdp.dsp.scalar import amplitude, atan2, nonfinite

#: Chains per pass: one block's phases stay in cache between the angle and fit passes.
BLOCK = 128


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _steps(z_re, z_im, out):  # pragma: no cover - compiled
    """out[i] = angle(z[i] conj(z[i-1])) for i >= 1 and angle(z[0]) for i = 0, plus NaN
    where z[i] is not finite. A function of its own with loops from index 0: LLVM
    vectorizes them alone (numba's negative-index handling of a variable start, or the
    fit's loop around them, stop it)."""
    n = z_re.shape[0]
    for i in range(n - 1):
        a = z_re[i + 1]
        b = z_im[i + 1]
        c = z_re[i]
        d = z_im[i]
        out[i + 1] = atan2(b * c - a * d, a * c + b * d) + nonfinite(a, b)
    if n:
        out[0] = atan2(z_im[0], z_re[0]) + nonfinite(z_re[0], z_im[0])


@numba.njit(inline="always", error_model="numpy")
def _row_changed(rows, r, current):  # pragma: no cover - compiled
    """Whether subcarrier row r differs from row ``current`` (-1: none yet)."""
    if current < 0:
        return True
    for s in range(rows.shape[1]):
        if rows[r, s] != rows[current, s]:
            return True
    return False


@numba.njit(inline="always", error_model="numpy")
def _prepare_row(row, order, dk):  # pragma: no cover - compiled
    """Fill ``order`` (ascending, stable) and ``dk`` (the indices in that order minus
    their mean) for one subcarrier row; returns (order is the identity, sum dk^2,
    sum dk)."""
    n_sub = row.shape[0]
    for j in range(n_sub):  # stable insertion sort: one pass for rows already in order
        v = row[j]
        i = j
        while i > 0 and row[order[i - 1]] > v:
            order[i] = order[i - 1]
            i -= 1
        order[i] = j
    identity = True
    k_mean = 0.0
    for j in range(n_sub):
        identity &= order[j] == j
        k_mean += row[order[j]]
    k_mean /= n_sub
    denom = 0.0
    sdk = 0.0
    for j in range(n_sub):
        dk[j] = row[order[j]] - k_mean
        denom += dk[j] * dk[j]
        sdk += dk[j]
    return identity, denom, sdk


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _sanitize_kernel(csi, rows, group, phase, slope):  # pragma: no cover - compiled
    """csi complex [M, S]; rows float64 [K, S] (chain m uses row m // group); writes
    phase float64 [M, S] and slope float64 [M]. Returns -1, or the first row whose
    indices are all equal (no line to fit: the caller raises)."""
    n_chains, n_sub = csi.shape
    size = min(BLOCK, n_chains) * n_sub
    z_re = np.empty(size)
    z_im = np.empty(size)
    step = np.empty(size)
    order = np.empty(n_sub, dtype=np.int64)
    dk = np.empty(n_sub)
    up = np.empty(n_sub)
    denom = 1.0
    sdk = 0.0
    identity = True
    current = -1
    for b0 in range(0, n_chains, BLOCK):
        b1 = min(n_chains, b0 + BLOCK)
        for m in range(b0, b1):
            # The chain's subcarrier row: sort order and centred indices, when it changes.
            r = m // group
            if r != current:
                if _row_changed(rows, r, current):
                    identity, denom, sdk = _prepare_row(rows[r], order, dk)
                    if denom == 0.0:
                        return r
                current = r
            # Pass 1a: the chain's bins in ascending index order, as float64 parts.
            src = csi[m]
            o = (m - b0) * n_sub
            if identity:
                for j in range(n_sub):
                    z_re[o + j] = np.float64(src[j].real)
                    z_im[o + j] = np.float64(src[j].imag)
            else:
                for j in range(n_sub):
                    z_re[o + j] = np.float64(src[order[j]].real)
                    z_im[o + j] = np.float64(src[order[j]].imag)
        # Pass 1b: the phase steps between neighbouring bins, the whole block at once.
        size = (b1 - b0) * n_sub
        _steps(z_re[:size], z_im[:size], step[:size])
        for m in range(b0, b1):  # each chain starts from its first bin's own angle
            o = (m - b0) * n_sub
            step[o] = atan2(z_im[o], z_re[o]) + nonfinite(z_re[o], z_im[o])
        # Pass 2: per chain, sum the steps (the unwrapped phase) and remove the line.
        for m in range(b0, b1):
            r = m // group
            if r != current:
                if _row_changed(rows, r, current):
                    identity, denom, sdk = _prepare_row(rows[r], order, dk)
                    if denom == 0.0:
                        return r
                current = r
            o = (m - b0) * n_sub
            cum = 0.0
            su = 0.0
            sdu = 0.0
            for j in range(n_sub):
                cum += step[o + j]
                up[j] = cum
                su += cum
                sdu += dk[j] * cum
            p_mean = su / n_sub
            sl = (sdu - p_mean * sdk) / denom
            slope[m] = sl
            dst = phase[m]
            for j in range(n_sub):
                dst[order[j]] = up[j] - p_mean - sl * dk[j]
    return -1


def sanitize_phase(csi: np.ndarray, subcarriers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unwrap phase across subcarriers and remove its least-squares line, per chain.

    ``csi`` complex [..., S] (e.g. [N, T, R, S]); ``subcarriers`` the true indices, [S]
    or [N, S] (any leading shape prefixing csi's), need not be sorted. Returns
    ``(phase float64 like csi, slope float64 csi.shape[:-1])`` in radians and radians
    per subcarrier index. A chain with a NaN or inf comes out NaN; an all-zero chain 0.
    Fewer than 2 subcarriers, indices all equal, or indices that do not line up with
    csi raise ValueError. Same contract as ``wdp.dsp.reference.sanitize_phase``.
    """
    csi = np.asarray(csi)
    rows = subcarrier_rows(csi.shape, subcarriers)
    csi = as_complex(csi)
    n_sub = csi.shape[-1]
    n_chains = math.prod(csi.shape[:-1])
    phase = np.empty((n_chains, n_sub))
    slope = np.empty(n_chains)
    if n_chains:
        flat = kernel_input(csi, (n_chains, n_sub))
        group = n_chains // rows.shape[0]
        bad = _sanitize_kernel(flat, kernel_input(rows), group, phase, slope)
    else:
        bad = 0 if np.any(np.ptp(rows, axis=-1) == 0) else -1
    if bad >= 0:
        raise ValueError("subcarrier indices must not all be equal")
    return phase.reshape(csi.shape), slope.reshape(csi.shape[:-1])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _ratio_kernel(csi, ref_rx, out):  # pragma: no cover - compiled
    """csi complex [M, R, S] -> out [M, R-1, S]: x * conj(ref) / |ref| (0 where ref is 0),
    computed in float64."""
    n, n_rx, n_sub = csi.shape
    u_re = np.empty(n_sub)
    u_im = np.empty(n_sub)
    for i in range(n):
        ref = csi[i, ref_rx]
        for k in range(n_sub):
            zr = np.float64(ref[k].real)
            zi = np.float64(ref[k].imag)
            mag = amplitude(zr, zi)
            mag = mag if mag != 0.0 else 1.0  # a zero reference: 0 / 1 = 0
            u_re[k] = zr / mag
            u_im[k] = -zi / mag
        q = 0
        for r in range(n_rx):
            if r == ref_rx:
                continue
            x = csi[i, r]
            o = out[i, q]
            for k in range(n_sub):
                xr = np.float64(x[k].real)
                xi = np.float64(x[k].imag)
                o[k] = complex(xr * u_re[k] - xi * u_im[k], xr * u_im[k] + xi * u_re[k])
            q += 1


def csi_ratio(csi: np.ndarray, ref_rx: int = 0) -> np.ndarray:
    """Each other receive chain times the unit conjugate of chain ``ref_rx``: csi
    [..., R, S] (e.g. [N, T, R, S]) -> [..., R-1, S], cancelling the packet's common
    phase and timing slope; see ``wdp.dsp.reference.csi_ratio`` (0 where the reference
    is 0; complex64 stays complex64; R == 1 raises ValueError)."""
    csi = np.asarray(csi)
    ref_rx = check_ratio_args(csi, ref_rx)
    csi = as_complex(csi)
    n_rx, n_sub = csi.shape[-2:]
    n = math.prod(csi.shape[:-2])
    out = np.empty((n, n_rx - 1, n_sub), dtype=csi.dtype)
    if out.size:
        _ratio_kernel(kernel_input(csi, (n, n_rx, n_sub)), ref_rx, out)
    return out.reshape(csi.shape[:-2] + (n_rx - 1, n_sub))
