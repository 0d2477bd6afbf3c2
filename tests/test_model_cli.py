"""The train/eval entry points (what ``wdp train`` / ``wdp eval`` run) end to end."""

from wdp.inference import evaluation, training
from wdp.inference.model import Model

TRAIN = "train,seeds=0:2,duration=6,max_people=1"
HELD = "val-same,seeds=100:101,duration=6,max_people=1"


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "m.npz"
    cache = str(tmp_path / "cache")
    argv = ["--data", TRAIN, "--out", str(out), "--epochs", "2", "--hidden", "16"]
    assert training.main([*argv, "--cache", cache, "--quiet", "--seed", "3"]) == 0
    model = Model.load(out)
    assert model.training["seed"] == 3
    assert model.training["command"].startswith("wdp train --data " + TRAIN.split(",")[0])
    assert "trained on" in capsys.readouterr().out
    code = evaluation.main(
        ["--model", str(out), "--data", HELD, "--cache", cache, "--quiet", "--knn", "3"]
    )
    text = capsys.readouterr().out
    assert code == 0
    for word in (
        "presence F1",
        "count accuracy 0..3",
        "localization median",
        "MPJPE",
        "PCK@0.5",
        "activity accuracy",
        "mean pose",
        "kNN",
        "one person",
        "true \\ predicted",
    ):
        assert word in text


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert training.main(["--data", "nonsense", "--out", str(out)]) == 1
    assert training.main(["--data", "train,seeds=5:1", "--out", str(out)]) == 1
    assert training.main(["--data", TRAIN, "--out", str(tmp_path / "no" / "m.npz")]) == 1
    assert evaluation.main(["--model", str(tmp_path / "missing.npz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("wdp ") and "error" in line for line in err)
    assert not out.exists()
