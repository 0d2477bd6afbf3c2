"""``wdp inspect --plot``: the figure of a bundled recording, and the clear one-line
errors without matplotlib or with an output type it cannot write."""

import os
import sys
from pathlib import Path

import pytest
import trio

from wdp.cli import main
from wdp.pipeline.replay import replay
from wdp.plot import plot_recording
from wdp.recorder import open_recording

RECORDING = Path(__file__).resolve().parents[1] / "recordings" / "one_walker_intel5300.h5"


@pytest.fixture
def matplotlib():
    """matplotlib (the plot extra, which the test extra includes); a skip without it,
    a failure when CI is set (make test installs it)."""
    try:
        import matplotlib
    except ImportError:
        why = "matplotlib is missing (the plot extra: pip install 'wdp[plot]')"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {why}")
        pytest.skip(why)
    return matplotlib


async def test_the_figure_shows_the_recording_and_the_replays_tracks(tmp_path, matplotlib):
    out = tmp_path / "walker.png"
    shown = await trio.to_thread.run_sync(plot_recording, RECORDING, out)  # runs its own trio
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000
    with open_recording(RECORDING) as rec:
        assert shown.frames == rec.frame_count("r1") == 1000
        present = rec.truth().rows.present
    assert shown.router_id == "r1" and shown.subcarriers == 30
    assert shown.true_people == int(present.any(axis=0).sum()) == 1
    # 1000 frames, window 64, hop 8: 1 + (1000 - 64) // 8 spectra
    assert shown.doppler_windows == 1 + (1000 - 64) // 8
    tracks = set()

    def emit(event):
        if event.TYPE == "pose_data":
            tracks.update(p.track_id for p in event.persons)

    await replay(RECORDING, emit)
    assert shown.estimated_tracks == len(tracks) > 0


def test_cli_prints_the_summary_then_writes_the_plot(tmp_path, capsys, matplotlib):
    out = tmp_path / "walker.svg"
    assert main(["inspect", str(RECORDING), "--plot", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "routers: 1, frames: 1000" in printed
    assert printed.splitlines()[-1].endswith(f"-> {out}")
    assert out.read_bytes().lstrip().startswith(b"<?xml")


def test_an_unknown_output_type_is_one_line(tmp_path, capsys, matplotlib):
    assert main(["inspect", str(RECORDING), "--plot", str(tmp_path / "x.bmp")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "must end with .png, .svg, .pdf" in err
    assert not (tmp_path / "x.bmp").exists()


def test_without_matplotlib_plot_fails_with_how_to_install(tmp_path, capsys, monkeypatch):
    # An entry of None in sys.modules makes any import of it raise ImportError.
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["inspect", str(RECORDING), "--plot", str(tmp_path / "x.png")]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "wdp inspect: error: --plot needs matplotlib: pip install 'wdp[plot]' "
        "(or pip install matplotlib)\n"
    )
    assert captured.out == "" and not (tmp_path / "x.png").exists()
