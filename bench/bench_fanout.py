"""Fan-out: one pose stream to N WebSocket clients, wdp against a plain `websockets` server.

Each run starts a server process pinned to core 0 that publishes a real two-person
``pose_data`` message (keypoints included) at F frames per second, and a load generator
pinned to core 1 (Node ``ws`` clients, ``bench/fanout_clients.mjs``) that opens N
connections, subscribes, and counts what arrives in a measured window. Figures per run:

- server CPU microseconds per delivered message (the server process's user + system time
  over the window, from /proc, divided by the messages the clients received);
- delivery ratio (received / N x F x window);
- latency p50 / p99 (arrival wall clock minus the message's ``timestamp``; millisecond
  resolution, so figures below 1 ms read as 0 or 1).

Baseline in the same run: a minimal asyncio ``websockets`` server sending the same bytes
(the message as wdp encodes it, per-connection metadata included) to every client with
``websockets.broadcast()``. Goal: wdp's CPU per delivered message at or below the
baseline's; 2000 clients at 10 FPS on one core with p99 <= 50 ms and full delivery.
Medians over ``--repeats``.

    python bench/bench_fanout.py [--clients 100,500,1000,2000] [--fps 10,30] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import statistics
import subprocess
import sys
import time
from pathlib import Path

import attrs
import orjson
import trio
from goals import Goals
from serve_process import CLIENT_CORE, SERVER_CORE, cpu_seconds, pinned, start_clients

HERE = Path(__file__).resolve().parent
CLIENTS_JS = HERE / "fanout_clients.mjs"
KEY = b"fanout-bench-secret-of-at-least-32-bytes"
ENV = "room_001"


def sample_frame():
    """A real pose_data frame: two people crossing, through the tracker and the camera."""
    import numpy as np

    from wdp.pipeline import EnvironmentPipeline, run_windows, windows_from_truth
    from wdp.sim.scenario import load_scenario
    from wdp.sim.simulate import TRUTH_RATE_HZ, truth_rows

    sc = load_scenario("two_crossing")
    times = np.arange(int(10 * TRUTH_RATE_HZ)) / TRUTH_RATE_HZ
    rows = truth_rows(sc, times)
    windows = windows_from_truth(rows, environment_id=ENV, hop_s=0.1)
    pipeline = EnvironmentPipeline(ENV, sc.camera)
    frames = [e for e in run_windows(pipeline, windows) if e.TYPE == "pose_data"]
    frame = max(frames, key=lambda f: len(f.persons))
    # as subscribers without include_dense_pose receive it (the baseline sends these bytes)
    return attrs.evolve(frame, persons=[attrs.evolve(p, dense_pose=None) for p in frame.persons])


def subscribe_message(fps: float, quality: str | None = None) -> str:
    """A subscription to ENV's pose data with keypoints at ``fps`` (the spec's data-rate
    table: high quality for more than 10 FPS)."""
    return orjson.dumps(
        {
            "type": "subscribe",
            "data": {
                "subscriptions": [
                    {
                        "event_type": "pose_data",
                        "quality": quality or ("high" if fps > 10 else "low"),
                        "filters": {"environment_id": ENV, "include_keypoints": True},
                        "throttle": {"max_fps": fps},
                    }
                ]
            },
        }
    ).decode()


# -- the two servers (run as child processes) ------------------------------------------


def serve_wdp(fps: float) -> None:
    from wdp.config import AuthConfig, ServerConfig
    from wdp.server.auth import Verifier
    from wdp.server.connection import ConnectionContext, serve_connection
    from wdp.server.http import ConnectionLimits, Routes, serve_http
    from wdp.server.hub import Hub

    frame = sample_frame()

    async def main() -> None:
        hub = Hub()
        config = ServerConfig(max_connections=100_000, max_connections_per_ip=100_000)
        ctx = ConnectionContext(config, Verifier(AuthConfig(), KEY), hub)
        routes = Routes(
            websocket_paths=frozenset({"/ws/v1"}),
            websocket=lambda w, r: serve_connection(w, r, ctx),
        )
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                functools.partial(
                    serve_http,
                    routes,
                    host="127.0.0.1",
                    port=0,
                    limits=ConnectionLimits(100_000, 100_000),
                )
            )
            print(port, flush=True)
            period = 1.0 / fps
            deadline = trio.current_time()
            frame_id = 0
            while True:
                deadline += period
                await trio.sleep_until(deadline)
                frame_id += 1
                hub.publish(attrs.evolve(frame, timestamp_ns=time.time_ns(), frame_id=frame_id))

    trio.run(main)


def serve_baseline(fps: float) -> None:
    import logging

    from websockets.asyncio.server import broadcast, serve

    from wdp.server.protocol import iso_ms

    message = sample_frame().to_message()
    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # clients leave abruptly

    async def main() -> None:
        clients = set()

        async def handler(ws) -> None:
            clients.add(ws)
            try:
                async for _ in ws:  # the subscribe message: read and ignored
                    pass
            finally:
                clients.discard(ws)

        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            print(server.sockets[0].getsockname()[1], flush=True)
            loop = asyncio.get_running_loop()
            deadline = loop.time()
            sequence = 0
            while True:
                deadline += 1.0 / fps
                await asyncio.sleep(max(0.0, deadline - loop.time()))
                sequence += 1
                text = orjson.dumps(
                    {
                        **message,
                        "timestamp": iso_ms(time.time_ns()),
                        "metadata": {"client_id": "client_0123456789ab", "sequence": sequence},
                    }
                ).decode()
                broadcast(clients, text)

    asyncio.run(main())


# -- one measured run ---------------------------------------------------------------


def token() -> str:
    from wdp.config import AuthConfig
    from wdp.server.auth import mint

    return mint(AuthConfig(), KEY, subject="bench", roles=["viewer"], environments="*", ttl_s=3600)


def measure(
    kind: str, clients: int, fps: float, warmup_s: float, window_s: float, beside=None
) -> dict:
    """One run; ``beside(port, server_pid)``, if given, is a context manager entered once
    the clients are connected and left after the window (an extra client, say); what it
    yields is returned under "beside"."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--fps", str(fps)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pinned(SERVER_CORE),
    )
    load = None
    try:
        port = int(server.stdout.readline())
        url = f"ws://127.0.0.1:{port}/ws/v1?token={token()}&subscriptions=none"
        load = start_clients(CLIENTS_JS, url, clients, subscribe_message(fps))
        with beside(port, server.pid) if beside else contextlib.nullcontext() as extra:
            time.sleep(warmup_s)
            c0, t0 = cpu_seconds(server.pid), time.monotonic()
            load.stdin.write("start\n")
            load.stdin.flush()
            time.sleep(window_s)
            load.stdin.write("stop\n")
            load.stdin.flush()
            c1, t1 = cpu_seconds(server.pid), time.monotonic()
            result = orjson.loads(load.stdout.readline())
    finally:
        for p in (load, server):
            if p is not None:
                p.kill()
                p.wait()
    delivered = result["delivered"]
    nan = float("nan")
    return {
        "cpu_us": 1e6 * (c1 - c0) / max(delivered, 1),
        "delivery": delivered / (clients * fps * (t1 - t0)),
        "p50_ms": nan if result["p50_ms"] is None else result["p50_ms"],
        "p99_ms": nan if result["p99_ms"] is None else result["p99_ms"],
        "open": result["open"],
        "beside": extra,
    }


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "beside"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", choices=("wdp", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--clients", default="100,500,1000,2000")
    ap.add_argument("--fps", default="10,30")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--window", type=float, default=10.0, help="measured seconds per run")
    ap.add_argument("--smoke", action="store_true", help="one short run, for CI")
    args = ap.parse_args()
    if args.serve:
        (serve_wdp if args.serve == "wdp" else serve_baseline)(float(args.fps))
        return 0
    goals = Goals(smoke=args.smoke)
    if args.smoke:
        counts, rates, repeats, warmup, window = [20], [10.0], 1, 0.5, 1.0
    else:
        counts = [int(c) for c in args.clients.split(",")]
        rates = [float(f) for f in args.fps.split(",")]
        repeats, warmup, window = args.repeats, 2.0, args.window
    size = len(orjson.dumps(sample_frame().to_message()))
    print(
        f"fan-out of a {size}-byte pose_data message; servers on core {SERVER_CORE}, "
        f"Node clients on core {CLIENT_CORE}; medians of {repeats} run(s) of {window:g} s"
    )
    print(
        f"{'clients':>7} {'fps':>4} | {'wdp us/msg':>10} {'deliv':>6} {'p50':>5} {'p99':>6} | "
        f"{'base us/msg':>11} {'deliv':>6} {'p50':>5} {'p99':>6} | ratio"
    )
    for fps in rates:
        for n in counts:
            ours = median_of([measure("wdp", n, fps, warmup, window) for _ in range(repeats)])
            base = median_of([measure("baseline", n, fps, warmup, window) for _ in range(repeats)])
            # /proc counts CPU in 10 ms ticks: a short run can measure none for the baseline
            ratio = f"{ours['cpu_us'] / base['cpu_us']:.2f}" if base["cpu_us"] else "n/a"
            goals.check(
                f"{n} clients at {fps:g} fps: ratio <= 1",
                bool(base["cpu_us"]) and ours["cpu_us"] <= base["cpu_us"],
                f"ratio {ratio}",
            )
            print(
                f"{n:>7} {fps:>4g} | {ours['cpu_us']:>10.1f} {ours['delivery']:>6.3f} "
                f"{ours['p50_ms']:>5.0f} {ours['p99_ms']:>6.0f} | {base['cpu_us']:>11.1f} "
                f"{base['delivery']:>6.3f} {base['p50_ms']:>5.0f} {base['p99_ms']:>6.0f} | "
                f"{ratio}",
                flush=True,
            )
    print("ratio = wdp CPU per delivered message / baseline's (goal <= 1)")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
