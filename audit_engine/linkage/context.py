"""Household context: how many *other* members of the PES person's household are matched into
the census household of the candidate.

A PES interviewer lists whole households, and so did the census enumerator; when the wife, the
son and the grandmother of PES household H all match into census household K, a weak candidate
pair between H's husband and K's head (a misspelt name, a wrong birth month) is far more likely
a match than the same comparison vector between strangers. Comparisons of single records
cannot see that, so this is a second pass, as in the US Census Bureau's PES matching:

1. the first pass links on the person's own items (:func:`~audit_engine.linkage.pipeline.link`);
2. for every candidate pair ``(i, j)``, count the first-pass links ``(a, b)`` with ``a`` in
   ``i``'s household, ``b`` in ``j``'s, ``a != i`` and ``b != j`` — levels ``none`` / ``one`` /
   ``two or more``, null when ``i``'s household has no other member;
3. add that comparison, measure its u on the same random pairs, refit m and λ by EM, rescore,
   assign one-to-one and threshold again.

Counting is vectorised: links per (household, household) pair with ``np.unique``, then per
candidate that count minus the links of ``i`` or ``j`` themselves into the other household
(inclusion–exclusion, exact under the one-to-one links of the first pass).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from audit_engine.linkage.blocking import random_pairs
from audit_engine.linkage.compare import ComparisonMatrix
from audit_engine.linkage.fellegi_sunter import Model, em, match_weights, posterior
from audit_engine.linkage.pipeline import LinkResult, LinkSettings, assign, population
from audit_engine.linkage.thresholds import choose_threshold

__all__ = ["CONTEXT_LABELS", "household_context", "with_household_context"]

CONTEXT_LABELS = ("none", "one", "two or more")


def _codes(values) -> np.ndarray:
    codes, _ = pd.factorize(pd.Series(np.asarray(values, dtype=object)), use_na_sentinel=True)
    return codes.astype(np.int64)


def household_context(left: np.ndarray, right: np.ndarray, left_hh: np.ndarray, right_hh: np.ndarray,
                      link_left: np.ndarray, link_right: np.ndarray) -> np.ndarray:
    """``int8`` level per pair ``(left[p], right[p])``: how many co-members are linked across.

    ``left_hh`` / ``right_hh``: household codes (any hashable; missing → the record is its own
    household) per record of each table. ``link_left`` / ``link_right``: the first pass's
    one-to-one links (positions). Level 0 none, 1 one, 2 two or more; -1 when the left record's
    household has no other member (nothing to learn from).
    """
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    link_left, link_right = np.asarray(link_left, np.int64), np.asarray(link_right, np.int64)
    lh, rh = _codes(left_hh), _codes(right_hh)
    # a missing household code: a household of its own
    lh = np.where(lh < 0, lh.max(initial=-1) + 1 + np.arange(len(lh)), lh)
    rh = np.where(rh < 0, rh.max(initial=-1) + 1 + np.arange(len(rh)), rh)
    n_rh = int(rh.max(initial=0)) + 1
    keys = lh[link_left] * n_rh + rh[link_right]
    uniq, counts = np.unique(keys, return_counts=True)

    def count(key: np.ndarray) -> np.ndarray:
        if len(uniq) == 0:
            return np.zeros(len(key), np.int64)
        pos = np.minimum(np.searchsorted(uniq, key), len(uniq) - 1)
        return np.where(uniq[pos] == key, counts[pos], 0)

    total = count(lh[left] * n_rh + rh[right])
    partner_of_left = np.full(len(lh), -1, np.int64)
    partner_of_left[link_left] = link_right
    partner_of_right = np.full(len(rh), -1, np.int64)
    partner_of_right[link_right] = link_left
    pl, pr = partner_of_left[left], partner_of_right[right]
    i_into_k = (pl >= 0) & (rh[np.maximum(pl, 0)] == rh[right])
    j_into_h = (pr >= 0) & (lh[np.maximum(pr, 0)] == lh[left])
    itself = pl == right
    co = total - i_into_k - j_into_h + itself
    level = np.minimum(co, 2).astype(np.int8)
    size = np.bincount(lh)[lh[left]]
    return np.where(size > 1, level, np.int8(-1)).astype(np.int8)


def with_household_context(result: LinkResult, settings: LinkSettings, left_hh, right_hh,
                           pseudo_count: float = 1.0) -> LinkResult:
    """``result`` rescored with the household-context comparison added (see module docstring).

    For a link of two tables only (a dedup has no 'other side' household). u of the new
    comparison is measured on random pairs, as the other comparisons' u were; m and λ are
    refitted by EM with every u fixed."""
    cand = result.candidates
    if cand.dedup:
        raise ValueError("household context is for linking two tables, not for a dedup")
    links = result.links()
    ll, lr = links["left"].to_numpy(np.int64), links["right"].to_numpy(np.int64)
    ctx = household_context(cand.left, cand.right, left_hh, right_hh, ll, lr)
    rl, rr = random_pairs(cand.n_left, cand.n_right, settings.random_pairs, settings.seed + 1)
    rctx = household_context(rl, rr, left_hh, right_hh, ll, lr)
    u_ctx = np.bincount(rctx[rctx >= 0], minlength=3).astype(float) + pseudo_count
    u_ctx /= u_ctx.sum()
    m_ctx = np.array([0.25, 0.25, 0.5])
    old = result.model
    names = (*old.names, "household")
    matrix = ComparisonMatrix(names, (*result.comparisons.labels, CONTEXT_LABELS),
                              np.column_stack([result.comparisons.levels, ctx]), result.comparisons.tf)
    start = Model(names, (*old.m, m_ctx), (*old.u, u_ctx), old.prior)
    model = em(matrix.levels, start, fix_u=True, n_pairs=population(cand, settings), max_iter=settings.max_iter,
               tol=settings.tol)
    weights = match_weights(model, matrix)
    post = posterior(weights)
    keep, expected = assign(cand, weights, model, settings)
    thr = choose_threshold(post[keep], settings.target_fmr, settings.target_fnmr, expected_matches=expected)
    return replace(result, comparisons=matrix, model=model, weights=weights, posteriors=post,
                   linked=keep & (post >= thr.posterior_min), threshold=thr)
