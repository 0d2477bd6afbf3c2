"""End to end: ``wdp train --labels`` and ``wdp eval --labels`` on a handful of real
labelled captures (skipped without ../shared/real-data, failed under CI)."""

from pathlib import Path

import pytest

from wdp.cli import main
from wdp.sensing.detector import Detector

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"
HAR11 = REAL / "intel5300-har11" / "0510"
#: (folder, label, files): two subjects, three fall-like classes and a moving one.
PICK = (("falldown", "fall"), ("pick up", "pick_up"), ("walking", "walking"), ("jump", "jump"))


@pytest.fixture(scope="module")
def manifest(real_data, tmp_path_factory) -> Path:
    """A manifest of 3 files per class of subjects abid and hhj (hhj spelled hjj for
    falls: the group column folds them)."""
    rows = ["file,label,group"]
    for folder, label in PICK:
        for subject, group in (("abid", "abid"), ("hhj", "hhj"), ("hjj", "hhj")):
            files = sorted((HAR11 / folder).glob(f"{subject}_*.dat"))[:3]
            rows += [f"{f},{label},{group}" for f in files]
    path = tmp_path_factory.mktemp("labels") / "manifest.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_train_then_eval_and_leave_one_out(manifest, tmp_path, capsys):
    out, cache = tmp_path / "det.npz", str(tmp_path / "cache")
    argv = ["train", "--labels", str(manifest), "--profile", "intel5300", "--out", str(out)]
    assert main([*argv, "--cache", cache, "--quiet"]) == 0
    det = Detector.load(out)
    assert det.profile == "intel5300" and "fall" in det.classes
    assert (
        main(
            ["eval", "--detector", str(out), "--labels", str(manifest), "--cache", cache, "--quiet"]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "falls: recall" in text and "false alarms:" in text and "true/pred" in text
    argv = ["eval", "--labels", str(manifest), "--leave-one-out", "group", "--profile", "intel5300"]
    assert main([*argv, "--cache", cache, "--quiet", "--json", str(tmp_path / "s.json")]) == 0
    text = capsys.readouterr().out
    assert "leave one group out" in text
    assert (tmp_path / "s.json").read_text().count("fall_recall") == 1


def test_class_folders_train(real_data, tmp_path):
    root = tmp_path / "classes"
    for folder, label in PICK[:2]:
        (root / label).mkdir(parents=True)
        for f in sorted((HAR11 / folder).glob("abid_*.dat"))[:3]:
            (root / label / f.name).symlink_to(f)
    out = tmp_path / "det.npz"
    argv = ["train", "--labels", str(root), "--profile", "intel5300", "--out", str(out)]
    assert main([*argv, "--cache", str(tmp_path / "c"), "--quiet"]) == 0
    assert sorted(Detector.load(out).classes) == ["fall", "pick_up"]


def test_clear_errors(tmp_path, capsys):
    assert (
        main(["train", "--labels", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "d.npz")])
        == 1
    )
    assert "needs --profile" in capsys.readouterr().err
    bad = tmp_path / "m.csv"
    bad.write_text("file,label\nmissing.dat,fall\n")
    argv = [
        "train",
        "--labels",
        str(bad),
        "--profile",
        "intel5300",
        "--out",
        str(tmp_path / "d.npz"),
    ]
    assert main(argv) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["eval", "--labels", str(bad), "--detector", str(tmp_path / "none.npz")]) == 1
    # the pose model's eval still wants its model
    assert main(["eval"]) == 2
