"""Intel 5300 (Linux 802.11n CSI Tool): the ``.dat`` log and live datagrams.

The log (``log_to_file.c``, read by the tool's ``read_bf_file.m``) is a sequence of
records: a big-endian u16 length L, then L bytes: one code byte and L-1 bytes of body.
Code 0xbb is a beamforming report ("bfee") carrying CSI. Every other code (0xc1 is the
received MPDU) is a record without CSI: counted, kept in ``raw``, not a frame, not an
error. A live ``intel5300`` datagram is one record without its length prefix.

The bfee body (little-endian, the tool's ``read_bfee.c``)::

     0 u32 timestamp_low   4 u16 bfee_count   6 u16 reserved
     8 u8 Nrx   9 u8 Ntx  10 u8 rssi_a  11 u8 rssi_b  12 u8 rssi_c
    13 i8 noise  14 u8 agc  15 u8 antenna_sel  16 u16 len  18 u16 rate_n_flags
    20 CSI: per subcarrier 3 skipped bits, then Nrx*Ntx (rx outer, tx inner) signed
       8-bit real and imaginary parts, packed least significant bit first.

What a frame carries, and why:

- csi is the *scaled* CSI of the tool's ``get_scaled_csi.m`` (the raw integers are in
  an arbitrary per-packet AGC reference; scaled values are comparable across packets),
  with the receive-chain permutation of ``read_bf_file.m`` applied. The tool applies
  ``antenna_sel`` only when it passes a sum check; we apply it whenever
  ``perm[:Nrx]`` is a true permutation of the Nrx chains (for Nrx = 3 the two rules
  agree whenever antenna_sel holds a permutation; for Nrx = 2 the tool's check can
  never pass, while csiread applies the permutation; we follow its meaning). A report whose
  CSI is all zero stays zero instead of becoming NaN.
- The shape is each frame's own (Ntx, Nrx, 30): Ntx varies frame by frame.
- subcarriers are the 30 grouped indices of 802.11n: Ng = 2 at 20 MHz, Ng = 4 at
  40 MHz, chosen by the HT40 bit (0x800) of rate_n_flags, which also gives bandwidth.
- rssi_dbm[i] = rssi_{a,b,c}[i] - 44 - agc for the Nrx chains (0 means not measured:
  NaN); noise_floor_dbm is the noise byte, -127 (not measured) -> NaN.
- timestamp_ns unwraps the 32-bit microsecond timestamp_low; sequence unwraps the
  16-bit bfee_count. The record has no centre frequency: NaN. Files carry no host time.

csiread is the reference the tests compare against, not the parser: its reader stops
at the first damaged record (everything after it is lost), raises when a report has
more chains than its buffer, and its ``pmsg`` reads fixed offsets past the end of a
short datagram. Decoding here is vectorised numpy over validated records, so it also
runs at array speed.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import attrs
import numpy as np

from wdp.capture.clock import CounterClock, unwrap_counter
from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords, read_capture_bytes
from wdp.capture.frame import CsiFrame, FrameBatch
from wdp.capture.packets import PacketError, PacketParser

FORMAT = "intel5300"
HW_FORMAT = "intel5300"

CODE_BFEE = 0xBB
CODE_MPDU = 0xC1

N_SUB = 30
#: bfee header bytes after the code byte.
_HDR = 20
#: Bytes from a record's code byte to its CSI bits.
_CSI_OFF = 1 + _HDR
#: Reports decoded per step: big enough for numpy, small enough for the cache.
_CHUNK = 256
#: Bytes scanned per step for report candidates (small temporaries stay in cache).
_SCAN = 1 << 16
#: At most this many problem lines per file; the rest are summed up in one line.
MAX_PROBLEM_LINES = 20
#: timestamp_low is a 32-bit microsecond counter; bfee_count a 16-bit count.
TS_BITS, TS_TICK_NS = 32, 1000
SEQ_BITS = 16

SUBCARRIERS_20 = np.array([*range(-28, -1, 2), -1, *range(1, 28, 2), 28], dtype=np.int16)
SUBCARRIERS_40 = np.array([*range(-58, -1, 4), *range(2, 59, 4)], dtype=np.int16)
_HT40 = 0x800


def _calc_len(nrx: int, ntx: int) -> int:
    """Bytes of CSI bits for one report (``calc_len`` in read_bfee.c)."""
    return (N_SUB * (nrx * ntx * 16 + 3) + 7) // 8


#: _CALC[nrx, ntx]: CSI byte count for valid chain counts (1..3), 0 for invalid ones.
_CALC = np.zeros((256, 256), dtype=np.int64)
for _r in (1, 2, 3):
    for _t in (1, 2, 3):
        _CALC[_r, _t] = _calc_len(_r, _t)

# Per-byte lookup tables keep the scaling exact and identical for one record or many.
_DBINV_RSSI = np.array([0.0] + [10.0 ** (v / 10.0) for v in range(1, 256)])
_AGC_GAIN = np.array([10.0 ** ((-44.0 - v) / 10.0) for v in range(256)])
_NOISE_DBM = [v - 256 if v > 127 else v for v in range(256)]  # the noise byte is signed
# get_scaled_csi.m takes -92 dBm of thermal noise when the card reports -127 (unknown).
_NOISE_PWR = np.array([10.0 ** ((-92 if v == -127 else v) / 10.0) for v in _NOISE_DBM])
_NTX_GAIN = np.array([1.0, 1.0, math.sqrt(2.0), math.sqrt(10.0**0.45)])


def _perm_key(nrx: int, sel: int) -> int:
    """The receive permutation applied to a report: antenna_sel's low bits if they hold a
    permutation of the Nrx chains (chain j goes to antenna perm[j]), 0 for the identity
    and for anything that is not a permutation (left as received)."""
    perm = [(sel >> (2 * j)) & 3 for j in range(nrx)]
    if sorted(perm) != list(range(nrx)) or perm == sorted(perm):
        return 0
    return sum(d << (2 * j) for j, d in enumerate(perm))


#: _PERM_KEY[nrx, antenna_sel & 0x3f] -> canonical permutation code.
_PERM_KEY = np.array([[_perm_key(r, sel) for sel in range(64)] for r in range(4)], np.int64)

_LAYOUTS: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}


def _layout(nrx: int, ntx: int, perm_key: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte index and bit shift of every real part, in output (tx, rx, subcarrier) order.

    Output receive index d is fed by chain j with perm[j] = d, so gathering through
    this layout decodes, permutes and transposes in one step.
    """
    key = (nrx, ntx, perm_key)
    if key not in _LAYOUTS:
        m = nrx * ntx
        perm = [(perm_key >> (2 * j)) & 3 for j in range(nrx)] if perm_key else list(range(nrx))
        chain = np.argsort(perm)  # chain[d]: the chain that lands on antenna d
        k = np.arange(ntx)[:, None, None]
        j = chain[None, :, None]
        i = np.arange(N_SUB)[None, None, :]
        bits = (i * (3 + 16 * m) + 3 + 16 * (j * ntx + k)).ravel()
        _LAYOUTS[key] = (bits >> 3, (bits & 7).astype(np.uint16))
    return _LAYOUTS[key]


@attrs.frozen(slots=True, eq=False)
class _Reports:
    """Decoded columns of N valid bfee records (csi padded to the largest shape)."""

    timestamp_low: np.ndarray  # int64 [N]
    bfee_count: np.ndarray  # int64 [N]
    csi: np.ndarray  # complex64 [N, T, R, 30]
    shape: np.ndarray  # uint16 [N, 3]
    subcarriers: np.ndarray  # int16 [N, 30]
    rssi_dbm: np.ndarray  # float32 [N, R]
    noise_floor_dbm: np.ndarray  # float32 [N]
    bandwidth_mhz: np.ndarray  # float32 [N]


def _bfee_problem(buf: bytes | np.ndarray, at: int, length: int) -> str | None:
    """Why the 0xbb record whose code byte is at ``at`` (``length`` bytes) is unusable."""
    if length < _CSI_OFF:
        return f"{length} bytes, shorter than the {_CSI_OFF}-byte report header"
    nrx, ntx = int(buf[at + 9]), int(buf[at + 10])
    calc = int(_CALC[nrx, ntx])
    if not calc:
        return f"impossible chain counts Nrx={nrx} Ntx={ntx}"
    declared = int(buf[at + 17]) | int(buf[at + 18]) << 8
    if declared != calc:
        return f"CSI size field {declared} does not match Nrx={nrx} Ntx={ntx} ({calc})"
    if length != _CSI_OFF + calc:
        return f"record of {length} bytes, a {nrx}x{ntx} report has {_CSI_OFF + calc}"
    return None


def _rows(buf: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """buf[at[i] : at[i] + width] for every i, as one [N, width] array."""
    return np.lib.stride_tricks.sliding_window_view(buf, width)[at]


def _fill_csi(
    buf: np.ndarray,
    at: np.ndarray,
    group: np.ndarray,
    rssi_pwr: np.ndarray,
    thermal: np.ndarray,
    out: np.ndarray,
) -> None:
    """Decode, scale, permute and write the CSI of reports ``at`` into ``out`` [n, T, R, 30]."""
    n = at.shape[0]
    keys = group[:1] if np.all(group == group[0]) else np.unique(group)
    for key in keys.tolist():
        r, t, pk = key // 256, (key // 64) % 4, key % 64
        whole = keys.shape[0] == 1
        rows = np.arange(n) if whole else np.flatnonzero(group == key)
        bi, sh = _layout(r, t, pk)
        block = _rows(buf, at[rows] + _CSI_OFF, int(_CALC[r, t]))
        b0, b1, b2 = (block[:, bi + d].astype(np.uint16) for d in range(3))
        re = ((b0 >> sh) | (b1 << (8 - sh))).astype(np.uint8).view(np.int8)
        im = ((b1 >> sh) | (b2 << (8 - sh))).astype(np.uint8).view(np.int8)
        re32, im32 = re.astype(np.int32), im.astype(np.int32)
        csi_pwr = (re32 * re32 + im32 * im32).sum(axis=1).astype(np.float64)
        scale = np.divide(
            rssi_pwr[rows] * N_SUB, csi_pwr, out=np.zeros_like(csi_pwr), where=csi_pwr > 0
        )
        factor = (np.sqrt(scale / (thermal[rows] + scale * (r * t))) * _NTX_GAIN[t])[:, None]
        direct = whole and out.shape[1:3] == (t, r)  # write straight into ``out``
        if direct:
            pairs = out.reshape(n, -1).view(np.float32).reshape(n, -1, 2)
        else:
            pairs = np.empty(re.shape + (2,), dtype=np.float32)
        pairs[..., 0] = re * factor
        pairs[..., 1] = im * factor
        if not direct:
            out[rows, :t, :r, :] = pairs.view(np.complex64).reshape(-1, t, r, N_SUB)


def _decode(buf: np.ndarray, at: np.ndarray) -> _Reports:
    """Decode valid bfee records whose code bytes sit at ``buf[at]`` (validated before)."""
    n = at.shape[0]
    h = _rows(buf, at + 1, _HDR)  # [N, 20] header after the code byte
    h64 = h.astype(np.int64)
    ts = h64[:, 0] | h64[:, 1] << 8 | h64[:, 2] << 16 | h64[:, 3] << 24
    count = h64[:, 4] | h64[:, 5] << 8
    nrx, ntx = h64[:, 8], h64[:, 9]
    rate = h64[:, 18] | h64[:, 19] << 8
    agc = h[:, 14]
    noise_code = h[:, 13]

    # get_scaled_csi: scale = rssi power / mean CSI power per subcarrier, corrected for
    # thermal noise and the quantisation error, with the Ntx power-split gain.
    rssi_mag = _DBINV_RSSI[h[:, 10]] + _DBINV_RSSI[h[:, 11]] + _DBINV_RSSI[h[:, 12]]
    rssi_pwr = rssi_mag * _AGC_GAIN[agc]
    thermal = _NOISE_PWR[noise_code]

    t_max, r_max = int(ntx.max()), int(nrx.max())
    group = (nrx * 4 + ntx) * 64 + _PERM_KEY[nrx, h64[:, 15] & 0x3F]
    full = bool(np.all((nrx == r_max) & (ntx == t_max)))
    csi = (np.empty if full else np.zeros)((n, t_max, r_max, N_SUB), dtype=np.complex64)
    for lo in range(0, n, _CHUNK):  # chunks keep the temporaries in cache
        hi = min(n, lo + _CHUNK)
        _fill_csi(buf, at[lo:hi], group[lo:hi], rssi_pwr[lo:hi], thermal[lo:hi], csi[lo:hi])

    ht40 = (rate & _HT40) != 0
    subcarriers = np.where(ht40[:, None], SUBCARRIERS_40, SUBCARRIERS_20).astype(np.int16)
    rssi = h[:, 10:13].astype(np.float32) - 44.0 - agc[:, None].astype(np.float32)
    rssi[(h[:, 10:13] == 0) | (np.arange(3)[None, :] >= nrx[:, None])] = np.nan
    noise = noise_code.view(np.int8).astype(np.float32)
    noise[noise == -127] = np.nan
    shape = np.stack([ntx, nrx, np.full(n, N_SUB)], axis=1).astype(np.uint16)
    return _Reports(
        timestamp_low=ts,
        bfee_count=count,
        csi=csi,
        shape=shape,
        subcarriers=subcarriers,
        rssi_dbm=np.ascontiguousarray(rssi[:, :r_max]),
        noise_floor_dbm=noise,
        bandwidth_mhz=np.where(ht40, 40.0, 20.0).astype(np.float32),
    )


# --- files -------------------------------------------------------------------------

_FRAME, _OTHER, _CORRUPT = 0, 1, 2


@attrs.define(slots=True)
class _Walk:
    """Where the records of a file are and what was wrong with the rest."""

    starts: np.ndarray  # int64: offset of each framed record's length prefix
    lengths: np.ndarray  # int64: its length field L (code byte + body)
    kinds: np.ndarray  # int8: _FRAME / _OTHER / _CORRUPT
    damaged: int = 0  # unframed damaged stretches (each counted as one skipped record)
    problems: list[str] = attrs.field(factory=list)


def _anchors(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and lengths of every place that holds a complete, valid bfee record.

    These are the points the walk trusts: a valid report fixes its own length through
    Nrx, Ntx and the CSI size field, so a damaged length field elsewhere can be
    stepped over by resuming at the next one.
    """
    n = arr.shape[0]
    if n < 2 + _CSI_OFF:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    last = n - _CSI_OFF + 1  # candidates q < last have a whole header
    q = np.concatenate(
        [
            np.flatnonzero(arr[lo + 2 : min(lo + _SCAN, last) + 2] == CODE_BFEE) + lo
            for lo in range(0, last, _SCAN)
        ]
    ).astype(np.int64)
    length = arr[q].astype(np.int64) << 8 | arr[q + 1]
    calc = _CALC[arr[q + 11], arr[q + 12]]
    declared = arr[q + 19].astype(np.int64) | arr[q + 20].astype(np.int64) << 8
    ok = (calc > 0) & (declared == calc) & (length == _CSI_OFF + calc) & (q + 2 + length <= n)
    return q[ok], length[ok]


def _walk(data: bytes, arr: np.ndarray) -> _Walk:
    n = arr.shape[0]
    a, la = _anchors(arr)
    e = a + 2 + la
    # Fast path: between consecutive reports there is nothing or exactly one record of
    # another code (the usual 0xbb / 0xc1 interleave), and the file ends cleanly.
    gs = np.concatenate(([0], e))
    ge = np.concatenate((a, [n]))
    if a.shape[0] and np.all(gs <= ge):
        gi = np.flatnonzero(ge > gs)
        s = gs[gi]
        fits = s + 3 <= n
        sc = np.where(fits, s, 0)
        lg = arr[sc].astype(np.int64) << 8 | arr[sc + 1]
        single = fits & (lg >= 1) & (s + 2 + lg == ge[gi]) & (arr[sc + 2] != CODE_BFEE)
        if single.all():
            starts = np.concatenate((a, s))
            lengths = np.concatenate((la, lg))
            kinds = np.concatenate(
                (np.full(a.shape, _FRAME, np.int8), np.full(s.shape, _OTHER, np.int8))
            )
            order = np.argsort(starts, kind="stable")
            return _Walk(starts[order], lengths[order], kinds[order])
    return _walk_slow(data, a, e)


def _walk_slow(data: bytes, a: np.ndarray, e: np.ndarray) -> _Walk:
    """Record by record, resuming at the next valid report after any damage."""
    n = len(data)
    anchors, ends = a.tolist(), e.tolist()
    m = len(anchors)
    recs: list[tuple[int, int, int]] = []
    problems: list[str] = []
    damaged = 0
    p = i = 0
    while p < n:
        while i < m and anchors[i] < p:
            i += 1
        if i < m and anchors[i] == p:
            recs.append((p, ends[i] - p - 2, _FRAME))
            p = ends[i]
            i += 1
            continue
        target = anchors[i] if i < m else n
        chain: list[tuple[int, int]] = []
        q = p
        while q < target and q + 3 <= n:
            length = data[q] << 8 | data[q + 1]
            if length == 0 or q + 2 + length > target:
                break
            chain.append((q, length))
            q += 2 + length
        # Keep the chained records when the chain reaches the next report, or breaks at
        # something that looks like a record start (a truncated or damaged record
        # rather than a wrong length earlier on); report the damage from there.
        if q == target or q + 3 > n or data[q + 2] in (CODE_BFEE, CODE_MPDU):
            for s, length in chain:
                if data[s + 2] == CODE_BFEE:
                    why = _bfee_problem(data, s + 2, length)
                    problems.append(f"byte {s}: corrupt 0xbb record ({why}); skipped")
                    recs.append((s, length, _CORRUPT))
                else:
                    recs.append((s, length, _OTHER))
            bad = q
        else:
            bad = p
        if bad != target:
            damaged += 1
            problems.append(_damage(data, bad, target))
        p = target
    if recs:
        arr = np.array(recs, dtype=np.int64)
        starts, lengths, kinds = arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int8)
    else:
        starts = lengths = np.zeros(0, np.int64)
        kinds = np.zeros(0, np.int8)
    return _Walk(starts, lengths, kinds, damaged=damaged, problems=problems)


def _damage(data: bytes, at: int, target: int) -> str:
    """One line on the unreadable stretch [at, target) (target = end of file or a report)."""
    n = len(data)
    left = target - at
    if at + 3 > n:
        return f"byte {at}: truncated record header ({n - at} of 3 bytes); skipped"
    length = data[at] << 8 | data[at + 1]
    if target == n:
        if length and at + 2 + length > n:
            return (
                f"byte {at}: truncated record (length field says {length} bytes, "
                f"{n - at - 2} present); skipped"
            )
        return f"byte {at}: corrupt record (length field {length}); last {left} bytes skipped"
    return (
        f"byte {at}: corrupt record (length field {length}); skipped {left} bytes "
        f"to the next valid report at byte {target}"
    )


def _raw_records(data: bytes, walk: _Walk) -> RawRecords:
    """Each framed record as a datagram (code byte + body), as the live parser takes it."""
    offsets = np.zeros(walk.starts.shape[0] + 1, dtype=np.int64)
    np.cumsum(walk.lengths, out=offsets[1:])
    mv = memoryview(data)
    raw = b"".join(
        [
            mv[s + 2 : s + 2 + length]
            for s, length in zip(walk.starts.tolist(), walk.lengths.tolist(), strict=True)
        ]
    )
    return RawRecords(raw, offsets, np.zeros(walk.starts.shape[0], dtype=np.int64))


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEM_LINES:
        return problems
    extra = len(problems) - MAX_PROBLEM_LINES
    return problems[:MAX_PROBLEM_LINES] + [f"... and {extra} more problems"]


def sniff(head: bytes) -> bool:
    """True if ``head`` starts with CSI Tool records leading to a valid 0xbb report."""
    p = 0
    for _ in range(8):
        if p + 3 > len(head):
            return False
        length = head[p] << 8 | head[p + 1]
        if length == 0:
            return False
        if head[p + 2] == CODE_BFEE:
            return p + 2 + _CSI_OFF <= len(head) and _bfee_problem(head, p + 2, length) is None
        p += 2 + length
    return False


def read_file(path: str | Path, *, router_id: str, environment_id: str) -> FileImport:
    """Import a CSI Tool ``.dat`` log: every valid report before and after any damage."""
    path = Path(path)
    data = read_capture_bytes(path)
    arr = np.frombuffer(data, dtype=np.uint8)
    walk = _walk(data, arr)
    frame_starts = walk.starts[walk.kinds == _FRAME]
    if frame_starts.shape[0] == 0:
        raise CaptureFileError(
            f"{path}: no Intel 5300 CSI reports (0xbb records) found; "
            "not a Linux 802.11n CSI Tool log?"
        )
    rep = _decode(arr, frame_starts + 2)
    n = frame_starts.shape[0]
    batch = FrameBatch(
        router_id=router_id,
        environment_id=environment_id,
        hw_format=HW_FORMAT,
        timestamp_ns=unwrap_counter(rep.timestamp_low, TS_BITS, TS_TICK_NS),
        host_time_ns=np.zeros(n, dtype=np.int64),
        sequence=unwrap_counter(rep.bfee_count, SEQ_BITS, 1),
        csi=rep.csi,
        shape=rep.shape,
        subcarriers=rep.subcarriers,
        rssi_dbm=rep.rssi_dbm,
        noise_floor_dbm=rep.noise_floor_dbm,
        center_freq_mhz=np.full(n, np.nan, dtype=np.float32),
        bandwidth_mhz=rep.bandwidth_mhz,
    )
    corrupt = int(np.count_nonzero(walk.kinds == _CORRUPT))
    return FileImport(
        format=FORMAT,
        batch=batch,
        raw=_raw_records(data, walk),
        records=int(walk.starts.shape[0]) + walk.damaged,
        skipped=corrupt + walk.damaged,
        problems=_capped(walk.problems),
    )


def encode_bfee(
    csi: np.ndarray,
    *,
    timestamp_low: int = 0,
    bfee_count: int = 0,
    rssi: tuple[int, int, int] = (40, 40, 40),
    noise: int = -127,
    agc: int = 40,
    antenna_sel: int = 0b100100,
    rate: int = 0x101,
) -> bytes:
    """One 0xbb record as the CSI Tool sends it (code byte + body, no length prefix).

    ``csi`` holds the raw integer values in chain order, complex [30, Nrx, Ntx] with
    parts in -128..127. The inverse of the parser, for synthetic captures and replay.
    """
    n_sub, nrx, ntx = csi.shape
    calc = int(_CALC[nrx, ntx])
    if n_sub != N_SUB or not calc:
        raise ValueError(f"csi must be [30, 1..3, 1..3], got {csi.shape}")
    m = nrx * ntx
    bits = 0
    flat = np.asarray(csi).reshape(N_SUB, m)
    for i in range(N_SUB):
        for k in range(m):
            at = i * (3 + 16 * m) + 3 + 16 * k
            bits |= (int(flat[i, k].real) & 0xFF) << at | (int(flat[i, k].imag) & 0xFF) << at + 8
    header = struct.pack(
        "<IHHBBBBBbBBHH",
        timestamp_low & 0xFFFFFFFF,
        bfee_count & 0xFFFF,
        0,
        nrx,
        ntx,
        *rssi,
        noise,
        agc,
        antenna_sel,
        calc,
        rate,
    )
    return bytes([CODE_BFEE]) + header + bits.to_bytes(calc, "little")


def file_record(datagram: bytes) -> bytes:
    """A datagram as a ``.dat`` record: big-endian length prefix + the bytes."""
    return len(datagram).to_bytes(2, "big") + datagram


# --- live --------------------------------------------------------------------------


class Parser(PacketParser):
    """One CSI Tool record per datagram, without the file's 2-byte length prefix.

    0xbb reports become frames; 0xc1 (MPDU) records yield nothing and are no error;
    any other leading byte is counted as ``foreign``.
    """

    format = FORMAT
    hw_format = HW_FORMAT

    def __init__(self, router_id: str, environment_id: str) -> None:
        super().__init__(router_id, environment_id)
        self._clock = CounterClock(TS_BITS, TS_TICK_NS)
        self._seq = CounterClock(SEQ_BITS, 1)

    def _parse(self, data: bytes, host_time_ns: int) -> list[CsiFrame]:
        if not data:
            raise PacketError("short", "empty datagram")
        code = data[0]
        if code == CODE_MPDU:
            return []
        if code != CODE_BFEE:
            raise PacketError("foreign", f"not a CSI Tool record (code 0x{code:02x})")
        if len(data) < _CSI_OFF:
            raise PacketError("short", f"{len(data)}-byte report, header needs {_CSI_OFF}")
        calc = int(_CALC[data[9], data[10]])
        if calc and len(data) < _CSI_OFF + calc:
            raise PacketError("short", f"{len(data)}-byte report, needs {_CSI_OFF + calc}")
        why = _bfee_problem(data, 0, len(data))
        if why is not None:
            raise PacketError("corrupt", why)
        rep = _decode(np.frombuffer(data, dtype=np.uint8), np.zeros(1, dtype=np.int64))
        t, r, s = (int(v) for v in rep.shape[0])
        return [
            CsiFrame(
                timestamp_ns=self._clock(int(rep.timestamp_low[0])),
                host_time_ns=host_time_ns,
                router_id=self.router_id,
                environment_id=self.environment_id,
                sequence=self._seq(int(rep.bfee_count[0])),
                csi=rep.csi[0, :t, :r, :s],
                subcarriers=rep.subcarriers[0],
                rssi_dbm=rep.rssi_dbm[0, :r],
                noise_floor_dbm=float(rep.noise_floor_dbm[0]),
                center_freq_mhz=math.nan,
                bandwidth_mhz=float(rep.bandwidth_mhz[0]),
                hw_format=HW_FORMAT,
            )
        ]
