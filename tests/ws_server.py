"""A real WebSocket server on 127.0.0.1 with a Hub the test publishes into, its tokens,
a client, and one typed event of every kind (the WebSocket API tests share these)."""

import functools
import re
import time
from contextlib import asynccontextmanager

import orjson
import trio
import trio_websocket

from wdp.config import AuthConfig, ServerConfig
from wdp.pipeline.events import (
    ActivityEvent,
    AnalyticsStream,
    BoundingBox,
    ConfigUpdate,
    HardwareEvent,
    Keypoint,
    OccupancyUpdate,
    Occupant,
    PerformanceAlert,
    PerformanceUpdate,
    PersonActivity,
    Point,
    PoseFrame,
    PosePerson,
    SystemEvent,
    TrackingUpdate,
    TrajectoryPoint,
    TrajectoryPrediction,
    TrajectoryUpdate,
    Velocity,
)
from wdp.server.auth import Verifier, mint
from wdp.server.connection import ConnectionContext, serve_connection
from wdp.server.http import ConnectionLimits, Routes, serve_http
from wdp.server.hub import Hub

KEY = b"k" * 40
AUTH = AuthConfig()
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def token(envs=("room_001",), roles=("viewer",), ttl=600):
    """A valid token for ``envs`` (a list of ids, or "*" for every environment)."""
    envs = envs if envs == "*" else list(envs)
    return mint(AUTH, KEY, subject="t", roles=list(roles), environments=envs, ttl_s=ttl)


@asynccontextmanager
async def server(auth=AUTH, key=KEY, **config):
    """(port, ConnectionContext) of a server whose Hub is ``ctx.hub``."""
    ctx = ConnectionContext(ServerConfig(**config), Verifier(auth, key), Hub())
    routes = Routes(
        websocket_paths=frozenset({"/ws/v1", "/api/v1/stream/pose"}),
        websocket=lambda w, r: serve_connection(w, r, ctx),
    )
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            functools.partial(
                serve_http,
                routes,
                host="127.0.0.1",
                port=0,
                limits=ConnectionLimits(1000, 1000),
                max_message_bytes=ctx.config.max_message_bytes,
            )
        )
        yield port, ctx
        nursery.cancel_scope.cancel()


def connect(port, query="", path="/ws/v1", **kw):
    return trio_websocket.open_websocket("127.0.0.1", port, f"{path}?{query}", use_ssl=False, **kw)


async def receive(ws, timeout=5):
    with trio.fail_after(timeout):
        return orjson.loads(await ws.get_message())


async def send(ws, message) -> None:
    await ws.send_message(message if isinstance(message, str | bytes) else _dumps(message))


def _dumps(message) -> str:
    return orjson.dumps(message).decode()


async def receive_until(ws, kind, timeout=5):
    """Messages up to and including the first of type ``kind`` (bounded in time)."""
    seen = []
    with trio.fail_after(timeout):
        while True:
            seen.append(orjson.loads(await ws.get_message()))
            if seen[-1]["type"] == kind:
                return seen


async def receive_all(ws, kinds, timeout=5):
    """Messages until one of each type in ``kinds`` has come (bounded in time): pose
    frames may come before or after discrete events published with them."""
    seen, waiting = [], set(kinds)
    with trio.fail_after(timeout):
        while waiting:
            seen.append(orjson.loads(await ws.get_message()))
            waiting.discard(seen[-1]["type"])
    return seen


async def subscribe(ws, *subscriptions):
    """Send one subscribe and return its ack's active subscriptions (ids in order)."""
    await send(ws, {"type": "subscribe", "data": {"subscriptions": list(subscriptions)}})
    ack = await receive(ws)
    assert ack["type"] == "ack", ack
    assert ack["data"]["message_type"] == "subscribe"
    return ack["data"]["active_subscriptions"]


def open_client(port, query="subscriptions=none", **kw):
    """A connected client past its connection_status (use as ``async with``)."""
    return _Client(port, query, kw)


class _Client:
    def __init__(self, port, query, kw):
        self._cm = connect(port, query, **kw)

    async def __aenter__(self):
        ws = await self._cm.__aenter__()
        try:
            status = await receive(ws)
            assert status["type"] == "connection_status", status
        except BaseException as exc:
            await self._cm.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return ws

    async def __aexit__(self, *exc):
        return await self._cm.__aexit__(*exc)


async def ticker(step=0.25):
    """Under a virtual clock: keep a deadline at most ``step`` ahead, so no jump of the
    clock is ever longer than ``step`` (a fail_after far ahead is never jumped to)."""
    while True:
        await trio.sleep(step)


# --- one typed event of every kind ---------------------------------------------------


def now_ns() -> int:
    return time.time_ns()


def point(x=210.0, y=240.0) -> Point:
    return Point(x, y, 1.5, 2.0, 0.0)


def person(pid=1, confidence=0.9, dense=None) -> PosePerson:
    return PosePerson(
        pid,
        pid + 6,
        confidence,
        BoundingBox(120, 80, 180, 320),
        (Keypoint("nose", 210, 95, 0.92, True, 1.5, 2.0, 1.6),),
        PersonActivity("walking", 0.78, Velocity(0.5, 0.2)),
        dense_pose=dense,
    )


DENSE = {"grid": [1, 1], "bbox": [120.0, 80.0, 180.0, 320.0], "parts": [2], "u": [0.5], "v": [0.25]}


def pose(env="room_001", frame=1, persons=()) -> PoseFrame:
    return PoseFrame(
        timestamp_ns=now_ns(),
        frame_id=frame,
        environment_id=env,
        processing_time_ms=None,
        persons=persons,
        model_version="test",
        csi_quality=0.9,
        frame_rate=10.0,
    )


def tracking(env="room_001", confidence=0.87, track=7) -> TrackingUpdate:
    return TrackingUpdate(
        now_ns(), env, track, 1, "track_started", point(), confidence, now_ns() - 10**9, 0.92
    )


def trajectory(env="room_001", confidence=0.87) -> TrajectoryUpdate:
    t = now_ns()
    points = (
        TrajectoryPoint(t - 10**9, point(200, 230), 0.89),
        TrajectoryPoint(t, point(), confidence),
    )
    return TrajectoryUpdate(t, env, 7, 1, points, TrajectoryPrediction(point(215, 245), 0.73, 1.0))


def activity(env="room_001", severity="high", confidence=0.92, actions=()) -> ActivityEvent:
    return ActivityEvent(
        now_ns(),
        env,
        1,
        "fall_detected",
        severity,
        3,
        15,
        confidence,
        point(210, 180),
        2.3,
        0.85,
        False,
        actions,
    )


def occupancy(env="room_001") -> OccupancyUpdate:
    persons = (Occupant(1, 7, "active"), Occupant(4, 12, "new"))
    return OccupancyUpdate(now_ns(), env, 2, 1, "person_entered", 0.89, persons)


def analytics(env="room_001") -> AnalyticsStream:
    return AnalyticsStream(
        now_ns(), env, "1_minute", 3, 2.7, 5, 15, 45.2, 0.67, 1800, 0.84, None, "stable", None, None
    )


def system(event="system_started") -> SystemEvent:
    components = {"neural_network": "healthy", "csi_processor": "healthy", "tracker": "healthy"}
    configuration = {"domain": "test", "environment_id": "room_001"}
    return SystemEvent(now_ns(), event, "running", "session_1", configuration, components)


def hardware(env="room_001", severity="warning", event="router_disconnected") -> HardwareEvent:
    return HardwareEvent(
        now_ns(), event, "r1", severity, "lost", now_ns() - 30 * 10**9, 1, environment_id=env
    )


def performance(alert_severity=None) -> PerformanceUpdate:
    alerts = (
        ()
        if alert_severity is None
        else (PerformanceAlert("high_latency", alert_severity, 67.3, 50.0),)
    )
    return PerformanceUpdate(now_ns(), 29.8, 45.2, 3, 65.4, 78.2, None, alerts)


def config_update() -> ConfigUpdate:
    values = {"detection.confidence_threshold": 0.8, "analytics.enable_fall_detection": True}
    return ConfigUpdate(now_ns(), list(values), values, "admin", False)


#: One event of each subscribable type whose events belong to an environment.
def environment_events(env):
    return {
        "pose_data": pose(env, persons=(person(),)),
        "pose_data_trajectory": trajectory(env),
        "tracking_update": tracking(env),
        "activity_event": activity(env),
        "occupancy_update": occupancy(env),
        "analytics_stream": analytics(env),
        "hardware_event": hardware(env),
    }
