"""Signal processing on CSI: the plain-numpy reference implementations.

``reference`` holds the straightforward numpy versions that faster kernels are checked
against; for now that is phase sanitization.
"""

from wdp.dsp.reference import sanitize_phase, timing_offset_s

__all__ = ["sanitize_phase", "timing_offset_s"]
