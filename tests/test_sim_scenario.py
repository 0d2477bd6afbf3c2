"""Scenario files: the built-ins, every kind of bad input, and the random generator."""

import re
import tomllib

import numpy as np
import pytest

from wdp.sim import motion
from wdp.sim.motion import ABSENT, FALLING, LYING
from wdp.sim.random_scenario import ANTENNA_HEIGHT, ANTENNA_INSET, random_scenario
from wdp.sim.scenario import (
    ScenarioError,
    list_scenarios,
    load_scenario,
    parse_scenario,
)

BUILTINS = {
    "empty_room",
    "one_walker",
    "sit_and_stand",
    "fall_and_recover",
    "fall_no_recovery",
    "two_crossing",
    "enter_and_leave",
    "busy_room",
    "demo_room",
}


def inside_or_in_the_doorway(scenario, state):
    """Present people are inside the room head to toe, except while in the doorway."""
    room = scenario.room
    present = state.present
    inside = np.asarray(room.contains(state.keypoints3d[..., :2])).all(axis=-1)
    if room.door is not None:
        door = room.door_position()[:2]
        near_door = np.linalg.norm(state.root[..., :2] - door, axis=-1) < 1.0
        inside |= near_door
    return bool(np.all(inside[present]))


def test_builtins_are_listed():
    assert set(list_scenarios()) == BUILTINS


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_loads_and_evaluates(name, tmp_path):
    sc = load_scenario(name)
    assert sc.name == name
    assert sc.description and sc.duration > 0
    assert sc.routers and len(sc.people) <= 4
    t = np.arange(0.0, sc.duration, 0.1)
    st = sc.scene.evaluate(t)
    assert np.all(np.isfinite(st.positions))
    present = st.present
    assert np.all(np.isfinite(st.keypoints3d[present]))
    assert inside_or_in_the_doorway(sc, st)
    # Written out and read back, it is the same scenario.
    path = tmp_path / f"{name}.toml"
    path.write_text(sc.to_toml())
    again = load_scenario(path)
    assert again.to_toml() == sc.to_toml()
    np.testing.assert_array_equal(again.scene.evaluate(t).positions, st.positions)


def occupancy_and_activity(name, rate=10.0):
    sc = load_scenario(name)
    t = np.arange(0.0, sc.duration, 1.0 / rate)
    return sc, t, sc.scene.evaluate(t)


def test_builtin_contents():
    sc, t, st = occupancy_and_activity("empty_room")
    assert st.occupancy.max() == 0 and np.all(st.cross_sections == 0)
    sc, t, st = occupancy_and_activity("busy_room")
    assert len(sc.people) == 4 and st.occupancy.max() == 4 and len(sc.routers) == 2
    assert sc.routers["r2"].sample_rate_hz == 50.0 and sc.routers["r1"].sample_rate_hz == 100.0
    sc, t, st = occupancy_and_activity("two_crossing")
    a, b = st.root[:, 0, :2], st.root[:, 1, :2]
    assert np.linalg.norm(a - b, axis=1).min() < 1.0  # they do cross
    for name, recovers in (("fall_and_recover", True), ("fall_no_recovery", False)):
        sc, t, st = occupancy_and_activity(name)
        (event,) = sc.fall_events
        assert (event.recovered_at is not None) == recovers
        assert FALLING in st.activity and LYING in st.activity
        assert (st.activity[-1, 0] == LYING) == (not recovers)
    sc, t, st = occupancy_and_activity("enter_and_leave")
    runs = [int(v) for i, v in enumerate(st.present[:, 0]) if i == 0 or v != st.present[i - 1, 0]]
    assert runs == [0, 1, 0]
    assert st.activity[0, 0] == ABSENT and st.activity[-1, 0] == ABSENT


def test_default_camera_and_explicit_camera(tmp_path):
    sc = load_scenario("one_walker")
    assert sc.camera.position[2] > 2.0  # the default, high in a corner
    text = (load_scenario("one_walker").to_toml()).replace(
        "\n[routers.r1]", '\n[camera]\nposition = [5.9, 4.9, 2.5]\nlook_at = [3.0, 2.5, 1.0]\n'
        "fx = 700.0\n\n[routers.r1]",
    )  # fmt: skip
    path = tmp_path / "cam.toml"
    path.write_text(text)
    cam = load_scenario(path).camera
    assert cam.position == (5.9, 4.9, 2.5) and cam.fx == 700.0 and cam.fy == 700.0
    np.testing.assert_allclose(cam.project([3.0, 2.5, 1.0])[0], (cam.cx, cam.cy), atol=1e-9)
    assert "[camera]" in load_scenario(path).to_toml()


# --- bad input -----------------------------------------------------------------------

BASE = """\
duration = 30.0

[room]
width = 6.0
depth = 5.0
height = 2.7
door = { wall = "y0", center = 1.0, width = 0.9 }

[routers.r1]
tx = [0.3, 0.3, 1.2]
rx = [5.7, 4.7, 1.2]
profile = "intel5300"

[[people]]
id = "a"
start = [1.0, 1.0]
actions = [
    { action = "walk", waypoints = [[5.0, 1.0]], speed = 1.2 },
]

[[people]]
id = "b"
start = [3.0, 2.5]
heading_deg = 90.0
actions = [
    { action = "stand", duration = 2.0 },
    { action = "sit", duration = 6.0 },
    { action = "walk", waypoints = [[4.0, 3.0], [2.0, 3.0]], speed = 1.0 },
]
"""

PERSON = '\n[[people]]\nstart = [2.0, 2.0]\nactions = [{ action = "stand", duration = 1.0 }]\n'

BAD = [
    # (what, replace this, with that, field path, reason pattern)
    ("unknown top field", "duration = 30.0", "duration = 30.0\nspeed = 3", "speed",
     r"unknown field \(expected one of: duration, room, routers, people, description, camera\)"),
    ("unknown action field", "speed = 1.0 }", "sped = 1.0 }", "people[1].actions[2].sped",
     r"unknown field \(expected one of: waypoints, speed\)"),
    ("unknown room field", "height = 2.7", "height = 2.7\ncolour = 'red'", "room.colour",
     r"unknown field .*"),
    ("unknown router field", 'profile = "intel5300"', 'profile = "intel5300"\ngain = 3',
     "routers.r1.gain", r"unknown field .*"),
    ("wrong type", "speed = 1.0 }", 'speed = "fast" }', "people[1].actions[2].speed",
     r"must be a number, got a string 'fast'"),
    ("bool for number", "duration = 6.0", "duration = true", "people[1].actions[1].duration",
     r"must be a number, got a boolean True"),
    ("number for bool", '"walk", waypoints = [[5.0, 1.0]]',
     '"fall", recover = 1, waypoints = [[5.0, 1.0]]', "people[0].actions[0].recover",
     r"must be true or false, got int 1"),
    ("wrong vector length", "tx = [0.3, 0.3, 1.2]", "tx = [0.3, 0.3]", "routers.r1.tx",
     r"must be a list of 3 numbers, got 2 items"),
    ("missing field", 'profile = "intel5300"\n', "", "routers.r1.profile", r"is required"),
    ("missing action kind", '{ action = "stand", duration = 2.0 }', "{ duration = 2.0 }",
     "people[1].actions[0].action", r"is required \(one of walk, stand, sit, lie, fall, "
     r"enter, leave\)"),
    ("unknown action", '"stand", duration = 2.0', '"jump", duration = 2.0',
     "people[1].actions[0].action", r"unknown action 'jump': use one of walk, .*"),
    ("negative speed", "speed = 1.0 }", "speed = -1.0 }", "people[1].actions[2].speed",
     r"must be 0.2..2 m/s, got -1.0"),
    ("negative duration", "duration = 2.0 }", "duration = -2.0 }",
     "people[1].actions[0].duration", r"must be a positive number of seconds, got -2.0"),
    ("too short a sit", "duration = 6.0", "duration = 2.0", "people[1].actions[1].duration",
     r"must be >= 3 s \(sitting down and up\), got 2.0"),
    ("negative scenario duration", "duration = 30.0", "duration = -30.0", "duration",
     r"must be 0..86400 s, got -30.0"),
    ("fall too slow", '"stand", duration = 2.0', '"fall", descent = 2.5',
     "people[1].actions[0].descent", r"must be 0.5..1.5 s, got 2.5"),
    ("person outside", "start = [3.0, 2.5]", "start = [3.0, 7.5]", "people[1].start",
     r"\(3.00, 7.50\) is outside the 6 x 5 m room or closer than 0.35 m to a wall"),
    ("waypoint outside", "[[5.0, 1.0]]", "[[5.0, -2.0]]", "people[0].actions[0].waypoints[0]",
     r"\(5.00, -2.00\) is outside the 6 x 5 m room \(the walk from \(1.00, 1.00\) would go "
     r"through wall y0; people leave only through the door, with 'leave'\)"),
    ("segment through a wall", "[[4.0, 3.0], [2.0, 3.0]]", "[[4.0, 3.0], [9.0, 3.0], [2.0, 3.0]]",
     "people[1].actions[2].waypoints[1]", r".*the walk from \(4.00, 3.00\) would go through "
     r"wall x1; .*"),
    ("waypoint at the wall", "[[5.0, 1.0]]", "[[5.9, 1.0]]", "people[0].actions[0].waypoints[0]",
     r"\(5.90, 1.00\) is outside the 6 x 5 m room \(closer than 0.35 m to a wall\)"),
    ("body through a wall", "start = [3.0, 2.5]\nheading_deg = 90.0",
     "start = [3.0, 4.6]\nheading_deg = 270.0", "people[1].actions[1]",
     r"the body would go through a wall at t=.* s \(.* is outside the 6 x 5 m room\); give this "
     r"'sit' more free floor"),
    ("five people", "duration = 30.0\n", "duration = 30.0\n", "people",
     r"5 people, at most 4"),
    ("router outside", "rx = [5.7, 4.7, 1.2]", "rx = [5.7, 4.7, 3.2]", "routers.r1.rx",
     r"\(5.7, 4.7, 3.2\) is outside the 6 x 5 x 2.7 m room"),
    ("unknown profile", '"intel5300"', '"atheros"', "routers.r1.profile",
     r"unknown profile 'atheros': choose one of intel5300, esp32, nexmon"),
    ("bad sample rate", 'profile = "intel5300"', 'profile = "intel5300"\nsample_rate_hz = -5',
     "routers.r1.sample_rate_hz", r"must be 0..10000 Hz, got -5.0"),
    ("no routers", '[routers.r1]\ntx = [0.3, 0.3, 1.2]\nrx = [5.7, 4.7, 1.2]\n', "",
     "routers", r"at least one router is needed .*"),
    ("duplicate id", 'id = "b"', 'id = "a"', "people[1].id", r"'a' is already people\[0\]"),
    ("bad door", "center = 1.0", "center = 5.8", "room.door",
     r"door in wall y0 spans 5.35..6.25 m but that wall is 6 m long"),
    ("negative room", "width = 6.0", "width = -6.0", "room.width",
     r"room width must be a positive number of metres, got -6.0"),
    ("enter while inside", '{ action = "stand", duration = 2.0 }', '{ action = "enter" }',
     "people[1].start", r"must be left out when the first action is 'enter'"),
    ("action after leaving", '"walk", waypoints = [[5.0, 1.0]], speed = 1.2 }',
     '"leave" }, { action = "stand", duration = 1.0 }', "people[0].actions[1]",
     r"the person is outside the room here; only 'enter' can follow 'leave', not 'stand'"),
    ("no door", 'door = { wall = "y0", center = 1.0, width = 0.9 }\n', "", "people[0].actions[0]",
     r"the room has no door to leave through \(add room.door\)"),
]  # fmt: skip


@pytest.mark.parametrize("what, old, new, field, reason", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_naming_file_field_and_reason(
    what, old, new, field, reason, tmp_path
):
    assert old in BASE
    text = BASE.replace(old, new, 1)
    if what == "five people":
        text += PERSON * 3
    if what == "no routers":
        text = "routers = {}\n" + text.replace('profile = "intel5300"\n', "", 1)
    if what == "no door":
        text = text.replace('"walk", waypoints = [[5.0, 1.0]], speed = 1.2 }', '"leave" }')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    assert re.fullmatch(f"{re.escape(str(path))}: {re.escape(field)}: {reason}", message), message
    assert (info.value.path, info.value.source) == (field, str(path))


def test_the_base_of_the_bad_cases_is_good(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(BASE)
    sc = load_scenario(path)
    assert [p.id for p in sc.people] == ["a", "b"]


def test_unreadable_files_and_names(tmp_path):
    with pytest.raises(ScenarioError, match=r"^nope: no such built-in scenario \(choose busy"):
        load_scenario("nope")
    missing = tmp_path / "missing.toml"
    with pytest.raises(ScenarioError, match=rf"^{re.escape(str(missing))}: cannot read: "):
        load_scenario(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("duration = \n[room\n")
    with pytest.raises(ScenarioError, match=rf"^{re.escape(str(broken))}: not valid TOML: .*line"):
        load_scenario(broken)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(binary)


def test_people_get_default_ids():
    data = tomllib.loads(BASE.replace('id = "a"\n', "").replace('id = "b"\n', ""))
    sc = parse_scenario(data, name="x", source="x.toml")
    assert [p.id for p in sc.people] == ["p0", "p1"]


# --- random scenarios ----------------------------------------------------------------


def test_random_scenarios_are_deterministic():
    a = random_scenario(1234, 60.0)
    b = random_scenario(1234, 60.0)
    assert a.to_toml() == b.to_toml()
    t = np.arange(0.0, 60.0, 0.5)
    np.testing.assert_array_equal(a.scene.evaluate(t).positions, b.scene.evaluate(t).positions)
    assert random_scenario(1235, 60.0).to_toml() != a.to_toml()


@pytest.mark.parametrize("seed", range(12))
def test_random_scenarios_are_valid(seed, tmp_path):
    sc = random_scenario(seed, 45.0, routers=2)
    room = sc.room
    assert 3.0 <= room.width <= 8.0 and 3.0 <= room.depth <= 8.0 and 2.4 <= room.height <= 3.0
    assert room.door is not None
    assert len(sc.routers) == 2
    for router in sc.routers.values():
        for x, y, z in (router.tx, router.rx):
            assert ANTENNA_HEIGHT[0] <= z <= ANTENNA_HEIGHT[1]
            to_wall = min(x, y, room.width - x, room.depth - y)
            assert to_wall == pytest.approx(ANTENNA_INSET, abs=0.006)  # on a wall or corner
    assert 0 <= len(sc.people) <= motion.MAX_PEOPLE
    # The written TOML passes the file loader's validation and is the same scenario.
    path = tmp_path / "random.toml"
    path.write_text(sc.to_toml())
    again = load_scenario(path)
    assert again.to_toml() == sc.to_toml()
    st = again.scene.evaluate(np.arange(0.0, 45.0, 0.25))
    assert inside_or_in_the_doorway(again, st)


def test_random_scenarios_vary():
    scenarios = [random_scenario(seed, 60.0) for seed in range(20)]
    counts = {len(s.people) for s in scenarios}
    assert counts == {0, 1, 2, 3, 4}
    kinds = {type(a) for s in scenarios for p in s.people for a in p.actions}
    assert kinds == set(motion.ACTION_TYPES.values())
    profiles = {r.profile for s in scenarios for r in s.routers.values()}
    assert profiles == {"intel5300", "esp32", "nexmon"}
    assert any(e.recovered_at is None for s in scenarios for e in s.fall_events)
    assert any(e.recovered_at is not None for s in scenarios for e in s.fall_events)
    one = random_scenario(3, 30.0, max_people=1, profile="esp32")
    assert len(one.people) <= 1 and one.routers["r1"].profile == "esp32"
