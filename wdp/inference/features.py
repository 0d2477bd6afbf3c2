"""Model input: fixed-length feature vectors from windows of CSI frames.

A model sees one *window* (default 0.5 s) of an environment's frames at a time. Real
streams are irregular (a 1 kHz injector, a 63 Hz ESP32, bursty nexmon, lost packets), so
each router's frames are first put on the spec's regular time grid (``rate_hz``): grid
point k takes the latest usable frame at or before it ("sample and hold"). A grid point
whose frame is older than ``STALE_PERIODS`` grid periods is *stale*; stale points, frames
with the wrong subcarriers, non-finite or all-zero CSI and missing receive/transmit chains
lower the window's ``quality`` (0..1) and set ``flags`` bits, and the features stay finite
whatever the input. Consumers treat ``quality < LOW_QUALITY`` as "no reliable estimate".

Per router (chains and subcarrier groups of the spec's hardware profile, ``P = n_tx*n_rx``
chain pairs, ``Q`` phase channels, ``G`` groups of the bins that carry signal), all from
``wdp.dsp``:

- amplitude normalized per frame over the valid bins, Hampel-filtered over time:
  time mean and log time std per (pair, group)                        2*P*G
- phase: the CSI ratio between receive chains (``Q = n_tx*(n_rx-1)``; it cancels the
  radio's common phase and timing slope) or, for one receive chain, the sanitized phase
  (``Q = n_tx``): the time-mean phasor's direction relative to the mean direction of
  all ratios of its receive chain over all bins (which cancels each chain's constant
  phase, drawn anew at every start of a real radio, and keeps the phase between
  transmit chains), averaged over the group (cos, sin), and the log spread of the phase
  around it                                                           3*Q*G
- the static-removed phase channel's Doppler spectrum over the window, pooled into
  ``doppler_bins`` bands (log share of the power) plus the log total    doppler_bins+1
- with ratios, the complex coherence of the moving part between each two transmit
  chains, per receive ratio (direction of departure of what moves)   2*(R-1)*T(T-1)/2
- motion energy of the amplitude: log mean and log max over the window        2
- log received power per receive chain: mean and std over the window         2*n_rx
- geometry of the moving part (``geometry``), from packets whose common phase, timing
  slope and gain are removed (``sanitize_packets``): the moving part relative to the
  static channel of its own chain pair and bin, which cancels the chains' constant
  phases; its log power, its log share per chain pair, its normalized covariance
  between chain pairs (angles relative to the direct path), its correlation over
  ``GEO_LAGS`` bin lags (excess delay) and its log share over ``GEO_GROUPS`` groups of
  bins                                          1 + P + P(P-1) + 2*GEO_LAGS + GEO_GROUPS
- the router's quality                                                        1

Every step is the same bits on every x86-64 CPU (DESIGN rule 2): the DSP kernels are
numba without fastmath, and the numpy steps here take their exp, log, angles, complex
products and magnitudes from ``wdp.dsp.portable`` (numpy's own pick SIMD loops by CPU).

Routers are fused by concatenation in router-id order (the spec fixes how many; a missing
router contributes zeros and quality 0). Per-frame steps run once per frame over a whole
batch and windows gather the results, so a window's features do not depend on how the
stream was cut into batches: training data, replay and live streams share this path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

import wdp.dsp
import wdp.dsp.reference
from wdp.capture.frame import FrameBatch
from wdp.dsp import portable
from wdp.dsp.portable import abs2, angle, cabs, cis, cmul, cmul_conj

FEATURE_VERSION = 3
#: A grid point whose frame is older than this many grid periods counts as missing.
STALE_PERIODS = 3.0
#: Windows of lower quality give no detections (the model reports low confidence).
LOW_QUALITY = 0.5
#: Quality flag bits.
FLAG_STALE = 1  # gaps: grid points without a recent frame
FLAG_CHAINS = 2  # frames with fewer transmit/receive chains than the profile
FLAG_SHAPE = 4  # frames with other subcarriers than the profile (skipped)
FLAG_NONFINITE = 8  # frames with NaN/inf CSI (skipped)
FLAG_ZERO = 16  # frames whose CSI is all zero (skipped)
FLAG_NO_CLOCK = 32  # timestamps do not advance; frame index at the nominal rate used
FLAG_NO_ROUTER = 64  # fewer routers than the spec (missing ones are zeros)
FLAG_BAND = 128  # frames with other subcarrier indices than the profile (used, quality halved)
FLAG_NAMES = {
    FLAG_STALE: "stale",
    FLAG_CHAINS: "missing-chains",
    FLAG_SHAPE: "shape",
    FLAG_NONFINITE: "non-finite",
    FLAG_ZERO: "all-zero",
    FLAG_NO_CLOCK: "no-clock",
    FLAG_NO_ROUTER: "missing-router",
    FLAG_BAND: "other-band",
}


def _dsp(name: str):
    """``wdp.dsp.<name>`` (numba), or the numpy reference while the kernel is not there."""
    fn = getattr(wdp.dsp, name, None)
    if fn is None:
        fn = getattr(wdp.dsp.reference, name, None)
    if fn is None:
        raise RuntimeError(f"wdp.dsp provides no {name}()")
    return fn


DSP_FUNCTIONS = (
    "normalize_amplitude",
    "csi_ratio",
    "sanitize_phase",
    "hampel",
    "remove_static",
    "doppler_spectrum",
    "motion_energy",
)


def implementation_digest() -> str:
    """sha256 of the code that computes features (this module and the DSP modules its
    functions come from): data caches are keyed by it, so new code never reads stale
    features."""
    import hashlib
    import inspect
    import sys

    # portable's math and the scalar functions the kernels inline count too
    files = {Path(__file__), Path(portable.__file__), Path(portable.scalar.__file__)}
    for name in DSP_FUNCTIONS:
        fn = _dsp(name)
        fn = getattr(fn, "py_func", fn)
        module = sys.modules.get(getattr(fn, "__module__", ""), None)
        src = inspect.getsourcefile(module) if module is not None else None
        if src:
            files.add(Path(src))
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@attrs.frozen(slots=True)
class FeatureSpec:
    """What a model's input is: hardware layout, timing and feature sizes.

    Stored in the model file; features are only comparable between equal specs.
    """

    profile: str
    n_tx: int
    n_rx: int
    subcarriers: tuple[int, ...] = attrs.field(converter=lambda v: tuple(int(x) for x in v))
    valid: tuple[bool, ...] = attrs.field(converter=lambda v: tuple(bool(x) for x in v))
    n_routers: int = 1
    rate_hz: float = 100.0
    window: int = 50
    hop: int = 10
    n_groups: int = 15
    doppler_bins: int = 10
    static_alpha: float = 0.05
    version: int = FEATURE_VERSION

    def __attrs_post_init__(self) -> None:
        if len(self.subcarriers) != len(self.valid):
            raise ValueError("feature spec: subcarriers and valid differ in length")
        if sum(self.valid) < max(self.n_groups, 2):
            raise ValueError("feature spec: fewer valid bins than subcarrier groups")
        if self.window < 4 or self.hop < 1 or self.n_routers < 1:
            raise ValueError("feature spec: window >= 4, hop >= 1 and n_routers >= 1 needed")

    @classmethod
    def for_profile(cls, name: str, **kw) -> FeatureSpec:
        """The spec of a simulator hardware profile (intel5300, esp32, nexmon)."""
        from wdp.sim.profiles import get_profile

        p = get_profile(name)
        return cls(name, p.n_tx, p.n_rx, p.subcarriers.tolist(), p.occupied.tolist(), **kw)

    @classmethod
    def for_batch(cls, batch: FrameBatch, **kw) -> FeatureSpec:
        """A spec for hardware without a simulator profile: its first frame's layout,
        every bin that is not zero in that frame counted as valid."""
        t, r, s = (int(v) for v in batch.shape[0])
        sub = batch.subcarriers[0, :s]
        valid = (batch.csi[0, :t, :r, :s] != 0).any(axis=(0, 1))
        if valid.sum() < kw.get("n_groups", 15):
            valid = np.ones(s, bool)
        return cls(batch.hw_format, t, r, sub.tolist(), valid.tolist(), **kw)

    @property
    def n_pairs(self) -> int:
        return self.n_tx * self.n_rx

    @property
    def n_phase(self) -> int:
        return self.n_tx * (self.n_rx - 1) if self.n_rx >= 2 else self.n_tx

    @property
    def router_length(self) -> int:
        g = self.n_groups
        return (
            2 * self.n_pairs * g
            + 3 * self.n_phase * g
            + self.doppler_bins
            + 1
            + 2 * len(_tx_pairs(self)) * max(self.n_rx - 1, 0)
            + 2
            + 2 * self.n_rx
            + 1
            + geometry_length(self.n_pairs)
        )

    @property
    def length(self) -> int:
        return self.n_routers * self.router_length

    @property
    def window_s(self) -> float:
        return self.window / self.rate_hz

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["subcarriers"] = list(self.subcarriers)
        d["valid"] = list(self.valid)
        d["length"] = self.length
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSpec:
        d = dict(d)
        length = d.pop("length", None)
        spec = cls(**d)
        if length is not None and length != spec.length:
            raise ValueError(f"feature length {length} does not match the spec ({spec.length})")
        return spec


@attrs.frozen(slots=True, eq=False)
class Features:
    """Feature rows of windows: ``x`` float32 [K, F], ``quality`` [K] in 0..1, ``flags``
    int [K] (``FLAG_*`` bits), ``end_ns``/``center_ns`` [K] the windows' times."""

    x: np.ndarray
    quality: np.ndarray
    flags: np.ndarray
    end_ns: np.ndarray
    center_ns: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


def flag_names(flags: int) -> list[str]:
    return [name for bit, name in FLAG_NAMES.items() if flags & bit]


# --- per-frame preparation -----------------------------------------------------------


@attrs.frozen(slots=True, eq=False)
class _Prepared:
    """One router's frames conformed to the spec and processed per frame."""

    time_ns: np.ndarray  # [M] usable frames only
    amp: np.ndarray  # [M, P, Sv] float32
    phasor: np.ndarray  # [M, Q, Sv] complex64 (unit or ratio)
    power_db: np.ndarray  # [M, R]
    chains: np.ndarray  # [M] fraction of expected chain pairs present
    flags: int
    clean: np.ndarray  # [M, P, Sv] complex64: per-packet phase, delay and gain removed


def _groups(n: int, g: int) -> np.ndarray:
    """Group index of each of n bins: g contiguous nearly equal groups."""
    out = np.empty(n, np.int64)
    for k, part in enumerate(np.array_split(np.arange(n), g)):
        out[part] = k
    return out


def _prepare(batch: FrameBatch, spec: FeatureSpec, times: np.ndarray) -> _Prepared:
    n = len(batch)
    t_s, r_s, s_s = spec.n_tx, spec.n_rx, len(spec.subcarriers)
    shape = batch.shape.astype(np.int64)
    flags = 0
    # A frame must have the profile's number of subcarriers (others are skipped); with
    # other indices (e.g. a 20 MHz Intel capture for a 40 MHz profile) it is used, bin by
    # bin, but flagged and its quality halved.
    s_b = batch.csi.shape[3]
    same = shape[:, 2] == s_s
    if not same.all():
        flags |= FLAG_SHAPE
    band = np.ones(n, bool)
    if s_b >= s_s:
        band = np.all(batch.subcarriers[:, :s_s] == np.asarray(spec.subcarriers)[None], axis=1)
    if np.any(same & ~band):
        flags |= FLAG_BAND
    csi = np.zeros((n, t_s, r_s, s_s), np.complex64)
    tt, rr = min(t_s, batch.csi.shape[1]), min(r_s, batch.csi.shape[2])
    ss = min(s_s, s_b)
    csi[:, :tt, :rr, :ss] = batch.csi[:, :tt, :rr, :ss]
    # Chains this frame really has (zero-padded ones are missing).
    have_t = np.minimum(shape[:, 0], t_s)
    have_r = np.minimum(shape[:, 1], r_s)
    chains = (have_t * have_r) / float(t_s * r_s) * np.where(band, 1.0, 0.5)
    if np.any((have_t < t_s) | (have_r < r_s)):
        flags |= FLAG_CHAINS
    finite = np.isfinite(csi.real).all(axis=(1, 2, 3)) & np.isfinite(csi.imag).all(axis=(1, 2, 3))
    if not finite.all():
        flags |= FLAG_NONFINITE
        csi[~finite] = 0
    valid = np.asarray(spec.valid)
    nonzero = (csi[..., valid] != 0).any(axis=(1, 2, 3))
    if np.any(finite & ~nonzero):
        flags |= FLAG_ZERO
    usable = same & finite & nonzero & (chains > 0)
    csi = csi[usable]
    m = csi.shape[0]
    p, q, sv = spec.n_pairs, spec.n_phase, int(valid.sum())
    if m == 0:
        empty = np.zeros((0,), np.float32)
        return _Prepared(
            times[usable],
            np.zeros((0, p, sv), np.float32),
            np.zeros((0, q, sv), np.complex64),
            np.zeros((0, r_s), np.float32),
            empty,
            flags,
            np.zeros((0, p, sv), np.complex64),
        )
    with np.errstate(all="ignore"):
        amp = np.asarray(_dsp("normalize_amplitude")(csi, valid), dtype=np.float32)
        amp = _finite(amp[..., valid]).reshape(m, p, sv)
        if r_s >= 2:
            ratio = np.asarray(_dsp("csi_ratio")(csi, 0))[..., valid]
            phasor = _finite(ratio.reshape(m, q, sv).astype(np.complex64))
        else:
            sub = np.asarray(spec.subcarriers, np.int64)[valid]
            phase, _ = _dsp("sanitize_phase")(csi[..., valid], sub)
            phasor = cis(_finite(np.asarray(phase))).reshape(m, q, sv).astype(np.complex64)
        power = np.mean(abs2(csi[..., valid].astype(np.complex128)), axis=(1, 3))  # [M, R]
        power_db = _finite(10 * portable.log10(power + 1e-12)).astype(np.float32)
        sub = np.asarray(spec.subcarriers, np.int64)[valid]
        clean = _finite(sanitize_packets(csi[..., valid].reshape(m, p, sv), sub))
    return _Prepared(times[usable], amp, phasor, power_db, chains[usable], flags, clean)


def sanitize_packets(csi: np.ndarray, sub: np.ndarray) -> np.ndarray:
    """CSI [M, P, S] with each packet's common phase, timing slope and gain removed.

    The radio turns a whole packet by one phase and its subcarriers by a slope (the
    timing offset), and scales it (the AGC). The static room dominates every packet, so
    the slope and phase fitted to the packet's sum over chains are the radio's plus the
    room's (constant); removing them leaves packets that differ only by what moves. The
    slope is the phase of the product of neighbouring bins (the most common bin step
    only), per index; the phase that of the slope-corrected sum; the gain its RMS.
    """
    csi = np.asarray(csi, np.complex128)
    m = csi.shape[0]
    if m == 0:
        return csi.astype(np.complex64)
    sub = np.asarray(sub, np.float64)
    c = csi.sum(axis=1)  # [M, S]
    step = np.diff(sub)
    if step.size:
        vals, counts = np.unique(step, return_counts=True)
        d = float(vals[counts.argmax()])
        use = step == d
        lag = cmul_conj(c[:, 1:], c[:, :-1])[:, use].sum(axis=1)
        slope = angle(lag) / d
    else:
        slope = np.zeros(m)
    rot = cis(-(slope[:, None] * sub[None, :]))  # [M, S]
    theta = angle(cmul(c, rot).sum(axis=1))
    rot = cmul(rot, cis(-theta)[:, None])
    rms = np.sqrt(np.mean(abs2(csi), axis=(1, 2)))
    out = cmul(csi, rot[:, None, :]) / np.maximum(rms, 1e-12)[:, None, None]
    return out.astype(np.complex64)


def _finite(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


# --- windows -------------------------------------------------------------------------


def _clock(batch: FrameBatch, spec: FeatureSpec) -> tuple[np.ndarray, int]:
    """The frames' times (ns); frame index at the nominal rate when the clock is stuck."""
    t = batch.timestamp_ns.astype(np.int64)
    if len(t) >= 2 and (t[-1] <= t[0] or np.any(np.diff(t) < 0)):
        period = int(round(1e9 / spec.rate_hz))
        return t[0] + np.arange(len(t), dtype=np.int64) * period, FLAG_NO_CLOCK
    return t, 0


def window_ends(batches: Sequence[FrameBatch | None], spec: FeatureSpec, hop: int | None = None):
    """End times (ns) of the windows that fit the batches: on the spec's grid (multiples of
    the grid period, so windows of any batch split line up), every ``hop`` grid points,
    from the first full window to the last frame."""
    times = [_clock(b, spec)[0] for b in batches if b is not None and len(b)]
    if not times:
        return np.zeros(0, np.int64)
    period = 1e9 / spec.rate_hz
    start = max(int(t[0]) for t in times)
    stop = max(int(t[-1]) for t in times)
    k0 = math.ceil(start / period) + spec.window - 1
    k1 = math.floor(stop / period)
    if k1 < k0:  # shorter than a window: one window at the end (its quality says so)
        k0 = k1
    ks = np.arange(k0, k1 + 1, hop or spec.hop, dtype=np.int64)
    return np.round(ks * period).astype(np.int64)


def _router_features(prep: _Prepared, ends: np.ndarray, spec: FeatureSpec):
    """Features [K, router_length] and quality [K] of one router's prepared frames."""
    k_n, w = ends.shape[0], spec.window
    period = 1e9 / spec.rate_hz
    out = np.zeros((k_n, spec.router_length), np.float32)
    quality = np.zeros(k_n, np.float64)
    flags = np.zeros(k_n, np.int64)
    times = prep.time_ns
    if times.shape[0] == 0:
        flags[:] = FLAG_STALE
        return out, quality, flags
    grid = ends[:, None] - np.round((w - 1 - np.arange(w))[None, :] * period).astype(np.int64)
    idx = np.searchsorted(times, grid, side="right") - 1  # latest frame at or before
    before = idx < 0
    idx = np.maximum(idx, 0)
    age = np.where(before, np.inf, (grid - times[idx]).astype(np.float64))
    fresh = age <= STALE_PERIODS * period
    g = _groups(prep.amp.shape[2], spec.n_groups)
    counts = np.bincount(g, minlength=spec.n_groups).astype(np.float64)
    hampel = _dsp("hampel")
    remove_static = _dsp("remove_static")
    doppler = _dsp("doppler_spectrum")
    motion = _dsp("motion_energy")
    for k in range(k_n):
        sel = idx[k]
        f_fresh = float(fresh[k].mean())
        chain = float(prep.chains[sel].mean())
        quality[k] = f_fresh * chain
        if f_fresh < 1:
            flags[k] |= FLAG_STALE
        if not fresh[k].any():
            continue
        with np.errstate(all="ignore"):
            out[k] = _window(prep, sel, spec, g, counts, hampel, remove_static, doppler, motion)
        out[k, -1] = quality[k]
    return out, quality, flags


def _group_mean(x: np.ndarray, g: np.ndarray, counts: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean over each group of the last axis: [..., S] -> [..., G]."""
    flat = x.reshape(-1, x.shape[-1])
    out = np.zeros((flat.shape[0], n_groups))
    for j in range(n_groups):
        out[:, j] = flat[:, g == j].sum(axis=1)
    return (out / counts[None, :]).reshape(x.shape[:-1] + (n_groups,))


def _tx_pairs(spec: FeatureSpec) -> list[tuple[int, int]]:
    if spec.n_rx < 2:
        return []
    return [(a, b) for a in range(spec.n_tx) for b in range(a + 1, spec.n_tx)]


def _coherence(dynamic: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Complex coherence of the moving part between transmit chains, per receive ratio.

    The ratios of one receive chain share its constant phase, so the phase between
    their moving parts is the moving reflector's direction of departure, free of it.
    """
    pairs = _tx_pairs(spec)
    if not pairs:
        return np.zeros(0)
    w, q, sv = dynamic.shape
    d = dynamic.reshape(w, spec.n_tx, spec.n_rx - 1, sv)
    out = []
    for r in range(spec.n_rx - 1):
        for a, b in pairs:
            da, db = d[:, a, r], d[:, b, r]
            c = np.sum(cmul_conj(da, db))
            norm = np.sqrt(np.sum(abs2(da)) * np.sum(abs2(db)))
            c = c / norm if norm > 0 else 0j
            out += [c.real, c.imag]
    return np.asarray(out)


#: Bin lags of the moving part's correlation over frequency (its delay relative to the
#: static channel's), and the subcarrier groups of its power profile.
GEO_LAGS = 4
GEO_GROUPS = 6


def geometry_length(n_pairs: int) -> int:
    return 1 + n_pairs + n_pairs * (n_pairs - 1) + 2 * GEO_LAGS + GEO_GROUPS


def geometry(clean: np.ndarray) -> np.ndarray:
    """Where the moving part comes from, from sanitized packets [W, P, S] of one window.

    ``X = D / S``: the moving part D (packet minus the window mean S) relative to the
    static channel of its own chain pair and bin. Dividing by S cancels what the chain
    pair's oscillators and the packet's residual delay put on both, so what is left is
    the moving reflector's path relative to the static one: its power, how it shares
    over chain pairs and their normalized covariance (angles of arrival and departure
    relative to the direct path), its correlation over frequency lags (excess delay)
    and its power over subcarrier groups.
    """
    w, p, s = clean.shape
    z = clean.astype(np.complex128)
    static = z.mean(axis=0)  # [P, S]
    dyn = z - static[None]
    ps = abs2(static)
    x = cmul_conj(dyn, static[None]) / (ps + 0.05 * ps.mean() + 1e-12)[None]
    # What is left of each packet's phase, delay and gain error (their estimates include
    # the moving part) is the same for every chain pair: a constant and a slope over the
    # bins. Project both out per packet so that only the reflector's structure remains.
    kc = np.arange(s, dtype=np.float64) - (s - 1) / 2.0
    x = x - x.mean(axis=(1, 2), keepdims=True)
    if s > 1:
        slope = (x * kc[None, None, :]).mean(axis=(1, 2), keepdims=True) / np.mean(kc * kc)
        x = x - slope * kc[None, None, :]
    pw = abs2(x)
    total = float(pw.mean())
    if not total > 0:
        return np.zeros(geometry_length(p))
    diag = pw.mean(axis=(0, 2))  # [P]
    xp = x.transpose(1, 0, 2).reshape(p, w * s)
    cov = portable.inner_conj(xp, xp) / (w * s)
    nrm = np.sqrt(np.outer(diag, diag)) + 1e-12
    iu = np.triu_indices(p, 1)
    coh = (cov / nrm)[iu]
    lags = []
    for m in range(1, GEO_LAGS + 1):
        r = cmul_conj(x[:, :, m:], x[:, :, :-m]).mean() / total if m < s else 0j
        lags += [r.real, r.imag]
    groups = np.array([v.mean() for v in np.array_split(pw.mean(axis=(0, 1)), GEO_GROUPS)])
    return np.concatenate(
        [
            [portable.log(total + 1e-12)],
            portable.log(diag / total + 1e-6),
            coh.real,
            coh.imag,
            lags,
            portable.log(groups / total + 1e-6),
        ]
    )


def _window(prep, sel, spec, g, counts, hampel, remove_static, doppler, motion) -> np.ndarray:
    w, ng = spec.window, spec.n_groups
    amp = prep.amp[sel]  # [W, P, Sv]
    p, sv = amp.shape[1], amp.shape[2]
    filtered, _ = hampel(amp.reshape(w, p * sv).astype(np.float64), 5, 3.0)
    amp = _finite(np.asarray(filtered)).reshape(w, p, sv)
    a_mean = _group_mean(amp.mean(axis=0), g, counts, ng)
    a_std = portable.log(_group_mean(amp.std(axis=0), g, counts, ng) + 1e-3)
    z = prep.phasor[sel].astype(np.complex128)  # [W, Q, Sv]
    q = z.shape[1]
    m = z.mean(axis=0)  # [Q, Sv] time-mean phasor
    unit = m / np.maximum(cabs(m), 1e-12)
    dev = angle(cmul_conj(z, unit[None]))  # [W, Q, Sv] phase around the mean
    # Each receive chain has its own constant phase (its oscillator path, new at every
    # start of the radio), so a ratio channel's absolute phase says nothing; its phase
    # relative to the channel's mean over the subcarriers does.
    # With ratios, the chains of one receive chain share its phase whatever the transmit
    # chain: rotating them together keeps the phase between transmit chains (the
    # direction of departure) and cancels the receive chain's constant.
    shared = spec.n_tx if spec.n_rx >= 2 else 1
    u = unit.reshape(shared, q // shared, -1)
    common = u.sum(axis=(0, 2), keepdims=True)
    unit = (cmul_conj(u, common) / np.maximum(cabs(common), 1e-12)).reshape(q, -1)
    p_cos = _group_mean(unit.real, g, counts, ng)
    p_sin = _group_mean(unit.imag, g, counts, ng)
    p_std = portable.log(_group_mean(dev.std(axis=0), g, counts, ng) + 1e-3)
    dynamic, _ = remove_static(z.reshape(w, q * sv), spec.static_alpha)
    dynamic = _finite(np.asarray(dynamic))
    _, power = doppler(dynamic, spec.rate_hz, w, w)
    coherence = _coherence(dynamic.reshape(w, q, sv), spec)
    spectrum = _finite(np.asarray(power, dtype=np.float64)).reshape(-1, np.shape(power)[-1])[0]
    bands = np.array([b.sum() for b in np.array_split(spectrum, spec.doppler_bins)])
    total = float(bands.sum())
    d_share = (
        portable.log(bands / total + 1e-6)
        if total > 0
        else np.full(spec.doppler_bins, portable.log(1e-6))
    )
    energy = _finite(np.asarray(motion(amp.reshape(w, p * sv).astype(np.float64)), np.float64))
    pw = prep.power_db[sel]
    parts = [
        a_mean.ravel(),
        a_std.ravel(),
        p_cos.ravel(),
        p_sin.ravel(),
        p_std.ravel(),
        d_share,
        [portable.log(total + 1e-12)],
        coherence,
        [portable.log(energy.mean() + 1e-9), portable.log(energy.max() + 1e-9)],
        pw.mean(axis=0) / 10.0,
        pw.std(axis=0),
        geometry(prep.clean[sel]),
        [0.0],  # quality, filled by the caller
    ]
    return _finite(np.concatenate([np.asarray(v, np.float64).ravel() for v in parts]))


def extract(
    batches: Sequence[FrameBatch | None],
    spec: FeatureSpec,
    ends: np.ndarray | None = None,
) -> Features:
    """Features of the windows ending at ``ends`` (ns; default ``window_ends``).

    ``batches`` holds one router's frames each, in router-id order (None for a router
    without frames); more routers than the spec are ignored, fewer are zeros.
    """
    batches = list(batches)[: spec.n_routers]
    if ends is None:
        ends = window_ends(batches, spec)
    ends = np.asarray(ends, np.int64)
    k_n = ends.shape[0]
    x = np.zeros((k_n, spec.length), np.float32)
    quality = np.zeros((k_n, spec.n_routers))
    flags = np.zeros(k_n, np.int64)
    if len(batches) < spec.n_routers:
        flags |= FLAG_NO_ROUTER
    n = spec.router_length
    for r, batch in enumerate(batches):
        if batch is None or len(batch) == 0:
            flags |= FLAG_NO_ROUTER
            continue
        times, clock_flag = _clock(batch, spec)
        prep = _prepare(batch, spec, times)
        feats, q, f = _router_features(prep, ends, spec)
        x[:, r * n : (r + 1) * n] = feats
        quality[:, r] = q
        flags |= f | prep.flags | clock_flag
    center = ends - int(round((spec.window / 2) * 1e9 / spec.rate_hz))
    return Features(_finite(x), quality.mean(axis=1), flags, ends, center)
