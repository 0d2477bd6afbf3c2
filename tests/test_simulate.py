"""The simulator end to end: scenario -> physics -> hardware bytes -> real parser -> recording."""

import h5py
import numpy as np
import pytest

from wdp.cli import main
from wdp.recorder import ACTIVITIES, open_recording
from wdp.sim.scenario import load_scenario
from wdp.sim.simulate import simulate


def raw_bytes(path):
    with h5py.File(path, "r") as f:
        return {rid: f[f"routers/{rid}/raw/bytes"][()].tobytes() for rid in f["routers"]}


@pytest.mark.parametrize("profile", ["intel5300", "esp32", "nexmon"])
def test_same_scenario_seed_and_profile_give_identical_bytes(tmp_path, profile):
    sc = load_scenario("one_walker")
    a, b, c = (tmp_path / n for n in ("a.h5", "b.h5", "c.h5"))
    simulate(sc, a, seed=5, seconds=2, profile=profile, progress=False)
    simulate(sc, b, seed=5, seconds=2, profile=profile, progress=False)
    simulate(sc, c, seed=6, seconds=2, profile=profile, progress=False)
    assert raw_bytes(a) == raw_bytes(b)
    assert raw_bytes(a) != raw_bytes(c)
    with open_recording(a) as ra, open_recording(b) as rb:
        fa, fb = list(ra.frames()), list(rb.frames())
        assert len(fa) == 200
        assert all(x.same_as(y) for x, y in zip(fa, fb, strict=True))
        assert np.array_equal(
            ra.truth().rows.keypoints_3d, rb.truth().rows.keypoints_3d, equal_nan=True
        )


@pytest.mark.parametrize(
    "profile, shape", [("intel5300", (3, 3, 30)), ("esp32", (1, 1, 64)), ("nexmon", (1, 1, 256))]
)
def test_profiles_record_frames_of_their_hardware(tmp_path, profile, shape):
    out = tmp_path / "s.h5"
    simulate(load_scenario("empty_room"), out, seed=1, seconds=1, profile=profile, progress=False)
    with open_recording(out) as rec:
        frames = list(rec.frames())
        assert rec.closed_cleanly
    assert frames and all(f.shape == shape and f.hw_format == profile for f in frames)
    assert all(np.isfinite(f.csi).all() and np.abs(f.csi).max() > 0 for f in frames)
    times = np.array([f.timestamp_ns for f in frames])
    assert np.all(np.diff(times) > 0) and times[0] < 20_000_000


def test_fall_truth_is_recorded_with_its_event(tmp_path):
    sc = load_scenario("fall_no_recovery")
    out = tmp_path / "fall.h5"
    report = simulate(sc, out, seed=2, progress=False)
    assert report.falls == 1
    with open_recording(out) as rec:
        truth = rec.truth()
    (fall,) = truth.spec.falls
    assert fall.recovered_ns == -1 and 0.5e9 <= fall.impact_ns - fall.start_ns <= 1.5e9
    rows = truth.rows
    assert len(rows) == int(sc.duration * 100)
    slot = fall.slot
    during = (rows.time_ns >= fall.start_ns) & (rows.time_ns < fall.impact_ns)
    after = rows.time_ns > fall.impact_ns + 1e9
    assert np.all(rows.activity[during, slot] == ACTIVITIES.index("falling"))
    assert np.all(rows.activity[after, slot] == ACTIVITIES.index("lying"))
    assert np.all(rows.occupancy == 1)
    head_z = rows.keypoints_3d[:, slot, 0, 2]
    assert head_z[rows.time_ns < fall.start_ns].min() > 1.3 and head_z[after].max() < 0.4
    vis = rows.keypoints_visible[:, slot].astype(bool)
    assert np.all(np.isfinite(rows.keypoints_2d[:, slot][vis]))
    assert np.all(np.isfinite(rows.bbox[:, slot]).all(axis=-1) == vis.any(axis=-1))


def test_enter_and_leave_truth_has_no_one_outside(tmp_path):
    out = tmp_path / "door.h5"
    simulate(load_scenario("enter_and_leave"), out, seed=0, progress=False)
    with open_recording(out) as rec:
        rows = rec.truth().rows
    assert rows.occupancy[0] == 0 and rows.occupancy.max() == 1 and rows.occupancy[-1] == 0
    absent = rows.present[:, 0] == 0
    assert np.all(np.isnan(rows.keypoints_3d[absent, 0])) and np.all(rows.activity[absent, 0] == -1)


def test_cli_simulate_and_its_errors(capsys, tmp_path):
    out = tmp_path / "cli.h5"
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "two_crossing",
                "--seconds",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "simulated 1 s of two_crossing" in capsys.readouterr().out
    assert main(["inspect", str(out)]) == 0
    assert "truth: 100 rows, people " in capsys.readouterr().out
    assert main(["simulate", "--list"]) == 0
    assert "busy_room" in capsys.readouterr().out
    assert main(["simulate", "--scenario", "no_such", "--out", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("wdp simulate: error:") and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("duration = -3\n")
    assert main(["simulate", "--scenario", str(bad), "--out", str(tmp_path / "y.h5")]) == 1
    err = capsys.readouterr().err
    assert "bad.toml" in err and len(err.strip().splitlines()) == 1
    assert main(["simulate", "--out", str(tmp_path / "z.h5")]) == 1
