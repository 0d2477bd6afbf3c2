"""Start-up: ``wdp serve`` (the demo, no config) from the command until it is ready.

Figure: seconds from launching ``wdp serve`` until ``/health`` answers ready, polled every
10 ms over TCP. The server binds its port only after the models are loaded and every
numba kernel is compiled (or loaded from numba's cache), so an answer means ready. One
unmeasured start first warms numba's on-disk cache, as any second start of an installed
wdp finds it. Each start runs in a fresh temporary directory (no config, no key yet: the
development key is created, as on a first run), pinned to one core.

Baselines in the same run, pinned alike: ``python -c "import wdp.app"`` (the imports
alone) and the bare interpreter (``python -c pass``). Goal: ready in <= 3 s. Medians over
``--repeats``.

    python bench/bench_startup.py [--repeats 5] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from goals import Goals  # noqa: E402
from serve_process import SERVER_CORE, ServeProcess, pinned  # noqa: E402

GOAL_S = 3.0


def time_ready() -> float:
    with ServeProcess(core=SERVER_CORE) as server:
        return server.wait_ready()


def time_command(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, preexec_fn=pinned(SERVER_CORE))
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="one measured start, for CI")
    args = ap.parse_args()
    goals = Goals(smoke=args.smoke)
    repeats = 1 if args.smoke else args.repeats
    warm = time_ready()  # fills numba's cache if it was cold
    ready = [time_ready() for _ in range(repeats)]
    imports = [time_command("import wdp.app") for _ in range(repeats)]
    bare = [time_command("pass") for _ in range(repeats)]
    ours, base, interp = (statistics.median(v) for v in (ready, imports, bare))
    print(f"wdp serve (demo) until /health answers, on core {SERVER_CORE}; medians of {repeats}")
    print(f"  first start (warms numba's cache):   {warm:6.2f} s")
    runs = ", ".join(f"{v:.2f}" for v in ready)
    print(f"  wdp serve ready (warm cache):        {ours:6.2f} s  (runs: {runs})")
    print(f"  baseline python -c 'import wdp.app': {base:6.2f} s")
    print(f"  bare interpreter python -c pass:     {interp:6.2f} s")
    print(f"  ratio ready / import: {ours / base:.2f}")
    if not args.smoke:
        ok = goals.check(f"ready <= {GOAL_S:g} s", ours <= GOAL_S, f"{ours:.2f} s")
        print(f"  goal: ready <= {GOAL_S:g} s -> {'met' if ok else 'NOT met'}")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
