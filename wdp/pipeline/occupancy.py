"""Occupancy: how many people are in the room, debounced so it does not chatter.

The raw count of a window is the number of confirmed tracks that are currently tracked
(not tentative, not lost). A person missed for a window or two, or a false track that
dies young, must not make the count jump; so the reported (committed) occupancy follows
the raw count only once the raw count has differed from it, with one and the same value,
for ``debounce_s`` of frame time. Then one ``occupancy_update`` is sent:

- ``current_occupancy`` the new count, ``previous_occupancy`` the one before;
- ``change_type`` ``person_entered`` if the count went up, ``person_left`` if down;
- ``persons``: the counted tracks, ``new`` if they were not counted at the previous
  update (or at the start), else ``active``; then the tracks counted at the previous
  update that are no longer, ``leaving``; each group ordered by track id;
- ``confidence``: with people in the room, the mean ``track_quality`` (share of recent
  windows with a detection) of the counted tracks; in an empty room, the share of the
  windows of the debounce period without any detection the tracker used (someone
  detected but not yet tracked is evidence against "empty").

The committed count starts at 0, so an empty room sends nothing. When tracks replace
each other with the count unchanged (one track ends as another starts), no update is
sent; the set of counted tracks is still remembered for the statuses of the next update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

from wdp.pipeline.events import OccupancyUpdate, Occupant
from wdp.pipeline.tracking import TrackView

_NS = 1_000_000_000


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"occupancy {attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(slots=True)
class OccupancyConfig:
    debounce_s: float = attrs.field(default=2.0, validator=_non_negative)


class OccupancyCounter:
    """The debounced occupancy of one environment (see the module docstring)."""

    def __init__(self, environment_id: str, config: OccupancyConfig | None = None) -> None:
        self.environment_id = environment_id
        self.config = config or OccupancyConfig()
        self.occupancy = 0
        self._counted: tuple[int, ...] = ()
        self._pending: int | None = None
        self._pending_since = 0
        self._pending_windows = 0
        self._pending_empty_windows = 0

    def update(
        self, time_ns: int, tracks: Sequence[TrackView], detections: int
    ) -> OccupancyUpdate | None:
        """Take a window's tracks and the number of detections the tracker used."""
        current = {t.track_id: t for t in tracks if t.confirmed}
        raw = len(current)
        if raw == self.occupancy:
            self._pending = None
            self._counted = tuple(sorted(current))
            return None
        if self._pending != raw:
            self._pending = raw
            self._pending_since = time_ns
            self._pending_windows = 0
            self._pending_empty_windows = 0
        self._pending_windows += 1
        self._pending_empty_windows += detections == 0
        if time_ns - self._pending_since < int(round(self.config.debounce_s * _NS)):
            return None
        before = set(self._counted)
        ids = sorted(current)
        persons = [Occupant(tid, tid, "active" if tid in before else "new") for tid in ids] + [
            Occupant(tid, tid, "leaving") for tid in sorted(before - set(ids))
        ]
        if raw > 0:
            confidence = sum(current[tid].quality for tid in ids) / raw
        else:
            confidence = self._pending_empty_windows / max(1, self._pending_windows)
        event = OccupancyUpdate(
            timestamp_ns=time_ns,
            environment_id=self.environment_id,
            current_occupancy=raw,
            previous_occupancy=self.occupancy,
            change_type="person_entered" if raw > self.occupancy else "person_left",
            confidence=confidence,
            persons=tuple(persons),
        )
        self.occupancy = raw
        self._counted = tuple(ids)
        self._pending = None
        return event
