"""Optimal assignment (the Hungarian algorithm) for rectangular cost matrices.

The tracker pairs predicted tracks with a window's detections and the MOTA metric pairs
ground truth with tracks; both need the pairing of least total cost, not a greedy one
(greedy nearest-neighbour pairing swaps people who pass close to each other). Matrices
are small (a few people), but the algorithm is the general O(n^2 m) shortest augmenting
path form of Kuhn-Munkres with row and column potentials (as in Jonker-Volgenant and
scipy's ``linear_sum_assignment``), so any n x m works.

Forbidden pairs (outside a gate) are ``inf``. The result pairs as many rows with columns
as the allowed entries permit, and among those pairings it has the least total cost;
forbidden pairs are never returned. This is done by replacing ``inf`` with a cost ``big``
larger than any difference of allowed totals, so that one forbidden pair more always
costs more than any saving on the allowed ones, and dropping forbidden pairs afterwards.
"""

from __future__ import annotations

import numpy as np


def linear_assignment(cost: object) -> list[tuple[int, int]]:
    """Least-cost pairing of rows and columns of ``cost`` [n, m] (``inf`` = forbidden).

    Returns ``(row, col)`` pairs sorted by row: a maximum number of allowed pairs and,
    among such pairings, the least total cost. NaN or ``-inf`` entries raise ValueError.
    """
    c = np.array(cost, dtype=np.float64, copy=True)
    if c.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {c.shape}")
    n, m = c.shape
    if n == 0 or m == 0:
        return []
    if np.isnan(c).any() or np.isneginf(c).any():
        raise ValueError("cost must not hold NaN or -inf")
    forbidden = np.isposinf(c)
    if forbidden.all():
        return []
    allowed = c[~forbidden]
    if forbidden.any():
        k = min(n, m)
        spread = float(allowed.max() - allowed.min())
        # any two allowed totals of k pairs differ by at most k * spread
        big = float(allowed.max()) + (k + 1) * (spread + 1.0)
        c[forbidden] = big
    transposed = n > m
    if transposed:
        c = c.T
    rows_to_cols = _hungarian(c)
    pairs = [(r, col) for r, col in enumerate(rows_to_cols) if col >= 0]
    if transposed:
        pairs = sorted((col, r) for r, col in pairs)
    return [(r, col) for r, col in pairs if not forbidden[r, col]]


def _hungarian(a: np.ndarray) -> list[int]:
    """Rows of ``a`` [n, m] (n <= m, all finite) to their columns, least total cost.

    The shortest augmenting path algorithm with potentials ``u`` (rows) and ``v``
    (columns): each row in turn is added by growing a Dijkstra-like tree over reduced
    costs ``a[i, j] - u[i] - v[j]`` (never negative) until a free column is reached,
    then the potentials are moved so the tree's edges stay tight and the path is flipped.
    Index 0 of ``p``/``v`` is a virtual column that holds the row being added.
    """
    n, m = a.shape
    inf = np.inf
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)  # p[j]: row (1-based) matched to column j, 0: free
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = a[i0 - 1] - u[i0] - v[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[~used] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    result = [-1] * n
    for j in range(1, m + 1):
        if p[j]:
            result[p[j] - 1] = j - 1
    return result
