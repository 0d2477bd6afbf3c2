"""``wdp replay``: a recording through the whole pipeline, its events written in order.

Every environment of the recording gets a ``TieredRunner``: the pose model of its
hardware where its links fit the model, else the sensing tier (``tiered``). Frames are
fed in the reader's one deterministic order and windows run as soon as the frames allow
(see ``runner``), so the events are a pure function of the recording: the same bytes
on every run, at any ``speed`` (``math.inf``: as fast as possible; 1.0: real time) and
with any number of worker threads.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from pathlib import Path

import attrs
import orjson
import trio

from wdp.camera import Camera
from wdp.inference.model import Model, ModelError
from wdp.pipeline.environment import PipelineConfig
from wdp.pipeline.events import PipelineEvent
from wdp.pipeline.observations import camera_from_truth
from wdp.pipeline.tiered import SensingSetup, TieredRunner
from wdp.recorder import RecordingError, Truth, open_recording
from wdp.recorder.playback import run_playback_source

#: The shipped models, by hardware profile.
MODELS_DIR = Path(__file__).resolve().parents[1] / "inference" / "models"
#: A room assumed for the camera of a recording that does not describe its room.
DEFAULT_ROOM = (5.0, 4.0, 2.7)


#: Shipped model files by hardware profile (``tools/train_default.sh``, ``train_esp32.sh``
#: and ``train_nexmon.sh`` make them).
SHIPPED_MODELS = {"intel5300": "default.npz", "esp32": "esp32.npz", "nexmon": "nexmon.npz"}


def default_model_path(profile: str) -> Path | None:
    name = SHIPPED_MODELS.get(profile)
    return None if name is None else MODELS_DIR / name


def pose_model_for(profile: str, path: str | Path | None = None) -> Model | None:
    """The given model file (ModelError if it cannot be used), else the shipped one for
    ``profile``, else None: that hardware runs on the sensing tier."""
    if path is None and default_model_path(profile) is None:
        return None
    return load_model_for(profile, path)


def load_model_for(profile: str, path: str | Path | None = None) -> Model:
    """The given model file, or the shipped one for ``profile`` (ModelError otherwise)."""
    if path is None:
        path = default_model_path(profile)
        if path is None or not path.exists():
            raise ModelError(
                f"no model for {profile} hardware is shipped; train one with "
                f"'wdp train' and pass it with --model"
            )
    return Model.load(path, profile=profile)


def camera_of(truth: Truth | None) -> Camera:
    """The recording's camera (simulated recordings carry it in their truth), else the
    default camera of a 5 x 4 x 2.7 m room."""
    if truth is not None:
        return camera_from_truth(truth)
    width, depth, height = DEFAULT_ROOM
    return Camera.for_room(types.SimpleNamespace(width=width, depth=depth, height=height))


@attrs.frozen(slots=True)
class ReplayReport:
    frames: int
    windows: int
    events: int
    environments: tuple[str, ...]
    closed_cleanly: bool
    #: One line per router on the sensing tier (``TierChoice.message``), in order.
    tier_notes: tuple[str, ...] = ()


def tier_notes(runners: dict[str, TieredRunner]) -> tuple[str, ...]:
    """What each sensing-tier router cannot give, one line each (environment order)."""
    notes = []
    for env in sorted(runners):
        choice = runners[env].choice
        if choice is not None and not choice.pose:
            notes += [choice.message(rid) for rid, _ in choice.reasons]
    return tuple(notes)


def encode_event(event: PipelineEvent) -> bytes:
    """One event as a line of JSON (the spec's message shape; key order fixed)."""
    return orjson.dumps(event.to_message()) + b"\n"


async def replay(
    path: str | Path,
    emit: Callable[[PipelineEvent], None],
    *,
    speed: float = math.inf,
    model_path: str | Path | None = None,
    workers: int = 1,
    config: PipelineConfig | None = None,
    progress: Callable[[int], None] | None = None,
    sensing: SensingSetup | None = None,
    pose_on_real_hardware: bool = False,
) -> ReplayReport:
    """Replay ``path``; ``emit`` gets every event in order. RecordingError/ModelError for
    a file that cannot be replayed at all. A recording without simulator truth is real
    hardware: the pose model runs on it only with ``pose_on_real_hardware``."""
    with open_recording(path) as rec:
        routers = rec.routers
        truth = rec.truth()
        closed = rec.closed_cleanly
    if not routers:
        raise RecordingError(f"{path}: the recording has no routers")
    camera = camera_of(truth)
    envs: dict[str, list] = {}
    for info in routers:
        envs.setdefault(info.environment_id, []).append(info)
    runners = {}
    for env, infos in sorted(envs.items()):
        profiles = {i.hw_format for i in infos}
        if len(profiles) != 1:
            raise ModelError(
                f"environment {env} mixes {', '.join(sorted(profiles))} hardware; "
                "a model takes one kind"
            )
        model = pose_model_for(profiles.pop(), model_path)
        runners[env] = TieredRunner(
            env,
            [i.router_id for i in infos],
            model,
            camera,
            config,
            sensing=sensing,
            pose_trusted=pose_on_real_hardware or truth is not None,
            truth=None if truth is None else truth.rows,  # MOTA in analytics_stream
        )
    limiter = trio.CapacityLimiter(max(1, workers))
    frames = windows = events = 0
    send, receive = trio.open_memory_channel(16)

    def deliver(batch: list[PipelineEvent]) -> None:
        nonlocal events
        for event in batch:
            emit(event)
        events += len(batch)

    async def play() -> None:
        async with send:
            await run_playback_source(path, send, speed=speed)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(play)
        async with receive:
            async for item in receive:
                frames += len(item.frames)
                env = item.frames[0].environment_id if item.frames else None
                runner = runners.get(env)
                if runner is None:
                    continue
                runner.add(item.frames)
                batch = await trio.to_thread.run_sync(runner.advance, limiter=limiter)
                deliver(batch)
                if progress is not None:
                    progress(len(item.frames))
    for env in sorted(runners):
        deliver(runners[env].finish())
        windows += runners[env].windows
    return ReplayReport(
        frames, windows, events, tuple(sorted(runners)), closed, tier_notes(runners)
    )
