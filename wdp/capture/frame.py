"""The CSI frame: the one type every source (file import, live UDP, simulator, replay) yields.

Shapes vary between routers and even between frames of one router (an Intel 5300 reports
1..3 transmit chains frame by frame), so every frame carries its own shape and the true
subcarrier indices that phase sanitization fits against.
"""

from __future__ import annotations

import math
import re

import attrs
import numpy as np

#: Hardware formats a frame can come from.
HW_FORMATS = ("intel5300", "atheros", "nexmon", "esp32", "sim")


def _as_complex64(value: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(value, dtype=np.complex64)


def _as_int16(value: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(value, dtype=np.int16)


def _as_float32(value: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(value, dtype=np.float32)


_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def normalize_mac(value: str | bytes | int | None) -> str:
    """A MAC address as ``aa:bb:cc:dd:ee:ff`` (lower case); "" for unknown.

    Takes the text forms (``AA-BB-...``, ``aabbccddeeff``), 6 raw bytes or the 48-bit
    integer the recordings store (0 = unknown). ValueError when it is none of these.
    """
    if value is None or value == "" or value == 0:
        return ""
    if isinstance(value, bytes) and len(value) == 6:
        return value.hex(":")
    if isinstance(value, (int, np.integer)):
        if not 0 < int(value) < 1 << 48:
            raise ValueError(f"not a 48-bit MAC address: {value!r}")
        return int(value).to_bytes(6, "big").hex(":")
    if isinstance(value, str):
        text = value.strip().lower().replace("-", ":")
        if len(text) == 12 and ":" not in text:
            text = ":".join(text[i : i + 2] for i in range(0, 12, 2))
        if _MAC.match(text):
            return text
    raise ValueError(f"not a MAC address: {value!r} (expected e.g. b8:27:eb:03:e1:9f)")


def mac_to_int(mac: str) -> int:
    """The 48-bit integer of a MAC address (0 for "", unknown): how recordings store it."""
    mac = normalize_mac(mac)
    return int(mac.replace(":", ""), 16) if mac else 0


@attrs.frozen(slots=True, eq=False)
class CsiFrame:
    """One CSI measurement of one router.

    ``timestamp_ns`` is the source's own clock (hardware counter unwrapped to ns,
    non-decreasing per router); ``host_time_ns`` is when this host received it
    (``time.time_ns()``), or the capture file's record time. Unknown floats are NaN.
    ``source_mac`` is the transmitter the CSI was measured on, where the format says
    (nexmon, ESP32 text): a monitor-mode receiver hears every transmitter on its
    channel, and only frames of one transmitter describe one link. "" = unknown.
    """

    timestamp_ns: int
    host_time_ns: int
    router_id: str
    environment_id: str
    sequence: int
    csi: np.ndarray = attrs.field(converter=_as_complex64)  # [n_tx, n_rx, n_sub]
    subcarriers: np.ndarray = attrs.field(converter=_as_int16)  # [n_sub], true indices
    rssi_dbm: np.ndarray = attrs.field(converter=_as_float32)  # [n_rx]
    noise_floor_dbm: float
    center_freq_mhz: float
    bandwidth_mhz: float
    hw_format: str
    source_mac: str = attrs.field(default="", converter=normalize_mac)

    def __attrs_post_init__(self) -> None:
        if self.csi.ndim != 3:
            raise ValueError(f"csi must be [n_tx, n_rx, n_sub], got shape {self.csi.shape}")
        n_tx, n_rx, n_sub = self.csi.shape
        if self.subcarriers.shape != (n_sub,):
            raise ValueError(
                f"subcarriers has shape {self.subcarriers.shape}, csi has {n_sub} subcarriers"
            )
        if self.rssi_dbm.shape != (n_rx,):
            raise ValueError(f"rssi_dbm has shape {self.rssi_dbm.shape}, csi has {n_rx} rx")
        if self.hw_format not in HW_FORMATS:
            raise ValueError(f"unknown hardware format {self.hw_format!r}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n_tx, n_rx, n_sub)."""
        return self.csi.shape  # type: ignore[return-value]

    def same_as(self, other: CsiFrame, *, ignore_host_time: bool = False) -> bool:
        """Field-by-field equality (arrays compared exactly, NaN equal to NaN)."""
        scalars = [
            "timestamp_ns",
            "router_id",
            "environment_id",
            "sequence",
            "hw_format",
            "source_mac",
        ]
        if not ignore_host_time:
            scalars.append("host_time_ns")
        if any(getattr(self, n) != getattr(other, n) for n in scalars):
            return False
        for n in ("noise_floor_dbm", "center_freq_mhz", "bandwidth_mhz"):
            a, b = getattr(self, n), getattr(other, n)
            if not (a == b or (math.isnan(a) and math.isnan(b))):
                return False
        return (
            np.array_equal(self.csi, other.csi)
            and np.array_equal(self.subcarriers, other.subcarriers)
            and np.array_equal(self.rssi_dbm, other.rssi_dbm, equal_nan=True)
        )


def sort_key(frame: CsiFrame) -> tuple[int, str, int]:
    """The one deterministic order of frames across routers."""
    return (frame.timestamp_ns, frame.router_id, frame.sequence)


@attrs.frozen(slots=True, eq=False)
class FrameBatch:
    """Many frames of one router in columns, so that import and recording run at array speed.

    ``csi`` is zero-padded to the largest shape in the batch; ``shape[i]`` holds frame i's
    true (n_tx, n_rx, n_sub) and ``subcarriers[i, :n_sub]`` its true indices. ``rssi_dbm``
    is NaN-padded the same way. ``source_mac`` holds each frame's transmitter as a 48-bit
    integer (``mac_to_int``; 0 = unknown); left out, every frame's is unknown.
    """

    router_id: str
    environment_id: str
    hw_format: str
    timestamp_ns: np.ndarray  # int64 [N]
    host_time_ns: np.ndarray  # int64 [N]
    sequence: np.ndarray  # int64 [N]
    csi: np.ndarray  # complex64 [N, T, R, S]
    shape: np.ndarray  # uint16 [N, 3]
    subcarriers: np.ndarray  # int16 [N, S]
    rssi_dbm: np.ndarray  # float32 [N, R]
    noise_floor_dbm: np.ndarray  # float32 [N]
    center_freq_mhz: np.ndarray  # float32 [N]
    bandwidth_mhz: np.ndarray  # float32 [N]
    source_mac: np.ndarray | None = None  # int64 [N]; None: all unknown

    def __attrs_post_init__(self) -> None:
        n = self.timestamp_ns.shape[0]
        if self.source_mac is None:
            object.__setattr__(self, "source_mac", np.zeros(n, dtype=np.int64))
        elif self.source_mac.shape != (n,):
            raise ValueError(f"source_mac has shape {self.source_mac.shape}, the batch {n} frames")

    def __len__(self) -> int:
        return int(self.timestamp_ns.shape[0])

    def select(self, keep: np.ndarray) -> FrameBatch:
        """The frames where ``keep`` (bool [N]) is true, in order (copies), padded only
        to the largest shape among them."""
        columns = {
            f.name: v if isinstance(v := getattr(self, f.name), str) else v[keep]
            for f in attrs.fields(FrameBatch)
        }
        if columns["shape"].shape[0]:
            t, r, s = (int(v) for v in columns["shape"].max(axis=0))
            columns["csi"] = np.ascontiguousarray(columns["csi"][:, :t, :r, :s])
            columns["subcarriers"] = np.ascontiguousarray(columns["subcarriers"][:, :s])
            columns["rssi_dbm"] = np.ascontiguousarray(columns["rssi_dbm"][:, :r])
        return FrameBatch(**columns)

    def rows(self, start: int, stop: int) -> FrameBatch:
        """Frames [start, stop) as a batch (views, no copies)."""
        columns = {
            f.name: v if isinstance(v := getattr(self, f.name), str) else v[start:stop]
            for f in attrs.fields(FrameBatch)
        }
        return FrameBatch(**columns)

    def frame(self, i: int) -> CsiFrame:
        t, r, s = (int(v) for v in self.shape[i])
        return CsiFrame(
            timestamp_ns=int(self.timestamp_ns[i]),
            host_time_ns=int(self.host_time_ns[i]),
            router_id=self.router_id,
            environment_id=self.environment_id,
            sequence=int(self.sequence[i]),
            csi=self.csi[i, :t, :r, :s],
            subcarriers=self.subcarriers[i, :s],
            rssi_dbm=self.rssi_dbm[i, :r],
            noise_floor_dbm=float(self.noise_floor_dbm[i]),
            center_freq_mhz=float(self.center_freq_mhz[i]),
            bandwidth_mhz=float(self.bandwidth_mhz[i]),
            hw_format=self.hw_format,
            source_mac=int(self.source_mac[i]),
        )

    def frames(self):
        """Yield the batch's frames in order."""
        for i in range(len(self)):
            yield self.frame(i)

    @classmethod
    def concat(cls, batches: list[FrameBatch]) -> FrameBatch:
        """Batches of one router, one after the other, padded to their largest shape."""
        if not batches:
            raise ValueError("concat needs at least one batch")
        if len(batches) == 1:
            return batches[0]
        first = batches[0]
        if any(b.router_id != first.router_id for b in batches):
            raise ValueError("a batch holds frames of one router only")
        t, r, s = (max(b.csi.shape[i] for b in batches) for i in (1, 2, 3))
        n = sum(len(b) for b in batches)
        csi = np.zeros((n, t, r, s), dtype=np.complex64)
        sub = np.zeros((n, s), dtype=np.int16)
        rssi = np.full((n, r), np.nan, dtype=np.float32)
        i = 0
        for b in batches:
            j = i + len(b)
            _, bt, br, bs = b.csi.shape
            csi[i:j, :bt, :br, :bs] = b.csi
            sub[i:j, :bs] = b.subcarriers
            rssi[i:j, :br] = b.rssi_dbm
            i = j
        columns = {
            name: np.concatenate([getattr(b, name) for b in batches])
            for name in (
                "timestamp_ns",
                "host_time_ns",
                "sequence",
                "shape",
                "noise_floor_dbm",
                "center_freq_mhz",
                "bandwidth_mhz",
                "source_mac",
            )
        }
        return cls(
            router_id=first.router_id,
            environment_id=first.environment_id,
            hw_format=first.hw_format,
            csi=csi,
            subcarriers=sub,
            rssi_dbm=rssi,
            **columns,
        )

    @classmethod
    def from_frames(cls, frames: list[CsiFrame]) -> FrameBatch:
        """Pack frames of one router (at least one) into columns."""
        if not frames:
            raise ValueError("a batch needs at least one frame")
        first = frames[0]
        if any(f.router_id != first.router_id for f in frames):
            raise ValueError("a batch holds frames of one router only")
        n = len(frames)
        shapes = np.array([f.csi.shape for f in frames], dtype=np.uint16)
        t, r, s = (int(v) for v in shapes.max(axis=0))
        csi = np.zeros((n, t, r, s), dtype=np.complex64)
        sub = np.zeros((n, s), dtype=np.int16)
        rssi = np.full((n, r), np.nan, dtype=np.float32)
        for i, f in enumerate(frames):
            ft, fr, fs = f.csi.shape
            csi[i, :ft, :fr, :fs] = f.csi
            sub[i, :fs] = f.subcarriers
            rssi[i, :fr] = f.rssi_dbm
        return cls(
            router_id=first.router_id,
            environment_id=first.environment_id,
            hw_format=first.hw_format,
            timestamp_ns=np.array([f.timestamp_ns for f in frames], dtype=np.int64),
            host_time_ns=np.array([f.host_time_ns for f in frames], dtype=np.int64),
            sequence=np.array([f.sequence for f in frames], dtype=np.int64),
            csi=csi,
            shape=shapes,
            subcarriers=sub,
            rssi_dbm=rssi,
            noise_floor_dbm=np.array([f.noise_floor_dbm for f in frames], dtype=np.float32),
            center_freq_mhz=np.array([f.center_freq_mhz for f in frames], dtype=np.float32),
            bandwidth_mhz=np.array([f.bandwidth_mhz for f in frames], dtype=np.float32),
            source_mac=np.array([mac_to_int(f.source_mac) for f in frames], dtype=np.int64),
        )
