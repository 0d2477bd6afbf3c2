"""One environment on the tier its routers allow: the pose model, or the sensing tier.

``TieredRunner`` holds an environment's first frames until every router has sent
``tier.DECIDE_S`` of them (or the stream ends, or the live shell gives up waiting on a
silent router), judges each router's link against the pose model (``tier.choose``),
then hands every frame, the held ones first, to an ``EnvironmentRunner`` (pose) or a
``SensingRunner`` (sensing). The choice depends on the frames only, so a replay makes
it the same way every time; the pose tier's events are exactly those of an
``EnvironmentRunner`` fed the same frames.

On the sensing tier each router's reason is said once: one ``hardware_event``
``sensing_tier`` (severity warning) per router, stamped with the frame time of the
decision, before the first window's events; and in every ``pose_data`` ``metadata``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from wdp.camera import Camera
from wdp.capture.frame import CsiFrame
from wdp.inference.model import Model
from wdp.pipeline.environment import PipelineConfig
from wdp.pipeline.events import HardwareEvent, PipelineEvent
from wdp.pipeline.runner import EnvironmentRunner
from wdp.pipeline.sensing_runner import SensingRunner
from wdp.pipeline.tier import DECIDE_S, Link, TierChoice, choose, observe
from wdp.sensing.calibration import Calibration, prior
from wdp.sensing.detector import MODELS_DIR, Detector, DetectorError
from wdp.sensing.live import warm_up
from wdp.sensing.motion import MotionConfig

log = logging.getLogger(__name__)


def shipped_detector(hw_format: str) -> Detector | None:
    """The activity and fall detector shipped for this hardware, or None (also, logged
    as an error, when the shipped file is one this wdp cannot read: then the router
    still gets presence and motion, and its tier line says only those)."""
    path = MODELS_DIR / f"{hw_format}.npz"
    if not path.is_file():
        return None
    try:
        return Detector.load(path)
    except DetectorError as exc:
        log.error("shipped sensing detector unusable, presence and motion only: %s", exc)
        return None


@attrs.frozen(slots=True)
class SensingSetup:
    """What the sensing tier of an environment uses, per router id: a detector (None:
    the shipped one of the router's hardware, if any) and a calibration (None: the
    first ``auto_calibration_s`` of the stream). ``detector_for`` picks when unset."""

    detectors: dict[str, Detector] = attrs.field(factory=dict)
    calibrations: dict[str, Calibration] = attrs.field(factory=dict)
    motion: MotionConfig | None = None
    detector_for: Callable[[str], Detector | None] = shipped_detector


@attrs.define(slots=True, eq=False)
class _Seen:
    shapes: list = attrs.field(factory=list)
    times: list = attrs.field(factory=list)
    hw_format: str = ""

    def span_s(self) -> float:
        return (self.times[-1] - self.times[0]) / 1e9 if self.times else 0.0


class TieredRunner:
    """``EnvironmentRunner``'s interface (add, ready, run, advance, finish, windows,
    model_version) over whichever tier the frames allow (see the module docstring)."""

    def __init__(
        self,
        environment_id: str,
        router_ids: list[str],
        model: Model | None,
        camera: Camera,
        config: PipelineConfig | None = None,
        *,
        sensing: SensingSetup | None = None,
        pose_trusted: bool = True,
        **pipeline_kw,
    ) -> None:
        self.environment_id = environment_id
        self.pose_trusted = pose_trusted  # False: real hardware (tier.py's docstring)
        self.router_ids = sorted(router_ids)
        self.model = model
        self.camera = camera
        self.config = config or PipelineConfig()
        self.sensing = sensing or SensingSetup()
        self.pipeline_kw = pipeline_kw
        self.choice: TierChoice | None = None
        self.links: dict[str, Link] = {}
        self.runner: EnvironmentRunner | SensingRunner | None = None
        self._seen = {rid: _Seen() for rid in self.router_ids}
        self._held: list[CsiFrame] = []
        self._pending: list[PipelineEvent] = []
        self.ignored_frames = 0

    # -- the EnvironmentRunner interface ------------------------------------------------

    @property
    def windows(self) -> int:
        return 0 if self.runner is None else self.runner.windows

    @property
    def model_version(self) -> str:
        if self.runner is not None:
            return self.runner.model_version
        return "undecided"

    def add(self, frames: list[CsiFrame]) -> None:
        if self.runner is not None:
            self.runner.add(frames)
            return
        for f in frames:
            seen = self._seen.get(f.router_id)
            if seen is None:
                self.ignored_frames += 1
                continue
            self._held.append(f)
            if not seen.times or seen.span_s() < DECIDE_S:
                seen.shapes.append(f.csi.shape)
                seen.times.append(f.timestamp_ns)
                seen.hw_format = f.hw_format
        if all(s.span_s() >= DECIDE_S for s in self._seen.values()):
            self._decide()

    def ready(self, until_ns: float | None = None) -> list[int]:
        if self.runner is None:
            firsts = [s.times[0] for s in self._seen.values() if s.times]
            if until_ns is None or not firsts or until_ns < min(firsts) + DECIDE_S * 1e9:
                return []
            self._decide()  # a router stays silent: judge the others
        return self.runner.ready(until_ns)

    def run(self, ends: list[int], **kw) -> list[PipelineEvent]:
        events, self._pending = self._pending, []
        if self.runner is not None:
            events += self.runner.run(ends, **kw)
        return events

    def advance(self, until_ns: float | None = None, **kw) -> list[PipelineEvent]:
        return self.run(self.ready(until_ns), **kw)

    def finish(self) -> list[PipelineEvent]:
        if self.runner is None and self._held:
            self._decide()
        events, self._pending = self._pending, []
        if self.runner is not None:
            events += self.runner.finish()
        return events

    def reconfigure(self, config: PipelineConfig) -> None:
        """New settings between two windows (``wdp serve``'s live config changes)."""
        self.config = config
        if isinstance(self.runner, EnvironmentRunner):
            self.runner.pipeline.reconfigure(config)
        elif self.runner is not None:
            self.runner.reconfigure(config)

    # -- the choice ---------------------------------------------------------------------

    def _decide(self) -> None:
        """Judge the routers seen so far, start the chosen runner, feed it the held
        frames, and queue one warning per router on the sensing tier."""
        self.links = {
            rid: observe(rid, s.hw_format, s.shapes, s.times)
            for rid, s in self._seen.items()
            if s.times
        }
        detectors = {rid: self._detector(link) for rid, link in self.links.items()}
        spec = None if self.model is None else self.model.spec
        has_detector = any(d is not None for d in detectors.values())
        self.choice = choose(
            list(self.links.values()), spec, has_detector, pose_trusted=self.pose_trusted
        )
        if self.choice.pose:
            self.runner = EnvironmentRunner(
                self.environment_id,
                self.router_ids,
                self.model,
                self.camera,
                self.config,
                **self.pipeline_kw,
            )
        else:
            self.runner = self._sensing_runner(detectors)
            at_ns = max(s.times[-1] for s in self._seen.values() if s.times)
            for rid in sorted(self.links):
                self._pending.append(
                    HardwareEvent(
                        at_ns,
                        "sensing_tier",
                        rid,
                        "warning",
                        self.choice.message(rid),
                        environment_id=self.environment_id,
                    )
                )
        held, self._held = self._held, []
        self.runner.add(held)

    def _detector(self, link: Link) -> Detector | None:
        det = self.sensing.detectors.get(link.router_id)
        if det is None:
            return self.sensing.detector_for(link.hw_format)
        if det.profile != link.hw_format:
            raise ValueError(
                f"router {link.router_id}: its detector is for {det.profile} hardware, "
                f"the router's frames are {link.hw_format}"
            )
        return det

    def _sensing_runner(self, detectors: dict[str, Detector | None]) -> SensingRunner:
        shapes = {rid: link.shape for rid, link in self.links.items()}
        kw = {k: v for k, v in self.pipeline_kw.items() if k in ("alert", "notify")}
        return SensingRunner(
            self.environment_id,
            self.choice,
            shapes,
            detectors,
            dict(self.sensing.calibrations),
            self.camera,
            self.config,
            motion=self.sensing.motion,
            priors={rid: prior(link.hw_format, link.rate_hz) for rid, link in self.links.items()},
            **kw,
        )


def sensing_setup(config, env_id: str, infos) -> SensingSetup:
    """The configured detector and calibration files of an environment's routers (a
    router split per transmitter, ``r1.<mac>``, takes those of ``r1``). ``config`` is a
    ``wdp.config.Config``, ``infos`` the environment's ``RouterInfo``s."""
    from wdp.sensing.calibration import load as load_calibration

    env = config.environments.get(env_id)
    detectors, calibrations = {}, {}
    for info in infos:
        rid = info.router_id
        router = None if env is None else env.routers.get(rid, env.routers.get(rid.split(".")[0]))
        if router is None:
            continue
        if router.detector:
            detectors[rid] = Detector.load(router.detector)
        if router.calibration:
            calibrations[rid] = load_calibration(router.calibration)
    return SensingSetup(detectors, calibrations)


def warm_sensing() -> None:
    """Compile the sensing tier's kernels, with a shipped detector (the kernel is the
    same for every detector)."""
    for path in sorted(MODELS_DIR.glob("*.npz")):
        det = shipped_detector(path.stem)
        if det is not None:
            warm_up(det)
            return


def recording_tiers(path, model_path=None, pose_on_real_hardware: bool = False) -> list[str]:
    """One line per router of a recording: the tier its first ``DECIDE_S`` of frames
    put it on, and why (what ``wdp inspect`` prints; the same judgement as a replay)."""
    import numpy as np

    from wdp.pipeline.replay import pose_model_for
    from wdp.recorder import open_recording

    lines = []
    with open_recording(path) as rec:
        trusted = pose_on_real_hardware or rec.truth() is not None
        envs: dict[str, list] = {}
        for info in rec.routers:
            envs.setdefault(info.environment_id, []).append(info)
        for _, infos in sorted(envs.items()):
            links = []
            for info in sorted(infos, key=lambda i: i.router_id):
                batch = next(rec.batches(info.router_id, chunk_frames=4096), None)
                if batch is None or len(batch) == 0:
                    continue
                ts = batch.timestamp_ns
                n = int(np.searchsorted(ts, ts[0] + int(DECIDE_S * 1e9), side="left")) + 1
                links.append(observe(info.router_id, info.hw_format, batch.shape[:n], ts[:n]))
            if not links:
                continue
            model = pose_model_for(infos[0].hw_format, model_path)
            has_det = any(shipped_detector(link.hw_format) is not None for link in links)
            spec = None if model is None else model.spec
            choice = choose(links, spec, has_det, pose_trusted=trusted)
            for link in links:
                if choice.pose:
                    lines.append(
                        f"router {link.router_id}: {link.describe()}: pose tier "
                        f"(the {model.profile} pose model fits)"
                    )
                else:
                    lines.append(choice.message(link.router_id))
    return lines


__all__ = [
    "SensingSetup",
    "TieredRunner",
    "recording_tiers",
    "sensing_setup",
    "shipped_detector",
    "warm_sensing",
]
