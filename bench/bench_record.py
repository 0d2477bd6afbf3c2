"""Recording throughput of 3x3x30 CSI frames, beside a plain-h5py baseline.

Measures, with the flush policy on (flush at least every 0.5 s, SWMR):
  - Recorder.append(FrameBatch) with batches of --batch frames,
  - the same with flushes 10 times as often (every 0.05 s), to show what flushing costs,
  - Recorder.append_frame(CsiFrame) one frame at a time,
and as the baseline, in the same run, plain h5py appending the same columns to
resizable chunked datasets with no SWMR and no flushing. Prints the median frames/s
over the repeats, the baseline, their ratio and the goal (>= 50k frames/s).

    python bench/bench_record.py            # full run (about a minute)
    python bench/bench_record.py --smoke    # a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from goals import Goals

from wdp.capture import CsiFrame, FrameBatch
from wdp.recorder import Recorder, RouterInfo

GOAL = 50_000
SHAPE = (3, 3, 30)


def make_batch(n: int, seed: int = 0) -> FrameBatch:
    rng = np.random.default_rng(seed)
    t, r, s = SHAPE
    csi = (rng.normal(size=(n, t, r, s)) + 1j * rng.normal(size=(n, t, r, s))).astype(np.complex64)
    ts = np.arange(n, dtype=np.int64) * 1_000_000
    return FrameBatch(
        router_id="r1",
        environment_id="bench",
        hw_format="intel5300",
        timestamp_ns=ts,
        host_time_ns=ts + 17,
        sequence=np.arange(n, dtype=np.int64),
        csi=csi,
        shape=np.tile(np.array(SHAPE, dtype=np.uint16), (n, 1)),
        subcarriers=np.tile(np.arange(-28, 32, 2, dtype=np.int16), (n, 1)),
        rssi_dbm=rng.normal(-40, 3, size=(n, r)).astype(np.float32),
        noise_floor_dbm=np.full(n, np.nan, np.float32),
        center_freq_mhz=np.full(n, 5180, np.float32),
        bandwidth_mhz=np.full(n, 20, np.float32),
    )


ROUTERS = [RouterInfo("r1", "bench", "intel5300")]


def run_batches(
    path: Path, batches: list[FrameBatch], repeat: int, interval: float = 0.5
) -> tuple[float, int]:
    start = time.perf_counter()
    with Recorder(path, ROUTERS, source="bench", flush_interval=interval) as rec:
        for _ in range(repeat):
            for b in batches:
                rec.append(b)
        flushes = rec.flushes
    return time.perf_counter() - start, flushes


def run_frames(path: Path, frames: list[CsiFrame]) -> tuple[float, int]:
    start = time.perf_counter()
    with Recorder(path, ROUTERS, source="bench", flush_interval=0.5) as rec:
        for f in frames:
            rec.append_frame(f)
        flushes = rec.flushes
    return time.perf_counter() - start, flushes


def run_baseline(path: Path, batches: list[FrameBatch], repeat: int) -> float:
    """Plain h5py: the same columns appended to resizable datasets, no SWMR, no flush."""
    start = time.perf_counter()
    with h5py.File(path, "w") as f:
        t, r, s = SHAPE
        specs = {
            "timestamp_ns": ((), "i8"),
            "host_time_ns": ((), "i8"),
            "sequence": ((), "i8"),
            "noise_floor_dbm": ((), "f4"),
            "center_freq_mhz": ((), "f4"),
            "bandwidth_mhz": ((), "f4"),
            "shape": ((3,), "u2"),
            "subcarriers": ((s,), "i2"),
            "rssi_dbm": ((r,), "f4"),
            "csi": ((t, r, s), np.complex64),
        }
        ds = {
            name: f.create_dataset(
                name, shape=(0, *tail), maxshape=(None, *tail), chunks=(1024, *tail), dtype=dt
            )
            for name, (tail, dt) in specs.items()
        }
        n = 0
        for _ in range(repeat):
            for b in batches:
                m = n + len(b)
                for name, d in ds.items():
                    d.resize(m, axis=0)
                    d[n:m] = getattr(b, name)
                n = m
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a few seconds at most")
    p.add_argument("--batch", type=int, default=1000, help="frames per FrameBatch")
    p.add_argument(
        "--dir", default=None, help="where to write (default: a temporary directory in $TMPDIR)"
    )
    args = p.parse_args(argv)
    goals = Goals(smoke=args.smoke)
    if args.smoke:
        n_batches, repeat, repeats, n_single = 60, 1, 3, 20_000
    else:
        n_batches, repeat, repeats, n_single = 50, 10, 5, 100_000
    batches = [make_batch(args.batch, seed=i) for i in range(n_batches)]
    for i, b in enumerate(batches):  # keep timestamps increasing across batches
        b.timestamp_ns[:] += i * args.batch * 1_000_000
    total = n_batches * args.batch * repeat
    single = list(make_batch(n_single, seed=99).frames())

    rates: dict[str, list[float]] = {"batch": [], "often": [], "base": [], "frame": []}
    flushes: dict[str, list[int]] = {"batch": [], "often": []}
    with tempfile.TemporaryDirectory(prefix="wdp-bench-", dir=args.dir) as tmp:
        path = Path(tmp) / "rec.h5"

        def batch():
            secs, n = run_batches(path, batches, repeat)
            flushes["batch"].append(n)
            return total / secs

        def often():
            secs, n = run_batches(path, batches, repeat, interval=0.05)
            flushes["often"].append(n)
            return total / secs

        def base():
            return total / run_baseline(path, batches, repeat)

        def frame():
            return n_single / run_frames(path, single)[0]

        runs = [("batch", batch), ("often", often), ("base", base), ("frame", frame)]
        run_batches(path, batches[:5], 1)  # warm-up: imports, page cache
        path.unlink()
        for i in range(repeats):
            # rotate the order so that no measurement always follows the same one
            # (the disk's write-back of the previous run's data slows the next)
            for name, fn in runs[i % 4 :] + runs[: i % 4]:
                rates[name].append(fn())
                path.unlink()

    b, f, base = (statistics.median(rates[k]) for k in ("batch", "frame", "base"))
    print(f"recording 3x3x30 frames, flush every 0.5 s (SWMR), median of {repeats} repeats")
    print(
        f"  batches of {args.batch}: {b:12,.0f} frames/s  ({total:,} frames per repeat, "
        f"{statistics.median(flushes['batch']):.0f} flushes)"
    )
    print(
        f"  batches, flush every 0.05 s: {statistics.median(rates['often']):12,.0f} frames/s  "
        f"({statistics.median(flushes['often']):.0f} flushes)"
    )
    print(f"  append_frame:     {f:12,.0f} frames/s  ({n_single:,} frames per repeat)")
    print(f"  baseline (plain h5py, no SWMR, no flush): {base:12,.0f} frames/s")
    print(f"  ratio batches/baseline: {b / base:.2f}   append_frame/baseline: {f / base:.2f}")
    ok = goals.check(f"batches: >= {GOAL:,} frames/s", b >= GOAL, f"{b:,.0f}")
    ok &= goals.check(f"append_frame: >= {GOAL:,} frames/s", f >= GOAL, f"{f:,.0f}")
    print(f"  goal: >= {GOAL:,} frames/s -> {'met' if ok else 'NOT met'}")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
