"""Motion and presence from CSI amplitudes of any link: the first sensing tier.

What is measured: how much the channel *changes* within a window, relative to how much
it changes in the same room when nobody moves. A moving body changes the multipath
(amplitudes wander by several per cent within a second, correlated over time); an
empty room or a still person leaves only receiver noise and slow drift. The measure
is the **variability** of a window:

1. packets of the window with no usable amplitude (all NaN, all zero) are dropped;
   subcarriers below ``subcarrier_floor`` of a link's strong bins (nulls, guard bins,
   the unused 60 MHz of a 20 MHz frame in an 80 MHz capture) are left out;
2. each packet is divided by its own mean amplitude per link, which removes the
   automatic gain control's steps and the transmitter's power changes;
3. packets far from the window's median profile (``outlier_factor`` times the median
   distance) are dropped: frames of another transmitter on the channel, corrupt
   frames, single-packet spikes;
4. the packets are averaged into ``bin_s`` bins (10 Hz), so every rate from 10 Hz to
   1 kHz becomes the same clock and the white noise of fast links averages out,
   while body motion (below 5 Hz) stays;
5. variability = median over links and subcarriers of (std of the bins / their mean).

The **score** is that variability divided by the room's quiet variability (the
calibration, ``wdp.sensing.calibration``): about 1 in a quiet room on any hardware,
the threshold is a ratio to it (``MotionConfig.threshold``), with hysteresis.

What it can tell apart, measured on real captures (``motion_eval``): a moving person
from a quiet room or a person keeping still (ESP32, Intel 5300, nexmon). What it
cannot: a person keeping still from an empty room. Both leave the same noise; a still
person is "still" only while ``presence_hold_s`` has not passed since the last motion
(someone who came in and has not been seen leaving); after that the room reads
"empty". Breathing and other micro-motion are below what 1 s windows resolve on this
hardware, so the API must not claim presence of a motionless person.

Determinism (DESIGN rule 2): sums, means, medians (sorting), sqrt and divisions in
float64 only; no exp/log/power ufuncs and no BLAS. The detector is a pure state machine
over its windows: the same windows give the same states on every x86-64 CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import numpy as np

from wdp.sensing.calibration import Calibration, adapted, from_variabilities

#: Version of the window variability's definition; a calibration names the one it saw.
MOTION_VERSION = 1

STATES = ("calibrating", "unavailable", "empty", "still", "moving")


@attrs.frozen(slots=True)
class MotionConfig:
    """Windowing, quality gate and decision settings of the motion tier.

    The defaults were chosen leave-one-room/session/subject-out on the public real
    captures (see ``motion_eval`` and its table); they are the same for every link.
    ``release`` 0.9 rather than 0.8: on har11 the still recordings' false motion went
    from 2.4 to 0.9 % of windows for 97.0 -> 95.5 % of the moving windows (1.0: 0.6 %
    and 92.7 %); no separate validation set exists, so these are the figures the
    setting was chosen on.
    """

    window_s: float = 1.0  # one decision per window
    hop_s: float = 0.5  # a new window every hop
    bin_s: float = 0.1  # the common clock packets are averaged onto (10 Hz)
    min_rate_hz: float = 8.0  # fewer packets per second than this: refused
    min_coverage: float = 0.6  # share of the window's bins that must hold a packet
    min_subcarriers: int = 4  # usable subcarriers a link needs to count
    subcarrier_floor: float = 0.1  # a bin below this share of a link's strong bins is unused
    outlier_factor: float = 3.0  # packet distance past this many median distances: dropped
    threshold: float = 2.5  # motion when variability >= threshold x the quiet median
    release: float = 0.9  # moving stays until the score drops below release x threshold
    presence_hold_s: float = 60.0  # someone who moved is "still" this long after
    auto_calibration_s: float = 30.0  # windows collected to calibrate a room with no file
    adapt_step: float = 0.002  # quiet-level tracking step per quiet window
    adapt_after_s: float = 10.0  # only windows this long after the last motion adapt
    adapt_limit: float = 2.0  # the quiet level never drifts past this factor of the original


@attrs.frozen(slots=True)
class WindowFeatures:
    """What one window says: its variability, or why it could not be judged."""

    t_s: float  # end of the window
    variability: float  # NaN when refused
    reason: str = ""  # "" when usable; else one line for metadata and warnings
    packets: int = 0  # packets used (after outliers)
    rejected: int = 0  # packets dropped as outliers
    links: int = 0
    subcarriers: int = 0  # usable (link, subcarrier) pairs

    @property
    def ok(self) -> bool:
        return not self.reason


@attrs.frozen(slots=True)
class MotionState:
    """The detector's judgement of one window.

    ``presence`` is None while calibrating or when the window was refused (unknown,
    never a guess); ``reason`` says why in one line.
    """

    t_s: float
    state: str  # one of STATES
    motion: bool
    score: float  # variability / quiet median (0.0 when there is no calibration yet)
    presence: bool | None
    variability: float
    threshold: float
    reason: str = ""


def _refuse(t_s: float, reason: str, packets: int = 0) -> WindowFeatures:
    return WindowFeatures(t_s, float("nan"), reason, packets)


def _usable_packets(t_s: np.ndarray, amp: np.ndarray, t_end: float, cfg: MotionConfig):
    """Packets and columns with amplitudes everywhere; a refusal reason or None."""
    if amp.ndim != 3 or t_s.shape[0] != amp.shape[0]:
        return None, None, f"window shape {amp.shape} does not match {t_s.shape[0]} times"
    a = amp.astype(np.float64)
    finite = np.isfinite(a)
    packet_ok = finite.any(axis=(1, 2)) & (np.where(finite, a, 0.0).sum(axis=(1, 2)) > 0)
    if not packet_ok.any():
        return None, None, "no packet with amplitudes in the window (all NaN or zero)"
    a, t = a[packet_ok], t_s[packet_ok]
    if np.any(np.diff(t) < 0):
        return None, None, "packet times go backwards within the window"
    need = max(5, int(np.ceil(cfg.min_rate_hz * cfg.window_s)))
    if t.shape[0] < need:
        return (
            None,
            None,
            (
                f"too few packets: {t.shape[0]} in {cfg.window_s:g} s, need {need} "
                f"({cfg.min_rate_hz:g} Hz)"
            ),
        )
    n_bins = int(round(cfg.window_s / cfg.bin_s))
    cell = np.clip(
        np.floor((t - (t_end - cfg.window_s)) / cfg.bin_s).astype(np.int64), 0, n_bins - 1
    )
    covered = np.unique(cell).shape[0] / n_bins
    if covered < cfg.min_coverage:
        return (
            None,
            None,
            (
                f"packets cover {covered:.0%} of the window, need {cfg.min_coverage:.0%} "
                "(a gap in the stream)"
            ),
        )
    return a, cell, None


def _column_mask(a: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """(link, subcarrier) pairs with an amplitude in every packet and above the floor."""
    finite = np.isfinite(a).all(axis=0)
    mean = np.where(finite, np.where(np.isfinite(a), a, 0.0).mean(axis=0), 0.0)
    strong = np.percentile(mean, 95, axis=1, keepdims=True)
    mask = finite & (mean > cfg.subcarrier_floor * strong) & (strong > 0)
    mask &= mask.sum(axis=1, keepdims=True) >= cfg.min_subcarriers
    return mask


def _relative(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each packet divided by its mean amplitude per link over the usable bins."""
    counts = mask.sum(axis=1)
    per_link = np.where(mask, a, 0.0).sum(axis=2) / np.maximum(counts, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = a / per_link[:, :, None]
    return np.where(mask, x, 0.0)


def _inliers(x: np.ndarray, mask: np.ndarray, factor: float) -> np.ndarray:
    """Packets within ``factor`` median distances of the window's median profile."""
    median = np.median(x, axis=0)
    dev = np.abs(x - median)[:, mask]  # [N, usable columns]
    dist = np.median(dev, axis=1)
    return dist <= factor * np.median(dist) + 1e-12


def window_features(
    t_s: np.ndarray, amp: np.ndarray, t_end: float, cfg: MotionConfig
) -> WindowFeatures:
    """The variability of the window ``[t_end - window_s, t_end)`` (see the module doc).

    ``t_s`` float64 [N], ``amp`` [N, links, subcarriers] amplitudes (NaN unknown). A
    window the gate refuses has NaN variability and a one-line ``reason``.
    """
    a, cell, reason = _usable_packets(np.asarray(t_s, np.float64), np.asarray(amp), t_end, cfg)
    if reason is not None:
        return _refuse(t_end, reason, 0 if a is None else a.shape[0])
    mask = _column_mask(a, cfg)
    if not mask.any():
        return _refuse(
            t_end,
            f"no link has {cfg.min_subcarriers} subcarriers above the noise floor",
            a.shape[0],
        )
    x = _relative(a, mask)
    keep = _inliers(x, mask, cfg.outlier_factor)
    x, cell = x[keep], cell[keep]
    n_bins = int(round(cfg.window_s / cfg.bin_s))
    sums = np.zeros((n_bins,) + x.shape[1:])
    np.add.at(sums, cell, x)
    hits = np.bincount(cell, minlength=n_bins).astype(np.float64)
    used = hits > 0
    if used.sum() < max(3, int(np.ceil(cfg.min_coverage * n_bins))):
        return _refuse(t_end, "too few packets left after dropping outliers", int(keep.sum()))
    bins = sums[used] / hits[used][:, None, None]
    mean = bins.mean(axis=0)
    dev = bins - mean
    std = np.sqrt((dev * dev).mean(axis=0))
    ratio = std[mask] / mean[mask]
    return WindowFeatures(
        t_end,
        float(np.median(ratio)),
        "",
        int(keep.sum()),
        int((~keep).sum()),
        int(mask.any(axis=1).sum()),
        int(mask.sum()),
    )


def window_ends(t_s: np.ndarray, cfg: MotionConfig) -> Iterator[tuple[float, int, int]]:
    """(end, first, stop) of each window of a stream: ``[end - window_s, end)``.

    Windows start at the first packet and follow every ``hop_s``; ends are computed as
    ``t0 + window_s + k * hop_s`` (no accumulated rounding).
    """
    if t_s.shape[0] == 0:
        return
    t0, last = float(t_s[0]), float(t_s[-1])
    k = 0
    while True:
        end = t0 + cfg.window_s + k * cfg.hop_s
        if end > last + cfg.hop_s:
            return
        i0, i1 = np.searchsorted(t_s, [end - cfg.window_s, end], side="left")
        yield end, int(i0), int(i1)
        k += 1


def stream_features(t_s: np.ndarray, amp: np.ndarray, cfg: MotionConfig) -> list[WindowFeatures]:
    """The features of every window of a whole stream (offline use: eval, calibrate)."""
    return [
        window_features(t_s[i0:i1], amp[i0:i1], end, cfg) for end, i0, i1 in window_ends(t_s, cfg)
    ]


class MotionDetector:
    """Motion and presence per window, for one link of one room: a pure state machine.

    ``MotionDetector(calibration, config, prior=None)``; ``update(t_s, amp, t_end)``
    judges one window of packets, ``decide(features)`` one window whose features are
    already computed. With no calibration the first ``auto_calibration_s`` of usable
    windows calibrate the room; meanwhile the windows are judged against ``prior`` (the
    same hardware's quiet level in other rooms, ``calibration.prior``) when there is
    one, and only the windows it judges quiet are collected (after twice as many
    windows without enough quiet ones, all of them are: a link noisier than the
    prior's), else the state is "calibrating" (the room should be quiet then, and the
    median makes it tolerate motion in up to a third of that time). While the room is
    judged quiet its quiet level follows slow drift (``adapt_step``, bounded by
    ``adapt_limit``); ``calibration`` is the current, adapted one, to persist.
    """

    def __init__(
        self,
        calibration: Calibration | None = None,
        config: MotionConfig | None = None,
        *,
        prior: Calibration | None = None,
    ):
        self.config = config or MotionConfig()
        self.original = calibration
        self.calibration = calibration
        self.prior = prior
        self._collected: list[float] = []
        self._seen: list[float] = []  # every usable window while judged by the prior
        self._moving = False
        self._last_motion_s: float | None = None

    def update(self, t_s: np.ndarray, amp: np.ndarray, t_end: float) -> MotionState:
        """Judge the window ``[t_end - window_s, t_end)`` holding these packets."""
        return self.decide(window_features(t_s, amp, t_end, self.config))

    def decide(self, f: WindowFeatures) -> MotionState:
        """Judge one window from its features."""
        if not f.ok:
            return MotionState(f.t_s, "unavailable", False, 0.0, None, f.variability, 0.0, f.reason)
        if self.calibration is not None:
            state = self._judge(f, self.calibration)
            self._adapt(f, state)
            return state
        if self.prior is None:
            return self._calibrate(f)
        state = self._judge(f, self.prior)
        self._seen.append(f.variability)
        if not state.motion:
            self._calibrate(f)
        elif len(self._seen) >= 2 * self._needed():
            # The prior calls this room moving most of the time: a noisier link than
            # the prior's. Learn the room as without a prior: the median of everything.
            self._collected = self._seen
            self._calibrate_now()
        return state

    def _judge(self, f: WindowFeatures, cal: Calibration) -> MotionState:
        cfg = self.config
        score = f.variability / cal.quiet_median
        threshold = cfg.threshold * (cfg.release if self._moving else 1.0)
        self._moving = score >= threshold
        if self._moving:
            self._last_motion_s = f.t_s
        since = None if self._last_motion_s is None else f.t_s - self._last_motion_s
        if self._moving:
            state = "moving"
        elif since is not None and since <= cfg.presence_hold_s:
            state = "still"
        else:
            state = "empty"
        return MotionState(
            f.t_s, state, self._moving, score, state != "empty", f.variability, threshold
        )

    def _adapt(self, f: WindowFeatures, state: MotionState) -> None:
        cfg = self.config
        since = None if self._last_motion_s is None else f.t_s - self._last_motion_s
        if not state.motion and (since is None or since >= cfg.adapt_after_s):
            self.calibration = adapted(
                self.calibration, f.variability, cfg.adapt_step, self.original, cfg.adapt_limit
            )

    def _needed(self) -> int:
        return max(1, int(round(self.config.auto_calibration_s / self.config.hop_s)))

    def _calibrate(self, f: WindowFeatures) -> MotionState:
        self._collected.append(f.variability)
        needed = self._needed()
        if len(self._collected) >= needed:
            self._calibrate_now()
        reason = f"calibrating the quiet room: {len(self._collected)}/{needed} windows"
        return MotionState(f.t_s, "calibrating", False, 0.0, None, f.variability, 0.0, reason)

    def _calibrate_now(self) -> None:
        self.calibration = from_variabilities(
            self._collected,
            self.config,
            source=f"first {len(self._collected)} windows of the stream",
        )
        self.original = self.calibration
