"""Atheros CSI Tool logs and datagrams: the real capture, csiread, both byte orders."""

import math

import csiread
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdp.capture.formats import atheros
from wdp.capture.formats.base import CaptureFileError

SAMPLE = "atheros_ar93xx_3x2_56sc.dat"
OTHERS = [
    "intel5300_inject_3x1_1khz.dat",
    "intel5300_log.all_csi.6.7.6.dat",
    "esp32_csitool_passive_ch8.csv",
    "nexmon_bcm43455c0_rpi_80mhz.pcap",
]
REC = 1907  # every record of the sample: 2-byte length + 25 header + 840 CSI + 1040 payload


def read(path):
    return atheros.read_file(path, router_id="ath", environment_id="lab")


@pytest.fixture(scope="module")
def sample(samples):
    return read(samples / SAMPLE)


def swap_to_big_endian(data: bytes) -> bytes:
    """The same log as a big-endian host (the tool on a MIPS router) would write it."""
    out, pos = bytearray(), 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 2], "little")
        rec = bytearray(data[pos + 2 : pos + 2 + length])
        for off, size in ((0, 8), (8, 2), (10, 2), (23, 2)):
            rec[off : off + size] = rec[off : off + size][::-1]
        out += length.to_bytes(2, "big") + rec
        pos += 2 + length
    return bytes(out)


# --- the real capture ---------------------------------------------------------------


def test_sample_imports_with_its_counts_shape_and_timing(sample):
    batch = sample.batch
    assert sample.format == "atheros"
    assert (sample.frames, sample.records, sample.skipped, sample.problems) == (401, 401, 0, [])
    assert np.all(batch.shape == [2, 3, 56]) and batch.csi.shape == (401, 2, 3, 56)
    assert np.all(batch.center_freq_mhz == 2437) and np.all(batch.bandwidth_mhz == 20)
    assert np.all(batch.subcarriers == [*range(-28, 0), *range(1, 29)])
    steps = np.diff(batch.timestamp_ns)
    assert np.all(steps > 0)
    rate = 1e9 / ((batch.timestamp_ns[-1] - batch.timestamp_ns[0]) / 400)
    assert rate == pytest.approx(459, abs=1)
    assert np.array_equal(batch.sequence, np.arange(401))
    assert np.all(np.isnan(batch.noise_floor_dbm))  # the tool leaves it at 0
    assert np.all(batch.host_time_ns == 0)


def test_timestamps_and_rssi_follow_the_header(samples, sample):
    ref = csiread.Atheros(str(samples / SAMPLE), if_report=False)
    ref.read()
    assert np.array_equal(sample.batch.timestamp_ns, ref.timestamp.astype(np.int64) * 1000)
    chains = np.stack([ref.rssi_1, ref.rssi_2, ref.rssi_3], axis=1)
    expected = (chains + atheros.DEFAULT_NOISE_FLOOR_DBM).astype(np.float32)
    assert np.array_equal(sample.batch.rssi_dbm, expected)


def test_csi_equals_csiread_in_the_tools_antenna_order(samples, sample):
    ref = csiread.Atheros(str(samples / SAMPLE), if_report=False)  # nrxnum=3, ntxnum=2
    ref.read()
    assert ref.count == 401
    # csiread stores the k-th number of a tone at [k // nc, k % nc]; the tool's read_csi.c
    # at [k % nr, k // nr]. Same numbers, so undo csiread's nesting and compare exactly.
    stream = ref.csi.reshape(401, 56, 6)
    expected = stream.reshape(401, 56, 2, 3).transpose(0, 2, 3, 1)
    assert np.array_equal(sample.batch.csi, expected.astype(np.complex64))


def test_records_fed_as_datagrams_give_the_same_frames(sample):
    parser = atheros.Parser("ath", "lab")
    frames = []
    for i in range(len(sample.raw)):
        frames += parser.feed(sample.raw.record(i), host_time_ns=i)
    assert len(frames) == 401
    assert all(
        a.same_as(b, ignore_host_time=True)
        for a, b in zip(frames, sample.batch.frames(), strict=True)
    )


def test_raw_records_rebuild_the_file(samples, sample):
    data = (samples / SAMPLE).read_bytes()
    raw = sample.raw
    assert b"".join(atheros.file_record(raw.record(i)) for i in range(len(raw))) == data


def test_big_endian_log_gives_the_same_frames(samples, sample, tmp_path):
    big = swap_to_big_endian((samples / SAMPLE).read_bytes())
    path = tmp_path / "be.dat"
    path.write_bytes(big)
    imported = read(path)
    assert imported.frames == 401
    assert all(
        a.same_as(b) for a, b in zip(imported.batch.frames(), sample.batch.frames(), strict=True)
    )
    ref = csiread.Atheros(str(path), if_report=False)
    ref.read(endian="big")
    assert np.array_equal(imported.batch.timestamp_ns, ref.timestamp.astype(np.int64) * 1000)
    assert atheros.sniff(big[:4096])
    parser = atheros.Parser("ath", "lab")
    frames = []
    for i in range(len(imported.raw)):
        frames += parser.feed(imported.raw.record(i), 0)
    assert all(
        a.same_as(b, ignore_host_time=True)
        for a, b in zip(frames, sample.batch.frames(), strict=True)
    )


def test_sniff(samples):
    assert atheros.sniff((samples / SAMPLE).read_bytes()[:4096])
    for name in OTHERS:
        assert not atheros.sniff((samples / name).read_bytes()[:4096])


# --- damage --------------------------------------------------------------------------


def test_truncated_file_imports_the_complete_records(samples, sample, tmp_path):
    data = (samples / SAMPLE).read_bytes()
    path = tmp_path / "cut.dat"
    path.write_bytes(data[: 10 * REC + 500])
    imported = read(path)
    assert (imported.frames, imported.records, imported.skipped) == (10, 11, 1)
    assert imported.problems == [
        f"byte {10 * REC}: truncated record (length field says 1905 bytes, 498 present); skipped"
    ]
    first = list(sample.batch.frames())[:10]
    assert all(a.same_as(b) for a, b in zip(imported.batch.frames(), first, strict=True))


def test_corrupt_length_field_skips_one_record_and_keeps_the_rest(samples, sample, tmp_path):
    data = bytearray((samples / SAMPLE).read_bytes())
    data[5 * REC : 5 * REC + 2] = b"\xff\x7f"
    path = tmp_path / "bad.dat"
    path.write_bytes(bytes(data))
    imported = read(path)
    assert (imported.frames, imported.skipped) == (400, 1)
    assert imported.problems == [
        f"byte {5 * REC}: corrupt record (length field 32767); skipped {REC} bytes "
        f"to the next valid record at byte {6 * REC}"
    ]
    whole = list(sample.batch.frames())
    kept = list(imported.batch.frames())
    for a, b in zip(kept, whole[:5] + whole[6:], strict=True):
        assert np.array_equal(a.csi, b.csi) and a.timestamp_ns == b.timestamp_ns


def test_corrupt_header_fields_are_counted_and_kept_raw(samples, tmp_path):
    data = bytearray((samples / SAMPLE).read_bytes())
    data[5 * REC + 2 + 17] = 9  # nr = 9
    path = tmp_path / "bad.dat"
    path.write_bytes(bytes(data))
    imported = read(path)
    assert (imported.frames, imported.records, imported.skipped) == (400, 401, 1)
    assert imported.problems == [
        f"byte {5 * REC}: corrupt CSI record (impossible antenna counts nr=9 nc=2); skipped"
    ]
    assert len(imported.raw) == 401


def test_garbage_before_the_first_record_is_skipped(samples, tmp_path):
    path = tmp_path / "prefixed.dat"
    path.write_bytes(b"hello" + (samples / SAMPLE).read_bytes())
    imported = read(path)
    assert (imported.frames, imported.skipped) == (401, 1)


def test_unreadable_inputs_raise_one_clear_line(samples, tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.dat"
    noise.write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, np.uint8).tobytes())
    for path in [empty, noise, tmp_path / "missing.dat"] + [samples / n for n in OTHERS]:
        with pytest.raises(CaptureFileError) as err:
            read(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)


# --- synthetic records -----------------------------------------------------------------


@pytest.mark.parametrize("tones,nr,nc", [(56, 1, 1), (56, 2, 3), (114, 3, 2), (114, 1, 3)])
@pytest.mark.parametrize("big", [False, True])
def test_synthetic_records_round_trip(tones, nr, nc, big):
    rng = np.random.default_rng(tones + nr * 7 + nc)
    csi = rng.integers(-512, 512, (nc, nr, tones)) + 1j * rng.integers(-512, 512, (nc, nr, tones))
    datagram = atheros.encode_record(
        csi,
        timestamp=123_456,
        channel=5180,
        bandwidth=1 if tones == 114 else 0,
        noise_floor=-90,
        rssi=(40, 30, -128, 20),
        payload=b"\x08\x01payload",
        big=big,
    )
    (frame,) = atheros.Parser("ath", "lab").feed(datagram, 5)
    assert np.array_equal(frame.csi, csi.astype(np.complex64))
    assert frame.timestamp_ns == 123_456_000 and frame.center_freq_mhz == 5180
    assert frame.bandwidth_mhz == (40 if tones == 114 else 20)
    expected = {56: [*range(-28, 0), *range(1, 29)], 114: [*range(-58, -1), *range(2, 59)]}
    assert frame.subcarriers.tolist() == expected[tones]
    assert frame.noise_floor_dbm == -90
    rssi = [30 - 90, math.nan, 20 - 90][:nr]
    np.testing.assert_array_equal(frame.rssi_dbm, np.array(rssi, np.float32))


def test_stream_order_is_rx_innermost():
    """The k-th number of a tone belongs to rx k % nr, tx k // nr (the tool's read_csi.c)."""
    csi = np.zeros((2, 3, 56), complex)
    csi[1, 0, 0] = 5 + 7j  # the 4th complex number of tone 0
    datagram = atheros.encode_record(csi)
    bits = int.from_bytes(datagram[25 : 25 + 840], "little")
    assert (bits >> 60) & 0x3FF == 7 and (bits >> 70) & 0x3FF == 5  # imag first, then real


def test_record_without_csi_is_no_frame_and_no_error(tmp_path):
    csi = np.ones((1, 1, 56), complex)
    with_csi = atheros.encode_record(csi, timestamp=10)
    without = bytearray(atheros.encode_record(csi, timestamp=20))
    without[8:10] = b"\0\0"  # csi_len 0 ...
    without = bytes(without[:25]) + b"payload"  # ... and no CSI bytes
    without = without[:23] + len(b"payload").to_bytes(2, "little") + without[25:]
    path = tmp_path / "mixed.dat"
    path.write_bytes(b"".join(atheros.file_record(d) for d in (with_csi, without, with_csi)))
    imported = read(path)
    assert (imported.frames, imported.records, imported.skipped) == (2, 3, 0)
    assert imported.batch.sequence.tolist() == [0, 2]
    parser = atheros.Parser("ath", "lab")
    assert parser.feed(without, 0) == [] and parser.stats.skipped_total == 0


def test_out_of_range_tsf_is_corrupt():
    datagram = atheros.encode_record(np.ones((1, 1, 56), complex), timestamp=(1 << 64) - 1)
    parser = atheros.Parser("ath", "lab")
    assert parser.feed(datagram, 0) == []
    assert parser.stats.skipped == {"corrupt": 1}


# --- live datagrams --------------------------------------------------------------------


def test_parser_reasons():
    good = atheros.encode_record(np.ones((2, 3, 56), complex), payload=b"abc")
    parser = atheros.Parser("ath", "lab")
    assert parser.feed(b"", 0) == []
    assert parser.feed(good[:20], 0) == []
    assert parser.feed(good[:-1], 0) == []
    assert parser.feed(good + b"\0", 0) == []
    (frame,) = parser.feed(good, 0)
    assert frame.sequence == 4  # the datagram's index
    assert dict(parser.stats.skipped) == {"short": 3, "corrupt": 1}


@pytest.fixture(scope="module")
def real_records(sample):
    return [sample.raw.record(i) for i in range(0, 401, 40)]


def _check_feed(datagram):
    parser = atheros.Parser("ath", "lab")
    frames = parser.feed(datagram, 0)
    stats = parser.stats
    assert stats.packets == 1
    assert stats.frames == len(frames)
    # a record without CSI (csi_len 0) is neither a frame nor a skip
    assert len(frames) + stats.skipped_total == 1 or (
        len(datagram) >= 25 and (datagram[8:10] == b"\0\0")
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_random_datagrams_never_raise(datagram):
    _check_feed(datagram)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_real_records_never_raise(real_records, data):
    record = bytearray(data.draw(st.sampled_from(real_records)))
    op = data.draw(st.sampled_from(["flip", "truncate", "extend", "header"]))
    if op == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(record) - 1))
            record[i] ^= data.draw(st.integers(1, 255))
    elif op == "header":
        i = data.draw(st.integers(0, 24))
        record[i] ^= data.draw(st.integers(1, 255))
    elif op == "truncate":
        record = record[: data.draw(st.integers(0, len(record) - 1))]
    else:
        record += data.draw(st.binary(min_size=1, max_size=64))
    _check_feed(bytes(record))
