"""A simulation as a live source: frames arrive in real time, as from hardware.

``run_sim_source`` steps the simulator (``run_steps``) and sends each step's datagrams
and frames when the scenario clock reaches the step's end (scaled by ``speed``). With
``loop`` the scenario starts again with the next seed and its clock carries on, so
timestamps keep increasing across loops. Host receive times are the wall clock at
sending, as a capture would stamp them.
"""

from __future__ import annotations

import time

import attrs
import trio

from wdp.capture.udp import Captured
from wdp.sim.scenario import Scenario
from wdp.sim.simulate import run_steps

#: Simulated seconds per live step: the latency the source adds.
LIVE_STEP_S = 0.1


async def run_sim_source(
    scenario: Scenario,
    send_channel: trio.MemorySendChannel,
    *,
    environment_id: str,
    seed: int = 0,
    profile: str | None = None,
    loop: bool = True,
    speed: float = 1.0,
    clock_origin_ns: int | None = None,
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> None:
    """Send ``Captured`` items until the scenario ends (or forever with ``loop``).

    Frame timestamps are the scenario clock plus ``clock_origin_ns`` (default: the wall
    clock at the start, so a live demo's events carry the time of day)."""
    if not speed > 0:
        raise ValueError("speed must be positive")
    start = trio.current_time()
    origin_ns = time.time_ns() if clock_origin_ns is None else int(clock_origin_ns)
    offset_s = 0.0
    task_status.started()
    for round_ in range(10**9 if loop else 1):
        steps = run_steps(
            scenario,
            seed=seed + round_,
            profile=profile,
            environment_id=environment_id,
            step_s=LIVE_STEP_S,
        )
        offset_ns = origin_ns + int(round(offset_s * 1e9))
        for step in steps:
            await trio.sleep_until(start + (offset_s + step.stop_s) / speed)
            now = time.time_ns()
            for rid, frames in step.frames.items():
                shifted = [
                    attrs.evolve(f, timestamp_ns=f.timestamp_ns + offset_ns, host_time_ns=now)
                    for f in frames
                ]
                datagrams = [(data, now) for data, _ in step.datagrams[rid]]
                await send_channel.send(Captured(rid, datagrams, shifted))
        offset_s += scenario.duration
