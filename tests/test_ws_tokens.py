"""Hostile and unacceptable tokens over a real socket: every one is refused with the
documented error and close, and nothing else is sent first (events are published all
the while, so a leak before the refusal would show)."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import orjson
import pytest
import trio
import trio_websocket
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from ws_server import KEY, connect, environment_events, receive, server, system

from wdp.config import AuthConfig


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes):
    now = int(time.time())
    base = {
        "sub": "alice",
        "iat": now,
        "exp": now + 600,
        "aud": "wdp",
        "iss": "wdp",
        "roles": ["viewer"],
        "environments": ["room_001"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}  # ...: leave the claim out


def hs256(payload, key=KEY, header=None):
    return jwt.encode(payload, key, algorithm="HS256", headers=header)


def unsigned(payload, alg="none"):
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def hmac_forged(payload, secret: bytes):
    """An HS256 token signed with ``secret`` by hand (PyJWT refuses a PEM as an HMAC key)."""
    signing = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(json.dumps(payload).encode())
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(mac)}"


def tampered_signature(token):
    head, payload, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return f"{head}.{payload}.{flipped}"


def tampered_payload(token):
    head, _, sig = token.split(".")
    return f"{head}.{_b64(json.dumps(claims(environments='*')).encode())}.{sig}"


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RS256 = AuthConfig(algorithm="RS256", public_key_file="unused: the key is given")


async def publisher(hub):
    """Events of every kind for the token's environment, all the time."""
    while True:
        for event in environment_events("room_001").values():
            hub.publish(event)
        hub.publish(system())
        await trio.sleep(0.002)


async def refusal(port, query="", headers=()):
    """(every message received, the close code) of a connection that should be refused."""
    messages = []
    async with connect(port, query, extra_headers=list(headers)) as ws:
        with pytest.raises(trio_websocket.ConnectionClosed) as closed:
            while True:
                messages.append(await receive(ws))
    return messages, closed.value.reason.code


def assert_refused(messages, close, code, close_code):
    assert [m["type"] for m in messages] == ["error"], messages  # nothing before it
    [error] = messages
    assert error["data"]["error_code"] == code, error
    assert error["data"]["message"] and "\n" not in error["data"]["message"]
    assert error["metadata"]["sequence"] == 1
    assert close == close_code


def now():
    return int(time.time())


HS256_CASES = [
    ("no-token", lambda: "", "TOKEN_MISSING", 4001),
    ("empty-token", lambda: "token=", "TOKEN_MISSING", 4001),
    ("garbage", lambda: "token=garbage", "TOKEN_INVALID", 4001),
    ("three-dots", lambda: "token=a.b.c", "TOKEN_INVALID", 4001),
    ("alg-none", lambda: "token=" + unsigned(claims()), "TOKEN_INVALID", 4001),
    ("alg-None", lambda: "token=" + unsigned(claims(), "None"), "TOKEN_INVALID", 4001),
    (
        "alg-HS512",
        lambda: "token=" + jwt.encode(claims(), KEY * 2, algorithm="HS512"),
        "TOKEN_INVALID",
        4001,
    ),
    ("wrong-key", lambda: "token=" + hs256(claims(), b"w" * 40), "TOKEN_INVALID", 4001),
    (
        "tampered-signature",
        lambda: "token=" + tampered_signature(hs256(claims())),
        "TOKEN_INVALID",
        4001,
    ),
    (
        "tampered-payload",
        lambda: "token=" + tampered_payload(hs256(claims())),
        "TOKEN_INVALID",
        4001,
    ),
    (
        "expired",
        lambda: "token=" + hs256(claims(iat=now() - 700, exp=now() - 100)),
        "TOKEN_EXPIRED",
        4002,
    ),
    (
        "not-yet-valid-nbf",
        lambda: "token=" + hs256(claims(nbf=now() + 100)),
        "TOKEN_NOT_YET_VALID",
        4001,
    ),
    (
        "issued-in-the-future",
        lambda: "token=" + hs256(claims(iat=now() + 100, exp=now() + 700)),
        "TOKEN_NOT_YET_VALID",
        4001,
    ),
    ("missing-exp", lambda: "token=" + hs256(claims(exp=...)), "TOKEN_INVALID", 4001),
    ("missing-iat", lambda: "token=" + hs256(claims(iat=...)), "TOKEN_INVALID", 4001),
    ("missing-sub", lambda: "token=" + hs256(claims(sub=...)), "TOKEN_INVALID", 4001),
    ("sub-a-number", lambda: "token=" + hs256(claims(sub=7)), "TOKEN_INVALID", 4001),
    ("exp-a-string", lambda: "token=" + hs256(claims(exp=str(now() + 600))), "TOKEN_INVALID", 4001),
    ("exp-a-float", lambda: "token=" + hs256(claims(exp=now() + 600.5)), "TOKEN_INVALID", 4001),
    ("exp-a-bool", lambda: "token=" + hs256(claims(exp=True)), "TOKEN_INVALID", 4001),
    ("wrong-audience", lambda: "token=" + hs256(claims(aud="other")), "TOKEN_INVALID", 4001),
    ("missing-audience", lambda: "token=" + hs256(claims(aud=...)), "TOKEN_INVALID", 4001),
    ("wrong-issuer", lambda: "token=" + hs256(claims(iss="evil")), "TOKEN_INVALID", 4001),
    (
        "ten-year-lifetime",
        lambda: "token=" + hs256(claims(exp=now() + 10 * 365 * 86400)),
        "TOKEN_INVALID",
        4001,
    ),
    (
        "lifetime-a-second-too-long",
        lambda: "token=" + hs256(claims(exp=now() + 86401)),
        "TOKEN_INVALID",
        4001,
    ),
    ("unknown-role", lambda: "token=" + hs256(claims(roles=["root"])), "TOKEN_INVALID", 4001),
    (
        "environments-not-ids",
        lambda: "token=" + hs256(claims(environments=[{"$ne": 1}])),
        "TOKEN_INVALID",
        4001,
    ),
    (
        "environments-a-string",
        lambda: "token=" + hs256(claims(environments="room_001")),
        "TOKEN_INVALID",
        4001,
    ),
    (
        "over-max_token_bytes",
        lambda: "token=" + hs256(claims(pad="x" * 9000)),
        "TOKEN_INVALID",
        4001,
    ),
]


@pytest.mark.parametrize(
    "make_query, code, close_code", [c[1:] for c in HS256_CASES], ids=[c[0] for c in HS256_CASES]
)
async def test_refused_tokens_get_one_error_then_the_close(make_query, code, close_code):
    async with server() as (port, ctx), trio.open_nursery() as nursery:
        nursery.start_soon(publisher, ctx.hub)
        messages, close = await refusal(port, make_query())
        assert_refused(messages, close, code, close_code)
        assert not ctx.hub.outboxes  # never registered for events
        nursery.cancel_scope.cancel()


async def test_accepted_controls():
    """The same claims, made right, are accepted (so the refusals above are about what
    each case changed): within the leeway, exactly max lifetime, header or query."""
    async with server() as (port, ctx):
        for token in (
            hs256(claims()),
            hs256(claims(iat=now() - 600, exp=now() - 5)),  # expired 5 s ago: leeway 10 s
            hs256(claims(nbf=now() + 5)),
            hs256(claims(exp=now() + 86400)),
            hs256(claims(environments="*", roles="admin")),
        ):
            async with connect(port, f"token={token}") as ws:
                assert (await receive(ws))["type"] == "connection_status"
        token = hs256(claims())
        both = [(b"authorization", f"Bearer {token}".encode())]
        async with connect(port, f"token={token}", extra_headers=both) as ws:
            assert (await receive(ws))["type"] == "connection_status"


async def test_two_different_tokens_header_and_query():
    async with server() as (port, ctx), trio.open_nursery() as nursery:
        nursery.start_soon(publisher, ctx.hub)
        mine, other = hs256(claims()), hs256(claims(sub="bob"))
        for query, headers in [
            (f"token={mine}", [(b"authorization", f"Bearer {other}".encode())]),
            ("", [(b"authorization", f"Basic {_b64(b'alice:pw')}".encode())]),
            ("", [(b"authorization", b"Bearer")]),
            ("", [(b"authorization", f"Bearer {tampered_signature(mine)}".encode())]),
        ]:
            messages, close = await refusal(port, query, headers)
            assert_refused(messages, close, "TOKEN_INVALID", 4001)
        nursery.cancel_scope.cancel()


async def test_a_100_kB_token_is_refused_before_the_upgrade():
    """A 100 kB token cannot fit the 16 KiB request head: HTTP 431, no WebSocket at all."""
    async with server() as (port, ctx), trio.open_nursery() as nursery:
        nursery.start_soon(publisher, ctx.hub)
        token = hs256(claims(pad="x" * 100_000))
        for query, headers in [
            (f"token={token}", []),
            ("", [(b"authorization", f"Bearer {token}".encode())]),
        ]:
            with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
                async with connect(port, query, extra_headers=headers):
                    pass
            assert rejected.value.status_code == 431
        assert not ctx.hub.outboxes
        nursery.cancel_scope.cancel()


async def test_rs256_server_refuses_hs256_forged_with_its_public_key():
    async with server(auth=RS256, key=RSA_PUBLIC_PEM) as (port, ctx):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(publisher, ctx.hub)
            good = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
            async with connect(port, f"token={good}") as ws:
                assert (await receive(ws))["type"] == "connection_status"
            for forged in (
                hmac_forged(claims(environments="*", roles=["admin"]), RSA_PUBLIC_PEM),
                hmac_forged(claims(), RSA_PUBLIC_PEM.strip()),
                jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256"),  # another key
                tampered_payload(good),
                unsigned(claims()),
                hs256(claims()),
            ):
                messages, close = await refusal(port, f"token={forged}")
                assert_refused(messages, close, "TOKEN_INVALID", 4001)
            nursery.cancel_scope.cancel()


async def test_refusal_error_is_the_envelope_of_the_spec():
    async with server() as (port, ctx):
        messages, close = await refusal(port, "client_id=probe&token=nope")
        [error] = messages
        assert error["metadata"] == {"client_id": "probe", "sequence": 1}
        assert set(error) == {"type", "timestamp", "data", "metadata"}
        assert error["data"]["details"] == {}
        assert b"nope" not in orjson.dumps(error)  # the token is not echoed
