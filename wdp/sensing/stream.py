"""A capture as the detectors of the sensing tier see it: amplitudes of links over time.

Real hardware writes CSI of every shape and rate (1x1 nexmon at ~49 Hz, 1x3 Intel 5300
at 20 Hz, 64-bin ESP32 at ~100 Hz, 3x3 at 100 Hz to 1 kHz). The motion, activity and
fall detectors work on amplitudes only (phase needs calibration that such captures
lack), per link (transmit chain x receive chain) and subcarrier, on a uniform clock:
``load_stream`` reads a capture into a ``CsiStream`` and ``resample`` puts it on the
grid a detector was trained at.

Amplitudes are computed as ``sqrt(re*re + im*im)`` in float64: numpy's complex
``abs`` takes SIMD paths that differ between CPUs in the last bit, and the detectors'
decisions must be the same on every x86-64 machine.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from wdp.capture.formats import read_capture
from wdp.capture.frame import FrameBatch


class StreamError(ValueError):
    """A capture with no usable frames for the sensing tier (one line, names the file)."""


@attrs.frozen(slots=True, eq=False)
class CsiStream:
    """Amplitudes of one router's links over time.

    ``t_s`` float64 [N] seconds from the first frame; ``amp`` float32 [N, links, bins]
    (links = n_tx x n_rx of the majority shape; NaN where unknown); ``dropped`` counts
    frames of another layout left out.
    """

    t_s: np.ndarray
    amp: np.ndarray
    hw_format: str
    n_tx: int
    n_rx: int
    dropped: int = 0

    @property
    def rate_hz(self) -> float:
        """The median packet rate (0 for fewer than two frames)."""
        if self.t_s.shape[0] < 2:
            return 0.0
        gaps = np.diff(self.t_s)
        gaps = gaps[gaps > 0]
        return float(1.0 / np.median(gaps)) if gaps.size else 0.0

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if self.t_s.shape[0] else 0.0

    def between(self, start_s: float | None, end_s: float | None) -> CsiStream:
        """The frames with ``start_s <= t_s < end_s`` (None: open)."""
        keep = np.ones(self.t_s.shape[0], dtype=bool)
        if start_s is not None:
            keep &= self.t_s >= start_s
        if end_s is not None:
            keep &= self.t_s < end_s
        return attrs.evolve(self, t_s=self.t_s[keep], amp=self.amp[keep])


def amplitude(csi: np.ndarray) -> np.ndarray:
    """|csi| as float32, the same bits on every CPU (see the module docstring)."""
    re = csi.real.astype(np.float64)
    im = csi.imag.astype(np.float64)
    return np.sqrt(re * re + im * im).astype(np.float32)


def from_batch(batch: FrameBatch) -> CsiStream:
    """The frames of ``batch`` in the majority shape (others dropped and counted)."""
    if len(batch) == 0:
        raise StreamError(f"router {batch.router_id}: no frames")
    shapes, counts = np.unique(batch.shape.astype(np.int64), axis=0, return_counts=True)
    n_tx, n_rx, n_sub = (int(v) for v in shapes[int(np.argmax(counts))])
    # A frame with more transmit chains than the majority still has the majority's links.
    keep = (batch.shape[:, 0] >= n_tx) & (batch.shape[:, 1] == n_rx) & (batch.shape[:, 2] == n_sub)
    csi = batch.csi[keep, :n_tx, :n_rx, :n_sub]
    amp = amplitude(csi).reshape(csi.shape[0], n_tx * n_rx, n_sub)
    t_ns = batch.timestamp_ns[keep].astype(np.int64)
    t_s = (t_ns - t_ns[0]).astype(np.float64) / 1e9
    return CsiStream(t_s, amp, batch.hw_format, n_tx, n_rx, int((~keep).sum()))


#: File endings of wdp recordings (HDF5); anything else is read as a capture file.
RECORDING_SUFFIXES = (".h5", ".hdf5")


def load_batch(path: str | Path, *, format: str = "auto") -> FrameBatch:
    """The frames of a capture file (any format ``wdp import`` reads, narrowed to one
    transmitter and layout) or of a wdp recording of one router (``wdp record``,
    ``wdp import``: a user's labelled sessions are recordings).

    StreamError or CaptureFileError (one line naming the file) when nothing is usable.
    """
    if Path(path).suffix.lower() not in RECORDING_SUFFIXES:
        result = read_capture(path, format=format, router_id="r", environment_id="e")
        batch = result.batch
    else:
        batch = _recording_batch(Path(path))
    if batch is None or len(batch) == 0:
        raise StreamError(f"{path}: no CSI frames")
    return batch


def _recording_batch(path: Path) -> FrameBatch | None:
    """The one router's frames of a recording (the sensing tier learns one link at a time)."""
    from wdp.recorder import RecordingError, open_recording

    try:
        with open_recording(path) as rec:
            ids = [r.router_id for r in rec.routers]
            if len(ids) != 1:
                raise StreamError(
                    f"{path}: a recording of {len(ids)} routers ({', '.join(ids) or 'none'}); "
                    "a labelled session holds one"
                )
            return rec.read_batch(ids[0])
    except RecordingError as exc:
        raise StreamError(str(exc)) from None


def load_stream(path: str | Path, *, format: str = "auto") -> CsiStream:
    """A capture file or one-router recording (see ``load_batch``) as a ``CsiStream``."""
    return from_batch(load_batch(path, format=format))


def resample(stream: CsiStream, rate_hz: float) -> CsiStream:
    """``stream`` on a uniform grid of ``rate_hz`` from its first frame.

    Each grid step is the mean of the frames in ``[t, t + 1/rate)`` (so a faster
    capture is averaged down, not aliased); a step without frames holds the previous
    value (a slower or bursty capture). Sums run in float64 in frame order.
    """
    if rate_hz <= 0:
        raise ValueError(f"rate must be > 0 Hz, got {rate_hz}")
    n = stream.t_s.shape[0]
    if n == 0:
        return stream
    steps = int(np.floor(stream.duration_s * rate_hz)) + 1
    cell = np.minimum(np.floor(stream.t_s * rate_hz).astype(np.int64), steps - 1)
    flat = stream.amp.reshape(n, -1).astype(np.float64)
    finite = np.isfinite(flat)
    sums = np.zeros((steps, flat.shape[1]))
    hits = np.zeros((steps, flat.shape[1]))
    np.add.at(sums, cell, np.where(finite, flat, 0.0))
    np.add.at(hits, cell, finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / hits
    # hold the last value through empty steps (per column)
    has = hits > 0
    idx = np.where(has, np.arange(steps)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    held = np.take_along_axis(mean, idx, axis=0)
    held[~np.maximum.accumulate(has, axis=0)] = np.nan
    amp = held.reshape((steps,) + stream.amp.shape[1:]).astype(np.float32)
    t_s = np.arange(steps, dtype=np.float64) / rate_hz
    return attrs.evolve(stream, t_s=t_s, amp=amp)
