"""What every capture-file reader returns, and the error it raises when nothing is readable."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from wdp.capture.frame import FrameBatch


class CaptureFileError(Exception):
    """A capture file with nothing readable in it (empty, foreign, wrong format).

    The message is one clear line meant for the user, never a traceback.
    """


def read_capture_bytes(path) -> bytes:
    """A capture file's bytes; CaptureFileError (one line) when unreadable or empty."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CaptureFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not data:
        raise CaptureFileError(f"{path}: empty file")
    return data


@attrs.frozen(slots=True, eq=False)
class RawRecords:
    """The bytes of every record or datagram as received, concatenated.

    Record i is ``data[offsets[i]:offsets[i + 1]]``; ``host_time_ns[i]`` is when it was
    received (0 where the file does not say).
    """

    data: bytes
    offsets: np.ndarray  # int64 [M + 1]
    host_time_ns: np.ndarray  # int64 [M]

    def __len__(self) -> int:
        return int(self.host_time_ns.shape[0])

    def record(self, i: int) -> bytes:
        return self.data[int(self.offsets[i]) : int(self.offsets[i + 1])]

    @classmethod
    def from_list(cls, records: list[bytes], host_time_ns: list[int] | np.ndarray) -> RawRecords:
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in records], out=offsets[1:])
        return cls(b"".join(records), offsets, np.asarray(host_time_ns, dtype=np.int64))


@attrs.frozen(slots=True, eq=False)
class FileImport:
    """The result of reading one capture file.

    ``records`` counts every record found, ``skipped`` those that could not be turned
    into a frame, and ``problems`` says what was skipped and where (byte offset or line),
    one line each, capped so a wholly corrupt file cannot flood the terminal.

    ``dropped`` counts readable frames left out on purpose, by reason (another
    transmitter, a minority layout: see ``wdp.capture.filtering``); ``notes`` are things
    tolerated but worth knowing (rows whose ``len`` field disagrees with their array, a
    subcarrier order judged from the data), one line each; ``metadata`` holds facts of
    the whole file (an ESP32 archive's chip and label); ``raw_source_mac`` the
    transmitter of each raw record where the format says (48-bit int, 0 unknown).
    """

    format: str
    batch: FrameBatch | None
    raw: RawRecords
    records: int
    skipped: int
    problems: list[str]
    dropped: dict[str, int] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)
    metadata: dict = attrs.field(factory=dict)
    raw_source_mac: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return 0 if self.batch is None else len(self.batch)
