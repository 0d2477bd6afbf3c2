"""Atheros CSI Tool (ath9k, AR93xx): the ``.dat`` log and live datagrams.

The tool's ``recv_csi`` writes, per report, a u16 length L and then the L bytes the
driver handed over: a 25-byte status header, ``csi_len`` bytes of CSI and
``payload_len`` bytes of the received frame, so L = 25 + csi_len + payload_len. Every
multi-byte field is in the capturing host's byte order: little-endian on a PC,
big-endian on the MIPS routers the tool also runs on (its ``read_log_file.m`` reads
big-endian; csiread defaults to little). The order is detected from that length
identity, per file and per datagram. A live ``atheros`` datagram is one record without
its length prefix.

Header (offsets into the 25 bytes)::

     0 u64 timestamp (TSF, microseconds)   8 u16 csi_len   10 u16 channel (MHz)
    12 u8 err_info  13 u8 noise_floor  14 u8 rate  15 u8 bandWidth (0: 20, 1: 40 MHz)
    16 u8 num_tones  17 u8 nr  18 u8 nc  19 u8 rssi  20..22 u8 rssi of chains 0..2
    23 u16 payload_len

CSI bits: a little-endian bit stream of signed 10-bit numbers, per subcarrier, per
transmit antenna, per receive antenna: imaginary part, then real part. That order (rx
innermost) is the one of the tool's own readers (``read_csi.c`` for MATLAB and
``fill_csi_matrix`` in ``csi_fun.c``); csiread 1.4.1 nests the loops the other way
round (tx innermost), which swaps antenna pairs whenever nr > 1 and nc > 1.

What a frame carries, and why:

- csi: the raw 10-bit values (the tool defines no scaling), [nc, nr, num_tones].
- subcarriers: 56 tones are -28..-1, 1..28 (HT20); 114 are -58..-2, 2..58 (HT40),
  reported lowest first.
- rssi_dbm: the chain RSSIs are dB above the noise floor (ath9k's ``rs_rssi_ctl``,
  -128 = invalid -> NaN); like ath9k we add the noise floor, the header's when it is
  set and otherwise ath9k's default of -95 dBm (the tool leaves the field at 0).
- noise_floor_dbm: the header's value as signed dBm, NaN when 0 (not filled in).
- center_freq_mhz: the channel field, which the driver fills in MHz (0 -> NaN).
- timestamp_ns: the 64-bit TSF unwrapped like every counter; a TSF too large to be
  stored in nanoseconds (>= 2**63 ns) marks a corrupt record.
- sequence: the record's index in the file (or the datagram's index for a live
  parser): the header has no sequence number.
- A record with csi_len 0 is a report without CSI: counted, kept in ``raw``, no frame.
"""

from __future__ import annotations

import struct
from pathlib import Path

import attrs
import numpy as np

from wdp.capture.clock import CounterClock, unwrap_counter
from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords, read_capture_bytes
from wdp.capture.frame import CsiFrame, FrameBatch
from wdp.capture.packets import PacketError, PacketParser

FORMAT = "atheros"
HW_FORMAT = "atheros"

HEADER = 25
#: At most this many problem lines per file; the rest are summed up in one line.
MAX_PROBLEM_LINES = 20
#: ath9k's ATH_DEFAULT_NOISE_FLOOR, used when the header carries no noise floor.
DEFAULT_NOISE_FLOOR_DBM = -95
TS_BITS, TS_TICK_NS = 64, 1000
_MAX_TSF = (1 << 63) // TS_TICK_NS

SUBCARRIERS = {
    56: np.array([*range(-28, 0), *range(1, 29)], dtype=np.int16),
    114: np.array([*range(-58, -1), *range(2, 59)], dtype=np.int16),
}
_BANDWIDTH = {0: 20.0, 1: 40.0}
_SCAN_CHUNK = 1 << 16
#: Reports decoded per step: big enough for numpy, small enough for the cache.
_CHUNK = 128


def _rows(arr: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """arr[at[i] : at[i] + width] for every i, as one [N, width] array."""
    return np.lib.stride_tricks.sliding_window_view(arr, width)[at]


def _need(tones: int, nr: int, nc: int) -> int:
    """Bytes of CSI bits for one report: 20 bits per complex value."""
    return (tones * nr * nc * 20 + 7) // 8


def _u16(data: bytes, at: int, big: bool) -> int:
    return (data[at] << 8 | data[at + 1]) if big else (data[at] | data[at + 1] << 8)


def _csi_problem(data: bytes, at: int, big: bool) -> str | None:
    """Why the report whose header starts at ``at`` cannot give a frame (csi_len > 0)."""
    csi_len = _u16(data, at + 8, big)
    tones, nr, nc = data[at + 16], data[at + 17], data[at + 18]
    if tones not in SUBCARRIERS:
        return f"num_tones {tones} is neither 56 nor 114"
    if not (1 <= nr <= 3 and 1 <= nc <= 3):
        return f"impossible antenna counts nr={nr} nc={nc}"
    need = _need(tones, nr, nc)
    if csi_len < need:
        return f"csi_len {csi_len} < {need} bytes for {tones} tones x {nr} rx x {nc} tx"
    tsf = struct.unpack_from(">Q" if big else "<Q", data, at)[0]
    if tsf >= _MAX_TSF:
        return f"timestamp {tsf} us out of range"
    return None


def _framed(data: bytes, p: int, big: bool) -> int:
    """L if the record at ``p`` (length prefix) is complete and self-consistent, else -1."""
    n = len(data)
    if p + 2 + HEADER > n:
        return -1
    length = _u16(data, p, big)
    if p + 2 + length > n or length != HEADER + _u16(data, p + 10, big) + _u16(data, p + 25, big):
        return -1
    return length


def _u16v(arr: np.ndarray, at: np.ndarray, big: bool) -> np.ndarray:
    hi, lo = (at, at + 1) if big else (at + 1, at)
    return arr[hi].astype(np.int64) << 8 | arr[lo]


def _resync(data: bytes, arr: np.ndarray, start: int, big: bool) -> int:
    """Offset of the next complete, valid CSI record at or after ``start``; -1 if none."""
    n = arr.shape[0]
    a, chunk = start, _SCAN_CHUNK
    while a + 2 + HEADER <= n:
        b = min(n - 2 - HEADER + 1, a + chunk)
        chunk = min(chunk * 2, 64 * _SCAN_CHUNK)  # near damage first, then big strides
        q = np.arange(a, b, dtype=np.int64)
        length = _u16v(arr, q, big)
        csi_len = _u16v(arr, q + 10, big)
        ok = (length == HEADER + csi_len + _u16v(arr, q + 25, big)) & (q + 2 + length <= n)
        ok &= csi_len > 0
        tones, nr, nc = arr[q + 18], arr[q + 19], arr[q + 20]
        ok &= ((tones == 56) | (tones == 114)) & (nr >= 1) & (nr <= 3) & (nc >= 1) & (nc <= 3)
        ok &= csi_len * 8 >= tones.astype(np.int64) * nr * nc * 20
        for hit in np.flatnonzero(ok).tolist():
            if _csi_problem(data, a + hit + 2, big) is None:
                return a + hit
        a = b
    return -1


_FRAME, _OTHER, _CORRUPT = 0, 1, 2


@attrs.define(slots=True)
class _Walk:
    starts: list[int] = attrs.field(factory=list)  # length-prefix offset per framed record
    lengths: list[int] = attrs.field(factory=list)
    kinds: list[int] = attrs.field(factory=list)
    damaged: int = 0
    problems: list[str] = attrs.field(factory=list)


def _walk(data: bytes, arr: np.ndarray, big: bool) -> _Walk:
    """Record by record; after damage, resume at the next valid CSI record."""
    n = len(data)
    w = _Walk()
    p = 0
    while p < n:
        length = _framed(data, p, big)
        if length >= 0:
            w.starts.append(p)
            w.lengths.append(length)
            if _u16(data, p + 10, big) == 0:
                w.kinds.append(_OTHER)
            else:
                why = _csi_problem(data, p + 2, big)
                if why is None:
                    w.kinds.append(_FRAME)
                else:
                    w.kinds.append(_CORRUPT)
                    w.problems.append(f"byte {p}: corrupt CSI record ({why}); skipped")
            p += 2 + length
            continue
        w.damaged += 1
        q = _resync(data, arr, p + 1, big)
        if q >= 0:
            w.problems.append(
                f"byte {p}: corrupt record (length field {_u16(data, p, big)}); "
                f"skipped {q - p} bytes to the next valid record at byte {q}"
            )
            p = q
            continue
        if p + 2 + HEADER > n:
            w.problems.append(f"byte {p}: truncated record ({n - p} bytes at end of file); skipped")
        else:
            declared = _u16(data, p, big)
            if p + 2 + declared > n:
                w.problems.append(
                    f"byte {p}: truncated record (length field says {declared} bytes, "
                    f"{n - p - 2} present); skipped"
                )
            else:
                w.problems.append(
                    f"byte {p}: corrupt record (length field {declared}); "
                    f"last {n - p} bytes skipped"
                )
        break
    return w


def _byte_order(data: bytes, arr: np.ndarray) -> bool | None:
    """True for big-endian, False for little; None if no record is found either way."""
    for big in (False, True):
        if _framed(data, 0, big) >= 0:
            return big
    found = [(q, big) for big in (False, True) if (q := _resync(data, arr, 0, big)) >= 0]
    return min(found)[1] if found else None


@attrs.frozen(slots=True, eq=False)
class _Reports:
    timestamp: np.ndarray  # int64 [N] TSF, microseconds
    csi: np.ndarray  # complex64 [N, T, R, S]
    shape: np.ndarray  # uint16 [N, 3]
    subcarriers: np.ndarray  # int16 [N, S]
    rssi_dbm: np.ndarray  # float32 [N, R]
    noise_floor_dbm: np.ndarray
    center_freq_mhz: np.ndarray
    bandwidth_mhz: np.ndarray


def _csi_values(arr: np.ndarray, at: np.ndarray, s: int, r: int, t: int) -> np.ndarray:
    """The CSI bits at ``arr[at]`` as complex64 [n, t, r, s] (tx, rx, tone)."""
    # 56 and 114 tones give a multiple of 4 numbers: every 5 bytes hold 4 of them.
    need = _need(s, r, t)
    block = _rows(arr, at, need).reshape(at.shape[0], need // 5, 5)
    b = [block[..., i].astype(np.uint16) for i in range(5)]
    v = np.empty(block.shape[:2] + (4,), dtype=np.uint16)
    v[..., 0] = b[0] | (b[1] & 0x03) << 8
    v[..., 1] = b[1] >> 2 | (b[2] & 0x0F) << 6
    v[..., 2] = b[2] >> 4 | (b[3] & 0x3F) << 4
    v[..., 3] = b[3] >> 6 | b[4] << 2
    v = v.view(np.int16).reshape(at.shape[0], -1)
    v -= (v & 0x200) << 1  # sign of the 10-bit numbers
    vals = np.empty((at.shape[0], s * t * r), dtype=np.complex64)
    vals.imag = v[:, 0::2]
    vals.real = v[:, 1::2]
    return vals.reshape(-1, s, t, r).transpose(0, 2, 3, 1)


def _decode(arr: np.ndarray, at: np.ndarray, big: bool) -> _Reports:
    """Decode valid CSI reports whose headers start at ``arr[at]``."""
    n = at.shape[0]
    h = _rows(arr, at, HEADER)
    order = ">" if big else "<"
    ts = np.ascontiguousarray(h[:, 0:8]).view(order + "u8").ravel().astype(np.int64)
    channel = np.ascontiguousarray(h[:, 10:12]).view(order + "u2").ravel()
    noise_code = h[:, 13].view(np.int8)
    bw = h[:, 15]
    tones = h[:, 16].astype(np.int64)
    nr, nc = h[:, 17].astype(np.int64), h[:, 18].astype(np.int64)

    t_max, r_max, s_max = int(nc.max()), int(nr.max()), int(tones.max())
    csi = np.zeros((n, t_max, r_max, s_max), dtype=np.complex64)
    subcarriers = np.zeros((n, s_max), dtype=np.int16)
    kind = (tones * 4 + nr) * 4 + nc
    kinds = kind[:1] if np.all(kind == kind[0]) else np.unique(kind)
    for k in kinds.tolist():
        s, r, t = k // 16, (k // 4) % 4, k % 4
        rows = np.flatnonzero(kind == k) if kinds.shape[0] > 1 else np.arange(n)
        for lo in range(0, rows.shape[0], _CHUNK):  # chunks keep the temporaries in cache
            part = rows[lo : lo + _CHUNK]
            csi[part, :t, :r, :s] = _csi_values(arr, at[part] + HEADER, s, r, t)
        subcarriers[rows, :s] = SUBCARRIERS[s]

    noise = noise_code.astype(np.float32)
    noise[noise_code == 0] = np.nan
    floor = np.where(noise_code == 0, DEFAULT_NOISE_FLOOR_DBM, noise_code).astype(np.float32)
    chain = h[:, 20:23].view(np.int8)
    rssi = chain.astype(np.float32) + floor[:, None]
    rssi[(chain == -128) | (np.arange(3)[None, :] >= nr[:, None])] = np.nan
    freq = channel.astype(np.float32)
    freq[channel == 0] = np.nan
    bandwidth = np.full(n, np.nan, dtype=np.float32)
    for code, mhz in _BANDWIDTH.items():
        bandwidth[bw == code] = mhz
    return _Reports(
        timestamp=ts,
        csi=csi,
        shape=np.stack([nc, nr, tones], axis=1).astype(np.uint16),
        subcarriers=subcarriers,
        rssi_dbm=np.ascontiguousarray(rssi[:, :r_max]),
        noise_floor_dbm=noise,
        center_freq_mhz=freq,
        bandwidth_mhz=bandwidth,
    )


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEM_LINES:
        return problems
    extra = len(problems) - MAX_PROBLEM_LINES
    return problems[:MAX_PROBLEM_LINES] + [f"... and {extra} more problems"]


def sniff(head: bytes) -> bool:
    """True if ``head`` starts with self-consistent Atheros CSI Tool records."""
    for big in (False, True):
        p = 0
        for _ in range(4):
            if p + 2 + HEADER > len(head):
                break
            length = _u16(head, p, big)
            csi_len = _u16(head, p + 10, big)
            if length != HEADER + csi_len + _u16(head, p + 25, big):
                break
            if csi_len:
                if _csi_problem(head, p + 2, big) is None:
                    return True
                break
            p += 2 + length
    return False


def read_file(path: str | Path, *, router_id: str, environment_id: str) -> FileImport:
    """Import an Atheros CSI Tool log: every valid report before and after any damage."""
    path = Path(path)
    data = read_capture_bytes(path)
    arr = np.frombuffer(data, dtype=np.uint8)
    big = _byte_order(data, arr)
    not_ours = f"{path}: no Atheros CSI Tool records found; not an Atheros CSI Tool log?"
    if big is None:
        raise CaptureFileError(not_ours)
    w = _walk(data, arr, big)
    starts = np.array(w.starts, dtype=np.int64)
    lengths = np.array(w.lengths, dtype=np.int64)
    kinds = np.array(w.kinds, dtype=np.int8)
    index = np.flatnonzero(kinds == _FRAME)
    if index.shape[0] == 0:
        raise CaptureFileError(not_ours)
    rep = _decode(arr, starts[index] + 2, big)
    n = index.shape[0]
    batch = FrameBatch(
        router_id=router_id,
        environment_id=environment_id,
        hw_format=HW_FORMAT,
        timestamp_ns=unwrap_counter(rep.timestamp, TS_BITS, TS_TICK_NS),
        host_time_ns=np.zeros(n, dtype=np.int64),
        sequence=index.astype(np.int64),
        csi=rep.csi,
        shape=rep.shape,
        subcarriers=rep.subcarriers,
        rssi_dbm=rep.rssi_dbm,
        noise_floor_dbm=rep.noise_floor_dbm,
        center_freq_mhz=rep.center_freq_mhz,
        bandwidth_mhz=rep.bandwidth_mhz,
    )
    offsets = np.zeros(starts.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    mv = memoryview(data)
    raw = RawRecords(
        b"".join(mv[s + 2 : s + 2 + ln] for s, ln in zip(w.starts, w.lengths, strict=True)),
        offsets,
        np.zeros(starts.shape[0], dtype=np.int64),
    )
    corrupt = int(np.count_nonzero(kinds == _CORRUPT))
    return FileImport(
        format=FORMAT,
        batch=batch,
        raw=raw,
        records=int(starts.shape[0]) + w.damaged,
        skipped=corrupt + w.damaged,
        problems=_capped(w.problems),
    )


def encode_record(
    csi: np.ndarray,
    *,
    timestamp: int = 0,
    channel: int = 2437,
    bandwidth: int = 0,
    noise_floor: int = 0,
    rate: int = 0x8F,
    rssi: tuple[int, int, int, int] = (50, 40, 40, 40),
    payload: bytes = b"",
    big: bool = False,
) -> bytes:
    """One record as the tool's driver hands it over (header + CSI + payload, no prefix).

    ``csi`` holds the raw integer values, complex [nc, nr, tones] (a frame's layout) with
    parts in -512..511. The inverse of the parser, for synthetic captures and replay.
    """
    nc, nr, tones = csi.shape
    if tones not in SUBCARRIERS or not (1 <= nr <= 3 and 1 <= nc <= 3):
        raise ValueError(f"csi must be [1..3, 1..3, 56 or 114], got {csi.shape}")
    bits = 0
    stream = np.asarray(csi).transpose(2, 0, 1).ravel()  # per tone, per tx, per rx
    for v, value in enumerate(stream.tolist()):
        bits |= (int(value.imag) & 0x3FF) << (20 * v) | (int(value.real) & 0x3FF) << (20 * v + 10)
    csi_bytes = bits.to_bytes(_need(tones, nr, nc), "little")
    order = ">" if big else "<"
    header = struct.pack(
        order + "QHHBBBBBBBBBBBH",
        timestamp,
        len(csi_bytes),
        channel,
        0,
        noise_floor & 0xFF,
        rate,
        bandwidth,
        tones,
        nr,
        nc,
        *(v & 0xFF for v in rssi),
        len(payload),
    )
    return header + csi_bytes + payload


def file_record(datagram: bytes, *, big: bool = False) -> bytes:
    """A datagram as a ``.dat`` record: length prefix in the file's byte order + the bytes."""
    return len(datagram).to_bytes(2, "big" if big else "little") + datagram


class Parser(PacketParser):
    """One Atheros CSI Tool record per datagram (header + CSI + payload, no prefix).

    The byte order is taken from the length identity of each datagram, preferring the
    order of the last good one; ``sequence`` is the datagram's index since the parser
    was made.
    """

    format = FORMAT
    hw_format = HW_FORMAT

    def __init__(self, router_id: str, environment_id: str) -> None:
        super().__init__(router_id, environment_id)
        self._clock = CounterClock(TS_BITS, TS_TICK_NS)
        self._big = False

    def _parse(self, data: bytes, host_time_ns: int) -> list[CsiFrame]:
        index = self.stats.packets - 1
        n = len(data)
        if n < HEADER:
            raise PacketError("short", f"{n}-byte datagram, the header alone has {HEADER}")
        totals = {big: HEADER + _u16(data, 8, big) + _u16(data, 23, big) for big in (False, True)}
        for big in (self._big, not self._big):
            if totals[big] == n:
                break
        else:
            if min(totals.values()) > n:
                raise PacketError("short", f"{n}-byte datagram, its header says {totals[False]}")
            raise PacketError("corrupt", f"{n}-byte datagram, its header says {totals[False]}")
        if _u16(data, 8, big) == 0:
            self._big = big
            return []
        why = _csi_problem(data, 0, big)
        if why is not None:
            raise PacketError("corrupt", why)
        self._big = big
        rep = _decode(np.frombuffer(data, dtype=np.uint8), np.zeros(1, dtype=np.int64), big)
        t, r, s = (int(v) for v in rep.shape[0])
        return [
            CsiFrame(
                timestamp_ns=self._clock(int(rep.timestamp[0])),
                host_time_ns=host_time_ns,
                router_id=self.router_id,
                environment_id=self.environment_id,
                sequence=index,
                csi=rep.csi[0, :t, :r, :s],
                subcarriers=rep.subcarriers[0, :s],
                rssi_dbm=rep.rssi_dbm[0, :r],
                noise_floor_dbm=float(rep.noise_floor_dbm[0]),
                center_freq_mhz=float(rep.center_freq_mhz[0]),
                bandwidth_mhz=float(rep.bandwidth_mhz[0]),
                hw_format=HW_FORMAT,
            )
        ]
