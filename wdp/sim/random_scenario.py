"""Random scenarios for training data: many rooms, router placements and behaviours.

A model trained on a handful of hand-written scenarios learns those rooms; training data
needs variety. ``random_scenario(seed, duration)`` draws a room (3..8 x 3..8 x 2.4..3 m,
a door, wall materials, a few pieces of furniture), routers with transmitter and
receiver on the walls or in corners at 0.8..2 m, and 0..4 people who walk between
random points, stand, sit, lie down, fall (with or without getting up), leave and come
back, until ``duration`` is filled.

Every action is compiled and checked as it is drawn (``motion.PersonBuilder``); one
that does not fit (a fall into a wall, say) is turned round or replaced by standing, so
every generated scenario passes the same validation as a TOML file, and
``Scenario.to_toml`` writes it out. The same seed gives the same scenario: each part
(room, routers, each person) draws from its own stream spawned from
``numpy.random.SeedSequence(seed)``, and values are rounded to centimetres (angles to
degrees, times to 0.1 s) so the TOML is exact and readable.
"""

from __future__ import annotations

import math

import numpy as np

from wdp.sim import motion
from wdp.sim.motion import MotionError
from wdp.sim.profiles import PROFILES
from wdp.sim.room import DOOR_WALLS, WALLS, Door, Reflector, Room
from wdp.sim.scenario import RouterSpec, Scenario

ROOM_WIDTH = (3.0, 8.0)
ROOM_DEPTH = (3.0, 8.0)
ROOM_HEIGHT = (2.4, 3.0)
ANTENNA_HEIGHT = (0.8, 2.0)
#: Antennas sit this far in from the walls (a router on a shelf or wall mount).
ANTENNA_INSET = 0.1
PERSON_HEIGHT = (1.5, 1.95)
WALK_SPEED = (0.6, 1.6)
#: Relative odds of each next action.
ACTION_ODDS = {
    "walk": 0.36,
    "stand": 0.2,
    "sit": 0.14,
    "lie": 0.08,
    "fall": 0.12,
    "leave": 0.1,
}
#: Share of people who come in through the door rather than being there at t=0.
ENTER_SHARE = 0.25
#: Share of falls the person gets up from; a fall with more than ``MAX_FINAL_LIE`` s
#: of the scenario left always ends with getting up (hours of lying teach nothing).
RECOVER_SHARE = 0.6
MAX_FINAL_LIE = 60.0
#: How many times to redraw an action that does not fit before standing instead.
TRIES = 8


def _r(value: float, digits: int = 2) -> float:
    return float(round(float(value), digits))


def _room(rng: np.random.Generator) -> Room:
    w = _r(rng.uniform(*ROOM_WIDTH))
    d = _r(rng.uniform(*ROOM_DEPTH))
    h = _r(rng.uniform(*ROOM_HEIGHT))
    wall = str(rng.choice(DOOR_WALLS))
    length = d if wall in ("x0", "x1") else w
    door_width = _r(rng.uniform(0.8, 1.0))
    center = _r(rng.uniform(door_width / 2 + 0.1, length - door_width / 2 - 0.1))
    reflection = {name: _r(rng.uniform(0.2, 0.6)) for name in WALLS}
    furniture = []
    for _ in range(int(rng.integers(0, 4))):
        # Against a wall, where furniture usually is.
        along = rng.uniform(0.3, 0.7)
        side = int(rng.integers(0, 4))
        x = [0.3, w - 0.3, along * w, along * w][side]
        y = [along * d, along * d, 0.3, d - 0.3][side]
        z = rng.uniform(0.3, 1.2)
        furniture.append(Reflector((_r(x), _r(y), _r(z)), _r(rng.uniform(0.1, 0.8))))
    return Room(
        w,
        d,
        h,
        wall_reflection=reflection,
        furniture=furniture,
        door=Door(wall, center, door_width),
    )


def _perimeter_point(room: Room, u: float) -> tuple[float, float]:
    """A floor point ANTENNA_INSET in from the walls, ``u`` in [0, 1) along the perimeter."""
    i = ANTENNA_INSET
    w, d = room.width - 2 * i, room.depth - 2 * i
    s = (u % 1.0) * 2 * (w + d)
    if s < w:
        return i + s, i
    s -= w
    if s < d:
        return i + w, i + s
    s -= d
    if s < w:
        return i + w - s, i + d
    return i, i + d - (s - w)


def _antenna(room: Room, rng: np.random.Generator, u: float) -> tuple[float, float, float]:
    if rng.random() < 0.3:  # in the nearest corner
        w, d = room.width - 2 * ANTENNA_INSET, room.depth - 2 * ANTENNA_INSET
        corners = np.array([0.0, w, w + d, 2 * w + d]) / (2 * (w + d))
        gap = np.abs((u - corners + 0.5) % 1.0 - 0.5)
        u = float(corners[np.argmin(gap)])
    x, y = _perimeter_point(room, u)
    return (_r(x), _r(y), _r(rng.uniform(*ANTENNA_HEIGHT)))


def _routers(
    room: Room, rng: np.random.Generator, count: int, profile: str | None
) -> dict[str, RouterSpec]:
    routers = {}
    for k in range(count):
        u_tx = float(rng.random())
        u_rx = u_tx + float(rng.uniform(0.3, 0.7))  # across the room, not beside tx
        name = profile if profile is not None else str(rng.choice(sorted(PROFILES)))
        routers[f"r{k + 1}"] = RouterSpec(
            tx=_antenna(room, rng, u_tx), rx=_antenna(room, rng, u_rx), profile=name
        )
    return routers


def _floor_point(room: Room, rng: np.random.Generator) -> tuple[float, float]:
    m = motion.WALL_MARGIN + 0.05
    return (_r(rng.uniform(m, room.width - m)), _r(rng.uniform(m, room.depth - m)))


def _draw(kind: str, room: Room, rng: np.random.Generator, remaining: float) -> list[motion.Action]:
    """One drawn behaviour (one or two actions, e.g. turn round then sit)."""
    facing = None if rng.random() < 0.3 else float(rng.integers(0, 8) * 45 - 180)
    turn = [] if facing is None else [motion.Stand(_r(rng.uniform(1.0, 2.0), 1), facing)]
    if kind == "walk":
        points = [_floor_point(room, rng) for _ in range(int(rng.integers(1, 4)))]
        return [motion.Walk(points, _r(rng.uniform(*WALK_SPEED)))]
    if kind == "stand":
        return [motion.Stand(_r(rng.uniform(1.0, 8.0), 1), facing)]
    if kind == "sit":
        return [*turn, motion.Sit(_r(rng.uniform(5.0, 25.0), 1))]
    if kind == "lie":
        return [*turn, motion.Lie(_r(rng.uniform(9.0, 25.0), 1))]
    if kind == "fall":
        descent = _r(rng.uniform(*motion.DESCENT_RANGE), 1)
        if rng.random() < RECOVER_SHARE or remaining > MAX_FINAL_LIE:
            lie, get_up = _r(rng.uniform(2.0, 15.0), 1), _r(rng.uniform(3.0, 8.0), 1)
            fall = motion.Fall(descent=descent, lie=lie, recover=True, get_up=get_up)
        else:
            fall = motion.Fall(descent=descent)
        return [*turn, fall]
    if kind == "leave":
        return [motion.Leave(_r(rng.uniform(*WALK_SPEED)))]
    raise ValueError(kind)


def _person(room: Room, rng: np.random.Generator, index: int, duration: float) -> motion.Person:
    height = _r(rng.uniform(*PERSON_HEIGHT))
    enters = rng.random() < ENTER_SHARE
    start = None if enters else _floor_point(room, rng)
    heading = float(rng.integers(0, 360))
    person = motion.Person(id=f"p{index}", height=height, start=start, heading_deg=heading)
    builder = motion.PersonBuilder(person, room, index)
    if enters:
        builder.add(
            motion.Enter(
                _floor_point(room, rng),
                _r(rng.uniform(*WALK_SPEED)),
                _r(rng.uniform(0.0, 0.3 * duration), 1),
            )
        )
    kinds = list(ACTION_ODDS)
    odds = np.array(list(ACTION_ODDS.values()))
    odds = odds / odds.sum()
    while builder.end < duration and not builder.lying_forever:
        if not builder.inside:  # after leaving: come back some time later
            snap = builder.snapshot()
            try:
                builder.add(
                    motion.Enter(
                        _floor_point(room, rng),
                        _r(rng.uniform(*WALK_SPEED)),
                        _r(rng.uniform(1.0, 15.0), 1),
                    )
                )
            except MotionError:
                builder.restore(snap)
                break
            continue
        kind = str(rng.choice(kinds, p=odds))
        for _ in range(TRIES):
            snap = builder.snapshot()
            try:
                for action in _draw(kind, room, rng, duration - builder.end):
                    builder.add(action)
                break
            except MotionError:
                builder.restore(snap)
        else:
            builder.add(motion.Stand(_r(rng.uniform(1.0, 4.0), 1)))
    return builder.timeline().person


def random_scenario(
    seed: int,
    duration: float = 60.0,
    *,
    max_people: int = motion.MAX_PEOPLE,
    routers: int = 1,
    profile: str | None = None,
) -> Scenario:
    """A random, valid scenario; the same arguments always give the same scenario.

    ``max_people`` caps the people drawn (0..max_people, uniformly); ``routers`` is the
    number of routers; ``profile`` fixes their hardware (default: drawn per router).
    """
    if not 0 <= max_people <= motion.MAX_PEOPLE:
        raise ValueError(f"max_people must be 0..{motion.MAX_PEOPLE}, got {max_people}")
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    if routers < 1:
        raise ValueError(f"routers must be >= 1, got {routers}")
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    seq = np.random.SeedSequence(int(seed))
    room_seq, router_seq, count_seq, *person_seqs = seq.spawn(3 + motion.MAX_PEOPLE)
    room = _room(np.random.default_rng(room_seq))
    router_specs = _routers(room, np.random.default_rng(router_seq), routers, profile)
    n_people = int(np.random.default_rng(count_seq).integers(0, max_people + 1))
    people = [
        _person(room, np.random.default_rng(person_seqs[i]), i, duration) for i in range(n_people)
    ]
    name = f"random-{seed}"
    return Scenario.create(
        name=name,
        duration=float(duration),
        room=room,
        routers=router_specs,
        people=people,
        description=f"random scenario, seed {seed}, {n_people} people",
        source=f"<{name}>",
    )
