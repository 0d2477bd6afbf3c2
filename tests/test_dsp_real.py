"""DSP on the real captures: every function on every file, numba against numpy.

Frames are taken by shape group (the Intel CSI Tool's own log mixes 1, 2 and 3 transmit
chains; a FrameBatch zero-pads them to the largest), each group with its true shape and
per-frame subcarrier indices. Where the input is finite, every output must be finite,
and the kernels must agree with the reference.
"""

import numpy as np
import pytest

import wdp.dsp as fast
from wdp.capture.formats import read_capture
from wdp.dsp import reference

FILES = [
    "intel5300_inject_3x1_1khz.dat",
    "intel5300_log.all_csi.6.7.6.dat",
    "atheros_ar93xx_3x2_56sc.dat",
    "esp32_csitool_passive_ch8.csv",
    "nexmon_bcm43455c0_rpi_80mhz.pcap",
]


def shape_groups(batch):
    """(csi [n, t, r, s], subcarriers [n, s], sample rate Hz) per distinct frame shape."""
    shapes = np.unique(batch.shape, axis=0)
    for t, r, s in shapes.tolist():
        rows = np.flatnonzero(np.all(batch.shape == (t, r, s), axis=1))
        gaps = np.diff(batch.timestamp_ns[rows])
        fs = 1e9 / np.median(gaps) if gaps.size and np.median(gaps) > 0 else 100.0
        yield batch.csi[rows, :t, :r, :s], batch.subcarriers[rows, :s], fs


def run(dsp, csi, sub, fs):
    """Every DSP function on one group; returns the outputs by name."""
    n = csi.shape[0]
    out = {}
    out["phase"], out["slope"] = dsp.sanitize_phase(csi, sub)
    carrying = np.any(csi != 0, axis=(0, 1, 2))  # ESP32 guard bins are 0 in every frame
    out["amplitude"] = dsp.normalize_amplitude(csi, carrying)
    out["filtered"], out["outliers"] = dsp.hampel(out["amplitude"], 5, 3.0)
    if csi.shape[2] >= 2:
        out["ratio"] = dsp.csi_ratio(csi, 0)
        chains = out["ratio"].reshape(n, -1)
    else:
        with pytest.raises(ValueError, match="receive"):
            dsp.csi_ratio(csi, 0)
        chains = csi.reshape(n, -1)
    out["dynamic"], out["baseline"] = dsp.remove_static(chains, 0.05)
    remover = dsp.StaticRemover(0.05)
    out["streamed"] = np.concatenate([remover.update(chains[i : i + 64]) for i in range(0, n, 64)])
    window = 1 << (min(n, 64).bit_length() - 1)
    out["freqs"], out["power"] = dsp.doppler_spectrum(out["dynamic"], fs, window, window // 2)
    out["energy"] = dsp.motion_energy(csi)
    out["energy_filtered"] = dsp.motion_energy(out["filtered"])
    return out


@pytest.fixture(scope="module")
def groups(samples):
    found = []
    for name in FILES:
        batch = read_capture(samples / name, router_id="real", environment_id="lab").batch
        for csi, sub, fs in shape_groups(batch):
            found.append((name, csi, sub, fs))
    return found


def test_every_function_gives_finite_output_on_every_real_capture(groups):
    assert {name for name, *_ in groups} == set(FILES)
    for name, csi, sub, fs in groups:
        assert np.isfinite(csi).all(), name  # the premise: these files decode to finite CSI
        out = run(fast, csi, sub, fs)
        for key, value in out.items():
            assert np.isfinite(value).all(), (name, csi.shape, key)
        assert out["power"].shape[0] >= 1, name
        np.testing.assert_array_equal(out["streamed"], out["dynamic"])


def test_numba_equals_numpy_on_every_real_capture(groups):
    for name, csi, sub, fs in groups:
        a, b = run(fast, csi, sub, fs), run(reference, csi, sub, fs)
        assert a.keys() == b.keys()
        for key in a:
            x, y = np.asarray(a[key]), np.asarray(b[key])
            assert x.shape == y.shape and x.dtype == y.dtype, (name, key)
            scale = max(float(np.max(np.abs(y), initial=0)), 1e-30)
            rtol = 1e-5 if y.dtype in (np.float32, np.complex64) else 1e-9
            if key in ("outliers",):
                np.testing.assert_array_equal(x, y, err_msg=f"{name} {key}")
            else:
                np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale, err_msg=f"{name} {key}")


def test_sanitized_phase_spread_of_the_1khz_intel_capture_is_below_a_tenth_of_a_radian(groups):
    """The statistic of tests/test_sim_realism.py (``wdp.dsp.phase_spread``), strongest chain."""
    (csi, sub, _) = next((c, s, f) for n, c, s, f in groups if n == FILES[0])
    h = fast.strongest_chain(csi)
    raw = fast.phase_spread(np.angle(h))
    phase, _ = fast.sanitize_phase(h, sub)
    sanitized = fast.phase_spread(phase)
    assert raw > 1.0  # the per-packet phase is all over the circle...
    assert sanitized < 0.1  # ...and sanitization takes it down to noise
    assert sanitized == pytest.approx(0.04, abs=0.01)  # as the samples README says
    ref_phase, _ = reference.sanitize_phase(h, sub)
    assert fast.phase_spread(ref_phase) == pytest.approx(sanitized, abs=1e-9)
