"""``wdp train``: fit the network on simulated windows (plain numpy, seeded).

``train(dataset, ...)`` standardizes inputs and regression targets with the training
set's statistics, holds out a tenth of the training *scenarios* (by seed, never by
window) to pick the best epoch, and runs Adam over shuffled minibatches with a cosine
learning-rate schedule and dropout on the hidden units (the windows of one scenario are
much alike: without dropout the validation loss is lowest after the first epoch and
rises from there). Everything random comes from ``numpy.random.default_rng(seed)``,
so the same data and seed give the same weights on one machine.

CLI hooks for ``wdp/cli.py``: ``add_train_arguments(parser)`` adds the options to a
sub-parser and ``run_train(args)`` runs it (returns the exit status).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import attrs
import numpy as np
from tqdm import tqdm

from wdp.inference.datasets import Dataset, DataSpecError, load_dataset, parse_data_spec
from wdp.inference.features import FeatureSpec
from wdp.inference.model import N_REG, Model
from wdp.inference.network import OUTPUT_SIZE, Adam, Batch, Mlp, grid_labels, loss_and_grad
from wdp.recorder.truth import N_KEYPOINTS

#: Smallest scale of a feature / regression target (constant columns stay finite).
MIN_X_STD = 1e-3
MIN_Y_STD = 0.05


DEFAULT_EPOCHS = 15
DEFAULT_HIDDEN = (256, 256)
DEFAULT_BATCH = 256
DEFAULT_LR = 2e-3


@attrs.frozen(slots=True)
class TrainConfig:
    seed: int = 0
    epochs: int = DEFAULT_EPOCHS
    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    batch_size: int = DEFAULT_BATCH
    lr: float = DEFAULT_LR
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    #: Standard deviation of Gaussian noise added to the standardized inputs while
    #: training (a regulariser: windows of one scenario are much alike).
    input_noise: float = 0.0
    #: Probability of dropping a hidden unit while training.
    dropout: float = 0.3


def regression_targets(data: Dataset) -> np.ndarray:
    """[K, S, N_REG]: position, velocity, keypoints relative to the position (metres)."""
    t = data.targets
    k, s = t.present.shape
    rel = (t.keypoints_3d - t.position[:, :, None, :]).reshape(k, s, 3 * N_KEYPOINTS)
    return np.concatenate([t.position, t.velocity, rel], axis=2).astype(np.float64)


def _batch(data: Dataset, y: np.ndarray, idx: np.ndarray) -> Batch:
    t = data.targets
    present = t.present[idx][..., None]
    pos = t.position[idx]
    return Batch(
        count=t.count[idx].astype(np.int64),
        present=t.present[idx].astype(np.float32),
        position=y[idx, :, 0:3],
        velocity=y[idx, :, 3:6],
        keypoints=y[idx, :, 6:],
        activity=t.activity[idx].astype(np.int64),
        grid_x=grid_labels(pos[..., 0]) * present,
        grid_y=grid_labels(pos[..., 1]) * present,
    )


def _split(data: Dataset, fraction: float, rng: np.random.Generator):
    n = len(data.seeds)
    n_val = int(round(n * fraction)) if n >= 5 else 0
    val_scn = rng.permutation(n)[:n_val]
    val = np.isin(data.scenario, val_scn)
    return np.nonzero(~val)[0], np.nonzero(val)[0]


def train(
    data: Dataset,
    config: TrainConfig = TrainConfig(),
    *,
    progress: bool = True,
    info: dict | None = None,
) -> Model:
    """Train a model on ``data``; ``info`` goes into the model's training metadata."""
    if len(data) == 0:
        raise ValueError("no training windows")
    rng = np.random.default_rng(config.seed)
    tr, va = _split(data, config.val_fraction, rng)
    x = data.x.astype(np.float32)
    x_mean = x[tr].mean(axis=0)
    x_std = np.maximum(x[tr].std(axis=0), MIN_X_STD)
    xs = np.clip((x - x_mean) / x_std, -20, 20).astype(np.float32)
    y = regression_targets(data)
    present = data.targets.present
    mask_tr = present[tr]
    flat = y[tr][mask_tr] if mask_tr.any() else np.zeros((1, N_REG))
    y_mean = flat.mean(axis=0)
    y_std = np.maximum(flat.std(axis=0), MIN_Y_STD)
    ys = ((y - y_mean) / y_std * present[..., None]).astype(np.float32)
    net = Mlp.init([data.feature_spec.length, *config.hidden, OUTPUT_SIZE], config.seed)
    opt = Adam(weight_decay=config.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(tr) / config.batch_size))
    total = steps_per_epoch * config.epochs
    warmup = min(200, total // 10)
    best = (math.inf, None, -1)
    history = []
    bar = tqdm(range(config.epochs), desc="train", unit="epoch", disable=not progress)
    step = 0
    for epoch in bar:
        order = tr[rng.permutation(len(tr))]
        run = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            if idx.size == 0:
                continue
            lr = config.lr * (
                (step + 1) / warmup
                if step < warmup
                else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
            )
            xb = xs[idx]
            if config.input_noise > 0:
                xb = xb + rng.normal(0.0, config.input_noise, xb.shape).astype(np.float32)
            out, cache = net.forward_train(xb, config.dropout, rng)
            loss, _, dy = loss_and_grad(out, _batch(data, ys, idx))
            grads = net.backward(cache, dy.astype(np.float32))
            opt.update(net.params(), grads, lr)
            run += loss
            step += 1
        train_loss = run / steps_per_epoch
        val_loss = _loss(net, xs, data, ys, va) if va.size else train_loss
        history.append((round(train_loss, 5), round(val_loss, 5)))
        bar.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
        if val_loss < best[0]:
            best = (val_loss, [p.copy() for p in net.params()], epoch)
    if best[1] is not None:
        for p, q in zip(net.params(), best[1], strict=True):
            p[...] = q
    training = {
        "config": {**attrs.asdict(config), "hidden": list(config.hidden)},
        "data_digest": data.digest(),
        "data_spec": data.data_spec.text() if data.data_spec is not None else None,
        "windows": int(len(data)),
        "scenarios": int(len(data.seeds)),
        "validation_scenarios": int(len(np.unique(data.scenario[va]))) if va.size else 0,
        "best_epoch": int(best[2]),
        "history": history,
        **(info or {}),
    }
    return Model(
        data.feature_spec,
        net,
        x_mean,
        x_std,
        y_mean.astype(np.float32),
        y_std.astype(np.float32),
        training=training,
    )


def _loss(net: Mlp, xs: np.ndarray, data: Dataset, ys: np.ndarray, idx: np.ndarray) -> float:
    total, n = 0.0, 0
    for a in range(0, idx.size, 4096):
        part = idx[a : a + 4096]
        loss, _, _ = loss_and_grad(net.forward(xs[part]), _batch(data, ys, part))
        total += loss * part.size
        n += part.size
    return total / max(n, 1)


# --- CLI -----------------------------------------------------------------------------


def _hidden(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of layer sizes: {value!r}") from None
    if not sizes or any(s < 1 or s > 4096 for s in sizes):
        raise argparse.ArgumentTypeError("layer sizes must be 1..4096, e.g. 256,256")
    return sizes


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default="train",
        help="training data spec: NAME[,key=value...] (default: train; see wdp.inference.datasets)",
    )
    p.add_argument("--out", type=Path, required=True, help="model file to write (.npz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    p.add_argument("--hidden", type=_hidden, default=DEFAULT_HIDDEN, help="e.g. 256,256")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    p.add_argument("--lr", type=float, default=DEFAULT_LR)
    p.add_argument(
        "--dropout",
        type=float,
        default=TrainConfig.__attrs_attrs__.dropout.default,
        help="probability of dropping a hidden unit while training",
    )
    p.add_argument("--jobs", type=int, default=1, help="processes generating data")
    p.add_argument("--cache", type=Path, default=None, help="data cache folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run_train(args: argparse.Namespace) -> int:
    """``wdp train``: generate/load the data, train, write the model. Exit status."""
    try:
        data_spec = parse_data_spec(args.data)
    except DataSpecError as e:
        print(f"wdp train: error: {e}", file=sys.stderr)
        return 1
    if args.epochs < 1 or args.batch_size < 1 or not args.lr > 0:
        print("wdp train: error: epochs, batch size and lr must be positive", file=sys.stderr)
        return 1
    dropout = getattr(args, "dropout", TrainConfig.__attrs_attrs__.dropout.default)
    if not 0 <= dropout < 1:
        print("wdp train: error: dropout must be in [0, 1)", file=sys.stderr)
        return 1
    if not args.out.parent.is_dir():
        print(f"wdp train: error: {args.out.parent} is not a folder", file=sys.stderr)
        return 1
    feature_spec = FeatureSpec.for_profile(data_spec.profile, n_routers=data_spec.routers)
    t0 = time.monotonic()
    data = load_dataset(
        data_spec, feature_spec, cache_dir=args.cache, jobs=args.jobs, progress=not args.quiet
    )
    t1 = time.monotonic()
    config = TrainConfig(
        seed=args.seed,
        epochs=args.epochs,
        hidden=tuple(args.hidden),
        batch_size=args.batch_size,
        lr=args.lr,
        dropout=dropout,
    )
    argv = getattr(args, "argv", None) or sys.argv[1:]
    model = train(
        data,
        config,
        progress=not args.quiet,
        info={"command": "wdp " + shlex.join(argv) if argv else "wdp train", "seed": args.seed},
    )
    t2 = time.monotonic()
    model.save(args.out)
    size = args.out.stat().st_size
    print(
        f"trained on {len(data)} windows of {len(data.seeds)} scenarios "
        f"(data {t1 - t0:.0f} s, training {t2 - t1:.0f} s, best epoch "
        f"{model.training['best_epoch'] + 1}/{args.epochs}) -> {args.out} ({size / 1e6:.2f} MB)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m wdp.inference.training`` (the same as ``wdp train``)."""
    parser = argparse.ArgumentParser(prog="wdp train")
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = ["train", *(sys.argv[1:] if argv is None else argv)]
    return run_train(args)


if __name__ == "__main__":
    sys.exit(main())
