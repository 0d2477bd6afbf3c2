"""Settings changed while a pipeline runs (``wdp serve``'s config PATCH) take effect at
the next window, or for analytics at the next period."""

import attrs
from pipeline_truth import ENV, of_type, truth

from wdp.pipeline import (
    AnalyticsConfig,
    EnvironmentPipeline,
    ObservationNoise,
    PipelineConfig,
    windows_from_truth,
)

NS = 1_000_000_000


def windows(name, **kw):
    rows, camera = truth(name)
    return windows_from_truth(rows, environment_id=ENV, hop_s=0.1, **kw), camera


def run_with_change(name, change_at_s, new_config, config=None, **kw):
    """Events of a scenario's windows, ``new_config`` applied from ``change_at_s`` on."""
    ws, camera = windows(name, **kw)
    pipeline = EnvironmentPipeline(ENV, camera, config)
    events = []
    changed = False
    for w in ws:
        if not changed and w.time_ns >= change_at_s * NS:
            pipeline.reconfigure(new_config)
            changed = True
        events.extend(pipeline.step(w))
    return events


def falls(events):
    return [e for e in of_type(events, "activity_event") if e.event_type == "fall_detected"]


def test_fall_detection_off_reports_no_fall():
    on = PipelineConfig()
    off = attrs.evolve(on, fall_detection=False)
    assert falls(run_with_change("fall_and_recover", 0.0, on))  # the scenario has a fall
    assert falls(run_with_change("fall_and_recover", 0.0, off)) == []


def test_a_fall_after_switching_back_on_is_detected():
    on = PipelineConfig()
    off = attrs.evolve(on, fall_detection=False)
    ws, camera = windows("fall_and_recover", noise=ObservationNoise(), seed=1)
    pipeline = EnvironmentPipeline(ENV, camera, off)
    events = [e for w in ws[:10] for e in pipeline.step(w)]
    pipeline.reconfigure(on)
    events += [e for w in ws[10:] for e in pipeline.step(w)]
    found = falls(events)
    assert [e.fall_id for e in found if not e.recovery_detected] == [1]


def test_tracker_threshold_applies_from_the_next_window():
    ws, camera = windows("one_walker", noise=ObservationNoise(), seed=0)  # confidence < 0.95
    pipeline = EnvironmentPipeline(ENV, camera)
    half = len(ws) // 2
    first = [e for w in ws[:half] for e in pipeline.step(w)]
    strict = PipelineConfig()
    strict = attrs.evolve(strict, tracker=attrs.evolve(strict.tracker, min_confidence=1.0))
    pipeline.reconfigure(strict)
    assert pipeline.tracker.config.min_confidence == 1.0
    second = [e for w in ws[half:] for e in pipeline.step(w)]
    seen = lambda evs: sum(len(e.persons) for e in of_type(evs, "pose_data"))  # noqa: E731
    assert seen(first) > 0
    # nobody is tracked after the change: the walker's track is lost and ended
    assert seen(second[-100:]) == 0
    assert "track_ended" in {e.event for e in of_type(second, "tracking_update")}


def test_analytics_period_changes_at_the_next_period():
    ten = PipelineConfig(analytics=AnalyticsConfig(period_s=10.0))
    five = PipelineConfig(analytics=AnalyticsConfig(period_s=5.0))
    events = run_with_change("one_walker", 12.0, five, config=ten)
    periods = [(e.window, e.timestamp_ns) for e in of_type(events, "analytics_stream")]
    # the open period (10..20 s) keeps its length; then 5 s periods
    assert periods[:2] == [("10_seconds", 10 * NS), ("10_seconds", 20 * NS)]
    assert periods[2] == ("5_seconds", 25 * NS)
