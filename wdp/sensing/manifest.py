"""Labelled capture files: the training and evaluation input of the real-data detectors.

A user teaches wdp a room with labelled captures, given either as

- a **manifest**: a CSV file with a header and the columns ``file,label`` and optionally
  ``group`` (who or where: the unit left out in leave-one-out figures), ``start_s`` and
  ``end_s`` (the labelled part of the file, seconds from its first frame); relative
  paths are relative to the manifest; or
- **class folders**: ``ROOT/<label>/<file>``, every capture file under a folder named
  for its class (the group is then the file's name up to its first ``_`` or digit).

``shared_datasets`` lists the four public real-data sets (Intel 5300 HAR, nexmon falls,
ESP32 quiet vs movement, WiAR) with their labels and the person or session that is left
out in their leave-one-out figures; subject spellings that vary between files of one
person are folded into one group.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import attrs

#: File endings of capture files (anything else under a class folder is ignored).
CAPTURE_SUFFIXES = (".dat", ".pcap", ".csv", ".npz", ".h5")


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
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise ManifestError(f"{path}: no entries (a header 'file,label' and one row per file)")
    missing = {"file", "label"} - set(rows[0].keys())
    if missing:
        raise ManifestError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    entries = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}:{line}"
        file, label = (row.get("file") or "").strip(), (row.get("label") or "").strip()
        if not file or not label:
            raise ManifestError(f"{where}: file and label must not be empty")
        start = _optional_seconds(row.get("start_s"), where, "start_s")
        end = _optional_seconds(row.get("end_s"), where, "end_s")
        if start is not None and end is not None and end <= start:
            raise ManifestError(f"{where}: end_s ({end}) must be after start_s ({start})")
        full = Path(file) if Path(file).is_absolute() else path.parent / file
        if not full.is_file():
            raise ManifestError(f"{where}: no such file {full}")
        group = (row.get("group") or "").strip() or _group_from_name(full.name)
        entries.append(LabelledFile(full, label, group, start, end))
    return entries


def from_class_folders(root: str | Path, *, dataset: str = "") -> list[LabelledFile]:
    """Every capture file under ``root/<label>/`` (sorted), labelled by its folder."""
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"{root} is not a folder of class folders")
    entries = [
        LabelledFile(f, folder.name, _group_from_name(f.name), dataset=dataset)
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        for f in sorted(folder.iterdir())
        if f.is_file() and f.suffix.lower() in CAPTURE_SUFFIXES
    ]
    if not entries:
        raise ManifestError(f"{root}: no capture files under any class folder")
    return entries


def read_labels(source: str | Path) -> list[LabelledFile]:
    """A manifest file or a folder of class folders, whichever ``source`` is."""
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
