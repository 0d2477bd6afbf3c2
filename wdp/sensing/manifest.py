"""Labelled capture files: the training and evaluation input of the real-data detectors.

A user teaches wdp a room with labelled captures (capture files of any format
``wdp import`` reads, or wdp recordings), given either as

- a **manifest**: a CSV file with a header and the columns ``file,label`` and optionally
  ``group`` (who or where: the unit left out in leave-one-out figures), ``start_s`` and
  ``end_s`` (the labelled part of the file, seconds from its first frame); relative
  paths are relative to the manifest; a recording's empty label or group cell is taken
  from the recording (``wdp record --label --group``); or
- a **folder**: ``ROOT/<label>/<file>``, every capture file under a folder named for
  its class, and ``ROOT/<recording>.h5``, labelled recordings (label and group read
  from the file). The group is the recording's ``label_group``, else the file's name
  up to its first ``_`` or digit.

A label a recording was made with must agree with the manifest row or class folder
that names it: a disagreement is an error, never silently one or the other.

``shared_datasets`` lists the four public real-data sets (Intel 5300 HAR, nexmon falls,
ESP32 quiet vs movement, WiAR) with their labels and the person or session that is left
out in their leave-one-out figures; subject spellings that vary between files of one
person are folded into one group.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import attrs

from wdp.recorder.schema import check_group, check_label
from wdp.sensing.stream import RECORDING_SUFFIXES

#: File endings of capture files and recordings (anything else under a class folder is
#: ignored).
CAPTURE_SUFFIXES = (".dat", ".pcap", ".csv", ".npz", *RECORDING_SUFFIXES)


class ManifestError(ValueError):
    """A manifest or class folder wdp cannot use (one line naming the file and row)."""


@attrs.frozen(slots=True)
class LabelledFile:
    """One capture file (or its ``[start_s, end_s)`` part) and what happened in it."""

    path: Path
    label: str
    group: str = ""
    start_s: float | None = None
    end_s: float | None = None
    #: Name of the data set the file belongs to ("" for a user's own manifest).
    dataset: str = ""
    #: The hardware a recording was made with ("" for capture files: known once read).
    hw_format: str = ""


def _optional_seconds(value: str, where: str, column: str) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ManifestError(f"{where}: {column} must be seconds, got {value!r}") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise ManifestError(f"{where}: {column} must be >= 0 and finite, got {value!r}")
    return seconds


def read_manifest(path: str | Path) -> list[LabelledFile]:
    """The entries of a manifest CSV (see the module docstring); ManifestError if unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows, first = [], 2  # (first line, row): a quoted cell may span lines
    for row in reader:
        rows.append((first, row))
        first = reader.line_num + 1
    if not rows:
        raise ManifestError(f"{path}: no entries (a header 'file,label' and one row per file)")
    missing = {"file", "label"} - set(reader.fieldnames or ())
    if missing:
        raise ManifestError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    entries = []
    for line, row in rows:
        where = f"{path}:{line}"
        file = (row.get("file") or "").strip()
        if not file:
            raise ManifestError(f"{where}: file must not be empty")
        start = _optional_seconds(row.get("start_s"), where, "start_s")
        end = _optional_seconds(row.get("end_s"), where, "end_s")
        if start is not None and end is not None and end <= start:
            raise ManifestError(f"{where}: end_s ({end}) must be after start_s ({start})")
        full = Path(file) if Path(file).is_absolute() else path.parent / file
        if not full.is_file():
            raise ManifestError(f"{where}: no such file {full}")
        label = (row.get("label") or "").strip()
        label, group, hw = _labelled(full, label, (row.get("group") or "").strip(), where)
        entries.append(LabelledFile(full, label, group, start, end, hw_format=hw))
    return entries


def _labelled(file: Path, label: str, group: str, where: str) -> tuple[str, str, str]:
    """The label, group and hardware of ``file`` as named at ``where`` (a manifest row or
    class folder; "" when not named), completed from the file if it is a recording."""
    _check_labels(where, label, group)
    hw = ""
    if file.suffix.lower() in RECORDING_SUFFIXES:
        try:
            recorded, recorded_group, hw = recording_label(file)
        except ManifestError as exc:
            raise ManifestError(f"{where}: {exc}") from None
        if label and recorded and label != recorded:
            raise ManifestError(
                f"{where}: labelled {label!r}, but {file} was recorded as {recorded!r}"
            )
        label, group = label or recorded, group or recorded_group
    if not label:
        raise ManifestError(
            f"{where}: no label for {file} (give one, or record it with wdp record --label)"
        )
    return label, group or _group_from_name(file.name), hw


def recording_label(path: Path) -> tuple[str, str, str]:
    """The ``label`` and ``label_group`` a wdp recording was made with ("" where none)
    and its routers' hardware format (comma-joined if they differ); ManifestError (one
    line naming the file) for a file that is not a wdp recording."""
    from wdp.recorder import RecordingError, open_recording

    try:
        with open_recording(path) as rec:
            label, group = rec.attrs.label, rec.attrs.label_group
            hw = ",".join(sorted({r.hw_format for r in rec.routers}))
    except RecordingError as exc:
        raise ManifestError(str(exc)) from None
    # wdp writes only valid ones; another tool may not have
    _check_labels(f"{path}: recorded", label, group, "label_group")
    return label, group, hw


def _check_labels(where: str, label: str, group: str, group_name: str = "group") -> None:
    """ManifestError naming ``where`` unless the label and group (each if given) can be."""
    try:
        if label:
            check_label(label)
        if group:
            check_group(group, group_name)
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}") from None


def from_class_folders(root: str | Path, *, dataset: str = "") -> list[LabelledFile]:
    """Every capture file under ``root/<label>/`` (sorted), labelled by its folder, and
    every labelled recording in ``root`` itself (a folder of ``wdp record --label``
    sessions). A recording there without a label is an error naming it."""
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"{root} is not a folder of class folders or recordings")
    entries = []
    for f in sorted(p for p in root.iterdir() if p.is_file()):
        if f.suffix.lower() in RECORDING_SUFFIXES:
            label, group, hw = recording_label(f)
            if not label:
                raise ManifestError(
                    f"{f}: a recording without a label: record it with --label, or move it "
                    "into a folder named for its class"
                )
            group = group or _group_from_name(f.name)
            entries.append(LabelledFile(f, label, group, dataset=dataset, hw_format=hw))
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix.lower() in CAPTURE_SUFFIXES:
                label, group, hw = _labelled(f, folder.name, "", f"class folder {folder}")
                entries.append(LabelledFile(f, label, group, dataset=dataset, hw_format=hw))
    if not entries:
        raise ManifestError(
            f"{root}: no labelled recordings and no capture files under any class folder"
        )
    return entries


def read_labels(source: str | Path) -> list[LabelledFile]:
    """A manifest file, or a folder of class folders and labelled recordings, whichever
    ``source`` is."""
    source = Path(source)
    return from_class_folders(source) if source.is_dir() else read_manifest(source)


def _group_from_name(name: str) -> str:
    """A file's group by convention: its name up to the first ``_`` or digit."""
    stem = Path(name).stem
    head = re.split(r"[_\d]", stem, maxsplit=1)[0]
    return head or stem


# ---- the public real-data sets -------------------------------------------------------

#: intel5300-har11: spellings of one subject across files, folded into one name. The
#: long still recordings are named <subject>tang (lying) and <subject>zuo/zhuo (sitting).
HAR11_SUBJECTS = {
    "abid": "abid",
    "hhj": "hhj",
    "hjj": "hhj",
    "qiang": "qiang",
    "xiaoqiang": "qiang",
    "yingying": "yingying",
    "liyun": "liyun",
    "zhangliyun": "liyun",
    "zyy": "liyun",
}

#: intel5300-har11 folder names and wdp's activity labels.
HAR11_LABELS = {
    "falldown": "fall",
    "jump": "jump",
    "lying": "lying",
    "pick up": "pick_up",
    "running": "running",
    "sit down": "sit_down",
    "sitting": "sitting",
    "squart": "squat",
    "stand up": "stand_up",
    "walking": "walking",
    "wave": "wave",
}

#: nexmon-fition folder prefixes and wdp's activity labels (``nm``: no movement).
FITION_LABELS = {
    "falling": "fall",
    "walking": "walking",
    "sitdown": "sit_down",
    "standup": "stand_up",
    "getintobed": "get_into_bed",
    "nm": "no_movement",
}

#: The transmitter of the nexmon-fition captures (the receiver heard others too).
FITION_TRANSMITTER = "b8:27:eb:03:e1:9f"


def _har11_subject(name: str) -> str:
    stem = Path(name).stem
    head = re.split(r"[_\d]", stem, maxsplit=1)[0]
    for suffix in ("tang", "zhuo", "zuo"):
        if head.endswith(suffix):
            head = head[: -len(suffix)]
    return HAR11_SUBJECTS.get(head, head)


def har11(root: Path) -> list[LabelledFile]:
    """intel5300-har11: 11 activities, 5 subjects, one room (group = subject)."""
    base = root / "intel5300-har11" / "0510"
    return [
        LabelledFile(
            f, HAR11_LABELS[folder.name], _har11_subject(f.name), dataset="intel5300-har11"
        )
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and p.name in HAR11_LABELS)
        for f in sorted(folder.glob("*.dat"))
    ]


def fition(root: Path) -> list[LabelledFile]:
    """nexmon-fition: 6 classes, users 1 and 2 (one physical room; group = user)."""
    base = root / "nexmon-fition"
    entries = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        match = re.fullmatch(r"([a-z]+)_(user\d+)_rm\d+", folder.name)
        if match is None or match.group(1) not in FITION_LABELS:
            continue
        label, user = FITION_LABELS[match.group(1)], match.group(2)
        entries.extend(
            LabelledFile(f, label, user, dataset="nexmon-fition")
            for f in sorted(folder.glob("*.pcap"))
        )
    return entries


def espectre(root: Path) -> list[LabelledFile]:
    """esp32-espectre: ``quiet`` vs ``movement`` files (group = chip); test/ excluded.

    The 60 s file in ``test/`` holds both (quiet until packet 3040), so it is not a
    labelled file of one class: evaluations read it on their own.
    """
    base = root / "esp32-espectre"
    entries = []
    for folder, label in (("baseline", "quiet"), ("movement", "movement")):
        for f in sorted((base / folder).glob("*.npz")):
            chip = f.name.split("_")[1]
            entries.append(LabelledFile(f, label, chip, dataset="esp32-espectre"))
    return entries


def wiar(root: Path) -> list[LabelledFile]:
    """intel5300-wiar: 16 activities of one person, 10 samples each (group = sample)."""
    base = root / "intel5300-wiar"
    entries = []
    for f in sorted(base.glob("csi_a*_*.dat")):
        match = re.fullmatch(r"csi_a(\d+)_(\d+)\.dat", f.name)
        if match is not None:
            entries.append(
                LabelledFile(
                    f, f"a{int(match.group(1))}", f"s{match.group(2)}", dataset="intel5300-wiar"
                )
            )
    return entries


#: The public data sets by name.
SHARED_DATASETS = {
    "intel5300-har11": har11,
    "nexmon-fition": fition,
    "esp32-espectre": espectre,
    "intel5300-wiar": wiar,
}


def shared_datasets(root: str | Path) -> dict[str, list[LabelledFile]]:
    """The entries of every public data set present under ``root`` (real-data folder)."""
    root = Path(root)
    out = {}
    for name, lister in SHARED_DATASETS.items():
        if (root / name).is_dir():
            out[name] = lister(root)
    return out
