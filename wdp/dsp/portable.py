"""Math that gives the same bits on every x86-64 CPU, for everything that reaches an event.

Why: numpy picks its loops at run time by CPU (SSE, AVX2 with FMA, AVX-512) and they
round differently in the last bit: complex multiply and ``abs`` (FMA), ``exp``, ``log``,
``log10``, ``arctan2``, ``tanh``, ``power``; OpenBLAS picks a kernel per CPU, and matrix
products and ``np.linalg.inv`` differ with it; glibc's ``exp``, ``log``, ``sin``, ``cos``,
``atan2`` and ``pow`` (numpy's float64 ``sin``/``cos``, complex ``exp`` and Python's
``math``) have FMA variants chosen by CPU. One different bit in a feature can move a
model output enough to change an event. ``tests/test_determinism.py`` replays every
bundled recording with each of these switched and compares the events.

What is safe as it is: elementwise ``+ - * /`` and ``sqrt`` of real arrays (one IEEE
rounding each; numpy never fuses two ufuncs), complex times or over a *real* array,
numpy's sums and means (a fixed pairwise order), ``np.median``/``sort``, comparisons,
Python float arithmetic, ``math.sqrt``, ``math.hypot`` and ``math.dist``.

What this module gives instead of the rest (float64 in, float64 or complex128 out):

- ``exp``, ``log``, ``log10``, ``sin``, ``cos``, ``tan``, ``atan2``, ``angle``, ``cis``
  (``exp(1j * theta)``): numba loops over ``wdp.dsp.scalar``'s exp, log, sincos and
  atan2, written with + - * / only (within 2 ulp of libm); a Python float in gives a
  Python float out;
- ``cmul(a, b)`` and ``cmul_conj(a, b)`` (``a * b``, ``a * conj(b)``), ``abs2(z)``
  (``|z|**2``) and ``cabs(z)``: complex arithmetic, each product and sum rounded alone;
- ``matmul(a, b)`` (1-D or 2-D, like ``@``), ``inner_conj(a, b)`` (``a @ b.conj().T``),
  ``inv(a)`` (Gauss-Jordan with partial pivoting) and ``dense(x, w, b, gelu)`` (a
  network layer): numba loops that sum in one fixed order, without FMA.

numba compiles without fastmath, and LLVM then neither reorders nor fuses floating-point
operations: vector code (whatever width the CPU has) gives the bits of scalar code. Every
kernel here is ``nogil`` and cached on disk; ``warm_up`` loads them all.
"""

from __future__ import annotations

import numba
import numpy as np

from wdp.dsp import scalar
from wdp.dsp.layout import kernel_input

INV_LN10 = 0.43429448190325182765  # 1 / ln 10
_GELU_C = 0.7978845608028654  # sqrt(2 / pi)


# --- elementwise kernels over flat float64 arrays ----------------------------------------


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _exp_kernel(x, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = scalar.exp(x[i])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _log_kernel(x, scale, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = scalar.log(x[i]) * scale


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _sincos_kernel(x, s, c):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        s[i], c[i] = scalar.sincos(x[i])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _atan2_kernel(y, x, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = scalar.atan2(y[i], x[i])


@numba.njit(cache=True, error_model="numpy")
def _exp1(x):  # pragma: no cover - compiled
    return scalar.exp(x)


@numba.njit(cache=True, error_model="numpy")
def _log1(x):  # pragma: no cover - compiled
    return scalar.log(x)


@numba.njit(cache=True, error_model="numpy")
def _sincos1(x):  # pragma: no cover - compiled
    return scalar.sincos(x)


@numba.njit(cache=True, error_model="numpy")
def _atan21(y, x):  # pragma: no cover - compiled
    return scalar.atan2(y, x)


def _is_scalar(x) -> bool:
    return isinstance(x, float | int) and not isinstance(x, bool)


def _flat(x) -> np.ndarray:
    """x as a contiguous, read-only 1-D float64 array (one compiled type per kernel)."""
    return kernel_input(np.asarray(x, dtype=np.float64).reshape(-1))


def exp(x):
    """e**x (float64 array like x; a Python float for a Python number)."""
    if _is_scalar(x):
        return _exp1(float(x))
    x = np.asarray(x)
    out = np.empty(x.shape)
    _exp_kernel(_flat(x), out.reshape(-1))
    return out


def log(x):
    """Natural logarithm (-inf at 0, NaN below); float64 array like x."""
    if _is_scalar(x):
        return _log1(float(x))
    x = np.asarray(x)
    out = np.empty(x.shape)
    _log_kernel(_flat(x), 1.0, out.reshape(-1))
    return out


def log10(x):
    """Decimal logarithm, ``log(x) / ln 10`` (within 2 ulp of numpy's)."""
    if _is_scalar(x):
        return _log1(float(x)) * INV_LN10
    x = np.asarray(x)
    out = np.empty(x.shape)
    _log_kernel(_flat(x), INV_LN10, out.reshape(-1))
    return out


def sincos(x) -> tuple:
    """(sin x, cos x), two float64 arrays like x (two floats for a number)."""
    if _is_scalar(x):
        return _sincos1(float(x))
    x = np.asarray(x)
    s, c = np.empty(x.shape), np.empty(x.shape)
    _sincos_kernel(_flat(x), s.reshape(-1), c.reshape(-1))
    return s, c


def sin(x):
    return sincos(x)[0]


def cos(x):
    return sincos(x)[1]


def tan(x):
    s, c = sincos(x)
    return s / c


def atan2(y, x):
    """The angle of (x, y) in (-pi, pi], numpy's broadcasting; floats for numbers."""
    if _is_scalar(x) and _is_scalar(y):
        return _atan21(float(y), float(x))
    y, x = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(x, np.float64))
    out = np.empty(x.shape)
    _atan2_kernel(_flat(y), _flat(x), out.reshape(-1))
    return out


def angle(z) -> np.ndarray:
    """The phase of complex z in (-pi, pi], like ``np.angle`` (float64)."""
    z = np.asarray(z)
    z = z.astype(_complex_dtype(z), copy=False)
    out = np.empty(z.shape)
    if out.size:
        (z3,) = _as3(z)
        _angle_kernel(z3, out.reshape(z3.shape))
    return out


def cis(theta) -> np.ndarray:
    """``exp(1j * theta)`` for real theta, complex128."""
    s, c = sincos(np.asarray(theta))
    out = np.empty(np.shape(s), np.complex128)
    out.real = c
    out.imag = s
    return out


# --- complex arithmetic, each product and sum rounded on its own --------------------------


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _cmul_kernel(a, b, conj, out):  # pragma: no cover - compiled
    """out = a * b (or a * conj(b)) over 3-D arrays (any strides, broadcast ones too) of
    one complex dtype: four products, a difference and a sum, each rounded on its own
    (numpy's complex multiply fuses them on FMA CPUs)."""
    n0, n1, n2 = out.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                x = a[i, j, k]
                y = b[i, j, k]
                br = y.real
                bi = -y.imag if conj else y.imag
                out[i, j, k] = complex(x.real * br - x.imag * bi, x.real * bi + x.imag * br)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _abs2_kernel(z, out):  # pragma: no cover - compiled
    n0, n1, n2 = out.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                x = z[i, j, k]
                out[i, j, k] = x.real * x.real + x.imag * x.imag


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _angle_kernel(z, out):  # pragma: no cover - compiled
    n0, n1, n2 = out.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                x = z[i, j, k]
                out[i, j, k] = scalar.atan2(np.float64(x.imag), np.float64(x.real))


def _as3(*arrays: np.ndarray) -> list[np.ndarray]:
    """Arrays of one shape as read-only 3-D views (leading axes of length 1 added; more
    than 3 axes are flattened, copying), so that each kernel has one compiled type per
    dtype and broadcast operands are not copied."""
    if arrays[0].ndim > 3:
        arrays = tuple(np.ascontiguousarray(a).reshape(1, 1, -1) for a in arrays)
    out = []
    for a in arrays:
        v = a.reshape((1,) * (3 - a.ndim) + a.shape)
        v = v.view()
        v.flags.writeable = False
        out.append(v)
    return out


def _complex_dtype(*arrays: np.ndarray) -> np.dtype:
    """complex64 when every array is complex64 (or real float32), else complex128."""
    return np.result_type(*arrays, np.complex64)


def _cmul(a, b, conj: bool) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    dt = _complex_dtype(a, b)
    a, b = np.broadcast_arrays(a.astype(dt, copy=False), b.astype(dt, copy=False))
    out = np.empty(a.shape, dt)
    if out.size:
        a3, b3 = _as3(a, b)
        _cmul_kernel(a3, b3, conj, out.reshape(a3.shape))
    return out


def cmul(a, b) -> np.ndarray:
    """a * b for complex arrays (numpy broadcasting; complex64 only when both are)."""
    return _cmul(a, b, False)


def cmul_conj(a, b) -> np.ndarray:
    """a * conj(b) for complex arrays, like ``cmul``."""
    return _cmul(a, b, True)


def abs2(z) -> np.ndarray:
    """|z|**2 = re**2 + im**2 (float32 for complex64, else float64)."""
    z = np.asarray(z)
    z = z.astype(_complex_dtype(z), copy=False)
    out = np.empty(z.shape, np.float32 if z.dtype == np.complex64 else np.float64)
    if out.size:
        (z3,) = _as3(z)
        _abs2_kernel(z3, out.reshape(z3.shape))
    return out


def cabs(z) -> np.ndarray:
    """|z| as sqrt(re**2 + im**2) (exact steps; no overflow guard: CSI is small)."""
    return np.sqrt(abs2(z))


# --- products in a fixed order -----------------------------------------------------------


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _matmul_kernel(a, b, out):  # pragma: no cover - compiled
    """out [n, m] = a [n, p] @ b [p, m]: each entry summed over p in index order."""
    n, p = a.shape
    m = b.shape[1]
    for i in range(n):
        o = out[i]
        for j in range(m):
            o[j] = 0.0
        for k in range(p):
            aik = a[i, k]
            bk = b[k]
            for j in range(m):
                o[j] += aik * bk[j]


def _writable(a: np.ndarray) -> np.ndarray:
    """A C-contiguous, writable float64 array (one compiled type; small matrices are
    cheaper to copy than to wrap in read-only views)."""
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()


def matmul(a, b) -> np.ndarray:
    """``a @ b`` for 1-D or 2-D real arrays, float64, summed in index order."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise ValueError(f"matmul takes 1-D or 2-D arrays, got {a.shape} and {b.shape}")
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if a2.shape[1] != b2.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align")
    out = np.empty((a2.shape[0], b2.shape[1]))
    _matmul_kernel(_writable(a2), _writable(b2), out)
    if a.ndim == 1 and b.ndim == 1:
        return out[0, 0]
    if a.ndim == 1:
        return out[0]
    return out[:, 0] if b.ndim == 1 else out


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _inner_conj_kernel(a, b, out):  # pragma: no cover - compiled
    """out [n, m] = sum over k of a[i, k] * conj(b[j, k]), complex128, k in order."""
    n, p = a.shape
    m = b.shape[0]
    for i in range(n):
        for j in range(m):
            re = 0.0
            im = 0.0
            for k in range(p):
                ar = a[i, k].real
                ai = a[i, k].imag
                br = b[j, k].real
                bi = b[j, k].imag
                re += ar * br + ai * bi
                im += ai * br - ar * bi
            out[i, j] = complex(re, im)


def inner_conj(a, b) -> np.ndarray:
    """``a @ b.conj().T`` for complex 2-D a [n, p] and b [m, p], complex128."""
    a = np.ascontiguousarray(a, np.complex128)
    b = np.ascontiguousarray(b, np.complex128)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"inner_conj takes [n, p] and [m, p], got {a.shape} and {b.shape}")
    out = np.empty((a.shape[0], b.shape[0]), np.complex128)
    _inner_conj_kernel(kernel_input(a), kernel_input(b), out)
    return out


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _inv_kernel(a, out):  # pragma: no cover - compiled
    """Gauss-Jordan elimination with partial pivoting on a copy; False if singular."""
    n = a.shape[0]
    m = a.copy()
    for i in range(n):
        for j in range(n):
            out[i, j] = 1.0 if i == j else 0.0
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(m[r, c]) > abs(m[p, c]):
                p = r
        if not m[p, c] != 0.0:
            return False
        for j in range(n):
            m[c, j], m[p, j] = m[p, j], m[c, j]
            out[c, j], out[p, j] = out[p, j], out[c, j]
        d = m[c, c]
        for j in range(n):
            m[c, j] /= d
            out[c, j] /= d
        for r in range(n):
            f = m[r, c]
            if r != c and f != 0.0:
                for j in range(n):
                    m[r, j] -= f * m[c, j]
                    out[r, j] -= f * out[c, j]
    return True


def inv(a) -> np.ndarray:
    """The inverse of a small square matrix (float64); ``np.linalg.LinAlgError`` if it
    is singular."""
    a = np.asarray(a, np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"inv takes a square matrix, got {a.shape}")
    out = np.empty(a.shape)
    if not _inv_kernel(_writable(a), out):
        raise np.linalg.LinAlgError("singular matrix")
    return out


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _dense_kernel(x, w, b, gelu, out):  # pragma: no cover - compiled
    """out [K, m] = act(x [K, n] @ w [n, m] + b [m]) in float64, summed over n in index
    order; act is GELU (tanh form, as 0.5 (1 + tanh u) = 1 / (1 + exp(-2u))) or none."""
    k_n, n = x.shape
    m = w.shape[1]
    for r in range(k_n):
        o = out[r]
        for j in range(m):
            o[j] = 0.0
        for i in range(n):
            xi = np.float64(x[r, i])
            wi = w[i]
            for j in range(m):
                o[j] += xi * np.float64(wi[j])
        for j in range(m):
            o[j] += np.float64(b[j])
        if gelu:
            for j in range(m):
                v = o[j]
                u = _GELU_C * (v + 0.044715 * (v * v * v))
                o[j] = v / (1.0 + scalar.exp(-2.0 * u))


def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, gelu: bool) -> np.ndarray:
    """One network layer, ``x @ w + b`` (then GELU when ``gelu``), float64 [K, m]; x is
    [K, n] of float32 or float64, w [n, m] and b [m] float32 or float64."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    w = np.asarray(w)
    if w.dtype not in (np.float32, np.float64):
        w = w.astype(np.float64)
    b = np.asarray(b, dtype=w.dtype)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0] or b.shape != (w.shape[1],):
        raise ValueError(f"dense: shapes {x.shape}, {w.shape}, {b.shape} do not fit")
    out = np.empty((x.shape[0], w.shape[1]))
    _dense_kernel(kernel_input(x), kernel_input(w), kernel_input(b), bool(gelu), out)
    return out


def warm_up() -> None:
    """Compile or load every kernel of this module for the types it is called with."""
    for v in (0.5, np.ones(2)):
        exp(v), log(v), log10(v), sincos(v), atan2(v, v)
    cis(np.ones(2))
    for dt in (np.complex64, np.complex128):
        cmul(np.ones(2, dt), np.ones(2, dt)), cmul_conj(np.ones(2, dt), np.ones(2, dt))
        abs2(np.ones(2, dt)), angle(np.ones(2, dt))
    matmul(np.eye(2), np.ones(2))
    inner_conj(np.ones((2, 2), np.complex128), np.ones((2, 2), np.complex128))
    inv(np.eye(2))
    for xt in (np.float32, np.float64):
        for wt in (np.float32, np.float64):
            for act in (False, True):
                dense(np.ones((1, 2), xt), np.ones((2, 2), wt), np.zeros(2, wt), act)
