"""Optimal one-to-one matching of predicted and true people (at most 4 each).

scipy is not available and the sets are tiny, so the assignment minimising the summed
cost is found by trying every injection of the smaller set into the larger one (at most
4! = 24 candidates).
"""

from __future__ import annotations

import itertools

import numpy as np


def assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, col) of a minimum-cost matching of min(rows, cols) pairs."""
    cost = np.asarray(cost, np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return []
    if n <= m:
        best, best_perm = np.inf, None
        rows = np.arange(n)
        for perm in itertools.permutations(range(m), n):
            c = cost[rows, perm].sum()
            if c < best:
                best, best_perm = c, perm
        return [(int(i), int(j)) for i, j in zip(rows, best_perm, strict=True)]
    return [(i, j) for j, i in assign(cost.T)]
