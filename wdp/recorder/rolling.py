"""A series of recordings in one directory: roll by size or duration, keep only so many.

Long sessions are cut into files so that none grows without bound and old ones can be
dropped. A file is rolled when the next frame would take it past ``max_bytes`` of
payload (see ``writer.frame_bytes``) or past ``max_seconds`` of frame time since that
router's first frame in the file. Both are measured on the frames themselves, never on
the wall clock, so the same frames always cut into the same files, whatever the batch
sizes. A frame of a router the current file does not declare (SWMR cannot add it)
rolls to a new file that declares every router seen so far.

File names are ``<prefix>-<UTC start, YYYYmmddTHHMMSS.ffffffZ>-<index>.h5``: fixed
width, so sorting by name sorts by creation time; retention deletes the oldest
names beyond ``retention_files`` files or ``retention_bytes`` bytes on disk, never the
file being written. Retention is applied at every roll (the new file still empty) and
on close (the last file complete), so while a file is being written the directory can
exceed ``retention_bytes`` by up to that file's size.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from wdp.capture.formats.base import RawRecords
from wdp.capture.frame import CsiFrame, FrameBatch
from wdp.recorder import schema
from wdp.recorder.schema import RecordingError, RouterInfo, UndeclaredRouterError
from wdp.recorder.writer import Recorder, frame_bytes, raw_bytes

log = logging.getLogger(__name__)


def _slice(batch: FrameBatch, a: int, b: int) -> FrameBatch:
    if a == 0 and b == len(batch):
        return batch
    return batch.rows(a, b)


class RollingRecorder:
    """Writes a session as a series of recordings in ``directory``; see the module doc.

    Files are opened on the first data, not before, so an idle session leaves none.
    The keyword arguments after the limits are passed to every ``Recorder``.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        prefix: str = "wdp",
        *,
        max_bytes: int | None = None,
        max_seconds: float | None = None,
        retention_files: int | None = None,
        retention_bytes: int | None = None,
        routers: Iterable[RouterInfo] = (),
        source: str = "",
        config=None,
        flush_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ns: Callable[[], int] = time.time_ns,
        chunk_frames: int = schema.CHUNK_FRAMES,
    ) -> None:
        if not prefix or "/" in prefix or os.sep in prefix:
            raise ValueError(f"bad file name prefix {prefix!r}")
        for name, value in (
            ("max_bytes", max_bytes),
            ("max_seconds", max_seconds),
            ("retention_files", retention_files),
            ("retention_bytes", retention_bytes),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.max_ns = None if max_seconds is None else max(1, int(round(max_seconds * 1e9)))
        self.retention_files = retention_files
        self.retention_bytes = retention_bytes
        self._options = dict(
            source=source,
            config=config,
            flush_interval=flush_interval,
            clock=clock,
            wall_clock_ns=wall_clock_ns,
            chunk_frames=chunk_frames,
        )
        self._wall_clock_ns = wall_clock_ns
        self._pattern = re.compile(re.escape(prefix) + r"-\d{8}T\d{6}\.\d{6}Z-\d{6}\.h5")
        self._infos: dict[str, RouterInfo] = {}
        for info in routers:
            self._infos[info.router_id] = info
        self._rec: Recorder | None = None
        self._t0: dict[str, int] = {}
        self._index = 0
        self._closed = False
        self.files: list[Path] = []  # every file this recorder created, oldest first
        self.deleted: list[Path] = []  # files removed by retention
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RecordingError(f"{self.directory}: cannot create directory ({e})") from None

    # ------------------------------------------------------------------ files

    @property
    def current_path(self) -> Path | None:
        return None if self._rec is None else self._rec.path

    @property
    def routers(self) -> tuple[RouterInfo, ...]:
        return tuple(self._infos.values())

    def _name(self) -> Path:
        ns = int(self._wall_clock_ns())
        t = datetime.datetime.fromtimestamp(ns // 1_000_000_000, datetime.UTC)
        stamp = f"{t:%Y%m%dT%H%M%S}.{(ns // 1000) % 1_000_000:06d}Z"
        while True:
            self._index += 1
            path = self.directory / f"{self.prefix}-{stamp}-{self._index:06d}.h5"
            if not path.exists():
                return path

    def roll(self) -> None:
        """Close the current file (if any) and start the next one."""
        self._check_open()
        if self._rec is not None:
            self._rec.close()
            self._rec = None
        path = self._name()
        self._rec = Recorder(path, self._infos.values(), **self._options)
        self._t0 = {}
        self.files.append(path)
        self._apply_retention(keep=path)

    def _apply_retention(self, keep: Path) -> None:
        """Delete the oldest of our files while over a cap; ``keep`` is never deleted."""
        if self.retention_files is None and self.retention_bytes is None:
            return
        try:
            names = sorted(p for p in os.listdir(self.directory) if self._pattern.fullmatch(p))
        except OSError as e:
            log.warning("retention: cannot list %s: %s", self.directory, e)
            return
        paths = [self.directory / n for n in names]
        sizes = {}
        for p in paths:
            try:
                sizes[p] = p.stat().st_size
            except OSError:
                sizes[p] = 0
        count, total = len(paths), sum(sizes.values())
        for p in paths:
            over_count = self.retention_files is not None and count > self.retention_files
            over_bytes = self.retention_bytes is not None and total > self.retention_bytes
            if not (over_count or over_bytes):
                break
            if p == keep:
                continue
            try:
                p.unlink()
            except OSError as e:
                log.warning("retention: cannot delete %s: %s", p, e)
                continue
            self.deleted.append(p)
            count -= 1
            total -= sizes[p]

    def _check_open(self) -> None:
        if self._closed:
            raise RecordingError(f"{self.directory}: the rolling recorder is closed")

    def declare(self, info: RouterInfo) -> None:
        """Make a router known; rolls if the current file does not declare it as such."""
        self._check_open()
        if self._infos.get(info.router_id) == info:
            return
        self._infos[info.router_id] = info
        if self._rec is not None:
            self.roll()

    def _recorder_for(self, info: RouterInfo) -> Recorder:
        self._check_open()
        if self._infos.get(info.router_id) != info:
            self._infos[info.router_id] = info
            self.roll()
        elif self._rec is None:
            self.roll()
        return self._rec

    # ------------------------------------------------------------------ appending

    def _room(self, router_id: str, ts: np.ndarray, shape: np.ndarray) -> int:
        """How many of these frames (at least the first, in an empty file) fit in the file."""
        n = ts.shape[0]
        room = n
        if self.max_ns is not None:
            t0 = self._t0.get(router_id, int(ts[0]))
            over = np.flatnonzero(ts - t0 >= self.max_ns)
            if over.size:
                room = int(over[0])
        if self.max_bytes is not None:
            used = self._rec.payload_bytes
            cum = used + np.cumsum(frame_bytes(shape))
            over = np.flatnonzero(cum > self.max_bytes)
            if over.size:
                room = min(room, int(over[0]))
            if used == 0:
                room = max(room, 1)  # a file holds at least one frame
        return room

    def append(self, batch: FrameBatch) -> None:
        """Record a batch, cutting it where a size or duration limit falls."""
        if len(batch) == 0:
            return
        info = RouterInfo(batch.router_id, batch.environment_id, batch.hw_format)
        rec = self._recorder_for(info)
        n = len(batch)
        ts = np.asarray(batch.timestamp_ns, dtype=np.int64)
        shape = np.asarray(batch.shape)
        start = 0
        while start < n:
            room = self._room(batch.router_id, ts[start:], shape[start:])
            if room == 0:
                self.roll()
                rec = self._rec
                continue
            self._t0.setdefault(batch.router_id, int(ts[start]))
            rec.append(_slice(batch, start, start + room))
            start += room

    def append_frame(self, frame: CsiFrame) -> None:
        info = RouterInfo(frame.router_id, frame.environment_id, frame.hw_format)
        self._recorder_for(info)
        ts = np.array([frame.timestamp_ns], dtype=np.int64)
        if self._room(frame.router_id, ts, np.array([frame.csi.shape])) == 0:
            self.roll()
        self._t0.setdefault(frame.router_id, frame.timestamp_ns)
        self._rec.append_frame(frame)

    def _recorder_for_raw(self, router_id: str, size: int) -> Recorder:
        self._check_open()
        if router_id not in self._infos:
            raise UndeclaredRouterError(
                f"{self.directory}: raw records of router {router_id!r}, which is unknown: "
                f"declare it first (RollingRecorder.declare) or record a frame of it"
            )
        if self._rec is None:
            self.roll()
        used = self._rec.payload_bytes
        if self.max_bytes is not None and used > 0 and used + size > self.max_bytes:
            self.roll()
        return self._rec

    def append_raw(self, router_id: str, raw: RawRecords) -> None:
        self._recorder_for_raw(router_id, raw_bytes(raw)).append_raw(router_id, raw)

    def append_raw_one(self, router_id: str, data: bytes, host_time_ns: int) -> None:
        rec = self._recorder_for_raw(router_id, len(data) + 16)
        rec.append_raw_one(router_id, data, host_time_ns)

    # ------------------------------------------------------------------ durability

    def poll(self) -> None:
        if self._rec is not None:
            self._rec.poll()

    def flush(self) -> None:
        if self._rec is not None:
            self._rec.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._rec is not None:
            path = self._rec.path
            self._rec.close()
            self._rec = None
            self._apply_retention(keep=path)  # now that the last file has its full size

    def __enter__(self) -> RollingRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
