"""nexmon_csi: Broadcom CSI as UDP datagrams, live or captured by tcpdump into a ``.pcap``.

The patched firmware sends one UDP datagram (to port 5500) per receive core and spatial
stream of every frame it measures. The datagram (the live ``nexmon`` packet, and each pcap
record's UDP payload) is an 18-byte header then ``n_sub`` CSI words:

    current (nexmon_csi pull 46, what csiread calls ``NexmonPull46``):
        u16 magic 0x1111, i8 rssi (dBm), u8 frame control, u8 source MAC[6],
        u16 sequence, u16 core (bits 0-2) | spatial stream (bits 3-5),
        u16 chanspec, u16 chip version
    old (the original ``csi_extractor.c``: ``uint32 kk1 = 0x11111111``):
        u32 magic 0x11111111, then the same fields from the source MAC on;
        no RSSI (NaN here) and no frame control.

A current packet cannot look old: that would need RSSI +17 dBm and frame control 0x11,
whose protocol-version bits (01) no valid 802.11 frame carries.

CSI words, little-endian, one per FFT bin, chosen by the chip version (the ids
csiread/CSIKit/nexmon use): 4339 (0x0001) and 43455c0 (0x0065, 0xa6dc) send int16 real,
int16 imag pairs; 4358 (0x0003, 0xdead) and 4366c0 (0x006a, 0xe834) send the packed
float ``sign|real|sign|imag|exponent`` (9+5 and 12+6 bits), unpacked here exactly as
nexmon's ``unpack_float.c`` and csiread.Nexmon do (nbits 10, autoscale on). Any other chip
is refused by name. (nexmon's firmware source builds the 43455c0 word as real<<16|imag,
which would make the first int16 the imaginary part; every reader, nexmon's own Matlab
``csireader.m`` included, takes it as real, and so do we, to stay comparable.)

Bins arrive in FFT order (0..n/2-1, -n/2..-1) and are reordered to ascending subcarrier
indices: -32..31 (20 MHz, 64 bins), -64..63 (40), -128..127 (80). The bandwidth is the
one the bins span (n_sub / 3.2); the centre frequency comes from the d11ac chanspec
(channel = bits 0-7, which Broadcom sets to the centre channel; band = bits 14-15).

One measured frame = the packets sharing a sequence number (and source, chanspec and
size): core -> receive chain index, spatial stream -> transmit index, so
``csi[ss, core, :]``; ``n_rx``/``n_tx`` are the highest core/stream seen + 1, and a
(core, stream) slot with no packet stays 0 (counted in ``Parser.incomplete_groups``). A
packet whose (core, stream) is already in the group also starts a new frame: control
frames such as Block Acks carry no sequence number, and the sample capture's 566 packets
all say sequence 0. The live parser holds the open group until a packet of another frame
arrives; ``flush()`` hands it over.

nexmon sends no clock: ``timestamp_ns`` is the pcap record time (files) or host receive
time (live) of the group's first packet, held non-decreasing; ``host_time_ns`` is that
time unchanged. ``sequence`` is the 16-bit sequence unwrapped. ``source_mac`` is the header's
source MAC: the transmitter of the measured frame (nexmon_csi without a MAC filter
reports every transmitter it hears; ``wdp.capture.filtering`` narrows to one).

Files: classic libpcap, either byte order, micro- or nanosecond magic, link types
Ethernet (VLAN tags skipped), raw IP, Linux cooked (SLL, SLL2) and BSD loopback; IPv4
(unfragmented) or IPv6 without extension headers. The payload length comes from the UDP
length field, not the captured length: a capture may carry an Ethernet trailer (18
records of the sample have 4 extra bytes). pcapng is refused with a one-line hint.
``raw`` holds each record's UDP payload, i.e. exactly the datagram the live parser eats.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import attrs
import numpy as np

from wdp.capture.clock import CounterClock
from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords
from wdp.capture.frame import CsiFrame, FrameBatch
from wdp.capture.packets import PacketError, PacketParser

FORMAT = "nexmon"
HW_FORMAT = "nexmon"

HEADER_LEN = 18
#: FFT sizes nexmon_csi can report: 20, 40 and 80 MHz.
FFT_SIZES = (64, 128, 256)
MAX_PAYLOAD = HEADER_LEN + 4 * max(FFT_SIZES)

#: chip version field -> (chip name, word format); "int16" or (mantissa bits, exponent bits).
CHIPS: dict[int, tuple[str, str | tuple[int, int]]] = {
    0x0001: ("bcm4339", "int16"),
    0x0065: ("bcm43455c0", "int16"),
    0xA6DC: ("bcm43455c0", "int16"),
    0x0003: ("bcm4358", (9, 5)),
    0xDEAD: ("bcm4358", (9, 5)),
    0x006A: ("bcm4366c0", (12, 6)),
    0xE834: ("bcm4366c0", (12, 6)),
}

_MAGIC_NEW = b"\x11\x11"
_MAGIC_OLD = b"\x11\x11\x11\x11"
_MAX_PROBLEMS = 20


# --------------------------------------------------------------------------- payload


@attrs.frozen(slots=True)
class NexmonHeader:
    """The 18-byte header of one nexmon_csi datagram (one core and spatial stream)."""

    rssi_dbm: float  # NaN in the old format
    frame_control: int  # -1 in the old format
    source: bytes
    sequence: int
    core: int
    stream: int
    chanspec: int
    chip: int
    n_sub: int

    def group_key(self) -> tuple:
        return (self.sequence, self.source, self.chanspec, self.chip, self.n_sub)


@attrs.frozen(slots=True, eq=False)
class NexmonPacket:
    """One decoded datagram: its header and its CSI in ascending subcarrier order."""

    header: NexmonHeader
    csi: np.ndarray  # complex64 [n_sub]


def unpack_float(words: np.ndarray, nman: int, nexp: int, nbits: int = 10) -> np.ndarray:
    """Broadcom's packed-float CSI words -> complex, bit-exact with nexmon's unpack_float.c.

    Each word is sign(1) real(nman-1) sign(1) imag(nman-1) exponent(nexp). With autoscale
    the whole vector is shifted so its largest value has ``nbits`` bits.
    """
    h = words.astype(np.int64)
    iq_mask = (1 << (nman - 1)) - 1
    e_p = 1 << (nexp - 1)
    sgnr_mask = 1 << (nexp + 2 * nman - 1)
    sgni_mask = sgnr_mask >> nman
    vi = (h >> (nexp + nman)) & iq_mask
    vq = (h >> nexp) & iq_mask
    e = h & ((1 << nexp) - 1)
    e = np.where(e >= e_p, e - 2 * e_p, e)
    x = vi | vq
    nz = x != 0
    maxbit = -e_p
    if nz.any():
        top = np.frexp(x[nz].astype(np.float64))[1].astype(np.int64) - 1  # floor(log2 x)
        maxbit = max(maxbit, int((e[nz] + top).max()))
    shift = e + (nbits - maxbit)

    def scale(v: np.ndarray, negative: np.ndarray) -> np.ndarray:
        left = np.left_shift(v, np.clip(shift, 0, 62))
        right = np.right_shift(v, np.clip(-shift, 0, 62))
        out = np.where(shift < -nman, 0, np.where(shift < 0, right, left))
        return np.where(negative, -out, out)

    real = scale(vi, (h & sgnr_mask) != 0)
    imag = scale(vq, (h & sgni_mask) != 0)
    return (real + 1j * imag).astype(np.complex64)


def decode_header(data: bytes) -> NexmonHeader:
    """Check and decode a datagram's header and size; raises PacketError if it is not one."""
    n = len(data)
    if n < 2 or data[:2] != _MAGIC_NEW:
        raise PacketError("foreign", "not a nexmon_csi packet (no 0x1111 magic)")
    if n < HEADER_LEN:
        raise PacketError("short", f"nexmon_csi packet of {n} bytes, the header alone is 18")
    sequence, css, chanspec, chip = struct.unpack_from("<HHHH", data, 10)
    if chip not in CHIPS:
        known = ", ".join(sorted({f"{name} (0x{v:04x})" for v, (name, _) in CHIPS.items()}))
        raise PacketError(
            "foreign", f"nexmon chip version 0x{chip:04x} is not supported (known: {known})"
        )
    body = n - HEADER_LEN
    n_sub = body // 4
    if body % 4 or n_sub not in FFT_SIZES:
        if n_sub < FFT_SIZES[0]:
            reason = "short"
        elif n_sub > FFT_SIZES[-1]:
            reason = "oversized"
        else:
            reason = "corrupt"
        raise PacketError(
            reason, f"nexmon_csi CSI of {body} bytes is not 64, 128 or 256 four-byte bins"
        )
    old = data[:4] == _MAGIC_OLD
    return NexmonHeader(
        rssi_dbm=math.nan if old else float(data[2] - 256 if data[2] > 127 else data[2]),
        frame_control=-1 if old else data[3],
        source=bytes(data[4:10]),
        sequence=sequence,
        core=css & 0x7,
        stream=(css >> 3) & 0x7,
        chanspec=chanspec,
        chip=chip,
        n_sub=n_sub,
    )


def _ascending(n_sub: int) -> np.ndarray:
    """Bin positions (FFT order) in ascending-subcarrier order: fftshift as an index."""
    return np.concatenate([np.arange(n_sub // 2, n_sub), np.arange(n_sub // 2)])


def decode_csi(bodies: bytes, n_sub: int, chip: int) -> np.ndarray:
    """The CSI of one or more concatenated datagram bodies (header stripped, one chip and
    size) -> complex64 [m, n_sub] in ascending subcarrier order."""
    fmt = CHIPS[chip][1]
    order = _ascending(n_sub)
    if fmt == "int16":
        iq = np.frombuffer(bodies, dtype="<i2").reshape(-1, n_sub, 2)[:, order]
        return iq.astype(np.float32).view(np.complex64)[..., 0]
    words = np.frombuffer(bodies, dtype="<u4").reshape(-1, n_sub)[:, order]
    return np.stack([unpack_float(w, *fmt) for w in words])  # autoscale is per vector


def decode_payload(data: bytes) -> NexmonPacket:
    """Decode one nexmon_csi UDP payload; raises PacketError on anything else."""
    header = decode_header(data)
    return NexmonPacket(header, decode_csi(data[HEADER_LEN:], header.n_sub, header.chip)[0])


def encode_payload(
    csi_fft: np.ndarray,
    *,
    rssi: int | None = -50,
    frame_control: int = 0x08,
    source: bytes = b"\x00\x11\x22\x33\x44\x55",
    sequence: int = 0,
    core: int = 0,
    stream: int = 0,
    chanspec: int = 0xD024,
    chip: int = 0x0065,
) -> bytes:
    """Build an int16-chip nexmon_csi payload (bins in FFT order); ``rssi=None`` -> old format.

    For tests and tools: real hardware is the only producer of the packed-float chips.
    """
    if CHIPS.get(chip, ("", ""))[1] != "int16":
        raise ValueError("encode_payload writes the int16 chips (4339, 43455c0) only")
    iq = np.empty(2 * len(csi_fft), dtype="<i2")
    iq[0::2] = np.real(csi_fft)
    iq[1::2] = np.imag(csi_fft)
    head = _MAGIC_OLD if rssi is None else _MAGIC_NEW + struct.pack("<bB", rssi, frame_control)
    tail = struct.pack("<HHHH", sequence, (core & 7) | ((stream & 7) << 3), chanspec, chip)
    return head + bytes(source[:6]).ljust(6, b"\0") + tail + iq.tobytes()


def chanspec_center_mhz(chanspec: int) -> float:
    """Centre frequency of a d11ac chanspec (channel = centre channel), NaN if unknown."""
    channel = chanspec & 0xFF
    band = chanspec & 0xC000
    if channel == 0:
        return math.nan
    if band == 0x0000:  # 2.4 GHz
        return 2484.0 if channel == 14 else 2407.0 + 5 * channel
    if band == 0xC000:  # 5 GHz
        return 5000.0 + 5 * channel
    return math.nan


def chanspec_bandwidth_mhz(chanspec: int) -> float:
    """Channel bandwidth of a d11ac chanspec, NaN if unknown."""
    return {0x1000: 20.0, 0x1800: 40.0, 0x2000: 80.0, 0x2800: 160.0}.get(
        chanspec & 0x3800, math.nan
    )


# --------------------------------------------------------------------------- grouping


@attrs.define(slots=True)
class _Group:
    """The packets of one measured frame, and the clocks' readings once it is closed."""

    key: tuple
    time_ns: int
    members: dict  # (core, stream) -> (NexmonHeader, CSI or the packet's index)
    timestamp_ns: int = 0
    sequence: int = 0
    shape: tuple[int, int, int] = (0, 0, 0)  # (n_tx, n_rx, n_sub), set when closed

    @property
    def complete(self) -> bool:
        n_tx, n_rx, _ = self.shape
        return len(self.members) == n_tx * n_rx

    def rssi(self) -> np.ndarray:
        rssi = np.full(self.shape[1], np.nan, dtype=np.float32)
        for (core, stream), (header, _) in self.members.items():
            if math.isnan(rssi[core]) or stream == 0:
                rssi[core] = header.rssi_dbm
        return rssi

    def fields(self) -> tuple[float, float]:
        """(centre frequency, bandwidth)."""
        header = next(iter(self.members.values()))[0]
        return chanspec_center_mhz(header.chanspec), header.n_sub / 3.2


class _Grouper:
    """Packets in arrival order -> groups; shared by the file reader and the live parser."""

    def __init__(self) -> None:
        self._open: _Group | None = None
        self._clock = CounterClock(63, 1)
        self._seq = CounterClock(16, 1)

    def push(self, header: NexmonHeader, item, time_ns: int) -> _Group | None:
        """Add a packet; return the group it closed, if any."""
        done = None
        slot = (header.core, header.stream)
        key = header.group_key()
        group = self._open
        if group is not None and (group.key != key or slot in group.members):
            done = self.flush()
        if self._open is None:
            self._open = _Group(key, time_ns, {})
        self._open.members[slot] = (header, item)
        return done

    def flush(self) -> _Group | None:
        group, self._open = self._open, None
        if group is not None:
            slots = group.members.keys()
            n_tx, n_rx = 1 + max(s for _, s in slots), 1 + max(c for c, _ in slots)
            group.shape = (n_tx, n_rx, group.key[-1])
            group.timestamp_ns = self._clock(group.time_ns)
            group.sequence = self._seq(group.key[0])
        return group


def _subcarriers(n_sub: int) -> np.ndarray:
    return np.arange(-(n_sub // 2), n_sub - n_sub // 2, dtype=np.int16)


def _to_frame(group: _Group, router_id: str, environment_id: str) -> CsiFrame:
    csi = np.zeros(group.shape, dtype=np.complex64)
    for (core, stream), (_, values) in group.members.items():
        csi[stream, core] = values
    center, bandwidth = group.fields()
    return CsiFrame(
        timestamp_ns=group.timestamp_ns,
        host_time_ns=group.time_ns,
        router_id=router_id,
        environment_id=environment_id,
        sequence=group.sequence,
        csi=csi,
        subcarriers=_subcarriers(csi.shape[2]),
        rssi_dbm=group.rssi(),
        noise_floor_dbm=math.nan,
        center_freq_mhz=center,
        bandwidth_mhz=bandwidth,
        hw_format=HW_FORMAT,
        source_mac=group.key[1],
    )


# --------------------------------------------------------------------------- pcap

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_MAX_RECORD = 262144  # libpcap's largest snaplen

#: link type -> how to find the network-layer packet in a record.
_LINKTYPES = {0: "null", 1: "ethernet", 12: "ip", 14: "ip", 101: "ip", 108: "null", 113: "sll",
              228: "ip", 229: "ip", 276: "sll2"}  # fmt: skip


def _udp_payload(frame: bytes, link: str) -> bytes | str:
    """The UDP payload of one link-layer record, or a string saying why there is none."""
    n = len(frame)
    if link == "ethernet":
        if n < 14:
            return "shorter than an Ethernet header"
        ethertype = int.from_bytes(frame[12:14], "big")
        off = 14
        while ethertype in (0x8100, 0x88A8) and n >= off + 4:
            ethertype = int.from_bytes(frame[off + 2 : off + 4], "big")
            off += 4
        if ethertype not in (0x0800, 0x86DD):
            return f"not IP (ethertype 0x{ethertype:04x})"
    elif link == "sll":
        if n < 16:
            return "shorter than a Linux cooked header"
        off = 16
    elif link == "sll2":
        if n < 20:
            return "shorter than a Linux cooked v2 header"
        off = 20
    elif link == "null":
        off = 4
    else:
        off = 0
    if n < off + 1:
        return "no IP header"
    version = frame[off] >> 4
    if version == 4:
        ihl = (frame[off] & 0x0F) * 4
        if ihl < 20 or n < off + ihl:
            return "truncated IPv4 header"
        if frame[off + 9] != 17:
            return f"not UDP (IP protocol {frame[off + 9]})"
        if int.from_bytes(frame[off + 6 : off + 8], "big") & 0x3FFF:
            return "an IP fragment (nexmon_csi datagrams are never fragmented)"
        udp = off + ihl
    elif version == 6:
        if n < off + 40:
            return "truncated IPv6 header"
        if frame[off + 6] != 17:
            return "not UDP (or IPv6 extension headers)"
        udp = off + 40
    else:
        return f"not IP (version {version})"
    if n < udp + 8:
        return "truncated UDP header"
    length = int.from_bytes(frame[udp + 4 : udp + 6], "big")
    if length < 8:
        return f"bad UDP length {length}"
    if udp + length > n:
        return f"UDP datagram of {length} bytes cut short by the capture ({n - udp} captured)"
    return frame[udp + 8 : udp + length]


def _pcap_header(head: bytes) -> tuple[str, int, str]:
    magic = head[:4]
    if magic == _PCAPNG_MAGIC:
        raise CaptureFileError(
            "pcapng capture: save it as classic pcap "
            "(tcpdump -w, or editcap -F pcap in.pcapng out.pcap)"
        )
    if magic not in _PCAP_MAGICS:
        raise CaptureFileError("not a pcap capture (bad magic)")
    if len(head) < 24:
        raise CaptureFileError("pcap capture cut short inside its 24-byte header")
    endian, tick = _PCAP_MAGICS[magic]
    linktype = struct.unpack_from(endian + "I", head, 20)[0] & 0x0FFFFFFF
    if linktype not in _LINKTYPES:
        raise CaptureFileError(f"pcap link type {linktype} is not supported for nexmon_csi")
    return endian, tick, _LINKTYPES[linktype]


def sniff(head: bytes) -> bool:
    """A classic pcap whose first records carry nexmon_csi datagrams."""
    if head[:4] == _PCAPNG_MAGIC:
        return b"NEXMON" in head  # nexmon's fake Ethernet source; read_file explains pcapng
    try:
        endian, _, link = _pcap_header(head)
    except CaptureFileError:
        return False
    off = 24
    while off + 16 <= len(head):
        incl = struct.unpack_from(endian + "I", head, off + 8)[0]
        record = head[off + 16 : off + 16 + incl]
        payload = _udp_payload(record, link)
        if isinstance(payload, bytes) and payload[:2] == _MAGIC_NEW:
            return True
        if off + 16 + incl > len(head) and b"NEXMON" in record:
            return True  # first record longer than the head: nexmon's Ethernet source
        off += 16 + incl
    return False


def read_file(path, *, router_id: str, environment_id: str) -> FileImport:
    """Import a tcpdump capture of nexmon_csi datagrams (see the module docstring)."""
    data = Path(path).read_bytes()
    if not data:
        raise CaptureFileError("empty file")
    endian, tick, link = _pcap_header(data[:24])
    rec = struct.Struct(endian + "IIII")
    grouper = _Grouper()
    groups: list[_Group] = []
    payloads: list[bytes] = []  # every UDP payload: the raw records
    times: list[int] = []
    macs: list[int] = []  # each payload's transmitter, 0 where it is not nexmon_csi
    valid: list[bytes] = []  # the nexmon ones, indexed by the groups' members
    problems: list[str] = []
    n_problems = records = skipped = 0
    reasons: dict[str, int] = {}

    def problem(msg: str) -> None:
        nonlocal n_problems
        n_problems += 1
        if len(problems) < _MAX_PROBLEMS:
            problems.append(msg)

    off = 24
    end = len(data)
    while off < end:
        records += 1
        if off + 16 > end:
            skipped += 1
            problem(f"byte {off}: record header cut short ({end - off} of 16 bytes)")
            break
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        if incl > _MAX_RECORD:
            skipped += 1
            problem(f"byte {off}: record claims {incl} bytes; the rest of the file is unreadable")
            break
        if off + 16 + incl > end:
            skipped += 1
            problem(f"byte {off}: record cut short ({end - off - 16} of {incl} bytes)")
            break
        time_ns = sec * 1_000_000_000 + frac * tick
        payload = _udp_payload(data[off + 16 : off + 16 + incl], link)
        if isinstance(payload, str):
            skipped += 1
            reasons["no UDP"] = reasons.get("no UDP", 0) + 1
            problem(f"byte {off}: {payload}")
        else:
            payloads.append(payload)
            times.append(time_ns)
            macs.append(0)
            try:
                header = decode_header(payload)
            except PacketError as exc:
                skipped += 1
                reasons[str(exc)] = reasons.get(str(exc), 0) + 1
                problem(f"byte {off}: {exc}")
            else:
                macs[-1] = int.from_bytes(header.source, "big")
                done = grouper.push(header, len(valid), time_ns)
                valid.append(payload)
                if done is not None:
                    groups.append(done)
        off += 16 + incl
    last = grouper.flush()
    if last is not None:
        groups.append(last)
    if n_problems > len(problems):
        problems.append(f"... and {n_problems - len(problems)} more problems")
    if not groups:
        if not payloads and not reasons:
            raise CaptureFileError("pcap capture holds no packets")
        why = max(reasons, key=reasons.get) if reasons else problems[0]
        raise CaptureFileError(f"no nexmon_csi frame in {records} pcap records ({why})")
    return FileImport(
        format=FORMAT,
        batch=_columns(groups, valid, router_id, environment_id),
        raw=RawRecords.from_list(payloads, times),
        records=records,
        skipped=skipped,
        problems=problems,
        raw_source_mac=np.array(macs, dtype=np.int64),
    )


def _columns(groups: list[_Group], valid: list[bytes], router_id: str, environment_id: str):
    """Groups of packet indices -> batch columns, CSI decoded in bulk per chip and size."""
    n = len(groups)
    shapes = np.array([g.shape for g in groups], dtype=np.uint16)
    t, r, s = (int(v) for v in shapes.max(axis=0))
    csi = np.zeros((n, t, r, s), dtype=np.complex64)
    placements: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
    for i, group in enumerate(groups):
        for (core, stream), (header, j) in group.members.items():
            placements.setdefault((header.chip, header.n_sub), []).append((i, stream, core, j))
    for (chip, n_sub), where in placements.items():
        i, stream, core, j = np.array(where).T
        bodies = b"".join([valid[k][HEADER_LEN:] for k in j])
        csi[i, stream, core, :n_sub] = decode_csi(bodies, n_sub, chip)
    sub = np.zeros((n, s), dtype=np.int16)
    rssi = np.full((n, r), np.nan, dtype=np.float32)
    centre = np.empty(n, dtype=np.float32)
    bandwidth = np.empty(n, dtype=np.float32)
    for i, group in enumerate(groups):
        n_sub = group.key[-1]
        sub[i, :n_sub] = _subcarriers(n_sub)
        rssi[i, : shapes[i, 1]] = group.rssi()
        centre[i], bandwidth[i] = group.fields()
    return FrameBatch(
        router_id=router_id,
        environment_id=environment_id,
        hw_format=HW_FORMAT,
        timestamp_ns=np.array([g.timestamp_ns for g in groups], dtype=np.int64),
        host_time_ns=np.array([g.time_ns for g in groups], dtype=np.int64),
        sequence=np.array([g.sequence for g in groups], dtype=np.int64),
        csi=csi,
        shape=shapes,
        subcarriers=sub,
        rssi_dbm=rssi,
        noise_floor_dbm=np.full(n, np.nan, dtype=np.float32),
        center_freq_mhz=centre,
        bandwidth_mhz=bandwidth,
        source_mac=np.array([int.from_bytes(g.key[1], "big") for g in groups], dtype=np.int64),
    )


# --------------------------------------------------------------------------- live


class Parser(PacketParser):
    """Live nexmon_csi datagrams (UDP payloads) -> frames, one per sequence group."""

    format = FORMAT
    hw_format = HW_FORMAT
    max_datagram = MAX_PAYLOAD

    def __init__(self, router_id: str, environment_id: str) -> None:
        super().__init__(router_id, environment_id)
        self._grouper = _Grouper()
        #: Frames emitted with some (core, stream) slot missing (left zero).
        self.incomplete_groups = 0

    def _emit(self, group: _Group | None) -> list[CsiFrame]:
        if group is None:
            return []
        if not group.complete:
            self.incomplete_groups += 1
        return [_to_frame(group, self.router_id, self.environment_id)]

    def _parse(self, data: bytes, host_time_ns: int) -> list[CsiFrame]:
        packet = decode_payload(data)
        return self._emit(self._grouper.push(packet.header, packet.csi, host_time_ns))

    def _flush(self) -> list[CsiFrame]:
        return self._emit(self._grouper.flush())
