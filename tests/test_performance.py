from wdp.pipeline.performance import PerformanceMonitor


def test_figures_over_the_interval_and_threshold_alerts():
    cpu = iter([10.0, 10.5, 12.0])
    mon = PerformanceMonitor(cpu_seconds=lambda: next(cpu), memory_percent=lambda: 95.0)
    first = mon.update(0, {"frames": 0, "windows": 0, "window_s": 0.0}, queued=0)
    assert first.frames_per_second is None and first.average_latency_ms is None
    assert [a.type for a in first.alerts] == ["high_memory"]
    second = mon.update(5_000_000_000, {"frames": 500, "windows": 50, "window_s": 0.5}, 3)
    assert second.frames_per_second == 100.0
    assert second.average_latency_ms == 10.0
    assert second.processing_queue_size == 3 and second.gpu_usage is None
    third = mon.update(10_000_000_000, {"frames": 500, "windows": 60, "window_s": 1.5}, 150)
    msg = third.to_message()
    assert msg["data"]["metrics"]["average_latency_ms"] == 100.0
    kinds = {a["type"]: a for a in msg["data"]["alerts"]}
    assert kinds["high_latency"]["threshold"] == 50.0 and kinds["high_latency"]["value"] == 100.0
    assert "queue_backlog" in kinds and msg["data"]["metrics"]["frames_per_second"] == 0.0
