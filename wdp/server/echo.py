"""A WebSocket echo route for protocol conformance tests only (``server.test_echo_path``).

The Autobahn|Testsuite fuzzing client checks a server's WebSocket layer by having it echo
what it receives. This route is that layer exactly as ``wdp serve`` runs it (the same
front door, handshake timeout, message size cap and trio-websocket), with no token and
no API: it must never be enabled in production, which is why it is off unless the
configuration names a path for it.
"""

from __future__ import annotations

import trio_websocket

from wdp.server.http import Request


async def serve_echo(ws_request: trio_websocket.WebSocketRequest, request: Request) -> None:
    ws = await ws_request.accept()
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except trio_websocket.ConnectionClosed:
        pass
