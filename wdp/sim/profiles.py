"""Hardware profiles: what a simulated router measures and the bytes it sends.

A profile knows its subcarriers (the true indices, ascending, as frames carry them),
their spacing, the centre frequency, bandwidth, chain counts, which bins the
transmitter fills, and how the hardware turns a complex channel into its datagram. The
datagram goes through the real live parser (``wdp.capture.formats.make_parser``), so a
simulated frame is exactly what that parser makes of such hardware's bytes, quantisation
included:

- ``intel5300``: Linux 802.11n CSI Tool, 3 x 3, the 30 grouped subcarriers of 40 MHz
  (Ng = 4: -58, -54 .. -2, 2 .. 58) on channel 38 (5190 MHz, HT40). As the real card
  does (its raw CSI power moves by 0.4 dB while its RSSI moves by 2 dB in the real 1 kHz
  capture), the raw CSI is normalised per packet (the strongest chain at ``raw_level``
  RMS) and rounded to signed 8-bit parts; the ``agc`` byte is the gain in whole dB and
  the RSSI bytes say each chain's power, so the reader's scaled CSI (``get_scaled_csi``)
  is the channel times one real positive factor per packet. That factor follows the
  packet's power only where thermal noise dominates get_scaled_csi's correction (weak
  packets); it charges the 8-bit quantisation error against strong ones, which saturate.
  The effective transmit power (-23 dBm, RSSI near -73 dBm in a 5 m room) puts the
  simulated link where the real capture sits in that balance (quantisation term about
  1.7 times the thermal one). Noise byte -127 (not measured), as the tool usually logs.
  Timing offsets are drawn in 50..250 ns, not 50..400 ns: the 30 groups are 1.25 MHz
  apart, so a delay is only unambiguous within +-400 ns, and the channel's own delay
  (tens of ns) and multipath ripple come on top. (The real 20 MHz capture's offset is
  steadier: 194..226 ns, 2nd..98th percentile.)
- ``esp32``: ESP32-CSI-Tool, 1 x 1, legacy LLTF, 64 bins -32..31 on channel 6 (2437 MHz).
  Bins 1..26 either side carry signal; the DC bin carries only noise; the guard bins
  (|k| >= 27) are reported as 0, as the hardware does. (imag, real) int8 pairs, one
  ``CSI_DATA`` line per packet (``esp32.encode_row``). The ESP32 aligns its timing
  itself: the real capture's phase slopes stand for -5..+1 ns, so its timing offsets
  are drawn in 0..5 ns; its gain jitter is 1.5 dB (the real capture's CSI power moves
  by 1.5 dB from packet to packet, uncorrelated with its RSSI).
- ``nexmon``: nexmon_csi on a BCM43455c0 (Raspberry Pi), 1 x 1, 256 bins -128..127 of
  an 80 MHz channel 42 (5210 MHz). VHT80 fills 2..122 either side; DC and guard bins carry
  only noise, as on the hardware. int16 (real, imag) pairs in FFT order.

ESP32 and nexmon report no gain: their AGC is modelled as settled on the room's power
(``reference_power``, the channel's mean |H|^2) for the whole run, so the reported CSI
is a fixed gain times the (impaired) channel; the per-packet gain error is the
impairments' AGC jitter. Radio power: the transmitter's ``tx_power_dbm`` times the
path gain |H|^2 gives the RSSI written into the headers.

The SNR and gain-jitter defaults are calibrated on the real captures
(tests/test_sim_realism.py): the sanitized phase spread over time (Intel 0.036 rad,
ESP32 0.021 rad) sets the SNR, the white part of the packet-to-packet power changes the
gain jitter (ESP32 1.5 dB, nexmon 0.2 dB: 0.5 dB, the smallest the range allows).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from wdp.capture.formats import esp32, intel5300, make_parser, nexmon
from wdp.capture.packets import PacketParser
from wdp.sim.channel import DEFAULT_REFLECTION_ORDER, Antennas, C, Channel
from wdp.sim.impairments import ImpairmentConfig
from wdp.sim.room import Room

#: 802.11 OFDM subcarrier spacing (20/40/80 MHz channels alike).
SPACING_HZ = 312_500.0


def _ro(value: object, dtype: type) -> np.ndarray:
    arr = np.array(value, dtype=dtype)
    arr.flags.writeable = False
    return arr


@attrs.frozen(slots=True, eq=False)
class Profile:
    """One kind of CSI hardware (see the module docstring for the three there are)."""

    name: str  # the live parser's format= name, also the frames' hw_format
    n_tx: int
    n_rx: int
    subcarriers: np.ndarray = attrs.field(converter=lambda v: _ro(v, np.int16))
    occupied: np.ndarray = attrs.field(converter=lambda v: _ro(v, bool))
    center_freq_hz: float
    bandwidth_mhz: float
    channel: int
    spacing_hz: float = SPACING_HZ
    #: Effective transmit power, dBm (EIRP less the receiver's antenna and front-end
    #: losses): sets the RSSI the header reports. The profiles' values put a 5 m room
    #: near the real captures' -55..-65 dBm.
    tx_power_dbm: float = 0.0
    #: Noise floor the header reports (where it has one), dBm.
    noise_floor_dbm: float = -95.0
    #: Typical impairments of this hardware (see ``impairments``).
    timing_offset_s: tuple[float, float] = (50e-9, 400e-9)
    snr_db: float = 25.0
    agc_sigma_db: float = 1.0
    #: Raw CSI level the AGC aims at (RMS of one element, in the hardware's integers).
    raw_level: float = 16.0
    #: A packet rate real setups of this hardware use, Hz.
    rate_hz: float = 100.0

    def __attrs_post_init__(self) -> None:
        if self.subcarriers.ndim != 1 or np.any(np.diff(self.subcarriers) <= 0):
            raise ValueError("profile subcarriers must be strictly ascending")
        if self.occupied.shape != self.subcarriers.shape:
            raise ValueError("profile occupied mask must match its subcarriers")

    @property
    def n_sub(self) -> int:
        return int(self.subcarriers.shape[0])

    @property
    def frequencies_hz(self) -> np.ndarray:
        """Absolute frequency of every subcarrier: centre + index * spacing."""
        return self.center_freq_hz + self.subcarriers.astype(np.float64) * self.spacing_hz

    @property
    def wavelength(self) -> float:
        return C / self.center_freq_hz

    def impairments(self, **overrides) -> ImpairmentConfig:
        """This hardware's typical impairments; keyword arguments override fields."""
        fields = {
            "timing_offset_s": self.timing_offset_s,
            "snr_db": self.snr_db,
            "agc_sigma_db": self.agc_sigma_db,
        }
        fields.update(overrides)
        return ImpairmentConfig(**fields)

    def antennas(
        self, tx_center: object, rx_center: object, axis: object = (1.0, 0.0, 0.0)
    ) -> Antennas:
        """Transmit and receive arrays of this hardware at half-wavelength spacing."""
        return Antennas.arrays(tx_center, rx_center, self.n_tx, self.n_rx, self.wavelength, axis)

    def make_channel(
        self,
        room: Room,
        tx_center: object,
        rx_center: object,
        axis: object = (1.0, 0.0, 0.0),
        *,
        reflection_order: int = DEFAULT_REFLECTION_ORDER,
    ) -> Channel:
        """The channel model of one router of this kind in ``room``."""
        return Channel.build(
            room,
            self.antennas(tx_center, rx_center, axis),
            self.frequencies_hz,
            center_freq_hz=self.center_freq_hz,
            occupied=self.occupied,
            reflection_order=reflection_order,
        )

    def parser(self, router_id: str, environment_id: str) -> PacketParser:
        """The real live parser for this hardware's datagrams."""
        return make_parser(self.name, router_id, environment_id)

    def rssi_dbm(self, csi: np.ndarray) -> np.ndarray:
        """Received power per receive chain, dBm: transmit power times the mean path gain
        over the filled subcarriers (summed over transmit chains)."""
        h = np.asarray(csi)[..., self.occupied]
        power = np.sum(np.mean(np.abs(h) ** 2, axis=-1), axis=0)  # [R]
        with np.errstate(divide="ignore"):
            return self.tx_power_dbm + 10 * np.log10(np.maximum(power, 1e-30))

    def encode(
        self,
        csi: np.ndarray,
        *,
        timestamp_ns: int,
        sequence: int,
        reference_power: float | None = None,
    ) -> list[bytes]:
        """The datagram(s) this hardware sends for one packet of channel ``csi``.

        ``csi`` is complex [n_tx, n_rx, n_sub] in path-gain units (impairments
        applied). ``reference_power`` is the mean |H|^2 a gain-less AGC (ESP32, nexmon)
        has settled on; None uses this packet's own power.
        """
        h = np.asarray(csi)
        if h.shape != (self.n_tx, self.n_rx, self.n_sub):
            raise ValueError(
                f"{self.name} csi must be [{self.n_tx}, {self.n_rx}, {self.n_sub}], got {h.shape}"
            )
        return _ENCODERS[self.name](self, h, timestamp_ns, sequence, reference_power)


def _fixed_gain(profile: Profile, h: np.ndarray, reference_power: float | None) -> float:
    ref = reference_power
    if ref is None:
        ref = float(np.mean(np.abs(h[..., profile.occupied]) ** 2))
    if not ref > 0:
        return 0.0
    return profile.raw_level / math.sqrt(ref)


def _quantise(values: np.ndarray, limit: int) -> np.ndarray:
    """Round real and imaginary parts to integers, saturating at +-limit like an ADC."""
    re = np.clip(np.round(values.real), -limit - 1, limit)
    im = np.clip(np.round(values.imag), -limit - 1, limit)
    return re + 1j * im


def _encode_intel(
    p: Profile, h: np.ndarray, timestamp_ns: int, sequence: int, _ref: float | None
) -> list[bytes]:
    rssi = p.rssi_dbm(h)  # [R]
    best = int(np.argmax(rssi))
    # The gain setting in whole dB: a -71 dBm packet gets 63, as in real CSI Tool logs.
    agc = int(np.clip(round(-8.0 - float(rssi[best])), 0, 127))
    # The raw CSI comes out normalised per packet (its power moves by 0.4 dB in the real
    # 1 kHz capture while the RSSI moves by 2 dB): the strongest chain at raw_level RMS.
    level = math.sqrt(float(np.mean(np.abs(h[:, best]) ** 2)))
    raw = _quantise(h * (p.raw_level / level if level > 0 else 0.0), 127)  # [T, R, S]
    rssi_bytes = np.clip(np.round(rssi + 44.0 + agc), 1, 255).astype(int)
    rssi3 = tuple(int(v) for v in rssi_bytes) + (0,) * (3 - p.n_rx)
    mcs = 8 * (p.n_tx - 1)  # an n_tx-stream MCS: the sounding uses every chain
    rate = 0x100 | 0x800 | mcs  # HT, HT40
    return [
        intel5300.encode_bfee(
            np.transpose(raw, (2, 1, 0)),  # [30, Nrx, Ntx]
            timestamp_low=(timestamp_ns // 1000) & 0xFFFFFFFF,
            bfee_count=sequence & 0xFFFF,
            rssi=rssi3,  # type: ignore[arg-type]
            noise=-127,
            agc=agc,
            rate=rate,
        )
    ]


#: ESP-IDF's legacy LLTF buffer order (0..31, -32..-1).
_ESP32_ORDER = esp32.LAYOUTS[(0, False, False, False)][0]


def _encode_esp32(
    p: Profile, h: np.ndarray, timestamp_ns: int, sequence: int, ref: float | None
) -> list[bytes]:
    values = _quantise(_fixed_gain(p, h, ref) * h[0, 0], 127)
    guard = np.abs(p.subcarriers) > 26  # the hardware reports 0 there
    values[guard] = 0
    buffer = values[np.searchsorted(p.subcarriers, _ESP32_ORDER)]
    rssi = int(np.clip(round(float(p.rssi_dbm(h)[0])), -128, 0))
    return [
        esp32.encode_row(
            buffer,
            rssi=rssi,
            noise_floor=int(round(p.noise_floor_dbm)),
            channel=p.channel,
            local_timestamp=(timestamp_ns // 1000) & 0xFFFFFFFF,
            real_timestamp=timestamp_ns / 1e9,
        )
    ]


def _chanspec(channel: int, bandwidth_mhz: float, center_mhz: float) -> int:
    band = 0xC000 if center_mhz > 5000 else 0x0000
    bw = {20.0: 0x1000, 40.0: 0x1800, 80.0: 0x2000, 160.0: 0x2800}[float(bandwidth_mhz)]
    return band | bw | (channel & 0xFF)


def _encode_nexmon(
    p: Profile, h: np.ndarray, timestamp_ns: int, sequence: int, ref: float | None
) -> list[bytes]:
    values = _quantise(_fixed_gain(p, h, ref) * h, 32767)  # [T, R, S] ascending
    fft = np.fft.ifftshift(values, axes=-1)  # -> FFT order 0..n/2-1, -n/2..-1
    rssi = np.clip(np.round(p.rssi_dbm(h)), -128, 0).astype(int)
    chanspec = _chanspec(p.channel, p.bandwidth_mhz, p.center_freq_hz / 1e6)
    return [
        nexmon.encode_payload(
            fft[t, r],
            rssi=int(rssi[r]),
            sequence=sequence & 0xFFFF,
            core=r,
            stream=t,
            chanspec=chanspec,
            chip=0x0065,
        )
        for t in range(p.n_tx)
        for r in range(p.n_rx)
    ]


_ENCODERS = {"intel5300": _encode_intel, "esp32": _encode_esp32, "nexmon": _encode_nexmon}

_K_ESP = np.arange(-32, 32)
_K_NEX = np.arange(-128, 128)

PROFILES: dict[str, Profile] = {
    "intel5300": Profile(
        name="intel5300",
        n_tx=3,
        n_rx=3,
        subcarriers=intel5300.SUBCARRIERS_40,
        occupied=np.ones(30, bool),
        center_freq_hz=5190e6,
        bandwidth_mhz=40.0,
        channel=38,
        tx_power_dbm=-23.0,
        noise_floor_dbm=-92.0,
        timing_offset_s=(50e-9, 250e-9),
        snr_db=25.0,
        agc_sigma_db=1.0,
        raw_level=12.0,
        rate_hz=1000.0,
    ),
    "esp32": Profile(
        name="esp32",
        n_tx=1,
        n_rx=1,
        subcarriers=_K_ESP,
        occupied=(np.abs(_K_ESP) >= 1) & (np.abs(_K_ESP) <= 26),
        center_freq_hz=2437e6,
        bandwidth_mhz=20.0,
        channel=6,
        tx_power_dbm=-5.0,
        noise_floor_dbm=-95.0,
        timing_offset_s=(0.0, 5e-9),
        snr_db=32.0,
        agc_sigma_db=1.5,
        raw_level=20.0,
        rate_hz=100.0,
    ),
    "nexmon": Profile(
        name="nexmon",
        n_tx=1,
        n_rx=1,
        subcarriers=_K_NEX,
        occupied=(np.abs(_K_NEX) >= 2) & (np.abs(_K_NEX) <= 122),
        center_freq_hz=5210e6,
        bandwidth_mhz=80.0,
        channel=42,
        tx_power_dbm=0.0,
        noise_floor_dbm=-92.0,
        timing_offset_s=(50e-9, 400e-9),
        snr_db=28.0,
        agc_sigma_db=0.5,
        raw_level=1000.0,
        rate_hz=100.0,
    ),
}


def get_profile(name: str) -> Profile:
    """A profile by name; ValueError listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown hardware profile {name!r}: choose one of {', '.join(PROFILES)}"
        ) from None
