"""``wdp train --labels`` and ``wdp eval --labels``: the activity and fall detectors of
one hardware profile, from labelled real captures.

``--labels`` takes a manifest CSV, a folder of class folders and labelled recordings
(``wdp record --label``), or one of the public real-data sets' folders
(``.../real-data/intel5300-har11``: its subjects' spellings folded), and may be repeated
to pool sets of one profile.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

from wdp.sensing.detector import PROFILE_RATES, Detector, DetectorError
from wdp.sensing.features import WindowSpec
from wdp.sensing.learn import (
    TrainConfig,
    evaluate,
    extract,
    format_summary,
    leave_one_out,
    summarize,
    train_detector,
)
from wdp.sensing.manifest import SHARED_DATASETS, ManifestError, read_labels, shared_datasets
from wdp.sensing.stream import StreamError

#: Where extracted window features are kept between runs.
DEFAULT_CACHE = Path(".wdp") / "cache" / "sensing"


def add_label_arguments(p: argparse.ArgumentParser, *, train: bool) -> None:
    """The sensing options of ``wdp train`` / ``wdp eval`` (beside the pose model's)."""
    p.add_argument(
        "--labels",
        action="append",
        default=None,
        help="labelled real captures: manifest CSV, folder of class folders and labelled "
        "recordings, or a real-data set folder (repeatable); trains/evaluates the activity "
        "and fall detector",
    )
    p.add_argument(
        "--profile",
        choices=sorted(PROFILE_RATES),
        default=None,
        help="hardware profile of the labelled captures (with --labels)",
    )
    if train:
        p.add_argument("--window", type=float, default=4.0, help="window seconds (--labels)")
    else:
        p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
        p.add_argument("--detector", type=Path, default=None, help="detector file (.npz)")
        p.add_argument(
            "--leave-one-out",
            choices=["group"],
            default=None,
            help="train without each group (person or room) in turn and evaluate on it",
        )


def load_entries(sources: list[str]):
    """Labelled files of every ``--labels`` source."""
    entries = []
    for source in sources:
        path = Path(source)
        if path.is_dir() and path.name in SHARED_DATASETS:
            entries += shared_datasets(path.parent)[path.name]
        else:
            entries += read_labels(path)
    return entries


def load_data(entries, spec: WindowSpec, cache: Path | None, quiet: bool):
    """Window features of every labelled file (cached); unreadable files are skipped
    with one line each."""
    from tqdm import tqdm

    data = []
    for e in tqdm(entries, desc="features", disable=quiet, unit="file"):
        try:
            data.append(extract(e, spec, cache))
        except (StreamError, OSError, ValueError) as exc:
            print(f"skipped {e.path}: {exc}", file=sys.stderr)
    return data


def run_train(args: argparse.Namespace) -> int:
    """``wdp train --labels ... --profile P --out detector.npz``."""
    if args.profile is None:
        print("wdp train: error: --labels needs --profile", file=sys.stderr)
        return 1
    if not args.out.parent.is_dir():
        print(f"wdp train: error: {args.out.parent} is not a folder", file=sys.stderr)
        return 1
    try:
        entries = load_entries(args.labels)
    except ManifestError as exc:
        print(f"wdp train: error: {exc}", file=sys.stderr)
        return 1
    wrong = _other_hardware(entries, args.profile, f"--profile is {args.profile}")
    if wrong:
        print(f"wdp train: error: {wrong}", file=sys.stderr)
        return 1
    spec = WindowSpec(rate_hz=PROFILE_RATES[args.profile], window_s=args.window)
    data = load_data(entries, spec, args.cache or DEFAULT_CACHE, args.quiet)
    if len({fd.entry.label for fd in data}) < 2:
        print("wdp train: error: need captures of at least two labels", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    training = {
        "command": "wdp " + shlex.join(getattr(args, "argv", None) or sys.argv[1:]),
        "files": len(data),
        "labels": sorted({fd.entry.label for fd in data}),
    }
    det = train_detector(data, args.profile, spec, TrainConfig(seed=args.seed), training)
    det.save(args.out)
    print(
        f"wrote {args.out}: {len(data)} files, classes {', '.join(det.classes)}; fall "
        f"threshold {det.rules.threshold:.2f} ({time.monotonic() - t0:.1f} s)"
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """``wdp eval --labels ... [--detector D] [--leave-one-out group] [--json]``."""
    try:
        entries = load_entries(args.labels)
        det = Detector.load(args.detector) if args.detector else None
    except (ManifestError, DetectorError) as exc:
        print(f"wdp eval: error: {exc}", file=sys.stderr)
        return 1
    if det is None and not args.leave_one_out:
        print("wdp eval: error: --labels needs --detector or --leave-one-out", file=sys.stderr)
        return 1
    wrong = _unusable(entries, det, args)
    if wrong:
        print(f"wdp eval: error: {wrong}", file=sys.stderr)
        return 1
    if det is not None:
        spec = det.spec
    else:
        spec = WindowSpec(rate_hz=PROFILE_RATES[args.profile or _guess_profile(entries)])
    data = load_data(entries, spec, args.cache or DEFAULT_CACHE, args.quiet)
    if args.leave_one_out:
        profile = det.profile if det is not None else args.profile or _guess_profile(entries)
        try:
            out = leave_one_out(data, profile, spec, TrainConfig(), progress=None)
        except ValueError as exc:
            print(f"wdp eval: error: {exc}", file=sys.stderr)
            return 1
        title = f"leave one {args.leave_one_out} out ({len(data)} files)"
    else:
        out = evaluate(det, data)
        title = f"{args.detector} on {len(data)} files"
    summary = summarize(out)
    print(format_summary(summary, title))
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


def _unusable(entries, det: Detector | None, args: argparse.Namespace) -> str | None:
    """Why ``wdp eval`` cannot give honest figures on ``entries`` (one line), or None: a
    label of the user's the detector does not know (a typo would count as a wrong
    answer; a public set's other classes are fine, e.g. WiAR's for false falls), or a
    recording of other hardware than the detector's or ``--profile``'s."""
    if det is None:
        profile = args.profile or _guess_profile(entries)
        why = f"--profile is {profile}" if args.profile else f"others are {profile}"
        return _other_hardware(entries, profile, why)
    unknown = [e for e in entries if not e.dataset and e.label not in det.classes]
    if unknown:
        more = f" (and {len(unknown) - 1} more files)" if len(unknown) > 1 else ""
        return (
            f"{unknown[0].path}: label {unknown[0].label!r} is not a class of "
            f"{args.detector} ({', '.join(det.classes)}){more}"
        )
    return _other_hardware(entries, det.profile, f"{args.detector} is for {det.profile}")


def _other_hardware(entries, profile: str | None, why: str) -> str | None:
    """The first recording made with another profile's hardware, as an error line: a
    detector learns one profile's rate and links (None when all agree or are unknown)."""
    for e in entries:
        if profile and e.hw_format in PROFILE_RATES and e.hw_format != profile:
            return f"{e.path}: recorded with {e.hw_format} hardware, but {why}"
    return None


def _guess_profile(entries) -> str:
    """The profile the files suggest when none is given: the hardware of most
    recordings, else nexmon for pcaps and intel5300 otherwise."""
    recorded = Counter(e.hw_format for e in entries if e.hw_format in PROFILE_RATES)
    if recorded:
        return max(sorted(recorded), key=recorded.__getitem__)
    suffixes = {e.path.suffix.lower() for e in entries}
    return "nexmon" if suffixes == {".pcap"} else "intel5300"
