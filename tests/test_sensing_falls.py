"""The fall event logic (wdp.sensing.falls): every rule, each shown to matter."""

import numpy as np

from wdp.sensing import falls
from wdp.sensing.falls import FallRules

RATE = 20.0


def course(burst_s=(6.0, 7.5), after=0.01, floor=0.01, peak=1.0, n_s=15.0):
    """A motion course: floor, a burst (triangle), then ``after`` until the end."""
    n = int(n_s * RATE)
    mc = np.full(n, floor)
    a, b = int(burst_s[0] * RATE), int(burst_s[1] * RATE)
    mid = (a + b) // 2
    mc[a:mid] = np.linspace(floor, peak, mid - a)
    mc[mid:b] = np.linspace(peak, after, b - mid)
    mc[b:] = after
    return mc


RULES = FallRules(threshold=0.5, min_rise=3.0, still_ratio=0.4, max_active_s=3.0)


def test_a_burst_then_stillness_is_a_candidate():
    cands = falls.onsets(course(), RATE, RULES)
    assert len(cands) == 1 and abs(cands[0] / RATE - 6.75) < 0.2


def test_no_stillness_after_no_candidate():
    """Someone who jumps or picks something up goes on moving."""
    mc = course(after=0.45)
    assert len(falls.onsets(mc, RATE, RULES)) == 0
    assert len(falls.onsets(mc, RATE, FallRules(min_rise=3.0, still_ratio=1.0))) == 1


def test_a_small_bump_is_not_an_onset():
    mc = course(peak=0.02)
    assert len(falls.onsets(mc, RATE, RULES)) == 0
    assert len(falls.onsets(mc, RATE, FallRules(min_rise=1.0, still_ratio=0.9))) == 1


def test_long_movement_is_not_a_fall_burst():
    """Walking goes on: above half its height far longer than a fall."""
    mc = np.full(int(15 * RATE), 0.01)
    mc[int(2 * RATE) : int(10 * RATE)] = 0.8
    mc[int(9 * RATE)] = 1.0  # its peak late, then stillness
    assert len(falls.onsets(mc, RATE, RULES)) == 0
    assert (
        len(falls.onsets(mc, RATE, FallRules(min_rise=3.0, still_ratio=0.4, max_active_s=9))) == 1
    )


def test_stillness_must_be_measured_at_the_end_of_a_capture():
    mc = course(burst_s=(13.5, 14.9))
    rise, still, _ = falls.burst_shape(mc, int(np.argmax(mc)), RATE)
    assert rise > 3 and still == np.inf
    assert len(falls.onsets(mc, RATE, RULES)) == 0


def test_threshold_and_refractory():
    cands = np.array([int(2 * RATE), int(4 * RATE), int(12 * RATE), int(20 * RATE)])
    events = falls.decide(cands, [0.9, 0.9, 0.3, 0.6], RATE, RULES)
    # the second is within 5 s of the first, the third below the threshold
    assert [t for t, _ in events] == [2.0, 20.0]
    no_refractory = FallRules(threshold=0.5, refractory_s=0.0)
    assert len(falls.decide(cands, [0.9, 0.9, 0.3, 0.6], RATE, no_refractory)) == 3


def test_windows_around_a_peak():
    idx = falls.around(100, RATE, n_windows=30, window_len=80, hop=10)
    assert list(idx) == [5, 6, 7]
    assert list(falls.around(0, RATE, 30, 80, 10)) == [0]
    assert falls.around(5, RATE, 0, 80, 10).size == 0


def test_fit_rules_let_the_training_falls_through_with_a_margin():
    shapes = np.array([[5.0, 0.2, 1.5], [8.0, 0.3, 1.2], [6.0, np.inf, 2.0], [4.0, 0.25, 1.0]])
    rules = falls.fit_rules(shapes, 0.4)
    assert rules.threshold == 0.4
    assert rules.min_rise <= 4.0 * 0.8 + 1e-12
    assert 0.3 < rules.still_ratio <= 0.3 * 1.25 + 1e-12
    assert rules.max_active_s >= 3.0
    assert falls.fit_rules(np.zeros((0, 3)), 0.5) == FallRules(threshold=0.5)


def _leaf_forest(classes, shares):
    """A forest of one leaf: the same class shares for every input."""
    from wdp.sensing.forest import Forest

    return Forest(
        {
            "left": np.array([-1]),
            "right": np.array([-1]),
            "feature": np.array([-2]),
            "threshold": np.array([-2.0]),
            "value": np.array([shares], dtype=float),
            "roots": np.array([0]),
            "classes": np.array(classes),
        }
    )


def test_the_activity_detector_must_agree_that_it_is_a_fall():
    from wdp.sensing.detector import Detector
    from wdp.sensing.features import WindowSpec

    spec = WindowSpec(rate_hz=RATE)
    mc = course()
    feats = np.zeros(((mc.size - spec.length) // spec.hop + 1, 3))
    fall = _leaf_forest([False, True], [0.1, 0.9])
    says_walking = _leaf_forest(["fall", "walking"], [0.4, 0.6])
    says_fall = _leaf_forest(["fall", "walking"], [0.6, 0.4])
    det = Detector("intel5300", spec, says_walking, fall, RULES)
    assert det.fall_events(feats, mc) == []
    assert len(Detector("intel5300", spec, says_fall, fall, RULES).fall_events(feats, mc)) == 1
    no_rule = Detector("intel5300", spec, says_walking, fall, attrs_evolve(RULES))
    assert len(no_rule.fall_events(feats, mc)) == 1


def attrs_evolve(rules):
    import attrs

    return attrs.evolve(rules, activity_agrees=False)


def test_event_shape_of_a_quick_drop_then_stillness_and_of_two_movements():
    """A fall is one quick burst then stillness; a pick-up two movements (down, up)."""
    fall = falls.event_shape(course(), int(np.argmax(course())), RATE)
    shape = dict(zip(falls.SHAPE_NAMES, fall, strict=True))
    assert shape["rise"] > 10 and shape["post_share"] < 0.05 and shape["side_peaks"] == 0
    assert 0 < shape["rise_s"] < 1.0 and 0 < shape["decay_s"] < 1.0
    two = course()
    two[int(8.5 * RATE) : int(9.0 * RATE)] = 0.9  # standing back up 2 s later
    pk = int(np.argmax(two))
    two_shape = dict(zip(falls.SHAPE_NAMES, falls.event_shape(two, pk, RATE), strict=True))
    assert two_shape["side_peaks"] == 1
    # near the start of a capture the spans before the peak are missing: -1
    early = course(burst_s=(0.5, 1.5))
    assert falls.event_shape(early, int(np.argmax(early)), RATE)[3] == -1.0


def test_event_features_are_the_windows_around_the_peak_side_by_side():
    from wdp.sensing.features import WindowSpec

    spec = WindowSpec(rate_hz=RATE)
    mc = course()
    n = (mc.size - spec.length) // spec.hop + 1
    feats = np.arange(n, dtype=float)[:, None] * np.ones((1, 4))  # window i: all i
    pk = int(np.argmax(mc))
    idx = falls.event_windows(pk, RATE, n, spec.length, spec.hop)
    centres = (idx * spec.hop + spec.length / 2.0 - pk) / RATE
    np.testing.assert_allclose(centres, falls.EVENT_OFFSETS_S, atol=spec.hop_s / 2)
    ev = falls.event_features(feats, mc, pk, spec, np.array([0, 2]))
    k = len(falls.EVENT_OFFSETS_S)
    assert ev.shape == (1, 2 * k + len(falls.SHAPE_NAMES))
    assert list(ev[0, : 2 * k]) == [float(i) for i in idx for _ in range(2)]
    # the last window it needs ends LOOK_AFTER_S after the peak
    assert (idx[-1] * spec.hop + spec.length - pk) / RATE <= falls.LOOK_AFTER_S + spec.hop_s


def test_the_fall_model_leaves_out_features_of_how_much_the_channel_moves():
    from wdp.sensing.features import feature_names, phasor_feature_names, relative_columns

    names = feature_names() + phasor_feature_names()
    kept = [names[i] for i in relative_columns(len(names))]
    assert "motion_shape0" in kept and "band0" in kept and "ph_band0" in kept
    assert not {"motion_mean", "std_p50", "ph_total", "change_mean"} & set(kept)
    assert [feature_names()[i] for i in relative_columns(len(feature_names()))] == [
        n for n in kept if not n.startswith("ph_")
    ]
    assert list(relative_columns(3)) == [0, 1, 2]


def test_training_bursts_are_a_falls_largest_and_every_peak_of_anything_else():
    from pathlib import Path

    from wdp.sensing.features import WindowSpec
    from wdp.sensing.learn import FileData, training_peaks
    from wdp.sensing.manifest import LabelledFile

    spec = WindowSpec(rate_hz=RATE)
    mc = course()
    mc[int(1 * RATE)] = 0.5  # a second, smaller peak
    feats = np.zeros(((mc.size - spec.length) // spec.hop + 1, 3))
    fd = FileData(LabelledFile(Path("x.dat"), "fall"), feats, mc, 15.0)
    assert training_peaks(fd, spec, falls.OPEN_RULES) == [int(np.argmax(mc))]
    other = FileData(LabelledFile(Path("x.dat"), "pick_up"), feats, mc, 15.0)
    assert training_peaks(other, spec, falls.OPEN_RULES) == [int(1 * RATE), int(np.argmax(mc))]
