"""DSP speed: the per-window CSI pipeline on Intel 5300 3x3x30 batches, one core.

Each batch of N frames (complex64 [N, 3, 3, 30], as a FrameBatch holds them) goes
through: ``sanitize_phase`` -> ``normalize_amplitude`` -> ``hampel`` (window 5, on the
normalized amplitude) -> ``csi_ratio`` -> a streaming ``StaticRemover`` (alpha 0.01) on
the ratio -> ``doppler_spectrum`` of the dynamic part (Hann windows of the largest power
of two <= min(N, 128), half overlap) -> ``motion_energy`` of the filtered amplitude.
The numba kernels (``wdp.dsp``) and the numpy reference (``wdp.dsp.reference``) run the
same pipeline on the same frames in the same run, after a warm-up (numba compiles or
loads its cache there). Prints frames per second per core for each batch size (median
of the repeats), the ratio numba / numpy, and the goals (>= 100k frames/s per core for
numba; ratio >= 5).

The frames are synthetic but shaped like real ones: six static paths, one path moving
at 20 Hz Doppler, a random common phase and timing offset (0..400 ns) per packet, a 1 dB
AGC jitter and complex noise 25 dB below the signal.

    python bench/bench_dsp.py            # full run (about ten seconds)
    python bench/bench_dsp.py --smoke    # a few seconds, for CI; no thresholds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

# One core: the kernels are single-threaded; keep numpy's helpers single-threaded too.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from goals import Goals  # noqa: E402

import wdp.dsp as fast  # noqa: E402
from wdp.dsp import reference  # noqa: E402
from wdp.sim.profiles import get_profile  # noqa: E402

GOAL_FPS = 100_000.0
GOAL_RATIO = 5.0
ALPHA = 0.01


def frames(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Synthetic Intel 5300 CSI [n, 3, 3, 30] complex64, its subcarriers and rate."""
    profile = get_profile("intel5300")
    sub = profile.subcarriers.astype(np.int64)
    fs, spacing = profile.rate_hz, profile.spacing_hz
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    f = sub * spacing  # [S]
    delays = rng.uniform(5e-9, 60e-9, size=(6, 3, 3))
    gains = rng.normal(size=(6, 3, 3)) + 1j * rng.normal(size=(6, 3, 3))
    static = np.einsum("ptr,ptrs->trs", gains, np.exp(-2j * np.pi * delays[..., None] * f))
    moving = (
        0.3 * np.exp(2j * np.pi * 20.0 * t)[:, None, None, None] * np.exp(-2j * np.pi * 30e-9 * f)
    )
    h = static[None] + moving
    tau = rng.uniform(0, 400e-9, size=n)[:, None, None, None]
    common = rng.uniform(-np.pi, np.pi, size=n)[:, None, None, None]
    agc = 10 ** (rng.normal(0, 1.0, size=n) / 20)[:, None, None, None]
    h = h * agc * np.exp(1j * (common - 2 * np.pi * f * tau))
    scale = np.sqrt(np.mean(np.abs(h) ** 2) / 10**2.5 / 2)
    h = h + scale * (rng.normal(size=h.shape) + 1j * rng.normal(size=h.shape))
    return h.astype(np.complex64), sub, fs


def doppler_window(n: int) -> int:
    return 1 << (min(n, 128).bit_length() - 1)


def pipeline(dsp, csi, sub, fs, remover):
    """One batch through the whole chain; returns what a feature stage would keep."""
    n = csi.shape[0]
    phase, slope = dsp.sanitize_phase(csi, sub)
    amp = dsp.normalize_amplitude(csi)
    amp_f, outliers = dsp.hampel(amp, 5, 3.0)
    ratio = dsp.csi_ratio(csi)
    dynamic = remover.update(ratio.reshape(n, -1))
    window = doppler_window(n)
    freqs, power = dsp.doppler_spectrum(dynamic, fs, window, window // 2)
    energy = dsp.motion_energy(amp_f)
    return phase, slope, amp_f, outliers, dynamic, power, energy


def time_batches(dsp, csi, sub, fs, n: int, repeats: int) -> float:
    """Median frames/s over ``repeats`` passes through all of ``csi`` in batches of n."""
    rates = []
    for _ in range(repeats):
        remover = dsp.StaticRemover(ALPHA)
        start = time.perf_counter()
        for i in range(0, csi.shape[0] - n + 1, n):
            pipeline(dsp, csi[i : i + n], sub, fs, remover)
        elapsed = time.perf_counter() - start
        rates.append((csi.shape[0] // n) * n / elapsed)
    return statistics.median(rates)


def pin_one_core() -> str:
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    except (AttributeError, OSError):
        return "not pinned"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a few seconds; no thresholds")
    args = p.parse_args(argv)
    goals = Goals(smoke=args.smoke)
    sizes, total, repeats = ((50, 500), 1000, 3) if args.smoke else ((50, 100, 250, 500), 5000, 7)
    pinned = pin_one_core()

    csi, sub, fs = frames(total)
    warm = fast.warm_up()
    # Same answers before timing anything (the tests hold this tighter).
    a = pipeline(fast, csi[:500], sub, fs, fast.StaticRemover(ALPHA))
    b = pipeline(reference, csi[:500], sub, fs, reference.StaticRemover(ALPHA))
    worst = max(
        float(np.max(np.abs(np.subtract(x, y, dtype=np.complex128))) / max(np.max(np.abs(y)), 1))
        for x, y in zip(a, b, strict=True)
    )

    print(
        f"DSP pipeline: intel5300 3x3x30 complex64 batches, {total} frames per pass, "
        f"median of {repeats} passes, one core ({pinned}); warm-up {warm:.2f} s"
    )
    print("  sanitize_phase + normalize_amplitude + hampel(5) + csi_ratio + StaticRemover")
    print("  + doppler_spectrum (window min(N,128) pow2, hop window/2) + motion_energy")
    print(f"  {'batch':>6} {'numba frames/s':>15} {'numpy frames/s':>15} {'ratio':>7}")
    ok = True
    for n in sizes:
        f_numba = time_batches(fast, csi, sub, fs, n, repeats)
        f_numpy = time_batches(reference, csi, sub, fs, n, max(1, repeats // 2))
        ratio = f_numba / f_numpy
        ok &= goals.check(
            f"batch {n}: >= {GOAL_FPS:,.0f} frames/s per core",
            f_numba >= GOAL_FPS,
            f"{f_numba:,.0f}",
        )
        ok &= goals.check(
            f"batch {n}: ratio >= {GOAL_RATIO:g}", ratio >= GOAL_RATIO, f"{ratio:.1f}"
        )
        print(f"  {n:6d} {f_numba:15,.0f} {f_numpy:15,.0f} {ratio:7.1f}")
    print(f"  max difference numba vs numpy (relative to the output's scale): {worst:.1e}")
    verdict = "met" if ok else "NOT met"
    print(
        f"  goals: >= {GOAL_FPS:,.0f} frames/s per core (numba) and ratio >= {GOAL_RATIO:g}, "
        f"at every batch size -> {verdict}"
    )
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
