"""The Hungarian algorithm against brute force, forbidden pairs included."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wdp.pipeline.assignment import linear_assignment


def brute_force(cost: np.ndarray) -> tuple[int, float]:
    """(most allowed pairs, least total cost among pairings with that many) by enumeration."""
    n, m = cost.shape
    if n > m:
        return brute_force(cost.T)
    best = (0, 0.0)
    for cols in itertools.permutations(range(m), n):
        pairs = [(i, j) for i, j in enumerate(cols) if np.isfinite(cost[i, j])]
        key = (len(pairs), sum(cost[i, j] for i, j in pairs))
        if key[0] > best[0] or (key[0] == best[0] and key[1] < best[1]):
            best = key
    return best


@st.composite
def cost_matrices(draw):
    n = draw(st.integers(1, 5))
    m = draw(st.integers(1, 5))
    values = st.one_of(
        st.floats(-100, 100, allow_nan=False), st.integers(-3, 3).map(float), st.just(np.inf)
    )
    return np.array(draw(st.lists(values, min_size=n * m, max_size=n * m))).reshape(n, m)


@settings(max_examples=200, deadline=None)
@given(cost_matrices())
def test_matches_brute_force(cost):
    pairs = linear_assignment(cost)
    rows = [i for i, _ in pairs]
    cols = [j for _, j in pairs]
    assert len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
    assert rows == sorted(rows)
    assert all(np.isfinite(cost[i, j]) for i, j in pairs)
    count, total = brute_force(cost)
    assert len(pairs) == count
    assert sum(cost[i, j] for i, j in pairs) == pytest.approx(total, abs=1e-6)


def test_known_case_and_shapes():
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    assert linear_assignment(cost) == [(0, 1), (1, 0), (2, 2)]
    assert linear_assignment(cost.T) == [(0, 1), (1, 0), (2, 2)]
    assert linear_assignment(np.zeros((0, 3))) == []
    assert linear_assignment(np.full((2, 2), np.inf)) == []
    # a gate can force a costlier pairing: more pairs beat a cheaper single pair
    gated = np.array([[0.0, 10.0], [np.inf, 1.0]])
    assert linear_assignment(gated) == [(0, 0), (1, 1)]
    gated = np.array([[1.0, 0.0], [np.inf, 5.0]])
    assert linear_assignment(gated) == [(0, 0), (1, 1)]


def test_larger_rectangular_against_random_search():
    rng = np.random.default_rng(7)
    cost = rng.random((8, 30))
    pairs = linear_assignment(cost)
    total = sum(cost[i, j] for i, j in pairs)
    assert len(pairs) == 8
    for _ in range(2000):  # no random injective map does better
        cols = rng.choice(30, 8, replace=False)
        assert cost[np.arange(8), cols].sum() >= total - 1e-12


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        linear_assignment(np.array([[np.nan]]))
    with pytest.raises(ValueError):
        linear_assignment(np.array([[-np.inf, 1.0]]))
    with pytest.raises(ValueError):
        linear_assignment(np.zeros(3))
