"""Bad client input over a real socket: each gets its documented error (or close), the
connection that sent it keeps streaming, and so does every other connection."""

import orjson
import pytest
import trio
import trio_websocket
from ws_server import (
    occupancy,
    open_client,
    pose,
    receive,
    send,
    server,
    subscribe,
    token,
    tracking,
)

DEEP = 17  # protocol.MAX_DEPTH + 1


def _sub(**fields):
    return orjson.dumps(
        {"type": "subscribe", "data": {"subscriptions": [{"event_type": "pose_data", **fields}]}}
    ).decode()


def _json(message):
    return orjson.dumps(message).decode()


HEARTBEAT_WITH = '{{"type": "heartbeat", "data": {{"x": {}}}}}'

#: (id, raw message, error code, details.field or None)
CASES = [
    # not JSON, or not JSON this server accepts
    ("not-json", "hello", "INVALID_JSON", None),
    ("truncated", '{"type": "heartbeat", "data": {', "INVALID_JSON", None),
    ("empty", "", "INVALID_JSON", None),
    ("trailing-garbage", '{"type": "heartbeat", "data": {}} x', "INVALID_JSON", None),
    ("binary-not-utf8", b"\xff\xfe\xfd", "INVALID_JSON", None),
    (
        "binary-cesu-surrogate",
        b'{"type": "heartbeat", "data": {"x": "\xed\xa0\x80"}}',
        "INVALID_JSON",
        None,
    ),
    ("escaped-lone-surrogate", HEARTBEAT_WITH.format('"\\ud800"'), "INVALID_JSON", None),
    ("escaped-lone-low-surrogate", HEARTBEAT_WITH.format('"a\\udc00b"'), "INVALID_JSON", None),
    ("nan", HEARTBEAT_WITH.format("NaN"), "INVALID_JSON", None),
    ("infinity", HEARTBEAT_WITH.format("Infinity"), "INVALID_JSON", None),
    ("minus-infinity", HEARTBEAT_WITH.format("-Infinity"), "INVALID_JSON", None),
    ("number-overflows-double", HEARTBEAT_WITH.format("1e400"), "INVALID_JSON", None),
    ("5000-digit-integer", HEARTBEAT_WITH.format("9" * 5000), "INVALID_JSON", None),
    # JSON, but not a message
    ("array", "[]", "INVALID_MESSAGE", None),
    ("string", '"subscribe"', "INVALID_MESSAGE", None),
    ("number", "42", "INVALID_MESSAGE", None),
    ("null", "null", "INVALID_MESSAGE", None),
    ("missing-type", '{"data": {}}', "INVALID_MESSAGE", None),
    ("type-a-number", '{"type": 7, "data": {}}', "INVALID_MESSAGE", None),
    ("type-null", '{"type": null, "data": {}}', "INVALID_MESSAGE", None),
    ("type-a-list", '{"type": ["subscribe"], "data": {}}', "INVALID_MESSAGE", None),
    ("data-a-list", '{"type": "heartbeat", "data": []}', "INVALID_MESSAGE", None),
    ("data-a-string", '{"type": "heartbeat", "data": "x"}', "INVALID_MESSAGE", None),
    ("data-null", '{"type": "heartbeat", "data": null}', "INVALID_MESSAGE", None),
    # unknown types
    ("unknown-type", '{"type": "fly", "data": {}}', "UNKNOWN_MESSAGE_TYPE", None),
    ("server-type", '{"type": "pose_data", "data": {}}', "UNKNOWN_MESSAGE_TYPE", None),
    ("case-differs", '{"type": "Subscribe", "data": {}}', "UNKNOWN_MESSAGE_TYPE", None),
    ("long-type", _json({"type": "x" * 20000, "data": {}}), "UNKNOWN_MESSAGE_TYPE", None),
    # nesting
    (
        "nested-17",
        HEARTBEAT_WITH.format("[" * (DEEP - 2) + "]" * (DEEP - 2)),
        "MESSAGE_TOO_DEEP",
        None,
    ),
    ("nested-20000", "[" * 20000, "MESSAGE_TOO_DEEP", None),
    (
        "nested-objects",
        HEARTBEAT_WITH.format('{"a":' * 20 + "1" + "}" * 20),
        "MESSAGE_TOO_DEEP",
        None,
    ),
    # huge numbers where a number is expected
    ("max_fps-1e300", _sub(throttle={"max_fps": 1e300}), "SUBSCRIPTION_ERROR", "max_fps"),
    (
        "buffer-2**64",
        _sub().replace(
            '"pose_data"', '"pose_data","throttle":{"buffer_size":18446744073709551616}'
        ),
        "SUBSCRIPTION_ERROR",
        "buffer_size",
    ),
    (
        "buffer-minus-2**63",
        _sub(throttle={"buffer_size": -(2**63)}),
        "SUBSCRIPTION_ERROR",
        "buffer_size",
    ),
    (
        "min_confidence-1e308",
        _sub(filters={"min_confidence": 1e308}),
        "SUBSCRIPTION_ERROR",
        "min_confidence",
    ),
    # missing or wrongly typed fields
    ("subscribe-no-data", '{"type": "subscribe"}', "SUBSCRIPTION_ERROR", "subscriptions"),
    (
        "subscriptions-missing",
        '{"type": "subscribe", "data": {}}',
        "SUBSCRIPTION_ERROR",
        "subscriptions",
    ),
    (
        "subscriptions-object",
        '{"type": "subscribe", "data": {"subscriptions": {}}}',
        "SUBSCRIPTION_ERROR",
        "subscriptions",
    ),
    (
        "subscriptions-empty",
        '{"type": "subscribe", "data": {"subscriptions": []}}',
        "SUBSCRIPTION_ERROR",
        "subscriptions",
    ),
    (
        "subscriptions-17",
        _json({"type": "subscribe", "data": {"subscriptions": [{"event_type": "pose_data"}] * 17}}),
        "SUBSCRIPTION_ERROR",
        "subscriptions",
    ),
    (
        "subscription-a-string",
        '{"type": "subscribe", "data": {"subscriptions": ["pose_data"]}}',
        "SUBSCRIPTION_ERROR",
        "",
    ),
    (
        "event_type-missing",
        '{"type": "subscribe", "data": {"subscriptions": [{}]}}',
        "SUBSCRIPTION_ERROR",
        "event_type",
    ),
    (
        "event_type-unknown",
        '{"type": "subscribe", "data": {"subscriptions": [{"event_type": "x"}]}}',
        "SUBSCRIPTION_ERROR",
        "event_type",
    ),
    (
        "event_type-number",
        '{"type": "subscribe", "data": {"subscriptions": [{"event_type": 1}]}}',
        "SUBSCRIPTION_ERROR",
        "event_type",
    ),
    ("unknown-field", _sub(colour="red"), "SUBSCRIPTION_ERROR", "colour"),
    ("filters-a-list", _sub(filters=[]), "SUBSCRIPTION_ERROR", "filters"),
    ("throttle-a-string", _sub(throttle="fast"), "SUBSCRIPTION_ERROR", "throttle"),
    (
        "min_confidence-string",
        _sub(filters={"min_confidence": "high"}),
        "SUBSCRIPTION_ERROR",
        "min_confidence",
    ),
    (
        "min_confidence-bool",
        _sub(filters={"min_confidence": True}),
        "SUBSCRIPTION_ERROR",
        "min_confidence",
    ),
    (
        "min_confidence-2",
        _sub(filters={"min_confidence": 2}),
        "SUBSCRIPTION_ERROR",
        "min_confidence",
    ),
    (
        "include_keypoints-1",
        _sub(filters={"include_keypoints": 1}),
        "SUBSCRIPTION_ERROR",
        "include_keypoints",
    ),
    (
        "include_velocity-string",
        _sub(filters={"include_velocity": "yes"}),
        "SUBSCRIPTION_ERROR",
        "include_velocity",
    ),
    (
        "environment_id-number",
        _sub(filters={"environment_id": 5}),
        "SUBSCRIPTION_ERROR",
        "environment_id",
    ),
    (
        "environment_id-bad-id",
        _sub(filters={"environment_id": "room 1; drop"}),
        "SUBSCRIPTION_ERROR",
        "environment_id",
    ),
    (
        "environment_id-empty-list",
        _sub(filters={"environment_id": []}),
        "SUBSCRIPTION_ERROR",
        "environment_id",
    ),
    ("severity-on-pose", _sub(filters={"severity": ["warning"]}), "SUBSCRIPTION_ERROR", "severity"),
    (
        "severity-unknown",
        _json(
            {
                "type": "subscribe",
                "data": {
                    "subscriptions": [
                        {"event_type": "system_event", "filters": {"severity": ["loud"]}}
                    ]
                },
            }
        ),
        "SUBSCRIPTION_ERROR",
        "severity",
    ),
    (
        "event_types-unknown",
        _json(
            {
                "type": "subscribe",
                "data": {
                    "subscriptions": [
                        {"event_type": "activity_event", "filters": {"event_types": ["sneeze"]}}
                    ]
                },
            }
        ),
        "SUBSCRIPTION_ERROR",
        "event_types",
    ),
    ("max_fps-string", _sub(throttle={"max_fps": "10"}), "SUBSCRIPTION_ERROR", "max_fps"),
    ("max_fps-negative", _sub(throttle={"max_fps": -1}), "SUBSCRIPTION_ERROR", "max_fps"),
    ("buffer_size-float", _sub(throttle={"buffer_size": 2.5}), "SUBSCRIPTION_ERROR", "buffer_size"),
    ("throttle-unknown", _sub(throttle={"burst": 3}), "SUBSCRIPTION_ERROR", "burst"),
    ("quality-number", _sub(quality=1), "SUBSCRIPTION_ERROR", "quality"),
    (
        "unsubscribe-no-ids",
        '{"type": "unsubscribe", "data": {}}',
        "SUBSCRIPTION_ERROR",
        "subscription_ids",
    ),
    (
        "unsubscribe-ids-string",
        '{"type": "unsubscribe", "data": {"subscription_ids": "sub_1"}}',
        "SUBSCRIPTION_ERROR",
        "subscription_ids",
    ),
    (
        "unsubscribe-ids-numbers",
        '{"type": "unsubscribe", "data": {"subscription_ids": [1]}}',
        "SUBSCRIPTION_ERROR",
        "subscription_ids",
    ),
    (
        "unsubscribe-unknown-id",
        '{"type": "unsubscribe", "data": {"subscription_ids": ["sub_nope"]}}',
        "SUBSCRIPTION_ERROR",
        "subscription_ids",
    ),
    (
        "update-unknown-id",
        '{"type": "update_subscription", "data": {"subscription_id": "sub_nope"}}',
        "SUBSCRIPTION_ERROR",
        "subscription_id",
    ),
    (
        "update-id-missing",
        '{"type": "update_subscription", "data": {"filters": {}}}',
        "SUBSCRIPTION_ERROR",
        "subscription_id",
    ),
    (
        "update-id-number",
        '{"type": "update_subscription", "data": {"subscription_id": 3}}',
        "SUBSCRIPTION_ERROR",
        "subscription_id",
    ),
    (
        "duplicate-in-one-request",
        _json(
            {
                "type": "subscribe",
                "data": {
                    "subscriptions": [{"event_type": "pose_data"}, {"event_type": "pose_data"}]
                },
            }
        ),
        "SUBSCRIPTION_ERROR",
        "",
    ),
    # another environment than the token's
    (
        "forbidden-environment",
        _sub(filters={"environment_id": "room_002"}),
        "FORBIDDEN",
        "environment_id",
    ),
    (
        "forbidden-in-a-list",
        _sub(filters={"environment_id": ["room_001", "room_002"]}),
        "FORBIDDEN",
        "environment_id",
    ),
]


async def _still_streaming(ctx, clients, track):
    """A tracking update published now reaches every one of ``clients`` (discrete events
    are not throttled, so this costs no waiting)."""
    ctx.hub.publish(tracking(track=track))
    for ws in clients:
        message = await receive(ws)
        while message["type"] != "tracking_update":
            message = await receive(ws)
        assert message["data"]["track_id"] == track


STREAMS = ({"event_type": "pose_data"}, {"event_type": "tracking_update"})


@pytest.mark.parametrize("raw, code, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_message_gets_its_error_and_nothing_else_breaks(raw, code, field):
    async with server() as (port, ctx):
        async with (
            open_client(port, f"token={token()}") as bystander,
            open_client(port, f"token={token()}") as ws,
        ):
            for client in (bystander, ws):
                await subscribe(client, *STREAMS)
            ctx.hub.publish(pose(frame=1))
            for client in (bystander, ws):
                assert (await receive(client))["data"]["frame_id"] == 1
            await send(ws, raw)
            error = await receive(ws)
            assert error["type"] == "error", error
            assert error["data"]["error_code"] == code, error
            text = error["data"]["message"]
            assert text and "\n" not in text and len(text) < 200  # one line, bounded
            if field is not None:
                assert error["data"]["details"]["field"] == field, error
            assert len(orjson.dumps(error)) < 1024  # no echo of a big input
            await _still_streaming(ctx, [bystander, ws], 2)
            # the connection still acts on good messages
            await subscribe(ws, {"event_type": "occupancy_update"})
            ctx.hub.publish(occupancy())
            assert (await receive(ws))["type"] == "occupancy_update"
            await _still_streaming(ctx, [bystander], 3)


async def test_duplicate_of_an_active_subscription():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as ws:
            request = {"event_type": "pose_data", "filters": {"min_confidence": 0.5}}
            [active] = await subscribe(ws, request)
            await send(ws, {"type": "subscribe", "data": {"subscriptions": [request]}})
            error = await receive(ws)
            assert error["data"]["error_code"] == "SUBSCRIPTION_ERROR"
            assert error["data"]["details"]["reason"] == "Duplicate of an active subscription"
            # a different filter is a different subscription
            both = await subscribe(ws, {**request, "filters": {"min_confidence": 0.6}})
            assert [a["subscription_id"] for a in both][0] == active["subscription_id"]
            assert len(both) == 2


async def test_unknown_subscription_id_leaves_the_others_alone():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as ws:
            [active] = await subscribe(ws, {"event_type": "tracking_update"})
            ids = [active["subscription_id"], "sub_999999"]
            await send(ws, {"type": "unsubscribe", "data": {"subscription_ids": ids}})
            error = await receive(ws)
            assert error["data"]["error_code"] == "SUBSCRIPTION_ERROR"
            assert error["data"]["details"]["subscription_id"] == "sub_999999"
            await _still_streaming(ctx, [ws], 4)  # nothing was unsubscribed


def _padded_heartbeat(size: int) -> str:
    head, tail = '{"type": "heartbeat", "data": {"pad": "', '"}}'
    return head + "x" * (size - len(head) - len(tail)) + tail


async def test_message_of_exactly_the_limit_is_read_one_byte_more_closes_1009():
    async with server() as (port, ctx):
        async with (
            open_client(port, f"token={token()}") as bystander,
            open_client(port, f"token={token()}") as ws,
        ):
            for client in (bystander, ws):
                await subscribe(client, *STREAMS)
            limit = ctx.config.max_message_bytes
            assert limit == 65536
            await send(ws, _padded_heartbeat(limit))
            assert (await receive(ws))["type"] == "heartbeat"
            for big in (_padded_heartbeat(limit + 1), b"\0" * (limit + 1), "x" * 10**6):
                async with open_client(port, f"token={token()}") as attacker:
                    with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                        await send(attacker, big)
                        await receive(attacker)  # no error message: the close says it
                    assert closed.value.reason.code == 1009
            await _still_streaming(ctx, [bystander, ws], 5)


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the unmasked server frames in ``data``."""
    frames, i = [], 0
    while i + 2 <= len(data):
        opcode, n, i = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        if i + n > len(data):
            break  # not all here yet
        frames.append((opcode, data[i : i + n]))
        i += n
    return frames


async def _raw_upgrade(port, then=b"") -> trio.SocketStream:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(
        f"GET /ws/v1?token={token()} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        + then
    )
    return stream


def _masked_text_frame(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + mask + masked


async def _read_frames(stream, until_opcode: int, *, head: bool) -> tuple[bytes, list]:
    """(the HTTP head if ``head``, the frames) read until a frame with ``until_opcode``."""
    data = b""

    def split(data):
        return data.partition(b"\r\n\r\n")[::2] if head else (b"", data)

    with trio.fail_after(5):
        while not any(op == until_opcode for op, _ in _frames(split(data)[1])):
            chunk = await stream.receive_some(65536)
            assert chunk, f"closed without a frame {until_opcode}: {data!r}"
            data += chunk
    top, rest = split(data)
    return top, _frames(rest)


BAD_UTF8 = b'{"type": "heartbeat", "data": {"x": "\xed\xa0\x80"}}'


async def test_invalid_utf8_in_a_text_frame_ends_that_connection_only():
    """A text frame must be UTF-8 (RFC 6455 8.1): the WebSocket layer fails the
    connection before any message is parsed. (RFC 6455 asks for a close 1007;
    trio-websocket drops the TCP connection without a close frame: a client sees 1006.)"""
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as bystander:
            await subscribe(bystander, *STREAMS)
            async with await _raw_upgrade(port) as stream:
                head, frames = await _read_frames(stream, 1, head=True)
                assert head.startswith(b"HTTP/1.1 101")
                assert orjson.loads(frames[0][1])["type"] == "connection_status"
                await stream.send_all(_masked_text_frame(BAD_UTF8))
                data = b""
                with trio.fail_after(5):
                    while chunk := await stream.receive_some(65536):
                        data += chunk
            # nothing but, at most, a close frame saying 1007
            assert all(op == 8 and p[:2] == (1007).to_bytes(2, "big") for op, p in _frames(data))
            await _still_streaming(ctx, [bystander], 6)
            assert len(ctx.hub.outboxes) == 1  # the bystander's: the other one is gone


async def test_a_bad_frame_sent_with_the_handshake_is_only_the_senders_loss(caplog):
    async with server() as (port, ctx):
        async with open_client(port, f"token={token()}") as bystander:
            await subscribe(bystander, *STREAMS)
            async with await _raw_upgrade(port, then=_masked_text_frame(BAD_UTF8)) as stream:
                # the server reads the upgrade and, at the latest when it reads the frame,
                # ends this connection (or drops the frame): nothing logged as a failure
                head, frames = await _read_frames(stream, 1, head=True)
                assert head.startswith(b"HTTP/1.1 101")
                assert orjson.loads(frames[0][1])["type"] == "connection_status"
            await _still_streaming(ctx, [bystander], 7)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
