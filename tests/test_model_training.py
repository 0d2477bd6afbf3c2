"""Training on simulated data: deterministic, and better than the no-CSI baseline."""

import itertools

import numpy as np
from model_data import dataset, tiny_model

from wdp.inference.baselines import KnnBaseline, MeanBaseline
from wdp.inference.evaluation import evaluate, evaluate_all, format_table
from wdp.inference.matching import assign
from wdp.inference.training import TrainConfig, train

TRAIN = "train,seeds=0:8,duration=12,max_people=1,hop=5"
HELD_OUT = "val-same,seeds=100:103,duration=12,max_people=1,hop=5"


def test_training_is_deterministic():
    data = dataset("train,seeds=0:3,duration=8,max_people=1")
    cfg = TrainConfig(seed=7, epochs=2, hidden=(16,), batch_size=32)
    a = train(data, cfg, progress=False)
    b = train(data, cfg, progress=False)
    for p, q in zip(a.net.params(), b.net.params(), strict=True):
        np.testing.assert_array_equal(p, q)
    c = train(data, TrainConfig(seed=8, epochs=2, hidden=(16,), batch_size=32), progress=False)
    assert not np.array_equal(a.net.weights[0], c.net.weights[0])


def test_split_is_by_scenario_and_sets_do_not_share_seeds():
    train_set, held = dataset(TRAIN), dataset(HELD_OUT)
    assert not set(train_set.seeds) & set(held.seeds)
    model = tiny_model(TRAIN, epochs=30, hidden=(64,))
    assert model.training["scenarios"] == 8
    assert model.training["validation_scenarios"] == 1


def test_tiny_model_beats_the_mean_pose_baseline():
    train_set, held = dataset(TRAIN), dataset(HELD_OUT)
    assert set(np.unique(held.targets.count)) == {0, 1}
    model = tiny_model(TRAIN, epochs=30, hidden=(64,))
    results = evaluate_all(model, held, [MeanBaseline(train_set), KnnBaseline(train_set)])
    print(format_table("tiny model, held-out seeds", results))
    m, base = results["all windows"]["model"], results["all windows"]["mean pose"]
    # Presence of one person is learnt from a few scenarios; the baseline guesses the mode.
    assert m.count_acc >= base.count_acc + 0.2
    assert m.presence_f1 > base.presence_f1


def test_evaluation_of_the_truth_itself_is_perfect():
    held = dataset(HELD_OUT)
    from wdp.inference.model import decode

    t = held.targets
    k = len(held)
    count_prob = np.eye(5)[t.count]
    rel = t.keypoints_3d - t.position[:, :, None]
    act = np.eye(5)[np.maximum(t.activity, 0)]
    pred = decode(
        count_prob,
        t.present.astype(float),
        t.position,
        t.velocity,
        rel.reshape(k, 4, 51),
        act,
        np.ones(k),
    )
    m = evaluate(pred, held)
    assert m.count_acc == 1.0 and m.presence_f1 == 1.0
    assert m.loc_median_m < 1e-6 and m.mpjpe_mm < 1e-3
    assert m.pck_02 == 1.0 and m.activity_acc == 1.0


def test_assignment_is_optimal():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, m = (int(v) for v in rng.integers(1, 5, 2))
        cost = rng.random((n, m))
        pairs = assign(cost)
        assert len(pairs) == min(n, m)
        assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})
        small = cost if n <= m else cost.T
        best = min(
            sum(small[i, j] for i, j in enumerate(perm))
            for perm in itertools.permutations(range(small.shape[1]), small.shape[0])
        )
        assert np.isclose(sum(cost[i, j] for i, j in pairs), best)
