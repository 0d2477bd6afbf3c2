"""`wdp serve` as a child process for the benches: start it, know when it is ready, read
its memory and CPU from /proc, stop it gracefully.

The benches measure the real command line (``wdp serve``), not the ``serve()`` coroutine
in the bench's own process, so that start-up, memory and latency are what a user gets.
Each server runs in its own temporary directory (the demo records every frame under
``recordings/`` and keeps its key under ``.wdp/`` relative to its working directory), so
nothing is left in the checkout.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

SERVER_CORE, CLIENT_CORE = 0, 1


def wdp_command() -> list[str]:
    """The installed ``wdp`` script next to this interpreter (the venv's), else on PATH."""
    script = Path(sys.executable).with_name("wdp")
    if script.exists():
        return [str(script)]
    found = shutil.which("wdp")
    if found is None:
        raise SystemExit("the wdp command is not installed (pip install -e .)")
    return [found]


def pinned(core: int):
    """A preexec_fn pinning the child to ``core`` (None when that core is not ours)."""
    cores = os.sched_getaffinity(0)
    return (lambda: os.sched_setaffinity(0, {core})) if core in cores else None


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free right now on 127.0.0.1 (the usual small race is acceptable here)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port: int, timeout_s: float = 1.0) -> dict | None:
    """The /health answer as JSON, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def rss_kib(pid: int) -> int:
    """VmRSS of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_line(proc: subprocess.Popen, timeout_s: float, what: str) -> str:
    """One line of a child's stdout, or RuntimeError naming ``what`` after ``timeout_s``
    (a load generator that never answers must not hang the bench)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        raise RuntimeError(f"no {what} within {timeout_s:g} s")
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"no {what}: the process ended ({proc.poll()})")
    return line


class ServeProcess:
    """One ``wdp serve`` child on a free port, in its own temporary directory.

    ``config`` is TOML text written to ``wdp.toml`` there (None: the demo, no config).
    Use as a context manager: on exit the server gets SIGINT (a graceful stop), then
    SIGKILL if it has not gone within ``stop_timeout_s``; the directory is removed.
    """

    def __init__(self, config: str | None = None, *, core: int | None = SERVER_CORE) -> None:
        self.config = config
        self.core = core
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="wdp-bench-"))
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> ServeProcess:
        args = [*wdp_command(), "serve", "--port", str(self.port)]
        if self.config is not None:
            (self.dir / "wdp.toml").write_text(self.config)
            args += ["--config", str(self.dir / "wdp.toml")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("WDP_")}
        # a file, not a pipe: a pipe nobody reads would block a chatty server
        self._log = open(self.dir / "stderr.log", "wb")  # noqa: SIM115 (closed in __exit__)
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            args,
            cwd=self.dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            preexec_fn=pinned(self.core) if self.core is not None else None,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_ready(self, timeout_s: float = 120.0, poll_s: float = 0.01) -> float:
        """Seconds from start until /health answers ready (polled every ``poll_s``)."""
        assert self.proc is not None
        deadline = self.started_at + timeout_s
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                err = self.stderr()
                raise RuntimeError(f"wdp serve exited with {self.proc.returncode}: {err[-2000:]}")
            answer = health(self.port)
            if answer is not None and answer.get("ready"):
                return time.perf_counter() - self.started_at
            time.sleep(poll_s)
        raise RuntimeError(f"wdp serve was not ready within {timeout_s:g} s")

    def stderr(self) -> str:
        """What the server wrote to stderr so far (its log)."""
        path = self.dir / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def token(self) -> str:
        """A viewer token for every environment, signed with this server's key."""
        from wdp.config import load_config
        from wdp.server.auth import Verifier, mint

        config = load_config(
            self.dir / "wdp.toml" if self.config is not None else None,
            environ={},
            overrides={"state_dir": str(self.dir / ".wdp")},
        )
        key = Verifier.from_config(config.auth, config.state_dir).key
        return mint(
            config.auth, key, subject="bench", roles=["viewer"], environments="*", ttl_s=3600
        )

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            if self.proc is not None:
                self._log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def start_clients(script: Path, url: str, n: int, subscribe: str) -> subprocess.Popen:
    """N Node WebSocket clients (``fanout_clients.mjs`` or ``e2e_clients.mjs``) on the
    client core, subscribed with ``subscribe`` and all connected; the caller kills it."""
    load = subprocess.Popen(
        ["node", str(script), url, str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pinned(CLIENT_CORE),
    )
    try:
        load.stdin.write(subscribe + "\n")
        load.stdin.flush()
        if read_line(load, 120, "clients connected").strip() != "ready":
            raise RuntimeError("the clients did not connect")
    except BaseException:
        load.kill()
        load.wait()
        raise
    return load
