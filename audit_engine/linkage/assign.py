"""One-to-one assignment: a PES person matches at most one census person and vice versa.

Pairs are scored independently, so one record can have several likely partners (twins, a
father and son of the same name at one address). Among pairs with match weight above
``floor`` we keep the set, at most one pair per record on each side, that maximises
``Σ (weight - floor)`` — the most probable one-to-one configuration when ``floor`` is 0
(weights are log posterior odds, so a pair is worth keeping only while it is more likely a
match than not).

Why optimal and not greedy-by-weight: greedy is wrong exactly where it matters, in the small
tangled components (A1–B1 10, A1–B2 9, A2–B1 9: greedy keeps one pair worth 10, optimal two
worth 18), and the exact solution is cheap. Components of one edge (almost all of them) are
taken as they are; the rest go to one sparse ``min_weight_full_bipartite_matching`` call
(LAPJVsp), never to a dense matrix, so a big tangled block (a whole EA with a low floor)
costs memory in its edges, not its rows × columns. Records are allowed to stay unmatched by
giving each a dummy partner of zero gain (the standard reduction of maximum-weight matching
to a full matching).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

__all__ = ["one_to_one"]


def one_to_one(left: np.ndarray, right: np.ndarray, weight: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Boolean mask over the pairs: the maximum-``Σ(weight - floor)`` one-to-one subset."""
    left, right, weight = np.asarray(left), np.asarray(right), np.asarray(weight, dtype=float)
    keep = np.zeros(len(left), dtype=bool)
    live = np.flatnonzero(weight > floor)
    if len(live) == 0:
        return keep
    _, li = np.unique(left[live], return_inverse=True)
    _, ri = np.unique(right[live], return_inverse=True)
    alone = (np.bincount(li)[li] == 1) & (np.bincount(ri)[ri] == 1)
    keep[live[alone]] = True
    tangled = live[~alone]
    if len(tangled):
        chosen = _max_weight_matching(left[tangled], right[tangled], weight[tangled] - floor)
        keep[tangled[chosen]] = True
    return keep


def _max_weight_matching(left: np.ndarray, right: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Indices of the edges of a maximum-gain matching (gains > 0), via a full min-cost matching.

    Rows are the ``nl`` left nodes then ``nr`` dummies of the right nodes; columns the ``nr`` right
    nodes then ``nl`` dummies of the left nodes. Left i may take its own dummy, right j its own,
    and dummy(j)–dummy(i) exists for every real edge (i, j) so that both dummies can pair up
    when (i, j) is chosen. Every cost is ``C - gain`` or ``C``: a full matching has ``nl + nr``
    edges whatever is chosen, so the constant changes nothing but keeps costs positive.
    """
    _, li = np.unique(left, return_inverse=True)
    _, ri = np.unique(right, return_inverse=True)
    nl, nr, ne = int(li.max()) + 1, int(ri.max()) + 1, len(gain)
    big = float(gain.max()) + 1.0
    rows = np.concatenate([li, np.arange(nl), nl + np.arange(nr), nl + ri])
    cols = np.concatenate([ri, nr + np.arange(nl), np.arange(nr), nr + li])
    cost = np.concatenate([big - gain, np.full(nl + nr + ne, big)])
    graph = csr_matrix((cost, (rows, cols)), shape=(nl + nr, nr + nl))
    rows_ind, cols_ind = min_weight_full_bipartite_matching(graph)  # like linear_sum_assignment
    i, j = rows_ind[rows_ind < nl], cols_ind[rows_ind < nl]
    real = j < nr
    edge_code = li.astype(np.int64) * nr + ri
    order = np.argsort(edge_code)
    pos = np.searchsorted(edge_code[order], i[real].astype(np.int64) * nr + j[real])
    return order[pos]
