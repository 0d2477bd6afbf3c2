"""One WebSocket connection: authenticate, then read, write, beat and expire.

The upgrade is accepted before the token is checked, because a browser cannot read the
HTTP status of a refused upgrade (it only sees close code 1006); a bad token gets one
``error`` message and a close with an application code. Then four tasks run in the
connection's own nursery: the reader (client messages: subscribe, unsubscribe,
update_subscription, heartbeat, disconnect), the writer (the only task that sends, so
``metadata.sequence`` increases by one per message), a heartbeat every
``HEARTBEAT_S`` seconds, and the token's expiry (``token_expired``, then close 4002).
When any of them ends the others are cancelled and the socket is closed.

Close codes: 1000 normal (client asked to disconnect), 1001 server going away,
1008 persistent rate-limit abuse, 1009 message too big, 4001 missing or invalid token,
4002 token expired, 4008 fell behind (too many undelivered events). A client that stops
reading is not sent a close at all: a send that does not complete within
``send_timeout_s`` aborts the socket.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from typing import Any

import attrs
import orjson
import trio
import trio_websocket

from wdp.config import ServerConfig
from wdp.ids import is_identifier
from wdp.server import subscriptions as subs_mod
from wdp.server.auth import AuthError, Principal, Verifier, token_from_request
from wdp.server.frames import FrameWriter, frame
from wdp.server.http import Request
from wdp.server.hub import Hub, Outbox, SharedMessage
from wdp.server.protocol import ProtocolError, envelope, error_data, iso_ms, parse_client_message
from wdp.server.ratelimit import Abusive, RateLimiter

log = logging.getLogger(__name__)

SUBPROTOCOL = "wifi-densepose-v1"
HEARTBEAT_S = 30.0
MAX_SUBSCRIPTIONS = 32
MAX_SUBSCRIPTIONS_PER_REQUEST = 16

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_FELL_BEHIND = 4008

_client_ids = itertools.count(1)
_session_ids = itertools.count(1)


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@attrs.define(slots=True)
class ConnectionContext:
    config: ServerConfig
    verifier: Verifier
    hub: Hub
    #: Wall clock for message timestamps and token expiry (tests may fake it).
    wall_ns: Any = time.time_ns
    connections: int = 0
    #: Set when the server shuts down: every connection says ``disconnect`` and closes 1001.
    shutdown: trio.Event = attrs.field(factory=trio.Event)


def _message(kind: str, data: dict) -> dict:
    return {"type": kind, "timestamp": iso_ms(time.time_ns()), "data": data}


async def serve_connection(
    ws_request: trio_websocket.WebSocketRequest, request: Request, ctx: ConnectionContext
) -> None:
    """Run one connection to its end (the HTTP layer closes the socket afterwards)."""
    origins = ctx.config.allowed_origins
    if origins and request.headers.get("origin") not in origins:
        # A browser page of another site: refuse before any token work (the page cannot
        # read the status, but no other site's page may hold a connection).
        await ws_request.reject(403, body=b"origin not allowed")
        return
    proposed = ws_request.proposed_subprotocols
    try:
        ws = await ws_request.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in proposed else None)
    except trio_websocket.ConnectionClosed:
        return  # the client broke the handshake (e.g. a bad frame before the 101): its loss
    client_id = request.query.get("client_id", "")
    if not is_identifier(client_id):
        client_id = f"client_{next(_client_ids)}"
    try:
        token = token_from_request(request.query.get("token"), request.headers.get("authorization"))
        principal = ctx.verifier.verify(token)
    except AuthError as exc:
        message = envelope(
            "error",
            ctx.wall_ns(),
            {"error_code": exc.code, "message": str(exc), "details": {}},
            client_id=client_id,
            sequence=1,
        )
        with trio.move_on_after(ctx.config.send_timeout_s):
            try:
                await ws.send_message(_json(message))
                await ws.aclose(exc.close_code, str(exc))
            except trio_websocket.ConnectionClosed:
                pass  # the client left first
        return
    await _Connection(ws, request, ctx, principal, client_id).run()


def _json(message: dict) -> str:
    return orjson.dumps(message).decode()


class _Connection:
    def __init__(
        self, ws, request: Request, ctx: ConnectionContext, principal: Principal, client_id: str
    ) -> None:
        self.ws = ws
        self.request = request
        self.ctx = ctx
        self.principal = principal
        self.client_id = client_id
        self.session_id = f"session_{next(_session_ids)}"
        self.connected_ns = ctx.wall_ns()
        self.outbox = Outbox(client_id, principal.may_see)
        self.frames = FrameWriter(ws)
        self.limiter = RateLimiter()
        self.explicit = False  # the first subscribe replaces the defaults
        self.messages_in = 0
        self.compression = request.query.get("compression") or None
        if self.compression not in (None, "gzip", "deflate"):
            self.compression = None

    async def run(self) -> None:
        ctx = self.ctx
        if self.request.query.get("subscriptions") != "none":
            self.outbox.set_subscriptions(
                self._with_default_compression(subs_mod.defaults(self.principal))
            )
        self.outbox.pump = self._pump
        ctx.hub.outboxes.add(self.outbox)
        ctx.connections += 1
        close: _Close | None = None
        try:
            self.outbox.control(_message("connection_status", self._status()))
            ctx.hub.offer_retained(self.outbox, self.outbox.subscriptions.values())
            async with trio.open_nursery() as nursery:

                async def guarded(fn):
                    nonlocal close
                    try:
                        await fn()
                    except _Close as exc:
                        close = close or exc
                    nursery.cancel_scope.cancel()

                for fn in (
                    self._reader,
                    self._writer,
                    self._heartbeat,
                    self._expiry,
                    self._shutdown,
                ):
                    nursery.start_soon(guarded, fn)
        except* trio_websocket.ConnectionClosed:
            pass
        finally:
            ctx.hub.outboxes.discard(self.outbox)
            ctx.connections -= 1
        if close is not None and close.code == 0:
            self.frames.abort()  # a client that stopped reading: reset, not a queued FIN
        elif close is not None:
            with trio.move_on_after(1.0):
                try:
                    await self.ws.aclose(close.code, close.reason)
                except trio_websocket.ConnectionClosed:
                    pass

    def _with_default_compression(self, subs):
        if not self.compression:
            return subs
        return [s if s.compression else attrs.evolve(s, compression=self.compression) for s in subs]

    def _status(self) -> dict:
        return {
            "status": "connected",
            "client_id": self.client_id,
            "session_id": self.session_id,
            "connected_since": iso_ms(self.connected_ns),
            "active_subscriptions": len(self.outbox.subscriptions),
            "message_count": self.outbox.sequence,
        }

    # -- tasks --
    async def _reader(self) -> None:
        while True:
            raw = await self.ws.get_message()
            self.messages_in += 1
            try:
                try:
                    message = parse_client_message(raw)
                except ProtocolError:
                    # Garbage counts as a "general" message: a flood of it meets the
                    # rate limit (and then the abuse close) like any other flood.
                    self.limiter.check("", trio.current_time())
                    raise
                self.limiter.check(message.type, trio.current_time())
                await self._handle(message.type, message.data)
            except ProtocolError as exc:
                self.outbox.control(_message("error", error_data(exc)))
            except Abusive as exc:
                raise _Close(CLOSE_POLICY, str(exc)) from None

    async def _handle(self, kind: str, data: dict) -> None:
        if kind == "subscribe":
            self._subscribe(data)
        elif kind == "unsubscribe":
            self._unsubscribe(data)
        elif kind == "update_subscription":
            self._update(data)
        elif kind == "heartbeat":
            self.outbox.control(_message("heartbeat", self._heartbeat_data()))
        elif kind == "disconnect":
            self.outbox.control(
                _message(
                    "disconnect",
                    {
                        "reason": "client_requested",
                        "message": "Graceful disconnect initiated by client",
                    },
                )
            )
            await self._drain_control()
            raise _Close(CLOSE_NORMAL, "client requested")

    def _ack(self, kind: str) -> None:
        active = [s.to_ack() for s in self.outbox.subscriptions.values()]
        self.outbox.control(
            _message(
                "ack",
                {
                    "message_type": kind,
                    "status": "success",
                    "active_subscriptions": active,
                },
            )
        )

    def _subscribe(self, data: dict) -> None:
        requests = data.get("subscriptions")
        if not isinstance(requests, list) or not requests:
            raise subs_mod.SubscriptionError("", "subscriptions", "Value must be a non-empty list")
        if len(requests) > MAX_SUBSCRIPTIONS_PER_REQUEST:
            raise subs_mod.SubscriptionError(
                "", "subscriptions", f"At most {MAX_SUBSCRIPTIONS_PER_REQUEST} per request"
            )
        built = [
            subs_mod.build(r, self.principal, where=f"subscriptions[{i}]")
            for i, r in enumerate(requests)
        ]
        built = self._with_default_compression(built)
        current = [] if not self.explicit else list(self.outbox.subscriptions.values())
        seen = {_identity(s) for s in current}
        for i, s in enumerate(built):
            if _identity(s) in seen:
                raise subs_mod.SubscriptionError(
                    f"subscriptions[{i}]", "", "Duplicate of an active subscription"
                )
            seen.add(_identity(s))
        if len(current) + len(built) > MAX_SUBSCRIPTIONS:
            raise subs_mod.SubscriptionError(
                "", "subscriptions", f"At most {MAX_SUBSCRIPTIONS} active subscriptions"
            )
        self.explicit = True
        self.outbox.set_subscriptions(current + built)
        self._ack("subscribe")
        self.ctx.hub.offer_retained(self.outbox, built)

    def _unsubscribe(self, data: dict) -> None:
        ids = data.get("subscription_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise subs_mod.SubscriptionError(
                "", "subscription_ids", "Value must be a non-empty list of ids"
            )
        unknown = [i for i in ids if i not in self.outbox.subscriptions]
        if unknown:
            raise subs_mod.SubscriptionError(unknown[0][:64], "subscription_ids", "Unknown id")
        self.explicit = True
        self.outbox.set_subscriptions(
            s for s in self.outbox.subscriptions.values() if s.id not in ids
        )
        self._ack("unsubscribe")

    def _update(self, data: dict) -> None:
        sub_id = data.get("subscription_id")
        if not isinstance(sub_id, str) or sub_id not in self.outbox.subscriptions:
            raise subs_mod.SubscriptionError(
                str(sub_id)[:64], "subscription_id", "Unknown subscription id"
            )
        filters = data.get("filters", {})
        throttle = data.get("throttle", {})
        if not isinstance(filters, dict) or not isinstance(throttle, dict):
            raise subs_mod.SubscriptionError(sub_id, "filters", "Value must be an object")
        updated = subs_mod.apply_changes(
            self.outbox.subscriptions[sub_id], filters, throttle, self.principal
        )
        self.outbox.set_subscriptions(
            updated if s.id == sub_id else s for s in self.outbox.subscriptions.values()
        )
        self._ack("update_subscription")

    def _heartbeat_data(self) -> dict:
        return {
            "client_id": self.client_id,
            "uptime": round((self.ctx.wall_ns() - self.connected_ns) / 1e9, 3),
            "last_message": iso_ms(self.ctx.wall_ns()),
        }

    def _frame(self, sub, item: SharedMessage | dict) -> bytes:
        """The next message as a frame, with this connection's metadata (its sequence)."""
        outbox = self.outbox
        if isinstance(item, SharedMessage):
            method = sub.compression if sub is not None else None
            if method:
                return frame(item.compressed(outbox.next_metadata(method), method), binary=True)
            return frame(item.prefix, outbox.next_tail())
        return frame(orjson.dumps({**item, "metadata": outbox.next_metadata()}))

    def _pump(self) -> None:
        """Called by the hub as it offers: send what is due right away, in the offering
        task, while the socket takes it (``wdp.server.frames``); otherwise, or for what
        needs waiting, wake the writer."""
        outbox, frames = self.outbox, self.frames
        while not frames.busy and not outbox.fallen_behind:
            sub, item, due = outbox.take()
            if item is None:
                if due is None:
                    return
                break
            frames.write(self._frame(sub, item))
        outbox.wakeup.set()

    async def _writer(self) -> None:
        """Flushes what the socket did not take at once, sends what waited for its time
        (``max_fps``), and finds a client that stopped reading: a flush that does not
        complete within ``send_timeout_s`` aborts the socket."""
        outbox, frames = self.outbox, self.frames
        while True:
            if outbox.fallen_behind:
                raise _Close(CLOSE_FELL_BEHIND, "fell behind: too many undelivered events")
            if frames.backlog:
                with trio.move_on_after(self.ctx.config.send_timeout_s) as scope:
                    try:
                        await frames.flush()
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        raise _Close(0, "connection lost") from None
                if scope.cancelled_caught:
                    log.info("client %s stalled: aborting its connection", self.client_id)
                    raise _Close(0, "stalled")  # no close frame can reach a stalled client
                continue
            sub, item, due = outbox.take()
            if item is None:
                outbox.wakeup = trio.Event()
                with trio.move_on_at(due if due is not None else math.inf):
                    await outbox.wakeup.wait()
                continue
            frames.write(self._frame(sub, item))

    async def _drain_control(self) -> None:
        with trio.move_on_after(self.ctx.config.send_timeout_s):
            while self.outbox.control_pending or self.frames.backlog:
                await trio.sleep(0.01)

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(HEARTBEAT_S)
            self.outbox.control(_message("heartbeat", self._heartbeat_data()))

    async def _shutdown(self) -> None:
        await self.ctx.shutdown.wait()
        with trio.move_on_after(self.ctx.config.send_timeout_s):
            while self.outbox.events_pending:  # the last events first (system_stopping)
                await trio.sleep(0.01)
        self.outbox.control(
            _message(
                "disconnect",
                {
                    "reason": "server_shutdown",
                    "message": "The server is shutting down",
                },
            )
        )
        await self._drain_control()
        raise _Close(CLOSE_GOING_AWAY, "server shutting down")

    async def _expiry(self) -> None:
        left = self.principal.expires_at - self.ctx.wall_ns() / 1e9
        await trio.sleep(max(0.0, left))
        self.outbox.control(
            {
                "type": "token_expired",
                "timestamp": iso_ms(self.ctx.wall_ns()),
                "message": "JWT token has expired. Please refresh and reconnect.",
            }
        )
        await self._drain_control()
        raise _Close(4002, "token expired")


def _identity(sub: subs_mod.Subscription) -> tuple:
    """What makes two subscriptions duplicates: everything but their id."""
    return attrs.astuple(attrs.evolve(sub, id=""))
