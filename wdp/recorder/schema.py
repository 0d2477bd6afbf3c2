"""The HDF5 recording schema: names, versions and chunking shared by writer and reader.

One schema, readable with plain h5py and ``h5dump`` (the README describes it).
Everything a writer will ever touch is created before SWMR is switched on, because
SWMR forbids creating groups, datasets or attributes afterwards: that is why routers
are declared up front and why the clean-close marker and the commit counters are
pre-created scalar datasets rather than attributes written at the end.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
from urllib.parse import quote

import attrs

from wdp.capture.frame import HW_FORMATS

#: Root attribute ``format`` of every wdp recording; a file without it is not ours.
FORMAT_NAME = "wdp-csi-recording"

#: Bumped when a reader of the previous version could no longer read the files.
SCHEMA_VERSION = 1

#: libver bounds: v110 is the oldest format with SWMR, and capping the upper bound at
#: v110 keeps files readable by HDF5 1.10 tools (Debian's h5dump) even when h5py
#: bundles a newer HDF5.
LIBVER = ("v110", "v110")

#: Frames per chunk along the frame axis of the per-frame columns and of csi.
CHUNK_FRAMES = 1024
#: csi chunks are one (tx, rx) pair by this many subcarriers: a shape that changes
#: frame by frame (1..3 tx) then wastes no chunk space, and the padding along the
#: subcarrier axis stays small for every real layout (30, 56, 64, 114, 128, 256).
CHUNK_SUBCARRIERS = 32
#: Bytes per chunk of the flat raw-record byte stream.
CHUNK_RAW_BYTES = 1 << 18

#: HDF5 chunk cache per dataset: it must hold the chunks still being filled between
#: flushes (one 1024-frame block of csi chunks: 2.3 MiB for 3x3x30, 2 MiB for 1x1x256), so
#: they are not read back to be rewritten. It also keeps finished chunks until full, so
#: more only makes a long session's memory creep: with 16 MiB, ``wdp serve`` grew by
#: tens of MiB over its first hour; with 3 MiB it is flat after a minute.
CHUNK_CACHE_BYTES = 3 << 20

ROUTERS_GROUP = "routers"
TRUTH_GROUP = "truth"
CLOSED_CLEANLY = "closed_cleanly"
TRUTH_DESCRIPTION = (
    "Reserved for ground truth (people's positions, poses and occupancy over time) "
    "written by the wdp simulator; empty in recordings of real hardware."
)

#: Per-frame 1-D columns of a router group and their dtypes.
COLUMNS_1D = {
    "timestamp_ns": "int64",
    "host_time_ns": "int64",
    "sequence": "int64",
    "noise_floor_dbm": "float32",
    "center_freq_mhz": "float32",
    "bandwidth_mhz": "float32",
    "layout": "int32",
    "source_mac": "int64",
}

#: Columns added after schema 1 first shipped: a file written before them lacks them and
#: reads as if each held its default (``source_mac`` 0: transmitter unknown).
OPTIONAL_COLUMNS = {"source_mac": 0}


#: Longest ``label`` / ``label_group`` a recording takes.
MAX_LABEL_CHARS = 64

#: A label is snake_case: a detector's class becomes the activity type the API reports
#: (``sit_down``; see ``wdp.pipeline.events.SENSING_ACTIVITY``).
LABEL_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


def check_group(value: str, what: str = "label_group") -> str:
    """``value`` if it can be a recording's group (a person or room), else ValueError.

    Groups end up as cells of manifest CSVs and lines of ``wdp eval`` tables, so a comma,
    a newline or any other control character would split them; surrounding spaces would
    make two groups that look the same differ.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > MAX_LABEL_CHARS:
        raise ValueError(f"{what} must be at most {MAX_LABEL_CHARS} characters, got {len(value)}")
    if "," in value:
        raise ValueError(f"{what} must not contain a comma, got {value!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what} must not contain a newline or control character, got {value!r}")
    if value != value.strip():
        raise ValueError(f"{what} must not start or end with a space, got {value!r}")
    return value


def check_label(value: str, what: str = "label") -> str:
    """``value`` if it can be a recording's label, else ValueError saying why: a group's
    rules, and snake_case, because the label is what the served detector will report."""
    check_group(value, what)
    if not LABEL_PATTERN.fullmatch(value):
        raise ValueError(
            f"{what} must be snake_case (a-z, 0-9 and _, from a letter: e.g. sit_down), "
            f"got {value!r}"
        )
    return value


class RecordingError(Exception):
    """A recording that cannot be written or read; the message is one line for the user."""


class UndeclaredRouterError(RecordingError):
    """A frame or raw record of a router the file was not opened with."""


def _check_router_id(instance, attribute, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError("router_id must be a non-empty string")


def _check_hw_format(instance, attribute, value: str) -> None:
    if value not in HW_FORMATS:
        raise ValueError(f"unknown hardware format {value!r} (known: {', '.join(HW_FORMATS)})")


@attrs.frozen(slots=True)
class RouterInfo:
    """A router a recording holds frames of; stored as attributes of its group."""

    router_id: str = attrs.field(validator=_check_router_id)
    environment_id: str
    hw_format: str = attrs.field(validator=_check_hw_format)


def group_name(router_id: str) -> str:
    """The HDF5 group name of a router: its id, percent-encoded where HDF5 needs it.

    '/' separates HDF5 path components and '.' names the current group, so both are
    encoded; the true id is also kept in the group's ``router_id`` attribute.
    """
    name = quote(router_id, safe=" -_:@,+=~()[]{}!$&';")
    if name.startswith("."):
        name = "%2E" + name[1:]
    return name


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape what a recording holds (metadata only, no import)."""
    import h5py
    import numpy

    versions = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "h5py": h5py.version.version,
        "hdf5": h5py.version.hdf5_version,
    }
    for dist in ("csiread", "numba", "attrs"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def config_json(config) -> str:
    """A JSON text snapshot of a configuration: a mapping, an attrs object, text or None."""
    if config is None:
        return "null"
    if isinstance(config, str):
        try:
            json.loads(config)
        except ValueError:
            return json.dumps(config)  # plain text, kept as a JSON string
        return config
    if attrs.has(type(config)):
        config = attrs.asdict(config)
    return json.dumps(config, sort_keys=True, default=str)
