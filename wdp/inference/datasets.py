"""Training and evaluation data: simulated scenarios turned into feature windows + truth.

Every scenario goes through the real simulation path (``wdp.sim.simulate.simulate`` into
a temporary recording, read back with ``open_recording``), so a model trains on exactly
the frames replay of such a recording gives, parser quantisation included. Each window's
features (``features.extract``) are paired with the truth at the window's centre.

Data sets are named by a spec string ``NAME[,key=value...]`` (``parse_data_spec``):
presets ``train``, ``val-same`` (held-out seeds, the training layout) and ``val-unseen``
(held-out seeds, another room and router placement), each overridable, e.g.
``train,seeds=0:20,duration=20``. Keys: ``layout`` (``a``: the fixed training layout,
``b``: the fixed unseen layout, ``random``: room and routers drawn per seed as
``random_scenario`` does), ``seeds`` (``A:B`` half-open range), ``duration`` (s),
``profile``, ``routers``, ``max_people``, ``hop`` (grid points between windows).

Splits are by scenario seed, never by frame: the presets' seed ranges do not overlap.

Generated data is cached per scenario as ``.npz`` under ``cache_dir/<key>/`` where the
key is a digest of everything that determines it (generator parameters, feature spec,
``DATA_VERSION``); a changed parameter is a new key, never a stale file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import attrs
import numpy as np
from tqdm import tqdm

from wdp.inference.features import FeatureSpec, extract, implementation_digest
from wdp.inference.targets import Targets, canonical_slots, empty_targets
from wdp.sim import motion
from wdp.sim.room import Door, Reflector, Room
from wdp.sim.scenario import RouterSpec, Scenario

DATA_VERSION = 1


class DataSpecError(ValueError):
    """A data spec that cannot be used (one line)."""


#: The fixed layouts: room, door, walls, furniture and the routers' antennas.
LAYOUTS = {
    "a": dict(
        room=dict(width=5.0, depth=4.0, height=2.7, door=("y0", 1.0, 0.9)),
        walls={"x0": 0.4, "x1": 0.5, "y0": 0.35, "y1": 0.45, "floor": 0.3, "ceiling": 0.25},
        furniture=[((4.7, 3.7, 0.4), 0.5), ((0.3, 3.0, 0.8), 0.3)],
        routers={"r1": ((0.1, 0.6, 1.4), (4.9, 3.4, 1.1))},
    ),
    "b": dict(
        room=dict(width=6.5, depth=5.2, height=2.9, door=("x1", 4.0, 0.9)),
        walls={"x0": 0.3, "x1": 0.55, "y0": 0.5, "y1": 0.3, "floor": 0.35, "ceiling": 0.2},
        furniture=[((3.5, 4.9, 0.5), 0.6)],
        routers={"r1": ((3.0, 0.1, 1.0), (0.1, 4.4, 1.8))},
    ),
}

PRESETS = {
    "train": "layout=a,seeds=0:300,duration=45",
    "val-same": "layout=a,seeds=10000:10030,duration=45",
    "val-unseen": "layout=b,seeds=20000:20020,duration=45",
}


@attrs.frozen(slots=True)
class DataSpec:
    name: str
    layout: str = "a"
    seeds: tuple[int, int] = (0, 10)
    duration: float = 45.0
    profile: str = "intel5300"
    routers: int = 1
    max_people: int = motion.MAX_PEOPLE
    hop: int = 10

    def text(self) -> str:
        return (
            f"{self.name},layout={self.layout},seeds={self.seeds[0]}:{self.seeds[1]},"
            f"duration={self.duration:g},profile={self.profile},routers={self.routers},"
            f"max_people={self.max_people},hop={self.hop}"
        )

    def generator_dict(self) -> dict:
        """What determines the data (the name does not)."""
        d = attrs.asdict(self)
        d.pop("name")
        d["seeds"] = list(self.seeds)
        return d


def parse_data_spec(text: str) -> DataSpec:
    """``NAME[,key=value...]`` or ``key=value,...`` -> DataSpec (see the module doc)."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise DataSpecError("empty data spec")
    name = "custom"
    if "=" not in parts[0]:
        name = parts.pop(0)
        if name not in PRESETS:
            raise DataSpecError(f"unknown data set {name!r}: choose one of {', '.join(PRESETS)}")
        parts = PRESETS[name].split(",") + parts
    fields: dict = {}
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise DataSpecError(f"data spec: {part!r} is not key=value")
        try:
            if key == "seeds":
                a, _, b = value.partition(":")
                seeds = (int(a), int(b)) if b else (int(a), int(a) + 1)
                if seeds[1] <= seeds[0]:
                    raise ValueError("empty range")
                fields[key] = seeds
            elif key in ("routers", "max_people", "hop"):
                fields[key] = int(value)
            elif key == "duration":
                fields[key] = float(value)
            elif key in ("layout", "profile"):
                fields[key] = value.strip()
            else:
                raise DataSpecError(f"data spec: unknown key {key!r}")
        except ValueError as e:
            if isinstance(e, DataSpecError):
                raise
            raise DataSpecError(f"data spec: bad value for {key}: {value!r} ({e})") from None
    spec = DataSpec(name=name, **fields)
    if spec.layout not in (*LAYOUTS, "random"):
        raise DataSpecError(f"data spec: layout must be one of a, b, random; got {spec.layout!r}")
    from wdp.sim.profiles import PROFILES

    if spec.profile not in PROFILES:
        raise DataSpecError(f"data spec: unknown profile {spec.profile!r}")
    if not 0 <= spec.max_people <= motion.MAX_PEOPLE:
        raise DataSpecError(f"data spec: max_people must be 0..{motion.MAX_PEOPLE}")
    if not 1 <= spec.routers <= 8 or spec.hop < 1 or not 1 <= spec.duration <= 3600:
        raise DataSpecError("data spec: routers 1..8, hop >= 1, duration 1..3600 s")
    return spec


# --- scenarios -----------------------------------------------------------------------


def layout_room(name: str) -> tuple[Room, dict[str, tuple]]:
    lay = LAYOUTS[name]
    r = lay["room"]
    room = Room(
        r["width"],
        r["depth"],
        r["height"],
        wall_reflection=lay["walls"],
        furniture=[Reflector(p, cs) for p, cs in lay["furniture"]],
        door=Door(*r["door"]),
    )
    return room, lay["routers"]


def make_scenario(spec: DataSpec, seed: int) -> Scenario:
    """The scenario of one seed: people drawn as ``random_scenario`` draws them, in the
    spec's fixed layout (or a random room and routers for ``layout=random``)."""
    from wdp.sim import random_scenario as rs

    if spec.layout == "random":
        return rs.random_scenario(
            seed,
            spec.duration,
            max_people=spec.max_people,
            routers=spec.routers,
            profile=spec.profile,
        )
    room, antennas = layout_room(spec.layout)
    if spec.routers > len(antennas):
        raise DataSpecError(f"layout {spec.layout} has {len(antennas)} router(s)")
    routers = {
        rid: RouterSpec(tx=tx, rx=rx, profile=spec.profile)
        for rid, (tx, rx) in sorted(antennas.items())[: spec.routers]
    }
    # The same streams random_scenario uses for the count and the people (its room and
    # router streams are not drawn: the layout is fixed).
    seq = np.random.SeedSequence(int(seed))
    _, _, count_seq, *person_seqs = seq.spawn(3 + motion.MAX_PEOPLE)
    n = int(np.random.default_rng(count_seq).integers(0, spec.max_people + 1))
    people = [
        rs._person(room, np.random.default_rng(person_seqs[i]), i, spec.duration) for i in range(n)
    ]
    name = f"layout-{spec.layout}-{seed}"
    return Scenario.create(
        name=name,
        duration=float(spec.duration),
        room=room,
        routers=routers,
        people=people,
        description=f"layout {spec.layout}, seed {seed}, {n} people",
        source=f"<{name}>",
    )


# --- one scenario's windows ----------------------------------------------------------


@attrs.frozen(slots=True, eq=False)
class Dataset:
    """Windows of many scenarios: features, quality and truth targets, plus which scenario
    (``scenario`` index into ``seeds``/``cameras``) each window came from."""

    x: np.ndarray  # float32 [K, F]
    quality: np.ndarray  # [K]
    flags: np.ndarray  # [K]
    scenario: np.ndarray  # int32 [K]
    targets: Targets
    seeds: np.ndarray  # [n_scenarios]
    cameras: tuple[dict, ...]  # per scenario, ``wdp.camera.Camera`` fields
    feature_spec: FeatureSpec
    data_spec: DataSpec | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, mask: np.ndarray) -> Dataset:
        return attrs.evolve(
            self,
            x=self.x[mask],
            quality=self.quality[mask],
            flags=self.flags[mask],
            scenario=self.scenario[mask],
            targets=self.targets.subset(mask),
        )

    def digest(self) -> str:
        """sha256 over the arrays a model is trained on (features and every target)."""
        h = hashlib.sha256()
        for arr in (self.x, self.quality, *self.targets.arrays()):
            a = np.ascontiguousarray(arr)
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()


def scenario_windows(scenario: Scenario, feature_spec: FeatureSpec, *, seed: int, hop: int):
    """Simulate, read back and cut into windows: (features, targets, camera dict)."""
    from wdp.recorder import open_recording
    from wdp.sim.simulate import simulate

    with tempfile.TemporaryDirectory(prefix="wdp-data-") as tmp:
        path = Path(tmp) / "sim.h5"
        simulate(scenario, path, seed=seed, progress=False)
        with open_recording(path) as rec:
            batches = [rec.read_batch(r.router_id) for r in rec.routers]
            truth = rec.truth()
    from wdp.inference.features import window_ends

    spec = attrs.evolve(feature_spec, hop=hop)
    feats = extract(batches, spec, window_ends(batches, spec))
    if truth is None or len(truth.rows) == 0:
        raise RuntimeError("simulated recording has no truth")
    rows = truth.rows
    i = np.clip(np.searchsorted(rows.time_ns, feats.center_ns), 0, len(rows) - 1)
    j = np.clip(i - 1, 0, len(rows) - 1)
    i = np.where(
        np.abs(rows.time_ns[j] - feats.center_ns) < np.abs(rows.time_ns[i] - feats.center_ns), j, i
    )
    targets = canonical_slots(rows, i)
    return feats, targets, dict(truth.spec.camera)


def _cache_key(spec: DataSpec, feature_spec: FeatureSpec) -> str:
    blob = json.dumps(
        {
            "data": spec.generator_dict(),
            "features": feature_spec.to_dict(),
            "code": implementation_digest(),
            "v": DATA_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    env = os.environ.get("WDP_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "wdp" / "datasets"


def _one(args: tuple) -> tuple[int, str]:
    spec, feature_spec, seed, path = args
    path = Path(path)
    if not path.exists():
        scenario = make_scenario(spec, seed)
        feats, targets, camera = scenario_windows(scenario, feature_spec, seed=seed, hop=spec.hop)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp,
            x=feats.x,
            quality=feats.quality,
            flags=feats.flags,
            camera=np.array(json.dumps(camera, sort_keys=True)),
            **targets.to_arrays(),
        )
        os.replace(tmp, path)
    return seed, str(path)


def load_dataset(
    spec: DataSpec | str,
    feature_spec: FeatureSpec,
    *,
    cache_dir: str | Path | None = None,
    jobs: int = 1,
    progress: bool = True,
) -> Dataset:
    """Generate (or read from the cache) every scenario of ``spec`` and stack them."""
    if isinstance(spec, str):
        spec = parse_data_spec(spec)
    if feature_spec.profile != spec.profile:
        raise DataSpecError(
            f"data profile {spec.profile} differs from the feature spec's {feature_spec.profile}"
        )
    if feature_spec.n_routers != spec.routers:
        feature_spec = attrs.evolve(feature_spec, n_routers=spec.routers)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / _cache_key(spec, feature_spec)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(
        json.dumps({"data": spec.generator_dict(), "features": feature_spec.to_dict()}, indent=1)
    )
    seeds = list(range(*spec.seeds))
    work = [(spec, feature_spec, s, str(folder / f"seed{s}.npz")) for s in seeds]
    paths: dict[int, str] = {}
    bar = tqdm(total=len(work), desc=f"data {spec.name}", unit="scn", disable=not progress)
    if jobs > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            for seed, path in pool.map(_one, work):
                paths[seed] = path
                bar.update()
    else:
        for item in work:
            seed, path = _one(item)
            paths[seed] = path
            bar.update()
    bar.close()
    return _stack([paths[s] for s in seeds], seeds, feature_spec, spec)


def _stack(paths: list[str], seeds: list[int], feature_spec: FeatureSpec, spec) -> Dataset:
    xs, qs, fs, sc, tg, cams = [], [], [], [], [], []
    for k, path in enumerate(paths):
        with np.load(path, allow_pickle=False) as z:
            xs.append(z["x"])
            qs.append(z["quality"])
            fs.append(z["flags"])
            cams.append(json.loads(str(z["camera"])))
            tg.append(Targets.from_arrays(z))
            sc.append(np.full(z["x"].shape[0], k, np.int32))
    return Dataset(
        x=np.concatenate(xs) if xs else np.zeros((0, feature_spec.length), np.float32),
        quality=np.concatenate(qs) if qs else np.zeros(0),
        flags=np.concatenate(fs) if fs else np.zeros(0, np.int64),
        scenario=np.concatenate(sc) if sc else np.zeros(0, np.int32),
        targets=Targets.concatenate(tg) if tg else empty_targets(0),
        seeds=np.asarray(seeds, np.int64),
        cameras=tuple(cams),
        feature_spec=feature_spec,
        data_spec=spec,
    )
