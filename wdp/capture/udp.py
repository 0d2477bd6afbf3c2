"""Live capture over UDP: one trio task per router owns its socket.

The task waits for the socket to become readable, then drains every datagram already
queued (up to ``max_batch``) before handing them on, so a burst costs one scheduler
pass instead of one per packet. Parsing never raises (see ``PacketParser``); silence
longer than the router's timeout becomes a ``RouterDisconnected`` event and the socket
is re-opened with exponential backoff until packets flow again.
"""

from __future__ import annotations

import errno
import logging
import socket
import time

import attrs
import trio

from wdp.capture.frame import CsiFrame
from wdp.capture.liveness import Liveness, RouterEvent
from wdp.capture.packets import PacketParser
from wdp.capture.source import UdpSource

log = logging.getLogger(__name__)

#: Receive buffer per read: larger than any UDP payload, so a datagram is never cut.
RECV_BYTES = 65536
#: Kernel receive buffer asked for, so bursts survive a busy event loop.
SO_RCVBUF_BYTES = 4 * 1024 * 1024


@attrs.frozen(slots=True, eq=False)
class Captured:
    """One drained burst: the datagrams as received and the frames parsed from them.

    ``router_id`` is the router the datagrams are recorded under; the frames carry their
    own (they differ when a source is split by transmitter).
    """

    router_id: str
    datagrams: list[tuple[bytes, int]]  # (payload, host_time_ns)
    frames: list[CsiFrame]
    #: Datagrams of the burst the parser refused, by reason (short, corrupt, ...).
    skipped: dict[str, int] = attrs.field(factory=dict)


def _open_socket(source: UdpSource) -> socket.socket:
    family = socket.AF_INET6 if ":" in source.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SO_RCVBUF_BYTES)
        except OSError:  # a capped kernel buffer is not fatal
            pass
        sock.bind((source.host, source.port))
    except BaseException:
        sock.close()
        raise
    return sock


def _drain(
    sock: socket.socket, parser: PacketParser, max_batch: int, router_id: str | None = None
) -> Captured:
    """Read every queued datagram (up to ``max_batch``); ``router_id`` is the router the
    raw datagrams are recorded under (the first stream of a source split by transmitter)."""
    datagrams: list[tuple[bytes, int]] = []
    frames: list[CsiFrame] = []
    before = dict(parser.stats.skipped)
    for _ in range(max_batch):
        try:
            data = sock.recv(RECV_BYTES)
        except BlockingIOError:
            break
        except OSError as exc:  # e.g. ICMP errors surfaced on the socket: not fatal
            if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                continue
            raise
        now = time.time_ns()
        datagrams.append((data, now))
        frames.extend(parser.feed(data, now))
    skipped = {
        reason: n - before.get(reason, 0)
        for reason, n in parser.stats.skipped.items()
        if n != before.get(reason, 0)
    }
    return Captured(router_id or parser.router_id, datagrams, frames, skipped)


def bind_udp(source: UdpSource) -> tuple[socket.socket, UdpSource]:
    """Bind the source's socket; return it and the source with the port actually bound
    (so that a retry re-binds the same port, even when 0 asked for any)."""
    sock = _open_socket(source)
    return sock, attrs.evolve(source, port=sock.getsockname()[1])


async def run_udp_capture(
    source: UdpSource,
    parser: PacketParser,
    send_channel: trio.MemorySendChannel,
    *,
    sock: socket.socket | None = None,
    max_batch: int = 256,
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> None:
    """Receive until cancelled, sending ``Captured`` bursts and ``RouterEvent``s.

    Binds the source unless given a socket from ``bind_udp`` (whose ownership it takes),
    and reports the bound ``(host, port)`` through ``task_status``. The caller owns the
    parser (to ``flush()`` it after cancellation) and the channel.
    """
    if sock is None:
        sock, source = bind_udp(source)
    liveness = Liveness(source.router_id, source.environment_id, source.silence_timeout_s)
    liveness.start(trio.current_time())
    task_status.started(sock.getsockname()[:2])
    try:
        while True:
            with trio.move_on_at(liveness.deadline()) as waited:
                await trio.lowlevel.wait_readable(sock)
            if waited.cancelled_caught:
                event: RouterEvent = liveness.on_deadline(trio.current_time())
                log.warning("router %s silent for %.1f s", source.router_id, event.silent_for_s)
                if event.reconnect_attempts:
                    sock = await _reopen(sock, source)
                await send_channel.send(event)
                continue
            burst = _drain(sock, parser, max_batch, source.router_ids[0])
            if not burst.datagrams:
                continue
            back = liveness.on_packet(trio.current_time(), burst.datagrams[-1][1])
            if back is not None:
                log.info("router %s is back after %.1f s", source.router_id, back.downtime_s)
                await send_channel.send(back)
            await send_channel.send(burst)
    finally:
        _close(sock)


def _close(sock: socket.socket) -> None:
    """Close a socket trio may be waiting on (trio must forget it before the fd is reused)."""
    trio.lowlevel.notify_closing(sock)
    sock.close()


async def _reopen(sock: socket.socket, source: UdpSource) -> socket.socket:
    """Re-open the socket for a retry; if the port cannot be bound yet, keep trying.

    Called only after a silence, and the old socket was just found empty, so no datagram
    is lost unless one arrives in the instant between close and bind.
    """
    _close(sock)
    delay = 0.1
    while True:
        try:
            return _open_socket(source)
        except OSError as exc:
            log.warning("router %s: cannot re-bind %s: %s", source.router_id, source.url, exc)
            await trio.sleep(delay)
            delay = min(delay * 2, 30.0)
