"""Compile (or load from numba's on-disk cache) every DSP kernel before work arrives.

A numba kernel compiles on its first call with each new combination of argument types,
which takes a second or more per kernel: a server calls ``warm_up()`` before it reports
ready so that no frame waits for the compiler. The kernels are cached on disk
(``cache=True``), so a second process loads them in milliseconds instead.

The production types: CSI complex64 (frames and batches) and complex128 (the simulator,
anything computed in double), real features float32 and float64. The wrappers reduce
every input to 2-D or 3-D contiguous arrays of those types, so these calls cover every
signature the kernels are compiled for. ``wdp.dsp.portable``'s kernels (the math the
features, the model and the pipeline share) are warmed too.
"""

from __future__ import annotations

import time

import numpy as np


def warm_up() -> float:
    """Compile or load every kernel for every production type; returns the seconds taken."""
    from wdp.dsp.amplitude import motion_energy, normalize_amplitude
    from wdp.dsp.doppler import doppler_spectrum
    from wdp.dsp.filters import StaticRemover, hampel, remove_static
    from wdp.dsp.phase import csi_ratio, sanitize_phase
    from wdp.dsp.portable import warm_up as warm_portable

    start = time.perf_counter()
    warm_portable()
    sub = np.arange(-3, 5, 2)
    for dtype in (np.complex64, np.complex128):
        csi = np.ones((8, 1, 2, sub.size), dtype=dtype)
        sanitize_phase(csi, sub)
        normalize_amplitude(csi)
        ratio = csi_ratio(csi)
        dynamic, _ = remove_static(ratio.reshape(8, -1), 0.1)
        StaticRemover(0.1).update(dynamic)
        doppler_spectrum(dynamic, 100.0, 4, 2)
        doppler_spectrum(dynamic, 100.0, 5, 2)  # not a power of two: Bluestein's tables
        motion_energy(dynamic)
    for dtype in (np.float32, np.float64):
        x = np.ones((8, 3), dtype=dtype)
        hampel(x)
        motion_energy(x)
    return time.perf_counter() - start
