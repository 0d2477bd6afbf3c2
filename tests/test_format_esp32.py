"""ESP32 CSI text rows: the real ESP32-CSI-Tool capture, every documented layout, live lines."""

import math
import socket

import csiread
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wdp.capture.formats import esp32
from wdp.capture.formats.base import CaptureFileError
from wdp.capture.frame import normalize_mac

SAMPLE = "esp32_csitool_passive_ch8.csv"
HEADER = (
    "type,role,mac,rssi,rate,sig_mode,mcs,bandwidth,smoothing,not_sounding,aggregation,stbc,"
    "fec_coding,sgi,noise_floor,ampdu_cnt,channel,secondary_channel,local_timestamp,ant,"
    "sig_len,rx_state,real_time_set,real_timestamp,len,CSI_DATA"
)


def row(values, *, sig_mode=0, cwb=0, stbc=0, secondary=0, channel=6, ts=1000, rssi=-50,
        noise=-95, style="tool", first_word=0, length=None, mac="aa:bb:cc:dd:ee:ff"):  # fmt: skip
    """One CSI_DATA line in the field layout of a given tool version."""
    n = len(values) if length is None else length
    ctrl = [rssi, 11, sig_mode, 0, cwb, 0, 0, 0, stbc, 0, 0, noise, 0, channel, secondary,
            ts, 0, 38, 0]  # fmt: skip
    if style == "tool":  # ESP32-CSI-Tool now: role, real_time_set, real_timestamp
        fields = ["CSI_DATA", "PASSIVE", mac, *ctrl, 0, 0.5, n]
        array = "[" + " ".join(map(str, values)) + " ]"
    elif style == "old-tool":  # ESP32-CSI-Tool before real_timestamp
        fields = ["CSI_DATA", "AP", mac, *ctrl, n]
        array = "[" + " ".join(map(str, values)) + "]"
    else:  # espressif esp-csi: id, len, first_word, quoted comma-separated array
        fields = ["CSI_DATA", 7, mac, *ctrl, n, first_word]
        array = '"[' + ",".join(map(str, values)) + ']"'
    return ",".join(map(str, fields)) + "," + array


def coded_values(fields):
    """A buffer where each pair says where it belongs: real = subcarrier, imag = field + 1."""
    out = []
    for layer, subs in enumerate(fields):
        for k in subs:
            out += [layer + 1, int(k)]
    return out


def read(tmp_path, text, name="x.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return esp32.read_file(path, router_id="esp", environment_id="lab")


@pytest.fixture(scope="module")
def sample(samples):
    return esp32.read_file(samples / SAMPLE, router_id="esp", environment_id="lab")


# --------------------------------------------------------------------------- the sample


def test_sample_imports_with_readme_counts_and_timing(sample):
    assert (sample.records, sample.skipped, sample.frames) == (834, 1, 833)
    assert sample.problems == [
        "line 19: len says 128 but the array holds 127 values, not (imag, real) pairs"
    ]
    assert sample.notes == [] and sample.dropped == {}
    assert {normalize_mac(int(m)) for m in sample.batch.source_mac} == {"11:22:33:44:55:66"}
    b = sample.batch
    assert b.csi.shape == (833, 1, 1, 64)
    assert np.array_equal(b.subcarriers[0], np.arange(-32, 32))
    assert np.all(b.center_freq_mhz == 2447.0) and np.all(b.bandwidth_mhz == 20.0)
    assert -62 <= b.rssi_dbm.min() and b.rssi_dbm.max() <= -50
    assert -99 <= b.noise_floor_dbm.min() and b.noise_floor_dbm.max() <= -93
    assert np.all(b.host_time_ns == 0)
    ts = b.timestamp_ns
    assert np.all(np.diff(ts) > 0)
    rate = (len(ts) - 1) / ((ts[-1] - ts[0]) / 1e9)
    assert rate == pytest.approx(63.3, abs=0.1)  # not the 100 Hz the original name claimed
    # sequence is the CSI_DATA row index: the bad 18th row leaves a gap.
    assert b.sequence[16:19].tolist() == [16, 18, 19] and b.sequence[-1] == 833


def test_sample_equals_csiread_on_a_cleaned_copy(samples, sample, tmp_path):
    lines = (samples / SAMPLE).read_text().splitlines()
    assert lines[0].startswith("type,") and len(lines[18].split("[")[1].split()) == 128
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(lines[1:18] + lines[19:]) + "\n")
    ref = esp32_ref = csiread.ESP32(str(clean), if_report=False)
    ref.read()
    assert esp32_ref.count == 833
    # csiread keeps the buffer order 0..31, -32..-1; ours is ascending -32..31.
    expected = np.concatenate([ref.csi[:, 32:], ref.csi[:, :32]], axis=1).astype(np.complex64)
    b = sample.batch
    assert np.array_equal(b.csi[:, 0, 0, :], expected)
    assert np.array_equal(b.rssi_dbm[:, 0], ref.rssi)
    assert np.array_equal(b.noise_floor_dbm, ref.noise_floor)
    assert np.array_equal(b.timestamp_ns, ref.local_timestamp * 1000)


def test_records_fed_as_packets_equal_the_file(sample):
    parser = esp32.Parser("esp", "lab")
    frames = []
    for i in range(len(sample.raw)):
        frames += parser.feed(sample.raw.record(i), int(sample.raw.host_time_ns[i]))
    assert len(frames) == 833 and parser.stats.skipped == {"corrupt": 1}
    assert all(a.same_as(b) for a, b in zip(frames, sample.batch.frames(), strict=True))


def test_truncated_sample_keeps_complete_rows(samples, tmp_path):
    data = (samples / SAMPLE).read_bytes()
    lines = data.split(b"\n")
    cut = len(b"\n".join(lines[:101])) + 1 + len(lines[101]) // 2  # half of line 102
    result = read(tmp_path, data[:cut])
    assert (result.records, result.frames, result.skipped) == (101, 99, 2)
    assert result.problems[1] == "line 102: no complete [...] CSI array (line cut short?)"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (bytes(np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8)), "binary"),
        (b"I (312) wifi: mode : sta\nhello world\n", "no CSI_DATA rows"),
        (HEADER.encode() + b"\n", "no CSI_DATA rows"),
        (b"CSI_DATA,garbage\nCSI_DATA,1,2,[1 2\n", "none of 2 CSI_DATA rows is readable"),
    ],
)
def test_unreadable_files_raise_one_clear_line(tmp_path, content, message):
    with pytest.raises(CaptureFileError, match=message) as info:
        read(tmp_path, content)
    assert "\n" not in str(info.value)


def test_sniff(samples):
    assert esp32.sniff((samples / SAMPLE).read_bytes()[:4096])
    assert esp32.sniff(b"I (312) boot\n" + row([1, 2] * 64).encode())
    assert not esp32.sniff((samples / "nexmon_bcm43455c0_rpi_80mhz.pcap").read_bytes()[:4096])
    assert not esp32.sniff(b"hello, CSI_DATA is a word\n")
    for other in ("intel5300_inject_3x1_1khz.dat", "intel5300_log.all_csi.6.7.6.dat",
                  "atheros_ar93xx_3x2_56sc.dat"):  # fmt: skip
        assert not esp32.sniff((samples / other).read_bytes()[:4096])


# --------------------------------------------------------------------------- layouts

_L = esp32.LAYOUTS
LAYOUT_CASES = [
    # (secondary, sig_mode, cwb, stbc, n_bytes, n_layers, subcarriers, centre, bandwidth)
    (0, 0, 0, 0, 128, 1, np.arange(-32, 32), 2437.0, 20.0),
    (0, 1, 0, 0, 256, 2, np.arange(-32, 32), 2437.0, 20.0),
    (0, 1, 0, 1, 384, 3, np.arange(-32, 32), 2437.0, 20.0),
    (2, 0, 0, 0, 128, 1, np.arange(0, 64), 2427.0, 20.0),
    (2, 1, 0, 1, 380, 3, np.arange(0, 64), 2427.0, 20.0),
    (2, 1, 1, 0, 384, 2, np.arange(-64, 64), 2427.0, 40.0),
    (2, 1, 1, 1, 612, 3, np.arange(-60, 64), 2427.0, 40.0),
    (1, 0, 0, 0, 128, 1, np.arange(-64, 0), 2447.0, 20.0),
    (1, 1, 0, 1, 376, 3, np.arange(-64, 0), 2447.0, 20.0),
    (1, 1, 1, 0, 384, 2, np.arange(-64, 64), 2447.0, 40.0),
    (1, 1, 1, 1, 612, 3, np.arange(-64, 61), 2447.0, 40.0),
]


@pytest.mark.parametrize(
    "case", LAYOUT_CASES, ids=lambda c: f"sec{c[0]}-ht{c[1]}-bw{c[2]}-stbc{c[3]}"
)
def test_every_esp_idf_layout(tmp_path, case):
    secondary, sig_mode, cwb, stbc, n_bytes, n_layers, subs, centre, bandwidth = case
    fields = _L[secondary, bool(sig_mode), bool(cwb), bool(stbc)]
    values = coded_values(fields)
    assert len(values) == n_bytes  # ESP-IDF's "total bytes" row
    text = row(values, sig_mode=sig_mode, cwb=cwb, stbc=stbc, secondary=secondary)
    f = read(tmp_path, text).batch.frame(0)
    assert f.shape == (n_layers, 1, len(subs))
    assert np.array_equal(f.subcarriers, subs)
    assert (f.center_freq_mhz, f.bandwidth_mhz) == (centre, bandwidth)
    for layer, order in enumerate(fields):
        covered = np.isin(f.subcarriers, order)
        expect = np.where(covered, f.subcarriers + 1j * (layer + 1), 0)
        assert np.array_equal(f.csi[layer, 0], expect)


def test_mixed_legacy_and_ht40_rows_in_one_file(tmp_path):
    legacy = coded_values(_L[2, False, False, False])
    ht40 = coded_values(_L[2, True, True, False])
    text = "\n".join(
        [HEADER]
        + [row(legacy, secondary=2, ts=100 + i) for i in range(2)]
        + [row(ht40, sig_mode=1, cwb=1, secondary=2, ts=200)]
        + [row(legacy, secondary=2, ts=300)]
    )
    result = read(tmp_path, text)
    assert result.frames == 4 and result.skipped == 0 and result.problems == []
    assert result.batch.shape.tolist() == [[1, 1, 64]] * 2 + [[2, 1, 128], [1, 1, 64]]
    assert result.batch.frame(2).bandwidth_mhz == 40.0
    assert np.array_equal(result.batch.frame(3).subcarriers, np.arange(0, 64))


def test_disabled_fields_are_found_from_len(tmp_path):
    """STBC-HT-LTF disabled: an STBC row carries two fields; LLTF disabled: HT only."""
    two = coded_values(_L[0, True, False, True][:2])
    ht_only = coded_values(_L[2, True, True, False][1:])
    result = read(
        tmp_path,
        row(two, sig_mode=1, stbc=1) + "\n" + row(ht_only, sig_mode=1, cwb=1, secondary=2),
    )
    assert result.batch.shape.tolist() == [[2, 1, 64], [1, 1, 128]]
    assert np.array_equal(result.batch.frame(1).csi[0, 0], np.arange(-64, 64) + 1j)


def test_row_that_fits_no_layout_is_skipped(tmp_path):
    result = read(tmp_path, row([1, 2] * 64) + "\n" + row([1, 2] * 100))
    assert (result.frames, result.skipped) == (1, 1)
    assert "200 bytes fit no ESP-IDF layout" in result.problems[0]


@pytest.mark.parametrize("style", ["tool", "old-tool", "esp-csi"])
def test_tool_versions_without_a_header(tmp_path, style):
    values = coded_values(_L[0, False, False, False])
    result = read(tmp_path, row(values, style=style, ts=4242, rssi=-61, noise=-90, channel=14))
    f = result.batch.frame(0)
    assert (f.timestamp_ns, f.rssi_dbm[0], f.noise_floor_dbm) == (4_242_000, -61.0, -90.0)
    assert f.center_freq_mhz == 2484.0
    assert np.array_equal(f.csi[0, 0], np.arange(-32, 32) + 1j)


def test_first_word_invalid_zeroes_the_first_four_bytes(tmp_path):
    values = coded_values(_L[0, False, False, False])
    text = row(values, style="esp-csi", first_word=1) + "\n" + row(values, style="esp-csi")
    a, b = read(tmp_path, text).batch.frames()
    dead = np.isin(a.subcarriers, [0, 1])  # the buffer's first two pairs
    assert not a.csi[0, 0, dead].any()
    assert np.array_equal(a.csi[0, 0, ~dead], b.csi[0, 0, ~dead])
    assert b.csi[0, 0, dead].all()


def test_header_names_map_reordered_columns(tmp_path):
    """A header whose columns are in an unusual order is followed by name."""
    values = coded_values(_L[0, False, False, False])
    header = "type,len,rssi,local_timestamp,channel,data"
    text = header + "\nCSI_DATA,128,-44,777,11," + "[" + " ".join(map(str, values)) + "]"
    f = read(tmp_path, text).batch.frame(0)
    assert (f.rssi_dbm[0], f.timestamp_ns, f.center_freq_mhz) == (-44.0, 777_000, 2462.0)
    assert math.isnan(f.noise_floor_dbm)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (row([1, 2] * 63 + [1], length=128), r"len says 128 but the array holds 127"),
        (row([1, 2] * 63 + [1]), r"not \(imag, real\) pairs"),
        (row([1, 2] * 50, length=128), r"100 bytes \(len says 128\) fit no ESP-IDF layout"),
        (row([1, 200] * 64), "does not fit int8"),
        (row([1, 2] * 64).replace(",-95,", ",x,"), "not an integer"),
        (row([1, 2] * 64).replace("[1 2", "[1 z"), "other than int8"),
        (row([1, 2] * 64).replace("[1 2", "[1 " + "9" * 30), "other than int8"),
        (row([1, 2] * 64).replace(",-50,", "," + "9" * 400 + ","), "rssi is out of range"),
        ("CSI_DATA,1,2,3,[1 2]", "no MAC"),
    ],
)
def test_garbled_rows_say_why(line, why):
    with pytest.raises(esp32.RowError, match=why):
        esp32.parse_row(line.encode())


def test_local_timestamp_unwraps_past_32_bits(tmp_path):
    values = [1, 2] * 64
    stamps = [2**32 - 20_000, 2**32 - 5_000, 10_000, 25_000]
    result = read(tmp_path, "\n".join(row(values, ts=t) for t in stamps))
    got = result.batch.timestamp_ns.tolist()
    assert np.diff(got).tolist() == [15_000_000, 15_000_000, 15_000_000]


# --------------------------------------------------------------------------- live


def test_datagram_with_several_lines_gives_several_frames():
    values = coded_values(_L[0, False, False, False])
    datagram = "\n".join(
        [
            HEADER,
            row(values, ts=10),
            "I (5000) csi: heap 1234",
            row(values, ts=20) + "\r",
            row(values[:-2], ts=30, length=128),
            row(values, ts=40),
            "",
        ]
    ).encode()
    parser = esp32.Parser("esp", "lab")
    frames = parser.feed(datagram, 99)
    assert [f.timestamp_ns for f in frames] == [10_000, 20_000, 40_000]
    assert [f.sequence for f in frames] == [0, 1, 3]
    assert all(f.host_time_ns == 99 for f in frames)
    assert parser.stats.packets == 1 and parser.stats.frames == 3
    assert parser.stats.skipped == {"foreign": 2, "corrupt": 1}
    assert parser.feed(b"  \n", 100) == [] and parser.stats.skipped["short"] == 1


def test_lines_over_a_real_udp_socket(sample):
    parser = esp32.Parser("esp", "lab")
    frames = []
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        for start in range(0, 40, 4):  # four lines a datagram
            tx.sendto(b"\n".join(sample.raw.record(i) for i in range(start, start + 4)),
                      rx.getsockname())  # fmt: skip
            frames += parser.feed(rx.recv(65536), 0)
    assert len(frames) == 39 and parser.stats.skipped == {"corrupt": 1}
    assert all(a.same_as(b) for a, b in zip(frames, sample.batch.frames(), strict=False))


_GOOD = row(coded_values(_L[2, True, True, False]), sig_mode=1, cwb=1, secondary=2).encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.tuples(
            st.sampled_from(["flip", "truncate", "extend"]),
            st.integers(0, 3000),
            st.binary(min_size=1, max_size=40),
        ),
    )
)
def test_parser_fuzz_never_raises(case):
    if isinstance(case, tuple):
        op, at, extra = case
        at %= len(_GOOD)
        if op == "flip":
            data = _GOOD[:at] + bytes([_GOOD[at] ^ 0x5A]) + _GOOD[at + 1 :]
        elif op == "truncate":
            data = _GOOD[:at]
        else:
            data = _GOOD + extra
    else:
        data = case
    parser = esp32.Parser("esp", "lab")
    frames = parser.feed(data, 1) + parser.feed(_GOOD, 2)
    assert parser.stats.packets == 2 and parser.stats.frames == len(frames) >= 1
    assert frames[-1].shape == (2, 1, 128)


# --------------------------------------------------------------------------- variants


def test_extra_columns_after_the_array_are_ignored_and_noted(tmp_path):
    """Loggers append a PC timestamp (or more) after the array: the row still reads."""
    values = coded_values(_L[0, False, False, False])
    text = "\n".join(
        [
            HEADER + ",pc_time",
            row(values, ts=1000) + ",1712345678.123456",
            row(values, ts=2000) + ',1712345678.133456,"x"',
            row(values, ts=3000),
        ]
    )
    result = read(tmp_path, text)
    assert (result.frames, result.skipped) == (3, 0)
    assert result.batch.timestamp_ns.tolist() == [1_000_000, 2_000_000, 3_000_000]
    assert np.array_equal(result.batch.csi[0, 0, 0].real, np.arange(-32, 32))
    assert result.notes == [
        "2 rows with extra columns after the CSI array, ignored (first: line 2)"
    ]
    live = esp32.Parser("esp", "lab")
    assert len(live.feed((row(values) + ",1712345678.1").encode(), 5)) == 1


@pytest.mark.parametrize(("secondary", "first", "centre"), [(1, -64, 2447.0), (2, 0, 2427.0)])
def test_lltf_only_rows_of_ht40_packets(tmp_path, secondary, first, centre):
    """ESP32-CSI-Tool's LLTF-only output: len says 384 (LLTF + HT40 HT-LTF) but the array
    holds the 128 LLTF bytes. The values present are taken, on the primary channel's 64
    subcarriers of the 40 MHz channel: -64..-1 with the secondary channel above, 0..63
    below (ESP-IDF's table), not the HT20 -32..31; the mismatch is counted."""
    lltf = _L[secondary, True, True, False][0]
    assert np.array_equal(np.sort(lltf), np.arange(first, first + 64))
    values = coded_values([lltf])
    lines = [row(values, sig_mode=1, cwb=1, secondary=secondary, length=384, ts=t) for t in (1, 2)]
    result = read(tmp_path, "\n".join([HEADER, *lines]))
    assert (result.frames, result.skipped) == (2, 0)
    f = result.batch.frame(0)
    assert f.csi.shape == (1, 1, 64)
    assert np.array_equal(f.subcarriers, np.arange(first, first + 64))
    assert np.array_equal(f.csi[0, 0].real, f.subcarriers)  # each value where it belongs
    assert (f.bandwidth_mhz, f.center_freq_mhz) == (40.0, centre)
    assert result.notes == [
        "2 rows whose len field disagrees with their CSI array (e.g. LLTF-only output): "
        "imported the values present (line 2: len 384, 128 values)"
    ]


def test_mac_column_gives_each_frame_its_transmitter(tmp_path):
    values = coded_values(_L[0, False, False, False])
    text = "\n".join(
        [
            row(values, mac="AA:BB:CC:00:00:01"),
            row(values, mac="aa:bb:cc:00:00:02"),
            row(values, mac="aa:bb:cc:00:00:01"),
            row(values, style="esp-csi", mac="aa:bb:cc:00:00:03"),
        ]
    )
    result = read(tmp_path, text)
    macs = [f.source_mac for f in result.batch.frames()]
    assert macs == ["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02", "aa:bb:cc:00:00:01",
                    "aa:bb:cc:00:00:03"]  # fmt: skip
    assert [normalize_mac(int(m)) for m in result.raw_source_mac] == macs
    (f,) = esp32.Parser("esp", "lab").feed(row(values, mac="aa:bb:cc:00:00:02").encode(), 9)
    assert f.source_mac == "aa:bb:cc:00:00:02"
