"""Per-track activity: a label that follows the model without flickering.

A model's per-window activity probabilities are noisy: a walker may look like a stander
for one window. Shown raw, labels would flicker; so per track:

- The probabilities of the detections are smoothed by an exponential average with time
  constant ``time_constant_s`` (weight ``1 - exp(-dt / tau)`` for a detection ``dt``
  after the previous one, so the smoothing is the same whatever the window hop).
- The label is one of the four lasting activities (standing, walking, sitting, lying),
  with hysteresis: it changes only when another of them leads the current label's
  smoothed probability by at least ``switch_margin`` continuously for ``min_dwell_s``
  (the first detection sets the label directly).
- ``falling`` is a transient: it is shown while a fast average of the falling
  probability (time constant ``falling_time_constant_s``) is at least
  ``falling_threshold``, and for ``falling_hold_s`` after, whatever the lasting label;
  then the lasting label shows again. (Whether a fall really happened is decided by
  ``wdp.pipeline.falls``, which also looks at the body's height and speed.)
- ``confidence`` is the smoothed probability of the shown label (for falling, the
  fast average at its last time over the threshold).

Missed windows leave the state as it is: no evidence, no change.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from wdp.dsp import portable
from wdp.pipeline.events import ACTIVITY_TYPES

FALLING = ACTIVITY_TYPES.index("falling")
#: The lasting labels (all but falling).
LASTING = tuple(range(FALLING))
_NS = 1_000_000_000


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"activity {attribute.name} must be positive, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"activity {attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(slots=True)
class ActivityConfig:
    time_constant_s: float = attrs.field(default=0.5, validator=_positive)
    switch_margin: float = attrs.field(default=0.15, validator=_non_negative)
    min_dwell_s: float = attrs.field(default=0.3, validator=_non_negative)
    falling_time_constant_s: float = attrs.field(default=0.25, validator=_positive)
    falling_threshold: float = attrs.field(default=0.5, validator=_positive)
    falling_hold_s: float = attrs.field(default=0.5, validator=_non_negative)


@attrs.frozen(slots=True)
class ActivityState:
    """A track's activity now: ``label`` (one of ``ACTIVITY_TYPES``) and ``confidence``;
    ``lasting`` is the lasting label under a falling transient."""

    label: str
    confidence: float
    lasting: str


class ActivitySmoother:
    """One track's activity (see the module docstring)."""

    def __init__(self, config: ActivityConfig | None = None) -> None:
        self.config = config or ActivityConfig()
        self._probs: np.ndarray | None = None
        self._fall = 0.0
        self._time_ns: int | None = None
        self._label: int | None = None
        self._candidate: int | None = None
        self._candidate_since = 0
        self._falling_until: int | None = None
        self._falling_confidence = 0.0

    def update(self, time_ns: int, probs: np.ndarray) -> ActivityState:
        """Take a detection's activity probabilities [5] at ``time_ns``."""
        cfg = self.config
        p = np.asarray(probs, dtype=np.float64)
        if self._probs is None or self._time_ns is None:
            self._probs = p.copy()
            self._fall = float(p[FALLING])
            self._label = int(np.argmax(p[: len(LASTING)]))
        else:
            dt = max(0, time_ns - self._time_ns) / _NS
            # portable.exp: libm's exp has FMA variants chosen by CPU (DESIGN rule 2)
            w = 1.0 - portable.exp(-dt / cfg.time_constant_s)
            self._probs = self._probs + w * (p - self._probs)
            wf = 1.0 - portable.exp(-dt / cfg.falling_time_constant_s)
            self._fall += wf * (float(p[FALLING]) - self._fall)
            self._switch(time_ns)
        self._time_ns = time_ns
        if self._fall >= cfg.falling_threshold:
            self._falling_until = time_ns + int(round(cfg.falling_hold_s * _NS))
            self._falling_confidence = self._fall
        return self.state(time_ns)

    def _switch(self, time_ns: int) -> None:
        cfg = self.config
        lasting = self._probs[: len(LASTING)]
        best = int(np.argmax(lasting))
        if best == self._label or lasting[best] < lasting[self._label] + cfg.switch_margin:
            self._candidate = None
            return
        if self._candidate != best:
            self._candidate = best
            self._candidate_since = time_ns
        if time_ns - self._candidate_since >= int(round(cfg.min_dwell_s * _NS)):
            self._label = best
            self._candidate = None

    def state(self, time_ns: int) -> ActivityState | None:
        """The activity at ``time_ns`` (None before the first detection)."""
        if self._label is None or self._probs is None:
            return None
        lasting = ACTIVITY_TYPES[self._label]
        if self._falling_until is not None and time_ns <= self._falling_until:
            return ActivityState("falling", self._falling_confidence, lasting)
        return ActivityState(lasting, float(self._probs[self._label]), lasting)
