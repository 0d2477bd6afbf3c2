"""Falls: detected once, within 2 s, recovered or escalated; never invented."""

import math

import numpy as np
import pytest
from pipeline_truth import ENV, RECORDINGS, of_type, run, scenario, truth

from wdp.pipeline import (
    EnvironmentPipeline,
    FallConfig,
    Observation,
    ObservationNoise,
    PipelineConfig,
    Window,
    run_windows,
    windows_from_recording,
)

NS = 1_000_000_000
NOISE = ObservationNoise()
RUNS = [(hop, seed) for hop in (0.1, 0.25) for seed in (0, 1, 2)]


def falls(events):
    return of_type(events, "activity_event")


@pytest.mark.parametrize(("hop", "seed"), RUNS)
def test_fall_and_recover(hop, seed):
    events, _ = run("fall_and_recover", hop_s=hop, noise=NOISE, seed=seed)
    (truth_fall,) = scenario("fall_and_recover").fall_events
    found = falls(events)
    assert [e.recovery_detected for e in found] == [False, True]
    detected, recovered = found
    assert detected.fall_id == recovered.fall_id == 1
    assert detected.event_type == "fall_detected" and detected.severity == "high"
    assert detected.track_id == recovered.track_id
    assert truth_fall.start * NS < detected.timestamp_ns <= (truth_fall.end + 2.0) * NS
    assert detected.timestamp_ns < recovered.timestamp_ns <= (truth_fall.recovered_at + 2) * NS
    assert 0.2 < detected.fall_duration < 1.5
    assert 0.2 < detected.impact_severity <= 1.0
    assert 0.5 < detected.confidence <= 1.0
    assert detected.actions == ()
    rows, _ = truth("fall_and_recover")
    i = int(np.searchsorted(rows.time_ns, detected.timestamp_ns))
    where = rows.position[i, 0, :2]
    assert math.dist(where, (detected.location.x_m, detected.location.y_m)) < 0.5
    assert detected.location.x is not None  # in front of the camera: it has pixels


def test_bundled_recording_fall_and_recover():
    windows, camera, truth_ = windows_from_recording(
        RECORDINGS / "fall_and_recover_esp32.h5", hop_s=0.2, noise=NOISE, seed=5
    )
    pipeline = EnvironmentPipeline(windows[0].environment_id, camera)
    found = falls(run_windows(pipeline, windows))
    assert [e.recovery_detected for e in found] == [False, True]
    (fall,) = truth_.spec.falls
    assert fall.impact_ns < found[0].timestamp_ns <= fall.impact_ns + 2 * NS


@pytest.mark.parametrize(("hop", "seed"), RUNS)
def test_fall_without_recovery(hop, seed):
    events, _ = run("fall_no_recovery", hop_s=hop, noise=NOISE, seed=seed)
    (truth_fall,) = scenario("fall_no_recovery").fall_events
    found = falls(events)
    assert len(found) == 1
    assert found[0].recovery_detected is False and found[0].severity == "high"
    assert truth_fall.start * NS < found[0].timestamp_ns <= (truth_fall.end + 2.0) * NS


def test_fall_without_recovery_escalates_to_critical():
    config = PipelineConfig(falls=FallConfig(critical_after_s=10.0))
    events, _ = run("fall_no_recovery", noise=NOISE, seed=3, config=config)
    found = falls(events)
    assert [(e.fall_id, e.severity, e.recovery_detected) for e in found] == [
        (1, "high", False),
        (1, "critical", False),
    ]
    assert found[1].timestamp_ns - found[0].timestamp_ns == pytest.approx(10 * NS, abs=0.11 * NS)


def test_recovery_after_escalation_keeps_the_fall_id():
    config = PipelineConfig(falls=FallConfig(critical_after_s=5.0))
    events, _ = run("fall_and_recover", noise=NOISE, seed=0, config=config)
    found = falls(events)
    assert [(e.fall_id, e.severity, e.recovery_detected) for e in found] == [
        (1, "high", False),
        (1, "critical", False),
        (1, "critical", True),
    ]


@pytest.mark.parametrize(
    "name", ["sit_and_stand", "one_walker", "lie_down", "two_crossing", "enter_and_leave"]
)
@pytest.mark.parametrize(("hop", "seed"), RUNS)
def test_no_fall_is_invented(name, hop, seed):
    events, _ = run(name, hop_s=hop, noise=NOISE, seed=seed)
    assert falls(events) == []


def test_no_fall_under_heavy_noise():
    heavy = ObservationNoise(
        position_sigma_m=0.15,
        keypoint_sigma_m=0.08,
        drop_probability=0.1,
        false_rate=0.2,
        activity_confusion=0.2,
    )
    for name in ("lie_down", "sit_and_stand"):
        for hop in (0.1, 0.5):
            events, _ = run(name, hop_s=hop, noise=heavy, seed=11)
            assert falls(events) == [], (name, hop)


def _lying_windows(stray_at: int | None) -> list[Window]:
    """A person lying still (the end of fall_no_recovery), one window optionally showing
    a standing skeleton instead (a false detection taken for them)."""
    rows, _ = truth("fall_no_recovery")
    lying = rows.keypoints_3d[2500, 0]
    standing = rows.keypoints_3d[100, 0] - rows.position[100, 0] + rows.position[2500, 0]
    windows = []
    for k in range(40):
        kp = standing if k == stray_at else lying
        obs = Observation(rows.position[2500, 0], None, kp, np.ones(17), np.eye(5)[3], 0.9)
        windows.append(Window(k * NS // 10, ENV, (obs,)))
    return windows


def test_a_stray_upright_detection_is_not_a_fall():
    _, camera = truth("fall_no_recovery")
    strict = EnvironmentPipeline(ENV, camera)
    assert falls(run_windows(strict, _lying_windows(stray_at=20))) == []
    # the rule that prevents it: with one upright detection enough, it would be a "fall"
    lax = PipelineConfig(falls=FallConfig(upright_detections=1, min_falling_probability=0.0))
    lax_pipeline = EnvironmentPipeline(ENV, camera, lax)
    assert len(falls(run_windows(lax_pipeline, _lying_windows(stray_at=20)))) == 1


def test_actions_record_only_what_callbacks_report():
    def boom(event):
        raise RuntimeError("webhook down")

    cases = [
        ({}, ()),
        ({"alert": lambda e: True}, ("alert_triggered",)),
        ({"notify": lambda e: True}, ("notification_sent",)),
        ({"alert": lambda e: True, "notify": lambda e: False}, ("alert_triggered",)),
        ({"alert": boom, "notify": boom}, ()),
        ({"alert": lambda e: "yes"}, ()),  # only an explicit True counts
    ]
    for callbacks, expected in cases:
        seen = []

        def recorder(cb, seen=seen):
            def call(event):
                seen.append(event)
                return cb(event)

            return call

        wrapped = {k: recorder(v) for k, v in callbacks.items()}
        events, _ = run("fall_and_recover", noise=NOISE, seed=0, **wrapped)
        found = falls(events)
        assert [e.actions for e in found] == [expected, expected]
        assert all(e.actions == () for e in seen)  # callbacks see the event before actions
        assert len(seen) == 2 * len(callbacks)


def test_a_track_that_takes_over_someone_down_is_not_a_new_fall():
    """Tracks swap when someone walks past a person on the floor: the passer-by's track
    now shows a body on the floor, as if it had fallen in one window. That is the person
    already reported, not a second fall; their getting up is that fall's recovery."""
    from wdp.pipeline.falls import FallDetector
    from wdp.pipeline.tracking import CONFIRMED, TrackView

    rows, camera = truth("fall_no_recovery")
    (true_fall,) = scenario("fall_no_recovery").fall_events
    where = tuple(rows.position[2500, 0, :2])

    def view(track_id, keypoints):
        obs = Observation((*where, 0.0), None, keypoints, np.ones(17), np.eye(5)[0], 0.9)
        return TrackView(track_id, track_id, CONFIRMED, where, (0.0, 0.0), 0.9, 1.0, 0, 0, 0.1, obs)

    standing = rows.keypoints_3d[100, 0] - rows.position[100, 0] + rows.position[2500, 0]
    lying = rows.keypoints_3d[-1, 0]
    step = int(0.1 * NS)

    def run_detector(config):
        """(events of the fall on track 1, events after a passer-by's track 2 took the
        lying person over for 2 s and then stood up again)."""
        detector = FallDetector(ENV, camera, config)
        first = []
        for k in range(len(rows.time_ns)):  # the fall itself, on track 1, every 0.1 s
            if rows.time_ns[k] % step == 0:
                t = int(rows.time_ns[k])
                first += detector.update(t, [view(1, rows.keypoints_3d[k, 0])])
        later = []
        for i in range(1, 60):
            kp = standing if i < 20 or i >= 40 else lying
            later += detector.update(t + i * step, [view(2, kp)], ended=[1] if i == 20 else [])
        return first, later

    first, later = run_detector(FallConfig())
    assert [e.fall_id for e in first] == [1]
    assert true_fall.start * NS < first[0].timestamp_ns
    assert [(e.fall_id, e.recovery_detected) for e in later] == [(1, True)]
    assert later[0].track_id == 1  # the fall keeps the track it was reported on
    # without the rule (same_fall_m 0), the passer-by would have "fallen" too
    _, blind = run_detector(FallConfig(same_fall_m=0.0))
    assert [e.fall_id for e in blind if not e.recovery_detected] == [2]
