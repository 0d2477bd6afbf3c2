"""Features: finite whatever the input, and flagged when the input is bad."""

import attrs
import numpy as np
import pytest

from wdp.capture.formats import read_capture
from wdp.capture.frame import CsiFrame, FrameBatch
from wdp.inference import features as F
from wdp.inference.features import FeatureSpec, extract, window_ends
from wdp.sim.profiles import PROFILES, get_profile

SPEC = FeatureSpec.for_profile("intel5300")
PERIOD = 10_000_000  # 100 Hz in ns


def frames(n=120, *, seed=0, t0=0, period=PERIOD, n_tx=3, n_rx=3, sub=None, profile="intel5300"):
    rng = np.random.default_rng(seed)
    sub = get_profile(profile).subcarriers if sub is None else np.asarray(sub)
    base = rng.standard_normal((n_tx, n_rx, len(sub))) + 1j * rng.standard_normal(
        (n_tx, n_rx, len(sub))
    )
    out = []
    for i in range(n):
        csi = base * (1 + 0.05 * rng.standard_normal()) + 0.05 * rng.standard_normal(base.shape)
        out.append(
            CsiFrame(
                timestamp_ns=t0 + i * period,
                host_time_ns=0,
                router_id="r1",
                environment_id="e",
                sequence=i,
                csi=csi,
                subcarriers=sub,
                rssi_dbm=np.full(n_rx, -50.0),
                noise_floor_dbm=np.nan,
                center_freq_mhz=5190.0,
                bandwidth_mhz=40.0,
                hw_format=profile,
            )
        )
    return out


def batch(fs):
    return FrameBatch.from_frames(fs)


def check(feat, spec=SPEC):
    assert feat.x.shape == (len(feat), spec.length)
    assert np.isfinite(feat.x).all()
    assert np.isfinite(feat.quality).all()
    assert ((feat.quality >= 0) & (feat.quality <= 1)).all()


def test_clean_stream_full_quality_and_grid_windows():
    b = batch(frames(120))
    feat = extract([b], SPEC)
    check(feat)
    # windows end on the 100 Hz grid every hop points from the first full window
    assert list(feat.end_ns[:3]) == [49 * PERIOD, 59 * PERIOD, 69 * PERIOD]
    assert np.all(feat.quality == 1.0)
    assert np.all(feat.flags == 0)
    assert np.all(feat.center_ns == feat.end_ns - 25 * PERIOD)


def test_windows_do_not_depend_on_how_the_stream_is_split():
    b = batch(frames(160))
    whole = extract([b], SPEC)
    tail = b.rows(60, 160)
    ends = whole.end_ns[whole.end_ns >= 60 * PERIOD + 49 * PERIOD]
    part = extract([tail], SPEC, ends)
    np.testing.assert_array_equal(part.x, whole.x[-len(ends) :])


def test_nan_inf_frames_are_skipped_and_flagged():
    fs = frames(120)
    bad = batch(fs)
    bad.csi[10:40, 0, 0, 3] = np.nan
    bad.csi[50, 1, 2, 7] = np.inf
    feat = extract([bad], SPEC)
    check(feat)
    assert np.all(feat.flags & F.FLAG_NONFINITE)
    assert feat.quality[0] < 1.0  # the first window has 30 frames missing


def test_all_nan_stream_gives_zero_quality():
    b = batch(frames(80))
    b.csi[:] = np.nan
    feat = extract([b], SPEC)
    check(feat)
    assert np.all(feat.quality == 0)
    assert np.all(feat.flags & F.FLAG_NONFINITE)


def test_all_zero_csi():
    b = batch(frames(80))
    b.csi[:] = 0
    feat = extract([b], SPEC)
    check(feat)
    assert np.all(feat.quality == 0)
    assert np.all(feat.flags & F.FLAG_ZERO)


def test_missing_chains_lower_quality():
    fs = frames(60, n_tx=1, seed=1)
    feat = extract([batch(fs)], SPEC)
    check(feat)
    assert np.all(feat.flags & F.FLAG_CHAINS)
    assert np.allclose(feat.quality, 1 / 3)
    assert np.all(feat.quality < F.LOW_QUALITY)


def test_shape_change_mid_stream():
    fs = frames(100) + frames(100, t0=100 * PERIOD, sub=np.arange(-28, 28), seed=2)
    feat = extract([batch(fs)], SPEC)
    check(feat)
    assert np.all(feat.flags & F.FLAG_SHAPE)
    late = feat.end_ns > 160 * PERIOD
    assert np.all(feat.quality[late] == 0)  # only foreign frames in these windows
    assert np.all(feat.quality[feat.end_ns < 100 * PERIOD] == 1)


def test_gap_in_time_is_flagged():
    fs = frames(100) + frames(100, t0=300 * PERIOD)  # 2 s without frames
    feat = extract([batch(fs)], SPEC)
    check(feat)
    partly = (feat.end_ns > 105 * PERIOD) & (feat.end_ns < 145 * PERIOD)
    in_gap = (feat.end_ns > 155 * PERIOD) & (feat.end_ns < 300 * PERIOD)
    assert in_gap.any() and partly.any()
    assert np.all(feat.quality[in_gap] == 0)
    assert np.all((feat.quality[partly] > 0) & (feat.quality[partly] < 1))
    assert np.all(feat.flags[partly | in_gap] & F.FLAG_STALE)
    assert np.all(feat.quality[feat.end_ns >= 349 * PERIOD] == 1)


def test_stuck_clock_uses_frame_index():
    fs = frames(70, period=0)
    feat = extract([batch(fs)], SPEC)
    check(feat)
    assert len(feat) >= 2
    assert np.all(feat.flags & F.FLAG_NO_CLOCK)


def test_missing_router_and_short_stream():
    spec = attrs.evolve(SPEC, n_routers=2)
    feat = extract([batch(frames(20))], spec)  # shorter than a window: one partial window
    check(feat, spec)
    assert len(feat) == 1
    assert feat.flags[0] & F.FLAG_NO_ROUTER
    assert feat.quality[0] <= 0.5 * 20 / 50 + 1e-9
    assert np.all(feat.x[:, spec.router_length :] == 0)


def test_spec_round_trip_and_length():
    d = SPEC.to_dict()
    assert FeatureSpec.from_dict(d) == SPEC
    d["length"] += 1
    with pytest.raises(ValueError):
        FeatureSpec.from_dict(d)
    assert window_ends([None], SPEC).size == 0


def test_features_on_every_real_capture(samples):
    seen = 0
    for path in sorted(samples.iterdir()):
        if path.suffix not in (".dat", ".csv", ".pcap"):
            continue
        b = read_capture(path, router_id="r1", environment_id="e").batch
        spec = (
            FeatureSpec.for_profile(b.hw_format)
            if b.hw_format in PROFILES
            else FeatureSpec.for_batch(b)
        )
        feat = extract([b], spec)
        assert len(feat) >= 1, path.name
        check(feat, spec)
        seen += 1
    assert seen == 5


def _impaired(rng, clean, sub):
    """``clean`` [M, P, S] with a random common phase, timing offset and gain per packet
    and a constant phase per chain pair, as a radio adds them."""
    m, p, _ = clean.shape
    phase = rng.uniform(0, 2 * np.pi, m)
    delay = rng.uniform(50e-9, 250e-9, m)
    gain = 10 ** (rng.normal(0, 1.0, m) / 20)
    chain = np.exp(1j * rng.uniform(0, 2 * np.pi, p))
    turn = np.exp(1j * (phase[:, None] - 2 * np.pi * 312_500.0 * sub[None, :] * delay[:, None]))
    return clean * chain[None, :, None] * (gain[:, None] * turn)[:, None, :]


def test_sanitized_packets_differ_only_by_what_moves():
    rng = np.random.default_rng(4)
    sub = get_profile("intel5300").subcarriers.astype(np.float64)
    static = rng.standard_normal((9, 30)) + 1j * rng.standard_normal((9, 30)) + 3.0
    clean = np.repeat(static[None], 40, axis=0)
    out = F.sanitize_packets(_impaired(rng, clean, sub), sub)
    # a static channel: every packet the same after the radio's share is removed
    assert np.allclose(out, out[0][None], atol=1e-4)


def _room(rng, sub, t_n):
    """A static channel [t_n, 9, 30] of a direct path and a few reflections (smooth
    over the band, as a room's is) on nine chain pairs 2.9 cm apart."""
    f = 5.19e9 + 312_500.0 * sub
    pos = 0.029 * np.arange(9)[:, None]
    h = np.zeros((9, sub.size), complex)
    for amp, delay, angle in ((1.0, 12e-9, 0.3), (0.4, 25e-9, -0.8), (0.25, 38e-9, 1.2)):
        h += amp * np.exp(-2j * np.pi * f * (delay + pos * np.sin(angle) / 3e8))
    return np.repeat(h[None], t_n, axis=0)


def test_geometry_ignores_the_radio_and_sees_the_mover():
    rng = np.random.default_rng(5)
    sub = get_profile("intel5300").subcarriers.astype(np.float64)
    static = _room(rng, sub, 50)
    t = np.arange(50)[:, None, None]
    # a reflector 30 dB below the direct path whose path grows by 1 cm per packet
    pos = 0.029 * np.arange(9)[None, :, None]
    path = 30e-9 + (pos * np.sin(-0.4) + t * 0.01) / 3e8
    clean = static + 0.03 * np.exp(-2j * np.pi * (5.19e9 + 312_500.0 * sub) * path)
    a = F.geometry(F.sanitize_packets(clean, sub))
    noise = 1e-3 * (rng.standard_normal(static.shape) + 1j * rng.standard_normal(static.shape))
    still = F.geometry(F.sanitize_packets(_impaired(rng, static + noise, sub), sub))
    assert a.shape == (F.geometry_length(9),) and np.isfinite(a).all() and np.isfinite(still).all()
    for _ in range(5):  # whatever the radio draws, nearly the same features
        impaired = _impaired(rng, clean, sub)
        b = F.geometry(F.sanitize_packets(impaired, sub))
        assert np.abs(a - b).max() < 0.2, np.abs(a - b).max()
        # ... which the raw packets do not give
        assert np.abs(a - F.geometry(impaired)).max() > 0.5
    assert a[0] > still[0] + 3  # the moving part's log power: far above an empty room's
