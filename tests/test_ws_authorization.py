"""A token limited to one environment receives nothing of another, whatever it asks:
WebSocket requests of every form against a server whose Hub the test feeds, REST and
WebSocket against the whole ``wdp serve`` with two live environments."""

import functools
from pathlib import Path

import orjson
import pytest
import trio
import trio_websocket
from app_server import app_config, http_get, http_request, running_server, token_for
from ws_server import (
    config_update,
    environment_events,
    open_client,
    receive,
    receive_all,
    send,
    server,
    subscribe,
    token,
)

from wdp.app import serve

ENV_TYPES = tuple(environment_events("room_001"))
MINE, OTHER = "room_001", "room_002"


def publish_both(hub):
    """Every environment event of the other environment, then of mine, then a marker."""
    for env in (OTHER, MINE):
        for event in environment_events(env).values():
            hub.publish(event)
    hub.publish(config_update())


def assert_only_mine(messages):
    for message in messages:
        assert OTHER.encode() not in orjson.dumps(message), message
        if "environment_id" in message.get("data", {}):
            assert message["data"]["environment_id"] == MINE


async def _everything_of_mine(ws, hub):
    publish_both(hub)
    got = await receive_all(ws, {*ENV_TYPES, "config_update"})
    assert_only_mine(got)
    return got


@pytest.mark.parametrize("path", ["/ws/v1", "/api/v1/stream/pose"])
async def test_omitted_filters_mean_the_tokens_environments(path):
    async with server() as (port, ctx):
        # the default subscriptions (pose_data of the token's environments)
        async with open_client(port, f"token={token([MINE])}", path=path) as ws:
            for env in (OTHER, MINE):
                ctx.hub.publish(environment_events(env)["pose_data"])
            frame = await receive(ws)
            assert frame["type"] == "pose_data" and frame["data"]["environment_id"] == MINE
        # every event type subscribed without an environment_id filter
        async with open_client(port, f"token={token([MINE])}", path=path) as ws:
            await subscribe(
                ws, *({"event_type": t} for t in ENV_TYPES), {"event_type": "config_update"}
            )
            got = await _everything_of_mine(ws, ctx.hub)
            assert {m["type"] for m in got} == {*ENV_TYPES, "config_update"}


@pytest.mark.parametrize(
    "environment_id, code",
    [
        (OTHER, "FORBIDDEN"),
        ([MINE, OTHER], "FORBIDDEN"),
        ("*", "SUBSCRIPTION_ERROR"),  # not an id: "every environment" is only for tokens
        ("", "SUBSCRIPTION_ERROR"),
        ([MINE, "*"], "SUBSCRIPTION_ERROR"),
    ],
)
async def test_asking_for_another_environment_is_refused(environment_id, code):
    async with server() as (port, ctx):
        async with open_client(port, f"token={token([MINE])}") as ws:
            for event_type in ENV_TYPES:
                request = {"event_type": event_type, "filters": {"environment_id": environment_id}}
                await send(ws, {"type": "subscribe", "data": {"subscriptions": [request]}})
                error = await receive(ws)
                assert error["data"]["error_code"] == code, (event_type, error)
            # nothing was subscribed: only what the (default) subscriptions allow arrives
            await subscribe(
                ws, {"event_type": "config_update"}, *({"event_type": t} for t in ENV_TYPES)
            )
            await _everything_of_mine(ws, ctx.hub)


async def test_update_subscription_cannot_widen_to_another_environment():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token([MINE])}", path="/api/v1/stream/pose") as ws:
            active = await subscribe(
                ws,
                *({"event_type": t, "filters": {"environment_id": MINE}} for t in ENV_TYPES),
                {"event_type": "config_update"},
            )
            for i, sub in enumerate(active[:-1]):  # 1 subscribe + 7 updates: within 10/min
                for env in [(OTHER, [MINE, OTHER])[i % 2]]:
                    update = {
                        "subscription_id": sub["subscription_id"],
                        "filters": {"environment_id": env},
                    }
                    await send(ws, {"type": "update_subscription", "data": update})
                    error = await receive(ws)
                    assert error["data"]["error_code"] == "FORBIDDEN"
                    assert error["data"]["details"]["field"] == "environment_id"
            await _everything_of_mine(ws, ctx.hub)


async def test_a_token_without_environments_gets_no_environment_events():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token([])}") as ws:
            await subscribe(
                ws, *({"event_type": t} for t in ENV_TYPES), {"event_type": "config_update"}
            )
            for env in (OTHER, MINE):
                for event in environment_events(env).values():
                    ctx.hub.publish(event)
            ctx.hub.publish(config_update())
            assert (await receive(ws))["type"] == "config_update"  # and nothing before it


async def test_a_wildcard_token_sees_both():
    async with server() as (port, ctx):
        async with open_client(port, f"token={token('*')}") as ws:
            await subscribe(ws, {"event_type": "tracking_update"}, {"event_type": "config_update"})
            publish_both(ctx.hub)
            got = await receive_all(ws, {"config_update"})
            assert [m["data"]["environment_id"] for m in got[:-1]] == [OTHER, MINE]


# --- the whole server ------------------------------------------------------------------

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"


def two_rooms(tmp_path):
    def source(name):
        return {"routers": {"r1": {"source": f"replay:{RECORDINGS / name}"}}}

    return app_config(
        tmp_path,
        environments={
            MINE: source("one_walker_intel5300.h5"),
            OTHER: source("two_crossing_nexmon.h5"),
        },
    )


async def _wait_for_latest_pose(port, admin, env):
    with trio.fail_after(30):
        while True:
            status, body = await http_get(
                port, f"/api/v1/pose/latest?environment_id={env}&token={admin}"
            )
            assert status == 200
            if orjson.loads(body)["data"] is not None:
                return
            await trio.sleep(0.05)


async def test_rest_shows_only_the_tokens_environment(tmp_path):
    config = two_rooms(tmp_path)
    mine, admin = token_for(config, [MINE]), token_for(config, "*", roles=("admin",))
    async with running_server(config) as port:
        await _wait_for_latest_pose(port, admin, OTHER)  # the other room has data to leak
        status, body = await http_get(port, f"/api/v1/status?token={mine}")
        assert status == 200 and list(orjson.loads(body)["environments"]) == [MINE]
        assert OTHER.encode() not in body
        status, body = await http_get(port, f"/api/v1/environments?token={mine}")
        assert [e["environment_id"] for e in orjson.loads(body)["environments"]] == [MINE]
        assert OTHER.encode() not in body
        status, body = await http_get(port, f"/api/v1/config?token={mine}")
        assert status == 200 and list(orjson.loads(body)["environments"]) == [MINE]
        assert OTHER.encode() not in body
        # the other room's latest pose: the same 404 as a room that does not exist
        other = await http_get(port, f"/api/v1/pose/latest?environment_id={OTHER}&token={mine}")
        missing = await http_get(port, f"/api/v1/pose/latest?environment_id=room_999&token={mine}")
        assert other[0] == 404 and other == missing
        # the header instead of the query changes nothing
        auth = [("Authorization", f"Bearer {mine}")]
        status, body = await http_request(port, "GET", "/api/v1/environments", headers=auth)
        assert OTHER.encode() not in body and MINE.encode() in body
        # a viewer cannot change the configuration (to widen anything)
        status, body = await http_request(
            port,
            "PATCH",
            f"/api/v1/config?token={mine}",
            b'{"detection.confidence_threshold": 0.5}',
        )
        assert status == 403
        # the admin token sees both (the filter above is the token's, not a broken route)
        status, body = await http_get(port, f"/api/v1/environments?token={admin}")
        assert {e["environment_id"] for e in orjson.loads(body)["environments"]} == {MINE, OTHER}


async def test_websocket_on_the_whole_server_streams_only_the_tokens_environment(tmp_path):
    config = two_rooms(tmp_path)
    mine, everyone = token_for(config, [MINE]), token_for(config, "*")

    def open_ws(path, token):
        return trio_websocket.open_websocket(
            "127.0.0.1", port, f"{path}?token={token}", use_ssl=False
        )

    async with running_server(config) as port:
        async with (
            open_ws("/ws/v1", mine) as ws,
            open_ws("/api/v1/stream/pose", mine) as alias,
            open_ws("/ws/v1", everyone) as all_,
        ):
            seen = {MINE: 0, OTHER: 0}
            with trio.fail_after(30):
                while min(seen.values()) < 2:  # the other room streams all along
                    message = orjson.loads(await all_.get_message())
                    if message["type"] == "pose_data":
                        seen[message["data"]["environment_id"]] += 1
                for client in (ws, alias):
                    got = []
                    while len([m for m in got if m["type"] == "pose_data"]) < 3:
                        got.append(orjson.loads(await client.get_message()))
                    assert_only_mine(got)


async def test_system_events_name_no_other_environment(tmp_path):
    config = two_rooms(tmp_path)
    mine = token_for(config, [MINE])
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(functools.partial(serve, config, stop=stop))
        async with trio_websocket.open_websocket(
            "127.0.0.1", port, f"/ws/v1?token={mine}", use_ssl=False
        ) as ws:
            assert orjson.loads(await ws.get_message())["type"] == "connection_status"
            stop.set()  # system_stopping goes to the default system_event subscription
            got = []
            with trio.fail_after(30), pytest.raises(trio_websocket.ConnectionClosed):
                while True:
                    got.append(orjson.loads(await ws.get_message()))
    assert any(m["type"] == "system_event" for m in got)
    assert_only_mine(got)
