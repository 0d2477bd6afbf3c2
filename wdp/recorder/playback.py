"""A recording as a live source: its frames sent at the pace they were recorded.

Frames come in the reader's one deterministic order (timestamp, router, sequence) and
are sent when ``(timestamp - first timestamp) / speed`` has passed; ``speed=math.inf``
sends them as fast as the receiver takes them. With ``loop`` the recording starts over
and its timestamps are shifted past the previous round's, so they keep increasing.
Frames are grouped per router into bursts of at most ``BURST_S`` of recording time.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import trio

from wdp.capture.udp import Captured
from wdp.recorder.reader import open_recording

#: Recording time gathered into one burst.
BURST_S = 0.05


async def run_playback_source(
    path: str | Path,
    send_channel: trio.MemorySendChannel,
    *,
    speed: float = 1.0,
    loop: bool = False,
    environment_id: str | None = None,
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> None:
    """Send the recording's frames as ``Captured`` bursts (raw datagrams are not resent),
    as frames of ``environment_id`` when given (a recording served as a configured room)."""
    if not speed > 0:
        raise ValueError("speed must be positive")
    with open_recording(path) as rec:
        task_status.started([r for r in rec.routers])
        start = trio.current_time()
        shift_ns = 0
        while True:
            first_ns = last_ns = None
            burst: dict[str, list] = {}
            burst_end = None
            for frame in rec.frames():
                if first_ns is None:
                    first_ns = frame.timestamp_ns
                last_ns = frame.timestamp_ns
                if burst_end is not None and frame.timestamp_ns >= burst_end:
                    await _send(send_channel, burst, start, first_ns, burst_end, shift_ns, speed)
                    burst = {}
                    burst_end = None
                if burst_end is None:
                    burst_end = frame.timestamp_ns + int(BURST_S * 1e9)
                if shift_ns or environment_id is not None:
                    frame = attrs.evolve(
                        frame,
                        timestamp_ns=frame.timestamp_ns + shift_ns,
                        environment_id=environment_id or frame.environment_id,
                    )
                burst.setdefault(frame.router_id, []).append(frame)
            if burst:
                await _send(send_channel, burst, start, first_ns, last_ns, shift_ns, speed)
            if not loop or first_ns is None:
                return
            shift_ns += last_ns - first_ns + int(BURST_S * 1e9)


async def _send(channel, burst, start, first_ns, until_ns, shift_ns, speed) -> None:
    if math.isfinite(speed):
        await trio.sleep_until(start + (until_ns + shift_ns - first_ns) / 1e9 / speed)
    for rid, frames in burst.items():
        await channel.send(Captured(rid, [], frames))
