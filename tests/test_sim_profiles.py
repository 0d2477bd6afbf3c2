"""Hardware profiles: simulated channels become the real formats' datagrams and the real
live parsers turn them back into frames; plus the ESP32 row encoder's round trip."""

import math

import attrs
import numpy as np
import pytest

from wdp.capture.formats import esp32, intel5300
from wdp.sim.impairments import ImpairmentConfig, Radio
from wdp.sim.profiles import PROFILES, get_profile
from wdp.sim.room import Reflector, Room

ROOM = Room(5.0, 4.0, 2.8, furniture=[Reflector([1.0, 3.5, 0.7], 1.0)])
TX, RX = [0.3, 1.5, 1.2], [4.6, 2.6, 1.0]


# --------------------------------------------------------------------------- esp32 rows


def _buffer(rng, n=64):
    return rng.integers(-128, 128, n) + 1j * rng.integers(-128, 128, n)


def test_esp32_encode_row_round_trips_through_parse_row():
    rng = np.random.default_rng(0)
    buf = _buffer(rng)
    line = esp32.encode_row(buf, rssi=-61, noise_floor=-93, channel=11, local_timestamp=123456)
    assert line.startswith(b"CSI_DATA,PASSIVE,aa:bb:cc:dd:ee:ff,-61,")
    row = esp32.parse_row(line, esp32.parse_header(esp32.TOOL_HEADER))
    assert row.csi.shape == (1, 1, 64)
    np.testing.assert_array_equal(row.subcarriers, np.arange(-32, 32))
    # buffer order 0..31, -32..-1 -> ascending
    np.testing.assert_array_equal(row.csi[0, 0], np.concatenate([buf[32:], buf[:32]]))
    assert (row.rssi, row.noise_floor, row.center_freq_mhz) == (-61, -93, 2462.0)
    assert row.local_timestamp == 123456
    # without the header the columns are found by position, with the same result
    assert np.array_equal(esp32.parse_row(line).csi, row.csi)


def test_esp32_encoded_file_reads_back_with_read_file_and_the_parser(tmp_path):
    rng = np.random.default_rng(1)
    bufs = [_buffer(rng) for _ in range(5)]
    lines = [esp32.encode_row(b, local_timestamp=1000 * i) for i, b in enumerate(bufs)]
    path = tmp_path / "sim.csv"
    path.write_bytes(b"\n".join([esp32.TOOL_HEADER, *lines]) + b"\n")
    imp = esp32.read_file(path, router_id="esp", environment_id="lab")
    assert imp.batch.csi.shape == (5, 1, 1, 64) and imp.skipped == 0
    for i, b in enumerate(bufs):
        np.testing.assert_array_equal(imp.batch.csi[i, 0, 0], np.concatenate([b[32:], b[:32]]))
    np.testing.assert_array_equal(imp.batch.timestamp_ns, np.arange(5) * 1_000_000)
    parser = esp32.Parser("esp", "lab")
    frames = [f for line in lines for f in parser.feed(line, 7)]
    assert len(frames) == 5
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(f.csi, imp.batch.csi[i])


def test_esp32_encode_row_refuses_what_the_hardware_cannot_send():
    with pytest.raises(ValueError, match="must be integers"):
        esp32.encode_row(np.full(64, 0.5))
    with pytest.raises(ValueError, match="must fit int8"):
        esp32.encode_row(np.full(64, 128.0))
    with pytest.raises(ValueError, match="63 subcarriers fit no ESP-IDF layout"):
        esp32.encode_row(np.zeros(63))
    with pytest.raises(ValueError, match="not a MAC address"):
        esp32.encode_row(np.zeros(64), mac="nope")
    with pytest.raises(ValueError, match="role must be a plain word"):
        esp32.encode_row(np.zeros(64), role="A,B")


# --------------------------------------------------------------------------- profiles


def frames_of(profile, csi, reference_power=None, t0_ns=0, period_ns=10_000_000):
    """Encode packets [N, T, R, S] and parse them with the real live parser."""
    parser = profile.parser("sim", "lab")
    out = []
    for i, h in enumerate(csi):
        ts = t0_ns + i * period_ns
        for dg in profile.encode(h, timestamp_ns=ts, sequence=i, reference_power=reference_power):
            out += parser.feed(dg, ts)
    out += parser.flush()
    assert parser.stats.skipped_total == 0
    return out


def impaired(profile, n=20, seed=0):
    ch = profile.make_channel(ROOM, TX, RX)
    radio = Radio(
        profile.impairments(), np.random.default_rng(seed), profile.n_tx, profile.n_rx,
        reference_power=ch.static_power,
    )  # fmt: skip
    h = np.broadcast_to(ch.static, (n,) + ch.static.shape)
    return ch, radio.apply(h, profile.subcarriers, profile.spacing_hz).csi


EXPECT = {
    # name: (shape, centre MHz (the Intel record carries none), bandwidth, relative error)
    "intel5300": ((3, 3, 30), math.nan, 40.0, 0.08),
    "esp32": ((1, 1, 64), 2437.0, 20.0, 0.04),
    "nexmon": ((1, 1, 256), 5210.0, 80.0, 2e-3),
}


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_frames_come_back_through_the_real_parser(name):
    profile = get_profile(name)
    ch, csi = impaired(profile)
    frames = frames_of(profile, csi, reference_power=ch.static_power)
    shape, centre, bandwidth, tol = EXPECT[name]
    assert len(frames) == csi.shape[0]
    for i, f in enumerate(frames):
        assert f.hw_format == name and f.shape == shape
        np.testing.assert_array_equal(f.subcarriers, profile.subcarriers)
        assert f.bandwidth_mhz == bandwidth
        assert f.center_freq_mhz == centre or (math.isnan(centre) and math.isnan(f.center_freq_mhz))
        assert f.sequence == i
        # The frame is the channel times one real positive number, up to quantisation.
        x = csi[i][..., profile.occupied]
        y = f.csi[..., profile.occupied].astype(np.complex128)
        s = np.vdot(x, y) / np.vdot(x, x)
        assert s.real > 0 and abs(np.angle(s)) < 0.01
        err = np.linalg.norm(y - s * x) / np.linalg.norm(y)
        assert 0 < err < tol  # quantised, and by no more than the hardware's integers allow
    assert all(np.all(np.isfinite(f.rssi_dbm)) for f in frames)


def test_intel_header_and_raw_level_are_like_the_hardware():
    profile = get_profile("intel5300")
    ch, csi = impaired(profile, n=5)
    rssi = profile.rssi_dbm(csi[0])
    dg = profile.encode(csi[0], timestamp_ns=5_000_000, sequence=9)[0]
    assert dg[0] == intel5300.CODE_BFEE and dg[9:11] == bytes([3, 3])  # Nrx, Ntx
    agc = dg[15]
    assert agc == round(-8 - rssi.max())
    frame = profile.parser("sim", "lab").feed(dg, 0)[0]
    np.testing.assert_allclose(frame.rssi_dbm, rssi, atol=0.5 + 1e-6)  # whole-dB bytes
    assert -80 < rssi.max() < -55  # the profile's power lands where real captures sit
    assert frame.timestamp_ns == 5_000_000 and frame.sequence == 9
    assert math.isnan(frame.noise_floor_dbm)  # the tool's -127: not measured


@pytest.mark.parametrize("tx_power_dbm, expected", [(-40.0, 2.0), (-10.0, 1.0)])
def test_intel_scaled_csi_follows_the_power_only_of_weak_packets(tx_power_dbm, expected):
    """The reader's get_scaled_csi rescales the per-packet-normalised raw CSI by the RSSI,
    but charges the 8-bit quantisation error against it: where thermal noise dominates
    that correction (weak packets, RSSI near -90 dBm) a 6 dB stronger packet reads 2x
    larger; strong packets (-60 dBm) saturate at raw / sqrt(Nrx Ntx), as on the real tool."""
    profile = attrs.evolve(get_profile("intel5300"), tx_power_dbm=tx_power_dbm)
    ch, csi = impaired(profile, n=1)
    loud = csi[0] * 10 ** (6 / 20)
    frames = frames_of(profile, np.stack([csi[0], loud]))
    ratio = np.linalg.norm(frames[1].csi) / np.linalg.norm(frames[0].csi)
    assert ratio == pytest.approx(expected, rel=0.15)  # RSSI bytes are whole dB


def test_esp32_guards_are_zero_and_dc_carries_only_noise():
    profile = get_profile("esp32")
    ch, csi = impaired(profile, n=10)
    frames = frames_of(profile, csi, reference_power=ch.static_power)
    k = profile.subcarriers
    for f in frames:
        a = np.abs(f.csi[0, 0])
        assert np.all(a[np.abs(k) >= 27] == 0)
        assert a[k == 0][0] < 0.2 * np.median(a[profile.occupied])
        assert np.all(f.csi.real == np.round(f.csi.real))  # int8 values as sent
    assert np.all(ch.static[..., k == 0] == 0)


def test_nexmon_sends_one_datagram_per_chain_in_fft_order():
    profile = attrs.evolve(get_profile("nexmon"), n_tx=1, n_rx=2)
    ch, csi = impaired(profile, n=3)
    datagrams = profile.encode(csi[0], timestamp_ns=0, sequence=0, reference_power=1e-6)
    assert len(datagrams) == 2 and all(len(d) == 18 + 4 * 256 for d in datagrams)
    frames = frames_of(profile, csi, reference_power=ch.static_power)
    assert len(frames) == 3 and frames[0].shape == (1, 2, 256)
    # bin 0 of the datagram body is subcarrier 0 (FFT order), not -128
    body = np.frombuffer(datagrams[0][18:], "<i2").reshape(256, 2)
    scale = np.abs(frames[0].csi[0, 0]).max() / np.abs(csi[0, 0, 0]).max()
    assert body[0, 0] == pytest.approx(csi[0, 0, 0, 128].real * scale, abs=50)


def test_profiles_know_their_radio():
    p = get_profile("intel5300")
    assert (p.n_tx, p.n_rx, p.n_sub) == (3, 3, 30)
    np.testing.assert_allclose(p.frequencies_hz[[0, -1]], 5190e6 + np.array([-58, 58]) * 312.5e3)
    assert p.wavelength == pytest.approx(0.05776, rel=1e-3)
    assert get_profile("esp32").occupied.sum() == 52
    assert get_profile("nexmon").occupied.sum() == 242
    assert p.impairments(snr_db=None).snr_db is None
    assert isinstance(p.impairments(), ImpairmentConfig)
    with pytest.raises(ValueError, match="unknown hardware profile 'ath9k'"):
        get_profile("ath9k")
    with pytest.raises(ValueError, match=r"csi must be \[3, 3, 30\]"):
        p.encode(np.zeros((1, 3, 30)), timestamp_ns=0, sequence=0)


@pytest.mark.parametrize("name", list(PROFILES))
def test_same_seed_same_bytes(name):
    """Channel, impairments and encoding together: a seed fixes every byte."""
    profile = get_profile(name)

    def run(seed):
        ch = profile.make_channel(ROOM, TX, RX)
        rng = np.random.default_rng(7)
        pos = rng.uniform([1.0, 1.0, 0.0], [4.0, 3.0, 1.8], (6, 11, 3))
        sig = rng.uniform(0.0, 0.1, (6, 11))
        radio = Radio(
            profile.impairments(), np.random.default_rng(seed), profile.n_tx, profile.n_rx,
            reference_power=ch.static_power,
        )  # fmt: skip
        csi = radio.apply(ch.response(pos, sig), profile.subcarriers, profile.spacing_hz).csi
        return [
            dg
            for i in range(csi.shape[0])
            for dg in profile.encode(
                csi[i], timestamp_ns=i, sequence=i, reference_power=ch.static_power
            )
        ]

    assert run(1) == run(1)
    assert run(1) != run(2)
