"""A trained tree ensemble as plain arrays, and its inference as a small numba kernel.

Training uses scikit-learn (``ExtraTreesClassifier``); what ships is not a pickle but
the trees' own arrays (children, split feature, threshold, leaf class shares) in the
detector's ``.npz``. Inference then needs no scikit-learn, loads nothing executable,
and gives the same bits on every x86-64 CPU: it only compares float32 features with
float64 thresholds (what scikit-learn does: it casts its input to float32), adds the
trees' leaf shares in tree order and divides by the number of trees, exactly as
``ForestClassifier.predict_proba`` does with one job.
"""

from __future__ import annotations

import numba
import numpy as np

#: Keys of a forest in a detector file, after its prefix.
FOREST_KEYS = ("left", "right", "feature", "threshold", "value", "roots", "classes")


def export_forest(model) -> dict[str, np.ndarray]:
    """The arrays of a fitted scikit-learn forest classifier (all trees concatenated).

    ``value`` holds each node's class shares as scikit-learn stores and returns them (so
    the sums below match its own bit for bit); ``roots`` the first node of each tree;
    child indices are global.
    """
    left, right, feature, threshold, value, roots = [], [], [], [], [], []
    offset = 0
    for est in model.estimators_:
        tree = est.tree_
        # scikit-learn >= 1.4 keeps a classifier's node values as class shares and
        # returns a leaf's row as its probabilities, unchanged
        v = tree.value[:, 0, :].astype(np.float64)
        cl, cr = tree.children_left.astype(np.int64), tree.children_right.astype(np.int64)
        left.append(np.where(cl >= 0, cl + offset, -1))
        right.append(np.where(cr >= 0, cr + offset, -1))
        feature.append(tree.feature.astype(np.int64))
        threshold.append(tree.threshold.astype(np.float64))
        value.append(v)
        roots.append(offset)
        offset += tree.node_count
    return {
        "left": np.concatenate(left),
        "right": np.concatenate(right),
        "feature": np.concatenate(feature),
        "threshold": np.concatenate(threshold),
        "value": np.concatenate(value),
        "roots": np.array(roots, dtype=np.int64),
        "classes": np.asarray(model.classes_),
    }


@numba.njit(nogil=True, cache=True)
def _forest_proba(x, left, right, feature, threshold, value, roots):  # pragma: no cover
    n, n_trees, n_classes = x.shape[0], roots.shape[0], value.shape[1]
    out = np.zeros((n, n_classes))
    for i in range(n):
        for t in range(n_trees):
            node = roots[t]
            while left[node] >= 0:
                if np.float64(x[i, feature[node]]) <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            for c in range(n_classes):
                out[i, c] += value[node, c]
        for c in range(n_classes):
            out[i, c] /= n_trees
    return out


class Forest:
    """An exported forest: ``predict_proba`` and ``predict`` like scikit-learn's."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.left = np.ascontiguousarray(arrays["left"], dtype=np.int64)
        self.right = np.ascontiguousarray(arrays["right"], dtype=np.int64)
        self.feature = np.ascontiguousarray(arrays["feature"], dtype=np.int64)
        self.threshold = np.ascontiguousarray(arrays["threshold"], dtype=np.float64)
        self.value = np.ascontiguousarray(arrays["value"], dtype=np.float64)
        self.roots = np.ascontiguousarray(arrays["roots"], dtype=np.int64)
        self.classes = np.asarray(arrays["classes"])

    @classmethod
    def from_model(cls, model) -> Forest:
        return cls(export_forest(model))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to store under ``prefix`` in an ``.npz``."""
        return {
            f"{prefix}{k}": getattr(self, k if k != "classes" else "classes") for k in FOREST_KEYS
        }

    @classmethod
    def from_npz(cls, data, prefix: str) -> Forest:
        return cls({k: data[f"{prefix}{k}"] for k in FOREST_KEYS})

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class shares [n, classes]; features are cast to float32 as scikit-learn does."""
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        if x32.shape[0] == 0:
            return np.zeros((0, self.value.shape[1]))
        return _forest_proba(
            x32, self.left, self.right, self.feature, self.threshold, self.value, self.roots
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes[np.argmax(self.predict_proba(x), axis=1)]
