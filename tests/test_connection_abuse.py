"""Connection abuse against a real ``wdp serve`` process: thousands of connections opened
and closed, slow handshakes (slowloris), more connections from one address than allowed.
Each is refused or timed out as documented, and the server's file descriptors and memory
come back to where they were."""

import os
import socket
import time
from pathlib import Path

import orjson
import trio
import trio_websocket
from app_server import serve_process, token_for

PER_IP = 40
UDP = "udp://127.0.0.1:0?format=intel5300"


def closed_by_server(sock) -> bool:
    """True once the server has closed ``sock`` (EOF or reset, after any answer)."""
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    except TimeoutError:
        return False
    return True


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


async def open_and_close(port, token, n, concurrency=20):
    async def one(k):
        async with trio_websocket.open_websocket(
            "127.0.0.1", port, f"/ws/v1?token={token}&subscriptions=none", use_ssl=False
        ) as ws:
            msg = orjson.loads(await ws.get_message())
            assert msg["type"] == "connection_status"

    limiter = trio.CapacityLimiter(concurrency)

    async def limited(k):
        async with limiter:
            await one(k)

    async with trio.open_nursery() as nursery:
        for k in range(n):
            nursery.start_soon(limited, k)


async def settle(pid, baseline_fds, timeout=10.0):
    with trio.move_on_after(timeout):
        while fds(pid) > baseline_fds:
            await trio.sleep(0.1)
    return fds(pid)


async def test_churn_slowloris_and_the_per_address_cap(tmp_path):
    server, port, config = serve_process(
        tmp_path,
        f"""
[server]
max_connections_per_ip = {PER_IP}
handshake_timeout_s = 1.0
[environments.lab.routers.r1]
source = "{UDP}"
""",
    )
    token = token_for(config)
    try:
        await open_and_close(port, token, 100)  # warm up (imports, caches, buffers)
        base_fds, base_rss = fds(server.pid), rss_kib(server.pid)

        # 2000 connections opened and closed, 20 at a time
        start = time.monotonic()
        with trio.fail_after(120):
            await open_and_close(port, token, 2000)
        churn_s = time.monotonic() - start

        # slowloris: 20 clients that send their request head one byte every 0.3 s
        socks = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(5.0)
            socks.append(s)
        t0 = time.monotonic()
        head = b"GET /ws/v1 HTTP/1.1\r\nHost: x\r\n"
        cut = [False] * len(socks)
        for i in range(len(head)):
            for k, s in enumerate(socks):
                if cut[k]:
                    continue
                try:
                    s.send(head[i : i + 1])
                except OSError:
                    cut[k] = True
            if all(cut):
                break
            await trio.sleep(0.3)
        assert all(closed_by_server(s) for s in socks)
        for s in socks:
            s.close()
        slowloris_s = time.monotonic() - t0
        assert slowloris_s < 5.0  # cut after handshake_timeout_s (1 s), not left hanging

        # the per-address cap: PER_IP open connections, the next is refused with 503
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                opened = trio.Semaphore(0)
                release = trio.Event()

                async def hold():
                    async with trio_websocket.open_websocket(
                        "127.0.0.1", port, f"/ws/v1?token={token}", use_ssl=False
                    ):
                        opened.release()
                        await release.wait()

                for _ in range(PER_IP):
                    nursery.start_soon(hold)
                for _ in range(PER_IP):
                    await opened.acquire()
                try:
                    async with trio_websocket.open_websocket(
                        "127.0.0.1", port, f"/ws/v1?token={token}", use_ssl=False
                    ):
                        raise AssertionError("a connection over the per-address cap was served")
                except trio_websocket.ConnectionRejected as exc:
                    assert exc.status_code == 503
                release.set()

        # everything is given back
        after_fds = await settle(server.pid, base_fds)
        after_rss = rss_kib(server.pid)
        print(
            f"\n2000 connections in {churn_s:.1f} s; slowloris cut in {slowloris_s:.1f} s; "
            f"fds {base_fds} -> {after_fds}; RSS {base_rss} -> {after_rss} KiB "
            f"({100 * (after_rss - base_rss) / base_rss:+.1f} %)"
        )
        assert after_fds <= base_fds
        assert after_rss <= base_rss * 1.10
        assert server.poll() is None  # and it is still serving
    finally:
        server.terminate()
        server.wait(timeout=30)
