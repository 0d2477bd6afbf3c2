"""Client message rate limits, as the spec's table: subscribe/unsubscribe (and
update_subscription) 10 per minute, heartbeat 1 per 30 seconds, everything else 60 per
minute. A message over its limit is answered with ``RATE_LIMIT_EXCEEDED`` and not acted
on; a client that keeps going (``abuse_limit`` refusals within one window) is
disconnected. Time comes from the caller (trio's clock), so tests use a virtual clock.
"""

from __future__ import annotations

import collections
import math

import attrs

from wdp.server.protocol import ProtocolError


@attrs.frozen(slots=True)
class Limit:
    count: int
    window_s: float
    name: str  # as the spec writes windows: "1_minute", "30_seconds"


LIMITS = {
    "subscriptions": Limit(10, 60.0, "1_minute"),
    "heartbeat": Limit(1, 30.0, "30_seconds"),
    "general": Limit(60, 60.0, "1_minute"),
}


def category(message_type: str) -> str:
    if message_type in ("subscribe", "unsubscribe", "update_subscription"):
        return "subscriptions"
    if message_type == "heartbeat":
        return "heartbeat"
    return "general"


class Abusive(Exception):
    """The client kept sending over its limits: disconnect it."""


@attrs.define(slots=True)
class RateLimiter:
    abuse_limit: int = 20
    _sent: dict = attrs.field(factory=lambda: collections.defaultdict(collections.deque))
    _refused: collections.deque = attrs.field(factory=collections.deque)

    def check(self, message_type: str, now: float) -> None:
        """Count one message; ProtocolError if over its limit, Abusive if persistently."""
        cat = category(message_type)
        limit = LIMITS[cat]
        times = self._sent[cat]
        while times and times[0] <= now - limit.window_s:
            times.popleft()
        if len(times) >= limit.count:
            while self._refused and self._refused[0] <= now - 60.0:
                self._refused.popleft()
            self._refused.append(now)
            if len(self._refused) >= self.abuse_limit:
                raise Abusive(f"{len(self._refused)} messages over the rate limits in a minute")
            retry = max(0.0, times[0] + limit.window_s - now)
            raise ProtocolError(
                "RATE_LIMIT_EXCEEDED",
                "Message rate limit exceeded",
                {
                    "current_rate": len(times) + 1,
                    "limit": limit.count,
                    "window": limit.name,
                    "retry_after": math.ceil(retry),
                },
            )
        times.append(now)
