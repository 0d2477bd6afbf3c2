"""Truth in the model's slot layout, and the canonical order of people in the slots.

The network has ``MAX_SLOTS`` output slots. The truth recording numbers people by who
they are (slot = person index); a model cannot know identities, so training targets put
the people present at a moment into slots in a *canonical order*: sorted by the x of
their floor position (room frame), ties by y; empty slots come last. The count head
predicts how many are present. Evaluation does not depend on the order (it matches
predictions to truth by optimal assignment).

Absent slots hold zeros (never NaN) so arithmetic on masked targets stays finite.
"""

from __future__ import annotations

import attrs
import numpy as np

from wdp.recorder.truth import ACTIVITIES, N_KEYPOINTS, TruthRows

MAX_SLOTS = 4
N_ACTIVITIES = len(ACTIVITIES)
#: COCO keypoints used for the torso size of PCK (left shoulder, right hip).
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 5, 6, 11, 12

_FIELDS = (
    "count",
    "present",
    "position",
    "velocity",
    "keypoints_3d",
    "keypoints_2d",
    "visible",
    "activity",
)


@attrs.frozen(slots=True, eq=False)
class Targets:
    """Per window: ``count`` [K]; per slot ``present`` [K, S], ``position``/``velocity``
    [K, S, 3], ``keypoints_3d`` [K, S, 17, 3] (absolute, room frame), ``keypoints_2d``
    [K, S, 17, 2] (camera pixels), ``visible`` [K, S, 17], ``activity`` [K, S] (-1 empty)."""

    count: np.ndarray
    present: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    visible: np.ndarray
    activity: np.ndarray

    def __len__(self) -> int:
        return int(self.count.shape[0])

    def arrays(self) -> list[np.ndarray]:
        return [getattr(self, f) for f in _FIELDS]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f"t_{f}": getattr(self, f) for f in _FIELDS}

    @classmethod
    def from_arrays(cls, z) -> Targets:
        return cls(**{f: np.asarray(z[f"t_{f}"]) for f in _FIELDS})

    def subset(self, mask: np.ndarray) -> Targets:
        return Targets(**{f: getattr(self, f)[mask] for f in _FIELDS})

    @classmethod
    def concatenate(cls, parts: list[Targets]) -> Targets:
        return cls(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS})


def empty_targets(k: int) -> Targets:
    s, j = MAX_SLOTS, N_KEYPOINTS
    return Targets(
        count=np.zeros(k, np.int8),
        present=np.zeros((k, s), bool),
        position=np.zeros((k, s, 3), np.float32),
        velocity=np.zeros((k, s, 3), np.float32),
        keypoints_3d=np.zeros((k, s, j, 3), np.float32),
        keypoints_2d=np.zeros((k, s, j, 2), np.float32),
        visible=np.zeros((k, s, j), bool),
        activity=np.full((k, s), -1, np.int8),
    )


def canonical_slots(rows: TruthRows, index: np.ndarray) -> Targets:
    """Truth rows ``index`` [K] in canonical slot order (see the module docstring)."""
    index = np.asarray(index, np.int64)
    k = index.shape[0]
    out = empty_targets(k)
    present = rows.present[index].astype(bool)  # [K, P]
    pos = rows.position[index]
    p = present.shape[1]
    if p > MAX_SLOTS:
        raise ValueError(f"truth has {p} person slots, the model has {MAX_SLOTS}")
    big = np.float32(1e9)
    x = np.where(present, np.nan_to_num(pos[..., 0]), big)
    y = np.where(present, np.nan_to_num(pos[..., 1]), big)
    order = np.lexsort((y, x), axis=-1) if k else np.zeros((0, p), np.int64)  # x first, then y
    rows_i = index[:, None]
    src = {
        "position": rows.position,
        "velocity": rows.velocity,
        "keypoints_3d": rows.keypoints_3d,
        "keypoints_2d": rows.keypoints_2d,
    }
    pres_sorted = np.take_along_axis(present, order, axis=1)
    for name, arr in src.items():
        v = arr[rows_i, order]  # [K, P, ...]
        v = np.where(
            pres_sorted.reshape(pres_sorted.shape + (1,) * (v.ndim - 2)), np.nan_to_num(v), 0
        )
        getattr(out, name)[:, :p] = v
    vis = rows.keypoints_visible[rows_i, order].astype(bool) & pres_sorted[..., None]
    out.visible[:, :p] = vis
    out.keypoints_2d[~out.visible] = 0
    out.present[:, :p] = pres_sorted
    out.activity[:, :p] = np.where(pres_sorted, rows.activity[rows_i, order], -1)
    out.count[:] = pres_sorted.sum(axis=1)
    return out
