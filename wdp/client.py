"""A trio client of wdp's WebSocket API that survives server restarts.

    async with open_client("ws://127.0.0.1:8000/ws/v1", token, [POSE]) as client:
        async for message in client:
            ...

It connects with ``subscriptions=none`` and sends its own subscriptions in one
``subscribe`` message, so it receives exactly what it asked for. When the connection
drops (the server restarts: close 1001; the client fell behind: 4008; the network broke),
it reconnects with exponential backoff and subscribes again; ``reconnects`` counts how
often. Messages are the server's JSON objects as dicts, in order per connection
(``metadata.sequence`` restarts with each connection).

Refusals that a retry cannot mend end the client with ``ClientError``: a token refused
(close 4001) or expired (4002) unless ``token_provider`` gives a new one, a message too
large (1009), or the server's HTTP refusal of the upgrade (403 origin, 503 full).
"""

from __future__ import annotations

import contextlib
import random
import urllib.parse
from collections.abc import AsyncIterator, Callable

import attrs
import orjson
import trio
import trio_websocket

SUBPROTOCOL = "wifi-densepose-v1"
#: Close codes after which reconnecting cannot help (see the README's close codes).
AUTH_CLOSE_CODES = frozenset({4001, 4002})
FATAL_CLOSE_CODES = frozenset({1009})


class ClientError(Exception):
    """The client stopped for good: ``code`` is the close code or HTTP status."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen(slots=True)
class Backoff:
    """Delay before reconnect attempt ``n`` (0-based): ``initial_s * factor**n``, at
    most ``max_s``, spread by +-``jitter`` so many clients do not return at once."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.1

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        return base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))


class Client:
    """One logical client over successive connections (make it with ``open_client``)."""

    def __init__(
        self,
        url: str,
        token: str,
        subscriptions: list[dict],
        *,
        token_provider: Callable[[], str] | None = None,
        backoff: Backoff = Backoff(),
        heartbeat_s: float = 30.0,
        buffer: int = 256,
        seed: int | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
        self.url = url
        self.token = token
        self.subscriptions = list(subscriptions)
        self.token_provider = token_provider
        self.backoff = backoff
        self.heartbeat_s = heartbeat_s
        #: "connecting", "connected", "reconnecting" or "closed".
        self.state = "connecting"
        #: Connections opened after the first one.
        self.reconnects = 0
        #: The subscription ids of the latest ``ack`` of a ``subscribe``.
        self.subscription_ids: list[str] = []
        self._rng = random.Random(seed)
        self._send, self._receive = trio.open_memory_channel[dict](buffer)
        self._ws: trio_websocket.WebSocketConnection | None = None
        self._connections = 0
        #: Why the client stopped for good (also raised by ``receive``).
        self.error: ClientError | None = None

    async def __aiter__(self) -> AsyncIterator[dict]:
        while True:
            yield await self.receive()

    async def receive(self) -> dict:
        """The next message; ``ClientError`` once the client has stopped for good."""
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise self.error or ClientError("the client is closed") from None

    async def subscribe(self, subscriptions: list[dict]) -> None:
        """Subscribe to more now (if connected) and after every reconnect."""
        self.subscriptions.extend(subscriptions)
        if self._ws is not None:
            await self._send_json({"type": "subscribe", "data": {"subscriptions": subscriptions}})

    def _target(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query.update({"token": self.token, "subscriptions": "none"})
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    async def _send_json(self, message: dict) -> None:
        assert self._ws is not None
        await self._ws.send_message(orjson.dumps(message).decode())

    async def run(self, task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, read, reconnect, until cancelled or a refusal that retrying cannot mend."""
        attempt = 0
        started = False

        def on_connect() -> None:
            nonlocal started
            if not started:
                started = True
                task_status.started()

        try:
            while True:
                if await self._connection(on_connect):
                    attempt = 0
                self.state = "reconnecting"
                await trio.sleep(self.backoff.delay(attempt, self._rng))
                attempt += 1
        except ClientError as exc:
            if not started:
                raise  # open_client raises it
            self.error = exc
        finally:
            self.state = "closed"
            self._send.close()

    async def _connection(self, on_connect: Callable[[], None]) -> bool:
        """One connection to its end: True if it was open (then lost), False if it failed."""
        try:
            async with trio_websocket.open_websocket_url(
                self._target(), subprotocols=[SUBPROTOCOL], connect_timeout=10
            ) as ws:
                self._ws = ws
                self.reconnects += self._connections > 0
                self._connections += 1
                self.state = "connected"
                if self.subscriptions:
                    await self._send_json(
                        {"type": "subscribe", "data": {"subscriptions": self.subscriptions}}
                    )
                closed = None
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._heartbeat)
                    try:
                        await self._read(ws, on_connect)
                    except trio_websocket.ConnectionClosed as exc:
                        closed = exc
                    nursery.cancel_scope.cancel()
            return self._after_close(closed.reason.code, closed.reason.reason)
        except trio_websocket.ConnectionRejected as exc:
            if exc.status_code in (401, 403):
                message = f"the server refused the connection: HTTP {exc.status_code}"
                raise ClientError(message, exc.status_code) from None
            return False
        except trio_websocket.ConnectionClosed as exc:
            return self._after_close(exc.reason.code, exc.reason.reason)
        except (OSError, trio_websocket.HandshakeError, trio.TooSlowError):
            return False
        finally:
            self._ws = None

    def _after_close(self, code: int | None, reason: str | None) -> bool:
        if code in AUTH_CLOSE_CODES:
            if self.token_provider is None:
                raise ClientError(f"token refused (close {code}: {reason})", code)
            token = self.token_provider()
            if token == self.token:
                raise ClientError(f"token refused (close {code}: {reason}), no new one", code)
            self.token = token
        elif code in FATAL_CLOSE_CODES:
            raise ClientError(f"closed by the server (close {code}: {reason})", code)
        return True

    async def _read(
        self, ws: trio_websocket.WebSocketConnection, on_connect: Callable[[], None]
    ) -> None:
        while True:
            text = await ws.get_message()
            try:
                message = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue  # not the API's: ignore rather than stop
            if not isinstance(message, dict):
                continue
            if message.get("type") != "error":
                on_connect()  # accepted (a refused token gets an error, then the close)
            data = message.get("data")
            if (
                message.get("type") == "ack"
                and isinstance(data, dict)
                and data.get("message_type") == "subscribe"
            ):
                self.subscription_ids = [
                    s.get("subscription_id") for s in data.get("active_subscriptions", [])
                ]
            await self._send.send(message)

    async def _heartbeat(self) -> None:
        """The spec's client heartbeat (a lost connection is the reader's to report)."""
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            while True:
                await trio.sleep(self.heartbeat_s)
                await self._send_json({"type": "heartbeat", "data": {}})


@contextlib.asynccontextmanager
async def open_client(
    url: str, token: str, subscriptions: list[dict], **kw
) -> AsyncIterator[Client]:
    """A running ``Client``; returns once the server has sent the first message (retrying
    until it does, with backoff; ``ClientError`` if the token is refused), stopped when the
    block ends."""
    client = Client(url, token, subscriptions, **kw)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(client.run)
            try:
                yield client
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the refusal itself, not trio's wrapping of it
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], ClientError):
            raise group.exceptions[0] from None
        raise
