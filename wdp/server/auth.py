"""Who may connect and what they may see: JWT verification with pinned algorithms.

Checks, in order, cheapest first, so a hostile token costs as little as possible:
the token's size (before any decoding), its header's ``alg`` (must be the configured
one: ``none`` and an HS256 token forged with an RSA public key are refused), the
signature, then the claims: ``exp``, ``iat`` and ``sub`` required (``exp``/``iat`` as
integers), ``nbf`` honoured, ``aud`` and ``iss`` equal to the configured ones, a
lifetime (``exp - iat``) no longer than ``max_lifetime_s``, leeway at most 30 s.

Claims wdp reads: ``roles`` (``viewer``, ``admin``; default viewer) and
``environments`` (a list of environment ids, or ``"*"`` for all; default none).

A token can come from ``?token=`` or ``Authorization: Bearer``; both at once must be
the same token. Tokens are secrets: nothing here logs one, and ``redact`` removes them
from URLs before a URL is logged.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import jwt

from wdp.config import AuthConfig
from wdp.ids import is_identifier

ROLES = ("viewer", "admin")
#: Secrets for HS256 must be at least this long (RFC 7518 section 3.2).
MIN_SECRET_BYTES = 32
DEV_SECRET_FILE = "dev-secret"

#: Error codes sent in the ``error`` message before the connection is closed.
TOKEN_MISSING = "TOKEN_MISSING"
TOKEN_INVALID = "TOKEN_INVALID"
TOKEN_EXPIRED = "TOKEN_EXPIRED"
TOKEN_NOT_YET_VALID = "TOKEN_NOT_YET_VALID"

#: WebSocket close codes for authentication failures (browsers cannot see an HTTP
#: status of a refused upgrade, so the upgrade is accepted and then closed with these).
CLOSE_UNAUTHORIZED = 4001
CLOSE_TOKEN_EXPIRED = 4002


class AuthError(Exception):
    """A refused token: ``code`` for the error message, ``close_code`` for the close."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.close_code = CLOSE_TOKEN_EXPIRED if code == TOKEN_EXPIRED else CLOSE_UNAUTHORIZED


@attrs.frozen(slots=True)
class Principal:
    """A verified token's subject and what it may do."""

    subject: str
    roles: frozenset[str]
    environments: frozenset[str] | None  # None: every environment ("*")
    expires_at: float  # Unix seconds

    def may_see(self, environment_id: str) -> bool:
        return self.environments is None or environment_id in self.environments

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def _read_key(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def development_secret(state_dir: str | Path) -> bytes:
    """The development HS256 secret: generated once, kept 0600 in ``state_dir``."""
    path = Path(state_dir) / DEV_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    os.chmod(path, 0o600)
    return path.read_bytes().strip()


@attrs.define(slots=True)
class Verifier:
    """Verifies tokens against one configured key; ``clock`` is injectable for tests."""

    config: AuthConfig
    key: bytes | str
    clock: Callable[[], float] = time.time

    @classmethod
    def from_config(cls, config: AuthConfig, state_dir: str | Path) -> Verifier:
        if config.algorithm == "HS256":
            if config.secret_file:
                key = _read_key(config.secret_file, "secret file").strip()
            else:
                key = development_secret(state_dir)
            if len(key) < MIN_SECRET_BYTES:
                raise ValueError(f"the HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
        else:
            if not config.public_key_file:
                raise ValueError(f"{config.algorithm} needs auth.public_key_file")
            key = _read_key(config.public_key_file, "public key file")
        return cls(config, key)

    def verify(self, token: str | None) -> Principal:
        """The token's principal, or AuthError with a code and a safe message."""
        cfg = self.config
        if not token:
            raise AuthError(TOKEN_MISSING, "a token is required (?token= or Authorization)")
        if len(token) > cfg.max_token_bytes:
            raise AuthError(TOKEN_INVALID, f"token longer than {cfg.max_token_bytes} bytes")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError(TOKEN_INVALID, "malformed token") from None
        if header.get("alg") != cfg.algorithm:
            raise AuthError(TOKEN_INVALID, f"token algorithm must be {cfg.algorithm}")
        now = self.clock()
        try:
            claims = self._decode(token, now)
        except jwt.ExpiredSignatureError:
            raise AuthError(TOKEN_EXPIRED, "token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError(TOKEN_NOT_YET_VALID, "token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise AuthError(TOKEN_INVALID, "token audience is not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthError(TOKEN_INVALID, "token issuer is not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(TOKEN_INVALID, f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthError(TOKEN_INVALID, "token signature or claims are invalid") from None
        return self._principal(claims)

    def _decode(self, token: str, now: float) -> dict:
        cfg = self.config
        claims = jwt.decode(
            token,
            self.key,
            algorithms=[cfg.algorithm],
            audience=cfg.audience,
            issuer=cfg.issuer,
            options={
                "require": ["exp", "iat", "sub"],
                "verify_exp": False,  # checked below against the injectable clock
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        leeway = min(cfg.leeway_s, 30.0)
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if value is not None and (type(value) is not int):
                raise jwt.InvalidTokenError(f"{name} must be an integer")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise jwt.InvalidTokenError("sub must be a non-empty string")
        if claims["exp"] <= now - leeway:
            raise jwt.ExpiredSignatureError
        if claims.get("nbf", claims["iat"]) > now + leeway:
            raise jwt.ImmatureSignatureError
        if claims["exp"] - claims["iat"] > cfg.max_lifetime_s:
            raise jwt.InvalidTokenError("lifetime too long")
        return claims

    def _principal(self, claims: dict) -> Principal:
        roles = claims.get("roles", ["viewer"])
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(r in ROLES for r in roles):
            raise AuthError(TOKEN_INVALID, f"token roles must be among {', '.join(ROLES)}")
        envs = claims.get("environments", [])
        if envs == "*":
            allowed = None
        elif isinstance(envs, list) and all(is_identifier(e) for e in envs):
            allowed = frozenset(envs)
        else:
            raise AuthError(TOKEN_INVALID, "token environments must be a list of ids or '*'")
        return Principal(claims["sub"], frozenset(roles), allowed, float(claims["exp"]))


def mint(
    config: AuthConfig,
    key: bytes | str,
    *,
    subject: str,
    roles: list[str],
    environments: list[str] | str,
    ttl_s: float,
    now: float | None = None,
) -> str:
    """A signed token (``wdp token``). ``key`` is the HS256 secret or a private key."""
    if not subject:
        raise ValueError("the token needs a subject")
    if any(r not in ROLES for r in roles):
        raise ValueError(f"roles must be among {', '.join(ROLES)}")
    if not (0 < ttl_s <= config.max_lifetime_s):
        raise ValueError(f"ttl must be within 0..{config.max_lifetime_s:g} s")
    iat = int(time.time() if now is None else now)
    claims = {
        "sub": subject,
        "iat": iat,
        "exp": iat + int(ttl_s),
        "aud": config.audience,
        "iss": config.issuer,
        "roles": list(roles),
        "environments": environments,
    }
    return jwt.encode(claims, key, algorithm=config.algorithm)


def token_from_request(query_token: str | None, authorization: str | None) -> str | None:
    """The one token of a request; AuthError when header and query disagree."""
    header_token = None
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError(TOKEN_INVALID, "Authorization must be 'Bearer <token>'")
        header_token = value.strip()
    if header_token and query_token and header_token != query_token:
        raise AuthError(TOKEN_INVALID, "two different tokens in one request")
    return header_token or query_token


_TOKEN_IN_URL = re.compile(r"(?i)([?&](?:token|access_token)=)[^&#\s]*")


def redact(url: str) -> str:
    """A URL safe to log: token parameters replaced by ``REDACTED``."""
    return _TOKEN_IN_URL.sub(r"\1REDACTED", url)
