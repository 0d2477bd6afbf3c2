"""``wdp serve``: the nursery tree that runs capture, recording, the pipelines and the API.

app ⊃ {sources (one task per router, or one simulator per environment), ingest
(fans frames out), recorder (every frame, rolling files), one pipeline per environment,
the HTTP/WebSocket server}. ``started`` is reported only once the port is bound, every
model is loaded and the numba kernels (the sensing tier's too) are compiled.

With no environments configured, the demo runs: environment ``room_001`` fed by the
simulator's ``demo_room`` scenario in a loop, in the room the shipped model was trained in.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import attrs
import orjson
import prometheus_client
import trio

from wdp import __version__
from wdp.capture.formats import make_parser
from wdp.capture.liveness import RouterDisconnected, RouterReconnected
from wdp.capture.source import parse_source
from wdp.capture.udp import Captured, bind_udp, run_udp_capture
from wdp.config import Config
from wdp.dsp import warm_up
from wdp.pipeline.environment import PipelineConfig
from wdp.pipeline.events import ActivityEvent, ConfigUpdate, HardwareEvent, SystemEvent
from wdp.pipeline.performance import PERFORMANCE_INTERVAL_S, PerformanceMonitor
from wdp.pipeline.replay import camera_of, pose_model_for
from wdp.pipeline.tiered import TieredRunner, sensing_setup, warm_sensing
from wdp.recorder import RollingRecorder, RouterInfo
from wdp.recorder.playback import run_playback_source
from wdp.server.auth import AuthError, Verifier, token_from_request
from wdp.server.connection import ConnectionContext, serve_connection
from wdp.server.echo import serve_echo
from wdp.server.http import ConnectionLimits, Request, Response, Routes, serve_http
from wdp.server.hub import Hub
from wdp.server.live_config import (
    ConfigPatchError,
    apply_patch,
    parse_patch,
    pipeline_config,
    visible_config,
)
from wdp.server.static import mount_dashboard
from wdp.server.webhook import notify
from wdp.sim.live import run_sim_source
from wdp.sim.scenario import load_scenario
from wdp.sim.simulate import router_infos

log = logging.getLogger(__name__)

DEMO_ENVIRONMENT = "room_001"
DEMO_SCENARIO = "demo_room"
WS_PATHS = frozenset({"/ws/v1", "/api/v1/stream/pose"})


@attrs.define(slots=True, eq=False)
class _Environment:
    id: str
    routers: list[RouterInfo]
    runner: TieredRunner
    channel: trio.MemorySendChannel
    receive: trio.MemoryReceiveChannel
    latest_pose: dict | None = None
    windows: int = 0
    #: Settings changed through the REST API, applied before the next windows run.
    new_settings: PipelineConfig | None = None
    #: Routers reported silent (router_disconnected, not yet back), and the newest frame
    #: time of the environment: with a router silent, windows up to that time run
    #: without it instead of waiting for it for ever (DESIGN rule 4).
    silent: set[str] = attrs.field(factory=set)
    newest_ns: int | None = None

    def until_ns(self) -> int | None:
        """``ready(until_ns)`` of the environment's runner: None while every router
        sends."""
        if not self.silent or self.newest_ns is None:
            return None
        return self.newest_ns - 1


class _Metrics:
    """The Prometheus figures of one server."""

    def __init__(self) -> None:
        r = self.registry = prometheus_client.CollectorRegistry()
        self.frames = prometheus_client.Counter(
            "wdp_frames", "CSI frames received", ["router"], registry=r
        )
        self.datagrams = prometheus_client.Counter(
            "wdp_datagrams", "UDP datagrams received", ["router"], registry=r
        )
        self.skipped = prometheus_client.Counter(
            "wdp_datagrams_skipped",
            "UDP datagrams refused by the parser",
            ["router", "reason"],
            registry=r,
        )
        self.events = prometheus_client.Counter(
            "wdp_events", "events published", ["type"], registry=r
        )
        self.latency = prometheus_client.Histogram(
            "wdp_window_seconds", "time to process one window", registry=r
        )
        self.connections = prometheus_client.Gauge("wdp_connections", "open WebSockets", registry=r)
        self.fall_alerts = prometheus_client.Counter(
            "wdp_fall_alerts", "fall alerts raised", ["environment", "severity"], registry=r
        )

    def alert(self, event: ActivityEvent) -> bool:
        """The server's own fall alert (``alert_triggered``): a warning in the log and the
        ``wdp_fall_alerts`` counter, which monitoring can alert on."""
        log.warning(
            "fall alert: environment %s, fall %s, track %s, severity %s, recovered %s",
            event.environment_id,
            event.fall_id,
            event.track_id,
            event.severity,
            event.recovery_detected,
        )
        self.fall_alerts.labels(event.environment_id, event.severity).inc()
        return True


def _recording_sources(path: Path, speed: float, loop: bool):
    """A recording's environments, all fed by one playback of the whole file."""
    from wdp.recorder import open_recording

    with open_recording(path) as rec:
        infos = list(rec.routers)
        truth = rec.truth()
    envs: dict = {}
    for info in infos:
        envs.setdefault(info.environment_id, ([], []))[0].append(info)
    first = sorted(envs)[0]
    envs[first][1].append(functools.partial(_run_playback, path, speed, loop))
    return envs, truth


async def _run_playback(path, speed, loop, send):
    await run_playback_source(path, send, speed=speed, loop=loop)


def _sources(config: Config):
    """(environment id, [(router info, async runner(send))]) for the configured world,
    or the demo."""
    if not config.environments:
        scenario = load_scenario(DEMO_SCENARIO)
        infos = router_infos(scenario, DEMO_ENVIRONMENT, None)
        run = functools.partial(run_sim_source, scenario, environment_id=DEMO_ENVIRONMENT)
        return {
            DEMO_ENVIRONMENT: (infos, [run]),
        }, scenario
    envs = {}
    for env_id, env in sorted(config.environments.items()):
        infos, runs = [], []
        for rid, router in sorted(env.routers.items()):
            src = router.source
            if src.startswith("udp://"):
                source = parse_source(src, router_id=rid, environment_id=env_id)
                parser = make_parser(source.format, rid, env_id, streams=source.streams)
                infos.extend(RouterInfo(r, env_id, parser.hw_format) for r in source.router_ids)
                runs.append(functools.partial(_run_udp, source, parser))
            elif src.startswith("sim:"):
                scenario = load_scenario(src[4:])
                sim_infos = router_infos(scenario, env_id, router.profile or None)
                infos.extend(sim_infos)
                runs.append(
                    functools.partial(
                        run_sim_source,
                        scenario,
                        environment_id=env_id,
                        profile=router.profile or None,
                    )
                )
            elif src.startswith("replay:"):
                from wdp.recorder import open_recording

                with open_recording(src[7:]) as rec:
                    infos.extend(attrs.evolve(i, environment_id=env_id) for i in rec.routers)
                runs.append(functools.partial(_run_replay, src[7:], env_id))
            else:
                raise ValueError(f"environments.{env_id}.routers.{rid}.source: unknown {src!r}")
        envs[env_id] = (infos, runs)
    return envs, None


def _simulated(config: Config, env_id: str) -> bool:
    """Whether an environment's CSI all comes from the simulator (``sim:`` sources, or
    recordings holding simulator truth): only then is the pose model trusted with it
    (``wdp.pipeline.tier``). The demo (no environments configured) is simulated."""
    env = config.environments.get(env_id)
    if env is None:
        return not config.environments
    for router in env.routers.values():
        src = router.source
        if src.startswith("replay:"):
            from wdp.recorder import open_recording

            with open_recording(src[7:]) as rec:
                if rec.truth() is None:
                    return False
        elif not src.startswith("sim:"):
            return False
    return True


def _tier_of(runner: TieredRunner) -> dict:
    """``tier`` ("pose", "sensing", or null until the first 2 s of frames are judged)
    and ``tier_reasons`` (router id -> why the pose model does not run there)."""
    choice = runner.choice
    if choice is None:
        return {"tier": None, "tier_reasons": {}}
    return {"tier": choice.tier, "tier_reasons": dict(choice.reasons)}


async def _source(run, send: trio.MemorySendChannel) -> None:
    """Run a source; its channel closes when it ends, however it ends."""
    async with send:
        await run(send)


def _hardware_event(item: RouterDisconnected | RouterReconnected) -> HardwareEvent:
    now = time.time_ns()
    if isinstance(item, RouterDisconnected):
        log.warning("router %s silent for %.1f s", item.router_id, item.silent_for_s)
        return HardwareEvent(
            now,
            "router_disconnected",
            item.router_id,
            "warning",
            "Router connection lost. Attempting reconnection...",
            last_seen_ns=item.last_seen_ns,
            reconnect_attempts=item.reconnect_attempts,
            environment_id=item.environment_id,
        )
    return HardwareEvent(
        now,
        "router_reconnected",
        item.router_id,
        "info",
        f"Router back after {item.downtime_s:.1f} s",
        reconnect_attempts=item.reconnect_attempts,
        environment_id=item.environment_id,
    )


async def _run_udp(source, parser, send):
    sock, source = bind_udp(source)
    await run_udp_capture(source, parser, send, sock=sock)


async def _run_replay(path, environment_id, send):
    await run_playback_source(path, send, loop=True, environment_id=environment_id)


async def serve(
    config: Config,
    *,
    model_path: str | Path | None = None,
    stop: trio.Event | None = None,
    recording: str | Path | None = None,
    speed: float = 1.0,
    loop: bool = False,
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until ``stop`` is set (then stop gracefully) or until cancelled.

    With ``recording`` (``wdp replay --serve``), the recording's environments are served,
    fed by its frames at ``speed`` (looping with ``loop``), instead of the configured ones.
    """
    started_ns = time.time_ns()
    if recording is not None:
        envs_spec, truth = _recording_sources(Path(recording), speed, loop)
        camera = camera_of(truth)
    else:
        envs_spec, demo = _sources(config)
        camera = camera_of(None) if demo is None else demo.camera
    hub = Hub()
    metrics = _Metrics()
    settings = pipeline_config(config)
    environments: dict[str, _Environment] = {}
    for env_id, (infos, _) in envs_spec.items():
        profiles = {i.hw_format for i in infos}
        if len(profiles) != 1:
            raise ValueError(f"environment {env_id} mixes hardware: {sorted(profiles)}")
        model = pose_model_for(profiles.pop(), model_path)
        runner = TieredRunner(
            env_id,
            [i.router_id for i in infos],
            model,
            camera,
            settings,
            sensing=sensing_setup(config, env_id, infos),
            pose_trusted=config.detection.pose_on_real_hardware
            or (truth is not None if recording is not None else _simulated(config, env_id)),
            alert=metrics.alert,
        )
        send, receive = trio.open_memory_channel(256)
        environments[env_id] = _Environment(env_id, infos, runner, send, receive)
    await trio.to_thread.run_sync(warm_up)
    await trio.to_thread.run_sync(warm_sensing)
    verifier = Verifier.from_config(config.auth, config.state_dir)
    ctx = ConnectionContext(config.server, verifier, hub)
    all_infos = [i for e in environments.values() for i in e.routers]
    record_send, record_receive = trio.open_memory_channel(1024)
    ingest_send, ingest_receive = trio.open_memory_channel(1024)

    session_id = f"session_{started_ns}"
    counters = {"frames": 0, "windows": 0, "window_s": 0.0}

    async def ingest() -> None:
        """Every captured burst to the recorder and to its environment's pipeline;
        router liveness to the API. Ends when every source has closed its channel, and
        then closes the recorder's and the pipelines' channels, so they drain and end."""
        async with record_send, ingest_receive:
            async for item in ingest_receive:
                if isinstance(item, Captured):
                    metrics.frames.labels(item.router_id).inc(len(item.frames))
                    if item.datagrams:
                        metrics.datagrams.labels(item.router_id).inc(len(item.datagrams))
                    for reason, n in item.skipped.items():
                        metrics.skipped.labels(item.router_id, reason).inc(n)
                    counters["frames"] += len(item.frames)
                    await record_send.send(item)
                    if item.frames:
                        env = environments.get(item.frames[0].environment_id)
                        if env is not None:
                            await env.channel.send(item.frames)
                else:
                    env = environments.get(item.environment_id)
                    if env is not None and isinstance(item, RouterDisconnected):
                        env.silent.add(item.router_id)
                    elif env is not None:
                        env.silent.discard(item.router_id)
                    hub.publish(_hardware_event(item))
        for env in environments.values():
            await env.channel.aclose()

    async def record() -> None:
        cfg = config.recording
        with RollingRecorder(
            cfg.directory,
            "session",
            max_bytes=cfg.max_bytes,
            max_seconds=cfg.max_seconds,
            retention_files=cfg.retention_files,
            retention_bytes=cfg.retention_bytes,
            routers=all_infos,
            source="wdp serve",
        ) as rec:
            async for item in record_receive:
                for data, host_ns in item.datagrams:
                    rec.append_raw_one(item.router_id, data, host_ns)
                for frame in item.frames:
                    rec.append_frame(frame)

    limiter = trio.CapacityLimiter(2)

    async def pipeline(env: _Environment) -> None:
        async for frames in env.receive:
            env.runner.add(frames)
            newest = max(f.timestamp_ns for f in frames)
            env.newest_ns = newest if env.newest_ns is None else max(env.newest_ns, newest)
            ends = env.runner.ready(env.until_ns())
            if not ends:
                continue
            if env.new_settings is not None:  # never while a window runs in the thread
                env.runner.reconfigure(env.new_settings)
                env.new_settings = None
            t0 = time.perf_counter()
            events = await trio.to_thread.run_sync(
                functools.partial(env.runner.run, ends), limiter=limiter
            )
            per_window_s = (time.perf_counter() - t0) / len(ends)
            metrics.latency.observe(per_window_s)
            counters["windows"] += len(ends)
            counters["window_s"] += per_window_s * len(ends)
            for event in events:
                if event.TYPE == "pose_data":  # the one wall-clock figure: stamped here
                    event = attrs.evolve(event, processing_time_ms=per_window_s * 1e3)
                    env.latest_pose = event.to_message()
                elif isinstance(event, ActivityEvent) and config.analytics.alert_webhook:
                    event = await notify(event, config.analytics.alert_webhook)
                metrics.events.labels(event.TYPE).inc()
                hub.publish(event)

    def json(status: int, body) -> Response:
        return Response(status, orjson.dumps(body))

    def principal_of(request: Request):
        """The request's verified token, or the 401 response to send instead."""
        try:
            token = token_from_request(
                request.query.get("token"), request.headers.get("authorization")
            )
            return verifier.verify(token)
        except AuthError as exc:
            return json(401, {"error": {"error_code": exc.code, "message": str(exc)}})

    def visible(principal) -> list[_Environment]:
        return [e for e in environments.values() if principal.may_see(e.id)]

    async def health(request: Request) -> Response:
        return json(
            200,
            {
                "status": "ok",
                "ready": True,
                "version": __version__,
                "uptime_s": round((time.time_ns() - started_ns) / 1e9, 3),
            },
        )

    async def prometheus(request: Request) -> Response:
        """For an admin token only: the figures name every environment and router."""
        who = principal_of(request)
        if isinstance(who, Response):
            return who
        if not who.is_admin:
            return json(403, {"error": {"error_code": "FORBIDDEN", "message": "admin role needed"}})
        metrics.connections.set(ctx.connections)
        return Response(
            200,
            prometheus_client.generate_latest(metrics.registry),
            content_type=prometheus_client.CONTENT_TYPE_LATEST,
        )

    async def status(request: Request) -> Response:
        who = principal_of(request)
        if isinstance(who, Response):
            return who
        return json(
            200,
            {
                "version": __version__,
                "connections": ctx.connections,
                "environments": {
                    e.id: {"routers": [r.router_id for r in e.routers], "windows": e.runner.windows}
                    for e in visible(who)
                },
            },
        )

    async def env_list(request: Request) -> Response:
        who = principal_of(request)
        if isinstance(who, Response):
            return who
        return json(
            200,
            {
                "environments": [
                    {
                        "environment_id": e.id,
                        "routers": [attrs.asdict(r) for r in e.routers],
                        "model_version": e.runner.model_version,
                        **_tier_of(e.runner),
                    }
                    for e in visible(who)
                ]
            },
        )

    async def latest_pose(request: Request) -> Response:
        who = principal_of(request)
        if isinstance(who, Response):
            return who
        env = environments.get(request.query.get("environment_id", ""))
        if env is None or not who.may_see(env.id):
            return json(404, {"error": {"message": "no such environment for this token"}})
        return json(200, env.latest_pose or {"type": "pose_data", "data": None})

    async def config_get(request: Request) -> Response:
        who = principal_of(request)
        if isinstance(who, Response):
            return who
        return json(200, visible_config(config, who.may_see))

    async def config_patch(request: Request) -> Response:
        """Apply a change live (admin only), tell every subscriber with config_update."""
        nonlocal config
        who = principal_of(request)
        if isinstance(who, Response):
            return who
        if not who.is_admin:
            return json(403, {"error": {"error_code": "FORBIDDEN", "message": "admin role needed"}})
        try:
            new, changed = apply_patch(config, parse_patch(request.body))
        except ConfigPatchError as exc:
            return json(exc.status, {"error": {"error_code": exc.code, "message": str(exc)}})
        config = new
        ctx.config = new.server
        limits.max_total = new.server.max_connections
        limits.max_per_ip = new.server.max_connections_per_ip
        for env in environments.values():
            env.new_settings = pipeline_config(new, env.runner.config)
        update = ConfigUpdate(time.time_ns(), list(changed), changed, who.subject, False)
        if changed:
            hub.publish(update)
        return json(200, update.to_message()["data"])

    echo_path = config.server.test_echo_path

    async def websocket(ws_request, request: Request) -> None:
        if request.path == echo_path:
            await serve_echo(ws_request, request)
        else:
            await serve_connection(ws_request, request, ctx)

    routes = Routes(websocket_paths=WS_PATHS | {echo_path} - {""}, websocket=websocket)
    routes.add("GET", "/health", health)
    routes.add("GET", "/metrics", prometheus)
    routes.add("GET", "/api/v1/status", status)
    routes.add("GET", "/api/v1/environments", env_list)
    routes.add("GET", "/api/v1/pose/latest", latest_pose)
    routes.add("GET", "/api/v1/config", config_get)
    routes.add("PATCH", "/api/v1/config", config_patch)
    mount_dashboard(routes)

    def publish_system_event(event: str, status: str) -> None:
        """One per environment, so each token hears only of its own environments."""
        now = time.time_ns()
        for env_id in sorted(environments):
            hub.publish(
                SystemEvent(
                    now,
                    event,
                    status,
                    session_id,
                    configuration={"version": __version__},
                    components={
                        "capture": "healthy",
                        "csi_processor": "healthy",
                        "neural_network": "healthy",
                        "tracker": "healthy",
                        "recorder": "healthy",
                    },
                    environment_id=env_id,
                )
            )

    async def performance() -> None:
        monitor = PerformanceMonitor()
        while True:
            await trio.sleep(PERFORMANCE_INTERVAL_S)
            queued = sum(e.receive.statistics().current_buffer_used for e in environments.values())
            hub.publish(monitor.update(time.time_ns(), counters, queued))

    srv = config.server
    limits = ConnectionLimits(srv.max_connections, srv.max_connections_per_ip)
    stop = trio.Event() if stop is None else stop
    async with trio.open_nursery() as nursery:
        nursery.start_soon(record)
        nursery.start_soon(ingest)
        for env in environments.values():
            nursery.start_soon(pipeline, env)
        async with trio.open_nursery() as front:
            port = await front.start(
                functools.partial(
                    serve_http,
                    routes,
                    host=srv.host,
                    port=srv.port,
                    limits=limits,
                    handshake_timeout_s=srv.handshake_timeout_s,
                    max_message_bytes=srv.max_message_bytes,
                )
            )
            front.start_soon(performance)
            async with trio.open_nursery() as sources:
                for _, runs in envs_spec.values():
                    for run in runs:
                        sources.start_soon(_source, run, ingest_send.clone())
                await ingest_send.aclose()
                publish_system_event("system_started", "running")
                task_status.started(port)
                await stop.wait()
                # Graceful stop: tell the clients, give them the grace period to go,
                # then stop the sources; the recorder drains what was captured.
                publish_system_event("system_stopping", "stopping")
                ctx.shutdown.set()
                with trio.move_on_after(config.server.shutdown_grace_s):
                    while ctx.connections:
                        await trio.sleep(0.05)
                sources.cancel_scope.cancel()
            front.cancel_scope.cancel()
