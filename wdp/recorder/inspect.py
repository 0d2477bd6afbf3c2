"""What a recording holds, at a glance: the data behind ``wdp inspect rec.h5``.

The summary is a plain data object so that tests and other tools can use the numbers;
``format_summary`` turns it into the text a person reads. Columns are read in chunks,
so a long recording is summarised without loading its CSI.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import attrs
import numpy as np

from wdp.recorder.reader import open_recording

#: An inter-frame interval longer than this many times the median counts as a gap.
GAP_FACTOR = 3.0

_CHUNK = 1 << 16


@attrs.frozen(slots=True)
class RouterSummary:
    """One router: counts, timing and what its frames looked like.

    ``gaps`` counts intervals longer than ``GAP_FACTOR`` times the median interval; when
    the median is 0 (the source gave no usable timing) no gaps are counted.
    Times are NaN when there are too few frames to say.
    """

    router_id: str
    environment_id: str
    hw_format: str
    frames: int
    duration_s: float
    mean_rate_hz: float
    median_interval_s: float
    gaps: int
    largest_interval_s: float
    rssi_mean_dbm: tuple[float, ...]  # per receive chain, NaN where never known
    shapes: tuple[tuple[tuple[int, int, int], int], ...]  # ((n_tx, n_rx, n_sub), count)
    subcarrier_sets: int
    raw_records: int


@attrs.frozen(slots=True)
class TruthSummary:
    """Ground truth (simulated recordings): rows, people, peak occupancy, falls."""

    rows: int
    people: tuple[str, ...]
    max_occupancy: int
    falls: int
    falls_recovered: int


def _truth_summary(rec) -> TruthSummary | None:
    truth = rec.truth()
    if truth is None:
        return None
    falls = truth.spec.falls
    return TruthSummary(
        rows=len(truth.rows),
        people=tuple(n for n in truth.spec.person_names if n),
        max_occupancy=int(truth.rows.occupancy.max()) if len(truth.rows) else 0,
        falls=len(falls),
        falls_recovered=sum(f.recovered_ns >= 0 for f in falls),
    )


@attrs.frozen(slots=True)
class RecordingSummary:
    path: str
    file_bytes: int
    closed_cleanly: bool
    schema_version: int
    wdp_version: str
    source: str
    start_time_ns: int
    start_time_iso: str
    routers: tuple[RouterSummary, ...]
    truth: TruthSummary | None = None
    label: str = ""  # a labelled training session's label and group ("" if none)
    label_group: str = ""

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.routers)


def _timing(ts: np.ndarray) -> tuple[float, float, float, int, float]:
    nan = float("nan")
    if ts.shape[0] < 2:
        return (0.0 if ts.shape[0] else nan), nan, nan, 0, nan
    duration = (int(ts.max()) - int(ts.min())) / 1e9
    rate = (ts.shape[0] - 1) / duration if duration > 0 else nan
    intervals = np.diff(ts)
    median = float(np.median(intervals))
    gaps = int((intervals > GAP_FACTOR * median).sum()) if median > 0 else 0
    return duration, rate, median / 1e9, gaps, float(intervals.max()) / 1e9


def _router_summary(rec, info) -> RouterSummary:
    rid = info.router_id
    n = rec.frame_count(rid)
    ts = rec.column(rid, "timestamp_ns", 0, n)
    shape = rec.column(rid, "shape", 0, n)
    rssi_sum = rssi_count = None
    for a in range(0, n, _CHUNK):
        block = rec.column(rid, "rssi_dbm", a, min(a + _CHUNK, n)).astype(np.float64)
        known = ~np.isnan(block)
        s, c = np.where(known, block, 0.0).sum(axis=0), known.sum(axis=0)
        rssi_sum = s if rssi_sum is None else rssi_sum + s
        rssi_count = c if rssi_count is None else rssi_count + c
    if rssi_sum is None:
        rssi = ()
    else:
        chains = int(shape[:, 1].max()) if n else 0
        rssi = tuple(
            float(rssi_sum[i] / rssi_count[i]) if rssi_count[i] else float("nan")
            for i in range(min(chains, rssi_sum.shape[0]))
        )
    if n:
        kinds, counts = np.unique(shape, axis=0, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        shapes = tuple((tuple(int(v) for v in kinds[i]), int(counts[i])) for i in order)
        n_sets = int(np.unique(rec.column(rid, "layout", 0, n)).shape[0])
    else:
        shapes, n_sets = (), 0
    duration, rate, median, gaps, largest = _timing(ts)
    return RouterSummary(
        router_id=rid,
        environment_id=info.environment_id,
        hw_format=info.hw_format,
        frames=n,
        duration_s=duration,
        mean_rate_hz=rate,
        median_interval_s=median,
        gaps=gaps,
        largest_interval_s=largest,
        rssi_mean_dbm=rssi,
        shapes=shapes,
        subcarrier_sets=n_sets,
        raw_records=rec.raw_count(rid),
    )


def summarize(path: str | os.PathLike) -> RecordingSummary:
    """Summarise a recording (complete, still being written, or left by a killed writer).

    Raises ``RecordingError`` (one line) for anything that is not a readable recording.
    """
    path = Path(path)
    with open_recording(path) as rec:
        a = rec.attrs
        routers = tuple(_router_summary(rec, info) for info in rec.routers)
        closed = rec.closed_cleanly
        truth = _truth_summary(rec)
    return RecordingSummary(
        path=str(path),
        file_bytes=path.stat().st_size,
        closed_cleanly=closed,
        schema_version=a.schema_version,
        wdp_version=a.wdp_version,
        source=a.source,
        start_time_ns=a.start_time_ns,
        start_time_iso=a.start_time_iso,
        routers=routers,
        truth=truth,
        label=a.label,
        label_group=a.label_group,
    )


def _ms(seconds: float) -> str:
    return "unknown" if math.isnan(seconds) else f"{seconds * 1e3:.3f} ms"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def format_summary(s: RecordingSummary) -> str:
    """The summary as text for a terminal."""
    lines = [
        f"{s.path}: wdp recording, schema {s.schema_version}, written by wdp {s.wdp_version}, "
        f"{_size(s.file_bytes)}",
        "  closed cleanly: yes"
        if s.closed_cleanly
        else "  closed cleanly: NO (still being written, or the writer was stopped; "
        "everything up to its last flush is intact)",
        f"  source: {s.source or '(not given)'}",
        f"  started: {s.start_time_iso}",
        f"  routers: {len(s.routers)}, frames: {s.frames}",
    ]
    if s.label or s.label_group:
        group = f", group {s.label_group}" if s.label_group else ""
        lines.insert(4, f"  label: {s.label or '(none)'}{group}")
    for r in s.routers:
        env = f", environment {r.environment_id}" if r.environment_id else ""
        lines.append(f"  router {r.router_id} ({r.hw_format}{env}): {r.frames} frames")
        if r.frames:
            rate = "unknown" if math.isnan(r.mean_rate_hz) else f"{r.mean_rate_hz:.1f} Hz"
            lines.append(f"    duration {r.duration_s:.3f} s, mean rate {rate}")
            lines.append(
                f"    gaps (> {GAP_FACTOR:g}x median interval {_ms(r.median_interval_s)}): "
                f"{r.gaps}, largest interval {_ms(r.largest_interval_s)}"
            )
            rssi = ", ".join("?" if math.isnan(v) else f"{v:.1f}" for v in r.rssi_mean_dbm)
            lines.append(f"    RSSI mean per chain: {rssi or 'none'} dBm")
            shapes = ", ".join(f"{t}x{rx}x{sc}: {c}" for (t, rx, sc), c in r.shapes)
            lines.append(f"    shapes (tx x rx x subcarriers): {shapes}")
            lines.append(f"    subcarrier index sets: {r.subcarrier_sets}")
        lines.append(f"    raw records: {r.raw_records}")
    t = s.truth
    if t is not None:
        lines.append(
            f"  truth: {t.rows} rows, people {', '.join(t.people) or 'none'}, "
            f"occupancy up to {t.max_occupancy}, falls {t.falls} ({t.falls_recovered} recovered)"
        )
    return "\n".join(lines)
