"""``wdp serve`` end to end: the demo room streams real pose data to a WebSocket client,
REST needs a token, and every frame is recorded."""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import trio
import trio_websocket
from app_server import app_config, http_get, token_for

from wdp.app import serve
from wdp.recorder import open_recording


async def test_demo_serves_pose_data_and_records(tmp_path):
    config = app_config(tmp_path)
    token = token_for(config, ["room_001"])
    other = token_for(config, ["room_002"])
    stop = trio.Event()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve, config, stop=stop))
            status, body = await http_get(port, "/health")
            assert status == 200 and orjson.loads(body)["ready"] is True
            admin = token_for(config, roles=("admin",))
            status, body = await http_get(port, f"/metrics?token={admin}")
            assert status == 200 and b"wdp_frames_total" in body
            # the figures name environments and routers: admins only
            assert (await http_get(port, "/metrics"))[0] == 401
            assert (await http_get(port, f"/metrics?token={token}"))[0] == 403
            assert (await http_get(port, "/api/v1/environments"))[0] == 401
            status, body = await http_get(port, f"/api/v1/environments?token={token}")
            assert [e["environment_id"] for e in orjson.loads(body)["environments"]] == ["room_001"]
            status, body = await http_get(port, f"/api/v1/environments?token={other}")
            assert orjson.loads(body)["environments"] == []
            async with trio_websocket.open_websocket(
                "127.0.0.1", port, f"/ws/v1?token={token}", use_ssl=False
            ) as ws:
                poses = []
                while len(poses) < 3:
                    msg = orjson.loads(await ws.get_message())
                    if msg["type"] == "pose_data":
                        poses.append(msg)
                # graceful stop: the client is told, then closed with 1001
                stop.set()
                kinds = []
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    while True:
                        kinds.append(orjson.loads(await ws.get_message())["type"])
                assert closed.value.reason.code == 1001 and kinds[-1] == "disconnect"
            data = poses[-1]["data"]
            assert data["environment_id"] == "room_001"
            assert data["processing_time_ms"] > 0
            assert data["metadata"]["model_version"].startswith("intel5300-v2")
            frames = [p["data"]["frame_id"] for p in poses]
            assert frames == sorted(frames)
            # serve returns by itself after a graceful stop
    files = sorted((tmp_path / "sessions").glob("*.h5"))
    assert files
    with open_recording(files[0]) as rec:
        assert rec.closed_cleanly and rec.frame_count("r1") > 50
        # drained, not cut: every frame up to the last recorded one is there
        times = [f.timestamp_ns for f in rec.frames()]
        assert len(times) == rec.frame_count("r1") and all(
            b - a < 50_000_000 for a, b in zip(times, times[1:], strict=False)
        )


async def test_configured_environments_udp_and_recording_sources(tmp_path):
    recording = Path(__file__).resolve().parents[1] / "recordings" / "one_walker_intel5300.h5"
    config = app_config(
        tmp_path,
        server={"shutdown_grace_s": 1.0},
        environments={
            "lab": {"routers": {"r1": {"source": f"replay:{recording}"}}},
            "hall": {"routers": {"pi": {"source": "udp://127.0.0.1:0?format=intel5300"}}},
        },
    )
    token = token_for(config)
    stop = trio.Event()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve, config, stop=stop))
            status, body = await http_get(port, f"/api/v1/environments?token={token}")
            envs = {e["environment_id"]: e for e in orjson.loads(body)["environments"]}
            assert set(envs) == {"lab", "hall"}
            assert envs["hall"]["routers"][0]["hw_format"] == "intel5300"
            async with trio_websocket.open_websocket(
                "127.0.0.1", port, f"/ws/v1?token={token}", use_ssl=False
            ) as ws:
                while True:
                    msg = orjson.loads(await ws.get_message())
                    if msg["type"] == "pose_data":
                        assert msg["data"]["environment_id"] == "lab"
                        break
                stop.set()


SPEC_CLIENTS = Path(__file__).parent / "spec_clients"


def _spec_client_command(kind: str) -> list[str]:
    if kind == "python":
        return [sys.executable, str(SPEC_CLIENTS / "python_client.py")]
    node = shutil.which("node")
    if node is None or not (SPEC_CLIENTS / "node_modules" / "ws").is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI is set but node or the ws package is missing (make test installs ws)")
        pytest.skip("node and the ws package (make test installs it) are needed")
    return [node, str(SPEC_CLIENTS / "js_client.js")]


async def spec_client_output(command, port, token, until: bytes) -> bytes:
    """What one of the spec's example clients prints against the server on ``port``,
    up to the first ``until`` (it fails if the client ends before)."""
    env = {**os.environ, "WDP_URL": f"ws://127.0.0.1:{port}/ws/v1", "WDP_TOKEN": token}
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, env=env)
    seen = b""
    try:
        while until not in seen:
            chunk = await process.stdout.receive_some(4096)
            assert chunk, f"client ended before {until!r}: {seen!r}"
            seen += chunk
    finally:
        process.kill()
        await process.wait()
    return seen


@pytest.mark.parametrize("kind", ["python", "javascript"])
async def test_the_specs_example_clients_receive_pose_data(tmp_path, kind):
    command = _spec_client_command(kind)
    config = app_config(tmp_path)
    token = token_for(config)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(functools.partial(serve, config))
            seen = await spec_client_output(command, port, token, b"Received pose data")
            assert b"Connected to WiFi-DensePose WebSocket" in seen
            nursery.cancel_scope.cancel()


async def test_replay_serve_streams_a_recording(tmp_path):
    recording = Path(__file__).resolve().parents[1] / "recordings" / "two_crossing_nexmon.h5"
    config = app_config(tmp_path)
    token = token_for(config)
    stop = trio.Event()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                functools.partial(serve, config, stop=stop, recording=recording, speed=5.0)
            )
            async with trio_websocket.open_websocket(
                "127.0.0.1", port, f"/ws/v1?token={token}", use_ssl=False
            ) as ws:
                frames = []
                while len(frames) < 3:
                    msg = orjson.loads(await ws.get_message())
                    if msg["type"] == "pose_data":
                        assert msg["data"]["environment_id"] == "two_crossing"
                        assert msg["data"]["metadata"]["model_version"].startswith("nexmon")
                        frames.append(msg["data"]["frame_id"])
                stop.set()
    assert frames == sorted(frames)
