"""Subscriptions: what a connection asked to receive, validated against the spec and
the token.

A subscription names an ``event_type``, optional ``filters``, a ``throttle``
(``max_fps``, ``buffer_size``, ``compression``) and a ``quality`` (``low`` or ``high``).
The spec's data-rate table is a ceiling: pose data at low quality at most 10 FPS with
a buffer of 5 frames, at high quality 30 FPS with 1 frame; system events 100 per
minute with a buffer of 10; analytics 60 per minute with a buffer of 5. Every invalid
value is a ``SUBSCRIPTION_ERROR`` naming the subscription, the field and the reason;
an environment outside the token's list is ``FORBIDDEN``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import attrs

from wdp.ids import is_identifier
from wdp.server.auth import Principal
from wdp.server.protocol import ProtocolError

#: Event types a client can subscribe to.
EVENT_TYPES = (
    "pose_data",
    "pose_data_trajectory",
    "tracking_update",
    "activity_event",
    "occupancy_update",
    "analytics_stream",
    "system_event",
    "hardware_event",
    "performance_update",
    "config_update",
)
#: Other names the spec uses for the same stream.
ALIASES = {"analytics_update": "analytics_stream"}

SEVERITIES = ("info", "warning", "error", "critical", "low", "medium", "high")
ACTIVITY_EVENT_TYPES = ("fall_detected", "alert_triggered")
QUALITIES = ("low", "high")
COMPRESSIONS = ("gzip", "deflate")

#: Filters each event type accepts (all accept none).
FILTERS: dict[str, frozenset[str]] = {
    "pose_data": frozenset(
        {
            "environment_id",
            "min_confidence",
            "include_keypoints",
            "include_dense_pose",
            "include_velocity",
        }
    ),
    "pose_data_trajectory": frozenset({"environment_id", "min_confidence"}),
    "tracking_update": frozenset({"environment_id", "min_confidence"}),
    "activity_event": frozenset({"environment_id", "min_confidence", "event_types", "severity"}),
    "occupancy_update": frozenset({"environment_id"}),
    "analytics_stream": frozenset({"environment_id"}),
    "system_event": frozenset({"environment_id", "severity"}),
    "hardware_event": frozenset({"environment_id", "severity"}),
    "performance_update": frozenset({"severity"}),
    "config_update": frozenset(),
}


@attrs.frozen(slots=True)
class Ceiling:
    max_fps: float
    buffer_size: int


def ceiling(event_type: str, quality: str) -> Ceiling:
    """The spec's data-rate table for a subscription."""
    if event_type == "pose_data":
        return Ceiling(30.0, 1) if quality == "high" else Ceiling(10.0, 5)
    if event_type in ("analytics_stream", "performance_update"):
        return Ceiling(1.0, 5)  # 60 updates per minute
    return Ceiling(100 / 60, 10)  # 100 events per minute


@attrs.frozen(slots=True)
class Subscription:
    id: str
    event_type: str
    environments: frozenset[str] | None  # None: every environment the token allows
    min_confidence: float = 0.0
    include_keypoints: bool = True
    include_dense_pose: bool = False
    include_velocity: bool = True
    event_types: frozenset[str] | None = None
    severity: frozenset[str] | None = None
    quality: str = "low"
    max_fps: float = 10.0
    buffer_size: int = 5
    compression: str | None = None

    def to_ack(self) -> dict:
        return {"subscription_id": self.id, "event_type": self.event_type, "status": "active"}


class SubscriptionError(ProtocolError):
    def __init__(self, where: str, field: str, reason: str) -> None:
        super().__init__(
            "SUBSCRIPTION_ERROR",
            "Invalid subscription filter" if field else "Invalid subscription",
            {"subscription_id": where, "field": field, "reason": reason},
        )


_ids = itertools.count(1)


def new_subscription_id() -> str:
    return f"sub_{next(_ids)}"


def _bool(where: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SubscriptionError(where, field, "Value must be true or false")
    return value


def _unit(where: str, field: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and 0 <= value <= 1)
    ):
        raise SubscriptionError(where, field, "Value must be between 0 and 1")
    return float(value)


def _choices(where: str, field: str, value: Any, allowed: tuple[str, ...]) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or len(items) > 32:
        raise SubscriptionError(where, field, "Value must be a non-empty list of strings")
    for item in items:
        if not isinstance(item, str) or item not in allowed:
            raise SubscriptionError(where, field, f"Values must be among {', '.join(allowed)}")
    return frozenset(items)


def _environments(where: str, value: Any, principal: Principal) -> frozenset[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or len(items) > 64:
        raise SubscriptionError(where, "environment_id", "Value must be an id or a list of ids")
    for env in items:
        if not isinstance(env, str) or not is_identifier(env):
            raise SubscriptionError(where, "environment_id", "Value must be a valid id")
        if not principal.may_see(env):
            raise ProtocolError(
                "FORBIDDEN",
                f"the token does not allow environment {env!r}",
                {"subscription_id": where, "field": "environment_id"},
            )
    return frozenset(items)


def build(
    request: Any, principal: Principal, *, sub_id: str | None = None, where: str = ""
) -> Subscription:
    """One subscription from a client's request object; raises on any invalid value."""
    sub_id = sub_id or new_subscription_id()
    where = where or sub_id
    if not isinstance(request, Mapping):
        raise SubscriptionError(where, "", "Each subscription must be an object")
    unknown = set(request) - {"event_type", "filters", "throttle", "quality"}
    if unknown:
        raise SubscriptionError(where, sorted(unknown)[0], "Unknown field")
    event_type = request.get("event_type")
    event_type = ALIASES.get(event_type, event_type)
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise SubscriptionError(
            where, "event_type", f"Value must be one of {', '.join(EVENT_TYPES)}"
        )
    quality = request.get("quality", "low")
    if quality not in QUALITIES:
        raise SubscriptionError(where, "quality", "Value must be low or high")
    filters = request.get("filters", {})
    throttle = request.get("throttle", {})
    if not isinstance(filters, Mapping):
        raise SubscriptionError(where, "filters", "Value must be an object")
    if not isinstance(throttle, Mapping):
        raise SubscriptionError(where, "throttle", "Value must be an object")
    base = Subscription(
        sub_id,
        event_type,
        None,
        quality=quality,
        max_fps=ceiling(event_type, quality).max_fps,
        buffer_size=ceiling(event_type, quality).buffer_size,
    )
    return apply_changes(base, filters, throttle, principal, where=where)


def apply_changes(
    sub: Subscription,
    filters: Mapping,
    throttle: Mapping,
    principal: Principal,
    *,
    where: str = "",
) -> Subscription:
    """``sub`` with new filter and throttle values (``update_subscription`` uses it too;
    the spec's example puts ``max_fps`` among the filters, so throttle fields are
    accepted there as well)."""
    where = where or sub.id
    throttle_fields = {"max_fps", "buffer_size", "compression"}
    merged_throttle = dict(throttle)
    changes: dict[str, Any] = {}
    for field, value in filters.items():
        if field in throttle_fields:
            merged_throttle[field] = value
            continue
        if field not in FILTERS[sub.event_type]:
            raise SubscriptionError(where, field, f"Not a filter of {sub.event_type}")
        if field == "environment_id":
            changes["environments"] = _environments(where, value, principal)
        elif field == "min_confidence":
            changes[field] = _unit(where, field, value)
        elif field in ("include_keypoints", "include_dense_pose", "include_velocity"):
            changes[field] = _bool(where, field, value)
        elif field == "event_types":
            changes[field] = _choices(where, field, value, ACTIVITY_EVENT_TYPES)
        elif field == "severity":
            changes[field] = _choices(where, field, value, SEVERITIES)
    top = ceiling(sub.event_type, sub.quality)
    for field, value in merged_throttle.items():
        if field == "max_fps":
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and 0 < value <= top.max_fps)
            ):
                raise SubscriptionError(
                    where, field, f"Value must be above 0 and at most {top.max_fps:g}"
                )
            changes[field] = float(value)
        elif field == "buffer_size":
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not (1 <= value <= top.buffer_size)
            ):
                raise SubscriptionError(where, field, f"Value must be 1..{top.buffer_size}")
            changes[field] = value
        elif field == "compression":
            if value is not None and value not in COMPRESSIONS:
                raise SubscriptionError(where, field, "Value must be gzip or deflate")
            changes[field] = value
        else:
            raise SubscriptionError(where, field, "Not a throttle field")
    return attrs.evolve(sub, **changes)


def defaults(principal: Principal) -> list[Subscription]:
    """A new connection's subscriptions until its first ``subscribe`` replaces them:
    pose data of every environment the token allows, at low quality, and system
    events. (Errors are always sent.)"""
    return [
        build({"event_type": "pose_data"}, principal),
        build({"event_type": "system_event"}, principal),
    ]
