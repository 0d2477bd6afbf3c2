"""Outbound WebSocket frames written straight to the socket: the fan-out fast path.

Sending a message through trio-websocket costs a task switch, a cancel scope, a lock, a
wsproto frame and trio's ``send_all`` per message and per client: most of the server's
CPU when one pose frame goes to a thousand clients. What ``websockets.broadcast()`` does
for asyncio, ``FrameWriter`` does here: the hub's publishing task frames each message
itself (a server's frames are unmasked: a 2..10 byte header and the payload) and writes
it to the socket with one non-blocking ``os.write``. Whatever the socket does not take
at once stays in ``backlog``, in order, for the connection's writer task to flush with
trio's ``send_all`` (which notices a client that stopped reading); while a backlog
exists, or trio-websocket itself is sending (a pong, a close), new frames queue behind
it, so bytes never interleave.

trio-websocket keeps the handshake, reading, ping/pong and the closing handshake. This
reaches into its connection for the byte stream and its send lock (``_stream``,
``_stream_lock``), a dependency on its internals that pyproject pins to a tested range
of versions; a stream without a socket (tests' memory streams) goes through the backlog
and ``send_all`` only.
"""

from __future__ import annotations

import os
import socket
import struct

import trio
import trio_websocket

_TEXT, _BINARY = 0x81, 0x82  # FIN + opcode


def frame(*parts: bytes, binary: bool = False) -> bytes:
    """One unfragmented, unmasked WebSocket frame (RFC 6455 section 5.2) whose payload is
    ``parts`` joined (one copy: a shared message and a client's own tail)."""
    first = _BINARY if binary else _TEXT
    n = sum(map(len, parts))
    if n < 126:
        head = bytes((first, n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return b"".join((head, *parts))


def _socket_fd(stream: trio.abc.Stream) -> int | None:
    """The file descriptor under ``stream`` (through wrappers that keep it in
    ``_stream``), or None."""
    for _ in range(4):
        sock = getattr(stream, "socket", None)
        if sock is not None:
            return sock.fileno()
        stream = getattr(stream, "_stream", None)
        if stream is None:
            return None
    return None


class FrameWriter:
    """Frames to one client: written at once when the socket takes them, else queued."""

    __slots__ = ("_ws", "_stream", "_lock", "_fd", "backlog")

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self._ws = ws
        self._stream = ws._stream
        self._lock = ws._stream_lock
        self._fd = _socket_fd(self._stream)
        self.backlog = bytearray()

    @property
    def busy(self) -> bool:
        """True while frames wait for the writer task (the client is slow or a
        trio-websocket send is under way)."""
        return bool(self.backlog) or self._lock.locked()

    def write(self, data: bytes) -> None:
        """Send ``data`` (whole frames) now as far as the socket takes it; keep the rest."""
        if self.backlog or self._lock.locked() or self._fd is None:
            self.backlog += data
            return
        if self._ws.closed is not None:
            return  # the closing handshake has begun: no more data frames
        try:
            sent = os.write(self._fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            sent = 0  # a broken socket: flush() reports it through trio
        if sent < len(data):
            self.backlog += memoryview(data)[sent:]

    def abort(self) -> None:
        """Make the coming close reset the connection (RST). A plain close queues its FIN
        behind the unsent bytes of a client that stopped reading, and the kernel keeps
        that buffer (up to megabytes) until the orphaned socket times out, minutes later;
        the client, meanwhile, cannot tell it was dropped."""
        if self._fd is None:
            return
        with socket.socket(fileno=os.dup(self._fd)) as sock:  # the same socket, our own fd
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    async def flush(self) -> None:
        """Send the backlog (raises trio's errors for a broken connection)."""
        async with self._lock:
            while self.backlog:
                data = bytes(self.backlog)
                self.backlog.clear()
                await self._stream.send_all(data)
