"""Which frames of a capture describe one link: one transmitter, one layout.

A receiver in monitor mode measures CSI on every frame it hears on its channel, from
every transmitter near it, and at whatever bandwidth each was sent; nexmon_csi without
a MAC filter and a passive ESP32 do exactly that. Only the frames of one transmitter
describe one link, and a detector that mixes two links (or a 20 MHz frame in an 80 MHz
stream) sees a jump that no person made. So a capture is narrowed to:

- one transmitter: the one asked for (``source_mac``), or, by default, the one heard in
  the most frames; frames of other transmitters are dropped and counted ("other
  transmitters"). Formats that carry no transmitter address (Intel 5300 logs, ESP32
  archives) have nothing to narrow.
- one layout: frames whose (bandwidth, receive chains, subcarrier indices) differ from
  the most common one are dropped and counted ("minority layout"). The number of
  transmit streams is not part of the layout: an Intel 5300 reports 1..3 streams frame
  by frame on one link, and ESP32 frames hold one layer per training field.

Ties go to the smallest MAC address or layout, so the choice never depends on order.
Raw records are never filtered: what was captured stays in the recording.
"""

from __future__ import annotations

import attrs
import numpy as np

from wdp.capture.formats.base import CaptureFileError, FileImport, RawRecords
from wdp.capture.frame import FrameBatch, mac_to_int, normalize_mac

#: ``source_mac`` value that keeps every transmitter.
ANY_TRANSMITTER = "any"

DROP_OTHER_TRANSMITTER = "other transmitters"
DROP_UNKNOWN_TRANSMITTER = "unknown transmitter"
DROP_MINORITY_LAYOUT = "minority layout"


def transmitters(batch: FrameBatch) -> list[tuple[str, int]]:
    """(MAC, frames) of every transmitter in a batch, most frames first ("" = unknown)."""
    macs, counts = np.unique(batch.source_mac, return_counts=True)
    order = sorted(range(len(macs)), key=lambda i: (-int(counts[i]), int(macs[i])))
    return [(normalize_mac(int(macs[i])), int(counts[i])) for i in order]


def _heard(batch: FrameBatch, limit: int = 4) -> str:
    heard = [(m, n) for m, n in transmitters(batch) if m]
    text = ", ".join(f"{m} ({n} frames)" for m, n in heard[:limit])
    return text + (f" and {len(heard) - limit} more" if len(heard) > limit else "")


def select_transmitter(
    batch: FrameBatch, source_mac: str | None
) -> tuple[FrameBatch, dict[str, int], str]:
    """The frames of one transmitter, the drops by reason, and the MAC kept ("" if none).

    ``source_mac`` None keeps the transmitter heard most; ``"any"`` keeps every frame.
    CaptureFileError (one line) when the MAC asked for is not in the capture or the
    format carries no transmitter address.
    """
    if source_mac == ANY_TRANSMITTER:
        return batch, {}, ""
    heard = transmitters(batch)
    known = [m for m, _ in heard if m]
    if source_mac is None:
        if len(known) <= 1 and (not known or len(heard) == 1):
            return batch, {}, known[0] if known else ""
        wanted = known[0]
    else:
        wanted = normalize_mac(source_mac)
        if not known:
            raise CaptureFileError(
                f"source MAC {wanted} asked for, but these {batch.hw_format} frames carry "
                "no transmitter address"
            )
        if wanted not in known:
            raise CaptureFileError(f"no frames of transmitter {wanted}; heard: {_heard(batch)}")
    keep = batch.source_mac == mac_to_int(wanted)
    unknown = int(np.count_nonzero(batch.source_mac == 0))
    dropped = {DROP_OTHER_TRANSMITTER: len(batch) - int(keep.sum()) - unknown}
    if unknown:
        dropped[DROP_UNKNOWN_TRANSMITTER] = unknown
    return batch.select(keep), {k: v for k, v in dropped.items() if v}, wanted


def layout_keys(batch: FrameBatch) -> tuple[np.ndarray, np.ndarray]:
    """(distinct layouts as rows, each frame's index into them), rows in sorted order.

    A layout row is (bandwidth as its float32 bits, n_rx, n_sub, subcarrier indices
    zero-padded): the same row means frames a detector can compare bin by bin.
    """
    n_sub = batch.shape[:, 2].astype(np.int64)
    width = batch.subcarriers.shape[1]
    valid = np.arange(width)[None, :] < n_sub[:, None]
    sub = np.where(valid, batch.subcarriers, 0).astype(np.int64)
    bw = np.ascontiguousarray(batch.bandwidth_mhz, dtype=np.float32).view(np.int32)
    keyed = np.column_stack([bw.astype(np.int64), batch.shape[:, 1].astype(np.int64), n_sub, sub])
    if (keyed == keyed[0]).all():  # the usual case, without sorting rows
        return keyed[:1], np.zeros(len(batch), dtype=np.int64)
    # Rows as single opaque values sort much faster than rows compared column by column.
    flat = np.ascontiguousarray(keyed).view(np.dtype((np.void, keyed.shape[1] * 8))).ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    # Renumber by the rows' values, so "sorted order" is numeric, not byte order.
    rows = keyed[first]
    order = np.lexsort(rows.T[::-1])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    return rows[order], rank[inverse.reshape(-1)]


def describe_layout(row: np.ndarray) -> str:
    bw = float(np.array([row[0]], dtype=np.int32).view(np.float32)[0])
    n_sub = int(row[2])
    sub = row[3 : 3 + n_sub]
    span = f"{sub.min()}..{sub.max()}" if n_sub else "none"
    return f"{bw:g} MHz, {int(row[1])} rx, {n_sub} subcarriers {span}"


def majority_layout(batch: FrameBatch) -> tuple[FrameBatch, dict[str, int], str]:
    """The frames of the most common layout, the drops, and that layout in words."""
    rows, inverse = layout_keys(batch)
    counts = np.bincount(inverse, minlength=rows.shape[0])
    best = int(np.argmax(counts))  # first of the largest: rows are sorted, so deterministic
    if rows.shape[0] == 1:
        return batch, {}, describe_layout(rows[0])
    keep = inverse == best
    return (
        batch.select(keep),
        {DROP_MINORITY_LAYOUT: len(batch) - int(counts[best])},
        (describe_layout(rows[best])),
    )


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def narrow(
    result: FileImport, *, source_mac: str | None = None, keep_majority_layout: bool = True
) -> FileImport:
    """``result`` with its batch narrowed to one transmitter and one layout (see the
    module docstring); drops are added to ``dropped`` and the choice to ``notes``."""
    batch = result.batch
    if batch is None or len(batch) == 0:
        return result
    notes = list(result.notes)
    batch, dropped, kept = select_transmitter(batch, source_mac)
    if dropped:
        notes.append(f"kept transmitter {kept}; dropped {sum(dropped.values())} frames of others")
    if keep_majority_layout and len(batch):
        batch, more, layout = majority_layout(batch)
        if more:
            notes.append(f"kept layout {layout}; dropped {more[DROP_MINORITY_LAYOUT]} frames")
        dropped = _merge(dropped, more)
    return attrs.evolve(result, batch=batch, dropped=_merge(result.dropped, dropped), notes=notes)


def split_by_transmitter(
    result: FileImport, *, keep_majority_layout: bool = True
) -> list[tuple[str, FileImport]]:
    """One import per transmitter, most frames first: each with that transmitter's
    frames (narrowed to its majority layout) and its raw records.

    Raw records whose transmitter is unknown (unparseable, foreign) go with the first
    part, so every record captured lands in exactly one part. A capture whose format
    carries no transmitter address is one part under MAC "".
    """
    batch = result.batch
    if batch is None or len(batch) == 0:
        return [("", result)]
    parts = []
    heard = [m for m, _ in transmitters(batch) if m] or [""]
    raw_macs = result.raw_source_mac
    if raw_macs is None:
        raw_macs = np.zeros(len(result.raw), dtype=np.int64)
    for i, mac in enumerate(heard):
        value = mac_to_int(mac)
        own = raw_macs == value
        if i == 0:
            own |= ~np.isin(raw_macs, [mac_to_int(m) for m in heard])
        part = attrs.evolve(
            result,
            batch=batch.select(batch.source_mac == value) if mac else batch,
            raw=_raw_subset(result.raw, own),
            raw_source_mac=raw_macs[own],
            records=int(own.sum()),
            dropped=dict(result.dropped),
        )
        if i:  # the file's problems and notes are told once, with the first part
            part = attrs.evolve(part, skipped=0, problems=[], notes=[])
        if keep_majority_layout:
            part = narrow(part, source_mac=ANY_TRANSMITTER, keep_majority_layout=True)
        parts.append((mac, part))
    return parts


def _raw_subset(raw: RawRecords, keep: np.ndarray) -> RawRecords:
    """The raw records where ``keep`` is true, in order."""
    if keep.all():
        return raw
    idx = np.flatnonzero(keep)
    return RawRecords.from_list([raw.record(int(i)) for i in idx], raw.host_time_ns[idx])
