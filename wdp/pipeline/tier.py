"""Which sensing tier a router's stream allows, judged from its first frames.

The pose model (``wdp.inference``) was trained on one layout at one rate
(``Model.spec``: e.g. Intel 5300 3x3 x 30 subcarriers at 100 Hz); real hardware often
gives less (an Intel 5300 logging 1x3 at 20 Hz, a nexmon Pi 1x1 at 49 Hz). Fed such a
stream the model sees mostly missing chains and reports nobody in every window, with a
low ``csi_quality`` as the only hint: blind and silent. So each router's stream is
judged once, from its first ``DECIDE_S`` of frames: its majority layout and its median
packet rate against what the model needs. A router that does not fit puts its
environment on the **sensing tier** (``wdp.sensing``: motion and presence, and the
activity and fall detectors where one exists for its hardware), and the reason is said
once, in one line (``TierChoice.message``).

The pose model needs, of every router: the model's hardware profile, at least its
transmit and receive chains, its number of subcarriers, and at least
``MIN_RATE_SHARE`` of its packet rate (its windows are fixed in packets). And it needs
simulated CSI: it was trained on the simulator's channels only, and on real captures
it sees nobody, or somebody in every window (an ESP32 quiet room and the same room with
a person moving: someone present in 97 % and 96 % of the windows). So a stream of real
hardware (a live router, a recording without simulator truth) goes to the sensing tier
even when its layout fits, unless ``detection.pose_on_real_hardware`` says otherwise
(``pose_trusted``).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from wdp.inference.features import FeatureSpec

#: Seconds of a router's frames its tier is judged on.
DECIDE_S = 2.0
#: The share of the pose model's packet rate a stream must reach.
MIN_RATE_SHARE = 0.5
#: Why a fitting real stream does not get the pose model.
UNTRUSTED = (
    "real hardware: the pose model is trained on simulated CSI and does not transfer to "
    "real captures (detection.pose_on_real_hardware = true runs it anyway)"
)


@attrs.frozen(slots=True)
class Link:
    """What one router's stream looks like: hardware, majority layout, packet rate."""

    router_id: str
    hw_format: str
    n_tx: int
    n_rx: int
    subcarriers: int
    rate_hz: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_tx, self.n_rx, self.subcarriers)

    def describe(self) -> str:
        """``1x3 at 20 Hz``, ``1x1 at 48.8 Hz`` (subcarriers are named where they matter)."""
        rate = f"{self.rate_hz:.1f}".removesuffix(".0")
        return f"{self.n_tx}x{self.n_rx} at {rate} Hz"


def observe(router_id: str, hw_format: str, shapes: Sequence, times_ns: Sequence[int]) -> Link:
    """The link of a router's first frames (their CSI shapes and timestamps): the
    majority layout and the median packet rate (as ``CsiStream.rate_hz``)."""
    arr = np.asarray(shapes, dtype=np.int64).reshape(-1, 3)
    layouts, counts = np.unique(arr, axis=0, return_counts=True)
    n_tx, n_rx, n_sub = (int(v) for v in layouts[int(np.argmax(counts))])
    gaps = np.diff(np.asarray(times_ns, dtype=np.int64)) / 1e9
    gaps = gaps[gaps > 0]
    rate = float(1.0 / np.median(gaps)) if gaps.size else 0.0
    return Link(router_id, hw_format, n_tx, n_rx, n_sub, rate)


def pose_refusal(link: Link, spec: FeatureSpec | None, trusted: bool = True) -> str | None:
    """Why the pose model cannot run on ``link`` (one clause), or None when it fits; a
    link that fits but is not ``trusted`` (real hardware) is refused last."""
    if spec is None:
        return f"no pose model for {link.hw_format} hardware"
    if link.hw_format != spec.profile:
        return f"the pose model is for {spec.profile} hardware, this is {link.hw_format}"
    need_rate = MIN_RATE_SHARE * spec.rate_hz
    needs = f"{spec.n_tx}x{spec.n_rx} at >= {need_rate:.0f} Hz"
    if link.n_tx < spec.n_tx or link.n_rx < spec.n_rx or link.rate_hz < need_rate:
        return f"the pose model needs {needs}"
    if link.subcarriers != len(spec.subcarriers):
        return f"{link.subcarriers} subcarriers: the pose model needs {len(spec.subcarriers)}"
    return None if trusted else UNTRUSTED


@attrs.frozen(slots=True)
class TierChoice:
    """The tier of one environment and, for the sensing tier, why (per router)."""

    tier: str  # "pose" or "sensing"
    reasons: tuple[tuple[str, str], ...] = ()  # (router id, one line) of each router refused
    sensed: str = ""  # what the sensing tier gives, e.g. "presence, motion, activity and falls"

    @property
    def pose(self) -> bool:
        return self.tier == "pose"

    def reason(self, router_id: str | None = None) -> str | None:
        """The one-line reason of one router (or the first), None on the pose tier."""
        for rid, text in self.reasons:
            if router_id is None or rid == router_id:
                return text
        return None

    def message(self, router_id: str) -> str:
        """``router r1: 1x3 at 20 Hz: the pose model needs 3x3 at >= 50 Hz; presence,
        motion, activity and falls only``."""
        return f"router {router_id}: {self.reason(router_id)}; {self.sensed} only"


def sensed(has_detector: bool) -> str:
    """What the sensing tier reports, with or without an activity and fall detector."""
    return "presence, motion, activity and falls" if has_detector else "presence and motion"


def choose(
    links: Sequence[Link],
    spec: FeatureSpec | None,
    has_detector: bool,
    *,
    pose_trusted: bool = True,
) -> TierChoice:
    """The pose tier when every router's link fits the model (and the model may be
    trusted with the stream: simulated CSI, or an explicit setting), else sensing."""
    refused = {link.router_id: pose_refusal(link, spec, pose_trusted) for link in links}
    if not any(refused.values()):
        return TierChoice("pose")
    reasons = []
    for link in links:
        why = (
            refused[link.router_id]
            or "another router of its environment does not fit the pose model"
        )
        reasons.append((link.router_id, f"{link.describe()}: {why}"))
    return TierChoice("sensing", tuple(reasons), sensed(has_detector))
