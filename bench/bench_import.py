"""Import throughput of the Intel 5300 and Atheros readers, beside csiread in the same run.

For each file, ``read_file`` (records walked, validated, decoded, scaled, columns and
raw records built) and, for Intel, the whole ``wdp import`` path (``import_capture``:
read_file plus recording every frame and raw record to HDF5) are timed against the
baseline of csiread alone on the same file:
``csiread.Intel(...).read()`` + ``get_scaled_csi()`` for Intel, ``csiread.Atheros(...)
.read()`` for Atheros. Prints the median frames/s over the repeats, the baseline, their
ratio and the goal (>= 100k Intel frames/s).

Reads the real captures in ../shared/csi-samples/; without them it builds synthetic
files by repeating encoded records (and says so).

    python bench/bench_import.py            # full run (a few seconds)
    python bench/bench_import.py --smoke    # about a second, for CI; no thresholds
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import csiread
import numpy as np
from goals import Goals

from wdp.capture.formats import atheros, intel5300
from wdp.capture.importer import import_capture

GOAL = 100_000
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "csi-samples"
INTEL = "intel5300_inject_3x1_1khz.dat"
ATHEROS = "atheros_ar93xx_3x2_56sc.dat"


def synthetic_intel(path: Path, n: int = 3000, patterns: int = 16) -> None:
    """A 3x1, 1 kHz log like the real one: ``patterns`` encoded reports repeated, each
    behind a 0xc1 record, with timestamp_low and bfee_count stepped per report."""
    rng = np.random.default_rng(0)
    shape = (30, 3, 1)
    bases = [
        intel5300.encode_bfee(
            rng.integers(-60, 60, shape) + 1j * rng.integers(-60, 60, shape),
            rssi=(36, 30, 28),
            agc=60,
        )
        for _ in range(patterns)
    ]
    mpdu = intel5300.file_record(b"\xc1" + bytes(128))
    out = bytearray()
    for i in range(n):
        rec = bytearray(bases[i % patterns])
        struct.pack_into("<IH", rec, 1, (40_000_000 + 1000 * i) & 0xFFFFFFFF, (i + 1) & 0xFFFF)
        out += mpdu + intel5300.file_record(bytes(rec))
    path.write_bytes(bytes(out))


def synthetic_atheros(path: Path, n: int = 400, patterns: int = 8) -> None:
    """A 3x2x56 log at about 459 Hz with 1040-byte payloads, records repeated."""
    rng = np.random.default_rng(1)
    shape = (2, 3, 56)
    bases = [
        atheros.encode_record(
            rng.integers(-300, 300, shape) + 1j * rng.integers(-300, 300, shape),
            payload=bytes(1040),
        )
        for _ in range(patterns)
    ]
    out = bytearray()
    for i in range(n):
        rec = bytearray(bases[i % patterns])
        struct.pack_into("<Q", rec, 0, 1_461_024_888 + 2178 * i)
        out += atheros.file_record(bytes(rec))
    path.write_bytes(bytes(out))


def median_rate(fn, frames: int, repeats: int) -> float:
    fn()  # warm up: first touch of the file, caches, lazy imports
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(frames / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_intel(path: Path, repeats: int, tmp: Path, goals: Goals) -> float:
    imported = intel5300.read_file(path, router_id="r1", environment_id="bench")
    frames = imported.frames
    ntx = int(imported.batch.shape[:, 0].max())

    def ours():
        intel5300.read_file(path, router_id="r1", environment_id="bench")

    def baseline():
        data = csiread.Intel(str(path), ntxnum=max(ntx, 1), if_report=False)
        data.read()
        data.get_scaled_csi()

    out = tmp / "import.h5"

    def whole_import():
        out.unlink(missing_ok=True)
        import_capture(path, out, router_id="r1", environment_id="bench", progress=False)

    rate = median_rate(ours, frames, repeats)
    full = median_rate(whole_import, frames, repeats)
    base = median_rate(baseline, frames, repeats)
    print(f"intel5300: {frames} frames, {path.stat().st_size:,} bytes ({path.name})")
    print(f"  read_file:                                {rate:12,.0f} frames/s")
    print(f"  wdp import (read + HDF5 recording):       {full:12,.0f} frames/s")
    print(f"  baseline csiread read() + get_scaled_csi(): {base:10,.0f} frames/s")
    print(f"  ratio read_file/baseline: {rate / base:.2f}   import/baseline: {full / base:.2f}")
    print(
        f"  goal: >= {GOAL:,} Intel frames/s through wdp import -> "
        f"{'met' if full >= GOAL else 'NOT met'}"
    )
    goals.check(f">= {GOAL:,} Intel frames/s through wdp import", full >= GOAL, f"{full:,.0f}")
    return full


def bench_atheros(path: Path, repeats: int) -> float:
    frames = atheros.read_file(path, router_id="r2", environment_id="bench").frames

    def ours():
        atheros.read_file(path, router_id="r2", environment_id="bench")

    def baseline():
        csiread.Atheros(str(path), if_report=False).read()

    rate = median_rate(ours, frames, repeats)
    base = median_rate(baseline, frames, repeats)
    print(f"atheros: {frames} frames, {path.stat().st_size:,} bytes ({path.name})")
    print(f"  read_file:                {rate:12,.0f} frames/s")
    print(f"  baseline csiread read():  {base:12,.0f} frames/s")
    print(f"  ratio: {rate / base:.2f}")
    return rate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="about a second; no thresholds")
    p.add_argument("--samples", type=Path, default=SAMPLES, help="folder of real captures")
    args = p.parse_args(argv)
    goals = Goals(smoke=args.smoke)
    repeats = 5 if args.smoke else 51
    print(f"import throughput, median of {repeats} runs")
    with tempfile.TemporaryDirectory(prefix="wdp-bench-") as tmp:
        intel_path, ath_path = args.samples / INTEL, args.samples / ATHEROS
        if not intel_path.is_file():
            intel_path = Path(tmp) / "synthetic_intel5300.dat"
            synthetic_intel(intel_path)
            print(f"  (no {INTEL} in {args.samples}: synthetic 3x1 log of repeated reports)")
        if not ath_path.is_file():
            ath_path = Path(tmp) / "synthetic_atheros.dat"
            synthetic_atheros(ath_path)
            print(f"  (no {ATHEROS} in {args.samples}: synthetic 3x2x56 log of repeated records)")
        bench_intel(intel_path, repeats, Path(tmp), goals)
        bench_atheros(ath_path, repeats)
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
