"""Events serialize to the spec's message shapes (the spec's examples' keys)."""

import json

import numpy as np
import orjson
import pytest
from pipeline_truth import ENV, of_type, run

from wdp.camera import Camera
from wdp.pipeline import iso_timestamp
from wdp.pipeline.events import (
    KEYPOINT_NAMES,
    ActivityEvent,
    AnalyticsStream,
    ConfigUpdate,
    HardwareEvent,
    PerformanceAlert,
    PerformanceUpdate,
    Point,
    SystemEvent,
)
from wdp.pipeline.observations import ObservationNoise

#: The examples of spec/websocket-api.md, verbatim but for the comment in pose_data.
SPEC_EXAMPLES = {
    "pose_data": """{"type": "pose_data", "timestamp": "2025-01-07T10:30:00.123Z", "data": {
        "frame_id": 12345, "environment_id": "room_001", "processing_time_ms": 45.2,
        "persons": [{"person_id": 1, "track_id": 7, "confidence": 0.87,
          "bounding_box": {"x": 120, "y": 80, "width": 180, "height": 320},
          "keypoints": [{"name": "nose", "x": 210, "y": 95, "confidence": 0.92,
                         "visible": true}],
          "activity": {"type": "walking", "confidence": 0.78,
                       "velocity": {"x": 0.5, "y": 0.2}}}],
        "metadata": {"model_version": "v1.2.0", "csi_quality": 0.85, "frame_rate": 29.8}}}""",
    "tracking_update": """{"type": "tracking_update", "timestamp": "2025-01-07T10:30:00.123Z",
      "data": {"track_id": 7, "person_id": 1, "event": "track_started",
        "position": {"x": 210, "y": 240}, "confidence": 0.87,
        "metadata": {"first_detection": "2025-01-07T10:29:45Z", "track_quality": 0.92}}}""",
    "pose_data_trajectory": """{"type": "pose_data_trajectory",
      "timestamp": "2025-01-07T10:30:00.123Z", "data": {"track_id": 7, "person_id": 1,
        "trajectory": [{"timestamp": "2025-01-07T10:29:58.123Z",
                        "position": {"x": 200, "y": 230}, "confidence": 0.89}],
        "prediction": {"next_position": {"x": 215, "y": 245}, "confidence": 0.73,
                       "time_horizon": 1.0}}}""",
    "activity_event": """{"type": "activity_event", "timestamp": "2025-01-07T10:30:00Z",
      "data": {"event_type": "fall_detected", "severity": "high", "person_id": 3,
        "track_id": 15, "confidence": 0.92, "location": {"x": 210, "y": 180},
        "details": {"fall_duration": 2.3, "impact_severity": 0.85,
                    "recovery_detected": false},
        "actions": ["alert_triggered", "notification_sent"]}}""",
    "occupancy_update": """{"type": "occupancy_update", "timestamp": "2025-01-07T10:30:00Z",
      "data": {"environment_id": "room_001", "current_occupancy": 3,
        "previous_occupancy": 2, "change_type": "person_entered", "confidence": 0.89,
        "persons": [{"person_id": 1, "track_id": 7, "status": "active"}]}}""",
    "analytics_stream": """{"type": "analytics_stream", "timestamp": "2025-01-07T10:30:00Z",
      "data": {"window": "1_minute", "metrics": {
          "occupancy": {"current": 3, "average": 2.7, "peak": 5},
          "activity": {"movement_events": 15, "stationary_time": 45.2,
                       "activity_level": 0.67},
          "detection": {"total_detections": 1800, "average_confidence": 0.84,
                        "tracking_accuracy": 0.92}},
        "trends": {"occupancy_trend": "increasing", "activity_trend": "stable",
                   "confidence_trend": "improving"}}}""",
    "system_event": """{"type": "system_event", "timestamp": "2025-01-07T10:30:00Z",
      "data": {"event": "system_started", "status": "running",
        "session_id": "session_123456",
        "configuration": {"domain": "healthcare", "environment_id": "room_001"},
        "components": {"neural_network": "healthy", "csi_processor": "healthy",
                       "tracker": "healthy"}}}""",
    "hardware_event": """{"type": "hardware_event", "timestamp": "2025-01-07T10:30:00Z",
      "data": {"event": "router_disconnected", "router_id": "router_001",
        "severity": "warning",
        "message": "Router connection lost. Attempting reconnection...",
        "metadata": {"last_seen": "2025-01-07T10:29:30Z", "reconnect_attempts": 1}}}""",
    "performance_update": """{"type": "performance_update",
      "timestamp": "2025-01-07T10:30:00Z", "data": {"metrics": {
          "frames_per_second": 29.8, "average_latency_ms": 45.2,
          "processing_queue_size": 3, "cpu_usage": 65.4, "memory_usage": 78.2,
          "gpu_usage": 82.1},
        "alerts": [{"type": "high_latency", "severity": "warning", "value": 67.3,
                    "threshold": 50.0}]}}""",
    "config_update": """{"type": "config_update", "timestamp": "2025-01-07T10:30:00Z",
      "data": {"changed_fields": ["detection.confidence_threshold",
                                  "analytics.enable_fall_detection"],
        "new_values": {"detection.confidence_threshold": 0.8,
                       "analytics.enable_fall_detection": true},
        "applied_by": "admin_user", "requires_restart": false}}""",
}
#: Keys we add to the spec's: room coordinates beside pixels, the fall's id, the
#: environment of events whose ids are per environment, and a person's dense pose (the
#: spec's include_dense_pose subscription option names it but gives no example).
EXTRA_KEYS = {"x_m", "y_m", "z_m", "fall_id", "environment_id", "dense_pose"}
#: pose_data metadata of the tier (README "Real hardware: what wdp senses").
EXTRA_KEYS |= {"tier", "pose_available", "reason", "motion", "presence", "motion_reason"}


#: The only fields that may be null (wdp/pipeline/events.py says when): pixels of a point
#: behind the camera, a box with no keypoint in the image, the processing time in a
#: replay, the frame rate of the first window, analytics figures without data or truth,
#: trends of the first period, performance figures not available, a router never seen.
NULLABLE = {
    "pose_data.data.processing_time_ms",
    "pose_data.data.metadata.frame_rate",
    "pose_data.data.persons[].bounding_box",
    "pose_data.data.persons[].keypoints[].x",
    "pose_data.data.persons[].keypoints[].y",
    "tracking_update.data.position.x",
    "tracking_update.data.position.y",
    "pose_data_trajectory.data.trajectory[].position.x",
    "pose_data_trajectory.data.trajectory[].position.y",
    "pose_data_trajectory.data.prediction.next_position.x",
    "pose_data_trajectory.data.prediction.next_position.y",
    "activity_event.data.location.x",
    "activity_event.data.location.y",
    "analytics_stream.data.metrics.occupancy.average",
    "analytics_stream.data.metrics.activity.activity_level",
    "analytics_stream.data.metrics.detection.average_confidence",
    "analytics_stream.data.metrics.detection.tracking_accuracy",
    "analytics_stream.data.trends.occupancy_trend",
    "analytics_stream.data.trends.activity_trend",
    "analytics_stream.data.trends.confidence_trend",
    "performance_update.data.metrics.frames_per_second",
    "performance_update.data.metrics.average_latency_ms",
    "performance_update.data.metrics.cpu_usage",
    "performance_update.data.metrics.memory_usage",
    "performance_update.data.metrics.gpu_usage",
    "hardware_event.data.metadata.last_seen",
    # why there is no pose estimate (null when there is one); the sensing tier's motion,
    # presence (null when unknown) and why they are unknown (null on the pose tier)
    "pose_data.data.metadata.reason",
    "pose_data.data.metadata.motion",
    "pose_data.data.metadata.presence",
    "pose_data.data.metadata.motion_reason",
    # the sensing tier sees no position, no velocity and no posture
    "pose_data.data.persons[].activity.velocity",
    "activity_event.data.location.x_m",
    "activity_event.data.location.y_m",
    "activity_event.data.location.z_m",
    "activity_event.data.details.fall_duration",
    "activity_event.data.details.impact_severity",
}


def assert_shape(ours: object, spec: object, path: str = "") -> None:
    """Every key of the spec example is in ours, with the same kind of value; ours adds
    only EXTRA_KEYS; null only where NULLABLE allows it."""
    if ours is None:
        assert path in NULLABLE, f"{path}: null"
        return
    if isinstance(spec, dict):
        assert isinstance(ours, dict), path
        missing = set(spec) - set(ours)
        assert not missing, f"{path}: missing {missing}"
        assert set(ours) - set(spec) <= EXTRA_KEYS, f"{path}: extra {set(ours) - set(spec)}"
        assert [k for k in ours if k in spec] == list(spec), f"{path}: key order"
        for key in spec:
            assert_shape(ours[key], spec[key], f"{path}.{key}")
    elif isinstance(spec, list):
        assert isinstance(ours, list), path
        if spec and ours:
            for item in ours:
                assert_shape(item, spec[0], f"{path}[]")
    elif isinstance(spec, bool):
        assert isinstance(ours, bool), path
    elif isinstance(spec, int | float):
        assert isinstance(ours, int | float) and not isinstance(ours, bool), path
    elif isinstance(spec, str):
        assert isinstance(ours, str), path


def test_assert_shape_refuses_null_where_the_api_promises_a_value():
    spec = json.loads(SPEC_EXAMPLES["tracking_update"])
    message = json.loads(SPEC_EXAMPLES["tracking_update"])
    message["data"]["position"]["x"] = None  # a point behind the camera: allowed
    assert_shape(message, spec, "tracking_update")
    message["data"]["confidence"] = None
    with pytest.raises(AssertionError, match="confidence: null"):
        assert_shape(message, spec, "tracking_update")


@pytest.fixture(scope="module")
def pipeline_messages():
    events, _ = run(
        "fall_and_recover",
        noise=ObservationNoise(),
        seed=1,
        with_truth=True,
        alert=lambda e: True,
        notify=lambda e: True,
    )
    by_type: dict[str, list[dict]] = {}
    for e in events:
        by_type.setdefault(e.TYPE, []).append(e.to_message())
    return events, by_type


@pytest.mark.parametrize(
    "type_",
    [
        "pose_data",
        "tracking_update",
        "pose_data_trajectory",
        "activity_event",
        "occupancy_update",
        "analytics_stream",
    ],
)
def test_pipeline_messages_have_the_spec_shape(pipeline_messages, type_):
    _, by_type = pipeline_messages
    spec = json.loads(SPEC_EXAMPLES[type_])
    messages = by_type[type_]
    assert messages
    for message in messages:
        assert_shape(message, spec, type_)
        json.loads(orjson.dumps(message))  # plain JSON, no NaN
    if type_ == "pose_data":
        with_people = [m for m in messages if m["data"]["persons"]]
        assert with_people
        names = [k["name"] for k in with_people[0]["data"]["persons"][0]["keypoints"]]
        assert names == list(KEYPOINT_NAMES)


def test_other_messages_have_the_spec_shape():
    t = 1736245800_000_000_000  # 2025-01-07T10:30:00Z
    events = [
        SystemEvent(
            t,
            "system_started",
            "running",
            "session_123456",
            {"domain": "healthcare", "environment_id": "room_001"},
            {"neural_network": "healthy", "csi_processor": "healthy", "tracker": "healthy"},
        ),
        HardwareEvent(t, "router_disconnected", "router_001", "warning", "lost", t - 30 * 10**9, 1),
        PerformanceUpdate(
            t,
            29.8,
            45.2,
            3,
            65.4,
            78.2,
            None,
            (PerformanceAlert("high_latency", "warning", 67.3, 50.0),),
        ),
        ConfigUpdate(
            t,
            ["detection.confidence_threshold", "analytics.enable_fall_detection"],
            {"detection.confidence_threshold": 0.8, "analytics.enable_fall_detection": True},
            "admin_user",
            False,
        ),
    ]
    for event in events:
        message = event.to_message()
        assert message["timestamp"] == "2025-01-07T10:30:00.000Z"
        assert_shape(message, json.loads(SPEC_EXAMPLES[event.TYPE]), event.TYPE)
    assert events[1].to_message()["data"]["metadata"]["last_seen"] == "2025-01-07T10:29:30.000Z"
    assert events[2].to_message()["data"]["metrics"]["gpu_usage"] is None


def test_timestamps_and_numbers():
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert iso_timestamp(1736245800_123_999_999) == "2025-01-07T10:30:00.123Z"
    assert iso_timestamp(-1) == "1969-12-31T23:59:59.999Z"
    camera = Camera()
    behind = Point.project(camera, (-5.0, 0.0, 2.5))  # behind the default camera
    assert behind.x is None and behind.y is None
    assert behind.to_data() == {"x": None, "y": None, "x_m": -5.0, "y_m": 0.0, "z_m": 2.5}
    ahead = Point.project(camera, (3.0, 0.0, 2.5))
    assert ahead.to_data()["x"] == pytest.approx(640.0)
    stream = AnalyticsStream(
        0, ENV, "1_minute", 0, float("nan"), 0, 0, 0.0, None, 0, None, None, None, None, None
    )
    data = stream.to_message()["data"]
    assert data["metrics"]["occupancy"]["average"] is None
    assert data["metrics"]["detection"]["tracking_accuracy"] is None


def test_validation_of_choices():
    point = Point(1.0, 2.0, 0.0, 0.0, 0.0)
    kwargs = dict(
        timestamp_ns=0,
        environment_id=ENV,
        fall_id=1,
        event_type="fall_detected",
        severity="high",
        person_id=1,
        track_id=1,
        confidence=0.9,
        location=point,
        fall_duration=0.5,
        impact_severity=0.5,
        recovery_detected=False,
    )
    ActivityEvent(**kwargs)
    with pytest.raises(ValueError):
        ActivityEvent(**{**kwargs, "severity": "low"})
    with pytest.raises(ValueError):
        ActivityEvent(**kwargs, actions=("email_sent",))


def test_message_bytes_are_stable(pipeline_messages):
    events, _ = pipeline_messages
    again, _ = run(
        "fall_and_recover",
        noise=ObservationNoise(),
        seed=1,
        with_truth=True,
        alert=lambda e: True,
        notify=lambda e: True,
    )
    assert orjson.dumps([e.to_message() for e in events]) == orjson.dumps(
        [e.to_message() for e in again]
    )
    assert np.all([e.timestamp_ns >= 0 for e in events])
    assert of_type(events, "activity_event")[0].actions == ("alert_triggered", "notification_sent")
