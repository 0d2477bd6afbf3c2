"""Multi-person tracking on the floor plan: who is who from one window to the next.

A model reports people per window without identities; the tracker links them into
tracks with stable ids, smooths their positions and says when people appear and vanish.

Model: one Kalman filter per track with constant velocity on the floor, state
``[x, y, vx, vy]`` (metres, m/s, room frame; ``z`` is the floor, 0), white acceleration
noise ``acceleration_sigma_m_s2``, measurements the observed floor position (noise
``measurement_sigma_m``) and, when the model gives one, the observed velocity (noise
``velocity_sigma_m_s``). A track that has not been detected for ``coast_s`` keeps its
position but its velocity is set to 0: someone the model stopped seeing is more likely
standing still (or lying) than walking on through a wall.

Association per window: gating (a pair is allowed only if the Mahalanobis distance of
the position innovation is at most ``gate_chi2`` and the distance at most
``gate_distance_m``), cost the negative log-likelihood ``d^2 + ln det S`` of the
position innovation, plus, when the observation has a velocity, the velocity
innovation's ``d^2`` (capped at ``gate_chi2``) and its ``ln det``, which keeps people who pass
close to each other apart by their directions. The optimal assignment
(``wdp.pipeline.assignment``) is solved first for confirmed and lost tracks, then for
tentative tracks with the observations left, so a young (maybe false) track never takes
a detection from an established one. Observations below ``min_confidence`` or with a
non-finite position are not used (counted in ``TrackerStep``).

Lifecycle (all times on the frames' clock):

- an unmatched observation with confidence >= ``init_confidence`` that is not within
  ``spawn_min_distance_m`` of an existing track starts a *tentative* track;
- tentative -> *confirmed* after ``confirm_hits`` detections (event ``track_started``);
  a tentative track missed in ``tentative_max_misses`` consecutive windows is dropped
  without any event (it was never announced);
- confirmed -> *lost* after ``lost_after_s`` without a detection (``track_lost``); a lost
  track is still predicted and can be found again: like a new track it needs
  ``confirm_hits`` detections (fewer than ``tentative_max_misses`` misses in a row
  between them) to be confirmed again, and then a ``track_updated`` is sent at once.
  Until then its detections move it but do not keep it alive, so stray false detections
  near where someone vanished cannot hold a track open forever;
- lost -> *ended* ``end_after_s`` after its last detection as a confirmed track
  (``track_ended``); it is removed and its id never used again.

A confirmed (not lost) track sends ``track_updated`` every ``update_interval_s``, and,
once its trajectory holds two points, a ``pose_data_trajectory`` with it.

Identities: ``track_id`` is a counter per tracker (one tracker per environment), from 1,
never reused. ``person_id`` equals ``track_id``: there is no re-identification, so a
person who is lost for longer than ``end_after_s`` (or leaves and comes back) gets a new
track and a new person id.

Per track: ``confidence`` is an exponential average (weight ``confidence_alpha``) of the
matched detections' confidences, a missed window counting as 0; ``quality`` is the
share of the track's last ``quality_window`` windows with a detection; the trajectory
keeps filtered positions at detections, at least ``trajectory_spacing_s`` apart, the
newest ``trajectory_points``; the prediction extrapolates the state by
``prediction_horizon_s`` (constant velocity), with confidence ``confidence *
exp(-sigma / 0.5 m)``, sigma the predicted position's standard deviation (the root mean
of the two axes' variances).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import attrs
import numpy as np

from wdp.camera import Camera
from wdp.dsp import portable
from wdp.pipeline.assignment import linear_assignment
from wdp.pipeline.events import (
    Point,
    TrackingUpdate,
    TrajectoryPoint,
    TrajectoryPrediction,
    TrajectoryUpdate,
)
from wdp.pipeline.observations import Observation

TENTATIVE = "tentative"
CONFIRMED = "confirmed"
LOST = "lost"
#: Scale (m) of the prediction's position uncertainty at which its confidence is 1/e.
PREDICTION_SIGMA_SCALE_M = 0.5
_NS = 1_000_000_000


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"tracker {attribute.name} must be positive, got {value!r}")


def _unit(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"tracker {attribute.name} must be within 0..1, got {value!r}")


def _count(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"tracker {attribute.name} must be at least 1, got {value!r}")


@attrs.frozen(slots=True)
class TrackerConfig:
    """Tracker settings (see the module docstring for what each does)."""

    min_confidence: float = attrs.field(default=0.3, validator=_unit)
    init_confidence: float = attrs.field(default=0.5, validator=_unit)
    measurement_sigma_m: float = attrs.field(default=0.15, validator=_positive)
    velocity_sigma_m_s: float = attrs.field(default=0.3, validator=_positive)
    acceleration_sigma_m_s2: float = attrs.field(default=2.0, validator=_positive)
    initial_velocity_sigma_m_s: float = attrs.field(default=1.0, validator=_positive)
    gate_chi2: float = attrs.field(default=13.8, validator=_positive)
    gate_distance_m: float = attrs.field(default=1.5, validator=_positive)
    spawn_min_distance_m: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    confirm_hits: int = attrs.field(default=3, validator=_count)
    tentative_max_misses: int = attrs.field(default=2, validator=_count)
    coast_s: float = attrs.field(default=0.5, validator=_positive)
    lost_after_s: float = attrs.field(default=1.5, validator=_positive)
    end_after_s: float = attrs.field(default=5.0, validator=_positive)
    update_interval_s: float = attrs.field(default=1.0, validator=_positive)
    quality_window: int = attrs.field(default=20, validator=_count)
    confidence_alpha: float = attrs.field(default=0.3, validator=_unit)
    trajectory_spacing_s: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    trajectory_points: int = attrs.field(default=20, validator=_count)
    prediction_horizon_s: float = attrs.field(default=1.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.end_after_s <= self.lost_after_s:
            raise ValueError(
                f"tracker end_after_s ({self.end_after_s}) must exceed lost_after_s "
                f"({self.lost_after_s})"
            )


@attrs.frozen(slots=True, eq=False)
class TrackView:
    """A track as it stands after a window (a snapshot; the tracker keeps the state).

    ``observation`` is the detection matched in this window (None if missed);
    ``position_sigma_m`` the filtered position's standard deviation."""

    track_id: int
    person_id: int
    state: str
    position: tuple[float, float]
    velocity: tuple[float, float]
    confidence: float
    quality: float
    first_detection_ns: int
    last_detection_ns: int
    position_sigma_m: float
    observation: Observation | None

    @property
    def confirmed(self) -> bool:
        """Confirmed and currently tracked (not tentative, not lost)."""
        return self.state == CONFIRMED

    @property
    def position_3d(self) -> tuple[float, float, float]:
        return (self.position[0], self.position[1], 0.0)


@attrs.frozen(slots=True, eq=False)
class TrackerStep:
    """What one window did: the live tracks (ordered by id, tentative ones included),
    the events, the ids of tracks that ended, and how many observations were used,
    were below ``min_confidence`` or had no finite position."""

    time_ns: int
    tracks: tuple[TrackView, ...]
    events: tuple[TrackingUpdate | TrajectoryUpdate, ...]
    ended: tuple[int, ...]
    used: int
    low_confidence: int
    unusable: int


@attrs.define(slots=True, eq=False)
class _Track:
    track_id: int
    state: str
    x: np.ndarray
    p: np.ndarray
    time_ns: int
    first_ns: int
    last_hit_ns: int
    confidence: float
    history: deque
    trajectory: deque
    last_confirmed_hit_ns: int = 0
    hits: int = 1
    misses: int = 0
    reacquire_hits: int = 0
    last_update_ns: int | None = None
    last_trajectory_ns: int | None = None
    observation: Observation | None = None

    @property
    def position_sigma(self) -> float:
        return math.sqrt(max(0.0, (self.p[0, 0] + self.p[1, 1]) / 2))


# Numerics: the same bits on every CPU (DESIGN rule 2). Matrix products and inverses go
# through wdp.dsp.portable (BLAS/LAPACK results depend on the CPU's kernel), exp and log
# too (libm's have FMA variants), and squares are products (x**2 calls libm's pow).
_mm = portable.matmul


def _transition(dt: float) -> np.ndarray:
    f = np.eye(4)
    f[0, 2] = f[1, 3] = dt
    return f


def _det2(s: np.ndarray) -> float:
    """The determinant of a 2x2 matrix (LAPACK's, through np.linalg.det, varies by CPU)."""
    return float(s[0, 0]) * float(s[1, 1]) - float(s[0, 1]) * float(s[1, 0])


def _process_noise(dt: float, sigma_a: float) -> np.ndarray:
    q = np.zeros((4, 4))
    c = dt * dt
    a, b = c * c / 4, c * dt / 2
    q[0, 0] = q[1, 1] = a
    q[0, 2] = q[2, 0] = q[1, 3] = q[3, 1] = b
    q[2, 2] = q[3, 3] = c
    return q * (sigma_a * sigma_a)


class Tracker:
    """Tracks the people of one environment (see the module docstring).

    ``update(time_ns, observations)`` once per window, in time order; it returns a
    ``TrackerStep``. Events carry ``environment_id`` and pixel positions through
    ``camera``.
    """

    def __init__(
        self, environment_id: str, camera: Camera, config: TrackerConfig | None = None
    ) -> None:
        self.environment_id = environment_id
        self.camera = camera
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._time_ns: int | None = None

    @property
    def time_ns(self) -> int | None:
        return self._time_ns

    # -- one window -------------------------------------------------------------------

    def update(self, time_ns: int, observations: Sequence[Observation]) -> TrackerStep:
        cfg = self.config
        time_ns = int(time_ns)
        if self._time_ns is not None and time_ns < self._time_ns:
            raise ValueError(f"window at {time_ns} ns is before the last one ({self._time_ns})")
        self._time_ns = time_ns
        unusable = sum(1 for o in observations if not o.usable)
        candidates = [o for o in observations if o.usable and o.confidence >= cfg.min_confidence]
        low = len(observations) - unusable - len(candidates)

        for track in self._tracks:
            self._predict(track, time_ns)
            track.observation = None

        established = [t for t in self._tracks if t.state != TENTATIVE]
        tentative = [t for t in self._tracks if t.state == TENTATIVE]
        free = list(range(len(candidates)))
        matches: list[tuple[_Track, Observation]] = []
        for group in (established, tentative):
            pairs = self._associate(group, [candidates[j] for j in free])
            taken = set()
            for r, c in pairs:
                matches.append((group[r], candidates[free[c]]))
                taken.add(free[c])
            free = [j for j in free if j not in taken]

        tracking: list[tuple[int, int, TrackingUpdate]] = []  # (track id, order, event)
        matched_ids = set()
        for track, obs in matches:
            self._correct(track, obs, time_ns)
            matched_ids.add(track.track_id)
            if track.state == LOST:
                track.reacquire_hits += 1
                if track.reacquire_hits >= cfg.confirm_hits:
                    track.state = CONFIRMED
                    tracking.append((track.track_id, 1, self._event(track, "track_updated")))
                    track.last_update_ns = time_ns
            if track.state != LOST:
                track.last_confirmed_hit_ns = time_ns

        ended: list[int] = []
        keep: list[_Track] = []
        for track in self._tracks:
            if track.track_id not in matched_ids:
                track.misses += 1
                track.confidence *= 1.0 - cfg.confidence_alpha
                track.history.append(False)
                if track.misses >= cfg.tentative_max_misses:
                    track.reacquire_hits = 0
            since_hit = (time_ns - track.last_hit_ns) / _NS
            if track.state == TENTATIVE:
                if track.hits >= cfg.confirm_hits:
                    self._confirm(track, time_ns, tracking)
                elif track.misses >= cfg.tentative_max_misses or since_hit >= cfg.lost_after_s:
                    continue  # dropped, never announced
            if track.state == CONFIRMED and since_hit >= cfg.lost_after_s:
                track.state = LOST
                track.reacquire_hits = 0
                tracking.append((track.track_id, 2, self._event(track, "track_lost")))
            since_confirmed = (time_ns - track.last_confirmed_hit_ns) / _NS
            if track.state == LOST and since_confirmed >= cfg.end_after_s:
                tracking.append((track.track_id, 3, self._event(track, "track_ended")))
                ended.append(track.track_id)
                continue
            keep.append(track)
        self._tracks = keep

        for j in free:
            obs = candidates[j]
            if obs.confidence < cfg.init_confidence or self._near_existing(obs):
                continue
            track = self._start(obs, time_ns)
            self._tracks.append(track)
            if track.hits >= cfg.confirm_hits:
                self._confirm(track, time_ns, tracking)

        trajectories: list[TrajectoryUpdate] = []
        interval_ns = int(round(cfg.update_interval_s * _NS))
        for track in self._tracks:
            if track.state != CONFIRMED:
                continue
            if track.last_update_ns is None or time_ns - track.last_update_ns >= interval_ns:
                tracking.append((track.track_id, 1, self._event(track, "track_updated")))
                track.last_update_ns = time_ns
            if (
                track.observation is not None
                and len(track.trajectory) >= 2
                and (
                    track.last_trajectory_ns is None
                    or time_ns - track.last_trajectory_ns >= interval_ns
                )
            ):
                trajectories.append(self._trajectory(track, time_ns))
                track.last_trajectory_ns = time_ns

        tracking.sort(key=lambda item: (item[0], item[1]))
        trajectories.sort(key=lambda e: e.track_id)
        events = tuple(e for _, _, e in tracking) + tuple(trajectories)
        views = tuple(self._view(t) for t in sorted(self._tracks, key=lambda t: t.track_id))
        return TrackerStep(
            time_ns, views, events, tuple(sorted(ended)), len(candidates), low, unusable
        )

    def tracks(self) -> tuple[TrackView, ...]:
        """The live tracks now, ordered by id."""
        return tuple(self._view(t) for t in sorted(self._tracks, key=lambda t: t.track_id))

    # -- filter -----------------------------------------------------------------------

    def _predict(self, track: _Track, time_ns: int) -> None:
        dt = (time_ns - track.time_ns) / _NS
        if dt > 0:
            f = _transition(dt)
            track.x = _mm(f, track.x)
            track.p = _mm(_mm(f, track.p), f.T) + _process_noise(
                dt, self.config.acceleration_sigma_m_s2
            )
            track.time_ns = time_ns
        if (time_ns - track.last_hit_ns) / _NS > self.config.coast_s:
            track.x[2:] = 0.0

    def _measurement(self, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        sp2 = cfg.measurement_sigma_m * cfg.measurement_sigma_m
        if obs.velocity_m_s is None:
            z = obs.position_m[:2].copy()
            h = np.zeros((2, 4))
            h[0, 0] = h[1, 1] = 1.0
            r = np.diag([sp2, sp2])
        else:
            z = np.concatenate([obs.position_m[:2], obs.velocity_m_s[:2]])
            h = np.eye(4)
            sv2 = cfg.velocity_sigma_m_s * cfg.velocity_sigma_m_s
            r = np.diag([sp2, sp2, sv2, sv2])
        return z, h, r

    def _correct(self, track: _Track, obs: Observation, time_ns: int) -> None:
        cfg = self.config
        z, h, r = self._measurement(obs)
        y = z - _mm(h, track.x)
        s = _mm(_mm(h, track.p), h.T) + r
        k = _mm(_mm(track.p, h.T), portable.inv(s))
        track.x = track.x + _mm(k, y)
        ikh = np.eye(4) - _mm(k, h)
        # Joseph form: stays symmetric PSD
        track.p = _mm(_mm(ikh, track.p), ikh.T) + _mm(_mm(k, r), k.T)
        track.hits += 1
        track.misses = 0
        track.last_hit_ns = time_ns
        track.confidence += cfg.confidence_alpha * (obs.confidence - track.confidence)
        track.history.append(True)
        track.observation = obs
        self._record(track, time_ns)

    def _record(self, track: _Track, time_ns: int) -> None:
        spacing = int(round(self.config.trajectory_spacing_s * _NS))
        if not track.trajectory or time_ns - track.trajectory[-1][0] >= spacing:
            track.trajectory.append(
                (time_ns, float(track.x[0]), float(track.x[1]), track.confidence)
            )

    def _start(self, obs: Observation, time_ns: int) -> _Track:
        cfg = self.config
        x = np.zeros(4)
        x[:2] = obs.position_m[:2]
        sv = cfg.initial_velocity_sigma_m_s
        if obs.velocity_m_s is not None:
            x[2:] = obs.velocity_m_s[:2]
            sv = min(sv, cfg.velocity_sigma_m_s)
        sp = cfg.measurement_sigma_m
        track = _Track(
            track_id=self._next_id,
            state=TENTATIVE,
            x=x,
            p=np.diag([sp * sp, sp * sp, sv * sv, sv * sv]),
            time_ns=time_ns,
            first_ns=time_ns,
            last_hit_ns=time_ns,
            last_confirmed_hit_ns=time_ns,
            confidence=obs.confidence,
            history=deque([True], maxlen=cfg.quality_window),
            trajectory=deque(maxlen=cfg.trajectory_points),
            observation=obs,
        )
        self._next_id += 1
        self._record(track, time_ns)
        return track

    def _confirm(self, track: _Track, time_ns: int, tracking: list) -> None:
        track.state = CONFIRMED
        tracking.append((track.track_id, 0, self._event(track, "track_started")))
        track.last_update_ns = time_ns

    def _near_existing(self, obs: Observation) -> bool:
        limit = self.config.spawn_min_distance_m
        if limit <= 0:
            return False
        for track in self._tracks:
            if math.dist(track.x[:2], obs.position_m[:2]) < limit:
                return True
        return False

    # -- association ------------------------------------------------------------------

    def _associate(
        self, tracks: Sequence[_Track], observations: Sequence[Observation]
    ) -> list[tuple[int, int]]:
        if not tracks or not observations:
            return []
        cfg = self.config
        sp2 = cfg.measurement_sigma_m * cfg.measurement_sigma_m
        sv2 = cfg.velocity_sigma_m_s * cfg.velocity_sigma_m_s
        cost = np.full((len(tracks), len(observations)), np.inf)
        for i, track in enumerate(tracks):
            s_pos = track.p[:2, :2] + np.eye(2) * sp2
            s_pos_inv = portable.inv(s_pos)
            logdet_pos = portable.log(_det2(s_pos))
            s_vel = track.p[2:, 2:] + np.eye(2) * sv2
            s_vel_inv = portable.inv(s_vel)
            logdet_vel = portable.log(_det2(s_vel))
            for j, obs in enumerate(observations):
                y = obs.position_m[:2] - track.x[:2]
                if math.hypot(y[0], y[1]) > cfg.gate_distance_m:
                    continue
                d2 = float(_mm(_mm(y, s_pos_inv), y))
                if d2 > cfg.gate_chi2:
                    continue
                c = d2 + logdet_pos
                if obs.velocity_m_s is not None:
                    yv = obs.velocity_m_s[:2] - track.x[2:]
                    c += min(float(_mm(_mm(yv, s_vel_inv), yv)), cfg.gate_chi2) + logdet_vel
                cost[i, j] = c
        return linear_assignment(cost)

    # -- output -----------------------------------------------------------------------

    def _point(self, x: float, y: float) -> Point:
        return Point.project(self.camera, (x, y, 0.0))

    def _quality(self, track: _Track) -> float:
        return sum(track.history) / len(track.history) if track.history else 0.0

    def _event(self, track: _Track, kind: str) -> TrackingUpdate:
        return TrackingUpdate(
            timestamp_ns=self._time_ns,
            environment_id=self.environment_id,
            track_id=track.track_id,
            person_id=track.track_id,
            event=kind,
            position=self._point(float(track.x[0]), float(track.x[1])),
            confidence=track.confidence,
            first_detection_ns=track.first_ns,
            track_quality=self._quality(track),
        )

    def _trajectory(self, track: _Track, time_ns: int) -> TrajectoryUpdate:
        cfg = self.config
        points = tuple(TrajectoryPoint(t, self._point(x, y), c) for t, x, y, c in track.trajectory)
        horizon = cfg.prediction_horizon_s
        f = _transition(horizon)
        x = _mm(f, track.x)
        p = _mm(_mm(f, track.p), f.T) + _process_noise(horizon, cfg.acceleration_sigma_m_s2)
        sigma = math.sqrt(max(0.0, (p[0, 0] + p[1, 1]) / 2))
        prediction = TrajectoryPrediction(
            self._point(float(x[0]), float(x[1])),
            track.confidence * portable.exp(-sigma / PREDICTION_SIGMA_SCALE_M),
            horizon,
        )
        return TrajectoryUpdate(
            time_ns, self.environment_id, track.track_id, track.track_id, points, prediction
        )

    def _view(self, track: _Track) -> TrackView:
        return TrackView(
            track_id=track.track_id,
            person_id=track.track_id,
            state=track.state,
            position=(float(track.x[0]), float(track.x[1])),
            velocity=(float(track.x[2]), float(track.x[3])),
            confidence=track.confidence,
            quality=self._quality(track),
            first_detection_ns=track.first_ns,
            last_detection_ns=track.last_hit_ns,
            position_sigma_m=track.position_sigma,
            observation=track.observation,
        )
