"""A trained activity and fall detector for one hardware profile, as one ``.npz``.

The file holds plain arrays only (no pickle): the window clock, the two exported
forests (``wdp.sensing.forest``), the fall event rules (``wdp.sensing.falls``) and a
JSON description of how it was trained. ``Detector.run`` turns a capture into the
activity of each window and the fall events, the same bits on every x86-64 CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import numpy as np

from wdp.sensing import falls
from wdp.sensing.features import FEATURES_VERSION, WindowSpec, motion_course, relative_columns
from wdp.sensing.forest import Forest

#: Version of the detector file layout.
DETECTOR_FORMAT = 1

#: The grid each hardware profile's detectors work on (Hz): Intel 5300 logs come at
#: ~20-33 Hz, nexmon at ~49 Hz (averaged in pairs), ESP32 at ~100 Hz.
PROFILE_RATES = {"intel5300": 20.0, "nexmon": 25.0, "esp32": 50.0}

#: Where the shipped detectors are, one per profile.
MODELS_DIR = Path(__file__).resolve().parent / "models"


class DetectorError(ValueError):
    """A detector file wdp cannot use (one line naming the file)."""


@attrs.frozen(slots=True, eq=False)
class Detector:
    """Activity classes and fall events from window features of one hardware profile."""

    profile: str
    spec: WindowSpec
    activity: Forest
    fall: Forest
    rules: falls.FallRules
    training: dict = attrs.field(factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.activity.classes]

    def save(self, path: str | Path) -> None:
        """Write the detector (compressed; internal nodes' values are unused and zeroed)."""
        arrays = {**self.activity.arrays("act_"), **self.fall.arrays("fall_")}
        for prefix in ("act_", "fall_"):
            inner = arrays[f"{prefix}left"] >= 0
            arrays[f"{prefix}value"] = np.where(inner[:, None], 0.0, arrays[f"{prefix}value"])
        meta = {
            "format": DETECTOR_FORMAT,
            "features_version": FEATURES_VERSION,
            "profile": self.profile,
            "spec": attrs.asdict(self.spec),
            "rules": attrs.asdict(self.rules),
            "training": self.training,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Detector:
        """Read a detector file; DetectorError (one line) when it is not one wdp reads."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                act, fall = Forest.from_npz(data, "act_"), Forest.from_npz(data, "fall_")
        except (OSError, KeyError, ValueError) as exc:
            raise DetectorError(f"{path}: not a wdp sensing detector ({exc})") from None
        if (
            meta.get("format") != DETECTOR_FORMAT
            or meta.get("features_version") != FEATURES_VERSION
        ):
            raise DetectorError(
                f"{path}: detector format {meta.get('format')} / features "
                f"{meta.get('features_version')}, this wdp reads {DETECTOR_FORMAT} / "
                f"{FEATURES_VERSION}: retrain it with wdp train --labels"
            )
        return cls(
            meta["profile"],
            WindowSpec(**meta["spec"]),
            act,
            fall,
            falls.FallRules(**meta["rules"]),
            meta.get("training", {}),
        )

    @classmethod
    def shipped(cls, profile: str) -> Detector:
        """The detector shipped with wdp for ``profile``."""
        path = MODELS_DIR / f"{profile}.npz"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.npz")))
            raise DetectorError(f"no shipped detector for profile {profile!r} (shipped: {known})")
        return cls.load(path)

    def fall_events(self, feats: np.ndarray, mc: np.ndarray) -> list[tuple[float, float]]:
        """Fall events (time s, probability) of a capture from its window features (every
        window, ``spec.hop`` apart) and its motion course."""
        rate = self.spec.rate_hz
        cands = falls.onsets(mc, rate, self.rules)
        probs = []
        fall_class = self.classes.index("fall") if "fall" in self.classes else -1
        cols = relative_columns(feats.shape[1])
        for pk in cands:
            idx = falls.around(int(pk), rate, feats.shape[0], self.spec.length, self.spec.hop)
            if idx.size == 0:
                probs.append(0.0)
                continue
            event = falls.event_features(feats, mc, int(pk), self.spec, cols)
            p = float(self.fall.predict_proba(event)[0, 1])
            if self.rules.activity_agrees and fall_class >= 0:
                act = self.activity.predict_proba(feats[idx]).mean(axis=0)
                p = p if int(np.argmax(act)) == fall_class else 0.0
            probs.append(p)
        return falls.decide(cands, probs, rate, self.rules)


def active_windows(mc: np.ndarray, spec: WindowSpec, n_windows: int) -> np.ndarray:
    """Windows whose centre has at least half the motion of the busiest centre (above
    the 10th percentile): where the action of a labelled capture is."""
    if n_windows == 0:
        return np.zeros(0, dtype=np.int64)
    centres = np.minimum(np.arange(n_windows) * spec.hop + spec.length // 2, mc.size - 1)
    m = mc[centres]
    lo = float(np.sort(mc)[int(0.1 * (mc.size - 1))])
    return np.nonzero(m >= lo + 0.5 * (m.max() - lo))[0]


def capture_motion(amp: np.ndarray, rate_hz: float) -> np.ndarray:
    """The motion course the detectors use (1 s smoothing)."""
    return motion_course(amp, rate_hz, 1.0)


def chain_pair_phasors(csi: np.ndarray) -> np.ndarray | None:
    """Unit phasors of chain pairs of CSI [N, n_tx, n_rx, subcarriers] as the detectors'
    phasor features see them (None with one receive chain): for ``wdp.sensing.live``,
    which builds a capture's grid frame by frame."""
    from wdp.sensing.features import _pair_phasors

    return _pair_phasors(csi)
