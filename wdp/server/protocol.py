"""The WebSocket message envelope and client-message parsing, per the API spec.

Every server message is ``{"type", "timestamp", "data", "metadata": {"client_id",
"sequence"[, "compression"]}}`` with ``timestamp`` ISO 8601 UTC with milliseconds and
``sequence`` increasing per connection. Client messages are parsed strictly: anything
that is not a JSON object of a known ``type`` with a ``data`` object of the right shape
is a ``ProtocolError`` with an error code from ``ERROR_CODES``, answered with an
``error`` message; the connection stays open.
"""

from __future__ import annotations

import datetime
from typing import Any

import attrs
import orjson

#: Error codes of the ``error`` message (``data.error_code``).
ERROR_CODES = {
    "INVALID_JSON": "the message is not valid JSON (or not UTF-8 text)",
    "INVALID_MESSAGE": "the message is not an object with a string 'type' and an object 'data'",
    "UNKNOWN_MESSAGE_TYPE": "the 'type' is not a client message type of the API",
    "MESSAGE_TOO_DEEP": "the message nests objects or arrays deeper than allowed",
    "SUBSCRIPTION_ERROR": "a subscription request is invalid (details name the field)",
    "FORBIDDEN": "the token does not allow this (an environment outside its list)",
    "RATE_LIMIT_EXCEEDED": "too many messages of a kind in the limit's window",
    "TOKEN_MISSING": "no token was given",
    "TOKEN_INVALID": "the token is malformed, forged, or its claims are not accepted",
    "TOKEN_EXPIRED": "the token has expired",
    "TOKEN_NOT_YET_VALID": "the token's nbf/iat lies in the future",
    "CONNECTION_ERROR": "the server is closing the connection (details say why)",
}

#: Client -> server message types.
CLIENT_TYPES = ("subscribe", "unsubscribe", "update_subscription", "heartbeat", "disconnect")

#: How deep client JSON may nest (objects/arrays); deeper is refused before parsing it.
MAX_DEPTH = 16


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.details = details or {}


@attrs.frozen(slots=True)
class ClientMessage:
    type: str
    data: dict[str, Any]


def iso_ms(timestamp_ns: int) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2025-01-07T10:30:00.123Z``."""
    seconds, ns = divmod(int(timestamp_ns), 1_000_000_000)
    dt = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns // 1_000_000:03d}Z"


def _depth_ok(text: str | bytes) -> bool:
    """True when brackets nest at most MAX_DEPTH deep (strings are skipped)."""
    depth = 0
    in_string = escaped = False
    for ch in text if isinstance(text, str) else text.decode("utf-8", "replace"):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """One client message, validated at the envelope level; ProtocolError otherwise."""
    if not _depth_ok(raw):
        raise ProtocolError("MESSAGE_TOO_DEEP", f"nesting deeper than {MAX_DEPTH} levels")
    try:
        message = orjson.loads(raw)  # refuses NaN/Infinity, lone surrogates, bad UTF-8
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("INVALID_JSON", f"not valid JSON: {str(exc)[:100]}") from None
    if not isinstance(message, dict):
        raise ProtocolError("INVALID_MESSAGE", "a message must be a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("INVALID_MESSAGE", "'type' must be a string")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            "UNKNOWN_MESSAGE_TYPE",
            f"unknown message type {kind[:64]!r}",
            {"supported": list(CLIENT_TYPES)},
        )
    data = message.get("data", {})
    if not isinstance(data, dict):
        raise ProtocolError("INVALID_MESSAGE", "'data' must be an object")
    return ClientMessage(kind, data)


def envelope(
    kind: str,
    timestamp_ns: int,
    data: dict,
    *,
    client_id: str,
    sequence: int,
    compression: str | None = None,
) -> dict:
    """A server message in the spec's envelope."""
    metadata: dict[str, Any] = {"client_id": client_id, "sequence": sequence}
    if compression:
        metadata["compression"] = compression
    return {"type": kind, "timestamp": iso_ms(timestamp_ns), "data": data, "metadata": metadata}


def error_data(error: ProtocolError) -> dict:
    return {"error_code": error.code, "message": str(error), "details": error.details}
