"""The network: a plain-numpy MLP with a multi-person output, its losses and Adam.

Why an MLP: the features already condense a window (``features.py``), the whole model
must run in a few milliseconds per window without a deep-learning framework, and it
must train in minutes on two cores. Forward and backward are written out by hand
(matrix products and the GELU derivative), checked against finite differences in the
tests.

Output layout (``Heads``): 5 person-count logits, then per slot s in 0..3: a presence
logit, position (3), velocity (3), keypoints relative to the slot's position (17 x 3),
5 activity logits and the floor grid: GRID_BINS logits over x and GRID_BINS over y.
The floor position is read from the grid (a classification: a window often fits two
places, and a regression would answer the point between them); the regressed position
is trained too and gives the height. Regression outputs are in standardized units (the model file
stores the scales). Slots follow the canonical order of ``targets.py`` (people sorted by
x, then y).

Loss (mean over the batch): cross-entropy of the count, binary cross-entropy of each
slot's presence, and over present slots only: Huber of position and keypoints, squared
error of velocity, cross-entropy of activity and of the grid bins (soft labels).
Training is repeatable given the seed on one machine (initialisation, minibatch order
and dropout come from ``numpy.random.default_rng(seed)``; OpenBLAS gives the same
products for the same shapes and kernel), but not across CPUs: its products go through
whichever BLAS kernel and numpy SIMD loops the CPU gets. Inference (``Mlp.forward``,
``softmax``, ``sigmoid``) is the same bits on every x86-64 CPU (``wdp.dsp.portable``).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from wdp.dsp import portable
from wdp.inference.targets import MAX_SLOTS, N_ACTIVITIES
from wdp.recorder.truth import N_KEYPOINTS

N_COUNT = MAX_SLOTS + 1
#: The floor grid of the position classifier: bins of GRID_STEP metres along x and
#: along y from GRID_LO (room frame), wide enough for rooms up to 7.5 m.
GRID_LO = -0.5
GRID_STEP = 0.25
GRID_BINS = 32
#: Standard deviation (m) of the Gaussian that spreads a true coordinate over its
#: neighbouring bins (neighbouring cells are nearly right, not wrong).
GRID_SIGMA = 0.2
SLOT_WIDTH = 1 + 3 + 3 + 3 * N_KEYPOINTS + N_ACTIVITIES + 2 * GRID_BINS
OUTPUT_SIZE = N_COUNT + MAX_SLOTS * SLOT_WIDTH

#: Loss weights of the heads.
#: Keypoints are 51 numbers per person, so their summed loss is divided by 17 (per
#: keypoint): otherwise the pose, which a 0.5 s CSI window says least about (the body's
#: heading), would take all the capacity.
DEFAULT_WEIGHTS = {
    "count": 1.0,
    "presence": 1.0,
    "position": 2.0,
    "velocity": 0.3,
    "keypoints": 2.0 / N_KEYPOINTS,
    "activity": 1.0,
    "grid": 1.0,
}
HUBER_DELTA = 1.0
_GELU_C = math.sqrt(2.0 / math.pi)


class Heads:
    """Column ranges of the output vector."""

    count = slice(0, N_COUNT)

    @staticmethod
    def slot(y: np.ndarray) -> np.ndarray:
        """The per-slot block [B, S, SLOT_WIDTH] (a view)."""
        return y[:, N_COUNT:].reshape(y.shape[0], MAX_SLOTS, SLOT_WIDTH)

    presence = 0
    position = slice(1, 4)
    velocity = slice(4, 7)
    keypoints = slice(7, 7 + 3 * N_KEYPOINTS)
    activity = slice(7 + 3 * N_KEYPOINTS, 7 + 3 * N_KEYPOINTS + N_ACTIVITIES)
    grid_x = slice(activity.stop, activity.stop + GRID_BINS)
    grid_y = slice(grid_x.stop, grid_x.stop + GRID_BINS)


def grid_centres() -> np.ndarray:
    return GRID_LO + GRID_STEP * (np.arange(GRID_BINS) + 0.5)


def grid_labels(coord: np.ndarray) -> np.ndarray:
    """Soft labels [..., GRID_BINS] of coordinates [...] (metres): a Gaussian over the
    bin centres, normalized."""
    d = (np.asarray(coord, np.float64)[..., None] - grid_centres()) / GRID_SIGMA
    q = np.exp(-0.5 * d * d)
    return (q / np.maximum(q.sum(axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def grid_decode(logits: np.ndarray, radius: int = 2) -> np.ndarray:
    """Coordinates [...] from logits [..., GRID_BINS]: the probability-weighted mean of
    the bin centres within ``radius`` bins of the most likely one (a whole-grid mean
    would fall between two people or two guesses)."""
    p = softmax(np.asarray(logits, np.float64))
    top = p.argmax(axis=-1)[..., None]
    near = np.abs(np.arange(GRID_BINS) - top) <= radius
    w = p * near
    return (w * grid_centres()).sum(axis=-1) / np.maximum(w.sum(axis=-1), 1e-12)


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + 0.044715 * x**3)))


def gelu_grad(x: np.ndarray) -> np.ndarray:
    t = np.tanh(_GELU_C * (x + 0.044715 * x**3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * x * x)


@attrs.define(slots=True, eq=False)
class Mlp:
    """Dense layers with GELU between them; the last layer is linear."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    @classmethod
    def init(cls, sizes: list[int], seed: int, dtype=np.float32) -> Mlp:
        """He-style initialisation from ``seed``; the output layer starts small."""
        rng = np.random.default_rng(seed)
        weights, biases = [], []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            scale = math.sqrt(2.0 / a) * (0.1 if i == len(sizes) - 2 else 1.0)
            weights.append((rng.standard_normal((a, b)) * scale).astype(dtype))
            biases.append(np.zeros(b, dtype))
        return cls(weights, biases)

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[0]] + [w.shape[1] for w in self.weights]

    def params(self) -> list[np.ndarray]:
        return [p for wb in zip(self.weights, self.biases, strict=True) for p in wb]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs [K, OUTPUT_SIZE] (float64) for inputs x [K, n]: the inference path,
        the same bits on every CPU (``wdp.dsp.portable.dense``: products summed in a
        fixed order in float64, GELU from a portable exp; no BLAS)."""
        h = np.asarray(x)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = portable.dense(h, w, b, gelu=i < last)
        return h

    def forward_train(
        self, x: np.ndarray, dropout: float = 0.0, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, list]:
        """Outputs and what ``backward`` needs. With ``dropout`` > 0, each hidden unit is
        zeroed with that probability (the rest scaled up to keep the mean), drawn from
        ``rng``: a regulariser for training only (``forward`` never drops)."""
        cache = []
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h_in = h
            z = h @ w + b
            mask = None
            if i < last:
                h = gelu(z)
                if dropout > 0 and rng is not None:
                    keep = rng.random(h.shape) >= dropout
                    mask = (keep / (1.0 - dropout)).astype(h.dtype)
                    h = h * mask
            else:
                h = z
            cache.append((h_in, z, mask))
        return h, cache

    def backward(self, cache: list, dy: np.ndarray) -> list[np.ndarray]:
        """Gradients in ``params()`` order, given dL/dy."""
        grads: list[np.ndarray] = []
        g = dy
        last = len(self.weights) - 1
        for i in range(last, -1, -1):
            h, z, mask = cache[i]
            if i < last:
                if mask is not None:
                    g = g * mask
                g = g * gelu_grad(z)
            grads.append(g.sum(axis=0))  # bias
            grads.append(h.T @ g)  # weight
            if i > 0:
                g = g @ self.weights[i].T
        grads.reverse()
        return grads  # [W0, b0, W1, b1, ...]


# --- losses --------------------------------------------------------------------------


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, float64, the same bits on every CPU (portable exp)."""
    z = np.asarray(z, np.float64)
    e = portable.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), float64, the same bits on every CPU (portable exp)."""
    return 1.0 / (1.0 + portable.exp(-np.asarray(z, np.float64)))


def _huber(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.abs(d)
    quad = a <= HUBER_DELTA
    value = np.where(quad, 0.5 * d * d, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))
    grad = np.where(quad, d, HUBER_DELTA * np.sign(d))
    return value, grad


@attrs.frozen(slots=True, eq=False)
class Batch:
    """Training targets in the network's units: ``count`` [B] int, ``present`` [B, S]
    float, ``position``/``velocity`` [B, S, 3], ``keypoints`` [B, S, 51] (standardized),
    ``activity`` [B, S] int (-1 empty)."""

    count: np.ndarray
    present: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    keypoints: np.ndarray
    activity: np.ndarray
    grid_x: np.ndarray  # [B, S, GRID_BINS] soft labels (zeros for empty slots)
    grid_y: np.ndarray


def loss_and_grad(
    y: np.ndarray, t: Batch, weights: dict[str, float] | None = None
) -> tuple[float, dict[str, float], np.ndarray]:
    """Total loss, its parts and dL/dy for network outputs ``y`` [B, OUTPUT_SIZE]."""
    w = DEFAULT_WEIGHTS if weights is None else weights
    n = y.shape[0]
    dy = np.zeros_like(y)
    parts: dict[str, float] = {}
    # count
    lp = _log_softmax(y[:, Heads.count])
    onehot = np.zeros_like(lp)
    onehot[np.arange(n), t.count] = 1.0
    parts["count"] = float(-(onehot * lp).sum() / n)
    dy[:, Heads.count] = w["count"] * (np.exp(lp) - onehot) / n
    slots = Heads.slot(y)
    dslots = Heads.slot(dy)
    # presence
    z = slots[:, :, Heads.presence]
    p = t.present
    bce = np.maximum(z, 0) - z * p + np.log1p(np.exp(-np.abs(z)))
    parts["presence"] = float(bce.sum() / n)
    dslots[:, :, Heads.presence] = w["presence"] * (sigmoid(z) - p) / n
    m = p[..., None]
    norm = max(float(p.sum()), 1.0)
    # position and keypoints: Huber; velocity: squared error (present slots only)
    for name, sl, target in (
        ("position", Heads.position, t.position),
        ("keypoints", Heads.keypoints, t.keypoints),
    ):
        value, grad = _huber(slots[:, :, sl] - target)
        parts[name] = float((value * m).sum() / norm)
        dslots[:, :, sl] = w[name] * grad * m / norm
    d = slots[:, :, Heads.velocity] - t.velocity
    parts["velocity"] = float((0.5 * d * d * m).sum() / norm)
    dslots[:, :, Heads.velocity] = w["velocity"] * d * m / norm
    # activity
    act = t.activity
    has = act >= 0
    lp = _log_softmax(slots[:, :, Heads.activity])
    onehot = np.zeros_like(lp)
    b_i, s_i = np.nonzero(has)
    onehot[b_i, s_i, act[has]] = 1.0
    parts["activity"] = float(-(onehot * lp).sum() / norm)
    dslots[:, :, Heads.activity] = w["activity"] * (np.exp(lp) - onehot) * has[..., None] / norm
    # floor grid: cross-entropy against the soft labels, x and y bins apart
    grid = 0.0
    for sl, q in ((Heads.grid_x, t.grid_x), (Heads.grid_y, t.grid_y)):
        lp = _log_softmax(slots[:, :, sl])
        grid += float(-(q * lp * m).sum() / norm)
        dslots[:, :, sl] = w["grid"] * (np.exp(lp) - q) * m / norm
    parts["grid"] = grid
    total = float(sum(w[k] * v for k, v in parts.items()))
    return total, parts, dy


@attrs.define(slots=True, eq=False)
class Adam:
    """Adam with decoupled weight decay (on weight matrices only)."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 1e-4
    step: int = 0
    m: list = attrs.field(factory=list)
    v: list = attrs.field(factory=list)

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        if not self.m:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.step += 1
        c1 = 1.0 - self.beta1**self.step
        c2 = 1.0 - self.beta2**self.step
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            if p.ndim == 2 and self.weight_decay:
                p -= lr * self.weight_decay * p
            p -= (lr * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(p.dtype)
