"""Typed events: what the pipeline says, one class per message type of the WebSocket API.

Each class is frozen attrs (slots) and holds exactly the data fields of its message in
``spec/websocket-api.md``; ``to_message()`` gives the message as the spec shapes it::

    {"type": <TYPE>, "timestamp": <ISO-8601 UTC with milliseconds>, "data": {...}}

with keys in the spec's order (so the JSON bytes of an event are always the same; the
per-connection ``metadata`` block, ``client_id``/``sequence``/``compression``, is the
server's to add). What we add to the spec, everywhere alike:

- ``timestamp_ns`` (int): the event's time on the frames' clock (ns since the Unix
  epoch; a simulated recording's clock starts at 0, i.e. 1970-01-01). The message's
  ``timestamp`` is this time in ISO-8601 UTC with milliseconds (truncated), e.g.
  ``"2025-01-07T10:30:00.123Z"``. No event ever reads the wall clock.
- Positions: the spec gives ``x``/``y`` in pixels of the environment's virtual camera
  (``wdp.camera.Camera``); beside them we give the room coordinates ``x_m``, ``y_m``,
  ``z_m`` (metres, room frame: x along the width, y along the depth, z up, origin at a
  floor corner). A pixel coordinate is ``null`` when the point is behind the camera
  (it has no image); it may lie outside the image (then ``visible`` is false for
  keypoints). A person's position is the floor point under the pelvis (``z_m`` = 0).
- ``environment_id`` is an attribute of every pipeline event so the hub can route and
  filter it; it is serialized in ``pose_data`` and ``occupancy_update`` (as the spec
  has it) and, added by us, first in the data of ``tracking_update``,
  ``pose_data_trajectory``, ``activity_event`` and ``analytics_stream``: track ids and
  fall ids are per environment, so a dashboard of several rooms needs it.
- ``activity_event`` data ends with ``fall_id``, shared by every message about one fall.
- Numbers are rounded for the wire: pixels to 0.1, metres and m/s to 0.001, confidences
  and other 0..1 figures to 0.001, seconds to 0.001, milliseconds to 0.01. Non-finite
  numbers become ``null``.

Pipeline events (produced by ``wdp.pipeline``):

``PoseFrame`` -> ``pose_data``: one per processed window of an environment.
    ``frame_id`` window counter of the environment (0, 1, 2, ...); ``environment_id``;
    ``processing_time_ms`` time the live server spent on the window (``null`` in a
    replay: it would depend on the machine, and replays are deterministic);
    ``persons``: every confirmed track detected in this window (tracks coasting without
    a detection are left out), each with ``person_id``, ``track_id``, ``confidence``
    (the detection's, 0..1), ``bounding_box`` (COCO ``x, y, width, height`` in pixels
    around the keypoints in the image, pushed out 10 % + 2 px, clipped to the image;
    ``null`` when no keypoint is in the image), ``keypoints`` (17 COCO keypoints in COCO
    order, each ``name``, ``x``, ``y`` (pixels), ``confidence`` (0..1), ``visible``
    (projects inside the image, in front of the camera), ``x_m``, ``y_m``, ``z_m``),
    ``activity`` (``type`` one of standing, walking, sitting, lying, falling;
    ``confidence`` 0..1; ``velocity`` ``{x, y}`` the track's floor velocity in m/s in
    the room frame); ``metadata``: ``model_version`` (what produced the window),
    ``csi_quality`` (the window's input quality 0..1), ``frame_rate`` (windows per
    second over the last 10 windows, ``null`` for the first).

``TrackingUpdate`` -> ``tracking_update``: a track's life. ``event`` is
    ``track_started`` (a tentative track was confirmed), ``track_updated`` (periodic,
    every ``update_interval_s`` of a confirmed track, and at once when a lost track is
    found again), ``track_lost`` (no detection for ``lost_after_s``), ``track_ended``
    (no detection for ``end_after_s``; the id is never used again). ``position`` the
    track's filtered floor position; ``confidence`` exponential average of the matched
    detections' confidences, a missed window counting as 0; ``metadata.first_detection``
    time of the track's first detection (while still tentative); ``metadata.track_quality``
    share of the track's last 20 windows (fewer for a young track) with a detection.

``TrajectoryUpdate`` -> ``pose_data_trajectory``: a confirmed track's recent path, sent
    every ``update_interval_s`` while the track is detected: ``trajectory`` points
    (``timestamp``, ``position``, ``confidence``; at least ``trajectory_spacing_s``
    apart, the newest ``trajectory_points``), and ``prediction``: ``next_position``
    (constant-velocity extrapolation by ``time_horizon`` seconds), ``confidence`` (the
    track's confidence times exp(-sigma / 0.5 m), sigma the predicted position's
    standard deviation), ``time_horizon`` (s).

``ActivityEvent`` -> ``activity_event``: ``event_type`` is ``fall_detected``;
    ``severity`` ``high``, or ``critical`` once the person has not got up within
    ``critical_after_s``; ``person_id``, ``track_id``; ``confidence`` of the fall (0..1);
    ``location`` where the person fell; ``details``: ``fall_duration`` (s, the head's
    descent), ``impact_severity`` (0..1, peak downward head speed over free-fall speed
    from the head's upright height), ``recovery_detected``; ``actions``: only what was
    really done for this event (``alert_triggered``: an alert callback is configured and
    reported success; ``notification_sent``: a notification callback reported the
    receiver accepted it); ``fall_id``: the same for every message about one fall (the
    detection, the escalation to critical, the recovery), unique per environment.
    See ``wdp.pipeline.falls``.

``OccupancyUpdate`` -> ``occupancy_update``: sent when the debounced person count
    changes. ``current_occupancy``, ``previous_occupancy``, ``change_type``
    (``person_entered`` if it went up, ``person_left`` if down), ``confidence``,
    ``persons`` (``person_id``, ``track_id``, ``status``: ``active`` counted before and
    now, ``new`` counted now but not before, ``leaving`` counted before but not now).
    See ``wdp.pipeline.occupancy``.

``AnalyticsStream`` -> ``analytics_stream``: one per analytics period (default a
    minute of frame time). See ``wdp.pipeline.analytics`` for every figure.

Other server-to-client events of the spec, defined here so the whole API is typed (the
pipeline does not produce them): ``SystemEvent`` (``system_event``), ``HardwareEvent``
(``hardware_event``), ``PerformanceUpdate`` (``performance_update``), ``ConfigUpdate``
(``config_update``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import attrs
import numpy as np

from wdp.camera import Camera
from wdp.sim.body import KEYPOINT_NAMES  # COCO names in COCO order: one list, the skeleton's

ACTIVITY_TYPES = ("standing", "walking", "sitting", "lying", "falling")
#: Without keypoints (the sensing tier) a person's activity is the activity detector's
#: class (e.g. ``sit_down``, ``pick_up``; its ``fall`` is called ``falling``) or, without a
#: detector, what motion says: ``moving`` or ``still``. Any such name is snake_case.
SENSING_ACTIVITY = re.compile(r"[a-z][a-z0-9_]*")
TRACKING_EVENTS = ("track_started", "track_updated", "track_lost", "track_ended")
FALL_SEVERITIES = ("high", "critical")
FALL_ACTIONS = ("alert_triggered", "notification_sent")
CHANGE_TYPES = ("person_entered", "person_left")
OCCUPANT_STATUSES = ("active", "new", "leaving")
TRENDS = ("increasing", "decreasing", "stable")
CONFIDENCE_TRENDS = ("improving", "declining", "stable")
TIERS = ("pose", "sensing")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_timestamp(ns: int) -> str:
    """``ns`` since the Unix epoch as ISO-8601 UTC with milliseconds (truncated)."""
    s, rem = divmod(int(ns), 1_000_000_000)
    when = _EPOCH + timedelta(seconds=s)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 1_000_000:03d}Z"


def _num(value: float | None, digits: int) -> float | None:
    """A finite number rounded for the wire, else None (JSON null)."""
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    r = round(v, digits)
    return 0.0 if r == 0 else r  # no "-0.0" on the wire


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _pairs(value: object) -> tuple[tuple[str, object], ...]:
    """A mapping (or pairs) as an immutable tuple of (key, value), order kept."""
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), v) for k, v in items)  # type: ignore[union-attr]


def _check_choice(choices: tuple[str, ...]):
    def check(instance: object, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {choices}, got {value!r}")

    return check


# --- building blocks -------------------------------------------------------------------


@attrs.frozen(slots=True)
class Point:
    """A point in pixels of the environment's camera (``x``, ``y``; None behind it) and
    in room metres (``x_m``, ``y_m``, ``z_m``)."""

    x: float | None = attrs.field(converter=_opt_float)
    y: float | None = attrs.field(converter=_opt_float)
    x_m: float = attrs.field(converter=float)
    y_m: float = attrs.field(converter=float)
    z_m: float = attrs.field(converter=float)

    @classmethod
    def project(cls, camera: Camera, xyz: object) -> Point:
        """The room point ``xyz`` (metres) with its pixel coordinates through ``camera``."""
        p = np.asarray(xyz, dtype=np.float64).reshape(3)
        px, _ = camera.project(p)
        u, v = float(px[0]), float(px[1])
        return cls(
            u if math.isfinite(u) else None,
            v if math.isfinite(v) else None,
            float(p[0]),
            float(p[1]),
            float(p[2]),
        )

    def to_data(self) -> dict:
        return {
            "x": _num(self.x, 1),
            "y": _num(self.y, 1),
            "x_m": _num(self.x_m, 3),
            "y_m": _num(self.y_m, 3),
            "z_m": _num(self.z_m, 3),
        }


@attrs.frozen(slots=True)
class BoundingBox:
    """COCO person box in pixels: top-left corner (``x``, ``y``), ``width``, ``height``."""

    x: float = attrs.field(converter=float)
    y: float = attrs.field(converter=float)
    width: float = attrs.field(converter=float)
    height: float = attrs.field(converter=float)

    def to_data(self) -> dict:
        return {
            "x": _num(self.x, 1),
            "y": _num(self.y, 1),
            "width": _num(self.width, 1),
            "height": _num(self.height, 1),
        }


@attrs.frozen(slots=True)
class Keypoint:
    """One COCO keypoint: pixels, confidence, whether the camera would see it, metres."""

    name: str
    x: float | None = attrs.field(converter=_opt_float)
    y: float | None = attrs.field(converter=_opt_float)
    confidence: float = attrs.field(converter=float)
    visible: bool = attrs.field(converter=bool)
    x_m: float = attrs.field(converter=float)
    y_m: float = attrs.field(converter=float)
    z_m: float = attrs.field(converter=float)

    def to_data(self) -> dict:
        return {
            "name": self.name,
            "x": _num(self.x, 1),
            "y": _num(self.y, 1),
            "confidence": _num(self.confidence, 3),
            "visible": self.visible,
            "x_m": _num(self.x_m, 3),
            "y_m": _num(self.y_m, 3),
            "z_m": _num(self.z_m, 3),
        }


@attrs.frozen(slots=True)
class Velocity:
    """Floor velocity in m/s, room frame."""

    x: float = attrs.field(converter=float)
    y: float = attrs.field(converter=float)

    def to_data(self) -> dict:
        return {"x": _num(self.x, 3), "y": _num(self.y, 3)}


def _check_activity(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value not in ACTIVITY_TYPES and not SENSING_ACTIVITY.fullmatch(value):
        raise ValueError(f"activity type {value!r} is not a snake_case name")


@attrs.frozen(slots=True)
class PersonActivity:
    """A person's current activity label, its confidence and the person's velocity."""

    type: str = attrs.field(validator=_check_activity)
    confidence: float = attrs.field(converter=float)
    velocity: Velocity | None  # None: unknown (the sensing tier tracks no position)

    def to_data(self) -> dict:
        return {
            "type": self.type,
            "confidence": _num(self.confidence, 3),
            "velocity": None if self.velocity is None else self.velocity.to_data(),
        }


@attrs.frozen(slots=True)
class PosePerson:
    """One person of a ``pose_data`` frame."""

    person_id: int = attrs.field(converter=int)
    track_id: int = attrs.field(converter=int)
    confidence: float = attrs.field(converter=float)
    bounding_box: BoundingBox | None
    keypoints: tuple[Keypoint, ...] = attrs.field(converter=tuple)
    activity: PersonActivity
    #: Wire-ready dense pose (``wdp.inference.densepose.dense_pose_data``), or None: then
    #: the key is left out, so consumers that never asked for it see the spec's shape.
    dense_pose: dict | None = attrs.field(default=None, hash=False)  # a dict: unhashable

    @classmethod
    def build(
        cls,
        camera: Camera,
        *,
        person_id: int,
        track_id: int,
        confidence: float,
        keypoints_3d: object,
        keypoint_confidence: object,
        activity: PersonActivity,
    ) -> PosePerson:
        """Project a person's 3D keypoints [17, 3] through ``camera`` into a person."""
        kp = np.asarray(keypoints_3d, dtype=np.float64).reshape(len(KEYPOINT_NAMES), 3)
        conf = np.asarray(keypoint_confidence, dtype=np.float64).reshape(len(KEYPOINT_NAMES))
        finite = np.all(np.isfinite(kp), axis=1)
        pixels, visible = camera.project(np.where(finite[:, None], kp, 0.0))
        visible &= finite
        box = camera.bounding_box(pixels, visible)
        bbox = BoundingBox(*box) if np.all(np.isfinite(box)) else None
        keypoints = tuple(
            Keypoint(
                name,
                pixels[i, 0] if finite[i] and math.isfinite(pixels[i, 0]) else None,
                pixels[i, 1] if finite[i] and math.isfinite(pixels[i, 1]) else None,
                conf[i] if math.isfinite(conf[i]) else 0.0,
                bool(visible[i]),
                kp[i, 0],
                kp[i, 1],
                kp[i, 2],
            )
            for i, name in enumerate(KEYPOINT_NAMES)
        )
        return cls(person_id, track_id, confidence, bbox, keypoints, activity)

    def to_data(self) -> dict:
        data = {
            "person_id": self.person_id,
            "track_id": self.track_id,
            "confidence": _num(self.confidence, 3),
            "bounding_box": None if self.bounding_box is None else self.bounding_box.to_data(),
            "keypoints": [k.to_data() for k in self.keypoints],
            "activity": self.activity.to_data(),
        }
        if self.dense_pose is not None:
            data["dense_pose"] = self.dense_pose
        return data


@attrs.frozen(slots=True)
class TrajectoryPoint:
    timestamp_ns: int = attrs.field(converter=int)
    position: Point
    confidence: float = attrs.field(converter=float)

    def to_data(self) -> dict:
        return {
            "timestamp": iso_timestamp(self.timestamp_ns),
            "position": self.position.to_data(),
            "confidence": _num(self.confidence, 3),
        }


@attrs.frozen(slots=True)
class TrajectoryPrediction:
    next_position: Point
    confidence: float = attrs.field(converter=float)
    time_horizon: float = attrs.field(converter=float)

    def to_data(self) -> dict:
        return {
            "next_position": self.next_position.to_data(),
            "confidence": _num(self.confidence, 3),
            "time_horizon": _num(self.time_horizon, 3),
        }


@attrs.frozen(slots=True)
class Occupant:
    """A person of an ``occupancy_update`` and their status (active, new, leaving)."""

    person_id: int = attrs.field(converter=int)
    track_id: int = attrs.field(converter=int)
    status: str = attrs.field(validator=_check_choice(OCCUPANT_STATUSES))

    def to_data(self) -> dict:
        return {"person_id": self.person_id, "track_id": self.track_id, "status": self.status}


@attrs.frozen(slots=True)
class PerformanceAlert:
    type: str
    severity: str
    value: float = attrs.field(converter=float)
    threshold: float = attrs.field(converter=float)

    def to_data(self) -> dict:
        return {
            "type": self.type,
            "severity": self.severity,
            "value": _num(self.value, 3),
            "threshold": _num(self.threshold, 3),
        }


def _message(type_: str, timestamp_ns: int, data: dict) -> dict:
    return {"type": type_, "timestamp": iso_timestamp(timestamp_ns), "data": data}


# --- pipeline events -------------------------------------------------------------------


@attrs.frozen(slots=True)
class PoseFrame:
    """``pose_data``: the people detected in one window (see the module docstring)."""

    TYPE: ClassVar[str] = "pose_data"

    timestamp_ns: int = attrs.field(converter=int)
    frame_id: int = attrs.field(converter=int)
    environment_id: str
    processing_time_ms: float | None = attrs.field(converter=_opt_float)
    persons: tuple[PosePerson, ...] = attrs.field(converter=tuple)
    model_version: str
    csi_quality: float = attrs.field(converter=float)
    frame_rate: float | None = attrs.field(converter=_opt_float)
    #: "pose" (the pose model) or "sensing" (``wdp.sensing``: motion, presence, activity
    #: and falls, no keypoints); see README "Real hardware: what wdp senses".
    tier: str = attrs.field(default="pose", validator=_check_choice(TIERS))
    #: False when no pose estimate was made for this window; ``reason`` says why.
    pose_available: bool = True
    reason: str | None = None
    #: The sensing tier's motion state (``wdp.sensing.motion.STATES``), presence (None:
    #: unknown) and why they are unknown (the motion gate's refusal, or calibrating).
    motion: str | None = None
    presence: bool | None = None
    motion_reason: str | None = None

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "frame_id": self.frame_id,
                "environment_id": self.environment_id,
                "processing_time_ms": _num(self.processing_time_ms, 2),
                "persons": [p.to_data() for p in self.persons],
                "metadata": {
                    "model_version": self.model_version,
                    "csi_quality": _num(self.csi_quality, 3),
                    "frame_rate": _num(self.frame_rate, 1),
                    "tier": self.tier,
                    "pose_available": self.pose_available,
                    "reason": self.reason,
                    "motion": self.motion,
                    "presence": self.presence,
                    "motion_reason": self.motion_reason,
                },
            },
        )


@attrs.frozen(slots=True)
class TrackingUpdate:
    """``tracking_update``: a track started, updated, was lost or ended."""

    TYPE: ClassVar[str] = "tracking_update"

    timestamp_ns: int = attrs.field(converter=int)
    environment_id: str
    track_id: int = attrs.field(converter=int)
    person_id: int = attrs.field(converter=int)
    event: str = attrs.field(validator=_check_choice(TRACKING_EVENTS))
    position: Point
    confidence: float = attrs.field(converter=float)
    first_detection_ns: int = attrs.field(converter=int)
    track_quality: float = attrs.field(converter=float)

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "environment_id": self.environment_id,
                "track_id": self.track_id,
                "person_id": self.person_id,
                "event": self.event,
                "position": self.position.to_data(),
                "confidence": _num(self.confidence, 3),
                "metadata": {
                    "first_detection": iso_timestamp(self.first_detection_ns),
                    "track_quality": _num(self.track_quality, 3),
                },
            },
        )


@attrs.frozen(slots=True)
class TrajectoryUpdate:
    """``pose_data_trajectory``: a track's recent path and where it is heading."""

    TYPE: ClassVar[str] = "pose_data_trajectory"

    timestamp_ns: int = attrs.field(converter=int)
    environment_id: str
    track_id: int = attrs.field(converter=int)
    person_id: int = attrs.field(converter=int)
    trajectory: tuple[TrajectoryPoint, ...] = attrs.field(converter=tuple)
    prediction: TrajectoryPrediction

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "environment_id": self.environment_id,
                "track_id": self.track_id,
                "person_id": self.person_id,
                "trajectory": [p.to_data() for p in self.trajectory],
                "prediction": self.prediction.to_data(),
            },
        )


@attrs.frozen(slots=True)
class ActivityEvent:
    """``activity_event`` of type ``fall_detected`` (see ``wdp.pipeline.falls``)."""

    TYPE: ClassVar[str] = "activity_event"

    timestamp_ns: int = attrs.field(converter=int)
    environment_id: str
    fall_id: int = attrs.field(converter=int)
    event_type: str
    severity: str = attrs.field(validator=_check_choice(FALL_SEVERITIES))
    person_id: int = attrs.field(converter=int)
    track_id: int = attrs.field(converter=int)
    confidence: float = attrs.field(converter=float)
    location: Point
    fall_duration: float = attrs.field(converter=float)
    impact_severity: float = attrs.field(converter=float)
    recovery_detected: bool = attrs.field(converter=bool)
    actions: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    @actions.validator
    def _check_actions(self, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        for a in value:
            if a not in FALL_ACTIONS:
                raise ValueError(f"unknown action {a!r} (known: {FALL_ACTIONS})")

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "environment_id": self.environment_id,
                "event_type": self.event_type,
                "severity": self.severity,
                "person_id": self.person_id,
                "track_id": self.track_id,
                "confidence": _num(self.confidence, 3),
                "location": self.location.to_data(),
                "details": {
                    "fall_duration": _num(self.fall_duration, 3),
                    "impact_severity": _num(self.impact_severity, 3),
                    "recovery_detected": self.recovery_detected,
                },
                "actions": list(self.actions),
                "fall_id": self.fall_id,
            },
        )


@attrs.frozen(slots=True)
class OccupancyUpdate:
    """``occupancy_update``: the debounced person count changed."""

    TYPE: ClassVar[str] = "occupancy_update"

    timestamp_ns: int = attrs.field(converter=int)
    environment_id: str
    current_occupancy: int = attrs.field(converter=int)
    previous_occupancy: int = attrs.field(converter=int)
    change_type: str = attrs.field(validator=_check_choice(CHANGE_TYPES))
    confidence: float = attrs.field(converter=float)
    persons: tuple[Occupant, ...] = attrs.field(converter=tuple)

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "environment_id": self.environment_id,
                "current_occupancy": self.current_occupancy,
                "previous_occupancy": self.previous_occupancy,
                "change_type": self.change_type,
                "confidence": _num(self.confidence, 3),
                "persons": [p.to_data() for p in self.persons],
            },
        )


def _check_trend(choices: tuple[str, ...]):
    def check(instance: object, attribute: attrs.Attribute, value: str | None) -> None:
        if value is not None and value not in choices:
            raise ValueError(f"{attribute.name} must be one of {choices} or None, got {value!r}")

    return check


@attrs.frozen(slots=True)
class AnalyticsStream:
    """``analytics_stream``: figures of one analytics period (see ``wdp.pipeline.analytics``)."""

    TYPE: ClassVar[str] = "analytics_stream"

    timestamp_ns: int = attrs.field(converter=int)
    environment_id: str
    window: str
    occupancy_current: int = attrs.field(converter=int)
    occupancy_average: float = attrs.field(converter=float)
    occupancy_peak: int = attrs.field(converter=int)
    movement_events: int = attrs.field(converter=int)
    stationary_time: float = attrs.field(converter=float)
    activity_level: float | None = attrs.field(converter=_opt_float)
    total_detections: int = attrs.field(converter=int)
    average_confidence: float | None = attrs.field(converter=_opt_float)
    tracking_accuracy: float | None = attrs.field(converter=_opt_float)
    occupancy_trend: str | None = attrs.field(validator=_check_trend(TRENDS))
    activity_trend: str | None = attrs.field(validator=_check_trend(TRENDS))
    confidence_trend: str | None = attrs.field(validator=_check_trend(CONFIDENCE_TRENDS))

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "environment_id": self.environment_id,
                "window": self.window,
                "metrics": {
                    "occupancy": {
                        "current": self.occupancy_current,
                        "average": _num(self.occupancy_average, 3),
                        "peak": self.occupancy_peak,
                    },
                    "activity": {
                        "movement_events": self.movement_events,
                        "stationary_time": _num(self.stationary_time, 3),
                        "activity_level": _num(self.activity_level, 3),
                    },
                    "detection": {
                        "total_detections": self.total_detections,
                        "average_confidence": _num(self.average_confidence, 3),
                        "tracking_accuracy": _num(self.tracking_accuracy, 3),
                    },
                },
                "trends": {
                    "occupancy_trend": self.occupancy_trend,
                    "activity_trend": self.activity_trend,
                    "confidence_trend": self.confidence_trend,
                },
            },
        )


# --- other server events (not produced by the pipeline) --------------------------------


@attrs.frozen(slots=True)
class SystemEvent:
    """``system_event``: the system's status changed (e.g. ``system_started``)."""

    TYPE: ClassVar[str] = "system_event"

    timestamp_ns: int = attrs.field(converter=int)
    event: str
    status: str
    session_id: str
    configuration: tuple[tuple[str, object], ...] = attrs.field(default=(), converter=_pairs)
    components: tuple[tuple[str, object], ...] = attrs.field(default=(), converter=_pairs)
    #: The environment the event is about (in ``configuration``, as the spec shows it);
    #: only tokens allowed that environment receive it. None: about no environment.
    environment_id: str | None = None

    def to_message(self) -> dict:
        configuration = dict(self.configuration)
        if self.environment_id is not None:
            configuration["environment_id"] = self.environment_id
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "event": self.event,
                "status": self.status,
                "session_id": self.session_id,
                "configuration": configuration,
                "components": dict(self.components),
            },
        )


@attrs.frozen(slots=True)
class HardwareEvent:
    """``hardware_event``: a router connected, went silent, came back..."""

    TYPE: ClassVar[str] = "hardware_event"

    timestamp_ns: int = attrs.field(converter=int)
    event: str
    router_id: str
    severity: str
    message: str
    last_seen_ns: int | None = None
    reconnect_attempts: int = attrs.field(default=0, converter=int)
    environment_id: str | None = None  # the router's environment: who may see the event

    def to_message(self) -> dict:
        env = {} if self.environment_id is None else {"environment_id": self.environment_id}
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                **env,
                "event": self.event,
                "router_id": self.router_id,
                "severity": self.severity,
                "message": self.message,
                "metadata": {
                    "last_seen": None
                    if self.last_seen_ns is None
                    else iso_timestamp(self.last_seen_ns),
                    "reconnect_attempts": self.reconnect_attempts,
                },
            },
        )


@attrs.frozen(slots=True)
class PerformanceUpdate:
    """``performance_update``: processing figures and threshold alerts. Usages are
    percentages; None (null) where a figure is not available (e.g. no GPU)."""

    TYPE: ClassVar[str] = "performance_update"

    timestamp_ns: int = attrs.field(converter=int)
    frames_per_second: float | None = attrs.field(converter=_opt_float)
    average_latency_ms: float | None = attrs.field(converter=_opt_float)
    processing_queue_size: int = attrs.field(converter=int)
    cpu_usage: float | None = attrs.field(default=None, converter=_opt_float)
    memory_usage: float | None = attrs.field(default=None, converter=_opt_float)
    gpu_usage: float | None = attrs.field(default=None, converter=_opt_float)
    alerts: tuple[PerformanceAlert, ...] = attrs.field(default=(), converter=tuple)

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "metrics": {
                    "frames_per_second": _num(self.frames_per_second, 1),
                    "average_latency_ms": _num(self.average_latency_ms, 2),
                    "processing_queue_size": self.processing_queue_size,
                    "cpu_usage": _num(self.cpu_usage, 1),
                    "memory_usage": _num(self.memory_usage, 1),
                    "gpu_usage": _num(self.gpu_usage, 1),
                },
                "alerts": [a.to_data() for a in self.alerts],
            },
        )


@attrs.frozen(slots=True)
class ConfigUpdate:
    """``config_update``: configuration fields changed (dotted names) and their values."""

    TYPE: ClassVar[str] = "config_update"

    timestamp_ns: int = attrs.field(converter=int)
    changed_fields: tuple[str, ...] = attrs.field(converter=tuple)
    new_values: tuple[tuple[str, object], ...] = attrs.field(converter=_pairs)
    applied_by: str
    requires_restart: bool = attrs.field(converter=bool)

    def to_message(self) -> dict:
        return _message(
            self.TYPE,
            self.timestamp_ns,
            {
                "changed_fields": list(self.changed_fields),
                "new_values": dict(self.new_values),
                "applied_by": self.applied_by,
                "requires_restart": self.requires_restart,
            },
        )


#: Everything the pipeline emits.
PipelineEvent = (
    PoseFrame
    | TrackingUpdate
    | TrajectoryUpdate
    | ActivityEvent
    | OccupancyUpdate
    | AnalyticsStream
)
#: Every server-to-client event typed here.
Event = PipelineEvent | SystemEvent | HardwareEvent | PerformanceUpdate | ConfigUpdate
EVENT_TYPES: tuple[type, ...] = (
    PoseFrame,
    TrackingUpdate,
    TrajectoryUpdate,
    ActivityEvent,
    OccupancyUpdate,
    AnalyticsStream,
    SystemEvent,
    HardwareEvent,
    PerformanceUpdate,
    ConfigUpdate,
)


def messages(events: Sequence[Event]) -> list[dict]:
    """``to_message()`` of each event, in order."""
    return [e.to_message() for e in events]
