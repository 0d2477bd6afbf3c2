"""Slow consumers: 50 clients at 30 FPS, with and without one client that never reads.

The server and the Node clients are those of ``bench_fanout.py`` (server pinned to core
0, clients to core 1). The stalled client is a raw socket with a 4 KiB receive buffer:
it completes the WebSocket handshake, subscribes to ``pose_data`` at 30 FPS and then
never reads. Figures, medians over repeats: the live clients' latency p50/p99 and
delivery with the stalled client beside them, against the same run without it (the
baseline; goal: p99 within 10 %); whether and when the server dropped the stalled client
(it aborts a client whose send does not complete within ``send_timeout_s``, 5 s, once the
kernel's socket buffers are full: no close frame can reach a client that does not read,
so the client sees the connection end, 1006 in browser terms); and the server's resident
memory growth over the run with it.

    python bench/bench_slow_consumer.py [--clients 50] [--fps 30] [--window 30] [--smoke]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import bench_fanout as fanout
from goals import Goals
from serve_process import rss_kib


def client_frame(text: str) -> bytes:
    """A masked text frame, as clients must send (RFC 6455 5.3)."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0x80 | 126)) + n.to_bytes(2)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@contextlib.contextmanager
def stalled_client(port: int, pid: int, fps: float, drop_wait_s: float):
    """A client that subscribes and never reads; yields a dict filled on exit."""
    info: dict = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/v1?token={fanout.token()}&subscriptions=none HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)  # byte by byte: leave the frames after the head unread
    assert answer.startswith(b"HTTP/1.1 101"), answer[:60]
    sock.sendall(client_frame(fanout.subscribe_message(fps)))
    rss0, t0 = rss_kib(pid), time.monotonic()
    # Was it dropped, and when? Reading would un-stall it, so watch its TCP state: the
    # server's reset (or FIN) ends ESTABLISHED even with data unread.
    local_port = sock.getsockname()[1]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            if tcp_state(local_port) != ESTABLISHED:
                info["dropped_after_s"] = time.monotonic() - t0
                return

    info["dropped_after_s"] = None
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield info
    finally:
        info["rss_growth_kib"] = rss_kib(pid) - rss0
        deadline = time.monotonic() + drop_wait_s
        while info["dropped_after_s"] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        watcher.join()
        sock.close()


ESTABLISHED = "01"


def tcp_state(local_port: int) -> str | None:
    """The state code of the IPv4 TCP socket bound to ``local_port`` (None: gone)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == local_port:
            return fields[3]
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--smoke", action="store_true", help="one short run, for CI")
    args = ap.parse_args()
    goals = Goals(smoke=args.smoke)
    repeats, window, clients = args.repeats, args.window, args.clients
    drop_wait = 60.0  # after the window: kernel buffers take a while to fill
    if args.smoke:
        repeats, window, clients, drop_wait = 1, 2.0, 10, 0.0
    plain, stalled = [], []
    for _ in range(repeats):
        plain.append(fanout.measure("wdp", clients, args.fps, 2.0, window))
        stalled.append(
            fanout.measure(
                "wdp",
                clients,
                args.fps,
                2.0,
                window,
                beside=lambda port, pid: stalled_client(port, pid, args.fps, drop_wait),
            )
        )
    a, b = fanout.median_of(plain), fanout.median_of(stalled)
    drops = [r["beside"]["dropped_after_s"] for r in stalled]
    growth = statistics.median(r["beside"]["rss_growth_kib"] for r in stalled)
    print(f"{clients} clients at {args.fps:g} FPS, medians of {repeats} run(s) of {window:g} s")
    print(
        f"  without a stalled client: p50 {a['p50_ms']:.0f} ms, p99 {a['p99_ms']:.0f} ms, "
        f"delivery {a['delivery']:.3f}"
    )
    print(
        f"  with one stalled client:  p50 {b['p50_ms']:.0f} ms, p99 {b['p99_ms']:.0f} ms, "
        f"delivery {b['delivery']:.3f}"
    )
    ratio = b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else float("nan")
    print(f"  p99 ratio with/without: {ratio:.2f} (goal <= 1.10)")
    goals.check("p99 with a stalled client within 10 % of without", ratio <= 1.10, f"{ratio:.2f}")
    shown = ", ".join("not dropped" if d is None else f"{d:.1f} s" for d in drops)
    print(f"  stalled client dropped by the server after: {shown}")
    print(f"  server memory growth with it: {growth:+d} KiB (median)")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
