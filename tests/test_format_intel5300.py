"""Intel 5300 CSI Tool logs and datagrams: the real captures, csiread, the tool's formulas."""

import math

import csiread
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdp.capture.formats import intel5300
from wdp.capture.formats.base import CaptureFileError

INJECT = "intel5300_inject_3x1_1khz.dat"
LOG = "intel5300_log.all_csi.6.7.6.dat"
OTHERS = [
    "atheros_ar93xx_3x2_56sc.dat",
    "esp32_csitool_passive_ch8.csv",
    "nexmon_bcm43455c0_rpi_80mhz.pcap",
]


def read(path):
    return intel5300.read_file(path, router_id="r1", environment_id="lab")


@pytest.fixture(scope="module")
def inject(samples):
    return read(samples / INJECT)


@pytest.fixture(scope="module")
def log(samples):
    return read(samples / LOG)


def scaled_csi_reference(raw, *, rssi, noise, agc, perm):
    """get_scaled_csi.m + get_total_rss.m + read_bf_file.m's permutation, scalar by scalar.

    ``raw`` is complex [30, Nrx, Ntx] in chain order; returns [Ntx, Nrx, 30].
    """
    _, nrx, ntx = raw.shape
    csi_pwr = float(np.sum(np.abs(raw) ** 2))
    rssi_mag = sum(10 ** (v / 10) for v in rssi if v != 0)
    rssi_pwr = 10 ** ((10 * math.log10(rssi_mag) - 44 - agc) / 10)
    scale = rssi_pwr / (csi_pwr / 30)
    thermal = 10 ** ((-92 if noise == -127 else noise) / 10)
    out = raw * math.sqrt(scale / (thermal + scale * nrx * ntx))
    out *= {1: 1, 2: math.sqrt(2), 3: math.sqrt(10**0.45)}[ntx]
    permuted = np.zeros_like(out)
    permuted[:, list(perm[:nrx]), :] = out
    return permuted.transpose(2, 1, 0)


def random_csi(rng, nrx, ntx):
    shape = (30, nrx, ntx)
    return rng.integers(-128, 128, shape) + 1j * rng.integers(-128, 128, shape)


# --- the real captures --------------------------------------------------------------


def test_injection_capture_imports_with_its_counts_shape_and_timing(inject):
    batch = inject.batch
    assert inject.format == "intel5300"
    assert (inject.frames, inject.records, inject.skipped, inject.problems) == (2998, 5996, 0, [])
    assert np.all(batch.shape == [1, 3, 30])
    assert batch.csi.shape == (2998, 1, 3, 30)
    steps = np.diff(batch.timestamp_ns)
    assert np.all(steps >= 0)
    assert np.median(steps) == 1_000_000  # 1.000 ms
    assert np.array_equal(batch.sequence, np.arange(1, 2999))
    assert np.all(batch.subcarriers == intel5300.SUBCARRIERS_20)
    assert np.all(batch.bandwidth_mhz == 20) and np.all(np.isnan(batch.center_freq_mhz))
    assert np.all(np.isnan(batch.noise_floor_dbm))  # the card reported -127: unknown
    assert np.all(batch.host_time_ns == 0)
    assert batch.hw_format == "intel5300" and batch.router_id == "r1"


def test_rssi_is_per_chain_dbm(samples, inject):
    ref = csiread.Intel(str(samples / INJECT), if_report=False)
    ref.read()
    expected = np.stack([ref.rssi_a, ref.rssi_b, ref.rssi_c], axis=1) - 44 - ref.agc[:, None]
    assert np.array_equal(inject.batch.rssi_dbm, expected.astype(np.float32))


def test_log_has_one_to_three_tx_chains_frame_by_frame(samples, log):
    ref = csiread.Intel(str(samples / LOG), ntxnum=3, if_report=False)
    ref.read()
    batch = log.batch
    assert (log.frames, log.skipped) == (29, 0)
    assert batch.csi.shape == (29, 3, 3, 30)
    assert set(batch.shape[:, 0].tolist()) == {1, 2, 3}
    assert np.array_equal(batch.shape[:, 0], ref.Ntx)
    for i, frame in enumerate(batch.frames()):
        assert frame.csi.shape == (ref.Ntx[i], 3, 30)
        assert not batch.csi[i, frame.shape[0] :].any()  # padding stays zero
    assert np.all(np.diff(batch.timestamp_ns) >= 0)
    assert np.array_equal(batch.sequence, np.arange(72, 101))


@pytest.mark.parametrize("name", [INJECT, LOG])
def test_csi_equals_csiread_scaled_csi(samples, name):
    batch = read(samples / name).batch
    ref = csiread.Intel(str(samples / name), ntxnum=3, if_report=False)
    ref.read()
    scaled = ref.get_scaled_csi()  # [N, 30, 3, 3], permutation applied
    assert len(batch) == ref.count
    for i in range(len(batch)):
        t, r, _ = batch.shape[i]
        expected = scaled[i, :, :r, :t].transpose(2, 1, 0)
        got = batch.csi[i, :t, :r]
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6 * np.abs(expected).max())


@pytest.mark.parametrize("name", [INJECT, LOG])
def test_records_fed_as_datagrams_give_the_same_frames(samples, name):
    imported = read(samples / name)
    parser = intel5300.Parser("r1", "lab")
    frames = []
    for i in range(len(imported.raw)):
        frames += parser.feed(imported.raw.record(i), host_time_ns=1_000 + i)
    assert len(frames) == imported.frames
    assert all(
        a.same_as(b, ignore_host_time=True)
        for a, b in zip(frames, imported.batch.frames(), strict=True)
    )
    assert parser.stats.frames == imported.frames
    assert parser.stats.skipped_total == 0


def test_raw_records_are_the_datagrams_of_the_file(samples, inject):
    data = (samples / INJECT).read_bytes()
    raw = inject.raw
    assert len(raw) == 5996
    assert sum(len(raw.record(i)) + 2 for i in range(len(raw))) == len(data)
    rebuilt = b"".join(intel5300.file_record(raw.record(i)) for i in range(len(raw)))
    assert rebuilt == data
    assert {raw.record(i)[0] for i in range(len(raw))} == {0xBB, 0xC1}


def test_sniff(samples):
    for name in (INJECT, LOG):
        assert intel5300.sniff((samples / name).read_bytes()[:4096])
    for name in OTHERS:
        assert not intel5300.sniff((samples / name).read_bytes()[:4096])


# --- damage --------------------------------------------------------------------------

# The injection capture alternates a 0xc1 record (131 bytes with prefix) and a 0xbb one.
PAIR, C1 = 346, 131


def test_truncated_file_imports_the_complete_records(samples, tmp_path):
    data = (samples / INJECT).read_bytes()
    cut = 10 * PAIR + C1 + 100  # inside the 11th report
    path = tmp_path / "cut.dat"
    path.write_bytes(data[:cut])
    imported = read(path)
    assert imported.frames == 10
    assert imported.skipped == 1
    assert imported.problems == [
        f"byte {10 * PAIR + C1}: truncated record (length field says 213 bytes, 98 present); "
        "skipped"
    ]
    assert len(imported.raw) == 21
    first = list(read(samples / INJECT).batch.frames())[:10]
    assert all(a.same_as(b) for a, b in zip(imported.batch.frames(), first, strict=True))


def test_corrupt_length_field_skips_one_report_and_keeps_the_rest(samples, tmp_path):
    data = bytearray((samples / INJECT).read_bytes())
    at = 5 * PAIR + C1  # the 6th report's length field
    data[at : at + 2] = b"\xff\xff"
    path = tmp_path / "bad.dat"
    path.write_bytes(bytes(data))
    imported = read(path)
    assert imported.frames == 2997
    assert imported.skipped == 1
    assert len(imported.problems) == 1
    assert imported.problems[0].startswith(f"byte {at}: corrupt record (length field 65535)")
    whole = list(read(samples / INJECT).batch.frames())
    kept = list(imported.batch.frames())
    assert all(a.same_as(b) for a, b in zip(kept[:5], whole[:5], strict=True))
    assert all(a.same_as(b) for a, b in zip(kept[5:], whole[6:], strict=True))


def test_corrupt_report_body_is_counted_and_kept_raw(samples, tmp_path):
    data = bytearray((samples / INJECT).read_bytes())
    at = 5 * PAIR + C1
    data[at + 2 + 9] = 7  # Nrx = 7
    path = tmp_path / "bad.dat"
    path.write_bytes(bytes(data))
    imported = read(path)
    assert (imported.frames, imported.records, imported.skipped) == (2997, 5996, 1)
    assert imported.problems == [
        f"byte {at}: corrupt 0xbb record (impossible chain counts Nrx=7 Ntx=1); skipped"
    ]
    assert len(imported.raw) == 5996


def test_garbage_before_the_first_record_is_skipped(samples, tmp_path):
    data = (samples / INJECT).read_bytes()
    path = tmp_path / "prefixed.dat"
    path.write_bytes(b"junk!" + data)
    imported = read(path)
    assert imported.frames == 2998
    assert imported.skipped == 1
    assert imported.problems[0].startswith("byte 0: corrupt record")


def test_many_problems_are_capped(samples, tmp_path):
    data = bytearray((samples / INJECT).read_bytes())
    for k in range(40):
        data[k * PAIR + C1 + 2 + 9] = 9
    path = tmp_path / "bad.dat"
    path.write_bytes(bytes(data))
    imported = read(path)
    assert imported.skipped == 40 and imported.frames == 2958
    assert len(imported.problems) == intel5300.MAX_PROBLEM_LINES + 1
    assert imported.problems[-1] == "... and 20 more problems"


def test_unreadable_inputs_raise_one_clear_line(samples, tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.dat"
    noise.write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, np.uint8).tobytes())
    for path in [empty, noise, tmp_path / "missing.dat"] + [samples / n for n in OTHERS]:
        with pytest.raises(CaptureFileError) as err:
            read(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)


# --- synthetic reports against the tool's own formulas --------------------------------


@pytest.mark.parametrize("nrx,ntx", [(1, 1), (2, 2), (3, 1), (3, 2), (3, 3), (2, 3)])
@pytest.mark.parametrize("sel", [0b100100, 0b010010, 0b000110, 0b011000, 0b000001])
def test_bit_layout_scaling_and_permutation_follow_the_tool(nrx, ntx, sel):
    rng = np.random.default_rng(nrx * 10 + ntx + sel)
    raw = random_csi(rng, nrx, ntx)
    rssi, noise, agc = (33, 0, 41), -90, 38
    datagram = intel5300.encode_bfee(
        raw, timestamp_low=99, bfee_count=5, rssi=rssi, noise=noise, agc=agc, antenna_sel=sel
    )
    (frame,) = intel5300.Parser("r1", "lab").feed(datagram, host_time_ns=7)
    perm = [(sel >> 2 * j) & 3 for j in range(3)]
    if sorted(perm[:nrx]) != list(range(nrx)):
        perm = [0, 1, 2]  # not a permutation of the Nrx chains: left as received
    expected = scaled_csi_reference(raw, rssi=rssi, noise=noise, agc=agc, perm=perm)
    np.testing.assert_allclose(frame.csi, expected, rtol=1e-6, atol=1e-6)
    assert frame.shape == (ntx, nrx, 30)
    assert frame.timestamp_ns == 99_000 and frame.sequence == 5 and frame.host_time_ns == 7
    assert frame.noise_floor_dbm == -90
    expected_rssi = [v - 44 - agc if v else math.nan for v in rssi][:nrx]
    np.testing.assert_array_equal(frame.rssi_dbm, np.array(expected_rssi, np.float32))


def test_ht40_reports_use_the_40_mhz_grouping():
    raw = random_csi(np.random.default_rng(1), 3, 1)
    (frame,) = intel5300.Parser("r", "e").feed(intel5300.encode_bfee(raw, rate=0x901), 0)
    assert frame.bandwidth_mhz == 40
    assert frame.subcarriers.tolist() == [*range(-58, -1, 4), *range(2, 59, 4)]
    (frame,) = intel5300.Parser("r", "e").feed(intel5300.encode_bfee(raw, rate=0x101), 0)
    assert frame.bandwidth_mhz == 20
    assert frame.subcarriers.tolist() == [*range(-28, -1, 2), -1, *range(1, 28, 2), 28]


def test_all_zero_csi_stays_zero():
    (frame,) = intel5300.Parser("r", "e").feed(intel5300.encode_bfee(np.zeros((30, 3, 2))), 0)
    assert not frame.csi.any() and np.isfinite(frame.csi).all()


def test_counters_unwrap_across_files_worth_of_wraps(tmp_path):
    raw = random_csi(np.random.default_rng(2), 3, 1)
    stamps = [0xFFFF_FF00, 0xFFFF_FFF0, 0x10, 0x200]
    counts = [0xFFFE, 0xFFFF, 0, 1]
    path = tmp_path / "wrap.dat"
    path.write_bytes(
        b"".join(
            intel5300.file_record(intel5300.encode_bfee(raw, timestamp_low=t, bfee_count=c))
            for t, c in zip(stamps, counts, strict=True)
        )
    )
    batch = read(path).batch
    assert batch.timestamp_ns.tolist() == [
        0xFFFF_FF00 * 1000,
        0xFFFF_FFF0 * 1000,
        (1 << 32 | 0x10) * 1000,
        (1 << 32 | 0x200) * 1000,
    ]
    assert batch.sequence.tolist() == [0xFFFE, 0xFFFF, 1 << 16, (1 << 16) + 1]


# --- live datagrams --------------------------------------------------------------------


def test_parser_reasons():
    parser = intel5300.Parser("r", "e")
    good = intel5300.encode_bfee(random_csi(np.random.default_rng(4), 3, 2))
    assert parser.feed(b"", 0) == []
    assert parser.feed(b"\xc1" + bytes(40), 0) == []  # an MPDU record: no CSI, no error
    assert parser.feed(b"\x42hello", 0) == []
    assert parser.feed(good[:100], 0) == []
    assert parser.feed(good + b"\0", 0) == []
    assert len(parser.feed(good, 0)) == 1
    assert parser.stats.packets == 6 and parser.stats.frames == 1
    assert dict(parser.stats.skipped) == {"short": 2, "foreign": 1, "corrupt": 1}


@pytest.fixture(scope="module")
def real_records(samples):
    raw = read(samples / LOG).raw
    return [raw.record(i) for i in range(len(raw))]


def _check_feed(datagram):
    parser = intel5300.Parser("r", "e")
    frames = parser.feed(datagram, 0)
    stats = parser.stats
    assert stats.packets == 1
    assert stats.frames == len(frames)
    # anything that is not a frame is counted as skipped, except an MPDU record
    assert len(frames) + stats.skipped_total == 1 or datagram[:1] == b"\xc1"
    for frame in frames:
        assert np.isfinite(frame.csi).all()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=700))
def test_fuzz_random_datagrams_never_raise(datagram):
    _check_feed(datagram)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_real_records_never_raise(real_records, data):
    record = bytearray(data.draw(st.sampled_from(real_records)))
    op = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if op == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(record) - 1))
            record[i] ^= data.draw(st.integers(1, 255))
    elif op == "truncate":
        record = record[: data.draw(st.integers(0, len(record) - 1))]
    else:
        record += data.draw(st.binary(min_size=1, max_size=64))
    _check_feed(bytes(record))
