"""ESP32 CSI as binary UDP frames (``format=esp32-bin``): the "ADR-018" frame many firmwares send.

Live only: these frames are sent, not stored, so this module has no ``sniff`` or
``read_file`` (and is not among the file formats); ``encode`` builds frames for tests,
the simulator and tools.

Layout, as serialised by ``csi_serialize_frame`` in the public wifi-densepose / RuView
project's ESP32 firmware (``firmware/esp32-csi-node/main/csi_collector.c``), all
little-endian, a 20-byte header then the CSI:

    0  u32 magic 0xC5110001          12  u32 sequence (per-node counter)
    4  u8  node id                   16  i8  rssi (dBm, rx_ctrl.rssi)
    5  u8  number of antennas        17  i8  noise floor (dBm, rx_ctrl.noise_floor)
    6  u16 subcarriers per antenna   18  u8  PPDU type (0 unless HE tagging is built in)
    8  u32 frequency MHz (0 unknown) 19  u8  flags (idem; not used here)
    20 n_antennas x n_subcarriers x (i8 imaginary, i8 real): ESP-IDF's CSI buffer copied
       as is (``memcpy(&buf[20], info->buf, len)``), so each pair is imaginary first.

A datagram must be exactly 20 + 2 * n_antennas * n_subcarriers bytes (shorter counts as
``short``, longer as ``oversized``); another magic is ``foreign`` (the same firmware
sends vitals, feature and sync packets with sibling magics on the same port).

Subcarriers: the header does not say which training fields the buffer holds, and that
firmware sets no secondary channel (``WIFI_SECOND_CHAN_NONE``) with LLTF, HT-LTF and
STBC-HT-LTF enabled. So a buffer of 64 * k pairs (k = 1..3) is read as ESP-IDF's
no-secondary-channel layout: k fields each in the order 0..31, -32..-1, giving
[k, n_antennas, 64] over -32..31 exactly as the ``esp32`` text format does (layer 0 the
LLTF). Any other count n is read as one FFT-ordered field (0..ceil(n/2)-1, then
-floor(n/2)..-1), reordered ascending. ``center_freq_mhz`` is the header frequency
(NaN when 0), ``bandwidth_mhz`` 20; the one RSSI is given to every antenna. The frame
carries no clock: ``timestamp_ns`` is the host receive time held non-decreasing;
``sequence`` is the 32-bit counter unwrapped.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from wdp.capture.clock import CounterClock
from wdp.capture.formats.esp32 import LAYOUTS, assemble
from wdp.capture.frame import CsiFrame
from wdp.capture.packets import PacketError, PacketParser

FORMAT = "esp32-bin"
HW_FORMAT = "esp32"
MAGIC = 0xC5110001
HEADER = struct.Struct("<IBBHIIbbBB")
HEADER_LEN = HEADER.size  # 20

_LLTF = LAYOUTS[(0, False, False, False)][0]  # 0..31, -32..-1


def field_orders(n_sub: int) -> list[np.ndarray]:
    """The subcarrier order of each field in ``n_sub`` pairs (see the module docstring)."""
    if n_sub % 64 == 0 and 1 <= n_sub // 64 <= 3:
        return [_LLTF] * (n_sub // 64)
    half = (n_sub + 1) // 2
    return [np.concatenate([np.arange(half), np.arange(half - n_sub, 0)]).astype(np.int16)]


def decode(data: bytes) -> tuple[tuple, np.ndarray, np.ndarray]:
    """One frame -> (header fields, csi [T, R, S], subcarriers [S]); raises PacketError."""
    if len(data) < 4 or struct.unpack_from("<I", data)[0] != MAGIC:
        raise PacketError("foreign", "not an ESP32 binary CSI frame (magic is not 0xC5110001)")
    if len(data) < HEADER_LEN:
        raise PacketError("short", f"ESP32 binary frame of {len(data)} bytes, header is 20")
    head = HEADER.unpack_from(data)
    n_ant, n_sub = head[2], head[3]
    expected = HEADER_LEN + 2 * n_ant * n_sub
    if n_ant == 0 or n_sub == 0:
        raise PacketError("corrupt", f"ESP32 binary frame with {n_ant} antennas x {n_sub} bins")
    if len(data) != expected:
        reason = "short" if len(data) < expected else "oversized"
        raise PacketError(
            reason, f"ESP32 binary frame of {len(data)} bytes, its header says {expected}"
        )
    pairs = np.frombuffer(data, dtype=np.int8, offset=HEADER_LEN).reshape(n_ant, n_sub, 2)
    orders = field_orders(n_sub)
    per_rx = [assemble(pairs[a], orders) for a in range(n_ant)]
    csi = np.concatenate([c for c, _ in per_rx], axis=1)
    return head, csi, per_rx[0][1]


def encode(frame: CsiFrame, *, node_id: int = 1) -> bytes:
    """A CsiFrame -> one ESP32 binary frame (the inverse of the parser).

    The frame must have the parser's shape: [k, n_rx, 64] over -32..31 (k = 1..3), or one
    layer over the subcarriers ``field_orders`` gives for its size. CSI is rounded to
    int8 (values outside -128..127 raise ValueError); NaN RSSI / noise encode as 0 and a
    NaN frequency as 0 (unknown).
    """
    n_tx, n_rx, n_sub = frame.csi.shape
    total = n_tx * n_sub if n_sub == 64 and n_tx <= 3 else n_sub
    orders = field_orders(total)
    if len(orders) != n_tx:
        raise ValueError(f"a frame of shape {frame.csi.shape} has no ESP32 binary layout")
    sub = frame.subcarriers
    if not np.array_equal(sub, np.sort(orders[0])):
        raise ValueError("subcarriers differ from the ESP32 binary layout for this size")
    pos = np.concatenate([np.searchsorted(sub, o) for o in orders])
    layer = np.repeat(np.arange(n_tx), [len(o) for o in orders])
    body = []
    for rx in range(n_rx):
        values = frame.csi[layer, rx, pos]
        iq = np.empty((len(values), 2), dtype=np.float64)
        iq[:, 0], iq[:, 1] = values.imag, values.real
        iq = np.rint(iq)
        if iq.min(initial=0) < -128 or iq.max(initial=0) > 127:
            raise ValueError("CSI does not fit int8")
        body.append(iq.astype(np.int8).tobytes())

    def i8(v: float) -> int:
        return 0 if math.isnan(v) else int(np.clip(round(v), -128, 127))

    freq = 0 if math.isnan(frame.center_freq_mhz) else int(round(frame.center_freq_mhz))
    head = HEADER.pack(
        MAGIC, node_id & 0xFF, n_rx, total, freq, frame.sequence & 0xFFFFFFFF,
        i8(float(frame.rssi_dbm[0])), i8(frame.noise_floor_dbm), 0, 0,
    )  # fmt: skip
    return head + b"".join(body)


class Parser(PacketParser):
    """Live ESP32 binary CSI frames -> one frame per datagram."""

    format = FORMAT
    hw_format = HW_FORMAT

    def __init__(self, router_id: str, environment_id: str) -> None:
        super().__init__(router_id, environment_id)
        self._clock = CounterClock(63, 1)
        self._seq = CounterClock(32, 1)

    def _parse(self, data: bytes, host_time_ns: int) -> list[CsiFrame]:
        head, csi, sub = decode(data)
        _, _node, n_ant, _, freq, seq, rssi, noise, _, _ = head
        return [
            CsiFrame(
                timestamp_ns=self._clock(host_time_ns),
                host_time_ns=host_time_ns,
                router_id=self.router_id,
                environment_id=self.environment_id,
                sequence=self._seq(seq),
                csi=csi,
                subcarriers=sub,
                rssi_dbm=np.full(n_ant, rssi, dtype=np.float32),
                noise_floor_dbm=float(noise),
                center_freq_mhz=float(freq) if freq else math.nan,
                bandwidth_mhz=20.0,
                hw_format=HW_FORMAT,
            )
        ]
