"""The bundled recordings: intact, readable with truth, and regenerable from their config."""

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from wdp.recorder import open_recording
from wdp.sim.scenario import load_scenario
from wdp.sim.simulate import simulate

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
SUMS = dict(
    (name.removeprefix("./"), digest)
    for digest, name in (
        line.split() for line in (RECORDINGS / "SHA256SUMS").read_text().splitlines()
    )
)


def test_every_bundled_recording_is_listed_and_small():
    assert sorted(p.name for p in RECORDINGS.glob("*.h5")) == sorted(SUMS)
    assert sum(p.stat().st_size for p in RECORDINGS.glob("*.h5")) < 20 * 2**20


@pytest.mark.parametrize("name", sorted(SUMS))
def test_bundled_recording_matches_its_digest_and_has_truth(name):
    path = RECORDINGS / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SUMS[name]
    with open_recording(path) as rec:
        assert rec.closed_cleanly
        truth = rec.truth()
        frames = sum(rec.frame_count(r.router_id) for r in rec.routers)
    config = rec.attrs.config["simulate"]
    rate = next(iter(config["routers"].values()))["rate_hz"]
    assert frames == round(config["seconds"] * rate)
    assert len(truth.rows) == round(config["seconds"] * 100)


def test_a_bundled_recording_regenerates_to_the_same_csi(tmp_path):
    path = RECORDINGS / "one_walker_intel5300.h5"
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["config"])["simulate"]
    out = tmp_path / "again.h5"
    simulate(
        load_scenario(config["scenario"]),
        out,
        seed=config["seed"],
        seconds=config["seconds"],
        profile=config["profile"],
        environment_id=config["environment_id"],
        progress=False,
    )
    with h5py.File(path, "r") as a, h5py.File(out, "r") as b:
        for name in ("raw/bytes", "raw/offsets", "csi", "timestamp_ns", "sequence"):
            assert np.array_equal(a[f"routers/r1/{name}"][()], b[f"routers/r1/{name}"][()]), name
        for name in ("keypoints_3d", "activity", "bbox"):
            assert np.array_equal(a[f"truth/{name}"][()], b[f"truth/{name}"][()], equal_nan=True)
