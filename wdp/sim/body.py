"""An articulated human body: COCO-17 keypoints and radar scatterers from joint angles.

The body is a kinematic tree of rigid segments whose lengths are fixed fractions of the
person's height (Drillis & Contini / Winter anthropometry), so bone lengths never change
whatever the posture: only joint angles move. Postures (standing, a walking gait cycle,
sitting, lying, falling, getting up) are joint-angle vectors; transitions interpolate
them. The pelvis is then lowered until the lowest body point touches the floor, which
keeps feet on the floor when standing and walking and lets the body settle naturally
when sitting on the floor, lying or falling, without a separate height model per
posture.

Frames: the body frame has its origin at the pelvis centre (midpoint of the hip joints),
x forward (the person's heading), y to the person's left, z up. In the room frame the
body is rotated by ``heading`` (radians counter-clockwise from +x) about the vertical
through the *root*, the floor point under the pelvis centre.

Joint angle conventions (radians, ``JOINT_NAMES`` order):

- ``trunk_pitch``: lean of the trunk (pelvis, spine, head, rigid) from upright about the
  body's left-right axis; positive forward, -pi/2 lying on the back.
- ``*_hip_flexion``: thigh forward relative to the trunk; ``*_hip_abduction``: thigh out
  to the side; ``*_knee_flexion``: shank back relative to the thigh.
- ``*_shoulder_flexion``: arm forward relative to the trunk; ``*_shoulder_abduction``:
  arm out to the side; ``*_elbow_flexion``: forearm forward relative to the upper arm.

For the radio channel each body is ``SCATTERERS_PER_PERSON`` point scatterers at the
segment midpoints, with radar cross-sections proportional to each segment's share of
the body surface (the rule of nines), about 0.8 m^2 in all for a 1.75 m adult.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

#: The 17 COCO keypoints, in COCO's order.
KEYPOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
KP = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

#: COCO's person skeleton (``categories[0].skeleton`` of the keypoint annotations),
#: converted from COCO's 1-based indices to 0-based ``KEYPOINT_NAMES`` indices.
SKELETON = tuple(
    (a - 1, b - 1)
    for a, b in (
        (16, 14),
        (14, 12),
        (17, 15),
        (15, 13),
        (12, 13),
        (6, 12),
        (7, 13),
        (6, 7),
        (6, 8),
        (7, 9),
        (8, 10),
        (9, 11),
        (2, 3),
        (1, 2),
        (1, 3),
        (2, 4),
        (3, 5),
        (4, 6),
        (5, 7),
    )
)

#: Body segments that scatter the radio waves, one point scatterer each.
SCATTERER_NAMES = (
    "torso",
    "pelvis",
    "head",
    "left_upper_arm",
    "right_upper_arm",
    "left_forearm",
    "right_forearm",
    "left_thigh",
    "right_thigh",
    "left_shank",
    "right_shank",
)
SCATTERERS_PER_PERSON = len(SCATTERER_NAMES)

#: Share of the body surface per scatterer (rule of nines; hands go with the forearms,
#: feet with the shanks). The trunk is the largest reflector by far.
SURFACE_SHARE = np.array([0.27, 0.09, 0.09, 0.045, 0.045, 0.045, 0.045, 0.10, 0.10, 0.08, 0.08])
SURFACE_SHARE = SURFACE_SHARE / SURFACE_SHARE.sum()
#: Total radar cross-section of a 1.75 m adult at 2.4-5 GHz, m^2 (scales with height^2).
REFERENCE_CROSS_SECTION = 0.8
REFERENCE_HEIGHT = 1.75

#: Supported person heights (metres): children from about 8 years to tall adults.
MIN_HEIGHT = 1.0
MAX_HEIGHT = 2.2

JOINT_NAMES = (
    "trunk_pitch",
    "left_hip_flexion",
    "left_hip_abduction",
    "left_knee_flexion",
    "right_hip_flexion",
    "right_hip_abduction",
    "right_knee_flexion",
    "left_shoulder_flexion",
    "left_shoulder_abduction",
    "left_elbow_flexion",
    "right_shoulder_flexion",
    "right_shoulder_abduction",
    "right_elbow_flexion",
)
N_JOINTS = len(JOINT_NAMES)
J = {name: i for i, name in enumerate(JOINT_NAMES)}


def joints_deg(**angles: float) -> np.ndarray:
    """A joint vector [N_JOINTS] in radians from angles in degrees (missing ones 0).

    ``hip``/``knee``/``shoulder_flexion``... without a side set both sides.
    """
    out = np.zeros(N_JOINTS)
    for name, value in angles.items():
        names = [name] if name in J else [f"left_{name}", f"right_{name}"]
        for n in names:
            if n not in J:
                raise KeyError(f"unknown joint {name!r}")
            out[J[n]] = math.radians(value)
    return out


# Key postures. Hip flexion is relative to the trunk, so a thigh's angle from vertical
# in the room is hip_flexion - trunk_pitch; a shank's is that minus knee_flexion.
ARMS_RELAXED = dict(shoulder_abduction=6, elbow_flexion=10)
STANDING = joints_deg(hip_abduction=2, **ARMS_RELAXED)
#: Half way down into a chair: trunk leaning forward over the feet, knees over the toes.
SIT_MID = joints_deg(
    trunk_pitch=35,
    hip_flexion=80,
    hip_abduction=4,
    knee_flexion=60,
    shoulder_flexion=25,
    shoulder_abduction=8,
    elbow_flexion=30,
)
#: On a chair: thighs horizontal, shanks vertical, hands on the lap.
SEATED = joints_deg(
    trunk_pitch=5,
    hip_flexion=95,
    hip_abduction=5,
    knee_flexion=90,
    shoulder_flexion=20,
    shoulder_abduction=8,
    elbow_flexion=60,
)
#: Crouching (the way down to the floor and up from it).
SQUAT = joints_deg(
    trunk_pitch=40,
    hip_flexion=120,
    hip_abduction=8,
    knee_flexion=130,
    shoulder_flexion=30,
    shoulder_abduction=10,
    elbow_flexion=40,
)
#: Sitting on the floor, knees up, leaning on the hands.
FLOOR_SIT = joints_deg(
    trunk_pitch=-10,
    hip_flexion=120,
    hip_abduction=8,
    knee_flexion=80,
    shoulder_flexion=-30,
    shoulder_abduction=10,
    elbow_flexion=5,
)
#: On the back, head towards -heading, legs towards +heading.
LYING = joints_deg(
    trunk_pitch=-90, hip_abduction=5, knee_flexion=5, shoulder_abduction=15, elbow_flexion=10
)
#: Falling backwards: knees buckle, arms fly forward...
FALL_BUCKLE = joints_deg(
    trunk_pitch=-15,
    hip_flexion=35,
    hip_abduction=6,
    knee_flexion=70,
    shoulder_flexion=60,
    shoulder_abduction=30,
    elbow_flexion=30,
)
#: ...the pelvis hits the floor, then the back.
FALL_SEAT = joints_deg(
    trunk_pitch=-55,
    hip_flexion=30,
    hip_abduction=6,
    knee_flexion=40,
    shoulder_flexion=70,
    shoulder_abduction=40,
    elbow_flexion=20,
)

#: Keyframed transitions: (progress, posture) pairs, interpolated linearly in progress.
SIT_DOWN = ((0.0, STANDING), (0.5, SIT_MID), (1.0, SEATED))
STAND_UP = ((0.0, SEATED), (0.5, SIT_MID), (1.0, STANDING))
LIE_DOWN = ((0.0, STANDING), (0.3, SQUAT), (0.65, FLOOR_SIT), (1.0, LYING))
GET_UP = ((0.0, LYING), (0.35, FLOOR_SIT), (0.7, SQUAT), (1.0, STANDING))
FALL = ((0.0, STANDING), (0.35, FALL_BUCKLE), (0.7, FALL_SEAT), (1.0, LYING))


def interpolate(keyframes: tuple[tuple[float, np.ndarray], ...], progress: object) -> np.ndarray:
    """Joint angles [N, N_JOINTS] along a keyframed transition at ``progress`` [N] in [0, 1]."""
    p = np.clip(np.asarray(progress, dtype=np.float64), 0.0, 1.0)
    knots = np.array([k for k, _ in keyframes])
    values = np.stack([v for _, v in keyframes])  # [F, J]
    out = np.empty(p.shape + (N_JOINTS,))
    for j in range(N_JOINTS):
        out[..., j] = np.interp(p, knots, values[:, j])
    return out


# --- walking -------------------------------------------------------------------------

#: Cadence (steps per second) at REFERENCE_SPEED for a REFERENCE_HEIGHT person.
REFERENCE_CADENCE = 1.8
REFERENCE_SPEED = 1.2


def step_length(speed: float, height: float) -> float:
    """Step length (m) at a walking speed: grows with speed and leg length.

    0.67 m at 1.2 m/s for a 1.75 m person; ``speed / step_length`` is the cadence.
    """
    ref = REFERENCE_SPEED / REFERENCE_CADENCE
    return ref * math.sqrt(max(speed, 0.0) / REFERENCE_SPEED * height / REFERENCE_HEIGHT)


def cadence(speed: float, height: float) -> float:
    """Steps per second at a walking speed (1.8 Hz at 1.2 m/s for 1.75 m); 2 steps = 1 cycle."""
    if speed <= 0:
        return 0.0
    return speed / step_length(speed, height)


def _bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = (phase - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


def gait(phase: object, amplitude: object, speed: float, height: float) -> np.ndarray:
    """Joint angles [N, N_JOINTS] of walking at gait ``phase`` [N] (cycles).

    Phase 0 is the left heel strike; the right leg runs half a cycle behind and each arm
    swings against its own side's leg. ``amplitude`` [N] in [0, 1] scales the motion
    (0 = standing), so walks start and stop smoothly. Hip swing is sized so that the
    stance foot stays nearly still on the floor: 2 * leg * sin(swing) = step length.
    """
    phi = np.asarray(phase, dtype=np.float64)
    a = np.clip(np.asarray(amplitude, dtype=np.float64), 0.0, 1.0)
    shape = BodyShape(height)
    leg = shape.thigh + shape.shank
    swing = math.asin(min(0.5, step_length(speed, height) / (2 * leg)))
    vigour = min(1.0, max(speed, 0.0) / REFERENCE_SPEED)
    out = np.broadcast_to(STANDING, phi.shape + (N_JOINTS,)).copy()
    out[..., J["trunk_pitch"]] = math.radians(3 * vigour) * a
    for side, offset in (("left", 0.0), ("right", 0.5)):
        p = (phi + offset) % 1.0
        c = np.cos(2 * np.pi * p)
        out[..., J[f"{side}_hip_flexion"]] = a * swing * c
        knee = math.radians(60) * _bump(p, 0.72, 0.11) + math.radians(15) * vigour * _bump(
            p, 0.12, 0.07
        )
        out[..., J[f"{side}_knee_flexion"]] = a * knee
        arm = math.radians(18) * vigour
        out[..., J[f"{side}_shoulder_flexion"]] = -a * arm * c
        out[..., J[f"{side}_elbow_flexion"]] = STANDING[J[f"{side}_elbow_flexion"]] + a * (
            math.radians(12) * vigour * (1 - c) / 2
        )
    return out


# --- geometry ------------------------------------------------------------------------


@attrs.frozen(slots=True)
class BodyShape:
    """Segment lengths of a person ``height`` metres tall (fractions of height, Winter 2009)."""

    height: float = attrs.field(converter=float)

    def __attrs_post_init__(self) -> None:
        if not MIN_HEIGHT <= self.height <= MAX_HEIGHT:
            raise ValueError(
                f"person height must be {MIN_HEIGHT}..{MAX_HEIGHT} m, got {self.height}"
            )

    @property
    def ankle_height(self) -> float:
        return 0.039 * self.height

    @property
    def shank(self) -> float:
        return 0.246 * self.height

    @property
    def thigh(self) -> float:
        return 0.245 * self.height

    @property
    def upper_arm(self) -> float:
        return 0.186 * self.height

    @property
    def forearm(self) -> float:
        return 0.146 * self.height

    @property
    def hip_height(self) -> float:
        """Hip joint height when standing straight: 0.53 of the height."""
        return self.ankle_height + self.shank + self.thigh

    @property
    def cross_sections(self) -> np.ndarray:
        """Radar cross-section per scatterer (m^2), ``SCATTERER_NAMES`` order."""
        scale = (self.height / REFERENCE_HEIGHT) ** 2
        return SURFACE_SHARE * REFERENCE_CROSS_SECTION * scale

    def trunk_points(self) -> np.ndarray:
        """Keypoints fixed to the trunk [17, 3] in the trunk frame (pelvis origin); NaN elsewhere.

        Heights above the pelvis: shoulders 0.288 H, nose 0.383 H, eyes 0.406 H and ears
        0.40 H (that is 0.82, 0.91, 0.94, 0.93 of the height when standing).
        """
        h = self.height
        pts = np.full((17, 3), np.nan)
        pts[KP["nose"]] = (0.060 * h, 0.0, 0.383 * h)
        pts[KP["left_eye"]] = (0.045 * h, 0.018 * h, 0.406 * h)
        pts[KP["right_eye"]] = (0.045 * h, -0.018 * h, 0.406 * h)
        pts[KP["left_ear"]] = (-0.005 * h, 0.043 * h, 0.400 * h)
        pts[KP["right_ear"]] = (-0.005 * h, -0.043 * h, 0.400 * h)
        pts[KP["left_shoulder"]] = (0.0, 0.129 * h, 0.288 * h)
        pts[KP["right_shoulder"]] = (0.0, -0.129 * h, 0.288 * h)
        pts[KP["left_hip"]] = (0.0, 0.055 * h, 0.0)
        pts[KP["right_hip"]] = (0.0, -0.055 * h, 0.0)
        return pts

    def clearance(self) -> np.ndarray:
        """Lowest height (m) each keypoint can have: the body's thickness under it.

        Ankles stand at ankle height; lying on the back the pelvis, shoulders and the
        back of the head rest on the floor.
        """
        c = np.full(17, 0.05)
        c[[KP["left_ankle"], KP["right_ankle"]]] = self.ankle_height
        c[[KP["left_hip"], KP["right_hip"]]] = 0.09
        c[[KP["left_shoulder"], KP["right_shoulder"]]] = 0.07
        c[[KP["left_ear"], KP["right_ear"]]] = 0.09
        c[[KP["left_wrist"], KP["right_wrist"], KP["left_elbow"], KP["right_elbow"]]] = 0.04
        return c


def _rot_y(angle: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] about y; positive tilts +z towards +x."""
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(c), np.ones_like(c)
    return np.stack(
        [np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2
    )


def _rot_x(angle: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] about x; positive tilts -z towards +y."""
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(c), np.ones_like(c)
    return np.stack(
        [np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2
    )


def _apply(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    return np.einsum("...ij,...j->...i", rot, vec)


def body_frame_keypoints(shape: BodyShape, joints: object) -> np.ndarray:
    """Keypoints [N, 17, 3] in the body frame (pelvis centre at the origin)."""
    q = np.asarray(joints, dtype=np.float64)
    if q.shape[-1:] != (N_JOINTS,):
        raise ValueError(f"joints must be [..., {N_JOINTS}], got shape {q.shape}")
    lead = q.shape[:-1]
    trunk = _rot_y(q[..., J["trunk_pitch"]])
    base = shape.trunk_points()
    out = np.empty(lead + (17, 3))
    for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
        out[..., KP[name], :] = _apply(trunk, base[KP[name]])
    down = np.array([0.0, 0.0, -1.0])
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip = _apply(trunk, base[KP[f"{side}_hip"]])
        thigh = (
            trunk
            @ _rot_y(-q[..., J[f"{side}_hip_flexion"]])
            @ _rot_x(sign * q[..., J[f"{side}_hip_abduction"]])
        )
        knee = hip + _apply(thigh, down * shape.thigh)
        shank = thigh @ _rot_y(q[..., J[f"{side}_knee_flexion"]])
        ankle = knee + _apply(shank, down * shape.shank)
        out[..., KP[f"{side}_hip"], :] = hip
        out[..., KP[f"{side}_knee"], :] = knee
        out[..., KP[f"{side}_ankle"], :] = ankle

        shoulder = _apply(trunk, base[KP[f"{side}_shoulder"]])
        upper = (
            trunk
            @ _rot_y(-q[..., J[f"{side}_shoulder_flexion"]])
            @ _rot_x(sign * q[..., J[f"{side}_shoulder_abduction"]])
        )
        elbow = shoulder + _apply(upper, down * shape.upper_arm)
        fore = upper @ _rot_y(-q[..., J[f"{side}_elbow_flexion"]])
        wrist = elbow + _apply(fore, down * shape.forearm)
        out[..., KP[f"{side}_shoulder"], :] = shoulder
        out[..., KP[f"{side}_elbow"], :] = elbow
        out[..., KP[f"{side}_wrist"], :] = wrist
    return out


def pelvis_height(shape: BodyShape, local: np.ndarray) -> np.ndarray:
    """Pelvis height [N] that sets the body down: the lowest point just touches the floor."""
    return np.max(shape.clearance() - local[..., 2], axis=-1)


def ankle_offset(shape: BodyShape, joints: object) -> np.ndarray:
    """Midpoint of the ankles relative to the pelvis, horizontal, body frame [N, 2].

    Transitions that keep the feet planted (sitting down, falling, getting up) move the
    root by minus this, rotated into the room.
    """
    local = body_frame_keypoints(shape, joints)
    mid = 0.5 * (local[..., KP["left_ankle"], :2] + local[..., KP["right_ankle"], :2])
    return mid


def _heading_rotation(heading: np.ndarray) -> np.ndarray:
    c, s = np.cos(heading), np.sin(heading)
    z, o = np.zeros_like(c), np.ones_like(c)
    return np.stack(
        [np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2
    )


def rotate_heading(vectors_xy: object, heading: object) -> np.ndarray:
    """Rotate body-frame horizontal vectors [N, 2] by ``heading`` [N] into the room."""
    v = np.asarray(vectors_xy, dtype=np.float64)
    h = np.asarray(heading, dtype=np.float64)
    c, s = np.cos(h), np.sin(h)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], -1)


@attrs.frozen(slots=True, eq=False)
class BodyPose:
    """Keypoints [N, 17, 3] and scatterer positions [N, SCATTERERS_PER_PERSON, 3], room frame."""

    keypoints: np.ndarray
    scatterers: np.ndarray


def scatterer_points(keypoints: np.ndarray) -> np.ndarray:
    """Scatterer positions [..., SCATTERERS_PER_PERSON, 3] at the segment midpoints."""
    k = keypoints

    def mid(a: str, b: str) -> np.ndarray:
        return 0.5 * (k[..., KP[a], :] + k[..., KP[b], :])

    shoulders = mid("left_shoulder", "right_shoulder")
    hips = mid("left_hip", "right_hip")
    parts = [
        0.5 * (shoulders + hips),
        hips,
        mid("left_ear", "right_ear"),
        mid("left_shoulder", "left_elbow"),
        mid("right_shoulder", "right_elbow"),
        mid("left_elbow", "left_wrist"),
        mid("right_elbow", "right_wrist"),
        mid("left_hip", "left_knee"),
        mid("right_hip", "right_knee"),
        mid("left_knee", "left_ankle"),
        mid("right_knee", "right_ankle"),
    ]
    return np.stack(parts, axis=-2)


def pose(shape: BodyShape, joints: object, root: object, heading: object) -> BodyPose:
    """Place a body in the room: joint angles [N, J], root [N, 2 or 3] (floor point under
    the pelvis; z ignored), heading [N] -> keypoints and scatterers in the room frame.
    """
    local = body_frame_keypoints(shape, joints)
    r = np.asarray(root, dtype=np.float64)
    h = np.broadcast_to(np.asarray(heading, dtype=np.float64), local.shape[:-2])
    lift = pelvis_height(shape, local)
    rot = _heading_rotation(h)
    world = np.einsum("...ij,...kj->...ki", rot, local)
    world[..., 0] += r[..., 0, None]
    world[..., 1] += r[..., 1, None]
    world[..., 2] += lift[..., None]
    return BodyPose(keypoints=world, scatterers=scatterer_points(world))


def posture_joints(
    posture: str, progress: object = 0.0, *, speed: float = 1.2, height: float = REFERENCE_HEIGHT
) -> np.ndarray:
    """Joint angles [N, J] for a named posture.

    ``standing``, ``lying`` (progress ignored); ``walking`` (progress = gait phase in
    cycles, at ``speed``); ``sitting`` (progress 0 standing .. 1 seated on a chair);
    ``lying_down`` (0 standing .. 1 lying); ``falling`` (0 standing .. 1 lying after the
    fall); ``getting_up`` (0 lying .. 1 standing).
    """
    p = np.asarray(progress, dtype=np.float64)
    if posture == "standing":
        return np.broadcast_to(STANDING, p.shape + (N_JOINTS,)).copy()
    if posture == "lying":
        return np.broadcast_to(LYING, p.shape + (N_JOINTS,)).copy()
    if posture == "walking":
        return gait(p, np.ones_like(p), speed, height)
    table = {"sitting": SIT_DOWN, "lying_down": LIE_DOWN, "falling": FALL, "getting_up": GET_UP}
    if posture not in table:
        raise ValueError(f"unknown posture {posture!r}")
    return interpolate(table[posture], p)
