"""Tokens: every hostile or broken token is refused with a clear code; good ones pass."""

import base64
import json
import os
import stat

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wdp.config import AuthConfig
from wdp.server.auth import (
    CLOSE_TOKEN_EXPIRED,
    CLOSE_UNAUTHORIZED,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_MISSING,
    TOKEN_NOT_YET_VALID,
    AuthError,
    Verifier,
    development_secret,
    mint,
    redact,
    token_from_request,
)

NOW = 1_800_000_000
SECRET = b"s" * 40
CFG = AuthConfig()


def verifier(cfg=CFG, key=SECRET):
    return Verifier(cfg, key, clock=lambda: NOW)


def claims(**over):
    base = {
        "sub": "alice",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "aud": "wdp",
        "iss": "wdp",
        "roles": ["viewer"],
        "environments": ["room_001"],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def token(key=SECRET, alg="HS256", **over):
    return jwt.encode(claims(**over), key, algorithm=alg)


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_good_token_gives_its_principal():
    p = verifier().verify(token())
    assert p.subject == "alice" and p.roles == {"viewer"} and not p.is_admin
    assert p.may_see("room_001") and not p.may_see("room_002")
    assert verifier().verify(token(environments="*", roles=["admin"])).may_see("anything")


def test_minted_token_verifies():
    t = mint(CFG, SECRET, subject="bob", roles=["admin"], environments=["a"], ttl_s=60, now=NOW)
    p = verifier().verify(t)
    assert p.subject == "bob" and p.is_admin and p.expires_at == NOW + 60
    with pytest.raises(ValueError):
        mint(CFG, SECRET, subject="bob", roles=["root"], environments=[], ttl_s=60)
    with pytest.raises(ValueError):
        mint(CFG, SECRET, subject="bob", roles=[], environments=[], ttl_s=10 * 365 * 86400)


def _rsa_pair():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem_pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pem_pub


HEADER_NONE = b64({"alg": "none", "typ": "JWT"})


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda: None, TOKEN_MISSING),
        (lambda: "", TOKEN_MISSING),
        (lambda: "garbage", TOKEN_INVALID),
        (lambda: HEADER_NONE + "." + b64(claims()) + ".", TOKEN_INVALID),
        (lambda: token()[:-3] + ("AAA" if not token().endswith("AAA") else "BBB"), TOKEN_INVALID),
        (lambda: token(key=b"x" * 40), TOKEN_INVALID),
        (lambda: token(exp=NOW - 100), TOKEN_EXPIRED),
        (lambda: token(nbf=NOW + 600), TOKEN_NOT_YET_VALID),
        (lambda: token(iat=NOW + 600, exp=NOW + 1200), TOKEN_NOT_YET_VALID),
        (lambda: token(exp=None), TOKEN_INVALID),
        (lambda: token(iat=None), TOKEN_INVALID),
        (lambda: token(sub=None), TOKEN_INVALID),
        (lambda: token(exp=str(NOW + 3600)), TOKEN_INVALID),
        (lambda: token(exp=NOW + 3600.5), TOKEN_INVALID),
        (lambda: token(aud="other"), TOKEN_INVALID),
        (lambda: token(aud=None), TOKEN_INVALID),
        (lambda: token(iss="evil"), TOKEN_INVALID),
        (lambda: token(exp=NOW + 10 * 365 * 86400), TOKEN_INVALID),
        (lambda: token(pad="x" * 100_000), TOKEN_INVALID),
        (lambda: token(roles=["root"]), TOKEN_INVALID),
        (lambda: token(environments="room_001"), TOKEN_INVALID),
        (lambda: token(environments=["../etc"]), TOKEN_INVALID),
        (lambda: token(sub=""), TOKEN_INVALID),
        (lambda: token(alg="HS512", key=b"k" * 64), TOKEN_INVALID),
    ],
)
def test_bad_tokens_are_refused_with_their_code(make, code):
    with pytest.raises(AuthError) as exc:
        verifier().verify(make())
    assert exc.value.code == code
    assert exc.value.close_code == (
        CLOSE_TOKEN_EXPIRED if code == TOKEN_EXPIRED else CLOSE_UNAUTHORIZED
    )
    assert "\n" not in str(exc.value)


def test_leeway_is_capped_at_30_seconds():
    cfg = AuthConfig(leeway_s=30)
    assert verifier(cfg).verify(token(exp=NOW - 20)).subject == "alice"
    with pytest.raises(AuthError):
        verifier(cfg).verify(token(exp=NOW - 31))


def test_rs256_refuses_hs256_forged_with_the_public_key():
    private, public = _rsa_pair()
    cfg = AuthConfig(algorithm="RS256")
    v = verifier(cfg, public)
    assert v.verify(token(key=private, alg="RS256")).subject == "alice"
    # the classic confusion: HMAC keyed with the public key's bytes
    header = b64({"alg": "HS256", "typ": "JWT"})
    import hashlib
    import hmac

    body = b64(claims())
    sig = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    with pytest.raises(AuthError) as exc:
        v.verify(forged)
    assert exc.value.code == TOKEN_INVALID


def test_header_and_query_tokens():
    assert token_from_request("abc", None) == "abc"
    assert token_from_request(None, "Bearer abc") == "abc"
    assert token_from_request("abc", "Bearer abc") == "abc"
    with pytest.raises(AuthError, match="two different tokens"):
        token_from_request("abc", "Bearer xyz")
    with pytest.raises(AuthError):
        token_from_request(None, "Basic dXNlcjpwYXNz")


def test_development_secret_is_made_once_and_private(tmp_path):
    a = development_secret(tmp_path / "state")
    b = development_secret(tmp_path / "state")
    assert a == b and len(a) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "state" / "dev-secret").st_mode)
    assert mode == 0o600


def test_verifier_from_config_checks_keys(tmp_path):
    short = tmp_path / "short"
    short.write_bytes(b"too short")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Verifier.from_config(AuthConfig(secret_file=str(short)), tmp_path)
    with pytest.raises(ValueError, match="cannot read"):
        Verifier.from_config(AuthConfig(secret_file=str(tmp_path / "nope")), tmp_path)
    with pytest.raises(ValueError, match="public_key_file"):
        Verifier.from_config(AuthConfig(algorithm="RS256"), tmp_path)
    assert Verifier.from_config(AuthConfig(), tmp_path).key == development_secret(tmp_path)


def test_redact_hides_tokens_in_urls():
    assert redact("/ws/v1?token=abc.def&client_id=x") == "/ws/v1?token=REDACTED&client_id=x"
    assert redact("/x?a=1&access_token=zzz") == "/x?a=1&access_token=REDACTED"
