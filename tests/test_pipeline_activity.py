"""Activity: smoothed labels with hysteresis, falling as a transient."""

import numpy as np
import pytest
from pipeline_truth import of_type, run, truth

from wdp.pipeline import ActivityConfig, ActivitySmoother, ObservationNoise
from wdp.recorder import ACTIVITIES

NS = 1_000_000_000
STANDING, WALKING, SITTING, LYING, FALLING = np.eye(5)


def labels(smoother, probs, hop_s=0.1, start=0):
    out = []
    for k, p in enumerate(probs):
        out.append(smoother.update(start + int(round(k * hop_s * NS)), p).label)
    return out


def test_isolated_wrong_windows_do_not_flicker():
    probs = [STANDING if k % 4 == 3 else WALKING for k in range(100)]
    assert set(labels(ActivitySmoother(), probs)) == {"walking"}


def test_a_lasting_change_switches_after_a_short_delay():
    for hop in (0.1, 0.2):
        n = int(round(5 / hop))
        out = labels(ActivitySmoother(), [WALKING] * n + [SITTING] * n, hop)
        switch = out.index("sitting") * hop - 5
        assert 0.3 <= switch <= 1.2, (hop, switch)
        assert out[:n] == ["walking"] * n and out[-1] == "sitting"
        assert len([1 for a, b in zip(out, out[1:], strict=False) if a != b]) == 1


def test_falling_is_a_transient():
    smoother = ActivitySmoother(ActivityConfig(falling_hold_s=0.5))
    out = labels(smoother, [STANDING] * 20 + [FALLING] * 5 + [LYING] * 40)
    assert out[:20] == ["standing"] * 20
    assert "falling" in out[20:26]
    assert out[-1] == "lying"
    falling = [i for i, x in enumerate(out) if x == "falling"]
    assert falling == list(range(falling[0], falling[-1] + 1))  # one stretch
    assert (falling[-1] - 24) * 0.1 <= 0.5 + 0.3  # gone soon after the model stops saying so
    state = smoother.state(10 * NS)
    assert state.label == "lying" and 0.9 < state.confidence <= 1.0


def test_pipeline_labels_follow_the_truth_without_flicker():
    events, _ = run("one_walker", noise=ObservationNoise(activity_confusion=0.2), seed=1)
    rows, _ = truth("one_walker")
    shown, true = [], []
    for e in of_type(events, "pose_data"):
        if e.persons:
            shown.append(e.persons[0].activity.type)
            k = int(np.searchsorted(rows.time_ns, e.timestamp_ns))
            true.append(ACTIVITIES[rows.activity[k, 0]])

    def changes(xs):
        return sum(a != b for a, b in zip(xs, xs[1:], strict=False))

    assert changes(shown) <= changes(true) + 2
    assert np.mean([a == b for a, b in zip(shown, true, strict=True)]) > 0.75


def test_config_is_validated():
    with pytest.raises(ValueError):
        ActivityConfig(time_constant_s=0)
    with pytest.raises(ValueError):
        ActivityConfig(switch_margin=-0.1)
