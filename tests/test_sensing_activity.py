"""Window features, packet cleaning, active windows and the exported forest of the
activity detector (wdp.sensing)."""

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier

from wdp.sensing.detector import Detector, active_windows
from wdp.sensing.features import (
    SEGMENTS,
    WindowSpec,
    clean_packets,
    feature_names,
    phasor_feature_names,
    phasor_features,
    window_features,
)
from wdp.sensing.forest import Forest

RATE = 20.0


def _window(burst_at_s: float | None, seed: int = 0, length: int = 80, cols: int = 30):
    """A still window of relative noise with (optionally) a 1 s burst of motion."""
    rng = np.random.default_rng(seed)
    base = 10.0 + rng.random(cols) * 5
    x = base * (1.0 + 0.001 * rng.standard_normal((length, cols)))
    if burst_at_s is not None:
        a = int(burst_at_s * RATE)
        x[a : a + int(RATE)] *= 1.0 + 0.2 * rng.standard_normal((int(RATE), cols))
    return x


def _named(f):
    return dict(zip(feature_names(), f, strict=True))


def test_feature_vector_matches_its_names_and_is_finite():
    f = window_features(_window(1.0)[None], RATE)
    assert f.shape == (1, len(feature_names()))
    assert np.isfinite(f).all()


def test_features_do_not_depend_on_the_receivers_gain():
    """Relative amplitude: a capture at three times the gain gives the same features."""
    win = _window(1.5)
    a = window_features(win[None], RATE)
    b = window_features(3.0 * win[None], RATE)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_motion_course_says_where_the_burst_is():
    early = _named(window_features(_window(0.2)[None], RATE)[0])
    late = _named(window_features(_window(2.8)[None], RATE)[0])
    assert early["motion_peak_pos"] < 0.3 < 0.6 < late["motion_peak_pos"]
    # a burst then stillness: most of the motion is in the first half
    assert early["before_after_motion"] > 0.8
    assert late["before_after_motion"] < 0.2


def test_a_burst_moves_more_than_stillness():
    still = _named(window_features(_window(None)[None], RATE)[0])
    burst = _named(window_features(_window(1.0)[None], RATE)[0])
    assert burst["motion_mean"] > 10 * still["motion_mean"]
    assert burst["std_p50"] > 10 * still["std_p50"]
    assert len([k for k in feature_names() if k.startswith("motion_seg")]) == SEGMENTS


def test_clean_packets_replaces_a_lone_outlier_packet():
    amp = np.ones((10, 1, 4), dtype=np.float32)
    amp[5] = 50.0  # a frame of another link
    out = clean_packets(amp)
    assert np.all(out[5] == 1.0)
    step = np.ones((10, 1, 4), dtype=np.float32)
    step[5:] = 2.0  # a real change lasts: it stays
    assert np.all(clean_packets(step)[6:] == 2.0)


def test_phasor_features_see_a_rotating_chain_pair_and_not_a_still_one():
    t = np.arange(80)[:, None] / RATE
    still = np.ones((80, 10), dtype=complex)
    turning = np.ones((80, 10), dtype=complex)
    k = slice(20, 40)
    turning[k] = (np.cos(2 * np.pi * 3 * t[k]) + 1j * np.sin(2 * np.pi * 3 * t[k])) * np.ones(10)
    f = phasor_features(np.stack([still, turning]), RATE)
    assert f.shape == (2, len(phasor_feature_names()))
    assert f[0, :SEGMENTS].max() == 0.0
    assert f[1, :SEGMENTS].max() > 0.1


def test_active_windows_are_where_the_motion_is():
    spec = WindowSpec(rate_hz=RATE, window_s=2.0, hop_s=0.5)
    mc = np.full(300, 0.01)
    mc[150:170] = 1.0
    n = (300 - spec.length) // spec.hop + 1
    idx = active_windows(mc, spec, n)
    centres = idx * spec.hop + spec.length // 2
    assert idx.size and np.all((centres >= 150) & (centres < 170))


def test_exported_forest_gives_exactly_sklearns_predictions():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 12))
    y = np.array(["a", "b", "c"])[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.8)]
    w = rng.random(400) + 0.5
    model = ExtraTreesClassifier(
        n_estimators=30, max_leaf_nodes=40, min_samples_leaf=2, random_state=0
    ).fit(x, y, sample_weight=w)
    forest = Forest.from_model(model)
    test = rng.normal(size=(500, 12)) * 1.7
    assert np.array_equal(forest.predict_proba(test), model.predict_proba(test))
    assert np.array_equal(forest.predict(test), model.predict(test))
    # and after a round trip through the .npz arrays
    again = Forest.from_npz(forest.arrays("p_"), "p_")
    assert np.array_equal(again.predict_proba(test), model.predict_proba(test))


@pytest.mark.parametrize("profile", ["intel5300", "nexmon"])
def test_shipped_detectors_load_and_save_back_the_same(profile, tmp_path):
    det = Detector.shipped(profile)
    assert "fall" in det.classes
    assert det.training.get("command", "").startswith("wdp train --labels")
    det.save(tmp_path / "d.npz")
    again = Detector.load(tmp_path / "d.npz")
    x = np.random.default_rng(0).normal(size=(20, det.activity.feature.max() + 1))
    assert np.array_equal(det.activity.predict_proba(x), again.activity.predict_proba(x))
    assert again.rules == det.rules
