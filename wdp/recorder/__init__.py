"""Recording CSI sessions to HDF5, reading them back, and summarising them.

One file per session (or a rolling series of them): per-router frame columns, the raw
bytes of every datagram or record as received, and the metadata needed to trust and
re-parse it later. The README describes the schema.
"""

from wdp.recorder.inspect import RecordingSummary, RouterSummary, format_summary, summarize
from wdp.recorder.reader import Recording, RecordingAttrs, open_recording
from wdp.recorder.rolling import RollingRecorder
from wdp.recorder.schema import (
    SCHEMA_VERSION,
    RecordingError,
    RouterInfo,
    UndeclaredRouterError,
)
from wdp.recorder.truth import ACTIVITIES, FallTruth, Truth, TruthRows, TruthSpec
from wdp.recorder.writer import Recorder

__all__ = [
    "ACTIVITIES",
    "FallTruth",
    "Truth",
    "TruthRows",
    "TruthSpec",
    "SCHEMA_VERSION",
    "Recorder",
    "Recording",
    "RecordingAttrs",
    "RecordingError",
    "RecordingSummary",
    "RollingRecorder",
    "RouterInfo",
    "RouterSummary",
    "UndeclaredRouterError",
    "format_summary",
    "open_recording",
    "summarize",
]
