"""Every rule of the tracker, with the default ``TrackerConfig``: each test puts people
just inside and just outside one rule (or measures what a setting is for) so that it
fails when the rule is removed or its setting moved far from its default. See
``wdp/pipeline/tracking.py`` for the rules. Windows every 0.1 s; noise is seeded, so
every figure here is the same on every run.
"""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_truth import person

from wdp.camera import Camera
from wdp.pipeline import Tracker

NS = 1_000_000_000
HOP = NS // 10
SEEDS = range(4)


def tracking_events(step) -> list[tuple[str, int]]:
    return [(e.event, e.track_id) for e in step.events if e.TYPE == "tracking_update"]


def feed(tracker: Tracker, frames, start: int = 0) -> tuple[list, list]:
    """Feed one list of observations per window from window ``start``; (steps, the
    (window index, event, track id) of every tracking_update)."""
    steps, log = [], []
    for k, obs in enumerate(frames, start):
        step = tracker.update(k * HOP, obs)
        steps.append(step)
        log += [(k, *e) for e in tracking_events(step)]
    return steps, log


def settled(x: float = 2.0, y: float = 2.0, windows: int = 30) -> tuple[Tracker, int]:
    """A tracker with one confirmed track (id 1) on someone standing at (x, y); the
    next window index."""
    tracker = Tracker("room", Camera())
    feed(tracker, [[person(x, y)]] * windows)
    return tracker, windows


def track(step, track_id: int = 1):
    return next((v for v in step.tracks if v.track_id == track_id), None)


# -- which detections are used, and which start tracks -----------------------------------


def test_detections_below_min_confidence_are_not_used():
    tracker, k = settled()
    steps, log = feed(tracker, [[person(2.0, 2.0, conf=0.25)]] * 20, k)
    assert steps[0].low_confidence == 1 and steps[0].used == 0
    assert (k - 1 + 15, "track_lost", 1) in log  # 1.5 s without a detection it could use
    tracker, k = settled()
    steps, log = feed(tracker, [[person(2.0, 2.0, conf=0.35)]] * 20, k)
    assert steps[0].used == 1
    assert [e for e in log if e[1] == "track_lost"] == []


def test_only_detections_of_init_confidence_start_a_track():
    tracker = Tracker("room", Camera())
    steps, log = feed(tracker, [[person(2.0, 2.0, conf=0.45)]] * 10)
    assert log == [] and steps[-1].tracks == ()
    steps, log = feed(tracker, [[person(2.0, 2.0, conf=0.55)]] * 3, 10)
    assert log == [(12, "track_started", 1)]
    # a detection too weak to start a track still keeps an existing one
    steps, log = feed(tracker, [[person(2.0, 2.0, conf=0.45)]] * 30, 13)
    assert [e for e in log if e[1] != "track_updated"] == []


def test_one_person_detected_twice_is_one_track():
    """A model that reports one person twice, 0.3 m apart (within spawn_min_distance_m):
    one track; two people 1 m apart: two."""
    tracker = Tracker("room", Camera())
    _, log = feed(tracker, [[person(2.0, 2.0), person(2.3, 2.0)]] * 20)
    assert [e for e in log if e[1] == "track_started"] == [(2, "track_started", 1)]
    tracker = Tracker("room", Camera())
    _, log = feed(tracker, [[person(2.0, 2.0), person(3.0, 2.0)]] * 20)
    assert [e for e in log if e[1] == "track_started"] == [
        (2, "track_started", 1),
        (2, "track_started", 2),
    ]


# -- the filter ------------------------------------------------------------------------------


def rms(values) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def test_the_filter_smooths_a_standing_person():
    """Positions with 15 cm noise per axis (21 cm in the plane): one track, whose
    position over the last 5 s of 10 is off by less than 15 cm (RMS) on every seed
    (measured: 10..14 cm)."""
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        frames = [[person(*(2.0 + rng.normal(0, 0.15, 2)))] for _ in range(100)]
        steps, log = feed(Tracker("room", Camera()), frames)
        assert {e[2] for e in log} == {1}, seed
        errors = [np.hypot(*(np.array(track(s).position) - 2.0)) for s in steps[50:]]
        assert rms(errors) < 0.15, seed


def test_the_filter_follows_a_walker_who_turns():
    """1.2 m/s along x for 3 s, then along y (positions with 5 cm noise, no velocity
    from the model): one track all along, never more than 0.3 m behind."""
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        truth = []
        for k in range(80):
            t = k * 0.1
            truth.append((1.0 + 1.2 * t, 1.0) if t < 3 else (4.6, 1.0 + 1.2 * (t - 3)))
        frames = [[person(*(np.array(p) + rng.normal(0, 0.05, 2)))] for p in truth]
        steps, log = feed(Tracker("room", Camera()), frames)
        assert {e[2] for e in log} == {1}, seed
        lag = [
            np.hypot(*(np.array(track(s).position) - p)) for s, p in zip(steps, truth, strict=True)
        ]
        assert max(lag) < 0.3, (seed, max(lag))


def test_a_new_track_learns_its_velocity_without_inventing_one():
    """With no velocity from the model, a new track's velocity comes from its first
    positions (5 cm noise): someone standing still is not given a walk (under 0.5 m/s
    after two detections), a walker at 1.5 m/s is seen walking after four (mean over
    the seeds above 0.7 m/s)."""
    still, walking = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        frames = [[person(*(2.0 + rng.normal(0, 0.05, 2)))] for _ in range(2)]
        steps, _ = feed(Tracker("room", Camera()), frames)
        still.append(np.hypot(*steps[-1].tracks[0].velocity))
        frames = [[person(1.0 + 0.15 * k + rng.normal(0, 0.05), 2.0)] for k in range(4)]
        steps, _ = feed(Tracker("room", Camera()), frames)
        walking.append(steps[-1].tracks[0].velocity[0])
    assert max(still) < 0.5, still
    assert np.mean(walking) > 0.7, walking


def test_the_model_s_velocity_is_weighed_by_velocity_sigma():
    """A walker at 1 m/s, positions with 15 cm noise, and the model's velocity: when it is
    accurate (5 cm/s noise) the track's velocity follows it (RMS error under 0.12 m/s);
    when it is noisy (0.3 m/s) the filter smooths it (under 0.3 m/s, mean of the seeds)."""

    def velocity_error(seed: int, noise: float) -> float:
        rng = np.random.default_rng(seed)
        frames = []
        for k in range(50):
            x, y = 1.0 + 0.1 * k + rng.normal(0, 0.15), 2.0 + rng.normal(0, 0.15)
            frames.append([person(x, y, 1.0 + rng.normal(0, noise), rng.normal(0, noise))])
        steps, _ = feed(Tracker("room", Camera()), frames)
        return rms(
            [np.hypot(s.tracks[0].velocity[0] - 1.0, s.tracks[0].velocity[1]) for s in steps[5:]]
        )

    assert max(velocity_error(seed, 0.05) for seed in SEEDS) < 0.12
    assert np.mean([velocity_error(seed, 0.3) for seed in SEEDS]) < 0.26


def test_a_track_that_is_not_seen_coasts_for_coast_s_then_stands():
    """A walker (1 m/s along x) vanishes: the track goes on for coast_s (0.5 s; it moves
    on in the window that passes it, 0.6 m in all), then stands still."""
    tracker = Tracker("room", Camera())
    steps, _ = feed(tracker, [[person(1.0 + 0.1 * k, 2.0, 1.0)] for k in range(30)])
    last_x = track(steps[-1]).position[0]
    steps, _ = feed(tracker, [[]] * 10, 30)
    view = track(steps[-1])
    assert view.velocity == (0.0, 0.0)
    assert view.position[0] - last_x == pytest.approx(0.6, abs=0.05)


# -- association ---------------------------------------------------------------------------


def test_a_detection_far_outside_the_track_s_uncertainty_is_someone_else():
    """A settled track (about 17 cm of uncertainty): a detection 0.5 m away is the same
    person; one 0.9 m away is outside the gate (gate_chi2) and starts a new track."""
    tracker, k = settled()
    steps, _ = feed(tracker, [[person(2.5, 2.0)]], k)
    assert len(steps[0].tracks) == 1 and track(steps[0]).observation is not None
    tracker, k = settled()
    steps, _ = feed(tracker, [[person(2.9, 2.0)]], k)
    assert [(v.track_id, v.observation is None) for v in steps[0].tracks] == [
        (1, True),
        (2, False),
    ]
    assert track(steps[0]).position[0] == pytest.approx(2.0, abs=0.05)


def test_no_detection_further_than_gate_distance_m_is_taken_even_when_lost():
    """After 3 s unseen, the track's position is very uncertain (the Mahalanobis gate
    would take anything); still a detection 2 m away is someone else (gate_distance_m,
    1.5 m), while one 1 m away is the person found again."""
    for dx, found in ((2.0, False), (1.0, True)):
        tracker, k = settled()
        _, log = feed(tracker, [[]] * 30, k)
        assert (k + 14, "track_lost", 1) in log
        steps, log = feed(tracker, [[person(2.0 + dx, 2.0)]] * 3, k + 30)
        if found:
            assert log == [(k + 32, "track_updated", 1)]
            assert len(steps[-1].tracks) == 1
        else:
            assert log == [(k + 32, "track_started", 2)]
            assert track(steps[-1]).state == "lost"


def test_established_tracks_choose_first():
    """One detection between a confirmed track and a tentative one, a little nearer the
    tentative: the confirmed track takes it (a young, maybe false, track never takes a
    detection from an established one)."""
    tracker, k = settled(2.0, 2.0)
    step = tracker.update(k * HOP, [person(2.0, 2.0), person(2.9, 2.0)])  # tentative id 2
    assert [(v.track_id, v.state) for v in step.tracks] == [(1, "confirmed"), (2, "tentative")]
    step = tracker.update((k + 1) * HOP, [person(2.5, 2.0)])
    assert track(step, 1).observation is not None
    assert track(step, 2).observation is None


# -- lifecycle -------------------------------------------------------------------------------


def test_a_track_is_confirmed_on_its_third_detection():
    tracker = Tracker("room", Camera())
    _, log = feed(tracker, [[person(2.0, 2.0)]] * 3)
    assert log == [(2, "track_started", 1)]


def test_a_tentative_track_survives_one_miss_not_two():
    tracker = Tracker("room", Camera())
    _, log = feed(tracker, [[person(2.0, 2.0)], [], [person(2.0, 2.0)], [person(2.0, 2.0)]])
    assert log == [(3, "track_started", 1)]
    tracker = Tracker("room", Camera())
    pattern = [[person(2.0, 2.0)], [person(2.0, 2.0)], [], [], [person(2.0, 2.0)]]
    steps, log = feed(tracker, pattern + [[person(2.0, 2.0)]] * 2)
    assert steps[3].tracks == ()  # dropped, never announced
    assert log == [(6, "track_started", 2)]


def test_lost_after_1_5_s_ended_after_5_s_updates_every_second():
    tracker = Tracker("room", Camera())
    _, log = feed(tracker, [[person(2.0, 2.0)]] * 50 + [[]] * 60)
    # last seen in window 49
    assert [e for e in log if e[1] != "track_updated"] == [
        (2, "track_started", 1),
        (49 + 15, "track_lost", 1),
        (49 + 50, "track_ended", 1),
    ]
    assert [e[0] for e in log if e[1] == "track_updated"] == [12, 22, 32, 42, 52, 62]


# -- what a track reports --------------------------------------------------------------------


def test_quality_is_the_share_of_the_last_20_windows_with_a_detection():
    tracker = Tracker("room", Camera())
    frames = [[person(2.0, 2.0)]] * 40 + [[], [person(2.0, 2.0)]] * 5
    steps, _ = feed(tracker, frames)
    assert track(steps[-1]).quality == pytest.approx(15 / 20)


def test_confidence_is_an_exponential_average_with_weight_0_3():
    tracker = Tracker("room", Camera())
    steps, _ = feed(
        tracker, [[person(2.0, 2.0, conf=0.9)]] * 5 + [[], [person(2.0, 2.0, conf=0.5)]]
    )
    assert track(steps[-3]).confidence == pytest.approx(0.9)
    assert track(steps[-2]).confidence == pytest.approx(0.9 * 0.7)
    assert track(steps[-1]).confidence == pytest.approx(0.63 + 0.3 * (0.5 - 0.63))


def test_trajectory_points_every_0_5_s_the_newest_20_predicted_1_s_ahead():
    tracker = Tracker("room", Camera())
    steps, _ = feed(tracker, [[person(1.0 + 0.02 * k, 2.0)] for k in range(150)])
    updates = [e for s in steps for e in s.events if e.TYPE == "pose_data_trajectory"]
    assert [e.timestamp_ns for e in updates][-3:] == [125 * HOP, 135 * HOP, 145 * HOP]
    last = updates[-1]
    stamps = [p.timestamp_ns for p in last.trajectory]
    assert len(stamps) == 20 and set(np.diff(stamps)) == {NS // 2}
    assert stamps[-1] == 145 * HOP
    view = track(steps[145])
    assert last.prediction.time_horizon == 1.0
    assert last.prediction.next_position.x_m == pytest.approx(
        view.position[0] + view.velocity[0] * 1.0, abs=0.001
    )


def test_at_the_crossing_the_model_s_velocity_tells_who_is_who():
    """Two people walk at each other (1 m/s each way) and meet at (2, 2): in that window
    both detections are at the same place, so only their velocities (the velocity term
    of the association cost) tell them apart, whatever order the model lists them in."""
    for flip in (False, True):
        tracker = Tracker("room", Camera())
        for k in range(10):
            tracker.update(
                k * HOP, [person(1.0 + 0.1 * k, 2.0, 1.0), person(3.0 - 0.1 * k, 2.0, -1.0)]
            )
        meeting = [person(2.0, 2.0, 1.0), person(2.0, 2.0, -1.0)]
        step = tracker.update(10 * HOP, meeting[::-1] if flip else meeting)
        assert [(v.track_id, v.observation.velocity_m_s[0]) for v in step.tracks] == [
            (1, 1.0),
            (2, -1.0),
        ], flip
