"""The live UDP capture task over a real loopback socket, with trio's virtual clock."""

import socket

import numpy as np
import trio

from wdp.capture.frame import CsiFrame
from wdp.capture.liveness import RouterDisconnected, RouterReconnected
from wdp.capture.packets import PacketError, PacketParser
from wdp.capture.source import UdpSource
from wdp.capture.udp import Captured, run_udp_capture


class CountingParser(PacketParser):
    """A one-byte-per-subcarrier toy format: enough to exercise the task, not a real format."""

    format = "toy"
    hw_format = "sim"
    max_datagram = 64

    def _parse(self, data, host_time_ns):
        if data[:1] != b"T":
            raise PacketError("foreign", "no T")
        if len(data) < 2:
            raise PacketError("short", "empty")
        values = np.frombuffer(data[1:], dtype=np.int8).astype(np.float32)
        return [
            CsiFrame(
                host_time_ns,
                host_time_ns,
                self.router_id,
                self.environment_id,
                self.stats.packets,
                values.reshape(1, 1, -1),
                np.arange(values.size),
                np.array([np.nan]),
                float("nan"),
                float("nan"),
                float("nan"),
                "sim",
            )
        ]


async def test_capture_counts_bad_packets_and_reports_silence(autojump_clock):
    source = UdpSource("127.0.0.1", 0, "toy", "r1", "room", silence_timeout_s=2.0)
    parser = CountingParser("r1", "room")
    send, receive = trio.open_memory_channel(100)
    items = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            host, port = await nursery.start(run_udp_capture, source, parser, send)
            out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for payload in [b"T\x01\x02\x03", b"X123", b"T", b"T" + b"\x00" * 100, b"T\x05"]:
                out.sendto(payload, (host, port))
            # silence: the disconnect, then two retries that re-open the socket
            while sum(isinstance(i, RouterDisconnected) for i in items) < 3:
                items.append(await receive.receive())
            out.sendto(b"T\x07\x08", (host, port))
            while not isinstance(items[-1], Captured) or items[-1].frames[-1].sequence != 6:
                items.append(await receive.receive())
            nursery.cancel_scope.cancel()
        out.close()
    datagrams = [d for i in items if isinstance(i, Captured) for d, _ in i.datagrams]
    assert datagrams[:5] == [b"T\x01\x02\x03", b"X123", b"T", b"T" + b"\x00" * 100, b"T\x05"]
    frames = [f for i in items if isinstance(i, Captured) for f in i.frames]
    assert [f.csi.real.astype(int).ravel().tolist() for f in frames] == [[1, 2, 3], [5], [7, 8]]
    assert parser.stats.packets == 6 and parser.stats.frames == 3
    assert dict(parser.stats.skipped) == {"foreign": 1, "short": 1, "oversized": 1}
    events = [i for i in items if not isinstance(i, Captured)]
    assert [type(e) for e in events] == [RouterDisconnected] * 3 + [RouterReconnected]
    assert [e.reconnect_attempts for e in events] == [0, 1, 2, 2]
    assert events[0].silent_for_s == 2.0
