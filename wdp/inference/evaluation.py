"""``wdp eval``: the model beside two baselines on held-out simulated data, in one table.

Per window the reported people are matched to the true people by the assignment that
minimises the summed floor-plane distance (``matching.assign``). Metrics:

- presence F1: person level; a matched pair within ``PRESENCE_GATE_M`` (1 m) is a true
  positive, every other reported person a false positive, every other true person a
  false negative.
- count accuracy: the count head's number (0..4) against the true number, over all
  windows and over the windows with 0..3 people.
- localization error: floor-plane distance of matched pairs (metres), median and p90.
- MPJPE: mean 3D distance of the 17 keypoints of matched pairs, absolute (room frame,
  not root-aligned), millimetres.
- PCK@0.2 / PCK@0.5: share of the true-visible keypoints whose projected 2D prediction
  lies within 0.2 / 0.5 of the torso size (left shoulder to right hip, true 2D) of the
  truth, over matched pairs whose two torso keypoints are visible.
- activity accuracy and confusion matrix over matched pairs.

Rows are reported for all windows and for the windows with exactly one person.

CLI hooks for ``wdp/cli.py``: ``add_eval_arguments(parser)``, ``run_eval(args)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import attrs
import numpy as np

from wdp.camera import Camera
from wdp.inference.baselines import KnnBaseline, MeanBaseline
from wdp.inference.datasets import Dataset, DataSpecError, load_dataset, parse_data_spec
from wdp.inference.matching import assign
from wdp.inference.model import Model, ModelError, Prediction
from wdp.inference.targets import L_SHOULDER, N_ACTIVITIES, R_HIP
from wdp.recorder.truth import ACTIVITIES

PRESENCE_GATE_M = 1.0


@attrs.frozen(slots=True)
class Metrics:
    windows: int
    presence_f1: float
    count_acc: float
    count_acc_0_3: float
    loc_median_m: float
    loc_p90_m: float
    mpjpe_mm: float
    pck_02: float
    pck_05: float
    activity_acc: float
    confusion: np.ndarray = attrs.field(eq=False)  # [5, 5] true rows, predicted columns
    pairs: int = 0


def _nan(values: list | np.ndarray, fn) -> float:
    v = np.asarray(values, np.float64)
    return float(fn(v)) if v.size else float("nan")


def evaluate(pred: Prediction, data: Dataset, mask: np.ndarray | None = None) -> Metrics:
    """Metrics of ``pred`` against ``data``'s truth over the windows in ``mask``."""
    t = data.targets
    idx = np.arange(len(data)) if mask is None else np.nonzero(mask)[0]
    cameras = [Camera(**c) for c in data.cameras]
    tp = fp = fn = 0
    loc, mpjpe, acts_t, acts_p = [], [], [], []
    pck_hits = {0.2: 0, 0.5: 0}
    pck_total = 0
    confusion = np.zeros((N_ACTIVITIES, N_ACTIVITIES), np.int64)
    # Project every predicted pose once per scenario camera.
    pix = np.full(pred.keypoints_3d.shape[:-1] + (2,), np.nan)
    for s, cam in enumerate(cameras):
        rows = np.nonzero(data.scenario == s)[0]
        if rows.size:
            pix[rows] = cam.project(pred.keypoints_3d[rows])[0]
    for i in idx:
        ts = np.nonzero(t.present[i])[0]
        ps = np.nonzero(pred.reported[i])[0]
        if ts.size and ps.size:
            d = np.linalg.norm(
                pred.position[i][ps][:, None, :2] - t.position[i][ts][None, :, :2], axis=-1
            )
            pairs = assign(d)
        else:
            pairs = []
        good = sum(1 for a, b in pairs if d[a, b] <= PRESENCE_GATE_M)
        tp += good
        fp += ps.size - good
        fn += ts.size - good
        for a, b in pairs:
            p, q = ps[a], ts[b]
            loc.append(d[a, b])
            mpjpe.append(
                np.linalg.norm(pred.keypoints_3d[i, p] - t.keypoints_3d[i, q], axis=-1).mean()
            )
            ta, pa = int(t.activity[i, q]), int(pred.activity[i, p])
            if ta >= 0:
                acts_t.append(ta)
                acts_p.append(pa)
                confusion[ta, pa] += 1
            vis = t.visible[i, q]
            if vis[L_SHOULDER] and vis[R_HIP]:
                truth2d = t.keypoints_2d[i, q]
                torso = float(np.linalg.norm(truth2d[L_SHOULDER] - truth2d[R_HIP]))
                if torso > 1.0:
                    err = np.linalg.norm(pix[i, p] - truth2d, axis=-1)
                    err = np.where(np.isfinite(err), err, np.inf)[vis]
                    pck_total += err.size
                    for alpha in pck_hits:
                        pck_hits[alpha] += int((err <= alpha * torso).sum())
    counts_t = t.count[idx].astype(np.int64)
    counts_p = pred.count[idx]
    small = counts_t <= 3
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else float("nan")
    return Metrics(
        windows=int(idx.size),
        presence_f1=float(f1),
        count_acc=_nan(counts_p == counts_t, np.mean),
        count_acc_0_3=_nan((counts_p == counts_t)[small], np.mean),
        loc_median_m=_nan(loc, np.median),
        loc_p90_m=_nan(loc, lambda v: np.percentile(v, 90)),
        mpjpe_mm=_nan(mpjpe, np.mean) * 1000.0,
        pck_02=pck_hits[0.2] / pck_total if pck_total else float("nan"),
        pck_05=pck_hits[0.5] / pck_total if pck_total else float("nan"),
        activity_acc=_nan(np.asarray(acts_t) == np.asarray(acts_p), np.mean),
        confusion=confusion,
        pairs=len(loc),
    )


_ROWS = [
    ("presence F1", "presence_f1", "{:.3f}"),
    ("count accuracy 0..4", "count_acc", "{:.1%}"),
    ("count accuracy 0..3", "count_acc_0_3", "{:.1%}"),
    ("localization median (m)", "loc_median_m", "{:.3f}"),
    ("localization p90 (m)", "loc_p90_m", "{:.3f}"),
    ("MPJPE abs. 3D (mm)", "mpjpe_mm", "{:.0f}"),
    ("PCK@0.2 (2D)", "pck_02", "{:.1%}"),
    ("PCK@0.5 (2D)", "pck_05", "{:.1%}"),
    ("activity accuracy", "activity_acc", "{:.1%}"),
    ("matched people", "pairs", "{:d}"),
]


def format_table(title: str, results: dict[str, dict[str, Metrics]]) -> str:
    """One block per subset (e.g. all windows / one person), one column per predictor."""
    lines = [title]
    for subset, by_name in results.items():
        names = list(by_name)
        first = next(iter(by_name.values()))
        lines.append(f"  {subset} ({first.windows} windows)")
        lines.append("  " + f"{'metric':26}" + "".join(f"{n:>14}" for n in names))
        for label, field, fmt in _ROWS:
            cells = []
            for n in names:
                v = getattr(by_name[n], field)
                cells.append("-" if isinstance(v, float) and not np.isfinite(v) else fmt.format(v))
            lines.append("  " + f"{label:26}" + "".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)


def format_confusion(m: Metrics) -> str:
    head = "  true \\ predicted " + "".join(f"{a[:8]:>10}" for a in ACTIVITIES)
    rows = [head]
    for i, a in enumerate(ACTIVITIES):
        rows.append(f"  {a:17}" + "".join(f"{int(v):>10d}" for v in m.confusion[i]))
    return "\n".join(rows)


def evaluate_all(model: Model, data: Dataset, baselines: list) -> dict[str, dict[str, Metrics]]:
    preds = {"model": model.predict_x(data.x, data.quality)}
    for b in baselines:
        preds[b.name] = b.predict(data)
    one = data.targets.count == 1
    return {
        "all windows": {n: evaluate(p, data) for n, p in preds.items()},
        "one person": {n: evaluate(p, data, one) for n, p in preds.items()},
    }


# --- CLI -----------------------------------------------------------------------------


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, help="model file (.npz)")
    p.add_argument(
        "--data",
        action="append",
        default=None,
        help="evaluation data spec, repeatable (default: val-same and val-unseen)",
    )
    p.add_argument(
        "--train-data",
        default=None,
        help="data the baselines are fitted on (default: the model's training data)",
    )
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--knn", type=int, default=5, help="k of the kNN baseline")
    p.add_argument("--jobs", type=int, default=1, help="processes generating data")
    p.add_argument("--cache", type=Path, default=None, help="data cache folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run_eval(args: argparse.Namespace) -> int:
    """``wdp eval``: print the table for every data set. Exit status."""
    try:
        model = Model.load(args.model)
        specs = [parse_data_spec(s) for s in (args.data or ["val-same", "val-unseen"])]
        train_text = args.train_data or model.training.get("data_spec")
        train_spec = parse_data_spec(train_text) if train_text and not args.no_baselines else None
    except (ModelError, DataSpecError) as e:
        print(f"wdp eval: error: {e}", file=sys.stderr)
        return 1
    load = dict(cache_dir=args.cache, jobs=args.jobs, progress=not args.quiet)
    baselines = []
    if train_spec is not None:
        for s in (train_spec, *specs):
            if s.profile != model.profile:
                print(
                    f"wdp eval: error: data {s.name} is {s.profile}, the model is for "
                    f"{model.profile}",
                    file=sys.stderr,
                )
                return 1
        train = load_dataset(train_spec, model.spec, **load)
        baselines = [MeanBaseline(train), KnnBaseline(train, k=args.knn)]
    print(f"model {args.model}: {model.training.get('command', '?')}")
    print(
        f"  training data {model.training.get('data_spec')} sha256 "
        f"{str(model.training.get('data_digest', '?'))[:16]}..."
    )
    for spec in specs:
        if spec.profile != model.profile:
            print(
                f"wdp eval: error: data {spec.name} is {spec.profile}, the model is for "
                f"{model.profile}",
                file=sys.stderr,
            )
            return 1
        data = load_dataset(spec, model.spec, **load)
        results = evaluate_all(model, data, baselines)
        print()
        print(format_table(f"{spec.text()}", results))
        print("  activity confusion (model, all windows):")
        print(format_confusion(results["all windows"]["model"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m wdp.inference.evaluation`` (the same as ``wdp eval``)."""
    parser = argparse.ArgumentParser(prog="wdp eval")
    add_eval_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = ["eval", *(sys.argv[1:] if argv is None else argv)]
    return run_eval(args)


if __name__ == "__main__":
    sys.exit(main())
