"""Hardware counters to a non-decreasing nanosecond clock per router.

Radios stamp CSI with narrow counters (the Intel 5300's and the ESP32's are 32-bit
microseconds and wrap every 71.6 minutes). A frame's ``timestamp_ns`` must be
non-decreasing per router, so wraps are unwrapped and any other step backwards (a
reordered or replayed packet, a rebooted radio) is held at the last value and counted.
"""

from __future__ import annotations

import attrs
import numpy as np


@attrs.define(slots=True)
class CounterClock:
    """Unwraps a ``bits``-wide counter ticking every ``tick_ns`` into nanoseconds."""

    bits: int
    tick_ns: int
    _last_raw: int | None = None
    _epoch: int = 0
    _last_ns: int = 0
    backwards: int = 0

    def __call__(self, raw: int) -> int:
        modulus = 1 << self.bits
        raw %= modulus
        if self._last_raw is not None and raw < self._last_raw:
            if self._last_raw - raw > modulus // 2:
                self._epoch += modulus  # the counter wrapped
            else:
                self.backwards += 1
                return self._last_ns
        self._last_raw = raw
        ns = (self._epoch + raw) * self.tick_ns
        if ns < self._last_ns:  # defensive: never go back
            self.backwards += 1
            return self._last_ns
        self._last_ns = ns
        return ns


def unwrap_counter(raw: np.ndarray, bits: int, tick_ns: int) -> np.ndarray:
    """The numbers ``CounterClock(bits, tick_ns)`` gives for ``raw`` fed one by one.

    Vectorised for the usual case (only forward steps and wraps); a backward step makes
    it fall back to the clock itself, so the result is the same either way. Values must
    lie in [0, 2**63 / tick_ns).
    """
    raw = np.asarray(raw, dtype=np.int64)
    if raw.size == 0:
        return raw.copy()
    d = np.diff(raw)
    if bits < 63:
        wrap = d < -(1 << (bits - 1))
        back = (d < 0) & ~wrap
    else:
        wrap = np.zeros(d.shape, dtype=bool)
        back = d < 0
    if back.any():
        clock = CounterClock(bits, tick_ns)
        return np.array([clock(int(v)) for v in raw], dtype=np.int64)
    epoch = np.zeros(raw.shape, dtype=np.int64)
    np.cumsum(wrap, out=epoch[1:])
    return ((epoch << bits) + raw) * tick_ns
