"""The event hub: every event is encoded once and offered to every matching subscriber.

``publish(event)`` runs synchronously in the pipeline's task: it turns the event into
its message once, and for each connection's matching subscriptions it picks the
projection (pose data with low-confidence persons, keypoints or velocities left out),
encodes each distinct projection once (``SharedMessage``), and hands it to the
connection's ``Outbox``. A connection adds only its own ``metadata`` (client id and
its own sequence number) when it sends: the shared part is spliced, not re-encoded; a
compressed subscription's shared part is deflated once, and each connection
compresses only its metadata tail from a copy of the shared compressor's state.

Backpressure (DESIGN rule 6): latest-value streams (``pose_data``,
``pose_data_trajectory``) are sent at most ``max_fps`` per second (a token bucket of
``THROTTLE_BURST`` frames, see ``THROTTLE_DEBT``); frames coming faster are thinned to
the newest, which waits for its turn. While the connection cannot take frames as fast
as they come, at most ``buffer_size`` wait per subscription, the oldest dropped. Dropped
frames are counted; the client sees the gap in ``frame_id`` (``metadata.sequence``
numbers the messages sent). Discrete events are never dropped: a connection whose queue
of discrete events exceeds ``MAX_PENDING_EVENTS`` is marked as fallen behind and
disconnected with close code 4008.
"""

from __future__ import annotations

import collections
import math
import zlib
from collections.abc import Callable, Iterable

import attrs
import orjson
import trio

from wdp.server.subscriptions import Subscription

#: Discrete events a connection may have waiting before it is disconnected.
MAX_PENDING_EVENTS = 512
#: State events: the latest of each environment (and router) goes to new subscribers.
RETAINED_TYPES = frozenset({"system_event", "hardware_event"})
#: Latest-value streams: the newest ``buffer_size`` messages wait, older ones are dropped.
LATEST_VALUE_TYPES = frozenset({"pose_data", "pose_data_trajectory"})
#: ``max_fps`` is a token bucket holding up to this many frames...
THROTTLE_BURST = 1.5
#: ...which may go this far into debt. A source at exactly max_fps refills the bucket
#: exactly as fast as it is spent: once one frame has had to wait for a token, every
#: later one would wait as long (a standing delay). Letting a frame go with half a token
#: left keeps such a source's frames going out as they are published, while over any
#: second the rate stays within max_fps + 2 frames. (A fixed schedule of send times would
#: put every slightly early frame on a timer; one restarted at each send drifts behind
#: the source until the buffer fills.)
THROTTLE_DEBT = 0.5
#: Small deflate state, so copying the compressor per connection is cheap.
_WBITS = {"gzip": 16 + 12, "deflate": 12}
_MEM_LEVEL = 4


class SharedMessage:
    """One projection of one event, encoded once: ``prefix`` is the message's JSON up to
    (not including) its metadata; compressed variants are made on first use."""

    __slots__ = ("kind", "prefix", "_compressors")

    def __init__(self, kind: str, message: dict) -> None:
        self.kind = kind
        body = orjson.dumps(
            {"type": message["type"], "timestamp": message["timestamp"], "data": message["data"]}
        )
        self.prefix = body[:-1] + b',"metadata":'
        self._compressors: dict[str, tuple[bytes, object]] = {}

    def compressed(self, metadata: dict, method: str) -> bytes:
        """The whole message deflated (gzip or raw zlib), for a binary frame."""
        shared = self._compressors.get(method)
        if shared is None:
            comp = zlib.compressobj(6, zlib.DEFLATED, _WBITS[method], _MEM_LEVEL)
            head = comp.compress(self.prefix) + comp.flush(zlib.Z_SYNC_FLUSH)
            shared = self._compressors[method] = (head, comp)
        head, comp = shared
        tail = comp.copy()
        return head + tail.compress(orjson.dumps(metadata) + b"}") + tail.flush()


def _severity(kind: str, data: dict) -> str:
    """The severity a ``severity`` filter sees: a performance update's worst alert, else
    the event's own; an event without one (``system_event``) is ``info``."""
    if kind == "performance_update":
        alerts = data.get("alerts") or []
        order = ("info", "warning", "error", "critical")
        worst = max(
            (order.index(a.get("severity", "info")) for a in alerts if a.get("severity") in order),
            default=0,
        )
        return order[worst]
    return data.get("severity") or "info"


def _project(sub: Subscription, kind: str, data: dict) -> tuple | None:
    """The projection key of ``data`` for ``sub``, or None when nothing is to be sent."""
    if kind == "pose_data":
        keep = tuple(
            i
            for i, p in enumerate(data.get("persons", []))
            if (p.get("confidence") or 0.0) >= sub.min_confidence
        )
        return ("pose", keep, sub.include_keypoints, sub.include_velocity, sub.include_dense_pose)
    if kind in ("pose_data_trajectory", "tracking_update", "activity_event"):
        conf = data.get("confidence")
        if kind == "pose_data_trajectory" and data.get("trajectory"):
            conf = data["trajectory"][-1].get("confidence")  # the track's, as of now
        if conf is not None and conf < sub.min_confidence:
            return None
    if sub.event_types is not None and sub.event_types.isdisjoint(
        [data.get("event_type"), *(data.get("actions") or ())]
    ):
        return None  # the spec lists "alert_triggered" among event_types: an action here
    if sub.severity is not None and _severity(kind, data) not in sub.severity:
        return None
    return ("whole",)


def _apply(message: dict, key: tuple) -> dict:
    if key[0] != "pose":
        return message
    _, keep, keypoints, velocity, dense = key
    persons = []
    source = message["data"]["persons"]
    for i in keep:
        p = dict(source[i])
        if not keypoints:
            p.pop("keypoints", None)
        if not dense:
            p.pop("dense_pose", None)
        if not velocity and isinstance(p.get("activity"), dict):
            p["activity"] = {k: v for k, v in p["activity"].items() if k != "velocity"}
        persons.append(p)
    return {**message, "data": {**message["data"], "persons": persons}}


@attrs.define(slots=True, eq=False)
class _Queue:
    latest: bool
    max_fps: float
    items: collections.deque
    tokens: float = THROTTLE_BURST
    refilled_at: float = -math.inf
    dropped: int = 0

    def due(self, now: float) -> float:
        """When the oldest waiting message may go (<= now: now)."""
        rate = self.max_fps
        self.tokens = min(THROTTLE_BURST, self.tokens + (now - self.refilled_at) * rate)
        self.refilled_at = now
        need = 1.0 - THROTTLE_DEBT
        return now if self.tokens >= need else now + (need - self.tokens) / rate


class Outbox:
    """What one connection still has to send, per subscription."""

    def __init__(self, client_id: str, principal_may_see, clock=trio.current_time) -> None:
        self.client_id = client_id
        self._tail_head = orjson.dumps({"client_id": client_id})[:-1] + b',"sequence":'
        self._may_see = principal_may_see
        self._clock = clock
        self.subscriptions: dict[str, Subscription] = {}
        self._queues: dict[str, _Queue] = {}
        self._events: collections.deque = collections.deque()  # discrete, never dropped
        self._control: collections.deque = collections.deque()  # acks, errors, heartbeats
        self.fallen_behind = False
        self.wakeup = trio.Event()
        self.sequence = 0
        #: Set by the connection: sends what is due right away, in the offering task (the
        #: fast path of ``wdp.server.frames``); without it, offers wake the writer task.
        self.pump: Callable[[], None] | None = None

    # -- subscriptions (the connection's reader changes them) --
    def set_subscriptions(self, subs: Iterable[Subscription]) -> None:
        self.subscriptions = {s.id: s for s in subs}
        self._queues = {
            s.id: _Queue(
                s.event_type in LATEST_VALUE_TYPES,
                s.max_fps,
                collections.deque(maxlen=s.buffer_size),
            )
            for s in self.subscriptions.values()
        }

    def matching(self, kind: str, environment_id: str | None):
        for sub in self.subscriptions.values():
            if sub.event_type != kind:
                continue
            if environment_id is not None:
                if not self._may_see(environment_id):
                    continue
                if sub.environments is not None and environment_id not in sub.environments:
                    continue
            yield sub

    # -- the hub offers --
    def offer(self, sub: Subscription, shared: SharedMessage) -> None:
        queue = self._queues[sub.id]
        if queue.latest:
            if len(queue.items) == queue.items.maxlen:
                queue.dropped += 1
            queue.items.append((sub, shared))
        else:
            if len(self._events) >= MAX_PENDING_EVENTS:
                self.fallen_behind = True
            else:
                self._events.append((sub, shared))
        if self.pump is not None:
            self.pump()
        else:
            self.wakeup.set()

    def control(self, message: dict) -> None:
        """A message of the connection itself (ack, error, heartbeat), sent before events."""
        self._control.append(message)
        self.wakeup.set()

    # -- the connection's writer takes --
    def take(self) -> tuple[Subscription | None, SharedMessage | dict | None, float | None]:
        """The next message due: a control message (a dict), or an event's shared
        encoding with its subscription; or (None, None, when) with the time the next
        one is due (None: nothing is waiting)."""
        if self._control:
            return None, self._control.popleft(), None
        if self._events:
            sub, shared = self._events.popleft()
            return sub, shared, None
        now = self._clock()
        soonest = None
        for queue in self._queues.values():
            if not queue.items:
                continue
            due = queue.due(now)
            if due <= now:
                queue.tokens -= 1.0
                sub, shared = queue.items.popleft()
                return sub, shared, None
            while len(queue.items) > 1:  # over max_fps: only the newest frame waits
                queue.items.popleft()
                queue.dropped += 1
            soonest = due if soonest is None else min(soonest, due)
        return None, None, soonest

    @property
    def events_pending(self) -> int:
        return len(self._events)

    @property
    def control_pending(self) -> int:
        return len(self._control)

    @property
    def dropped(self) -> int:
        return sum(q.dropped for q in self._queues.values())

    def next_metadata(self, compression: str | None = None) -> dict:
        self.sequence += 1
        meta = {"client_id": self.client_id, "sequence": self.sequence}
        if compression:
            meta["compression"] = compression
        return meta

    def next_tail(self) -> bytes:
        """The JSON that ends a ``SharedMessage`` sent uncompressed: this connection's
        metadata and the message's closing brace (``next_metadata``, pre-encoded)."""
        self.sequence += 1
        return self._tail_head + str(self.sequence).encode() + b"}}"


class Hub:
    """Fans events out to the connected outboxes.

    State events (``RETAINED_TYPES``) are also kept, the latest per environment and
    router: a new subscription to them first gets those (``offer_retained``), so a
    dashboard that connects knows at once what is running and which routers are silent.
    """

    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()
        self.published = 0
        self.retained: dict[tuple, object] = {}

    def publish(self, event) -> None:
        message = event.to_message()
        kind = message["type"]
        environment_id = getattr(event, "environment_id", None)
        data = message["data"]
        cache: dict[tuple, SharedMessage] = {}
        self.published += 1
        if kind in RETAINED_TYPES:
            self.retained[(kind, environment_id, getattr(event, "router_id", None))] = event
        for outbox in self.outboxes:
            for sub in outbox.matching(kind, environment_id):
                key = _project(sub, kind, data)
                if key is None:
                    continue
                shared = cache.get(key)
                if shared is None:
                    shared = cache[key] = SharedMessage(kind, _apply(message, key))
                outbox.offer(sub, shared)

    def offer_retained(self, outbox: Outbox, subscriptions: Iterable[Subscription]) -> None:
        """The retained state events that match ``subscriptions`` (new ones of
        ``outbox``), oldest first."""
        new = {s.id for s in subscriptions}
        for (kind, environment_id, _), event in sorted(
            self.retained.items(), key=lambda item: item[1].timestamp_ns
        ):
            message = event.to_message()
            for sub in outbox.matching(kind, environment_id):
                if sub.id not in new:
                    continue
                key = _project(sub, kind, message["data"])
                if key is not None:
                    outbox.offer(sub, SharedMessage(kind, _apply(message, key)))
