"""The one typed configuration tree: defaults, then a TOML file, then ``WDP_*``
environment variables, then command-line flags (each overriding the one before).

Environment variables name a field by its path with ``__`` between levels, upper case:
``WDP_SERVER__PORT=9000``, ``WDP_AUTH__AUDIENCE=wdp``. Values are parsed as TOML
values when they parse (numbers, booleans, arrays), else taken as strings.

Every mistake (unknown key, wrong type, value out of range) is a ``ConfigError`` with
one line naming the source, the field path and the reason.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs

from wdp.ids import IDENTIFIER_RULE, is_identifier


class ConfigError(ValueError):
    """A configuration that cannot be used: ``source: field.path: reason``."""


def _range(lo: float, hi: float):
    def check(instance, attribute, value) -> None:
        if not (isinstance(value, int | float) and math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{attribute.name}: must be {lo:g}..{hi:g}, got {value!r}")

    return check


def _one_of(*choices: str):
    def check(instance, attribute, value) -> None:
        if value not in choices:
            raise ValueError(
                f"{attribute.name}: must be one of {', '.join(choices)}, got {value!r}"
            )

    return check


def _http_url(instance, attribute, value) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{attribute.name}: must be a string, got {value!r}")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"{attribute.name}: must be empty or an http(s):// URL")


def _echo_path(instance, attribute, value) -> None:
    if not isinstance(value, str) or (value and not value.startswith("/")):
        raise ValueError(f"{attribute.name}: must be empty or a path starting with /")
    if value in ("/ws/v1", "/api/v1/stream/pose"):
        raise ValueError(f"{attribute.name}: must not be an API path")


@attrs.frozen(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = attrs.field(default=8000, validator=_range(0, 65535))
    #: Connections served at once, and from one IP address.
    max_connections: int = attrs.field(default=4096, validator=_range(1, 1_000_000))
    max_connections_per_ip: int = attrs.field(default=256, validator=_range(1, 1_000_000))
    #: Seconds a client has to complete the HTTP/WebSocket handshake.
    handshake_timeout_s: float = attrs.field(default=10.0, validator=_range(0.1, 300))
    #: Largest inbound WebSocket message, bytes (larger: close 1009).
    max_message_bytes: int = attrs.field(default=65536, validator=_range(1024, 16 * 2**20))
    #: Browser origins allowed to open a WebSocket; empty: any.
    allowed_origins: tuple[str, ...] = ()
    #: Seconds to finish sending to a client before it counts as stalled.
    send_timeout_s: float = attrs.field(default=5.0, validator=_range(0.1, 300))
    #: Seconds given to clients to close on shutdown.
    shutdown_grace_s: float = attrs.field(default=5.0, validator=_range(0, 300))
    #: Protocol conformance tests only: a WebSocket path that echoes every message, with
    #: no token (``wdp.server.echo``); empty: off. Never set it in production.
    test_echo_path: str = attrs.field(default="", validator=_echo_path)


@attrs.frozen(slots=True)
class AuthConfig:
    #: HS256 with a secret (>= 32 bytes) from ``secret_file``, or RS256/ES256 with a
    #: public key file of an external identity provider.
    algorithm: str = attrs.field(default="HS256", validator=_one_of("HS256", "RS256", "ES256"))
    #: File holding the HS256 secret; empty: the development secret (generated once,
    #: stored 0600 under ``state_dir``).
    secret_file: str = ""
    public_key_file: str = ""
    audience: str = "wdp"
    issuer: str = "wdp"
    max_lifetime_s: float = attrs.field(default=86400.0, validator=_range(1, 31 * 86400))
    leeway_s: float = attrs.field(default=10.0, validator=_range(0, 30))
    max_token_bytes: int = attrs.field(default=8192, validator=_range(256, 65536))


def _sensing_file(load):
    """A validator: empty, or a file that ``load`` reads (its one-line error else)."""

    def check(instance, attribute, value) -> None:
        if not isinstance(value, str):
            raise ValueError(f"{attribute.name}: must be a string (a file), got {value!r}")
        if not value:
            return
        if not Path(value).is_file():
            raise ValueError(f"{attribute.name}: {value}: no such file")
        try:
            load(value)
        except ValueError as exc:  # DetectorError, CalibrationError: one line
            raise ValueError(f"{attribute.name}: {exc}") from None

    return check


def _load_detector(path: str):
    from wdp.sensing.detector import Detector

    return Detector.load(path)


def _load_calibration(path: str):
    from wdp.sensing.calibration import load

    return load(path)


@attrs.frozen(slots=True)
class RouterConfig:
    #: A live source URL (``udp://HOST:PORT?format=...``), a recording
    #: (``replay:PATH``) or the simulator (``sim:SCENARIO``).
    source: str
    profile: str = ""
    #: The sensing tier's activity and fall detector for this router (a file of ``wdp
    #: train --labels``); empty: the one wdp ships for its hardware, if any.
    detector: str = attrs.field(default="", validator=_sensing_file(_load_detector))
    #: The quiet room's calibration for the motion tier (a file of ``wdp calibrate``);
    #: empty: learned from the first 30 s of the stream.
    calibration: str = attrs.field(default="", validator=_sensing_file(_load_calibration))


@attrs.frozen(slots=True)
class EnvironmentConfig:
    routers: dict[str, RouterConfig] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class RecordingConfig:
    directory: str = "recordings/sessions"
    max_bytes: int = attrs.field(default=512 * 2**20, validator=_range(2**20, 2**40))
    max_seconds: float = attrs.field(default=3600.0, validator=_range(1, 7 * 86400))
    retention_bytes: int = attrs.field(default=8 * 2**30, validator=_range(2**20, 2**50))
    retention_files: int = attrs.field(default=200, validator=_range(1, 1_000_000))


@attrs.frozen(slots=True)
class DetectionConfig:
    #: Person estimates below this confidence are not tracked or reported (the tracker's
    #: ``min_confidence``).
    confidence_threshold: float = attrs.field(default=0.3, validator=_range(0, 1))
    #: The pose model is trained on simulated CSI: on real hardware (live routers,
    #: recordings without simulator truth) it runs only when this is true, else those
    #: environments get the sensing tier whatever their layout (wdp/pipeline/tier.py).
    pose_on_real_hardware: bool = False


@attrs.frozen(slots=True)
class AnalyticsConfig:
    window_s: float = attrs.field(default=60.0, validator=_range(1, 86400))
    enable_fall_detection: bool = True
    #: URL that fall alerts are POSTed to (JSON, the ``activity_event`` message); empty: none.
    alert_webhook: str = attrs.field(default="", validator=_http_url)


@attrs.frozen(slots=True)
class Config:
    server: ServerConfig = ServerConfig()
    auth: AuthConfig = AuthConfig()
    recording: RecordingConfig = RecordingConfig()
    detection: DetectionConfig = DetectionConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    environments: dict[str, EnvironmentConfig] = attrs.field(factory=dict)
    #: Where wdp keeps its state (development secret).
    state_dir: str = ".wdp"

    def __attrs_post_init__(self) -> None:
        for name in self.environments:
            if not is_identifier(name):
                raise ValueError(f"environments: id {name!r} must be {IDENTIFIER_RULE}")


def _converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)

    def strict(kind: type):
        def hook(value: Any, _: type):
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                return float(value)
            if type(value) is not kind:
                raise TypeError(f"must be {kind.__name__}, got {type(value).__name__}")
            return value

        return hook

    for kind in (int, float, str, bool):
        conv.register_structure_hook(kind, strict(kind))
    return conv


_CONVERTER = _converter()


def _first_error(exc: BaseException, path: str = "") -> tuple[str, str]:
    """Walk cattrs' exception groups to the first leaf: (field path, reason)."""
    if isinstance(exc, cattrs.ClassValidationError | cattrs.IterableValidationError):
        sub = exc.exceptions[0]
        field = next(filter(None, map(_note_field, getattr(sub, "__notes__", []))), "")
        return _first_error(sub, f"{path}.{field}".strip(".") if field else path)
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return path, f"unknown field(s) {', '.join(sorted(exc.extra_fields))}"
    reason = str(exc)
    field, sep, rest = reason.partition(": ")
    if sep and is_identifier(field):  # a validator naming its attribute
        return f"{path}.{field}".strip("."), rest
    return path, reason


def _note_field(note: str) -> str:
    """The field a cattrs note names ("Structuring class Config @ attribute server",
    "Structuring mapping value @ key 'r1'")."""
    if "@ attribute " in note:
        return note.split("@ attribute ", 1)[1].strip()
    if "@ key " in note:
        return note.split("@ key ", 1)[1].strip().strip("'\"")
    return ""


def merge_trees(base: Mapping, over: Mapping) -> dict:
    """``over``'s values over ``base``'s, tables merged key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_trees(out[key], value)
        else:
            out[key] = value
    return out


def _env_overrides(environ: Mapping[str, str]) -> dict:
    tree: dict = {}
    for name, text in sorted(environ.items()):
        if not name.startswith("WDP_") or name == "WDP_CONFIG":
            continue
        path = [part.lower() for part in name[4:].split("__")]
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping | None = None,
) -> Config:
    """Defaults <- TOML file (``path`` or ``$WDP_CONFIG``) <- ``WDP_*`` <- ``overrides``."""
    environ = os.environ if environ is None else environ
    path = path or environ.get("WDP_CONFIG") or None
    data: dict = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    env = _env_overrides(environ)
    if env:
        source = f"{source} + WDP_* environment"
    return config_from_dict(merge_trees(merge_trees(data, env), overrides or {}), source)


def config_from_dict(data: Mapping, source: str) -> Config:
    """``data`` (a TOML-like tree) as a checked Config; ConfigError names ``source``."""
    try:
        return _CONVERTER.structure(data, Config)
    except Exception as exc:  # cattrs groups; attrs validators raise ValueError
        field, reason = _first_error(exc)
        raise ConfigError(f"{source}: {field or '(top level)'}: {reason}") from None


def config_to_dict(config: Config) -> dict:
    """The tree of plain JSON/TOML values (tuples as lists) that ``config_from_dict`` reads."""
    return _plain(_CONVERTER.unstructure(config))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
