"""Analytics: periods, figures, trends and MOTA."""

import numpy as np
import pytest
from pipeline_truth import of_type, run, truth

from wdp.pipeline import AnalyticsConfig, Mota, PipelineConfig, TrackerConfig
from wdp.pipeline.analytics import _trend, period_name

NS = 1_000_000_000
TEN_S = PipelineConfig(analytics=AnalyticsConfig(period_s=10.0))


def test_mota_of_the_truth_itself_is_one():
    rows, _ = truth("two_crossing")
    mota = Mota(0.5)
    for k in range(0, len(rows), 10):
        slots = [int(s) for s in np.flatnonzero(rows.present[k])]
        xy = rows.position[k, slots, :2]
        mota.update(slots, xy, [f"track{s}" for s in slots], xy)
    assert mota.mota == 1.0
    assert mota.motp == 0.0
    assert mota.counts()[1:] == (0, 0, 0)


def test_mota_counts_misses_false_positives_and_switches():
    mota = Mota(0.5)
    mota.update(["a", "b"], [(0, 0), (5, 5)], [1, 2], [(0.1, 0), (5, 5.2)])  # both right
    mota.update(["a", "b"], [(0, 0), (5, 5)], [1], [(0, 0)])  # b missed
    mota.update(["a", "b"], [(0, 0), (5, 5)], [1, 3, 9], [(0, 0), (5, 5), (9, 9)])  # b -> 3, 9 FP
    mota.update(["a"], [(0, 0)], [], [])  # a missed
    mota.update(["a"], [(0, 0)], [1, 4], [(0.3, 0), (0.0, 0.1)])  # keeps 1 (still in range): 4 FP
    assert mota.counts() == (8, 2, 2, 1)
    assert mota.mota == pytest.approx(1 - 5 / 8)
    assert Mota().mota is None


def test_perfect_observations_give_perfect_accuracy():
    config = PipelineConfig(
        tracker=TrackerConfig(confirm_hits=1), analytics=AnalyticsConfig(period_s=10.0)
    )
    for name in ("one_walker", "two_crossing"):
        events, pipeline = run(name, config=config, with_truth=True)
        streams = of_type(events, "analytics_stream")
        assert [s.tracking_accuracy for s in streams] == [1.0] * len(streams)
        assert pipeline.analytics.mota.mota == 1.0


def test_without_truth_accuracy_is_null():
    events, _ = run("one_walker", config=TEN_S)
    assert [s.tracking_accuracy for s in of_type(events, "analytics_stream")] == [None] * 3


def test_periods_figures_and_trends():
    events, _ = run("one_walker", config=TEN_S)
    streams = of_type(events, "analytics_stream")
    assert [s.timestamp_ns for s in streams] == [10 * NS, 20 * NS, 29_900_000_000]
    assert {s.window for s in streams} == {"10_seconds"}
    first, second, last = streams
    assert (first.occupancy_trend, first.activity_trend, first.confidence_trend) == (None,) * 3
    # tracked from 0.7 s (first window at 0.5 s, confirmed at the third), so counted
    # from 2.7 s (2 s debounce); windows 0.6..9.9 s account 0.1 s each (the first none)
    assert first.occupancy_average == pytest.approx(7.3 / 9.4)
    assert first.occupancy_peak == first.occupancy_current == 1
    assert second.occupancy_average == 1.0 and second.occupancy_trend == "increasing"
    assert last.occupancy_average == 1.0 and last.occupancy_trend == "stable"
    # walking bouts: one from the start, then after each of the two pauses
    assert sum(s.movement_events for s in streams) == 3
    rows, _ = truth("one_walker")
    standing = np.sum(rows.activity[:, 0] == 0) / 100
    assert sum(s.stationary_time for s in streams) == pytest.approx(standing, abs=1.5)
    assert last.activity_level < second.activity_level and last.activity_trend == "decreasing"
    # perfect observations: one detection per window, confidence 1
    pose = of_type(events, "pose_data")
    assert sum(s.total_detections for s in streams) == len(pose)
    assert {s.average_confidence for s in streams} == {1.0}
    assert {s.confidence_trend for s in streams[1:]} == {"stable"}


def test_names_and_trends():
    assert period_name(60) == "1_minute"
    assert period_name(300) == "5_minutes"
    assert period_name(30) == "30_seconds"
    assert period_name(1) == "1_second"
    assert period_name(2.5) == "2.5_seconds"
    assert _trend(2.0, 1.0, 0.1) == "increasing"
    assert _trend(1.0, 2.0, 0.1) == "decreasing"
    assert _trend(1.05, 1.0, 0.1) == "stable"
    assert _trend(None, 1.0, 0.1) is None
