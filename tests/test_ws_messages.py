"""Every message type of the WebSocket API over a real socket, in the spec's envelope,
with every filter, throttle and rate limit of the spec; rates measured under trio's
autojump clock (virtual seconds: exact, fast, never flaky)."""

import gzip
import json
import math
import zlib

import orjson
import pytest
import trio
import trio_websocket
from test_pipeline_events import SPEC_EXAMPLES, assert_shape
from ws_server import (
    DENSE,
    ISO_MS,
    activity,
    analytics,
    config_update,
    hardware,
    occupancy,
    open_client,
    performance,
    person,
    pose,
    receive,
    receive_all,
    receive_until,
    send,
    server,
    subscribe,
    system,
    ticker,
    token,
    tracking,
    trajectory,
)

BOTH = ("room_001", "room_002")
MARKER = {"event_type": "config_update"}


def assert_envelope(message, client_id, sequence):
    assert ISO_MS.match(message["timestamp"]), message["timestamp"]
    assert message["metadata"] == {"client_id": client_id, "sequence": sequence}


async def test_every_event_type_reaches_its_subscriber_in_the_spec_envelope():
    events = {
        "pose_data": pose(persons=(person(),)),
        "pose_data_trajectory": trajectory(),
        "tracking_update": tracking(),
        "activity_event": activity(),
        "occupancy_update": occupancy(),
        "analytics_stream": analytics(),
        "system_event": system(),
        "hardware_event": hardware(),
        "performance_update": performance("warning"),
        "config_update": config_update(),
    }
    requested = [t if t != "analytics_stream" else "analytics_update" for t in events]
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}&subscriptions=none&client_id=dash") as ws:
            active = await subscribe(ws, *({"event_type": t} for t in requested))
            # the spec's "analytics_update" is accepted as the alias of analytics_stream
            assert [a["event_type"] for a in active] == list(events)
            assert all(a["status"] == "active" and a["subscription_id"] for a in active)
            for event in events.values():
                ctx.hub.publish(event)
            got = {}
            for _ in events:
                message = await receive(ws)
                got[message["type"]] = message
            assert set(got) == set(events)
            sequences = sorted(m["metadata"]["sequence"] for m in got.values())
            # 1 connection_status, 2 ack, then one number per message, no gaps
            assert sequences == list(range(3, 3 + len(events)))
            for kind, message in got.items():
                assert message["type"] == kind
                assert_envelope(message, "dash", message["metadata"]["sequence"])
                assert message["data"] == events[kind].to_message()["data"], kind
                # the spec's field names: its example's keys, ours add only documented ones
                spec = json.loads(SPEC_EXAMPLES[kind])
                assert_shape({k: v for k, v in message.items() if k != "metadata"}, spec, kind)


@pytest.mark.parametrize("method", ["gzip", "deflate"])
async def test_compressed_subscriptions_are_binary_frames_of_the_message(method):
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as ws:
            await subscribe(
                ws,
                {"event_type": "pose_data", "throttle": {"compression": method}},
                {"event_type": "tracking_update"},  # the same connection, uncompressed
            )
            ctx.hub.publish(pose(frame=3))
            ctx.hub.publish(tracking())
            frames = [await ws.get_message() for _ in range(2)]
            [raw] = [f for f in frames if isinstance(f, bytes)]
            [text] = [f for f in frames if isinstance(f, str)]
            inflate = gzip.decompress if method == "gzip" else zlib.decompress
            message = orjson.loads(inflate(raw))
            assert message["type"] == "pose_data" and message["data"]["frame_id"] == 3
            assert message["metadata"]["compression"] == method
            assert orjson.loads(text)["type"] == "tracking_update"


async def test_connection_status_heartbeat_both_ways_ack_and_disconnect(autojump_clock):
    async with server() as (port, ctx):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            async with trio_websocket.open_websocket(
                "127.0.0.1", port, f"/ws/v1?token={token()}&client_id=c9", use_ssl=False
            ) as ws:
                status = await receive(ws)
                assert status["type"] == "connection_status"
                assert_envelope(status, "c9", 1)
                data = status["data"]
                assert data["status"] == "connected" and data["client_id"] == "c9"
                assert data["session_id"].startswith("session_")
                assert ISO_MS.match(data["connected_since"])
                assert data["active_subscriptions"] == 2  # the default pose_data, system_event
                assert data["message_count"] == 0
                # a client heartbeat is answered with the server's
                await send(ws, {"type": "heartbeat", "data": {"client_id": "c9", "uptime": 1}})
                beat = await receive(ws)
                assert beat["type"] == "heartbeat"
                assert_envelope(beat, "c9", 2)
                assert beat["data"]["client_id"] == "c9"
                assert beat["data"]["uptime"] >= 0 and ISO_MS.match(beat["data"]["last_message"])
                # unprompted, the server beats every 30 s
                start = trio.current_time()
                beat = await receive(ws, timeout=60)
                assert beat["type"] == "heartbeat"
                assert 29 <= trio.current_time() - start <= 31
                assert_envelope(beat, "c9", 3)
                # unsubscribe and update_subscription are acknowledged like subscribe
                active = await subscribe(ws, {"event_type": "tracking_update"})
                assert [a["event_type"] for a in active] == ["tracking_update"]
                sub_id = active[0]["subscription_id"]
                await send(
                    ws,
                    {
                        "type": "update_subscription",
                        "data": {"subscription_id": sub_id, "filters": {"min_confidence": 0.5}},
                    },
                )
                ack = await receive(ws)
                assert ack["type"] == "ack" and ack["data"]["status"] == "success"
                assert ack["data"]["message_type"] == "update_subscription"
                assert ack["data"]["active_subscriptions"][0]["subscription_id"] == sub_id
                await send(ws, {"type": "unsubscribe", "data": {"subscription_ids": [sub_id]}})
                ack = await receive(ws)
                assert ack["data"]["message_type"] == "unsubscribe"
                assert ack["data"]["active_subscriptions"] == []
                # disconnect: the server says so and closes 1000
                await send(ws, {"type": "disconnect", "data": {}})
                bye = await receive(ws)
                assert bye["type"] == "disconnect"
                assert bye["data"] == {
                    "reason": "client_requested",
                    "message": "Graceful disconnect initiated by client",
                }
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await receive(ws)
                assert closed.value.reason.code == 1000
            nursery.cancel_scope.cancel()


async def test_token_expired_message_then_close_4002(autojump_clock):
    async with server() as (port, ctx):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            async with open_client(port, f"token={token(ttl=5)}&client_id=e1") as ws:
                start = trio.current_time()
                expired = await receive(ws, timeout=30)
                assert expired["type"] == "token_expired"
                assert 3 <= trio.current_time() - start <= 6
                assert expired["message"] == "JWT token has expired. Please refresh and reconnect."
                assert_envelope(expired, "e1", 2)
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await receive(ws)
                assert closed.value.reason.code == 4002
            nursery.cancel_scope.cancel()


async def test_error_message_envelope():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}&client_id=x1") as ws:
            await send(ws, {"type": "subscribe", "data": {"subscriptions": [{"event_type": "x"}]}})
            error = await receive(ws)
            assert error["type"] == "error"
            assert_envelope(error, "x1", 2)
            assert error["data"]["error_code"] == "SUBSCRIPTION_ERROR"
            assert error["data"]["message"] == "Invalid subscription filter"
            assert error["data"]["details"]["field"] == "event_type"
            assert set(error["data"]["details"]) == {"subscription_id", "field", "reason"}


# --- filters ---------------------------------------------------------------------------


async def test_environment_id_filter_one_or_a_list():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token(BOTH)}") as ws:
            await subscribe(
                ws,
                {"event_type": "pose_data", "filters": {"environment_id": "room_002"}},
                {"event_type": "tracking_update", "filters": {"environment_id": ["room_001"]}},
                {"event_type": "occupancy_update", "filters": {"environment_id": list(BOTH)}},
                MARKER,
            )
            ctx.hub.publish(pose("room_001", frame=1))
            ctx.hub.publish(pose("room_002", frame=2))
            for env in ("room_002", "room_001"):
                ctx.hub.publish(tracking(env))
                ctx.hub.publish(occupancy(env))
            ctx.hub.publish(config_update())
            got = await receive_all(ws, {"config_update", "pose_data"})
            envs = [(m["type"], m["data"].get("environment_id")) for m in got]
            assert sorted(envs, key=str) == sorted(
                [
                    ("occupancy_update", "room_002"),
                    ("tracking_update", "room_001"),
                    ("occupancy_update", "room_001"),
                    ("config_update", None),
                    ("pose_data", "room_002"),
                ],
                key=str,
            )
            events = [e for e in envs if e[0] != "pose_data"]
            assert events[:3] == [  # discrete events in the order published
                ("occupancy_update", "room_002"),
                ("tracking_update", "room_001"),
                ("occupancy_update", "room_001"),
            ]
            [frame] = [m for m in got if m["type"] == "pose_data"]
            assert frame["data"]["frame_id"] == 2


async def test_min_confidence_filter():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as ws:
            await subscribe(
                ws,
                {"event_type": "pose_data", "filters": {"min_confidence": 0.7}},
                {"event_type": "tracking_update", "filters": {"min_confidence": 0.7}},
                {"event_type": "activity_event", "filters": {"min_confidence": 0.7}},
                {"event_type": "pose_data_trajectory", "filters": {"min_confidence": 0.7}},
                MARKER,
            )
            ctx.hub.publish(pose(persons=(person(1, 0.5), person(2, 0.9), person(3, 0.7))))
            ctx.hub.publish(tracking(confidence=0.69, track=1))
            ctx.hub.publish(tracking(confidence=0.71, track=2))
            ctx.hub.publish(activity(confidence=0.6))
            ctx.hub.publish(activity(confidence=0.8))
            ctx.hub.publish(trajectory(confidence=0.3))
            ctx.hub.publish(config_update())
            got = await receive_all(ws, {"config_update", "pose_data"})
            assert [
                (m["type"], m["data"]["confidence"])
                for m in got
                if m["type"] not in ("config_update", "pose_data")
            ] == [("tracking_update", 0.71), ("activity_event", 0.8)]
            [frame] = [m for m in got if m["type"] == "pose_data"]
            assert [p["person_id"] for p in frame["data"]["persons"]] == [2, 3]
            ctx.hub.publish(trajectory(confidence=0.9))
            kept = await receive(ws)
            assert kept["type"] == "pose_data_trajectory"
            assert kept["data"]["trajectory"][-1]["confidence"] == 0.9


@pytest.mark.parametrize(
    "filters, keypoints, velocity, dense",
    [
        ({}, True, True, False),
        ({"include_keypoints": False}, False, True, False),
        ({"include_velocity": False}, True, False, False),
        ({"include_dense_pose": True}, True, True, True),
        (
            {"include_keypoints": False, "include_velocity": False, "include_dense_pose": True},
            False,
            False,
            True,
        ),
    ],
)
async def test_pose_projection_filters(filters, keypoints, velocity, dense):
    async with server() as (port, ctx):
        async with (
            open_client(port, f"token={token()}") as ws,
            open_client(port, f"token={token()}") as everything,
        ):
            await subscribe(ws, {"event_type": "pose_data", "filters": filters})
            await subscribe(
                everything, {"event_type": "pose_data", "filters": {"include_dense_pose": True}}
            )
            event = pose(persons=(person(dense=DENSE),))
            ctx.hub.publish(event)
            got = (await receive(ws))["data"]["persons"][0]
            full = (await receive(everything))["data"]["persons"][0]
            assert full == event.to_message()["data"]["persons"][0]  # the other projection
            assert ("keypoints" in got) == keypoints
            assert ("velocity" in got["activity"]) == velocity
            assert ("dense_pose" in got) == dense
            if dense:
                assert got["dense_pose"] == DENSE
            # nothing else differs from the full person
            for key in ("person_id", "track_id", "confidence", "bounding_box"):
                assert got[key] == full[key]
            assert got["activity"]["type"] == full["activity"]["type"]


async def test_severity_filters():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as ws:
            await subscribe(
                ws,
                {"event_type": "hardware_event", "filters": {"severity": ["warning", "error"]}},
                {"event_type": "activity_event", "filters": {"severity": "critical"}},
                {"event_type": "performance_update", "filters": {"severity": ["warning"]}},
                {"event_type": "system_event", "filters": {"severity": ["info"]}},
                MARKER,
            )
            ctx.hub.publish(hardware(severity="info", event="router_reconnected"))
            ctx.hub.publish(hardware(severity="warning"))
            ctx.hub.publish(activity(severity="high"))
            ctx.hub.publish(activity(severity="critical"))
            ctx.hub.publish(performance())  # no alert: info
            ctx.hub.publish(performance("warning"))
            ctx.hub.publish(system())  # no severity of its own: info
            ctx.hub.publish(config_update())
            got = await receive_until(ws, "config_update")
            assert [m["type"] for m in got] == [
                "hardware_event",
                "activity_event",
                "performance_update",
                "system_event",
                "config_update",
            ]
            assert got[0]["data"]["severity"] == "warning"
            assert got[1]["data"]["severity"] == "critical"
            assert got[2]["data"]["alerts"][0]["severity"] == "warning"
        async with open_client(port, f"token={token()}&subscriptions=none") as ws:
            # the spec's example: system events of warning and worse only
            await subscribe(
                ws,
                {"event_type": "system_event", "filters": {"severity": ["warning", "critical"]}},
                MARKER,
            )
            ctx.hub.publish(system())
            ctx.hub.publish(config_update())
            assert [m["type"] for m in await receive_until(ws, "config_update")] == [
                "config_update"
            ]


async def test_event_types_filter():
    async with server() as (port, ctx):
        async with (
            open_client(port, f"token={token()}") as falls,
            open_client(port, f"token={token()}") as alerts,
        ):
            await subscribe(
                falls,
                {"event_type": "activity_event", "filters": {"event_types": ["fall_detected"]}},
            )
            await subscribe(
                alerts,
                {"event_type": "activity_event", "filters": {"event_types": ["alert_triggered"]}},
                MARKER,
            )
            ctx.hub.publish(activity(actions=()))
            ctx.hub.publish(activity(actions=("alert_triggered",)))
            ctx.hub.publish(config_update())
            assert [m["data"]["actions"] for m in [await receive(falls), await receive(falls)]] == [
                [],
                ["alert_triggered"],
            ]
            got = await receive_until(alerts, "config_update")
            assert [m["data"].get("actions") for m in got[:-1]] == [["alert_triggered"]]


# --- throttles -------------------------------------------------------------------------


async def _count_frames(ws, into: list) -> None:
    while True:
        message = await receive(ws, timeout=600)
        if message["type"] == "pose_data":
            into.append((trio.current_time(), message))


async def test_max_fps_and_quality_measured(autojump_clock):
    """A publisher at 60 FPS for 10 virtual seconds; each client gets its own rate."""
    cases = {
        "low default (10)": ({"event_type": "pose_data"}, 10),
        "max_fps 5": ({"event_type": "pose_data", "throttle": {"max_fps": 5}}, 5),
        "max_fps 2.5": ({"event_type": "pose_data", "throttle": {"max_fps": 2.5}}, 2.5),
        "high default (30)": ({"event_type": "pose_data", "quality": "high"}, 30),
        "high max_fps 20": (
            {"event_type": "pose_data", "quality": "high", "throttle": {"max_fps": 20}},
            20,
        ),
    }
    seconds = 10
    async with server() as (port, ctx):
        clients = [open_client(port, f"token={token()}") for _ in cases]
        sockets = [await c.__aenter__() for c in clients]
        try:
            received = {name: [] for name in cases}
            async with trio.open_nursery() as nursery:
                for ws, (name, (request, _)) in zip(sockets, cases.items(), strict=True):
                    await subscribe(ws, request)
                    nursery.start_soon(_count_frames, ws, received[name])
                start = trio.current_time()
                for i in range(seconds * 60):
                    ctx.hub.publish(pose(frame=i))
                    await trio.sleep(1 / 60)
                end = trio.current_time()
                await trio.sleep(0.001)
                nursery.cancel_scope.cancel()
        finally:
            for c in reversed(clients):
                await c.__aexit__(None, None, None)
    for name, (_, fps) in cases.items():
        times = [t for t, _ in received[name] if start <= t <= end]
        assert abs(len(times) - seconds * fps) <= 2, (name, len(times))
        # never faster than max_fps over any second (a token bucket of
        # hub.THROTTLE_BURST frames lets a frame go a little early)
        for t in times:
            assert sum(t <= u < t + 1 for u in times) <= math.ceil(fps) + 1, name
        frames = [m["data"]["frame_id"] for _, m in received[name]]
        assert frames == sorted(set(frames)), name  # newest first never, no repeats


async def test_update_subscription_changes_the_rate(autojump_clock):
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as ws:
            [sub] = await subscribe(ws, {"event_type": "pose_data"})
            got = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_count_frames, ws, got)
                for i in range(5 * 60):
                    ctx.hub.publish(pose(frame=i))
                    await trio.sleep(1 / 60)
                nursery.cancel_scope.cancel()
            assert abs(len(got) - 50) <= 2
            # the spec's example puts max_fps among the filters: accepted there too
            await send(
                ws,
                {
                    "type": "update_subscription",
                    "data": {"subscription_id": sub["subscription_id"], "filters": {"max_fps": 2}},
                },
            )
            while (await receive(ws))["type"] != "ack":
                pass
            got = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_count_frames, ws, got)
                for i in range(5 * 60):
                    ctx.hub.publish(pose(frame=1000 + i))
                    await trio.sleep(1 / 60)
                nursery.cancel_scope.cancel()
            assert abs(len(got) - 10) <= 2


@pytest.mark.parametrize(
    "request_",
    [
        {"throttle": {"max_fps": 1, "buffer_size": 3}},
        {"throttle": {"max_fps": 1, "buffer_size": 1}},
        {"quality": "high", "throttle": {"max_fps": 1}},
        {"throttle": {"max_fps": 1}},
    ],
)
async def test_frames_over_max_fps_are_thinned_to_the_newest(autojump_clock, request_):
    """Whatever the buffer (it holds frames for a connection that is busy sending), frames
    that come faster than max_fps do not queue up: only the newest waits for its turn.
    (Frame 1 goes at once on the bucket's allowed debt, hub.THROTTLE_DEBT.)"""
    frames = [1, 10]
    async with server() as (port, ctx):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            async with open_client(port, f"token={token()}") as ws:
                await subscribe(ws, {"event_type": "pose_data", **request_})
                ctx.hub.publish(pose(frame=0))
                assert (await receive(ws))["data"]["frame_id"] == 0  # a 1 s period starts
                for i in range(1, 11):  # all within the period: only the newest waits
                    ctx.hub.publish(pose(frame=i))
                got = [await receive(ws, timeout=30) for _ in frames]
                assert [m["data"]["frame_id"] for m in got] == frames
                # the gap shows in frame_id; sequence numbers the messages actually sent
                assert [m["metadata"]["sequence"] for m in got] == list(range(4, 4 + len(frames)))
                [outbox] = ctx.hub.outboxes
                assert outbox.dropped == 10 - len(frames)
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "request_, field, ok",
    [
        ({"event_type": "pose_data", "throttle": {"max_fps": 10, "buffer_size": 5}}, "", True),
        ({"event_type": "pose_data", "throttle": {"max_fps": 10.5}}, "max_fps", False),
        ({"event_type": "pose_data", "throttle": {"buffer_size": 6}}, "buffer_size", False),
        ({"event_type": "pose_data", "quality": "high", "throttle": {"max_fps": 30}}, "", True),
        ({"event_type": "pose_data", "quality": "high", "throttle": {"max_fps": 31}}, "max_fps", 0),
        (
            {"event_type": "pose_data", "quality": "high", "throttle": {"buffer_size": 2}},
            "buffer_size",
            False,
        ),
        ({"event_type": "pose_data", "throttle": {"max_fps": 0}}, "max_fps", False),
        ({"event_type": "pose_data", "quality": "medium"}, "quality", False),
        ({"event_type": "system_event", "throttle": {"max_fps": 100 / 60}}, "", True),
        ({"event_type": "system_event", "throttle": {"max_fps": 2}}, "max_fps", False),
        ({"event_type": "system_event", "throttle": {"buffer_size": 10}}, "", True),
        ({"event_type": "system_event", "throttle": {"buffer_size": 11}}, "buffer_size", False),
        ({"event_type": "analytics_update", "throttle": {"max_fps": 1}}, "", True),
        ({"event_type": "analytics_stream", "throttle": {"max_fps": 1.5}}, "max_fps", False),
        ({"event_type": "analytics_stream", "throttle": {"buffer_size": 6}}, "buffer_size", 0),
        ({"event_type": "pose_data", "throttle": {"compression": "gzip"}}, "", True),
        ({"event_type": "pose_data", "throttle": {"compression": "br"}}, "compression", False),
    ],
)
async def test_the_specs_data_rate_table_is_a_ceiling(request_, field, ok):
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as ws:
            await send(ws, {"type": "subscribe", "data": {"subscriptions": [request_]}})
            reply = await receive(ws)
            if ok:
                assert reply["type"] == "ack", reply
            else:
                assert reply["data"]["error_code"] == "SUBSCRIPTION_ERROR"
                assert reply["data"]["details"]["field"] == field
                assert reply["data"]["details"]["subscription_id"] == "subscriptions[0]"
                assert reply["data"]["details"]["reason"]


# --- rate limits -----------------------------------------------------------------------


def _rate_error(message, limit, window, retry_after):
    assert message["type"] == "error", message
    assert message["data"]["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert message["data"]["message"] == "Message rate limit exceeded"
    assert message["data"]["details"] == {
        "current_rate": limit + 1,
        "limit": limit,
        "window": window,
        "retry_after": retry_after,
    }


async def test_subscription_messages_10_per_minute(autojump_clock):
    async with server() as (port, ctx):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            async with open_client(port, f"token={token()}") as ws:
                [first] = await subscribe(ws, {"event_type": "pose_data"})
                for i in range(1, 9):
                    await subscribe(
                        ws, {"event_type": "tracking_update", "filters": {"min_confidence": i / 10}}
                    )
                await send(
                    ws,
                    {
                        "type": "update_subscription",
                        "data": {"subscription_id": first["subscription_id"], "filters": {}},
                    },
                )
                assert (await receive(ws))["type"] == "ack"  # the tenth of the minute
                await trio.sleep(20)
                await send(
                    ws,
                    {
                        "type": "unsubscribe",
                        "data": {"subscription_ids": [first["subscription_id"]]},
                    },
                )
                _rate_error(await receive(ws), 10, "1_minute", 40)
                # not acted on: the subscription is still there
                [outbox] = ctx.hub.outboxes
                assert first["subscription_id"] in outbox.subscriptions
                await trio.sleep(41)
                await send(
                    ws,
                    {
                        "type": "unsubscribe",
                        "data": {"subscription_ids": [first["subscription_id"]]},
                    },
                )
                replies = await receive_until(ws, "ack")  # after the server's heartbeats
                assert [m["type"] for m in replies] == ["heartbeat", "heartbeat", "ack"]
            nursery.cancel_scope.cancel()


async def test_heartbeat_one_per_30_seconds(autojump_clock):
    async with server() as (port, ctx):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            async with open_client(port, f"token={token()}") as ws:
                await send(ws, {"type": "heartbeat", "data": {}})
                assert (await receive(ws))["type"] == "heartbeat"
                await trio.sleep(10)
                await send(ws, {"type": "heartbeat", "data": {}})
                _rate_error(await receive(ws), 1, "30_seconds", 20)
                await trio.sleep(21)
                replies = await receive_until(ws, "heartbeat")  # the server's own beat
                await send(ws, {"type": "heartbeat", "data": {}})
                assert (await receive(ws))["type"] == "heartbeat"
                assert all(m["type"] == "heartbeat" for m in replies)
            nursery.cancel_scope.cancel()


async def test_general_messages_60_per_minute_and_abuse_closes_1008(autojump_clock):
    async with server() as (port, ctx):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            async with (
                open_client(port, f"token={token()}") as ws,
                open_client(port, f"token={token()}") as bystander,  # default subscriptions
            ):
                # anything that is not a subscription message or a heartbeat is
                # "general", garbage included
                for _ in range(60):
                    await send(ws, {"type": "fly", "data": {}})
                    error = await receive(ws)
                    assert error["data"]["error_code"] == "UNKNOWN_MESSAGE_TYPE"
                await send(ws, "not json")
                _rate_error(await receive(ws), 60, "1_minute", 60)
                for _ in range(18):  # 19 refusals in a minute: still answered
                    await send(ws, {"type": "fly", "data": {}})
                    assert (await receive(ws))["data"]["error_code"] == "RATE_LIMIT_EXCEEDED"
                await send(ws, {"type": "fly", "data": {}})  # the 20th: closed
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await receive(ws)
                assert closed.value.reason.code == 1008
                ctx.hub.publish(pose(frame=5))
                assert (await receive(bystander))["data"]["frame_id"] == 5
            nursery.cancel_scope.cancel()
