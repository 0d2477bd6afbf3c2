"""Synthetic frames shared by the recorder tests (no tests here; deterministic frames)."""

from __future__ import annotations

import zlib

import numpy as np

from wdp.capture import CsiFrame
from wdp.recorder import RouterInfo

NAN = float("nan")


def make_frame(
    i: int,
    *,
    router: str = "r1",
    ts: int | None = None,
    n_tx: int = 1,
    n_rx: int = 3,
    n_sub: int = 30,
    sub_start: int = -28,
    env: str = "room",
    hw: str = "intel5300",
) -> CsiFrame:
    rng = np.random.default_rng([i, zlib.crc32(router.encode())])
    size = (n_tx, n_rx, n_sub)
    csi = rng.normal(size=size) + 1j * rng.normal(size=size)
    rssi = rng.normal(-45, 4, size=n_rx)
    if i % 7 == 3:
        rssi[-1] = NAN  # a chain whose RSSI the hardware did not report
    return CsiFrame(
        timestamp_ns=i * 1_000_000 if ts is None else ts,
        host_time_ns=1_700_000_000_000_000_000 + i * 1_000_123,
        router_id=router,
        environment_id=env,
        sequence=i,
        csi=csi,
        subcarriers=sub_start + 2 * np.arange(n_sub),
        rssi_dbm=rssi,
        noise_floor_dbm=NAN if i % 2 else -92.0,
        center_freq_mhz=5180.0 if i % 5 else NAN,
        bandwidth_mhz=20.0,
        hw_format=hw,
    )


def info(router: str = "r1", env: str = "room", hw: str = "intel5300") -> RouterInfo:
    return RouterInfo(router, env, hw)


def assert_same(got, want) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.same_as(w), f"frame {k} differs: {g.router_id}/{g.sequence} vs {w.sequence}"
