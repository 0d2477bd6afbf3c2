"""``wdp import``: a capture file from real hardware into a wdp recording."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
from tqdm import tqdm

from wdp.capture.formats import read_capture
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


def import_capture(
    path: str | Path,
    out: str | Path,
    *,
    format: str = "auto",
    router_id: str,
    environment_id: str,
    progress: bool = True,
) -> ImportReport:
    """Read ``path`` and record its frames and raw records to ``out``.

    Raises CaptureFileError when nothing could be read (no output file is left behind).
    """
    result = read_capture(path, format=format, router_id=router_id, environment_id=environment_id)
    out = Path(out)
    info = RouterInfo(router_id=router_id, environment_id=environment_id, hw_format=result.format)
    if result.batch is not None:
        info = attrs.evolve(info, hw_format=result.batch.hw_format)
    source = f"import {Path(path).name} (format {result.format})"
    config = json.dumps(
        {
            "import": {
                "file": str(path),
                "format": result.format,
                "router_id": router_id,
                "environment_id": environment_id,
            }
        }
    )
    with Recorder(out, routers=[info], source=source, config=config) as rec:
        rec.append_raw(router_id, result.raw)
        batch = result.batch
        if batch is not None:
            with tqdm(total=len(batch), unit="frame", disable=not progress, desc="import") as bar:
                for start in range(0, len(batch), WRITE_STEP):
                    rec.append(batch.rows(start, start + WRITE_STEP))
                    bar.update(min(WRITE_STEP, len(batch) - start))
    return ImportReport(
        result.format, result.records, result.frames, result.skipped, result.problems, out
    )
