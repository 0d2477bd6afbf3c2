"""Every rule of the fall detector, one synthetic body at a time.

Each test drives ``FallDetector`` with the default ``FallConfig`` and a body whose head
and pelvis heights follow a piecewise-linear timeline, placed just inside and just
outside one rule, so the test fails when that rule is removed or its setting moved far
from its default (see ``wdp/pipeline/falls.py`` for the rules). Heights are in metres,
times in seconds; windows every 0.1 s unless said otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from wdp.camera import Camera
from wdp.pipeline.falls import FallConfig, FallDetector
from wdp.pipeline.observations import Observation
from wdp.pipeline.tracking import CONFIRMED, TrackView

NS = 1_000_000_000
ENV = "room"
HEAD = [0, 1, 2, 3, 4]
HIPS = [11, 12]
UP = (1.6, 0.9)  # head, pelvis of someone standing
DOWN = (0.2, 0.15)  # lying on the floor
#: The standard fall: standing, then the head from 1.6 to 0.2 m in 0.5 s (2.8 m/s),
#: from t = 2 s, then lying.
FALL = [(0.0, *UP), (2.0, *UP), (2.5, *DOWN)]


def body(
    x: float,
    y: float,
    head: float,
    pelvis: float,
    *,
    p_fall: float = 0.0,
    keypoint_confidence: float = 0.9,
) -> Observation:
    """A detection whose head keypoints are at ``head`` and hips at ``pelvis``."""
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1] = x, y
    kp[:, 2] = (head + pelvis) / 2
    kp[HEAD, 2] = head
    kp[HIPS, 2] = pelvis
    probs = [1.0 - p_fall, 0.0, 0.0, 0.0, p_fall]
    return Observation((x, y, 0.0), None, kp, np.full(17, keypoint_confidence), probs, 0.9)


def view(track_id: int, obs: Observation | None, xy=(2.0, 2.0)) -> TrackView:
    return TrackView(track_id, track_id, CONFIRMED, xy, (0.0, 0.0), 0.9, 1.0, 0, 0, 0.1, obs)


def heights(knots, t: float) -> tuple[float, float]:
    """(head, pelvis) at ``t`` on the piecewise-linear timeline ``knots`` [(t, h, p)]."""
    ts, hs, ps = zip(*knots, strict=True)
    return float(np.interp(t, ts, hs)), float(np.interp(t, ts, ps))


def times(until: float, hop: float = 0.1, start: float = 0.0) -> list[int]:
    n = int(round((until - start) / hop))
    return [int(round((start + i * hop) * NS)) for i in range(n + 1)]


def run(
    knots,
    until: float = 10.0,
    *,
    config: FallConfig | None = None,
    hop: float = 0.1,
    start: float = 0.0,
    jitter=None,
    **obs_kw,
) -> list:
    """The events of one track (id 1 at (2, 2)) following ``knots``."""
    detector = FallDetector(ENV, Camera(), config)
    events = []
    for i, t in enumerate(times(until, hop, start)):
        head, pelvis = heights(knots, t / NS)
        if jitter is not None:
            head += jitter(i, t / NS)
        events += detector.update(t, [view(1, body(2.0, 2.0, head, pelvis, **obs_kw))])
    return events


def at(events) -> list[tuple[int, str, bool, float]]:
    """(fall id, severity, recovered, time in s) of each event."""
    return [
        (e.fall_id, e.severity, e.recovery_detected, round(e.timestamp_ns / NS, 3)) for e in events
    ]


def drop(head0: float, pelvis0: float, head1: float, pelvis1: float, speed: float):
    """Standing still at (head0, pelvis0) until 2 s, then down to (head1, pelvis1) with
    the head at ``speed`` m/s."""
    end = 2.0 + (head0 - head1) / speed
    return [(0.0, head0, pelvis0), (2.0, head0, pelvis0), (end, head1, pelvis1)]


# -- the fall and its figures ------------------------------------------------------------


def test_a_quick_drop_to_the_floor_is_one_fall_reported_confirm_s_after_the_floor():
    events = run(FALL)
    # the head reaches floor height (0.6 m) at 2.357 s: first on the floor at 2.4 s,
    # still there confirm_s (0.3 s) later
    assert at(events) == [(1, "high", False, 2.7)]
    (fall,) = events
    assert fall.event_type == "fall_detected" and fall.track_id == fall.person_id == 1
    assert fall.fall_duration == pytest.approx(0.45, abs=0.01)  # 5 % to 95 % of 0.5 s
    assert fall.impact_severity == pytest.approx(2.8 / math.sqrt(2 * 9.81 * 1.6), abs=0.01)
    assert fall.confidence == pytest.approx(0.5)  # 0.5 * min(1, 2.8 / 2.0) + 0.5 * 0
    assert (fall.location.x_m, fall.location.y_m) == (2.0, 2.0)


def test_the_model_s_falling_probability_adds_to_the_confidence():
    (fall,) = run(FALL, p_fall=0.6)
    assert fall.confidence == pytest.approx(0.5 + 0.5 * 0.6)


def test_a_dip_shorter_than_confirm_s_is_not_a_fall():
    # down in 0.4 s, straight back up: on the floor at 2.3, 2.4, 2.5 s only (0.2 s)
    dip = [(0.0, *UP), (2.0, *UP), (2.4, *DOWN), (2.8, *UP)]
    assert run(dip) == []
    # the same with the floor held one window longer (2.3 .. 2.6 s) is a fall (and the
    # person, upright from 2.8 s, recovered 1 s later)
    held = [(0.0, *UP), (2.0, *UP), (2.4, *DOWN), (2.5, *DOWN), (2.9, *UP)]
    assert at(run(held)) == [(1, "high", False, 2.6), (1, "high", True, 3.8)]


# -- what counts as upright and as on the floor -------------------------------------------


def test_only_a_drop_from_an_upright_head_is_a_fall():
    # a head at 1.1 m (sitting on a chair) dropping fast to the floor: not from upright
    assert run(drop(1.1, 0.5, *DOWN, speed=3.0)) == []
    assert len(run(drop(1.3, 0.8, *DOWN, speed=3.0))) == 1


def test_only_a_drop_with_the_head_near_the_floor_is_a_fall():
    # sitting down hard on the floor (head 0.7 m) is not lying on it
    assert run(drop(*UP, 0.7, 0.15, speed=3.0)) == []
    assert len(run(drop(*UP, 0.5, 0.15, speed=3.0))) == 1


def test_only_a_drop_with_the_pelvis_near_the_floor_is_a_fall():
    # kneeling and bending forward fast: the head is low, the pelvis is not
    assert run(drop(*UP, 0.5, 0.5, speed=3.0)) == []
    assert len(run(drop(*UP, 0.5, 0.3, speed=3.0))) == 1


# -- how fast, and the model's say -------------------------------------------------------


def test_a_slow_descent_is_not_a_fall_even_when_the_model_says_falling():
    assert run(drop(*UP, *DOWN, speed=1.2), p_fall=0.9) == []
    assert len(run(drop(*UP, *DOWN, speed=1.7), p_fall=0.9)) == 1


def test_a_fast_descent_needs_the_model_unless_it_is_faster_than_any_voluntary_move():
    assert run(drop(*UP, *DOWN, speed=1.8), p_fall=0.0) == []
    assert len(run(drop(*UP, *DOWN, speed=2.4), p_fall=0.0)) == 1


def test_the_model_agrees_from_min_falling_probability():
    assert run(drop(*UP, *DOWN, speed=1.8), p_fall=0.2) == []
    assert len(run(drop(*UP, *DOWN, speed=1.8), p_fall=0.4)) == 1


def test_keypoint_jitter_does_not_fake_speed():
    """A slow descent (1 m/s) seen every 0.05 s with +-4 cm of head jitter (from 1.0 m
    down): from one window to the next the head seems to drop at up to 2.6 m/s, but
    over speed_span_s (0.2 s) at most 1.4 m/s, under min_peak_speed_m_s."""
    slow = drop(*UP, *DOWN, speed=1.0)

    def jitter(i, t):
        return 0.04 * (-1) ** i if 2.6 <= t < 3.4 else 0.0

    assert run(slow, hop=0.05, jitter=jitter) == []
    assert len(run(drop(*UP, *DOWN, speed=2.6), hop=0.05, jitter=jitter)) == 1


def test_a_long_pause_between_upright_and_the_floor_is_not_a_fall():
    """A crouch (head 1.0 m) held, then a fast drop to the floor (2.7 m/s): after 1.7 s
    between the last upright and the first floor detection it is not one movement from
    upright, after 0.6 s it is (max_descent_s 1 s)."""
    held = [(0.0, *UP), (2.0, *UP), (2.5, 1.0, 0.5), (4.0, 1.0, 0.5), (4.3, *DOWN)]
    assert run(held) == []
    brief = [(0.0, *UP), (2.0, *UP), (2.5, 1.0, 0.5), (2.8, 1.0, 0.5), (3.1, *DOWN)]
    assert len(run(brief)) == 1


def test_an_upright_detection_older_than_lookback_s_does_not_start_a_fall():
    """Seen standing, then not seen for a while (no detection), then at 1.1 m and on the
    floor 0.2 s apart: a fall only if the upright detection is within lookback_s (3 s)
    of the floor."""

    def seen(gap_s: float) -> list:
        detector = FallDetector(ENV, Camera())
        events = []
        last_up = 2.0
        samples = [(t, *UP) for t in np.arange(0.0, last_up + 0.01, 0.1)]
        samples += [(last_up + gap_s, 1.1, 0.6), (last_up + gap_s + 0.2, *DOWN)]
        samples += [(last_up + gap_s + 0.2 + 0.1 * k, *DOWN) for k in range(1, 10)]
        for t, head, pelvis in samples:
            obs = body(2.0, 2.0, head, pelvis)
            events += detector.update(int(round(t * NS)), [view(1, obs)])
        return events

    assert seen(gap_s=4.0) == []
    assert len(seen(gap_s=2.0)) == 1


def test_upright_means_upright_detections_in_a_row():
    # a track whose first two detections (2.0 s, 2.1 s) are upright, then the fall
    assert len(run(FALL, start=2.0)) == 1
    # one upright detection only (2.1 s; a stray taken for the person): not a fall
    assert run(FALL, start=2.1) == []


def test_keypoints_below_min_keypoint_confidence_are_not_used():
    """The same fall seen with keypoints the model is unsure of (confidence 0.15):
    those detections are ignored, so nothing is reported."""
    assert run(FALL, keypoint_confidence=0.15) == []
    assert len(run(FALL, keypoint_confidence=0.25)) == 1


# -- after the fall ---------------------------------------------------------------------


def stand_up_at(t0: float, duration_up: float = 5.0) -> list:
    """The standard fall, lying until t0, up in 1 s (upright from 10.8 s if t0 = 10),
    upright for ``duration_up``."""
    return [*FALL, (t0, *DOWN), (t0 + 1.0, *UP), (t0 + 1.0 + duration_up, *UP)]


def test_recovery_after_recover_s_upright_keeps_the_fall_id():
    events = run(stand_up_at(10.0), until=70.0)
    # upright (head >= 1.2 m) from 10.8 s; recover_s (1 s) later
    assert at(events) == [(1, "high", False, 2.7), (1, "high", True, 11.8)]
    assert events[1].fall_duration == events[0].fall_duration  # the fall's own figures


def test_standing_up_for_less_than_recover_s_is_no_recovery():
    # up from 10.8 s, down again from 11.6 s (head below 1.2 m at 11.74 s)
    brief = [*FALL, (10.0, *DOWN), (11.0, *UP), (11.6, *UP), (12.2, *DOWN)]
    events = run(brief, until=20.0)
    assert at(events) == [(1, "high", False, 2.7)]


def test_getting_up_briefly_and_falling_again_is_the_same_fall():
    again = [*FALL, (6.0, *DOWN), (7.0, *UP), (7.5, *UP), (8.0, *DOWN)]
    assert at(run(again, until=20.0)) == [(1, "high", False, 2.7)]


def test_a_long_lie_escalates_to_critical_after_critical_after_s():
    events = run(FALL, until=100.0)
    assert at(events) == [(1, "high", False, 2.7), (1, "critical", False, 62.7)]


def test_a_fall_recovered_in_time_does_not_escalate():
    assert at(run(stand_up_at(50.0), until=100.0)) == [
        (1, "high", False, 2.7),
        (1, "high", True, 51.8),
    ]


def test_a_fall_whose_track_ended_still_escalates_and_a_newcomer_is_not_its_recovery():
    """The model loses the person on the floor (the track ends at 10 s); someone else
    stands where they fell from 20 s on: nobody saw the person get up, so the fall
    escalates, and the newcomer's track is not taken as their recovery."""
    detector = FallDetector(ENV, Camera())
    events = []
    for t in times(100.0):
        s = t / NS
        if s < 10.0:
            tracks = [view(1, body(2.0, 2.0, *heights(FALL, s)))]
        elif s >= 20.0:
            tracks = [view(2, body(2.0, 2.0, *UP))]
        else:
            tracks = []
        events += detector.update(t, tracks, ended=[1] if s == 10.0 else [])
    assert at(events) == [(1, "high", False, 2.7), (1, "critical", False, 62.7)]
    assert {e.track_id for e in events} == {1}


# -- one person down, another track -------------------------------------------------------


def two_tracks(second, where: tuple[float, float], until: float = 30.0) -> list:
    """Track 1 falls at (2, 2) (the standard fall) and stays down; track 2 at ``where``
    follows the timeline ``second`` (None: no detection)."""
    detector = FallDetector(ENV, Camera())
    events = []
    for t in times(until):
        s = t / NS
        tracks = [view(1, body(2.0, 2.0, *heights(FALL, s)))]
        h = second(s)
        if h is not None:
            tracks.append(view(2, body(*where, *h), xy=where))
        events += detector.update(t, tracks)
    return events


def instant_takeover(s: float):
    """Standing from 5 s, on the floor in one window at 8 s (faster than any body falls:
    a track that took over someone lying there), up again at 20 s."""
    if s < 5.0:
        return None
    return DOWN if 8.0 <= s < 20.0 else UP


def test_a_track_that_takes_over_the_person_down_is_not_a_new_fall():
    events = two_tracks(instant_takeover, (2.3, 2.2))
    # the fall moves to track 2, whose getting up (upright from 20 s) is its recovery;
    # the messages keep the track the fall was reported on
    assert at(events) == [(1, "high", False, 2.7), (1, "high", True, 21.0)]
    assert {e.track_id for e in events} == {1}


def test_an_instant_drop_far_from_the_person_down_is_a_new_fall():
    events = two_tracks(instant_takeover, (4.0, 3.5))  # 2.5 m away
    assert [(e.fall_id, e.track_id, e.recovery_detected) for e in events] == [
        (1, 1, False),
        (2, 2, False),
        (2, 2, True),
    ]


def test_a_real_fall_next_to_the_person_down_is_a_new_fall():
    """Someone falls (in 0.5 s, like a body) 0.4 m from the person still down: a second
    fall, not a takeover (only a descent under min_descent_s is one)."""

    def second_falls(s: float):
        return heights([(0.0, *UP), (8.0, *UP), (8.5, *DOWN)], s)

    events = two_tracks(second_falls, (2.3, 2.2))
    assert [(e.fall_id, e.track_id) for e in events] == [(1, 1), (2, 2)]
    assert events[1].timestamp_ns == int(8.7 * NS)


@pytest.mark.xfail(
    strict=True,
    reason="falls.py _peak_speed measures the first windows after the last upright "
    "detection over spans shorter than speed_span_s (it falls back to that detection), "
    "so jitter there still fakes speed; fixing it changes the golden events",
)
def test_keypoint_jitter_right_after_the_last_upright_detection_does_not_fake_speed():
    def jitter(i, t):
        return 0.04 * (-1) ** i if 2.0 < t < 3.4 else 0.0

    assert run(drop(*UP, *DOWN, speed=1.0), hop=0.05, jitter=jitter) == []
