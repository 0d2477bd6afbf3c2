"""Scalar functions the numba kernels inline: phase (atan2) and amplitude (hypot).

Written without branches a vectorizer cannot flatten, so that LLVM turns the kernels'
loops into SIMD code: libm's ``atan2`` and ``hypot`` are calls it cannot vectorize,
and phase and amplitude are most of what per-frame DSP computes.

``atan2`` is Cephes' double-precision ``atan`` (rational approximation on [0, 0.66],
``pi/4 + atan((r - 1) / (r + 1))`` above) on ``min(|y|, |x|) / max(|y|, |x|)``, then
moved to its octant; it agrees with libm's to a few ulp (4.4e-16 rad measured), with
IEEE's signed zeros (atan2(+-0, -0) = +-pi) and 0 for (0, 0).

``amplitude`` is ``m sqrt(1 + (n/m)^2)`` with m, n the larger and smaller of |re|, |im|:
no overflow or underflow where |re|^2 would, within 2 ulp of hypot. A part that is NaN
or inf gives NaN (not hypot's inf): callers treat any non-finite CSI value alike.

Every kernel in wdp/dsp is compiled with ``error_model="numpy"``: a float division by
zero gives inf or NaN (as in numpy) instead of a check that raises ZeroDivisionError,
which would put a branch in every loop that divides and stop it vectorizing. fastmath
stays off: results are IEEE arithmetic in a fixed order, the same on every run.

numba's on-disk cache does not notice edits here (it checks a kernel's own file only):
after changing this module, delete ``wdp/dsp/__pycache__``.
"""

from __future__ import annotations

import math

import numba

PI = 3.141592653589793
PIO2 = 1.5707963267948966
PIO4 = 0.7853981633974483
MOREBITS = 6.123233995736765886130e-17  # pi/2 - PIO2: the bits a double cannot hold
P0, P1, P2, P3, P4 = (
    -8.750608600031904122785e-1,
    -1.615753718733365076637e1,
    -7.500855792314704667340e1,
    -1.228866684490136173410e2,
    -6.485021904942025371773e1,
)
Q0, Q1, Q2, Q3, Q4 = (
    2.485846490142306297962e1,
    1.650270098316988542046e2,
    4.328810604912902668951e2,
    4.853903996359136964868e2,
    1.945506571482613964425e2,
)
INF = math.inf


@numba.njit(inline="always", error_model="numpy")
def atan2(y, x):  # pragma: no cover - compiled
    """atan2(y, x) for float64 y, x, branch-free (see the module docstring)."""
    ay = abs(y)
    ax = abs(x)
    mx = max(ax, ay)
    mn = min(ax, ay)
    r = mn / (mx if mx > 0.0 else 1.0)
    big = r > 0.66
    tb = (r - 1.0) / (r + 1.0)
    t = tb if big else r
    z = t * t
    pz = (((P0 * z + P1) * z + P2) * z + P3) * z + P4
    qz = ((((z + Q0) * z + Q1) * z + Q2) * z + Q3) * z + Q4
    th = t * (z * pz / qz) + t
    th = th + ((PIO4 + 0.5 * MOREBITS) if big else 0.0)
    th2 = (PIO2 - th) + MOREBITS
    th = th2 if ay > ax else th
    th3 = (PI - th) + 2.0 * MOREBITS
    th = th3 if math.copysign(1.0, x) < 0.0 else th
    return math.copysign(th, y)


@numba.njit(inline="always", error_model="numpy")
def amplitude(re, im):  # pragma: no cover - compiled
    """|re + j im| for float64 parts; NaN when either part is NaN or inf."""
    ax = abs(re)
    ay = abs(im)
    mx = max(ax, ay)
    mn = min(ax, ay)
    r = mn / (mx if mx > 0.0 else 1.0)
    return mx * math.sqrt(1.0 + r * r) + (re * 0.0 + im * 0.0)


@numba.njit(inline="always", error_model="numpy")
def nonfinite(re, im):  # pragma: no cover - compiled
    """0.0 when both parts are finite, NaN otherwise (sum it to test a whole chain)."""
    return (re - re) + (im - im)


@numba.njit(inline="always", error_model="numpy")
def sum8(a, n):  # pragma: no cover - compiled
    """a[0] + ... + a[n-1] in eight interleaved partial sums, combined pairwise (numpy's
    own scheme for short sums): eight independent additions per step instead of one
    chain of n dependent ones, which would cost an add's latency per element."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    n8 = n - n % 8
    for i in range(0, n8, 8):
        a0 += a[i]
        a1 += a[i + 1]
        a2 += a[i + 2]
        a3 += a[i + 3]
        a4 += a[i + 4]
        a5 += a[i + 5]
        a6 += a[i + 6]
        a7 += a[i + 7]
    s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    for i in range(n8, n):
        s += a[i]
    return s
