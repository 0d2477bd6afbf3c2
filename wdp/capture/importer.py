"""``wdp import``: a capture file from real hardware into a wdp recording.

The file is read and narrowed to one link by ``read_capture`` (one transmitter, its
majority layout; see ``wdp.capture.filtering``), or split into one router per
transmitter (``split_transmitters``): router ``<router_id>.<mac as 12 hex digits>``,
each with its frames and raw records. Every raw record is written either way, and the
recording's ``config`` attribute keeps what was dropped and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
from tqdm import tqdm

from wdp.capture import filtering
from wdp.capture.formats import FILE_FORMATS, CaptureFileError, FileImport, read_capture
from wdp.ids import IDENTIFIER_RULE, is_identifier
from wdp.recorder import Recorder, RouterInfo

#: Frames written per step (and per progress-bar tick).
WRITE_STEP = 4096


@attrs.frozen(slots=True)
class ImportReport:
    format: str
    records: int
    frames: int
    skipped: int
    problems: list[str]
    out: Path
    #: Readable frames left out on purpose, by reason (other transmitters, minority layout).
    dropped: dict[str, int] = attrs.field(factory=dict)
    #: Things tolerated but worth knowing, one line each.
    notes: list[str] = attrs.field(factory=list)
    #: The routers written: one, or one per transmitter when split.
    routers: list[str] = attrs.field(factory=list)


def split_router_id(router_id: str, mac: str) -> str:
    """The router id of one transmitter's stream: ``<router_id>.<mac without colons>``."""
    if not mac:
        return router_id
    rid = f"{router_id}.{mac.replace(':', '')}"
    if not is_identifier(rid):
        raise CaptureFileError(
            f"router id {rid!r} for transmitter {mac} would not be {IDENTIFIER_RULE}; "
            "choose a shorter --router-id"
        )
    return rid


def _parts(
    path, format, router_id, environment_id, source_mac, split, keep_layout
) -> list[tuple[str, FileImport]]:
    if not split:
        result = read_capture(
            path,
            format=format,
            router_id=router_id,
            environment_id=environment_id,
            source_mac=source_mac,
            keep_majority_layout=keep_layout,
        )
        return [(router_id, result)]
    whole = read_capture(
        path,
        format=format,
        router_id=router_id,
        environment_id=environment_id,
        source_mac=filtering.ANY_TRANSMITTER,
        keep_majority_layout=False,
    )
    parts = filtering.split_by_transmitter(whole, keep_majority_layout=keep_layout)
    out = []
    for mac, part in parts:
        rid = split_router_id(router_id, mac)
        if part.batch is not None and rid != router_id:
            part = attrs.evolve(part, batch=attrs.evolve(part.batch, router_id=rid))
        out.append((rid, part))
    return out


def _sum(parts: list[tuple[str, FileImport]], name: str):
    values = [getattr(p, name) for _, p in parts]
    if isinstance(values[0], dict):
        total: dict[str, int] = {}
        for d in values:
            for k, v in d.items():
                total[k] = total.get(k, 0) + v
        return total
    if isinstance(values[0], list):
        return [x for v in values for x in v]
    return sum(values)


def import_capture(
    path: str | Path,
    out: str | Path,
    *,
    format: str = "auto",
    router_id: str,
    environment_id: str,
    source_mac: str | None = None,
    split_transmitters: bool = False,
    keep_majority_layout: bool = True,
    progress: bool = True,
    label: str = "",
    label_group: str = "",
) -> ImportReport:
    """Read ``path`` and record its frames and raw records to ``out``.

    ``source_mac`` and ``keep_majority_layout`` are ``read_capture``'s; ``label`` and
    ``label_group`` the Recorder's (a capture labelled elsewhere becomes a training
    session). Raises CaptureFileError when nothing could be read (no output file is
    left behind).
    """
    parts = _parts(
        path, format, router_id, environment_id, source_mac, split_transmitters,
        keep_majority_layout,
    )  # fmt: skip
    fmt = parts[0][1].format
    hw_format = FILE_FORMATS[fmt].HW_FORMAT
    infos = [RouterInfo(rid, environment_id, hw_format) for rid, _ in parts]
    dropped, notes = _sum(parts, "dropped"), _sum(parts, "notes")
    config = {
        "import": {
            "file": str(path),
            "format": fmt,
            "router_id": router_id,
            "environment_id": environment_id,
            "source_mac": source_mac,
            "split_transmitters": split_transmitters,
            "keep_majority_layout": keep_majority_layout,
            "routers": [rid for rid, _ in parts],
            "dropped": dropped,
            "notes": notes,
            "metadata": parts[0][1].metadata,
        }
    }
    total = sum(p.frames for _, p in parts)
    source = f"import {Path(path).name} (format {fmt})"
    with (
        Recorder(
            Path(out),
            routers=infos,
            source=source,
            config=json.dumps(config),
            label=label,
            label_group=label_group,
        ) as rec,
        tqdm(total=total, unit="frame", disable=not progress, desc="import") as bar,
    ):
        for rid, part in parts:
            rec.append_raw(rid, part.raw)
            batch = part.batch
            for start in range(0, 0 if batch is None else len(batch), WRITE_STEP):
                rec.append(batch.rows(start, start + WRITE_STEP))
                bar.update(min(WRITE_STEP, len(batch) - start))
    return ImportReport(
        format=fmt,
        records=_sum(parts, "records"),
        frames=total,
        skipped=_sum(parts, "skipped"),
        problems=_sum(parts, "problems"),
        out=Path(out),
        dropped=dropped,
        notes=notes,
        routers=[rid for rid, _ in parts],
    )
