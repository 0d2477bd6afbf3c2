from wdp.capture.liveness import Liveness, RouterDisconnected, RouterReconnected


def test_silence_then_retries_with_backoff_then_back():
    live = Liveness("r1", "room", timeout_s=5.0, backoff_initial_s=1.0, backoff_max_s=4.0)
    live.start(0.0)
    assert live.on_packet(1.0, 111) is None
    assert live.deadline() == 6.0
    first = live.on_deadline(6.0)
    assert first == RouterDisconnected("r1", "room", 111, 5.0, 0)
    assert not live.connected
    # retries at +1, +2, +4, +4 s after the disconnect
    deadlines = []
    for _ in range(4):
        deadlines.append(live.deadline())
        live.on_deadline(deadlines[-1])
    assert deadlines == [7.0, 9.0, 13.0, 17.0]
    assert live.attempts == 4
    back = live.on_packet(20.0, 222)
    assert back == RouterReconnected("r1", "room", 14.0, 4)
    assert live.connected and live.attempts == 0
    assert live.deadline() == 25.0


def test_never_heard_router_times_out_from_start():
    live = Liveness("r1", "room", timeout_s=2.0)
    live.start(10.0)
    assert live.deadline() == 12.0
    event = live.on_deadline(12.0)
    assert event.last_seen_ns is None and event.silent_for_s == 2.0
