"""One environment on the sensing tier: its routers' frames in, the API's events out.

Each router's frames go through its own ``wdp.sensing.live.LiveSensing`` (motion and
presence, and the activity and fall detector of its hardware when there is one). The
environment's windows end on a fixed grid of the frames' clock (every ``HOP_NS``), and
a window runs once every router has delivered a frame past its end (or the live shell
gives up on a silent router with ``advance(until_ns)``), as in ``runner``: what a
window reports never depends on when frames arrived. A window combines, of each
router, the newest motion state and activity that ended by then:

- ``pose_data`` (one per window): ``persons`` holds one person without keypoints
  (``keypoints`` empty, ``bounding_box`` null, ``activity.velocity`` null) while
  presence is true, none otherwise; ``person_id`` = ``track_id`` counts presence
  episodes (1, 2, ...). ``activity.type`` is the activity detector's class (its
  ``fall`` named ``falling``) or, without a detector, ``moving``/``still``; its
  ``confidence`` the class probability (without a detector: 1 while moving, 0.5 still).
  The person's ``confidence``: 1.0 while a router sees motion, 0.5 while presence is
  only held from earlier motion (a still person and an empty room look alike).
  ``metadata``: ``tier`` "sensing", ``pose_available`` false, ``reason`` (why the
  pose model does not run), ``motion`` (the strongest router state: moving > still >
  empty > calibrating > unavailable), ``presence`` (true if any router says so, null
  while no router knows), ``motion_reason`` (why motion is unknown, else null);
  ``csi_quality`` the share of routers whose motion window the gate accepted.
- ``activity_event`` ``fall_detected``: each fall a router's detector decides, through
  the pipeline's ``FallDetector.report`` (the same fall ids, alerts and webhook as the
  pose tier); falls of several routers within the detector's refractory time are one.
- ``occupancy_update`` when presence changes: 1 (someone) or 0; the tier cannot count.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections import deque

import attrs

from wdp.camera import Camera
from wdp.capture.frame import CsiFrame
from wdp.pipeline.environment import FRAME_RATE_WINDOWS, PipelineConfig
from wdp.pipeline.events import (
    OccupancyUpdate,
    Occupant,
    PersonActivity,
    PipelineEvent,
    Point,
    PoseFrame,
    PosePerson,
)
from wdp.pipeline.falls import Callback, FallDetector
from wdp.pipeline.runner import ready_ends
from wdp.pipeline.tier import TierChoice
from wdp.sensing.calibration import Calibration
from wdp.sensing.detector import Detector
from wdp.sensing.live import Activity, LiveSensing
from wdp.sensing.motion import MotionConfig, MotionState

#: The environment's window grid on the sensing tier (the motion tier's hop).
HOP_NS = 500_000_000
_RANK = {"moving": 4, "still": 3, "empty": 2, "calibrating": 1, "unavailable": 0}
_NAN_POINT = Point(None, None, math.nan, math.nan, math.nan)


@attrs.define(slots=True, eq=False)
class _Router:
    live: LiveSensing
    frames: list = attrs.field(factory=list)  # added, not yet through ``live``
    queue: deque = attrs.field(factory=deque)  # (time ns, MotionState | Activity | float)
    latest_ns: float = -math.inf
    first_ns: int | None = None
    motion: MotionState | None = None
    activity: Activity | None = None


def sensing_version(detectors: dict[str, Detector | None]) -> str:
    """``model_version`` of the sensing tier: what judged the windows."""
    names = sorted({d.profile for d in detectors.values() if d is not None})
    return "sensing-" + ("+".join(names) if names else "motion")


class SensingRunner:
    """Frames of one environment's routers in, events out (see the module docstring)."""

    def __init__(
        self,
        environment_id: str,
        choice: TierChoice,
        shapes: dict[str, tuple[int, int, int]],
        detectors: dict[str, Detector | None],
        calibrations: dict[str, Calibration | None],
        camera: Camera,
        config: PipelineConfig | None = None,
        *,
        motion: MotionConfig | None = None,
        priors: dict[str, Calibration | None] | None = None,
        alert: Callback | None = None,
        notify: Callback | None = None,
    ) -> None:
        self.environment_id = environment_id
        self.choice = choice
        self.config = config or PipelineConfig()
        self.falls = FallDetector(
            environment_id, camera, self.config.falls, alert=alert, notify=notify
        )
        self._routers = {
            rid: _Router(
                LiveSensing(
                    shapes[rid],
                    detector=detectors.get(rid),
                    calibration=calibrations.get(rid),
                    prior=(priors or {}).get(rid),
                    motion=motion,
                )
            )
            for rid in sorted(shapes)
        }
        self.model_version = sensing_version(detectors)
        self.windows = 0
        self.ignored_frames = 0
        self._next_end: int | None = None
        self._frame_id = 0
        self._times: deque[int] = deque(maxlen=FRAME_RATE_WINDOWS)
        self._episode = 0
        self._present = False
        self._last_fall_ns: int | None = None

    def reconfigure(self, config: PipelineConfig) -> None:
        """New settings from the next window (fall detection on/off, fall settings)."""
        self.config = config
        self.falls.config = config.falls

    def add(self, frames: list[CsiFrame]) -> None:
        """Frames of this environment, each router's in time order. Only kept here: the
        work is done by ``run`` (which ``wdp serve`` calls in a worker thread)."""
        for f in frames:
            r = self._routers.get(f.router_id)
            if r is None:
                self.ignored_frames += 1
                continue
            if r.first_ns is None:
                r.first_ns = f.timestamp_ns
            r.latest_ns = max(r.latest_ns, f.timestamp_ns)
            r.frames.append(f)

    def _consume(self) -> None:
        """The added frames through each router's LiveSensing, outputs queued."""
        for r in self._routers.values():
            frames, r.frames = r.frames, []
            for f in frames:
                self._queue(r, r.live.add(f.timestamp_ns, f.csi))

    def _queue(self, r: _Router, out) -> None:
        t0 = r.live.t0_ns
        if t0 is None:
            return
        items = [(s.t_s, s) for s in out.motion] + [(a.t_s, a) for a in out.activity]
        items += [(f.t_s, f.probability) for f in out.falls]
        for t_s, item in sorted(items, key=lambda x: x[0]):
            r.queue.append((t0 + int(round(t_s * 1e9)), item))

    def ready(self, until_ns: float | None = None) -> list[int]:
        """Ends of the windows that can run now (see ``runner.EnvironmentRunner.ready``)."""
        if self._next_end is None:
            firsts = [r.first_ns for r in self._routers.values() if r.first_ns is not None]
            if not firsts:
                return []
            self._next_end = math.ceil((min(firsts) + 1_000_000_000) / HOP_NS) * HOP_NS
        latest = [r.latest_ns for r in self._routers.values()]
        return ready_ends(self._next_end, HOP_NS, latest, until_ns)

    def advance(self, until_ns: float | None = None, **kw) -> list[PipelineEvent]:
        return self.run(self.ready(until_ns), **kw)

    def finish(self) -> list[PipelineEvent]:
        """End of a replay: every router's last outputs, then the windows they allow."""
        self._consume()
        for r in self._routers.values():
            self._queue(r, r.live.finish())
        ends = [int(t) for r in self._routers.values() for t, _ in r.queue]
        last = max(ends, default=None)
        return self.advance(last) if last is not None else []

    def run(self, ends: list[int], *, processing_time_ms: float | None = None):
        """The events of the windows ending at ``ends`` (from ``ready``), in order."""
        self._consume()
        events: list[PipelineEvent] = []
        for end in ends:
            falls = []
            for r in self._routers.values():
                while r.queue and r.queue[0][0] <= end:
                    _, item = r.queue.popleft()
                    if isinstance(item, MotionState):
                        r.motion = item
                    elif isinstance(item, Activity):
                        r.activity = item
                    else:
                        falls.append(item)
            events.extend(self._window(end, falls, processing_time_ms))
            self.windows += 1
            self._next_end = end + HOP_NS
        return events

    def _window(self, t: int, falls: list[float], processing_time_ms) -> list[PipelineEvent]:
        self._times.append(t)
        states = [r.motion for r in self._routers.values() if r.motion is not None]
        best = max(states, key=lambda s: _RANK[s.state], default=None)
        known = [s.presence for s in states if s.presence is not None]
        presence = any(known) if known else None
        events: list[PipelineEvent] = []
        if presence is not None and presence != self._present:
            if presence:
                self._episode += 1
            events.append(self._occupancy(t, presence))
            self._present = presence
        if falls and self.config.fall_detection:
            events.extend(self._fall(t, max(falls)))
        persons = (self._person(best),) if presence else ()
        accepted = sum(1 for s in states if s.state != "unavailable")
        why = [s.reason for s in states if s.reason] if presence is None else []
        frame = PoseFrame(
            timestamp_ns=t,
            frame_id=self._frame_id,
            environment_id=self.environment_id,
            processing_time_ms=processing_time_ms,
            persons=persons,
            model_version=self.model_version,
            csi_quality=accepted / len(self._routers),
            frame_rate=self._frame_rate(),
            tier="sensing",
            pose_available=False,
            reason=self.choice.reason(),
            motion="unavailable" if best is None else best.state,
            presence=presence,
            motion_reason=why[0] if why else ("no motion window yet" if best is None else None),
        )
        self._frame_id += 1
        return [frame, *events]

    def _person(self, best: MotionState) -> PosePerson:
        moving = best.state == "moving"
        acts = [r.activity for r in self._routers.values() if r.activity is not None]
        if acts:
            act = max(acts, key=lambda a: a.confidence)
            label = "falling" if act.label == "fall" else act.label
            activity = PersonActivity(label, act.confidence, None)
        else:
            activity = PersonActivity("moving" if moving else "still", 1.0 if moving else 0.5, None)
        return PosePerson(self._episode, self._episode, 1.0 if moving else 0.5, None, (), activity)

    def _occupancy(self, t: int, presence: bool) -> OccupancyUpdate:
        who = Occupant(self._episode, self._episode, "new" if presence else "leaving")
        return OccupancyUpdate(
            t,
            self.environment_id,
            int(presence),
            int(not presence),
            "person_entered" if presence else "person_left",
            1.0 if presence else 0.5,
            (who,),
        )

    def _fall(self, t: int, probability: float) -> list[PipelineEvent]:
        refractory = max(
            (d.rules.refractory_s for d in self._detectors() if d is not None), default=0.0
        )
        if self._last_fall_ns is not None and t - self._last_fall_ns < refractory * 1e9:
            return []  # another router's view of the same fall
        self._last_fall_ns = t
        track = max(self._episode, 1)
        return [self.falls.report(t, track, min(1.0, probability), _NAN_POINT)]

    def _detectors(self):
        return [r.live.detector for r in self._routers.values()]

    def _frame_rate(self) -> float | None:
        if len(self._times) < 2:
            return None
        span = (self._times[-1] - self._times[0]) / 1e9
        return (len(self._times) - 1) / span if span > 0 else None
