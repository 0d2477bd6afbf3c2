"""``wdp.client`` against the real server: subscribes, survives a restart of the server
(reconnect with backoff, resubscribe), and stops for good on refusals."""

import random
import sys
from pathlib import Path

import pytest
import trio
from app_server import app_config, running_server, token_for

from wdp.client import Backoff, Client, ClientError, open_client

POSE = {"event_type": "pose_data", "filters": {"environment_id": "room_001"}}
UDP = "udp://127.0.0.1:0?format=intel5300"
FAST = Backoff(initial_s=0.05, factor=2.0, max_s=0.5)


async def next_of(client, kind):
    with trio.fail_after(30):
        async for message in client:
            if message["type"] == kind:
                return message


async def test_subscribes_to_exactly_what_it_asks_for(tmp_path):
    config = app_config(tmp_path, server={"shutdown_grace_s": 1.0})
    async with running_server(config) as port:
        url = f"ws://127.0.0.1:{port}/ws/v1"
        async with open_client(url, token_for(config), [POSE], backoff=FAST) as client:
            ack = await next_of(client, "ack")
            assert client.subscription_ids == [
                s["subscription_id"] for s in ack["data"]["active_subscriptions"]
            ]
            first = await next_of(client, "pose_data")
            assert first["data"]["environment_id"] == "room_001"
            # no default subscriptions (system events, other environments)
            kinds = {(await client.receive())["type"] for _ in range(5)}
            assert kinds <= {"pose_data", "heartbeat"}


async def test_reconnects_to_a_restarted_server_and_resubscribes(tmp_path):
    config = app_config(tmp_path, server={"shutdown_grace_s": 1.0})
    token = token_for(config)
    async with running_server(config) as port:
        pass  # learn a free port the server can bind
    fixed = app_config(tmp_path, server={"port": port, "shutdown_grace_s": 1.0})
    url = f"ws://127.0.0.1:{port}/ws/v1"
    async with trio.open_nursery() as outer:
        stopped = trio.Event()
        restart = trio.Event()

        async def server_twice():
            async with running_server(fixed):
                await stopped.wait()
            await restart.wait()
            async with running_server(fixed):
                await trio.sleep_forever()

        outer.start_soon(server_twice)
        # the client starts before the server is up: it retries until it can connect
        async with open_client(url, token, [POSE], backoff=FAST, seed=2) as client:
            first = await next_of(client, "pose_data")
            stopped.set()
            with trio.fail_after(30):
                while client.state != "reconnecting":
                    await trio.sleep(0.01)
            restart.set()
            ack = await next_of(client, "ack")  # subscribed again on the new connection
            again = await next_of(client, "pose_data")
            assert client.reconnects == 1
            assert ack["data"]["active_subscriptions"][0]["event_type"] == "pose_data"
            assert again["data"]["environment_id"] == first["data"]["environment_id"]
            # a new connection: the server's per-connection sequence started again
            # (connection_status is 1, the ack of the resubscription comes right after)
            assert ack["metadata"]["sequence"] <= 3
        outer.cancel_scope.cancel()


async def test_a_refused_token_stops_the_client(tmp_path):
    config = app_config(tmp_path, environments={"lab": {"routers": {"r1": {"source": UDP}}}})
    async with running_server(config) as port:
        url = f"ws://127.0.0.1:{port}/ws/v1"
        with pytest.raises(ClientError) as refused:
            async with open_client(url, "not-a-token", [POSE], backoff=FAST):
                pass
        assert refused.value.code == 4001
        # with a provider of fresh tokens, the client asks it and connects
        good = token_for(config)
        async with open_client(
            url, "not-a-token", [], token_provider=lambda: good, backoff=FAST
        ) as client:
            assert client.state == "connected" and client.token == good
        # a provider that has nothing new: stopped, not looping
        with pytest.raises(ClientError):
            async with open_client(url, "bad", [], token_provider=lambda: "bad", backoff=FAST):
                pass


def test_backoff_grows_to_its_cap_with_bounded_jitter():
    rng = random.Random(0)
    b = Backoff(initial_s=0.5, factor=2.0, max_s=30.0, jitter=0.1)
    delays = [b.delay(n, rng) for n in range(12)]
    for n, d in enumerate(delays):
        base = min(30.0, 0.5 * 2**n)
        assert base * 0.9 <= d <= base * 1.1
    assert b.delay(10_000, rng) <= 33.0


def test_bad_urls_are_refused():
    for url in ("http://h/ws", "ws:///nohost", "nonsense"):
        with pytest.raises(ValueError, match="ws://"):
            Client(url, "t", [])


async def test_the_example_prints_poses(tmp_path):
    config = app_config(tmp_path, server={"shutdown_grace_s": 1.0})
    example = Path(__file__).resolve().parents[1] / "examples" / "print_poses.py"
    async with running_server(config) as port:
        with trio.fail_after(60):
            done = await trio.run_process(
                [
                    sys.executable,
                    str(example),
                    f"ws://127.0.0.1:{port}/ws/v1",
                    token_for(config),
                    "--count",
                    "3",
                    "--fps",
                    "10",
                ],
                capture_stdout=True,
            )
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 3 and all(" room_001: " in line for line in lines)


async def test_the_fall_example_stops_on_a_refused_token(tmp_path):
    config = app_config(tmp_path, environments={"lab": {"routers": {"r1": {"source": UDP}}}})
    example = Path(__file__).resolve().parents[1] / "examples" / "fall_alerts.py"
    async with running_server(config) as port:
        with trio.fail_after(60):
            done = await trio.run_process(
                [sys.executable, str(example), f"ws://127.0.0.1:{port}/ws/v1", "expired.or.forged"],
                capture_stdout=True,
                check=False,
            )
    assert done.returncode == 1
    assert done.stdout.decode().startswith("fall_alerts: token refused (close 4001")
