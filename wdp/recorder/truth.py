"""Ground truth in a recording: who was where, in what pose, doing what, and every fall.

The simulator knows the truth of what it simulates; a recording of real hardware has
none. Truth is sampled on its own clock (``time_ns``, the same clock as the frames'
``timestamp_ns``), in fixed person slots (0..max_people-1) so every row has one shape.
A slot's person is named in the group's ``person_names`` attribute; an empty or absent
slot is ``present == 0`` with NaN coordinates.

Truth rows are gzip-compressed (mostly NaN for empty slots, they shrink tenfold); like
the frame columns they are written in SWMR mode with a commit counter
(``n_rows``) updated only after the rows are flushed (see the writer).
"""

from __future__ import annotations

import json

import attrs
import h5py
import numpy as np

from wdp.recorder.schema import RecordingError

#: Activity codes of ``activity`` (-1: absent).
ACTIVITIES = ("standing", "walking", "sitting", "lying", "falling")
N_KEYPOINTS = 17

#: Per-row datasets: name -> (dtype, trailing shape as a function of max_people).
_ROWS = {
    "time_ns": ("i8", lambda p: ()),
    "occupancy": ("u1", lambda p: ()),
    "present": ("u1", lambda p: (p,)),
    "activity": ("i1", lambda p: (p,)),
    "position": ("f4", lambda p: (p, 3)),
    "velocity": ("f4", lambda p: (p, 3)),
    "keypoints_3d": ("f4", lambda p: (p, N_KEYPOINTS, 3)),
    "keypoints_2d": ("f4", lambda p: (p, N_KEYPOINTS, 2)),
    "keypoints_visible": ("u1", lambda p: (p, N_KEYPOINTS)),
    "bbox": ("f4", lambda p: (p, 4)),
}
_FALLS = {"slot": "i4", "start_ns": "i8", "impact_ns": "i8", "recovered_ns": "i8"}
ROW_CHUNK = 1024


@attrs.frozen(slots=True, eq=False)
class FallTruth:
    """One fall: the slot of the person, when the descent began and ended (impact), and
    when they were back on their feet (-1: they did not get up)."""

    slot: int
    start_ns: int
    impact_ns: int
    recovered_ns: int


@attrs.frozen(slots=True, eq=False)
class TruthSpec:
    """What is known when the file is opened: the slots' people, the camera, the falls."""

    person_names: tuple[str, ...]
    camera: dict
    falls: tuple[FallTruth, ...] = ()

    @property
    def max_people(self) -> int:
        return len(self.person_names)


@attrs.frozen(slots=True, eq=False)
class TruthRows:
    """Rows of truth: ``time_ns`` [N]; per slot [N, P, ...] as listed in ``_ROWS``.
    Positions are the floor point under the pelvis (metres, room frame); ``bbox`` is
    COCO (x, y, width, height) in the camera's pixels."""

    time_ns: np.ndarray
    occupancy: np.ndarray
    present: np.ndarray
    activity: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_visible: np.ndarray
    bbox: np.ndarray

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])


@attrs.frozen(slots=True, eq=False)
class Truth:
    """All the truth of a recording, as read back."""

    spec: TruthSpec
    rows: TruthRows


def create(group: h5py.Group, spec: TruthSpec) -> None:
    """Lay out the truth datasets (before SWMR starts: nothing can be created after)."""
    p = spec.max_people
    group.attrs["person_names"] = json.dumps(list(spec.person_names))
    group.attrs["camera"] = json.dumps(spec.camera, sort_keys=True)
    group.attrs["activities"] = json.dumps(list(ACTIVITIES))
    for name, (dtype, trailing) in _ROWS.items():
        shape = trailing(p)
        group.create_dataset(
            name,
            shape=(0, *shape),
            maxshape=(None, *shape),
            chunks=(ROW_CHUNK, *shape),
            dtype=dtype,
            compression="gzip",
            compression_opts=4,
            shuffle=True,
        )
    group.create_dataset("n_rows", data=np.int64(0))
    falls = group.create_group("falls")
    for name, dtype in _FALLS.items():
        falls.create_dataset(
            name, data=np.array([getattr(f, name) for f in spec.falls], dtype=dtype)
        )


class TruthWriter:
    """Appends truth rows, buffered and written a chunk at a time (a compressed chunk
    rewritten at every small append would leave its old copies as dead space);
    ``write_all`` before a flush, ``commit`` after it records how many rows are durable."""

    def __init__(self, group: h5py.Group, spec: TruthSpec) -> None:
        self.group = group
        self.spec = spec
        self.written = 0
        self._pending: list[dict[str, np.ndarray]] = []
        self._pending_n = 0

    def append(self, rows: TruthRows) -> None:
        n = len(rows)
        if n == 0:
            return
        columns = {}
        for name, (dtype, trailing) in _ROWS.items():
            value = np.array(getattr(rows, name), dtype=dtype)  # a copy: callers may reuse
            expected = (n, *trailing(self.spec.max_people))
            if value.shape != expected:
                raise ValueError(f"truth {name} must have shape {expected}, got {value.shape}")
            columns[name] = value
        self._pending.append(columns)
        self._pending_n += n
        if self._pending_n >= ROW_CHUNK:
            self.write_all()

    def write_all(self) -> None:
        if not self._pending:
            return
        a, b = self.written, self.written + self._pending_n
        for name in _ROWS:
            ds = self.group[name]
            ds.resize(b, axis=0)
            ds[a:b] = np.concatenate([p[name] for p in self._pending])
        self._pending, self._pending_n = [], 0
        self.written = b

    def commit(self) -> None:
        self.group["n_rows"][()] = np.int64(self.written)


def read(group: h5py.Group) -> Truth | None:
    """The truth in a recording's truth group, or None if it holds none."""
    if "n_rows" not in group:
        return None
    try:
        names = tuple(json.loads(group.attrs["person_names"]))
        camera = json.loads(group.attrs["camera"])
        for ds in group.values():
            if isinstance(ds, h5py.Dataset):
                ds.refresh()
        n = int(group["n_rows"][()])
        n = min([n] + [group[name].shape[0] for name in _ROWS])
        rows = TruthRows(**{name: group[name][:n] for name in _ROWS})
        f = group["falls"]
        falls = tuple(
            FallTruth(*(int(v) for v in values))
            for values in zip(*(f[name][()] for name in _FALLS), strict=True)
        )
    except (KeyError, ValueError, TypeError) as e:
        raise RecordingError(f"damaged truth group ({e})") from None
    return Truth(TruthSpec(names, camera, falls), rows)
