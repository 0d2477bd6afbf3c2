"""The README's "Teach wdp a room", end to end on real captures: labelled sessions
(``wdp import --label --group``, as ``wdp record`` makes them live), ``wdp calibrate``
on the quiet one, ``wdp train --labels`` on the folder of sessions, ``wdp eval
--labels`` with the detector and leave one group out, ``wdp replay --config`` with the
router's ``detector`` and ``calibration``; and each kind of bad labelled input giving
one line that names the file (real data: skipped without ../shared/real-data, failed
under CI)."""

import contextlib
import io
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from recorder_frames import info, make_frame

from wdp.capture import FrameBatch
from wdp.cli import main
from wdp.recorder import Recorder
from wdp.sensing.calibration import load as load_calibration
from wdp.sensing.detector import Detector
from wdp.sensing.features import WindowSpec
from wdp.sensing.learn import extract
from wdp.sensing.manifest import LabelledFile, ManifestError, read_labels, read_manifest

#: (har11 folder, label) of the sessions, and (group, file-name spellings) of the people.
CLASSES = (("falldown", "fall"), ("walking", "walking"), ("jump", "jump"))
PEOPLE = (("abid", ("abid",)), ("hhj", ("hhj", "hjj")))
#: Sessions per person and class.
PER_CLASS = 2


def wdp(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def room(real_data, tmp_path_factory) -> Path:
    """A quiet session (a still person lying: har11 has no empty room) and 2 people x 3
    classes x 2 labelled sessions, imported as wdp recordings into ``recordings/``."""
    har11 = real_data / "intel5300-har11" / "0510"
    root = tmp_path_factory.mktemp("room")
    (root / "recordings").mkdir()
    argv = ["import", har11 / "lying" / "abidtang1.dat", "--out", root / "quiet.h5", "--quiet"]
    assert main([str(a) for a in argv]) == 0
    for group, spellings in PEOPLE:
        for folder, label in CLASSES:
            found = sorted(f for s in spellings for f in (har11 / folder).glob(f"{s}_*.dat"))
            for i, f in enumerate(found[:PER_CLASS]):
                out = root / "recordings" / f"{group}_{label}{i}.h5"
                argv = ["import", f, "--out", out, "--label", label, "--group", group, "--quiet"]
                assert main([str(a) for a in argv]) == 0
    return root


@pytest.fixture(scope="module")
def taught(room) -> dict:
    """Steps 1 and 3 of the tutorial on ``room``: ``wdp calibrate`` on the quiet session
    and ``wdp train --labels`` on the folder; their files and what they printed."""
    out = {"calib": room / "calib.json", "detector": room / "my.npz", "cache": room / "cache"}
    for key, argv in (
        ("calibrated", ["calibrate", room / "quiet.h5", "--out", out["calib"]]),
        ("trained", ["train", "--labels", room / "recordings", "--profile", "intel5300",
                     "--out", out["detector"], "--cache", out["cache"], "--quiet"]),
    ):  # fmt: skip
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main([str(a) for a in argv]) == 0
        out[key] = printed.getvalue()
    return out


def test_the_tutorial_calibrate_train_eval(room, taught, tmp_path, capsys):
    recordings, cache, detector = room / "recordings", taught["cache"], taught["detector"]
    assert f"-> {taught['calib']}" in taught["calibrated"]
    cal = load_calibration(taught["calib"])
    assert cal.quiet_median > 0 and (cal.links, cal.subcarriers) == (3, 30)

    assert f"wrote {detector}: 12 files, classes fall, jump, walking" in taught["trained"]
    det = Detector.load(detector)
    assert det.profile == "intel5300" and det.classes == ["fall", "jump", "walking"]

    code, out, err = wdp(capsys, "eval", "--labels", recordings, "--detector", detector,
                         "--cache", cache, "--quiet")  # fmt: skip
    assert code == 0, err
    assert f"{detector} on 12 files" in out
    assert "true/pred" in out and "falls: recall" in out and "false alarms:" in out
    for label in ("fall", "jump", "walking"):  # a confusion row with its recall per class
        (row,) = [line for line in out.splitlines() if line.startswith(f"{label} ")]
        assert len(row.split()) == 5 and row.endswith("%")

    # leave one person out (no --profile: the recordings say intel5300)
    summary = tmp_path / "s.json"
    code, out, err = wdp(capsys, "eval", "--labels", recordings, "--leave-one-out", "group",
                         "--cache", cache, "--quiet", "--json", summary)  # fmt: skip
    assert code == 0, err
    assert "leave one group out (12 files)" in out
    figures = json.loads(summary.read_text())
    assert figures["fall_recall"] is not None and "true/pred" in out


def test_serving_with_what_was_taught(room, taught, tmp_path, capsys):
    """Step 5: the router's ``detector`` and ``calibration`` keys, run by ``wdp replay
    --config``: the taught fall is found, the walk raises none, and people's activities
    are the taught classes (or, where it is unsure, motion)."""
    router = "[environments.room_001.routers.router_001]\n"
    router += 'source = "udp://0.0.0.0:5500?format=intel5300"\n'
    router += f'calibration = "{taught["calib"]}"\n'
    (tmp_path / "calibrated.toml").write_text(router)
    (tmp_path / "wdp.toml").write_text(router + f'detector = "{taught["detector"]}"\n')

    def replay(session: str, config: str) -> list[dict]:
        out = tmp_path / f"{session}-{config}.jsonl"
        argv = ["replay", room / "recordings" / f"{session}.h5", "--emit", out, "--quiet"]
        code, _, err = wdp(capsys, *argv, "--config", tmp_path / config)
        assert code == 0, err
        return [json.loads(line) for line in out.read_bytes().splitlines()]

    def falls(messages):
        return [m["data"]["event_type"] for m in messages if m["type"] == "activity_event"]

    def activities(messages):
        poses = [m["data"] for m in messages if m["type"] == "pose_data"]
        return [p["activity"]["type"] for pose in poses for p in pose["persons"]]

    fall, walk = replay("abid_fall0", "wdp.toml"), replay("hhj_walking0", "wdp.toml")
    assert falls(fall) == ["fall_detected"] and falls(walk) == []
    seen = set(activities(fall) + activities(walk))
    assert "falling" in seen and "walking" in seen
    assert seen <= {"falling", "jump", "walking", "moving", "still"}
    # the detector is what made them: with the calibration alone the same walk differs
    assert activities(replay("hhj_walking0", "calibrated.toml")) != activities(walk)


def test_labels_round_trip_and_recordings_load_as_their_captures(room, real_data):
    """What ``--label``/``--group`` wrote is what the folder source reads, and a session's
    features are those of the capture it was imported from, bit for bit."""
    entries = read_labels(room / "recordings")
    assert len(entries) == len(PEOPLE) * len(CLASSES) * PER_CLASS
    for e in entries:
        group, rest = e.path.stem.split("_")
        assert (e.label, e.group) == (rest.rstrip("0123456789"), group)
    capture = sorted((real_data / "intel5300-har11" / "0510" / "jump").glob("abid_*.dat"))[0]
    spec = WindowSpec(rate_hz=20.0)
    a = extract(LabelledFile(capture, "jump"), spec)
    b = extract(LabelledFile(room / "recordings" / "abid_jump0.h5", "jump"), spec)
    assert a.feats.shape[0] > 0 and a.duration_s == b.duration_s
    assert np.array_equal(a.feats, b.feats, equal_nan=True)
    assert np.array_equal(a.mc, b.mc, equal_nan=True)


# ---- bad labelled input: one line naming the file ------------------------------------


def session(path: Path, label: str = "", group: str = "") -> Path:
    """A tiny wdp recording (synthetic frames: enough to be listed, not to train)."""
    with Recorder(path, [info()], label=label, label_group=group) as rec:
        rec.append(FrameBatch.from_frames([make_frame(i) for i in range(5)]))
    return path


def train_error(capsys, source: Path, tmp_path: Path) -> str:
    argv = ["train", "--labels", source, "--profile", "intel5300", "--out", tmp_path / "d.npz"]
    code, _, err = wdp(capsys, *argv, "--quiet")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wdp train: error: "), err
    assert not (tmp_path / "d.npz").exists()
    return lines[0]


def test_folder_recording_without_label_is_named(capsys, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    session(folder / "a_walk.h5", "walking", "alice")
    session(folder / "quiet.h5")  # the calibration session, put in the wrong place
    line = train_error(capsys, folder, tmp_path)
    assert f"{folder / 'quiet.h5'}: a recording without a label" in line


def test_non_wdp_hdf5_is_named(capsys, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    session(folder / "a_walk.h5", "walking")
    with h5py.File(folder / "other.h5", "w") as f:
        f["x"] = np.arange(3)
    line = train_error(capsys, folder, tmp_path)
    assert f"{folder / 'other.h5'}: an HDF5 file but not a wdp recording" in line
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,label\nrecordings/other.h5,walking\n")
    line = train_error(capsys, manifest, tmp_path)
    assert f"{manifest}:2: {folder / 'other.h5'}: an HDF5 file but not a wdp recording" in line


@pytest.mark.parametrize(
    "row, fragment",
    [
        ("s.h5,running,", "labelled 'running', but {s} was recorded as 'walking'"),
        ('s.h5,"walk,run",', "label must not contain a comma"),
        ('s.h5,"walk\nrun",', "label must not contain a newline"),
        ("plain.h5,,", "no label for {plain}"),
        ("plain.h5,Walking,", "label must be snake_case"),
    ],
)
def test_manifest_labels_that_cannot_be_used(capsys, tmp_path, row, fragment):
    s, plain = session(tmp_path / "s.h5", "walking"), session(tmp_path / "plain.h5")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"file,label,group\n{row}\n")
    line = train_error(capsys, manifest, tmp_path)
    assert f"{manifest}:2: " + fragment.format(s=s, plain=plain) in line


def test_a_bad_label_written_by_another_tool_is_named(capsys, tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    s = session(folder / "a_walk.h5", "walking")
    with h5py.File(s, "r+") as f:
        f.attrs["label"] = "walk\nrun"
    line = train_error(capsys, folder, tmp_path)
    assert f"{s}: recorded: label must not contain a newline" in line


def test_class_folder_must_agree_with_the_recorded_label(capsys, tmp_path):
    (tmp_path / "classes" / "fall").mkdir(parents=True)
    s = session(tmp_path / "classes" / "fall" / "b_1.h5", "walking")
    line = train_error(capsys, tmp_path / "classes", tmp_path)
    assert f"labelled 'fall', but {s} was recorded as 'walking'" in line


def test_manifest_takes_a_recordings_label_and_group_when_left_empty(tmp_path):
    session(tmp_path / "s.h5", "walking", "alice")
    session(tmp_path / "t.h5", "fall")
    (tmp_path / "m.csv").write_text("file,label,group\ns.h5,,\nt.h5,fall,bob\n")
    got = [(e.path.name, e.label, e.group) for e in read_manifest(tmp_path / "m.csv")]
    assert got == [("s.h5", "walking", "alice"), ("t.h5", "fall", "bob")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no labelled recordings"):
        read_labels(tmp_path / "empty")


def test_eval_refuses_a_label_the_detector_does_not_know(taught, capsys, tmp_path):
    """A typo in a test set's label would count as a misclassified sample: refused."""
    s, detector = session(tmp_path / "s.h5", "walkng"), taught["detector"]
    argv = ["eval", "--labels", tmp_path, "--detector", detector, "--quiet"]
    code, _, err = wdp(capsys, *argv)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"wdp eval: error: {s}: label 'walkng' is not a class of {detector} (fall, jump" in err


def esp32_session(path: Path, label: str, group: str = "") -> Path:
    with Recorder(path, [info(hw="esp32")], label=label, label_group=group) as rec:
        frames = [make_frame(i, n_rx=1, n_sub=64, hw="esp32") for i in range(3)]
        rec.append(FrameBatch.from_frames(frames))
    return path


def test_eval_without_profile_takes_the_recordings_hardware(tmp_path):
    from wdp.sensing.cli import _guess_profile

    esp32_session(tmp_path / "e.h5", "quiet")
    (entry,) = read_labels(tmp_path)
    assert entry.hw_format == "esp32" and _guess_profile([entry]) == "esp32"
    assert _guess_profile([LabelledFile(tmp_path / "x.pcap", "fall")]) == "nexmon"


def test_a_public_sets_other_classes_may_be_evaluated(taught, tmp_path):
    """WiAR's activities are no class of a har11 detector, but its false falls are a
    figure worth having: only the user's own labels are held to the detector's."""
    from argparse import Namespace

    from wdp.sensing.cli import _unusable

    det, path = Detector.load(taught["detector"]), session(tmp_path / "s.h5", "a1")
    args = Namespace(detector=taught["detector"], profile=None)
    assert _unusable([LabelledFile(path, "a1", dataset="intel5300-wiar")], det, args) is None
    assert "label 'a1' is not a class" in _unusable([LabelledFile(path, "a1")], det, args)


def test_sessions_of_other_hardware_are_named(taught, capsys, tmp_path):
    """A detector learns one profile's rate and links: ESP32 sessions are refused for an
    Intel 5300 detector, in training, evaluation and leave-one-out alike."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    session(folder / "a_walk.h5", "walking", "a")
    e = esp32_session(folder / "b_fall.h5", "fall", "b")
    line = train_error(capsys, folder, tmp_path)
    assert f"{e}: recorded with esp32 hardware, but --profile is intel5300" in line
    detector = taught["detector"]
    code, _, err = wdp(capsys, "eval", "--labels", folder, "--detector", detector, "--quiet")
    assert (
        code == 1 and f"{e}: recorded with esp32 hardware, but {detector} is for intel5300" in err
    )
    code, _, err = wdp(capsys, "eval", "--labels", folder, "--leave-one-out", "group", "--quiet")
    assert code == 1 and len(err.strip().splitlines()) == 1
    # one each: a tie goes to the first name, so the Intel 5300 session is the odd one
    assert f"{folder / 'a_walk.h5'}: recorded with intel5300 hardware, but others are esp32" in err
