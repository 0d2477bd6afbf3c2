"""Radio impairments (each alone, switched off, seeded) and the reference phase sanitization."""

import numpy as np
import pytest

from wdp.dsp import sanitize_phase, timing_offset_s
from wdp.sim.impairments import ImpairmentConfig, Radio

SUB = np.array([*range(-58, -1, 4), *range(2, 59, 4)])
SPACING = 312.5e3


def channel(n=400, t=3, r=3, seed=1, sub=SUB):
    """A frequency-selective channel that is the same for every packet."""
    rng = np.random.default_rng(seed)
    shape = (t, r, sub.size)
    h = 0.5 * (rng.normal(size=shape) + 1j * rng.normal(size=shape))
    h = h + 3.0  # a strong common path keeps every bin well away from zero
    return np.broadcast_to(h, (n,) + shape).copy()


def only(**kw):
    fields = {
        "common_phase": False,
        "timing_offset_s": None,
        "chain_phase": False,
        "agc_sigma_db": 0.0,
        "snr_db": None,
    }
    fields.update(kw)
    return ImpairmentConfig(**fields)


def test_everything_off_leaves_the_channel_alone():
    h = channel()
    out = Radio(ImpairmentConfig.off(), np.random.default_rng(0), 3, 3).apply(h, SUB, SPACING)
    np.testing.assert_array_equal(out.csi, h)
    assert out.noise_power == 0.0 and not out.gain_db.any()


def test_common_phase_turns_every_bin_of_a_packet_alike():
    h = channel()
    out = Radio(only(common_phase=True), np.random.default_rng(0), 3, 3).apply(h, SUB, SPACING)
    rot = out.csi / h
    np.testing.assert_allclose(np.abs(rot), 1.0, atol=1e-12)
    np.testing.assert_allclose(rot, rot[:, :1, :1, :1] * np.ones_like(rot), atol=1e-12)
    np.testing.assert_allclose(np.angle(rot[:, 0, 0, 0]), np.angle(np.exp(1j * out.common_phase)))
    # uniform over the circle: the mean phasor of 400 packets is near 0
    assert abs(np.mean(np.exp(1j * out.common_phase))) < 0.15


@pytest.mark.parametrize(
    "sub, hi",
    [(SUB, 250e-9), (np.arange(-26, 27), 400e-9)],
    ids=["grouped-ng4", "contiguous"],
)
def test_timing_offset_is_a_slope_that_sanitization_reads_back(sub, hi):
    """Within the grid's unambiguous range: groups 4 bins apart alias at +-400 ns, so the
    grouped grid is tested up to 250 ns (the Intel profile's range), a contiguous one to
    400 ns."""
    h = channel(sub=sub)
    radio = Radio(only(timing_offset_s=(50e-9, hi)), np.random.default_rng(0), 3, 3)
    out = radio.apply(h, sub, SPACING)
    assert out.timing_offset_s.min() >= 50e-9 and out.timing_offset_s.max() <= hi
    _, slope_clean = sanitize_phase(h, sub)
    _, slope = sanitize_phase(out.csi, sub)
    est = timing_offset_s(slope - slope_clean, SPACING)  # the channel's own slope removed
    want = out.timing_offset_s[:, None, None] * np.ones((3, 3))
    np.testing.assert_allclose(est, want, atol=1e-12)


def test_chain_phase_is_fixed_for_the_run():
    h = channel()
    radio = Radio(only(chain_phase=True), np.random.default_rng(0), 3, 3)
    a = radio.apply(h[:10], SUB, SPACING).csi / h[:10]
    b = radio.apply(h[:10], SUB, SPACING).csi / h[:10]
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(np.angle(a[0, :, :, 0]), np.angle(np.exp(1j * radio.chain_phase)))
    assert np.ptp(np.angle(a[0, :, :, 0])) > 0.1  # chains differ


def test_gain_jitter_is_log_normal_with_the_configured_sigma():
    h = channel(n=4000)
    out = Radio(only(agc_sigma_db=1.5), np.random.default_rng(0), 3, 3).apply(h, SUB, SPACING)
    gain_db = 20 * np.log10(np.abs(out.csi[:, 0, 0, 0] / h[:, 0, 0, 0]))
    np.testing.assert_allclose(gain_db, out.gain_db, atol=1e-9)
    assert np.std(gain_db) == pytest.approx(1.5, rel=0.05)
    assert abs(np.mean(gain_db)) < 0.1


@pytest.mark.parametrize("snr_db", [15.0, 35.0])
def test_noise_sits_at_the_configured_snr(snr_db):
    h = channel(n=2000)
    ref = float(np.mean(np.abs(h) ** 2))
    radio = Radio(only(snr_db=snr_db), np.random.default_rng(0), 3, 3, reference_power=ref)
    out = radio.apply(h, SUB, SPACING)
    measured = 10 * np.log10(ref / np.mean(np.abs(out.csi - h) ** 2))
    assert measured == pytest.approx(snr_db, abs=0.1)
    assert out.noise_power == pytest.approx(ref / 10 ** (snr_db / 10))


def test_schedule_jitters_and_loses_packets_in_order():
    radio = Radio(only(timing_jitter_s=2e-4, loss_probability=0.1), np.random.default_rng(0), 1, 1)
    nominal = np.arange(5000) / 1000.0
    first = radio.schedule(nominal[:2500])
    second = radio.schedule(nominal[2500:])
    times = np.concatenate([first.times, second.times])
    index = np.concatenate([first.index, second.index + 2500])
    assert np.all(np.diff(times) >= 0)
    assert 0.08 < 1 - index.size / 5000 < 0.12
    jitter = times - nominal[index]
    assert 1.5e-4 < np.std(jitter) < 2.5e-4
    none = Radio(ImpairmentConfig.off(), np.random.default_rng(0), 1, 1).schedule(nominal)
    np.testing.assert_array_equal(none.times, nominal)
    np.testing.assert_array_equal(none.index, np.arange(5000))


_DRAWS = ("common_phase", "timing_offset_s", "gain_db")


def test_same_seed_same_output_in_any_batching():
    cfg = ImpairmentConfig(timing_jitter_s=1e-4, loss_probability=0.05)
    h = channel(n=300)

    def run(splits):
        radio = Radio(cfg, np.random.default_rng(42), 3, 3, reference_power=10.0)
        parts = [radio.apply(h[a:b], SUB, SPACING) for a, b in splits]
        times = [radio.schedule(np.arange(a, b) / 100.0).times for a, b in splits]
        draws = [np.concatenate([getattr(p, f) for p in parts]) for f in _DRAWS]
        return np.concatenate([p.csi for p in parts]), np.concatenate(times), draws

    whole, t_whole, d_whole = run([(0, 300)])
    again, t_again, _ = run([(0, 300)])
    np.testing.assert_array_equal(whole, again)  # same seed, same batching: bit for bit
    pieces, t_pieces, d_pieces = run([(0, 1), (1, 117), (117, 300)])
    # Every random draw is the same in any batching; numpy's vectorised complex exp
    # may round the last bit differently for a different array length, no more.
    for a, b in zip(d_whole, d_pieces, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(t_whole, t_pieces)
    np.testing.assert_allclose(pieces, whole, rtol=1e-14, atol=1e-14)
    other = Radio(cfg, np.random.default_rng(43), 3, 3, reference_power=10.0)
    assert not np.allclose(other.apply(h, SUB, SPACING).csi, whole)


def test_config_validation():
    with pytest.raises(ValueError, match="agc_sigma_db must be in"):
        ImpairmentConfig(agc_sigma_db=-1)
    with pytest.raises(ValueError, match="snr_db must be in"):
        ImpairmentConfig(snr_db=200)
    with pytest.raises(ValueError, match="loss_probability must be in"):
        ImpairmentConfig(loss_probability=1.0)
    with pytest.raises(ValueError, match="timing offset range"):
        ImpairmentConfig(timing_offset_s=(400e-9, 50e-9))
    with pytest.raises(ValueError, match="reference_power must be positive"):
        Radio(ImpairmentConfig(), np.random.default_rng(0), 1, 1, reference_power=0.0)
    radio = Radio(ImpairmentConfig(), np.random.default_rng(0), 3, 3)
    with pytest.raises(ValueError, match=r"h must be \[N, 3, 3, S\]"):
        radio.apply(np.zeros((2, 1, 3, 30)), SUB, SPACING)
    with pytest.raises(ValueError, match="subcarrier indices"):
        radio.apply(np.zeros((2, 3, 3, 30)), SUB[:10], SPACING)


# --------------------------------------------------------------------------- sanitization


def test_sanitize_removes_a_known_line_over_unsorted_true_indices():
    rng = np.random.default_rng(3)
    k = rng.permutation(SUB)
    residual = 0.3 * np.sin(k / 9.0)  # what the room leaves, not linear
    residual -= np.polyval(np.polyfit(k, residual, 1), k)
    slope = np.array([[-0.4], [0.2]])  # rad per index, steep enough to wrap many times
    phase = slope * k + 1.0 + residual
    csi = 2.0 * np.exp(1j * phase)  # [2, S]
    out, fitted = sanitize_phase(csi, k)
    np.testing.assert_allclose(fitted, slope[:, 0], atol=1e-12)
    np.testing.assert_allclose(out, np.broadcast_to(residual, out.shape), atol=1e-12)
    assert timing_offset_s(-0.4, SPACING) == pytest.approx(0.4 / (2 * np.pi * SPACING))


def test_sanitize_batches_with_per_frame_indices():
    rng = np.random.default_rng(4)
    csi = np.exp(1j * rng.uniform(-np.pi, np.pi, (5, 2, 3, 30)))
    sub = np.tile(SUB, (5, 1))
    out, slope = sanitize_phase(csi, sub)
    ref, ref_slope = sanitize_phase(csi, SUB)
    assert out.shape == csi.shape and slope.shape == (5, 2, 3)
    np.testing.assert_allclose(out, ref)
    np.testing.assert_allclose(slope, ref_slope)
    one, one_slope = sanitize_phase(csi[2], SUB)
    np.testing.assert_allclose(one, ref[2])
    with pytest.raises(ValueError, match="30 subcarriers but 29"):
        sanitize_phase(csi, SUB[:29])
    with pytest.raises(ValueError, match="must not all be equal"):
        sanitize_phase(csi[..., :2], [3, 3])
