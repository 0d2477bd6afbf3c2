"""People moving through time: action lists become timelines of body poses and truth.

A person is a list of actions (``Walk``, ``Stand``, ``Sit``, ``Lie``, ``Fall``, ``Enter``,
``Leave``). ``PersonTimeline.build`` compiles them, once, into time segments (walking
along a path, holding a posture, a keyframed transition, being outside), checking every
step against the room; ``evaluate(t)`` then gives, for any batch of times, the body
scatterers for the radio channel and the truth (root, velocity, COCO keypoints,
activity). A ``Scene`` stacks up to ``MAX_PEOPLE`` people into the fixed-size arrays the
channel model takes.

Physics the channel depends on:

- Every position is a continuous function of time: walks speed up and slow down
  (``WALK_RAMP``), turns take time, postures interpolate between keyframes, so the
  scatterers move between samples and Doppler comes out of the geometry alone.
- ``velocity`` is the derivative of ``root``, taken numerically from the same functions
  (central difference over ``VELOCITY_STEP``), so it agrees with finite differences of
  positions by construction.
- Sitting down, falling and getting up keep the feet where they were: the root (the
  floor point under the pelvis) moves by the feet's offset, as the pelvis does.
- Falls are backwards: knees buckle, the pelvis hits the floor, then the back. The
  descent accelerates (progress 1 - cos(pi/2 * s)) and ends at full speed on the
  floor: the head comes down at up to about 4 / descent m/s (2.7 m/s for a 1.5 s
  descent, 8 m/s for 0.5 s), the pelvis at about 2.6 / descent m/s, far above anything
  voluntary (sitting or lying down stays under about 1.5 m/s). The person ends on
  their back, head where their back was facing.

Outside the room (before ``Enter``, after ``Leave``) a person is absent: cross-sections
0 and no truth. All actions start and end standing, except a fall without recovery
(lying to the end) and ``Leave`` (absent).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

from wdp.sim import body
from wdp.sim.room import Room

#: Activity labels (per person, per frame) and their codes; ``ABSENT`` = not in the room.
ACTIVITIES = ("standing", "walking", "sitting", "lying", "falling")
STANDING, WALKING, SITTING, LYING, FALLING = range(5)
ABSENT = -1

MAX_PEOPLE = 4
#: How close (m) a standing or walking person's root may come to a wall.
WALL_MARGIN = 0.35
#: Time (s) to reach walking speed from standing, and to stop.
WALK_RAMP = 0.8
#: Time (s) to turn on the spot: TURN_TIME[0] + TURN_TIME[1] * angle / pi.
TURN_TIME = (0.4, 0.6)
SIT_DOWN_TIME = 1.5
STAND_UP_TIME = 1.5
LIE_DOWN_TIME = 4.0
LIE_GET_UP_TIME = 4.0
#: Allowed ranges of action parameters.
SPEED_RANGE = (0.2, 2.0)
DESCENT_RANGE = (0.5, 1.5)
GET_UP_RANGE = (3.0, 15.0)
#: Door geometry for Enter/Leave: where people appear/vanish outside, and how far in
#: they walk by default.
OUTSIDE_DISTANCE = 0.8
ENTER_DEFAULT_DEPTH = 1.2
#: Central-difference step (s) for velocities.
VELOCITY_STEP = 1e-4
#: Sampling rate (Hz) of the check that every body stays inside the room.
CHECK_RATE = 10.0

Point = tuple[float, float]


def _point(value: object) -> Point:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (2,):
        raise ValueError(f"a floor point is [x, y], got {value!r}")
    return (float(arr[0]), float(arr[1]))


def _points(value: object) -> tuple[Point, ...]:
    return tuple(_point(v) for v in value)  # type: ignore[attr-defined]


def _optional_point(value: object) -> Point | None:
    return None if value is None else _point(value)


# --- actions -------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Walk:
    """Walk through ``waypoints`` ([x, y] floor points, in order) at ``speed`` m/s."""

    waypoints: tuple[Point, ...] = attrs.field(converter=_points)
    speed: float = 1.2


@attrs.frozen(slots=True)
class Stand:
    """Stand for ``duration`` s; first turn on the spot to ``heading_deg`` if given
    (counter-clockwise from +x; the turn takes up to ``TURN_TIME`` s of the duration)."""

    duration: float
    heading_deg: float | None = None


@attrs.frozen(slots=True)
class Sit:
    """Sit down on a chair behind you, stay, stand up: ``duration`` s in all (>= 3 s)."""

    duration: float


@attrs.frozen(slots=True)
class Lie:
    """Get down on the floor, lie on the back, get up: ``duration`` s in all (>= 8 s)."""

    duration: float


@attrs.frozen(slots=True)
class Fall:
    """Fall backwards in ``descent`` s (0.5..1.5); then lie ``lie`` s and, if ``recover``,
    get up in ``get_up`` s. Without recovery the person lies until the end."""

    descent: float = 1.0
    lie: float = 5.0
    recover: bool = False
    get_up: float = 4.0


@attrs.frozen(slots=True)
class Enter:
    """After ``wait`` s outside, come in through the door and walk to ``to`` (default:
    ``ENTER_DEFAULT_DEPTH`` m straight in). Must come first or follow ``Leave``."""

    to: Point | None = attrs.field(default=None, converter=_optional_point)
    speed: float = 1.0
    wait: float = 0.0


@attrs.frozen(slots=True)
class Leave:
    """Walk to the door and out; absent afterwards (until an ``Enter``)."""

    speed: float = 1.0


Action = Walk | Stand | Sit | Lie | Fall | Enter | Leave
ACTION_TYPES: dict[str, type] = {
    "walk": Walk,
    "stand": Stand,
    "sit": Sit,
    "lie": Lie,
    "fall": Fall,
    "enter": Enter,
    "leave": Leave,
}
ACTION_NAMES = {cls: name for name, cls in ACTION_TYPES.items()}


@attrs.frozen(slots=True)
class Person:
    """One person: ``height`` m, where they stand at t=0 (``start``, facing
    ``heading_deg`` counter-clockwise from +x) and what they do. ``start`` is left out
    when the first action is ``Enter``."""

    id: str
    height: float = 1.75
    start: Point | None = attrs.field(default=None, converter=_optional_point)
    heading_deg: float = 0.0
    actions: tuple[Action, ...] = attrs.field(default=(), converter=tuple)


class MotionError(ValueError):
    """An action list that cannot happen in this room; ``path`` names the field
    (``actions[2].speed``), ``reason`` says why, in one line."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@attrs.frozen(slots=True)
class FallEvent:
    """A fall: who (``person`` id, ``index`` slot), descent from ``start`` to ``end`` (s),
    and when they were standing again (``recovered_at``) or None."""

    person: str
    index: int
    start: float
    end: float
    recovered_at: float | None


# --- segments ------------------------------------------------------------------------


def _wrap(angle: float) -> float:
    """Angle in (-pi, pi]."""
    return math.pi - (math.pi - angle) % (2 * math.pi)


def _smoothstep(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3 - 2 * s)


def _fall_warp(s: np.ndarray) -> np.ndarray:
    """Accelerating progress: starts at rest, hits the floor at full speed."""
    return 1.0 - np.cos(0.5 * np.pi * np.clip(s, 0.0, 1.0))


@attrs.frozen(slots=True, eq=False)
class _Sample:
    """What a segment says about a person at some times."""

    root: np.ndarray  # [n, 2]
    heading: np.ndarray  # [n]
    joints: np.ndarray  # [n, J]
    activity: np.ndarray  # [n] int8
    present: np.ndarray  # [n] bool


class _Segment:
    t0: float
    t1: float

    def sample(self, t: np.ndarray) -> _Sample:
        raise NotImplementedError

    def root(self, t: np.ndarray) -> np.ndarray:
        return self.sample(t).root


@attrs.frozen(slots=True, eq=False)
class _Hold(_Segment):
    t0: float
    t1: float
    root_xy: np.ndarray
    heading: float
    joints: np.ndarray
    activity: int
    present: bool = True

    def sample(self, t: np.ndarray) -> _Sample:
        n = t.shape[0]
        return _Sample(
            root=np.broadcast_to(self.root_xy, (n, 2)).copy(),
            heading=np.full(n, self.heading),
            joints=np.broadcast_to(self.joints, (n, body.N_JOINTS)).copy(),
            activity=np.full(n, self.activity if self.present else ABSENT, np.int8),
            present=np.full(n, self.present),
        )

    def root(self, t: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.root_xy, (t.shape[0], 2)).copy()


@attrs.frozen(slots=True, eq=False)
class _Turn(_Segment):
    """Turning on the spot, standing."""

    t0: float
    t1: float
    root_xy: np.ndarray
    h0: float
    h1: float

    def sample(self, t: np.ndarray) -> _Sample:
        n = t.shape[0]
        s = _smoothstep((t - self.t0) / (self.t1 - self.t0))
        return _Sample(
            root=np.broadcast_to(self.root_xy, (n, 2)).copy(),
            heading=self.h0 + (self.h1 - self.h0) * s,
            joints=np.broadcast_to(body.STANDING, (n, body.N_JOINTS)).copy(),
            activity=np.full(n, STANDING, np.int8),
            present=np.ones(n, bool),
        )

    def root(self, t: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.root_xy, (t.shape[0], 2)).copy()


@attrs.frozen(slots=True, eq=False)
class _Transition(_Segment):
    """A keyframed posture change with the feet planted at ``anchor``."""

    t0: float
    t1: float
    anchor: np.ndarray  # [2] feet point
    heading: float
    keyframes: tuple
    warp: object  # callable s -> progress
    labels: tuple[tuple[float, int], ...]  # (from progress, activity code)
    shape: body.BodyShape

    def _progress(self, t: np.ndarray) -> np.ndarray:
        return self.warp((t - self.t0) / (self.t1 - self.t0))  # type: ignore[operator]

    def _root(self, joints: np.ndarray) -> np.ndarray:
        n = joints.shape[0]
        offset = body.ankle_offset(self.shape, joints)
        return self.anchor - body.rotate_heading(offset, np.full(n, self.heading))

    def sample(self, t: np.ndarray) -> _Sample:
        p = self._progress(t)
        joints = body.interpolate(self.keyframes, p)
        starts = np.array([s for s, _ in self.labels])
        codes = np.array([c for _, c in self.labels], np.int8)
        activity = codes[np.clip(np.searchsorted(starts, p, side="right") - 1, 0, None)]
        n = t.shape[0]
        return _Sample(
            root=self._root(joints),
            heading=np.full(n, self.heading),
            joints=joints,
            activity=activity,
            present=np.ones(n, bool),
        )

    def root(self, t: np.ndarray) -> np.ndarray:
        return self._root(body.interpolate(self.keyframes, self._progress(t)))


@attrs.frozen(slots=True, eq=False)
class _Walk(_Segment):
    """Along a polyline with a trapezoidal speed profile, turning smoothly at corners."""

    t0: float
    t1: float
    path: np.ndarray  # [M, 2]
    cumulative: np.ndarray  # [M] distance at each path point
    speed: float  # cruise speed
    accel: float
    ramp: float  # time to reach peak speed
    peak: float  # peak speed (== speed unless the walk is short)
    key_t: np.ndarray
    key_h: np.ndarray
    stride: float  # metres per gait cycle
    shape: body.BodyShape
    room: Room | None  # presence = inside this room (Enter/Leave); None = always present

    def distance(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance along the path and speed at times t."""
        tau = np.clip(t - self.t0, 0.0, self.t1 - self.t0)
        total = self.t1 - self.t0
        a, r, vp, length = self.accel, self.ramp, self.peak, self.cumulative[-1]
        rising = tau < r
        falling = tau > total - r
        s = np.where(rising, 0.5 * a * tau**2, 0.5 * a * r**2 + vp * (tau - r))
        s = np.where(falling, length - 0.5 * a * (total - tau) ** 2, s)
        v = np.where(rising, a * tau, vp)
        v = np.where(falling, a * (total - tau), v)
        return np.clip(s, 0.0, length), v

    def _root(self, s: np.ndarray) -> np.ndarray:
        x = np.interp(s, self.cumulative, self.path[:, 0])
        y = np.interp(s, self.cumulative, self.path[:, 1])
        return np.stack([x, y], -1)

    def sample(self, t: np.ndarray) -> _Sample:
        s, v = self.distance(t)
        root = self._root(s)
        phase = s / self.stride
        joints = body.gait(phase, v / self.speed, self.speed, self.shape.height)
        heading = np.interp(t, self.key_t, self.key_h)
        if self.room is None:
            present = np.ones(t.shape[0], bool)
        else:
            present = np.asarray(self.room.contains(root), bool).reshape(-1)
        activity = np.where(present, WALKING, ABSENT).astype(np.int8)
        return _Sample(root, heading, joints, activity, present)

    def root(self, t: np.ndarray) -> np.ndarray:
        return self._root(self.distance(t)[0])


# --- building timelines --------------------------------------------------------------


def _check_range(path: str, value: float, lo: float, hi: float, unit: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and lo <= value <= hi):
        raise MotionError(path, f"must be {lo:g}..{hi:g} {unit}, got {value!r}")


def _check_min(path: str, value: float, lo: float, unit: str, why: str = "") -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= lo):
        extra = f" ({why})" if why else ""
        raise MotionError(path, f"must be >= {lo:g} {unit}{extra}, got {value!r}")


def _check_positive(path: str, value: float, unit: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise MotionError(path, f"must be a positive number of {unit}, got {value!r}")


def _fmt(p: object) -> str:
    x, y = np.asarray(p, dtype=np.float64)[:2]
    return f"({x:.2f}, {y:.2f})"


def _room_text(room: Room) -> str:
    return f"the {room.width:g} x {room.depth:g} m room"


class PersonBuilder:
    """Compiles one person's actions into segments, one action at a time, checking each
    against the room (``MotionError`` names the field). ``snapshot``/``restore`` let a
    generator try an action and take it back."""

    def __init__(self, person: Person, room: Room, index: int = 0) -> None:
        self.person = person
        self.room = room
        self.index = index
        _check_range("height", person.height, body.MIN_HEIGHT, body.MAX_HEIGHT, "m")
        if not math.isfinite(person.heading_deg):
            raise MotionError("heading_deg", f"must be a finite angle, got {person.heading_deg}")
        self.shape = body.BodyShape(person.height)
        self.actions: list[Action] = []
        self.segments: list[_Segment] = []
        self.falls: list[FallEvent] = []
        self.t = 0.0
        self.heading = math.radians(person.heading_deg)
        self.lying_forever = False
        self.inside = person.start is not None
        self.root: np.ndarray | None = None
        if person.start is not None:
            self._inside_check("start", person.start)
            self.root = np.array(person.start, dtype=np.float64)

    def _inside_check(self, path: str, point: object) -> None:
        if not self.room.contains(np.asarray(point, dtype=np.float64), WALL_MARGIN):
            raise MotionError(
                path,
                f"{_fmt(point)} is outside {_room_text(self.room)} or closer than "
                f"{WALL_MARGIN:g} m to a wall",
            )

    @property
    def end(self) -> float:
        """When the actions so far are over."""
        return self.t

    def snapshot(self) -> tuple:
        root = None if self.root is None else self.root.copy()
        return (
            len(self.actions),
            len(self.segments),
            len(self.falls),
            self.t,
            self.heading,
            root,
            self.inside,
            self.lying_forever,
        )

    def restore(self, snap: tuple) -> None:
        n_actions, n_segments, n_falls, self.t, self.heading, root, self.inside, lying = snap
        del self.actions[n_actions:]
        del self.segments[n_segments:]
        del self.falls[n_falls:]
        self.root = None if root is None else root.copy()
        self.lying_forever = lying

    def add(self, action: Action) -> None:
        """Append one action. If it raises, part of it may have been compiled: ``restore``
        a ``snapshot`` taken before to try something else."""
        j = len(self.actions)
        path = f"actions[{j}]"
        if j == 0 and self.person.start is not None and isinstance(action, Enter):
            raise MotionError("start", "must be left out when the first action is 'enter'")
        if j == 0 and self.person.start is None and not isinstance(action, Enter):
            raise MotionError("start", "is required unless the first action is 'enter'")
        if self.lying_forever:
            raise MotionError(
                path, "nothing can follow a fall without recovery (the person lies on)"
            )
        start = len(self.segments)
        t_start = self.t
        self._action(path, action)
        if not isinstance(action, Enter | Leave):
            self._body_check(path, action, self.segments[start:], t_start)
        self.actions.append(action)

    def timeline(self) -> PersonTimeline:
        """The compiled person; after the last action they hold still (or stay away)."""
        if self.person.start is None and not self.actions:
            raise MotionError("start", "is required unless the first action is 'enter'")
        if self.inside:
            joints = body.LYING if self.lying_forever else body.STANDING
            code = LYING if self.lying_forever else STANDING
            last = _Hold(self.t, math.inf, self.root, self.heading, joints, code)
        else:
            last = _Hold(self.t, math.inf, self.root, self.heading, body.STANDING, ABSENT, False)
        return PersonTimeline(
            person=attrs.evolve(self.person, actions=tuple(self.actions)),
            index=self.index,
            shape=self.shape,
            segments=(*self.segments, last),
            falls=tuple(self.falls),
        )

    def _body_check(self, path: str, action: Action, segments: list, t_start: float) -> None:
        """Every keypoint of the body must stay inside the room during the action."""
        if not segments:
            return
        t_end = self.t
        n = max(2, int(math.ceil((t_end - t_start) * CHECK_RATE)) + 1)
        t = np.linspace(t_start, t_end, n)
        sample = _evaluate_segments(segments, t)
        keypoints = body.pose(self.shape, sample.joints, sample.root, sample.heading).keypoints
        inside = np.asarray(self.room.contains(keypoints[..., :2]), bool)
        if inside.all():
            return
        frame, kp = np.argwhere(~inside)[0]
        name = ACTION_NAMES[type(action)]
        raise MotionError(
            path,
            f"the body would go through a wall at t={t[frame]:.1f} s "
            f"({body.KEYPOINT_NAMES[kp]} at {_fmt(keypoints[frame, kp])} is outside "
            f"{_room_text(self.room)}); give this '{name}' more free floor",
        )

    def _action(self, path: str, action: Action) -> None:
        if isinstance(action, Enter):
            self._enter(path, action)
            return
        if not self.inside:
            raise MotionError(
                path,
                f"the person is outside the room here; only 'enter' can follow 'leave', "
                f"not '{ACTION_NAMES[type(action)]}'",
            )
        if isinstance(action, Walk):
            self._walk_action(path, action)
        elif isinstance(action, Stand):
            self._stand(path, action)
        elif isinstance(action, Sit):
            self._sit(path, action)
        elif isinstance(action, Lie):
            self._lie(path, action)
        elif isinstance(action, Fall):
            self._fall(path, action)
        elif isinstance(action, Leave):
            self._leave(path, action)
        else:  # pragma: no cover - the Action union is closed
            raise MotionError(path, f"unknown action {action!r}")

    # -- simple pieces

    def _hold(self, duration: float, joints: np.ndarray, code: int, root=None) -> None:
        root = self.root if root is None else root
        self.segments.append(_Hold(self.t, self.t + duration, root, self.heading, joints, code))
        self.t += duration

    def _transition(self, duration, keyframes, warp, labels, anchor) -> None:
        seg = _Transition(
            self.t,
            self.t + duration,
            anchor,
            self.heading,
            keyframes,
            warp,
            labels,
            self.shape,
        )
        self.segments.append(seg)
        self.t += duration
        self.root = seg.root(np.array([self.t]))[0]

    def _stand(self, path: str, action: Stand) -> None:
        _check_positive(f"{path}.duration", action.duration, "seconds")
        duration = action.duration
        if action.heading_deg is not None:
            if not math.isfinite(action.heading_deg):
                raise MotionError(
                    f"{path}.heading_deg", f"must be finite, got {action.heading_deg}"
                )
            target = self.heading + _wrap(math.radians(action.heading_deg) - self.heading)
            turn = abs(target - self.heading)
            if turn > 1e-9:
                dur = min(duration, TURN_TIME[0] + TURN_TIME[1] * turn / math.pi)
                self.segments.append(_Turn(self.t, self.t + dur, self.root, self.heading, target))
                self.t += dur
                duration -= dur
                self.heading = target
        if duration > 0:
            self._hold(duration, body.STANDING, STANDING)

    def _sit(self, path: str, action: Sit) -> None:
        least = SIT_DOWN_TIME + STAND_UP_TIME
        _check_min(f"{path}.duration", action.duration, least, "s", "sitting down and up")
        anchor = self.root.copy()
        self._transition(
            SIT_DOWN_TIME, body.SIT_DOWN, _smoothstep, ((0.0, STANDING), (0.5, SITTING)), anchor
        )
        self._hold(action.duration - least, body.SEATED, SITTING)
        self._transition(
            STAND_UP_TIME, body.STAND_UP, _smoothstep, ((0.0, SITTING), (0.5, STANDING)), anchor
        )
        self.root = anchor

    def _lie(self, path: str, action: Lie) -> None:
        least = LIE_DOWN_TIME + LIE_GET_UP_TIME
        _check_min(f"{path}.duration", action.duration, least, "s", "lying down and getting up")
        anchor = self.root.copy()
        self._transition(
            LIE_DOWN_TIME,
            body.LIE_DOWN,
            _smoothstep,
            ((0.0, STANDING), (0.15, SITTING), (0.825, LYING)),
            anchor,
        )
        self._hold(action.duration - least, body.LYING, LYING)
        self._transition(
            LIE_GET_UP_TIME,
            body.GET_UP,
            _smoothstep,
            ((0.0, LYING), (0.175, SITTING), (0.85, STANDING)),
            anchor,
        )
        self.root = anchor

    def _fall(self, path: str, action: Fall) -> None:
        _check_range(f"{path}.descent", action.descent, *DESCENT_RANGE, "s")
        if not isinstance(action.recover, bool):
            raise MotionError(f"{path}.recover", f"must be true or false, got {action.recover!r}")
        if action.recover:
            _check_min(f"{path}.lie", action.lie, 0.0, "s")
            _check_range(f"{path}.get_up", action.get_up, *GET_UP_RANGE, "s")
        anchor = self.root.copy()
        start = self.t
        self._transition(action.descent, body.FALL, _fall_warp, ((0.0, FALLING),), anchor)
        end = self.t
        if not action.recover:
            self.lying_forever = True
            self.falls.append(FallEvent(self.person.id, self.index, start, end, None))
            return
        self._hold(action.lie, body.LYING, LYING)
        self._transition(
            action.get_up,
            body.GET_UP,
            _smoothstep,
            ((0.0, LYING), (0.175, SITTING), (0.85, STANDING)),
            anchor,
        )
        self.root = anchor
        self.falls.append(FallEvent(self.person.id, self.index, start, end, self.t))

    # -- walking

    def _walk_action(self, path: str, action: Walk) -> None:
        _check_range(f"{path}.speed", action.speed, *SPEED_RANGE, "m/s")
        if len(action.waypoints) == 0:
            raise MotionError(f"{path}.waypoints", "needs at least one [x, y] point")
        previous = self.root
        for k, point in enumerate(action.waypoints):
            if not all(math.isfinite(c) for c in point):
                raise MotionError(f"{path}.waypoints[{k}]", f"must be finite, got {point}")
            if not self.room.contains(np.asarray(point), WALL_MARGIN):
                crossing = _wall_crossed(self.room, previous, point)
                how = (
                    f"the walk from {_fmt(previous)} would go through wall {crossing}; "
                    "people leave only through the door, with 'leave'"
                    if crossing
                    else f"closer than {WALL_MARGIN:g} m to a wall"
                )
                raise MotionError(
                    f"{path}.waypoints[{k}]",
                    f"{_fmt(point)} is outside {_room_text(self.room)} ({how})",
                )
            previous = point
        self._walk([self.root, *action.waypoints], action.speed, presence=None)

    def _walk(self, points: Sequence[object], speed: float, presence: Room | None) -> None:
        pts = [np.asarray(points[0], dtype=np.float64)]
        for p in points[1:]:
            p = np.asarray(p, dtype=np.float64)
            if np.hypot(*(p - pts[-1])) > 1e-6:
                pts.append(p)
        if len(pts) < 2:
            return  # already there
        seg = _make_walk(self.t, np.stack(pts), speed, self.heading, self.shape, presence)
        self.segments.append(seg)
        self.t = seg.t1
        self.root = seg.path[-1].copy()
        self.heading = float(seg.key_h[-1])

    def _door(self, path: str, what: str) -> None:
        if self.room.door is None:
            raise MotionError(path, f"the room has no door to {what} through (add room.door)")

    def _enter(self, path: str, action: Enter) -> None:
        if self.inside:
            raise MotionError(
                path, "the person is already in the room; 'enter' must come first or after 'leave'"
            )
        self._door(path, "enter")
        _check_range(f"{path}.speed", action.speed, *SPEED_RANGE, "m/s")
        _check_min(f"{path}.wait", action.wait, 0.0, "s")
        outside = self.room.door_position(-OUTSIDE_DISTANCE)[:2]
        door = self.room.door_position(0.0)[:2]
        if action.to is None:
            to = self.room.door_position(ENTER_DEFAULT_DEPTH)[:2]
        else:
            to = np.asarray(action.to, dtype=np.float64)
            if not all(math.isfinite(c) for c in action.to):
                raise MotionError(f"{path}.to", f"must be finite, got {action.to}")
            self._inside_check(f"{path}.to", to)
        inward = door - outside
        heading = math.atan2(inward[1], inward[0])
        if self.root is None or not self.segments:
            self.heading = heading
        else:
            self.heading = self.heading + _wrap(heading - self.heading)
        if action.wait > 0 or not self.segments:
            self.segments.append(
                _Hold(
                    self.t,
                    self.t + action.wait,
                    outside,
                    self.heading,
                    body.STANDING,
                    ABSENT,
                    False,
                )
            )
            self.t += action.wait
        self.root = outside
        self._walk([outside, door, to], action.speed, presence=self.room)
        self.inside = True

    def _leave(self, path: str, action: Leave) -> None:
        self._door(path, "leave")
        _check_range(f"{path}.speed", action.speed, *SPEED_RANGE, "m/s")
        inside = self.room.door_position(min(0.5, WALL_MARGIN))[:2]
        outside = self.room.door_position(-OUTSIDE_DISTANCE)[:2]
        self._walk([self.root, inside, outside], action.speed, presence=self.room)
        self.inside = False


def _wall_crossed(room: Room, a: object, b: object) -> str | None:
    """Which wall the straight line a -> b crosses first (None if it stays inside)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = b - a
    best: tuple[float, str] | None = None
    walls = ((0, 0.0, "x0"), (0, room.width, "x1"), (1, 0.0, "y0"), (1, room.depth, "y1"))
    for axis, value, name in walls:
        if abs(d[axis]) < 1e-12:
            continue
        s = (value - a[axis]) / d[axis]
        if 0.0 < s <= 1.0:
            other = a[1 - axis] + s * d[1 - axis]
            limit = room.depth if axis == 0 else room.width
            if -1e-9 <= other <= limit + 1e-9 and (best is None or s < best[0]):
                best = (s, name)
    return None if best is None else best[1]


def _make_walk(
    t0: float,
    path: np.ndarray,
    speed: float,
    heading0: float,
    shape: body.BodyShape,
    presence: Room | None,
) -> _Walk:
    seg_len = np.hypot(*np.diff(path, axis=0).T)
    cumulative = np.concatenate([[0.0], np.cumsum(seg_len)])
    length = float(cumulative[-1])
    accel = speed / WALK_RAMP
    if length >= speed * WALK_RAMP:
        peak, ramp = speed, WALK_RAMP
        total = length / speed + WALK_RAMP
    else:  # too short to reach full speed: a triangular profile
        peak = math.sqrt(accel * length)
        ramp = peak / accel
        total = 2 * ramp

    def time_at(s: float) -> float:
        if s <= 0.5 * accel * ramp**2:
            return math.sqrt(2 * s / accel)
        if s >= length - 0.5 * accel * ramp**2:
            return total - math.sqrt(max(0.0, 2 * (length - s) / accel))
        return ramp + (s - 0.5 * accel * ramp**2) / peak

    times = [t0 + time_at(float(s)) for s in cumulative]
    times[-1] = t0 + total
    # Headings along the path, each the shortest turn from the one before.
    headings = []
    current = heading0
    for d in np.diff(path, axis=0):
        current = current + _wrap(math.atan2(d[1], d[0]) - current)
        headings.append(current)
    key_t = [t0]
    key_h = [heading0]
    turn = abs(headings[0] - heading0)
    if turn > 1e-9:
        dur = min(0.25 + 0.5 * turn / math.pi, 0.5 * (times[1] - times[0]))
        key_t.append(t0 + dur)
        key_h.append(headings[0])
    for i in range(1, len(headings)):
        half = min(0.3, 0.4 * (times[i] - times[i - 1]), 0.4 * (times[i + 1] - times[i]))
        lo = max(times[i] - half, key_t[-1] + 1e-9)
        key_t.append(lo)
        key_h.append(headings[i - 1])
        key_t.append(max(times[i] + half, lo + 1e-9))
        key_h.append(headings[i])
    if t0 + total > key_t[-1]:
        key_t.append(t0 + total)
        key_h.append(headings[-1])
    stride = 2 * body.step_length(speed, shape.height)
    return _Walk(
        t0=t0,
        t1=t0 + total,
        path=path,
        cumulative=cumulative,
        speed=speed,
        accel=accel,
        ramp=ramp,
        peak=peak,
        key_t=np.array(key_t),
        key_h=np.array(key_h),
        stride=stride,
        shape=shape,
        room=presence,
    )


def _evaluate_segments(segments: Sequence[_Segment], t: np.ndarray) -> _Sample:
    starts = np.array([s.t0 for s in segments])
    which = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(segments) - 1)
    n = t.shape[0]
    root = np.empty((n, 2))
    heading = np.empty(n)
    joints = np.empty((n, body.N_JOINTS))
    activity = np.empty(n, np.int8)
    present = np.empty(n, bool)
    for i in np.unique(which):
        mask = which == i
        s = segments[i].sample(t[mask])
        root[mask] = s.root
        heading[mask] = s.heading
        joints[mask] = s.joints
        activity[mask] = s.activity
        present[mask] = s.present
    return _Sample(root, heading, joints, activity, present)


def _evaluate_roots(segments: Sequence[_Segment], t: np.ndarray) -> np.ndarray:
    starts = np.array([s.t0 for s in segments])
    which = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(segments) - 1)
    root = np.empty((t.shape[0], 2))
    for i in np.unique(which):
        mask = which == i
        root[mask] = segments[i].root(t[mask])
    return root


# --- evaluation ----------------------------------------------------------------------


@attrs.frozen(slots=True, eq=False)
class PersonState:
    """One person at times t[N]: the channel's scatterers and the truth.

    ``root``/``velocity`` [N, 3] are the floor point under the pelvis (z = 0) and its
    velocity; ``keypoints`` [N, 17, 3] COCO order; ``scatterers`` [N, S, 3] and
    ``cross_sections`` [N, S] (0 when absent); ``activity`` [N] codes (``ABSENT`` when
    outside). Truth of absent frames is still filled (outside the room) but not valid.
    """

    present: np.ndarray
    root: np.ndarray
    velocity: np.ndarray
    heading: np.ndarray
    keypoints: np.ndarray
    scatterers: np.ndarray
    cross_sections: np.ndarray
    activity: np.ndarray


@attrs.frozen(slots=True, eq=False)
class PersonTimeline:
    """A compiled person: build with ``PersonTimeline.build(person, room, index)``."""

    person: Person
    index: int
    shape: body.BodyShape
    segments: tuple[_Segment, ...]
    falls: tuple[FallEvent, ...]

    @classmethod
    def build(cls, person: Person, room: Room, index: int = 0) -> PersonTimeline:
        """Compile and check the actions; raises ``MotionError`` naming the bad field."""
        builder = PersonBuilder(person, room, index)
        for action in person.actions:
            builder.add(action)
        return builder.timeline()

    @property
    def end(self) -> float:
        """When the last action is over (the person then holds still)."""
        return self.segments[-1].t0

    def evaluate(self, t: object) -> PersonState:
        times = np.asarray(t, dtype=np.float64).reshape(-1)
        s = _evaluate_segments(self.segments, times)
        pose = body.pose(self.shape, s.joints, s.root, s.heading)
        h = VELOCITY_STEP
        v_xy = (
            _evaluate_roots(self.segments, times + h) - _evaluate_roots(self.segments, times - h)
        ) / (2 * h)
        n = times.shape[0]
        zeros = np.zeros((n, 1))
        cs = np.where(s.present[:, None], self.shape.cross_sections[None, :], 0.0)
        return PersonState(
            present=s.present,
            root=np.concatenate([s.root, zeros], -1),
            velocity=np.concatenate([v_xy, zeros], -1),
            heading=s.heading,
            keypoints=pose.keypoints,
            scatterers=pose.scatterers,
            cross_sections=cs,
            activity=s.activity,
        )


@attrs.frozen(slots=True, eq=False)
class SceneState:
    """Everyone at times t[N], in fixed-size arrays (P = ``max_people`` slots).

    For the channel: ``positions`` [N, K, 3] and ``cross_sections`` [N, K] with
    K = P * SCATTERERS_PER_PERSON (slot p owns scatterers p*S .. p*S+S-1; cross-sections
    are 0 for absent people and empty slots, whose positions are finite but meaningless).
    Truth: ``person_ids`` [P] ('' for an empty slot), ``ids`` [N, P] slot index or -1
    when absent, ``present`` [N, P], ``root``/``velocity`` [N, P, 3], ``heading`` [N, P],
    ``keypoints3d`` [N, P, 17, 3] and ``activity`` [N, P] (``ABSENT`` = -1); truth of
    absent slots is NaN. ``occupancy`` [N] counts people present.
    """

    t: np.ndarray
    positions: np.ndarray
    cross_sections: np.ndarray
    person_ids: tuple[str, ...]
    ids: np.ndarray
    present: np.ndarray
    root: np.ndarray
    velocity: np.ndarray
    heading: np.ndarray
    keypoints3d: np.ndarray
    activity: np.ndarray
    occupancy: np.ndarray


@attrs.frozen(slots=True, eq=False)
class Scene:
    """Up to ``max_people`` compiled people, evaluated together."""

    people: tuple[PersonTimeline, ...] = attrs.field(converter=tuple)
    max_people: int = MAX_PEOPLE

    def __attrs_post_init__(self) -> None:
        if len(self.people) > self.max_people:
            raise ValueError(f"{len(self.people)} people, at most {self.max_people}")

    @classmethod
    def build(cls, people: Sequence[Person], room: Room, max_people: int = MAX_PEOPLE) -> Scene:
        if len(people) > max_people:
            raise MotionError("people", f"{len(people)} people, at most {max_people}")
        timelines = []
        for i, person in enumerate(people):
            try:
                timelines.append(PersonTimeline.build(person, room, i))
            except MotionError as exc:
                raise MotionError(f"people[{i}].{exc.path}", exc.reason) from None
        return cls(timelines, max_people)

    @property
    def scatterer_count(self) -> int:
        return self.max_people * body.SCATTERERS_PER_PERSON

    @property
    def person_ids(self) -> tuple[str, ...]:
        ids = [p.person.id for p in self.people]
        return tuple(ids + [""] * (self.max_people - len(ids)))

    @property
    def fall_events(self) -> list[FallEvent]:
        """Every fall, ordered by start time."""
        events = [e for p in self.people for e in p.falls]
        return sorted(events, key=lambda e: (e.start, e.index))

    @property
    def end(self) -> float:
        """When everyone's last action is over."""
        return max((p.end for p in self.people), default=0.0)

    def evaluate(self, t: object) -> SceneState:
        times = np.asarray(t, dtype=np.float64).reshape(-1)
        n, npp, s = times.shape[0], self.max_people, body.SCATTERERS_PER_PERSON
        positions = np.zeros((n, npp, s, 3))
        cross = np.zeros((n, npp, s))
        present = np.zeros((n, npp), bool)
        root = np.full((n, npp, 3), np.nan)
        velocity = np.full((n, npp, 3), np.nan)
        heading = np.full((n, npp), np.nan)
        keypoints = np.full((n, npp, 17, 3), np.nan)
        activity = np.full((n, npp), ABSENT, np.int8)
        for p, person in enumerate(self.people):
            st = person.evaluate(times)
            positions[:, p] = st.scatterers
            cross[:, p] = st.cross_sections
            m = st.present
            present[:, p] = m
            root[m, p] = st.root[m]
            velocity[m, p] = st.velocity[m]
            heading[m, p] = st.heading[m]
            keypoints[m, p] = st.keypoints[m]
            activity[:, p] = np.where(m, st.activity, ABSENT)
        ids = np.where(present, np.arange(npp, dtype=np.int16)[None, :], -1).astype(np.int16)
        return SceneState(
            t=times,
            positions=positions.reshape(n, npp * s, 3),
            cross_sections=cross.reshape(n, npp * s),
            person_ids=self.person_ids,
            ids=ids,
            present=present,
            root=root,
            velocity=velocity,
            heading=heading,
            keypoints3d=keypoints,
            activity=activity,
            occupancy=present.sum(axis=1).astype(np.int16),
        )
