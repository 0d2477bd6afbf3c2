"""The numpy MLP: analytic gradients equal finite differences; training is deterministic."""

import numpy as np

from wdp.inference.network import (
    N_COUNT,
    OUTPUT_SIZE,
    Adam,
    Batch,
    Heads,
    Mlp,
    gelu,
    grid_decode,
    grid_labels,
    loss_and_grad,
)
from wdp.inference.targets import MAX_SLOTS


def _targets(rng, b):
    present = (rng.random((b, MAX_SLOTS)) < 0.5).astype(np.float64)
    act = np.where(present > 0, rng.integers(0, 5, (b, MAX_SLOTS)), -1)
    return Batch(
        count=rng.integers(0, N_COUNT, b),
        present=present,
        position=rng.standard_normal((b, MAX_SLOTS, 3)) * 2,  # some beyond the Huber knee
        velocity=rng.standard_normal((b, MAX_SLOTS, 3)),
        keypoints=rng.standard_normal((b, MAX_SLOTS, 51)),
        activity=act,
        grid_x=grid_labels(rng.uniform(0, 5, (b, MAX_SLOTS))) * present[..., None],
        grid_y=grid_labels(rng.uniform(0, 4, (b, MAX_SLOTS))) * present[..., None],
    )


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    net = Mlp.init([7, 6, 5, OUTPUT_SIZE], seed=1, dtype=np.float64)
    for w in net.weights:  # a larger last layer so every head's loss moves
        w *= 3.0
    x = rng.standard_normal((4, 7))
    t = _targets(rng, 4)

    def loss():
        return loss_and_grad(net.forward(x), t)[0]

    y, cache = net.forward_train(x)
    _, parts, dy = loss_and_grad(y, t)
    assert set(parts) == {
        "count",
        "presence",
        "position",
        "velocity",
        "keypoints",
        "activity",
        "grid",
    }
    grads = net.backward(cache, dy)
    eps = 1e-6
    checked = 0
    for p, g in zip(net.params(), grads, strict=True):
        assert g.shape == p.shape
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for i in rng.choice(flat.size, size=min(25, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - gflat[i]) <= 1e-6 + 1e-4 * abs(numeric), (i, numeric, gflat[i])
            checked += 1
    assert checked > 100


def test_loss_ignores_empty_slots():
    rng = np.random.default_rng(3)
    t = _targets(rng, 5)
    y = rng.standard_normal((5, OUTPUT_SIZE))
    _, _, dy = loss_and_grad(y, t)
    empty = Heads.slot(dy)[t.present == 0]
    assert np.all(empty[:, 1:] == 0)  # only the presence logit of an empty slot learns


def test_adam_training_is_deterministic():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    t = _targets(rng, 64)

    def run(seed):
        net = Mlp.init([10, 16, OUTPUT_SIZE], seed)
        opt = Adam()
        for _ in range(20):
            y, cache = net.forward_train(x)
            _, _, dy = loss_and_grad(y, t)
            opt.update(net.params(), net.backward(cache, dy.astype(np.float32)), 1e-2)
        return net.params()

    a, b, c = run(0), run(0), run(1)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))
    first = loss_and_grad(Mlp.init([10, 16, OUTPUT_SIZE], 0).forward(x), t)[0]
    net = Mlp([a[0], a[2]], [a[1], a[3]])
    assert loss_and_grad(net.forward(x), t)[0] < first


def test_grid_labels_decode_back_to_the_coordinate():
    coords = np.array([0.1, 1.37, 2.5, 4.93, 6.2])
    q = grid_labels(coords)
    assert np.allclose(q.sum(axis=-1), 1.0)
    # logits that are the labels' log give the coordinate back to within a centimetre
    back = grid_decode(np.log(q + 1e-12))
    assert np.all(np.abs(back - coords) < 0.01), back
    # two far-apart modes: the answer is the stronger one, not the point between them
    two = np.log(0.6 * grid_labels(np.array(1.0)) + 0.4 * grid_labels(np.array(4.0)) + 1e-12)
    assert abs(float(grid_decode(two)) - 1.0) < 0.05


def test_dropout_gradients_match_finite_differences_for_a_fixed_mask():
    rng = np.random.default_rng(7)
    net = Mlp.init([6, 8, 8, OUTPUT_SIZE], seed=2, dtype=np.float64)
    for w in net.weights:
        w *= 3.0
    x = rng.standard_normal((3, 6))
    t = _targets(rng, 3)
    y, cache = net.forward_train(x, dropout=0.5, rng=np.random.default_rng(11))
    masks = [c[2] for c in cache]
    assert any(m is not None and (m == 0).any() for m in masks)
    grads = net.backward(cache, loss_and_grad(y, t)[2])

    def loss():  # the same units dropped: the same masks applied by hand
        h = x
        for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            h = h @ w + b
            if masks[i] is not None:
                h = gelu(h) * masks[i]
        return loss_and_grad(h, t)[0]

    eps = 1e-6
    for p, g in zip(net.params(), grads, strict=True):
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for i in rng.choice(flat.size, size=min(10, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - gflat[i]) <= 1e-6 + 1e-4 * abs(numeric)
