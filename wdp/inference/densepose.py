"""Dense pose rendered from an estimated 3D body: body part and surface (U, V) per cell.

DensePose (Güler, Neverova, Kokkinos 2018) labels every pixel of a person with one of
24 body parts and the (U, V) coordinates of that point on the part's surface. Our model
estimates 17 COCO keypoints in 3D, not a surface, so we *render* one: the body is a set
of capsules (cylinders with round ends) between keypoints, and for each cell of a coarse
grid over the person's box we cast the camera ray through the cell centre and keep the
nearest capsule it hits. That is cheap (a 16x16 grid is a few hundred microseconds per
person, pure numpy), deterministic, and consistent with the keypoints and the box the
same message reports; it says nothing the keypoints do not already imply, which is the
honest limit of dense pose from WiFi keypoints.

Body model (metres, room frame; radii are fixed adult sizes):

- torso: capsule mid-hip (proximal) -> mid-shoulder, radius 0.14;
- head: capsule around the ear midpoint (or 7 cm behind the nose), 5 cm down to 5 cm up
  along the body's up axis, radius 0.10;
- upper arm shoulder -> elbow (0.05), lower arm elbow -> wrist (0.04), hand wrist ->
  8 cm beyond it along the forearm (0.045);
- upper leg hip -> knee (0.075), lower leg knee -> ankle (0.055), foot ankle -> 18 cm
  forward (along the body's forward axis with the up component removed) (0.045).

A capsule with a missing (non-finite) end is left out. The body's axes: ``up`` = mid-hip
-> mid-shoulder (room +z if unknown), ``left`` = right -> left shoulder (hips if the
shoulders are missing), ``forward`` = left x up, the direction the chest faces. Without
a left-right pair there is no forward direction and no dense pose.

Part index (DensePose's documented 24-part order; 0 is background). Of each pair the
lower index is the back, the higher the front: the surface point is on the front when
its outward normal points along the body's forward axis (the chest side; facing a camera
you see the front parts, turned away the back ones):

    1/2 torso back/front, 3 right hand, 4 left hand, 5 left foot, 6 right foot,
    7/9 upper leg right, 8/10 upper leg left, 11/13 lower leg right,
    12/14 lower leg left, 15/17 upper arm left, 16/18 upper arm right,
    19/21 lower arm left, 20/22 lower arm right, 23/24 head.

(DensePose's own texture atlas splits some pairs differently, e.g. the head into right
and left halves; the back/front rule above is ours and applies to every pair.)

U = position along the part's axis, 0 at the proximal end (hip side for the torso, neck
side for the head, shoulder/hip for limbs, wrist/ankle for hands/feet) and 1 at the
distal end; points on the round ends are clamped to 0 or 1. V = angle around the axis,
0 at the front (the forward axis projected across the part), increasing
counter-clockwise seen from the distal end (right-handed about proximal -> distal),
divided by 2 pi: 0..1, 0.5 at the back; 0.25 is the body's left side on a part that
points up (torso, head) and its right side on one that points down (hanging arms, legs).
Feet point forward, so their V = 0 is the room's up side instead. Background cells have
U = V = 0.

Wire encoding (``dense_pose_data``), plain JSON that a browser decodes in a few lines::

    {"grid": [H, W],                 # rows, columns
     "bbox": [x, y, width, height],  # pixels (0.1), the box the grid covers
     "parts": [p0, p1, ...],         # H*W ints 0..24, row-major (row 0 = top)
     "u": [...], "v": [...]}         # floats (0.001), one per NON-ZERO part cell, in
                                     # the same row-major order (background is skipped)

Cell (i, j) covers x + j*width/W .. x + (j+1)*width/W and likewise in y; its values
were sampled at its centre. Decoding: walk ``parts``; the k-th non-zero cell takes
``u[k]`` and ``v[k]``. A person without a box, or whose body covers no cell centre (e.g.
behind the camera), has no dense pose (the ``dense_pose`` key is left out).
"""

from __future__ import annotations

import math

import numpy as np

from wdp.camera import NEAR, Camera
from wdp.dsp import portable
from wdp.sim.body import KP

#: Grid of the API: 16 x 16 cells over the person box (rows, columns).
DEFAULT_GRID = (16, 16)

_TORSO, _HEAD = 0, 1

# (name, proximal keypoint, distal keypoint, radius m, back part, front part). The torso
# and head ends are computed (mid-points), hands and feet extend past wrist / ankle.
_LIMBS = (
    ("upper_arm_left", "left_shoulder", "left_elbow", 0.05, 15, 17),
    ("upper_arm_right", "right_shoulder", "right_elbow", 0.05, 16, 18),
    ("lower_arm_left", "left_elbow", "left_wrist", 0.04, 19, 21),
    ("lower_arm_right", "right_elbow", "right_wrist", 0.04, 20, 22),
    ("upper_leg_left", "left_hip", "left_knee", 0.075, 8, 10),
    ("upper_leg_right", "right_hip", "right_knee", 0.075, 7, 9),
    ("lower_leg_left", "left_knee", "left_ankle", 0.055, 12, 14),
    ("lower_leg_right", "right_knee", "right_ankle", 0.055, 11, 13),
)
_TORSO_RADIUS, _HEAD_RADIUS = 0.14, 0.10
_HAND_LENGTH, _HAND_RADIUS = 0.08, 0.045
_FOOT_LENGTH, _FOOT_RADIUS = 0.18, 0.045


# Dot products are elementwise products summed by numpy's add (one fixed order) and matrix
# products go through ``wdp.dsp.portable``: BLAS (``@``, ``np.dot``, a vector's
# ``np.linalg.norm``) and numpy's SIMD ``arctan2`` give other bits on other CPUs.


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of a and b [N, 3] (or a [N, 3] and b [3]): [N]."""
    return (a * b).sum(axis=-1)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = math.sqrt(float(_rowdot(v, v)))
    return v / n if math.isfinite(n) and n > 1e-9 else None


def _across(ref: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """``ref`` [3] with its component along each unit ``axis`` [N, 3] removed."""
    return ref - _rowdot(axis, ref)[:, None] * axis


def _mid(kp: np.ndarray, a: str, b: str) -> np.ndarray:
    return 0.5 * (kp[KP[a]] + kp[KP[b]])  # NaN if either is missing


def body_capsules(keypoints_3d: object) -> tuple[np.ndarray, ...] | None:
    """The capsules of a body: (a [C,3], b [C,3], radius [C], back [C], front [C],
    forward [3]) or None without a forward direction. See the module docstring."""
    kp = np.asarray(keypoints_3d, dtype=np.float64).reshape(len(KP), 3)
    shoulders = _mid(kp, "left_shoulder", "right_shoulder")
    hips = _mid(kp, "left_hip", "right_hip")
    up = _unit(shoulders - hips) if np.all(np.isfinite(shoulders - hips)) else None
    if up is None:
        up = np.array([0.0, 0.0, 1.0])
    left = kp[KP["left_shoulder"]] - kp[KP["right_shoulder"]]
    if not np.all(np.isfinite(left)):
        left = kp[KP["left_hip"]] - kp[KP["right_hip"]]
    forward = _unit(np.cross(left, up)) if np.all(np.isfinite(left)) else None
    if forward is None:
        return None
    flat_forward = _unit(forward - _rowdot(forward, up) * up)
    flat_forward = forward if flat_forward is None else flat_forward

    caps: list[tuple[np.ndarray, np.ndarray, float, int, int]] = []
    caps.append((hips, shoulders, _TORSO_RADIUS, 1, 2))
    ears = _mid(kp, "left_ear", "right_ear")
    head = ears if np.all(np.isfinite(ears)) else kp[KP["nose"]] - 0.07 * forward
    caps.append((head - 0.05 * up, head + 0.05 * up, _HEAD_RADIUS, 23, 24))
    for _, prox, dist, radius, back, front in _LIMBS:
        caps.append((kp[KP[prox]], kp[KP[dist]], radius, back, front))
    for side, hand in (("left", 4), ("right", 3)):
        wrist = kp[KP[f"{side}_wrist"]]
        d = _unit(wrist - kp[KP[f"{side}_elbow"]]) if np.all(np.isfinite(wrist)) else None
        if d is not None:
            caps.append((wrist, wrist + _HAND_LENGTH * d, _HAND_RADIUS, hand, hand))
    for side, foot in (("left", 5), ("right", 6)):
        ankle = kp[KP[f"{side}_ankle"]]
        caps.append((ankle, ankle + _FOOT_LENGTH * flat_forward, _FOOT_RADIUS, foot, foot))

    a = np.array([c[0] for c in caps])
    b = np.array([c[1] for c in caps])
    ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    ok &= np.linalg.norm(b - a, axis=1) > 1e-6
    radius = np.array([c[2] for c in caps])
    back = np.array([c[3] for c in caps], dtype=np.uint8)
    front = np.array([c[4] for c in caps], dtype=np.uint8)
    return a[ok], b[ok], radius[ok], back[ok], front[ok], forward


def render_dense_pose(
    keypoints_3d: object,
    camera: Camera,
    bbox: object,
    grid: tuple[int, int] = DEFAULT_GRID,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Part uint8 [H, W] (0 background), U and V float32 [H, W] over ``bbox`` (x, y, w, h).

    ``keypoints_3d`` [17, 3] COCO keypoints in metres, room frame; ``grid`` (H, W). Cells
    whose ray hits nothing in front of the camera (or the whole grid when the body has no
    forward direction) are background.
    """
    rows, cols = int(grid[0]), int(grid[1])
    part = np.zeros((rows, cols), dtype=np.uint8)
    u_out = np.zeros((rows, cols), dtype=np.float32)
    v_out = np.zeros((rows, cols), dtype=np.float32)
    body = body_capsules(keypoints_3d)
    x, y, w, h = (float(t) for t in np.asarray(bbox, dtype=np.float64).reshape(4))
    if body is None or not all(map(math.isfinite, (x, y, w, h))) or w <= 0 or h <= 0:
        return part, u_out, v_out
    a, b, radius, back, front, forward = body
    if len(a) == 0:
        return part, u_out, v_out

    # Rays through the cell centres, in the room frame (unit directions [N, 3]).
    px = x + (np.arange(cols) + 0.5) * (w / cols)
    py = y + (np.arange(rows) + 0.5) * (h / rows)
    gx, gy = np.meshgrid((px - camera.cx) / camera.fx, (py - camera.cy) / camera.fy)
    d_cam = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)], axis=-1)
    d = portable.matmul(d_cam, camera.rotation)  # R.T applied to each row: camera -> room
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    o = np.asarray(camera.position)

    # Ray-capsule intersection (Quilez's capsule test) for every capsule [C, 1] x ray [1, N].
    ba = b - a  # [C, 3]
    oa = o - a  # [C, 3]
    baba = _rowdot(ba, ba)[:, None]
    baoa = _rowdot(ba, oa)[:, None]
    oaoa = _rowdot(oa, oa)[:, None]
    bard = portable.matmul(ba, d.T)  # [C, N]
    rdoa = portable.matmul(oa, d.T)
    r2 = (radius * radius)[:, None]
    qa = baba - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - r2 * baba
    disc = qb * qb - qa * qc
    hit = disc >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-qb - np.sqrt(np.where(hit, disc, 0.0))) / qa
        # Parallel to the axis: the end facing the ray origin is the one it meets first.
        along = np.where(qa > 1e-12, baoa + t_side * bard, baoa)
        on_side = hit & (along > 0) & (along < baba) & (qa > 1e-12)
        # Otherwise the round end nearer along the axis (its sphere is inside the cylinder).
        ob = o - b
        at_a = along <= 0
        sb = np.where(at_a, rdoa, portable.matmul(ob, d.T))
        sc = np.where(at_a, oaoa, _rowdot(ob, ob)[:, None]) - r2
        sdisc = sb * sb - sc
        t_cap = -sb - np.sqrt(np.where(sdisc > 0, sdisc, 0.0))
    t = np.where(on_side, t_side, np.where(hit & (sdisc > 0), t_cap, np.inf))
    t = np.where(t >= NEAR, t, np.inf)

    nearest = np.argmin(t, axis=0)  # [N]; first capsule on ties: deterministic
    cells = np.isfinite(t[nearest, np.arange(t.shape[1])])
    if not cells.any():
        return part, u_out, v_out
    c = nearest[cells]
    p = o + t[c, np.flatnonzero(cells)][:, None] * d[cells]
    axis = ba[c] / np.sqrt(baba[c])
    rel = p - a[c]
    s = _rowdot(rel, axis)
    u = np.clip(s / np.sqrt(baba[c, 0]), 0.0, 1.0)
    radial = rel - s[:, None] * axis
    e1 = _across(forward, axis)
    # A part along the forward axis (a foot): its "front" is the room's up side instead.
    weak = np.linalg.norm(e1, axis=1) < 1e-3
    if weak.any():
        e1[weak] = _across(np.array([0.0, 0.0, 1.0]), axis[weak])
        still = np.linalg.norm(e1, axis=1) < 1e-3
        e1[still] = _across(np.array([1.0, 0.0, 0.0]), axis[still])
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(axis, e1)
    cos_t = _rowdot(radial, e1)
    sin_t = _rowdot(radial, e2)
    v = np.mod(portable.atan2(sin_t, cos_t) / (2 * math.pi), 1.0)
    is_front = cos_t >= 0

    flat_part = part.reshape(-1)
    flat_part[cells] = np.where(is_front, front[c], back[c])
    u_out.reshape(-1)[cells] = u
    v_out.reshape(-1)[cells] = v
    return part, u_out, v_out


def dense_pose_data(part: object, u: object, v: object, bbox: object) -> dict:
    """The wire form of a rendered grid (the encoding of the module docstring)."""
    p = np.asarray(part, dtype=np.uint8)
    fg = p.reshape(-1) != 0
    uu = np.asarray(u, dtype=np.float64).reshape(-1)[fg]
    vv = np.asarray(v, dtype=np.float64).reshape(-1)[fg]
    box = np.asarray(bbox, dtype=np.float64).reshape(4)
    return {
        "grid": [int(p.shape[0]), int(p.shape[1])],
        "bbox": [round(float(t), 1) for t in box],
        "parts": p.reshape(-1).tolist(),
        "u": np.round(uu, 3).tolist(),
        "v": np.mod(np.round(vv, 3), 1.0).tolist(),  # 0.9996 rounds to 1.0, the same as 0
    }


def dense_pose_for(
    keypoints_3d: object, camera: Camera, bbox: object | None, grid: tuple[int, int] = DEFAULT_GRID
) -> dict | None:
    """A person's ``dense_pose`` value, or None without a box or when nothing renders."""
    if bbox is None:
        return None
    box = np.asarray(bbox, dtype=np.float64).reshape(4)
    if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        return None
    part, u, v = render_dense_pose(keypoints_3d, camera, box, grid)
    if not part.any():
        return None
    return dense_pose_data(part, u, v, box)
