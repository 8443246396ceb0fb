"""The Fellegi–Sunter model: m and u per comparison level, the prior, EM, weights, posteriors.

For a pair with comparison vector ``γ`` (level ``γ_k`` on comparison ``k``)::

    m_k(l) = P(γ_k = l | match)        u_k(l) = P(γ_k = l | non-match)
    w_k(l) = log2(m_k(l) / u_k(l))     (0 when γ_k is null: a missing value is no evidence)
    W(γ)   = log2(λ / (1 - λ)) + Σ_k w_k(γ_k)          the match weight
    P(match | γ) = 1 / (1 + 2^-W)                       the posterior

assuming the comparisons independent given match status. ``λ`` (:attr:`Model.prior`) is the
probability that a pair of the population it refers to is a match: all record pairs when u
comes from random pairs (Splink's convention), the candidate pairs when u is estimated by EM.

Term-frequency adjustment: at the top (exact) level of a ``tf`` comparison, ``u`` is replaced by
the agreed value's relative frequency ``f`` (``w = log2(m_top / f)``): among non-matches two
records agree on value ``v`` with probability ``f_v^2`` and among matches with ``m_top * f_v``.

EM runs on the distinct comparison vectors with their counts (``np.unique`` of the rows), not
on the pairs: a million pairs have a few thousand patterns, so each iteration costs
microseconds. With u fixed (estimated from random record pairs, the default in
:mod:`audit_engine.linkage.pipeline`) only m and λ are re-estimated, and the pairs outside the
candidate set count as non-matches in λ's denominator (``n_pairs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from audit_engine.linkage.compare import ComparisonMatrix

__all__ = ["Model", "Patterns", "em", "em_patterns", "estimate_u", "estimate_u_patterns", "initial_model",
           "level_weights", "match_weights", "patterns", "posterior", "train_from_labels"]

#: floor on probabilities inside logarithms: a level never seen among matches gets a large but
#: finite negative weight instead of -inf
EPS = 1e-12
#: floor on a term frequency: one value in 10 million cannot weigh more than that
TF_FLOOR = 1e-7


@dataclass(frozen=True)
class Model:
    """m and u per level of each comparison (index = level), and the prior λ."""

    names: tuple[str, ...]
    m: tuple[np.ndarray, ...]
    u: tuple[np.ndarray, ...]
    prior: float
    iterations: int = 0
    converged: bool = False

    @property
    def n_levels(self) -> tuple[int, ...]:
        return tuple(len(x) for x in self.m)


@dataclass(frozen=True)
class Patterns:
    """Distinct comparison vectors (``levels``, P × K) and how many pairs have each."""

    levels: np.ndarray
    counts: np.ndarray
    inverse: np.ndarray  # pair -> its pattern


def patterns(levels: np.ndarray, n_levels: Sequence[int], counts: np.ndarray | None = None) -> Patterns:
    """Compress pair rows into distinct patterns (mixed-radix code of the row, then ``np.unique``).

    ``counts``: how many pairs each row stands for (rows already aggregated elsewhere, e.g. a
    Spark ``groupBy`` of the levels, in any order): the patterns come out in the same order, with
    the same counts, as from the pairs themselves, so EM on them gives the same numbers.
    """
    levels = np.asarray(levels)
    radix = np.asarray(n_levels, dtype=np.float64) + 1
    if np.prod(radix) < 2.0 ** 62:
        mult = np.concatenate([[1], np.cumprod(radix[:-1])]).astype(np.int64)
        code = (levels.astype(np.int64) + 1) @ mult
        _, first, inverse, n = np.unique(code, return_index=True, return_inverse=True, return_counts=True)
        uniq = levels[first]
    else:
        uniq, inverse, n = np.unique(levels, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if counts is not None:
        n = np.zeros(len(uniq), dtype=np.int64)
        np.add.at(n, inverse, np.asarray(counts, dtype=np.int64))
    return Patterns(uniq, n, inverse)


def initial_model(names: Sequence[str], n_levels: Sequence[int], prior: float,
                  u: Sequence[np.ndarray] | None = None, m_top: float = 0.9) -> Model:
    """A starting point for EM: m puts ``m_top`` on exact agreement and halves level by level
    below it; u is given (random pairs) or the mirror image (mass on disagreement)."""
    ms, us = [], []
    for n in n_levels:
        rest = 2.0 ** np.arange(n - 1)  # level 0 .. n-2: each twice the one below
        m = np.append(rest / rest.sum() * (1 - m_top), m_top)
        ms.append(m)
        us.append(m[::-1].copy())
    if u is not None:
        us = [np.asarray(x, dtype=float) for x in u]
    return Model(tuple(names), tuple(ms), tuple(us), float(prior))


def estimate_u(matrix: ComparisonMatrix, pseudo_count: float = 1.0) -> tuple[np.ndarray, ...]:
    """u per level from the comparison vectors of random record pairs (almost all non-matches).

    Levels with no sampled pair get ``pseudo_count`` so that their weight stays finite.
    """
    return estimate_u_patterns(patterns(matrix.levels, matrix.n_levels), matrix.n_levels, pseudo_count)


def estimate_u_patterns(pat: Patterns, n_levels: Sequence[int], pseudo_count: float = 1.0) -> tuple[np.ndarray, ...]:
    """:func:`estimate_u` from the random pairs' patterns and counts (aggregated elsewhere)."""
    out = []
    for k, n in enumerate(n_levels):
        lev = pat.levels[:, k]
        ok = lev >= 0
        counts = np.zeros(n, dtype=np.int64)
        np.add.at(counts, lev[ok].astype(np.int64), pat.counts[ok].astype(np.int64))
        counts = counts.astype(float) + pseudo_count
        out.append(counts / counts.sum())
    return tuple(out)


def _weight_table(m: Sequence[np.ndarray], u: Sequence[np.ndarray]) -> np.ndarray:
    """K × (L_max + 1) natural-log Bayes factors; the last column (index -1 = null) is 0."""
    lmax = max(len(x) for x in m)
    table = np.zeros((len(m), lmax + 1))
    for k, (mk, uk) in enumerate(zip(m, u, strict=True)):
        table[k, : len(mk)] = np.log(np.maximum(mk, EPS)) - np.log(np.maximum(uk, EPS))
    return table


def _sum_weights(table: np.ndarray, levels: np.ndarray) -> np.ndarray:
    return table[np.arange(table.shape[0])[None, :], levels].sum(axis=1)


def _level_sums(levels: np.ndarray, weights: np.ndarray, n_levels: Sequence[int]) -> list[np.ndarray]:
    """Per comparison, the total weight of the (pattern) rows at each level; nulls left out."""
    return [np.bincount(levels[:, k] + 1, weights=weights, minlength=n + 1)[1:]
            for k, n in enumerate(n_levels)]


def _normalise(sums: list[np.ndarray], fallback: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    return tuple(s / s.sum() if s.sum() > 0 else f for s, f in zip(sums, fallback, strict=True))


def em(levels: np.ndarray, model: Model, *, fix_u: bool = True, n_pairs: int | None = None,
       labelled: tuple[np.ndarray, np.ndarray] | None = None, pseudo_count: float = 1.0,
       max_iter: int = 200, tol: float = 1e-6, fix_m: Sequence[str] = ()) -> Model:
    """Maximum-likelihood m (and u unless ``fix_u``) and λ by EM on the pairs' patterns.

    ``levels``: the candidate pairs' level matrix. ``n_pairs``: the size of the population λ
    refers to (with ``fix_u``: all record pairs, :attr:`Candidates.n_possible`); default the
    number of candidate pairs. ``labelled``: clerically reviewed pairs ``(levels, is_match)``
    mixed in with their match status fixed; they inform m and u, not λ (they are no random
    sample). ``pseudo_count`` pairs are added to every level in each M-step, so a level that no
    likely match reaches in this data gets a large negative weight, not minus infinity (one
    odd true match there must not be ruled out for ever). ``fix_m``: comparisons whose m stays
    as given (a prior the data cannot identify, e.g. ID-number recording error rates when
    matches are too rare for EM to find them). Returns a new :class:`Model`; the input is not
    changed.
    """
    return em_patterns(patterns(levels, model.n_levels), model, fix_u=fix_u, n_pairs=n_pairs, labelled=labelled,
                       pseudo_count=pseudo_count, max_iter=max_iter, tol=tol, fix_m=fix_m)


def em_patterns(pat: Patterns, model: Model, *, fix_u: bool = True, n_pairs: int | None = None,
                labelled: tuple[np.ndarray, np.ndarray] | None = None, pseudo_count: float = 1.0,
                max_iter: int = 200, tol: float = 1e-6, fix_m: Sequence[str] = ()) -> Model:
    """:func:`em` on the distinct patterns and their counts — its sufficient statistics, which a
    cluster aggregates without bringing the pairs to one machine (:func:`patterns` with counts)."""
    unknown = set(fix_m) - set(model.names)
    if unknown:
        raise ValueError(f"fix_m names unknown comparisons {sorted(unknown)}")
    fixed = [name in fix_m for name in model.names]
    n_levels = model.n_levels
    X, c = pat.levels, pat.counts.astype(float)
    n_pop = float(n_pairs if n_pairs is not None else c.sum())
    if n_pop < c.sum():
        raise ValueError(f"n_pairs={n_pop:.0f} is smaller than the {c.sum():.0f} pairs given")
    lab_m = lab_u = None
    if labelled is not None:
        lx, ly = np.asarray(labelled[0]), np.asarray(labelled[1], dtype=bool)
        lab_m = _level_sums(lx[ly], np.ones(ly.sum()), n_levels)
        lab_u = _level_sums(lx[~ly], np.ones((~ly).sum()), n_levels)
    m, u, lam = model.m, model.u, model.prior
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        table = _weight_table(m, u)
        logit = np.log(lam) - np.log1p(-lam) + _sum_weights(table, X)
        g = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        cg = c * g
        new_lam = float(np.clip(cg.sum() / n_pop, EPS, 1 - EPS))
        sm = _level_sums(X, cg, n_levels)
        if lab_m is not None:
            sm = [a + b for a, b in zip(sm, lab_m, strict=True)]
        new_m = tuple(old if keep else new for old, new, keep in
                      zip(m, _normalise([x + pseudo_count for x in sm], m), fixed, strict=True))
        new_u = u
        if not fix_u:
            su = _level_sums(X, c - cg, n_levels)
            if lab_u is not None:
                su = [a + b for a, b in zip(su, lab_u, strict=True)]
            new_u = _normalise([x + pseudo_count for x in su], u)
        change = max(abs(new_lam - lam) / max(lam, EPS),
                     *(np.abs(a - b).max() for a, b in zip(new_m, m, strict=True)),
                     *(np.abs(a - b).max() for a, b in zip(new_u, u, strict=True)))
        m, u, lam = new_m, new_u, new_lam
        if change < tol:
            converged = True
            break
    return replace(model, m=tuple(m), u=tuple(u), prior=lam, iterations=it, converged=converged)


def level_weights(model: Model) -> tuple[np.ndarray, ...]:
    """log2(m/u) per level of each comparison: what each level adds to a pair's match weight."""
    table = _weight_table(model.m, model.u) / np.log(2)
    return tuple(table[k, :n] for k, n in enumerate(model.n_levels))


def match_weights(model: Model, matrix: ComparisonMatrix, tf_weight: float = 1.0) -> np.ndarray:
    """Each pair's match weight ``log2(λ/(1-λ)) + Σ_k w_k``, term-frequency adjusted.

    ``tf_weight`` scales the adjustment (1 = full replacement of u by the value's frequency,
    0 = none), as Splink's ``tf_adjustment_weight``.
    """
    if matrix.names != model.names:
        raise ValueError(f"model is for {model.names}, comparisons are {matrix.names}")
    table = _weight_table(model.m, model.u) / np.log(2)
    w = _sum_weights(table, matrix.levels)
    for name, f in matrix.tf.items():
        k = model.names.index(name)
        top = ~np.isnan(f)
        u_top = max(model.u[k][-1], EPS)
        # replace log2(1/u_top) by log2(1/f) at the top level
        w[top] += tf_weight * (np.log2(u_top) - np.log2(np.maximum(f[top], TF_FLOOR)))
    return w + np.log2(model.prior) - np.log2(1 - model.prior)


def posterior(weights: np.ndarray) -> np.ndarray:
    """P(match | γ) from match weights (log2 posterior odds)."""
    return 1.0 / (1.0 + np.exp2(-np.clip(weights, -1000, 1000)))


def train_from_labels(model: Model, levels: np.ndarray, is_match: np.ndarray, strength: float = 50.0) -> Model:
    """Refine m (from labelled matches) and u (from labelled non-matches) with a prior.

    Per comparison the current m is a Dirichlet prior worth ``strength`` pairs:
    ``m'(l) = (strength * m(l) + n_match(l)) / (strength + n_match)``, nulls left out; likewise u.
    A few hundred clerically reviewed pairs then move the estimates where the data say so
    without letting one odd pair set a weight. λ is kept: reviewed pairs are not a random sample.
    For labels mixed into EM instead, pass them to :func:`em` as ``labelled``.
    """
    levels = np.asarray(levels)
    y = np.asarray(is_match, dtype=bool)
    sm = _level_sums(levels[y], np.ones(y.sum()), model.n_levels)
    su = _level_sums(levels[~y], np.ones((~y).sum()), model.n_levels)
    m = tuple((strength * a + b) / (strength + b.sum()) for a, b in zip(model.m, sm, strict=True))
    u = tuple((strength * a + b) / (strength + b.sum()) for a, b in zip(model.u, su, strict=True))
    return replace(model, m=m, u=u)
