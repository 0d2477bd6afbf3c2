"""The simulator and recordings as live sources (virtual clock: no real waiting)."""

from pathlib import Path

import numpy as np
import trio

from wdp.capture.udp import Captured
from wdp.recorder import open_recording
from wdp.recorder.playback import run_playback_source
from wdp.sim.live import run_sim_source
from wdp.sim.scenario import load_scenario

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"


async def collect(receive, until):
    items = []
    async for item in receive:
        items.append(item)
        if until(items):
            break
    return items


async def test_sim_source_streams_in_real_time_and_loops(autojump_clock):
    sc = load_scenario("empty_room")
    send, receive = trio.open_memory_channel(10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: run_sim_source(
                sc, send, environment_id="lab", profile="esp32", clock_origin_ns=0
            )
        )
        t0 = trio.current_time()
        n = int(sc.duration * 100) + 50  # a loop and a half second more
        items = await collect(receive, lambda it: sum(len(i.frames) for i in it) >= n)
        elapsed = trio.current_time() - t0
        nursery.cancel_scope.cancel()
    frames = [f for i in items for f in i.frames]
    assert all(isinstance(i, Captured) for i in items)
    times = np.array([f.timestamp_ns for f in frames])
    assert np.all(np.diff(times) > 0)  # increasing, across the loop too
    assert abs(elapsed - times[-1] / 1e9) < 0.2  # sent when the scenario clock got there
    assert frames[0].environment_id == "lab" and frames[0].hw_format == "esp32"


async def test_playback_sends_every_frame_in_order_at_recorded_pace(autojump_clock):
    path = RECORDINGS / "two_crossing_nexmon.h5"
    with open_recording(path) as rec:
        expected = list(rec.frames())
    send, receive = trio.open_memory_channel(100)
    got = []
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_playback_source(path, send, speed=2.0))
        while len(got) < len(expected):
            got.extend((await receive.receive()).frames)
    elapsed = trio.current_time() - t0
    assert all(a.same_as(b) for a, b in zip(expected, got, strict=True))
    span = (expected[-1].timestamp_ns - expected[0].timestamp_ns) / 1e9
    assert abs(elapsed - span / 2) < 0.1
