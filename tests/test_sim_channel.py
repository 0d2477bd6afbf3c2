"""The room and the channel model: validation, the image method, path physics, numba == numpy."""

import numpy as np
import pytest

from wdp.sim.channel import (
    Antennas,
    C,
    Channel,
    body_response,
    body_response_numpy,
    los_factor_numpy,
    los_response,
    scatterer_gain,
    ula,
)
from wdp.sim.room import DEFAULT_REFLECTION, WALLS, Door, Reflector, Room

FC = 5.19e9
LAM = C / FC
SUB40 = np.array([*range(-58, -1, 4), *range(2, 59, 4)])
SUB20 = np.array([*range(-28, -1, 2), -1, *range(1, 28, 2), 28])  # not a uniform grid


def silent_room(**kw):
    """Walls that reflect nothing: only line of sight and scatterers remain."""
    return Room(6.0, 5.0, 3.0, {w: 0.0 for w in WALLS}, **kw)


# --------------------------------------------------------------------------- room


def test_room_validation_says_what_is_wrong():
    with pytest.raises(ValueError, match="width must be a positive"):
        Room(0, 4, 3)
    with pytest.raises(ValueError, match="depth must be a positive"):
        Room(5, float("nan"), 3)
    with pytest.raises(ValueError, match=r"wall_reflection\['x0'\] must be in \[0, 1\]"):
        Room(5, 4, 3, {"x0": 1.5})
    with pytest.raises(ValueError, match="unknown wall"):
        Room(5, 4, 3, {"north": 0.5})
    with pytest.raises(ValueError, match=r"furniture\[1\] at \(6, 1, 0\) m is outside"):
        Room(5, 4, 3, furniture=[Reflector([1, 1, 0], 1.0), Reflector([6, 1, 0], 1.0)])
    with pytest.raises(ValueError, match="cross_section must be >= 0"):
        Reflector([1, 1, 1], -1)
    with pytest.raises(ValueError, match="3 finite numbers"):
        Reflector([1, 1], 1)
    with pytest.raises(ValueError, match="door in wall y0 spans 4.5..5.5 m"):
        Room(5, 4, 3, door=Door("y0", 5.0, 1.0))
    with pytest.raises(ValueError, match="door wall must be one of"):
        Door("floor", 1.0, 1.0)
    with pytest.raises(ValueError, match="door width must be positive"):
        Door("x0", 1.0, 0.0)
    with pytest.raises(ValueError, match="door height 3.5 m exceeds"):
        Room(5, 4, 3, door=Door("x1", 1.0, 0.9, height=3.5))


def test_room_defaults_and_contains():
    room = Room(5, 4, 3, {"floor": 0.2}, door=Door("x0", 2.0, 0.9))
    assert room.wall_reflection["floor"] == 0.2
    assert room.wall_reflection["x1"] == DEFAULT_REFLECTION
    assert room.contains([2.5, 2.0]) is True
    assert room.contains([2.5, 2.0, 1.0]) is True
    assert room.contains([5.0, 4.0, 3.0]) is True  # on the walls counts as inside
    assert room.contains([2.5, 2.0, 3.1]) is False
    assert room.contains([0.2, 2.0], margin=0.3) is False
    many = room.contains(np.array([[1, 1], [4.9, 1], [-0.1, 1]]), margin=0.2)
    assert many.tolist() == [True, False, False]
    assert room.contains([np.nan, 1.0]) is False
    np.testing.assert_array_equal(room.door_position(0.5), [0.5, 2.0, 0.0])
    with pytest.raises(ValueError, match="2 or 3 coordinates"):
        room.contains([1.0])


def test_first_order_images_mirror_the_point_in_each_wall():
    room = Room(5, 4, 3, {"x0": 0.1, "x1": 0.2, "y0": 0.3, "y1": 0.4, "floor": 0.5, "ceiling": 0.6})
    images, coef = room.image_sources([1.0, 1.5, 1.2])
    np.testing.assert_allclose(
        images,
        [
            [-1, 1.5, 1.2],
            [9, 1.5, 1.2],
            [1, -1.5, 1.2],
            [1, 6.5, 1.2],
            [1, 1.5, -1.2],
            [1, 1.5, 4.8],
        ],
    )
    np.testing.assert_allclose(coef, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    # The lattice of all images agrees at order 1 and has the right count at order 2.
    lattice, lcoef, order = room.images([1.0, 1.5, 1.2], 1)
    assert sorted(map(tuple, lattice.round(9))) == sorted(map(tuple, images.round(9)))
    assert sorted(lcoef) == sorted(coef)
    lattice2, coef2, order2 = room.images([1.0, 1.5, 1.2], 2)
    assert len(lattice2) == 24 and (order2 == 2).sum() == 18
    # x0 then x1: the image of the x0 image in x1, at 2 * 5 + 1 = 11, coefficient 0.1 * 0.2
    hit = np.flatnonzero(np.all(np.isclose(lattice2, [11.0, 1.5, 1.2]), axis=1))
    assert hit.size == 1 and np.isclose(coef2[hit[0]], 0.02)


# --------------------------------------------------------------------------- static paths


def test_line_of_sight_is_friis_with_the_path_delay():
    room = silent_room()
    ant = Antennas(tx=[[1.0, 2.0, 1.5]], rx=[[4.0, 2.0, 1.5]])
    freqs = FC + SUB40 * 312.5e3
    ch = Channel.build(room, ant, freqs, center_freq_hz=FC)
    d = 3.0
    expected = LAM / (4 * np.pi * d) * np.exp(-2j * np.pi * freqs * d / C)
    np.testing.assert_allclose(ch.static[0, 0], expected, rtol=1e-12)
    assert ch.static_power == pytest.approx((LAM / (4 * np.pi * d)) ** 2)


def test_one_reflecting_wall_adds_its_mirror_path():
    room = Room(6.0, 5.0, 3.0, {w: (0.5 if w == "y0" else 0.0) for w in WALLS})
    tx, rx = np.array([1.0, 2.0, 1.5]), np.array([4.0, 1.0, 1.5])
    freqs = FC + SUB40 * 312.5e3
    ch = Channel.build(room, Antennas(tx=[tx], rx=[rx]), freqs, center_freq_hz=FC)
    d0 = np.linalg.norm(tx - rx)
    d1 = np.linalg.norm(np.array([1.0, -2.0, 1.5]) - rx)  # tx mirrored in y = 0
    expected = LAM / (4 * np.pi * d0) * np.exp(-2j * np.pi * freqs * d0 / C)
    expected += 0.5 * LAM / (4 * np.pi * d1) * np.exp(-2j * np.pi * freqs * d1 / C)
    np.testing.assert_allclose(ch.static[0, 0], expected, rtol=1e-12)
    first = Channel.build(room, Antennas(tx=[tx], rx=[rx]), freqs, reflection_order=1)
    np.testing.assert_allclose(first.static, ch.static, rtol=1e-12)  # one wall: no 2nd order


def test_furniture_is_a_static_point_scatterer():
    sofa = Reflector([3.0, 4.0, 0.5], 2.0)
    ant = Antennas(tx=[[1.0, 2.0, 1.5]], rx=[[5.0, 2.0, 1.5]])
    freqs = FC + SUB40 * 312.5e3
    bare = Channel.build(silent_room(), ant, freqs, center_freq_hz=FC)
    furnished = Channel.build(silent_room(furniture=[sofa]), ant, freqs, center_freq_hz=FC)
    diff = furnished.static - bare.static
    moving = body_response_numpy(ant, freqs, LAM, sofa.position[None, None], np.array([[2.0]]))
    np.testing.assert_allclose(diff, moving[0], rtol=1e-9)


def test_antennas_outside_the_room_are_refused():
    with pytest.raises(ValueError, match=r"receive antenna at \(7, 2, 1.5\) m is outside"):
        Channel.build(silent_room(), Antennas(tx=[[1, 2, 1.5]], rx=[[7, 2, 1.5]]), [FC])
    with pytest.raises(ValueError, match="same position"):
        Channel.build(silent_room(), Antennas(tx=[[1, 2, 1.5]], rx=[[1, 2, 1.5]]), [FC])
    with pytest.raises(ValueError, match="finite"):
        Antennas(tx=[[1, 2]], rx=[[1, 2, 1.5]])


def test_ula_is_centred_at_half_wavelength_spacing():
    pos = ula([1.0, 2.0, 1.5], 3, LAM / 2, axis=(0, 2, 0))
    np.testing.assert_allclose(pos.mean(axis=0), [1.0, 2.0, 1.5])
    np.testing.assert_allclose(np.diff(pos[:, 1]), LAM / 2)
    ant = Antennas.arrays([1, 1, 1], [4, 4, 1], 3, 2, LAM)
    assert ant.n_tx == 3 and ant.n_rx == 2


# --------------------------------------------------------------------------- body paths


def _scene(n=40, k=12, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform([1.0, 1.0, 0.0], [5.0, 4.0, 2.0], (n, k, 3))
    sig = rng.uniform(0.0, 0.2, (n, k))
    sig[:, -3:] = 0.0  # absent slots
    return pos, sig


def _crossing(n=40, k=12, seed=0):
    """Scatterers wandering near the antennas' line of sight (y = 2.5, z = 1.5)."""
    rng = np.random.default_rng(seed)
    pos = rng.normal([3.0, 2.5, 1.5], [1.0, 0.3, 0.3], (n, k, 3))
    sig = rng.uniform(0.0, 0.3, (n, k))
    sig[:, -2:] = 0.0
    return pos, sig


@pytest.mark.parametrize("sub", [SUB40, SUB20, np.arange(-128, 128)], ids=["ht40", "ht20", "vht80"])
@pytest.mark.parametrize("shadowing", [False, True])
def test_numba_kernel_equals_numpy(sub, shadowing):
    ant = Antennas.arrays([0.5, 2.5, 1.5], [5.5, 2.5, 1.5], 3, 3, LAM)
    freqs = FC + sub * 312.5e3
    pos, sig = _crossing() if shadowing else _scene()
    los = los_response(ant, freqs, LAM) if shadowing else None
    fast = body_response(ant, freqs, LAM, pos, sig, los)
    ref = body_response_numpy(ant, freqs, LAM, pos, sig, los)
    assert fast.shape == (40, 3, 3, sub.shape[0])
    assert np.max(np.abs(fast - ref)) <= 1e-6 * np.max(np.abs(ref))
    # and it is deterministic to the bit
    np.testing.assert_array_equal(fast, body_response(ant, freqs, LAM, pos, sig, los))
    if shadowing:  # some of these scatterers do block
        assert np.min(los_factor_numpy(ant, LAM, pos, sig)) < 0.3


def test_knife_edge_shadowing_of_the_line_of_sight():
    """A disc whose rim just touches the line of sight halves its field (-6 dB); one
    across it blocks more the more it covers; one beside it or behind an end, nothing."""
    ant = Antennas(tx=[[0.0, 0.0, 1.0]], rx=[[4.0, 0.0, 1.0]])
    sigma = 0.2  # a torso: disc radius sqrt(0.2 / pi) = 0.252 m
    radius = np.sqrt(sigma / np.pi)
    offsets = [radius, 0.0, radius + 1.0, None]
    pos = np.array([[[2.0, o, 1.0]] if o is not None else [[-1.0, 0.0, 1.0]] for o in offsets])
    factor = los_factor_numpy(ant, LAM, pos, np.full((4, 1), sigma))[:, 0, 0]
    assert factor[0] == pytest.approx(10 ** (-6.03 / 20), rel=1e-3)
    assert 10 ** (-25 / 20) < factor[1] < 10 ** (-15 / 20)
    assert factor[2] == 1.0 and factor[3] == 1.0
    # the kernel applies it to the line of sight: H_los * (a - 1) added
    los = los_response(ant, [FC], LAM)
    h = body_response(ant, [FC], LAM, pos, np.full((4, 1), sigma), los)
    scattered = body_response(ant, [FC], LAM, pos, np.full((4, 1), sigma))
    np.testing.assert_allclose(h - scattered, (factor - 1)[:, None, None, None] * los, atol=1e-15)


def test_bistatic_amplitude_and_delay_of_one_scatterer():
    ant = Antennas(tx=[[0.0, 0.0, 0.0]], rx=[[4.0, 0.0, 0.0]])
    p = np.array([1.0, 2.0, 0.0])
    sigma = 0.7
    freqs = FC + SUB40 * 312.5e3
    h = body_response(ant, freqs, LAM, p[None, None], np.array([[sigma]]))[0, 0, 0]
    dt, dr = np.linalg.norm(p), np.linalg.norm(p - [4, 0, 0])
    amp = np.sqrt(sigma / (4 * np.pi)) * LAM / (4 * np.pi) / (dt * dr)
    np.testing.assert_allclose(h, amp * np.exp(-2j * np.pi * freqs * (dt + dr) / C), rtol=1e-9)
    assert scatterer_gain(np.array([0.0]), LAM)[0] == 0.0


def test_doppler_comes_from_the_motion_alone():
    """A scatterer moving away at v changes the path by ~2v: the phase turns at 2v/lambda."""
    ant = Antennas(tx=[[0.0, 0.05, 0.0]], rx=[[0.0, -0.05, 0.0]])
    t = np.arange(200) / 1000.0
    pos = np.zeros((200, 1, 3))
    pos[:, 0, 0] = 3.0 + 1.0 * t  # 1 m/s radial
    h = body_response(ant, [FC], LAM, pos, np.full((200, 1), 0.5))[:, 0, 0, 0]
    rate = np.median(np.diff(np.unwrap(np.angle(h)))) * 1000.0 / (2 * np.pi)
    assert rate == pytest.approx(-2.0 / LAM, rel=1e-3)


def test_response_is_static_plus_body_and_masks_unoccupied_bins():
    room = Room(6, 5, 3, furniture=[Reflector([3, 4, 0.5], 1.0)])
    ant = Antennas.arrays([0.5, 2.5, 1.5], [5.5, 2.5, 1.5], 2, 2, LAM)
    sub = np.arange(-32, 32)
    occupied = (np.abs(sub) >= 1) & (np.abs(sub) <= 26)
    ch = Channel.build(room, ant, FC + sub * 312.5e3, center_freq_hz=FC, occupied=occupied)
    pos, sig = _scene(n=5)
    h = ch.response(pos, sig)
    np.testing.assert_allclose(h, ch.static + ch.body(pos, sig, kernel="numpy"), rtol=1e-9)
    np.testing.assert_allclose(ch.los + 0, los_response(ant, ch.freqs_hz, LAM) * occupied)
    assert np.all(h[..., ~occupied] == 0) and np.all(h[..., occupied] != 0)
    with pytest.raises(ValueError, match="kernel must be"):
        ch.body(pos, sig, kernel="cuda")
    with pytest.raises(ValueError, match=r"cross_sections must be \[N, K\]"):
        ch.body(pos, sig[:, :3])
    with pytest.raises(ValueError, match=r"positions must be \[N, K, 3\]"):
        ch.body(pos[..., :2], sig)
