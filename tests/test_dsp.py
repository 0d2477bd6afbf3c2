"""DSP: the numba kernels equal the numpy reference, and both give the known answers.

Random inputs come from numpy generators seeded by hypothesis (shapes, dtypes and seeds
drawn, arrays generated), so failures shrink to a small shape and a seed. Known-answer
tests run on both implementations.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wdp.dsp as fast
from wdp.dsp import reference

IMPLS = pytest.mark.parametrize("dsp", [fast, reference], ids=["numba", "numpy"])
COMPLEX = st.sampled_from([np.complex64, np.complex128])
FLOAT = st.sampled_from([np.float32, np.float64])
SEED = st.integers(0, 2**32 - 1)
FEW = settings(max_examples=60, deadline=None)


def crandn(rng, shape, dtype=np.complex128, scale=1.0):
    z = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return (scale * z).astype(dtype)


def tol(dtype):
    """Relative tolerance of a result computed from inputs of ``dtype``."""
    return 1e-6 if dtype in (np.complex64, np.float32) else 1e-12


# --------------------------------------------------------------------------- numba == numpy


@st.composite
def csi_case(draw, min_rx=1):
    """Random csi [N, T, R, S] and subcarrier indices: shared [S], per-frame [N, S], or
    a permuted order; shapes around those of real hardware."""
    n = draw(st.integers(0, 12))
    t = draw(st.integers(1, 3))
    r = draw(st.integers(min_rx, 3))
    s = draw(st.sampled_from([2, 3, 7, 30, 56, 64]))
    dtype = draw(COMPLEX)
    rng = np.random.default_rng(draw(SEED))
    csi = crandn(rng, (n, t, r, s), dtype, scale=draw(st.sampled_from([1e-3, 1.0, 300.0])))
    kind = draw(st.sampled_from(["shared", "permuted", "per-frame"]))
    sub = np.sort(rng.choice(np.arange(-128, 128), size=s, replace=False))
    if kind == "permuted":
        sub = rng.permutation(sub)
    elif kind == "per-frame":
        rows = [rng.permutation(sub) if rng.random() < 0.5 else sub for _ in range(n)]
        sub = np.array(rows, dtype=np.int64).reshape(n, s)
    return csi, sub


@FEW
@given(csi_case())
def test_sanitize_phase_matches_reference(case):
    csi, sub = case
    phase, slope = fast.sanitize_phase(csi, sub)
    ref_phase, ref_slope = reference.sanitize_phase(csi, sub)
    assert phase.dtype == ref_phase.dtype == np.float64
    assert phase.shape == csi.shape and slope.shape == csi.shape[:-1] == ref_slope.shape
    np.testing.assert_allclose(phase, ref_phase, rtol=0, atol=1e-9)
    np.testing.assert_allclose(slope, ref_slope, rtol=0, atol=1e-11)


def test_sanitize_phase_matches_reference_across_kernel_blocks_and_changing_rows():
    """Hundreds of chains (the kernel works in blocks of 128), per-frame indices that
    change every few frames, and a non-contiguous view of the input."""
    rng = np.random.default_rng(7)
    n, s = 100, 30
    base = np.arange(-58, 59, 4)
    rows = np.array([rng.permutation(base) if (i // 3) % 2 else base for i in range(n)])
    csi = crandn(rng, (n, 3, 3, s), np.complex64)
    for c, k in ((csi, rows), (csi.transpose(0, 2, 1, 3), rows), (csi[:, :, :, ::-1], base)):
        phase, slope = fast.sanitize_phase(c, k)
        ref_phase, ref_slope = reference.sanitize_phase(c, k)
        np.testing.assert_allclose(phase, ref_phase, atol=1e-9)
        np.testing.assert_allclose(slope, ref_slope, atol=1e-11)


def test_sanitize_phase_accepts_one_frame_and_a_chain_as_the_reference_does():
    rng = np.random.default_rng(3)
    sub = np.arange(-29, 31, 2)
    for shape in [(3, 3, 30), (30,), (40, 30)]:
        csi = crandn(rng, shape)
        a, b = fast.sanitize_phase(csi, sub), reference.sanitize_phase(csi, sub)
        np.testing.assert_allclose(a[0], b[0], atol=1e-9)
        np.testing.assert_allclose(a[1], b[1], atol=1e-11)


@FEW
@given(
    st.integers(0, 40),
    st.sampled_from([(), (1,), (3,), (2, 3)]),
    st.sampled_from([3, 5, 7, 11]),
    st.sampled_from([0.0, 1.0, 3.0]),
    FLOAT,
    SEED,
)
def test_hampel_matches_reference(n, trailing, window, n_sigmas, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *trailing)).astype(dtype)
    spikes = rng.random(x.shape) < 0.05
    x[spikes] += rng.choice([-20.0, 20.0], size=int(spikes.sum())).astype(dtype)
    if rng.random() < 0.3:  # quantised data: ties and zero MADs
        x = np.round(x).astype(dtype)
    y, flags = fast.hampel(x, window, n_sigmas)
    ref_y, ref_flags = reference.hampel(x, window, n_sigmas)
    assert y.dtype == ref_y.dtype == dtype and flags.dtype == bool
    np.testing.assert_array_equal(flags, ref_flags)
    np.testing.assert_array_equal(y, ref_y)


@FEW
@given(csi_case(), st.booleans(), SEED)
def test_normalize_amplitude_matches_reference(case, masked, seed):
    csi, _ = case
    valid = None
    if masked:
        valid = np.random.default_rng(seed).random(csi.shape[-1]) < 0.7
        valid[0] = True
    a = fast.normalize_amplitude(csi, valid)
    b = reference.normalize_amplitude(csi, valid)
    assert a.dtype == b.dtype == np.float32 and a.shape == csi.shape
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)


@FEW
@given(csi_case(min_rx=2), st.integers(0, 2))
def test_csi_ratio_matches_reference(case, ref_rx):
    csi, _ = case
    ref_rx %= csi.shape[2]
    a = fast.csi_ratio(csi, ref_rx)
    b = reference.csi_ratio(csi, ref_rx)
    assert a.dtype == b.dtype == csi.dtype
    assert a.shape == csi.shape[:2] + (csi.shape[2] - 1, csi.shape[3])
    scale = max(float(np.max(np.abs(b), initial=0)), 1e-300)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol(csi.dtype) * scale)


@FEW
@given(
    st.integers(0, 60),
    st.integers(1, 20),
    st.floats(1e-3, 1.0),
    COMPLEX,
    SEED,
    st.lists(st.integers(0, 60), max_size=4),
)
def test_remove_static_matches_reference_and_streams_identically(n, c, alpha, dtype, seed, cuts):
    x = crandn(np.random.default_rng(seed), (n, c), dtype) + (3 + 1j)
    dyn, base = fast.remove_static(x, alpha)
    ref_dyn, ref_base = reference.remove_static(x, alpha)
    assert dyn.dtype == ref_dyn.dtype == dtype and base.dtype == np.complex128
    assert dyn.shape == (n, c) and base.shape == (c,)
    np.testing.assert_allclose(dyn, ref_dyn, rtol=0, atol=tol(dtype) * 10)
    np.testing.assert_allclose(base, ref_base, rtol=0, atol=1e-12 * 10)
    bounds = [0, *sorted(min(k, n) for k in cuts), n]
    for dsp, whole, last in ((fast, dyn, base), (reference, ref_dyn, ref_base)):
        remover = dsp.StaticRemover(alpha)
        parts = [remover.update(x[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
        if n:
            np.testing.assert_array_equal(remover.baseline, last)


@FEW
@given(
    st.integers(0, 70),
    st.integers(0, 5),
    st.integers(1, 40),
    st.integers(1, 9),
    COMPLEX,
    SEED,
)
def test_doppler_spectrum_matches_reference(n, c, window, hop, dtype, seed):
    x = crandn(np.random.default_rng(seed), (n, c), dtype)
    freqs, power = fast.doppler_spectrum(x, 50.0, window, hop)
    ref_freqs, ref_power = reference.doppler_spectrum(x, 50.0, window, hop)
    np.testing.assert_array_equal(freqs, ref_freqs)
    assert power.shape == ref_power.shape == (reference.n_windows(n, window, hop), window)
    scale = float(np.max(ref_power, initial=0))
    np.testing.assert_allclose(power, ref_power, rtol=0, atol=1e-12 * max(scale, 1e-300))


@FEW
@given(
    st.integers(0, 30),
    st.sampled_from([(1,), (5,), (3, 2, 4)]),
    st.sampled_from([np.complex64, np.complex128, np.float32, np.float64, np.int16]),
    SEED,
)
def test_motion_energy_matches_reference(n, trailing, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *trailing)) * 50
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.normal(size=x.shape) * 50
    x = x.astype(dtype)
    e, ref_e = fast.motion_energy(x), reference.motion_energy(x)
    assert e.dtype == ref_e.dtype == np.float64 and e.shape == (n,)
    np.testing.assert_allclose(e, ref_e, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- known answers


@IMPLS
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_a_linear_phase_ramp_is_sanitized_to_zero_and_its_slope_recovered(dsp, dtype):
    """Per-frame common phase and slope (wrapping many times across the band), on the
    Intel 40 MHz grouping, with the bins handed over in a scrambled order."""
    rng = np.random.default_rng(0)
    k = np.arange(-58, 59, 4)
    n = 50
    slope = rng.uniform(-0.7, 0.7, size=(n, 3, 3))  # up to 2.8 rad between bins
    common = rng.uniform(-np.pi, np.pi, size=(n, 3, 3))
    amp = rng.uniform(0.5, 2.0, size=k.size)
    csi = (amp * np.exp(1j * (common[..., None] + slope[..., None] * k))).astype(dtype)
    order = rng.permutation(k.size)
    phase, fitted = dsp.sanitize_phase(csi[..., order], k[order])
    atol = 1e-4 if dtype == np.complex64 else 1e-9
    np.testing.assert_allclose(phase, 0.0, atol=atol)
    np.testing.assert_allclose(fitted, slope, atol=atol / 50)


@IMPLS
def test_sanitized_phase_keeps_what_the_room_does(dsp):
    """A bend that is not a line (the room's frequency selectivity) survives, minus its
    own least-squares line; the packet's ramp goes."""
    k = np.arange(-28, 29, 2).astype(float)
    room = 0.3 * np.sin(k / 5.0)
    ramp = 1.1 - 0.4 * k
    phase, _ = dsp.sanitize_phase(np.exp(1j * (room + ramp)), k)
    dk = k - k.mean()
    expected = room - room.mean() - (dk @ room) / (dk @ dk) * dk
    np.testing.assert_allclose(phase, expected, atol=1e-12)


@IMPLS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hampel_removes_injected_spikes(dsp, dtype):
    rng = np.random.default_rng(1)
    t = np.arange(200)
    clean = (np.sin(t / 30.0)[:, None] + 0.01 * rng.normal(size=(200, 4))).astype(dtype)
    x = clean.copy()
    spikes = [(0, 0), (1, 1), (37, 2), (120, 0), (198, 3), (199, 1)]  # edges too
    for i, j in spikes:
        x[i, j] += 5.0
    y, flags = dsp.hampel(x, window=7, n_sigmas=3.0)
    assert all(flags[i, j] for i, j in spikes)
    for i, j in spikes:
        start = min(max(i - 3, 0), 200 - 7)
        assert y[i, j] == np.median(x[start : start + 7, j]).astype(dtype)
        # the trend moves 0.033 a sample; at the edges the median sits up to 3 samples away
        assert abs(y[i, j] - clean[i, j]) < 0.15
    # On noisy data a 7-sample MAD is itself noisy: a few clean samples get flagged,
    # and are replaced by a median within the noise.
    assert flags.sum() - len(spikes) < 0.03 * flags.size
    np.testing.assert_allclose(y, clean, atol=0.15)
    np.testing.assert_array_equal(y[~flags], x[~flags])


@IMPLS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hampel_leaves_clean_data_alone(dsp, dtype):
    """A monotone series is its own running median, a constant one too (MAD 0)."""
    t = np.arange(100, dtype=float)
    clean = np.stack([0.37 * t, np.sqrt(t), -np.exp(t / 50), np.full(100, 2.5)], axis=1)
    clean = clean.astype(dtype)
    for window in (3, 5, 9):
        y, flags = dsp.hampel(clean, window=window, n_sigmas=3.0)
        assert not flags.any()
        np.testing.assert_array_equal(y, clean)


@IMPLS
def test_hampel_of_a_series_shorter_than_its_window_uses_all_samples(dsp):
    x = np.array([1.0, 1.1, 50.0, 0.9])
    y, flags = dsp.hampel(x, window=11)
    assert flags.tolist() == [False, False, True, False]
    assert y[2] == np.median(x)


@IMPLS
def test_csi_ratio_cancels_a_common_phase_and_timing_slope_exactly(dsp):
    rng = np.random.default_rng(2)
    k = np.arange(-28, 29, 2)
    h = crandn(rng, (1, 2, 3, k.size))  # one static channel, 2 tx x 3 rx
    n = 40
    common = rng.uniform(-np.pi, np.pi, size=n)
    tau = rng.uniform(0, 400e-9, size=n)
    impaired = (
        h
        * np.exp(1j * (common[:, None] - 2 * np.pi * 312.5e3 * tau[:, None] * k))[:, None, None, :]
    )
    for ref_rx in (0, 2):
        ratio = dsp.csi_ratio(impaired, ref_rx)
        clean = dsp.csi_ratio(h, ref_rx)
        np.testing.assert_allclose(ratio, np.broadcast_to(clean, ratio.shape), atol=1e-12)
        others = [r for r in range(3) if r != ref_rx]
        np.testing.assert_allclose(np.abs(ratio), np.abs(impaired[:, :, others]), rtol=1e-12)


@IMPLS
def test_static_removal_converges_to_the_baseline_and_passes_a_moving_component(dsp):
    fs, n = 100.0, 1500
    t = np.arange(n) / fs
    static = np.array([3 - 2j, -1 + 0.5j, 0.2 + 4j])
    moving = 0.5 * np.exp(2j * np.pi * 10.0 * t)[:, None] * np.array([1, 1j, -1])
    dyn, base = dsp.remove_static(static + moving, alpha=0.01)
    np.testing.assert_allclose(base, static, atol=0.02)
    np.testing.assert_allclose(dyn[700:], moving[700:], atol=0.02)
    # constant input: the baseline is the constant from the first sample on, nothing passes
    dyn, base = dsp.remove_static(np.broadcast_to(static, (50, 3)), alpha=0.3)
    assert np.all(dyn == 0) and np.array_equal(base, static)


@IMPLS
@pytest.mark.parametrize("window", [64, 100])
def test_doppler_peak_of_a_complex_tone_lands_at_its_frequency(dsp, window):
    fs = 100.0
    t = np.arange(400) / fs
    for f in (12.5, -20.0, 31.25):
        x = np.exp(2j * np.pi * f * t)[:, None] * np.array([1.0, 2j, -0.5])
        freqs, power = dsp.doppler_spectrum(x, fs, window, window // 2)
        assert power.shape == (1 + (400 - window) // (window // 2), window)
        np.testing.assert_allclose(freqs, np.fft.fftshift(np.fft.fftfreq(window, 1 / fs)))
        peaks = freqs[np.argmax(power, axis=1)]
        assert np.all(np.abs(peaks - f) <= fs / window / 2 + 1e-9)
        # Hann window: the tone's energy, sum_t w^2 * |x|^2 summed over channels, by Parseval
        total = np.sum(np.hanning(window) ** 2) * (1 + 4 + 0.25) * window
        np.testing.assert_allclose(power.sum(axis=1), total, rtol=1e-9)


@IMPLS
def test_motion_energy_is_zero_for_constant_input_and_sees_a_step(dsp):
    x = np.full((30, 6), 2 - 1j)
    assert np.all(dsp.motion_energy(x) == 0)
    x[10:, :3] *= 2  # amplitude sqrt(5) -> 2 sqrt(5) on half the channels
    e = dsp.motion_energy(x)
    expected = np.zeros(30)
    expected[10] = 5.0 * 3 / 6
    np.testing.assert_allclose(e, expected, atol=1e-12)


@IMPLS
def test_normalize_amplitude_divides_out_a_per_frame_gain(dsp):
    rng = np.random.default_rng(4)
    h = crandn(rng, (1, 1, 3, 64))
    gain = rng.uniform(0.1, 10, size=20)[:, None, None, None]
    valid = np.ones(64, bool)
    valid[[0, 1, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37]] = False  # guard bins
    csi = (h * gain).astype(np.complex64)
    csi[:, :, :, ~valid] = 0
    a = dsp.normalize_amplitude(csi, valid)
    np.testing.assert_allclose(a, np.broadcast_to(a[:1], a.shape), rtol=1e-5)
    np.testing.assert_allclose(a[..., valid].mean(axis=(1, 2, 3)), 1.0, rtol=1e-6)
    assert np.all(a[..., ~valid] == 0)


# --------------------------------------------------------------------------- warm-up


def test_warm_up_compiles_every_kernel_for_both_precisions():
    from wdp.dsp import amplitude, doppler, filters, phase

    seconds = fast.warm_up()
    assert seconds >= 0
    kernels = {
        phase._sanitize_kernel: 2,
        phase._ratio_kernel: 2,
        amplitude._normalize_kernel: 2,
        amplitude._motion_kernel: 3,
        filters._hampel_kernel: 2,
        filters._ema_kernel: 2,
        doppler._doppler_kernel: 2,
    }
    for kernel, count in kernels.items():
        assert len(kernel.signatures) >= count, kernel
    before = {k: len(k.signatures) for k in kernels}
    # Production inputs, writable or not, contiguous or not, use those same versions.
    csi = crandn(np.random.default_rng(5), (20, 3, 3, 30), np.complex64)
    frozen = csi.copy()
    frozen.flags.writeable = False
    for c in (csi, frozen, csi.transpose(0, 2, 1, 3)):
        fast.sanitize_phase(c, np.arange(30))
        fast.normalize_amplitude(c)
        dyn, _ = fast.remove_static(fast.csi_ratio(c).reshape(20, -1), 0.1)
        fast.doppler_spectrum(dyn, 100.0, 8, 4)
        fast.motion_energy(fast.hampel(np.abs(c))[0])
    assert {k: len(k.signatures) for k in kernels} == before
