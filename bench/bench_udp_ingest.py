"""Live UDP ingest: how many CSI packets per second one core takes in without loss.

A sender process (pinned to the other core) sends ESP32 binary CSI frames (1 antenna x
64 subcarriers, the common ESP32 case) to 127.0.0.1 at fixed rates; the receiver, pinned
to one core, runs wdp's real capture task (trio, non-blocking drain, esp32-bin parser,
frames counted by a consumer task). Baseline in the same run: a plain blocking socket
loop that only counts datagrams (no parsing, no trio): the floor of what Python can do.

Figures: delivered fraction and receiver CPU microseconds per packet, medians over
repeats. Goal: >= 20k packets/s on one core with full delivery.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import textwrap

import numpy as np
import trio
from goals import Goals

from wdp.capture.formats import esp32_bin
from wdp.capture.frame import CsiFrame
from wdp.capture.source import UdpSource
from wdp.capture.udp import Captured, bind_udp, run_udp_capture

SENDER = textwrap.dedent(
    """
    import os, socket, sys, time
    port, rate, count = (int(a) for a in sys.argv[1:4])
    payload = bytes.fromhex(sys.argv[4])
    if hasattr(os, "sched_setaffinity") and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    per_ms = max(1, rate // 1000)
    start = time.perf_counter()
    sent = 0
    while sent < count:
        for _ in range(min(per_ms, count - sent)):
            s.sendto(payload, ("127.0.0.1", port))
            sent += 1
        target = start + sent / rate
        while time.perf_counter() < target:
            pass
    """
)


def payload() -> bytes:
    rng = np.random.default_rng(7)
    csi = (rng.integers(-60, 60, (1, 1, 64)) + 1j * rng.integers(-60, 60, (1, 1, 64))).astype(
        np.complex64
    )
    frame = CsiFrame(
        0,
        0,
        "bench",
        "bench",
        1,
        csi,
        np.arange(-32, 32),
        np.array([-50.0]),
        -95.0,
        2437.0,
        20.0,
        "esp32",
    )
    return esp32_bin.encode(frame)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_sender(port: int, rate: int, count: int, data: bytes) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SENDER, str(port), str(rate), str(count), data.hex()]
    )


def run_wdp(rate: int, count: int, data: bytes) -> tuple[float, float]:
    """(delivered fraction, CPU us per packet) for wdp's capture task."""
    source = UdpSource("127.0.0.1", 0, "esp32-bin", "bench", "bench", silence_timeout_s=60)

    async def main() -> tuple[int, float]:
        parser = esp32_bin.Parser("bench", "bench")
        sock, bound = bind_udp(source)
        send, receive = trio.open_memory_channel(64)
        frames = 0
        async with trio.open_nursery() as nursery:

            async def consume() -> None:
                nonlocal frames
                async for item in receive:
                    if isinstance(item, Captured):
                        frames += len(item.frames)

            nursery.start_soon(consume)
            nursery.start_soon(lambda: run_udp_capture(bound, parser, send, sock=sock))
            cpu0 = cpu_seconds()
            sender = start_sender(bound.port, rate, count, data)
            while sender.poll() is None:
                await trio.sleep(0.05)
            await trio.sleep(0.2)
            cpu = cpu_seconds() - cpu0
            nursery.cancel_scope.cancel()
        return frames, cpu

    frames, cpu = trio.run(main)
    return frames / count, cpu / max(frames, 1) * 1e6


def run_baseline(rate: int, count: int, data: bytes) -> tuple[float, float]:
    """The same for a blocking socket loop that only counts datagrams."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    got = 0
    cpu0 = cpu_seconds()
    sender = start_sender(sock.getsockname()[1], rate, count, data)
    while True:
        try:
            sock.recv(65536)
            got += 1
        except TimeoutError:
            if sender.poll() is not None:
                break
    cpu = cpu_seconds() - cpu0
    sock.close()
    return got / count, cpu / max(got, 1) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a short run for CI")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    goals = Goals(smoke=args.smoke)
    full_delivery_at = []  # rates (>= the goal's) delivered in full
    rates = [5000] if args.smoke else [10_000, 20_000, 40_000]
    seconds = 0.5 if args.smoke else args.seconds
    repeats = 1 if args.smoke else args.repeats
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    data = payload()
    print(
        f"UDP ingest, esp32-bin {len(data)}-byte datagrams, receiver on one core, "
        f"{seconds:g} s per run, median of {repeats}"
    )
    print(
        f"{'rate/s':>8} {'wdp deliv':>10} {'wdp us/pkt':>11} {'base deliv':>11} "
        f"{'base us/pkt':>12} {'cpu ratio':>10}"
    )
    for rate in rates:
        count = int(rate * seconds)
        ours = [run_wdp(rate, count, data) for _ in range(repeats)]
        base = [run_baseline(rate, count, data) for _ in range(repeats)]
        d, c = statistics.median(o[0] for o in ours), statistics.median(o[1] for o in ours)
        bd, bc = statistics.median(b[0] for b in base), statistics.median(b[1] for b in base)
        print(f"{rate:>8} {d:>10.4f} {c:>11.2f} {bd:>11.4f} {bc:>12.2f} {c / bc:>10.2f}")
        if rate >= 20_000 and d >= 1.0:
            full_delivery_at.append(rate)
    if args.smoke:
        print("goal: >= 20000 packets/s with delivered fraction 1.0000 (not judged in --smoke)")
    else:
        ok = goals.check(
            ">= 20000 packets/s with full delivery",
            bool(full_delivery_at),
            "no rate >= 20000/s delivered in full",
        )
        print(
            "goal: >= 20000 packets/s with delivered fraction 1.0000 on one core -> "
            f"{'met' if ok else 'NOT met'}"
        )
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
