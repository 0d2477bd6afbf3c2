"""Live sources addressed as URLs, e.g. ``udp://0.0.0.0:5500?format=nexmon``.

Query parameters: ``format`` (required: one of ``LIVE_FORMATS``), ``router_id``,
``environment_id`` and ``timeout`` (seconds of silence before the router counts as
disconnected). Anything else is refused, so a typo never silently does nothing.
"""

from __future__ import annotations

import math
import urllib.parse

import attrs

from wdp.ids import IDENTIFIER_RULE, is_identifier

#: ``format=`` names a live UDP source accepts.
LIVE_FORMATS = ("esp32", "esp32-bin", "nexmon", "intel5300", "atheros")

_KNOWN_PARAMS = {"format", "router_id", "environment_id", "timeout"}


class SourceError(ValueError):
    """A source URL that cannot be used; the message is one line for the user."""


@attrs.frozen(slots=True)
class UdpSource:
    host: str
    port: int
    format: str
    router_id: str
    environment_id: str
    silence_timeout_s: float = 5.0

    @property
    def url(self) -> str:
        return f"udp://{self.host}:{self.port}?format={self.format}"


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise SourceError(f"parameter {name!r} given {len(values)} times")
    return values[0]


def parse_source(
    url: str, *, router_id: str | None = None, environment_id: str | None = None
) -> UdpSource:
    """Parse and validate a source URL; explicit arguments override its parameters."""
    if len(url) > 2048:
        raise SourceError("source URL longer than 2048 characters")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "udp":
        raise SourceError(f"unsupported source {url!r}: expected udp://HOST:PORT?format=...")
    try:
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"bad port in {url!r}: {exc}") from None
    if not parts.hostname or port is None:
        raise SourceError(f"source {url!r} needs a host and a port")
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(query) - _KNOWN_PARAMS)
    if unknown:
        raise SourceError(f"unknown source parameter(s) {', '.join(unknown)} in {url!r}")
    fmt = _one(query, "format")
    if fmt not in LIVE_FORMATS:
        raise SourceError(
            f"source {url!r} needs format= one of {', '.join(LIVE_FORMATS)}, got {fmt!r}"
        )
    timeout_text = _one(query, "timeout")
    timeout = 5.0
    if timeout_text is not None:
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise SourceError(
                f"timeout must be a number of seconds, got {timeout_text!r}"
            ) from None
        if not (math.isfinite(timeout) and 0 < timeout <= 3600):
            raise SourceError(f"timeout must be in (0, 3600] seconds, got {timeout_text!r}")
    router = router_id or _one(query, "router_id") or f"udp-{port}"
    environment = environment_id or _one(query, "environment_id") or "default"
    for name, value in (("router_id", router), ("environment_id", environment)):
        if not is_identifier(value):
            raise SourceError(f"{name} {value!r} must be {IDENTIFIER_RULE}")
    return UdpSource(parts.hostname, port, fmt, router, environment, timeout)
