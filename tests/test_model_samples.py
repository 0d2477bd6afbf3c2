"""Features and models run on every real capture and give finite outputs.

A model is trained for one hardware profile. Per profile with a simulator (intel5300,
esp32, nexmon) a tiny model is trained here on a few seconds of simulated data, and the
shipped default intel5300 model is run too (it must be there); the Atheros capture has
no simulator profile and so no model: its features are computed and the model refuses
it with a ModelError.
"""

from pathlib import Path

import numpy as np
import pytest
from model_data import tiny_model

import wdp.inference
from wdp.camera import Camera
from wdp.capture.formats import read_capture
from wdp.inference.features import FeatureSpec, extract
from wdp.inference.model import Model, ModelError, project

DEFAULT = Path(wdp.inference.__file__).parent / "models" / "default.npz"
DATA = {
    "intel5300": "train,seeds=0:3,duration=8,max_people=1",
    "esp32": "train,profile=esp32,seeds=0:2,duration=6,max_people=1",
    "nexmon": "train,profile=nexmon,seeds=0:2,duration=6,max_people=1",
}


def _batches(samples):
    out = {}
    for path in sorted(samples.iterdir()):
        if path.suffix in (".dat", ".csv", ".pcap"):
            out[path.name] = read_capture(path, router_id="r1", environment_id="e").batch
    assert len(out) == 5
    return out


def _check(model, batch):
    feats, pred = model.run([batch])
    assert len(feats) >= 1
    for arr in (
        feats.x,
        pred.position,
        pred.keypoints_3d,
        pred.velocity,
        pred.confidence,
        pred.activity_prob,
        pred.count_prob,
    ):
        assert np.isfinite(arr).all()
    pixels, visible, boxes = project(pred, Camera())
    assert pixels.shape == pred.keypoints_3d.shape[:-1] + (2,)
    # a low-quality window reports nobody
    assert not pred.reported[pred.low_quality].any()
    return feats, pred


def test_models_run_on_every_real_capture(samples):
    batches = _batches(samples)
    models = {p: tiny_model(d, epochs=2) for p, d in DATA.items()}
    ran = 0
    for batch in batches.values():
        if batch.hw_format in models:
            _check(models[batch.hw_format], batch)
            ran += 1
            for other, m in models.items():
                if other != batch.hw_format:
                    with pytest.raises(ModelError, match="no model for"):
                        m.run([batch])
        else:
            assert batch.hw_format == "atheros"
            feats = extract([batch], FeatureSpec.for_batch(batch))
            assert np.isfinite(feats.x).all() and len(feats) >= 1
            for m in models.values():
                with pytest.raises(ModelError, match="no model for atheros"):
                    m.run([batch])
    assert ran == 4


def test_the_intel_captures_are_flagged_for_the_40mhz_3x3_model(samples):
    batches = _batches(samples)
    model = tiny_model(DATA["intel5300"], epochs=2)
    feats, pred = _check(model, batches["intel5300_inject_3x1_1khz.dat"])
    # 20 MHz subcarriers and one transmit chain of three: low quality, nobody reported
    assert np.all(feats.quality < 0.5) and not pred.reported.any()


def test_shipped_default_model_runs_on_the_intel_captures(samples):
    model = Model.load(DEFAULT, profile="intel5300")
    batches = _batches(samples)
    for batch in batches.values():
        if batch.hw_format == "intel5300":
            _check(model, batch)
