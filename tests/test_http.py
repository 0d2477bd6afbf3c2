"""The HTTP front door over real sockets: routes, errors, limits, WebSocket hand-off."""

import functools

import orjson
import pytest
import trio
import trio_websocket

from wdp.server.http import ConnectionLimits, Response, Routes, serve_http


async def ok(request):
    return Response(200, orjson.dumps({"path": request.path, "query": request.query}))


async def echo_body(request):
    return Response(200, request.body, content_type="application/octet-stream")


async def echo_ws(ws_request, request):
    ws = await ws_request.accept()
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except trio_websocket.ConnectionClosed:
        pass


def routes():
    r = Routes(websocket_paths=frozenset({"/ws"}), websocket=echo_ws)
    r.add("GET", "/health", ok)
    r.add("POST", "/echo", echo_body)
    return r


async def start(nursery, *, per_ip=100, timeout=10.0, max_message=1024):
    limits = ConnectionLimits(max_total=100, max_per_ip=per_ip)
    port = await nursery.start(
        functools.partial(
            serve_http,
            routes(),
            host="127.0.0.1",
            port=0,
            limits=limits,
            handshake_timeout_s=timeout,
            max_message_bytes=max_message,
        )
    )
    return port, limits


async def raw_request(port, data: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        out = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                out += chunk
    return out


async def test_routes_and_errors():
    async with trio.open_nursery() as nursery:
        port, _ = await start(nursery)
        reply = await raw_request(port, b"GET /health?x=1&token=s HTTP/1.1\r\nHost: a\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200 ")
        assert orjson.loads(reply.split(b"\r\n\r\n", 1)[1]) == {
            "path": "/health",
            "query": {"x": "1", "token": "s"},
        }
        assert (await raw_request(port, b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n")).startswith(
            b"HTTP/1.1 404 "
        )
        reply = await raw_request(port, b"DELETE /health HTTP/1.1\r\nHost: a\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 405 ") and b"allow: GET" in reply
        assert (await raw_request(port, b"NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
        body = b"x" * 100
        reply = await raw_request(
            port, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + body
        )
        assert reply.endswith(body)
        big = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n" + b"y" * 70000
        assert (await raw_request(port, big)).startswith(b"HTTP/1.1 413 ")
        huge_head = b"GET /health HTTP/1.1\r\nHost: a\r\nX: " + b"z" * 20000 + b"\r\n\r\n"
        assert (await raw_request(port, huge_head)).startswith(b"HTTP/1.1 431 ")
        reply = await raw_request(port, b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 426 ")
        nursery.cancel_scope.cancel()


async def test_slow_handshake_is_cut_off():
    async with trio.open_nursery() as nursery:
        port, limits = await start(nursery, timeout=0.3)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"GET /health HTTP/1.1\r\nHost:")  # and then nothing
        with trio.fail_after(5):
            assert await stream.receive_some(100) == b""  # closed by the server
        await stream.aclose()
        await trio.sleep(0.05)
        assert limits.total == 0
        nursery.cancel_scope.cancel()


async def test_connection_cap_per_address():
    async with trio.open_nursery() as nursery:
        port, limits = await start(nursery, per_ip=2)
        idle = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(2)]
        await trio.sleep(0.05)
        assert limits.total == 2
        reply = await raw_request(port, b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 503 ") and limits.refused == 1
        for s in idle:
            await s.aclose()
        await trio.sleep(0.05)
        assert (await raw_request(port, b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")).startswith(
            b"HTTP/1.1 200 "
        )
        nursery.cancel_scope.cancel()


async def test_websocket_upgrade_is_handed_to_trio_websocket():
    async with trio.open_nursery() as nursery:
        port, _ = await start(nursery, max_message=1024)
        async with trio_websocket.open_websocket(
            "127.0.0.1", port, "/ws?token=t", use_ssl=False
        ) as ws:
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
            await ws.send_message("x" * 2000)  # over the cap
            with pytest.raises(trio_websocket.ConnectionClosed) as exc:
                with trio.fail_after(5):
                    await ws.get_message()
            assert exc.value.reason.code == 1009
        nursery.cancel_scope.cancel()
