"""``wdp simulate``: a scenario through the channel physics and the radios into a recording.

For every router, packets are scheduled at its sample rate (with the radio's timing
jitter and loss), the people are evaluated at each packet's time, the channel is
synthesised (numba), the radio's impairments applied, and the result encoded into the
hardware's own datagram. That datagram is recorded raw and parsed by the real live parser
of its format, so a simulated frame is exactly what wdp makes of such hardware's bytes.
Ground truth (poses, activities, occupancy, falls) is written to the truth group.

Clocks: a simulation starts at 0. The hardware counters (Intel ``timestamp_low``, ESP32
``local_timestamp``) count from 0 and the simulated host receive time is the scenario
clock too, so every frame's ``timestamp_ns``, every ``host_time_ns`` and the truth's
``time_ns`` share one clock, and the file's start time is that clock's 0 (the Unix
epoch). Nothing reads the wall clock, and every random draw comes
from streams spawned from the seed: the same scenario, seed and profile give the same
bytes.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
from tqdm import tqdm

from wdp.capture.frame import CsiFrame
from wdp.capture.packets import PacketParser
from wdp.recorder import FallTruth, Recorder, RouterInfo, TruthRows, TruthSpec
from wdp.sim.channel import Channel
from wdp.sim.impairments import Radio
from wdp.sim.profiles import Profile, get_profile
from wdp.sim.scenario import Scenario

#: Simulated seconds per step (each router's packets, then the truth, per step).
STEP_S = 1.0
#: Rate of the truth rows.
TRUTH_RATE_HZ = 100.0


@attrs.define(slots=True, eq=False)
class _SimRouter:
    router_id: str
    profile: Profile
    rate_hz: float
    channel: Channel
    radio: Radio
    parser: PacketParser


@attrs.frozen(slots=True)
class SimReport:
    out: Path
    seconds: float
    packets: dict[str, int]
    frames: dict[str, int]
    truth_rows: int
    falls: int


def _routers(
    scenario: Scenario, seed: int, environment_id: str, profile: str | None
) -> list[_SimRouter]:
    streams = np.random.SeedSequence(seed).spawn(len(scenario.routers))
    routers = []
    for stream, rid in zip(streams, sorted(scenario.routers), strict=True):
        spec = scenario.routers[rid]
        prof = get_profile(profile or spec.profile)
        channel = prof.make_channel(scenario.room, spec.tx, spec.rx)
        radio = Radio(
            prof.impairments(),
            np.random.default_rng(stream),
            prof.n_tx,
            prof.n_rx,
            reference_power=channel.static_power,
        )
        routers.append(
            _SimRouter(
                rid, prof, spec.sample_rate_hz, channel, radio, prof.parser(rid, environment_id)
            )
        )
    return routers


def truth_spec(scenario: Scenario, start_s: float, stop_s: float) -> TruthSpec:
    """The slots' names, the camera and the falls inside [start_s, stop_s)."""
    names = list(scenario.scene.person_ids)
    names += [""] * (scenario.scene.max_people - len(names))

    def ns(t: float | None) -> int:
        return -1 if t is None else int(round(t * 1e9))

    falls = tuple(
        FallTruth(e.index, ns(e.start), ns(e.end), ns(e.recovered_at))
        for e in scenario.fall_events
        if start_s <= e.start < stop_s
    )
    return TruthSpec(tuple(names), attrs.asdict(scenario.camera), falls)


def truth_rows(scenario: Scenario, times: np.ndarray) -> TruthRows:
    """Truth at ``times`` (s): the scene evaluated and projected through the camera."""
    state = scenario.scene.evaluate(times)
    camera = scenario.camera
    pixels, visible = camera.project(state.keypoints3d)
    present = state.present
    visible &= present[..., None]
    return TruthRows(
        time_ns=np.round(times * 1e9).astype(np.int64),
        occupancy=state.occupancy,
        present=present,
        activity=state.activity,
        position=state.root,
        velocity=state.velocity,
        keypoints_3d=state.keypoints3d,
        keypoints_2d=np.where(present[..., None, None], pixels, np.nan),
        keypoints_visible=visible,
        bbox=camera.bounding_box(pixels, visible),
    )


@attrs.frozen(slots=True, eq=False)
class SimStep:
    """One step of a simulation: per router the datagrams it sent (bytes and the time
    they were received, on the scenario clock) and the frames wdp's parser made of
    them, plus the truth rows of the step."""

    start_s: float
    stop_s: float
    datagrams: dict[str, list[tuple[bytes, int]]]
    frames: dict[str, list[CsiFrame]]
    truth: TruthRows | None


def _step(router: _SimRouter, scenario: Scenario, a: float, b: float):
    """One router's datagrams and frames in [a, b) seconds."""
    datagrams: list[tuple[bytes, int]] = []
    frames: list[CsiFrame] = []
    first = int(np.ceil(a * router.rate_hz - 1e-9))
    last = int(np.ceil(b * router.rate_hz - 1e-9))
    if last <= first:
        return datagrams, frames
    slots = np.arange(first, last)
    schedule = router.radio.schedule(slots / router.rate_hz)
    if schedule.times.shape[0] == 0:
        return datagrams, frames
    state = scenario.scene.evaluate(schedule.times)
    h = router.channel.response(state.positions, state.cross_sections)
    prof = router.profile
    impaired = router.radio.apply(h, prof.subcarriers, prof.spacing_hz)
    reference = router.channel.static_power
    for i, t in enumerate(schedule.times):
        time_ns = int(round(float(t) * 1e9))
        sequence = int(slots[schedule.index[i]])
        for datagram in prof.encode(
            impaired.csi[i], timestamp_ns=time_ns, sequence=sequence, reference_power=reference
        ):
            datagrams.append((datagram, time_ns))
            frames.extend(router.parser.feed(datagram, time_ns))
    return datagrams, frames


def run_steps(
    scenario: Scenario,
    *,
    seed: int = 0,
    seconds: float | None = None,
    profile: str | None = None,
    environment_id: str = "sim",
    step_s: float = STEP_S,
):
    """Simulate step by step (a generator of ``SimStep``); the last step also carries
    the frames the parsers still held. ``seconds=None`` runs the scenario's duration."""
    duration = scenario.duration if seconds is None else float(seconds)
    if not (duration > 0):
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    routers = _routers(scenario, seed, environment_id, profile)
    steps = np.arange(0.0, duration, step_s)
    for k, a in enumerate(steps):
        b = min(a + step_s, duration)
        datagrams, frames = {}, {}
        for router in routers:
            datagrams[router.router_id], frames[router.router_id] = _step(router, scenario, a, b)
            if k == len(steps) - 1:
                frames[router.router_id].extend(router.parser.flush())
        t0 = int(np.ceil(a * TRUTH_RATE_HZ - 1e-9))
        t1 = int(np.ceil(b * TRUTH_RATE_HZ - 1e-9))
        truth = truth_rows(scenario, np.arange(t0, t1) / TRUTH_RATE_HZ) if t1 > t0 else None
        yield SimStep(float(a), float(b), datagrams, frames, truth)


def router_infos(scenario: Scenario, environment_id: str, profile: str | None) -> list[RouterInfo]:
    """The routers a simulation of ``scenario`` records, in router-id order."""
    return [
        RouterInfo(rid, environment_id, get_profile(profile or scenario.routers[rid].profile).name)
        for rid in sorted(scenario.routers)
    ]


def simulate(
    scenario: Scenario,
    out: str | Path,
    *,
    seed: int = 0,
    seconds: float | None = None,
    profile: str | None = None,
    environment_id: str = "sim",
    progress: bool = True,
) -> SimReport:
    """Simulate ``seconds`` (default: the scenario's duration) into the recording ``out``.

    ``profile`` overrides every router's hardware profile.
    """
    out = Path(out)
    duration = scenario.duration if seconds is None else float(seconds)
    if not (duration > 0):
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    infos = router_infos(scenario, environment_id, profile)
    config = {
        "simulate": {
            "scenario": scenario.name,
            "seed": seed,
            "seconds": duration,
            "profile": profile,
            "environment_id": environment_id,
            "routers": {
                rid: {"profile": info.hw_format, "rate_hz": scenario.routers[rid].sample_rate_hz}
                for rid, info in zip(sorted(scenario.routers), infos, strict=True)
            },
        },
        "scenario_toml": scenario.to_toml(),
    }
    spec = truth_spec(scenario, 0.0, duration)
    packets = {info.router_id: 0 for info in infos}
    frame_counts = dict(packets)
    truth_count = 0
    source = f"simulate {scenario.name} seed {seed}"
    steps = run_steps(
        scenario, seed=seed, seconds=duration, profile=profile, environment_id=environment_id
    )
    with Recorder(
        out, routers=infos, source=source, config=config, truth=spec, wall_clock_ns=lambda: 0
    ) as rec:
        total = int(np.ceil(duration / STEP_S))
        for step in tqdm(steps, total=total, unit="step", disable=not progress, desc="simulate"):
            for rid, datagrams in step.datagrams.items():
                for data, time_ns in datagrams:
                    rec.append_raw_one(rid, data, time_ns)
                packets[rid] += len(datagrams)
                for frame in step.frames[rid]:
                    rec.append_frame(frame)
                frame_counts[rid] += len(step.frames[rid])
            if step.truth is not None:
                rec.append_truth(step.truth)
                truth_count += len(step.truth)
    return SimReport(out, duration, packets, frame_counts, truth_count, len(spec.falls))
