"""Capture formats: one module per hardware format, each with a file reader and a live parser.

``detect`` picks a file's format by its content, never by its name.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from wdp.capture.formats import atheros, esp32, esp32_bin, esp32_npz, intel5300, nexmon
from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords
from wdp.capture.packets import PacketParser

#: Formats with a file reader, in the order ``detect`` tries them.
FILE_FORMATS: dict[str, ModuleType] = {
    m.FORMAT: m for m in (nexmon, intel5300, atheros, esp32, esp32_npz)
}
#: Live ``format=`` names and their parsers.
PARSERS: dict[str, type[PacketParser]] = {
    p.format: p
    for p in (esp32.Parser, esp32_bin.Parser, nexmon.Parser, intel5300.Parser, atheros.Parser)
}

SNIFF_BYTES = 4096


def detect(path: str | Path) -> str:
    """The format of a capture file by content; CaptureFileError when none matches."""
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        raise CaptureFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise CaptureFileError(f"{path} is empty")
    for name, module in FILE_FORMATS.items():
        if module.sniff(head):
            return name
    raise CaptureFileError(
        f"{path}: not a recognised capture file ({', '.join(FILE_FORMATS)}); "
        "use --format to force one"
    )


def read_capture(
    path: str | Path,
    *,
    format: str = "auto",
    router_id: str = "router_001",
    environment_id: str = "room_001",
    source_mac: str | None = None,
    keep_majority_layout: bool = True,
) -> FileImport:
    """Read one real capture file into frames, narrowed to one link.

    The entry point for code that wants a capture's frames (detectors, training): the
    frames are in ``result.batch`` (a FrameBatch; ``.frames()`` yields CsiFrames,
    ``.csi[i, :t, :r, :s]`` the arrays), in recorded order. The format is detected by
    content unless ``format`` names one of ``FILE_FORMATS``.

    ``source_mac``: None keeps the transmitter heard in the most frames, a MAC address
    keeps that transmitter only, ``"any"`` keeps all (formats without a transmitter
    address keep everything). ``keep_majority_layout`` drops frames whose bandwidth,
    receive chains or subcarriers differ from the most common ones. What was dropped is
    counted in ``result.dropped`` and said in ``result.notes``; unreadable records are
    counted in ``result.skipped`` with a line each in ``result.problems``; every raw
    record stays in ``result.raw``. See ``wdp.capture.filtering``.

    Raises CaptureFileError, one line naming the file, the router and the setting at
    fault, when nothing usable is in the file.
    """
    from wdp.capture import filtering

    where = f"{path} (router {router_id}, format {format})"
    try:
        if format == "auto":
            format = detect(path)
            where = f"{path} (router {router_id}, format {format}, detected)"
        module = FILE_FORMATS.get(format)
        if module is None:
            raise CaptureFileError(
                f"unknown format {format!r}: choose one of auto, {', '.join(FILE_FORMATS)}"
            )
        try:
            size = Path(path).stat().st_size
        except OSError as exc:
            raise CaptureFileError(f"cannot read: {exc.strerror or exc}") from None
        if size == 0:
            raise CaptureFileError("empty file")
        result = module.read_file(path, router_id=router_id, environment_id=environment_id)
        return filtering.narrow(
            result, source_mac=source_mac, keep_majority_layout=keep_majority_layout
        )
    except CaptureFileError as exc:
        message = str(exc)
        for prefix in (f"{path}: ", f"{path} "):
            message = message.removeprefix(prefix)
        if source_mac not in (None, filtering.ANY_TRANSMITTER):
            where = where[:-1] + f", source MAC {source_mac})"
        raise CaptureFileError(f"{where}: {message}") from None


def make_parser(
    format: str, router_id: str, environment_id: str, *, streams: dict[str, str] | None = None
) -> PacketParser:
    """A live parser for a ``format=`` name, bound to transmitters by ``streams``
    (MAC -> router id, as ``UdpSource.streams`` gives them)."""
    try:
        cls = PARSERS[format]
    except KeyError:
        raise ValueError(f"unknown live format {format!r}") from None
    parser = cls(router_id, environment_id)
    if streams:
        parser.bind(streams)
    return parser


__all__ = [
    "FILE_FORMATS",
    "PARSERS",
    "CaptureFileError",
    "FileImport",
    "RawRecords",
    "detect",
    "make_parser",
    "read_capture",
]
