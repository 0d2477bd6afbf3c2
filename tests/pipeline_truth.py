"""Ground truth for the pipeline tests: scenarios evaluated directly (no CSI needed).

``wdp.sim.simulate.truth_rows`` gives exactly the truth a simulated recording stores, in
milliseconds instead of the seconds a full channel simulation takes; the bundled
recordings are read through ``windows_from_recording`` where the tests need the file path.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from wdp.camera import Camera
from wdp.pipeline import (
    EnvironmentPipeline,
    Observation,
    ObservationNoise,
    PipelineConfig,
    run_windows,
    windows_from_truth,
)
from wdp.recorder import TruthRows
from wdp.sim.scenario import Scenario, load_scenario, parse_scenario
from wdp.sim.simulate import TRUTH_RATE_HZ, truth_rows

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
ENV = "room_001"

#: Someone who lies down on purpose (4 s down, 4 s lying, 4 s up): not a fall.
LIE_DOWN = {
    "description": "One person lies down on the floor and gets up again",
    "duration": 20.0,
    "room": {"width": 5.0, "depth": 4.0, "height": 2.7},
    "routers": {"r1": {"tx": [0.3, 0.3, 1.2], "rx": [4.7, 3.7, 1.2], "profile": "esp32"}},
    "people": [
        {
            "id": "p",
            "start": [2.5, 2.0],
            "actions": [
                {"action": "stand", "duration": 2.0},
                {"action": "lie", "duration": 12.0},
                {"action": "stand", "duration": 2.0},
            ],
        }
    ],
}


@functools.cache
def scenario(name: str) -> Scenario:
    if name == "lie_down":
        return parse_scenario(LIE_DOWN, name="lie_down", source="lie_down")
    return load_scenario(name)


@functools.cache
def truth(name: str) -> tuple[TruthRows, Camera]:
    sc = scenario(name)
    times = np.arange(int(round(sc.duration * TRUTH_RATE_HZ))) / TRUTH_RATE_HZ
    return truth_rows(sc, times), sc.camera


def run(
    name: str,
    *,
    hop_s: float = 0.1,
    noise: ObservationNoise | None = None,
    seed: int = 0,
    config: PipelineConfig | None = None,
    with_truth: bool = False,
    **kwargs,
):
    """(events, pipeline) of a scenario's truth-derived windows through a pipeline."""
    rows, camera = truth(name)
    windows = windows_from_truth(rows, environment_id=ENV, hop_s=hop_s, noise=noise, seed=seed)
    pipeline = EnvironmentPipeline(
        ENV, camera, config, truth=rows if with_truth else None, **kwargs
    )
    return run_windows(pipeline, windows), pipeline


def of_type(events, type_: str) -> list:
    return [e for e in events if e.TYPE == type_]


def person(x: float, y: float, vx: float | None = None, vy: float = 0.0, conf: float = 0.9):
    """An observation of a standing person at (x, y)."""
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1] = x, y
    kp[:, 2] = np.linspace(1.6, 0.1, 17)
    velocity = None if vx is None else (vx, vy, 0.0)
    return Observation((x, y, 0.0), velocity, kp, np.ones(17), np.eye(5)[0], conf)
