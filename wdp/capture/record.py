"""``wdp record``: a live UDP source into a wdp recording, until a duration or a signal."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import attrs
import trio
from tqdm import tqdm

from wdp.capture.formats import make_parser
from wdp.capture.liveness import RouterDisconnected, RouterReconnected
from wdp.capture.packets import PacketParser, PacketStats
from wdp.capture.source import UdpSource
from wdp.capture.udp import Captured, bind_udp, run_udp_capture
from wdp.recorder import Recorder, RouterInfo

log = logging.getLogger(__name__)

#: How often a quiet recording is offered a flush (the recorder flushes every 0.5 s).
FLUSH_POLL_S = 0.25


@attrs.frozen(slots=True)
class RecordReport:
    out: Path
    datagrams: int
    frames: int
    stats: PacketStats
    events: list[RouterDisconnected | RouterReconnected]


async def record_source(
    source: UdpSource,
    out: str | Path,
    *,
    duration_s: float | None = None,
    progress: bool = True,
    handle_signals: bool = True,
    stop: trio.Event | None = None,
    parser: PacketParser | None = None,
    label: str = "",
    label_group: str = "",
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> RecordReport:
    """Capture ``source`` into ``out``; stop after ``duration_s``, SIGINT or SIGTERM,
    or when ``stop`` is set. ``parser`` may be given to watch its counters while it runs.
    ``label`` and ``label_group`` mark the session for training (the Recorder's).

    Reports the bound address through ``task_status`` once the socket listens. Every
    datagram already received when the stop comes is written, and the file is closed
    cleanly.
    """
    out = Path(out)
    if parser is None:
        parser = make_parser(
            source.format, source.router_id, source.environment_id, streams=source.streams
        )
    infos = [RouterInfo(rid, source.environment_id, parser.hw_format) for rid in source.router_ids]
    config = json.dumps({"record": attrs.asdict(source)})
    events: list[RouterDisconnected | RouterReconnected] = []
    counts = {"datagrams": 0, "frames": 0}
    send, receive = trio.open_memory_channel(64)
    with (
        Recorder(
            out,
            routers=infos,
            source=source.url,
            config=config,
            label=label,
            label_group=label_group,
        ) as rec,
        tqdm(unit="frame", disable=not progress, desc="record") as bar,
    ):

        async def consume() -> None:
            async with receive:
                async for item in receive:
                    if isinstance(item, Captured):
                        for data, host_ns in item.datagrams:
                            rec.append_raw_one(item.router_id, data, host_ns)
                        for frame in item.frames:
                            rec.append_frame(frame)
                        counts["datagrams"] += len(item.datagrams)
                        counts["frames"] += len(item.frames)
                        bar.update(len(item.frames))
                    else:
                        events.append(item)
                        log.warning("%s", item)

        async def keep_flushing() -> None:
            """The recorder flushes on appends; a quiet source still gets flushed."""
            while True:
                await trio.sleep(FLUSH_POLL_S)
                rec.poll()

        sock, source = bind_udp(source)
        task_status.started(sock.getsockname()[:2])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            capture_scope = trio.CancelScope()
            if duration_s is not None:
                capture_scope.deadline = trio.current_time() + duration_s
            async with trio.open_nursery() as watchers:
                watchers.start_soon(keep_flushing)
                if handle_signals:
                    watchers.start_soon(_stop_on_signal, capture_scope)
                if stop is not None:
                    watchers.start_soon(_stop_on_event, stop, capture_scope)
                async with send:
                    with capture_scope:
                        await run_udp_capture(source, parser, send, sock=sock)
                watchers.cancel_scope.cancel()
        for frame in parser.flush():
            rec.append_frame(frame)
            counts["frames"] += 1
    return RecordReport(out, counts["datagrams"], counts["frames"], parser.stats, events)


async def _stop_on_signal(capture: trio.CancelScope) -> None:
    """Turn the first SIGINT/SIGTERM into a clean stop of the capture."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            capture.cancel()
            return


async def _stop_on_event(stop: trio.Event, capture: trio.CancelScope) -> None:
    await stop.wait()
    capture.cancel()
