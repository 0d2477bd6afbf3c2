"""Memory: resident set of ``wdp serve`` (the demo) with 500 WebSocket clients over time.

``wdp serve`` (the demo room, simulated and recorded: no environments configured; the
only setting is ``server.max_connections_per_ip``, raised above the client count since
every client comes from 127.0.0.1 and the default cap is 256) runs pinned to core 0 in a
temporary directory. After it is ready it runs idle (no clients) for ``--idle`` s,
then N Node ``ws`` clients (``bench/fanout_clients.mjs``, core 1) connect and subscribe
to ``pose_data`` (quality high, ``max_fps`` 10, keypoints), and stay for ``--warmup`` s
plus ``--minutes``. VmRSS is read from /proc/PID/status every ``--interval`` s.

Figure: growth of RSS from the end of the warm-up to the end, percent, each end the
median of its last/first three samples (so one noisy sample does not decide it); also
the least-squares slope over the measured period, MiB per minute. Baseline in the same
run: the idle server's RSS (median of the idle samples); the ratio is loaded / idle
RSS. Goal: flat within 5 % over 10 minutes with 500 clients. ``--clients 0`` runs the
same timeline with no clients: the demo's own growth, to tell it from the clients'.
``--smoke``: 100 clients, 8 s warm-up, 45 s measured (about a minute in all).

    python bench/bench_memory.py [--clients 500] [--minutes 10] [--smoke]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fanout import subscribe_message  # noqa: E402
from goals import Goals  # noqa: E402
from serve_process import (  # noqa: E402
    CLIENT_CORE,
    SERVER_CORE,
    ServeProcess,
    cpu_seconds,
    read_line,
    rss_kib,
    start_clients,
)

HERE = Path(__file__).resolve().parent
CLIENTS_JS = HERE / "fanout_clients.mjs"
ENV = "room_001"
GOAL_PERCENT = 5.0


def sample(pid: int, seconds: float, interval: float) -> list[tuple[float, int]]:
    """(monotonic time, VmRSS KiB) every ``interval`` for ``seconds``."""
    out = []
    deadline = time.monotonic() + seconds
    while True:
        out.append((time.monotonic(), rss_kib(pid)))
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        time.sleep(min(interval, left))


@contextlib.contextmanager
def node_clients(url: str, n: int):
    """N Node clients connected, subscribed and counting (None for none)."""
    if n == 0:
        yield None
        return
    load = start_clients(CLIENTS_JS, url, n, subscribe_message(10, "high"))
    try:
        load.stdin.write("start\n")
        load.stdin.flush()
        yield load
    finally:
        load.kill()
        load.wait()


def summary(load: subprocess.Popen | None) -> dict:
    """What the clients received since they started (stops them counting)."""
    if load is None:
        return {"delivered": 0, "open": 0}
    load.stdin.write("stop\n")
    load.stdin.flush()
    return orjson.loads(read_line(load, 60, "client summary"))


def slope_mib_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, MiB per minute."""
    if len(samples) < 2:
        return float("nan")
    t = np.array([s for s, _ in samples]) - samples[0][0]
    rss = np.array([kib for _, kib in samples]) / 1024
    return float(np.polyfit(t / 60, rss, 1)[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=500, help="0: the idle server throughout")
    ap.add_argument("--minutes", type=float, default=10.0, help="measured minutes")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds with clients first")
    ap.add_argument("--idle", type=float, default=30.0, help="idle seconds (the baseline)")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--smoke", action="store_true", help="about one minute, fewer clients")
    args = ap.parse_args()
    goals = Goals(smoke=args.smoke)
    if args.smoke:
        args.clients, args.minutes, args.warmup, args.idle, args.interval = 100, 0.75, 8.0, 5.0, 2.0
    # The demo (no environments configured); only the per-address connection cap is
    # raised: every client comes from 127.0.0.1, and the default cap is 256.
    config = f"[server]\nmax_connections_per_ip = {max(256, args.clients + 16)}\n"
    with ServeProcess(config, core=SERVER_CORE) as server:
        server.wait_ready()
        idle = sample(server.pid, args.idle, args.interval)
        url = f"ws://127.0.0.1:{server.port}/ws/v1?token={server.token()}&subscriptions=none"
        with node_clients(url, args.clients) as load:
            t_start = time.monotonic()
            warm = sample(server.pid, args.warmup, args.interval)
            c0 = cpu_seconds(server.pid)
            measured = sample(server.pid, args.minutes * 60, args.interval)
            c1 = cpu_seconds(server.pid)
            t_stop = time.monotonic()
            result = summary(load)
        warnings = collections.Counter(
            line.split("WARNING ", 1)[1].split(",")[0][:70]
            for line in server.stderr().splitlines()
            if "WARNING " in line
        )
    idle_mib = statistics.median(kib for _, kib in idle) / 1024
    start_mib = statistics.median(kib for _, kib in measured[:3]) / 1024
    end_mib = statistics.median(kib for _, kib in measured[-3:]) / 1024
    rss = np.array([kib for _, kib in measured]) / 1024
    slope = slope_mib_min(measured)
    growth = 100 * (end_mib - start_mib) / start_mib
    span_s = measured[-1][0] - measured[0][0]
    print(
        f"wdp serve (demo) RSS with {args.clients} WebSocket clients (Node, core {CLIENT_CORE}), "
        f"server on core {SERVER_CORE}; {args.warmup:g} s warm-up, {span_s / 60:.2f} min "
        f"measured, {len(measured)} samples every {args.interval:g} s"
    )
    idle_slope = slope_mib_min(idle)
    warm_max = max(kib for _, kib in warm) / 1024
    print(f"  idle RSS (no clients):       {idle_mib:8.1f} MiB  (idle: {idle_slope:+.2f} MiB/min)")
    print(f"  end of warm-up:              {start_mib:8.1f} MiB  (max in warm-up {warm_max:.1f})")
    print(f"  end:                         {end_mib:8.1f} MiB  (max {rss.max():.1f})")
    print(f"  growth end of warm-up -> end: {growth:+8.2f} %   (slope {slope:+.2f} MiB/min)")
    print(f"  ratio loaded/idle RSS: {end_mib / idle_mib:.2f}")
    per_client = result["delivered"] / max(args.clients, 1) / (t_stop - t_start)
    if args.clients == 0:
        print("  (no clients: the idle server's own growth, for comparison)")
    print(
        f"  delivered {per_client:.2f} pose_data/s per client, open at the end "
        f"{result['open']}/{args.clients}, server CPU {100 * (c1 - c0) / span_s:.0f} % of a core, "
        f"server warnings {sum(warnings.values())}"
    )
    for text, count in warnings.most_common(3):
        print(f"    {count} x {text}")
    if not args.smoke:
        ok = goals.check(
            f"flat within {GOAL_PERCENT:g} %", abs(growth) <= GOAL_PERCENT, f"{growth:+.2f} %"
        )
        print(f"  goal: flat within {GOAL_PERCENT:g} % -> {'met' if ok else 'NOT met'}")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
