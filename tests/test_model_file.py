"""Model files: round trip, and one clear ModelError for every bad file."""

import io
import json
import zipfile

import numpy as np
import pytest
from model_data import dataset, tiny_model

from wdp.inference.features import FeatureSpec
from wdp.inference.model import MODEL_VERSION, Model, ModelError

DATA = "train,seeds=0:3,duration=8,max_people=1"


@pytest.fixture(scope="module")
def model():
    return tiny_model(DATA, epochs=3)


def _rewrite(src, dst, change_meta=None, drop=None):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if change_meta is not None:
        meta = json.loads(str(arrays["meta"]))
        change_meta(meta)
        arrays["meta"] = np.array(json.dumps(meta))
    if drop:
        arrays.pop(drop)
    np.savez(dst, **arrays)


def test_round_trip(tmp_path, model):
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = Model.load(path, profile="intel5300")
    assert loaded.spec == model.spec
    for p, q in zip(loaded.net.params(), model.net.params(), strict=True):
        np.testing.assert_array_equal(p, q)
    data = dataset(DATA)
    a = model.predict_x(data.x, data.quality)
    b = loaded.predict_x(data.x, data.quality)
    np.testing.assert_array_equal(a.position, b.position)
    np.testing.assert_array_equal(a.count, b.count)
    t = loaded.training
    assert t["data_digest"] == data.digest() and len(t["data_digest"]) == 64
    assert t["data_spec"].startswith("train,layout=a,seeds=0:3")
    meta = loaded.meta()
    assert meta["model_version"] == MODEL_VERSION and meta["profile"] == "intel5300"
    assert meta["feature_spec"]["length"] == model.spec.length


def _error(path, **kw) -> str:
    with pytest.raises(ModelError) as info:
        Model.load(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_bad_files(tmp_path, model):
    good = tmp_path / "good.npz"
    model.save(good)
    assert "no such" in _error(tmp_path / "missing.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    assert "not a wdp model" in _error(tmp_path / "empty.npz")
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(5000))
    assert "not a wdp model" in _error(tmp_path / "random.npz")
    data = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    assert "not a wdp model" in _error(tmp_path / "cut.npz")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    (tmp_path / "zip.npz").write_bytes(buf.getvalue())
    assert "not a wdp model" in _error(tmp_path / "zip.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    assert "not a wdp model" in _error(tmp_path / "other.npz")


def test_wrong_version_profile_length(tmp_path, model):
    good = tmp_path / "good.npz"
    model.save(good)
    _rewrite(good, tmp_path / "v.npz", lambda m: m.update(model_version=MODEL_VERSION + 1))
    assert "model version" in _error(tmp_path / "v.npz")
    assert "intel5300 hardware, not esp32" in _error(good, profile="esp32")

    def longer(meta):
        fs = meta["feature_spec"]
        fs["n_groups"] = 10
        fs["length"] = FeatureSpec.from_dict({**fs, "length": None}).length

    _rewrite(good, tmp_path / "len.npz", longer)
    assert "feature length" in _error(tmp_path / "len.npz")
    _rewrite(good, tmp_path / "w.npz", drop="w0")
    assert "missing model arrays" in _error(tmp_path / "w.npz")
    _rewrite(good, tmp_path / "fv.npz", lambda m: m["feature_spec"].update(version=99))
    assert "features version" in _error(tmp_path / "fv.npz")


def test_input_checks(model):
    with pytest.raises(ModelError, match="esp32"):
        model.check_spec(FeatureSpec.for_profile("esp32"))
    with pytest.raises(ModelError, match="features must be"):
        model.outputs(np.zeros((2, 5)))
    x = np.full((3, model.spec.length), np.nan, np.float32)
    p = model.predict_x(x, np.array([1.0, 0.2, np.nan]))
    assert np.isfinite(p.position).all() and np.isfinite(p.keypoints_3d).all()
    assert list(p.low_quality) == [False, True, True]
    assert not p.reported[1:].any()
