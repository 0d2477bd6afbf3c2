"""The articulated body (COCO-17 skeleton, scatterers) and the virtual camera."""

import math

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdp.camera import Camera
from wdp.sim import body
from wdp.sim.room import Room

COCO_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
#: COCO's person skeleton as published (1-based).
COCO_SKELETON_1 = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip

TRANSITIONS = ["sitting", "lying_down", "falling", "getting_up"]


def place(height, joints, heading=0.0, root=(0.0, 0.0)):
    shape = body.BodyShape(height)
    joints = np.atleast_2d(joints)
    n = joints.shape[0]
    return body.pose(shape, joints, np.tile(root, (n, 1)), np.full(n, heading))


def bone_lengths(keypoints):
    a = np.array([i for i, _ in body.SKELETON])
    b = np.array([j for _, j in body.SKELETON])
    return np.linalg.norm(keypoints[..., a, :] - keypoints[..., b, :], axis=-1)


def test_keypoints_are_coco_17_in_coco_order():
    assert list(body.KEYPOINT_NAMES) == COCO_NAMES
    assert [list(bone) for bone in body.SKELETON] == [[a - 1, b - 1] for a, b in COCO_SKELETON_1]
    pose = place(1.75, body.STANDING)
    assert pose.keypoints.shape == (1, 17, 3)
    assert pose.scatterers.shape == (1, body.SCATTERERS_PER_PERSON, 3)
    assert 10 <= body.SCATTERERS_PER_PERSON <= 14


def test_bone_lengths_are_constant_across_gait_and_postures():
    height = 1.8
    reference = bone_lengths(place(height, body.STANDING).keypoints)[0]
    phases = np.linspace(0, 2, 97)
    poses = []
    for speed in (0.4, 1.2, 2.0):
        poses.append(body.gait(phases, np.ones_like(phases), speed, height))
        poses.append(body.gait(phases, np.linspace(0, 1, phases.size), speed, height))
    progress = np.linspace(0, 1, 41)
    for name in TRANSITIONS:
        poses.append(body.posture_joints(name, progress))
    poses.append(body.posture_joints("lying", progress))
    joints = np.concatenate(poses)
    headings = np.linspace(-np.pi, np.pi, joints.shape[0])
    kp = place(height, joints, 0.0).keypoints
    kp_turned = body.pose(
        body.BodyShape(height), joints, np.zeros((joints.shape[0], 2)), headings
    ).keypoints
    np.testing.assert_allclose(
        bone_lengths(kp), np.broadcast_to(reference, (kp.shape[0], 19)), atol=1e-9
    )
    np.testing.assert_allclose(bone_lengths(kp_turned), bone_lengths(kp), atol=1e-9)
    # Limb bones are the anthropometric segment lengths.
    shape = body.BodyShape(height)
    k = body.KP
    assert reference[body.SKELETON.index((k["left_ankle"], k["left_knee"]))] == pytest.approx(
        shape.shank
    )
    assert reference[body.SKELETON.index((k["left_knee"], k["left_hip"]))] == pytest.approx(
        shape.thigh
    )


@settings(max_examples=60, deadline=None)
@given(
    height=st.floats(1.5, 1.95),
    phase=st.floats(0, 10),
    speed=st.floats(0.2, 2.0),
    progress=st.floats(0, 1),
    heading=st.floats(-10, 10),
)
def test_bone_lengths_hold_for_any_body(height, phase, speed, progress, heading):
    reference = bone_lengths(place(height, body.STANDING).keypoints)[0]
    joints = np.stack(
        [body.gait(np.array(phase), np.array(1.0), speed, height)]
        + [body.posture_joints(name, np.array(progress)) for name in TRANSITIONS]
    )
    kp = place(height, joints, heading, (2.0, 3.0)).keypoints
    np.testing.assert_allclose(bone_lengths(kp), np.broadcast_to(reference, (5, 19)), atol=1e-9)
    # Nothing ever goes through the floor.
    assert kp[..., 2].min() >= 0.03


@pytest.mark.parametrize("height", [1.5, 1.75, 1.95])
def test_standing_feet_on_floor_and_head_near_height(height):
    kp = place(height, body.STANDING, root=(1.0, 2.0)).keypoints[0]
    ankles = kp[[body.KP["left_ankle"], body.KP["right_ankle"]]]
    np.testing.assert_allclose(ankles[:, 2], body.BodyShape(height).ankle_height, atol=1e-9)
    # The eyes are the highest keypoints, 6-7 % of the height below the top of the head.
    assert 0.9 * height <= kp[:, 2].max() <= 0.96 * height
    assert kp[body.KP["left_eye"], 2] == kp[:, 2].max()
    # Upright: the pelvis right above the root, the nose in front (+x at heading 0).
    hips = kp[[body.KP["left_hip"], body.KP["right_hip"]]].mean(axis=0)
    np.testing.assert_allclose(hips[:2], (1.0, 2.0), atol=1e-9)
    assert kp[body.KP["nose"], 0] > hips[0]
    assert kp[body.KP["left_shoulder"], 1] > kp[body.KP["right_shoulder"], 1]  # left is +y


@pytest.mark.parametrize("height", [1.5, 1.95])
def test_lying_is_low_and_long(height):
    kp = place(height, body.LYING).keypoints[0]
    assert kp[:, 2].max() < 0.35
    assert kp[:, 2].min() > 0.0
    # Head towards -heading, feet towards +heading, the body stretched out.
    assert kp[body.KP["nose"], 0] < 0 < kp[body.KP["left_ankle"], 0]
    assert np.ptp(kp[:, 0]) > 0.75 * height


def test_sitting_has_thighs_level_at_chair_height():
    height = 1.75
    shape = body.BodyShape(height)
    kp = place(height, body.SEATED).keypoints[0]
    hip, knee = kp[body.KP["left_hip"]], kp[body.KP["left_knee"]]
    ankle = kp[body.KP["left_ankle"]]
    assert 0.4 < hip[2] < 0.55
    assert abs(hip[2] - knee[2]) < 0.02
    assert ankle[2] == pytest.approx(shape.ankle_height)
    # Feet ahead of the pelvis by about a thigh: what the motion keeps planted.
    assert body.ankle_offset(shape, body.SEATED)[0] == pytest.approx(shape.thigh, abs=0.02)


def test_walking_keeps_a_foot_on_the_floor_and_bobs():
    height, speed = 1.75, 1.2
    phases = np.linspace(0, 1, 201)
    joints = body.gait(phases, np.ones_like(phases), speed, height)
    pose = place(height, joints)
    kp = pose.keypoints
    ankles = kp[:, [body.KP["left_ankle"], body.KP["right_ankle"]], 2]
    np.testing.assert_allclose(ankles.min(axis=1), body.BodyShape(height).ankle_height, atol=1e-9)
    assert ankles.max() > body.BodyShape(height).ankle_height + 0.1  # the swing foot lifts
    pelvis = pose.scatterers[:, body.SCATTERER_NAMES.index("pelvis"), 2]
    assert 0.01 < np.ptp(pelvis) < 0.06  # the gait's vertical bob
    # The legs swing in opposition, arms against their own side's leg.
    lx = kp[:, body.KP["left_ankle"], 0]
    rx = kp[:, body.KP["right_ankle"], 0]
    assert np.corrcoef(lx, rx)[0, 1] < -0.8
    assert np.corrcoef(lx, kp[:, body.KP["left_wrist"], 0])[0, 1] < -0.8
    # Zero amplitude is plain standing.
    still = body.gait(phases, np.zeros_like(phases), speed, height)
    np.testing.assert_allclose(still, np.broadcast_to(body.STANDING, still.shape))


def test_cadence_follows_speed():
    assert body.cadence(1.2, 1.75) == pytest.approx(1.8)
    assert body.step_length(1.2, 1.75) == pytest.approx(1.2 / 1.8)
    cadences = [body.cadence(v, 1.75) for v in (0.5, 0.8, 1.2, 1.6, 2.0)]
    assert cadences == sorted(cadences)
    assert 1.0 < cadences[0] and cadences[-1] < 2.6
    assert body.cadence(1.2, 1.95) < body.cadence(1.2, 1.5)  # longer legs, longer steps


@pytest.mark.parametrize("height", [1.5, 1.75, 1.95])
def test_cross_sections_follow_body_surface(height):
    cs = body.BodyShape(height).cross_sections
    assert cs.shape == (body.SCATTERERS_PER_PERSON,)
    assert np.all(cs > 0)
    assert body.SCATTERER_NAMES[int(np.argmax(cs))] == "torso"
    assert 0.5 <= cs.sum() <= 1.0
    names = body.SCATTERER_NAMES
    assert cs[names.index("left_thigh")] > cs[names.index("left_shank")]
    assert cs[names.index("left_thigh")] > cs[names.index("left_upper_arm")]


def test_scatterers_sit_at_segment_midpoints():
    kp = place(1.7, body.SIT_MID).keypoints[0]
    sc = body.scatterer_points(kp)
    k, s = body.KP, body.SCATTERER_NAMES.index
    np.testing.assert_allclose(sc[s("left_thigh")], (kp[k["left_hip"]] + kp[k["left_knee"]]) / 2)
    np.testing.assert_allclose(
        sc[s("right_forearm")], (kp[k["right_elbow"]] + kp[k["right_wrist"]]) / 2
    )
    assert sc[s("head")][2] > sc[s("torso")][2] > sc[s("pelvis")][2]


def test_heading_turns_the_body():
    kp = place(1.75, body.STANDING, heading=math.pi / 2, root=(2.0, 2.0)).keypoints[0]
    # Facing +y: the nose is at +y of the pelvis, the left shoulder at -x.
    assert kp[body.KP["nose"], 1] > 2.05
    assert kp[body.KP["left_shoulder"], 0] < 2.0 < kp[body.KP["right_shoulder"], 0]


def test_bad_heights_are_refused():
    for height in (0.5, 2.5, float("nan")):
        with pytest.raises(ValueError, match="person height"):
            body.BodyShape(height)


# --- camera --------------------------------------------------------------------------


def test_point_on_the_optical_axis_lands_on_the_principal_point():
    cam = Camera(fx=800, fy=820, cx=600.5, cy=350.25, position=(1, 2, 2), yaw=0.7, pitch=-0.3)
    axis = np.array([math.cos(0.3) * math.cos(0.7), math.cos(0.3) * math.sin(0.7), -math.sin(0.3)])
    for distance in (0.5, 3.0, 20.0):
        px, visible = cam.project(np.array(cam.position) + distance * axis)
        np.testing.assert_allclose(px, (600.5, 350.25), atol=1e-9)
        assert visible


def test_projection_follows_the_intrinsics():
    # Looking along +x: camera right is -y, camera down is -z.
    cam = Camera(width=640, height=480, fx=500, fy=400, cx=320, cy=240, position=(0, 0, 1))
    px, visible = cam.project([[2.0, -0.5, 1.25], [2.0, 0.5, 0.75]])
    np.testing.assert_allclose(px[0], (320 + 500 * 0.25, 240 - 400 * 0.125))
    np.testing.assert_allclose(px[1], (320 - 500 * 0.25, 240 + 400 * 0.125))
    assert visible.all()
    np.testing.assert_allclose(
        cam.intrinsics @ cam.to_camera([2.0, -0.5, 1.25]) / 2.0, [*px[0], 1.0]
    )


def test_points_behind_or_outside_are_not_visible():
    cam = Camera(position=(0, 0, 1))
    px, visible = cam.project([[-1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 5.0, 1.0], [1, 0, 1]])
    assert visible.tolist() == [False, False, False, True]
    assert np.isnan(px[:2]).all()  # behind / at the optical centre: no pixel at all
    assert np.isfinite(px[2]).all() and px[2, 0] < 0  # in front but off the left edge


def test_bounding_box_holds_the_projected_points_and_stays_in_the_image():
    room = Room(5.0, 4.0, 2.7)
    cam = Camera.for_room(room)
    kp = place(1.75, body.STANDING, heading=1.0, root=(2.5, 2.0)).keypoints[0]
    px, visible = cam.project(kp)
    assert visible.all()  # the default camera sees a person in the middle of the room
    x, y, w, h = cam.bounding_box(px, visible)
    assert np.all(px[:, 0] >= x) and np.all(px[:, 0] <= x + w)
    assert np.all(px[:, 1] >= y) and np.all(px[:, 1] <= y + h)
    assert w > np.ptp(px[:, 0]) and h > np.ptp(px[:, 1])  # the margin
    assert h > w  # a standing person is tall
    # Batched, clipped at the image edges, NaN when nothing is visible.
    edge = np.array([[[-50.0, 100.0], [30.0, 900.0]], [[10.0, 10.0], [20.0, 20.0]]])
    boxes = cam.bounding_box(edge, np.array([[True, True], [False, False]]))
    assert boxes.shape == (2, 4)
    assert boxes[0, 0] == 0.0 and boxes[0, 1] + boxes[0, 3] == cam.height
    assert np.isnan(boxes[1]).all()


def test_default_camera_covers_the_room():
    room = Room(6.0, 5.0, 2.7)
    cam = Camera.for_room(room)
    assert (cam.width, cam.height) == (1280, 720)
    assert cam.position[2] > 2.0 and room.contains(cam.position)
    px, visible = cam.project([[3.0, 2.5, 1.0], [6.0, 5.0, 0.0], [6.0, 2.5, 1.7], [3.0, 5.0, 1.7]])
    np.testing.assert_allclose(px[0], (cam.cx, cam.cy), atol=1e-9)  # aimed at the centre
    assert visible.all()


def test_camera_is_frozen_and_validated():
    cam = Camera()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cam.fx = 1.0
    with pytest.raises(ValueError, match="fx"):
        Camera(fx=-1)
    with pytest.raises(ValueError, match="pitch"):
        Camera(pitch=2.0)
    with pytest.raises(ValueError, match="straight up or down"):
        Camera.looking_at((1, 1, 2), (1, 1, 0))
    target = Camera.looking_at((0.5, 0.5, 2.5), (3, 2, 0.5), fx=700)
    np.testing.assert_allclose(target.project([3, 2, 0.5])[0], (target.cx, target.cy), atol=1e-9)
