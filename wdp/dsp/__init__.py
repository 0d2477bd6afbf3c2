"""Signal processing on CSI: numba kernels, with plain-numpy references beside them.

``wdp.dsp.<name>`` is the fast version (numba, compiled on first use or loaded from the
on-disk cache; call ``warm_up()`` before serving); ``wdp.dsp.reference.<name>`` is the
numpy definition with the same signature that the tests hold it to. All batch functions
take time on axis 0 and are pure functions of their inputs.

- ``sanitize_phase(csi [N,T,R,S], subcarriers [S] | [N,S]) -> (phase, slope [N,T,R])``
- ``hampel(x [N, ...], window=5, n_sigmas=3.0) -> (filtered, outliers)``
- ``normalize_amplitude(csi [N,T,R,S], valid [S] | None) -> float32``
- ``csi_ratio(csi [N,T,R,S], ref_rx=0) -> [N,T,R-1,S]``
- ``remove_static(x [N,C], alpha) -> (dynamic, baseline [C])``; ``StaticRemover(alpha)``
- ``doppler_spectrum(x [N,C], fs, window, hop) -> (freqs [F], power [W,F])``
- ``motion_energy(x [N,C]) -> [N]``
- ``phase_spread``, ``strongest_chain``: the phase-quality statistic of the samples README
"""

from wdp.dsp.amplitude import motion_energy, normalize_amplitude
from wdp.dsp.doppler import doppler_spectrum
from wdp.dsp.filters import StaticRemover, hampel, remove_static
from wdp.dsp.phase import csi_ratio, sanitize_phase
from wdp.dsp.reference import timing_offset_s
from wdp.dsp.spread import phase_spread, strongest_chain
from wdp.dsp.warmup import warm_up

__all__ = [
    "StaticRemover",
    "csi_ratio",
    "doppler_spectrum",
    "hampel",
    "motion_energy",
    "normalize_amplitude",
    "phase_spread",
    "remove_static",
    "sanitize_phase",
    "strongest_chain",
    "timing_offset_s",
    "warm_up",
]
