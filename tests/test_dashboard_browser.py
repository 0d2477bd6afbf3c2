"""The dashboard in a real browser (headless Chromium driven by playwright-core): the
real server plays a bundled recording, and tests/browser/dashboard.mjs checks that the
page draws what the stream holds, raises and clears the fall alert, reconnects after a
server restart on the same port, and tells the user when the token expires. Its
connection logic is also checked alone under Node (tests/browser/client_units.mjs).

The fall comes from the real pipeline (model -> tracker -> fall detector) on the
recording's CSI: of the bundled recordings, ``two_crossing_nexmon.h5`` is the one in
which the shipped models report a fall (a false alarm of the weak nexmon model at
6.65 s: nobody falls in that scenario; the dashboard's job is to show what the
pipeline reports). The person counts the page must show are taken from a replay of the
same recording, which produces the same pose frames as the server (replay is
deterministic and shares the pipeline).
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import attrs
import orjson
import pytest
import trio

from wdp.app import serve
from wdp.config import load_config
from wdp.pipeline.replay import replay
from wdp.server.auth import Verifier, mint

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "recordings" / "two_crossing_nexmon.h5"
SCRIPT = Path(__file__).parent / "browser" / "dashboard.mjs"
PLAYWRIGHT = Path(__file__).parent / "browser" / "node_modules" / "playwright-core"
CHROMIUM = os.environ.get("WDP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


def _requirements() -> tuple[str, str]:
    """node and Chromium, or a skip (a failure when CI is set)."""
    node = shutil.which("node")
    chromium = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    missing = []
    if chromium is None:
        missing.append(f"Chromium ({CHROMIUM}; make test installs Debian's chromium as root)")
    if node is None or not PLAYWRIGHT.is_dir():
        missing.append("node with playwright-core (make test installs it into tests/browser)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail("CI is set but the browser test cannot run: missing " + ", ".join(missing))
        pytest.skip("dashboard browser test needs " + " and ".join(missing))
    return node, chromium


def test_stream_client_reconnects_resubscribes_and_stops_on_token_errors():
    """The page's connection logic (tests/browser/client_units.mjs) under Node, with a
    scripted WebSocket: subscribe on every socket, backoff, expiry and refusal."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but node is missing")
        pytest.skip("node is needed")
    script = Path(__file__).parent / "browser" / "client_units.mjs"
    done = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stdout + done.stderr


async def _expected_persons() -> dict[str, int]:
    counts: dict[str, int] = {}

    def emit(event) -> None:
        if event.TYPE == "pose_data":
            data = event.to_message()["data"]
            counts[str(data["frame_id"])] = len(data["persons"])

    await replay(RECORDING, emit)
    return counts


async def _read_line(stream, buffer: bytearray) -> bytes:
    while b"\n" not in buffer:
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise EOFError
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


@pytest.mark.slow
async def test_dashboard_in_chromium(tmp_path):
    node, chromium = _requirements()
    config = load_config(
        environ={},
        overrides={
            "server": {"port": 0, "shutdown_grace_s": 2.0},
            "auth": {"leeway_s": 0},
            "state_dir": str(tmp_path / "state"),
            "recording": {"directory": str(tmp_path / "sessions")},
        },
    )
    key = Verifier.from_config(config.auth, config.state_dir).key

    def token(ttl_s: float, now: float | None = None) -> str:
        return mint(
            config.auth, key, subject="t", roles=["viewer"], environments="*", ttl_s=ttl_s, now=now
        )

    expected = await _expected_persons()
    assert any(expected.values())
    (tmp_path / "expected.json").write_bytes(orjson.dumps(expected))
    ARTIFACTS.mkdir(exist_ok=True)
    output: list[str] = []

    async def run_server(config, stop, done, task_status=trio.TASK_STATUS_IGNORED):
        try:
            await serve(config, stop=stop, recording=RECORDING, speed=1.0, task_status=task_status)
        finally:
            done.set()

    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            env = {
                **os.environ,
                "WDP_TOKEN": token(600),
                "WDP_EXPIRED_TOKEN": token(60, now=time.time() - 3600),
                "WDP_EXPECTED": str(tmp_path / "expected.json"),
                "WDP_ARTIFACTS": str(ARTIFACTS),
                "WDP_CHROMIUM": chromium,
            }
            process = await trio.lowlevel.open_process(
                [node, str(SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                cwd=str(SCRIPT.parent),
            )
            stop, done = trio.Event(), trio.Event()
            port = None
            buffer = bytearray()
            try:
                while True:
                    try:
                        line = (await _read_line(process.stdout, buffer)).decode()
                    except EOFError:
                        break
                    output.append(line)
                    if line == "START":  # the browser runs: now the recording may play
                        port = await nursery.start(run_server, config, stop, done)
                        await process.stdin.send_all(f"http://127.0.0.1:{port}\n".encode())
                    elif line == "RESTART":  # stop gracefully, then serve again on the port
                        stop.set()
                        await done.wait()
                        stop, done = trio.Event(), trio.Event()
                        same_port = attrs.evolve(
                            config, server=attrs.evolve(config.server, port=port)
                        )
                        await nursery.start(run_server, same_port, stop, done)
                        await process.stdin.send_all(b"RESTARTED\n")
                    elif line == "SHORT_TOKEN":  # minted when asked: it lives 5 s
                        await process.stdin.send_all(token(5).encode() + b"\n")
                status = await process.wait()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            stop.set()
    report = "\n".join(output)
    print(report)
    assert status == 0 and output[-1] == "OK", report
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
