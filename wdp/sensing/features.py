"""Window features of CSI amplitudes for the activity and fall detectors.

A detector sees a capture as overlapping windows of a few seconds (a fall lasts 1-2 s
and is judged by what comes before and after it, so a window holds several seconds of
context) on a uniform clock. Every feature is an aggregate over subcarriers and links
(means, percentiles), never a per-subcarrier value: the same features then exist for a
1x3x30 Intel 5300, a 1x1x256 nexmon and any other link shape, and they do not learn the
multipath of one room bin by bin.

What a window says:

- the **time course of motion**: mean absolute change of the relative amplitude from
  one sample to the next, in ``SEGMENTS`` equal parts of the window (where in the window
  the movement is, and whether it stops: a fall is a burst, then stillness);
- **how much and how widely** the channel moves: percentiles over subcarriers of each
  subcarrier's standard deviation in the window;
- **how fast**: the share of the fluctuation power in frequency bands (np.fft), a
  coarse Doppler profile (walking and running are periodic, a fall is broadband);
- **what changed**: the relative amplitude at the end of the window against its start
  (sitting down, lying down and falling leave the channel in another static state;
  waving and jumping return to the same one).

Determinism (DESIGN rule 2): only sums, means, sqrt, divisions, sorting and the FFT,
in float64; no exp/log/power ufuncs and no BLAS, so the features are the same bits on
every x86-64 CPU.
"""

from __future__ import annotations

import attrs
import numpy as np

from wdp.sensing.stream import CsiStream, StreamError, from_batch, load_batch, resample

#: Number of equal time segments the motion course of a window is summarised in.
SEGMENTS = 8
#: Frequency band edges (Hz) of the fluctuation spectrum; the last band runs to Nyquist.
BAND_EDGES_HZ = (0.25, 0.75, 1.5, 2.5, 4.0, 6.0)
#: Version of the feature definition; a detector file names the one it was trained on.
FEATURES_VERSION = 5
#: Phasor features exist for captures with two or more receive chains.
PHASOR_BANDS_HZ = (0.25, 0.75, 1.5, 2.5, 4.0, 6.0)
#: Features that say how *much* the channel moves (levels, not shapes or shares): the
#: fall event model leaves them out (``relative_columns``).
MAGNITUDE_PREFIXES = (
    "motion_seg",
    "motion_mean",
    "motion_max",
    "motion_min",
    "motion_p",
    "std_p",
    "band_total",
    "change_mean",
    "change_p90",
    "change_signed",
    "common_std",
    "common_change",
    "ph_motion_seg",
    "ph_std",
    "ph_total",
    "ph_change",
)


@attrs.frozen(slots=True)
class WindowSpec:
    """The clock and the window a detector works on."""

    rate_hz: float = 20.0
    window_s: float = 4.0
    hop_s: float = 0.5

    @property
    def length(self) -> int:
        """Samples per window."""
        return int(round(self.window_s * self.rate_hz))

    @property
    def hop(self) -> int:
        """Samples between window starts."""
        return max(1, int(round(self.hop_s * self.rate_hz)))


def feature_names() -> list[str]:
    """The column names of ``window_features`` (same order)."""
    names = [f"motion_seg{i}" for i in range(SEGMENTS)]
    names += [f"motion_shape{i}" for i in range(SEGMENTS)]
    names += ["motion_mean", "motion_max_seg", "motion_min_seg", "motion_peak_pos"]
    names += ["motion_active_share", "motion_p50", "motion_p90"]
    names += ["std_p10", "std_p50", "std_p90", "std_spread"]
    names += [f"band{i}" for i in range(len(BAND_EDGES_HZ))] + ["band_total", "centroid_hz"]
    names += ["change_mean", "change_p90", "change_signed", "change_to_std"]
    names += ["common_std", "common_share", "common_change"]
    names += ["before_after_motion"]
    return names


def relative_columns(n_columns: int) -> np.ndarray:
    """Indices of the features of a window vector (amplitude features, then phasor
    features when there are ``n_columns`` of both) that do not name a level
    (``MAGNITUDE_PREFIXES``): shapes, shares, positions and ratios.

    Why: how strongly a burst moves the channel depends on where the person is and on
    the person; leave-one-subject-out on intel5300-har11, a fall model without these
    columns kept 47 of 50 falls for 40 false candidates where one with them needed 54.
    A vector of another length (a test's) keeps every column."""
    names = feature_names()
    if n_columns == len(names) + len(phasor_feature_names()):
        names = names + phasor_feature_names()
    elif n_columns != len(names):
        return np.arange(n_columns)
    return np.array([i for i, n in enumerate(names) if not n.startswith(MAGNITUDE_PREFIXES)])


def clean_packets(amp: np.ndarray) -> np.ndarray:
    """Per-packet amplitudes [N, links, bins] without lone outlier packets: a packet
    that is the odd one out of its neighbours (a frame of another link, a corrupted one)
    is replaced by the median of itself and its two neighbours, per bin.

    (Dividing each packet by its mean over subcarriers, to remove the receiver's gain
    control, was measured and left out: it also removes the broadband attenuation of a
    body, and cost 6 points of leave-one-person-out accuracy on the Intel 5300 set.)
    """
    a = amp.astype(np.float64)
    if a.shape[0] >= 3:
        trio = np.stack([a[:-2], a[1:-1], a[2:]], axis=0)
        mid = np.sort(trio, axis=0)[1]  # NaN sorts last
        a[1:-1] = np.where(np.isfinite(mid), mid, a[1:-1])
    return a


def prepare(stream: CsiStream, rate_hz: float) -> np.ndarray:
    """Cleaned amplitudes (``clean_packets``) [T, columns] float64 on the ``rate_hz``
    grid, dead columns removed.

    A column (link x subcarrier) is dead when it is never finite or its median amplitude
    is below 1 % of the median of all columns (nexmon's guard and DC bins read 0).
    Remaining NaNs (a link missing from some frames) are held from the last value.
    """
    cleaned = attrs.evolve(stream, amp=clean_packets(stream.amp).astype(np.float32))
    grid = resample(cleaned, rate_hz)
    flat = grid.amp.reshape(grid.amp.shape[0], -1).astype(np.float64)
    live = flat[:, alive_columns(flat)]
    return np.where(np.isfinite(live), live, 0.0)


def alive_columns(amp: np.ndarray) -> np.ndarray:
    """Indices of the columns of grid steps ``amp`` [T, C] that are not dead (see
    ``prepare``): finite throughout (or, when none is, anywhere) and with a median
    above 1 % of the median column's. ``wdp.sensing.live`` chooses its columns so too."""
    finite = np.isfinite(amp)
    ok = finite.all(axis=0)
    if not ok.any():
        ok = finite.any(axis=0)
    cols = np.flatnonzero(ok)
    flat = np.where(np.isfinite(amp[:, cols]), amp[:, cols], 0.0)
    med = np.median(flat, axis=0)
    alive = med > 0.01 * np.median(med) if med.size else med > 0
    return cols[alive]


def _bands(freqs: np.ndarray) -> list[np.ndarray]:
    edges = list(BAND_EDGES_HZ) + [np.inf]
    return [(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def window_features(win: np.ndarray, rate_hz: float) -> np.ndarray:
    """Features (see ``feature_names``) of windows ``win`` [n, L, columns] float64."""
    n, length, _ = win.shape
    mean = win.mean(axis=1, keepdims=True)
    x = win / np.where(mean > 0, mean, 1.0)  # relative amplitude, gain-free
    motion = np.abs(np.diff(x, axis=1)).mean(axis=2)  # [n, L-1]
    seg = np.stack([s.mean(axis=1) for s in np.array_split(motion, SEGMENTS, axis=1)], axis=1)
    top = seg.max(axis=1)
    shape = seg / np.where(top > 0, top, 1.0)[:, None]
    half = length // 2
    before, after = motion[:, : half - 1].mean(axis=1), motion[:, half:].mean(axis=1)
    m_sorted = np.sort(motion, axis=1)
    k50, k90 = (motion.shape[1] - 1) // 2, int(0.9 * (motion.shape[1] - 1))
    centred = x - x.mean(axis=1, keepdims=True)
    std = np.sqrt((centred * centred).mean(axis=1))  # [n, columns]
    std_sorted = np.sort(std, axis=1)
    c = std.shape[1]
    s10, s50, s90 = (std_sorted[:, int(q * (c - 1))] for q in (0.1, 0.5, 0.9))
    taper = 1.0 - np.abs(np.arange(length) - (length - 1) / 2.0) / ((length + 1) / 2.0)
    spec = np.fft.rfft(centred * taper[None, :, None], axis=1)
    power = (spec.real * spec.real + spec.imag * spec.imag).mean(axis=2)  # [n, F]
    freqs = np.arange(power.shape[1]) * (rate_hz / length)
    bands = np.stack([power[:, b].sum(axis=1) for b in _bands(freqs)], axis=1)
    total = bands.sum(axis=1)
    safe_total = np.where(total > 0, total, 1.0)
    edge = max(1, int(round(0.75 * rate_hz)))
    change = x[:, -edge:].mean(axis=1) - x[:, :edge].mean(axis=1)  # [n, columns]
    abs_change = np.sort(np.abs(change), axis=1)
    common = x.mean(axis=2)  # [n, L]
    common_c = common - common.mean(axis=1, keepdims=True)
    common_std = np.sqrt((common_c * common_c).mean(axis=1))
    mean_std = std.mean(axis=1)
    safe_std = np.where(mean_std > 0, mean_std, 1.0)
    cols = [
        seg,
        shape,
        motion.mean(axis=1)[:, None],
        top[:, None],
        seg.min(axis=1)[:, None],
        (np.argmax(seg, axis=1) / (SEGMENTS - 1.0))[:, None],
        (shape > 0.5).mean(axis=1)[:, None],
        m_sorted[:, k50][:, None],
        m_sorted[:, k90][:, None],
        s10[:, None],
        s50[:, None],
        s90[:, None],
        (s90 / np.where(s50 > 0, s50, 1.0))[:, None],
        bands / safe_total[:, None],
        np.sqrt(total / length)[:, None],
        ((power * freqs).sum(axis=1) / np.where(power.sum(axis=1) > 0, power.sum(axis=1), 1.0))[
            :, None
        ],
        abs_change.mean(axis=1)[:, None],
        abs_change[:, int(0.9 * (c - 1))][:, None],
        change.mean(axis=1)[:, None],
        (abs_change.mean(axis=1) / safe_std)[:, None],
        common_std[:, None],
        (common_std / safe_std)[:, None],
        (common[:, -edge:].mean(axis=1) - common[:, :edge].mean(axis=1))[:, None],
        (before / np.where(before + after > 0, before + after, 1.0))[:, None],
    ]
    return np.concatenate(cols, axis=1)


def sliding_windows(amp: np.ndarray, spec: WindowSpec, chunk: int = 128):
    """Yield (start indices, features) of every window of ``amp`` [T, columns], in chunks."""
    length, hop = spec.length, spec.hop
    if amp.shape[0] < length or amp.shape[1] == 0:
        return
    view = np.lib.stride_tricks.sliding_window_view(amp, length, axis=0)  # [nw, C, L]
    starts = np.arange(0, amp.shape[0] - length + 1, hop)
    for i in range(0, starts.size, chunk):
        idx = starts[i : i + chunk]
        win = np.ascontiguousarray(view[idx].transpose(0, 2, 1))
        yield idx, window_features(win, spec.rate_hz)


def stream_features(stream: CsiStream, spec: WindowSpec) -> tuple[np.ndarray, np.ndarray]:
    """(window centre times s, features [windows, F]) of a whole capture."""
    amp = prepare(stream, spec.rate_hz)
    times, feats = [], []
    for idx, f in sliding_windows(amp, spec):
        times.append((idx + spec.length / 2.0) / spec.rate_hz)
        feats.append(f)
    if not feats:
        return np.zeros(0), np.zeros((0, len(feature_names())))
    return np.concatenate(times), np.concatenate(feats)


def motion_course(amp: np.ndarray, rate_hz: float, smooth_s: float = 1.0) -> np.ndarray:
    """Motion per sample (mean |change| of amplitude relative to the capture's mean),
    smoothed by a centred moving mean of ``smooth_s``: where in a file the action is."""
    mean = amp.mean(axis=0)
    x = amp / np.where(mean > 0, mean, 1.0)
    m = np.concatenate([[0.0], np.abs(np.diff(x, axis=0)).mean(axis=1)])
    k = max(1, int(round(smooth_s * rate_hz)))
    c = np.concatenate([[0.0], np.cumsum(m)])
    lo = np.clip(np.arange(m.size) - k // 2, 0, m.size)
    hi = np.clip(lo + k, 0, m.size)
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


# ---- phase between receive chains ------------------------------------------------------
#
# The phase of one chain drifts with the radio's clock offsets, but two chains of one
# receiver share that clock: the product ``h_a * conj(h_b)`` keeps only what differs
# between the antennas' paths, which a moving body changes. Its unit phasor (divided by
# its magnitude: sqrt and division only, no atan2) moves when someone moves even where
# the amplitude barely does. 1x1 hardware (nexmon) has no pair and no phasor features.


@attrs.frozen(slots=True, eq=False)
class Capture:
    """A capture on the detector's grid: amplitudes [T, columns] and, with two or more
    receive chains, unit phasors of chain pairs [T, pairs x subcarriers] (else None)."""

    amp: np.ndarray
    phasor: np.ndarray | None
    duration_s: float


def _pair_phasors(csi: np.ndarray) -> np.ndarray | None:
    """Unit phasors of h_a * conj(h_b) for chain pairs (0,1), (1,2), (0,2) of transmit
    chain 0; csi complex [N, T, R, S]. None with fewer than two receive chains."""
    n_rx = csi.shape[2]
    if n_rx < 2:
        return None
    pairs = [(0, 1), (1, 2), (0, 2)] if n_rx >= 3 else [(0, 1)]
    re = csi.real.astype(np.float64)[:, 0]
    im = csi.imag.astype(np.float64)[:, 0]
    out = []
    for a, b in pairs:
        zr = re[:, a] * re[:, b] + im[:, a] * im[:, b]
        zi = im[:, a] * re[:, b] - re[:, a] * im[:, b]
        mag = np.sqrt(zr * zr + zi * zi)
        safe = np.where(mag > 0, mag, 1.0)
        out.append((zr / safe) + 1j * (zi / safe))
    return np.concatenate(out, axis=1)


def _grid_mean(t_s: np.ndarray, values: np.ndarray, rate_hz: float, steps: int) -> np.ndarray:
    """Mean of ``values`` [N, K] per grid step of ``rate_hz``, empty steps hold the last."""
    cell = np.minimum(np.floor(t_s * rate_hz).astype(np.int64), steps - 1)
    sums = np.zeros((steps, values.shape[1]), dtype=values.dtype)
    hits = np.zeros(steps)
    np.add.at(sums, cell, values)
    np.add.at(hits, cell, 1.0)
    idx = np.where(hits > 0, np.arange(steps), 0)
    np.maximum.accumulate(idx, out=idx)
    return (sums / np.maximum(hits, 1.0)[:, None])[idx]


def load_capture(
    path, rate_hz: float, start_s: float | None = None, end_s: float | None = None
) -> Capture:
    """A capture file (any format wdp reads, narrowed to one transmitter and layout) on
    the ``rate_hz`` grid, optionally only ``[start_s, end_s)``."""
    batch = load_batch(path)
    stream = from_batch(batch).between(start_s, end_s)
    if stream.t_s.shape[0] < 2:
        raise StreamError(f"{path}: fewer than two frames in the labelled span")
    t0 = stream.t_s[0]
    stream = attrs.evolve(stream, t_s=stream.t_s - t0)
    amp = prepare(stream, rate_hz)
    n_tx, n_rx = stream.n_tx, stream.n_rx
    shapes = batch.shape
    keep = (shapes[:, 0] >= n_tx) & (shapes[:, 1] == n_rx) & (shapes[:, 2] == shapes[0, 2])
    t_ns = batch.timestamp_ns[keep].astype(np.int64)
    t_all = (t_ns - t_ns[0]).astype(np.float64) / 1e9 - t0
    csi = batch.csi[keep][:, :n_tx, :n_rx, : amp.shape[1] if n_rx < 2 else shapes[0, 2]]
    ph = _pair_phasors(csi)
    if ph is not None:
        inside = (t_all >= 0) & (t_all < stream.t_s[-1] + 1.0 / rate_hz)
        ph = _grid_mean(t_all[inside], ph[inside], rate_hz, amp.shape[0])
    return Capture(amp, ph, stream.duration_s)


def phasor_feature_names() -> list[str]:
    """The column names of ``phasor_features`` (same order)."""
    names = [f"ph_motion_seg{i}" for i in range(SEGMENTS)]
    names += [f"ph_motion_shape{i}" for i in range(SEGMENTS)]
    names += ["ph_std_p10", "ph_std_p50", "ph_std_p90"]
    names += [f"ph_band{i}" for i in range(len(PHASOR_BANDS_HZ))] + ["ph_total"]
    names += ["ph_change_p50", "ph_change_p90", "ph_change_mean"]
    return names


def phasor_features(u: np.ndarray, rate_hz: float) -> np.ndarray:
    """Features of chain-pair phasor windows ``u`` complex [n, L, columns]."""
    n, length, c = u.shape
    d = np.diff(u, axis=1)
    motion = np.sqrt(d.real * d.real + d.imag * d.imag).mean(axis=2)
    seg = np.stack([s.mean(axis=1) for s in np.array_split(motion, SEGMENTS, axis=1)], axis=1)
    top = seg.max(axis=1, keepdims=True)
    uc = u - u.mean(axis=1, keepdims=True)
    std = np.sort(np.sqrt((uc.real * uc.real + uc.imag * uc.imag).mean(axis=1)), axis=1)
    spec = np.fft.fft(uc, axis=1)
    power = (spec.real * spec.real + spec.imag * spec.imag).mean(axis=2)
    freqs = np.abs(np.fft.fftfreq(length, 1.0 / rate_hz))
    edges = list(PHASOR_BANDS_HZ) + [np.inf]
    bands = np.stack(
        [
            power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ],
        axis=1,
    )
    total = bands.sum(axis=1, keepdims=True)
    edge = max(1, int(round(0.75 * rate_hz)))
    ch = u[:, -edge:].mean(axis=1) - u[:, :edge].mean(axis=1)
    ch = np.sort(np.sqrt(ch.real * ch.real + ch.imag * ch.imag), axis=1)
    q = [int(p * (c - 1)) for p in (0.1, 0.5, 0.9)]
    return np.concatenate(
        [
            seg,
            seg / np.where(top > 0, top, 1.0),
            std[:, q],
            bands / np.where(total > 0, total, 1.0),
            np.sqrt(total / length),
            ch[:, q[1:]],
            ch.mean(axis=1, keepdims=True),
        ],
        axis=1,
    )


def capture_window_features(cap: Capture, starts: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Features [len(starts), F] of the windows of ``cap`` beginning at sample ``starts``
    (amplitude features, then phasor features when the capture has them)."""
    out = []
    for i in range(0, starts.size, 128):
        idx = starts[i : i + 128, None] + np.arange(spec.length)[None, :]
        f = window_features(cap.amp[idx], spec.rate_hz)
        if cap.phasor is not None:
            f = np.concatenate([f, phasor_features(cap.phasor[idx], spec.rate_hz)], axis=1)
        out.append(f)
    if not out:
        n = len(feature_names()) + (len(phasor_feature_names()) if cap.phasor is not None else 0)
        return np.zeros((0, n))
    return np.concatenate(out)
