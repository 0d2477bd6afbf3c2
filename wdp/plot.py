"""``wdp inspect rec.h5 --plot out.png``: one figure that shows what a recording holds.

Four panels, all computed with the same numba DSP and pipeline the server runs:
- amplitude heatmap (dB) of the first link (transmit chain 0, receive chain 0) over
  time and subcarrier;
- its sanitized phase (``wdp.dsp.sanitize_phase``: the linear term of the timing offset
  and the constant removed), so what is left is the channel's own phase;
- a Doppler spectrogram of the link's motion: the CSI ratio between receive chains
  (the sanitized phasor with one chain), static part removed, short-time power spectrum
  (``wdp.dsp.doppler_spectrum``), as the model's features compute it;
- estimated tracks on the floor from the real replay pipeline (model, tracker), beside
  the true paths of a simulated recording. A recording whose hardware has no model
  gets the panel's reason instead of tracks.

matplotlib is an optional extra (``pip install 'wdp[plot]'``): it is imported only
here, with the non-interactive Agg canvas and no global pyplot state.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import numpy as np
import trio

from wdp import dsp
from wdp.inference.model import ModelError
from wdp.pipeline.events import PoseFrame
from wdp.pipeline.replay import replay
from wdp.recorder import open_recording
from wdp.recorder.schema import RecordingError

#: Frames of the first router read for the signal panels (at 100 Hz: 3 minutes).
MAX_FRAMES = 18_000
#: Doppler spectrogram: window and hop in frames; static removal as in the features.
DOPPLER_WINDOW = 64
DOPPLER_HOP = 8
STATIC_ALPHA = 0.05
FORMATS = (".png", ".svg", ".pdf")
INSTALL_HINT = "--plot needs matplotlib: pip install 'wdp[plot]' (or pip install matplotlib)"


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


@attrs.frozen(slots=True)
class PlotSummary:
    """What the figure shows, for the command's report and for tests."""

    router_id: str
    frames: int
    seconds: float
    subcarriers: int
    doppler_windows: int
    estimated_tracks: int
    true_people: int
    note: str = ""


def require_matplotlib():
    """The Agg canvas and Figure classes, or PlotUnavailable with how to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(INSTALL_HINT) from None
    return FigureCanvasAgg, Figure


def _signals(path: Path, router_id: str | None):
    """(router id, times s [N], subcarrier indices [S], link csi [N, T, R, S]) of one
    router, at most MAX_FRAMES."""
    with open_recording(path) as rec:
        ids = sorted(r.router_id for r in rec.routers)
        if not ids:
            raise RecordingError(f"{path}: the recording has no routers")
        rid = router_id or ids[0]
        if rid not in ids:
            raise RecordingError(f"{path}: no router {rid!r} (routers: {', '.join(ids)})")
        batches, n = [], 0
        for batch in rec.batches(rid):
            batches.append(batch)
            n += len(batch.timestamp_ns)
            if n >= MAX_FRAMES:
                break
    if not batches:
        raise RecordingError(f"{path}: router {rid!r} has no frames")
    shape = np.max([b.csi.shape[1:] for b in batches], axis=0)
    csi = np.full((n, *shape), np.nan + 0j, dtype=np.complex64)
    sub = np.zeros((n, shape[2]), dtype=np.int64)
    t = np.concatenate([b.timestamp_ns for b in batches]).astype(np.int64)
    at = 0
    for b in batches:
        k, (tt, rr, ss) = len(b.timestamp_ns), b.csi.shape[1:]
        csi[at : at + k, :tt, :rr, :ss] = b.csi
        sub[at : at + k, :ss] = b.subcarriers
        at += k
    csi, sub, t = csi[:MAX_FRAMES], sub[:MAX_FRAMES], t[:MAX_FRAMES]
    return rid, (t - t[0]) / 1e9, sub, csi


def _doppler(csi: np.ndarray, sub: np.ndarray, fs: float):
    """(frequencies Hz [F], power [W, F]) of the link's dynamic part."""
    n, _, r, _ = csi.shape
    clean = np.nan_to_num(csi)
    if r >= 2:
        z = np.asarray(dsp.csi_ratio(clean, 0))[:, 0]  # [N, R-1, S]
    else:
        phase, _ = dsp.sanitize_phase(clean, sub)
        z = np.exp(1j * np.nan_to_num(np.asarray(phase)))[:, 0]
    z = np.nan_to_num(z.reshape(n, -1).astype(np.complex128))
    dynamic, _ = dsp.remove_static(z, STATIC_ALPHA)
    window = min(DOPPLER_WINDOW, 1 << max(3, int(math.log2(max(n, 8)))))
    if n < window:
        return np.zeros(0), np.zeros((0, 0))
    return dsp.doppler_spectrum(np.nan_to_num(np.asarray(dynamic)), fs, window, DOPPLER_HOP)


def _floor_xy(person) -> tuple[float, float]:
    """A reported person's floor position: the midpoint of the hips (COCO 11 and 12),
    as ``wdp replay --compare-truth`` measures it."""
    hips = [person.keypoints[i] for i in (11, 12)]
    return (hips[0].x_m + hips[1].x_m) / 2, (hips[0].y_m + hips[1].y_m) / 2


def _estimated_tracks(path: Path, model_path) -> tuple[dict[int, np.ndarray], str]:
    """Track id -> [K, 2] floor positions from the real replay pipeline, or a reason."""
    tracks: dict[int, list] = {}

    def emit(event) -> None:
        if isinstance(event, PoseFrame):
            for person in event.persons:
                tracks.setdefault(person.track_id, []).append(_floor_xy(person))

    try:
        trio.run(lambda: replay(path, emit, model_path=model_path))
    except ModelError as exc:
        return {}, f"no estimate: {exc}"
    return {k: np.asarray(v, dtype=float) for k, v in tracks.items()}, ""


def plot_recording(
    path: str | Path,
    out: str | Path,
    *,
    router_id: str | None = None,
    model_path: str | Path | None = None,
) -> PlotSummary:
    """Write the figure to ``out`` (.png, .svg or .pdf) and say what it shows."""
    canvas_cls, figure_cls = require_matplotlib()
    path, out = Path(path), Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"{out}: the plot must be one of {', '.join(FORMATS)}")
    rid, seconds, sub, csi = _signals(path, router_id)
    with open_recording(path) as rec:
        truth = rec.truth()
    n = len(seconds)
    steps = np.diff(seconds)
    fs = 1.0 / float(np.median(steps[steps > 0])) if np.any(steps > 0) else 100.0
    link = csi[:, 0, 0, :]
    with np.errstate(all="ignore"):
        amp_db = 20 * np.log10(np.abs(link) + 1e-12)
        amp_db[~np.isfinite(link)] = np.nan
        phase, _ = dsp.sanitize_phase(np.nan_to_num(csi), sub)
    phase = np.asarray(phase)[:, 0, 0, :].astype(float)
    phase[~np.isfinite(link)] = np.nan
    freqs, power = _doppler(csi, sub, fs)
    tracks, note = _estimated_tracks(path, model_path)

    fig = figure_cls(figsize=(14, 9), dpi=100, layout="constrained")
    canvas_cls(fig)
    fig.suptitle(f"{path.name}: router {rid}, {n} frames, {seconds[-1]:.1f} s")
    ax_amp, ax_phase, ax_dop, ax_tracks = fig.subplots(2, 2).ravel()
    extent = (0.0, float(seconds[-1]) or 1.0, -0.5, link.shape[1] - 0.5)
    image = ax_amp.imshow(
        amp_db.T,
        aspect="auto",
        origin="lower",
        extent=extent,
        cmap="viridis",
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax_amp, label="dB")
    ax_amp.set(title="Amplitude (tx 0, rx 0)", xlabel="time (s)", ylabel="subcarrier (index)")
    limit = float(np.nanmax(np.abs(phase))) if np.isfinite(phase).any() else math.pi
    image = ax_phase.imshow(
        phase.T,
        aspect="auto",
        origin="lower",
        extent=extent,
        cmap="coolwarm",
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax_phase, label="rad")
    ax_phase.set(
        title="Sanitized phase (tx 0, rx 0)", xlabel="time (s)", ylabel="subcarrier (index)"
    )
    if power.size:
        centres = (np.arange(power.shape[0]) * DOPPLER_HOP + len(freqs) / 2) / fs
        with np.errstate(divide="ignore"):
            db = 10 * np.log10(power + 1e-12 * max(float(power.max()), 1e-30))
        image = ax_dop.pcolormesh(centres, freqs, db.T, shading="nearest", cmap="magma")
        fig.colorbar(image, ax=ax_dop, label="dB")
    else:
        ax_dop.text(0.5, 0.5, "too few frames", ha="center", transform=ax_dop.transAxes)
    ax_dop.set(
        title="Doppler spectrogram (dynamic part)", xlabel="time (s)", ylabel="frequency (Hz)"
    )

    true_people = 0
    if truth is not None:
        rows = truth.rows
        for slot, name in enumerate(truth.spec.person_names):
            seen = rows.present[:, slot].astype(bool)
            if not seen.any():
                continue
            true_people += 1
            xy = np.where(seen[:, None], rows.position[:, slot, :2], np.nan)
            ax_tracks.plot(
                xy[:, 0], xy[:, 1], color="black", lw=2.5, ls="--", label=f"true: {name}"
            )
    for track_id, xy in sorted(tracks.items()):
        ax_tracks.plot(
            xy[:, 0],
            xy[:, 1],
            marker=".",
            ms=3,
            lw=0.8,
            alpha=0.8,
            label=f"track {track_id}" if len(tracks) <= 8 else None,
        )
    if note:
        ax_tracks.text(
            0.5, 0.5, note, ha="center", va="center", wrap=True, transform=ax_tracks.transAxes
        )
    ax_tracks.set(
        title="Tracks on the floor: estimated (replay) vs true"
        if truth is not None
        else "Tracks on the floor (estimated by replay)",
        xlabel="x (m)",
        ylabel="y (m)",
    )
    ax_tracks.set_aspect("equal", adjustable="datalim")
    if ax_tracks.get_legend_handles_labels()[0]:
        ax_tracks.legend(fontsize="small", loc="best")
    fig.savefig(out)
    return PlotSummary(
        router_id=rid,
        frames=n,
        seconds=float(seconds[-1]),
        subcarriers=int(link.shape[1]),
        doppler_windows=int(power.shape[0]) if power.size else 0,
        estimated_tracks=len(tracks),
        true_people=true_people,
        note=note,
    )
