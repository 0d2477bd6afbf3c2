"""``wdp replay --compare-truth``: the replayed events beside a simulated recording's truth.

Figures (each defined where it is computed):
- person count accuracy: share of ``pose_data`` windows whose number of persons equals
  the truth's occupancy at the window's time;
- localization error: for windows where both exist, persons matched to true people by
  the smallest total distance (optimal assignment), the median and 90th percentile of
  the matched distances, metres (floor positions);
- falls: true falls, detected falls (``fall_detected`` first reports), those within
  ``FALL_MATCH_S`` of a true fall's impact (recall), the others (false alarms), and
  the median delay from impact to report;
- track ids: the number of distinct track ids reported and of true people seen.
"""

from __future__ import annotations

import numpy as np

from wdp.pipeline.assignment import linear_assignment
from wdp.pipeline.events import ActivityEvent, PipelineEvent, PoseFrame
from wdp.recorder.truth import Truth

FALL_MATCH_S = 5.0


def _row(truth: Truth, time_ns: int) -> int:
    t = truth.rows.time_ns
    i = int(np.searchsorted(t, time_ns))
    if i >= len(t):
        return len(t) - 1
    if i > 0 and time_ns - t[i - 1] < t[i] - time_ns:
        return i - 1
    return i


def _floor_xy(person) -> tuple[float, float]:
    """A reported person's floor position: the midpoint of the hips (COCO 11, 12)."""
    hips = [person.keypoints[i] for i in (11, 12)]
    return (hips[0].x_m + hips[1].x_m) / 2, (hips[0].y_m + hips[1].y_m) / 2


def compare(events: list[PipelineEvent], truth: Truth) -> dict:
    rows = truth.rows
    poses = [e for e in events if isinstance(e, PoseFrame)]
    counts_ok = 0
    errors: list[float] = []
    tracks: set[int] = set()
    for p in poses:
        i = _row(truth, p.timestamp_ns)
        counts_ok += len(p.persons) == int(rows.occupancy[i])
        tracks.update(q.track_id for q in p.persons)
        present = np.flatnonzero(rows.present[i])
        ours = np.array([_floor_xy(q) for q in p.persons]).reshape(-1, 2)
        if len(present) and len(ours):
            true_xy = rows.position[i, present, :2]
            cost = np.linalg.norm(ours[:, None, :] - true_xy[None, :, :], axis=-1)
            for a, b in linear_assignment(cost):
                errors.append(float(cost[a, b]))
    falls_true = [f.impact_ns for f in truth.spec.falls]
    reported = [
        e
        for e in events
        if isinstance(e, ActivityEvent)
        and e.event_type == "fall_detected"
        and not e.recovery_detected
    ]
    first: dict[int, int] = {}
    for e in reported:
        first.setdefault(e.fall_id, e.timestamp_ns)
    delays, matched, false_alarms = [], set(), 0
    for t in sorted(first.values()):
        best = min(
            (
                k
                for k in range(len(falls_true))
                if k not in matched and -1e9 <= t - falls_true[k] <= FALL_MATCH_S * 1e9
            ),
            key=lambda k: abs(t - falls_true[k]),
            default=None,
        )
        if best is None:
            false_alarms += 1
        else:
            matched.add(best)
            delays.append((t - falls_true[best]) / 1e9)
    return {
        "windows": len(poses),
        "count_accuracy": counts_ok / len(poses) if poses else None,
        "localization_median_m": float(np.median(errors)) if errors else None,
        "localization_p90_m": float(np.percentile(errors, 90)) if errors else None,
        "falls_true": len(falls_true),
        "falls_detected": len(first),
        "falls_recalled": len(matched),
        "false_alarms": false_alarms,
        "fall_delay_median_s": float(np.median(delays)) if delays else None,
        "track_ids": len(tracks),
        "true_people": int(np.count_nonzero(rows.present.any(axis=0))),
    }


def format_comparison(figures: dict) -> str:
    def f(v, unit=""):
        return "n/a" if v is None else (f"{v:.3f}{unit}" if isinstance(v, float) else f"{v}")

    return "\n".join(
        [
            f"windows: {figures['windows']}",
            f"person count accuracy: {f(figures['count_accuracy'])}",
            f"localization error: median {f(figures['localization_median_m'], ' m')}, "
            f"p90 {f(figures['localization_p90_m'], ' m')}",
            f"falls: {figures['falls_true']} true, {figures['falls_detected']} detected, "
            f"{figures['falls_recalled']} recalled, {figures['false_alarms']} false alarms, "
            f"median delay {f(figures['fall_delay_median_s'], ' s')}",
            f"track ids: {figures['track_ids']} for {figures['true_people']} true people",
        ]
    )
