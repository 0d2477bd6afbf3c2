"""wdp.dsp.portable: the CPU-independent math is also right (close to numpy's, the same
special values), so that swapping it in changed nothing but the last bits.

That it gives the same bits under every kernel setting is test_determinism's job; here
each function is held to numpy (or libm through ``math``) within a few ulp.
"""

import math

import numpy as np
import pytest

from wdp.dsp import portable

RNG = np.random.default_rng(7)


def ulps(got: np.ndarray, want: np.ndarray) -> float:
    """The largest difference in units in the last place of ``want``."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want) / np.spacing(np.abs(want))))


def test_exp_within_two_ulp_over_the_whole_range():
    x = np.concatenate([RNG.uniform(-745, 709.7, 20_000), RNG.standard_normal(20_000)])
    with np.errstate(under="ignore"):
        want = np.exp(x)
    normal = want > np.finfo(np.float64).tiny  # subnormal results have fewer bits
    assert ulps(portable.exp(x)[normal], want[normal]) <= 2


def test_exp_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 709.78, 709.79, 710.0, -745.2, -746.0])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(portable.exp(x), np.exp(x))
    assert portable.exp(-745.1) == 5e-324  # the smallest subnormal, as libm rounds it
    assert portable.exp(1.0) == pytest.approx(math.e, rel=4e-16)


def test_log_and_log10_within_two_ulp_and_special_values():
    x = np.concatenate([np.exp(RNG.uniform(-700, 700, 20_000)), RNG.uniform(0.5, 2.0, 20_000)])
    x = x[np.abs(x - 1.0) > 1e-3]  # near 1 the result is tiny: ulps of it say nothing
    assert ulps(portable.log(x), np.log(x)) <= 1
    assert ulps(portable.log10(x), np.log10(x)) <= 2
    sp = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1.0, 5e-324])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(portable.log(sp), np.log(sp))
    assert portable.log10(1000.0) == 3.0


def test_sin_cos_tan_close_to_libm_and_special_values():
    x = np.concatenate([RNG.uniform(-10, 10, 20_000), RNG.uniform(-1e4, 1e4, 20_000)])
    s, c = portable.sincos(x)
    np.testing.assert_allclose(s, np.sin(x), rtol=0, atol=3e-16)
    np.testing.assert_allclose(c, np.cos(x), rtol=0, atol=3e-16)
    big = np.abs(s) > 0.1
    assert ulps(s[big], np.sin(x)[big]) <= 2
    assert portable.tan(math.pi / 4) == math.tan(math.pi / 4)
    s, c = portable.sincos(np.array([np.nan, np.inf, -np.inf, 2.0**30]))
    assert np.isnan(s).all() and np.isnan(c).all()
    assert math.copysign(1.0, portable.sin(-0.0)) == -1.0 and portable.cos(-0.0) == 1.0


def test_atan2_angle_cis_and_complex_arithmetic_match_numpy():
    z = RNG.standard_normal((50, 30)) + 1j * RNG.standard_normal((50, 30))
    w = RNG.standard_normal((50, 30)) + 1j * RNG.standard_normal((50, 30))
    np.testing.assert_allclose(portable.angle(z), np.angle(z), rtol=0, atol=5e-16)
    assert portable.atan2(1.0, -1.0) == pytest.approx(3 * math.pi / 4, rel=2e-16)
    np.testing.assert_allclose(portable.cis(z.real), np.exp(1j * z.real), rtol=0, atol=3e-16)
    np.testing.assert_allclose(portable.cmul(z, w), z * w, rtol=1e-15)
    np.testing.assert_allclose(portable.cmul_conj(z, w), z * np.conj(w), rtol=1e-15)
    np.testing.assert_allclose(portable.cabs(z), np.abs(z), rtol=5e-16)
    np.testing.assert_array_equal(portable.abs2(z), z.real**2 + z.imag**2)
    z64 = z.astype(np.complex64)
    assert portable.cmul(z64, z64).dtype == np.complex64  # single precision stays single


def test_matmul_inner_conj_and_inv_match_numpy():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((3, 7))
    np.testing.assert_allclose(portable.matmul(a, b), a @ b, rtol=1e-14)
    np.testing.assert_allclose(portable.matmul(a[0], b), a[0] @ b, rtol=1e-14)
    np.testing.assert_allclose(portable.matmul(a, b[:, 0]), a @ b[:, 0], rtol=1e-14)
    assert portable.matmul(a[0], b[:, 0]) == pytest.approx(a[0] @ b[:, 0], rel=1e-14)
    with pytest.raises(ValueError, match="do not align"):
        portable.matmul(a, a)
    z = RNG.standard_normal((4, 9)) + 1j * RNG.standard_normal((4, 9))
    np.testing.assert_allclose(portable.inner_conj(z, z), z @ z.conj().T, rtol=1e-14)
    m = RNG.standard_normal((4, 4))
    p = m @ m.T + np.eye(4)
    np.testing.assert_allclose(portable.matmul(portable.inv(p), p), np.eye(4), atol=1e-13)
    np.testing.assert_allclose(portable.inv(m), np.linalg.inv(m), rtol=1e-10)
    with pytest.raises(np.linalg.LinAlgError):
        portable.inv(np.ones((3, 3)))


def test_dense_is_a_layer_in_float64():
    x = RNG.standard_normal((3, 20)).astype(np.float32)
    w = RNG.standard_normal((20, 8)).astype(np.float32)
    b = RNG.standard_normal(8).astype(np.float32)
    lin = x.astype(np.float64) @ w.astype(np.float64) + b
    np.testing.assert_allclose(portable.dense(x, w, b, gelu=False), lin, rtol=1e-12)
    gelu = 0.5 * lin * (1 + np.tanh(math.sqrt(2 / math.pi) * (lin + 0.044715 * lin**3)))
    np.testing.assert_allclose(portable.dense(x, w, b, gelu=True), gelu, rtol=1e-12, atol=1e-15)
    assert portable.dense(x, w, b, gelu=True).dtype == np.float64
