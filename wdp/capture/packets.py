"""Live packet parsing: the base every per-format datagram parser builds on.

A parser turns one datagram into zero or more frames. It never raises: a short,
oversized, corrupt or foreign packet is counted under its reason and skipped, so the
capture task that feeds it can never die from a packet.
"""

from __future__ import annotations

import collections
import logging

import attrs

from wdp.capture.frame import CsiFrame

log = logging.getLogger(__name__)

#: Largest UDP payload over IPv4; anything longer cannot be a datagram we sent ourselves.
MAX_DATAGRAM = 65507

#: The reasons a packet is skipped, as counted in ``PacketStats.skipped``.
SKIP_REASONS = ("short", "oversized", "corrupt", "foreign", "parser_error")
#: Frames dropped because their transmitter is not one the router is bound to (counted
#: per frame, beside the datagram reasons, in ``PacketStats.skipped``).
OTHER_TRANSMITTER = "other_transmitter"


class PacketError(Exception):
    """A packet that cannot be parsed; ``reason`` is one of ``SKIP_REASONS``."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")
        super().__init__(message)
        self.reason = reason


@attrs.define(slots=True)
class PacketStats:
    """Per-router counters: packets seen, frames produced, packets skipped by reason."""

    packets: int = 0
    frames: int = 0
    skipped: collections.Counter = attrs.field(factory=collections.Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class PacketParser:
    """Base class: subclasses implement ``_parse`` and may override ``flush``."""

    #: The ``format=`` name in a source URL.
    format: str = ""
    #: The hardware format of the frames it yields (``CsiFrame.hw_format``).
    hw_format: str = ""
    #: The longest datagram this format can produce.
    max_datagram: int = MAX_DATAGRAM

    def __init__(self, router_id: str, environment_id: str) -> None:
        self.router_id = router_id
        self.environment_id = environment_id
        self.stats = PacketStats()
        #: MAC -> router id of the transmitters bound; None keeps every frame as is.
        self.streams: dict[str, str] | None = None

    def bind(self, streams: dict[str, str]) -> None:
        """Keep only frames of these transmitters, each under its router id (see
        ``UdpSource.streams``); {"": id} or {} keeps every frame."""
        self.streams = {m: r for m, r in streams.items() if m} or None

    def _route(self, frames: list[CsiFrame]) -> list[CsiFrame]:
        if self.streams is None or not frames:
            return frames
        out = []
        for f in frames:
            rid = self.streams.get(f.source_mac)
            if rid is None:
                if not self.stats.skipped[OTHER_TRANSMITTER]:
                    log.warning(
                        "router %s: dropping frames of transmitter %s (source_mac=%s); "
                        "counted as %s",
                        self.router_id,
                        f.source_mac or "unknown",
                        ",".join(self.streams),
                        OTHER_TRANSMITTER,
                    )
                self.stats.skipped[OTHER_TRANSMITTER] += 1
            else:
                out.append(f if rid == f.router_id else attrs.evolve(f, router_id=rid))
        return out

    def feed(self, data: bytes, host_time_ns: int) -> list[CsiFrame]:
        """Parse one datagram; return its frames (possibly none). Never raises."""
        self.stats.packets += 1
        if len(data) > self.max_datagram:
            self.stats.skipped["oversized"] += 1
            return []
        try:
            frames = self._parse(bytes(data), host_time_ns)
        except PacketError as exc:
            self.stats.skipped[exc.reason] += 1
            return []
        except Exception:  # a parser bug must not kill capture: count it, log it once
            if not self.stats.skipped["parser_error"]:
                log.exception("%s parser failed on a packet from %s", self.format, self.router_id)
            self.stats.skipped["parser_error"] += 1
            return []
        frames = self._route(frames)
        self.stats.frames += len(frames)
        return frames

    def flush(self) -> list[CsiFrame]:
        """Frames held back waiting for more packets (nexmon groups), routed as ``feed``'s."""
        frames = self._route(self._flush())
        self.stats.frames += len(frames)
        return frames

    def _flush(self) -> list[CsiFrame]:
        return []

    def _parse(self, data: bytes, host_time_ns: int) -> list[CsiFrame]:
        raise NotImplementedError
