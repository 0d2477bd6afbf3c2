"""``performance_update``: what the server is doing, every ``PERFORMANCE_INTERVAL_S``.

Figures over the last interval: ``frames_per_second`` (CSI frames received),
``average_latency_ms`` (mean time to process one window: DSP, model and the pipeline
after it), ``processing_queue_size`` (frame bursts waiting for the pipelines),
``cpu_usage`` (this process's CPU time over the interval, percent of all cores),
``memory_usage`` (resident memory, percent of physical memory; None where /proc is not
there), ``gpu_usage`` (always None: wdp uses no GPU). Alerts, each with its value and
threshold: ``high_latency`` (warning above 50 ms), ``high_cpu`` (warning above 90 %),
``high_memory`` (warning above 90 %), ``queue_backlog`` (warning above 100 bursts).
"""

from __future__ import annotations

import os
import resource

from wdp.pipeline.events import PerformanceAlert, PerformanceUpdate

PERFORMANCE_INTERVAL_S = 5.0
THRESHOLDS = {"high_latency": 50.0, "high_cpu": 90.0, "high_memory": 90.0, "queue_backlog": 100.0}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _memory_percent() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            rss_pages = int(f.read().split()[1])
        return 100.0 * rss_pages / os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, IndexError):
        return None


class PerformanceMonitor:
    """Turns running counters (``frames``, ``windows``, ``window_s``) into updates."""

    def __init__(self, cpu_seconds=_cpu_seconds, memory_percent=_memory_percent) -> None:
        self._cpu = cpu_seconds
        self._memory = memory_percent
        self._last: tuple[int, float, float, float, float] | None = None

    def update(self, now_ns: int, counters: dict, queued: int) -> PerformanceUpdate:
        cpu = self._cpu()
        state = (now_ns, counters["frames"], counters["windows"], counters["window_s"], cpu)
        fps = latency = cpu_pct = None
        if self._last is not None:
            t0, f0, w0, s0, c0 = self._last
            wall = (now_ns - t0) / 1e9
            if wall > 0:
                fps = (counters["frames"] - f0) / wall
                cpu_pct = 100.0 * (cpu - c0) / (wall * (os.cpu_count() or 1))
            windows = counters["windows"] - w0
            if windows:
                latency = 1e3 * (counters["window_s"] - s0) / windows
        self._last = state
        memory = self._memory()
        alerts = []
        for kind, value in (
            ("high_latency", latency),
            ("high_cpu", cpu_pct),
            ("high_memory", memory),
            ("queue_backlog", float(queued)),
        ):
            if value is not None and value > THRESHOLDS[kind]:
                alerts.append(PerformanceAlert(kind, "warning", value, THRESHOLDS[kind]))
        return PerformanceUpdate(
            timestamp_ns=now_ns,
            frames_per_second=fps,
            average_latency_ms=latency,
            processing_queue_size=queued,
            cpu_usage=cpu_pct,
            memory_usage=memory,
            gpu_usage=None,
            alerts=tuple(alerts),
        )
