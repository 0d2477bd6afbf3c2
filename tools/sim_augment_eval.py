"""Does simulated CSI help the Intel 5300 activity and fall detectors? (issue 14)

Generates simulated captures shaped like intel5300-har11 and trains the detectors
leave-one-subject-out on har11 exactly as ``bench/bench_real.py`` does (``TrainConfig()``,
the same 5 folds, each scored on the subject left out), with and without the simulated
captures added to every training fold.

Simulated captures: one person in a room drawn by ``wdp.sim.random_scenario`` (its room
and one Intel 5300 router; no people of its own), the Intel 5300 profile narrowed to
har11's shape (1 tx x 3 rx, the 30 grouped subcarriers of 20 MHz, 5180 MHz) and the
router's packets at 20 Hz, so nothing is resampled. Per har11 class the simulator can
act (running, jump, wave, squat and pick up it cannot; dropped):

- ``fall``: stands 4-9 s, falls backwards (descent 0.5-1.5 s), lies; 16 s.
- ``walking``: walks between random points at 0.6-1.6 m/s; 16 s.
- ``sit_down``: stands 5-9 s, sits down; 16 s (cut before getting up).
- ``stand_up``: seated, stands up 6-9 s into the 16 s kept, stands.
- ``lying`` / ``sitting``: lies / sits still; 34 s kept (two 15 s samples, as the long
  har11 captures are cut).

Variants, per fold (each trained on the real training subjects, plus):

- ``real``: nothing (bench_real's figures);
- ``real, seed 1``: nothing, ``TrainConfig(seed=1)`` (how much a seed moves them);
- ``+sim``: every simulated capture (activity and fall model);
- ``+sim, fall model only``: the same fall model with the real-only activity model;
- ``+sim falls, fall model only``: the simulated falls only, as extra fall positives;
- the last two with ``real threshold``: the fall threshold of the real-only detector.

The fall model's threshold comes from its inner leave-one-group-out as always; the
simulated captures are one group (``sim``) there.

Simulated captures with the profile's defaults (SNR 25 dB, gain jitter 1.0 dB) and the
person anywhere in the room barely rise above the quiet level at 20 Hz (peak / median of
the motion course about 1.6 in every class, har11's falls 6, sit-downs 10); ``--matched``
lowers the noise to har11's quiet level and keeps the person near the link.

    python tools/sim_augment_eval.py --per-class 20 --sim-dir /tmp/wdp-sim-har11
    python tools/sim_augment_eval.py --smoke      # a few files, seconds; for the test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # one thread each, as bench_real; not when imported by a test
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import attrs  # noqa: E402
import numpy as np  # noqa: E402

from wdp.capture.formats import intel5300  # noqa: E402
from wdp.sensing.cli import DEFAULT_CACHE, load_data  # noqa: E402
from wdp.sensing.detector import PROFILE_RATES  # noqa: E402
from wdp.sensing.features import WindowSpec  # noqa: E402
from wdp.sensing.learn import FALL, Outcome, TrainConfig, evaluate, summarize, train_detector  # noqa: E402
from wdp.sensing.manifest import LabelledFile, shared_datasets  # noqa: E402
from wdp.sim import motion, profiles  # noqa: E402
from wdp.sim.random_scenario import random_scenario  # noqa: E402
from wdp.sim.scenario import Scenario, ScenarioError  # noqa: E402
from wdp.sim.simulate import simulate  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "shared" / "real-data"
RATE_HZ = 20.0
CAPTURE_S = 16.0
STILL_S = 34.0
#: The har11 classes the simulator can act.
SIM_CLASSES = ("fall", "walking", "sit_down", "stand_up", "lying", "sitting")


#: ``--matched``: thermal SNR and per-packet gain jitter that put the simulated quiet
#: room's motion course where har11's still captures sit (median 0.014-0.020; the
#: profile's defaults, 25 dB and 1.0 dB, give 0.04).
MATCHED_SNR_DB = 35.0
MATCHED_AGC_DB = 0.3
#: ``--matched``: the person stays within this distance (m) of the link's middle part.
MATCHED_NEAR_M = 0.8


def har11_profile(matched: bool = False) -> profiles.Profile:
    """The simulator's Intel 5300 profile with har11's shape: 1 x 3, 20 MHz grouping
    (``matched``: with ``MATCHED_SNR_DB`` and ``MATCHED_AGC_DB``).

    (The encoder still flags frames HT40; the parser then names the 30 subcarriers by
    their 40 MHz indices. The sensing features aggregate over subcarriers and never look
    at indices; the physics is simulated at the 20 MHz frequencies.)"""
    extra = {"snr_db": MATCHED_SNR_DB, "agc_sigma_db": MATCHED_AGC_DB} if matched else {}
    return attrs.evolve(
        profiles.PROFILES["intel5300"],
        **extra,
        n_tx=1,
        n_rx=3,
        subcarriers=intel5300.SUBCARRIERS_20,
        occupied=np.ones(30, bool),
        center_freq_hz=5180e6,
        bandwidth_mhz=20.0,
        channel=36,
        rate_hz=RATE_HZ,
    )


@contextlib.contextmanager
def _har11_hardware(matched: bool = False):
    """The simulator's ``intel5300`` profile is har11's shape while inside."""
    saved = profiles.PROFILES["intel5300"]
    profiles.PROFILES["intel5300"] = har11_profile(matched)
    try:
        yield
    finally:
        profiles.PROFILES["intel5300"] = saved


def _plan(label: str, rng: np.random.Generator):
    """(actions, scenario seconds, kept [start, end) s) of one capture of ``label``."""
    heading = float(rng.integers(0, 8) * 45 - 180)
    if label == "fall":
        fall = motion.Fall(descent=round(float(rng.uniform(0.5, 1.5)), 1), lie=30.0)
        return [motion.Stand(round(float(rng.uniform(4, 9)), 1), heading), fall], CAPTURE_S, None
    if label == "walking":
        return "walk", CAPTURE_S, None
    if label == "sit_down":
        stand = motion.Stand(round(float(rng.uniform(5, 9)), 1), heading)
        return [stand, motion.Sit(40.0)], CAPTURE_S, None
    if label == "stand_up":
        sit = 20.0  # stands up over [18.5, 20] s
        start = round(18.5 - float(rng.uniform(6, 9)), 1)
        return [motion.Sit(sit), motion.Stand(20.0)], start + CAPTURE_S, (start, start + CAPTURE_S)
    if label == "lying":
        return [motion.Lie(STILL_S + 20.0)], STILL_S + 6.0, (6.0, 6.0 + STILL_S)
    if label == "sitting":
        return (
            [motion.Stand(0.5, heading), motion.Sit(STILL_S + 10.0)],
            STILL_S + 3.0,
            (3.0, 3.0 + STILL_S),
        )
    raise ValueError(label)


def _point(rng, room, router, m: float, matched: bool) -> tuple[float, float]:
    """A floor point ``m`` from the walls; ``matched``: near the middle of the link."""
    if not matched:
        return (float(rng.uniform(m, room.width - m)), float(rng.uniform(m, room.depth - m)))
    tx, rx = np.array(router.tx[:2]), np.array(router.rx[:2])
    along = tx + float(rng.uniform(0.25, 0.75)) * (rx - tx)
    d = rx - tx
    normal = np.array([-d[1], d[0]]) / max(1e-9, float(np.hypot(*d)))
    x, y = along + float(rng.uniform(-MATCHED_NEAR_M, MATCHED_NEAR_M)) * normal
    return (float(np.clip(x, m, room.width - m)), float(np.clip(y, m, room.depth - m)))


def _scenario(
    label: str, seed: int, matched: bool = False
) -> tuple[Scenario, tuple[float, float] | None]:
    """A valid one-person scenario of ``label`` (redrawn until the room allows it)."""
    rng = np.random.default_rng([seed, SIM_CLASSES.index(label)])
    for attempt in range(50):
        room_sc = random_scenario(seed * 1000 + attempt, max_people=0, profile="intel5300")
        room = room_sc.room
        routers = {k: attrs.evolve(r, sample_rate_hz=RATE_HZ) for k, r in room_sc.routers.items()}
        m = motion.WALL_MARGIN + 0.6
        if room.width < 2 * m + 0.5 or room.depth < 2 * m + 0.5:
            continue
        router = next(iter(routers.values()))
        start = _point(rng, room, router, m, matched)
        actions, seconds, keep = _plan(label, rng)
        if actions == "walk":
            pts = [_point(rng, room, router, m, matched) for _ in range(8)]
            actions = [motion.Walk(pts, round(float(rng.uniform(0.6, 1.6)), 2))]
        person = motion.Person(
            "p0",
            round(float(rng.uniform(1.5, 1.9)), 2),
            start,
            float(rng.integers(0, 360)),
            actions,
        )
        try:
            sc = Scenario.create(
                name=f"har11-{label}-{seed}",
                duration=seconds,
                room=room,
                routers=routers,
                people=[person],
            )
        except ScenarioError:
            continue
        return sc, keep
    raise RuntimeError(f"no room fits a {label} capture for seed {seed}")


def make_captures(
    out: Path, per_class: int, seed: int = 0, quiet: bool = True, matched: bool = False
) -> list[LabelledFile]:
    """``per_class`` simulated captures of every ``SIM_CLASSES`` class under ``out``
    (kept: a file already there is reused), labelled, group ``sim``."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    with _har11_hardware(matched):
        for label in SIM_CLASSES:
            for i in range(per_class):
                s = seed * 100_000 + i
                path = out / f"{label}_{s}.h5"
                sc, keep = _scenario(label, s, matched)
                if not path.is_file():
                    tmp = path.with_suffix(".tmp.h5")
                    tmp.unlink(missing_ok=True)
                    simulate(sc, tmp, seed=s, progress=False)
                    tmp.replace(path)
                start, end = keep if keep else (None, None)
                entries.append(LabelledFile(path, label, "sim", start, end, dataset="sim-har11"))
                if not quiet:
                    print(f"\r{label} {i + 1}/{per_class}", end="", file=sys.stderr)
    if not quiet:
        print(file=sys.stderr)
    return entries


def shared_accuracy(out: Outcome) -> tuple[float, int]:
    """Activity accuracy over the samples of the classes the simulator acts."""
    rows = [(t, p) for t, p, _ in out.activity if t in SIM_CLASSES]
    return (sum(t == p for t, p in rows) / len(rows) if rows else float("nan")), len(rows)


def figures(out: Outcome) -> dict:
    s = summarize(out)
    acc, n = shared_accuracy(out)
    return {
        "accuracy": s["accuracy"],
        "shared_accuracy": acc,
        "shared_samples": n,
        "recall": s["recall"],
        "falls_detected": s["falls_detected"],
        "falls": s["falls"],
        "false_alarms": s["false_alarms"],
        "false_alarms_per_hour": s["false_alarms_per_hour"],
    }


def run(real, sim, profile: str, spec: WindowSpec, progress=None) -> dict:
    """Leave-one-group-out over the real data's groups for every variant (see the module
    docstring); ``sim`` FileData are added to training folds only."""
    sim_falls = [fd for fd in sim if fd.entry.label == FALL]
    outs: dict[str, Outcome] = {}
    thresholds: dict[str, list[float]] = {}
    for g in sorted({fd.entry.group for fd in real}):
        train = [fd for fd in real if fd.entry.group != g]
        test = [fd for fd in real if fd.entry.group == g]
        base = train_detector(train, profile, spec, TrainConfig(), {})
        seed1 = train_detector(train, profile, spec, TrainConfig(seed=1), {})
        aug = train_detector(train + sim, profile, spec, TrainConfig(), {})
        aug_falls = train_detector(train + sim_falls, profile, spec, TrainConfig(), {})
        dets = {
            "real": base,
            "real, seed 1": seed1,
            "+sim": aug,
            "+sim, fall model only": attrs.evolve(base, fall=aug.fall, rules=aug.rules),
            "+sim falls, fall model only": attrs.evolve(
                base, fall=aug_falls.fall, rules=aug_falls.rules
            ),
            # the fall threshold of the real-only inner leave-one-out (whose folds hold
            # no simulated falls) on the augmented fall models
            "+sim, fall model only, real threshold": attrs.evolve(base, fall=aug.fall),
            "+sim falls, fall model only, real threshold": attrs.evolve(base, fall=aug_falls.fall),
        }
        for n, det in dets.items():
            outs.setdefault(n, Outcome()).extend(evaluate(det, test))
            thresholds.setdefault(n, []).append(round(float(det.rules.threshold), 3))
        if progress:
            progress(g)
    return {n: {**figures(o), "thresholds": thresholds[n]} for n, o in outs.items()}


def table(results: dict) -> str:
    lines = [
        "| variant | activity, 6 shared classes | activity, all 11 | fall recall | false alarms "
        "| fall thresholds per fold |",
        "|---|---|---|---|---|---|",
    ]
    for n, r in results.items():
        lines.append(
            f"| {n} | {r['shared_accuracy']:.1%} | {r['accuracy']:.1%} | "
            f"{r['falls_detected']}/{r['falls']} | {r['false_alarms']} "
            f"({r['false_alarms_per_hour']:.2f}/h) | {', '.join(map(str, r['thresholds']))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="the real-data folder")
    ap.add_argument("--sim-dir", type=Path, default=Path("/tmp/wdp-sim-har11"))
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="seed of the simulated captures")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="real captures' features")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--matched",
        action="store_true",
        help=f"SNR {MATCHED_SNR_DB:g} dB, gain jitter {MATCHED_AGC_DB:g} dB, the person "
        f"within {MATCHED_NEAR_M:g} m of the link (har11's motion contrast)",
    )
    ap.add_argument("--smoke", action="store_true", help="a few files of 2 subjects; seconds")
    args = ap.parse_args(argv)
    har11 = args.root / "intel5300-har11"
    if not har11.is_dir():
        print(f"intel5300-har11 not found under {args.root}", file=sys.stderr)
        return 0 if args.smoke and not os.environ.get("CI") else 1
    spec = WindowSpec(rate_hz=PROFILE_RATES["intel5300"])
    entries = shared_datasets(args.root)["intel5300-har11"]
    per_class = args.per_class
    if args.smoke:
        keep = sorted({e.group for e in entries})[:2]
        seen: dict = {}
        small = []
        for e in entries:
            k = (e.group, e.label)
            if e.group in keep and e.label not in ("lying", "sitting") and seen.get(k, 0) < 2:
                seen[k] = seen.get(k, 0) + 1
                small.append(e)
        entries, per_class = small, 1
    t0 = time.monotonic()
    sim_entries = make_captures(
        args.sim_dir, per_class, args.seed, quiet=args.smoke, matched=args.matched
    )
    print(
        f"simulated: {len(sim_entries)} captures ({time.monotonic() - t0:.0f} s)", file=sys.stderr
    )
    sim = load_data(sim_entries, spec, args.sim_dir / "features", quiet=True)
    real = load_data(entries, spec, args.cache, quiet=True)
    results = run(real, sim, "intel5300", spec, lambda g: print(f"fold {g} done", file=sys.stderr))
    print(
        f"intel5300-har11, leave one subject out, {len(real)} real files; "
        f"{len(sim)} simulated ({per_class} per class of {', '.join(SIM_CLASSES)}, seed {args.seed}"
        f"{', matched' if args.matched else ''})"
    )
    print(table(results))
    print(f"({time.monotonic() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
