"""Dense pose rendered from 3D keypoints: parts, U/V, the wire encoding and its filtering."""

import json
import math

import numpy as np
import pytest
from pipeline_truth import of_type, run

from wdp.camera import Camera
from wdp.inference.densepose import dense_pose_data, dense_pose_for, render_dense_pose
from wdp.pipeline.events import PersonActivity, PosePerson, Velocity
from wdp.server.hub import _apply, _project
from wdp.server.subscriptions import Subscription
from wdp.sim.body import BodyShape, pose, posture_joints

#: A camera at 1.2 m height on the x = 0 wall looking along +x at a person 4 m away.
CAMERA = Camera.looking_at((0.0, 3.0, 1.2), (4.0, 3.0, 1.0))
HEAD = (23, 24)
LEGS = set(range(5, 15))  # feet 5, 6 and upper/lower legs 7..14


def standing(heading: float, x: float = 4.0) -> np.ndarray:
    """A 1.75 m person standing at (x, 3); heading 0 faces +x (away from CAMERA), pi
    faces the camera."""
    joints = posture_joints("standing", [0.0])
    return pose(BodyShape(1.75), joints, [[x, 3.0]], [heading]).keypoints[0]


def box_of(kp: np.ndarray) -> np.ndarray:
    pixels, visible = CAMERA.project(kp)
    return CAMERA.bounding_box(pixels, visible)


def decode(data: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The browser's decoder, as the module docstring describes it."""
    rows, cols = data["grid"]
    parts = np.array(data["parts"], dtype=np.uint8).reshape(rows, cols)
    u = np.zeros(rows * cols)
    v = np.zeros(rows * cols)
    k = 0
    for i, p in enumerate(data["parts"]):
        if p:
            u[i], v[i] = data["u"][k], data["v"][k]
            k += 1
    assert k == len(data["u"]) == len(data["v"])
    return parts, u.reshape(rows, cols), v.reshape(rows, cols)


def test_person_facing_the_camera():
    kp = standing(math.pi)
    part, u, v = render_dense_pose(kp, CAMERA, box_of(kp))
    assert part.shape == u.shape == v.shape == (16, 16)
    assert part.dtype == np.uint8 and u.dtype == v.dtype == np.float32
    assert part[6, 7] == part[6, 8] == 2  # torso front in the middle of the box
    assert set(part[:2].ravel()) - {0} <= set(HEAD) and 24 in part[:2]
    assert set(part[12:].ravel()) - {0} <= LEGS and part[12:].any()
    for corner in (part[0, 0], part[0, -1], part[-1, 0], part[-1, -1]):
        assert corner == 0
    # Facing the camera its right side is on the image's left: right arm front, right hand.
    assert {18, 3} <= set(part[:, :4].ravel()) and {17, 4} <= set(part[:, -4:].ravel())
    assert not set(part.ravel()) & {1, 7, 8, 11, 12, 15, 16, 19, 20, 23}  # no back parts
    fg = part > 0
    assert np.all((u[fg] >= 0) & (u[fg] <= 1)) and np.all((v[fg] >= 0) & (v[fg] < 1))
    assert np.all(u[~fg] == 0) and np.all(v[~fg] == 0)
    # The torso's front is at V near 0 (or 1): facing the camera we see the chest.
    assert np.all(np.minimum(v[part == 2], 1 - v[part == 2]) < 0.25)


def test_u_runs_from_proximal_to_distal():
    kp = standing(math.pi)
    part, u, _ = render_dense_pose(kp, CAMERA, box_of(kp), grid=(32, 32))
    # Upper leg right (front): down a column U grows from the hip (0) to the knee (1).
    col = int(np.argmax((part == 9).sum(axis=0)))
    leg = u[part[:, col] == 9, col]
    assert len(leg) >= 5 and np.all(np.diff(leg) > 0)
    # Torso: U is 0 at the hips and 1 at the shoulders, so it falls going down the image.
    torso = u[part[:, 16] == 2, 16]
    assert len(torso) >= 5 and np.all(np.diff(torso) <= 0) and torso[0] > torso[-1]


def test_turning_around_flips_front_and_back():
    front = render_dense_pose(standing(math.pi), CAMERA, box_of(standing(math.pi)))[0]
    back = render_dense_pose(standing(0.0), CAMERA, box_of(standing(0.0)))[0]
    assert front[6, 7] == 2 and back[6, 7] == 1
    assert 2 not in back and 1 not in front
    assert 23 in back[:2] and 24 not in back[:2]
    # Seen from behind the left arm (15, back) is on the image's left.
    assert 15 in back[:, :4] and 16 in back[:, -4:]


def test_no_dense_pose_behind_the_camera_or_without_box():
    kp = standing(math.pi, x=-4.0)  # behind the camera
    box = box_of(standing(math.pi))  # even with a box in view, nothing is there
    assert not render_dense_pose(kp, CAMERA, box)[0].any()
    assert dense_pose_for(kp, CAMERA, box) is None
    assert dense_pose_for(standing(math.pi), CAMERA, None) is None
    assert dense_pose_for(standing(math.pi), CAMERA, (np.nan, 0, 10, 10)) is None
    assert dense_pose_for(standing(math.pi), CAMERA, (0, 0, 0, 10)) is None
    assert dense_pose_for(np.full((17, 3), np.nan), CAMERA, box) is None
    person = PosePerson.build(
        CAMERA,
        person_id=1,
        track_id=1,
        confidence=0.9,
        keypoints_3d=kp,
        keypoint_confidence=np.ones(17),
        activity=PersonActivity("standing", 0.9, Velocity(0, 0)),
    )
    assert person.bounding_box is None and "dense_pose" not in person.to_data()


def test_missing_keypoints_render_what_is_left():
    kp = standing(math.pi)
    box = box_of(kp)
    kp[9:11] = np.nan  # wrists unknown: no lower arms, no hands
    part = render_dense_pose(kp, CAMERA, box)[0]
    assert part[6, 7] == 2 and not set(part.ravel()) & {3, 4, 21, 22}


def test_encoding_round_trips():
    kp = standing(math.pi)
    box = box_of(kp)
    part, u, v = render_dense_pose(kp, CAMERA, box)
    data = json.loads(json.dumps(dense_pose_for(kp, CAMERA, box)))
    assert data == json.loads(json.dumps(dense_pose_data(part, u, v, box)))
    assert list(data) == ["grid", "bbox", "parts", "u", "v"]
    assert data["grid"] == [16, 16] and data["bbox"] == [round(float(t), 1) for t in box]
    assert all(isinstance(p, int) and 0 <= p <= 24 for p in data["parts"])
    got_part, got_u, got_v = decode(data)
    assert np.array_equal(got_part, part)
    assert np.allclose(got_u, u, atol=5e-4)
    dv = np.abs(got_v - v)
    assert np.all(np.minimum(dv, 1 - dv) <= 5e-4)  # V is an angle: 1 wraps to 0


def test_rendering_is_deterministic():
    kp = standing(2.0)
    box = box_of(kp)
    first = render_dense_pose(kp, CAMERA, box)
    second = render_dense_pose(kp.copy(), CAMERA, box.copy())
    for a, b in zip(first, second, strict=True):
        assert a.tobytes() == b.tobytes()
    assert json.dumps(dense_pose_for(kp, CAMERA, box)) == json.dumps(
        dense_pose_for(kp, CAMERA, box)
    )


@pytest.mark.parametrize("dense", [False, True])
def test_hub_sends_dense_pose_only_on_request(dense):
    kp = standing(math.pi)
    person = PosePerson.build(
        CAMERA,
        person_id=1,
        track_id=7,
        confidence=0.9,
        keypoints_3d=kp,
        keypoint_confidence=np.ones(17),
        activity=PersonActivity("standing", 0.9, Velocity(0, 0)),
    )
    b = person.bounding_box
    person = PosePerson(
        *(getattr(person, f) for f in ("person_id", "track_id", "confidence")),
        b,
        person.keypoints,
        person.activity,
        dense_pose_for(kp, CAMERA, (b.x, b.y, b.width, b.height)),
    )
    data = person.to_data()
    assert list(data)[-1] == "dense_pose"
    message = {"type": "pose_data", "data": {"persons": [data]}}
    sub = Subscription("s", "pose_data", None, include_dense_pose=dense)
    sent = _apply(message, _project(sub, "pose_data", message["data"]))
    assert ("dense_pose" in sent["data"]["persons"][0]) is dense
    assert "dense_pose" in message["data"]["persons"][0]  # the shared message is untouched


def test_pipeline_persons_carry_dense_pose():
    events, _ = run("lie_down", hop_s=0.5)
    persons = [p for f in of_type(events, "pose_data") for p in f.persons]
    assert persons and all(
        (p.dense_pose is not None) == (p.bounding_box is not None) for p in persons
    )
    assert any(p.dense_pose is not None and 2 in p.dense_pose["parts"] for p in persons)
