"""DSP on bad input: NaN/inf, all-zero CSI, empty batches, wrong shapes and arguments.

Each case either raises a one-line ValueError or gives the documented finite/NaN output
(the module docstrings of wdp/dsp say which); numba and numpy agree on which outputs are
finite and on the finite values.
"""

import numpy as np
import pytest

import wdp.dsp as fast
from wdp.dsp import reference

IMPLS = pytest.mark.parametrize("dsp", [fast, reference], ids=["numba", "numpy"])
SUB = np.arange(-29, 31, 2)


def clean_csi(n=20, t=2, r=3, s=30, dtype=np.complex64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, t, r, s)) + 1j * rng.normal(size=(n, t, r, s)) + 2).astype(dtype)


def poisoned(dtype=np.complex64):
    """Clean csi with a NaN in chain (3, 0, 1), an inf in chain (7, 1, 2) (imaginary part)
    and a -inf in bin 0 of chain (12, 0, 0)."""
    csi = clean_csi(dtype=dtype)
    csi[3, 0, 1, 5] = np.nan
    csi[7, 1, 2, 17] = complex(1.0, np.inf)
    csi[12, 0, 0, 0] = -np.inf
    return csi


BAD_CHAINS = [(3, 0, 1), (7, 1, 2), (12, 0, 0)]


def same_finite(a, b, rtol):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    m = np.isfinite(b)
    np.testing.assert_allclose(a[m], b[m], rtol=rtol, atol=rtol)


# --------------------------------------------------------------------------- NaN / inf


@IMPLS
def test_sanitize_phase_makes_a_chain_with_nan_or_inf_nan_and_leaves_the_others(dsp):
    csi = poisoned()
    phase, slope = dsp.sanitize_phase(csi, SUB)
    clean_phase, clean_slope = dsp.sanitize_phase(clean_csi(), SUB)
    bad = np.zeros(slope.shape, bool)
    for c in BAD_CHAINS:
        bad[c] = True
    assert np.all(np.isnan(slope[bad])) and np.all(np.isnan(phase[bad]))
    np.testing.assert_array_equal(slope[~bad], clean_slope[~bad])
    np.testing.assert_array_equal(phase[~bad], clean_phase[~bad])


def test_sanitize_phase_nan_pattern_is_the_same_in_both():
    for dtype in (np.complex64, np.complex128):
        a, b = (
            fast.sanitize_phase(poisoned(dtype), SUB),
            reference.sanitize_phase(poisoned(dtype), SUB),
        )
        same_finite(a[0], b[0], 1e-9)
        same_finite(a[1], b[1], 1e-9)


@IMPLS
def test_hampel_passes_non_finite_samples_through_and_judges_no_window_holding_one(dsp):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    x[10, 0] = 30.0  # an outlier far from the NaN
    x[20, 1] = np.nan
    x[21, 1] = 30.0  # an outlier next to the NaN: its window holds the NaN
    x[30, 2] = np.inf
    y, flags = dsp.hampel(x, window=5)
    assert flags[10, 0] and y[10, 0] != 30.0
    assert np.isnan(y[20, 1]) and not flags[20, 1]
    assert y[21, 1] == 30.0 and not flags[21, 1]
    assert y[30, 2] == np.inf and not flags[30, 2]
    assert not flags[18:23, 1].any() and not flags[28:33, 2].any()
    assert np.isfinite(np.delete(y.ravel(), [20 * 3 + 1, 30 * 3 + 2])).all()


def test_hampel_nan_handling_is_the_same_in_both():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.03] = -np.inf
    x[rng.random(x.shape) < 0.05] = 25
    (a, fa), (b, fb) = fast.hampel(x), reference.hampel(x)
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(a, b)  # NaN == NaN here


@IMPLS
def test_normalize_amplitude_nan_rules(dsp):
    csi = clean_csi()
    valid = np.ones(30, bool)
    valid[[0, 1]] = False
    csi[4, 1, 2, 9] = np.nan  # valid bin: frame 4 is NaN
    csi[6, 0, 0, 0] = np.inf  # invalid bin: NaN there only
    a = dsp.normalize_amplitude(csi, valid)
    assert np.all(np.isnan(a[4]))
    assert np.isnan(a[6, 0, 0, 0]) and np.isfinite(np.delete(a[6].ravel(), 0)).all()
    others = np.delete(np.arange(20), [4, 6])
    assert np.isfinite(a[others]).all()
    same_finite(a, reference.normalize_amplitude(csi, valid), 1e-6)


@IMPLS
def test_csi_ratio_nan_reaches_only_the_bins_it_touches(dsp):
    csi = clean_csi(dtype=np.complex128)
    csi[2, 0, 0, 4] = np.nan  # the reference chain: every other chain's bin 4 of (2, 0)
    csi[5, 1, 2, 7] = np.inf  # another chain: only its own bin
    out = dsp.csi_ratio(csi, 0)
    bad = ~np.isfinite(out)
    assert bad[2, 0, :, 4].all() and bad[5, 1, 1, 7]
    assert bad.sum() == 3
    same_finite(out, reference.csi_ratio(csi, 0), 1e-12)


@IMPLS
def test_remove_static_skips_a_non_finite_sample_in_the_baseline(dsp):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4)) + 1j * rng.normal(size=(50, 4)) + 5
    bad = x.copy()
    bad[20, 1] = np.nan
    bad[30, 2] = complex(np.inf, 0)
    dyn, base = dsp.remove_static(bad, 0.1)
    assert not np.isfinite(dyn[20, 1]) and not np.isfinite(dyn[30, 2])
    assert np.isfinite(np.delete(dyn.ravel(), [20 * 4 + 1, 30 * 4 + 2])).all()
    # the rest is what the series without those samples gives
    for col, t in ((1, 20), (2, 30)):
        d, b = dsp.remove_static(np.delete(x[:, col], t)[:, None], 0.1)
        np.testing.assert_allclose(np.delete(dyn[:, col], t), d[:, 0], rtol=1e-12)
        np.testing.assert_allclose(base[col], b[0], rtol=1e-12)
    # a column that starts non-finite starts its baseline at its first finite sample
    late = x.copy()
    late[:3, 0] = np.nan
    dyn, base = dsp.remove_static(late, 0.1)
    assert np.isnan(dyn[:3, 0]).all() and dyn[3, 0] == 0
    never = np.full((5, 1), np.nan + 0j)
    dyn, base = dsp.remove_static(never, 0.1)
    assert np.isnan(base[0]) and np.isnan(dyn).all()


@IMPLS
def test_doppler_nan_spoils_only_the_windows_that_hold_it(dsp):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(100, 3)) + 1j * rng.normal(size=(100, 3))
    x[50, 1] = np.nan
    _, power = dsp.doppler_spectrum(x, 100.0, 16, 8)
    starts = np.arange(power.shape[0]) * 8
    holds = (starts <= 50) & (50 < starts + 16)
    assert np.isnan(power[holds]).all() and np.isfinite(power[~holds]).all()
    same_finite(power, reference.doppler_spectrum(x, 100.0, 16, 8)[1], 1e-9)


@IMPLS
def test_motion_energy_nan_spoils_the_step_into_and_out_of_it(dsp):
    x = np.ones((10, 4), np.complex64)
    x[5, 2] = np.nan
    e = dsp.motion_energy(x)
    assert np.isnan(e[[5, 6]]).all() and np.all(np.delete(e, [5, 6]) == 0)


# --------------------------------------------------------------------------- all-zero CSI


@IMPLS
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_all_zero_csi_gives_zeros_everywhere(dsp, dtype):
    csi = np.zeros((16, 1, 3, 30), dtype)
    phase, slope = dsp.sanitize_phase(csi, SUB)
    assert np.all(phase == 0) and np.all(slope == 0)
    assert np.all(dsp.normalize_amplitude(csi) == 0)
    ratio = dsp.csi_ratio(csi)
    assert ratio.shape == (16, 1, 2, 30) and np.all(ratio == 0)
    dyn, base = dsp.remove_static(ratio.reshape(16, -1), 0.1)
    assert np.all(dyn == 0) and np.all(base == 0)
    freqs, power = dsp.doppler_spectrum(dyn, 100.0, 8, 4)
    assert power.shape == (3, 8) and np.all(power == 0)
    assert np.all(dsp.motion_energy(csi) == 0)
    y, flags = dsp.hampel(np.abs(csi))
    assert np.all(y == 0) and not flags.any()


# --------------------------------------------------------------------------- empty batches


@IMPLS
def test_empty_batches_give_empty_results(dsp):
    csi = np.zeros((0, 3, 3, 30), np.complex64)
    phase, slope = dsp.sanitize_phase(csi, SUB)
    assert phase.shape == (0, 3, 3, 30) and slope.shape == (0, 3, 3)
    phase, slope = dsp.sanitize_phase(csi, np.zeros((0, 30)))  # per-frame indices, none
    assert phase.shape == (0, 3, 3, 30)
    assert dsp.normalize_amplitude(csi).shape == (0, 3, 3, 30)
    assert dsp.csi_ratio(csi).shape == (0, 3, 2, 30)
    y, flags = dsp.hampel(np.zeros((0, 270), np.float32))
    assert y.shape == flags.shape == (0, 270) and y.dtype == np.float32
    dyn, base = dsp.remove_static(np.zeros((0, 180), np.complex64), 0.5)
    assert dyn.shape == (0, 180) and dyn.dtype == np.complex64
    assert base.shape == (180,) and np.isnan(base).all()
    assert dsp.StaticRemover(0.5).update(np.zeros((0, 4))).shape == (0, 4)
    freqs, power = dsp.doppler_spectrum(np.zeros((0, 180)), 100.0, 32, 16)
    assert freqs.shape == (32,) and power.shape == (0, 32)
    freqs, power = dsp.doppler_spectrum(np.zeros((31, 180)), 100.0, 32, 16)  # too short
    assert power.shape == (0, 32)
    assert dsp.motion_energy(np.zeros((0, 180))).shape == (0,)


# --------------------------------------------------------------------------- wrong shapes


@IMPLS
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda d: d.sanitize_phase(np.ones((5, 30), complex), np.arange(29)), "subcarriers"),
        (lambda d: d.sanitize_phase(np.ones((5, 1), complex), np.arange(1)), "at least 2"),
        (lambda d: d.sanitize_phase(np.ones((5, 3), complex), np.ones(3)), "all be equal"),
        (lambda d: d.sanitize_phase(np.ones((5, 2, 30), complex), np.ones((4, 30))), "line up"),
        (lambda d: d.sanitize_phase(np.ones((5, 30), complex), np.ones((5, 2, 30))), "more axes"),
        (lambda d: d.sanitize_phase(np.ones(()), np.arange(3)), "subcarriers"),
        (lambda d: d.sanitize_phase(np.ones((5, 3)), np.float64(3)), "array of indices"),
        (lambda d: d.hampel(np.ones((5, 3)), window=4), "odd"),
        (lambda d: d.hampel(np.ones((5, 3)), window=1), "odd"),
        (lambda d: d.hampel(np.ones((5, 3)), window=5.0), "integer"),
        (lambda d: d.hampel(np.ones((5, 3)), n_sigmas=-1), "n_sigmas"),
        (lambda d: d.hampel(np.ones((5, 3)), n_sigmas=np.nan), "n_sigmas"),
        (lambda d: d.hampel(np.ones((5, 3), complex)), "real"),
        (lambda d: d.hampel(np.float64(1.0)), "axis 0"),
        (lambda d: d.normalize_amplitude(np.ones(30, complex)), "csi"),
        (lambda d: d.normalize_amplitude(np.ones((2, 30), complex), np.ones(29, bool)), "mask"),
        (lambda d: d.normalize_amplitude(np.ones((2, 30), complex), np.ones(30)), "mask"),
        (lambda d: d.normalize_amplitude(np.ones((2, 30), complex), np.zeros(30, bool)), "no bin"),
        (lambda d: d.normalize_amplitude(np.ones((2, 0), complex)), "no subcarriers"),
        (lambda d: d.csi_ratio(np.ones((5, 1, 1, 30), complex)), "2 receive"),
        (lambda d: d.csi_ratio(np.ones((5, 30), complex)), "R, S"),
        (lambda d: d.csi_ratio(np.ones((5, 1, 3, 30), complex), ref_rx=3), "out of range"),
        (lambda d: d.remove_static(np.ones((5, 3)), 0.0), "alpha"),
        (lambda d: d.remove_static(np.ones((5, 3)), 1.5), "alpha"),
        (lambda d: d.remove_static(np.ones((5, 3)), np.nan), "alpha"),
        (lambda d: d.remove_static(np.complex64(1), 0.5), "axis 0"),
        (lambda d: d.StaticRemover(-0.1), "alpha"),
        (lambda d: d.doppler_spectrum(np.ones((9, 3)), 0.0, 4, 2), "fs"),
        (lambda d: d.doppler_spectrum(np.ones((9, 3)), np.inf, 4, 2), "fs"),
        (lambda d: d.doppler_spectrum(np.ones((9, 3)), 100.0, 0, 2), ">= 1"),
        (lambda d: d.doppler_spectrum(np.ones((9, 3)), 100.0, 4, 0), ">= 1"),
        (lambda d: d.doppler_spectrum(np.ones((9, 3)), 100.0, 4.5, 2), "integer"),
        (lambda d: d.doppler_spectrum(np.complex64(1), 100.0, 4, 2), "axis 0"),
        (lambda d: d.motion_energy(np.ones((5, 0))), "channel"),
        (lambda d: d.motion_energy(np.float32(1)), "axis 0"),
    ],
)
def test_bad_arguments_raise_one_clear_value_error(dsp, call, message):
    with pytest.raises(ValueError, match=message) as info:
        call(dsp)
    assert "\n" not in str(info.value)


@IMPLS
def test_a_streaming_remover_refuses_a_change_of_shape(dsp):
    remover = dsp.StaticRemover(0.1)
    remover.update(np.ones((4, 6)))
    with pytest.raises(ValueError, match="differs"):
        remover.update(np.ones((4, 5)))
    assert remover.update(np.ones((2, 6))).shape == (2, 6)  # and keeps working
