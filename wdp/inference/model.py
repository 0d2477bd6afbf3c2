"""A trained model: feature spec + network + scales + metadata, its file, and predictions.

Model file: a ``.npz`` (no pickles) holding the layer arrays ``w0, b0, w1, ...``, the
input/output scales (``x_mean``, ``x_std``, ``y_mean``, ``y_std``) and ``meta``, a JSON
string: ``format`` ("wdp-model"), ``model_version``, ``profile``, ``feature_spec``,
``layers``, ``training`` (data spec, sha256 digest of the training arrays, command line,
seed, epochs, ...). Loading checks all of it and raises ``ModelError`` with one line for
a missing, damaged or foreign file, another model version, another hardware profile or a
feature length that does not fit.

A slot's floor position is the mean of the grid classifier's answer and the regressed
one (``network.py``). Predictions (``Prediction``) hold every slot; ``reported`` marks
the people the model reports: the count head says how many (n), the n slots with the
highest presence probability are reported, and none when the window's feature quality is below
``features.LOW_QUALITY`` (the window is flagged ``low_quality``). A person's confidence
is its presence probability times the window quality. Keypoint 2D positions, visibility
(inside the image and in front of the camera) and the person box come from the
environment's camera (``project``); a keypoint's confidence is its person's confidence
(the network has no per-keypoint uncertainty head).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import attrs
import numpy as np

from wdp.camera import Camera
from wdp.capture.frame import FrameBatch
from wdp.inference.features import FEATURE_VERSION, LOW_QUALITY, Features, FeatureSpec, extract
from wdp.inference.network import (
    N_COUNT,
    OUTPUT_SIZE,
    Heads,
    Mlp,
    grid_decode,
    sigmoid,
    softmax,
)
from wdp.inference.targets import MAX_SLOTS, N_ACTIVITIES
from wdp.recorder.truth import N_KEYPOINTS

MODEL_VERSION = 2
MODEL_FORMAT = "wdp-model"
#: Output dimensions that are regressed (position 3, velocity 3, keypoints 51).
N_REG = 3 + 3 + 3 * N_KEYPOINTS


class ModelError(Exception):
    """A model file that cannot be used, or input it does not fit (one line)."""


@attrs.frozen(slots=True, eq=False)
class Prediction:
    """Per window K and slot S: see the module docstring for ``reported``."""

    count: np.ndarray  # int [K]
    count_prob: np.ndarray  # [K, 5]
    presence: np.ndarray  # [K, S] probability
    reported: np.ndarray  # bool [K, S]
    confidence: np.ndarray  # [K, S]
    position: np.ndarray  # [K, S, 3] metres, room frame (floor point under the pelvis)
    velocity: np.ndarray  # [K, S, 3] m/s
    keypoints_3d: np.ndarray  # [K, S, 17, 3] metres, room frame
    activity_prob: np.ndarray  # [K, S, 5]
    low_quality: np.ndarray  # bool [K]

    def __len__(self) -> int:
        return int(self.count.shape[0])

    @property
    def activity(self) -> np.ndarray:
        return self.activity_prob.argmax(axis=-1)


def decode(
    count_prob: np.ndarray,
    presence: np.ndarray,
    position: np.ndarray,
    velocity: np.ndarray,
    keypoints_rel: np.ndarray,
    activity_prob: np.ndarray,
    quality: np.ndarray,
) -> Prediction:
    """Slot outputs (metres) -> Prediction; shared by the model and the baselines."""
    k = count_prob.shape[0]
    quality = np.nan_to_num(np.asarray(quality, np.float64), nan=0.0).reshape(k)
    low = quality < LOW_QUALITY
    count = count_prob.argmax(axis=1)
    count = np.where(low, 0, count)
    rank = np.argsort(np.argsort(-presence, axis=1, kind="stable"), axis=1, kind="stable")
    reported = rank < count[:, None]
    kp = position[:, :, None, :] + keypoints_rel.reshape(k, MAX_SLOTS, N_KEYPOINTS, 3)
    conf = presence * np.clip(quality, 0.0, 1.0)[:, None]
    f = np.nan_to_num
    return Prediction(
        count=count.astype(np.int64),
        count_prob=f(count_prob),
        presence=f(presence),
        reported=reported,
        confidence=f(np.where(reported, conf, 0.0)),
        position=f(position),
        velocity=f(velocity),
        keypoints_3d=f(kp),
        activity_prob=f(activity_prob),
        low_quality=low,
    )


def project(pred: Prediction, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2D keypoints [K, S, 17, 2] (pixels; NaN behind the camera), visibility [K, S, 17]
    and COCO boxes [K, S, 4] (NaN when nothing is visible) through ``camera``."""
    pixels, visible = camera.project(pred.keypoints_3d)
    return pixels, visible, camera.bounding_box(pixels, visible)


@attrs.define(slots=True, eq=False)
class Model:
    spec: FeatureSpec
    net: Mlp
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray  # [N_REG]
    y_std: np.ndarray  # [N_REG]
    training: dict = attrs.field(factory=dict)

    @property
    def profile(self) -> str:
        return self.spec.profile

    def check_spec(self, spec: FeatureSpec) -> None:
        """Raise ModelError unless features of ``spec`` are this model's input."""
        if spec.profile != self.spec.profile:
            raise ModelError(
                f"the model is for {self.spec.profile} hardware, the data is {spec.profile}"
            )
        if spec != self.spec:
            raise ModelError(
                f"feature spec differs from the model's (length {spec.length} vs "
                f"{self.spec.length}, window {spec.window} vs {self.spec.window})"
            )

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Raw network outputs for feature rows x [K, F]."""
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.spec.length:
            raise ModelError(f"features must be [K, {self.spec.length}], got {x.shape}")
        z = (np.nan_to_num(x) - self.x_mean) / self.x_std
        return self.net.forward(np.clip(z, -20, 20).astype(np.float32))

    def predict_x(self, x: np.ndarray, quality: np.ndarray) -> Prediction:
        y = self.outputs(x).astype(np.float64)
        s = Heads.slot(y)
        reg = np.concatenate(
            [s[:, :, Heads.position], s[:, :, Heads.velocity], s[:, :, Heads.keypoints]], axis=2
        )
        reg = reg * self.y_std + self.y_mean
        # The floor point: the mean of the grid's answer and the regressed one (each
        # alone is worse: the grid's median error, the regression's tail); the height
        # is the regression's.
        position = reg[:, :, 0:3].copy()
        position[:, :, 0] = 0.5 * (position[:, :, 0] + grid_decode(s[:, :, Heads.grid_x]))
        position[:, :, 1] = 0.5 * (position[:, :, 1] + grid_decode(s[:, :, Heads.grid_y]))
        return decode(
            softmax(y[:, Heads.count]),
            sigmoid(s[:, :, Heads.presence]),
            position,
            reg[:, :, 3:6],
            reg[:, :, 6:],
            softmax(s[:, :, Heads.activity]),
            quality,
        )

    def predict(self, features: Features) -> Prediction:
        return self.predict_x(features.x, features.quality)

    def run(
        self, batches: list[FrameBatch | None], ends: np.ndarray | None = None
    ) -> tuple[Features, Prediction]:
        """Features and predictions for one environment's routers (router-id order).

        Frames of other hardware than the model's are refused (ModelError): a model is
        trained for one profile; anything else about the input (missing chains, gaps,
        other subcarriers, NaN) lowers the windows' quality instead.
        """
        for b in batches:
            if b is not None and len(b) and b.hw_format != self.spec.profile:
                raise ModelError(
                    f"router {b.router_id} is {b.hw_format} hardware; the model is for "
                    f"{self.spec.profile} (no model for {b.hw_format})"
                )
        feats = extract(batches, self.spec, ends)
        return feats, self.predict(feats)

    # --- file ----------------------------------------------------------------------

    def meta(self) -> dict:
        return {
            "format": MODEL_FORMAT,
            "model_version": MODEL_VERSION,
            "profile": self.spec.profile,
            "feature_spec": self.spec.to_dict(),
            "layers": self.net.sizes,
            "activation": "gelu",
            "outputs": {"size": OUTPUT_SIZE, "slots": MAX_SLOTS, "activities": N_ACTIVITIES},
            "training": self.training,
        }

    def save(self, path: str | os.PathLike) -> None:
        arrays = {"meta": np.array(json.dumps(self.meta(), sort_keys=True))}
        for i, (w, b) in enumerate(zip(self.net.weights, self.net.biases, strict=True)):
            arrays[f"w{i}"] = w
            arrays[f"b{i}"] = b
        arrays.update(x_mean=self.x_mean, x_std=self.x_std, y_mean=self.y_mean, y_std=self.y_std)
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, profile: str | None = None) -> Model:
        """Read and validate a model file (ModelError with one line otherwise)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{path}: no such model file") from None
        except OSError as e:
            raise ModelError(f"{path}: cannot read ({e.strerror or e})") from None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
            raise ModelError(f"{path}: not a wdp model file (damaged or not .npz: {e})") from None
        try:
            meta = json.loads(str(arrays["meta"]))
            if not isinstance(meta, dict):
                raise ValueError("meta is not an object")
        except (KeyError, ValueError) as e:
            raise ModelError(f"{path}: not a wdp model file (no readable metadata: {e})") from None
        if meta.get("format") != MODEL_FORMAT:
            raise ModelError(f"{path}: not a wdp model file (format {meta.get('format')!r})")
        version = meta.get("model_version")
        if version != MODEL_VERSION:
            raise ModelError(
                f"{path}: model version {version!r}, this wdp reads version {MODEL_VERSION}"
            )
        if profile is not None and meta.get("profile") != profile:
            raise ModelError(
                f"{path}: the model is for {meta.get('profile')} hardware, not {profile}"
            )
        fs_version = (meta.get("feature_spec") or {}).get("version")
        if fs_version != FEATURE_VERSION:
            raise ModelError(
                f"{path}: features version {fs_version}, this wdp computes {FEATURE_VERSION}"
            )
        try:
            spec = FeatureSpec.from_dict(meta["feature_spec"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{path}: bad feature spec in the model ({e})") from None
        try:
            n = len(meta["layers"]) - 1
            weights = [np.asarray(arrays[f"w{i}"], np.float32) for i in range(n)]
            biases = [np.asarray(arrays[f"b{i}"], np.float32) for i in range(n)]
            scales = [
                np.asarray(arrays[k], np.float32) for k in ("x_mean", "x_std", "y_mean", "y_std")
            ]
        except (KeyError, TypeError) as e:
            raise ModelError(f"{path}: missing model arrays ({e})") from None
        sizes = [spec.length] + [w.shape[1] for w in weights]
        ok = (
            n >= 1
            and all(w.ndim == 2 for w in weights)
            and weights[0].shape[0] == spec.length
            and all(w.shape[0] == s for w, s in zip(weights, sizes[:-1], strict=True))
            and all(b.shape == (w.shape[1],) for w, b in zip(weights, biases, strict=True))
            and sizes[-1] == OUTPUT_SIZE
            and scales[0].shape == (spec.length,)
            and scales[1].shape == (spec.length,)
            and scales[2].shape == (N_REG,)
            and scales[3].shape == (N_REG,)
        )
        if not ok:
            raise ModelError(
                f"{path}: array shapes do not fit the feature length {spec.length} "
                f"and {OUTPUT_SIZE} outputs"
            )
        if not all(np.isfinite(a).all() for a in (*weights, *biases, *scales)):
            raise ModelError(f"{path}: non-finite weights")
        if np.any(scales[1] <= 0) or np.any(scales[3] <= 0):
            raise ModelError(f"{path}: non-positive scales")
        return cls(spec, Mlp(weights, biases), *scales, training=meta.get("training", {}))


__all__ = ["MODEL_VERSION", "Model", "ModelError", "Prediction", "decode", "project", "N_COUNT"]
