"""ESP32 CSI as text: ESP32-CSI-Tool's ``CSI_DATA,...`` lines (a ``.csv`` file, or live lines).

Each row is ``CSI_DATA`` then the receive-control fields, then the raw CSI buffer as a
bracketed list of int8 (``[38 96 2 0 ...]``, or ``"[38,96,...]"`` as Espressif's esp-csi
prints it). Tool versions differ in the fields: ESP32-CSI-Tool has ``type, role, mac,
rssi, ..., rx_state, real_time_set, real_timestamp, len``; older ones end at ``rx_state,
len``; esp-csi has ``type, id, mac, ..., rx_state, len, first_word``; some sniffers add a
second MAC. A header line (``type,...``) maps the columns by name when its column count
fits the row; otherwise the 19 ``wifi_pkt_rx_ctrl_t`` fields (``rssi`` .. ``rx_state``)
are found right after the last MAC-address field, and the fields after them are known by
their count (1: len; 2: len, first_word; 3: real_time_set, real_timestamp, len). A header
line is not a record. Columns after the CSI array (loggers append a PC timestamp) are
ignored and noted. A row whose ``len`` differs from its value count is read from the
values present when they fit a layout (ESP32-CSI-Tool's LLTF-only output prints the
packet's full ``len``) and counted in a note; a row that is cut short (no closing
bracket, an odd count), whose values do not fit int8 or fit no layout, or whose fields
do not parse is skipped and reported with its line number. ``source_mac`` is the ``mac``
column (with a header) or the first MAC-address field.

Per ESP-IDF ("Wi-Fi Channel State Information"), the buffer is (imaginary, real) int8
pairs, one per subcarrier, for up to three long training fields in the order LLTF,
HT-LTF, STBC-HT-LTF, each in the subcarrier order of ESP-IDF's table for the ESP32 keyed
by secondary channel (0 none, 1 above, 2 below), signal mode (0 non-HT, 1 HT), channel
bandwidth (0 20 MHz, 1 40 MHz) and STBC, e.g. LLTF with no secondary channel is
``0..31, -32..-1``. Which fields are present is derived per row from ``len`` (a field
may be disabled in the CSI config: the full set is tried, then its prefixes, then the HT
fields alone). The frame holds one "transmit" layer per field present, over the union of
their subcarriers in ascending order: ``csi[0]`` is the first field present (LLTF
normally), ``csi[1]`` the HT-LTF, ``csi[2]`` the STBC-HT-LTF (the second space-time
stream); a subcarrier a field does not cover is 0 in that layer. A legacy row is thus
[1, 1, 64] over -32..31, an HT40 row [2, 1, 128] over -64..63.

With a secondary channel the indices are relative to the 40 MHz channel's centre, so
``center_freq_mhz`` is the primary channel's (2407 + 5*ch, channel 14 2484 MHz, 5000 +
5*ch from channel 32 up) plus 10 MHz (above) or minus 10 MHz (below);
``bandwidth_mhz`` is the packet's (40 for HT40, else 20). When ``first_word_invalid`` (or
esp-csi's ``first_word``) is 1, ESP-IDF says the first four bytes of the buffer are
invalid: those two pairs are set to 0. ``rssi`` and ``noise_floor`` (dBm on the ESP32)
come from their columns; ``timestamp_ns`` from ``local_timestamp`` (32-bit microseconds,
unwrapped); ``sequence`` is the CSI_DATA row's index (the tool sends no hardware
sequence), so a skipped row leaves a gap. Files have no receive time: ``host_time_ns`` 0.

Live ``esp32`` datagrams hold one or more such lines; every CSI_DATA line gives a frame,
a bad one counts as ``corrupt`` and any other non-blank line (a header or log line) as
``foreign``, so the counters count lines here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import attrs
import numpy as np

from wdp.capture.clock import CounterClock
from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords
from wdp.capture.frame import CsiFrame, FrameBatch, mac_to_int
from wdp.capture.packets import PacketError, PacketParser

FORMAT = "esp32"
HW_FORMAT = "esp32"
_MAX_PROBLEMS = 20
_PREFIX = b"CSI_DATA"


# --------------------------------------------------------------------------- layouts


def _r(a: int, b: int) -> np.ndarray:
    """Subcarriers a..b inclusive, the way ESP-IDF's table writes ``a~b``."""
    return np.arange(a, b + 1, dtype=np.int16)


_STD20 = np.concatenate([_r(0, 31), _r(-32, -1)])  # 0~31, -32~-1
_HT40 = np.concatenate([_r(0, 63), _r(-64, -1)])  # 0~63, -64~-1
_HT40_STBC = np.concatenate([_r(0, 60), _r(-60, -1)])  # 0~60, -60~-1

#: ESP-IDF's ESP32 table: (secondary, ht, cwb40, stbc) -> [LLTF, HT-LTF, STBC-HT-LTF]
#: subcarrier orders of the fields present. secondary: 0 none, 1 above, 2 below.
LAYOUTS: dict[tuple[int, bool, bool, bool], list[np.ndarray]] = {
    (0, False, False, False): [_STD20],
    (0, True, False, False): [_STD20, _STD20],
    (0, True, False, True): [_STD20, _STD20, _STD20],
    (2, False, False, False): [_r(0, 63)],
    (2, True, False, False): [_r(0, 63), _r(0, 63)],
    (2, True, False, True): [_r(0, 63), _r(0, 62), _r(0, 62)],
    (2, True, True, False): [_r(0, 63), _HT40],
    (2, True, True, True): [_r(0, 63), _HT40_STBC, _HT40_STBC],
    (1, False, False, False): [_r(-64, -1)],
    (1, True, False, False): [_r(-64, -1), _r(-64, -1)],
    (1, True, False, True): [_r(-64, -1), _r(-62, -1), _r(-62, -1)],
    (1, True, True, False): [_r(-64, -1), _HT40],
    (1, True, True, True): [_r(-64, -1), _HT40_STBC, _HT40_STBC],
}


def layout_for(
    n_pairs: int, secondary: int, sig_mode: int, cwb: int, stbc: int
) -> list[np.ndarray] | None:
    """The subcarrier order of each training field in a buffer of ``n_pairs`` pairs.

    Tries the full set ESP-IDF lists for the packet, then its prefixes (STBC-HT-LTF or
    HT-LTF disabled), then the HT fields without the LLTF; None when nothing fits.
    """
    ht = sig_mode != 0
    key = (secondary, ht, bool(cwb) and ht, bool(stbc) and ht)
    fields = LAYOUTS.get(key)
    if fields is None:  # e.g. HT40 claimed without a secondary channel
        fields = LAYOUTS.get((secondary, ht, False, key[3]))
    if fields is None:
        return None
    candidates = [fields[:k] for k in range(len(fields), 0, -1)]
    candidates += [fields[1:k] for k in range(len(fields), 1, -1)]
    for cand in candidates:
        if sum(len(f) for f in cand) == n_pairs:
            return cand
    return None


def assemble(pairs: np.ndarray, fields: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(imag, real) int pairs laid out as ``fields`` -> csi [n_fields, 1, S], subcarriers [S]."""
    values = pairs[:, 1].astype(np.float32) + 1j * pairs[:, 0].astype(np.float32)
    if len(fields) == 1:
        order = np.argsort(fields[0], kind="stable")
        return values[order].astype(np.complex64)[None, None, :], fields[0][order]
    sub = np.unique(np.concatenate(fields))
    csi = np.zeros((len(fields), 1, sub.shape[0]), dtype=np.complex64)
    start = 0
    for i, f in enumerate(fields):
        csi[i, 0, np.searchsorted(sub, f)] = values[start : start + len(f)]
        start += len(f)
    return csi, sub


def channel_freq_mhz(channel: int) -> float:
    """Primary-channel centre frequency of an ESP32 channel number, NaN if unknown."""
    if 1 <= channel <= 13:
        return 2407.0 + 5 * channel
    if channel == 14:
        return 2484.0
    if 32 <= channel <= 177:
        return 5000.0 + 5 * channel
    return math.nan


# --------------------------------------------------------------------------- rows

#: Column names (lower case, without underscores) -> our field names.
_ALIASES = {
    "rssi": "rssi",
    "sigmode": "sig_mode",
    "bandwidth": "cwb",
    "cwb": "cwb",
    "stbc": "stbc",
    "noisefloor": "noise_floor",
    "channel": "channel",
    "secondarychannel": "secondary_channel",
    "localtimestamp": "local_timestamp",
    "len": "len",
    "firstwordinvalid": "first_word_invalid",
    "firstword": "first_word_invalid",
    "mac": "mac",
}
_RX_CTRL = ["rssi", "rate", "sig_mode", "mcs", "cwb", "smoothing", "not_sounding",
            "aggregation", "stbc", "fec_coding", "sgi", "noise_floor", "ampdu_cnt",
            "channel", "secondary_channel", "local_timestamp", "ant", "sig_len",
            "rx_state"]  # fmt: skip
_TAILS = {
    1: ["len"],
    2: ["len", "first_word_invalid"],
    3: ["real_time_set", "real_timestamp", "len"],
}
_MAC = re.compile(rb"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


class RowError(ValueError):
    """A CSI_DATA line that cannot be read."""


def parse_header(line: bytes) -> dict[str, int] | None:
    """Column name -> index of a ``type,...`` header line, or None if it is not one."""
    names = [n.strip().strip(b'"').decode("ascii", "replace") for n in line.split(b",")]
    if not names or names[0].lower() != "type":
        return None
    cols = {}
    for i, name in enumerate(names):
        field = _ALIASES.get(name.lower().replace("_", ""))
        if field is not None and field not in cols:
            cols[field] = i
    return cols | {"_count": len(names)} if "len" in cols else None


@attrs.frozen(slots=True)
class Row:
    """The fields of one CSI_DATA line that a frame needs.

    ``declared_len`` is the row's ``len`` field when it disagrees with the values the
    array holds (None when they agree); ``extra_fields`` says text followed the array.
    """

    csi: np.ndarray  # [n_fields, 1, S]
    subcarriers: np.ndarray
    rssi: float
    noise_floor: float
    center_freq_mhz: float
    bandwidth_mhz: float
    local_timestamp: int | None
    source_mac: str = ""
    declared_len: int | None = None
    extra_fields: bool = False


def _positional(fields: list[bytes]) -> dict[str, int]:
    """Columns of a row without a fitting header, anchored on its MAC address fields:
    the first is the transmitter, the rx-control fields follow the last."""
    macs = [i for i, f in enumerate(fields) if _MAC.match(f)]
    if not macs:
        raise RowError("no MAC address field to anchor the columns")
    first = macs[-1] + 1
    tail = len(fields) - (first + len(_RX_CTRL))
    if tail not in _TAILS:
        raise RowError(f"{len(fields)} fields before the CSI array fit no known layout")
    cols = {name: first + i for i, name in enumerate(_RX_CTRL)}
    cols.update({name: first + len(_RX_CTRL) + i for i, name in enumerate(_TAILS[tail])})
    cols["mac"] = macs[0]
    return cols


def _split(line: bytes) -> tuple[list[bytes], bytes, bool]:
    """(fields before the array, the array's text, whether text follows the array).

    Loggers append their own columns after the array (a PC timestamp, say): they are
    not CSI and are ignored, but a row whose array is not closed is cut short.
    """
    lb = line.find(b"[")
    rb = line.find(b"]", lb + 1)
    if lb < 0 or rb < 0:
        raise RowError("no complete [...] CSI array (line cut short?)")
    extra = bool(line[rb + 1 :].strip(b' ",\r\n\t'))
    fields = [f.strip().strip(b'"') for f in line[:lb].rstrip(b' "').split(b",")]
    if fields and fields[-1] == b"":
        fields.pop()
    return fields, line[lb + 1 : rb], extra


def _values(body: bytes, length: int | None) -> np.ndarray:
    """The CSI array's int8 values as (imag, real) pairs [n, 2]."""
    try:
        values = np.array([int(v) for v in body.replace(b",", b" ").split()], dtype=np.int64)
    except (ValueError, OverflowError):
        raise RowError("the CSI array holds something other than int8 values") from None
    if len(values) == 0 or len(values) % 2:
        said = "the CSI array" if length == len(values) else f"len says {length} but the array"
        raise RowError(f"{said} holds {len(values)} values, not (imag, real) pairs")
    if values.min() < -128 or values.max() > 127:
        raise RowError("a CSI value does not fit int8")
    return values.reshape(-1, 2)


def _getter(fields: list[bytes], cols: dict[str, int]):
    def get(name: str, default: int | None = None) -> int | None:
        i = cols.get(name)
        if i is None or i >= len(fields):
            return default
        try:
            value = int(fields[i])
        except ValueError:
            raise RowError(f"field {name} is not an integer: {fields[i][:20]!r}") from None
        if not -(2**63) <= value < 2**63:
            raise RowError(f"field {name} is out of range: {fields[i][:20]!r}")
        return value

    return get


def parse_row(line: bytes, header: dict[str, int] | None = None) -> Row:
    """Decode one ``CSI_DATA,...`` line; RowError says why it cannot be.

    A ``len`` field that disagrees with the array is not fatal: ESP32-CSI-Tool's
    LLTF-only output prints the packet's full ``len`` (384 for HT40) with only the
    first 128 values, so the values present are laid out by themselves, and the
    disagreement is returned in ``declared_len`` for the caller to count.
    """
    fields, body, extra = _split(line)
    if header is not None and header["_count"] == len(fields) + 1:
        cols = header
    else:
        cols = _positional(fields)
    get = _getter(fields, cols)
    length = get("len")
    pairs = _values(body, length)
    secondary = get("secondary_channel", 0)
    sig_mode, cwb, stbc = get("sig_mode", 0), get("cwb", 0), get("stbc", 0)
    layout = layout_for(len(pairs), secondary, sig_mode, cwb, stbc)
    if layout is None:
        said = "" if length == pairs.size else f" (len says {length})"
        raise RowError(
            f"{pairs.size} bytes{said} fit no ESP-IDF layout for secondary channel "
            f"{secondary}, sig_mode {sig_mode}, bandwidth {cwb}, stbc {stbc}"
        )
    if get("first_word_invalid", 0) == 1:
        pairs = pairs.copy()
        pairs[:2] = 0
    csi, sub = assemble(pairs, layout)
    channel = get("channel")
    center = math.nan if channel is None else channel_freq_mhz(channel)
    center += {1: 10.0, 2: -10.0}.get(secondary, 0.0)
    rssi, noise = get("rssi"), get("noise_floor")
    mac_at = cols.get("mac")
    mac = fields[mac_at] if mac_at is not None and mac_at < len(fields) else b""
    return Row(
        csi=csi,
        subcarriers=sub,
        rssi=math.nan if rssi is None else float(rssi),
        noise_floor=math.nan if noise is None else float(noise),
        center_freq_mhz=center,
        bandwidth_mhz=40.0 if (sig_mode != 0 and cwb) else 20.0,
        local_timestamp=get("local_timestamp"),
        source_mac=mac.decode("ascii").lower() if _MAC.match(mac) else "",
        declared_len=None if length == pairs.size else length,
        extra_fields=extra,
    )


#: The header line ESP32-CSI-Tool prints before its rows (the columns ``encode_row`` writes).
TOOL_HEADER = (
    b"type,role,mac,rssi,rate,sig_mode,mcs,bandwidth,smoothing,not_sounding,aggregation,"
    b"stbc,fec_coding,sgi,noise_floor,ampdu_cnt,channel,secondary_channel,local_timestamp,"
    b"ant,sig_len,rx_state,real_time_set,real_timestamp,len,CSI_DATA"
)


def encode_row(
    csi: np.ndarray,
    *,
    rssi: int = -50,
    noise_floor: int = -95,
    channel: int = 6,
    secondary_channel: int = 0,
    sig_mode: int = 0,
    cwb: int = 0,
    stbc: int = 0,
    rate: int = 11,
    mcs: int = 0,
    local_timestamp: int = 0,
    real_timestamp: float = 0.0,
    sig_len: int = 38,
    mac: str = "aa:bb:cc:dd:ee:ff",
    role: str = "PASSIVE",
) -> bytes:
    """One ``CSI_DATA,...`` line (no newline) in ESP32-CSI-Tool's layout: the inverse of
    ``parse_row``, for the simulator and tests.

    ``csi`` is the raw buffer in buffer order (ESP-IDF's layout for the packet, e.g.
    LLTF ``0..31, -32..-1`` for a legacy packet), integer-valued complex numbers whose
    parts fit int8; each becomes an (imaginary, real) pair as the hardware writes it.
    """
    values = np.asarray(csi).reshape(-1)
    re, im = np.real(values), np.imag(values)
    if not (np.all(re == np.round(re)) and np.all(im == np.round(im))):
        raise ValueError("ESP32 CSI values must be integers (quantise before encoding)")
    if values.size and (min(re.min(), im.min()) < -128 or max(re.max(), im.max()) > 127):
        raise ValueError("ESP32 CSI values must fit int8 (-128..127)")
    if layout_for(values.size, secondary_channel, sig_mode, cwb, stbc) is None:
        raise ValueError(
            f"{values.size} subcarriers fit no ESP-IDF layout for secondary channel "
            f"{secondary_channel}, sig_mode {sig_mode}, bandwidth {cwb}, stbc {stbc}"
        )
    if not _MAC.match(mac.encode()):
        raise ValueError(f"not a MAC address: {mac!r}")
    if not role.isalnum():
        raise ValueError(f"role must be a plain word (it is a CSV field), got {role!r}")
    pairs = np.empty((values.size, 2), dtype=np.int64)
    pairs[:, 0] = im
    pairs[:, 1] = re
    ctrl = [rssi, rate, sig_mode, mcs, cwb, 0, 0, 0, stbc, 0, 0, noise_floor, 0, channel,
            secondary_channel, local_timestamp & 0xFFFFFFFF, 0, sig_len, 0]  # fmt: skip
    real = [int(real_timestamp != 0), f"{real_timestamp:.6f}"]
    fields = ["CSI_DATA", role, mac, *map(int, ctrl), *real, 2 * values.size]
    body = " ".join(map(str, pairs.reshape(-1).tolist()))
    return (",".join(map(str, fields)) + ",[" + body + " ]").encode("ascii")


class _Stamper:
    """Row index and unwrapped local_timestamp, shared by the file reader and the parser."""

    def __init__(self) -> None:
        self.index = 0
        self.clock = CounterClock(32, 1000)
        self.last_ns = 0

    def next_index(self) -> int:
        self.index += 1
        return self.index - 1

    def stamp(self, row: Row) -> int:
        if row.local_timestamp is not None:
            self.last_ns = self.clock(row.local_timestamp)
        return self.last_ns


def _batch_from_rows(rows: list, router_id: str, environment_id: str, hw_format: str) -> FrameBatch:
    """Pack per-frame rows (``timestamp_ns, host_time_ns, sequence, csi[T,R,S],
    subcarriers[S], rssi[R], noise_floor, centre, bandwidth[, source MAC as int]``) into
    batch columns, zero/NaN padded, without building a CsiFrame per record."""
    n = len(rows)
    shapes = np.array([r[3].shape for r in rows], dtype=np.uint16).reshape(n, 3)
    t, r_, s = (int(v) for v in shapes.max(axis=0))
    csi = np.zeros((n, t, r_, s), dtype=np.complex64)
    sub = np.zeros((n, s), dtype=np.int16)
    rssi = np.full((n, r_), np.nan, dtype=np.float32)
    if (shapes == shapes[0]).all():
        csi[:] = np.stack([r[3] for r in rows])
        sub[:] = np.stack([r[4] for r in rows])
        rssi[:] = np.stack([r[5] for r in rows])
    else:
        for i, row in enumerate(rows):
            ft, fr, fs = row[3].shape
            csi[i, :ft, :fr, :fs] = row[3]
            sub[i, :fs] = row[4]
            rssi[i, :fr] = row[5]
    col = list(zip(*rows, strict=True))
    return FrameBatch(
        router_id=router_id,
        environment_id=environment_id,
        hw_format=hw_format,
        timestamp_ns=np.array(col[0], dtype=np.int64),
        host_time_ns=np.array(col[1], dtype=np.int64),
        sequence=np.array(col[2], dtype=np.int64),
        csi=csi,
        shape=shapes,
        subcarriers=sub,
        rssi_dbm=rssi,
        noise_floor_dbm=np.array(col[6], dtype=np.float32),
        center_freq_mhz=np.array(col[7], dtype=np.float32),
        bandwidth_mhz=np.array(col[8], dtype=np.float32),
        source_mac=np.array(col[9], dtype=np.int64) if len(col) > 9 else None,
    )


# --------------------------------------------------------------------------- file


def sniff(head: bytes) -> bool:
    """ESP32 CSI text: a line starting with CSI_DATA (or an ESP32 CSI header line)."""
    if re.search(rb"(^|\n)CSI_DATA,", head):
        return True
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"type,") and b"rssi" in first and b"len" in first


@attrs.define
class _Tally:
    """What reading a file met besides good rows: bad rows and tolerated oddities."""

    problems: list[str] = attrs.Factory(list)
    bad: int = 0
    first_error: str = ""
    other: int = 0
    first_other: int = 0
    len_mismatch: int = 0
    first_mismatch: str = ""
    extra: int = 0
    first_extra: int = 0

    def bad_row(self, lineno: int, exc: RowError) -> None:
        self.bad += 1
        self.first_error = self.first_error or str(exc)
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(f"line {lineno}: {exc}")

    def good_row(self, lineno: int, row: Row) -> None:
        if row.declared_len is not None:
            self.len_mismatch += 1
            self.first_mismatch = self.first_mismatch or (
                f"line {lineno}: len {row.declared_len}, {2 * row.csi.shape[2]} values"
                if row.csi.shape[0] == 1
                else f"line {lineno}: len {row.declared_len}"
            )
        if row.extra_fields:
            self.extra += 1
            self.first_extra = self.first_extra or lineno

    def summary(self) -> tuple[list[str], list[str]]:
        """(problem lines, note lines)."""
        problems = list(self.problems)
        if self.bad > len(problems):
            problems.append(f"... and {self.bad - len(problems)} more bad rows")
        if self.other:
            problems.append(
                f"{self.other} lines that are not CSI_DATA rows ignored (first: line "
                f"{self.first_other})"
            )
        notes = []
        if self.len_mismatch:
            notes.append(
                f"{self.len_mismatch} rows whose len field disagrees with their CSI array "
                f"(e.g. LLTF-only output): imported the values present ({self.first_mismatch})"
            )
        if self.extra:
            notes.append(
                f"{self.extra} rows with extra columns after the CSI array, ignored "
                f"(first: line {self.first_extra})"
            )
        return problems, notes


def read_file(path, *, router_id: str, environment_id: str) -> FileImport:
    """Import an ESP32 CSI text capture (see the module docstring)."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise CaptureFileError("empty file")
    if b"\0" in data[:4096]:
        raise CaptureFileError("binary data, not ESP32 CSI text")
    header = None
    stamper = _Stamper()
    rows: list[tuple] = []
    raw: list[bytes] = []
    raw_macs: list[int] = []
    tally = _Tally()
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith(_PREFIX):
            parsed = parse_header(stripped)
            if parsed is not None:
                header = parsed
            else:
                tally.other += 1
                tally.first_other = tally.first_other or lineno
            continue
        raw.append(line)
        raw_macs.append(0)
        seq = stamper.next_index()
        try:
            row = parse_row(stripped, header)
        except RowError as exc:
            tally.bad_row(lineno, exc)
            continue
        tally.good_row(lineno, row)
        raw_macs[-1] = mac_to_int(row.source_mac)
        rows.append(
            (stamper.stamp(row), 0, seq, row.csi, row.subcarriers,
             np.array([row.rssi], dtype=np.float32), row.noise_floor,
             row.center_freq_mhz, row.bandwidth_mhz, raw_macs[-1])
        )  # fmt: skip
    if not raw:
        raise CaptureFileError("no CSI_DATA rows: not ESP32 CSI text")
    if not rows:
        why = tally.first_error
        raise CaptureFileError(f"none of {len(raw)} CSI_DATA rows is readable ({why})")
    problems, notes = tally.summary()
    return FileImport(
        format=FORMAT,
        batch=_batch_from_rows(rows, router_id, environment_id, HW_FORMAT),
        raw=RawRecords.from_list(raw, np.zeros(len(raw), dtype=np.int64)),
        records=len(raw),
        skipped=tally.bad,
        problems=problems,
        notes=notes,
        raw_source_mac=np.array(raw_macs, dtype=np.int64),
    )


# --------------------------------------------------------------------------- live


class Parser(PacketParser):
    """Live datagrams of one or more CSI_DATA lines -> one frame per good line."""

    format = FORMAT
    hw_format = HW_FORMAT

    def __init__(self, router_id: str, environment_id: str) -> None:
        super().__init__(router_id, environment_id)
        self._stamper = _Stamper()
        self._header: dict[str, int] | None = None

    def _parse(self, data: bytes, host_time_ns: int) -> list[CsiFrame]:
        if not data.strip():
            raise PacketError("short", "empty datagram")
        frames = []
        for line in data.split(b"\n"):
            line = line.strip()
            if not line:
                continue
            if not line.startswith(_PREFIX):
                header = parse_header(line)
                if header is not None:
                    self._header = header  # learned, but still not a CSI line
                self.stats.skipped["foreign"] += 1
                continue
            seq = self._stamper.next_index()
            try:
                row = parse_row(line, self._header)
            except RowError:
                self.stats.skipped["corrupt"] += 1
                continue
            frames.append(
                CsiFrame(
                    timestamp_ns=self._stamper.stamp(row),
                    host_time_ns=host_time_ns,
                    router_id=self.router_id,
                    environment_id=self.environment_id,
                    sequence=seq,
                    csi=row.csi,
                    subcarriers=row.subcarriers,
                    rssi_dbm=np.array([row.rssi], dtype=np.float32),
                    noise_floor_dbm=row.noise_floor,
                    center_freq_mhz=row.center_freq_mhz,
                    bandwidth_mhz=row.bandwidth_mhz,
                    hw_format=HW_FORMAT,
                    source_mac=row.source_mac,
                )
            )
        return frames
