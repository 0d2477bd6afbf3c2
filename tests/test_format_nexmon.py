"""nexmon_csi: the real Raspberry Pi capture, synthetic pcaps for every variant, live packets."""

import math
import socket
import struct

import csiread
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wdp.capture.formats import make_parser, nexmon, read_capture
from wdp.capture.formats.base import CaptureFileError

SAMPLE = "nexmon_bcm43455c0_rpi_80mhz.pcap"
CHANSPEC_80 = 0xE02A  # 5 GHz, 80 MHz, centre channel 42: what the sample carries


# --------------------------------------------------------------------------- helpers


def udp_frame(payload: bytes, trailer: bytes = b"") -> bytes:
    """Ethernet/IPv4/UDP around a payload, as nexmon's firmware builds it."""
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 1, 0, 1, 17, 0,
        bytes([10, 10, 10, 10]), b"\xff" * 4,
    )  # fmt: skip
    udp = struct.pack("!HHHH", 5500, 5500, 8 + len(payload), 0)
    return b"\xff" * 6 + b"NEXMON" + b"\x08\x00" + ip + udp + payload + trailer


def pcap(records, *, endian="<", nano=False, linktype=1) -> bytes:
    """A classic pcap of (time_ns, link-layer bytes) records."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for t_ns, frame in records:
        sec, rest = divmod(t_ns, 1_000_000_000)
        frac = rest if nano else rest // 1000
        out.append(struct.pack(endian + "IIII", sec, frac, len(frame), len(frame)) + frame)
    return b"".join(out)


def random_fft(rng, n=64):
    return rng.integers(-3000, 3000, n) + 1j * rng.integers(-3000, 3000, n)


def read(tmp_path, data, name="x.pcap"):
    path = tmp_path / name
    path.write_bytes(data)
    return nexmon.read_file(path, router_id="rpi", environment_id="lab")


def feed_all(parser, records):
    frames = []
    for payload, t in records:
        frames += parser.feed(payload, t)
    return frames + parser.flush()


@pytest.fixture(scope="module")
def sample(samples):
    return nexmon.read_file(samples / SAMPLE, router_id="rpi", environment_id="lab")


# --------------------------------------------------------------------------- the sample


def test_sample_imports_with_readme_counts_and_timing(sample):
    assert (sample.records, sample.skipped, sample.frames) == (566, 0, 566)
    assert sample.problems == []
    b = sample.batch
    assert b.csi.shape == (566, 1, 1, 256)
    assert np.array_equal(b.subcarriers[0], np.arange(-128, 128))
    assert set(np.unique(b.rssi_dbm).tolist()) == {-59.0, -58.0}
    assert np.all(b.center_freq_mhz == 5210.0) and np.all(b.bandwidth_mhz == 80.0)
    assert np.all(np.isnan(b.noise_floor_dbm))
    assert np.all(b.timestamp_ns == b.host_time_ns)  # pcap record time, already ordered
    gaps_ms = np.diff(b.timestamp_ns) / 1e6
    assert np.all(gaps_ms >= 0)
    assert 0.5 < np.median(gaps_ms) < 0.8  # bursty: README says median 0.64 ms
    assert gaps_ms.max() > 1000  # ... with pauses of seconds between bursts
    # Every packet is a Block Ack (frame control 0x94) with sequence 0: each is its own frame.
    assert np.all(b.sequence == 0)


def test_sample_signal_sits_in_the_lower_half_after_reordering(sample):
    amp = np.median(np.abs(sample.batch.csi[:, 0, 0, :]), axis=0)
    lower, upper = amp[:128], amp[130:]  # skip FFT bins 0 and 1 (junk at DC)
    assert np.median(lower) > 20 * np.median(upper)


def test_sample_csi_equals_csiread(samples, sample):
    ref = csiread.Nexmon(str(samples / SAMPLE), chip="43455c0", bw=80, if_report=False)
    ref.read()
    assert ref.count == 566
    expected = np.fft.fftshift(ref.csi, axes=1).astype(np.complex64)
    assert np.array_equal(sample.batch.csi[:, 0, 0, :], expected)


def test_sample_trailer_records_parse_from_the_udp_length(samples, sample):
    data = (samples / SAMPLE).read_bytes()
    caplens, off = [], 24
    while off < len(data):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        caplens.append(caplen)
        off += 16 + caplen
    trailer = [i for i, c in enumerate(caplens) if c == 1088]
    assert len(trailer) == 18 and caplens.count(1084) == 548
    # The datagram kept for each trailer record is the 1042-byte UDP payload, not 1046.
    assert {len(sample.raw.record(i)) for i in trailer} == {1042}
    assert sample.batch.shape[trailer].tolist() == [[1, 1, 256]] * 18


def test_trailer_bytes_never_reach_the_csi(tmp_path):
    rng = np.random.default_rng(1)
    fft = random_fft(rng, 256)
    payload = nexmon.encode_payload(fft, chanspec=CHANSPEC_80)
    data = pcap([(0, udp_frame(payload, trailer=b"\xde\xad\xbe\xef"))])
    result = read(tmp_path, data)
    assert result.frames == 1 and result.skipped == 0
    assert np.array_equal(result.batch.csi[0, 0, 0], np.fft.fftshift(fft).astype(np.complex64))


def test_records_fed_as_packets_equal_the_file(sample):
    raw = sample.raw
    parser = nexmon.Parser("rpi", "lab")
    frames = feed_all(parser, [(raw.record(i), int(raw.host_time_ns[i])) for i in range(len(raw))])
    assert len(frames) == sample.frames == parser.stats.frames
    assert all(a.same_as(b) for a, b in zip(frames, sample.batch.frames(), strict=True))
    assert parser.stats.skipped_total == 0


def test_truncated_sample_keeps_complete_records(samples, tmp_path):
    data = (samples / SAMPLE).read_bytes()
    cut = 24 + 100 * (16 + 1084) + 500  # the first 100 records have no trailer
    assert all(struct.unpack_from("<I", data, 24 + i * 1100 + 8)[0] == 1084 for i in range(100))
    result = read(tmp_path, data[:cut])
    assert (result.records, result.frames, result.skipped) == (101, 100, 1)
    assert result.problems == [f"byte {24 + 100 * 1100}: record cut short (484 of 1084 bytes)"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (bytes(np.random.default_rng(5).integers(0, 256, 3000, dtype=np.uint8)), "not a pcap"),
        (b"CSI_DATA,PASSIVE,11:22:33:44:55:66,-52\n", "not a pcap"),
        (b"\x0a\x0d\x0d\x0a" + bytes(60), "pcapng"),
        (pcap([]), "no packets"),
        (pcap([(0, b"\x00" * 60)]), "no nexmon_csi frame"),
    ],
)
def test_unreadable_files_raise_one_clear_line(tmp_path, content, message):
    with pytest.raises(CaptureFileError, match=message) as info:
        read(tmp_path, content)
    assert "\n" not in str(info.value)


def test_sniff(samples):
    head = (samples / SAMPLE).read_bytes()[:4096]
    assert nexmon.sniff(head)
    assert not nexmon.sniff((samples / "esp32_csitool_passive_ch8.csv").read_bytes()[:4096])
    assert not nexmon.sniff(pcap([(0, b"\x00" * 60)]))
    for other in ("esp32_csitool_passive_ch8.csv", "intel5300_inject_3x1_1khz.dat",
                  "intel5300_log.all_csi.6.7.6.dat", "atheros_ar93xx_3x2_56sc.dat"):  # fmt: skip
        assert not nexmon.sniff((samples / other).read_bytes()[:4096])
    assert not nexmon.sniff(b"")


# --------------------------------------------------------------------------- variants


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_every_classic_pcap_magic(tmp_path, endian, nano):
    rng = np.random.default_rng(2)
    fft = [random_fft(rng) for _ in range(3)]
    times = [1_600_000_000_123_456_000 + i * 1_000_000 + (789 if nano else 0) for i in range(3)]
    payloads = [
        nexmon.encode_payload(f, sequence=i, chanspec=0x1006, rssi=-40) for i, f in enumerate(fft)
    ]
    result = read(
        tmp_path,
        pcap(list(zip(times, map(udp_frame, payloads), strict=True)), endian=endian, nano=nano),
    )
    assert result.frames == 3
    assert result.batch.host_time_ns.tolist() == times
    assert np.array_equal(result.batch.csi[:, 0, 0, :], np.fft.fftshift(fft, axes=1))
    assert result.batch.center_freq_mhz[0] == 2437.0 and result.batch.bandwidth_mhz[0] == 20.0


def test_raw_ip_link_type(tmp_path):
    payload = nexmon.encode_payload(random_fft(np.random.default_rng(3)))
    result = read(tmp_path, pcap([(5, udp_frame(payload)[14:])], linktype=101))
    assert result.frames == 1


def test_old_format_has_no_rssi(tmp_path):
    """The original extractor's 0x11111111 magic: same fields, no RSSI or frame control."""
    fft = random_fft(np.random.default_rng(4), 128)
    payload = nexmon.encode_payload(fft, rssi=None, chanspec=0xD826, sequence=77)
    assert payload[:4] == b"\x11\x11\x11\x11"
    packet = nexmon.decode_payload(payload)
    h = packet.header
    assert math.isnan(h.rssi_dbm) and h.frame_control == -1 and h.sequence == 77
    result = read(tmp_path, pcap([(0, udp_frame(payload))]))
    f = result.batch.frame(0)
    assert np.isnan(f.rssi_dbm).all() and f.shape == (1, 1, 128)
    assert np.array_equal(f.subcarriers, np.arange(-64, 64))
    assert f.center_freq_mhz == 5190.0 and f.bandwidth_mhz == 40.0
    assert np.array_equal(f.csi[0, 0], np.fft.fftshift(fft))
    # csiread's Nexmon.pmsg only knows this old layout and agrees on it.
    ref = csiread.Nexmon(None, chip="43455c0", bw=40, if_report=False)
    assert ref.pmsg(payload) == 0xF100
    assert np.array_equal(np.fft.fftshift(ref.csi[0]), f.csi[0, 0])


@pytest.mark.parametrize(("chip", "name"), [(0x0003, "4358"), (0x006A, "4366c0")])
def test_packed_float_chips_equal_csiread(tmp_path, chip, name):
    rng = np.random.default_rng(chip)
    payloads = []
    for i in range(6):
        words = rng.integers(0, 2**32, 64, dtype=np.uint64).astype("<u4")
        if i == 5:
            words[:] = 0  # an all-zero vector must stay zero
        head = b"\x11\x11" + struct.pack("<bB", -60, 0x08) + b"ABCDEF"
        payloads.append(head + struct.pack("<HHHH", i, 0, 0x1006, chip) + words.tobytes())
    path = tmp_path / "float.pcap"
    path.write_bytes(pcap([(i, udp_frame(p)) for i, p in enumerate(payloads)]))
    ours = nexmon.read_file(path, router_id="r", environment_id="e")
    ref = csiread.Nexmon(str(path), chip=name, bw=20, if_report=False)
    ref.read()
    assert ours.frames == ref.count == 6
    expected = np.fft.fftshift(ref.csi, axes=1).astype(np.complex64)
    assert np.array_equal(ours.batch.csi[:, 0, 0, :], expected)
    assert np.abs(expected[:5]).max() > 0 and not expected[5].any()


def test_unknown_chip_is_refused_by_name(tmp_path):
    payload = nexmon.encode_payload(random_fft(np.random.default_rng(6)))
    bad = payload[:16] + struct.pack("<H", 0x4242) + payload[18:]
    parser = nexmon.Parser("r", "e")
    assert parser.feed(bad, 1) == [] and parser.stats.skipped["foreign"] == 1
    with pytest.raises(CaptureFileError, match="chip version 0x4242 is not supported"):
        read(tmp_path, pcap([(0, udp_frame(bad))]))


@pytest.mark.parametrize(
    ("chanspec", "center", "bandwidth"),
    [(0x1006, 2437.0, 20.0), (0x100E, 2484.0, 20.0), (0xD024, 5180.0, 20.0),
     (0xD826, 5190.0, 40.0), (0xE02A, 5210.0, 80.0), (0x0000, math.nan, math.nan)],
)  # fmt: skip
def test_chanspec_decoding(chanspec, center, bandwidth):
    for got, want in [
        (nexmon.chanspec_center_mhz(chanspec), center),
        (nexmon.chanspec_bandwidth_mhz(chanspec), bandwidth),
    ]:
        assert got == want or (math.isnan(got) and math.isnan(want))


# --------------------------------------------------------------------------- grouping


def mimo_packets(rng, seqs, cores=2, streams=2, skip=()):
    """Packets of several frames, one per (core, stream), in firmware order."""
    out, truth = [], {}
    for seq in seqs:
        for core in range(cores):
            for ss in range(streams):
                fft = random_fft(rng)
                truth[seq, core, ss] = np.fft.fftshift(fft)
                if (seq, core, ss) in skip:
                    continue
                p = nexmon.encode_payload(
                    fft, sequence=seq, core=core, stream=ss, rssi=-40 - core, chip=0x0001
                )
                out.append(p)
    return out, truth


def test_packets_of_one_sequence_become_one_mimo_frame():
    rng = np.random.default_rng(7)
    packets, truth = mimo_packets(rng, [10, 11, 12])
    parser = nexmon.Parser("r", "e")
    first = [f for i, p in enumerate(packets[:5]) for f in parser.feed(p, 1000 + i)]
    assert len(first) == 1  # the 5th packet (sequence 11) closed sequence 10
    rest = [f for i, p in enumerate(packets[5:]) for f in parser.feed(p, 2000 + i)]
    held = parser.flush()
    frames = first + rest + held
    assert [f.sequence for f in frames] == [10, 11, 12] and len(held) == 1
    assert parser.flush() == []
    for f in frames:
        assert f.shape == (2, 2, 64)
        assert f.rssi_dbm.tolist() == [-40.0, -41.0]
        for core in range(2):
            for ss in range(2):
                assert np.array_equal(f.csi[ss, core], truth[f.sequence, core, ss])
    assert frames[0].timestamp_ns == frames[0].host_time_ns == 1000
    assert parser.stats.frames == 3 and parser.incomplete_groups == 0


def test_missing_packet_leaves_a_zero_slot_and_is_counted():
    rng = np.random.default_rng(8)
    packets, truth = mimo_packets(rng, [5, 6], skip={(5, 1, 0)})
    parser = nexmon.Parser("r", "e")
    frames = feed_all(parser, [(p, i) for i, p in enumerate(packets)])
    assert [f.shape for f in frames] == [(2, 2, 64), (2, 2, 64)]
    assert not frames[0].csi[0, 1].any()
    assert np.array_equal(frames[0].csi[1, 1], truth[5, 1, 1])
    assert parser.incomplete_groups == 1


def test_repeated_slot_with_the_same_sequence_starts_a_new_frame():
    rng = np.random.default_rng(9)
    payloads = [nexmon.encode_payload(random_fft(rng), sequence=0) for _ in range(3)]
    frames = feed_all(nexmon.Parser("r", "e"), [(p, i) for i, p in enumerate(payloads)])
    assert len(frames) == 3 and [f.timestamp_ns for f in frames] == [0, 1, 2]


def test_file_groups_like_the_live_parser(tmp_path):
    rng = np.random.default_rng(10)
    packets, _ = mimo_packets(rng, [1, 2, 3, 4])
    result = read(tmp_path, pcap([(i * 1000, udp_frame(p)) for i, p in enumerate(packets)]))
    assert (result.records, result.frames) == (16, 4)
    live = feed_all(nexmon.Parser("rpi", "lab"), [(p, i * 1000) for i, p in enumerate(packets)])
    assert all(a.same_as(b) for a, b in zip(live, result.batch.frames(), strict=True))


def test_sequence_unwraps_past_16_bits():
    rng = np.random.default_rng(11)
    seqs = [65534, 65535, 0, 1]
    payloads = [nexmon.encode_payload(random_fft(rng), sequence=s) for s in seqs]
    frames = feed_all(nexmon.Parser("r", "e"), [(p, 0) for p in payloads])
    assert [f.sequence for f in frames] == [65534, 65535, 65536, 65537]


# --------------------------------------------------------------------------- live


def test_sample_over_a_real_udp_socket(sample):
    raw = sample.raw
    parser = nexmon.Parser("rpi", "lab")
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        frames = []
        for i in range(50):
            tx.sendto(raw.record(i), rx.getsockname())
            frames += parser.feed(rx.recv(65536), int(raw.host_time_ns[i]))
        frames += parser.flush()
    assert len(frames) == 50
    assert all(a.same_as(b) for a, b in zip(frames, sample.batch.frames(), strict=False))


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "foreign"), (b"\x11\x11\x00", "short"), (b"\x22" * 100, "foreign"),
     (nexmon.encode_payload(np.zeros(64)) + b"\x00\x00", "corrupt"),
     (nexmon.encode_payload(np.zeros(64))[:-4], "short"),
     (nexmon.encode_payload(np.zeros(256)) + b"\x00" * 4, "oversized")],
)  # fmt: skip
def test_bad_packets_are_counted_by_reason(data, reason):
    parser = nexmon.Parser("r", "e")
    assert parser.feed(data, 0) == []
    assert parser.stats.skipped == {reason: 1} and parser.stats.packets == 1


_FUZZ_RECORDS = [
    nexmon.encode_payload(random_fft(np.random.default_rng(i), n), sequence=i, core=i % 2)
    for i, n in enumerate([64, 128, 256])
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=1200),
        st.tuples(
            st.sampled_from(_FUZZ_RECORDS),
            st.sampled_from(["flip", "truncate", "extend"]),
            st.integers(0, 1100),
            st.binary(min_size=1, max_size=40),
        ),
    )
)
def test_parser_fuzz_never_raises(case):
    if isinstance(case, tuple):
        record, op, at, extra = case
        at %= len(record)
        if op == "flip":
            data = record[:at] + bytes([record[at] ^ 0xFF]) + record[at + 1 :]
        elif op == "truncate":
            data = record[:at]
        else:
            data = record + extra
    else:
        data = case
    parser = nexmon.Parser("r", "e")
    frames = parser.feed(data, 1) + parser.feed(_FUZZ_RECORDS[0], 2) + parser.flush()
    assert parser.stats.packets == 2
    assert parser.stats.frames == len(frames) >= 1
    assert parser.stats.skipped_total + len(frames) >= 1


# --------------------------------------------------------------------------- transmitters

PI = bytes.fromhex("b827eb03e19f")
PHONE = bytes.fromhex("ec41184c1f6a")


def mixed_capture(rng, n_pi=20, n_phone=5, n_narrow=3):
    """A monitor-mode capture: mostly the Pi's 80 MHz frames, some of a phone, a few
    20 MHz frames of the Pi (64 bins)."""
    packets = []
    for i in range(n_pi + n_phone + n_narrow):
        source = PHONE if n_pi <= i < n_pi + n_phone else PI
        bins = 64 if i >= n_pi + n_phone else 256
        packets.append(
            nexmon.encode_payload(random_fft(rng, bins), source=source, sequence=i, chanspec=0xE02A)
        )
    rng.shuffle(packets)
    return packets


def test_frames_carry_their_transmitter(tmp_path):
    packets = mixed_capture(np.random.default_rng(20))
    result = read(tmp_path, pcap([(i * 1000, udp_frame(p)) for i, p in enumerate(packets)]))
    macs = [f.source_mac for f in result.batch.frames()]
    assert macs.count("b8:27:eb:03:e1:9f") == 23 and macs.count("ec:41:18:4c:1f:6a") == 5
    assert result.dropped == {}  # the format reader keeps everything; read_capture narrows
    assert [int(m) for m in result.raw_source_mac] == [
        int.from_bytes(p[4:10], "big") for p in packets
    ]
    live = feed_all(nexmon.Parser("rpi", "lab"), [(p, i * 1000) for i, p in enumerate(packets)])
    assert [f.source_mac for f in live] == macs


def test_read_capture_keeps_one_transmitter_and_its_majority_layout(tmp_path):
    packets = mixed_capture(np.random.default_rng(21))
    path = tmp_path / "mixed.pcap"
    path.write_bytes(pcap([(i * 1000, udp_frame(p)) for i, p in enumerate(packets)]))
    result = read_capture(path)
    assert result.frames == 20 and len(result.raw) == 28
    assert result.dropped == {"other transmitters": 5, "minority layout": 3}
    assert {f.source_mac for f in result.batch.frames()} == {"b8:27:eb:03:e1:9f"}
    assert set(result.batch.bandwidth_mhz.tolist()) == {80.0}
    phone = read_capture(path, source_mac="EC:41:18:4C:1F:6A")
    assert phone.frames == 5 and phone.dropped == {"other transmitters": 23}
    everything = read_capture(path, source_mac="any", keep_majority_layout=False)
    assert everything.frames == 28 and everything.dropped == {}
    with pytest.raises(CaptureFileError) as info:
        read_capture(path, router_id="pi-1", source_mac="aa:bb:cc:dd:ee:ff")
    message = str(info.value)
    assert str(path) in message and "router pi-1" in message and "aa:bb:cc:dd:ee:ff" in message
    assert "heard: b8:27:eb:03:e1:9f (23 frames), ec:41:18:4c:1f:6a (5 frames)" in message


def test_live_parser_bound_to_a_transmitter_or_split():
    packets = mixed_capture(np.random.default_rng(22))
    bound = make_parser("nexmon", "pi-1", "lab", streams={"b8:27:eb:03:e1:9f": "pi-1"})
    frames = feed_all(bound, [(p, i) for i, p in enumerate(packets)])
    assert len(frames) == 23 and {f.router_id for f in frames} == {"pi-1"}
    assert bound.stats.skipped == {"other_transmitter": 5} and bound.stats.frames == 23
    streams = {"b8:27:eb:03:e1:9f": "pi-1.b827eb03e19f", "ec:41:18:4c:1f:6a": "pi-1.ec41184c1f6a"}
    split = make_parser("nexmon", "pi-1", "lab", streams=streams)
    frames = feed_all(split, [(p, i) for i, p in enumerate(packets)])
    assert len(frames) == 28 and not split.stats.skipped
    assert all(streams[f.source_mac] == f.router_id for f in frames)
