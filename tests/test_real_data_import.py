"""Every real capture in ``../shared/real-data/`` and ``../shared/csi-samples/`` imports,
with csiread's frame counts after the documented filtering.

The files are read with the format readers (``read_capture``), not through HDF5, so
the ~1200 files stay within a minute; a few go the whole way through ``wdp import``.
The filtering (one transmitter, the majority layout; ``wdp.capture.filtering``) is
checked against what csiread itself reports of each frame: its source MAC and chanspec
(nexmon), its rate flags and receive chains (Intel 5300).
"""

import collections
import json
from pathlib import Path

import csiread
import numpy as np
import pytest

from wdp.capture.formats import read_capture
from wdp.capture.frame import normalize_mac
from wdp.cli import main
from wdp.recorder import open_recording

FITION_TX = "b8:27:eb:03:e1:9f"
HT40 = 0x800


def files(root: Path, suffix: str) -> list[Path]:
    found = sorted(root.rglob(f"*{suffix}"))
    assert found, f"no {suffix} files under {root}"
    return found


def rate_hz(batch) -> float:
    ts = batch.timestamp_ns
    return (len(ts) - 1) / ((ts[-1] - ts[0]) / 1e9)


def intel_expected(path: Path) -> tuple[int, int]:
    """(csiread's frame count, frames of its majority (bandwidth, Nrx) layout)."""
    ref = csiread.Intel(str(path), nrxnum=3, ntxnum=3, if_report=False)
    ref.read()
    layouts = collections.Counter(zip((ref.rate & HT40) != 0, ref.Nrx, strict=True))
    return ref.count, max(layouts.values()) if layouts else 0


@pytest.mark.parametrize(
    ("folder", "n_files", "rate"),
    [("intel5300-har11", 860, (19.5, 20.5)), ("intel5300-wiar", 160, (30.0, 37.0))],
)
def test_intel5300_sets_match_csiread(real_data, folder, n_files, rate):
    paths = files(real_data / folder, ".dat")
    assert len(paths) == n_files
    totals = collections.Counter()
    for path in paths:
        result = read_capture(path, router_id="r1", environment_id="lab")
        count, majority = intel_expected(path)
        dropped = result.dropped.get("minority layout", 0)
        assert result.frames == majority == count - dropped, path
        assert set(result.dropped) <= {"minority layout"}, path
        b = result.batch
        assert b.csi.shape[1:] == (1, 3, 30) and np.all(b.shape == (1, 3, 30)), path
        assert rate[0] < rate_hz(b) < rate[1], path
        totals.update(files=1, frames=result.frames, csiread=count, dropped=dropped)
    assert totals["frames"] == totals["csiread"] - totals["dropped"]
    print(folder, dict(totals))


def test_nexmon_fition_keeps_the_pi_at_80_mhz_like_csiread(real_data):
    paths = files(real_data / "nexmon-fition", ".pcap")
    assert len(paths) == 180
    totals = collections.Counter()
    for path in paths:
        result = read_capture(path, router_id="pi", environment_id="lab")
        ref = csiread.Nexmon(str(path), chip="43455c0", bw=80, if_report=False)
        ref.read()
        macs = [":".join(f"{int(x):02x}" for x in m) for m in ref.src_addr]
        wide = (ref.chan_spec & 0x3800) == 0x2000
        keep = np.array([m == FITION_TX for m in macs]) & wide
        assert result.frames == int(keep.sum()), path
        assert sum(result.dropped.values()) == ref.count - int(keep.sum()), path
        assert len(result.raw) == ref.count  # every datagram kept raw
        b = result.batch
        assert {normalize_mac(int(m)) for m in np.unique(b.source_mac)} == {FITION_TX}
        assert np.all(b.bandwidth_mhz == 80.0) and b.csi.shape[1:] == (1, 1, 256)
        # csiread's CSI of the frames kept, in FFT order, is ours in ascending order.
        expected = np.fft.fftshift(ref.csi[keep], axes=1).astype(np.complex64)
        assert np.array_equal(b.csi[:, 0, 0], expected), path
        assert 45 < rate_hz(b) < 55, path
        share = 1 - result.frames / ref.count
        totals.update(files=1, frames=result.frames, csiread=ref.count)
        totals["worst drop permille"] = max(totals["worst drop permille"], round(1000 * share))
    assert totals["csiread"] - totals["frames"] == 852  # ~1 % of 90000, other transmitters
    assert totals["worst drop permille"] == 168  # standup_user1_rm1_{1,3,5}: a second device
    print(dict(totals))


def test_esp32_espectre_archives_import_in_ascending_order(real_data):
    root = real_data / "esp32-espectre"
    info = json.loads((root / "dataset_info.json").read_text())
    listed = {f["filename"]: f for group in info["files"].values() for f in group}
    paths = files(root, ".npz")
    assert len(paths) == 21
    guard = np.isin(np.arange(-32, 32), [-32, -31, -30, 30, 31])
    for path in paths:
        result = read_capture(path, router_id="esp", environment_id="lab")
        with np.load(path) as z:
            n = z["csi_data"].shape[0]
            chip = str(z["chip"])
        assert result.frames == result.records == n and result.skipped == 0, path
        if path.name in listed and "num_packets" in listed[path.name]:
            assert n == listed[path.name]["num_packets"], path
        b = result.batch
        assert b.hw_format == "esp32" and np.array_equal(b.subcarriers[0], np.arange(-32, 32))
        amplitude = np.abs(b.csi[:, 0, 0]).mean(axis=0)
        # Whatever the chip's buffer order, the guard band lands on the same subcarriers
        # (C5 and C6 store ascending order, the others Espressif's FFT order).
        assert amplitude[guard].max() < 0.05 * amplitude[~guard].mean(), (path, chip)
        assert not any("judged" in note for note in result.notes), path
        assert 70 < rate_hz(b) < 150, path


SAMPLES = {  # file: (csiread reader, its count, frames after filtering)
    "intel5300_inject_3x1_1khz.dat": ("intel", 2998, 2998),
    "intel5300_log.all_csi.6.7.6.dat": ("intel", 29, 29),
    "nexmon_bcm43455c0_rpi_80mhz.pcap": ("nexmon", 566, 566),
    "atheros_ar93xx_3x2_56sc.dat": ("atheros", 401, 401),
    "esp32_csitool_passive_ch8.csv": (None, 833, 833),  # csiread fails on it (README)
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_csi_samples_import_with_csiread_counts(samples, name):
    reader, count, frames = SAMPLES[name]
    path = samples / name
    result = read_capture(path)
    assert result.frames == frames and result.dropped == {}
    if reader == "intel":
        ref = csiread.Intel(str(path), nrxnum=3, ntxnum=3, if_report=False)
    elif reader == "nexmon":
        ref = csiread.Nexmon(str(path), chip="43455c0", bw=80, if_report=False)
    elif reader == "atheros":
        ref = csiread.Atheros(str(path), if_report=False)
    if reader:
        ref.read()
        assert ref.count == count


def test_the_1_khz_intel_sample_keeps_its_rate(samples):
    b = read_capture(samples / "intel5300_inject_3x1_1khz.dat").batch
    assert rate_hz(b) == pytest.approx(1000.0, rel=0.001)
    assert b.csi.shape[1:] == (1, 3, 30)


# --------------------------------------------------------------------------- wdp import


def run_import(capsys, *args):
    code = main(["import", "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out.strip(), err


def test_wdp_import_of_a_capture_with_a_second_transmitter(real_data, tmp_path, capsys):
    path = real_data / "nexmon-fition" / "standup_user1_rm1" / "standup_user1_rm1_5.pcap"
    code, out, _ = run_import(capsys, path, "--out", tmp_path / "a.h5", "--router-id", "pi-1")
    assert code == 0
    assert out == (
        f"imported 416 frames from 500 records (nexmon), skipped 0, dropped 84 "
        f"(other transmitters 84) -> {tmp_path / 'a.h5'}"
    )
    with open_recording(tmp_path / "a.h5") as rec:
        b = rec.read_batch("pi-1")
        assert len(b) == 416 and len(rec.raw("pi-1")) == 500
        assert {f.source_mac for f in b.frames()} == {FITION_TX}
        assert rec.attrs.config["import"]["dropped"] == {"other transmitters": 84}
    code, out, _ = run_import(
        capsys, path, "--out", tmp_path / "b.h5", "--router-id", "pi-1", "--split-transmitters"
    )
    assert code == 0 and "routers pi-1.b827eb03e19f, pi-1.ec41184c1f6a" in out
    with open_recording(tmp_path / "b.h5") as rec:
        assert [rec.frame_count(r.router_id) for r in rec.routers] == [416, 84]
        assert sum(rec.raw_count(r.router_id) for r in rec.routers) == 500
    code, _, err = run_import(
        capsys, path, "--out", tmp_path / "c.h5", "--source-mac", "aa:bb:cc:dd:ee:ff"
    )
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert str(path) in err and "router router_001" in err and "source MAC aa:bb" in err
    assert not (tmp_path / "c.h5").exists()


@pytest.mark.parametrize(
    ("relative", "frames"),
    [
        ("esp32-espectre/baseline/baseline_c6_64sc_20260310_230414.npz", 1351),
        ("intel5300-har11/0510/falldown/abid_falldown1.dat", None),
    ],
)
def test_wdp_import_round_trips_through_hdf5(real_data, tmp_path, capsys, relative, frames):
    path = real_data / relative
    direct = read_capture(path, router_id="r1", environment_id="lab")
    out = tmp_path / "x.h5"
    code, line, _ = run_import(
        capsys, path, "--out", out, "--router-id", "r1", "--environment-id", "lab"
    )
    assert code == 0 and f"imported {direct.frames} frames" in line and "dropped 0" in line
    assert frames is None or direct.frames == frames
    with open_recording(out) as rec:
        back = rec.read_batch("r1")
        assert np.array_equal(back.csi, direct.batch.csi)
        assert np.array_equal(back.timestamp_ns, direct.batch.timestamp_ns)
        assert rec.raw_count("r1") == len(direct.raw)
