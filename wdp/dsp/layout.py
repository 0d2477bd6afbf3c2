"""How arrays reach the numba kernels: contiguous, of a compiled dtype, read-only.

numba compiles one machine-code version per combination of argument types, and an
array's type includes its dtype, number of axes, memory layout and whether it is
writable. The wrappers therefore hand every kernel the same kinds of arrays: inputs
reshaped to a fixed number of axes, C-contiguous, of one of two dtypes, and read-only
views (a caller's writable and read-only arrays, e.g. h5py or ``np.frombuffer`` data,
then share one compiled version, and ``warm_up`` covers them all).
"""

from __future__ import annotations

import math

import numpy as np

COMPLEX = (np.dtype(np.complex64), np.dtype(np.complex128))
REAL = (np.dtype(np.float32), np.dtype(np.float64))


def kernel_input(a: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A C-contiguous, read-only view (or copy) of ``a``, reshaped to ``shape``."""
    a = np.ascontiguousarray(a)
    if shape is not None:
        a = a.reshape(shape)
    view = a.view()
    view.flags.writeable = False
    return view


def as_complex(a: np.ndarray) -> np.ndarray:
    """complex64 and complex128 as they are (native byte order), anything else complex128."""
    return a if a.dtype in COMPLEX and a.dtype.isnative else a.astype(np.complex128)


def as_float(a: np.ndarray) -> np.ndarray:
    """float32 and float64 kept (in native byte order), other reals float64; complex
    input raises ValueError (a real-valued filter was handed CSI)."""
    if np.iscomplexobj(a):
        raise ValueError("hampel filters real values; pass an amplitude or phase")
    if a.dtype.type in (np.float32, np.float64):
        return a.astype(a.dtype.newbyteorder("="), copy=False)
    return a.astype(np.float64)


def as_real_or_complex(a: np.ndarray) -> np.ndarray:
    """float32/64 and complex64/128 as they are, other reals float64, other complex
    complex128."""
    if (a.dtype in COMPLEX or a.dtype in REAL) and a.dtype.isnative:
        return a
    return a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)


def time_major(a: np.ndarray) -> np.ndarray:
    """a [N, ...] as [N, C] with C the product of the trailing axes (1 for a 1-D a);
    explicit sizes, so that empty arrays reshape too."""
    return a.reshape(a.shape[0], math.prod(a.shape[1:]))
