"""The command line: real files in, one clear line out on every kind of bad input."""

import os
import subprocess
import sys

import pytest

from wdp.cli import main
from wdp.recorder import open_recording


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "name, fmt, frames",
    [
        ("intel5300_inject_3x1_1khz.dat", "intel5300", 2998),
        ("intel5300_log.all_csi.6.7.6.dat", "intel5300", 29),
        ("atheros_ar93xx_3x2_56sc.dat", "atheros", 401),
        ("nexmon_bcm43455c0_rpi_80mhz.pcap", "nexmon", 566),
        ("esp32_csitool_passive_ch8.csv", "esp32", 833),
    ],
)
def test_import_then_inspect_real_sample(capsys, samples, tmp_path, name, fmt, frames):
    out = tmp_path / "rec.h5"
    code, stdout, err = run(capsys, "import", samples / name, "--quiet", "--out", out)
    assert code == 0, err
    assert f"imported {frames} frames" in stdout and f"({fmt})" in stdout
    with open_recording(out) as rec:
        assert sum(1 for _ in rec.frames()) == frames
        assert rec.closed_cleanly
    code, stdout, err = run(capsys, "inspect", out)
    assert code == 0, err
    assert str(frames) in stdout and "router_001" in stdout


def test_truncated_file_imports_what_precedes_and_reports(capsys, samples, tmp_path):
    data = (samples / "intel5300_inject_3x1_1khz.dat").read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: len(data) // 2 + 7])
    code, stdout, err = run(capsys, "import", cut, "--quiet", "--out", tmp_path / "cut.h5")
    assert code == 0
    frames = int(stdout.split("imported ")[1].split()[0])
    assert 1400 < frames < 1500
    assert "skipped 1" in stdout and "byte" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "content, extra, fragment",
    [
        (b"", [], "empty"),
        (os.urandom(5000), [], "not a recognised capture file"),
        (b"hello, world\n" * 50, ["--format", "intel5300"], ""),
        (b"\xd4\xc3\xb2\xa1" + os.urandom(100), ["--format", "esp32"], ""),
    ],
)
def test_unreadable_inputs_fail_with_one_line(capsys, tmp_path, content, extra, fragment):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    out = tmp_path / "out.h5"
    code, _, err = run(capsys, "import", bad, "--quiet", "--out", out, *extra)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wdp import: error:"), err
    assert fragment in lines[0]
    assert not out.exists()


def test_missing_path_and_existing_output(capsys, tmp_path):
    code, _, err = run(capsys, "import", tmp_path / "nope.dat", "--out", tmp_path / "o.h5")
    assert code == 1 and "nope.dat" in err and len(err.strip().splitlines()) == 1
    existing = tmp_path / "exists.h5"
    existing.write_bytes(b"keep me")
    code, _, err = run(capsys, "import", tmp_path / "x.dat", "--out", existing)
    assert code == 1 and "exists" in err
    assert existing.read_bytes() == b"keep me"


def test_inspect_refuses_non_recordings(capsys, tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(os.urandom(2048))
    code, _, err = run(capsys, "inspect", junk)
    assert code == 1 and err.startswith("wdp inspect: error:") and "Traceback" not in err


def test_record_refuses_bad_source(capsys, tmp_path):
    code, _, err = run(
        capsys, "record", "udp://127.0.0.1:1?format=bogus", "--out", tmp_path / "r.h5"
    )
    assert code == 1 and "format" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["import", "x.dat", "--out", "y.h5", "--router-id", "bad id!"])
    assert exc.value.code == 2


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "wdp.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("wdp ")


def test_token_command_mints_a_token_the_server_accepts(capsys, tmp_path, monkeypatch):
    from wdp.config import load_config
    from wdp.server.auth import Verifier

    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys,
        "token",
        "--sub",
        "alice",
        "--roles",
        "admin",
        "--environments",
        "room_001,room_002",
        "--ttl",
        "30m",
    )
    assert code == 0, err
    principal = Verifier.from_config(load_config(environ={}).auth, ".wdp").verify(out.strip())
    assert principal.subject == "alice" and principal.is_admin
    assert principal.environments == {"room_001", "room_002"}
    code, _, err = run(capsys, "token", "--sub", "alice", "--ttl", "400d")
    assert code == 1 and "ttl" in err
    with pytest.raises(SystemExit):
        main(["token", "--sub", "alice", "--ttl", "soon"])


def test_import_with_label_and_group_makes_a_training_session(capsys, samples, tmp_path):
    out = tmp_path / "fall.h5"
    argv = ["import", samples / "intel5300_log.all_csi.6.7.6.dat", "--quiet", "--out", out]
    code, stdout, err = run(capsys, *argv, "--label", "fall", "--group", "alice")
    assert code == 0, err
    assert stdout.rstrip().endswith(f"-> {out} (label fall, group alice)")
    with open_recording(out) as rec:
        assert (rec.attrs.label, rec.attrs.label_group) == ("fall", "alice")
    code, stdout, _ = run(capsys, "inspect", out)
    assert code == 0 and "  label: fall, group alice" in stdout


@pytest.mark.parametrize("command", ["import", "record"])
@pytest.mark.parametrize(
    "flag, value, fragment",
    [
        ("--label", "", "must not be empty"),
        ("--label", "walk,run", "must not contain a comma"),
        ("--label", "fall\nx", "must not contain a newline"),
        ("--label", "Sit down", "must be snake_case"),
        ("--group", "bob,alice", "must not contain a comma"),
    ],
)
def test_bad_label_is_a_usage_error_naming_the_option(
    capsys, tmp_path, command, flag, value, fragment
):
    source = "x.dat" if command == "import" else "udp://127.0.0.1:0?format=nexmon"
    out = tmp_path / "o.h5"
    with pytest.raises(SystemExit) as exc:
        main([command, source, "--out", str(out), flag, value])
    assert exc.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"wdp {command}: error: argument {flag}:") and fragment in last
    assert not out.exists()


def test_record_with_label_writes_it(capsys, tmp_path):
    """A live session recorded with --label/--group carries them (nothing sent: 0 frames)."""
    out = tmp_path / "live.h5"
    argv = ["record", "udp://127.0.0.1:0?format=nexmon&router_id=pi-1", "--out", out]
    code, stdout, err = run(capsys, *argv, "--duration", "0.2", "--quiet", "--label", "walking")
    assert code == 0, err
    assert stdout.rstrip().endswith("(label walking)")
    with open_recording(out) as rec:
        assert (rec.attrs.label, rec.attrs.label_group) == ("walking", "")
        assert rec.closed_cleanly
