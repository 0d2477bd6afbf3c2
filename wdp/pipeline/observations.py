"""The tracker's input: per window of one environment, the people a model estimates.

A pose model turns one window of CSI (default 0.5 s, hop 0.1..0.5 s) into a list of
person estimates; the pipeline after it only needs what is here, so any model (or the
ground truth of a simulated recording) can feed it.

``Observation``: one person estimate.
    ``position_m`` [3] the floor point under the pelvis, room frame, metres (the tracker
    uses x and y; z is the floor); ``velocity_m_s`` [3] or None when the model gives no
    velocity; ``keypoints_3d`` [17, 3] COCO keypoints, room frame, metres (NaN for a
    keypoint the model does not know); ``keypoint_confidence`` [17] 0..1;
    ``activity_probs`` [5] probabilities of standing, walking, sitting, lying, falling
    (normalised to sum 1 on construction; all zeros become uniform); ``confidence``
    0..1 that this is a person at all.

``Window``: ``time_ns`` the instant the observations describe, on the frames' clock
    (the adapter sets it to the instant the model's training truth was taken at for a
    window, e.g. its end); ``environment_id``; ``observations`` (tuple); ``quality``
    0..1 of the CSI behind the window (the feature quality); ``model_version`` what
    produced the observations (reported in ``pose_data``).

Arrays are validated here, at the edge (shapes; finite confidences in 0..1), and stored
as read-only float64 copies, so the pipeline can trust them. A non-finite position is
allowed in an Observation but the tracker skips and counts it.

``windows_from_truth`` builds Windows from a recording's ground truth, with optional
seeded noise (``ObservationNoise``): that is how the pipeline is tested and measured
without a model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import attrs
import numpy as np

from wdp.camera import Camera
from wdp.recorder.truth import ACTIVITIES, N_KEYPOINTS, Truth, TruthRows

N_ACTIVITIES = len(ACTIVITIES)
STANDING, WALKING, SITTING, LYING, FALLING = range(N_ACTIVITIES)


def _array(shape: tuple[int, ...], name: str):
    def convert(value: object) -> np.ndarray:
        arr = np.array(value, dtype=np.float64)
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
        arr.setflags(write=False)
        return arr

    return convert


def _optional_velocity(value: object) -> np.ndarray | None:
    if value is None:
        return None
    arr = _array((3,), "velocity_m_s")(value)
    return arr if np.all(np.isfinite(arr)) else None


def _unit(name: str):
    def convert(value: object) -> float:
        v = float(value)  # type: ignore[arg-type]
        if not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must be within 0..1, got {value!r}")
        return v

    return convert


def _keypoint_confidence(value: object) -> np.ndarray:
    arr = np.array(_array((N_KEYPOINTS,), "keypoint_confidence")(value))
    arr = np.clip(np.nan_to_num(arr, nan=0.0), 0.0, 1.0)
    arr.setflags(write=False)
    return arr


def _probs(value: object) -> np.ndarray:
    arr = np.array(_array((N_ACTIVITIES,), "activity_probs")(value))
    arr = np.clip(np.nan_to_num(arr, nan=0.0, posinf=0.0), 0.0, None)
    total = arr.sum()
    arr = arr / total if total > 0 else np.full(N_ACTIVITIES, 1.0 / N_ACTIVITIES)
    arr.setflags(write=False)
    return arr


@attrs.frozen(slots=True, eq=False)
class Observation:
    """One person estimate of one window (see the module docstring)."""

    position_m: np.ndarray = attrs.field(converter=_array((3,), "position_m"))
    velocity_m_s: np.ndarray | None = attrs.field(converter=_optional_velocity)
    keypoints_3d: np.ndarray = attrs.field(converter=_array((N_KEYPOINTS, 3), "keypoints_3d"))
    keypoint_confidence: np.ndarray = attrs.field(converter=_keypoint_confidence)
    activity_probs: np.ndarray = attrs.field(converter=_probs)
    confidence: float = attrs.field(converter=_unit("confidence"))

    @property
    def usable(self) -> bool:
        """Whether the floor position is finite (the tracker skips others)."""
        return bool(np.all(np.isfinite(self.position_m[:2])))


@attrs.frozen(slots=True, eq=False)
class Window:
    """The observations of one window of one environment (see the module docstring)."""

    time_ns: int = attrs.field(converter=int)
    environment_id: str
    observations: tuple[Observation, ...] = attrs.field(converter=tuple)
    quality: float = attrs.field(default=1.0, converter=_unit("quality"))
    model_version: str = "unknown"
    #: Why the model made no estimate for this window (its quality gate), or None.
    pose_refusal: str | None = None


# --- windows from ground truth ---------------------------------------------------------


@attrs.frozen(slots=True)
class ObservationNoise:
    """What separates a model's estimates from the truth, drawn from a seeded generator.

    ``position_sigma_m``: Gaussian error of the floor position (x, y), also shifting the
    whole skeleton. ``keypoint_sigma_m``: independent Gaussian error of each keypoint
    coordinate; a keypoint's confidence is ``1 - |error| / (3 sigma)`` clipped to
    0.05..1. ``velocity_sigma_m_s``: Gaussian error of the velocity (x, y).
    ``drop_probability``: a present person is not reported in a window.
    ``false_rate``: mean number (Poisson) of false detections per window, standing
    skeletons at uniform random floor points of the area. ``activity_confusion``: the
    probability that the activity probabilities point at a wrong class (uniform among the
    other four). ``confidence``/``false_confidence``: uniform ranges of the confidence of
    true and false detections. Activity probabilities are a softmax of logits 3 for the
    (possibly confused) class and 0 for the others plus N(0, ``activity_logit_sigma``).
    """

    position_sigma_m: float = 0.1
    keypoint_sigma_m: float = 0.04
    velocity_sigma_m_s: float = 0.15
    drop_probability: float = 0.05
    false_rate: float = 0.05
    activity_confusion: float = 0.05
    confidence: tuple[float, float] = (0.7, 0.95)
    false_confidence: tuple[float, float] = (0.3, 0.6)
    activity_logit_sigma: float = 0.5


#: A standing COCO skeleton of a 1.75 m person facing +x (x forward, y left, z up),
#: relative to the floor point under the pelvis: what a false detection looks like.
_STANDING_SKELETON = np.array(
    [
        [0.10, 0.00, 1.62],
        [0.08, 0.03, 1.66],
        [0.08, -0.03, 1.66],
        [0.02, 0.07, 1.64],
        [0.02, -0.07, 1.64],
        [0.00, 0.19, 1.44],
        [0.00, -0.19, 1.44],
        [0.00, 0.22, 1.14],
        [0.00, -0.22, 1.14],
        [0.03, 0.22, 0.86],
        [0.03, -0.22, 0.86],
        [0.00, 0.10, 0.93],
        [0.00, -0.10, 0.93],
        [0.02, 0.10, 0.50],
        [0.02, -0.10, 0.50],
        [0.00, 0.10, 0.08],
        [0.00, -0.10, 0.08],
    ]
)


def camera_from_truth(truth: Truth) -> Camera:
    """The environment camera a simulated recording's truth was projected through."""
    return Camera(**truth.spec.camera)


def windows_from_truth(rows: TruthRows, **kwargs) -> list[Window]:
    """Windows every ``hop_s`` from truth rows, as a model would report them.

    The first window is at the first truth time plus ``window_s`` (a model needs a full
    window of CSI), then one every ``hop_s`` while truth lasts. A window's observations
    are the people present in the latest truth row at or before its time; without
    ``noise`` they are exact (confidences 1, one-hot activities). ``area``
    ((x0, x1), (y0, y1)) is where false detections appear (default: the truth's
    positions' extent plus 1 m, or 5 x 5 m when nobody is ever present). The same rows,
    arguments and ``seed`` always give the same windows.
    """
    return list(iter_windows_from_truth(rows, **kwargs))


def iter_windows_from_truth(
    rows: TruthRows,
    *,
    environment_id: str,
    hop_s: float = 0.1,
    window_s: float = 0.5,
    noise: ObservationNoise | None = None,
    seed: int = 0,
    with_velocity: bool = True,
    area: tuple[tuple[float, float], tuple[float, float]] | None = None,
    model_version: str | None = None,
) -> Iterator[Window]:
    """Windows every ``hop_s`` from truth rows, one at a time (``windows_from_truth``
    says how they are made)."""
    if not (hop_s > 0 and window_s >= 0 and math.isfinite(hop_s) and math.isfinite(window_s)):
        raise ValueError(f"hop_s must be > 0 and window_s >= 0, got {hop_s}, {window_s}")
    n = len(rows)
    if n == 0:
        return
    version = model_version or ("truth" if noise is None else "truth+noise")
    times = np.asarray(rows.time_ns, dtype=np.int64)
    hop_ns = int(round(hop_s * 1e9))
    t = int(times[0]) + int(round(window_s * 1e9))
    rng = np.random.default_rng(seed)
    box = _area(rows) if area is None else area
    while t <= int(times[-1]):
        i = int(np.searchsorted(times, t, side="right")) - 1
        observations = []
        for slot in np.flatnonzero(rows.present[i]):
            obs = _observe(rows, i, int(slot), noise, rng, with_velocity)
            if obs is not None:
                observations.append(obs)
        if noise is not None and noise.false_rate > 0:
            for _ in range(int(rng.poisson(noise.false_rate))):
                observations.append(_false_detection(noise, rng, box, with_velocity))
        yield Window(t, environment_id, tuple(observations), 1.0, version)
        t += hop_ns


def windows_from_recording(path: str | Path, **kwargs) -> tuple[list[Window], Camera, Truth]:
    """Windows (``windows_from_truth`` arguments) from a recording with ground truth,
    with its camera and truth; ``environment_id`` defaults to the recording's."""
    from wdp.recorder import RecordingError, open_recording

    with open_recording(path) as rec:
        truth = rec.truth()
        routers = rec.routers
    if truth is None:
        raise RecordingError(f"{path}: the recording holds no ground truth")
    kwargs.setdefault("environment_id", routers[0].environment_id if routers else "sim")
    return windows_from_truth(truth.rows, **kwargs), camera_from_truth(truth), truth


def _area(rows: TruthRows) -> tuple[tuple[float, float], tuple[float, float]]:
    pos = rows.position[rows.present.astype(bool)]
    pos = pos[np.all(np.isfinite(pos[:, :2]), axis=1)] if pos.size else pos
    if pos.shape[0] == 0:
        return (0.0, 5.0), (0.0, 5.0)
    lo = pos[:, :2].min(axis=0) - 1.0
    hi = pos[:, :2].max(axis=0) + 1.0
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def _observe(
    rows: TruthRows,
    i: int,
    slot: int,
    noise: ObservationNoise | None,
    rng: np.random.Generator,
    with_velocity: bool,
) -> Observation | None:
    position = np.array(rows.position[i, slot], dtype=np.float64)
    keypoints = np.array(rows.keypoints_3d[i, slot], dtype=np.float64)
    velocity = np.array(rows.velocity[i, slot], dtype=np.float64) if with_velocity else None
    label = int(rows.activity[i, slot])
    if not np.all(np.isfinite(position)) or not 0 <= label < N_ACTIVITIES:
        return None
    if noise is None:
        probs = np.zeros(N_ACTIVITIES)
        probs[label] = 1.0
        return Observation(position, velocity, keypoints, np.ones(N_KEYPOINTS), probs, 1.0)
    # draws in a fixed order, all of them every time, so one choice never shifts the rest
    dropped = rng.random() < noise.drop_probability
    shift = np.zeros(3)
    shift[:2] = rng.normal(0.0, noise.position_sigma_m, 2)
    kp_error = rng.normal(0.0, noise.keypoint_sigma_m, (N_KEYPOINTS, 3))
    v_error = rng.normal(0.0, noise.velocity_sigma_m_s, 2)
    confused = rng.random() < noise.activity_confusion
    other = int(rng.integers(0, N_ACTIVITIES - 1))
    logit_noise = rng.normal(0.0, noise.activity_logit_sigma, N_ACTIVITIES)
    confidence = rng.uniform(*noise.confidence)
    if dropped:
        return None
    if confused:
        label = other if other < label else other + 1
    position = position + shift
    keypoints = keypoints + shift + kp_error
    if noise.keypoint_sigma_m > 0:
        err = np.linalg.norm(kp_error, axis=1) / math.sqrt(3)
        kp_conf = np.clip(1.0 - err / (3 * noise.keypoint_sigma_m), 0.05, 1.0)
    else:
        kp_conf = np.ones(N_KEYPOINTS)
    if velocity is not None:
        velocity = velocity.copy()
        velocity[:2] += v_error
    logits = logit_noise
    logits[label] += 3.0
    probs = np.exp(logits - logits.max())
    return Observation(position, velocity, keypoints, kp_conf, probs, confidence)


def _false_detection(
    noise: ObservationNoise,
    rng: np.random.Generator,
    box: tuple[tuple[float, float], tuple[float, float]],
    with_velocity: bool,
) -> Observation:
    x = rng.uniform(*box[0])
    y = rng.uniform(*box[1])
    heading = rng.uniform(0.0, 2 * math.pi)
    c, s = math.cos(heading), math.sin(heading)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    keypoints = _STANDING_SKELETON @ rot.T + np.array([x, y, 0.0])
    keypoints = keypoints + rng.normal(0.0, noise.keypoint_sigma_m, keypoints.shape)
    velocity = np.append(rng.normal(0.0, 0.3, 2), 0.0) if with_velocity else None
    probs = rng.dirichlet(np.ones(N_ACTIVITIES))
    confidence = rng.uniform(*noise.false_confidence)
    kp_conf = np.full(N_KEYPOINTS, confidence)
    return Observation([x, y, 0.0], velocity, keypoints, kp_conf, probs, confidence)
