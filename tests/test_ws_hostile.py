"""Hypothesis-generated hostile client messages over a real socket.

Every message gets exactly one reply that the message's kind allows (an error with the
documented code, or the ack/heartbeat a valid message earns), or the documented close
(1009 over-size, 1000 after ``disconnect``, 1008 for abuse of the rate limits), in the
spec's envelope with the connection's sequence; the server stays up; and, measured under
attack, other clients' streams keep their rate.
"""

import json

import orjson
import trio
import trio_websocket
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ws_server import (
    ISO_MS,
    connect,
    open_client,
    pose,
    receive,
    send,
    server,
    subscribe,
    token,
    tracking,
)

from wdp.server.protocol import CLIENT_TYPES, MAX_DEPTH

LIMIT = 65536
ANY = frozenset(
    {
        "ack",
        "heartbeat",
        "disconnect",
        "close1009",
        "INVALID_JSON",
        "INVALID_MESSAGE",
        "UNKNOWN_MESSAGE_TYPE",
        "MESSAGE_TOO_DEEP",
        "SUBSCRIPTION_ERROR",
        "FORBIDDEN",
        "RATE_LIMIT_EXCEEDED",
    }
)
ENVELOPE = frozenset({"INVALID_JSON", "INVALID_MESSAGE", "MESSAGE_TOO_DEEP"})
FIELDS = (
    "subscriptions",
    "subscription_ids",
    "subscription_id",
    "event_type",
    "filters",
    "throttle",
    "quality",
    "environment_id",
    "min_confidence",
    "include_keypoints",
    "severity",
    "event_types",
    "max_fps",
    "buffer_size",
    "compression",
)

# --- strategies: (payload, the outcomes it allows) -------------------------------------

small_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(FIELDS + ("pose_data", "room_001", "room_002", "sub_1", "*")),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _dumps(value) -> str:
    return json.dumps(value, allow_nan=True)  # Python's json writes NaN, 1e999, big ints


def _surrogate_text():
    plain = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
    lone = st.integers(0xD800, 0xDFFF).map(chr)
    return st.tuples(plain, lone, plain).map("".join)


@st.composite
def hostile(draw):
    kind = draw(
        st.sampled_from(
            [
                "text",
                "bytes",
                "not-an-object",
                "nan",
                "surrogate",
                "surrogate-bytes",
                "deep",
                "huge-number",
                "wrong-fields",
                "type-not-a-string",
                "data-not-an-object",
                "unknown-type",
                "over-size",
            ]
        )
    )
    if kind == "text":
        return draw(st.text(max_size=200)), ANY
    if kind == "bytes":
        return draw(st.binary(max_size=200)), ANY
    if kind == "not-an-object":
        value = draw(small_json.filter(lambda v: not isinstance(v, dict)))
        return _dumps(value), ENVELOPE
    if kind == "nan":
        bad = draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
        message = {"type": draw(st.sampled_from(CLIENT_TYPES)), "data": {"x": [1, bad]}}
        return _dumps(message), frozenset({"INVALID_JSON"})
    if kind == "surrogate":  # escaped: valid ASCII, invalid JSON text
        message = {"type": "heartbeat", "data": {"client_id": draw(_surrogate_text())}}
        return json.dumps(message), frozenset({"INVALID_JSON"})
    if kind == "surrogate-bytes":  # raw, as a binary frame (a text frame must be UTF-8)
        message = {"type": "heartbeat", "data": {"client_id": draw(_surrogate_text())}}
        raw = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
        return raw, frozenset({"INVALID_JSON"})
    if kind == "deep":
        depth = draw(st.integers(1, 400))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = opener * depth + "1" + closer * depth
        raw = '{"type": "fly", "data": {"x": ' + inner + "}}"
        # the message's own object and its data are two levels
        return raw, frozenset(
            {"MESSAGE_TOO_DEEP" if depth + 2 > MAX_DEPTH else "UNKNOWN_MESSAGE_TYPE"}
        )
    if kind == "huge-number":
        number = draw(
            st.integers(min_value=10**6)
            | st.integers(max_value=-1)
            | st.floats(min_value=1e6, allow_infinity=False)
            | st.sampled_from([10**400, -(10**400), 2**64, 2**63])
        )
        field = draw(st.sampled_from(["max_fps", "buffer_size", "min_confidence"]))
        where = "filters" if field == "min_confidence" else "throttle"
        request = {"event_type": "pose_data", where: {field: number}}
        message = {"type": "subscribe", "data": {"subscriptions": [request]}}
        return _dumps(message), frozenset(
            {"SUBSCRIPTION_ERROR", "INVALID_JSON", "RATE_LIMIT_EXCEEDED"}
        )
    if kind == "wrong-fields":
        data = draw(st.dictionaries(st.sampled_from(FIELDS), small_json, max_size=4))
        message = {"type": draw(st.sampled_from(CLIENT_TYPES)), "data": data}
        return _dumps(message), ANY - {"INVALID_MESSAGE", "UNKNOWN_MESSAGE_TYPE", "close1009"}
    if kind == "type-not-a-string":
        kind_value = draw(small_json.filter(lambda v: not isinstance(v, str)))
        return _dumps({"type": kind_value, "data": {}}), ENVELOPE
    if kind == "data-not-an-object":
        data = draw(small_json.filter(lambda v: not isinstance(v, dict) and v is not None))
        message = {"type": draw(st.sampled_from(CLIENT_TYPES)), "data": data}
        return _dumps(message), ENVELOPE
    if kind == "unknown-type":
        kind_value = draw(st.text(max_size=100).filter(lambda t: t not in CLIENT_TYPES))
        return _dumps({"type": kind_value, "data": {}}), frozenset({"UNKNOWN_MESSAGE_TYPE"})
    size = draw(st.integers(LIMIT + 1, LIMIT + 5000))
    head = '{"type": "heartbeat", "data": {"pad": "'
    text = head + "x" * (size - len(head) - 3) + '"}}'
    return (text.encode() if draw(st.booleans()) else text), frozenset({"close1009"})


# --- the driver ------------------------------------------------------------------------


class Attack:
    """Sends messages one by one over as many connections as closes make necessary,
    checking each reply against what its message allows."""

    def __init__(self, port, *, flood=False):
        self.port = port
        self.flood = flood  # rate limiting (and its 1008) may answer anything
        self.outcomes: dict[str, int] = {}
        self.connections = 0

    def _count(self, outcome, allowed, payload):
        if self.flood:
            allowed = allowed | {"RATE_LIMIT_EXCEEDED", "close1008"}
        assert outcome in allowed, (outcome, sorted(allowed), payload[:300])
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    async def run(self, messages, *, until=None):
        """Send ``messages`` in order (all of them; or, with ``until``, round and round
        until that time), opening a new connection whenever one is closed."""
        pending = list(messages)
        while pending and (until is None or trio.current_time() < until):
            self.connections += 1
            async with connect(self.port, f"token={token()}&subscriptions=none") as ws:
                status = await receive(ws)
                assert status["type"] == "connection_status"
                sequence = 1
                try:
                    while pending:
                        if until is not None:
                            if trio.current_time() >= until:
                                return
                            pending.append(pending[0])
                        payload, allowed = pending.pop(0)
                        await send(ws, payload)
                        reply = await receive(ws)
                        sequence += 1
                        assert reply["metadata"]["sequence"] == sequence
                        assert ISO_MS.match(reply["timestamp"])
                        assert len(orjson.dumps(reply)) < 2048  # nothing echoed back in bulk
                        if reply["type"] == "error":
                            text = reply["data"]["message"]
                            assert text and "\n" not in text
                            self._count(reply["data"]["error_code"], allowed, payload)
                        else:
                            self._count(reply["type"], allowed, payload)
                        if reply["type"] == "disconnect":
                            try:
                                await receive(ws)
                            except trio_websocket.ConnectionClosed as exc:
                                assert exc.reason.code == 1000
                            break
                except trio_websocket.ConnectionClosed as exc:
                    assert exc.reason.code in (1008, 1009), exc.reason
                    self._count(f"close{exc.reason.code}", allowed, payload)


def _settings(examples):
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
        derandomize=False,
    )


@_settings(150)
@given(st.lists(hostile(), min_size=1, max_size=5))
async def test_each_hostile_message_gets_its_documented_answer(messages):
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as bystander:
            await subscribe(bystander, {"event_type": "tracking_update"})
            with trio.fail_after(30):
                await Attack(port).run(messages)
            # the server still serves: the bystander streams, a new client is served
            ctx.hub.publish(tracking(track=42))
            assert (await receive(bystander))["data"]["track_id"] == 42
            async with open_client(port, f"token={token()}") as late:
                await send(late, {"type": "unsubscribe", "data": {"subscription_ids": ["x"]}})
                assert (await receive(late))["data"]["error_code"] == "SUBSCRIPTION_ERROR"


# --- measured under attack -------------------------------------------------------------

ATTACK_S = 1.5
EVENT_HZ = 50
POSE_EVERY = 2  # a pose frame with every second event: 25 FPS, the client takes 10


async def _publisher(hub, published: list, stop: trio.Event):
    start = trio.current_time()
    i = 0
    while not stop.is_set():
        hub.publish(tracking(track=i))
        if i % POSE_EVERY == 0:
            hub.publish(pose(frame=i))
        published.append(trio.current_time())
        i += 1
        await trio.sleep_until(start + i / EVENT_HZ)  # a fixed grid: no drift


async def _listen(ws, received: dict, last: trio.Event):
    while True:
        message = await receive(ws, timeout=30)
        received.setdefault(message["type"], []).append(trio.current_time())
        if message["type"] == "tracking_update" and message["data"]["track_id"] == LAST:
            last.set()


LAST = 999_999


@_settings(2)
@given(st.lists(hostile(), min_size=60, max_size=120))
async def test_streams_keep_their_rate_under_attack(messages):
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as live:
            await subscribe(live, {"event_type": "tracking_update"}, {"event_type": "pose_data"})
            received: dict = {}
            published: list = []
            stop = trio.Event()
            attacks = [Attack(port, flood=True) for _ in range(3)]
            async with trio.open_nursery() as nursery:
                last = trio.Event()
                nursery.start_soon(_listen, live, received, last)
                nursery.start_soon(_publisher, ctx.hub, published, stop)
                start = trio.current_time()

                async def attacker(attack):
                    await attack.run(messages, until=start + ATTACK_S)

                with trio.fail_after(30):
                    async with trio.open_nursery() as attackers:
                        for attack in attacks:
                            attackers.start_soon(attacker, attack)
                    stop.set()
                    end = trio.current_time()
                    ctx.hub.publish(tracking(track=LAST))
                    await last.wait()  # everything published before it has arrived
                nursery.cancel_scope.cancel()
    elapsed = end - start
    sent = sum(sum(a.outcomes.values()) for a in attacks)
    assert sent >= 3 * len(messages)  # every attacker got through its list at least once
    # the publisher kept its schedule, and every event reached the live client
    assert len(published) >= 0.8 * EVENT_HZ * elapsed, (len(published), elapsed)
    assert len(received["tracking_update"]) == len(published) + 1  # none lost
    events = [t for t in received["tracking_update"] if start <= t <= end]
    assert len(events) >= 0.6 * EVENT_HZ * elapsed, (len(events), elapsed)  # and in time
    # pose frames at the subscription's 10 FPS (published at 25)
    frames = [t for t in received["pose_data"] if start <= t <= end]
    assert 0.6 * 10 * elapsed <= len(frames) <= 10 * elapsed + 2, (len(frames), elapsed)
