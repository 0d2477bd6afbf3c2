"""Client message parsing, subscription validation and rate limits (pure functions).
The same rules are exercised over a real socket in the server tests."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdp.server.auth import Principal
from wdp.server.protocol import ProtocolError, envelope, iso_ms, parse_client_message
from wdp.server.ratelimit import Abusive, RateLimiter
from wdp.server.subscriptions import build, defaults

ROOM = Principal("alice", frozenset({"viewer"}), frozenset({"room_001"}), 2e9)
ALL = Principal("admin", frozenset({"admin"}), None, 2e9)


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "INVALID_JSON"),
        (b"\xff\xfe", "INVALID_JSON"),
        ("[1, 2]", "INVALID_MESSAGE"),
        ('"text"', "INVALID_MESSAGE"),
        ('{"data": {}}', "INVALID_MESSAGE"),
        ('{"type": 5, "data": {}}', "INVALID_MESSAGE"),
        ('{"type": "subscribe", "data": []}', "INVALID_MESSAGE"),
        ('{"type": "launch_rockets", "data": {}}', "UNKNOWN_MESSAGE_TYPE"),
        ('{"type": "subscribe", "data": {"x": NaN}}', "INVALID_JSON"),
        ('{"type": "subscribe", "data": {"x": Infinity}}', "INVALID_JSON"),
        ('{"type": "subscribe", "data": {"x": 1e999}}', "INVALID_JSON"),
        ('{"type": "subscribe", "data": {"x": "\\ud800"}}', "INVALID_JSON"),
        ('{"type": "subscribe", "data": ' + "[" * 50 + "]" * 50 + "}", "MESSAGE_TOO_DEEP"),
    ],
)
def test_bad_client_messages_get_their_code(raw, code):
    with pytest.raises(ProtocolError) as exc:
        parse_client_message(raw)
    assert exc.value.code == code


def test_deep_brackets_inside_strings_are_not_nesting():
    msg = parse_client_message('{"type": "heartbeat", "data": {"note": "' + "[" * 100 + '"}}')
    assert msg.type == "heartbeat"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_parser_never_raises_anything_but_protocol_errors(raw):
    try:
        parse_client_message(raw)
    except ProtocolError:
        pass


def test_envelope_and_timestamps():
    msg = envelope("ack", 1_736_245_800_123_000_000, {"a": 1}, client_id="c", sequence=7)
    assert msg == {
        "type": "ack",
        "timestamp": "2025-01-07T10:30:00.123Z",
        "data": {"a": 1},
        "metadata": {"client_id": "c", "sequence": 7},
    }
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"


def test_subscription_defaults_and_ceilings():
    sub = build(
        {
            "event_type": "pose_data",
            "quality": "high",
            "filters": {"environment_id": "room_001", "min_confidence": 0.7},
            "throttle": {"max_fps": 30, "buffer_size": 1, "compression": "gzip"},
        },
        ROOM,
    )
    assert (sub.max_fps, sub.buffer_size, sub.compression) == (30.0, 1, "gzip")
    assert sub.environments == {"room_001"} and sub.min_confidence == 0.7
    low = build({"event_type": "pose_data"}, ROOM)
    assert (low.max_fps, low.buffer_size, low.environments) == (10.0, 5, None)
    assert build({"event_type": "analytics_update"}, ROOM).event_type == "analytics_stream"
    assert [s.event_type for s in defaults(ROOM)] == ["pose_data", "system_event"]


@pytest.mark.parametrize(
    "request_, field",
    [
        ({"event_type": "pose_data", "filters": {"min_confidence": 1.5}}, "min_confidence"),
        ({"event_type": "pose_data", "filters": {"min_confidence": "high"}}, "min_confidence"),
        ({"event_type": "pose_data", "filters": {"min_confidence": True}}, "min_confidence"),
        ({"event_type": "pose_data", "throttle": {"max_fps": 31}}, "max_fps"),
        ({"event_type": "pose_data", "throttle": {"max_fps": 11}}, "max_fps"),
        ({"event_type": "pose_data", "throttle": {"max_fps": 0}}, "max_fps"),
        ({"event_type": "pose_data", "throttle": {"buffer_size": 6}}, "buffer_size"),
        ({"event_type": "pose_data", "throttle": {"compression": "brotli"}}, "compression"),
        ({"event_type": "pose_data", "filters": {"include_keypoints": "yes"}}, "include_keypoints"),
        ({"event_type": "pose_data", "filters": {"severity": ["warning"]}}, "severity"),
        ({"event_type": "pose_data", "quality": "ultra"}, "quality"),
        ({"event_type": "pose_data", "colour": "red"}, "colour"),
        ({"event_type": "telepathy"}, "event_type"),
        ({"event_type": "system_event", "filters": {"severity": ["apocalyptic"]}}, "severity"),
        ({"event_type": "activity_event", "filters": {"event_types": []}}, "event_types"),
        ({"event_type": "pose_data", "filters": {"environment_id": "bad id"}}, "environment_id"),
        ({"event_type": "pose_data", "filters": "all"}, "filters"),
    ],
)
def test_invalid_subscriptions_name_the_field(request_, field):
    with pytest.raises(ProtocolError) as exc:
        build(request_, ROOM, sub_id="sub_x")
    assert exc.value.code == "SUBSCRIPTION_ERROR"
    assert exc.value.details["field"] == field and exc.value.details["subscription_id"] == "sub_x"


def test_environment_outside_the_token_is_forbidden():
    with pytest.raises(ProtocolError) as exc:
        build({"event_type": "pose_data", "filters": {"environment_id": "room_002"}}, ROOM)
    assert exc.value.code == "FORBIDDEN"
    assert build({"event_type": "pose_data", "filters": {"environment_id": "room_002"}}, ALL)


def test_rate_limits_follow_the_spec_table():
    rl = RateLimiter()
    for i in range(10):
        rl.check("subscribe", float(i))
    with pytest.raises(ProtocolError) as exc:
        rl.check("unsubscribe", 10.0)
    assert exc.value.code == "RATE_LIMIT_EXCEEDED"
    assert exc.value.details == {
        "current_rate": 11,
        "limit": 10,
        "window": "1_minute",
        "retry_after": 50,
    }
    rl.check("subscribe", 60.5)  # the first one left the window
    rl.check("heartbeat", 0.0)
    with pytest.raises(ProtocolError):
        rl.check("heartbeat", 29.0)
    rl.check("heartbeat", 30.0)


def test_persistent_abuse_is_disconnected():
    rl = RateLimiter(abuse_limit=5)
    rl.check("heartbeat", 0.0)
    for i in range(4):
        with pytest.raises(ProtocolError):
            rl.check("heartbeat", 1.0 + i)
    with pytest.raises(Abusive):
        rl.check("heartbeat", 6.0)
