"""The radio channel H(f): static paths of the room plus the paths over moving bodies.

Every path is a ray with a length ``d``, a delay ``tau = d / c`` and an amplitude; at
subcarrier frequency ``f`` it adds ``amplitude * exp(-j 2 pi f tau)``. Doppler is not
added anywhere: a scatterer that moves changes its path length between samples, and the
phase follows (``exp(-j 2 pi f d/c)`` turns by ``-2 pi (dd/dt) / lambda`` per second).

- Line of sight: amplitude ``lambda / (4 pi d)`` (free-space Friis, isotropic antennas).
- Wall, floor and ceiling reflections by the image method: the path from the
  transmitter's mirror image to the receiver, times the walls' amplitude reflection
  coefficients (one per bounce). First order is the 6 single bounces; by default the
  static part goes to third order (``DEFAULT_REFLECTION_ORDER``, 62 images): first
  order alone leaves the channel far flatter across the band than real rooms. In a box
  room every image is a valid specular path (Allen & Berkley): no visibility test.
- Point scatterers (furniture, static; body parts, moving) with radar cross-section
  ``sigma``: the bistatic radar equation's amplitude
  ``sqrt(sigma / (4 pi)) * lambda / (4 pi) / (d_tx * d_rx)``.
- Shadowing: a body between the antennas blocks part of the line of sight (single
  knife-edge diffraction per scatterer; see ``Channel``). Switchable.

Amplitudes use the centre wavelength (the band is narrow: 80 MHz at 5 GHz changes
lambda by under 1 %), delays use each subcarrier's own frequency, so the phase is exact.
Not modelled: shadowing of reflected paths, scatterer-wall double bounces, diffuse
scattering, antenna patterns and polarisation.

The static part is computed once per router (the room does not move); the body part is
synthesised per sample time, by a numba kernel (``body_response``) with a plain-numpy
implementation of the same sum (``body_response_numpy``) that tests and the benchmark
hold it against.
"""

from __future__ import annotations

import math

import attrs
import numba
import numpy as np

from wdp.sim.room import Room

#: Speed of light in vacuum, m/s (the air's refractive index, 1.0003, is neglected).
C = 299_792_458.0
#: Wall bounces the static part includes by default. In a 5 x 4 m room with walls of
#: 0.5, first-order reflections alone leave about 0.5 dB of amplitude spread across a
#: 40 MHz band; third order gives 1-2.5 dB, like the 1-2 dB of real captures.
DEFAULT_REFLECTION_ORDER = 3
#: Samples per step of the numpy implementation (keeps its [n, K, T, R, S] temporaries
#: to a few tens of MB).
_NUMPY_CHUNK = 64


def ula(center: object, n: int, spacing: float, axis: object = (1.0, 0.0, 0.0)) -> np.ndarray:
    """Positions [n, 3] of a uniform linear array of ``n`` antennas centred on ``center``."""
    c = np.asarray(center, dtype=np.float64).reshape(3)
    a = np.asarray(axis, dtype=np.float64).reshape(3)
    norm = float(np.linalg.norm(a))
    if not norm > 0:
        raise ValueError(f"array axis must be a non-zero vector, got {axis!r}")
    if n < 1:
        raise ValueError(f"an array needs at least one antenna, got {n}")
    offsets = (np.arange(n) - (n - 1) / 2.0) * float(spacing)
    return c[None, :] + offsets[:, None] * (a / norm)[None, :]


def _points(value: object) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1 or not np.all(np.isfinite(arr)):
        raise ValueError(f"antenna positions must be finite [n, 3], got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


@attrs.frozen(slots=True, eq=False)
class Antennas:
    """The transmitter's and the receiver's antenna positions, [n_tx, 3] and [n_rx, 3]."""

    tx: np.ndarray = attrs.field(converter=_points)
    rx: np.ndarray = attrs.field(converter=_points)

    @classmethod
    def arrays(
        cls,
        tx_center: object,
        rx_center: object,
        n_tx: int,
        n_rx: int,
        wavelength: float,
        axis: object = (1.0, 0.0, 0.0),
        rx_axis: object | None = None,
    ) -> Antennas:
        """Two uniform linear arrays at half-wavelength spacing (``rx_axis`` defaults to
        ``axis``)."""
        return cls(
            tx=ula(tx_center, n_tx, wavelength / 2, axis),
            rx=ula(rx_center, n_rx, wavelength / 2, axis if rx_axis is None else rx_axis),
        )

    @property
    def n_tx(self) -> int:
        return self.tx.shape[0]

    @property
    def n_rx(self) -> int:
        return self.rx.shape[0]


def scatterer_gain(cross_sections: np.ndarray, wavelength: float) -> np.ndarray:
    """``sqrt(sigma / (4 pi)) * lambda / (4 pi)``: a scatterer's amplitude times d_tx*d_rx."""
    sigma = np.asarray(cross_sections, dtype=np.float64)
    return np.sqrt(np.maximum(sigma, 0.0) / (4 * np.pi)) * (wavelength / (4 * np.pi))


def blocking_radius(cross_sections: np.ndarray) -> np.ndarray:
    """Radius of the disc a scatterer blocks: ``sqrt(sigma / pi)`` (its cross-section as
    a geometric area; 0.2 m^2 of torso is a 0.25 m disc)."""
    return np.sqrt(np.maximum(np.asarray(cross_sections, dtype=np.float64), 0.0) / np.pi)


# --------------------------------------------------------------------------- kernels


@numba.njit(nogil=True, cache=True)
def _knife_edge_db(nu):  # pragma: no cover - compiled
    """ITU-R P.526 single knife-edge diffraction loss J(nu) in dB (0 for nu <= -0.78)."""
    if nu <= -0.78:
        return 0.0
    v = nu - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(v * v + 1.0) + v)


@numba.njit(nogil=True, cache=True)
def _los_factor(tx, rx, px, py, pz, radius, wavelength):  # pragma: no cover - compiled
    """Amplitude factor (0..1] of the line of sight tx -> rx past a disc of ``radius`` at p.

    Single knife-edge: the disc's rim reaches ``radius - h`` across a line it is ``h``
    from, at distances d1, d2 along it; nu = (radius - h) sqrt(2 D / (lambda d1 d2)).
    """
    bx = rx[0] - tx[0]
    by = rx[1] - tx[1]
    bz = rx[2] - tx[2]
    dd = bx * bx + by * by + bz * bz
    u = ((px - tx[0]) * bx + (py - tx[1]) * by + (pz - tx[2]) * bz) / dd
    if u <= 0.0 or u >= 1.0:
        return 1.0
    hx = px - tx[0] - u * bx
    hy = py - tx[1] - u * by
    hz = pz - tx[2] - u * bz
    h = math.sqrt(hx * hx + hy * hy + hz * hz)
    d = math.sqrt(dd)
    nu = (radius - h) * math.sqrt(2.0 / (wavelength * u * (1.0 - u) * d))
    return 10.0 ** (-_knife_edge_db(nu) / 20.0)


@numba.njit(nogil=True, cache=True)
def _body_kernel(
    tx, rx, freqs, positions, gains, radii, los, wavelength, out
):  # pragma: no cover - compiled
    """out[n, t, r, s] += sum_k gains[n, k] / (d_tx d_rx) * exp(-j 2 pi f_s (d_tx+d_rx)/c),
    plus (a - 1) * los[t, r, s] where a is the strongest blocking of the line of sight
    by any scatterer of sample n (``los`` empty: no shadowing).

    The subcarrier phasors are advanced by multiplication: consecutive subcarriers differ
    by a fixed frequency step on every grid the profiles use, so each path costs one
    sincos per distinct step instead of one per subcarrier. Each sample n is summed in
    the same order every time: the result does not depend on threading or chunking.
    """
    n_samples, n_k = gains.shape
    n_tx = tx.shape[0]
    n_rx = rx.shape[0]
    n_sub = freqs.shape[0]
    shadow = los.shape[0] > 0
    dtx = np.empty(n_tx)
    drx = np.empty(n_rx)
    df = np.empty(n_sub)
    block = np.empty((n_tx, n_rx))
    df[0] = 0.0
    for s in range(1, n_sub):
        df[s] = freqs[s] - freqs[s - 1]
    w = -2.0 * math.pi / C
    for n in range(n_samples):
        block[:, :] = 1.0
        for k in range(n_k):
            g = gains[n, k]
            if g == 0.0:
                continue
            px = positions[n, k, 0]
            py = positions[n, k, 1]
            pz = positions[n, k, 2]
            for t in range(n_tx):
                ax = px - tx[t, 0]
                ay = py - tx[t, 1]
                az = pz - tx[t, 2]
                dtx[t] = math.sqrt(ax * ax + ay * ay + az * az)
            for r in range(n_rx):
                ax = px - rx[r, 0]
                ay = py - rx[r, 1]
                az = pz - rx[r, 2]
                drx[r] = math.sqrt(ax * ax + ay * ay + az * az)
            for t in range(n_tx):
                for r in range(n_rx):
                    if shadow:
                        f = _los_factor(tx[t], rx[r], px, py, pz, radii[n, k], wavelength)
                        if f < block[t, r]:
                            block[t, r] = f
                    d = dtx[t] + drx[r]
                    a = g / (dtx[t] * drx[r])
                    ph = w * d
                    x = ph * freqs[0]
                    re = a * math.cos(x)
                    im = a * math.sin(x)
                    sre = 1.0
                    sim = 0.0
                    last = 0.0
                    for s in range(n_sub):
                        if s > 0:
                            if df[s] != last:
                                last = df[s]
                                sre = math.cos(ph * last)
                                sim = math.sin(ph * last)
                            nre = re * sre - im * sim
                            im = re * sim + im * sre
                            re = nre
                        out[n, t, r, s] += complex(re, im)
        if shadow:
            for t in range(n_tx):
                for r in range(n_rx):
                    if block[t, r] < 1.0:
                        for s in range(n_sub):
                            out[n, t, r, s] += (block[t, r] - 1.0) * los[t, r, s]


def _check_inputs(positions: np.ndarray, cross_sections: np.ndarray) -> tuple[np.ndarray, ...]:
    pos = np.ascontiguousarray(positions, dtype=np.float64)
    sig = np.ascontiguousarray(cross_sections, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must be [N, K, 3], got shape {pos.shape}")
    if sig.shape != pos.shape[:2]:
        raise ValueError(f"cross_sections must be [N, K] = {pos.shape[:2]}, got {sig.shape}")
    return pos, sig


def _check_los(los: np.ndarray | None, antennas: Antennas, n_sub: int) -> np.ndarray:
    if los is None:
        return np.zeros((0, 0, 0), np.complex128)
    los = np.ascontiguousarray(los, dtype=np.complex128)
    if los.shape != (antennas.n_tx, antennas.n_rx, n_sub):
        raise ValueError(f"los must be [n_tx, n_rx, n_sub], got {los.shape}")
    return los


def body_response(
    antennas: Antennas,
    freqs_hz: np.ndarray,
    wavelength: float,
    positions: np.ndarray,
    cross_sections: np.ndarray,
    los: np.ndarray | None = None,
) -> np.ndarray:
    """What the scatterers do to the channel, complex128 [N, n_tx, n_rx, n_sub] (numba).

    ``positions`` float [N, K, 3] metres, ``cross_sections`` [N, K] m^2 (0 = absent).
    Their scattered paths, and, when ``los`` (the line-of-sight term [n_tx, n_rx,
    n_sub]) is given, the part of it they block (see ``Channel``).
    """
    pos, sig = _check_inputs(positions, cross_sections)
    freqs = np.ascontiguousarray(freqs_hz, dtype=np.float64)
    los_arr = _check_los(los, antennas, freqs.shape[0])
    out = np.zeros((pos.shape[0], antennas.n_tx, antennas.n_rx, freqs.shape[0]), np.complex128)
    gains = scatterer_gain(sig, wavelength)
    radii = blocking_radius(sig)
    _body_kernel(antennas.tx, antennas.rx, freqs, pos, gains, radii, los_arr, wavelength, out)
    return out


def los_factor_numpy(
    antennas: Antennas, wavelength: float, positions: np.ndarray, cross_sections: np.ndarray
) -> np.ndarray:
    """The line of sight's amplitude factor [N, n_tx, n_rx]: the strongest knife-edge
    blocking by any scatterer (plain numpy, the same formula as the kernel)."""
    pos, sig = _check_inputs(positions, cross_sections)
    a = antennas.tx[:, None, :]  # [T, 1, 3]
    b = antennas.rx[None, :, :] - a  # [T, R, 3]
    dd = np.sum(b * b, axis=-1)  # [T, R]
    rel = pos[:, :, None, None, :] - a  # [N, K, T, 1, 3]
    u = np.sum(rel * b, axis=-1) / dd  # [N, K, T, R]
    h = np.linalg.norm(rel - u[..., None] * b, axis=-1)
    inside = (u > 0) & (u < 1) & (sig[:, :, None, None] > 0)
    uu = np.where(inside, u, 0.5)
    nu = (blocking_radius(sig)[:, :, None, None] - h) * np.sqrt(
        2.0 / (wavelength * uu * (1 - uu) * np.sqrt(dd))
    )
    v = nu - 0.1
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = np.where(nu > -0.78, 6.9 + 20 * np.log10(np.sqrt(v * v + 1) + v), 0.0)
    factor = np.where(inside, 10.0 ** (-loss / 20.0), 1.0)
    return factor.min(axis=1, initial=1.0)


def body_response_numpy(
    antennas: Antennas,
    freqs_hz: np.ndarray,
    wavelength: float,
    positions: np.ndarray,
    cross_sections: np.ndarray,
    los: np.ndarray | None = None,
) -> np.ndarray:
    """The same as ``body_response`` in plain numpy (reference and benchmark)."""
    pos, sig = _check_inputs(positions, cross_sections)
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    los_arr = _check_los(los, antennas, freqs.shape[0])
    n = pos.shape[0]
    out = np.zeros((n, antennas.n_tx, antennas.n_rx, freqs.shape[0]), np.complex128)
    gains = scatterer_gain(sig, wavelength)
    for lo in range(0, n, _NUMPY_CHUNK):
        p = pos[lo : lo + _NUMPY_CHUNK]  # [n, K, 3]
        dtx = np.linalg.norm(p[:, :, None, :] - antennas.tx[None, None], axis=-1)  # [n,K,T]
        drx = np.linalg.norm(p[:, :, None, :] - antennas.rx[None, None], axis=-1)  # [n,K,R]
        d = dtx[:, :, :, None] + drx[:, :, None, :]  # [n, K, T, R]
        amp = gains[lo : lo + _NUMPY_CHUNK, :, None, None] / (
            dtx[:, :, :, None] * drx[:, :, None, :]
        )
        phase = (-2 * np.pi / C) * d[..., None] * freqs  # [n, K, T, R, S]
        out[lo : lo + _NUMPY_CHUNK] = np.sum(amp[..., None] * np.exp(1j * phase), axis=1)
        if los_arr.size:
            block = los_factor_numpy(antennas, wavelength, p, sig[lo : lo + _NUMPY_CHUNK])
            out[lo : lo + _NUMPY_CHUNK] += (block - 1.0)[..., None] * los_arr
    return out


def static_response(
    room: Room,
    antennas: Antennas,
    freqs_hz: np.ndarray,
    wavelength: float,
    reflection_order: int = DEFAULT_REFLECTION_ORDER,
) -> np.ndarray:
    """Line of sight + wall reflections up to ``reflection_order`` bounces + furniture,
    complex128 [n_tx, n_rx, n_sub]."""
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    tx, rx = antennas.tx, antennas.rx
    h = np.zeros((tx.shape[0], rx.shape[0], freqs.shape[0]), np.complex128)
    k = -2j * np.pi / C
    for t in range(tx.shape[0]):
        images, coefficients, _ = room.images(tx[t], reflection_order)
        sources = np.concatenate([tx[t][None, :], images])  # the direct path first
        gains = np.concatenate([[1.0], coefficients])
        d = np.linalg.norm(sources[:, None, :] - rx[None, :, :], axis=-1)  # [M, R]
        if np.any(d[0] == 0):
            raise ValueError("a transmit and a receive antenna are at the same position")
        amp = gains[:, None] * wavelength / (4 * np.pi * d)
        h[t] = np.einsum("mr,mrs->rs", amp, np.exp(k * d[..., None] * freqs))
    if room.furniture:
        pos = np.array([f.position for f in room.furniture])[None]
        sig = np.array([f.cross_section for f in room.furniture])[None]
        h += body_response_numpy(antennas, freqs, wavelength, pos, sig)[0]
    return h


def los_response(antennas: Antennas, freqs_hz: np.ndarray, wavelength: float) -> np.ndarray:
    """The line-of-sight term alone, complex128 [n_tx, n_rx, n_sub]."""
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    d = np.linalg.norm(antennas.tx[:, None, :] - antennas.rx[None, :, :], axis=-1)
    return (wavelength / (4 * np.pi * d))[..., None] * np.exp(
        (-2j * np.pi / C) * d[..., None] * freqs
    )


@attrs.frozen(slots=True, eq=False)
class Channel:
    """The channel of one router (one transmitter/receiver pair of arrays) in one room.

    ``occupied`` marks the subcarriers the transmitter puts energy on (a profile's guard
    and DC bins carry none: their H is 0, the receiver sees only noise there).

    With ``shadowing`` (the default) a body also blocks the line of sight: every
    scatterer is a disc of its cross-section's area, and the line of sight of each
    antenna pair is scaled by the single knife-edge diffraction loss (ITU-R P.526) of the
    scatterer that blocks it most (grazing: -6 dB; a torso across a 4 m link at 5 GHz:
    about -15 dB). Bodies scattering alone change a room's channel by little (their
    paths are some 15 dB below the static ones, with nearly the same delays); a person
    walking through the link is what real captures show most. Reflected paths are not
    shadowed.
    """

    room: Room
    antennas: Antennas
    freqs_hz: np.ndarray
    wavelength: float
    occupied: np.ndarray  # bool [S]
    static: np.ndarray  # complex128 [T, R, S], zero where not occupied
    los: np.ndarray  # complex128 [T, R, S], the line-of-sight part of ``static``
    shadowing: bool = True

    @classmethod
    def build(
        cls,
        room: Room,
        antennas: Antennas,
        freqs_hz: np.ndarray,
        *,
        center_freq_hz: float | None = None,
        occupied: np.ndarray | None = None,
        reflection_order: int = DEFAULT_REFLECTION_ORDER,
        shadowing: bool = True,
    ) -> Channel:
        """Compute the static part once. ``center_freq_hz`` (default: the mean of
        ``freqs_hz``) sets the wavelength of the amplitudes; ``reflection_order`` the
        wall bounces included (1: first-order reflections only); ``shadowing`` whether
        bodies block the line of sight."""
        freqs = np.array(freqs_hz, dtype=np.float64).reshape(-1)
        if freqs.shape[0] < 1 or not np.all(freqs > 0):
            raise ValueError("subcarrier frequencies must be positive")
        for name, pts in (("transmit", antennas.tx), ("receive", antennas.rx)):
            inside = room.contains(pts)
            if not np.all(inside):
                x, y, z = pts[int(np.argmin(inside))]
                raise ValueError(
                    f"{name} antenna at ({x:g}, {y:g}, {z:g}) m is outside the "
                    f"{room.width:g} x {room.depth:g} x {room.height:g} m room"
                )
        fc = float(np.mean(freqs) if center_freq_hz is None else center_freq_hz)
        mask = np.ones(freqs.shape, bool) if occupied is None else np.asarray(occupied, bool)
        if mask.shape != freqs.shape:
            raise ValueError(f"occupied has shape {mask.shape}, expected {freqs.shape}")
        wavelength = C / fc
        static = static_response(room, antennas, freqs, wavelength, reflection_order) * mask
        los = los_response(antennas, freqs, wavelength) * mask
        for arr in (freqs, mask, static, los):
            arr.flags.writeable = False
        return cls(room, antennas, freqs, wavelength, mask, static, los, bool(shadowing))

    @property
    def static_power(self) -> float:
        """Mean |H|^2 of the static channel over occupied subcarriers and all chains:
        the reference for SNR and AGC (the room's mean power barely moves with people)."""
        return float(np.mean(np.abs(self.static[..., self.occupied]) ** 2))

    def body(
        self, positions: np.ndarray, cross_sections: np.ndarray, *, kernel: str = "numba"
    ) -> np.ndarray:
        """What the bodies change, complex128 [N, T, R, S]: their scattered paths and (with
        shadowing) the line of sight they take away."""
        fn = {"numba": body_response, "numpy": body_response_numpy}.get(kernel)
        if fn is None:
            raise ValueError(f"kernel must be 'numba' or 'numpy', got {kernel!r}")
        los = self.los if self.shadowing else None
        h = fn(self.antennas, self.freqs_hz, self.wavelength, positions, cross_sections, los)
        if not self.occupied.all():
            h *= self.occupied
        return h

    def response(
        self, positions: np.ndarray, cross_sections: np.ndarray, *, kernel: str = "numba"
    ) -> np.ndarray:
        """The whole channel, static + what the bodies change, complex128 [N, T, R, S]."""
        h = self.body(positions, cross_sections, kernel=kernel)
        h += self.static
        return h
