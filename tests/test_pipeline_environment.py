"""The pipeline as a whole: deterministic, and bad input is counted, not raised."""

import numpy as np
import orjson
import pytest
from pipeline_truth import ENV, of_type, run, truth

from wdp.camera import Camera
from wdp.pipeline import (
    EnvironmentPipeline,
    Observation,
    ObservationNoise,
    Window,
    windows_from_recording,
    windows_from_truth,
)
from wdp.recorder import Recorder, RecordingError, RouterInfo

NS = 1_000_000_000
NOISE = ObservationNoise(false_rate=0.2, activity_confusion=0.1)


def encoded(events) -> bytes:
    return orjson.dumps([e.to_message() for e in events])


@pytest.mark.parametrize("name", ["busy_room", "fall_and_recover"])
def test_same_input_same_events(name):
    first, _ = run(name, hop_s=0.2, noise=NOISE, seed=7, with_truth=True)
    second, _ = run(name, hop_s=0.2, noise=NOISE, seed=7, with_truth=True)
    assert first == second
    assert encoded(first) == encoded(second)
    other, _ = run(name, hop_s=0.2, noise=NOISE, seed=8, with_truth=True)
    assert encoded(other) != encoded(first)
    kinds = {e.TYPE for e in first}
    assert {"pose_data", "tracking_update", "activity_event", "occupancy_update"} <= kinds


def test_event_order_within_a_window():
    events, _ = run("busy_room", hop_s=0.2, noise=NOISE, seed=7)
    rank = {
        "pose_data": 0,
        "tracking_update": 1,
        "pose_data_trajectory": 2,
        "activity_event": 3,
        "occupancy_update": 4,
        "analytics_stream": 5,
    }
    frames = []
    for e in events:
        if e.TYPE == "pose_data":
            frames.append([])
        frames[-1].append(rank[e.TYPE])
    assert all(f == sorted(f) for f in frames)
    assert [e.frame_id for e in of_type(events, "pose_data")] == list(range(len(frames)))
    poses = of_type(events, "pose_data")
    assert poses[0].frame_rate is None and poses[-1].frame_rate == pytest.approx(5.0)
    assert {p.processing_time_ms for p in poses} == {None}


def test_windows_from_truth():
    rows, _ = truth("two_crossing")
    exact = windows_from_truth(rows, environment_id=ENV, hop_s=0.25, window_s=0.5)
    times = [w.time_ns for w in exact]
    assert times[0] == 500_000_000 and set(np.diff(times)) == {250_000_000}
    assert times[-1] <= rows.time_ns[-1] < times[-1] + 250_000_000
    for w in exact:
        k = int(np.searchsorted(rows.time_ns, w.time_ns))
        assert len(w.observations) == int(rows.present[k].sum())
        for obs in w.observations:
            assert obs.confidence == 1.0 and obs.activity_probs.max() == 1.0
    assert exact[0].model_version == "truth"

    noisy = windows_from_truth(rows, environment_id=ENV, hop_s=0.1, noise=NOISE, seed=1)
    again = windows_from_truth(rows, environment_id=ENV, hop_s=0.1, noise=NOISE, seed=1)
    flat = [o for w in noisy for o in w.observations]
    assert [o.position_m.tolist() for o in flat] == [
        o.position_m.tolist() for w in again for o in w.observations
    ]
    false = [o for o in flat if o.confidence < 0.65]  # false detections: 0.3..0.6
    present = sum(
        int(rows.present[int(np.searchsorted(rows.time_ns, w.time_ns))].sum()) for w in noisy
    )
    true_count = len(flat) - len(false)
    assert true_count / present == pytest.approx(1 - NOISE.drop_probability, abs=0.03)
    assert len(false) / len(noisy) == pytest.approx(NOISE.false_rate, abs=0.06)
    assert noisy[0].model_version == "truth+noise"


def test_windows_from_a_recording_without_truth(tmp_path):
    path = tmp_path / "no_truth.h5"
    Recorder(path, [RouterInfo("r1", "room", "intel5300")]).close()
    with pytest.raises(RecordingError, match="no ground truth"):
        windows_from_recording(path)


def _obs(x: float = 2.0, conf: float = 0.9) -> Observation:
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = x, 2.0, np.linspace(1.6, 0.1, 17)
    return Observation((x, 2.0, 0.0), None, kp, np.ones(17), np.eye(5)[0], conf)


def test_bad_windows_are_counted_and_skipped():
    pipeline = EnvironmentPipeline(ENV, Camera())
    assert len(pipeline.step(Window(NS, ENV, (_obs(),)))) == 1
    assert pipeline.step(Window(2 * NS, "another_room", (_obs(),))) == []
    assert pipeline.step(Window(NS, ENV, (_obs(),))) == []  # not after the last one
    assert pipeline.step(Window(NS // 2, ENV, (_obs(),))) == []
    assert pipeline.skipped_windows == 3
    assert "not after" in pipeline.last_problem
    nan = _obs(float("nan"))
    (pose,) = pipeline.step(Window(2 * NS, ENV, (nan, _obs())))
    assert pose.frame_id == 1
    assert pipeline.unusable_observations == 1


def test_observations_are_validated_at_the_edge():
    kp = np.zeros((17, 3))
    good = dict(
        position_m=(1, 2, 0),
        velocity_m_s=None,
        keypoints_3d=kp,
        keypoint_confidence=np.ones(17),
        activity_probs=(2, 2, 0, 0, 0),
        confidence=0.5,
    )
    obs = Observation(**good)
    assert obs.activity_probs.tolist() == [0.5, 0.5, 0.0, 0.0, 0.0]
    assert not obs.position_m.flags.writeable
    uniform = Observation(**{**good, "activity_probs": (0, 0, 0, 0, np.nan)})
    assert uniform.activity_probs.tolist() == [0.2] * 5
    assert Observation(**{**good, "velocity_m_s": (np.nan, 0, 0)}).velocity_m_s is None
    for bad in (
        {"keypoints_3d": np.zeros((16, 3))},
        {"keypoint_confidence": np.ones(3)},
        {"activity_probs": (1, 0, 0)},
        {"confidence": -0.1},
        {"confidence": float("nan")},
        {"velocity_m_s": (1, 2)},
    ):
        with pytest.raises(ValueError):
            Observation(**{**good, **bad})
    with pytest.raises(ValueError):
        Window(0, ENV, (), quality=1.5)
