"""Live sources addressed as URLs, e.g. ``udp://0.0.0.0:5500?format=nexmon``.

Query parameters: ``format`` (required: one of ``LIVE_FORMATS``), ``router_id``,
``environment_id``, ``timeout`` (seconds of silence before the router counts as
disconnected) and ``source_mac``. Anything else is refused, so a typo never silently
does nothing.

``source_mac`` binds the router to transmitters, for receivers that hear every
transmitter on their channel (nexmon_csi without a MAC filter, a passive ESP32):

- ``source_mac=b8:27:eb:03:e1:9f``: only that transmitter's frames; others are dropped
  and counted (``other_transmitter``).
- ``source_mac=b8:27:eb:03:e1:9f,ec:41:18:4c:1f:6a``: one stream per listed transmitter,
  router id ``<router_id>.<mac as 12 hex digits>`` (``pi-1.b827eb03e19f``); frames of
  transmitters not listed are dropped and counted. The datagrams themselves share one
  socket and are recorded raw under the first listed stream.
- absent or ``any``: every frame, whatever its transmitter (formats without a
  transmitter address, such as Intel 5300, only take this).
"""

from __future__ import annotations

import math
import urllib.parse

import attrs

from wdp.capture.frame import normalize_mac
from wdp.ids import IDENTIFIER_RULE, is_identifier

#: ``format=`` names a live UDP source accepts.
LIVE_FORMATS = ("esp32", "esp32-bin", "nexmon", "intel5300", "atheros")

_KNOWN_PARAMS = {"format", "router_id", "environment_id", "timeout", "source_mac"}
#: Formats whose frames carry their transmitter's MAC address.
MAC_FORMATS = ("nexmon", "esp32")


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
    #: Transmitters bound (see the module docstring); () keeps every frame.
    source_macs: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        url = f"udp://{self.host}:{self.port}?format={self.format}"
        return url + (f"&source_mac={','.join(self.source_macs)}" if self.source_macs else "")

    @property
    def streams(self) -> dict[str, str]:
        """Router id of each transmitter's stream ({"": router_id} when not split)."""
        if len(self.source_macs) <= 1:
            return {mac: self.router_id for mac in self.source_macs or ("",)}
        return {mac: f"{self.router_id}.{mac.replace(':', '')}" for mac in self.source_macs}

    @property
    def router_ids(self) -> list[str]:
        """Every router this source feeds, in the order of ``source_macs``."""
        return list(self.streams.values())


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
    macs = _source_macs(_one(query, "source_mac"), fmt, router)
    source = UdpSource(parts.hostname, port, fmt, router, environment, timeout, macs)
    for rid in source.router_ids:
        if not is_identifier(rid):
            raise SourceError(f"router {rid!r} for source_mac must be {IDENTIFIER_RULE}")
    return source


def _source_macs(text: str | None, fmt: str, router: str) -> tuple[str, ...]:
    """The ``source_mac`` parameter as normalized MACs; () for absent or ``any``."""
    if text is None or text.strip().lower() in ("", "any"):
        return ()
    if fmt not in MAC_FORMATS:
        raise SourceError(
            f"router {router}: source_mac={text} cannot apply: {fmt} frames carry no "
            f"transmitter address (only {', '.join(MAC_FORMATS)} do)"
        )
    macs = []
    for item in text.split(","):
        try:
            mac = normalize_mac(item)
        except ValueError as exc:
            raise SourceError(f"router {router}: source_mac: {exc}") from None
        if mac in macs:
            raise SourceError(f"router {router}: source_mac lists {mac} twice")
        macs.append(mac)
    return tuple(macs)
