"""Occupancy: debounced changes with who entered and who left."""

import numpy as np
import pytest
from pipeline_truth import ENV, RECORDINGS, of_type, run, truth

from wdp.camera import Camera
from wdp.pipeline import (
    EnvironmentPipeline,
    Observation,
    ObservationNoise,
    OccupancyConfig,
    PipelineConfig,
    Window,
    run_windows,
    windows_from_recording,
)

NS = 1_000_000_000


def changes(events):
    return [
        (e.previous_occupancy, e.current_occupancy, e.change_type, [p.status for p in e.persons])
        for e in of_type(events, "occupancy_update")
    ]


def presence_times(name: str, slot: int = 0) -> tuple[float, float]:
    rows, _ = truth(name)
    present = np.flatnonzero(rows.present[:, slot])
    return rows.time_ns[present[0]] / NS, rows.time_ns[present[-1]] / NS


@pytest.mark.parametrize(("hop", "seed"), [(0.1, 0), (0.1, 1), (0.25, 2), (0.5, 3)])
def test_enter_and_leave(hop, seed):
    events, _ = run("enter_and_leave", hop_s=hop, noise=ObservationNoise(), seed=seed)
    assert changes(events) == [
        (0, 1, "person_entered", ["new"]),
        (1, 0, "person_left", ["leaving"]),
    ]
    entered, left = of_type(events, "occupancy_update")
    t_in, t_out = presence_times("enter_and_leave")
    assert t_in < entered.timestamp_ns / NS < t_in + 4.0
    assert t_out < left.timestamp_ns / NS < t_out + 5.0
    assert entered.persons[0].track_id == left.persons[0].track_id
    assert 0.5 < entered.confidence <= 1.0 and 0.5 < left.confidence <= 1.0
    assert entered.environment_id == ENV


def test_bundled_enter_and_leave_recording():
    windows, camera, _ = windows_from_recording(
        RECORDINGS / "enter_and_leave_esp32.h5", hop_s=0.2, noise=ObservationNoise(), seed=9
    )
    events = run_windows(EnvironmentPipeline(windows[0].environment_id, camera), windows)
    assert changes(events) == [
        (0, 1, "person_entered", ["new"]),
        (1, 0, "person_left", ["leaving"]),
    ]


def test_busy_room_statuses():
    events, _ = run("busy_room", hop_s=0.2, noise=ObservationNoise(), seed=0)
    assert changes(events) == [
        (0, 3, "person_entered", ["new", "new", "new"]),
        (3, 4, "person_entered", ["active", "active", "active", "new"]),
        (4, 3, "person_left", ["active", "active", "active", "leaving"]),
    ]


def _windows(present: list[bool]) -> list[Window]:
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = 2.0, 2.0, np.linspace(1.6, 0.1, 17)
    obs = Observation((2.0, 2.0, 0.0), None, kp, np.ones(17), np.eye(5)[0], 0.9)
    return [Window(k * NS // 10, ENV, (obs,) if p else ()) for k, p in enumerate(present)]


def test_short_presence_and_short_gaps_are_debounced():
    config = PipelineConfig(occupancy=OccupancyConfig(debounce_s=2.0))
    # seen for 0.5 s only (a track from 0.2 s, lost 1.5 s after 0.4 s): not counted
    brief = EnvironmentPipeline(ENV, Camera(), config)
    assert changes(run_windows(brief, _windows([True] * 5 + [False] * 100))) == []
    # present 10 s with a 2.5 s gap: lost after 1.5 s, found again before the debounce
    gap = [True] * 50 + [False] * 25 + [True] * 50
    flicker = EnvironmentPipeline(ENV, Camera(), config)
    assert changes(run_windows(flicker, _windows(gap))) == [(0, 1, "person_entered", ["new"])]
    # without debounce the same gap shows as a departure and a return
    eager = EnvironmentPipeline(ENV, Camera(), PipelineConfig(occupancy=OccupancyConfig(0.0)))
    assert [c[:2] for c in changes(run_windows(eager, _windows(gap)))] == [(0, 1), (1, 0), (0, 1)]
