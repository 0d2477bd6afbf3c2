"""One environment from frames to events: windows on the frames' clock, the model, then
the pipeline (tracking, activity, falls, occupancy, analytics).

Windows end on a fixed grid of the frames' clock (multiples of the model's hop) and a
window is processed once every router of the environment has delivered a frame at or
past its end, so when a window runs depends only on the frames, never on when they
arrived: a recording replayed at any speed gives the same events. Each window's features
are computed from the frames in ``(end - window - WARMUP_S, end]`` of every router (the
warm-up lets the static-removal filter settle), so the result does not depend on how much
history happens to be buffered either. A router that stays silent does not hold the
environment back for ever: the live shell calls ``advance(until_ns)`` after a timeout,
and windows then run without it (their quality says so).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from wdp.camera import Camera
from wdp.capture.frame import CsiFrame, FrameBatch
from wdp.inference.features import LOW_QUALITY
from wdp.inference.model import MODEL_VERSION, Model, Prediction
from wdp.pipeline.environment import EnvironmentPipeline, PipelineConfig
from wdp.pipeline.events import PipelineEvent
from wdp.pipeline.observations import Observation, Window

#: History before a window that its features see, seconds.
WARMUP_S = 1.0


class _RouterFrames:
    """One router's recent frames as column chunks (packed once, sliced per window)."""

    def __init__(self) -> None:
        self.chunks: deque[FrameBatch] = deque()
        self.latest_ns = -math.inf
        self.first_ns: int | None = None

    def add(self, frames: list[CsiFrame]) -> None:
        if not frames:
            return
        batch = FrameBatch.from_frames(frames)
        self.chunks.append(batch)
        self.latest_ns = max(self.latest_ns, int(batch.timestamp_ns.max()))
        if self.first_ns is None:
            self.first_ns = int(batch.timestamp_ns.min())

    def window(self, lo_ns: int, hi_ns: int) -> FrameBatch | None:
        parts = []
        for chunk in self.chunks:
            ts = chunk.timestamp_ns
            if ts[-1] <= lo_ns or ts[0] > hi_ns:
                continue
            a = int(np.searchsorted(ts, lo_ns, side="right"))
            b = int(np.searchsorted(ts, hi_ns, side="right"))
            if b > a:
                parts.append(chunk.rows(a, b))
        return FrameBatch.concat(parts) if parts else None

    def trim(self, before_ns: int) -> None:
        while self.chunks and self.chunks[0].timestamp_ns[-1] <= before_ns:
            self.chunks.popleft()


def observations(pred: Prediction, k: int) -> tuple[Observation, ...]:
    """The model's reported people of window k as the tracker's observations."""
    out = []
    for s in np.flatnonzero(pred.reported[k]):
        conf = float(np.clip(pred.confidence[k, s], 0.0, 1.0))
        out.append(
            Observation(
                position_m=pred.position[k, s],
                velocity_m_s=pred.velocity[k, s],
                keypoints_3d=pred.keypoints_3d[k, s],
                keypoint_confidence=np.full(17, conf),
                activity_probs=pred.activity_prob[k, s],
                confidence=conf,
            )
        )
    return tuple(out)


def low_quality_reason(quality: float) -> str:
    """The model's quality gate refusing a window, in one line."""
    return (
        f"CSI quality {quality:.2f} is below {LOW_QUALITY:g} (gaps, missing chains or "
        "bad packets): the pose model reports nobody"
    )


def ready_ends(
    next_end: int, hop_ns: int, latest_ns: list[float], until_ns: float | None
) -> list[int]:
    """Window ends on the grid ``next_end + k * hop_ns`` that every router has passed
    (``latest_ns``: each router's newest frame time), or that end at or before
    ``until_ns`` whatever the routers say (a silent router is not waited for). A
    router's frames arrive in time order, so once it has a frame later than an end,
    every frame up to that end is here (ties at the end are not yet safe)."""
    limit = min(latest_ns) - 1
    if until_ns is not None:
        limit = max(limit, until_ns)
    if not math.isfinite(limit) or limit < next_end:
        return []
    count = int((limit - next_end) // hop_ns) + 1
    return [next_end + i * hop_ns for i in range(count)]


class EnvironmentRunner:
    """Frames of one environment's routers in, events out (pure: no clock, no I/O)."""

    def __init__(
        self,
        environment_id: str,
        router_ids: list[str],
        model: Model,
        camera: Camera,
        config: PipelineConfig | None = None,
        **pipeline_kw,
    ) -> None:
        self.environment_id = environment_id
        self.router_ids = sorted(router_ids)
        self.model = model
        spec = model.spec
        self.hop_ns = int(round(spec.hop * 1e9 / spec.rate_hz))
        self.window_ns = int(round(spec.window * 1e9 / spec.rate_hz))
        self.span_ns = self.window_ns + int(WARMUP_S * 1e9)
        self._routers = {rid: _RouterFrames() for rid in self.router_ids}
        self._next_end: int | None = None
        self.pipeline = EnvironmentPipeline(environment_id, camera, config, **pipeline_kw)
        self.windows = 0
        self.ignored_frames = 0
        digest = str(model.training.get("data_digest", ""))[:8]
        self.model_version = f"{spec.profile}-v{MODEL_VERSION}" + (f"-{digest}" if digest else "")

    def add(self, frames: list[CsiFrame]) -> None:
        """Frames of this environment (any of its routers, in their arrival order)."""
        by_router: dict[str, list[CsiFrame]] = {}
        for f in frames:
            if f.router_id in self._routers:
                by_router.setdefault(f.router_id, []).append(f)
            else:
                self.ignored_frames += 1
        for rid, fs in by_router.items():
            self._routers[rid].add(fs)

    def _first_end(self) -> int | None:
        firsts = [r.first_ns for r in self._routers.values() if r.first_ns is not None]
        if not firsts:
            return None
        return math.ceil((min(firsts) + self.window_ns) / self.hop_ns) * self.hop_ns

    def ready(self, until_ns: float | None = None) -> list[int]:
        """Ends of the windows that can run now: every router has a frame later than
        them (or, with ``until_ns``, they end at or before it whatever the routers say)."""
        if self._next_end is None:
            self._next_end = self._first_end()
            if self._next_end is None:
                return []
        latest = [r.latest_ns for r in self._routers.values()]
        return ready_ends(self._next_end, self.hop_ns, latest, until_ns)

    def run(self, ends: list[int], *, processing_time_ms: float | None = None):
        """The events of the windows ending at ``ends`` (from ``ready``), in order."""
        events: list[PipelineEvent] = []
        for end in ends:
            batches = [
                self._routers[rid].window(end - self.span_ns, end) for rid in self.router_ids
            ]
            feats, pred = self.model.run(batches, np.array([end], np.int64))
            quality = float(np.clip(feats.quality[0], 0.0, 1.0))
            window = Window(
                time_ns=int(feats.center_ns[0]),  # the instant the model's truth refers to
                environment_id=self.environment_id,
                observations=observations(pred, 0),
                quality=quality,
                model_version=self.model_version,
                pose_refusal=low_quality_reason(quality) if pred.low_quality[0] else None,
            )
            events.extend(self.pipeline.step(window, processing_time_ms=processing_time_ms))
            self.windows += 1
            self._next_end = end + self.hop_ns
            for r in self._routers.values():
                r.trim(self._next_end - self.span_ns)
        return events

    def advance(self, until_ns: float | None = None, **kw) -> list[PipelineEvent]:
        """Run every ready window; the events."""
        return self.run(self.ready(until_ns), **kw)

    def finish(self) -> list[PipelineEvent]:
        """End of a replay: the windows the frames still allow, then the open analytics."""
        latest = max((r.latest_ns for r in self._routers.values()), default=-math.inf)
        events = self.advance(latest) if math.isfinite(latest) else []
        return events + self.pipeline.finish()
