"""The motion tier: each rule of the window variability, the gate, the detector's states,
calibration files, and the goals measured on the public real captures."""

import attrs
import numpy as np
import pytest

from wdp.sensing import calibration as calib
from wdp.sensing.motion import (
    MotionConfig,
    MotionDetector,
    stream_features,
    window_ends,
    window_features,
)

CFG = MotionConfig()


def _quiet(rate=100.0, seconds=10.0, links=1, subs=64, seed=0, noise=0.02):
    """A quiet room: a fixed multipath profile plus white receiver noise."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    profile = 10.0 + 5.0 * rng.random((links, subs))
    amp = profile * (1.0 + noise * rng.standard_normal((n, links, subs)))
    return t, amp


def _moving(t, amp, depth=0.15, seed=1):
    """A person walking: slow (0.5-3 Hz) amplitude changes, different per subcarrier."""
    rng = np.random.default_rng(seed)
    freq = 0.5 + 2.5 * rng.random(amp.shape[1:])
    phase = 6.283 * rng.random(amp.shape[1:])
    return amp * (1.0 + depth * np.sin(6.283 * freq * t[:, None, None] + phase))


def _variability(t, amp, cfg=CFG):
    return np.array([f.variability for f in stream_features(t, amp, cfg)])


def _calibrated(t, amp, cfg=CFG):
    return calib.from_variabilities(_variability(t, amp, cfg), cfg, source="synthetic")


def test_motion_scores_far_above_quiet():
    t, amp = _quiet()
    cal = _calibrated(*_quiet(seed=5))
    det = MotionDetector(cal)
    quiet = [det.decide(f) for f in stream_features(t, amp, CFG)]
    assert not any(s.motion for s in quiet)
    assert all(0.5 < s.score < 2.0 for s in quiet)
    det = MotionDetector(cal)
    moving = [det.decide(f) for f in stream_features(t, _moving(t, amp), CFG)]
    assert all(s.motion and s.state == "moving" for s in moving)


def test_gain_steps_are_not_motion():
    """AGC steps scale every subcarrier of a packet alike: divided out per packet."""
    t, amp = _quiet()
    gain = np.where((np.arange(t.shape[0]) // 37) % 2 == 0, 1.0, 1.3)
    stepped = amp * gain[:, None, None]
    assert _variability(t, stepped).max() < 1.5 * np.median(_variability(t, amp))


def test_packets_of_another_transmitter_are_dropped():
    t, amp = _quiet()
    rng = np.random.default_rng(3)
    foreign = amp.copy()
    foreign[200:208] = 15.0 * rng.random((8,) + amp.shape[1:])  # another multipath
    v = _variability(t, foreign)
    assert v.max() < 1.5 * np.median(_variability(t, amp))
    f = window_features(t[100 : 200 + 100], foreign[100 : 200 + 100], 3.0, CFG)
    assert f.rejected >= 8
    off = attrs.evolve(CFG, outlier_factor=1e9)
    assert _variability(t, foreign, off).max() > 3 * np.median(v)


def test_null_subcarriers_are_left_out():
    """Guard bins hold only noise (Rayleigh, CV ~0.5): they must not count."""
    t, amp = _quiet()
    rng = np.random.default_rng(4)
    amp[:, :, 40:] = 0.05 * np.abs(rng.standard_normal((t.shape[0], 1, 24)))
    f = window_features(t[:100], amp[:100], 1.0, CFG)
    assert f.subcarriers == 40
    assert f.variability < 0.02
    off = attrs.evolve(CFG, subcarrier_floor=0.0)
    assert window_features(t[:100], amp[:100], 1.0, off).subcarriers == 64


def test_binning_averages_fast_links_down():
    """At 100 Hz the 10 Hz bins average 10 packets: white noise shrinks by ~sqrt(10)."""
    t, amp = _quiet()
    binned = np.median(_variability(t, amp))
    raw = np.median(_variability(t, amp, attrs.evolve(CFG, bin_s=0.01, min_coverage=0.5)))
    assert 2.0 < raw / binned < 4.5


@pytest.mark.parametrize(
    ("rate", "links", "subs"),
    [(20.0, 3, 30), (49.0, 1, 256), (100.0, 1, 64), (100.0, 9, 30), (1000.0, 1, 64)],
)
def test_gate_accepts_every_supported_link(rate, links, subs):
    t, amp = _quiet(rate=rate, seconds=4.0, links=links, subs=subs)
    feats = stream_features(t, amp, CFG)
    assert feats and all(f.ok for f in feats), [f.reason for f in feats]
    assert feats[-1].links == links


def _reason(t, amp):
    f = window_features(t, amp, 1.0, CFG)
    assert not f.ok and np.isnan(f.variability)
    assert "\n" not in f.reason
    return f.reason


def test_gate_refuses_with_one_line_reasons():
    t, amp = _quiet(rate=100.0, seconds=1.0)
    assert "too few packets" in _reason(t[::20], amp[::20])  # 5 Hz
    assert "all NaN or zero" in _reason(t, np.full_like(amp, np.nan))
    assert "all NaN or zero" in _reason(t, np.zeros_like(amp))
    gap = (t < 0.2) | (t > 0.8)
    assert "cover" in _reason(t[gap], amp[gap])
    assert "backwards" in _reason(t[::-1].copy(), amp)
    assert "subcarriers" in _reason(t, amp[:, :, :3])


def test_hysteresis_keeps_moving_until_release():
    cal = calib.Calibration(0.01, 0.012, 0.013, 10, 1.0, 0.5, 0.1, 1)
    det = MotionDetector(cal)
    from wdp.sensing.motion import WindowFeatures

    states = [
        det.decide(WindowFeatures(i * 0.5, v)) for i, v in enumerate([0.01, 0.03, 0.0235, 0.022])
    ]
    assert [s.motion for s in states] == [False, True, True, False]  # release at 0.0225
    det = MotionDetector(cal, attrs.evolve(CFG, release=1.0))
    states = [det.decide(WindowFeatures(i * 0.5, v)) for i, v in enumerate([0.01, 0.03, 0.0235])]
    assert [s.motion for s in states] == [False, True, False]


def test_presence_holds_after_motion_then_empty():
    from wdp.sensing.motion import WindowFeatures

    cal = calib.Calibration(0.01, 0.012, 0.013, 10, 1.0, 0.5, 0.1, 1)
    det = MotionDetector(cal, attrs.evolve(CFG, presence_hold_s=5.0))
    assert det.decide(WindowFeatures(0.0, 0.01)).state == "empty"
    assert det.decide(WindowFeatures(1.0, 0.05)).state == "moving"
    still = det.decide(WindowFeatures(5.5, 0.01))
    assert still.state == "still" and still.presence and not still.motion
    empty = det.decide(WindowFeatures(6.5, 0.01))
    assert empty.state == "empty" and empty.presence is False


def test_auto_calibration_from_the_first_windows():
    t, amp = _quiet(seconds=20.0)
    cfg = attrs.evolve(CFG, auto_calibration_s=5.0)
    det = MotionDetector(None, cfg)
    states = [det.decide(f) for f in stream_features(t, amp, cfg)]
    assert [s.state for s in states[:10]] == ["calibrating"] * 10
    assert states[0].presence is None and "calibrating" in states[0].reason
    assert det.calibration is not None and det.calibration.windows == 10
    assert all(s.state == "empty" for s in states[10:])


def test_refused_window_is_unavailable_not_a_guess():
    cal = calib.Calibration(0.01, 0.012, 0.013, 10, 1.0, 0.5, 0.1, 1)
    t, amp = _quiet(rate=100.0, seconds=1.0)
    s = MotionDetector(cal).update(t, np.full_like(amp, np.nan), 1.0)
    assert s.state == "unavailable" and s.presence is None and not s.motion and s.reason


def test_adaptation_tracks_slowly_and_is_bounded():
    cal = calib.Calibration(0.01, 0.012, 0.013, 10, 1.0, 0.5, 0.1, 1)
    up = calib.adapted(cal, 0.02, 0.01, cal, 2.0)
    assert up.quiet_median == pytest.approx(0.0101)
    assert up.quiet_p95 / up.quiet_median == pytest.approx(1.2)
    for _ in range(1000):
        up = calib.adapted(up, 1.0, 0.01, cal, 2.0)
    assert up.quiet_median == pytest.approx(0.02)
    from wdp.sensing.motion import WindowFeatures

    det = MotionDetector(cal, attrs.evolve(CFG, adapt_after_s=0.0))
    det.decide(WindowFeatures(0.0, 0.015))
    assert det.calibration.quiet_median > 0.01
    det = MotionDetector(cal, attrs.evolve(CFG, adapt_after_s=0.0))
    det.decide(WindowFeatures(0.0, 0.05))  # motion never teaches the quiet level
    assert det.calibration.quiet_median == 0.01


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_calibration_file_round_trip(tmp_path, suffix):
    cal = _calibrated(*_quiet())
    path = tmp_path / f"c{suffix}"
    calib.save(cal, path)
    assert calib.load(path) == cal
    cal.check(CFG)
    with pytest.raises(calib.CalibrationError, match="windows"):
        cal.check(attrs.evolve(CFG, window_s=2.0))


def test_bad_calibration_file_is_one_line(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text("{}")
    with pytest.raises(calib.CalibrationError, match="not a wdp calibration"):
        calib.load(bad)
    with pytest.raises(calib.CalibrationError, match="usable windows"):
        calib.from_variabilities([np.nan, 0.01], CFG)


def test_same_windows_same_bits():
    t, amp = _quiet()
    amp = _moving(t, amp)
    a, b = _variability(t, amp), _variability(t, amp.copy())
    assert a.tobytes() == b.tobytes()
    ends = [e for e, _, _ in window_ends(t, CFG)]
    assert ends[0] == 1.0 and ends[1] - ends[0] == 0.5


# -- the public real captures ------------------------------------------------------------


@pytest.fixture(scope="module")
def table(real_data):
    from wdp.sensing.motion_eval import evaluate

    rows = evaluate(
        real_data, datasets=("esp32-espectre", "nexmon-fition", "intel5300-har11"), every=10
    )
    return {(r.dataset, r.label): r for r in rows}


def test_real_esp32_goal(table):
    """Quiet vs movement, window-level (issue 14's goal), calibrations that never saw the
    file: F1 99.6 %, 0.6 % false positives on this subset (99.7 % / 0.6 % on all)."""
    s = table[("esp32-espectre", "all")]
    assert s.f1_pct >= 99.0 and s.fp_pct <= 1.0


def test_real_quiet_and_moving_are_told_apart(table):
    """Floors on the still recordings and the continuous activities (leave-one-out)."""
    assert table[("intel5300-har11", "lying")].motion_pct <= 2.0
    assert table[("intel5300-har11", "walking")].motion_pct >= 95.0
    assert table[("nexmon-fition", "no_movement")].motion_pct <= 5.0
    assert table[("nexmon-fition", "all")].segment_motion_pct >= 75.0


def test_real_intel_goal(table):
    """har11, other subjects' calibration: motion in >= 95 % of the moving windows of
    activity files, <= 2 % of the still recordings' windows (96.0 % / 0.9 % here)."""
    s = table[("intel5300-har11", "all")]
    assert s.fp_pct <= 2.0 and s.segment_motion_pct >= 95.0


@pytest.mark.xfail(
    strict=True,
    reason="goal not met on nexmon: 4.0 % of no-movement windows, 86 % of moving windows "
    "(issue 14; the no-movement captures hold motion-like changes)",
)
def test_real_nexmon_goal(table):
    s = table[("nexmon-fition", "all")]
    assert s.fp_pct <= 2.0 and s.segment_motion_pct >= 95.0


def test_moving_windows_annotation():
    """Windows at ACTIVE_FACTOR x the quietest decile (or the person's own quiet level,
    when lower) are moving, and so is a single pause between two of them."""
    from wdp.sensing.motion_eval import ACTIVE_FACTOR, active_windows

    v = np.full(20, 1.0)
    v[5], v[7] = ACTIVE_FACTOR, 3.0  # a pause at 6
    v[12] = 2.0  # below the factor of the file's own decile ...
    got = active_windows(v)
    assert list(np.flatnonzero(got)) == [5, 6, 7]
    # ... but moving against the person's quieter still recordings
    assert got.sum() < active_windows(v, own_quiet=0.5).sum()
    v[9] = np.nan
    assert not active_windows(v)[9]


def test_goal_checks_read_the_summary_rows():
    from wdp.sensing.motion_eval import Row, goal_checks

    def summary(ds, seg=float("nan"), f1=float("nan"), fp=0.0):
        return Row(ds, "all", "summary", 1, 10, 0, 50.0, 5, seg, float("nan"), f1, fp)

    got = goal_checks(
        [
            summary("esp32-espectre", f1=99.1, fp=1.0),
            summary("nexmon-fition", seg=96.0, fp=2.1),
            summary("intel5300-har11", seg=95.0, fp=2.0),
            summary("intel5300-wiar", seg=10.0),
            Row("esp32-espectre", "quiet", "quiet", 1, 10, 0, 90.0),
        ]
    )
    assert [(g.split(":")[0], ok) for g, ok, _ in got] == [
        ("esp32-espectre", True),
        ("nexmon-fition", False),
        ("intel5300-har11", True),
    ]


def test_a_prior_judges_until_the_room_is_calibrated_on_its_quiet_windows():
    from wdp.sensing.motion import WindowFeatures

    cfg = attrs.evolve(CFG, auto_calibration_s=2.0)  # 4 windows
    prior = calib.Calibration(0.01, 0.012, 0.013, 10, 1.0, 0.5, 0.1, 1, "prior")
    det = MotionDetector(None, cfg, prior=prior)
    values = [0.02, 0.05, 0.021, 0.019, 0.018, 0.02]  # 0.05: motion, not collected
    states = [det.decide(WindowFeatures(i * 0.5, v)) for i, v in enumerate(values)]
    assert [s.state for s in states[:2]] == ["empty", "moving"]  # judged from the start
    assert det.calibration is not None and det.calibration.windows == 4
    assert det.calibration.quiet_median == pytest.approx(0.0195)  # the room's own
    assert states[-1].score == pytest.approx(0.02 / 0.0195)
    assert MotionDetector(None, cfg).decide(WindowFeatures(0.0, 0.02)).state == "calibrating"


def test_shipped_priors_per_profile_and_rate():
    esp32 = calib.prior("esp32", 100.0)
    assert esp32 is not None and esp32.hw_format == "esp32" and "shipped" in esp32.source
    assert esp32.check(CFG) is None
    assert calib.prior("esp32", 1000.0) is None  # 10 x the rate: other binned noise
    assert calib.prior("intel5300", 20.0) is not None and calib.prior("nexmon", 49.0)
    assert calib.prior("atheros", 100.0) is None


def test_a_link_noisier_than_its_prior_still_learns_its_room():
    from wdp.sensing.motion import WindowFeatures

    cfg = attrs.evolve(CFG, auto_calibration_s=2.0)  # 4 windows
    prior = calib.Calibration(0.001, 0.0012, 0.0013, 10, 1.0, 0.5, 0.1, 1, "prior")
    det = MotionDetector(None, cfg, prior=prior)
    states = [det.decide(WindowFeatures(i * 0.5, 0.01 + 0.001 * (i % 2))) for i in range(9)]
    assert all(s.motion for s in states[:8])  # 10x the prior: "moving"
    assert det.calibration is not None and det.calibration.windows == 8
    assert not states[8].motion  # judged against its own level from then on
