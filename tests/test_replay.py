"""``wdp replay``: deterministic events across runs, speeds and worker counts; truth
comparison; clear errors for recordings that cannot be replayed."""

import shutil
from pathlib import Path

import h5py
import pytest
from model_data import tiny_model

from wdp.cli import main
from wdp.pipeline.replay import encode_event, replay

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
WALKER = RECORDINGS / "one_walker_intel5300.h5"
DATA = "layout=a,seeds=0:4,duration=15"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    tiny_model(DATA, epochs=5).save(path)
    return path


async def events_of(path, model, **kw):
    out = []
    report = await replay(path, out.append, model_path=model, **kw)
    return b"".join(encode_event(e) for e in out), report


async def test_same_bytes_across_runs_speeds_and_workers(model_file, autojump_clock):
    fast, report = await events_of(WALKER, model_file)
    again, _ = await events_of(WALKER, model_file)
    paced, _ = await events_of(WALKER, model_file, speed=1.0)
    two, _ = await events_of(WALKER, model_file, workers=2)
    assert fast == again == paced == two
    assert report.frames == 1000 and report.windows > 80 and report.closed_cleanly
    assert fast.count(b'"type":"pose_data"') == report.windows


def test_cli_emit_and_compare(model_file, tmp_path, capsys):
    out = tmp_path / "events.jsonl"
    assert (
        main(
            [
                "replay",
                str(WALKER),
                "--model",
                str(model_file),
                "--emit",
                str(out),
                "--compare-truth",
                "--quiet",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "person count accuracy" in text and "localization error" in text
    assert out.read_bytes().count(b"\n") > 80
    assert main(["replay", str(WALKER), "--model", str(model_file), "--emit", str(out)]) == 1
    assert "exists" in capsys.readouterr().err


def test_unclosed_recording_replays_with_a_warning(model_file, tmp_path, capsys):
    copy = tmp_path / "crashed.h5"
    shutil.copy(WALKER, copy)
    with h5py.File(copy, "r+") as f:
        f["closed_cleanly"][()] = 0
    assert main(["replay", str(copy), "--model", str(model_file), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "not closed cleanly" in captured.err and "replayed 1000 frames" in captured.out


@pytest.mark.parametrize("damage", ["truncate", "schema", "other_profile"])
def test_recordings_that_cannot_be_replayed_fail_with_one_line(
    model_file, tmp_path, capsys, damage
):
    copy = tmp_path / "bad.h5"
    shutil.copy(WALKER, copy)
    args = ["replay", str(copy), "--model", str(model_file), "--quiet"]
    if damage == "truncate":
        data = copy.read_bytes()
        copy.write_bytes(data[: len(data) // 3])
    elif damage == "schema":
        with h5py.File(copy, "r+") as f:
            f.attrs["schema_version"] = 99
    else:
        plain = tmp_path / "plain.h5"
        assert main(["import", str(Path("/dev/null")), "--out", str(plain)]) == 1
        capsys.readouterr()
        args = [
            "replay",
            str(RECORDINGS / "two_crossing_nexmon.h5"),
            "--compare-truth",
            "--model",
            str(model_file),
            "--quiet",
        ]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("wdp replay: error:"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_compare_truth_needs_truth(model_file, samples, tmp_path, capsys):
    real = tmp_path / "real.h5"
    assert (
        main(
            [
                "import",
                str(samples / "intel5300_inject_3x1_1khz.dat"),
                "--quiet",
                "--out",
                str(real),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["replay", str(real), "--compare-truth", "--model", str(model_file), "--quiet"]) == 1
    )
    assert "no ground truth" in capsys.readouterr().err
    # without --compare-truth the real capture replays (DSP and model on real data)
    assert main(["replay", str(real), "--model", str(model_file), "--quiet"]) == 0
    assert "replayed 2998 frames" in capsys.readouterr().out
