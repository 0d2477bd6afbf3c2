"""``/api/v1/config`` on the running server: GET for any token (its environments only),
PATCH for admins, applied live and announced with ``config_update``."""

import orjson
import pytest
import trio
import trio_websocket
from app_server import app_config, http_get, http_request, running_server, token_for

UDP = "udp://127.0.0.1:0?format=intel5300"


def config_of(tmp_path):
    return app_config(
        tmp_path,
        server={"shutdown_grace_s": 0.5},
        environments={
            "lab": {"routers": {"r1": {"source": UDP}}},
            "hall": {"routers": {"r2": {"source": UDP}}},
        },
    )


async def patch(port, token, body):
    status, answer = await http_request(
        port,
        "PATCH",
        "/api/v1/config",
        body if isinstance(body, bytes) else orjson.dumps(body),
        headers=[("Authorization", f"Bearer {token}")],
    )
    return status, orjson.loads(answer)


async def next_of(ws, kind):
    with trio.fail_after(10):
        while True:
            msg = orjson.loads(await ws.get_message())
            if msg["type"] == kind:
                return msg


async def test_get_patch_and_config_update(tmp_path):
    config = config_of(tmp_path)
    admin = token_for(config, roles=("admin",), subject="admin_user")
    viewer = token_for(config, ["lab"])
    async with running_server(config) as port:
        assert (await http_get(port, "/api/v1/config"))[0] == 401
        status, body = await http_get(port, f"/api/v1/config?token={viewer}")
        seen = orjson.loads(body)
        assert status == 200 and list(seen["environments"]) == ["lab"]
        assert seen["detection"]["confidence_threshold"] == 0.3

        status, body = await patch(port, viewer, {"detection.confidence_threshold": 0.8})
        assert status == 403 and body["error"]["error_code"] == "FORBIDDEN"

        async with trio_websocket.open_websocket(
            "127.0.0.1", port, f"/ws/v1?token={viewer}&subscriptions=none", use_ssl=False
        ) as ws:
            await ws.send_message(
                orjson.dumps(
                    {
                        "type": "subscribe",
                        "data": {"subscriptions": [{"event_type": "config_update"}]},
                    }
                ).decode()
            )
            await next_of(ws, "ack")
            change = {"detection": {"confidence_threshold": 0.8}, "analytics.window_s": 30}
            status, body = await patch(port, admin, change)
            assert status == 200
            expected = {
                "changed_fields": ["detection.confidence_threshold", "analytics.window_s"],
                "new_values": {"detection.confidence_threshold": 0.8, "analytics.window_s": 30.0},
                "applied_by": "admin_user",
                "requires_restart": False,
            }
            assert body == expected
            assert (await next_of(ws, "config_update"))["data"] == expected

            # a change of nothing is answered but not announced: the next announcement
            # is the next real change
            assert (await patch(port, admin, {"analytics.window_s": 30}))[1]["changed_fields"] == []
            await patch(port, admin, {"analytics.enable_fall_detection": False})
            update = await next_of(ws, "config_update")
            assert update["data"]["changed_fields"] == ["analytics.enable_fall_detection"]

        status, body = await http_get(port, f"/api/v1/config?token={admin}")
        now = orjson.loads(body)
        assert now["detection"]["confidence_threshold"] == 0.8
        assert now["analytics"] == {
            **seen["analytics"],
            "window_s": 30.0,
            "enable_fall_detection": False,
        }
        assert set(now["environments"]) == {"lab", "hall"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 400, "INVALID_JSON"),
        (b"[]", 400, "INVALID_CONFIG"),
        ({"detection.confidence_threshold": -1}, 400, "INVALID_CONFIG"),
        ({"detection.nope": 1}, 400, "INVALID_CONFIG"),
        ({"server.port": 1, "detection.confidence_threshold": 0.9}, 409, "RESTART_REQUIRED"),
        (b'{"a":' * 10_000, 400, "INVALID_JSON"),  # too deep for the JSON parser
        (b" " * 100_000, 413, None),  # larger than a request body may be
    ],
)
async def test_bad_changes_leave_the_config_as_it_was(tmp_path, body, status, code):
    config = config_of(tmp_path)
    admin = token_for(config, roles=("admin",))
    async with running_server(config) as port:
        got, answer = await http_request(
            port,
            "PATCH",
            "/api/v1/config",
            body if isinstance(body, bytes) else orjson.dumps(body),
            headers=[("Authorization", f"Bearer {admin}")],
        )
        assert got == status
        if code is not None:
            assert orjson.loads(answer)["error"]["error_code"] == code
        _, now = await http_get(port, f"/api/v1/config?token={admin}")
        assert orjson.loads(now)["detection"]["confidence_threshold"] == 0.3
        # the server goes on serving
        assert (await http_get(port, "/health"))[0] == 200


async def test_allowed_origins_apply_to_the_next_connection(tmp_path):
    config = config_of(tmp_path)
    admin = token_for(config, roles=("admin",))
    target = f"/ws/v1?token={admin}"
    origin = [("Origin", "https://evil.example")]
    async with running_server(config) as port:
        async with trio_websocket.open_websocket(
            "127.0.0.1", port, target, use_ssl=False, extra_headers=origin
        ) as before:
            status, _ = await patch(
                port, admin, {"server.allowed_origins": ["https://dash.example"]}
            )
            assert status == 200
            with pytest.raises(trio_websocket.ConnectionRejected) as refused:
                async with trio_websocket.open_websocket(
                    "127.0.0.1", port, target, use_ssl=False, extra_headers=origin
                ):
                    pass
            assert refused.value.status_code == 403
            # the connection opened before the change stays open
            await before.send_message('{"type": "heartbeat", "data": {}}')
            assert (await next_of(before, "heartbeat"))["type"] == "heartbeat"
