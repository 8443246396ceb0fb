"""One settings object drives block → compare → train → score → assign → threshold.

:func:`link` is the whole unsupervised run for two tables (PES ↔ census persons);
:func:`dedupe` the same within one table (duplicates in the census), without the one-to-one
step — grouping duplicates into clusters is a later step's job. Each stage is its own module
and can be called alone; this module only wires them and times them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from audit_engine.linkage.assign import one_to_one
from audit_engine.linkage.blocking import BlockingRule, Candidates, block, random_pairs
from audit_engine.linkage.compare import Comparer, ComparisonMatrix, ComparisonSpec
from audit_engine.linkage.fellegi_sunter import Model, em, estimate_u, initial_model, match_weights, posterior
from audit_engine.linkage.thresholds import Threshold, choose_threshold

__all__ = ["LinkResult", "LinkSettings", "assign", "dedupe", "link", "population", "start_model"]


@dataclass(frozen=True)
class LinkSettings:
    """What to block on, what to compare, how to train and where to cut.

    ``u_from_random_pairs`` (default): u is measured on ``random_pairs`` record pairs drawn from
    all pairs, as Splink does, and held fixed while EM fits m and λ; off, EM fits u as well on
    the candidate pairs (classic Fellegi–Sunter EM). ``expected_share`` only starts EM: the
    share of the smaller table expected to have a match (PES: most persons; for a dedup, the
    expected duplicate pairs per record). ``assign_floor``: pairs whose match weight is not above
    it never link (0: at least as likely a match as not). ``target_fmr`` / ``target_fnmr``: the
    error rates the threshold is chosen for (:func:`~audit_engine.linkage.thresholds.choose_threshold`).
    ``fixed_m``: per comparison name, m per level held fixed during EM (a stated prior).
    """

    rules: Sequence[BlockingRule]
    comparisons: Sequence[ComparisonSpec]
    u_from_random_pairs: bool = True
    random_pairs: int = 1_000_000
    target_fmr: float | None = 0.001
    target_fnmr: float | None = None
    one_to_one: bool = True
    assign_floor: float = 0.0
    expected_share: float = 0.5
    seed: int = 0
    max_iter: int = 200
    tol: float = 1e-6
    fixed_m: Mapping[str, Sequence[float]] | None = None


@dataclass(frozen=True)
class LinkResult:
    """Everything a run produced, per candidate pair where it is an array."""

    candidates: Candidates
    comparisons: ComparisonMatrix
    model: Model
    weights: np.ndarray
    posteriors: np.ndarray
    linked: np.ndarray  # bool per candidate pair
    threshold: Threshold
    seconds: dict[str, float] = field(default_factory=dict)

    def links(self) -> pd.DataFrame:
        """The accepted pairs: positions, match weight and posterior, best first."""
        i = np.flatnonzero(self.linked)
        out = pd.DataFrame({"left": self.candidates.left[i], "right": self.candidates.right[i],
                            "weight": self.weights[i], "posterior": self.posteriors[i]})
        return out.sort_values("weight", ascending=False, ignore_index=True)


class Clock:
    """Seconds per stage: ``lap(name)`` records the time since the previous lap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._t
        self._t = now


def population(cand: Candidates, settings: LinkSettings) -> int:
    """The pairs λ refers to: all record pairs when u comes from random pairs, else the candidates."""
    return cand.n_possible if settings.u_from_random_pairs else len(cand)


def assign(cand: Candidates, weights: np.ndarray, model: Model, settings: LinkSettings) -> tuple[np.ndarray, float]:
    """The pairs that may link — the optimal one-to-one subset for two tables with
    ``settings.one_to_one``, else every pair above ``assign_floor`` — and the expected number
    of matches the threshold's error estimates refer to (λ times :func:`population`, at most
    the smaller table under one-to-one). Every rescoring (reviewed pairs, household context)
    goes through here, so all cut the same way."""
    one = settings.one_to_one and not cand.dedup
    keep = one_to_one(cand.left, cand.right, weights, settings.assign_floor) if one else weights > settings.assign_floor
    expected = model.prior * population(cand, settings)
    if one:
        expected = min(expected, min(cand.n_left, cand.n_right))
    return keep, float(expected)


def start_model(names: Sequence[str], n_levels: Sequence[int], settings: LinkSettings, *, smaller: int, n_pop: int,
                u: Sequence[np.ndarray] | None) -> Model:
    """EM's starting point: λ from ``settings.expected_share`` of the ``smaller`` table's records
    among the ``n_pop`` pairs (:func:`population`), u as given (random pairs) and ``fixed_m``
    in place — shared by every backend so that all start, and so end, alike."""
    prior = float(np.clip(settings.expected_share * smaller / max(n_pop, 1), 1e-9, 0.5))
    start = initial_model(names, n_levels, prior, u)
    fixed = dict(settings.fixed_m or {})
    if fixed:
        ms = list(start.m)
        for name, values in fixed.items():
            if name not in names:
                raise ValueError(f"fixed_m names an unknown comparison {name!r}")
            k = list(names).index(name)
            v = np.asarray(values, dtype=float)
            if v.shape != ms[k].shape or not np.isclose(v.sum(), 1.0) or (v <= 0).any():
                raise ValueError(f"fixed_m[{name!r}] must be {len(ms[k])} positive probabilities summing to 1")
            ms[k] = v
        start = replace(start, m=tuple(ms))
    return start


def link(left: pd.DataFrame, right: pd.DataFrame | None, settings: LinkSettings) -> LinkResult:
    """Unsupervised Fellegi–Sunter linkage of ``left`` with ``right`` (``None``: dedupe ``left``)."""
    clock = Clock()
    dedup = right is None
    cand = block(left, right, settings.rules)
    clock.lap("block")
    comparer = Comparer(settings.comparisons, left, right)
    matrix = comparer(cand.left, cand.right)
    clock.lap("compare")

    smaller = cand.n_left if dedup else min(cand.n_left, cand.n_right)
    n_pop = population(cand, settings)
    u = None
    if settings.u_from_random_pairs:
        rl, rr = random_pairs(cand.n_left, None if dedup else cand.n_right, settings.random_pairs, settings.seed)
        u = estimate_u(comparer(rl, rr))
    clock.lap("u")
    start = start_model(matrix.names, matrix.n_levels, settings, smaller=smaller, n_pop=n_pop, u=u)
    model = em(matrix.levels, start, fix_u=settings.u_from_random_pairs, n_pairs=n_pop, max_iter=settings.max_iter,
               tol=settings.tol, fix_m=tuple(settings.fixed_m or {}))
    clock.lap("em")

    weights = match_weights(model, matrix)
    post = posterior(weights)
    keep, expected = assign(cand, weights, model, settings)
    clock.lap("score+assign")

    thr = choose_threshold(post[keep], settings.target_fmr, settings.target_fnmr, expected_matches=expected)
    linked = keep & (post >= thr.posterior_min)
    clock.lap("threshold")
    return LinkResult(cand, matrix, model, weights, post, linked, thr, clock.seconds)


def dedupe(table: pd.DataFrame, settings: LinkSettings) -> LinkResult:
    """Duplicate pairs within one table (no one-to-one constraint)."""
    return link(table, None, settings)
