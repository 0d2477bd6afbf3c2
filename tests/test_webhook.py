"""Fall alerts POSTed to a webhook: ``notification_sent`` only when the receiver took it."""

import functools

import attrs
import h11
import orjson
import trio

from wdp.pipeline.events import ActivityEvent, Point
from wdp.server.webhook import TIMEOUT_S, notify, post_json

FALL = ActivityEvent(
    timestamp_ns=1_700_000_000_000_000_000,
    environment_id="room_001",
    fall_id=1,
    event_type="fall_detected",
    severity="high",
    person_id=3,
    track_id=3,
    confidence=0.9,
    location=Point(10.0, 20.0, 1.0, 2.0, 0.0),
    fall_duration=0.6,
    impact_severity=0.7,
    recovery_detected=False,
    actions=("alert_triggered",),
)


async def receiver(status, received, stream):
    """A webhook receiver answering every POST with ``status``."""
    conn = h11.Connection(h11.SERVER)
    body = b""
    async with stream:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(4096))
            elif isinstance(event, h11.Request):
                received.append({"target": event.target, "headers": dict(event.headers)})
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
        received[-1]["body"] = orjson.loads(body)
        await stream.send_all(
            conn.send(h11.Response(status_code=status, headers=[("content-length", "0")]))
            + conn.send(h11.EndOfMessage())
        )


async def serve_receiver(nursery, handler):
    listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return listeners[0].socket.getsockname()[1]


async def test_an_accepted_alert_adds_notification_sent(nursery):
    received = []
    port = await serve_receiver(nursery, functools.partial(receiver, 204, received))
    out = await notify(FALL, f"http://127.0.0.1:{port}/hooks/falls?key=s3cret")
    assert out.actions == ("alert_triggered", "notification_sent")
    (request,) = received
    assert request["target"] == b"/hooks/falls?key=s3cret"
    assert request["headers"][b"content-type"] == b"application/json"
    assert request["body"] == FALL.to_message()


async def test_a_refused_alert_is_not_notified(nursery, caplog):
    port = await serve_receiver(nursery, functools.partial(receiver, 500, []))
    out = await notify(FALL, f"http://127.0.0.1:{port}/hook?key=s3cret")
    assert out.actions == ("alert_triggered",)
    assert "HTTP 500" in caplog.text and "s3cret" not in caplog.text


async def test_no_receiver_no_notification(caplog):
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there
    assert await post_json(f"http://127.0.0.1:{port}/", {}) is False
    without_alert = await notify(attrs.evolve(FALL, actions=()), f"http://127.0.0.1:{port}/")
    assert without_alert.actions == ()


async def test_a_receiver_that_never_answers_times_out(nursery, autojump_clock):
    async def silent(stream):
        async with stream:
            await trio.sleep_forever()

    port = await serve_receiver(nursery, silent)
    start = trio.current_time()
    assert await post_json(f"http://127.0.0.1:{port}/", {}) is False
    assert trio.current_time() - start >= TIMEOUT_S


async def test_garbage_answers_and_bad_urls(nursery):
    async def garbage(stream):
        async with stream:
            await stream.receive_some(65536)
            await stream.send_all(b"\x00\x01 not http at all\r\n\r\n")

    port = await serve_receiver(nursery, garbage)
    assert await post_json(f"http://127.0.0.1:{port}/", {}) is False
    assert await post_json("http://127.0.0.1:99999/", {}) is False  # port out of range
    assert await post_json("http://no-such-host.invalid/", {}, timeout_s=2.0) is False
