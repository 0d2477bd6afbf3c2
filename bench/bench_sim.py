"""Channel synthesis speed: one walking person, Intel 5300 3x3x30 at 100 Hz.

The body part of the channel (scattered paths of the person's 11 scatterers and the
line of sight they shadow) is synthesised for every sample; the static part is computed
once per router and is not timed. The numba kernel (``body_response``) and the
plain-numpy implementation of the same sum (``body_response_numpy``) are timed in the
same run on the same positions, after a warm-up (numba compiles or loads its cache
then). Prints each one's real-time factor (simulated seconds per wall-clock second, one
core), their ratio and the goal (>= 50x real time for the numba path), all medians of the
repeats. For scale it also times the rest of one router's pipeline once (impairments,
the hardware's datagrams, the real parser): information, not the goal.

    python bench/bench_sim.py            # full run (a few seconds)
    python bench/bench_sim.py --smoke    # a second or two, for CI; no thresholds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

# One core: numba's kernel is single-threaded; keep numpy's helpers single-threaded too.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from goals import Goals  # noqa: E402

from wdp.sim.channel import body_response, body_response_numpy  # noqa: E402
from wdp.sim.impairments import Radio  # noqa: E402
from wdp.sim.motion import Person, Scene, Walk  # noqa: E402
from wdp.sim.profiles import get_profile  # noqa: E402
from wdp.sim.room import Reflector, Room  # noqa: E402

GOAL = 50.0
RATE_HZ = 100.0
ROOM = Room(
    5.0,
    4.0,
    2.8,
    {"ceiling": 0.3},
    furniture=[Reflector([1.0, 3.5, 0.7], 1.0), Reflector([4.0, 0.5, 0.5], 1.5)],
)


def person(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A person walking to and fro across the room: positions [N, K, 3], sigma [N, K]."""
    there, back = (4.2, 3.0), (0.8, 1.0)
    trips = max(1, int(seconds / 3.5) + 1)
    walk = Walk(waypoints=[there, back] * trips, speed=1.2)
    scene = Scene.build([Person(id="p", start=back, actions=[walk])], ROOM, max_people=1)
    state = scene.evaluate(np.arange(int(seconds * RATE_HZ)) / RATE_HZ)
    return state.positions, state.cross_sections


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pipeline_seconds(profile, channel, positions, sigma) -> float:
    """Wall time of everything after the positions for one router, once."""
    start = time.perf_counter()
    h = channel.response(positions, sigma)
    radio = Radio(
        profile.impairments(),
        np.random.default_rng(0),
        profile.n_tx,
        profile.n_rx,
        reference_power=channel.static_power,
    )
    csi = radio.apply(h, profile.subcarriers, profile.spacing_hz).csi
    parser = profile.parser("bench", "lab")
    for i in range(csi.shape[0]):
        ts = int(i * 1e9 / RATE_HZ)
        for dg in profile.encode(csi[i], timestamp_ns=ts, sequence=i):
            parser.feed(dg, ts)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a second or two; no thresholds")
    args = p.parse_args(argv)
    goals = Goals(smoke=args.smoke)
    seconds, repeats = (2.0, 3) if args.smoke else (20.0, 9)

    profile = get_profile("intel5300")
    channel = profile.make_channel(ROOM, [0.3, 1.5, 1.2], [4.6, 2.6, 1.0])
    positions, sigma = person(seconds)
    n, k = sigma.shape
    los = channel.los
    args_ = (channel.antennas, channel.freqs_hz, channel.wavelength, positions, sigma, los)

    body_response(*args_)  # warm-up: numba compiles or loads its cache here
    body_response_numpy(*args_[:3], positions[:8], sigma[:8], los)
    fast = body_response(*args_)
    ref = body_response_numpy(*args_)
    err = float(np.max(np.abs(fast - ref)) / np.max(np.abs(ref)))

    t_numba = median_seconds(lambda: body_response(*args_), repeats)
    t_numpy = median_seconds(lambda: body_response_numpy(*args_), repeats)
    rt_numba, rt_numpy = seconds / t_numba, seconds / t_numpy

    print(
        f"channel synthesis: intel5300 {profile.n_tx}x{profile.n_rx}x{profile.n_sub}, "
        f"one walking person ({k} scatterers), {n} samples = {seconds:g} s at "
        f"{RATE_HZ:g} Hz, median of {repeats} runs, one core"
    )
    print(f"  numba kernel:  {rt_numba:10,.0f}x real time  ({t_numba * 1e6 / n:7.1f} us/sample)")
    print(f"  plain numpy:   {rt_numpy:10,.0f}x real time  ({t_numpy * 1e6 / n:7.1f} us/sample)")
    print(f"  ratio numba/numpy: {rt_numba / rt_numpy:.1f}   max relative difference: {err:.1e}")
    ok = goals.check(f">= {GOAL:g}x real time (numba)", rt_numba >= GOAL, f"{rt_numba:,.0f}x")
    print(f"  goal: >= {GOAL:g}x real time (numba) -> {'met' if ok else 'NOT met'}")
    whole = pipeline_seconds(profile, channel, positions, sigma)
    print(
        f"  for scale, one router's whole pipeline (channel, impairments, datagrams, "
        f"parser): {seconds / whole:,.0f}x real time"
    )
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
