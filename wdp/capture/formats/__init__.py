"""Capture formats: one module per hardware format, each with a file reader and a live parser.

``detect`` picks a file's format by its content, never by its name.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from wdp.capture.formats import atheros, esp32, esp32_bin, intel5300, nexmon
from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords
from wdp.capture.packets import PacketParser

#: Formats with a file reader, in the order ``detect`` tries them.
FILE_FORMATS: dict[str, ModuleType] = {m.FORMAT: m for m in (nexmon, intel5300, atheros, esp32)}
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
    path: str | Path, *, format: str = "auto", router_id: str, environment_id: str
) -> FileImport:
    """Read a capture file of the given (or detected) format."""
    if format == "auto":
        format = detect(path)
    module = FILE_FORMATS.get(format)
    if module is None:
        raise CaptureFileError(
            f"unknown format {format!r}: choose one of auto, {', '.join(FILE_FORMATS)}"
        )
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise CaptureFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise CaptureFileError(f"{path} is empty")
    return module.read_file(path, router_id=router_id, environment_id=environment_id)


def make_parser(format: str, router_id: str, environment_id: str) -> PacketParser:
    """A live parser for a ``format=`` name."""
    try:
        cls = PARSERS[format]
    except KeyError:
        raise ValueError(f"unknown live format {format!r}") from None
    return cls(router_id, environment_id)


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
