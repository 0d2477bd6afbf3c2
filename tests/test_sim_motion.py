"""Timelines of people: walking, sitting, lying, falling, entering and leaving."""

import math

import numpy as np
import pytest

from wdp.sim import body, motion
from wdp.sim.motion import (
    ABSENT,
    FALLING,
    LYING,
    SITTING,
    STANDING,
    WALKING,
    Enter,
    Fall,
    Leave,
    Lie,
    MotionError,
    Person,
    PersonTimeline,
    Scene,
    Sit,
    Stand,
    Walk,
)
from wdp.sim.room import Door, Room

ROOM = Room(6.0, 5.0, 2.7, door=Door("y0", 1.0, 0.9))
RATE = 100.0


def run(actions, start=(1.0, 1.0), heading=0.0, height=1.75, until=None, rate=RATE):
    timeline = PersonTimeline.build(Person("p", height, start, heading, actions), ROOM)
    end = timeline.end if until is None else until
    t = np.arange(0.0, end + 1.0, 1.0 / rate)
    return timeline, t, timeline.evaluate(t)


def runs(activity):
    """(code, first index) of each run of equal activity codes."""
    change = np.flatnonzero(np.diff(activity)) + 1
    return [(int(activity[i]), int(i)) for i in [0, *change]]


def test_walking_speed_matches_and_follows_the_path():
    timeline, t, s = run([Walk([(5.0, 1.0), (5.0, 4.0)], speed=1.3)])
    speed = np.hypot(*s.velocity[:, :2].T)
    cruise = (t > motion.WALK_RAMP + 0.1) & (t < timeline.end - motion.WALK_RAMP - 0.1)
    np.testing.assert_allclose(speed[cruise], 1.3, atol=1e-6)
    assert speed.max() <= 1.3 + 1e-6
    # 7 m at 1.3 m/s plus the time lost speeding up and slowing down.
    assert timeline.end == pytest.approx(7.0 / 1.3 + motion.WALK_RAMP)
    np.testing.assert_allclose(s.root[-1, :2], (5.0, 4.0), atol=1e-9)
    assert s.root[:, 2].max() == 0.0  # the root is on the floor
    # Heading follows the walking direction (after the turn at the corner).
    first = (t > 1.0) & (t < 2.5)
    np.testing.assert_allclose(s.heading[first], 0.0, atol=1e-9)
    np.testing.assert_allclose(s.heading[t > timeline.end - 1.0], math.pi / 2, atol=1e-9)
    assert set(np.unique(s.activity[t < timeline.end])) == {WALKING}
    assert s.activity[-1] == STANDING


def test_walking_cadence_follows_speed():
    height, speed = 1.75, 1.2
    timeline, t, s = run([Walk([(5.0, 1.0)], speed=speed)], height=height)
    cruise = (t > 1.0) & (t < timeline.end - 1.0)
    rel = s.keypoints[cruise, body.KP["left_ankle"], 0] - s.root[cruise, 0]
    spectrum = np.abs(np.fft.rfft(rel - rel.mean(), 8192))
    freq = np.fft.rfftfreq(8192, 1.0 / RATE)[np.argmax(spectrum)]
    assert freq == pytest.approx(body.cadence(speed, height) / 2, rel=0.05)  # 2 steps a cycle


@pytest.mark.parametrize(
    "actions",
    [
        [Walk([(5.0, 1.0), (5.0, 4.0), (1.0, 4.0)], speed=1.4), Stand(1.0, heading_deg=-90)],
        [Stand(1.0, heading_deg=180.0), Sit(6.0), Lie(9.0)],
        [Fall(0.6, lie=2.0, recover=True, get_up=3.0), Walk([(1.0, 4.0)], 0.8)],
    ],
)
def test_velocity_equals_the_derivative_of_position(actions):
    _, t, s = run(actions, start=(3.0, 2.5), rate=1000.0)
    dt = 1e-3
    central = (s.root[2:, :2] - s.root[:-2, :2]) / (2 * dt)
    err = np.abs(central - s.velocity[1:-1, :2]).max(axis=1)
    # Everywhere but at the few instants where speed jumps (a fall's impact), equal.
    assert np.mean(err < 1e-3) > 0.995
    # And integrating the velocity gives the displacement, kinks included.
    walked = np.cumsum((s.velocity[1:, :2] + s.velocity[:-1, :2]) / 2 * dt, axis=0)
    np.testing.assert_allclose(walked, s.root[1:, :2] - s.root[0, :2], atol=5e-3)


def test_scatterers_move_continuously():
    """Doppler comes from motion between samples, so no body part may jump."""
    actions = [
        Walk([(5.0, 1.0), (5.0, 4.0)], 1.6),
        Stand(2.0, heading_deg=90),
        Sit(4.0),
        Fall(0.5, lie=1.0, recover=True, get_up=3.0),
        Lie(8.0),
    ]
    _, t, s = run(actions, rate=1000.0)
    # The fastest thing is the head at the end of a 0.5 s fall (about 10 m/s); a jump
    # would show as hundreds of m/s between 1 ms samples.
    speed = np.linalg.norm(np.diff(s.scatterers, axis=0), axis=-1) * 1000.0
    assert speed.max() < 12.0
    kp_speed = np.linalg.norm(np.diff(s.keypoints, axis=0), axis=-1) * 1000.0
    assert kp_speed.max() < 14.0
    walking = s.activity[1:] == WALKING
    assert speed[walking].max() < 6.0  # the swinging foot, about 4x walking speed


@pytest.mark.parametrize("descent", [0.5, 1.0, 1.5])
def test_fall_descent_and_vertical_velocity(descent):
    timeline, t, s = run([Stand(1.0), Fall(descent)], start=(4.0, 2.5), until=6.0, rate=1000.0)
    (event,) = timeline.falls
    assert event.start == pytest.approx(1.0)
    assert event.end - event.start == pytest.approx(descent)
    assert event.recovered_at is None
    falling = s.activity == FALLING
    assert t[falling].min() == pytest.approx(event.start, abs=1e-3)
    assert t[falling].max() == pytest.approx(event.end, abs=1e-3)
    assert np.all(s.activity[t > event.end + 1e-3] == LYING)
    head = s.keypoints[:, body.KP["nose"], 2]
    pelvis = s.scatterers[:, body.SCATTERER_NAMES.index("pelvis"), 2]
    head_speed = -np.diff(head).min() * 1000.0
    pelvis_speed = -np.diff(pelvis).min() * 1000.0
    # The documented ranges: head up to ~4/descent m/s, pelvis ~2.6/descent m/s.
    assert 0.8 * 4 / descent < head_speed < 1.2 * 4 / descent
    assert 0.8 * 2.6 / descent < pelvis_speed < 1.2 * 2.6 / descent
    assert head_speed > 2.5  # far above anything voluntary (next test)
    assert head[0] > 1.5 and head[-1] < 0.3  # from standing to the floor


def test_voluntary_transitions_are_slow():
    for height in (1.5, 1.95):
        _, t, s = run([Sit(4.0), Lie(8.0)], start=(3.0, 2.5), height=height, rate=1000.0)
        down = -np.diff(s.keypoints[..., 2], axis=0).max() * 1000.0
        assert down < 2.0


def test_recovery_ends_standing_where_it_started():
    timeline, t, s = run(
        [Stand(1.0), Fall(1.0, lie=4.0, recover=True, get_up=4.0)], start=(4.0, 2.5), until=15.0
    )
    (event,) = timeline.falls
    assert event.recovered_at == pytest.approx(1.0 + 1.0 + 4.0 + 4.0)
    codes = [code for code, _ in runs(s.activity)]
    assert codes == [STANDING, FALLING, LYING, SITTING, STANDING]
    after = t >= event.recovered_at
    assert np.all(s.activity[after] == STANDING)
    standing = body.pose(body.BodyShape(1.75), body.STANDING, [4.0, 2.5], 0.0).keypoints
    np.testing.assert_allclose(
        s.keypoints[after], np.broadcast_to(standing, s.keypoints[after].shape), atol=1e-9
    )
    # Lying, the body stretched out behind where the person stood (a backward fall).
    lying = (t > event.end + 0.5) & (t < event.end + 3.5)
    assert np.all(s.keypoints[lying, :, 2] < 0.35)
    assert np.all(s.keypoints[lying, body.KP["nose"], 0] < 4.0 - 1.0)


def test_sitting_keeps_the_feet_planted():
    timeline, t, s = run([Stand(0.5), Sit(5.0)], start=(3.0, 2.5))
    ankles = s.keypoints[:, [body.KP["left_ankle"], body.KP["right_ankle"]], :2].mean(axis=1)
    np.testing.assert_allclose(ankles, np.broadcast_to((3.0, 2.5), ankles.shape), atol=0.01)
    assert [c for c, _ in runs(s.activity)] == [STANDING, SITTING, STANDING]
    seated = (t > 0.5 + motion.SIT_DOWN_TIME) & (t < 5.5 - motion.STAND_UP_TIME)
    pelvis = s.scatterers[seated, body.SCATTERER_NAMES.index("pelvis")]
    assert np.all((pelvis[:, 2] > 0.4) & (pelvis[:, 2] < 0.55))
    assert np.all(pelvis[:, 0] < 3.0 - 0.3)  # on the chair behind the feet


def test_lie_goes_down_and_up():
    timeline, t, s = run([Lie(10.0)], start=(4.0, 2.5))
    codes = [c for c, _ in runs(s.activity)]
    assert codes == [STANDING, SITTING, LYING, SITTING, STANDING]
    middle = (t > motion.LIE_DOWN_TIME + 0.2) & (t < 10.0 - motion.LIE_GET_UP_TIME - 0.2)
    assert np.all(s.keypoints[middle, :, 2] < 0.35)
    assert timeline.falls == ()


def test_enter_and_leave_set_presence():
    timeline, t, s = run(
        [Enter(to=(3.0, 2.5), speed=1.0, wait=2.0), Stand(3.0), Leave(speed=1.0)],
        start=None,
        until=20.0,
    )
    present = s.present
    assert not present[t < 2.0].any()
    # Present from the moment the root crosses the door line until it crosses back.
    inside = np.asarray(ROOM.contains(s.root[:, :2]))
    np.testing.assert_array_equal(present, inside)
    assert [p for p, _ in runs(present.astype(int))] == [0, 1, 0]
    np.testing.assert_array_equal(s.activity == ABSENT, ~present)
    assert np.all(s.cross_sections[~present] == 0.0)
    assert np.all(s.cross_sections[present] > 0.0)
    # The way in goes through the door (x = 1.0 at y = 0).
    cross = np.flatnonzero(np.diff(present.astype(int)))
    np.testing.assert_allclose(s.root[cross, 0], 1.0, atol=0.02)
    assert np.all(s.root[t > timeline.end, 1] < 0)  # outside after leaving


def test_leave_then_enter_again():
    _, t, s = run(
        [Leave(1.2), Enter(to=(2.0, 2.0), wait=3.0), Walk([(4.0, 2.0)], 1.0)], start=(3.0, 3.0)
    )
    assert [p for p, _ in runs(s.present.astype(int))] == [1, 0, 1]
    assert s.activity[-1] == STANDING


@pytest.mark.parametrize(
    "person, path, reason",
    [
        (Person("p", start=(1, 1), actions=(Walk([(5, 1)], -1.0),)), "actions[0].speed", "0.2..2"),
        (Person("p", start=(1, 1), actions=(Walk([(9, 1)]),)), "actions[0].waypoints[0]",
         "through wall x1"),
        (Person("p", start=(1, 1), actions=(Stand(-2.0),)), "actions[0].duration", "positive"),
        (Person("p", start=(1, 1), actions=(Sit(2.0),)), "actions[0].duration", ">= 3"),
        (Person("p", start=(1, 1), actions=(Lie(5.0),)), "actions[0].duration", ">= 8"),
        (Person("p", start=(1, 1), actions=(Fall(3.0),)), "actions[0].descent", "0.5..1.5"),
        (Person("p", start=(1, 1), actions=(Fall(1.0),)), "actions[0]", "through a wall"),
        (Person("p", start=(4, 2), actions=(Fall(1.0), Stand(1.0))), "actions[1]",
         "without recovery"),
        (Person("p", start=(0.1, 1)), "start", "closer than 0.35 m"),
        (Person("p", actions=(Stand(1.0),)), "start", "is required"),
        (Person("p", start=(1, 1), actions=(Enter(),)), "start", "left out"),
        (Person("p", start=(1, 1), actions=(Leave(), Stand(1.0))), "actions[1]", "only 'enter'"),
        (Person("p", height=2.5, start=(1, 1)), "height", "1..2.2"),
    ],
)  # fmt: skip
def test_impossible_actions_name_the_field(person, path, reason):
    with pytest.raises(MotionError) as info:
        PersonTimeline.build(person, ROOM)
    assert info.value.path == path
    assert reason in info.value.reason
    assert "\n" not in str(info.value)


def test_enter_needs_a_door():
    with pytest.raises(MotionError, match="no door"):
        PersonTimeline.build(Person("p", actions=(Enter(),)), Room(5, 5, 2.5))


def test_scene_combines_people_into_fixed_arrays():
    people = [
        Person("a", 1.8, (1.0, 1.0), 0.0, (Walk([(5.0, 1.0)], 1.2),)),
        Person("b", 1.6, None, 0.0, (Enter(to=(2.0, 3.0), wait=1.0),)),
        Person("c", 1.7, (4.0, 3.0), 180.0, (Stand(2.0), Fall(0.8))),
    ]
    scene = Scene.build(people, ROOM)
    t = np.arange(0.0, 8.0, 0.01)
    st = scene.evaluate(t)
    n, k = t.size, motion.MAX_PEOPLE * body.SCATTERERS_PER_PERSON
    assert st.positions.shape == (n, k, 3) and st.cross_sections.shape == (n, k)
    assert st.keypoints3d.shape == (n, 4, 17, 3)
    assert st.person_ids == ("a", "b", "c", "")
    assert np.all(np.isfinite(st.positions))
    # The empty slot and absent people have no cross-section and no truth.
    s = body.SCATTERERS_PER_PERSON
    assert np.all(st.cross_sections[:, 3 * s :] == 0)
    assert not st.present[:, 3].any()
    b_absent = ~st.present[:, 1]
    assert b_absent[0] and not b_absent[-1]
    assert np.all(st.cross_sections[b_absent, s : 2 * s] == 0)
    assert np.isnan(st.keypoints3d[b_absent, 1]).all()
    assert np.all(st.activity[b_absent, 1] == ABSENT)
    assert np.all(st.ids[b_absent, 1] == -1) and np.all(st.ids[~b_absent, 1] == 1)
    np.testing.assert_array_equal(st.occupancy, st.present.sum(axis=1))
    assert st.occupancy[0] == 2 and st.occupancy[-1] == 3
    # Person slots are the same bodies as evaluating each person alone.
    alone = scene.people[2].evaluate(t)
    np.testing.assert_array_equal(st.positions[:, 2 * s : 3 * s], alone.scatterers)
    np.testing.assert_array_equal(st.keypoints3d[:, 2], alone.keypoints)
    (event,) = scene.fall_events
    assert (event.person, event.index, event.recovered_at) == ("c", 2, None)
    # Deterministic.
    again = Scene.build(people, ROOM).evaluate(t)
    np.testing.assert_array_equal(again.positions, st.positions)


def test_scene_holds_at_most_four_people():
    people = [Person(f"p{i}", start=(1.0 + i, 1.0)) for i in range(5)]
    with pytest.raises(MotionError, match="5 people, at most 4"):
        Scene.build(people, ROOM)
    with pytest.raises(MotionError) as info:
        Scene.build([Person("a", start=(1, 1)), Person("b", start=(1, 9))], ROOM)
    assert info.value.path == "people[1].start"
