"""Scalar functions the numba kernels inline: phase (atan2), amplitude (hypot), and
exp, log, sin and cos for ``wdp.dsp.portable`` (see the comment above them).

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
stays off: results are IEEE arithmetic in a fixed order, the same on every run and on
every CPU (LLVM then neither reorders nor fuses a multiply and an add into an FMA,
whatever vector width it compiles for).

numba's on-disk cache does not notice edits here (it checks a kernel's own file only):
after changing this module, delete ``wdp/dsp/__pycache__``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

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


# --- exp, log, sin and cos from + - * / only -------------------------------------------
# libm's exp, log, sin and cos (glibc picks an FMA variant by CPU) and numpy's SIMD loops
# (AVX2 / AVX-512 variants chosen at run time) give different last bits on different
# CPUs. These use only IEEE-rounded + - * / and exact steps (floor, int conversion,
# frexp, multiplication by a power of two), so they give the same bits everywhere.

LOG2E = 1.4426950408889634
EXP_C1 = 6.93145751953125e-1  # ln 2 in two parts (Cephes): n * EXP_C1 is exact
EXP_C2 = 1.42860682030941723212e-6
EP0, EP1, EP2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
EQ0, EQ1, EQ2, EQ3 = (
    3.00198505138664455042e-6,
    2.52448340349684104192e-3,
    2.27265548208155028766e-1,
    2.00000000000000000009e0,
)
EXP_HI = 709.79  # above: inf (exp(709.79) overflows)
EXP_LO = -745.2  # below: 0 (exp(-745.2) is under half the smallest subnormal)
#: 2**k for k = -POW2_BIAS .. POW2_BIAS (exact; exp scales by two of them).
POW2_BIAS = 540
POW2 = np.ldexp(1.0, np.arange(-POW2_BIAS, POW2_BIAS + 1))

LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
SQRT_HALF = 0.70710678118654752440
LG1, LG2, LG3, LG4, LG5, LG6, LG7 = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)

FOPI = 1.27323954473516268615  # 4 / pi
DP1, DP2, DP3 = 7.85398125648498535156e-1, 3.77489470793079817668e-8, 2.69515142907905952645e-15
TRIG_MAX = 1073741824.0  # |x| >= 2**30: NaN (the reduction would lose every bit)
S0, S1, S2, S3, S4, S5 = (
    1.58962301576546568060e-10,
    -2.50507477628578072866e-8,
    2.75573136213857245213e-6,
    -1.98412698295895385996e-4,
    8.33333333332211858878e-3,
    -1.66666666666666307295e-1,
)
C0, C1, C2, C3, C4, C5 = (
    -1.13585365213876817300e-11,
    2.08757008419747316778e-9,
    -2.75573141792967388112e-7,
    2.48015872888517045348e-5,
    -1.38888888888730564116e-3,
    4.16666666666665929218e-2,
)


@numba.njit(inline="always", error_model="numpy")
def exp(x):  # pragma: no cover - compiled
    """e**x for float64 x (Cephes' exp: x = n ln 2 + r, |r| <= ln 2 / 2, a rational
    function of r, scaled by 2**n), within 1 ulp of libm's; inf above 709.79, 0 below
    -745.2, NaN for NaN."""
    ok = (x > EXP_LO) & (x < EXP_HI)
    xs = x if ok else 0.0
    n = math.floor(LOG2E * xs + 0.5)
    r = (xs - n * EXP_C1) - n * EXP_C2
    rr = r * r
    px = r * ((EP0 * rr + EP1) * rr + EP2)
    qx = ((EQ0 * rr + EQ1) * rr + EQ2) * rr + EQ3
    e = 1.0 + 2.0 * (px / (qx - px))
    k = np.int64(n)
    h = k >> 1  # two factors, so that 2**n may be 2**1024 or subnormal
    e = e * POW2[h + POW2_BIAS] * POW2[k - h + POW2_BIAS]
    out = INF if x >= EXP_HI else (0.0 if x <= EXP_LO else x)  # inf, 0 or NaN
    return e if ok else out


@numba.njit(inline="always", error_model="numpy")
def log(x):  # pragma: no cover - compiled
    """Natural logarithm of float64 x (fdlibm's: x = 2**k m, sqrt(1/2) <= m < sqrt(2),
    a minimax polynomial in s = (m - 1) / (m + 1)), within 1 ulp of libm's; -inf at 0,
    NaN below 0 or for NaN, inf at inf."""
    ok = (x > 0.0) & (x < INF)
    m, k = math.frexp(x if ok else 1.0)  # exact: m in [0.5, 1)
    low = m < SQRT_HALF
    m = m + m if low else m
    k = k - 1 if low else k
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * (LG4 + w * LG6))
    t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    hfsq = 0.5 * f * f
    dk = np.float64(k)
    y = dk * LN2_HI - ((hfsq - (s * (hfsq + (t2 + t1)) + dk * LN2_LO)) - f)
    out = -INF if x == 0.0 else (x if x == INF else np.nan)
    return y if ok else out


@numba.njit(inline="always", error_model="numpy")
def sincos(x):  # pragma: no cover - compiled
    """(sin x, cos x) for float64 x (Cephes' sin and cos: x reduced by a multiple of
    pi/4 in three parts, then one of two polynomials per octant), within 1 ulp of libm's
    for |x| < 2**30; NaN beyond, or for NaN and inf."""
    ax = abs(x)
    ok = ax < TRIG_MAX
    ax = ax if ok else 0.0
    j = np.int64(math.floor(ax * FOPI))
    j = j + (j & 1)  # even: the nearest multiple of pi/2 in units of pi/4
    y = np.float64(j)
    z = ((ax - y * DP1) - y * DP2) - y * DP3  # |z| <= pi/4
    zz = z * z
    sp = z + z * zz * (((((S0 * zz + S1) * zz + S2) * zz + S3) * zz + S4) * zz + S5)
    cp = 1.0 - 0.5 * zz + zz * zz * (((((C0 * zz + C1) * zz + C2) * zz + C3) * zz + C4) * zz + C5)
    q = (j >> 1) & 3  # quadrant: sin(ax) = sp, cp, -sp, -cp; cos(ax) = cp, -sp, -cp, sp
    s = cp if q & 1 else sp
    c = sp if q & 1 else cp
    s = -s if q >= 2 else s
    c = -c if (q == 1) | (q == 2) else c
    s = -s if math.copysign(1.0, x) < 0.0 else s  # sin(-0) = -0
    return (s if ok else np.nan), (c if ok else np.nan)
