"""ESP32 CSI numpy archives: detection, subcarrier order, time, bad archives."""

import numpy as np
import pytest

from wdp.capture.formats import CaptureFileError, detect, esp32_npz, read_capture

#: Where HT20 nulls sit: DC and the guard band past +-28.
NULLS = [-32, -31, -30, -29, 0, 29, 30, 31]


def buffer(rng, n=50, order="fft"):
    """int8 [n, 128] of (imag, real) pairs whose real part is the subcarrier index + 40
    (so each value says where it belongs) and zero on the null subcarriers."""
    sub = np.arange(-32, 32)
    if order == "fft":
        sub = np.concatenate([np.arange(32), np.arange(-32, 0)])
    real = np.where(np.isin(sub, NULLS), 0, sub + 40)
    imag = np.where(np.isin(sub, NULLS), 0, 1)
    pairs = np.stack([np.tile(imag, (n, 1)), np.tile(real, (n, 1))], axis=2)
    return (pairs + rng.integers(-1, 2, pairs.shape) * (pairs != 0)).astype(np.int8).reshape(n, 128)


def save(tmp_path, name="x.npz", **arrays):
    path = tmp_path / name
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


@pytest.mark.parametrize(
    ("chip", "order"), [("esp32", "fft"), ("s3", "fft"), ("c3", "fft"), ("c5", "ascending"),
                        ("c6", "ascending")],
)  # fmt: skip
def test_both_orders_land_ascending(tmp_path, chip, order):
    rng = np.random.default_rng(1)
    path = save(tmp_path, chip=chip, label="baseline", duration_ms=500.0, gain_locked=True,
                csi_data=buffer(rng, 50, order))  # fmt: skip
    assert detect(path) == "esp32-npz"
    result = read_capture(path, router_id="esp", environment_id="lab")
    b = result.batch
    assert (result.format, b.hw_format, result.frames, result.records) == ("esp32-npz", "esp32",
                                                                           50, 50)  # fmt: skip
    assert np.array_equal(b.subcarriers[0], np.arange(-32, 32))
    mean_real = b.csi[:, 0, 0].real.mean(axis=0)
    active = ~np.isin(np.arange(-32, 32), NULLS)
    assert np.allclose(mean_real[active], np.arange(-32, 32)[active] + 40, atol=0.5)
    assert not mean_real[~active].any()
    assert result.metadata["chip"] == chip and result.metadata["label"] == "baseline"
    assert not any("judged" in n for n in result.notes)  # the data agrees with the chip


def test_order_is_judged_from_the_data_not_the_name(tmp_path):
    rng = np.random.default_rng(2)
    path = save(tmp_path, chip="c6", duration_ms=100.0, csi_data=buffer(rng, 20, "fft"))
    result = read_capture(path)
    assert np.allclose(result.batch.csi[:, 0, 0, 33].real.mean(), 41, atol=0.5)
    assert "subcarrier order judged fft from the null subcarriers (chip 'c6')" in result.notes


def test_packets_are_spread_over_duration_ms(tmp_path):
    rng = np.random.default_rng(3)
    path = save(tmp_path, chip="s3", duration_ms=1000.0, csi_data=buffer(rng, 100))
    b = read_capture(path).batch
    assert b.timestamp_ns[:3].tolist() == [0, 10_000_000, 20_000_000]
    assert b.sequence[-1] == 99 and np.all(b.host_time_ns == 0)
    assert np.isnan(b.rssi_dbm).all() and np.all(b.bandwidth_mhz == 20.0)


def test_raw_records_are_the_stored_rows(tmp_path):
    rng = np.random.default_rng(4)
    data = buffer(rng, 7)
    result = read_capture(save(tmp_path, chip="s3", duration_ms=70.0, csi_data=data))
    assert [result.raw.record(i) for i in range(7)] == [row.tobytes() for row in data]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"chip": "s3", "duration_ms": 1.0}, "without a csi_data array"),
        ({"csi_data": np.zeros((3, 127), np.int8), "duration_ms": 1.0}, "shape"),
        ({"csi_data": np.zeros((0, 128), np.int8), "duration_ms": 1.0}, "shape"),
        ({"csi_data": np.zeros((3, 128), np.float32), "duration_ms": 1.0}, "not int8"),
        ({"csi_data": np.zeros((3, 128), np.int8)}, "no usable duration_ms"),
        ({"csi_data": np.zeros((3, 128), np.int8), "duration_ms": -5.0}, "no usable duration_ms"),
    ],
)
def test_unusable_archives_say_why_in_one_line(tmp_path, arrays, message):
    path = save(tmp_path, **arrays)
    with pytest.raises(CaptureFileError, match=message) as info:
        read_capture(path, router_id="esp-7")
    text = str(info.value)
    assert "\n" not in text and str(path) in text and "router esp-7" in text


def test_a_truncated_archive_is_one_clear_line(tmp_path):
    rng = np.random.default_rng(5)
    path = save(tmp_path, chip="s3", duration_ms=1.0, csi_data=buffer(rng, 40))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CaptureFileError, match="not a readable numpy archive") as info:
        read_capture(path)
    assert "\n" not in str(info.value)


def test_judge_order():
    amp = np.ones(64)
    amp[[0, 1, 2, 3, 32, 61, 62, 63]] = 0
    assert esp32_npz.judge_order(amp) == "ascending"
    amp = np.ones(64)
    amp[[0, *range(29, 36)]] = 0
    assert esp32_npz.judge_order(amp) == "fft"
    assert esp32_npz.judge_order(np.zeros(64)) is None
