"""Rolling recordings: by size, by frame-time duration, by new router; retention; names."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from recorder_frames import assert_same, info, make_frame

from wdp.capture import FrameBatch
from wdp.capture.formats.base import RawRecords
from wdp.recorder import RecordingError, RollingRecorder, UndeclaredRouterError, open_recording
from wdp.recorder.writer import frame_bytes


class WallClock:
    """Injected wall clock: 1 ms per file, so names are distinct and ordered."""

    def __init__(self) -> None:
        self.ns = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        self.ns += 1_000_000
        return self.ns


def read_all(paths):
    out = []
    for p in paths:
        with open_recording(p) as r:
            assert r.closed_cleanly
            out.append(list(r.frames()))
    return out


def write_in_batches(roller, frames, sizes):
    it = iter(frames)
    for size in itertools.cycle(sizes):
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        roller.append(FrameBatch.from_frames(chunk))


FRAME_BYTES = int(frame_bytes(np.array([[1, 3, 30]]))[0])  # 1x3x30 frames


@pytest.mark.parametrize("sizes", [[1], [37], [5, 200, 3]])
def test_rolls_by_size_at_the_same_frames_whatever_the_batching(tmp_path, sizes):
    frames = [make_frame(i) for i in range(250)]
    with RollingRecorder(
        tmp_path, "s", max_bytes=100 * FRAME_BYTES, wall_clock_ns=WallClock()
    ) as roller:
        write_in_batches(roller, frames, sizes)
        files = list(roller.files)
    assert sorted(os.listdir(tmp_path)) == [p.name for p in files]
    parts = read_all(files)
    assert [len(p) for p in parts] == [100, 100, 50]
    assert_same([f for p in parts for f in p], frames)


def test_rolls_by_duration_of_frame_time(tmp_path):
    # 1 kHz for 0.35 s with irregular batching; 0.1 s per file, measured on timestamps
    frames = [make_frame(i, ts=5_000_000_000 + i * 1_000_000) for i in range(350)]
    with RollingRecorder(tmp_path, "d", max_seconds=0.1, wall_clock_ns=WallClock()) as roller:
        write_in_batches(roller, frames[:100], [33])
        for f in frames[100:180]:
            roller.append_frame(f)
        write_in_batches(roller, frames[180:], [64, 7])
        files = list(roller.files)
    parts = read_all(files)
    assert [len(p) for p in parts] == [100, 100, 100, 50]
    for p in parts:
        assert p[-1].timestamp_ns - p[0].timestamp_ns < 100_000_000
    assert_same([f for p in parts for f in p], frames)


def test_a_new_router_rolls_to_a_file_that_declares_it(tmp_path):
    with RollingRecorder(tmp_path, "n", wall_clock_ns=WallClock()) as roller:
        assert roller.current_path is None  # no data yet, no file
        roller.append_frame(make_frame(0, router="r1"))
        roller.append_frame(make_frame(1, router="r1"))
        first = roller.current_path
        roller.append(FrameBatch.from_frames([make_frame(0, router="r2", hw="esp32")]))
        second = roller.current_path
        roller.append_frame(make_frame(2, router="r1"))
        roller.append_raw_one("r2", b"pkt", 9)
        with pytest.raises(UndeclaredRouterError, match="declare it first"):
            roller.append_raw_one("r3", b"pkt", 9)
        roller.declare(info("r3", hw="nexmon"))  # a router known before its first frame
        third = roller.current_path
        roller.append_raw("r3", RawRecords.from_list([b"a", b"bc"], [1, 2]))
    assert roller.files == [first, second, third]
    with open_recording(first) as r:
        assert [x.router_id for x in r.routers] == ["r1"]
        assert r.frame_count("r1") == 2
    with open_recording(second) as r:
        assert [(x.router_id, x.hw_format) for x in r.routers] == [
            ("r1", "intel5300"),
            ("r2", "esp32"),
        ]
        assert [(f.router_id, f.sequence) for f in r.frames()] == [("r2", 0), ("r1", 2)]
        assert r.raw("r2").record(0) == b"pkt"
    with open_recording(third) as r:
        assert len(r.routers) == 3 and r.raw("r3").record(1) == b"bc"
    with pytest.raises(RecordingError, match="closed"):
        roller.append_frame(make_frame(3))


def test_retention_deletes_the_oldest_files(tmp_path):
    (tmp_path / "other.h5").write_bytes(b"not ours")  # never touched by retention
    frames = [make_frame(i) for i in range(10)]
    with RollingRecorder(
        tmp_path, "keep", max_bytes=2 * FRAME_BYTES, retention_files=3, wall_clock_ns=WallClock()
    ) as roller:
        for f in frames:
            roller.append_frame(f)
        files = list(roller.files)
    assert len(files) == 5
    assert roller.deleted == files[:2]
    assert sorted(os.listdir(tmp_path)) == sorted(["other.h5"] + [p.name for p in files[2:]])
    assert_same([f for p in read_all(files[2:]) for f in p], frames[4:])


def test_retention_by_bytes_keeps_the_newest_within_the_cap(tmp_path):
    frames = [make_frame(i) for i in range(400)]
    clock = WallClock()
    with RollingRecorder(tmp_path, "b", max_bytes=50 * FRAME_BYTES, wall_clock_ns=clock) as roller:
        write_in_batches(roller, frames, [50])
    size = max(p.stat().st_size for p in roller.files)
    with RollingRecorder(
        tmp_path,
        "b",
        max_bytes=50 * FRAME_BYTES,
        retention_bytes=int(3.5 * size),
        wall_clock_ns=clock,
    ) as roller2:
        write_in_batches(roller2, frames[:100], [50])
    left = sorted(p for p in os.listdir(tmp_path))
    total = sum((tmp_path / n).stat().st_size for n in left)
    assert total <= 3.5 * size
    # the newest files survive: the second recorder's (named later), then the first's last
    assert [tmp_path / n for n in left[-2:]] == roller2.files
    assert len(left) == 3 and (tmp_path / left[0]) == roller.files[-1]


def test_file_names_sort_by_time(tmp_path):
    clock = WallClock()
    with RollingRecorder(tmp_path, "t", max_bytes=FRAME_BYTES, wall_clock_ns=clock) as roller:
        for i in range(12):
            roller.append_frame(make_frame(i))
    names = [p.name for p in roller.files]
    assert names == sorted(names) and len(set(names)) == 12
    assert names[0].startswith("t-20231114T221320.") and names[0].endswith("Z-000001.h5")


def test_rolling_rejects_bad_limits(tmp_path):
    with pytest.raises(ValueError):
        RollingRecorder(tmp_path, "x", max_bytes=0)
    with pytest.raises(ValueError):
        RollingRecorder(tmp_path, "a/b")
