"""ESP32 CSI as a numpy archive (``.npz``): the raw CSI buffers of a whole capture.

Some projects (espectre's ``micro-espectre/data`` among them) save a capture with
``numpy.savez``: ``csi_data`` (int8, N x 2S: S subcarriers as [imaginary, real] pairs,
as ESP-IDF hands the buffer over) and scalars such as ``chip``, ``label``,
``duration_ms``, ``gain_locked``, ``num_subcarriers``. The format is detected by content:
a zip archive holding a ``csi_data`` array. The scalars are kept in
``FileImport.metadata``.

Subcarrier order. ESP-IDF's table puts an HT20 buffer in FFT order (``0..31, -32..-1``),
and the ESP32, -S3 and -C3 archives hold it that way: their nulls (the guard band past
+-28 and DC) sit in the middle and at the start of the buffer. The -C5 and -C6 archives
hold the subcarriers in ascending order (``-32..31``): their nulls sit at both ends and in
the middle (DC). The order is judged per file from where the mean amplitude is lowest
(the two outer pairs at each end against the two beside the middle); only when the data
cannot tell (e.g. all zero) does the chip name decide (C5 and C6 ascending). Frames are
always in ascending order, over ``-S/2 .. S/2-1``; a verdict that contradicts the chip
is noted.

Time. The archive has no per-packet time, only ``duration_ms``: packet i gets
``timestamp_ns = i * duration / N`` (integer nanoseconds, evenly spread); sequence is
the packet index; host time 0; RSSI, noise floor and centre frequency are unknown (NaN).
The bandwidth is the one the subcarriers span (S / 3.2 MHz: 20 for 64). ``raw`` holds
each packet's 2S bytes as stored.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords
from wdp.capture.frame import FrameBatch

FORMAT = "esp32-npz"
HW_FORMAT = "esp32"

_ZIP_MAGIC = b"PK\x03\x04"
#: Chips whose archives are known to hold subcarriers in ascending order.
ASCENDING_CHIPS = ("c5", "c6")
#: One side's mean amplitude below this share of the other's counts as null.
_NULL_RATIO = 0.25


def sniff(head: bytes) -> bool:
    """A zip archive (what ``numpy.savez`` writes); ``read_file`` checks for ``csi_data``."""
    return head[:4] == _ZIP_MAGIC


def _load(path) -> tuple[np.ndarray, dict]:
    """``csi_data`` and the scalar entries of the archive; CaptureFileError if unusable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "csi_data" not in z.files:
                names = ", ".join(sorted(z.files)[:6]) or "nothing"
                raise CaptureFileError(
                    f"a zip/npz archive without a csi_data array (holds {names}): "
                    "not an ESP32 CSI archive"
                )
            csi = z["csi_data"]
            meta = {}
            for name in sorted(z.files):
                value = z[name] if name != "csi_data" else None
                if value is not None and value.ndim == 0:
                    meta[name] = value.item()
    except CaptureFileError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise CaptureFileError(f"not a readable numpy archive ({exc})") from None
    return csi, meta


def _check(csi: np.ndarray) -> np.ndarray:
    if csi.ndim != 2 or csi.shape[0] == 0 or csi.shape[1] == 0 or csi.shape[1] % 2:
        raise CaptureFileError(
            f"csi_data has shape {csi.shape}: expected N packets x (imag, real) pairs"
        )
    if not np.issubdtype(csi.dtype, np.integer):
        raise CaptureFileError(f"csi_data holds {csi.dtype}, not int8 CSI values")
    if csi.dtype != np.int8 and (csi.min() < -128 or csi.max() > 127):
        raise CaptureFileError("csi_data holds values that do not fit int8")
    return csi.astype(np.int8, copy=False)


def judge_order(amplitude: np.ndarray) -> str | None:
    """ "ascending", "fft" or None (cannot tell) from the mean amplitude of each pair.

    Ascending order has its guard band at both ends and DC in the middle; FFT order
    has DC first and its guard band in the middle. The two pairs beside each end
    (skipping DC, which some chips interpolate) are compared with the two beside the
    middle.
    """
    n = amplitude.shape[0]
    if n < 8:
        return None
    ends = float(amplitude[[1, 2, n - 2, n - 1]].mean())
    middle = float(amplitude[[n // 2 - 1, n // 2 + 1]].mean())
    if ends < _NULL_RATIO * middle:
        return "ascending"
    if middle < _NULL_RATIO * ends:
        return "fft"
    return None


def _order(pairs: np.ndarray, chip: str, notes: list[str]) -> np.ndarray:
    """Per-pair gather that puts a packet's subcarriers in ascending order."""
    n = pairs.shape[1]
    amplitude = np.abs(pairs.astype(np.float32)).sum(axis=2).mean(axis=0)
    verdict = judge_order(amplitude)
    by_chip = "ascending" if chip.lower() in ASCENDING_CHIPS else "fft"
    if verdict is None:
        verdict = by_chip
        notes.append(f"subcarrier order not visible in the data; {verdict} assumed for {chip!r}")
    elif verdict != by_chip:
        notes.append(f"subcarrier order judged {verdict} from the null subcarriers (chip {chip!r})")
    if verdict == "ascending":
        return np.arange(n)
    return np.concatenate([np.arange(n // 2, n), np.arange(n // 2)])


def _duration_ns(meta: dict, n: int, notes: list[str]) -> int:
    duration = meta.get("duration_ms")
    if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration <= 0:
        raise CaptureFileError(
            f"no usable duration_ms ({duration!r}): the archive has no per-packet time "
            "and packets cannot be placed on a clock without it"
        )
    ns = round(duration * 1e6)
    notes.append(
        f"no per-packet time: {n} packets spread evenly over duration_ms {duration:.1f} "
        f"({n / (duration / 1000):.1f} Hz)"
    )
    return ns


def read_file(path, *, router_id: str, environment_id: str) -> FileImport:
    """Import an ESP32 CSI numpy archive (see the module docstring)."""
    if not Path(path).is_file():
        raise CaptureFileError("not a file")
    csi_data, meta = _load(path)
    csi_data = _check(csi_data)
    notes: list[str] = []
    n, width = csi_data.shape
    n_sub = width // 2
    pairs = csi_data.reshape(n, n_sub, 2)
    chip = str(meta.get("chip", ""))
    order = _order(pairs, chip, notes)
    declared = meta.get("num_subcarriers")
    if isinstance(declared, int) and declared != n_sub:
        notes.append(f"num_subcarriers says {declared}, csi_data holds {n_sub}")
    duration_ns = _duration_ns(meta, n, notes)
    ordered = pairs[:, order].astype(np.float32)
    csi = (ordered[..., 1] + 1j * ordered[..., 0]).astype(np.complex64)
    subcarriers = np.arange(-(n_sub // 2), n_sub - n_sub // 2, dtype=np.int16)
    batch = FrameBatch(
        router_id=router_id,
        environment_id=environment_id,
        hw_format=HW_FORMAT,
        timestamp_ns=np.arange(n, dtype=np.int64) * duration_ns // n,
        host_time_ns=np.zeros(n, dtype=np.int64),
        sequence=np.arange(n, dtype=np.int64),
        csi=csi.reshape(n, 1, 1, n_sub),
        shape=np.tile(np.array([1, 1, n_sub], dtype=np.uint16), (n, 1)),
        subcarriers=np.tile(subcarriers, (n, 1)),
        rssi_dbm=np.full((n, 1), np.nan, dtype=np.float32),
        noise_floor_dbm=np.full(n, np.nan, dtype=np.float32),
        center_freq_mhz=np.full(n, np.nan, dtype=np.float32),
        bandwidth_mhz=np.full(n, n_sub / 3.2, dtype=np.float32),
    )
    raw = RawRecords(
        csi_data.tobytes(),
        np.arange(n + 1, dtype=np.int64) * width,
        np.zeros(n, dtype=np.int64),
    )
    return FileImport(
        format=FORMAT,
        batch=batch,
        raw=raw,
        records=n,
        skipped=0,
        problems=[],
        notes=notes,
        metadata=meta,
    )
