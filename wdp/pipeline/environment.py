"""One environment's pipeline after the model: windows of person estimates in, events out.

``EnvironmentPipeline.step(window)`` runs, in this order, the tracker
(``wdp.pipeline.tracking``), each track's activity (``activity``), the fall detector
(``falls``), the occupancy counter (``occupancy``) and the analytics (``analytics``), and
returns the window's events in a fixed order:

1. ``pose_data`` (``PoseFrame``, one per window, even with nobody in it),
2. ``tracking_update`` events (by track id; per track started, updated, lost, ended),
   then ``pose_data_trajectory`` (by track id),
3. ``activity_event`` (falls: detections, escalations, recoveries),
4. ``occupancy_update``,
5. ``analytics_stream`` (when a period closed).

It is a pure function of its input: the same windows (and truth, and configuration)
give the same events, byte for byte once encoded; nothing reads a clock, and
``processing_time_ms`` is only what the caller passes (None in replays).

Bad input is counted and skipped, never raised: a window of another environment, or one
not later than the previous window (``skipped_windows``, with the reason of the last one
in ``last_problem``); observations with a non-finite position (``unusable_observations``).
"""

from __future__ import annotations

from collections import deque

import attrs

from wdp.camera import Camera
from wdp.inference.densepose import dense_pose_for
from wdp.pipeline.activity import ActivityConfig, ActivitySmoother, ActivityState
from wdp.pipeline.analytics import Analytics, AnalyticsConfig
from wdp.pipeline.events import (
    PersonActivity,
    PipelineEvent,
    PoseFrame,
    PosePerson,
    Velocity,
)
from wdp.pipeline.falls import Callback, FallConfig, FallDetector
from wdp.pipeline.observations import Window
from wdp.pipeline.occupancy import OccupancyConfig, OccupancyCounter
from wdp.pipeline.tracking import TENTATIVE, Tracker, TrackerConfig
from wdp.recorder.truth import TruthRows

#: Windows over which ``frame_rate`` is measured.
FRAME_RATE_WINDOWS = 10


@attrs.frozen(slots=True)
class PipelineConfig:
    tracker: TrackerConfig = attrs.Factory(TrackerConfig)
    activity: ActivityConfig = attrs.Factory(ActivityConfig)
    falls: FallConfig = attrs.Factory(FallConfig)
    occupancy: OccupancyConfig = attrs.Factory(OccupancyConfig)
    analytics: AnalyticsConfig = attrs.Factory(AnalyticsConfig)
    #: Off: no fall detection at all (no ``fall_detected``, no alerts).
    fall_detection: bool = True


class EnvironmentPipeline:
    """Tracking, activity, falls, occupancy and analytics of one environment.

    ``camera`` gives the pixel coordinates of every event; ``truth`` (simulated
    recordings) lets analytics report MOTA; ``alert``/``notify`` are the fall callbacks
    (see ``wdp.pipeline.falls``).
    """

    def __init__(
        self,
        environment_id: str,
        camera: Camera,
        config: PipelineConfig | None = None,
        *,
        truth: TruthRows | None = None,
        alert: Callback | None = None,
        notify: Callback | None = None,
    ) -> None:
        self.environment_id = environment_id
        self.camera = camera
        self.config = config or PipelineConfig()
        cfg = self.config
        self.tracker = Tracker(environment_id, camera, cfg.tracker)
        self.falls = FallDetector(environment_id, camera, cfg.falls, alert=alert, notify=notify)
        self.occupancy = OccupancyCounter(environment_id, cfg.occupancy)
        self.analytics = Analytics(environment_id, cfg.analytics, truth=truth)
        self._activity: dict[int, ActivitySmoother] = {}
        self._frame_id = 0
        self._last_ns: int | None = None
        self._times: deque[int] = deque(maxlen=FRAME_RATE_WINDOWS)
        self.skipped_windows = 0
        self.unusable_observations = 0
        self.last_problem: str | None = None

    def step(
        self, window: Window, *, processing_time_ms: float | None = None
    ) -> list[PipelineEvent]:
        """The events of one window (see the module docstring); [] for a skipped one."""
        if window.environment_id != self.environment_id:
            return self._skip(
                f"window of environment {window.environment_id!r} given to the pipeline "
                f"of {self.environment_id!r}"
            )
        t = window.time_ns
        if self._last_ns is not None and t <= self._last_ns:
            return self._skip(f"window at {t} ns is not after the previous one ({self._last_ns})")
        self._last_ns = t
        self._times.append(t)

        tracked = self.tracker.update(t, window.observations)
        self.unusable_observations += tracked.unusable
        for track_id in tracked.ended:
            self._activity.pop(track_id, None)
        activities: dict[int, ActivityState] = {}
        for view in tracked.tracks:
            smoother = self._activity.get(view.track_id)
            if smoother is None:
                smoother = self._activity[view.track_id] = ActivitySmoother(self.config.activity)
            if view.observation is not None:
                state = smoother.update(t, view.observation.activity_probs)
            else:
                state = smoother.state(t)
            if state is not None:
                activities[view.track_id] = state
        live = {v.track_id for v in tracked.tracks}
        self._activity = {k: v for k, v in self._activity.items() if k in live}

        persons = []
        for view in tracked.tracks:
            obs = view.observation
            if not view.confirmed or obs is None:
                continue
            act = activities[view.track_id]
            person = PosePerson.build(
                self.camera,
                person_id=view.person_id,
                track_id=view.track_id,
                confidence=obs.confidence,
                keypoints_3d=obs.keypoints_3d,
                keypoint_confidence=obs.keypoint_confidence,
                activity=PersonActivity(act.label, act.confidence, Velocity(*view.velocity)),
            )
            box = person.bounding_box
            if box is not None:  # dense pose over the box (the hub sends it only on request)
                dense = dense_pose_for(
                    obs.keypoints_3d, self.camera, (box.x, box.y, box.width, box.height)
                )
                person = attrs.evolve(person, dense_pose=dense)
            persons.append(person)
        events: list[PipelineEvent] = [
            PoseFrame(
                timestamp_ns=t,
                frame_id=self._frame_id,
                environment_id=self.environment_id,
                processing_time_ms=processing_time_ms,
                persons=tuple(persons),
                model_version=window.model_version,
                csi_quality=window.quality,
                frame_rate=self._frame_rate(),
                pose_available=window.pose_refusal is None,
                reason=window.pose_refusal,
            )
        ]
        self._frame_id += 1
        events.extend(tracked.events)
        if self.config.fall_detection:
            seen = [v for v in tracked.tracks if v.state != TENTATIVE]
            events.extend(self.falls.update(t, seen, tracked.ended))
        used = [
            o.confidence
            for o in window.observations
            if o.usable and o.confidence >= self.tracker.config.min_confidence
        ]
        occupancy = self.occupancy.update(t, tracked.tracks, len(used))
        if occupancy is not None:
            events.append(occupancy)
        labels = {k: a.label for k, a in activities.items()}
        analytics = self.analytics.update(t, tracked.tracks, labels, self.occupancy.occupancy, used)
        if analytics is not None:
            events.append(analytics)
        return events

    def reconfigure(self, config: PipelineConfig) -> None:
        """New settings between two windows (``wdp serve`` applies config changes live).

        Each part reads its settings at every window, so they apply from the next one;
        a new analytics period length starts with the next period, and fall detection
        switched back on starts afresh (the tracks' history from before is gone)."""
        if config.fall_detection and not self.config.fall_detection:
            self.falls.reset()
        self.config = config
        self.tracker.config = config.tracker
        self.falls.config = config.falls
        self.occupancy.config = config.occupancy
        self.analytics.reconfigure(config.analytics)
        for smoother in self._activity.values():
            smoother.config = config.activity

    def finish(self) -> list[PipelineEvent]:
        """At the end of a replay: the incomplete analytics period, if any."""
        out = self.analytics.finish()
        return [] if out is None else [out]

    def _frame_rate(self) -> float | None:
        if len(self._times) < 2:
            return None
        span = (self._times[-1] - self._times[0]) / 1e9
        return (len(self._times) - 1) / span if span > 0 else None

    def _skip(self, problem: str) -> list[PipelineEvent]:
        self.skipped_windows += 1
        self.last_problem = problem
        return []


def run_windows(
    pipeline: EnvironmentPipeline, windows, *, finish: bool = True
) -> list[PipelineEvent]:
    """Every event of ``windows`` through ``pipeline`` (and its ``finish``), in order."""
    events: list[PipelineEvent] = []
    for window in windows:
        events.extend(pipeline.step(window))
    if finish:
        events.extend(pipeline.finish())
    return events
