"""Fall alerts POSTed to a configured webhook (``analytics.alert_webhook``).

A fall's ``actions`` may say ``notification_sent`` only when the receiver accepted the
alert, so the POST is awaited (bounded by ``TIMEOUT_S``) before the event is published.
Only the receiver's status line is read: any 2xx is acceptance; anything else (refused
connection, timeout, TLS failure, a 4xx/5xx, a malformed answer) is not, and is logged
with the URL's host only (a webhook URL may carry a secret in its path or query).
"""

from __future__ import annotations

import logging
import ssl
import urllib.parse

import h11
import orjson
import trio

from wdp import __version__
from wdp.pipeline.events import ActivityEvent
from wdp.pipeline.falls import record_actions

log = logging.getLogger(__name__)

#: Seconds the receiver has to accept an alert.
TIMEOUT_S = 3.0
#: Bytes of the answer read while looking for its status line.
MAX_ANSWER_BYTES = 64 * 1024


async def notify(event: ActivityEvent, url: str) -> ActivityEvent:
    """The fall event after POSTing its message to ``url``: ``notification_sent`` added to
    its actions when the receiver accepted it."""
    accepted = await post_json(url, event.to_message())
    return record_actions(event, alerted="alert_triggered" in event.actions, notified=accepted)


async def post_json(url: str, message: dict, *, timeout_s: float = TIMEOUT_S) -> bool:
    """True when ``url`` answered the POST of ``message`` with a 2xx status."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        log.warning("alert webhook: bad port in the URL of %s", host)
        return False
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = orjson.dumps(message)
    try:
        with trio.fail_after(timeout_s):
            if parts.scheme == "https":
                context = ssl.create_default_context()
                stream = await trio.open_ssl_over_tcp_stream(host, port, ssl_context=context)
            else:
                stream = await trio.open_tcp_stream(host, port)
            async with stream:
                status = await _exchange(stream, host, target, body)
    except (OSError, trio.TooSlowError, trio.BrokenResourceError, h11.ProtocolError) as exc:
        log.warning("alert webhook %s: not delivered (%s)", host, type(exc).__name__)
        return False
    if not 200 <= status < 300:
        log.warning("alert webhook %s: refused with HTTP %d", host, status)
    return 200 <= status < 300


async def _exchange(stream: trio.abc.Stream, host: str, target: str, body: bytes) -> int:
    conn = h11.Connection(h11.CLIENT)
    headers = [
        ("host", host),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("user-agent", f"wdp/{__version__}"),
        ("connection", "close"),
    ]
    data = conn.send(h11.Request(method="POST", target=target, headers=headers))
    data += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
    await stream.send_all(data)
    received = 0
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            return event.status_code
        if event is h11.NEED_DATA:
            chunk = await stream.receive_some(4096)
            received += len(chunk)
            if not chunk or received > MAX_ANSWER_BYTES:
                raise h11.RemoteProtocolError("no status line in the answer")
            conn.receive_data(chunk)
        # informational 1xx responses and the like: keep reading
