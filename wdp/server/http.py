"""One port for everything: a small HTTP/1.1 front door (h11) in front of trio-websocket.

Each TCP connection is read with h11 just far enough to see its request line and
headers. A WebSocket upgrade on a WebSocket path is handed, bytes and all, to
trio-websocket (``wrap_server_stream`` re-reads the request from a stream that replays
what was already read); anything else is a plain HTTP request answered by a route, one
request per connection (``Connection: close``).

Limits are applied before any other work: a connection cap (global and per client
address) answered with 503, a handshake deadline (the request head, and for a WebSocket
the upgrade, must complete within ``handshake_timeout_s``, so slow-loris clients are
cut off), a 16 KiB cap on the request head and a 64 KiB cap on request bodies.
Each connection runs in a nursery of its own, so nothing one connection does can stop
another or the server.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import contextmanager

import attrs
import h11
import orjson
import trio
import trio_websocket

from wdp.server.auth import redact

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
RECEIVE_BYTES = 16 * 1024
#: After a reply: how long, and how many bytes, to keep reading before closing.
LINGER_S = 0.5
LINGER_MAX_BYTES = 256 * 1024


@attrs.frozen(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]  # last value wins
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    remote: str
    body: bytes = b""

    @property
    def is_websocket_upgrade(self) -> bool:
        return (
            self.headers.get("upgrade", "").lower() == "websocket"
            and "upgrade" in self.headers.get("connection", "").lower()
        )


@attrs.frozen(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Awaitable[Response]]
WebSocketHandler = Callable[[trio_websocket.WebSocketRequest, Request], Awaitable[None]]


@attrs.define(slots=True)
class Routes:
    """What the front door serves: exact paths to handlers, and the WebSocket paths."""

    http: dict[tuple[str, str], Handler] = attrs.field(factory=dict)  # (method, path)
    websocket_paths: frozenset[str] = frozenset()
    websocket: WebSocketHandler | None = None
    #: GET handlers of every path under a prefix (static files), tried after exact paths.
    prefixes: dict[str, Handler] = attrs.field(factory=dict)

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.http[(method, path)] = handler

    def add_prefix(self, prefix: str, handler: Handler) -> None:
        self.prefixes[prefix] = handler

    def find(self, method: str, path: str) -> Handler | None:
        handler = self.http.get((method, path))
        if handler is None and method == "GET":
            handler = next((h for p, h in self.prefixes.items() if path.startswith(p)), None)
        return handler


@attrs.define(slots=True)
class ConnectionLimits:
    """Counts open connections; ``admit`` says whether one more may be served."""

    max_total: int
    max_per_ip: int
    total: int = 0
    per_ip: Counter = attrs.field(factory=Counter)
    refused: int = 0

    @contextmanager
    def hold(self, remote: str):
        """Count a connection for its lifetime; yields False when over a cap."""
        if self.total >= self.max_total or self.per_ip[remote] >= self.max_per_ip:
            self.refused += 1
            yield False
            return
        self.total += 1
        self.per_ip[remote] += 1
        try:
            yield True
        finally:
            self.total -= 1
            self.per_ip[remote] -= 1
            if not self.per_ip[remote]:
                del self.per_ip[remote]


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ReplayStream(trio.abc.Stream):
    """A stream that first gives back bytes already read from it."""

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            n = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            await trio.lowlevel.checkpoint()
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:  # pragma: no cover - WebSockets do not half-close
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


def _remote(stream: trio.abc.Stream) -> str:
    try:
        return str(stream.socket.getpeername()[0])  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return "unknown"


async def _read_request(stream: trio.abc.Stream, remote: str) -> tuple[Request, bytes]:
    """Read one request head (and a small body); returns it and every byte read."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
    raw = bytearray()
    request = None
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise _ClientError(exc.error_status_hint, "malformed HTTP request") from None
        if event is h11.NEED_DATA:
            data = await stream.receive_some(RECEIVE_BYTES)
            if not data:
                raise _ClientError(400, "connection closed before the request was complete")
            raw += data
            if request is None and len(raw) > MAX_HEAD_BYTES:
                raise _ClientError(431, f"request head larger than {MAX_HEAD_BYTES} bytes")
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            request = event
            headers = {}
            for name, value in event.headers:
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            if headers.get("upgrade", "").lower() == "websocket":
                break  # the upgrade has no body; trio-websocket takes it from here
            continue
        if isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY_BYTES:
                raise _ClientError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
            continue
        if isinstance(event, h11.EndOfMessage):
            break
        raise _ClientError(400, "unexpected HTTP event")
    assert request is not None
    target = request.target.decode("latin-1")
    parts = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return (
        Request(request.method.decode("latin-1"), parts.path, query, headers, remote, bytes(body)),
        bytes(raw),
    )


async def _send_response(stream: trio.abc.Stream, response: Response) -> None:
    conn = h11.Connection(h11.SERVER)
    # h11 needs to have seen a request before it will write a response: feed it a stub.
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.next_event()
    conn.next_event()
    headers = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        ("connection", "close"),
        *response.headers,
    ]
    if not any(name == "cache-control" for name, _ in response.headers):
        headers.append(("cache-control", "no-store"))
    data = conn.send(h11.Response(status_code=response.status, headers=headers))
    data += conn.send(h11.Data(data=response.body)) if response.body else b""
    data += conn.send(h11.EndOfMessage())
    await stream.send_all(data)


def error_response(status: int, message: str) -> Response:
    return Response(status, orjson.dumps({"error": {"status": status, "message": message}}))


async def handle_connection(
    stream: trio.abc.Stream,
    routes: Routes,
    limits: ConnectionLimits,
    *,
    handshake_timeout_s: float,
    max_message_bytes: int,
) -> None:
    """Serve one TCP connection to the end; never raises (failures stay local)."""
    remote = _remote(stream)
    try:
        with limits.hold(remote) as admitted:
            if not admitted:
                with trio.move_on_after(1):
                    await _send_response(stream, error_response(503, "too many connections"))
                return
            await _serve(stream, routes, remote, handshake_timeout_s, max_message_bytes)
    except* (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
        pass  # the client went away
    except* Exception:
        log.exception("connection from %s failed", remote)
    finally:
        await _linger_and_close(stream)


async def _linger_and_close(stream: trio.abc.Stream) -> None:
    """Close after a reply without resetting it away: closing a socket with unread
    input makes the kernel send RST, which can destroy the reply in flight. So shut the
    sending side, read (and drop) what the client still sends for a moment, then close."""
    with trio.move_on_after(LINGER_S):
        try:
            await stream.send_eof()
            dropped = 0
            while dropped < LINGER_MAX_BYTES and (
                chunk := await stream.receive_some(RECEIVE_BYTES)
            ):
                dropped += len(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, AttributeError):
            pass
    await trio.aclose_forcefully(stream)


async def _serve(
    stream: trio.abc.Stream,
    routes: Routes,
    remote: str,
    handshake_timeout_s: float,
    max_message_bytes: int,
) -> None:
    deadline = trio.current_time() + handshake_timeout_s
    with trio.move_on_at(deadline) as head_scope:
        try:
            request, raw = await _read_request(stream, remote)
        except _ClientError as exc:
            await _send_response(stream, error_response(exc.status, str(exc)))
            return
    if head_scope.cancelled_caught:
        log.info("handshake timeout from %s", remote)
        return
    log.debug("%s %s from %s", request.method, redact(request.path), remote)
    if request.path in routes.websocket_paths and routes.websocket is not None:
        if not request.is_websocket_upgrade:
            await _send_response(stream, error_response(426, "this path needs a WebSocket"))
            return
        async with trio.open_nursery() as nursery:
            ws_request = await trio_websocket.wrap_server_stream(
                nursery, ReplayStream(stream, raw), max_message_size=max_message_bytes
            )
            await routes.websocket(ws_request, request)
            nursery.cancel_scope.cancel()
        return
    handler = routes.find(request.method, request.path)
    if handler is None:
        allowed = sorted(m for m, p in routes.http if p == request.path)
        if not allowed and any(request.path.startswith(p) for p in routes.prefixes):
            allowed = ["GET"]
        if allowed:
            response = error_response(405, f"use {', '.join(allowed)}")
            response = attrs.evolve(response, headers=(("allow", ", ".join(allowed)),))
        else:
            response = error_response(404, f"no such resource {request.path}")
    else:
        response = await handler(request)
    await _send_response(stream, response)


async def serve_http(
    routes: Routes,
    *,
    host: str,
    port: int,
    limits: ConnectionLimits,
    handshake_timeout_s: float = 10.0,
    max_message_bytes: int = 65536,
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen and serve until cancelled; reports the bound port once listening."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]

    async def handler(stream: trio.abc.Stream) -> None:
        await handle_connection(
            stream,
            routes,
            limits,
            handshake_timeout_s=handshake_timeout_s,
            max_message_bytes=max_message_bytes,
        )

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handler, listeners)
        task_status.started(bound)
