"""What real radios add to the channel: the reason raw CSI phase and amplitude look wild.

Per packet:
- common phase: the carrier frequency offset and PLL phase leave every packet with an
  arbitrary phase, uniform in [0, 2 pi), common to all subcarriers and chains;
- timing offset: packet detection starts sampling ``delta_t`` late (uniform in a range,
  50..400 ns by default), which turns subcarrier k by ``-2 pi k spacing delta_t``;
- gain jitter: the automatic gain control's per-packet error, log-normal (a normal
  number of dB, ``agc_sigma_db``), on signal and noise alike;
- thermal noise: complex Gaussian at ``snr_db`` below the reference channel power;
- timestamps jitter around the nominal schedule, and packets get lost.
Per router run: a constant phase per transmit and per receive chain (each chain's own
oscillator path), drawn once.

Randomness comes only from the ``np.random.Generator`` handed in. ``Radio`` spawns one
child stream per impairment from it, so each stream is consumed in packet order: the
same seed draws the same values whether packets are impaired one by one or in batches
(as long as ``reference_power`` is fixed, which it should be: the room's power). The
same seed and the same batching give bit-identical output; a different batching can
differ in the last bit (numpy's vectorised complex exp rounds by array length).

Use per router run: ``schedule`` the nominal packet times (jitter and loss; lost packets
leave gaps in ``index``, as hardware sequence numbers do), evaluate the channel at the
jittered times (so motion and Doppler follow the real sample times), then ``apply``.
Every impairment can be switched off, for tests; ``ImpairmentConfig.off()`` switches
all of them off.
"""

from __future__ import annotations

import math

import attrs
import numpy as np


def _range(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    if not (0.0 <= lo <= hi <= 10e-6):
        raise ValueError(f"timing offset range must satisfy 0 <= lo <= hi <= 10 us, got {value}")
    return (lo, hi)


def _check(config: ImpairmentConfig) -> None:
    if not (0.0 <= config.agc_sigma_db <= 6.0):
        raise ValueError(f"agc_sigma_db must be in [0, 6] dB, got {config.agc_sigma_db}")
    if config.snr_db is not None and not (-20.0 <= config.snr_db <= 80.0):
        raise ValueError(f"snr_db must be in [-20, 80] dB or None, got {config.snr_db}")
    if not (0.0 <= config.timing_jitter_s <= 1.0):
        raise ValueError(f"timing_jitter_s must be in [0, 1] s, got {config.timing_jitter_s}")
    if not (0.0 <= config.loss_probability < 1.0):
        raise ValueError(f"loss_probability must be in [0, 1), got {config.loss_probability}")


@attrs.frozen(slots=True)
class ImpairmentConfig:
    """Which impairments to apply, and how strong. Defaults are typical of real cards.

    ``timing_offset_s``: (lo, hi) seconds or None (off). ``agc_sigma_db``: 0 is off.
    ``snr_db``: None is off. ``timing_jitter_s``: standard deviation of a packet's time
    around its nominal slot (0 is off). ``loss_probability``: 0 is off.
    """

    common_phase: bool = True
    timing_offset_s: tuple[float, float] | None = attrs.field(
        default=(50e-9, 400e-9), converter=_range
    )
    chain_phase: bool = True
    agc_sigma_db: float = attrs.field(default=1.0, converter=float)
    snr_db: float | None = attrs.field(
        default=25.0, converter=lambda v: None if v is None else float(v)
    )
    timing_jitter_s: float = attrs.field(default=0.0, converter=float)
    loss_probability: float = attrs.field(default=0.0, converter=float)

    def __attrs_post_init__(self) -> None:
        _check(self)

    @classmethod
    def off(cls) -> ImpairmentConfig:
        """No impairment at all: the channel goes through untouched."""
        return cls(
            common_phase=False,
            timing_offset_s=None,
            chain_phase=False,
            agc_sigma_db=0.0,
            snr_db=None,
            timing_jitter_s=0.0,
            loss_probability=0.0,
        )


@attrs.frozen(slots=True, eq=False)
class Impaired:
    """An impaired batch and the per-packet values drawn for it (ground truth for tests)."""

    csi: np.ndarray  # complex128 [N, T, R, S]
    common_phase: np.ndarray  # float64 [N] radians
    timing_offset_s: np.ndarray  # float64 [N]
    gain_db: np.ndarray  # float64 [N]
    noise_power: float  # per element, in |H|^2 units (0 when off)


@attrs.frozen(slots=True, eq=False)
class Schedule:
    """Packet times after jitter and loss: ``times`` [M] float64 s (non-decreasing),
    ``index`` [M] int64 the nominal slot each packet came from (a lost packet leaves a
    gap, as hardware sequence numbers do)."""

    times: np.ndarray
    index: np.ndarray


_STREAMS = ("chain", "common", "timing", "gain", "noise", "jitter", "loss")


class Radio:
    """The impairments of one router for one run (holds the per-chain phases and the
    random streams). ``reference_power`` is the mean |H|^2 the SNR refers to; None means
    each batch's own mean power."""

    def __init__(
        self,
        config: ImpairmentConfig,
        rng: np.random.Generator,
        n_tx: int,
        n_rx: int,
        *,
        reference_power: float | None = None,
    ) -> None:
        if reference_power is not None and not (reference_power > 0):
            raise ValueError(f"reference_power must be positive, got {reference_power}")
        self.config = config
        self.reference_power = reference_power
        self._rng = dict(zip(_STREAMS, rng.spawn(len(_STREAMS)), strict=True))
        if config.chain_phase:
            g = self._rng["chain"]
            tx = g.uniform(0.0, 2 * np.pi, n_tx)
            rx = g.uniform(0.0, 2 * np.pi, n_rx)
            self.chain_phase = tx[:, None] + rx[None, :]
        else:
            self.chain_phase = np.zeros((n_tx, n_rx))
        self._last_time = -math.inf

    def schedule(self, nominal_times: np.ndarray) -> Schedule:
        """Jitter and thin a nominal packet schedule (call once per batch, in order)."""
        t = np.asarray(nominal_times, dtype=np.float64)
        cfg = self.config
        jitter = (
            self._rng["jitter"].normal(0.0, cfg.timing_jitter_s, t.shape)
            if cfg.timing_jitter_s > 0
            else np.zeros_like(t)
        )
        kept = (
            self._rng["loss"].random(t.shape) >= cfg.loss_probability
            if cfg.loss_probability > 0
            else np.ones(t.shape, bool)
        )
        # Packets leave in order: a jittered time never goes before the one before it.
        times = np.maximum.accumulate(np.concatenate(([self._last_time], t + jitter)))[1:]
        if times.shape[0]:
            self._last_time = float(times[-1])
        index = np.flatnonzero(kept).astype(np.int64)
        return Schedule(times=times[kept], index=index)

    def apply(self, h: np.ndarray, subcarriers: np.ndarray, spacing_hz: float) -> Impaired:
        """Impair a batch of channels h [N, T, R, S] over the given subcarrier indices."""
        h = np.asarray(h)
        if h.ndim != 4 or h.shape[1:3] != self.chain_phase.shape:
            raise ValueError(
                f"h must be [N, {self.chain_phase.shape[0]}, {self.chain_phase.shape[1]}, S], "
                f"got {h.shape}"
            )
        n, _, _, n_sub = h.shape
        k = np.asarray(subcarriers, dtype=np.float64)
        if k.shape != (n_sub,):
            raise ValueError(f"{k.shape[0]} subcarrier indices for {n_sub} subcarriers")
        cfg = self.config
        common = self._rng["common"].uniform(0.0, 2 * np.pi, n) if cfg.common_phase else np.zeros(n)
        if cfg.timing_offset_s is not None:
            delay = self._rng["timing"].uniform(*cfg.timing_offset_s, n)
        else:
            delay = np.zeros(n)
        gain_db = (
            self._rng["gain"].normal(0.0, cfg.agc_sigma_db, n)
            if cfg.agc_sigma_db > 0
            else np.zeros(n)
        )
        phase = (
            common[:, None, None, None]
            + self.chain_phase[None, :, :, None]
            - (2 * np.pi * spacing_hz) * delay[:, None, None, None] * k[None, None, None, :]
        )
        out = h * np.exp(1j * phase)
        noise_power = 0.0
        if cfg.snr_db is not None:
            ref = self.reference_power
            if ref is None:
                ref = float(np.mean(np.abs(h) ** 2)) if h.size else 0.0
            noise_power = ref / 10.0 ** (cfg.snr_db / 10.0)
            g = self._rng["noise"]
            noise = g.standard_normal(h.shape + (2,)) * math.sqrt(noise_power / 2)
            out += noise[..., 0] + 1j * noise[..., 1]
        out *= (10.0 ** (gain_db / 20.0))[:, None, None, None]
        return Impaired(
            csi=out,
            common_phase=common,
            timing_offset_s=delay,
            gain_db=gain_db,
            noise_power=noise_power,
        )
