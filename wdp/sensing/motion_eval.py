"""The motion tier measured on the public real captures, calibrated leave-one-out.

Every file is judged by a fresh ``MotionDetector`` whose calibration never saw it:

- **esp32-espectre**: each session of a chip is a quiet and a movement file recorded a
  minute apart. A *movement* file is judged with the calibration of its own session's
  quiet file (the room calibrated, then someone moves: how ``wdp calibrate`` is used);
  a *quiet* file with the calibration of the chip's *other* session (days or weeks
  apart: the harder case, a stale calibration). ``cross_session=True`` judges movement
  files with the other session's calibration too (reported beside it). The 60 s
  ``test/`` file (C3, quiet until packet 3040) is judged with both C3 quiet files;
  windows straddling packet 3040 are left out. F1 is window-level, movement positive.
- **nexmon-fition**: the ``nm`` (no movement) files of the *other* user (one
  physical room; leave-one-user-out). Only frames of the set's transmitter are used.
- **intel5300-har11**: the still recordings (``lying``, ``sitting``) of the *other*
  subjects (one room; leave-one-subject-out).
- **intel5300-wiar**: no quiet recording exists; the quietest 10 % of the windows
  of the *other* samples (all activities) stand for the quiet room.

**Label edges.** Labels are per file, and the people who made these captures start
and stop them by hand: the first and last seconds of the files show them settling or
getting up (har11's 6-minute sitting and lying files move in their first 6 s and
last 10 s; espectre's S3 quiet file of 2026-01-17 wanders by 35 % on every
subcarrier for its first 1.7 s, then is flat). Windows within ``EDGE_S`` of either end
of a file are not scored, in every file of every set, quiet and movement alike.

**Moving windows of activity files.** Activity files hold the action somewhere inside
stillness (har11: roughly mid-file; fition: 10 s files with a few seconds of action; a
fall ends lying still) and carry no onset labels, so the windows where the person
moves are annotated in hindsight: those whose variability is at least
``ACTIVE_FACTOR`` times the quiet level of that person in that session (the lower of
the file's own quietest decile and the median of the same person's quiet recordings:
a file of continuous walking has no quiet decile of its own), plus a single window
between two such (a pause within the action). ``ACTIVE_FACTOR`` is the detector's own
threshold, so the figure answers: does the detector, online, with a calibration made
of other people's (or another session's) quiet room, see the motion that the same rule
sees with the person's own quiet level in hindsight? The share of all windows with
motion and the share of activity files with any motion are reported beside it.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np

from wdp.capture.formats import read_capture
from wdp.sensing.calibration import Calibration, from_variabilities
from wdp.sensing.manifest import FITION_TRANSMITTER, LabelledFile, shared_datasets
from wdp.sensing.motion import MotionConfig, MotionDetector, WindowFeatures, stream_features
from wdp.sensing.stream import CsiStream, from_batch, load_stream

#: An activity window is moving when its variability reaches this many times the
#: file's quietest decile (see the module docstring): the detector's threshold.
ACTIVE_FACTOR = MotionConfig().threshold
#: Seconds at either end of every file that are not scored (label edges).
EDGE_S = 2.0
#: Classes that are quiet (a person keeping still, or nobody) in each data set.
QUIET = {
    "esp32-espectre": ("quiet",),
    "nexmon-fition": ("no_movement",),
    "intel5300-har11": ("lying", "sitting"),
    "intel5300-wiar": (),
}
ESPECTRE_TEST = Path("esp32-espectre") / "test"
ESPECTRE_TEST_ONSET_PACKET = 3040


@attrs.frozen(slots=True)
class Judged:
    """One file's windows: their features, the detector's motion flags, the calibration."""

    entry: LabelledFile
    features: list[WindowFeatures]
    motion: np.ndarray  # bool [W]
    calibration: str
    span_s: tuple[float, float] = (0.0, float("inf"))  # first and last frame of the file

    def scored(self, window_s: float) -> np.ndarray:
        """Windows the gate accepted and that lie clear of the file's label edges."""
        lo, hi = self.span_s
        inside = [f.t_s - window_s >= lo + EDGE_S and f.t_s <= hi - EDGE_S for f in self.features]
        return np.array([f.ok for f in self.features], dtype=bool) & np.array(inside, dtype=bool)


def _mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


def load(entry: LabelledFile) -> CsiStream:
    """The file's stream; fition files keep only the set's transmitter's frames."""
    if entry.dataset != "nexmon-fition":
        return load_stream(entry.path)
    batch = read_capture(entry.path, router_id="r", environment_id="e").batch
    keep = np.flatnonzero(batch.source_mac == _mac(FITION_TRANSMITTER))
    columns = {}
    for f in attrs.fields(type(batch)):
        v = getattr(batch, f.name)
        columns[f.name] = v[keep] if isinstance(v, np.ndarray) else v
    return from_batch(type(batch)(**columns))


def _session(entry: LabelledFile, entries: list[LabelledFile]) -> Path:
    """The quiet file of an espectre session: the chip's latest quiet file before it."""
    stamp = entry.path.stem.split("_", 3)[-1]
    quiet = sorted(
        (e.path.stem.split("_", 3)[-1], e.path)
        for e in entries
        if e.group == entry.group and e.label == "quiet"
    )
    before = [p for s, p in quiet if s <= stamp]
    return before[-1] if before else quiet[0][1]


def calibration_files(
    entry: LabelledFile, entries: list[LabelledFile], *, cross_session: bool = False
) -> tuple[Path, ...]:
    """The files a test file's calibration is learned from (see the module docstring)."""
    ds = entry.dataset
    if ds == "esp32-espectre":
        if entry.path.parent.name == "test":
            return tuple(e.path for e in entries if e.group == entry.group and e.label == "quiet")
        own = _session(entry, entries)
        if entry.label != "quiet" and not cross_session:
            return (own,)
        return tuple(
            e.path
            for e in entries
            if e.group == entry.group and e.label == "quiet" and e.path != own
        )
    quiet = QUIET[ds]
    return tuple(
        e.path
        for e in entries
        if e.group != entry.group and (not quiet or e.label in quiet) and e.path != entry.path
    )


def active_windows(variability: np.ndarray, own_quiet: float = np.inf) -> np.ndarray:
    """The hindsight annotation of where an activity file's person moves (module doc);
    ``own_quiet``: the median variability of the same person's quiet recordings."""
    v = np.asarray(variability, dtype=np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        return np.zeros(v.shape[0], dtype=bool)
    level = min(float(np.percentile(v[finite], 10)), own_quiet)
    high = finite & (v >= ACTIVE_FACTOR * level)
    pause = np.zeros_like(high)
    pause[1:-1] = high[:-2] & high[2:]
    return (high | pause) & finite


def _judge(
    entry: LabelledFile,
    feats: list[WindowFeatures],
    span_s: tuple[float, float],
    cal: Calibration,
    cfg: MotionConfig,
) -> Judged:
    det = MotionDetector(cal, cfg)
    motion = np.array([det.decide(f).motion for f in feats], dtype=bool)
    return Judged(entry, feats, motion, cal.source, span_s)


#: A file's windows and the times of its first and last frame.
FileWindows = tuple[list[WindowFeatures], tuple[float, float]]


def judge_dataset(
    entries: list[LabelledFile],
    cfg: MotionConfig,
    features: Callable[[Path], FileWindows],
    *,
    cross_session: bool = False,
) -> list[Judged]:
    """Every file of one data set judged with its leave-one-out calibration."""
    cals: dict[tuple[Path, ...], Calibration] = {}
    out = []
    for entry in entries:
        files = calibration_files(entry, entries, cross_session=cross_session)
        if files not in cals:
            values = [f.variability for p in files for f in features(p)[0] if f.ok]
            names = sorted({p.parent.name for p in files})
            cals[files] = from_variabilities(
                values,
                cfg,
                source=f"{len(files)} files of {', '.join(names)}",
                quiet_fraction=0.1 if entry.dataset == "intel5300-wiar" else 1.0,
            )
        out.append(_judge(entry, *features(entry.path), cals[files], cfg))
    return out


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / max(2 * tp + fp + fn, 1)


def _espectre_test(root: Path, entries, cfg, features) -> list[Judged]:
    """The 60 s C3 file, split at its onset into a quiet and a movement part."""
    out = []
    for path in sorted((root / ESPECTRE_TEST).glob("*.npz")):
        chip = path.name.split("_")[1]
        entry = LabelledFile(path, "test", chip, dataset="esp32-espectre")
        files = calibration_files(entry, entries)
        values = [f.variability for p in files for f in features(p)[0] if f.ok]
        cal = from_variabilities(values, cfg, source=f"{len(files)} quiet files of {chip}")
        stream = load(entry)
        onset = float(stream.t_s[min(ESPECTRE_TEST_ONSET_PACKET, stream.t_s.shape[0] - 1)])
        judged = _judge(entry, *features(path), cal, cfg)
        ends = np.array([f.t_s for f in judged.features])
        for label, part in (("quiet", ends <= onset), ("movement", ends - cfg.window_s >= onset)):
            idx = np.flatnonzero(part)
            out.append(
                Judged(
                    attrs.evolve(entry, label=label, group=f"{chip} test"),
                    [judged.features[i] for i in idx],
                    judged.motion[idx],
                    judged.calibration,
                    judged.span_s,
                )
            )
    return out


@attrs.frozen(slots=True)
class Row:
    """One line of the motion table: a class of a data set, or a data set's summary."""

    dataset: str
    label: str  # a class, or "all" for the summary
    kind: str  # "quiet", "activity" or "summary"
    files: int
    windows: int  # scored windows (refused ones and label edges excluded)
    refused: int  # windows the quality gate refused
    motion_pct: float  # share of windows with motion (whole files)
    segment_windows: int = 0  # activity: the moving windows (hindsight annotation)
    segment_motion_pct: float = float("nan")  # activity: motion reported in them
    files_detected_pct: float = float("nan")  # activity: files with any motion
    f1_pct: float = float("nan")  # summary: window-level F1 (esp32: movement vs quiet)
    fp_pct: float = float("nan")  # summary: motion share of quiet windows
    calibration: str = ""


def _own_quiet(judged: list[Judged]) -> dict[str, float]:
    """Per group (person), the median variability of its quiet recordings."""
    values: dict[str, list[float]] = defaultdict(list)
    for j in judged:
        if j.entry.label in QUIET[j.entry.dataset]:
            values[j.entry.group] += [f.variability for f in j.features if f.ok]
    return {g: float(np.median(v)) for g, v in values.items() if v}


def _class_row(
    dataset: str, label: str, judged: list[Judged], window_s: float, own: dict[str, float]
) -> Row:
    quiet = label in QUIET[dataset] or label == "quiet"
    ok = [j.scored(window_s) for j in judged]
    n = sum(int(m.sum()) for m in ok)
    pos = sum(int(j.motion[m].sum()) for j, m in zip(judged, ok, strict=True))
    refused = sum(sum(not f.ok for f in j.features) for j in judged)
    row = Row(
        dataset,
        label,
        "quiet" if quiet else "activity",
        len(judged),
        n,
        refused,
        100.0 * pos / max(n, 1),
        calibration=judged[0].calibration if judged else "",
    )
    if quiet or dataset == "esp32-espectre":
        return row
    seg_n = seg_pos = detected = 0
    for j, m in zip(judged, ok, strict=True):
        v = np.array([f.variability for f in j.features])
        seg = active_windows(v, own.get(j.entry.group, np.inf)) & m
        seg_n += int(seg.sum())
        seg_pos += int(j.motion[seg].sum())
        detected += bool(j.motion[m].any())
    return attrs.evolve(
        row,
        segment_windows=seg_n,
        segment_motion_pct=100.0 * seg_pos / max(seg_n, 1),
        files_detected_pct=100.0 * detected / max(len(judged), 1),
    )


def _summary(dataset: str, rows: list[Row]) -> Row:
    quiet = [r for r in rows if r.kind == "quiet"]
    act = [r for r in rows if r.kind == "activity"]
    qn = sum(r.windows for r in quiet)
    fp = sum(round(r.motion_pct * r.windows / 100) for r in quiet)
    if dataset == "esp32-espectre":
        pn = sum(r.windows for r in act)
        tp = sum(round(r.motion_pct * r.windows / 100) for r in act)
        f1, an, ap = 100.0 * _f1(tp, fp, pn - tp), pn, 100.0 * tp / max(pn, 1)
        seg_n, seg_pct = 0, float("nan")
    else:
        f1 = float("nan")
        an = sum(r.windows for r in act)
        ap = 100.0 * sum(r.motion_pct * r.windows / 100 for r in act) / max(an, 1)
        seg_n = sum(r.segment_windows for r in act)
        seg_pct = sum(r.segment_motion_pct * r.segment_windows / 100 for r in act)
        seg_pct = 100.0 * seg_pct / max(seg_n, 1)
    return Row(
        dataset,
        "all",
        "summary",
        sum(r.files for r in rows),
        qn + an,
        sum(r.refused for r in rows),
        ap,
        seg_n,
        seg_pct,
        float("nan"),
        f1,
        100.0 * fp / qn if qn else float("nan"),
    )


def _subset(entries: list[LabelledFile], every: int) -> list[LabelledFile]:
    """Every ``every``-th activity file per class and group (quiet files all kept)."""
    if every <= 1:
        return entries
    seen: dict[tuple[str, str], int] = defaultdict(int)
    out = []
    for e in entries:
        k = (e.label, e.group)
        if e.label in QUIET[e.dataset] or seen[k] % every == 0:
            out.append(e)
        seen[k] += 1
    return out


def evaluate(
    real_data_root: str | Path,
    cfg: MotionConfig | None = None,
    *,
    datasets: tuple[str, ...] | None = None,
    every: int = 1,
    cross_session: bool = False,
) -> list[Row]:
    """The motion table's rows (see ``motion_table``); ``every`` > 1 thins activity files;
    ``cross_session`` calibrates espectre movement files with the other session."""
    cfg = cfg or MotionConfig()
    root = Path(real_data_root)
    cache: dict[Path, FileWindows] = {}

    def features(path: Path) -> FileWindows:
        if path not in cache:
            entry = by_path.get(path) or LabelledFile(path, "", dataset="esp32-espectre")
            s = load(entry)
            span = (float(s.t_s[0]), float(s.t_s[-1])) if s.t_s.shape[0] else (0.0, 0.0)
            cache[path] = (stream_features(s.t_s, s.amp, cfg), span)
        return cache[path]

    rows: list[Row] = []
    for name, entries in shared_datasets(root).items():
        if datasets is not None and name not in datasets:
            continue
        entries = _subset(entries, every)
        by_path = {e.path: e for e in entries}
        judged = judge_dataset(entries, cfg, features, cross_session=cross_session)
        if name == "esp32-espectre":
            judged += _espectre_test(root, entries, cfg, features)
        by_label: dict[str, list[Judged]] = defaultdict(list)
        for j in judged:
            by_label[j.entry.label].append(j)
        own = _own_quiet(judged)
        ds_rows = [
            _class_row(name, label, js, cfg.window_s, own) for label, js in sorted(by_label.items())
        ]
        rows += ds_rows + [_summary(name, ds_rows)]
    return rows


def _pct(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:5.1f}"


def format_table(rows: list[Row]) -> str:
    """The rows as a plain-text table."""
    head = (
        f"{'dataset':<16} {'class':<13} {'kind':<8} {'files':>5} {'windows':>7} {'refused':>7}"
        f" {'motion%':>7} {'seg.win':>7} {'seg.mot%':>8} {'files%':>6} {'F1%':>5} {'FP%':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.dataset:<16} {r.label:<13} {r.kind:<8} {r.files:>5} {r.windows:>7}"
            f" {r.refused:>7} {_pct(r.motion_pct):>7} {r.segment_windows or '-':>7}"
            f" {_pct(r.segment_motion_pct):>8} {_pct(r.files_detected_pct):>6}"
            f" {_pct(r.f1_pct):>5} {_pct(r.fp_pct):>5}"
        )
    return "\n".join(lines)


def motion_table(real_data_root: str | Path, cfg: MotionConfig | None = None) -> list[Row]:
    """Evaluate the motion tier on every public data set present, print and return the rows.

    Per data set and class: files, judged windows, windows the quality gate refused,
    motion % of all windows; activity classes also the active segment's windows and
    motion %, and the share of files with any motion; a summary row per data set
    with F1 (esp32) and the motion % of quiet windows (FP%). Windows are
    ``cfg.window_s`` long every ``cfg.hop_s`` (1 s every 0.5 s by default).
    """
    rows = evaluate(real_data_root, cfg)
    print(format_table(rows))
    return rows


#: The public quiet recordings each hardware profile's shipped prior is made of.
PRIOR_SOURCES = {
    "esp32": "esp32-espectre",
    "nexmon": "nexmon-fition",
    "intel5300": "intel5300-har11",
}


def write_priors(real_data_root: str | Path, out_dir: str | Path) -> list[Path]:
    """``quiet_<profile>.json`` per hardware profile from every quiet recording of the
    public set that profile has (``calibration.prior``): the command that made the
    shipped ones is ``python -m wdp.sensing.motion_eval --write-priors wdp/sensing/models``."""
    from wdp.sensing.calibration import save

    cfg = MotionConfig()
    sets = shared_datasets(real_data_root)
    written = []
    for profile, name in PRIOR_SOURCES.items():
        quiet = [e for e in sets.get(name, []) if e.label in QUIET[name] or e.label == "quiet"]
        if not quiet:
            continue
        streams = [load(e) for e in quiet]
        values = [
            f.variability for s in streams for f in stream_features(s.t_s, s.amp, cfg) if f.ok
        ]
        cal = from_variabilities(
            values,
            cfg,
            source=f"shipped prior: {len(quiet)} quiet recordings of {name}",
            hw_format=profile,
            links=int(streams[0].amp.shape[1]),
            subcarriers=int(streams[0].amp.shape[2]),
            rate_hz=round(float(np.median([s.rate_hz for s in streams])), 3),
        )
        path = Path(out_dir) / f"quiet_{profile}.json"
        save(cal, path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m wdp.sensing.motion_eval [ROOT] [--every N] [--threshold X]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "root", nargs="?", default=Path(__file__).resolve().parents[3] / "shared" / "real-data"
    )
    p.add_argument("--every", type=int, default=1, help="use every N-th activity file")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--dataset", action="append", default=None)
    p.add_argument("--write-priors", type=Path, default=None, metavar="DIR")
    args = p.parse_args(argv)
    if args.write_priors is not None:
        for path in write_priors(args.root, args.write_priors):
            print(f"wrote {path}")
        return 0
    cfg = MotionConfig()
    if args.threshold is not None:
        cfg = attrs.evolve(cfg, threshold=args.threshold)
    ds = tuple(args.dataset) if args.dataset else None
    print(format_table(evaluate(args.root, cfg, datasets=ds, every=args.every)))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def goal_checks(rows: list[Row]) -> list[tuple[str, bool, str]]:
    """Issue 14's motion goals against the summary rows: (goal, met, measured) for each
    data set present (esp32: window F1 >= 99 % with <= 1 % false positives; nexmon and
    intel5300-har11: motion in >= 95 % of moving windows and <= 2 % of quiet ones)."""
    out = []
    for r in rows:
        if r.kind != "summary":
            continue
        if r.dataset == "esp32-espectre":
            ok = r.f1_pct >= 99.0 and r.fp_pct <= 1.0
            out.append(
                (f"{r.dataset}: F1 >= 99 %, FP <= 1 %", ok, f"{r.f1_pct:.1f} / {r.fp_pct:.1f} %")
            )
        elif r.dataset in ("nexmon-fition", "intel5300-har11"):
            ok = r.segment_motion_pct >= 95.0 and r.fp_pct <= 2.0
            measured = f"{r.segment_motion_pct:.1f} / {r.fp_pct:.1f} %"
            out.append((f"{r.dataset}: motion in >= 95 % moving, <= 2 % quiet", ok, measured))
    return out
