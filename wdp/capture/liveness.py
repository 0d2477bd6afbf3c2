"""Per-router liveness: a silent router becomes a typed event, and so does its return.

UDP has no connection to lose, so "disconnected" means "silent for longer than the
configured timeout". While silent, the capture task retries (re-opens its socket) with
exponential backoff; each retry is counted in ``reconnect_attempts``. These events become
the API's ``hardware_event`` messages.
"""

from __future__ import annotations

import attrs


@attrs.frozen(slots=True)
class RouterDisconnected:
    router_id: str
    environment_id: str
    last_seen_ns: int | None  # host wall-clock time of the last packet, None if never
    silent_for_s: float
    reconnect_attempts: int


@attrs.frozen(slots=True)
class RouterReconnected:
    router_id: str
    environment_id: str
    downtime_s: float
    reconnect_attempts: int


RouterEvent = RouterDisconnected | RouterReconnected


@attrs.define(slots=True)
class Liveness:
    """The state machine; times are seconds on the caller's clock (trio's in the shell)."""

    router_id: str
    environment_id: str
    timeout_s: float
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    _last_packet_at: float | None = None
    _last_seen_ns: int | None = None
    _started_at: float = 0.0
    _silent_since: float | None = None
    attempts: int = 0

    def start(self, now: float) -> None:
        self._started_at = now

    @property
    def connected(self) -> bool:
        return self._silent_since is None

    def deadline(self) -> float:
        """When to give up waiting for the next packet (connected), or retry (silent)."""
        if self._silent_since is None:
            base = self._last_packet_at if self._last_packet_at is not None else self._started_at
            return base + self.timeout_s
        return self._silent_since + self._backoff_total(self.attempts + 1)

    def _backoff_total(self, attempts: int) -> float:
        total, step = 0.0, self.backoff_initial_s
        for _ in range(attempts):
            total += step
            step = min(step * 2, self.backoff_max_s)
        return total

    def on_packet(self, now: float, wall_ns: int) -> RouterReconnected | None:
        event = None
        if self._silent_since is not None:
            event = RouterReconnected(
                self.router_id, self.environment_id, now - self._silent_since, self.attempts
            )
            self._silent_since = None
            self.attempts = 0
        self._last_packet_at = now
        self._last_seen_ns = wall_ns
        return event

    def on_deadline(self, now: float) -> RouterDisconnected:
        """The deadline passed with no packet: first the disconnect, then each retry."""
        if self._silent_since is None:
            base = self._last_packet_at if self._last_packet_at is not None else self._started_at
            self._silent_since = base + self.timeout_s
        else:
            self.attempts += 1
        base = self._last_packet_at if self._last_packet_at is not None else self._started_at
        return RouterDisconnected(
            self.router_id, self.environment_id, self._last_seen_ns, now - base, self.attempts
        )
