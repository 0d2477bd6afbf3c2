"""``max_fps`` and ``buffer_size`` of latest-value streams, on the outbox itself with a
fake clock: a source at the limit loses nothing and builds no queue, a faster source is
thinned to its newest frames, and a busy connection keeps only ``buffer_size`` frames."""

import random

from wdp.server.hub import Outbox, SharedMessage
from wdp.server.subscriptions import Subscription


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def outbox(max_fps, buffer_size=5):
    clock = Clock()
    box = Outbox("c", lambda env: True, clock=clock)
    sub = Subscription("s", "pose_data", None, max_fps=max_fps, buffer_size=buffer_size)
    box.set_subscriptions([sub])
    return box, sub, clock


def frame(i):
    return SharedMessage("pose_data", {"type": "pose_data", "timestamp": "t", "data": {"i": i}})


def run(box, sub, clock, arrivals, end):
    """Offer frames at ``arrivals`` and take every message as soon as it is due (an idle
    connection); (send time, frame index) of what was sent."""
    sent, waiting_until = [], None
    events = sorted((t, i) for i, t in enumerate(arrivals))
    k = 0
    while True:
        t_next = events[k][0] if k < len(events) else end
        if waiting_until is not None and waiting_until <= t_next:
            clock.now = waiting_until
        else:
            if k >= len(events):
                return sent
            clock.now = t_next
            box.offer(sub, frame(events[k][1]))
            k += 1
        while True:
            _, item, due = box.take()
            if item is None:
                waiting_until = due
                break
            sent.append((clock.now, int(item.prefix.split(b'"i":')[1].split(b"}")[0])))


def test_a_source_at_max_fps_with_jitter_loses_nothing_and_queues_nothing():
    rng = random.Random(1)
    box, sub, clock = outbox(max_fps=10)
    arrivals = [0.1 * k + rng.uniform(-0.03, 0.03) for k in range(1, 301)]
    sent = run(box, sub, clock, arrivals, end=40.0)
    assert [i for _, i in sent] == list(range(300))
    latency = [t - arrivals[i] for t, i in sent]
    assert max(latency) < 0.1  # never a standing queue
    assert box.dropped == 0


def test_a_faster_source_is_thinned_to_the_newest_frames_at_max_fps():
    box, sub, clock = outbox(max_fps=10)
    arrivals = [k / 30 for k in range(1, 301)]  # 30 FPS for 10 s
    sent = run(box, sub, clock, arrivals, end=20.0)
    times = [t for t, _ in sent]
    assert 98 <= len(sent) <= 102
    for t in times:  # never more than max_fps (+ the bucket's half frame) in any second
        assert sum(t <= u < t + 1.0 for u in times) <= 11
    latency = [t - arrivals[i] for t, i in sent]
    assert max(latency) < 0.1 + 1e-9  # what is sent is recent: at most one period old
    assert box.dropped == 300 - len(sent)


def test_a_busy_connection_keeps_buffer_size_frames():
    box, sub, clock = outbox(max_fps=30, buffer_size=3)
    for i in range(8):  # nobody takes while the connection is busy
        box.offer(sub, frame(i))
    _, first, _ = box.take()
    assert b'"i":5' in first.prefix  # the oldest of the three kept
    assert box.dropped == 5
