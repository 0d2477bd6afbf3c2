"""HDF5 recording: round trips, schema readable by plain h5py and h5dump, flush policy, errors."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from recorder_frames import assert_same, info, make_frame

from wdp.capture import FrameBatch, sort_key
from wdp.capture.formats.base import RawRecords
from wdp.recorder import (
    SCHEMA_VERSION,
    Recorder,
    RecordingError,
    RouterInfo,
    UndeclaredRouterError,
    format_summary,
    open_recording,
    summarize,
)


def mixed_frames(n: int, router: str = "r1") -> list:
    """Shapes as real hardware varies them: n_tx 1..3, n_rx 2..3, and two layouts of 30
    subcarriers (different indices, same count) besides 56 subcarriers."""
    frames = []
    for i in range(n):
        n_sub, start = [(30, -28), (30, -29), (56, -55)][(i // 5) % 3]
        frames.append(
            make_frame(
                i,
                router=router,
                n_tx=1 + i % 3,
                n_rx=3 if i % 11 else 2,
                n_sub=n_sub,
                sub_start=start,
            )
        )
    return frames


def test_round_trip_of_frames_of_different_shapes(tmp_path):
    frames = mixed_frames(300)
    path = tmp_path / "rec.h5"
    with Recorder(path, [info()], chunk_frames=16) as rec:
        for f in frames[:40]:  # per-frame path, crossing slab boundaries
            rec.append_frame(f)
        rec.append(FrameBatch.from_frames(frames[40:45]))  # smaller than a slab
        rec.append(FrameBatch.from_frames(frames[45:200]))  # many slabs at once
        for f in frames[200:203]:
            rec.append_frame(f)
        for a in range(203, 300, 9):
            rec.append(FrameBatch.from_frames(frames[a : a + 9]))
        assert rec.frame_count("r1") == 300
    with open_recording(path) as r:
        assert r.closed_cleanly
        assert r.frame_count("r1") == 300
        assert_same(list(r.frames()), frames)
        batches = list(r.batches("r1", chunk_frames=7))
        assert [len(b) for b in batches] == [7] * 42 + [6]
        assert_same([f for b in batches for f in b.frames()], frames)
        one = r.read_batch("r1")
        assert one.csi.shape == (300, 3, 3, 56)
        assert_same(list(one.frames()), frames)


def test_caller_may_reuse_its_arrays_after_append(tmp_path):
    frames = [make_frame(i) for i in range(5)]
    batch = FrameBatch.from_frames(frames)
    buf = bytearray(b"abcd")
    path = tmp_path / "reuse.h5"
    with Recorder(path, [info()]) as rec:
        rec.append(batch)  # buffered: fewer frames than a slab
        rec.append_raw("r1", RawRecords(buf, np.array([0, 4]), np.array([1])))
        batch.csi[:] = 0
        batch.timestamp_ns[:] = -1
        buf[:] = b"zzzz"
    with open_recording(path) as r:
        assert_same(list(r.frames()), frames)
        assert r.raw("r1").record(0) == b"abcd"


def test_empty_recording_reads_back_empty(tmp_path):
    path = tmp_path / "empty.h5"
    Recorder(path, [info()]).close()
    with open_recording(path) as r:
        assert r.routers == (info(),)
        assert list(r.frames()) == []
        assert r.read_batch("r1") is None
        assert len(r.raw("r1")) == 0
        assert r.closed_cleanly


def test_raw_bytes_round_trip(tmp_path):
    records = [bytes([i % 256]) * (i * 37 % 1500) for i in range(200)]  # includes b""
    times = [1_000 + i for i in range(200)]
    shifted = RawRecords(b"XXabcdefgh", np.array([2, 5, 5, 10]), np.array([7, 8, 9]))
    path = tmp_path / "raw.h5"
    with Recorder(path, [info("a"), info("b", hw="nexmon")], chunk_frames=32) as rec:
        rec.append_raw("a", RawRecords.from_list(records[:100], times[:100]))
        for d, t in zip(records[100:150], times[100:150], strict=True):
            rec.append_raw_one("a", d, t)
        rec.append_raw("a", shifted)  # offsets need not start at 0
        rec.append_raw("a", RawRecords.from_list(records[150:], times[150:]))
        rec.append_raw_one("b", b"\x00\x01", 5)
        assert rec.raw_count("a") == 203
    want = records[:150] + [b"abc", b"", b"defgh"] + records[150:]
    want_t = times[:150] + [7, 8, 9] + times[150:]
    with open_recording(path) as r:
        raw = r.raw("a")
        assert len(raw) == 203
        assert [raw.record(i) for i in range(203)] == want
        assert raw.host_time_ns.tolist() == want_t
        b = r.raw("b")
        assert (b.record(0), int(b.host_time_ns[0])) == (b"\x00\x01", 5)


def test_order_across_routers_is_sort_key_order_and_deterministic(tmp_path):
    # r2 ticks at 2 ms, r1 and r3 at 1 ms: many equal timestamps across routers, and
    # r3 repeats timestamps within itself (sequence breaks the tie).
    r1 = [make_frame(i, router="r1", ts=i * 1_000_000) for i in range(60)]
    r2 = [make_frame(i, router="r2", ts=i * 2_000_000, n_tx=2) for i in range(30)]
    r3 = [make_frame(i, router="r3", ts=(i // 2) * 1_000_000, n_sub=56) for i in range(60)]
    path = tmp_path / "order.h5"
    with Recorder(path, [info("r3"), info("r1"), info("r2")]) as rec:
        rec.append(FrameBatch.from_frames(r2))
        for f in r3:
            rec.append_frame(f)
        rec.append(FrameBatch.from_frames(r1[:25]))
        rec.append(FrameBatch.from_frames(r1[25:]))
    want = sorted(r1 + r2 + r3, key=sort_key)
    with open_recording(path) as r:
        assert [x.router_id for x in r.routers] == ["r1", "r2", "r3"]
        first = list(r.frames(chunk_frames=4))
        second = list(r.frames(chunk_frames=64))
    assert [sort_key(f) for f in first] == [sort_key(f) for f in want]
    assert_same(first, want)
    assert_same(second, want)


def test_router_ids_that_hdf5_cannot_name_directly(tmp_path):
    ids = ["192.168.1.7/eth0", ".", "..hidden", "room 1: esp32 #2"]
    path = tmp_path / "names.h5"
    with Recorder(path, [info(i, hw="esp32") for i in ids]) as rec:
        for k, rid in enumerate(ids):
            rec.append_frame(make_frame(k, router=rid, n_rx=1, n_sub=64, hw="esp32"))
    with open_recording(path) as r:
        assert sorted(x.router_id for x in r.routers) == sorted(ids)
        assert sorted(f.router_id for f in r.frames()) == sorted(ids)


def record_sample(path, frames, raw=None, **kwargs):
    with Recorder(
        path,
        [info()],
        source="test: synthetic",
        config={"routers": ["r1"], "rate_hz": 1000},
        wall_clock_ns=lambda: 1_700_000_000_123_456_789,
        **kwargs,
    ) as rec:
        rec.append(FrameBatch.from_frames(frames))
        if raw is not None:
            rec.append_raw("r1", raw)


def test_plain_h5py_reads_the_schema(tmp_path):
    frames = mixed_frames(40)
    raw = RawRecords.from_list([b"one", b"three"], [11, 12])
    path = tmp_path / "plain.h5"
    record_sample(path, frames, raw)
    with h5py.File(path, "r") as f:  # closed cleanly: no SWMR flag needed
        a = f.attrs
        assert a["format"] == "wdp-csi-recording"
        assert a["schema_version"] == SCHEMA_VERSION
        assert a["wdp_version"] == __import__("wdp").__version__
        assert json.loads(a["config"]) == {"rate_hz": 1000, "routers": ["r1"]}
        libs = json.loads(a["library_versions"])
        assert {"numpy", "h5py", "hdf5", "csiread", "numba"} <= set(libs)
        assert libs["h5py"] == h5py.version.version
        assert a["source"] == "test: synthetic"
        assert a["start_time_ns"] == 1_700_000_000_123_456_789
        iso = datetime.datetime.fromisoformat(a["start_time_iso"])
        assert iso == datetime.datetime(2023, 11, 14, 22, 13, 20, 123457, datetime.UTC)
        assert f["closed_cleanly"][()] == 1
        assert "ground truth" in f["truth"].attrs["description"]
        assert len(f["truth"]) == 0
        g = f["routers/r1"]
        assert dict(g.attrs) == {
            "router_id": "r1",
            "environment_id": "room",
            "hw_format": "intel5300",
        }
        assert g["n_frames"][()] == 40
        assert g["csi"].dtype == np.complex64
        assert g["csi"].shape == (40, 3, 3, 56)
        assert g["csi"].chunks is not None and g["csi"].maxshape == (None,) * 4
        shape, layout = g["shape"][()], g["layout"][()]
        sets, sizes = g["subcarrier_sets"][()], g["subcarrier_set_sizes"][()]
        assert len(sets) == 3  # three distinct index sets in mixed_frames
        for i, fr in enumerate(frames):
            t, r, s = shape[i]
            assert (t, r, s) == fr.shape
            assert sizes[layout[i]] == s
            np.testing.assert_array_equal(sets[layout[i], :s], fr.subcarriers)
            np.testing.assert_array_equal(g["csi"][i, :t, :r, :s], fr.csi)
            assert not g["csi"][i, t:, :, :].any() and not g["csi"][i, :, r:, :].any()
            np.testing.assert_array_equal(g["rssi_dbm"][i, :r], fr.rssi_dbm)
            assert np.isnan(g["rssi_dbm"][i, r:]).all()
        np.testing.assert_array_equal(g["timestamp_ns"][()], [f.timestamp_ns for f in frames])
        np.testing.assert_array_equal(g["host_time_ns"][()], [f.host_time_ns for f in frames])
        np.testing.assert_array_equal(g["sequence"][()], [f.sequence for f in frames])
        assert g["timestamp_ns"].dtype == np.int64
        np.testing.assert_array_equal(
            g["center_freq_mhz"][()], np.array([f.center_freq_mhz for f in frames], np.float32)
        )
        assert g["raw/bytes"][()].tobytes() == b"onethree"
        assert g["raw/offsets"][()].tolist() == [0, 3, 8]
        assert g["raw/host_time_ns"][()].tolist() == [11, 12]
        assert g["raw/n_records"][()] == 2


def test_h5dump_reads_the_file(tmp_path):
    if shutil.which("h5dump") is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but h5dump is missing (.ci/run installs hdf5-tools)")
        pytest.skip("h5dump not installed (Debian package hdf5-tools)")
    frames = mixed_frames(12)
    path = tmp_path / "dump.h5"
    record_sample(path, frames, RawRecords.from_list([b"AB"], [3]))
    header = subprocess.run(["h5dump", "-H", str(path)], capture_output=True, text=True)
    assert header.returncode == 0, header.stderr
    for name in ("csi", "subcarrier_sets", "layout", "shape", "raw", "truth", "closed_cleanly"):
        assert f'"{name}"' in header.stdout
    assert "H5T_COMPOUND" in header.stdout and "H5S_UNLIMITED" in header.stdout
    ts = subprocess.run(
        ["h5dump", "-d", "/routers/r1/timestamp_ns", "-w", "0", str(path)],
        capture_output=True,
        text=True,
    )
    assert ts.returncode == 0, ts.stderr
    data = ts.stdout.split("DATA {")[1].split("}")[0]
    values = [int(v) for v in data.split(":", 1)[1].replace(",", " ").split()]
    assert values == [f.timestamp_ns for f in frames]
    csi = subprocess.run(["h5dump", "-d", "/routers/r1/csi", str(path)], capture_output=True)
    assert csi.returncode == 0


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


_DISK_READER = (
    "import sys, h5py\n"
    "f = h5py.File(sys.argv[1], 'r', swmr=True)\n"
    "g = f['routers/r1']\n"
    "print(int(g['n_frames'][()]), g['timestamp_ns'].shape[0])\n"
)


def on_disk(path) -> tuple[int, int]:
    """(committed count, timestamp rows) as another process sees the file now."""
    out = subprocess.run(
        [sys.executable, "-c", _DISK_READER, str(path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    committed, rows = out.stdout.split()
    return int(committed), int(rows)


def test_flush_policy_with_injected_clock(tmp_path):
    clock = FakeClock()
    path = tmp_path / "flush.h5"
    rec = Recorder(path, [info()], clock=clock, flush_interval=0.5, chunk_frames=4)
    try:
        for k in range(3):
            clock.t = 100.1 + 0.1 * k
            rec.append_frame(make_frame(k))
        assert (rec.flushes, rec.committed_count("r1")) == (0, 0)
        clock.t = 100.45
        rec.append_frame(make_frame(3))  # fills a slab: written to HDF5, not committed
        assert (rec.flushes, rec.committed_count("r1")) == (0, 0)
        assert on_disk(path)[0] == 0
        clock.t = 100.5
        rec.append_frame(make_frame(4))  # 0.5 s since opening: flush
        assert (rec.flushes, rec.committed_count("r1")) == (1, 5)
        assert on_disk(path) == (5, 5)
        clock.t = 100.7
        rec.append(FrameBatch.from_frames([make_frame(5), make_frame(6)]))
        clock.t = 100.99
        rec.poll()
        assert (rec.flushes, rec.committed_count("r1")) == (1, 5)
        clock.t = 101.0
        rec.poll()  # an idle writer's periodic call flushes too
        assert (rec.flushes, rec.committed_count("r1")) == (2, 7)
        assert on_disk(path) == (7, 7)
    finally:
        rec.close()
    assert on_disk(path) == (7, 7)
    with open_recording(path) as r:
        assert r.closed_cleanly
        assert_same(list(r.frames()), [make_frame(k) for k in range(7)])


def test_undeclared_router_is_a_clear_error(tmp_path):
    with Recorder(tmp_path / "u.h5", [info("r1")]) as rec:
        with pytest.raises(UndeclaredRouterError, match="'r9' was not declared"):
            rec.append_frame(make_frame(0, router="r9"))
        with pytest.raises(UndeclaredRouterError, match="r9"):
            rec.append(FrameBatch.from_frames([make_frame(0, router="r9")]))
        with pytest.raises(UndeclaredRouterError, match="r9"):
            rec.append_raw_one("r9", b"x", 1)
        with pytest.raises(RecordingError, match="declared as intel5300, got a nexmon"):
            rec.append_frame(make_frame(0, hw="nexmon"))
        with pytest.raises(RecordingError, match="environment"):
            rec.append_frame(make_frame(0, env="kitchen"))
        rec.append_frame(make_frame(0))
    assert issubclass(UndeclaredRouterError, RecordingError)
    with pytest.raises(RecordingError, match="closed"):
        rec.append_frame(make_frame(1))
    with open_recording(tmp_path / "u.h5") as r:
        assert r.frame_count("r1") == 1
        with pytest.raises(RecordingError, match="no router 'r9'"):
            r.raw("r9")


def test_recorder_never_overwrites_unless_asked(tmp_path):
    path = tmp_path / "x.h5"
    record_sample(path, mixed_frames(3))
    with pytest.raises(RecordingError, match="exists"):
        Recorder(path, [info()])
    Recorder(path, [info("other")], overwrite=True).close()
    with open_recording(path) as r:
        assert [x.router_id for x in r.routers] == ["other"]
    with pytest.raises(RecordingError, match="declared twice"):
        Recorder(tmp_path / "y.h5", [info(), info()])
    with pytest.raises(RecordingError, match="cannot create"):
        Recorder(tmp_path / "missing-dir" / "z.h5", [info()])


def _non_wdp_hdf5(path):
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(3)


def _newer_schema(path):
    record_sample(path, mixed_frames(2))
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1


def _no_routers(path):
    with h5py.File(path, "w", libver=("v110", "v110")) as f:
        f.attrs["format"] = "wdp-csi-recording"
        f.attrs["schema_version"] = 1


def _truncated(path):
    record_sample(path, mixed_frames(50))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_FILES = {
    "missing": (lambda p: None, "no such file"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "random bytes": (
        lambda p: p.write_bytes(np.random.default_rng(1).bytes(5000)),
        "not an HDF5 file",
    ),
    "text": (lambda p: p.write_text("timestamp,csi\n1,2\n"), "not an HDF5 file"),
    "directory": (lambda p: p.mkdir(), "directory"),
    "hdf5 but not wdp": (_non_wdp_hdf5, "not a wdp recording"),
    "newer schema": (_newer_schema, "newer than this wdp reads"),
    "no routers group": (_no_routers, "damaged wdp recording"),
    "truncated": (_truncated, "truncated"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_files_give_one_line_recording_error(tmp_path, kind):
    make, message = BAD_FILES[kind]
    path = tmp_path / "bad.h5"
    make(path)
    with pytest.raises(RecordingError, match=message) as err:
        with open_recording(path) as r:
            list(r.frames())
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    with pytest.raises(RecordingError):
        summarize(path)


def test_damaged_bytes_never_escape_as_other_errors(tmp_path):
    """Overwrite blocks at many places: reading gives frames or a RecordingError, nothing else."""
    good = tmp_path / "good.h5"
    record_sample(good, mixed_frames(30), RawRecords.from_list([b"abc"] * 5, [1] * 5))
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(7)
    outcomes = {"read": 0, "error": 0}
    # metadata sits mostly near the start; raw chunks fill the rest
    spots = np.concatenate(
        [np.arange(0, min(len(data), 24_000), 400), np.linspace(0, len(data) - 64, 20)]
    )
    for k, at in enumerate(spots.astype(int)):
        damaged = bytearray(data)
        damaged[at : at + 64] = rng.bytes(64)
        path = tmp_path / f"d{k}.h5"
        path.write_bytes(bytes(damaged))
        try:
            with open_recording(path) as r:
                for rid in (x.router_id for x in r.routers):
                    list(r.batches(rid))
                    r.raw(rid)
                format_summary(summarize(path))
            outcomes["read"] += 1
        except RecordingError as e:
            assert "\n" not in str(e)
            outcomes["error"] += 1
    assert outcomes["error"] > 0  # metadata was hit somewhere
    assert outcomes["read"] > 0  # and raw data blocks are not checked, so those still read


def test_summary_of_a_recording(tmp_path):
    # 1 kHz with one 10 ms hole, plus a second router with another shape
    ts = [i * 1_000_000 for i in range(100)] + [109_000_000 + i * 1_000_000 for i in range(50)]
    r1 = [make_frame(i, ts=t, n_tx=1 if i < 120 else 2) for i, t in enumerate(ts)]
    r2 = [make_frame(i, router="r2", ts=i * 5_000_000, n_rx=1, hw="esp32") for i in range(5)]
    path = tmp_path / "sum.h5"
    with Recorder(path, [info("r1"), info("r2", hw="esp32")], source="unit test") as rec:
        rec.append(FrameBatch.from_frames(r1))
        rec.append(FrameBatch.from_frames(r2))
        for k in range(4):
            rec.append_raw_one("r1", b"datagram", k)
    s = summarize(path)
    assert s.closed_cleanly and s.source == "unit test" and s.frames == 155
    assert s.wdp_version == __import__("wdp").__version__
    a, b = s.routers
    assert (a.router_id, a.hw_format, a.frames, a.raw_records) == ("r1", "intel5300", 150, 4)
    assert a.duration_s == pytest.approx(0.158)
    assert a.mean_rate_hz == pytest.approx(149 / 0.158)
    assert a.median_interval_s == pytest.approx(0.001)
    assert (a.gaps, a.largest_interval_s) == (1, pytest.approx(0.010))
    assert a.shapes == (((1, 3, 30), 120), ((2, 3, 30), 30))
    rssi = np.array([f.rssi_dbm for f in r1], dtype=np.float64)
    np.testing.assert_allclose(a.rssi_mean_dbm, np.nanmean(rssi, axis=0), rtol=1e-6)
    assert (b.frames, b.shapes, b.gaps, b.raw_records) == (5, (((1, 1, 30), 5),), 0, 0)
    assert b.mean_rate_hz == pytest.approx(200.0)
    text = format_summary(s)
    assert "closed cleanly: yes" in text
    assert "router r1 (intel5300, environment room): 150 frames" in text
    assert "gaps (> 3x median interval 1.000 ms): 1, largest interval 10.000 ms" in text
    assert "1x3x30: 120, 2x3x30: 30" in text
    assert "raw records: 4" in text


def test_reader_follows_a_file_being_written(tmp_path):
    """An SWMR reader in another process sees the committed frames grow."""
    path = tmp_path / "live.h5"
    rec = Recorder(path, [info()], flush_interval=0.0)  # flush on every append
    try:
        rec.append(FrameBatch.from_frames([make_frame(i) for i in range(10)]))
        assert on_disk(path) == (10, 10)
        rec.append(FrameBatch.from_frames([make_frame(i) for i in range(10, 25)]))
        assert on_disk(path) == (25, 25)
        summary = subprocess.run(
            [sys.executable, "-c", _SUMMARY, str(path)], capture_output=True, text=True
        )
        assert summary.returncode == 0, summary.stderr
        assert summary.stdout.split() == ["25", "False"]
    finally:
        rec.close()


_SUMMARY = (
    "import sys\n"
    "from wdp.recorder import open_recording\n"
    "with open_recording(sys.argv[1]) as r:\n"
    "    print(len(list(r.frames())), r.closed_cleanly)\n"
)


def test_config_snapshot_forms(tmp_path):
    import attrs

    @attrs.frozen
    class Cfg:
        rate: int = 5
        name: str = "x"

    for k, (config, want) in enumerate(
        [
            (None, None),
            (Cfg(), {"rate": 5, "name": "x"}),
            ("plain words", "plain words"),
            ('{"a": [1, 2]}', {"a": [1, 2]}),
            ({"p": os.sep}, {"p": os.sep}),
        ]
    ):
        path = tmp_path / f"c{k}.h5"
        Recorder(path, [info()], config=config).close()
        with open_recording(path) as r:
            assert r.attrs.config == want


def test_router_info_validates():
    with pytest.raises(ValueError):
        RouterInfo("", "room", "intel5300")
    with pytest.raises(ValueError, match="unknown hardware format"):
        RouterInfo("r", "room", "wifi9000")


def test_real_captures_round_trip(samples, tmp_path):
    """Every real capture, imported by its format reader, records and reads back exactly."""
    from wdp.capture.formats import read_capture

    files = sorted(p for p in samples.iterdir() if p.suffix in (".dat", ".csv", ".pcap"))
    imports = {p.stem: read_capture(p, router_id=p.stem, environment_id="lab") for p in files}
    assert len(imports) == 5
    path = tmp_path / "real.h5"
    infos = [RouterInfo(k, "lab", imp.batch.hw_format) for k, imp in imports.items()]
    with Recorder(path, infos, source=f"import of {len(files)} sample files") as rec:
        for k, imp in imports.items():
            rec.append(imp.batch)
            rec.append_raw(k, imp.raw)
    with open_recording(path) as r:
        for k, imp in imports.items():
            got = [f for b in r.batches(k, chunk_frames=1000) for f in b.frames()]
            assert_same(got, list(imp.batch.frames()))
            raw = r.raw(k)
            assert raw.data == imp.raw.data[imp.raw.offsets[0] : imp.raw.offsets[-1]]
            np.testing.assert_array_equal(raw.offsets, imp.raw.offsets - imp.raw.offsets[0])
            np.testing.assert_array_equal(raw.host_time_ns, imp.raw.host_time_ns)
        merged = [sort_key(f) for f in r.frames()]
    assert merged == sorted(merged) and len(merged) == sum(i.frames for i in imports.values())
    s = {x.router_id: x for x in summarize(path).routers}
    inject = s["intel5300_inject_3x1_1khz"]
    assert inject.frames == 2998 and inject.shapes == (((1, 3, 30), 2998),)
    assert inject.mean_rate_hz == pytest.approx(1000, rel=1e-3) and inject.gaps == 0
    log = s["intel5300_log.all_csi.6.7.6"]
    assert {shape[0] for shape, _ in log.shapes} == {1, 2, 3}  # n_tx varies frame by frame
    assert s["nexmon_bcm43455c0_rpi_80mhz"].shapes == (((1, 1, 256), 566),)


def test_recordings_without_the_source_mac_column_still_read(tmp_path):
    """Files written before frames carried their transmitter have no ``source_mac``
    column: they read as before, every transmitter unknown."""
    import h5py

    from wdp.capture.frame import CsiFrame

    path = tmp_path / "old.h5"
    frames = [
        CsiFrame(
            timestamp_ns=i, host_time_ns=0, router_id="r1", environment_id="e", sequence=i,
            csi=np.ones((1, 1, 4)), subcarriers=np.arange(4), rssi_dbm=np.zeros(1),
            noise_floor_dbm=0.0, center_freq_mhz=0.0, bandwidth_mhz=20.0, hw_format="nexmon",
            source_mac="b8:27:eb:03:e1:9f",
        )
        for i in range(3)
    ]  # fmt: skip
    with Recorder(path, routers=[RouterInfo("r1", "e", "nexmon")]) as rec:
        for f in frames:
            rec.append_frame(f)
    with open_recording(path) as r:
        assert [f.source_mac for f in r.frames()] == ["b8:27:eb:03:e1:9f"] * 3
    with h5py.File(path, "r+") as f:
        del f["routers/r1/source_mac"]
    with open_recording(path) as r:
        back = list(r.frames())
        assert [f.source_mac for f in back] == [""] * 3 and len(back) == 3
        assert r.column("r1", "source_mac").tolist() == [0, 0, 0]


def test_label_and_group_are_root_attributes_and_optional(tmp_path):
    """A labelled training session (``wdp record --label``) keeps its label and group as
    root attributes that plain h5py reads; an unlabelled file has neither, as files
    written before labels existed, and reads as ""."""
    labelled, plain = tmp_path / "walk.h5", tmp_path / "plain.h5"
    record_sample(labelled, mixed_frames(3), label="sit_down", label_group="room 2")
    record_sample(plain, mixed_frames(3))
    with h5py.File(labelled, "r") as f:
        assert (f.attrs["label"], f.attrs["label_group"]) == ("sit_down", "room 2")
    with h5py.File(plain, "r") as f:
        assert "label" not in f.attrs and "label_group" not in f.attrs
    with open_recording(labelled) as r:
        assert (r.attrs.label, r.attrs.label_group) == ("sit_down", "room 2")
    with open_recording(plain) as r:
        assert (r.attrs.label, r.attrs.label_group) == ("", "")
    assert "  label: sit_down, group room 2" in format_summary(summarize(labelled))
    assert "  label:" not in format_summary(summarize(plain))


@pytest.mark.parametrize(
    "label, group, fragment",
    [
        ("a,b", "", "label must not contain a comma"),
        ("walk\ning", "", "newline"),
        ("walking", "alice\r", "label_group must not contain a newline"),
        ("walking", " alice", "label_group must not start or end with a space"),
        ("Sit down", "", "label must be snake_case"),
        ("2nd_fall", "", "label must be snake_case"),
        ("x" * 65, "", "at most 64"),
    ],
)
def test_bad_labels_are_refused_before_the_file_is_made(tmp_path, label, group, fragment):
    path = tmp_path / "bad.h5"
    with pytest.raises(RecordingError, match=fragment) as exc:
        Recorder(path, [info()], label=label, label_group=group)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)  # one line
    assert not path.exists()
