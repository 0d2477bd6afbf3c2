"""Fall detection on the time course: a burst of motion that a learned event model
calls a fall, and the activity detector agrees.

A fall lasts 1-2 s; half a second of CSI does not tell it from a jump, a squat or
sitting down, and several seconds around it still confuse it with picking something
up. So a fall is an *event* found in three steps:

1. **Candidates**: the peaks of the motion course (mean relative amplitude change,
   smoothed over 1 s), each the largest within ``peak_halfwidth_s``. Onset rules may
   narrow them (``onsets``): at least ``min_rise`` times the motion floor around the
   peak (its 20th percentile over the 10 s before to 3 s after), above half its height
   for no longer than ``max_active_s``, and the mean motion from 1 to 2.5 s after the
   peak at most ``still_ratio`` of the peak (at the end of a capture at least 0.5 s of
   that span must be there). ``fit_rules`` fits them on the training falls with a
   margin; the shipped detectors use ``OPEN_RULES`` (every peak), because the event
   model sees the same numbers and, leave-one-subject-out on intel5300-har11, the
   fitted rules turned away 2 of 50 falls and none of the false alarms.
2. **The event model**: the fall forest's probability of the event
   (``event_features``: the magnitude-free features of the windows centred 1.5 s
   before, at and 1.5 s after the peak, side by side, and ``event_shape``, the burst on
   the motion course) reaches ``threshold``. A fall and a pick-up differ less in any
   one window than in what comes before and after it (a pick-up is two movements, a
   fall one and then stillness); and how *much* a burst moves the channel depends on
   where the person is and on the person more than on the action. Leave-one-subject-out
   on intel5300-har11 this took 45 of 50 falls for 22 false alarms (a forest over the
   three windows 0.5 s apart around the peak, every feature) to 47 for 13.
3. **Agreement** (``activity_agrees``, when the activity detector knows falls): the
   activity detector's most likely class over the windows centred 0.5 s before, at
   and 0.5 s after the peak is a fall. It is what keeps squats, sit-downs and
   pick-ups out: without it the event model alone gives several times the false
   alarms at the same recall (see ``bench/README.md``).

Everything an event looks at lies within ``LOOK_AFTER_S`` after the peak (the last
window ends 3.5 s after it): a stream can decide a fall that late. Events closer than
``refractory_s`` to the previous one are one event. The rules are stored in the
detector file.
"""

from __future__ import annotations

import attrs
import numpy as np

#: Seconds after the peak over which stillness is measured.
STILL_SPAN_S = (1.0, 2.5)
#: Centres of the windows whose features describe an event, seconds from its peak.
EVENT_OFFSETS_S = (-1.5, 0.0, 1.5)
#: Seconds after a peak that its event needs (4 s windows centred up to 1.5 s after).
LOOK_AFTER_S = 3.5
#: Names of ``event_shape``'s values.
SHAPE_NAMES = (
    "rise",
    "still",
    "active_s",
    "pre_share",
    "post_share",
    "late_share",
    "early_share",
    "side_peaks",
    "rise_s",
    "decay_s",
)


@attrs.frozen(slots=True)
class FallRules:
    """The event logic's numbers (see the module docstring)."""

    threshold: float = 0.5
    min_rise: float = 2.0
    still_ratio: float = 0.5
    max_active_s: float = 5.0
    peak_halfwidth_s: float = 2.0
    refractory_s: float = 5.0
    activity_agrees: bool = True


#: Rules that pass every peak to the model (``TrainConfig.onset_rules`` off).
OPEN_RULES = FallRules(min_rise=1.0, still_ratio=1.0, max_active_s=60.0)


def _floor(mc: np.ndarray, pk: int, rate_hz: float) -> float:
    lo, hi = max(0, pk - int(10 * rate_hz)), min(mc.size, pk + int(3 * rate_hz))
    return float(np.sort(mc[lo:hi])[int(0.2 * (hi - lo - 1))])


def _half_span(mc: np.ndarray, pk: int, floor: float) -> tuple[int, int]:
    """First and last sample around ``pk`` where the motion course stays above half
    the way from ``floor`` to the peak: the burst's extent."""
    half = floor + 0.5 * (float(mc[pk]) - floor)
    left = pk
    while left > 0 and mc[left - 1] > half:
        left -= 1
    right = pk
    while right < mc.size - 1 and mc[right + 1] > half:
        right += 1
    return left, right


def burst_shape(mc: np.ndarray, pk: int, rate_hz: float) -> tuple[float, float, float]:
    """(rise over the floor, stillness after as a share of the peak, active seconds) of
    the burst peaking at sample ``pk`` of the motion course ``mc``; stillness is
    ``inf`` when less than 0.5 s of its span is in the capture."""
    peak = float(mc[pk])
    floor = _floor(mc, pk, rate_hz)
    rise = peak / floor if floor > 0 else np.inf
    a, b = pk + int(STILL_SPAN_S[0] * rate_hz), pk + int(STILL_SPAN_S[1] * rate_hz)
    after = mc[a : min(b, mc.size)]
    still = float(after.mean()) / peak if after.size >= 0.5 * rate_hz and peak > 0 else np.inf
    left, right = _half_span(mc, pk, floor)
    return rise, still, (right - left + 1) / rate_hz


def peaks(mc: np.ndarray, rate_hz: float, halfwidth_s: float) -> np.ndarray:
    """Samples where the motion course is the largest within ``halfwidth_s`` either side
    (the first of equal values), in time order."""
    k = max(1, int(round(halfwidth_s * rate_hz)))
    out = []
    for i in range(mc.size):
        lo, hi = max(0, i - k), min(mc.size, i + k + 1)
        if mc[i] > 0 and i == lo + int(np.argmax(mc[lo:hi])):
            out.append(i)
    return np.array(out, dtype=np.int64)


def onsets(mc: np.ndarray, rate_hz: float, rules: FallRules) -> np.ndarray:
    """Peaks that pass the onset and stillness rules (candidate falls), in time order."""
    keep = []
    for pk in peaks(mc, rate_hz, rules.peak_halfwidth_s):
        rise, still, active = burst_shape(mc, int(pk), rate_hz)
        if rise >= rules.min_rise and still <= rules.still_ratio and active <= rules.max_active_s:
            keep.append(pk)
    return np.array(keep, dtype=np.int64)


def around(pk: int, rate_hz: float, n_windows: int, window_len: int, hop: int) -> np.ndarray:
    """Indices of the (up to) three windows centred 0.5 s before, at and after sample
    ``pk`` on a grid of windows starting every ``hop`` samples."""
    if n_windows == 0:
        return np.zeros(0, dtype=np.int64)
    centre = (pk - window_len / 2.0) / hop
    step = 0.5 * rate_hz / hop
    idx = np.round(np.array([centre - step, centre, centre + step])).astype(np.int64)
    return np.unique(np.clip(idx, 0, n_windows - 1))


def decide(
    candidates: np.ndarray, probs: list[float], rate_hz: float, rules: FallRules
) -> list[tuple[float, float]]:
    """Events (time s, probability) from candidate peaks and the model's mean fall
    probability at each: above ``threshold``, and not within ``refractory_s`` of the
    previous event."""
    events: list[tuple[float, float]] = []
    for pk, p in zip(candidates, probs, strict=True):
        t = pk / rate_hz
        if p >= rules.threshold and (not events or t - events[-1][0] >= rules.refractory_s):
            events.append((float(t), float(p)))
    return events


def fit_rules(fall_shapes: np.ndarray, threshold: float) -> FallRules:
    """Rules that let through the falls seen in training, with a margin: the rise at
    most 0.8 x the 5th percentile of theirs (at least 1), stillness at least 1.25 x the
    95th percentile of theirs (at most 1: then no rule), active time at least 1.25 x the
    95th (at least 3 s). ``fall_shapes`` [n, 3]: ``burst_shape`` of each training fall
    (falls too close to the end of their capture to measure stillness are left out of
    the stillness percentile)."""
    if fall_shapes.size == 0:
        return FallRules(threshold=threshold)
    rise = np.sort(fall_shapes[:, 0])
    still = np.sort(fall_shapes[np.isfinite(fall_shapes[:, 1]), 1])
    active = np.sort(fall_shapes[:, 2])
    n = rise.size - 1
    still_ratio = float(still[int(0.95 * (still.size - 1))]) * 1.25 if still.size else 1.0
    return FallRules(
        threshold=threshold,
        min_rise=max(1.0, float(rise[int(0.05 * n)]) * 0.8),
        still_ratio=min(1.0, still_ratio),
        max_active_s=max(3.0, float(active[int(0.95 * n)]) * 1.25),
    )


def _span_share(mc: np.ndarray, pk: int, rate_hz: float, a_s: float, b_s: float) -> float:
    """Mean motion over ``[pk + a_s, pk + b_s)`` as a share of the peak's (-1 when less
    than 0.5 s of it is in the course: trees then send it its own way)."""
    lo, hi = max(0, pk + int(a_s * rate_hz)), min(mc.size, pk + int(b_s * rate_hz))
    peak = float(mc[pk])
    if hi - lo < max(1, int(0.5 * rate_hz)) or peak <= 0:
        return -1.0
    return float(mc[lo:hi].mean()) / peak


def event_shape(mc: np.ndarray, pk: int, rate_hz: float) -> np.ndarray:
    """The burst peaking at ``pk`` on the motion course, in numbers that do not depend
    on how strongly the channel moves (``SHAPE_NAMES``): its rise over the floor, the
    stillness after (``burst_shape``), seconds above half height, motion before, after
    and later as shares of the peak, other peaks of at least half its height 1-3 s away
    (a pick-up is two movements: down, then up), and seconds from half height up to
    the peak and from it back down (a fall is a quick drop)."""
    rise, still, active = burst_shape(mc, pk, rate_hz)
    peak = float(mc[pk])
    k = int(3 * rate_hz)
    lo = max(0, pk - k)
    seg = mc[lo : pk + k + 1]
    side = peaks(seg, rate_hz, 0.5)
    side = side[np.abs(side - (pk - lo)) >= rate_hz]
    floor = _floor(mc, pk, rate_hz)
    left, right = _half_span(mc, pk, floor)
    return np.array(
        [
            min(rise, 1e3),
            still if np.isfinite(still) else -1.0,
            active,
            _span_share(mc, pk, rate_hz, -4.0, -1.5),
            _span_share(mc, pk, rate_hz, 1.0, 2.5),
            _span_share(mc, pk, rate_hz, 2.5, LOOK_AFTER_S),
            _span_share(mc, pk, rate_hz, -6.0, -4.0),
            float((seg[side] >= 0.5 * peak).sum()),
            (pk - left) / rate_hz,
            (right - pk) / rate_hz,
        ]
    )


def event_windows(pk: int, rate_hz: float, n_windows: int, window_len: int, hop: int) -> np.ndarray:
    """Indices of the windows centred ``EVENT_OFFSETS_S`` from sample ``pk`` (clipped to
    the windows there are; one per offset, so the event's columns keep their order)."""
    centres = (pk + np.array(EVENT_OFFSETS_S) * rate_hz - window_len / 2.0) / hop
    return np.clip(np.round(centres), 0, max(0, n_windows - 1)).astype(np.int64)


def event_features(
    feats: np.ndarray, mc: np.ndarray, pk: int, spec, columns: np.ndarray
) -> np.ndarray:
    """What the fall model sees of the burst peaking at sample ``pk``: the ``columns``
    of the windows ``event_windows`` (every window, ``spec.hop`` apart), side by side,
    then ``event_shape``. [1, len(EVENT_OFFSETS_S) * len(columns) + len(SHAPE_NAMES)]"""
    idx = event_windows(pk, spec.rate_hz, feats.shape[0], spec.length, spec.hop)
    rows = feats[idx][:, columns].reshape(-1)
    return np.concatenate([rows, event_shape(mc, pk, spec.rate_hz)])[None, :]
