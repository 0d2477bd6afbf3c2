"""The virtual camera whose pixels the API's 2D keypoints and boxes are given in.

WiFi has no image, yet pose estimation from WiFi (DensePose-from-WiFi, Geng et al. 2022)
reports people the way a camera would: COCO keypoints and person boxes in the pixel
frame of a camera that was beside the routers while the model was trained. We keep that
convention so results are comparable with image-based tools and can be drawn over video.
Every environment therefore owns one pinhole camera; the simulator projects its 3D truth
through it, and the API's pixel coordinates mean "where this camera would have seen it".

Conventions (all of them matter to a consumer of the API):

- Room frame: metres, x along the width, y along the depth, z up, origin at a floor
  corner (the simulator's frame).
- Pose: ``position`` of the optical centre in the room frame; ``yaw`` is the direction of
  the optical axis seen from above, radians counter-clockwise from +x (so pi/2 looks
  along +y); ``pitch`` is its elevation, radians, negative looking down. The camera does
  not roll: image rows stay parallel to the floor.
- Camera frame (OpenCV): x right, y down, z forward along the optical axis.
- Pixels: continuous coordinates, origin at the top-left corner of the top-left pixel,
  u to the right, v down. A point is in the image when 0 <= u < width and
  0 <= v < height. u = fx * X / Z + cx, v = fy * Y / Z + cy (no lens distortion).
- Boxes: COCO ``(x, y, width, height)`` with (x, y) the top-left corner, in pixels.

The default (``Camera.for_room``) is a 90 degree wide 1280x720 camera mounted high in a
room corner looking at the room centre: from a corner a 90 degree view spans the whole
floor, which is how a security camera would be placed.
"""

from __future__ import annotations

import math
import warnings

import attrs
import numpy as np

from wdp.dsp import portable  # trigonometry with the same bits on every CPU

#: Default image size (720p), as in most indoor cameras.
DEFAULT_WIDTH = 1280
DEFAULT_HEIGHT = 720
#: Default horizontal field of view: 90 degrees covers a whole room from a corner.
DEFAULT_HFOV_DEG = 90.0
#: Points closer than this in front of the optical centre (metres) are not visible.
NEAR = 0.01


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"camera {attribute.name} must be positive, got {value}")


def _finite(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"camera {attribute.name} must be finite, got {value}")


def _position(value: object) -> tuple[float, float, float]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"camera position must be 3 finite numbers, got {value!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def focal_for_fov(size_px: int, fov_deg: float) -> float:
    """Focal length in pixels that gives ``fov_deg`` across ``size_px`` pixels."""
    return size_px / 2 / portable.tan(math.radians(fov_deg) / 2)


@attrs.frozen(slots=True)
class Camera:
    """A pinhole camera (intrinsics fx, fy, cx, cy in pixels; pose in the room frame).

    See the module docstring for the axis, angle and pixel conventions.
    """

    width: int = attrs.field(default=DEFAULT_WIDTH, converter=int)
    height: int = attrs.field(default=DEFAULT_HEIGHT, converter=int)
    fx: float = attrs.field(
        default=attrs.Factory(lambda s: focal_for_fov(s.width, DEFAULT_HFOV_DEG), takes_self=True),
        converter=float,
        validator=_positive,
    )
    fy: float = attrs.field(
        default=attrs.Factory(lambda s: s.fx, takes_self=True), converter=float, validator=_positive
    )
    cx: float = attrs.field(
        default=attrs.Factory(lambda s: s.width / 2, takes_self=True),
        converter=float,
        validator=_finite,
    )
    cy: float = attrs.field(
        default=attrs.Factory(lambda s: s.height / 2, takes_self=True),
        converter=float,
        validator=_finite,
    )
    position: tuple[float, float, float] = attrs.field(default=(0.0, 0.0, 2.5), converter=_position)
    yaw: float = attrs.field(default=0.0, converter=float, validator=_finite)
    pitch: float = attrs.field(default=0.0, converter=float, validator=_finite)

    def __attrs_post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera image size must be positive, got {self.width}x{self.height}")
        if not -math.pi / 2 < self.pitch < math.pi / 2:
            raise ValueError(f"camera pitch must be within +-90 degrees, got {self.pitch} rad")

    @classmethod
    def looking_at(cls, position: object, target: object, **intrinsics: float) -> Camera:
        """A camera at ``position`` whose optical axis passes through ``target``."""
        p = np.asarray(_position(position))
        d = np.asarray(_position(target)) - p
        horizontal = math.hypot(d[0], d[1])
        if horizontal < 1e-9:
            raise ValueError("a camera without roll cannot look straight up or down")
        yaw = portable.atan2(float(d[1]), float(d[0]))
        pitch = portable.atan2(float(d[2]), horizontal)
        return cls(position=tuple(p), yaw=yaw, pitch=pitch, **intrinsics)

    @classmethod
    def for_room(cls, room: object, **intrinsics: float) -> Camera:
        """The default camera of a room: high in the (0, 0) corner, aimed at the centre.

        It sits 5 cm in from both walls and 30 cm under the ceiling (at least 1.8 m up)
        and looks at the middle of the floor area at 1 m, the height of a person's hips,
        so that people in most of the room are in view: only strips along the two walls
        beside the camera (and feet within about 2 m of it) fall outside the 90 x 59
        degree view. ``room`` needs ``width``, ``depth`` and ``height``.
        """
        w, d, h = float(room.width), float(room.depth), float(room.height)  # type: ignore[attr-defined]
        z = min(max(h - 0.3, 1.8), h)
        return cls.looking_at((0.05, 0.05, z), (w / 2, d / 2, 1.0), **intrinsics)

    @property
    def rotation(self) -> np.ndarray:
        """Room-to-camera rotation R [3, 3]: camera = R @ (point - position)."""
        sy, cy = portable.sincos(self.yaw)
        sp, cp = portable.sincos(self.pitch)
        forward = np.array([cp * cy, cp * sy, sp])
        right = np.array([sy, -cy, 0.0])  # forward x up, horizontal because there is no roll
        down = np.cross(forward, right)
        return np.stack([right, down, forward])

    @property
    def intrinsics(self) -> np.ndarray:
        """The 3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def to_camera(self, points: object) -> np.ndarray:
        """Room-frame points [..., 3] to camera-frame points [..., 3] (x right, y down, z ahead)."""
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1:] != (3,):
            raise ValueError(f"points must be [..., 3], got shape {p.shape}")
        d = p - np.asarray(self.position)
        r = self.rotation  # d @ r.T, summed in a fixed order (BLAS's order varies by CPU)
        return (d[..., :1] * r[:, 0] + d[..., 1:2] * r[:, 1]) + d[..., 2:] * r[:, 2]

    def project(self, points: object) -> tuple[np.ndarray, np.ndarray]:
        """Project room-frame points [..., 3] to pixels.

        Returns (pixels float64 [..., 2] as (u, v), visible bool [...]). ``visible`` means
        in front of the camera (at least ``NEAR`` m ahead) and inside the image. Pixels of
        points not in front of the camera are NaN (their projection would be meaningless);
        points in front but outside the image keep their (out-of-range) coordinates.
        """
        c = self.to_camera(points)
        z = c[..., 2]
        ahead = z >= NEAR
        safe_z = np.where(ahead, z, 1.0)
        u = np.where(ahead, self.fx * c[..., 0] / safe_z + self.cx, np.nan)
        v = np.where(ahead, self.fy * c[..., 1] / safe_z + self.cy, np.nan)
        inside = ahead & (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)
        return np.stack([u, v], axis=-1), inside

    def bounding_box(self, pixels: object, visible: object, margin: float = 0.1) -> np.ndarray:
        """COCO box (x, y, width, height) around the visible pixels, clipped to the image.

        ``pixels`` [..., K, 2] and ``visible`` [..., K] (from ``project``); leading axes
        are batches (e.g. frames, people). Keypoints stop at the eyes, wrists and ankles
        while a person box should hold the whole body, so each side is pushed out by
        ``margin`` times the box size (plus 2 px) before clipping. Returns float64
        [..., 4]; all NaN where no point is visible.
        """
        px = np.asarray(pixels, dtype=np.float64)
        vis = np.asarray(visible, dtype=bool)
        if px.shape[-1:] != (2,) or vis.shape != px.shape[:-1]:
            raise ValueError(
                f"pixels [..., K, 2] and visible [..., K] disagree: {px.shape}, {vis.shape}"
            )
        any_visible = vis.any(axis=-1)
        u = np.where(vis, px[..., 0], np.nan)
        v = np.where(vis, px[..., 1], np.nan)
        with warnings.catch_warnings():  # an all-NaN row is an empty box, not a problem
            warnings.simplefilter("ignore", RuntimeWarning)
            lo_u, hi_u = np.nanmin(u, axis=-1), np.nanmax(u, axis=-1)
            lo_v, hi_v = np.nanmin(v, axis=-1), np.nanmax(v, axis=-1)
        pad_u = margin * (hi_u - lo_u) + 2.0
        pad_v = margin * (hi_v - lo_v) + 2.0
        x0 = np.clip(lo_u - pad_u, 0.0, self.width)
        x1 = np.clip(hi_u + pad_u, 0.0, self.width)
        y0 = np.clip(lo_v - pad_v, 0.0, self.height)
        y1 = np.clip(hi_v + pad_v, 0.0, self.height)
        box = np.stack([x0, y0, x1 - x0, y1 - y0], axis=-1)
        return np.where(any_visible[..., None], box, np.nan)
