"""Scenarios: a room, its routers and the people in it, declared in a TOML file.

A scenario says what happens, not how the radio sees it: the simulator turns it into CSI
for any hardware profile and seed. Files are small and meant to be written by hand, so
every mistake is reported as one line naming the file, the field and the reason::

    busy.toml: people[1].actions[2].speed: must be 0.2..2 m/s, got -1.0

Format (all lengths in metres, times in seconds, angles in degrees; unknown fields are
errors)::

    description = "One person walks a loop"     # optional
    duration = 30.0

    [room]
    width = 5.0                  # x
    depth = 4.0                  # y
    height = 2.7
    wall_reflection = { x0 = 0.5, floor = 0.3 }          # optional, per wall
    door = { wall = "y0", center = 1.0, width = 0.9 }    # needed by enter/leave
    furniture = [ { position = [4.5, 3.5, 0.4], cross_section = 0.5 } ]

    [routers.r1]                 # router id
    tx = [0.3, 0.3, 1.2]         # transmitter antenna, room frame
    rx = [4.7, 3.7, 1.2]         # receiver
    profile = "intel5300"        # intel5300 | esp32 | nexmon
    sample_rate_hz = 100.0       # optional

    [camera]                     # optional; default: Camera.for_room (wdp/camera.py)
    position = [0.05, 0.05, 2.4]
    look_at = [2.5, 2.0, 1.0]

    [[people]]
    id = "alice"                 # optional, default p<index>
    height = 1.7                 # optional, 1.0..2.2, default 1.75
    start = [1.0, 1.0]           # where they stand at t=0 (omit when entering)
    heading_deg = 0.0            # facing, counter-clockwise from +x
    actions = [
        { action = "walk", waypoints = [[4.0, 1.0], [4.0, 3.0]], speed = 1.2 },
        { action = "stand", duration = 2.0 },
        { action = "sit", duration = 8.0 },       # includes sitting down and up
        { action = "lie", duration = 12.0 },      # includes lying down and getting up
        { action = "fall", descent = 1.0, recover = true, lie = 5.0, get_up = 4.0 },
        { action = "leave", speed = 1.0 },
        { action = "enter", wait = 3.0, to = [2.0, 2.0], speed = 1.0 },
    ]

The actions are those of ``wdp.sim.motion`` (see there for what each does and its
limits). Checks beyond types: durations and speeds in range, up to ``MAX_PEOPLE`` (4)
people, everyone inside the room and at least ``motion.WALL_MARGIN`` from the walls, walks
that would cross a wall (people leave only through the door, with ``leave``), bodies
that would go through a wall while sitting, lying or falling, routers inside the room,
known hardware profiles. Actions running past ``duration`` are simply cut off.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from wdp.camera import Camera
from wdp.ids import IDENTIFIER_RULE, is_identifier
from wdp.sim import motion
from wdp.sim.motion import MAX_PEOPLE, MotionError
from wdp.sim.profiles import PROFILES
from wdp.sim.room import Door, Reflector, Room

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SAMPLE_RATE_HZ = 100.0
MAX_SAMPLE_RATE_HZ = 10_000.0
MAX_DURATION_S = 24 * 3600.0
#: Transmitter and receiver closer than this (m) would make the direct path degenerate.
MIN_ANTENNA_DISTANCE = 0.1

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]


class ScenarioError(ValueError):
    """A scenario that cannot be used: ``source: field.path: reason``, one line."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.path = path
        self.reason = reason


# --- the file's structure ------------------------------------------------------------


@attrs.frozen(slots=True)
class DoorSpec:
    wall: str
    center: float
    width: float
    height: float = 2.0


@attrs.frozen(slots=True)
class ReflectorSpec:
    position: Vec3
    cross_section: float


@attrs.frozen(slots=True)
class RoomSpec:
    width: float
    depth: float
    height: float
    wall_reflection: dict[str, float] = attrs.field(factory=dict)
    furniture: tuple[ReflectorSpec, ...] = ()
    door: DoorSpec | None = None


@attrs.frozen(slots=True)
class RouterSpec:
    """One router: transmitter and receiver antenna positions, hardware, sample rate."""

    tx: Vec3
    rx: Vec3
    profile: str
    sample_rate_hz: float = DEFAULT_SAMPLE_RATE_HZ


@attrs.frozen(slots=True)
class CameraSpec:
    """The environment's camera (``wdp.camera.Camera``) by position and aim point."""

    position: Vec3
    look_at: Vec3
    width: int = 1280
    height: int = 720
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None

    def camera(self) -> Camera:
        intrinsics = {
            k: getattr(self, k) for k in ("fx", "fy", "cx", "cy") if getattr(self, k) is not None
        }
        return Camera.looking_at(
            self.position, self.look_at, width=self.width, height=self.height, **intrinsics
        )


@attrs.frozen(slots=True)
class PersonSpec:
    id: str | None = None
    height: float = 1.75
    start: Vec2 | None = None
    heading_deg: float = 0.0
    actions: tuple[motion.Action, ...] = ()


@attrs.frozen(slots=True)
class ScenarioFile:
    duration: float
    room: RoomSpec
    routers: dict[str, RouterSpec]
    people: tuple[PersonSpec, ...] = ()
    description: str = ""
    camera: CameraSpec | None = None


# --- strict structuring --------------------------------------------------------------


class _FieldError(Exception):
    """A problem with a named sub-field of the object being structured."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _describe(value: object) -> str:
    kind = {bool: "a boolean", str: "a string", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )
    return f"{kind} {value!r}" if not isinstance(value, dict | list) else kind


def _float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number, got {_describe(value)}")
    return float(value)


def _int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"must be an integer, got {_describe(value)}")
    return value


def _str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {_describe(value)}")
    return value


def _bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, got {_describe(value)}")
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # Hooks are bound when a class's hook is generated: leaves first.
    conv.register_structure_hook(float, _float)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(bool, _bool)

    def exactly(t: object, hook) -> None:
        conv.register_structure_hook_func(lambda other: other == t, hook)

    for t in (Vec2, Vec3, tuple[Vec2, ...]):
        exactly(t, _list_checked(conv.get_structure_hook(t)))

    def tables(cl: type):
        fallback = conv.get_structure_hook(cl)

        def hook(value: object, t: type):
            if not isinstance(value, Mapping):
                raise TypeError(f"must be a table, got {_describe(value)}")
            return fallback(value, t)

        return hook

    for cl in motion.ACTION_TYPES.values():
        conv.register_structure_hook(cl, tables(cl))

    def action(value: object, _: type) -> motion.Action:
        if not isinstance(value, Mapping):
            raise TypeError(f'must be a table like {{ action = "walk", ... }}, got {value!r}')
        names = ", ".join(motion.ACTION_TYPES)
        if "action" not in value:
            raise _FieldError("action", f"is required (one of {names})")
        kind = value["action"]
        if kind not in motion.ACTION_TYPES:
            raise _FieldError("action", f"unknown action {kind!r}: use one of {names}")
        rest = {k: v for k, v in value.items() if k != "action"}
        return conv.structure(rest, motion.ACTION_TYPES[kind])

    exactly(motion.Action, action)
    for t in (tuple[motion.Action, ...], tuple[ReflectorSpec, ...]):
        exactly(t, _list_checked(conv.get_structure_hook(t)))
    for t in (dict[str, float], dict[str, RouterSpec]):
        exactly(t, _table_checked(conv.get_structure_hook(t)))
    for cl in (DoorSpec, ReflectorSpec, RoomSpec, RouterSpec, CameraSpec, PersonSpec):
        conv.register_structure_hook(cl, tables(cl))
    exactly(tuple[PersonSpec, ...], _list_checked(conv.get_structure_hook(tuple[PersonSpec, ...])))
    return conv


def _table_checked(fallback):
    def hook(value: object, t: type):
        if not isinstance(value, Mapping):
            raise TypeError(f"must be a table, got {_describe(value)}")
        return fallback(value, t)

    return hook


def _list_checked(fallback):
    def hook(value: object, t: type):
        if not isinstance(value, list | tuple):
            raise TypeError(f"must be a list, got {_describe(value)}")
        n = len(getattr(t, "__args__", ()))
        if n and t.__args__[-1] is not Ellipsis and len(value) != n:
            raise TypeError(f"must be a list of {n} numbers, got {len(value)} items")
        return fallback(value, t)

    return hook


_CONVERTER = _make_converter()


def _first_error(exc: BaseException, path: str) -> tuple[str, str]:
    """The first leaf problem in a cattrs error tree, as (field path, reason)."""

    def join(base: str, part: str) -> str:
        return f"{base}.{part}" if base else part

    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(exc, ClassValidationError):
                sub_path = join(path, note.name)
            elif isinstance(note.index, int):
                sub_path = f"{path}[{note.index}]"
            else:
                key = str(note.index)
                sub_path = join(path, key if is_identifier(key) else json.dumps(key))
            return _first_error(sub, sub_path)
        for sub in without:
            return _first_error(sub, path)
        return path, str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        field = sorted(map(str, exc.extra_fields))[0]
        known = ", ".join(a.name for a in attrs.fields(exc.cl))
        return join(path, field), f"unknown field (expected one of: {known})"
    if isinstance(exc, _FieldError):
        return join(path, exc.field), exc.reason
    if isinstance(exc, KeyError):
        return path, "is required"
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return path, message


# --- the scenario --------------------------------------------------------------------


@attrs.frozen(slots=True, eq=False)
class Scenario:
    """A validated scenario; ``scene`` is its people compiled for evaluation.

    Build with ``load_scenario`` or ``Scenario.create`` (which validates); ``to_toml``
    writes it back so that loading the text gives the same scenario.
    """

    name: str
    duration: float
    room: Room
    routers: dict[str, RouterSpec]
    people: tuple[motion.Person, ...]
    scene: motion.Scene
    camera_spec: CameraSpec | None = None
    description: str = ""
    source: str = ""

    @classmethod
    def create(
        cls,
        *,
        name: str,
        duration: float,
        room: Room,
        routers: Mapping[str, RouterSpec],
        people: tuple[motion.Person, ...] | list[motion.Person] = (),
        camera: CameraSpec | None = None,
        description: str = "",
        source: str = "",
    ) -> Scenario:
        """Validate everything; raises ``ScenarioError`` (source: path: reason)."""
        src = source or name

        def fail(path: str, reason: str) -> ScenarioError:
            return ScenarioError(src, path, reason)

        if not (
            isinstance(duration, int | float)
            and math.isfinite(duration)
            and 0 < duration <= MAX_DURATION_S
        ):
            raise fail("duration", f"must be 0..{MAX_DURATION_S:g} s, got {duration!r}")
        routers = dict(routers)
        if not routers:
            raise fail("routers", "at least one router is needed ([routers.<id>] tables)")
        for rid, router in routers.items():
            _check_router(room, rid, router, fail)
        people = tuple(people)
        if len(people) > MAX_PEOPLE:
            raise fail("people", f"{len(people)} people, at most {MAX_PEOPLE}")
        seen: dict[str, int] = {}
        for i, person in enumerate(people):
            if not is_identifier(person.id):
                raise fail(f"people[{i}].id", f"must be {IDENTIFIER_RULE}, got {person.id!r}")
            if person.id in seen:
                raise fail(f"people[{i}].id", f"{person.id!r} is already people[{seen[person.id]}]")
            seen[person.id] = i
        try:
            scene = motion.Scene.build(people, room)
        except MotionError as exc:
            raise fail(exc.path, exc.reason) from None
        if camera is not None:
            try:
                built = camera.camera()
            except ValueError as exc:
                raise fail("camera", str(exc)) from None
            if not room.contains(built.position):
                raise fail("camera.position", f"{built.position} is outside the room")
        return cls(
            name=name,
            duration=float(duration),
            room=room,
            routers=routers,
            people=people,
            scene=scene,
            camera_spec=camera,
            description=description,
            source=src,
        )

    @property
    def camera(self) -> Camera:
        """The environment's camera: the file's ``[camera]`` or ``Camera.for_room``."""
        if self.camera_spec is not None:
            return self.camera_spec.camera()
        return Camera.for_room(self.room)

    @property
    def fall_events(self) -> list[motion.FallEvent]:
        """Falls that start within the scenario's duration."""
        return [e for e in self.scene.fall_events if e.start < self.duration]

    def to_dict(self) -> dict:
        """Plain data in the file's layout (what ``to_toml`` writes)."""
        room = self.room
        room_data: dict = {
            "width": room.width,
            "depth": room.depth,
            "height": room.height,
            "wall_reflection": dict(room.wall_reflection),
        }
        if room.furniture:
            room_data["furniture"] = [
                {"position": [float(v) for v in f.position], "cross_section": f.cross_section}
                for f in room.furniture
            ]
        if room.door is not None:
            room_data["door"] = attrs.asdict(room.door)
        data: dict = {}
        if self.description:
            data["description"] = self.description
        data["duration"] = self.duration
        data["room"] = room_data
        data["routers"] = {
            rid: {
                "tx": list(r.tx),
                "rx": list(r.rx),
                "profile": r.profile,
                "sample_rate_hz": r.sample_rate_hz,
            }
            for rid, r in self.routers.items()
        }
        if self.camera_spec is not None:
            cam = attrs.asdict(self.camera_spec)
            data["camera"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in cam.items() if v is not None
            }
        data["people"] = [_person_dict(p) for p in self.people]
        return data

    def to_toml(self) -> str:
        """The scenario as a TOML document that ``load_scenario`` reads back unchanged."""
        return _dump_toml(self.to_dict())


def _person_dict(person: motion.Person) -> dict:
    out: dict = {"id": person.id, "height": person.height}
    if person.start is not None:
        out["start"] = list(person.start)
    out["heading_deg"] = person.heading_deg
    actions = []
    for action in person.actions:
        item: dict = {"action": motion.ACTION_NAMES[type(action)]}
        for field in attrs.fields(type(action)):
            value = getattr(action, field.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            item[field.name] = value
        actions.append(item)
    out["actions"] = actions
    return out


def _check_router(room: Room, rid: str, router: RouterSpec, fail) -> None:
    base = f"routers.{rid}" if is_identifier(rid) else f"routers.{json.dumps(rid)}"
    if not is_identifier(rid):
        raise fail(base, f"router id must be {IDENTIFIER_RULE}")
    for end in ("tx", "rx"):
        point = getattr(router, end)
        if not all(math.isfinite(v) for v in point) or not room.contains(point):
            x, y, z = point
            raise fail(
                f"{base}.{end}",
                f"({x:g}, {y:g}, {z:g}) is outside the {room.width:g} x {room.depth:g} x "
                f"{room.height:g} m room",
            )
    if math.dist(router.tx, router.rx) < MIN_ANTENNA_DISTANCE:
        raise fail(f"{base}.rx", f"is within {MIN_ANTENNA_DISTANCE:g} m of tx")
    if router.profile not in PROFILES:
        raise fail(
            f"{base}.profile",
            f"unknown profile {router.profile!r}: choose one of {', '.join(PROFILES)}",
        )
    rate = router.sample_rate_hz
    if not (math.isfinite(rate) and 0 < rate <= MAX_SAMPLE_RATE_HZ):
        raise fail(f"{base}.sample_rate_hz", f"must be 0..{MAX_SAMPLE_RATE_HZ:g} Hz, got {rate}")


def _build_room(spec: RoomSpec, fail) -> Room:
    door = None
    if spec.door is not None:
        try:
            door = Door(spec.door.wall, spec.door.center, spec.door.width, spec.door.height)
        except ValueError as exc:
            raise fail("room.door", str(exc)) from None
    furniture = []
    for i, item in enumerate(spec.furniture):
        try:
            furniture.append(Reflector(item.position, item.cross_section))
        except ValueError as exc:
            raise fail(f"room.furniture[{i}]", str(exc)) from None
    try:
        return Room(
            spec.width,
            spec.depth,
            spec.height,
            wall_reflection=spec.wall_reflection,
            furniture=furniture,
            door=door,
        )
    except ValueError as exc:
        message = str(exc)
        path = "room"
        if m := re.match(r"room (width|depth|height) ", message):
            path = f"room.{m.group(1)}"
        elif m := re.match(r"(furniture\[\d+\])", message):
            path = f"room.{m.group(1)}"
        elif message.startswith("door"):
            path = "room.door"
        elif "wall_reflection" in message or "wall(s)" in message:
            path = "room.wall_reflection"
        raise fail(path, message) from None


def parse_scenario(data: object, *, name: str, source: str) -> Scenario:
    """Structure and validate already-parsed TOML data."""

    def fail(path: str, reason: str) -> ScenarioError:
        return ScenarioError(source, path, reason)

    try:
        spec = _CONVERTER.structure(data, ScenarioFile)
    except Exception as exc:  # cattrs wraps every problem; report the first one
        path, reason = _first_error(exc, "")
        raise fail(path, reason) from None
    room = _build_room(spec.room, fail)
    people = []
    for i, p in enumerate(spec.people):
        pid = p.id if p.id is not None else f"p{i}"
        people.append(
            motion.Person(
                id=pid, height=p.height, start=p.start, heading_deg=p.heading_deg, actions=p.actions
            )
        )
    return Scenario.create(
        name=name,
        duration=spec.duration,
        room=room,
        routers=spec.routers,
        people=people,
        camera=spec.camera,
        description=spec.description,
        source=source,
    )


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name (``list_scenarios``) or a TOML file by path."""
    text = str(name_or_path)
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists() or "/" in text):
        builtin = SCENARIO_DIR / f"{text}.toml"
        if not builtin.is_file():
            raise ScenarioError(
                text,
                "",
                f"no such built-in scenario (choose {', '.join(list_scenarios())}, "
                "or give a path to a .toml file)",
            )
        path = builtin
        text = str(builtin)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(text, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(text, "", f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(text, "", f"not valid TOML: {exc}") from None
    return parse_scenario(data, name=path.stem, source=text)


# --- writing TOML --------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value} to a scenario")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON escapes are valid TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _dump_toml(data: dict) -> str:
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(value, Mapping) and not (
            isinstance(value, list) and value and isinstance(value[0], Mapping)
        ):
            lines.append(f"{_key(key)} = {_value(value)}")
    for section in ("room", "camera"):
        if section in data:
            lines += ["", f"[{section}]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in data[section].items()]
    for rid, router in data.get("routers", {}).items():
        lines += ["", f"[routers.{_key(rid)}]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in router.items()]
    for person in data.get("people", []):
        lines += ["", "[[people]]"]
        for k, v in person.items():
            if k == "actions":
                lines.append("actions = [")
                lines += [f"    {_value(a)}," for a in v]
                lines.append("]")
            else:
                lines.append(f"{_key(k)} = {_value(v)}")
    return "\n".join(lines) + "\n"
