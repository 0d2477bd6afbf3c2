"""Changing a running server's configuration: ``PATCH /api/v1/config``.

A change names fields by their dotted path (``detection.confidence_threshold``), either
as flat keys or as nested objects (``{"detection": {"confidence_threshold": 0.8}}``); both
may be mixed. Only the fields in ``LIVE_FIELDS`` can change while the server runs, and a
change is applied completely or not at all:

- an unknown field, or a value the configuration refuses: 400 ``INVALID_CONFIG`` with the
  one-line reason of ``wdp.config`` (the same words as for a bad config file);
- a field that only takes effect at start (ports, keys, sources, recording): 409
  ``RESTART_REQUIRED`` naming the fields. wdp does not keep a change it cannot apply,
  because a restart would lose it (it is not written back to the config file); so every
  accepted change is live and ``config_update`` says ``requires_restart: false``.

``pipeline_config`` maps the server configuration onto the pipeline's own settings: the
one place that says which config field drives which part.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson

from wdp.config import Config, ConfigError, config_from_dict, config_to_dict, merge_trees
from wdp.pipeline.environment import PipelineConfig

#: Fields a running server applies from the next window / connection on.
LIVE_FIELDS = frozenset(
    {
        "detection.confidence_threshold",
        "analytics.window_s",
        "analytics.enable_fall_detection",
        "analytics.alert_webhook",
        "server.allowed_origins",
        "server.send_timeout_s",
        "server.shutdown_grace_s",
        "server.max_connections",
        "server.max_connections_per_ip",
    }
)
#: Nesting allowed in a change (config paths are at most this deep).
MAX_PATCH_DEPTH = 6


class ConfigPatchError(Exception):
    """A change refused as a whole: HTTP ``status`` with ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (leaves are anything but objects)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def parse_patch(body: bytes) -> dict[str, Any]:
    """The request body as flat dotted fields; ConfigPatchError when it is not a change."""
    try:
        tree = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ConfigPatchError(400, "INVALID_JSON", "the body is not valid JSON") from None
    if not isinstance(tree, dict) or not tree:
        raise ConfigPatchError(
            400, "INVALID_CONFIG", "the body must be a non-empty JSON object of fields"
        )
    flat = flatten(tree)
    for path in flat:
        parts = path.split(".")
        if len(parts) > MAX_PATCH_DEPTH or not all(parts):
            raise ConfigPatchError(400, "INVALID_CONFIG", f"{path[:80]!r} is not a field path")
    return flat


def _nest(flat: dict[str, Any]) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigPatchError(400, "INVALID_CONFIG", f"{path!r} is not a field path")
        node[leaf] = value
    return tree


def apply_patch(config: Config, change: dict[str, Any]) -> tuple[Config, dict[str, Any]]:
    """The configuration with ``change`` applied, and the fields that really changed
    (dotted path -> new value, in the config's own order)."""
    current = config_to_dict(config)
    try:
        new = config_from_dict(merge_trees(current, _nest(change)), "change")
    except ConfigError as exc:
        raise ConfigPatchError(400, "INVALID_CONFIG", str(exc)) from None
    before, after = flatten(current), flatten(config_to_dict(new))
    changed = {k: v for k, v in after.items() if before.get(k, _MISSING) != v}
    frozen = sorted(k for k in changed if k not in LIVE_FIELDS)
    if frozen:
        raise ConfigPatchError(
            409,
            "RESTART_REQUIRED",
            f"only applied at start, change the config file and restart: {', '.join(frozen)}",
        )
    return new, changed


_MISSING = object()


def visible_config(config: Config, may_see) -> dict:
    """The configuration as a client may read it: environments it may not see left out."""
    tree = config_to_dict(config)
    tree["environments"] = {k: v for k, v in tree["environments"].items() if may_see(k)}
    return tree


def pipeline_config(config: Config, base: PipelineConfig | None = None) -> PipelineConfig:
    """The pipeline settings the server configuration drives (the rest from ``base``)."""
    base = base or PipelineConfig()
    return attrs.evolve(
        base,
        tracker=attrs.evolve(base.tracker, min_confidence=config.detection.confidence_threshold),
        analytics=attrs.evolve(base.analytics, period_s=config.analytics.window_s),
        fall_detection=config.analytics.enable_fall_detection,
    )
