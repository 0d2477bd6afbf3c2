"""Tracking: lifecycle, identities through a crossing, no tracks from nothing."""

import numpy as np
import pytest
from pipeline_truth import ENV, RECORDINGS, of_type, person, run

from wdp.camera import Camera
from wdp.pipeline import (
    EnvironmentPipeline,
    Observation,
    ObservationNoise,
    Tracker,
    TrackerConfig,
    run_windows,
    windows_from_recording,
)

NS = 1_000_000_000
HOP_NS = NS // 10


def ended_at(seen):
    return next((i for i, k in enumerate(seen) if k[0] == "track_ended"), None)


def kinds(step):
    return [(e.event, e.track_id) for e in step.events if e.TYPE == "tracking_update"]


@pytest.mark.parametrize("hop", [0.1, 0.25, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_crossing_keep_their_ids(hop, seed):
    events, pipeline = run(
        "two_crossing", hop_s=hop, noise=ObservationNoise(), seed=seed, with_truth=True
    )
    started = [e for e in of_type(events, "tracking_update") if e.event == "track_started"]
    assert len(started) == 2
    assert pipeline.analytics.mota.switches <= 1
    assert pipeline.analytics.mota.mota > 0.9


def test_bundled_two_crossing_recording():
    windows, camera, truth = windows_from_recording(
        RECORDINGS / "two_crossing_nexmon.h5", hop_s=0.1, noise=ObservationNoise(), seed=4
    )
    pipeline = EnvironmentPipeline(windows[0].environment_id, camera, truth=truth.rows)
    events = run_windows(pipeline, windows)
    assert pipeline.analytics.mota.switches == 0
    ids = {p.track_id for e in of_type(events, "pose_data") for p in e.persons}
    assert ids == {1, 2}


@pytest.mark.parametrize("hop", [0.1, 0.5])
def test_empty_room_has_no_tracks_or_events(hop):
    events, pipeline = run("empty_room", hop_s=hop, noise=ObservationNoise(false_rate=0.2), seed=3)
    assert {e.TYPE for e in events} == {"pose_data", "analytics_stream"}
    assert all(not e.persons for e in of_type(events, "pose_data"))
    assert pipeline.tracker.tracks() == () or all(
        t.state == "tentative" for t in pipeline.tracker.tracks()
    )
    (analytics,) = of_type(events, "analytics_stream")
    assert analytics.occupancy_peak == 0 and analytics.movement_events == 0
    assert analytics.activity_level is None


def test_lifecycle_and_ids():
    cfg = TrackerConfig()
    tracker = Tracker(ENV, Camera(), cfg)
    log = []
    t = 0
    for k in range(50):  # a person seen for 5 s
        log.append((t, kinds(tracker.update(t, [person(1.0 + 0.01 * k, 2.0)]))))
        t += HOP_NS
    last_seen = t - HOP_NS
    for _ in range(60):  # then nobody for 6 s
        log.append((t, kinds(tracker.update(t, []))))
        t += HOP_NS
    step = tracker.update(t, [person(3.0, 3.0)])  # someone else
    for _ in range(2):
        t += HOP_NS
        step = tracker.update(t, [person(3.0, 3.0)])
    flat = [(time, kind) for time, ks in log for kind in ks]
    assert flat[0] == (2 * HOP_NS, ("track_started", 1))  # third detection confirms
    updates = [time for time, (kind, _) in flat if kind == "track_updated"]
    assert np.all(np.diff(updates) == NS)  # every update_interval_s
    lost = [time for time, (kind, _) in flat if kind == "track_lost"]
    ended = [time for time, (kind, _) in flat if kind == "track_ended"]
    assert lost == [last_seen + int(cfg.lost_after_s * NS)]
    assert ended == [last_seen + int(cfg.end_after_s * NS)]
    assert kinds(step) == [("track_started", 2)]  # ids are never reused
    assert [v.track_id for v in step.tracks] == [2]


def test_lost_track_found_again_keeps_its_id():
    tracker = Tracker(ENV, Camera())
    t = 0
    for _ in range(20):
        tracker.update(t, [person(2.0, 2.0)])
        t += HOP_NS
    seen = []
    for _ in range(20):  # 2 s unseen: lost
        seen += kinds(tracker.update(t, []))
        t += HOP_NS
    assert seen[-1] == ("track_lost", 1)
    back = []
    for _ in range(3):
        back.append(kinds(tracker.update(t, [person(2.1, 2.0)])))
        t += HOP_NS
    # like a new track it needs confirm_hits detections, then says so at once
    assert back == [[], [], [("track_updated", 1)]]
    assert [(v.track_id, v.state) for v in tracker.tracks()] == [(1, "confirmed")]


def test_stray_detections_do_not_keep_a_lost_track_alive():
    tracker = Tracker(ENV, Camera())
    t = 0
    for _ in range(20):
        tracker.update(t, [person(2.0, 2.0)])
        t += HOP_NS
    seen = []
    for k in range(100):  # a lone false detection near the spot every 2 s
        obs = [person(2.3, 2.0, conf=0.6)] if k % 20 == 5 else []
        seen += kinds(tracker.update(t, obs))
        t += HOP_NS
    assert [k for k in seen if k[0] != "track_updated"] == [("track_lost", 1), ("track_ended", 1)]
    assert ended_at(seen) is not None


def test_kalman_velocity_prediction_and_trajectory():
    rng = np.random.default_rng(0)
    tracker = Tracker(ENV, Camera())
    t = 0
    trajectories = []
    velocities = []
    for k in range(60):  # 1 m/s along x with 10 cm noise, no velocity from the model
        x = 0.5 + 0.1 * k + rng.normal(0, 0.1)
        y = 2.0 + rng.normal(0, 0.1)
        step = tracker.update(t, [person(x, y)])
        trajectories += [
            (e, step.tracks[0]) for e in step.events if e.TYPE == "pose_data_trajectory"
        ]
        velocities.append(step.tracks[0].velocity)
        t += HOP_NS
    (view,) = step.tracks
    mean_v = np.mean(velocities[-30:], axis=0)
    assert mean_v[0] == pytest.approx(1.0, abs=0.1)
    assert mean_v[1] == pytest.approx(0.0, abs=0.1)
    assert view.position[0] == pytest.approx(0.5 + 5.9, abs=0.15)
    last, then = trajectories[-1]
    assert 2 <= len(last.trajectory) <= 20
    stamps = [p.timestamp_ns for p in last.trajectory]
    assert np.all(np.diff(stamps) >= NS // 2)
    assert last.prediction.time_horizon == 1.0
    predicted = then.position[0] + then.velocity[0] * 1.0
    assert last.prediction.next_position.x_m == pytest.approx(predicted)
    assert last.prediction.next_position.x_m == pytest.approx(then.position[0] + 1.0, abs=0.3)
    assert 0.0 < last.prediction.confidence < then.confidence


def test_quality_is_share_of_windows_with_a_detection():
    tracker = Tracker(ENV, Camera())
    t = 0
    for k in range(40):
        step = tracker.update(t, [person(2.0, 2.0)] if k % 2 == 0 else [])
        t += HOP_NS
    (view,) = step.tracks
    assert view.quality == pytest.approx(0.5)


def test_bad_observations_are_counted_not_used():
    tracker = Tracker(ENV, Camera())
    bad = person(np.nan, 1.0)
    low = person(1.0, 1.0, conf=0.1)
    step = tracker.update(0, [bad, low, person(3.0, 3.0)])
    assert (step.unusable, step.low_confidence, step.used) == (1, 1, 1)
    assert len(step.tracks) == 1
    with pytest.raises(ValueError):
        tracker.update(-1, [])
    with pytest.raises(ValueError):
        Observation((0, 0), None, np.zeros((17, 3)), np.ones(17), np.eye(5)[0], 0.5)
    with pytest.raises(ValueError):
        Observation((0, 0, 0), None, np.zeros((17, 3)), np.ones(17), np.eye(5)[0], 1.5)
    with pytest.raises(ValueError):
        TrackerConfig(lost_after_s=5.0, end_after_s=2.0)


def test_close_people_keep_apart_by_direction():
    """Two people pass 20 cm apart in opposite directions with noisy positions and
    velocities: they keep their identities. (The filter's velocities alone do it here;
    the velocity term of the association cost is tested where only it can decide, in
    test_tracking_rules.py.)"""
    rng = np.random.default_rng(1)
    tracker = Tracker(ENV, Camera())
    t = 0
    start = {}
    for k in range(50):
        xa, xb = 0.5 + 0.1 * k, 5.5 - 0.1 * k
        obs = [
            person(xa + rng.normal(0, 0.08), 2.0 + rng.normal(0, 0.08), 1.0 + rng.normal(0, 0.15)),
            person(xb + rng.normal(0, 0.08), 2.2 + rng.normal(0, 0.08), -1.0 + rng.normal(0, 0.15)),
        ]
        step = tracker.update(t, obs[:: 1 if k % 2 else -1])  # order must not matter
        for v in step.tracks:
            start.setdefault(v.track_id, v.position[0])
        t += HOP_NS
    assert [v.track_id for v in step.tracks] == [1, 2]
    for v in step.tracks:  # each kept going its own way
        assert abs(v.position[0] - start[v.track_id]) > 4.5
