"""After the model: tracking, activity, falls, occupancy and analytics, as typed events.

Pure and deterministic (no I/O, no clock, no randomness but the seeded noise of
``windows_from_truth``): per environment, ``EnvironmentPipeline.step(window)`` turns the
model's person estimates of one window (``Window`` of ``Observation``) into the events of
the WebSocket API (``wdp.pipeline.events``). One module per stage: ``observations``
(input, and windows from ground truth), ``assignment`` (Hungarian algorithm),
``tracking``, ``activity``, ``falls``, ``occupancy``, ``analytics``, ``environment``
(the stages together).
"""

from wdp.pipeline.activity import ActivityConfig, ActivitySmoother, ActivityState
from wdp.pipeline.analytics import Analytics, AnalyticsConfig, Mota
from wdp.pipeline.assignment import linear_assignment
from wdp.pipeline.environment import EnvironmentPipeline, PipelineConfig, run_windows
from wdp.pipeline.events import (
    EVENT_TYPES,
    ActivityEvent,
    AnalyticsStream,
    ConfigUpdate,
    Event,
    HardwareEvent,
    OccupancyUpdate,
    PerformanceUpdate,
    PipelineEvent,
    PoseFrame,
    SystemEvent,
    TrackingUpdate,
    TrajectoryUpdate,
    iso_timestamp,
)
from wdp.pipeline.falls import FallConfig, FallDetector, record_actions
from wdp.pipeline.observations import (
    Observation,
    ObservationNoise,
    Window,
    camera_from_truth,
    iter_windows_from_truth,
    windows_from_recording,
    windows_from_truth,
)
from wdp.pipeline.occupancy import OccupancyConfig, OccupancyCounter
from wdp.pipeline.tracking import Tracker, TrackerConfig, TrackerStep, TrackView

__all__ = [
    "EVENT_TYPES",
    "ActivityConfig",
    "ActivityEvent",
    "ActivitySmoother",
    "ActivityState",
    "Analytics",
    "AnalyticsConfig",
    "AnalyticsStream",
    "ConfigUpdate",
    "EnvironmentPipeline",
    "Event",
    "FallConfig",
    "FallDetector",
    "HardwareEvent",
    "Mota",
    "Observation",
    "ObservationNoise",
    "OccupancyConfig",
    "OccupancyCounter",
    "OccupancyUpdate",
    "PerformanceUpdate",
    "PipelineConfig",
    "PipelineEvent",
    "PoseFrame",
    "SystemEvent",
    "TrackView",
    "Tracker",
    "TrackerConfig",
    "TrackerStep",
    "TrackingUpdate",
    "TrajectoryUpdate",
    "Window",
    "camera_from_truth",
    "iso_timestamp",
    "iter_windows_from_truth",
    "linear_assignment",
    "record_actions",
    "run_windows",
    "windows_from_recording",
    "windows_from_truth",
]
