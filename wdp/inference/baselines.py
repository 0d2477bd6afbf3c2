"""Baselines a model must beat, fitted on the same training windows.

- ``MeanBaseline``: the training set's most common person count, each slot's mean pose
  at that slot's mean location (slots in canonical order, see ``targets.py``), the most
  common activity. It knows the room's statistics but looks at no CSI.
- ``KnnBaseline``: k nearest training windows in standardized feature space (the same
  features as the model); count and activities by the neighbours' votes, a slot's
  position/pose as the mean over the neighbours that have that slot filled. The
  reference set is a seeded random subset (``max_reference`` windows) so a query stays
  fast.
"""

from __future__ import annotations

import numpy as np

from wdp.inference.datasets import Dataset
from wdp.inference.model import Prediction, decode
from wdp.inference.network import N_COUNT
from wdp.inference.targets import MAX_SLOTS, N_ACTIVITIES
from wdp.inference.training import regression_targets


def _slot_means(y: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per-slot mean of y [K, S, D] over present windows (overall mean where empty)."""
    overall = y[present].mean(axis=0) if present.any() else np.zeros(y.shape[2])
    out = np.empty((MAX_SLOTS, y.shape[2]))
    for s in range(MAX_SLOTS):
        m = present[:, s]
        out[s] = y[m, s].mean(axis=0) if m.any() else overall
    return out


class MeanBaseline:
    name = "mean pose"

    def __init__(self, train: Dataset) -> None:
        t = train.targets
        counts = np.bincount(t.count.astype(np.int64), minlength=N_COUNT)
        self.count = int(counts.argmax())
        self.means = _slot_means(regression_targets(train), t.present)
        acts = t.activity[t.activity >= 0]
        self.activity = int(np.bincount(acts, minlength=N_ACTIVITIES).argmax()) if acts.size else 0

    def predict(self, data: Dataset) -> Prediction:
        k = len(data)
        count_prob = np.zeros((k, N_COUNT))
        count_prob[:, self.count] = 1.0
        presence = np.tile(np.linspace(0.9, 0.6, MAX_SLOTS), (k, 1))
        y = np.broadcast_to(self.means, (k, *self.means.shape))
        act = np.zeros((k, MAX_SLOTS, N_ACTIVITIES))
        act[..., self.activity] = 1.0
        return decode(count_prob, presence, y[..., 0:3], y[..., 3:6], y[..., 6:], act, data.quality)


class KnnBaseline:
    name = "kNN"

    def __init__(self, train: Dataset, k: int = 5, max_reference: int = 20000, seed: int = 0):
        rng = np.random.default_rng(seed)
        n = len(train)
        idx = np.sort(rng.permutation(n)[:max_reference]) if n > max_reference else np.arange(n)
        self.k = max(1, min(k, idx.size))
        x = train.x[idx].astype(np.float64)
        self.mean = x.mean(axis=0)
        self.std = np.maximum(x.std(axis=0), 1e-3)
        self.ref = ((x - self.mean) / self.std).astype(np.float32)
        self.ref_sq = (self.ref.astype(np.float64) ** 2).sum(axis=1)
        t = train.targets
        self.count = t.count[idx].astype(np.int64)
        self.present = t.present[idx]
        self.y = regression_targets(train)[idx]
        self.act = t.activity[idx].astype(np.int64)
        self.fallback = _slot_means(self.y, self.present)

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        q = ((np.nan_to_num(x.astype(np.float64)) - self.mean) / self.std).astype(np.float32)
        out = np.empty((q.shape[0], self.k), np.int64)
        for a in range(0, q.shape[0], 2048):
            qq = q[a : a + 2048]
            d = self.ref_sq[None, :] - 2.0 * (qq @ self.ref.T).astype(np.float64)
            part = np.argpartition(d, self.k - 1, axis=1)[:, : self.k]
            order = np.take_along_axis(d, part, axis=1).argsort(axis=1, kind="stable")
            out[a : a + 2048] = np.take_along_axis(part, order, axis=1)
        return out

    def predict(self, data: Dataset) -> Prediction:
        nb = self.neighbours(data.x)  # [K, k]
        kq = nb.shape[0]
        count_prob = np.zeros((kq, N_COUNT))
        np.add.at(count_prob, (np.arange(kq)[:, None], self.count[nb]), 1.0 / self.k)
        pres = self.present[nb]  # [K, k, S]
        presence = pres.mean(axis=1)
        w = pres[..., None].astype(np.float64)
        sums = (self.y[nb] * w).sum(axis=1)
        n = w.sum(axis=1)
        y = np.where(n > 0, sums / np.maximum(n, 1), self.fallback[None])
        act = np.zeros((kq, MAX_SLOTS, N_ACTIVITIES))
        a = self.act[nb]  # [K, k, S]
        for s in range(MAX_SLOTS):
            for j in range(self.k):
                has = a[:, j, s] >= 0
                act[np.nonzero(has)[0], s, a[has, j, s]] += 1.0
        tot = act.sum(axis=2, keepdims=True)
        act = np.where(tot > 0, act / np.maximum(tot, 1), 1.0 / N_ACTIVITIES)
        return decode(count_prob, presence, y[..., 0:3], y[..., 3:6], y[..., 6:], act, data.quality)
