"""Analytics: figures of each period (default one minute of frame time) of an environment.

Periods are aligned to the frames' clock: period k holds the windows with
``k * period <= time_ns < (k + 1) * period``. A period's ``analytics_stream`` is sent
with the first window of a later period (its timestamp is the period's end,
``(k + 1) * period``); periods without any window send nothing. ``finish()`` sends the
current, incomplete period at the end of a replay (timestamp: its last window). Each
window accounts for the frame time since the previous window (``dt``, capped at
``max_step_s`` so a gap in the data is not counted as time observed; the first window
accounts for none).

Figures (``people`` below are the confirmed, currently tracked tracks of a window):

- ``window``: the period's length as a name: ``"1_minute"``, ``"5_minutes"``,
  ``"30_seconds"``...
- ``occupancy.current``: the (debounced) occupancy after the period's last window;
  ``average``: its time-weighted mean over the period (the value of a window held for
  its ``dt``; the current value if no time was accounted); ``peak``: its maximum.
- ``activity.movement_events``: how many times a person's activity label became
  ``walking`` (from another label, or as a track's first label);
  ``stationary_time``: person-seconds spent standing, sitting or lying;
  ``activity_level``: the share of person-time spent walking or falling (0..1), null if
  nobody was tracked during the period.
- ``detection.total_detections``: detections the tracker used (confidence at least its
  ``min_confidence``, finite position) in the period's windows;
  ``average_confidence``: their mean confidence (null without detections);
  ``tracking_accuracy``: MOTA (CLEAR MOT, Bernardin and Stiefelhagen 2008) of the
  people against ground truth, when the pipeline was given truth (simulated
  recordings): ``1 - (misses + false positives + identity switches) / ground-truth
  person-windows``, a person and a track matching when their floor positions are
  within ``mota_threshold_m``, correspondences kept from window to window while they
  stay within it, the rest paired by the optimal assignment; a window is scored when a
  truth row lies within ``truth_tolerance_s`` of it. Null without truth (a live system
  has no ground truth to measure against, and no figure is better than an invented
  one) and when the period held no ground-truth person. MOTA can be negative.
- ``trends`` against the previous period that sent analytics (null for the first):
  ``occupancy_trend`` ``increasing``/``decreasing`` when the average occupancy changed
  by more than ``occupancy_tolerance`` persons, else ``stable``; ``activity_trend`` the
  same on ``activity_level`` with ``activity_tolerance`` (null if either is null);
  ``confidence_trend`` ``improving``/``declining``/``stable`` on
  ``average_confidence`` with ``confidence_tolerance`` (null if either is null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from wdp.pipeline.assignment import linear_assignment
from wdp.pipeline.events import AnalyticsStream
from wdp.pipeline.tracking import TrackView
from wdp.recorder.truth import TruthRows

STATIONARY = frozenset({"standing", "sitting", "lying"})
MOVING = frozenset({"walking", "falling"})
_NS = 1_000_000_000


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"analytics {attribute.name} must be positive, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"analytics {attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(slots=True)
class AnalyticsConfig:
    period_s: float = attrs.field(default=60.0, validator=_positive)
    max_step_s: float = attrs.field(default=2.0, validator=_positive)
    mota_threshold_m: float = attrs.field(default=0.5, validator=_positive)
    truth_tolerance_s: float = attrs.field(default=0.05, validator=_non_negative)
    occupancy_tolerance: float = attrs.field(default=0.1, validator=_non_negative)
    activity_tolerance: float = attrs.field(default=0.05, validator=_non_negative)
    confidence_tolerance: float = attrs.field(default=0.02, validator=_non_negative)


def period_name(period_s: float) -> str:
    """``60`` -> ``"1_minute"``, ``300`` -> ``"5_minutes"``, ``30`` -> ``"30_seconds"``."""
    if period_s >= 60 and float(period_s) % 60 == 0:
        n, unit = int(period_s // 60), "minute"
    elif float(period_s).is_integer():
        n, unit = int(period_s), "second"
    else:
        return f"{period_s:g}_seconds"
    return f"{n}_{unit}" if n == 1 else f"{n}_{unit}s"


# --- MOTA ------------------------------------------------------------------------------


class Mota:
    """CLEAR MOT accumulator (see the module docstring): ``update`` once per scored
    frame with the ground-truth ids and floor positions and the hypotheses' (tracks')."""

    def __init__(self, threshold_m: float = 0.5) -> None:
        self.threshold = float(threshold_m)
        self._match: dict[object, object] = {}  # ground truth id -> last hypothesis id
        self.gt = 0
        self.misses = 0
        self.false_positives = 0
        self.switches = 0
        self.matches = 0
        self.distance_sum = 0.0

    def update(
        self,
        gt_ids: Sequence[object],
        gt_xy: object,
        hyp_ids: Sequence[object],
        hyp_xy: object,
    ) -> None:
        g = _xy(gt_xy, len(gt_ids))
        h = _xy(hyp_xy, len(hyp_ids))
        dist = np.linalg.norm(g[:, None, :] - h[None, :, :], axis=2)
        hyp_index = {hid: j for j, hid in enumerate(hyp_ids)}
        pairs: list[tuple[int, int]] = []
        used_g: set[int] = set()
        used_h: set[int] = set()
        for i, gid in enumerate(gt_ids):  # keep last frame's correspondences if still valid
            j = hyp_index.get(self._match.get(gid, None), None)
            if j is not None and j not in used_h and dist[i, j] <= self.threshold:
                pairs.append((i, j))
                used_g.add(i)
                used_h.add(j)
        rest_g = [i for i in range(len(gt_ids)) if i not in used_g]
        rest_h = [j for j in range(len(hyp_ids)) if j not in used_h]
        if rest_g and rest_h:
            sub = dist[np.ix_(rest_g, rest_h)]
            sub = np.where(sub <= self.threshold, sub, np.inf)
            for r, c in linear_assignment(sub):
                i, j = rest_g[r], rest_h[c]
                gid, hid = gt_ids[i], hyp_ids[j]
                if gid in self._match and self._match[gid] != hid:
                    self.switches += 1
                pairs.append((i, j))
        for i, j in pairs:
            self._match[gt_ids[i]] = hyp_ids[j]
            self.distance_sum += float(dist[i, j])
        self.gt += len(gt_ids)
        self.matches += len(pairs)
        self.misses += len(gt_ids) - len(pairs)
        self.false_positives += len(hyp_ids) - len(pairs)

    @property
    def mota(self) -> float | None:
        if self.gt == 0:
            return None
        return 1.0 - (self.misses + self.false_positives + self.switches) / self.gt

    @property
    def motp(self) -> float | None:
        """Mean distance (m) of matched pairs (None without matches)."""
        return self.distance_sum / self.matches if self.matches else None

    def counts(self) -> tuple[int, int, int, int]:
        """(gt, misses, false positives, switches) so far."""
        return self.gt, self.misses, self.false_positives, self.switches


def _xy(points: object, n: int) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if n == 0:
        return np.zeros((0, 2))
    return arr.reshape(n, -1)[:, :2]


# --- the stream ------------------------------------------------------------------------


@attrs.define(slots=True)
class _Period:
    index: int
    last_ns: int = 0
    duration: float = 0.0
    occupancy_time: float = 0.0
    occupancy_current: int = 0
    occupancy_peak: int = 0
    movement_events: int = 0
    person_time: float = 0.0
    stationary_time: float = 0.0
    moving_time: float = 0.0
    detections: int = 0
    confidence_sum: float = 0.0
    mota_start: tuple[int, int, int, int] = (0, 0, 0, 0)


class Analytics:
    """The analytics stream of one environment (see the module docstring)."""

    def __init__(
        self,
        environment_id: str,
        config: AnalyticsConfig | None = None,
        *,
        truth: TruthRows | None = None,
    ) -> None:
        self.environment_id = environment_id
        self.config = config or AnalyticsConfig()
        self.truth = truth
        self.mota = Mota(self.config.mota_threshold_m)
        self._period_ns = int(round(self.config.period_s * _NS))
        self._current: _Period | None = None
        self._prev_time: int | None = None
        self._labels: dict[int, str] = {}
        self._previous: AnalyticsStream | None = None
        self._next_config: AnalyticsConfig | None = None

    def reconfigure(self, config: AnalyticsConfig) -> None:
        """New settings from the next period on (the open period keeps its length)."""
        if self._current is None:
            self._use(config)
        else:
            self._next_config = config

    def _use(self, config: AnalyticsConfig) -> None:
        self.config = config
        self._period_ns = int(round(config.period_s * _NS))
        self._next_config = None

    def update(
        self,
        time_ns: int,
        tracks: Sequence[TrackView],
        labels: Mapping[int, str],
        occupancy: int,
        confidences: Sequence[float],
    ) -> AnalyticsStream | None:
        """Account one window: the tracker's views, activity labels by track id, the
        committed occupancy and the confidences of the detections the tracker used."""
        out = None
        index = time_ns // self._period_ns
        if self._current is not None and index != self._current.index:
            out = self._emit(self._current, (self._current.index + 1) * self._period_ns)
            self._current = None
            if self._next_config is not None:
                self._use(self._next_config)
                index = time_ns // self._period_ns
        cfg = self.config
        if self._current is None:
            self._current = _Period(index, mota_start=self.mota.counts())
        p = self._current
        dt = 0.0
        if self._prev_time is not None:
            dt = min(max(0, time_ns - self._prev_time) / _NS, cfg.max_step_s)
        self._prev_time = time_ns
        p.last_ns = time_ns
        p.duration += dt
        p.occupancy_time += occupancy * dt
        p.occupancy_current = occupancy
        p.occupancy_peak = max(p.occupancy_peak, occupancy)
        people = [t for t in tracks if t.confirmed]
        alive = {t.track_id for t in tracks}
        for t in people:
            label = labels.get(t.track_id)
            if label is None:
                continue
            p.person_time += dt
            if label in STATIONARY:
                p.stationary_time += dt
            elif label in MOVING:
                p.moving_time += dt
            if label == "walking" and self._labels.get(t.track_id) != "walking":
                p.movement_events += 1
            self._labels[t.track_id] = label
        self._labels = {k: v for k, v in self._labels.items() if k in alive}
        p.detections += len(confidences)
        p.confidence_sum += float(sum(confidences))
        self._score(time_ns, people)
        return out

    def finish(self) -> AnalyticsStream | None:
        """The current, incomplete period's stream (None if it has no window)."""
        if self._current is None:
            return None
        out = self._emit(self._current, self._current.last_ns)
        self._current = None
        return out

    def _score(self, time_ns: int, people: Sequence[TrackView]) -> None:
        rows = self.truth
        if rows is None or len(rows) == 0:
            return
        i = int(np.searchsorted(rows.time_ns, time_ns, side="right")) - 1
        candidates = [k for k in (i, i + 1) if 0 <= k < len(rows)]
        k = min(candidates, key=lambda k: abs(int(rows.time_ns[k]) - time_ns))
        if abs(int(rows.time_ns[k]) - time_ns) > self.config.truth_tolerance_s * _NS:
            return
        present = [s for s in np.flatnonzero(rows.present[k])]
        gt_xy = rows.position[k, present, :2] if present else np.zeros((0, 2))
        self.mota.update(
            [int(s) for s in present],
            gt_xy,
            [t.track_id for t in people],
            [t.position for t in people] if people else np.zeros((0, 2)),
        )

    def _emit(self, p: _Period, timestamp_ns: int) -> AnalyticsStream:
        cfg = self.config
        average = p.occupancy_time / p.duration if p.duration > 0 else float(p.occupancy_current)
        level = p.moving_time / p.person_time if p.person_time > 0 else None
        confidence = p.confidence_sum / p.detections if p.detections else None
        g0, m0, f0, s0 = p.mota_start
        g1, m1, f1, s1 = self.mota.counts()
        gt = g1 - g0
        accuracy = None
        if self.truth is not None and gt > 0:
            accuracy = 1.0 - ((m1 - m0) + (f1 - f0) + (s1 - s0)) / gt
        prev = self._previous
        occ_trend = act_trend = conf_trend = None
        if prev is not None:
            occ_trend = _trend(average, prev.occupancy_average, cfg.occupancy_tolerance)
            act_trend = _trend(level, prev.activity_level, cfg.activity_tolerance)
            conf_trend = _trend(confidence, prev.average_confidence, cfg.confidence_tolerance)
            conf_trend = {"increasing": "improving", "decreasing": "declining"}.get(
                conf_trend, conf_trend
            )
        out = AnalyticsStream(
            timestamp_ns=timestamp_ns,
            environment_id=self.environment_id,
            window=period_name(cfg.period_s),
            occupancy_current=p.occupancy_current,
            occupancy_average=average,
            occupancy_peak=p.occupancy_peak,
            movement_events=p.movement_events,
            stationary_time=p.stationary_time,
            activity_level=level,
            total_detections=p.detections,
            average_confidence=confidence,
            tracking_accuracy=accuracy,
            occupancy_trend=occ_trend,
            activity_trend=act_trend,
            confidence_trend=conf_trend,
        )
        self._previous = out
        return out


def _trend(now: float | None, before: float | None, tolerance: float) -> str | None:
    if now is None or before is None:
        return None
    if now > before + tolerance:
        return "increasing"
    if now < before - tolerance:
        return "decreasing"
    return "stable"
