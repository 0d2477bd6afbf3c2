"""Model speed: one window of one environment (Intel 5300 3x3x30, one router, 100 Hz).

Times, as medians over repeats, on one core:
- the model's forward pass for one window (feature row -> Prediction incl. decoding), the
  figure with the goal (<= 2 ms per window);
- the feature extraction of one 0.5 s window from frames (``features.extract``);
- the baseline in the same run: the kNN baseline's query for one window against a
  20,000-window reference set of the same feature length.

The shipped model (wdp/inference/models/default.npz) is timed when present, else a
freshly initialised network of the default size (the time does not depend on weights).

    python bench/bench_model.py            # full run (a few seconds)
    python bench/bench_model.py --smoke    # about a second, for CI; no thresholds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from wdp.capture.frame import CsiFrame, FrameBatch  # noqa: E402
from wdp.inference.features import FeatureSpec, extract  # noqa: E402
from wdp.inference.model import N_REG, Model  # noqa: E402
from wdp.inference.network import OUTPUT_SIZE, Mlp  # noqa: E402
from wdp.inference.training import DEFAULT_HIDDEN  # noqa: E402
from wdp.sim.profiles import get_profile  # noqa: E402

GOAL_MS = 2.0
DEFAULT = Path(__file__).resolve().parents[1] / "wdp" / "inference" / "models" / "default.npz"


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def stream(n: int) -> FrameBatch:
    prof = get_profile("intel5300")
    rng = np.random.default_rng(0)
    shape = (prof.n_tx, prof.n_rx, prof.n_sub)
    base = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    frames = [
        CsiFrame(
            timestamp_ns=i * 10_000_000,
            host_time_ns=0,
            router_id="r1",
            environment_id="e",
            sequence=i,
            csi=base + 0.1 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)),
            subcarriers=prof.subcarriers,
            rssi_dbm=np.full(prof.n_rx, -50.0),
            noise_floor_dbm=np.nan,
            center_freq_mhz=5190.0,
            bandwidth_mhz=40.0,
            hw_format="intel5300",
        )
        for i in range(n)
    ]
    return FrameBatch.from_frames(frames)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="short run, no thresholds")
    args = ap.parse_args()
    repeats = 20 if args.smoke else 300
    spec = FeatureSpec.for_profile("intel5300")
    if DEFAULT.exists():
        model, which = Model.load(DEFAULT, profile="intel5300"), f"shipped {DEFAULT.name}"
    else:
        net = Mlp.init([spec.length, *DEFAULT_HIDDEN, OUTPUT_SIZE], 0)
        ones = np.ones(spec.length, np.float32)
        model = Model(
            spec, net, ones * 0, ones, np.zeros(N_REG, np.float32), np.ones(N_REG, np.float32)
        )
        which = "untrained default-size network"
    batch = stream(spec.window)
    ends = np.array([(spec.window - 1) * 10_000_000])
    extract([batch], spec, ends)  # warm-up (numba compiles or loads its cache)
    feats = extract([batch], spec, ends)
    model.predict(feats)
    t_forward = median_seconds(lambda: model.predict(feats), repeats)
    t_features = median_seconds(lambda: extract([batch], spec, ends), max(5, repeats // 10))
    # Baseline: a kNN query for the same window against 20,000 reference windows.
    from wdp.inference.baselines import KnnBaseline

    knn = KnnBaseline.__new__(KnnBaseline)
    rng = np.random.default_rng(1)
    n_ref = 2000 if args.smoke else 20000
    knn.k, knn.mean, knn.std = 5, np.zeros(spec.length), np.ones(spec.length)
    knn.ref = rng.standard_normal((n_ref, spec.length)).astype(np.float32)
    knn.ref_sq = (knn.ref.astype(np.float64) ** 2).sum(axis=1)
    t_knn = median_seconds(lambda: knn.neighbours(feats.x), max(5, repeats // 10))
    layers = "x".join(str(s) for s in model.net.sizes)
    print(f"model ({which}, layers {layers}), one window, one core:")
    print(f"  forward + decode   {t_forward * 1e3:8.3f} ms/window   (goal <= {GOAL_MS:g} ms)")
    print(f"  features           {t_features * 1e3:8.3f} ms/window   (0.5 s of 3x3x30 frames)")
    print(f"  baseline: kNN query {t_knn * 1e3:7.3f} ms/window   ({n_ref} reference windows)")
    print(f"  ratio kNN / model  {t_knn / t_forward:8.1f}")
    if not args.smoke and t_forward * 1e3 > GOAL_MS:
        print("  goal NOT met")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
