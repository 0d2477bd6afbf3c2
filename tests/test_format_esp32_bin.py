"""ESP32 binary CSI frames (magic 0xC5110001): layout, validation, encode, real sockets."""

import math
import socket
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wdp.capture.formats import esp32, esp32_bin
from wdp.capture.frame import CsiFrame


def frame_bytes(pairs, *, n_ant=1, n_sub=None, node=7, freq=2412, seq=5, rssi=-40, noise=-92):
    """A frame written field by field from the firmware's layout, not with ``encode``."""
    pairs = np.asarray(pairs, dtype=np.int8)
    n_sub = len(pairs) // n_ant if n_sub is None else n_sub
    head = struct.pack("<I", 0xC5110001) + bytes([node, n_ant]) + struct.pack("<H", n_sub)
    head += struct.pack("<II", freq, seq) + struct.pack("<bb", rssi, noise) + b"\0\0"
    assert len(head) == 20
    return head + pairs.tobytes()


def make_frame(n_tx=1, n_rx=1, n_sub=64, seq=3, rng=None):
    rng = rng or np.random.default_rng(seq)
    subs = np.arange(-32, 32) if n_sub == 64 else np.sort(esp32_bin.field_orders(n_sub)[0])
    csi = rng.integers(-128, 128, (n_tx, n_rx, n_sub)) + 1j * rng.integers(
        -128, 128, (n_tx, n_rx, n_sub)
    )
    return CsiFrame(
        timestamp_ns=0, host_time_ns=0, router_id="node", environment_id="lab", sequence=seq,
        csi=csi, subcarriers=subs, rssi_dbm=np.full(n_rx, -47.0), noise_floor_dbm=-93.0,
        center_freq_mhz=2437.0, bandwidth_mhz=20.0, hw_format="esp32",
    )  # fmt: skip


def same_payload(a, b):
    fields = ("sequence", "noise_floor_dbm", "center_freq_mhz", "bandwidth_mhz")
    return (
        all(getattr(a, n) == getattr(b, n) for n in fields)
        and np.array_equal(a.csi, b.csi)
        and np.array_equal(a.subcarriers, b.subcarriers)
        and np.array_equal(a.rssi_dbm, b.rssi_dbm)
    )


def test_documented_layout_decodes_field_by_field():
    # Pair p of the buffer is subcarrier p (p < 32) or p - 64: imaginary byte first.
    pairs = [(p % 7 - 3, p - 64 if p >= 32 else p) for p in range(64)]
    parser = esp32_bin.Parser("node", "lab")
    (f,) = parser.feed(frame_bytes(pairs), 1_000)
    assert f.shape == (1, 1, 64) and np.array_equal(f.subcarriers, np.arange(-32, 32))
    assert np.array_equal(f.csi[0, 0].real, np.arange(-32, 32))
    assert np.array_equal(f.csi[0, 0].imag, [((k % 64) % 7) - 3 for k in range(-32, 32)])
    assert (f.sequence, f.rssi_dbm[0], f.noise_floor_dbm) == (5, -40.0, -92.0)
    assert (f.center_freq_mhz, f.bandwidth_mhz) == (2412.0, 20.0)
    assert f.timestamp_ns == f.host_time_ns == 1_000 and f.hw_format == "esp32"
    assert esp32_bin.Parser.format == "esp32-bin" and esp32_bin.Parser.hw_format == "esp32"


def test_real_esp32_rows_survive_the_binary_frame(samples):
    """The sample's CSI, sent as the firmware would, decodes to the same frames."""
    sample = esp32.read_file(
        samples / "esp32_csitool_passive_ch8.csv", router_id="node", environment_id="lab"
    )
    csv_frames = list(sample.batch.frames())
    parser = esp32_bin.Parser("node", "lab")
    got = [f for i, c in enumerate(csv_frames) for f in parser.feed(esp32_bin.encode(c), i)]
    assert len(got) == 833 and parser.stats.skipped_total == 0
    assert all(same_payload(a, b) for a, b in zip(got, csv_frames, strict=True))
    assert got[0].center_freq_mhz == 2447.0  # channel 8


@pytest.mark.parametrize(
    ("n_tx", "n_rx", "n_sub"), [(1, 1, 64), (2, 1, 64), (3, 2, 64), (1, 3, 57), (1, 1, 1)]
)
def test_encode_then_parse_round_trips(n_tx, n_rx, n_sub):
    frame = make_frame(n_tx, n_rx, n_sub)
    data = esp32_bin.encode(frame, node_id=9)
    assert len(data) == 20 + 2 * n_rx * n_tx * n_sub and data[4] == 9
    (back,) = esp32_bin.Parser("node", "lab").feed(data, 5)
    assert same_payload(back, frame)


def test_unknown_values_encode_as_zero_and_nan_frequency_round_trips():
    f = make_frame()
    fields = {a.name: getattr(f, a.name) for a in CsiFrame.__attrs_attrs__}
    fields |= {"rssi_dbm": [np.nan], "noise_floor_dbm": math.nan, "center_freq_mhz": math.nan}
    f = CsiFrame(**fields)
    (back,) = esp32_bin.Parser("n", "e").feed(esp32_bin.encode(f), 0)
    assert math.isnan(back.center_freq_mhz) and back.rssi_dbm[0] == 0.0


@pytest.mark.parametrize(
    "change",
    [
        {"csi": np.full((1, 1, 64), 300 + 0j)},
        {"subcarriers": np.arange(64)},
        {"csi": np.zeros((1, 1, 128)), "subcarriers": np.arange(-64, 64)},
    ],
)
def test_encode_refuses_frames_the_format_cannot_carry(change):
    f = make_frame()
    fields = {a.name: getattr(f, a.name) for a in CsiFrame.__attrs_attrs__} | change
    with pytest.raises(ValueError):
        esp32_bin.encode(CsiFrame(**fields))


GOOD = frame_bytes([(1, 2)] * 64)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (GOOD[:-1], "short"),
        (GOOD[:30], "short"),
        (GOOD[:12], "short"),
        (GOOD + b"\0", "oversized"),
        (frame_bytes([(1, 2)] * 64, n_sub=65), "short"),
        (frame_bytes([], n_ant=0, n_sub=64), "corrupt"),
        (struct.pack("<I", 0xC5110002) + GOOD[4:], "foreign"),
        (b"CSI_DATA,1,2,3", "foreign"),
        (b"", "foreign"),
    ],
)
def test_bad_datagrams_are_counted_by_reason(data, reason):
    parser = esp32_bin.Parser("node", "lab")
    assert parser.feed(data, 0) == []
    assert parser.stats.skipped == {reason: 1}


def test_sequence_unwraps_and_host_time_never_goes_back():
    parser = esp32_bin.Parser("node", "lab")
    frames = []
    for seq, t in [(2**32 - 2, 100), (2**32 - 1, 90), (0, 120), (1, 130)]:
        frames += parser.feed(frame_bytes([(1, 2)] * 64, seq=seq), t)
    assert [f.sequence for f in frames] == [2**32 - 2, 2**32 - 1, 2**32, 2**32 + 1]
    assert [f.timestamp_ns for f in frames] == [100, 100, 120, 130]
    assert [f.host_time_ns for f in frames] == [100, 90, 120, 130]


def test_frames_over_a_real_udp_socket():
    rng = np.random.default_rng(12)
    sent = [make_frame(1 + i % 3, 1 + i % 2, 64, seq=i, rng=rng) for i in range(30)]
    parser = esp32_bin.Parser("node", "lab")
    got = []
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        for f in sent:
            tx.sendto(esp32_bin.encode(f), rx.getsockname())
            got += parser.feed(rx.recv(65536), 1)
    assert len(got) == 30 and all(same_payload(a, b) for a, b in zip(got, sent, strict=True))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=600),
        st.tuples(
            st.sampled_from(["flip", "truncate", "extend"]),
            st.integers(0, 400),
            st.binary(min_size=1, max_size=40),
        ),
    )
)
def test_parser_fuzz_never_raises(case):
    good = esp32_bin.encode(make_frame(2, 2, 64))
    if isinstance(case, tuple):
        op, at, extra = case
        at %= len(good)
        if op == "flip":
            data = good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1 :]
        elif op == "truncate":
            data = good[:at]
        else:
            data = good + extra
    else:
        data = case
    parser = esp32_bin.Parser("node", "lab")
    frames = parser.feed(data, 1) + parser.feed(good, 2)
    assert parser.stats.packets == 2 and parser.stats.frames == len(frames) >= 1
    assert parser.stats.skipped_total + len(frames) == 2
