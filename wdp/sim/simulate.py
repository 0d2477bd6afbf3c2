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
    packets: int = 0
    frames: int = 0


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


def _step(router: _SimRouter, scenario: Scenario, rec: Recorder, a: float, b: float) -> None:
    """Simulate one router's packets in [a, b) seconds and record them."""
    first = int(np.ceil(a * router.rate_hz - 1e-9))
    last = int(np.ceil(b * router.rate_hz - 1e-9))
    if last <= first:
        return
    slots = np.arange(first, last)
    schedule = router.radio.schedule(slots / router.rate_hz)
    if schedule.times.shape[0] == 0:
        return
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
            rec.append_raw_one(router.router_id, datagram, time_ns)
            router.packets += 1
            for frame in router.parser.feed(datagram, time_ns):
                rec.append_frame(frame)
                router.frames += 1


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
    routers = _routers(scenario, seed, environment_id, profile)
    infos = [RouterInfo(r.router_id, environment_id, r.profile.name) for r in routers]
    config = {
        "simulate": {
            "scenario": scenario.name,
            "seed": seed,
            "seconds": duration,
            "profile": profile,
            "environment_id": environment_id,
            "routers": {
                r.router_id: {"profile": r.profile.name, "rate_hz": r.rate_hz} for r in routers
            },
        },
        "scenario_toml": scenario.to_toml(),
    }
    spec = truth_spec(scenario, 0.0, duration)
    truth_count = 0
    steps = np.arange(0.0, duration, STEP_S)
    source = f"simulate {scenario.name} seed {seed}"
    with Recorder(
        out, routers=infos, source=source, config=config, truth=spec, wall_clock_ns=lambda: 0
    ) as rec:
        for a in tqdm(steps, unit="s", disable=not progress, desc="simulate"):
            b = min(a + STEP_S, duration)
            for router in routers:
                _step(router, scenario, rec, a, b)
            t0 = int(np.ceil(a * TRUTH_RATE_HZ - 1e-9))
            t1 = int(np.ceil(b * TRUTH_RATE_HZ - 1e-9))
            if t1 > t0:
                rows = truth_rows(scenario, np.arange(t0, t1) / TRUTH_RATE_HZ)
                rec.append_truth(rows)
                truth_count += len(rows)
        for router in routers:
            for frame in router.parser.flush():
                rec.append_frame(frame)
                router.frames += 1
    return SimReport(
        out,
        duration,
        {r.router_id: r.packets for r in routers},
        {r.router_id: r.frames for r in routers},
        truth_count,
        len(spec.falls),
    )
