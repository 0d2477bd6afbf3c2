"""Replay: the whole pipeline (DSP, model, tracking, analytics) over a recording, as fast
as possible, with every event encoded as ``--emit`` would write it.

Figure: real-time factor (seconds of recording per second of wall clock) of ``replay``
on the bundled 100 Hz 3x3x30 recording, median of repeats. Baseline in the same run:
reading the same recording's frames alone (``open_recording().frames()``), the floor of
any replay. Goal: >= 100x real time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import trio
from goals import Goals

from wdp.pipeline.replay import encode_event, replay
from wdp.recorder import open_recording

RECORDING = Path(__file__).resolve().parents[1] / "recordings" / "one_walker_intel5300.h5"


def seconds_of(path: Path) -> float:
    with open_recording(path) as rec:
        times = [f.timestamp_ns for f in rec.frames()]
    return (times[-1] - times[0]) / 1e9


def run_replay(path: Path) -> float:
    sink = bytearray()
    start = time.perf_counter()
    trio.run(lambda: replay(path, lambda e: sink.extend(encode_event(e))))
    return time.perf_counter() - start


def run_read(path: Path) -> float:
    start = time.perf_counter()
    with open_recording(path) as rec:
        for _ in rec.frames():
            pass
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="one short run, for CI")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    goals = Goals(smoke=args.smoke)
    repeats = 1 if args.smoke else args.repeats
    span = seconds_of(RECORDING)
    run_replay(RECORDING)  # warm up: numba kernels, model, caches
    ours = statistics.median(run_replay(RECORDING) for _ in range(repeats))
    base = statistics.median(run_read(RECORDING) for _ in range(repeats))
    print(f"replay of {RECORDING.name} ({span:.1f} s, 100 Hz, 3x3x30), median of {repeats}")
    print(f"  full pipeline with events encoded: {span / ours:8.1f}x real time ({ours:.3f} s)")
    print(f"  baseline, reading the frames only: {span / base:8.1f}x real time ({base:.3f} s)")
    print(f"  ratio pipeline/reading: {base / ours:.3f}")
    ok = goals.check(">= 100x real time", span / ours >= 100, f"{span / ours:.1f}x")
    print(f"  goal: >= 100x real time -> {'met' if ok else 'NOT met'}")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
