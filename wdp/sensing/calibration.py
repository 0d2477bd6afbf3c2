"""The quiet room's statistics that the motion tier judges every window against.

How much CSI amplitudes wander when nobody moves depends on the hardware (ESP32's
8-bit values, Intel 5300's AGC, nexmon's 80 MHz noise), the rate, the distance
between the radios and the room: the quiet variability of a 1 s window differs by
5x between the public captures. A fixed threshold is therefore wrong on every link
but one; the motion detector instead divides by the quiet level of *this* link in
*this* room, learned

- from a recording of the quiet room (``wdp calibrate rec.h5 --out calib.json``),
- or automatically from the first ``auto_calibration_s`` of a live stream,

and adapted slowly while the room is judged quiet (``adapted``), then persisted
(``save`` / ``load``: JSON or npz by the file's ending).

The quiet level is the median of the windows' variabilities: robust to a person
walking through during calibration for less than half of the time. ``quiet_p95``
and ``quiet_p99`` describe the quiet spread (reported; a room whose p99 is far above
its median is a noisy room, e.g. machinery or a fan, and deserves a look).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

#: Version of the calibration file layout.
CALIBRATION_VERSION = 1


class CalibrationError(ValueError):
    """A calibration wdp cannot make or use (one line for the user)."""


@attrs.frozen(slots=True)
class Calibration:
    """The quiet variability of one link in one room, and what it was learned from."""

    quiet_median: float  # median window variability of the quiet room
    quiet_p95: float
    quiet_p99: float
    windows: int  # windows it was learned from
    window_s: float
    hop_s: float
    bin_s: float
    motion_version: int
    source: str = ""  # what the calibration saw (file, time span, or "first N windows")
    hw_format: str = ""
    links: int = 0
    subcarriers: int = 0
    rate_hz: float = 0.0
    version: int = CALIBRATION_VERSION

    def check(self, cfg) -> None:
        """CalibrationError unless made with the windows of ``cfg`` (a MotionConfig)."""
        from wdp.sensing.motion import MOTION_VERSION

        if self.motion_version != MOTION_VERSION:
            raise CalibrationError(
                f"calibration made for motion features v{self.motion_version}, "
                f"this wdp computes v{MOTION_VERSION}: calibrate the room again"
            )
        mine = (self.window_s, self.hop_s, self.bin_s)
        theirs = (cfg.window_s, cfg.hop_s, cfg.bin_s)
        if mine[0] != theirs[0] or mine[2] != theirs[2]:
            raise CalibrationError(
                f"calibration made with {mine[0]:g} s windows and {mine[2]:g} s bins, "
                f"the detector uses {theirs[0]:g} s and {theirs[2]:g} s"
            )


def from_variabilities(
    values: Sequence[float], cfg, *, source: str = "", quiet_fraction: float = 1.0, **info
) -> Calibration:
    """A calibration from the variabilities of quiet windows (NaN ones are ignored).

    ``quiet_fraction`` < 1 keeps only the lowest share of the windows: for a room
    only ever recorded with people in it (the quietest moments are the quiet level).
    """
    from wdp.sensing.motion import MOTION_VERSION

    v = np.asarray(values, dtype=np.float64)
    v = np.sort(v[np.isfinite(v) & (v > 0)])
    if v.shape[0] < 3:
        raise CalibrationError(
            f"{source or 'calibration'}: {v.shape[0]} usable windows, need at least 3 "
            "(a few seconds of CSI at a steady rate)"
        )
    if quiet_fraction < 1.0:
        v = v[: max(3, int(np.ceil(quiet_fraction * v.shape[0])))]
    return Calibration(
        float(np.median(v)),
        float(np.percentile(v, 95)),
        float(np.percentile(v, 99)),
        int(v.shape[0]),
        float(cfg.window_s),
        float(cfg.hop_s),
        float(cfg.bin_s),
        MOTION_VERSION,
        source,
        **info,
    )


def calibrate_stream(stream, cfg=None, *, source: str = "", quiet_fraction: float = 1.0):
    """The calibration of a ``CsiStream`` of the quiet room (all of it)."""
    from wdp.sensing.motion import MotionConfig, stream_features

    cfg = cfg or MotionConfig()
    feats = stream_features(stream.t_s, stream.amp, cfg)
    usable = [f for f in feats if f.ok]
    if not usable:
        why = feats[0].reason if feats else f"shorter than one {cfg.window_s:g} s window"
        raise CalibrationError(f"{source or 'stream'}: no usable window ({why})")
    return from_variabilities(
        [f.variability for f in usable],
        cfg,
        source=source,
        quiet_fraction=quiet_fraction,
        hw_format=stream.hw_format,
        links=int(stream.amp.shape[1]),
        subcarriers=int(stream.amp.shape[2]),
        rate_hz=round(float(stream.rate_hz), 3),
    )


def adapted(
    cal: Calibration, variability: float, step: float, original: Calibration, limit: float
) -> Calibration:
    """``cal`` after one quiet window: the median tracked by a fixed multiplicative step.

    A window above the quiet median raises it by ``step``, one below lowers it (so it
    converges on the median of recent quiet windows, not their mean, and one odd
    window moves it by ``step`` only). The spread moves with it. The level never
    leaves ``[original / limit, original * limit]``: a person who sits still for hours
    cannot teach the room that small motion is quiet.
    """
    if not np.isfinite(variability) or variability == cal.quiet_median:
        return cal
    factor = 1.0 + step if variability > cal.quiet_median else 1.0 - step
    lo, hi = original.quiet_median / limit, original.quiet_median * limit
    median = min(max(cal.quiet_median * factor, lo), hi)
    scale = median / cal.quiet_median
    return attrs.evolve(
        cal, quiet_median=median, quiet_p95=cal.quiet_p95 * scale, quiet_p99=cal.quiet_p99 * scale
    )


def save(cal: Calibration, path: str | Path) -> None:
    """Write ``cal`` as JSON (``.json``) or a numpy archive (``.npz``)."""
    path = Path(path)
    data = attrs.asdict(cal)
    if path.suffix.lower() == ".npz":
        np.savez(path, **{k: np.asarray(v) for k, v in data.items()})
    elif path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        raise CalibrationError(f"{path}: a calibration file ends with .json or .npz")


def load(path: str | Path) -> Calibration:
    """A calibration written by ``save``; CalibrationError (one line) otherwise."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k].item() for k in z.files}
        else:
            data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: not a readable calibration ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != CALIBRATION_VERSION:
        raise CalibrationError(f"{path}: not a wdp calibration of version {CALIBRATION_VERSION}")
    names = {f.name for f in attrs.fields(Calibration)}
    try:
        cal = Calibration(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise CalibrationError(f"{path}: incomplete calibration ({exc})") from None
    if not (np.isfinite(cal.quiet_median) and cal.quiet_median > 0):
        raise CalibrationError(f"{path}: quiet level must be a positive number")
    return cal


#: Where the shipped quiet levels are, one file per hardware profile.
PRIORS_DIR = Path(__file__).resolve().parent / "models"
#: A prior serves a stream whose packet rate is within this factor of the prior's.
PRIOR_RATE_FACTOR = 2.0


def prior(profile: str, rate_hz: float) -> Calibration | None:
    """The shipped quiet level of ``profile`` hardware (``quiet_<profile>.json``, made
    by ``python -m wdp.sensing.motion_eval --write-priors``), for a stream at
    ``rate_hz``; None when there is none, it is unreadable, or the rate is too far from
    the prior's (binned noise depends on the packets per bin).

    Why: a room's own level needs ``auto_calibration_s`` of quiet CSI first, and until
    then the detector could say nothing; the level of the same hardware in other rooms
    is close enough to judge by meanwhile (ESP32, the quiet files of the *other* chips:
    F1 100 %, no false positive on the espectre set). ``MotionDetector`` replaces it by
    the room's own as soon as it has that."""
    path = PRIORS_DIR / f"quiet_{profile}.json"
    if not path.is_file():
        return None
    try:
        cal = load(path)
    except CalibrationError:
        return None
    if cal.rate_hz > 0 and rate_hz > 0:
        ratio = max(rate_hz / cal.rate_hz, cal.rate_hz / rate_hz)
        if ratio > PRIOR_RATE_FACTOR:
            return None
    return cal
