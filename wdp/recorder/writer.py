"""Recording CSI frames and raw records to one HDF5 file, crash-safe.

The file is opened in SWMR mode (single writer, multiple readers), so a reader can
follow it while it grows, and a writer killed at any instant leaves a file whose
committed part opens and reads back intact. Durability is time-based: the writer
flushes at least every ``flush_interval`` seconds (checked on every append, and on
``poll()`` for a caller that may fall idle), so a crash loses at most that much.

What is committed is said by per-router counters (``n_frames``, ``raw/n_records``)
that are written only *after* the data they count has been flushed, and flushed in
turn: on disk a counter therefore never covers rows that are not there, whatever
order HDF5 writes its caches in. Readers take ``min(counter, dataset length)``.

Speed comes from columns: frames are buffered per router in numpy arrays and written
as slabs of ``chunk_frames`` rows, one write per dataset per slab, so the batch path
does no per-frame Python work and the per-frame path costs a few array stores.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import h5py
import numpy as np

import wdp
from wdp.capture.formats.base import RawRecords
from wdp.capture.frame import CsiFrame, FrameBatch
from wdp.recorder import schema
from wdp.recorder import truth as truth_mod
from wdp.recorder.schema import RecordingError, RouterInfo, UndeclaredRouterError

#: Bytes per frame besides csi and rssi: 4 int64 (source_mac too), 3 float32, int32
#: layout, 3 uint16 shape.
_FIXED_FRAME_BYTES = 4 * 8 + 3 * 4 + 4 + 3 * 2


def frame_bytes(shape: np.ndarray) -> np.ndarray:
    """Payload bytes of frames of true shapes ``shape`` [N, 3] (csi, rssi, columns).

    A deterministic measure of how much a file holds, used to roll files by size; the
    file on disk is a little larger (HDF5 metadata, chunk padding).
    """
    s = shape.astype(np.int64)
    return _FIXED_FRAME_BYTES + 4 * s[:, 1] + 8 * s[:, 0] * s[:, 1] * s[:, 2]


#: Bytes per raw record besides its data: its offset and host time.
_RAW_RECORD_BYTES = 16


def raw_bytes(raw: RawRecords) -> int:
    """Payload bytes of raw records (data plus offset and host time of each)."""
    if len(raw) == 0:
        return 0
    return int(raw.offsets[-1] - raw.offsets[0]) + _RAW_RECORD_BYTES * len(raw)


class _Slab:
    """Columns of consecutive frames of one router, ready to be written in one go."""

    __slots__ = (
        "timestamp_ns",
        "host_time_ns",
        "sequence",
        "noise_floor_dbm",
        "center_freq_mhz",
        "bandwidth_mhz",
        "layout",
        "source_mac",
        "shape",
        "rssi_dbm",
        "csi",
    )

    def __init__(self, **columns: np.ndarray) -> None:
        for name, value in columns.items():
            setattr(self, name, value)

    def __len__(self) -> int:
        return int(self.timestamp_ns.shape[0])

    @classmethod
    def concat(cls, slabs: list[_Slab]) -> _Slab:
        if len(slabs) == 1:
            return slabs[0]
        n = sum(len(s) for s in slabs)
        t = max(s.csi.shape[1] for s in slabs)
        r = max(s.csi.shape[2] for s in slabs)
        sc = max(s.csi.shape[3] for s in slabs)
        csi = np.zeros((n, t, r, sc), dtype=np.complex64)
        rssi = np.full((n, r), np.nan, dtype=np.float32)
        i = 0
        for s in slabs:
            j = i + len(s)
            _, st, sr, ss = s.csi.shape
            csi[i:j, :st, :sr, :ss] = s.csi
            rssi[i:j, : s.rssi_dbm.shape[1]] = s.rssi_dbm
            i = j
        columns = {
            name: np.concatenate([getattr(s, name) for s in slabs])
            for name in _Slab.__slots__
            if name not in ("csi", "rssi_dbm")
        }
        return cls(csi=csi, rssi_dbm=rssi, **columns)


class _RowBuffer:
    """Frames appended one by one, stored straight into preallocated columns."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.n = 0
        self.dims: tuple[int, int, int] | None = None

    def _allocate(self, dims: tuple[int, int, int]) -> None:
        c = self.capacity
        self.dims = dims
        self.ints = np.zeros((c, 4), dtype=np.int64)  # timestamp, host time, sequence, mac
        self.floats = np.zeros((c, 3), dtype=np.float32)  # noise, centre freq, bandwidth
        self.layout = np.zeros(c, dtype=np.int32)
        self.shape = np.zeros((c, 3), dtype=np.uint16)
        self.rssi = np.full((c, dims[1]), np.nan, dtype=np.float32)
        self.csi = np.zeros((c, *dims), dtype=np.complex64)

    def _grow(self, dims: tuple[int, int, int]) -> None:
        old_rssi, old_csi = self.rssi, self.csi
        n, (t, r, s) = self.n, old_csi.shape[1:]
        self.dims = dims
        self.rssi = np.full((self.capacity, dims[1]), np.nan, dtype=np.float32)
        self.rssi[:n, :r] = old_rssi[:n]
        self.csi = np.zeros((self.capacity, *dims), dtype=np.complex64)
        self.csi[:n, :t, :r, :s] = old_csi[:n]

    def add(self, f: CsiFrame, layout: int) -> bool:
        """Store one frame; True when the buffer is full."""
        csi = f.csi
        t, r, s = csi.shape
        dims = self.dims
        if dims is None:
            self._allocate((t, r, s))
        elif t > dims[0] or r > dims[1] or s > dims[2]:
            self._grow((max(t, dims[0]), max(r, dims[1]), max(s, dims[2])))
        i = self.n
        mac = int(f.source_mac.replace(":", ""), 16) if f.source_mac else 0
        self.ints[i] = (f.timestamp_ns, f.host_time_ns, f.sequence, mac)
        self.floats[i] = (f.noise_floor_dbm, f.center_freq_mhz, f.bandwidth_mhz)
        self.layout[i] = layout
        self.shape[i] = (t, r, s)
        if (t, r, s) == self.dims:
            self.csi[i] = csi
            self.rssi[i] = f.rssi_dbm
        else:
            self.csi[i, :t, :r, :s] = csi
            self.rssi[i, :r] = f.rssi_dbm
        self.n = i + 1
        return self.n == self.capacity

    def take(self) -> _Slab | None:
        """The buffered frames as a slab; the buffer starts afresh."""
        n = self.n
        if n == 0:
            return None
        slab = _Slab(
            timestamp_ns=self.ints[:n, 0].copy(),
            host_time_ns=self.ints[:n, 1].copy(),
            sequence=self.ints[:n, 2].copy(),
            noise_floor_dbm=self.floats[:n, 0].copy(),
            center_freq_mhz=self.floats[:n, 1].copy(),
            bandwidth_mhz=self.floats[:n, 2].copy(),
            layout=self.layout[:n],
            source_mac=self.ints[:n, 3].copy(),
            shape=self.shape[:n],
            rssi_dbm=self.rssi[:n],
            csi=self.csi[:n],
        )
        self.n = 0
        self.dims = None  # fresh arrays on the next add: the slab keeps these
        return slab


class _SubcarrierSets:
    """The distinct subcarrier index sets of a router, deduplicated; frames store an index."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}
        self.unwritten: list[np.ndarray] = []

    def lookup(self, subcarriers: np.ndarray) -> int:
        key = subcarriers.tobytes()
        k = self.index.get(key)
        if k is None:
            k = self.index[key] = len(self.index)
            self.unwritten.append(np.array(subcarriers, dtype=np.int16))
        return k

    def layouts(self, subcarriers: np.ndarray, n_sub: np.ndarray) -> np.ndarray:
        """Per-frame set index of a batch's zero-padded [N, S] subcarriers, vectorised."""
        n = subcarriers.shape[0]
        first = int(n_sub[0])
        if (n_sub == first).all() and (subcarriers[:, :first] == subcarriers[0, :first]).all():
            return np.full(n, self.lookup(subcarriers[0, :first]), dtype=np.int32)
        width = subcarriers.shape[1]
        valid = np.arange(width) < n_sub[:, None]
        keyed = np.column_stack([n_sub.astype(np.int16), np.where(valid, subcarriers, 0)])
        rows, inverse = np.unique(keyed, axis=0, return_inverse=True)
        table = np.array([self.lookup(row[1 : 1 + int(row[0])]) for row in rows], dtype=np.int32)
        return table[inverse.reshape(-1)]

    def write(self, group: h5py.Group) -> None:
        if not self.unwritten:
            return
        sets, sizes = group["subcarrier_sets"], group["subcarrier_set_sizes"]
        k0 = sizes.shape[0]
        k1 = k0 + len(self.unwritten)
        width = max(sets.shape[1], max(len(s) for s in self.unwritten))
        block = np.zeros((len(self.unwritten), width), dtype=np.int16)
        for i, s in enumerate(self.unwritten):
            block[i, : len(s)] = s
        sets.resize((k1, width))
        sets[k0:k1] = block
        sizes.resize((k1,))
        sizes[k0:k1] = [len(s) for s in self.unwritten]
        self.unwritten.clear()


class _RouterWriter:
    """One router's group: pending frames and raw records, and what is written and committed."""

    def __init__(self, info: RouterInfo, group: h5py.Group, chunk_frames: int) -> None:
        self.info = info
        self.group = group
        self.chunk_frames = chunk_frames
        self.columns = {name: group[name] for name in schema.COLUMNS_1D}
        self.shape_ds = group["shape"]
        self.rssi_ds = group["rssi_dbm"]
        self.csi_ds = group["csi"]
        self.n_frames_ds = group["n_frames"]
        raw = group["raw"]
        self.raw_bytes_ds = raw["bytes"]
        self.raw_offsets_ds = raw["offsets"]
        self.raw_times_ds = raw["host_time_ns"]
        self.n_records_ds = raw["n_records"]
        self.sets = _SubcarrierSets()
        self.rows = _RowBuffer(chunk_frames)
        self.pending: list[_Slab] = []
        self.pending_n = 0
        self.written = 0  # frames handed to HDF5
        self.committed = 0  # frames counted on disk
        self.raw_pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.raw_one: list[bytes] = []
        self.raw_one_times: list[int] = []
        self.raw_pending_bytes = 0
        self.raw_pending_n = 0
        self.raw_written = 0
        self.raw_written_bytes = 0
        self.raw_committed = 0

    # frames -----------------------------------------------------------------------

    def add_slab(self, slab: _Slab) -> None:
        self.take_rows()
        if self.pending_n + len(slab) < self.chunk_frames:
            # held past this call: copy, as the caller may reuse its arrays
            slab = _Slab(**{name: getattr(slab, name).copy() for name in _Slab.__slots__})
            self.pending.append(slab)
            self.pending_n += len(slab)
            return
        if len(slab) >= self.chunk_frames:
            self.write_pending()
            self.write_slab(slab)
        else:
            self.pending.append(slab)
            self.pending_n += len(slab)
            self.write_pending()

    def add_frame(self, frame: CsiFrame) -> None:
        layout = self.sets.lookup(frame.subcarriers)
        if self.rows.add(frame, layout):
            self.take_rows()
            if self.pending_n >= self.chunk_frames:
                self.write_pending()

    def take_rows(self) -> None:
        slab = self.rows.take()
        if slab is not None:
            self.pending.append(slab)
            self.pending_n += len(slab)

    def write_pending(self) -> None:
        self.take_rows()
        if self.pending:
            slab = _Slab.concat(self.pending)
            self.pending.clear()
            self.pending_n = 0
            self.write_slab(slab)

    def write_slab(self, slab: _Slab) -> None:
        self.sets.write(self.group)  # sets first: a frame never points at a missing set
        n0 = self.written
        n1 = n0 + len(slab)
        for name, ds in self.columns.items():
            ds.resize((n1,))
            ds[n0:n1] = getattr(slab, name)
        self.shape_ds.resize((n1, 3))
        self.shape_ds[n0:n1] = slab.shape
        r = slab.rssi_dbm.shape[1]
        self.rssi_ds.resize((n1, max(self.rssi_ds.shape[1], r)))
        self.rssi_ds[n0:n1, :r] = slab.rssi_dbm
        _, t, r, s = slab.csi.shape
        _, dt, dr, ds_ = self.csi_ds.shape
        self.csi_ds.resize((n1, max(t, dt), max(r, dr), max(s, ds_)))
        self.csi_ds[n0:n1, :t, :r, :s] = slab.csi
        self.written = n1

    # raw records ------------------------------------------------------------------

    def add_raw(self, raw: RawRecords) -> None:
        if len(raw) == 0:
            return
        self.take_raw_one()
        offsets = np.asarray(raw.offsets, dtype=np.int64)
        start, end = int(offsets[0]), int(offsets[-1])
        data = np.frombuffer(raw.data, dtype=np.uint8)[start:end]
        if not isinstance(raw.data, bytes):
            data = data.copy()  # a mutable buffer the caller may reuse
        chunk = (data, np.diff(offsets), np.asarray(raw.host_time_ns, dtype=np.int64))
        self.raw_pending.append(chunk)
        self.raw_pending_bytes += end - start
        self.raw_pending_n += len(raw)
        self.maybe_write_raw()

    def add_raw_one(self, data: bytes, host_time_ns: int) -> None:
        self.raw_one.append(bytes(data))
        self.raw_one_times.append(host_time_ns)
        self.raw_pending_bytes += len(data)
        self.raw_pending_n += 1
        self.maybe_write_raw()

    def take_raw_one(self) -> None:
        if self.raw_one:
            data = np.frombuffer(b"".join(self.raw_one), dtype=np.uint8)
            lengths = np.fromiter(map(len, self.raw_one), dtype=np.int64, count=len(self.raw_one))
            self.raw_pending.append((data, lengths, np.array(self.raw_one_times, np.int64)))
            self.raw_one.clear()
            self.raw_one_times.clear()

    def maybe_write_raw(self) -> None:
        if (
            self.raw_pending_bytes >= schema.CHUNK_RAW_BYTES
            or self.raw_pending_n >= self.chunk_frames
        ):
            self.write_raw()

    def write_raw(self) -> None:
        self.take_raw_one()
        if not self.raw_pending:
            return
        data = np.concatenate([c[0] for c in self.raw_pending])
        lengths = np.concatenate([c[1] for c in self.raw_pending])
        times = np.concatenate([c[2] for c in self.raw_pending])
        self.raw_pending.clear()
        self.raw_pending_bytes = self.raw_pending_n = 0
        b0, b1 = self.raw_written_bytes, self.raw_written_bytes + data.shape[0]
        m0, m1 = self.raw_written, self.raw_written + lengths.shape[0]
        if b1 > b0:
            self.raw_bytes_ds.resize((b1,))
            self.raw_bytes_ds[b0:b1] = data
        self.raw_offsets_ds.resize((m1 + 1,))
        self.raw_offsets_ds[m0 + 1 : m1 + 1] = b0 + np.cumsum(lengths)
        self.raw_times_ds.resize((m1,))
        self.raw_times_ds[m0:m1] = times
        self.raw_written, self.raw_written_bytes = m1, b1

    # commit -----------------------------------------------------------------------

    def write_all(self) -> None:
        self.write_pending()
        self.write_raw()

    def commit(self) -> None:
        """Count what the last flush put on disk (call only after that flush)."""
        if self.committed != self.written:
            self.n_frames_ds[()] = self.written
            self.committed = self.written
        if self.raw_committed != self.raw_written:
            self.n_records_ds[()] = self.raw_written
            self.raw_committed = self.raw_written

    @property
    def appended(self) -> int:
        return self.written + self.pending_n + self.rows.n


def _create_router_group(parent: h5py.Group, info: RouterInfo, chunk_frames: int) -> h5py.Group:
    g = parent.create_group(schema.group_name(info.router_id))
    g.attrs["router_id"] = info.router_id
    g.attrs["environment_id"] = info.environment_id
    g.attrs["hw_format"] = info.hw_format
    col_chunk = 8 * chunk_frames
    for name, dtype in schema.COLUMNS_1D.items():
        g.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(col_chunk,), dtype=dtype)
    g.create_dataset("shape", shape=(0, 3), maxshape=(None, 3), chunks=(col_chunk, 3), dtype="u2")
    g.create_dataset(
        "rssi_dbm",
        shape=(0, 0),
        maxshape=(None, None),
        chunks=(col_chunk, 4),
        dtype="f4",
        fillvalue=np.float32(np.nan),
    )
    g.create_dataset(
        "csi",
        shape=(0, 0, 0, 0),
        maxshape=(None, None, None, None),
        chunks=(chunk_frames, 1, 1, schema.CHUNK_SUBCARRIERS),
        dtype=np.complex64,
    )
    g.create_dataset(
        "subcarrier_sets", shape=(0, 0), maxshape=(None, None), chunks=(64, 64), dtype="i2"
    )
    g.create_dataset("subcarrier_set_sizes", shape=(0,), maxshape=(None,), chunks=(64,), dtype="i4")
    g.create_dataset("n_frames", data=np.int64(0))
    raw = g.create_group("raw")
    raw.create_dataset(
        "bytes", shape=(0,), maxshape=(None,), chunks=(schema.CHUNK_RAW_BYTES,), dtype="u1"
    )
    raw.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(col_chunk,))
    raw.create_dataset(
        "host_time_ns", shape=(0,), maxshape=(None,), chunks=(col_chunk,), dtype="i8"
    )
    raw.create_dataset("n_records", data=np.int64(0))
    return g


class Recorder:
    """Writes one recording; routers are declared up front (SWMR cannot add them later).

    ``clock`` (monotonic seconds) drives the flush policy and can be injected in tests;
    ``wall_clock_ns`` stamps the start time. An existing file is never overwritten
    unless ``overwrite`` is true. ``label`` (what the person recorded was doing) and
    ``label_group`` (who or where, for leave-one-group-out figures) make the file a
    labelled training session; they become root attributes, written only when given.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        routers: Iterable[RouterInfo],
        *,
        source: str = "",
        config=None,
        flush_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        chunk_frames: int = schema.CHUNK_FRAMES,
        overwrite: bool = False,
        wall_clock_ns: Callable[[], int] = time.time_ns,
        truth: truth_mod.TruthSpec | None = None,
        label: str = "",
        label_group: str = "",
    ) -> None:
        self.path = Path(path)
        try:
            labels = {"label": label and schema.check_label(label)}
            labels["label_group"] = label_group and schema.check_group(label_group)
        except ValueError as e:
            raise RecordingError(f"{self.path}: {e}") from None
        labels = {k: v for k, v in labels.items() if v}
        infos = tuple(routers)
        ids = [r.router_id for r in infos]
        if len(set(ids)) != len(ids):
            raise RecordingError(f"{self.path}: a router is declared twice ({', '.join(ids)})")
        if chunk_frames < 1:
            raise ValueError("chunk_frames must be at least 1")
        self.flush_interval = flush_interval
        self.flushes = 0
        self._clock = clock
        self._closed = False
        self._payload_bytes = 0
        self.start_time_ns = int(wall_clock_ns())
        try:
            self._file = h5py.File(
                self.path,
                "w" if overwrite else "w-",
                libver=schema.LIBVER,
                rdcc_nbytes=schema.CHUNK_CACHE_BYTES,
                rdcc_nslots=10007,
            )
        except FileExistsError:
            raise RecordingError(f"{self.path}: file exists, will not overwrite it") from None
        except OSError as e:
            raise RecordingError(
                f"{self.path}: cannot create recording ({_first_line(e)})"
            ) from None
        try:
            self._routers = self._create(infos, source, config, chunk_frames)
            for name, value in labels.items():
                self._file.attrs[name] = value
            self._truth = None
            if truth is not None:
                group = self._file[schema.TRUTH_GROUP]
                truth_mod.create(group, truth)
                self._truth = truth_mod.TruthWriter(group, truth)
            self._file.flush()
            self._file.swmr_mode = True
        except BaseException:
            self._file.close()
            raise
        self._last_flush = clock()

    def _create(self, infos, source, config, chunk_frames) -> dict[str, _RouterWriter]:
        f = self._file
        start = datetime.datetime.fromtimestamp(self.start_time_ns / 1e9, datetime.UTC)
        f.attrs["format"] = schema.FORMAT_NAME
        f.attrs["schema_version"] = schema.SCHEMA_VERSION
        f.attrs["wdp_version"] = wdp.__version__
        f.attrs["library_versions"] = schema.config_json(schema.library_versions())
        f.attrs["source"] = source
        f.attrs["config"] = schema.config_json(config)
        f.attrs["start_time_ns"] = np.int64(self.start_time_ns)
        f.attrs["start_time_iso"] = start.isoformat(timespec="microseconds").replace("+00:00", "Z")
        f.create_dataset(schema.CLOSED_CLEANLY, data=np.uint8(0))
        truth = f.create_group(schema.TRUTH_GROUP)
        truth.attrs["description"] = schema.TRUTH_DESCRIPTION
        group = f.create_group(schema.ROUTERS_GROUP)
        return {
            info.router_id: _RouterWriter(
                info, _create_router_group(group, info, chunk_frames), chunk_frames
            )
            for info in infos
        }

    # ------------------------------------------------------------------ appending

    @property
    def routers(self) -> tuple[RouterInfo, ...]:
        return tuple(w.info for w in self._routers.values())

    def _router(self, router_id: str, environment_id: str | None, hw_format: str | None):
        if self._closed:
            raise RecordingError(f"{self.path}: the recorder is closed")
        w = self._routers.get(router_id)
        if w is None:
            raise UndeclaredRouterError(
                f"{self.path}: router {router_id!r} was not declared when the file was opened "
                f"(declared: {', '.join(map(repr, self._routers)) or 'none'})"
            )
        info = w.info
        if environment_id is not None and environment_id != info.environment_id:
            raise RecordingError(
                f"{self.path}: router {router_id!r} was declared in environment "
                f"{info.environment_id!r}, got a frame of {environment_id!r}"
            )
        if hw_format is not None and hw_format != info.hw_format:
            raise RecordingError(
                f"{self.path}: router {router_id!r} was declared as {info.hw_format}, "
                f"got a {hw_format} frame"
            )
        return w

    def append(self, batch: FrameBatch) -> None:
        """Record a batch of one router's frames (columns; no per-frame Python work)."""
        w = self._router(batch.router_id, batch.environment_id, batch.hw_format)
        if len(batch) == 0:
            return
        shape = np.ascontiguousarray(batch.shape, dtype=np.uint16)
        sub = np.asarray(batch.subcarriers, dtype=np.int16)  # keys must match append_frame's
        slab = _Slab(
            timestamp_ns=np.ascontiguousarray(batch.timestamp_ns, dtype=np.int64),
            host_time_ns=np.ascontiguousarray(batch.host_time_ns, dtype=np.int64),
            sequence=np.ascontiguousarray(batch.sequence, dtype=np.int64),
            noise_floor_dbm=np.ascontiguousarray(batch.noise_floor_dbm, dtype=np.float32),
            center_freq_mhz=np.ascontiguousarray(batch.center_freq_mhz, dtype=np.float32),
            bandwidth_mhz=np.ascontiguousarray(batch.bandwidth_mhz, dtype=np.float32),
            layout=w.sets.layouts(sub, shape[:, 2]),
            source_mac=np.ascontiguousarray(batch.source_mac, dtype=np.int64),
            shape=shape,
            rssi_dbm=np.ascontiguousarray(batch.rssi_dbm, dtype=np.float32),
            csi=np.ascontiguousarray(batch.csi, dtype=np.complex64),
        )
        self._guard(w.add_slab, slab)
        self._payload_bytes += int(frame_bytes(shape).sum())
        self.poll()

    def append_frame(self, frame: CsiFrame) -> None:
        """Record one frame (buffered into columns, written a slab at a time)."""
        w = self._router(frame.router_id, frame.environment_id, frame.hw_format)
        self._guard(w.add_frame, frame)
        t, r, s = frame.csi.shape
        self._payload_bytes += _FIXED_FRAME_BYTES + 4 * r + 8 * t * r * s
        self.poll()

    def append_raw(self, router_id: str, raw: RawRecords) -> None:
        """Record datagrams or file records exactly as received."""
        w = self._router(router_id, None, None)
        self._guard(w.add_raw, raw)
        self._payload_bytes += raw_bytes(raw)
        self.poll()

    def append_raw_one(self, router_id: str, data: bytes, host_time_ns: int) -> None:
        """Record one datagram or record exactly as received."""
        w = self._router(router_id, None, None)
        self._guard(w.add_raw_one, data, int(host_time_ns))
        self._payload_bytes += len(data) + _RAW_RECORD_BYTES
        self.poll()

    def append_truth(self, rows: truth_mod.TruthRows) -> None:
        """Record ground-truth rows (only in a file opened with a ``truth`` spec)."""
        if self._closed:
            raise RecordingError(f"{self.path}: the recorder is closed")
        if self._truth is None:
            raise RecordingError(f"{self.path}: opened without a truth spec")
        self._guard(self._truth.append, rows)
        self.poll()

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except (OSError, RuntimeError) as e:  # disk full, file removed under us, ...
            raise RecordingError(f"{self.path}: cannot write ({_first_line(e)})") from None

    # ------------------------------------------------------------------ durability

    def poll(self) -> None:
        """Flush if ``flush_interval`` has passed since the last flush.

        Called by every append; a caller that may go quiet for a while calls it
        periodically too, so buffered frames never wait longer than the interval.
        """
        if not self._closed and self._clock() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered, flush it to disk, then commit the counters."""
        if self._closed:
            return
        try:
            for w in self._routers.values():
                w.write_all()
            if self._truth is not None:
                self._truth.write_all()
            self._file.flush()
            for w in self._routers.values():
                w.commit()
            if self._truth is not None:
                self._truth.commit()
            self._file.flush()
        except (OSError, RuntimeError) as e:
            raise RecordingError(f"{self.path}: cannot write ({_first_line(e)})") from None
        self.flushes += 1
        self._last_flush = self._clock()

    def close(self) -> None:
        """Flush, mark the file as closed cleanly, close it. Idempotent."""
        if self._closed:
            return
        try:
            self.flush()
            self._file[schema.CLOSED_CLEANLY][()] = 1
        finally:
            self._closed = True
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ counts

    def _get(self, router_id: str) -> _RouterWriter:
        w = self._routers.get(router_id)
        if w is None:
            raise UndeclaredRouterError(f"{self.path}: router {router_id!r} was not declared")
        return w

    def frame_count(self, router_id: str) -> int:
        """Frames appended for a router, buffered ones included."""
        return self._get(router_id).appended

    def committed_count(self, router_id: str) -> int:
        """Frames of a router that the last flush committed to disk."""
        return self._get(router_id).committed

    def raw_count(self, router_id: str) -> int:
        """Raw records appended for a router, buffered ones included."""
        w = self._get(router_id)
        return w.raw_written + w.raw_pending_n

    @property
    def payload_bytes(self) -> int:
        """Payload appended so far (see ``frame_bytes``), raw records included."""
        return self._payload_bytes


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
