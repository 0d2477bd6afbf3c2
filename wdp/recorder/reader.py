"""Reading a recording back: frames, batches and raw records, from any state of the file.

A recording may be complete, still being written (opened as an SWMR reader, so it sees
the file grow), or left behind by a writer that was killed (the superblock still says
"open for writing", which only an SWMR reader ignores). In every case the committed
rows are ``min(counter, dataset length)`` of each router, so what is read is always
data that reached the disk whole. Anything that is not a readable wdp recording gives a
``RecordingError`` with one line saying why.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs
import h5py
import numpy as np

from wdp.capture.formats.base import RawRecords
from wdp.capture.frame import CsiFrame, FrameBatch, sort_key
from wdp.recorder import schema
from wdp.recorder import truth as truth_mod
from wdp.recorder.schema import RecordingError, RouterInfo

#: Frames read per HDF5 read when iterating; bounds memory whatever the file size.
READ_CHUNK_FRAMES = 4096

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

#: What h5py raises on a damaged file, depending on where the damage is met.
_H5_ERRORS = (OSError, RuntimeError, ValueError, KeyError, TypeError)


@attrs.frozen(slots=True)
class RecordingAttrs:
    """The root attributes of a recording."""

    schema_version: int
    wdp_version: str
    library_versions: dict
    source: str
    config: object  # the parsed configuration snapshot (None when there was none)
    config_json: str
    start_time_ns: int
    start_time_iso: str
    #: What the recorded person was doing and who or where (``wdp record --label``);
    #: "" in unlabelled recordings and in files written before labels existed.
    label: str = ""
    label_group: str = ""


class _RouterReader:
    """One router group: committed row counts and column reads."""

    def __init__(self, group: h5py.Group) -> None:
        a = group.attrs
        self.info = RouterInfo(
            router_id=_text(a["router_id"]),
            environment_id=_text(a["environment_id"]),
            hw_format=_text(a["hw_format"]),
        )
        #: Columns of the file: one written before an optional column existed lacks it.
        self.ds = {name: group[name] for name in schema.COLUMNS_1D if name in group}
        missing = set(schema.COLUMNS_1D) - set(self.ds) - set(schema.OPTIONAL_COLUMNS)
        if missing:
            raise KeyError(sorted(missing)[0])
        for name in ("shape", "rssi_dbm", "csi", "subcarrier_sets", "subcarrier_set_sizes"):
            self.ds[name] = group[name]
        self.n_frames = group["n_frames"]
        raw = group["raw"]
        self.raw = {name: raw[name] for name in ("bytes", "offsets", "host_time_ns")}
        self.n_records = raw["n_records"]
        self._sets = np.zeros((0, 0), np.int16)
        self._set_sizes = np.zeros(0, np.int32)
        self._valid = -1  # sets known to be on disk: indices 0.._valid

    def count(self) -> int:
        """Frames committed and present in every per-frame dataset."""
        self.n_frames.refresh()
        n = int(self.n_frames[()])
        for name in (*schema.COLUMNS_1D, "shape", "rssi_dbm", "csi"):
            ds = self.ds.get(name)
            if ds is None:
                continue
            ds.refresh()
            n = min(n, ds.shape[0])
        return max(n, 0)

    def raw_count(self) -> int:
        self.n_records.refresh()
        for ds in self.raw.values():
            ds.refresh()
        m = int(self.n_records[()])
        m = min(m, self.raw["host_time_ns"].shape[0], self.raw["offsets"].shape[0] - 1)
        return max(m, 0)

    def sets(self, needed: int) -> tuple[np.ndarray, np.ndarray]:
        """The subcarrier sets, valid at least up to index ``needed``.

        Sets are numbered as the writer registers them and written in that order, each
        before the first frame that uses it; so once a frame using set ``needed`` is
        committed, every set up to that index is on disk. While the writer runs, rows
        past it may still be zeros on disk; they are read again once a committed frame
        needs them.
        """
        if needed > self._valid:
            s, z = self.ds["subcarrier_sets"], self.ds["subcarrier_set_sizes"]
            s.refresh()
            z.refresh()
            self._sets, self._set_sizes = s[()], z[()]
            self._valid = needed
        return self._sets, self._set_sizes

    def batch(self, a: int, b: int) -> FrameBatch:
        """Committed frames [a, b) (the caller has counted them) as one batch."""
        ds = self.ds
        shape = ds["shape"][a:b]
        t, r, s = (int(v) for v in shape.max(axis=0))
        layout = ds["layout"][a:b]
        lo, hi = int(layout.min()), int(layout.max())
        sets, sizes = self.sets(hi)
        if lo < 0 or hi >= sets.shape[0] or hi >= sizes.shape[0]:
            raise RecordingError(
                f"router {self.info.router_id!r}: frame layout index out of range "
                f"(damaged recording)"
            )
        if not np.array_equal(sizes[layout], shape[:, 2]):
            raise RecordingError(
                f"router {self.info.router_id!r}: subcarrier set sizes disagree with "
                f"frame shapes (damaged recording)"
            )
        csi_ds, rssi_ds = ds["csi"], ds["rssi_dbm"]
        if csi_ds.shape[1:] != (t, r, s):
            csi = csi_ds[a:b, :t, :r, :s]
        else:
            csi = csi_ds[a:b]
        if csi.shape[1:] != (t, r, s) or rssi_ds.shape[1] < r or sets.shape[1] < s:
            raise RecordingError(
                f"router {self.info.router_id!r}: frame shapes exceed the stored arrays "
                f"(damaged recording)"
            )
        return FrameBatch(
            router_id=self.info.router_id,
            environment_id=self.info.environment_id,
            hw_format=self.info.hw_format,
            timestamp_ns=ds["timestamp_ns"][a:b],
            host_time_ns=ds["host_time_ns"][a:b],
            sequence=ds["sequence"][a:b],
            csi=np.ascontiguousarray(csi, dtype=np.complex64),
            shape=shape,
            subcarriers=np.ascontiguousarray(sets[layout, :s]),
            rssi_dbm=rssi_ds[a:b, :r],
            noise_floor_dbm=ds["noise_floor_dbm"][a:b],
            center_freq_mhz=ds["center_freq_mhz"][a:b],
            bandwidth_mhz=ds["bandwidth_mhz"][a:b],
            source_mac=self._optional("source_mac", a, b),
        )

    def _optional(self, name: str, a: int, b: int) -> np.ndarray:
        """Rows [a, b) of an optional column, or its default where the file lacks it."""
        ds = self.ds.get(name)
        if ds is None:
            dtype = schema.COLUMNS_1D[name]
            return np.full(b - a, schema.OPTIONAL_COLUMNS[name], dtype=dtype)
        return ds[a:b]


class Recording:
    """An open recording (use ``open_recording``); a context manager that closes the file."""

    def __init__(self, path: Path, file: h5py.File) -> None:
        self.path = path
        self._file = file
        try:
            self.attrs = _read_attrs(file)
            routers = file[schema.ROUTERS_GROUP]
            readers = [_RouterReader(routers[name]) for name in routers]
            self._closed_ds = file[schema.CLOSED_CLEANLY]
        except KeyError as e:
            raise RecordingError(f"{path}: damaged wdp recording (missing {_key(e)})") from None
        except (OSError, RuntimeError, ValueError, TypeError) as e:
            raise RecordingError(f"{path}: damaged wdp recording ({_first_line(e)})") from None
        self._routers = {
            r.info.router_id: r for r in sorted(readers, key=lambda r: r.info.router_id)
        }

    # ------------------------------------------------------------------ metadata

    @property
    def routers(self) -> tuple[RouterInfo, ...]:
        """The declared routers, ordered by router_id."""
        return tuple(r.info for r in self._routers.values())

    def router(self, router_id: str) -> RouterInfo:
        return self._reader(router_id).info

    @property
    def closed_cleanly(self) -> bool:
        """True once the writer closed the file; False while it writes or if it was killed."""
        try:
            self._closed_ds.refresh()
            return bool(self._closed_ds[()])
        except _H5_ERRORS as e:
            raise RecordingError(f"{self.path}: damaged wdp recording ({_first_line(e)})") from None

    def truth(self) -> truth_mod.Truth | None:
        """The recording's ground truth (simulated recordings), or None."""
        try:
            return truth_mod.read(self._file[schema.TRUTH_GROUP])
        except RecordingError as e:
            raise RecordingError(f"{self.path}: {e}") from None
        except KeyError:
            return None
        except _H5_ERRORS as e:
            raise RecordingError(f"{self.path}: damaged wdp recording ({_first_line(e)})") from None

    def frame_count(self, router_id: str) -> int:
        """Committed frames of a router (grows while the writer is running)."""
        return self._guard(self._reader(router_id).count)

    def raw_count(self, router_id: str) -> int:
        return self._guard(self._reader(router_id).raw_count)

    def _reader(self, router_id: str) -> _RouterReader:
        try:
            return self._routers[router_id]
        except KeyError:
            raise RecordingError(
                f"{self.path}: no router {router_id!r} in this recording "
                f"(has: {', '.join(map(repr, self._routers)) or 'none'})"
            ) from None

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except RecordingError as e:
            raise RecordingError(f"{self.path}: {e}") from None
        except _H5_ERRORS as e:
            raise RecordingError(f"{self.path}: damaged wdp recording ({_first_line(e)})") from None

    # ------------------------------------------------------------------ data

    def batches(
        self, router_id: str, *, chunk_frames: int = READ_CHUNK_FRAMES
    ) -> Iterator[FrameBatch]:
        """A router's committed frames as FrameBatch chunks, in recorded order."""
        reader = self._reader(router_id)
        n = self._guard(reader.count)
        for a in range(0, n, chunk_frames):
            yield self._guard(reader.batch, a, min(a + chunk_frames, n))

    def frames(
        self, routers: Iterable[str] | None = None, *, chunk_frames: int = READ_CHUNK_FRAMES
    ) -> Iterator[CsiFrame]:
        """Every committed frame, across routers in ``sort_key`` order.

        Each router's frames are read in chunks and the per-router streams merged, so
        memory stays bounded. The capture conventions make every router's stream sorted
        (timestamps non-decreasing); should one not be, its frames keep their recorded
        order and the merge is still deterministic.
        """
        ids = sorted(self._routers) if routers is None else sorted(routers)
        streams = [self._frames_of(rid, chunk_frames) for rid in ids]
        return heapq.merge(*streams, key=sort_key)

    def _frames_of(self, router_id: str, chunk_frames: int) -> Iterator[CsiFrame]:
        for batch in self.batches(router_id, chunk_frames=chunk_frames):
            yield from batch.frames()

    def read_batch(self, router_id: str) -> FrameBatch | None:
        """All committed frames of a router in one batch (None when it has none)."""
        reader = self._reader(router_id)
        n = self._guard(reader.count)
        return self._guard(reader.batch, 0, n) if n else None

    def raw(self, router_id: str) -> RawRecords:
        """The router's committed raw records, exactly as received."""
        return self._guard(self._raw, self._reader(router_id))

    def _raw(self, reader: _RouterReader) -> RawRecords:
        m = reader.raw_count()
        offsets = reader.raw["offsets"][: m + 1]
        end = int(offsets[-1])
        if offsets[0] != 0 or (np.diff(offsets) < 0).any() or reader.raw["bytes"].shape[0] < end:
            raise RecordingError("raw record offsets are inconsistent (damaged recording)")
        data = reader.raw["bytes"][:end].tobytes() if end else b""
        return RawRecords(data, offsets, reader.raw["host_time_ns"][:m])

    def column(self, router_id: str, name: str, start: int = 0, stop: int | None = None):
        """Committed rows [start, stop) of one per-frame dataset, as stored."""
        reader = self._reader(router_id)

        def read():
            n = reader.count()
            a, b = start, n if stop is None else min(stop, n)
            if name in schema.OPTIONAL_COLUMNS:
                return reader._optional(name, a, max(a, b))
            return reader.ds[name][a:b]

        return self._guard(read)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_recording(path: str | os.PathLike) -> Recording:
    """Open a wdp recording for reading, whatever state the writer left it in."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{path}: is a directory, not a recording") from None
    except OSError as e:
        raise RecordingError(f"{path}: cannot read ({_first_line(e)})") from None
    if not head:
        raise RecordingError(f"{path}: empty file, not a wdp recording")
    if head != _HDF5_SIGNATURE and not h5py.is_hdf5(path):  # is_hdf5 finds user blocks
        raise RecordingError(f"{path}: not an HDF5 file, so not a wdp recording")
    file = _open_h5(path)
    try:
        fmt = file.attrs.get("format")
        if fmt is None or _text(fmt) != schema.FORMAT_NAME:
            raise RecordingError(f"{path}: an HDF5 file but not a wdp recording")
        version = int(file.attrs.get("schema_version", -1))
        if version > schema.SCHEMA_VERSION:
            raise RecordingError(
                f"{path}: recording schema {version} is newer than this wdp reads "
                f"(schema {schema.SCHEMA_VERSION}); upgrade wdp"
            )
        if version < 1:
            raise RecordingError(f"{path}: damaged wdp recording (bad schema_version)")
        return Recording(path, file)
    except RecordingError:
        file.close()
        raise
    except _H5_ERRORS as e:
        file.close()
        raise RecordingError(f"{path}: damaged wdp recording ({_first_line(e)})") from None


def _open_h5(path: Path) -> h5py.File:
    """Open as a plain reader if the file was closed, else as an SWMR reader.

    A plain open checks the file's length against the superblock, so a truncated
    file is caught at once. A file whose writer is running or was killed still says
    "open for writing" and only opens as an SWMR reader, which skips that check
    (the file may be growing); there a damaged piece of metadata would be re-read
    HDF5's default 100 times with a backoff that reaches a second per try, so the
    number of attempts is lowered first.
    """
    try:
        return h5py.File(path, "r")
    except OSError as e:
        message = str(e)
        if "already open for write" not in message and "unable to lock" not in message:
            raise RecordingError(
                f"{path}: damaged or truncated HDF5 file ({_first_line(e)})"
            ) from None
    try:
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        _limit_read_attempts(fapl)
        flags = h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ
        return h5py.File(h5py.h5f.open(os.fsencode(path), flags, fapl=fapl))
    except _H5_ERRORS as e:
        if "unable to lock" in str(e):
            raise RecordingError(
                f"{path}: locked by its writer, which has not opened it for readers yet; "
                f"try again in a moment"
            ) from None
        raise RecordingError(f"{path}: damaged or truncated HDF5 file ({_first_line(e)})") from None


#: Metadata read attempts of an SWMR reader: enough to ride out a torn read while the
#: writer rewrites a block (the backoff doubles from a microsecond), few enough that a
#: truly damaged file fails in milliseconds.
SWMR_READ_ATTEMPTS = 12

_set_read_attempts = None


def _limit_read_attempts(fapl) -> None:
    """H5Pset_metadata_read_attempts, which h5py does not wrap, through ctypes.

    Looks for the libhdf5 that h5py's wheel bundles (the one already loaded); with a
    system HDF5 it tries the system library. If neither is found, HDF5's default stays.
    """
    global _set_read_attempts
    if _set_read_attempts is None:
        _set_read_attempts = False
        import ctypes
        import ctypes.util
        import glob

        libs = os.path.join(os.path.dirname(os.path.dirname(h5py.__file__)), "h5py.libs")
        candidates = sorted(glob.glob(os.path.join(libs, "libhdf5-*.so*")))
        system = ctypes.util.find_library("hdf5")
        for candidate in [*candidates, *([system] if system else [])]:
            try:
                fn = ctypes.CDLL(candidate).H5Pset_metadata_read_attempts
            except (OSError, AttributeError):
                continue
            fn.argtypes = [ctypes.c_int64, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _set_read_attempts = fn
            break
    if _set_read_attempts:
        _set_read_attempts(fapl.id, SWMR_READ_ATTEMPTS)


def _read_attrs(file: h5py.File) -> RecordingAttrs:
    a = file.attrs
    config_json = _text(a["config"])
    try:
        config = json.loads(config_json)
    except ValueError:
        config = config_json
    try:
        libs = json.loads(_text(a["library_versions"]))
    except ValueError:
        libs = {}
    return RecordingAttrs(
        schema_version=int(a["schema_version"]),
        wdp_version=_text(a["wdp_version"]),
        library_versions=libs,
        source=_text(a["source"]),
        config=config,
        config_json=config_json,
        start_time_ns=int(a["start_time_ns"]),
        start_time_iso=_text(a["start_time_iso"]),
        label=_text(a.get("label", "")),
        label_group=_text(a.get("label_group", "")),
    )


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _key(e: KeyError) -> str:
    return _first_line(e).strip("'\"")


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
