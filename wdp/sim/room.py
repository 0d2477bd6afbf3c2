"""The room: a box with reflecting walls, static furniture and a door.

Coordinates are metres in the room frame: x along the width, y along the depth, z up,
origin at a floor corner. The room is what stays still: the channel model turns it into
the static paths (first-order wall reflections by the image method, furniture as point
scatterers) computed once per router, and the people model uses ``contains`` and the
door to keep bodies inside and bring them in. Validation happens here, once, so that a
scenario file with a sofa outside the walls fails with one clear line instead of a
silently wrong channel.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import attrs
import numpy as np

#: Wall names, in the order ``image_sources`` returns them.
WALLS = ("x0", "x1", "y0", "y1", "floor", "ceiling")
#: Walls a door can be in (the vertical ones).
DOOR_WALLS = ("x0", "x1", "y0", "y1")
#: Amplitude reflection coefficient of a wall not given explicitly: brick, concrete and
#: plasterboard reflect 0.3-0.7 of the field at 2.4-5 GHz (more at oblique incidence,
#: which most indoor paths have).
DEFAULT_REFLECTION = 0.5


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"room {name} must be a positive number of metres, got {value}")
    return value


def _unit(what: str, value: float) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"{what} must be in [0, 1], got {value}")
    return value


def _position(value: object) -> np.ndarray:
    arr = np.array(value, dtype=np.float64).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"reflector position must be 3 finite numbers [x, y, z], got {value!r}")
    arr.flags.writeable = False
    return arr


def _cross_section(value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"reflector cross_section must be >= 0 m^2, got {value}")
    return value


@attrs.frozen(slots=True, eq=False)
class Reflector:
    """A static point scatterer (a piece of furniture) with a radar cross-section in m^2."""

    position: np.ndarray = attrs.field(converter=_position)
    cross_section: float = attrs.field(converter=_cross_section)


def _door_wall(value: str) -> str:
    if value not in DOOR_WALLS:
        raise ValueError(f"door wall must be one of {', '.join(DOOR_WALLS)}, got {value!r}")
    return value


@attrs.frozen(slots=True)
class Door:
    """A door in a vertical wall: ``center`` metres along that wall from its low end.

    Walls x0/x1 run along y (length = room depth), walls y0/y1 run along x (length =
    room width).
    """

    wall: str = attrs.field(converter=_door_wall)
    center: float = attrs.field(converter=float)
    width: float = attrs.field(converter=float)
    height: float = attrs.field(default=2.0, converter=float)

    def __attrs_post_init__(self) -> None:
        if not math.isfinite(self.width) or self.width <= 0:
            raise ValueError(f"door width must be positive, got {self.width}")
        if not math.isfinite(self.height) or self.height <= 0:
            raise ValueError(f"door height must be positive, got {self.height}")
        if not math.isfinite(self.center):
            raise ValueError(f"door center must be finite, got {self.center}")


def _reflections(value: Mapping[str, float] | None) -> dict[str, float]:
    given = dict(value or {})
    unknown = sorted(set(given) - set(WALLS))
    if unknown:
        raise ValueError(
            f"unknown wall(s) {', '.join(map(repr, unknown))} in wall_reflection: "
            f"use {', '.join(WALLS)}"
        )
    return {w: _unit(f"wall_reflection[{w!r}]", given.get(w, DEFAULT_REFLECTION)) for w in WALLS}


def _furniture(value: object) -> tuple[Reflector, ...]:
    items = tuple(value or ())
    for item in items:
        if not isinstance(item, Reflector):
            raise ValueError(f"furniture must be Reflector objects, got {type(item).__name__}")
    return items


@attrs.frozen(slots=True, eq=False)
class Room:
    """A box room ``width`` x ``depth`` x ``height`` metres.

    ``wall_reflection`` maps wall names (``WALLS``) to amplitude reflection coefficients
    in [0, 1]; walls left out take ``DEFAULT_REFLECTION``. ``furniture`` reflectors must
    lie inside the room (on a wall or the floor is fine); the door must fit in its wall.
    """

    width: float = attrs.field(converter=lambda v: _positive("width", v))
    depth: float = attrs.field(converter=lambda v: _positive("depth", v))
    height: float = attrs.field(converter=lambda v: _positive("height", v))
    wall_reflection: dict[str, float] = attrs.field(factory=dict, converter=_reflections)
    furniture: tuple[Reflector, ...] = attrs.field(factory=tuple, converter=_furniture)
    door: Door | None = None

    def __attrs_post_init__(self) -> None:
        for i, item in enumerate(self.furniture):
            if not self.contains(item.position):
                x, y, z = item.position
                raise ValueError(
                    f"furniture[{i}] at ({x:g}, {y:g}, {z:g}) m is outside the "
                    f"{self.width:g} x {self.depth:g} x {self.height:g} m room"
                )
        if self.door is not None:
            d = self.door
            length = self.wall_length(d.wall)
            lo, hi = d.center - d.width / 2, d.center + d.width / 2
            if lo < 0 or hi > length:
                raise ValueError(
                    f"door in wall {d.wall} spans {lo:g}..{hi:g} m but that wall is "
                    f"{length:g} m long"
                )
            if d.height > self.height:
                raise ValueError(
                    f"door height {d.height:g} m exceeds the room height {self.height:g} m"
                )

    @property
    def size(self) -> np.ndarray:
        """(width, depth, height) in metres."""
        return np.array([self.width, self.depth, self.height])

    def wall_length(self, wall: str) -> float:
        """Length of a vertical wall along the floor: x0/x1 run along y, y0/y1 along x."""
        if wall in ("x0", "x1"):
            return self.depth
        if wall in ("y0", "y1"):
            return self.width
        raise ValueError(f"{wall!r} is not a vertical wall ({', '.join(DOOR_WALLS)})")

    def contains(self, point: object, margin: float = 0.0) -> bool | np.ndarray:
        """Whether point(s) lie in the room, at least ``margin`` metres from the walls.

        ``point`` is [..., 2] (x, y: floor position) or [..., 3] (x, y, z). The margin
        applies to the four vertical walls only; z is checked against floor and ceiling
        without margin (people stand on the floor). Returns a bool for one point, a bool
        array for many.
        """
        p = np.asarray(point, dtype=np.float64)
        if p.shape[-1:] not in ((2,), (3,)):
            raise ValueError(f"point must have 2 or 3 coordinates, got shape {p.shape}")
        m = float(margin)
        ok = (
            (p[..., 0] >= m)
            & (p[..., 0] <= self.width - m)
            & (p[..., 1] >= m)
            & (p[..., 1] <= self.depth - m)
        )
        if p.shape[-1] == 3:
            ok &= (p[..., 2] >= 0.0) & (p[..., 2] <= self.height)
        return bool(ok) if ok.ndim == 0 else ok

    def door_position(self, inset: float = 0.0) -> np.ndarray:
        """Floor point [x, y, 0] at the door's centre, ``inset`` metres into the room."""
        if self.door is None:
            raise ValueError("this room has no door")
        d, c = self.door, self.door.center
        point = {
            "x0": (inset, c),
            "x1": (self.width - inset, c),
            "y0": (c, inset),
            "y1": (c, self.depth - inset),
        }[d.wall]
        return np.array([point[0], point[1], 0.0])

    def image_sources(self, point: object) -> tuple[np.ndarray, np.ndarray]:
        """The 6 first-order mirror images of ``point`` in the walls, floor and ceiling.

        Returns (images float64 [6, 3], coefficients float64 [6]) in ``WALLS`` order; a
        path source -> wall -> receiver has the length |image - receiver| and is scaled
        by that wall's amplitude reflection coefficient (the image method).
        """
        p = np.asarray(point, dtype=np.float64).reshape(3)
        w, d, h = self.width, self.depth, self.height
        images = np.tile(p, (6, 1))
        images[0, 0] = -p[0]
        images[1, 0] = 2 * w - p[0]
        images[2, 1] = -p[1]
        images[3, 1] = 2 * d - p[1]
        images[4, 2] = -p[2]
        images[5, 2] = 2 * h - p[2]
        coefficients = np.array([self.wall_reflection[name] for name in WALLS])
        return images, coefficients

    def images(self, point: object, max_order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every mirror image of ``point`` up to ``max_order`` reflections (Allen & Berkley).

        In a box room the images form a lattice: along x an image sits at
        ``(1 - 2q) x + 2 n width`` (q in {0, 1}, n an integer) after ``|n - q|`` bounces
        off wall x0 and ``|n|`` off wall x1, and likewise along y and z; every such image
        is a valid specular path, so none needs a visibility test. Returns (images
        [M, 3], amplitude coefficients [M] = product of the walls' coefficients per
        bounce, orders [M]) for orders 1..max_order, the direct path excluded.
        """
        if max_order < 0:
            raise ValueError(f"max_order must be >= 0, got {max_order}")
        p = np.asarray(point, dtype=np.float64).reshape(3)
        sizes = (self.width, self.depth, self.height)
        pairs = (("x0", "x1"), ("y0", "y1"), ("floor", "ceiling"))
        axes = []
        for ax in range(3):
            lo, hi = (self.wall_reflection[w] for w in pairs[ax])
            options = []
            for n in range(-max_order, max_order + 1):
                for q in (0, 1):
                    a, b = abs(n - q), abs(n)
                    if a + b <= max_order:
                        coord = (1 - 2 * q) * p[ax] + 2 * n * sizes[ax]
                        options.append((coord, lo**a * hi**b, a + b))
            axes.append(options)
        rows = [
            (x, y, z, cx * cy * cz, ox + oy + oz)
            for (x, cx, ox), (y, cy, oy), (z, cz, oz) in itertools.product(*axes)
            if 1 <= ox + oy + oz <= max_order
        ]
        if not rows:
            return np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=np.int64)
        arr = np.array(rows, dtype=np.float64)
        return arr[:, :3], arr[:, 3], arr[:, 4].astype(np.int64)
