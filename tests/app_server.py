"""Helpers for tests of the running server: a config in tmp_path, tokens, plain HTTP."""

import contextlib
import functools

import trio

from wdp.app import serve
from wdp.config import load_config
from wdp.server.auth import Verifier, mint


async def http_request(port, method, target, body=b"", headers=()):
    """(status, body) of one HTTP/1.1 request to 127.0.0.1:port."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    head = [f"{method} {target} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers]
    async with stream:
        await stream.send_all(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        data = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def http_get(port, target):
    return await http_request(port, "GET", target)


def app_config(tmp_path, **extra):
    """A config for one test: any free port, state and recordings in tmp_path."""
    overrides = {
        "server": {"port": 0},
        "state_dir": str(tmp_path / "state"),
        "recording": {"directory": str(tmp_path / "sessions")},
    }
    for key, value in extra.items():
        overrides[key] = {**overrides.get(key, {}), **value} if isinstance(value, dict) else value
    return load_config(environ={}, overrides=overrides)


def token_for(config, environments="*", roles=("viewer",), subject="t"):
    key = Verifier.from_config(config.auth, config.state_dir).key
    return mint(
        config.auth, key, subject=subject, roles=list(roles), environments=environments, ttl_s=600
    )


@contextlib.asynccontextmanager
async def running_server(config, **kw):
    """The port of ``wdp serve`` running ``config``; stopped gracefully on exit."""
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(functools.partial(serve, config, stop=stop, **kw))
        try:
            yield port
        finally:
            stop.set()


def serve_process(tmp_path, toml: str = ""):
    """``wdp serve`` as a child process with ``toml`` added to a config of a free port and
    state and recordings in tmp_path; (process, port, config) once it listens."""
    import subprocess
    import sys
    import threading
    import time

    config_file = tmp_path / "wdp.toml"
    config_file.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[recording]\ndirectory = "{tmp_path / "sessions"}"\n'
        f"{toml}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "wdp", "serve", "--config", str(config_file), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    deadline = time.monotonic() + 60
    while not (ready := [line for line in lines if "listening on" in line]):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("wdp serve did not start")
        time.sleep(0.05)
    port = int(ready[0].split("http://")[1].split("/")[0].rsplit(":", 1)[1])
    return process, port, load_config(config_file)


def intel5300_datagrams(seconds: float) -> list[bytes]:
    """A simulated walker's Intel 5300 datagrams, one per 10 ms (the card's own clock)."""
    from wdp.sim.scenario import load_scenario
    from wdp.sim.simulate import run_steps

    steps = run_steps(load_scenario("one_walker"), seconds=seconds, profile="intel5300")
    return [data for step in steps for data, _ in step.datagrams["r1"]]


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
