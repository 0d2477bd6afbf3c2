"""The sensing tier as a stream: one router's frames in, as they come; motion states,
activity and fall events out, each as soon as the frames allow.

The detectors were written over whole captures (``motion.stream_features``,
``features.load_capture`` + ``capture_window_features``, ``Detector.fall_events``). A
live server cannot wait for the end of a capture, and must not hold all of it, so
``LiveSensing`` rebuilds what they see incrementally, with the same arithmetic:

- **motion**: the windows of ``motion.window_ends`` (from the first frame, every
  ``hop_s``); a window ``[end - window_s, end)`` is judged when the first frame at or
  past its end arrives. The same packets, the same ``window_features``, the same
  ``MotionDetector``: the same states as offline, bit for bit.
- **the detector's grid**: packets cleaned as ``features.clean_packets`` does (the
  median of each packet and its neighbours: one packet of delay), averaged per step of
  ``spec.rate_hz`` as ``stream.resample`` does (float64 sums in frame order, empty steps
  hold the last value), and, with two or more receive chains, the chain-pair phasors
  averaged per step as ``features.load_capture`` does. A step is final when a packet of
  a later step arrives. Dead columns (``features.prepare``'s rule) are chosen once, over
  the first window, where offline chooses them over the whole capture.
- **activity**: each window (``spec.length`` steps, every ``spec.hop``) goes through
  ``features.window_features`` (+ ``phasor_features``) and the activity forest as soon
  as its last step is final: the same features as ``capture_window_features``.
- **falls**: ``Detector.fall_events`` over the last ``context_s`` of the grid, once per
  new window. A peak is reported once it is *settled*: ``SETTLE_S`` after it, when the
  rules can see everything they look at after a peak (its 2 s neighbourhood, the
  stillness 1 to 2.5 s after, the floor up to 3 s after, the windows they judge), and
  the smoothed motion course there is final. That is the latency of a fall: 4 s after
  the burst's peak with the shipped rules (they look 3.5 s ahead). The motion course
  is relative to the mean amplitude of the span it is computed over; offline that is
  the whole capture, here the last ``context_s``: the only place where the stream and
  the offline functions see different numbers (``tests/test_sensing_live.py`` measures
  that they still find the same falls).

Pure: no clock, no I/O, no trio; times are the frames' own (seconds since the
router's first frame, float64, computed as ``stream.from_batch`` does).
"""

from __future__ import annotations

from collections import deque

import attrs
import numpy as np

from wdp.sensing import falls
from wdp.sensing.calibration import Calibration
from wdp.sensing.detector import Detector, capture_motion, chain_pair_phasors
from wdp.sensing.features import (
    alive_columns,
    clean_packets,
    phasor_features,
    window_features,
)
from wdp.sensing.motion import MotionConfig, MotionDetector, MotionState
from wdp.sensing.motion import window_features as motion_window_features
from wdp.sensing.stream import amplitude

#: Seconds after a peak that the fall rules look at.
LOOK_AFTER_S = falls.LOOK_AFTER_S
#: Seconds after a peak before a fall there is decided: what the rules look at, plus
#: half the motion course's 1 s smoothing (its value there needs samples that late).
SETTLE_S = LOOK_AFTER_S + 0.5
#: Seconds of the detector's grid that fall decisions see (10 s of floor before a peak,
#: SETTLE_S after it, and margin for the smoothing and the burst's extent).
CONTEXT_S = 20.0


@attrs.frozen(slots=True)
class Activity:
    """The activity detector's judgement of the window ending at ``t_s``."""

    t_s: float
    label: str
    confidence: float
    probabilities: tuple[float, ...]


@attrs.frozen(slots=True)
class Fall:
    """A fall the detector found: its burst peaked at ``peak_s``; decided at ``t_s``."""

    t_s: float
    peak_s: float
    probability: float


@attrs.frozen(slots=True)
class Outputs:
    """What one call gave, each list in time order."""

    motion: tuple[MotionState, ...] = ()
    activity: tuple[Activity, ...] = ()
    falls: tuple[Fall, ...] = ()

    def __add__(self, other: Outputs) -> Outputs:
        return Outputs(
            self.motion + other.motion,
            self.activity + other.activity,
            self.falls + other.falls,
        )


class _MotionWindows:
    """Motion windows of ``motion.window_ends`` over the packets as they come."""

    def __init__(self, detector: MotionDetector) -> None:
        self.detector = detector
        self.cfg = detector.config
        self._t: deque[float] = deque()
        self._amp: deque[np.ndarray] = deque()
        self._t0: float | None = None
        self._k = 0

    def _end(self) -> float:
        return self._t0 + self.cfg.window_s + self._k * self.cfg.hop_s

    def _judge(self, end: float) -> MotionState:
        lo = end - self.cfg.window_s
        while self._t and self._t[0] < lo:
            self._t.popleft()
            self._amp.popleft()
        n = int(np.searchsorted(np.fromiter(self._t, np.float64, len(self._t)), end, "left"))
        t = np.fromiter(self._t, np.float64, len(self._t))[:n]
        amp = np.stack(list(self._amp)[:n]) if n else np.zeros((0, 1, 1), np.float32)
        self._k += 1
        f = motion_window_features(t, amp, end, self.cfg)
        return self.detector.decide(f)

    def add(self, t_s: float, amp: np.ndarray) -> list[MotionState]:
        if self._t0 is None:
            self._t0 = t_s
        out = []
        while t_s >= self._end():
            out.append(self._judge(self._end()))
        self._t.append(t_s)
        self._amp.append(amp)
        return out

    def finish(self, last_s: float) -> list[MotionState]:
        """The windows ``window_ends`` still gives after the last packet."""
        out = []
        while self._t0 is not None and self._end() <= last_s + self.cfg.hop_s:
            out.append(self._judge(self._end()))
        return out


class _Grid:
    """Cleaned packets averaged per step of ``rate_hz`` (``features.prepare`` and, for
    the phasors, ``features.load_capture``), as a stream of final steps."""

    def __init__(self, rate_hz: float, with_phasors: bool) -> None:
        self.rate_hz = rate_hz
        self.with_phasors = with_phasors
        self._raw: deque[tuple[float, np.ndarray]] = deque()  # last packets, for cleaning
        self._cell = -1  # the step being summed
        self._sum = self._hits = None
        self._psum = None
        self._phits = 0.0
        self._held = None  # the last final step's (amp, phasor), held through empty steps
        self._pending_phasor: deque[np.ndarray] = deque()

    def add(self, t_s: float, amp: np.ndarray, phasor: np.ndarray | None):
        """Steps made final by this packet: a list of (amp float64 [C], phasor | None)."""
        self._raw.append((t_s, amp))
        self._pending_phasor.append(phasor)
        if len(self._raw) == 1:  # the first packet is kept as it is
            return self._take(t_s, amp.astype(np.float64), self._pending_phasor.popleft())
        if len(self._raw) < 3:
            return []
        (_, a), (t_b, b), (_, c) = self._raw
        self._raw.popleft()
        mid = clean_packets(np.stack([a, b, c]))[1].astype(np.float32)
        return self._take(t_b, mid.astype(np.float64), self._pending_phasor.popleft())

    def finish(self):
        """The last packet (kept as it is) and the last step."""
        out = []
        if len(self._raw) >= 2:
            t_s, amp = self._raw[-1]
            out += self._take(t_s, amp.astype(np.float64), self._pending_phasor[-1])
        self._raw.clear()
        if self._cell >= 0:
            out.append(self._close())
            self._cell = -1
        return out

    def _take(self, t_s: float, a: np.ndarray, phasor: np.ndarray | None):
        a = a.reshape(-1)
        cell = int(np.floor(t_s * self.rate_hz))
        out = []
        if self._cell >= 0 and cell > self._cell:
            out.append(self._close())
            out.extend([self._held] * (cell - self._cell - 1))  # empty steps hold the last
        if cell != self._cell:
            self._cell = cell
            self._sum = np.zeros(a.shape)
            self._hits = np.zeros(a.shape)
            self._psum = None if phasor is None else np.zeros(phasor.shape, np.complex128)
            self._phits = 0.0
        finite = np.isfinite(a)
        self._sum += np.where(finite, a, 0.0)
        self._hits += finite
        if phasor is not None and self._psum is not None:
            self._psum += phasor
            self._phits += 1.0
        return out

    def _close(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self._sum / self._hits
        if self._held is not None:
            mean = np.where(self._hits > 0, mean, self._held[0])
        amp = mean.astype(np.float32).astype(np.float64)
        ph = None
        if self._psum is not None:
            ph = (self._psum[None, :] / np.maximum(np.array([self._phits]), 1.0)[:, None])[0]
        self._held = (amp, ph)
        return self._held


class _Windows:
    """The detector's windows over final grid steps: activity per window, falls."""

    def __init__(self, detector: Detector, context_s: float) -> None:
        self.det = detector
        spec = detector.spec
        self.spec = spec
        self.rate = spec.rate_hz
        self.settle = int(np.ceil(SETTLE_S * self.rate)) + 1
        # whole windows of context, so the buffer always starts at a window start
        self.keep = int(np.ceil(context_s * self.rate / spec.hop)) * spec.hop
        self._first: list[tuple[np.ndarray, np.ndarray | None]] = []
        self.cols: np.ndarray | None = None
        self._amp: deque[np.ndarray] = deque()
        self._ph: deque[np.ndarray] = deque()
        self._feats: deque[np.ndarray] = deque()
        self._start = 0  # grid index of the buffer's first step (a window start)
        self._steps = 0  # final steps seen
        self._next = 0  # start of the next window
        self._settled = -1  # peaks up to this grid index are decided
        self._last_fall: float | None = None

    def add(self, steps) -> Outputs:
        out = Outputs()
        for amp, ph in steps:
            if self.cols is None:
                self._first.append((amp, ph))
                if len(self._first) < self.spec.length:
                    continue
                self.cols = alive_columns(np.stack([a for a, _ in self._first]))
                pending, self._first = self._first, []
                for a, p in pending:
                    out = out + self._step(a, p)
            else:
                out = out + self._step(amp, ph)
        return out

    def _step(self, amp: np.ndarray, ph: np.ndarray | None) -> Outputs:
        a = amp[self.cols]
        self._amp.append(np.where(np.isfinite(a), a, 0.0))
        if ph is not None:
            self._ph.append(ph)
        self._steps += 1
        if self._steps < self._next + self.spec.length:
            return Outputs()
        return self._window()

    def _window(self) -> Outputs:
        spec = self.spec
        lo = self._next - self._start
        win = np.stack(list(self._amp)[lo : lo + spec.length])[None]
        f = window_features(win, self.rate)
        if self._ph:
            u = np.stack(list(self._ph)[lo : lo + spec.length])[None]
            f = np.concatenate([f, phasor_features(u, self.rate)], axis=1)
        self._feats.append(f[0])
        p = self.det.activity.predict_proba(f)[0]
        k = int(np.argmax(p))
        end_s = (self._next + spec.length) / self.rate
        act = Activity(end_s, self.det.classes[k], float(p[k]), tuple(float(v) for v in p))
        self._next += spec.hop
        falls = self._falls(self._steps - self.settle)
        self._trim()
        return Outputs(activity=(act,), falls=falls)

    def _falls(self, limit: int, at_s: float | None = None) -> tuple[Fall, ...]:
        """Falls whose peak is in (settled, limit], from ``Detector.fall_events`` over
        the buffer."""
        if limit <= self._settled or not self._feats:
            return ()
        amp = np.stack(list(self._amp))
        mc = capture_motion(amp, self.rate)
        feats = np.stack(list(self._feats))
        out = []
        now = self._steps / self.rate if at_s is None else at_s
        for t_rel, prob in self.det.fall_events(feats, mc):
            pk = self._start + int(round(t_rel * self.rate))
            t = pk / self.rate
            if not (self._settled < pk <= limit):
                continue
            if self._last_fall is not None and t - self._last_fall < self.det.rules.refractory_s:
                continue
            self._last_fall = t
            out.append(Fall(now, t, prob))
        self._settled = limit
        return tuple(out)

    def _trim(self) -> None:
        """Keep ``keep`` steps (whole windows) and the features of the windows in them."""
        hop = self.spec.hop
        while self._steps - self._start > self.keep + hop and self._next - self._start > hop:
            for _ in range(hop):
                self._amp.popleft()
                if self._ph:
                    self._ph.popleft()
            self._feats.popleft()
            self._start += hop

    def finish(self) -> Outputs:
        """At the end: a short capture's column choice, then every remaining peak."""
        out = Outputs()
        if self.cols is None and self._first:
            self.cols = alive_columns(np.stack([a for a, _ in self._first]))
            pending, self._first = self._first, []
            for a, p in pending:
                out = out + self._step(a, p)
        return out + Outputs(falls=self._falls(self._steps))


class LiveSensing:
    """One router's sensing tier over its frames as they come (see the module docstring).

    ``shape`` (n_tx, n_rx, subcarriers) is the layout judged: frames of another one are
    counted in ``dropped`` and left out, as ``stream.from_batch`` leaves out all but the
    majority's (a frame with more transmit chains keeps the first ``n_tx``). Without a
    ``detector`` only motion and presence are judged. ``calibration`` None: the first
    ``auto_calibration_s`` calibrate the room, judged meanwhile against ``prior`` (the
    hardware's shipped quiet level) when there is one.
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        *,
        detector: Detector | None = None,
        calibration: Calibration | None = None,
        prior: Calibration | None = None,
        motion: MotionConfig | None = None,
        context_s: float = CONTEXT_S,
    ) -> None:
        self.shape = tuple(int(v) for v in shape)
        self.detector = detector
        self.motion = MotionDetector(calibration, motion, prior=prior)
        self._motion = _MotionWindows(self.motion)
        n_rx = self.shape[1]
        self._grid = None if detector is None else _Grid(detector.spec.rate_hz, n_rx >= 2)
        self._windows = None if detector is None else _Windows(detector, context_s)
        self.t0_ns: int | None = None
        self.last_s: float | None = None
        self.frames = 0
        self.dropped = 0

    def accepts(self, csi_shape: tuple[int, ...]) -> bool:
        n_tx, n_rx, n_sub = self.shape
        return csi_shape[0] >= n_tx and csi_shape[1] == n_rx and csi_shape[2] == n_sub

    def add(self, timestamp_ns: int, csi: np.ndarray) -> Outputs:
        """One frame (in time order): what it made final."""
        if not self.accepts(csi.shape):
            self.dropped += 1
            return Outputs()
        n_tx, n_rx, n_sub = self.shape
        csi = csi[:n_tx, :n_rx, :n_sub]
        if self.t0_ns is None:
            self.t0_ns = int(timestamp_ns)
        t_s = float(np.float64(int(timestamp_ns) - self.t0_ns) / 1e9)
        if self.last_s is not None and t_s < self.last_s:
            self.dropped += 1  # time went backwards: the offline stream has no such frame
            return Outputs()
        self.last_s = t_s
        self.frames += 1
        amp = amplitude(csi).reshape(n_tx * n_rx, n_sub)
        out = Outputs(motion=tuple(self._motion.add(t_s, amp)))
        if self._grid is not None:
            ph = chain_pair_phasors(csi[None])
            steps = self._grid.add(t_s, amp, None if ph is None else ph[0])
            out = out + self._windows.add(steps)
        return out

    def finish(self) -> Outputs:
        """End of the stream: the last windows and every fall still undecided."""
        if self.last_s is None:
            return Outputs()
        out = Outputs(motion=tuple(self._motion.finish(self.last_s)))
        if self._grid is not None:
            out = out + self._windows.add(self._grid.finish()) + self._windows.finish()
        return out


def warm_up(detector: Detector) -> None:
    """Compile the forests' numba kernel (or load it from numba's cache) before a server
    says it is ready: one call on a row of zeros."""
    n = int(max(detector.activity.feature.max(), detector.fall.feature.max())) + 1
    detector.activity.predict_proba(np.zeros((1, max(n, 1))))
