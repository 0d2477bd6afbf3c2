import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdp.capture import CsiFrame, FrameBatch, sort_key
from wdp.capture.clock import CounterClock, unwrap_counter


def make_frame(n_tx=1, n_rx=2, n_sub=4, ts=0, seq=0, router="r1"):
    rng = np.random.default_rng(seq)
    csi = rng.normal(size=(n_tx, n_rx, n_sub)) + 1j * rng.normal(size=(n_tx, n_rx, n_sub))
    return CsiFrame(
        timestamp_ns=ts,
        host_time_ns=ts + 5,
        router_id=router,
        environment_id="room",
        sequence=seq,
        csi=csi,
        subcarriers=np.arange(n_sub) - n_sub // 2,
        rssi_dbm=np.full(n_rx, -40.0),
        noise_floor_dbm=float("nan"),
        center_freq_mhz=5180.0,
        bandwidth_mhz=20.0,
        hw_format="intel5300",
    )


def test_frame_converts_dtypes():
    f = make_frame()
    assert f.csi.dtype == np.complex64
    assert f.subcarriers.dtype == np.int16
    assert f.rssi_dbm.dtype == np.float32
    assert f.shape == (1, 2, 4)


@pytest.mark.parametrize(
    "change",
    [
        {"subcarriers": np.arange(3)},
        {"rssi_dbm": np.zeros(3)},
        {"csi": np.zeros((2, 2))},
        {"hw_format": "wifi9000"},
    ],
)
def test_frame_rejects_inconsistent_fields(change):
    f = make_frame()
    fields = {a.name: getattr(f, a.name) for a in CsiFrame.__attrs_attrs__}
    fields.update(change)
    with pytest.raises(ValueError):
        CsiFrame(**fields)


def test_frame_is_frozen():
    f = make_frame()
    with pytest.raises(AttributeError):
        f.sequence = 3


def test_batch_round_trips_frames_of_different_shapes():
    frames = [make_frame(n_tx=t, ts=i, seq=i) for i, t in enumerate([1, 3, 2, 1])]
    batch = FrameBatch.from_frames(frames)
    assert batch.csi.shape == (4, 3, 2, 4)
    assert len(batch) == 4
    for a, b in zip(frames, batch.frames(), strict=True):
        assert a.same_as(b)
    assert not frames[0].same_as(frames[1])


def test_batch_refuses_mixed_routers_and_empty():
    with pytest.raises(ValueError):
        FrameBatch.from_frames([make_frame(), make_frame(router="r2")])
    with pytest.raises(ValueError):
        FrameBatch.from_frames([])


def test_sort_key_orders_timestamp_router_sequence():
    frames = [
        make_frame(ts=2, router="b"),
        make_frame(ts=1, router="b", seq=2),
        make_frame(ts=1, router="a", seq=9),
        make_frame(ts=1, router="b", seq=1),
    ]
    ordered = sorted(frames, key=sort_key)
    assert [(f.timestamp_ns, f.router_id, f.sequence) for f in ordered] == [
        (1, "a", 9),
        (1, "b", 1),
        (1, "b", 2),
        (2, "b", 0),
    ]


def test_counter_clock_unwraps_and_holds_backward_steps():
    clock = CounterClock(bits=32, tick_ns=1000)
    top = (1 << 32) - 10
    assert clock(top) == top * 1000
    assert clock(5) == ((1 << 32) + 5) * 1000  # wrapped
    assert clock(3) == ((1 << 32) + 5) * 1000  # small step back: held
    assert clock.backwards == 1
    assert clock(7) == ((1 << 32) + 7) * 1000


def test_batch_rows_slices_every_column():
    frames = [make_frame(n_tx=t, ts=i, seq=i) for i, t in enumerate([1, 3, 2, 1])]
    part = FrameBatch.from_frames(frames).rows(1, 3)
    assert len(part) == 2
    assert [f.sequence for f in part.frames()] == [1, 2]
    assert part.frame(0).same_as(frames[1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, (1 << 16) - 1), max_size=30))
def test_vectorised_unwrap_equals_counter_clock(values):
    clock = CounterClock(16, 3)
    expected = [clock(v) for v in values]
    assert unwrap_counter(np.array(values, np.int64), 16, 3).tolist() == expected


def test_batch_concat_pads_to_the_largest_shape():
    a = FrameBatch.from_frames([make_frame(n_tx=1, ts=0, seq=0), make_frame(n_tx=1, ts=1, seq=1)])
    b = FrameBatch.from_frames([make_frame(n_tx=3, n_sub=6, ts=2, seq=2)])
    both = FrameBatch.concat([a, b])
    assert both.csi.shape == (3, 3, 2, 6) and len(both) == 3
    for x, y in zip([*a.frames(), *b.frames()], both.frames(), strict=True):
        assert x.same_as(y)
    with pytest.raises(ValueError):
        FrameBatch.concat([])
