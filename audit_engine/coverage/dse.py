"""Dual-system estimation by post-stratum with design weights (Petersen / Chandrasekar-Deming,
as in the US Census Bureau's and China's PES).

For post-stratum ``g``::

    N_g = C_g * (CE_g / E_g) * (P_g / M_g)

``C_g``: census records in ``g`` (whole county). E-sample (census records in the sample EAs):
``E_g`` weighted records, ``CE_g`` weighted correct enumerations. P-sample (PES persons in the
sample EAs): ``P_g`` weighted valid persons, ``M_g`` weighted persons matched to the census.
``N = sum_g N_g``. Rates: net undercount ``(N - C) / N``; gross omission ``1 - M / P``;
erroneous enumeration ``1 - CE / E``; duplication ``D / E`` (``D`` weighted duplicates).

Domains. Per post-stratum: ``N_g`` and the direct rates of ``g``. Per design stratum ``h``:
``N_h = sum_g C_hg * (CE_g / E_g) * (P_g / M_g)`` — the county's coverage correction factor of
each post-stratum applied to the stratum's census count (the synthetic estimator the US Census
Bureau uses for areas below the post-stratum level) — and the *direct* omission, erroneous
enumeration and duplication rates of the stratum's sample.

Variance: replicate weights (JKn from the draw) are per PSU (EA); a person's replicate weight is
``w_k * w_psu^(r) / w_psu``. All totals are computed at once for the full sample and every
replicate as a sparse (cells x persons) indicator matrix times the (persons x (1 + R)) weight
matrix; each statistic is then a vector over columns, and ``v = sum_r c_r (theta_r - theta)^2``.

Empty post-strata: a post-stratum whose matched weight ``M_g`` or E-sample weight ``E_g`` is 0
(in the full sample *or in any replicate*) while it has a census count or P-sample persons makes
:func:`dse` raise ``ValueError`` naming it; collapse post-strata (a coarser ``post_stratum``
mapping) before estimating. No automatic collapsing is done.

Intervals: the rates that are proportions (omission, erroneous enumeration, duplication) get the
Korn-Graubard (``"beta"``, default), logit or Wald interval of
:func:`sampling.estimate.proportion_ci` (``dse(..., ci_method=...)``); ``N`` and the net
undercount get the Student-t interval with the design df.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from sampling.estimate import Estimate, proportion_ci

__all__ = [
    "AGE_GROUPS",
    "CensusCounts",
    "CoverageResult",
    "ESample",
    "PROPORTIONS",
    "PSUReplicates",
    "PSample",
    "coverage_ci",
    "dse",
    "post_stratum",
]

AGE_GROUPS: tuple[tuple[int, int | None], ...] = ((0, 14), (15, 29), (30, 44), (45, 59), (60, None))
RATES = ("N", "net_undercount", "omission", "erroneous", "duplication")


def post_stratum(sex, age, urban, age_groups=AGE_GROUPS, by_sex: bool = True, by_urban: bool = True) -> np.ndarray:
    """Default post-strata: ``sex x age group x urban/rural`` as strings like ``"1|15-29|U"``.

    ``age_groups``: (low, high) inclusive bounds, ``high=None`` for an open top group; an age
    outside every group (or missing) raises. ``by_sex`` / ``by_urban``: drop that variable."""
    age = np.asarray(pd.to_numeric(pd.Series(np.asarray(age)), errors="coerce"), dtype=float)
    label = np.full(age.shape, "", dtype=object)
    done = np.zeros(age.shape, dtype=bool)
    for lo, hi in age_groups:
        hit = ~done & (age >= lo) & ((age <= hi) if hi is not None else True)
        label[hit] = f"{lo}-{hi}" if hi is not None else f"{lo}+"
        done |= hit
    if not done.all():
        raise ValueError(f"{int((~done).sum())} age(s) outside the age groups (or missing)")
    parts = [label]
    if by_sex:
        parts.insert(0, np.asarray(sex).astype(str).astype(object))
    if by_urban:
        parts.append(np.where(np.asarray(urban, dtype=bool), "U", "R").astype(object))
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return np.asarray(out, dtype=object)


def _arr(x, dtype=None) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


@dataclass(frozen=True)
class PSample:
    """PES persons (valid ones only: residents at the standard time) in the sample EAs."""

    weight: np.ndarray
    stratum: np.ndarray
    psu: np.ndarray
    post_stratum: np.ndarray
    matched: np.ndarray  # 1/True: found in the census

    def __post_init__(self) -> None:
        _check(self, ("stratum", "psu", "post_stratum", "matched"))


@dataclass(frozen=True)
class ESample:
    """Census records in the sample EAs."""

    weight: np.ndarray
    stratum: np.ndarray
    psu: np.ndarray
    post_stratum: np.ndarray
    correct: np.ndarray  # 1/True: a correct enumeration
    duplicate: np.ndarray  # 1/True: an erroneous duplicate (the extra record)

    def __post_init__(self) -> None:
        _check(self, ("stratum", "psu", "post_stratum", "correct", "duplicate"))


@dataclass(frozen=True)
class CensusCounts:
    """Census record counts of the whole county by design stratum and post-stratum (one row per
    cell, or per record with ``count`` 1)."""

    stratum: np.ndarray
    post_stratum: np.ndarray
    count: np.ndarray

    def __post_init__(self) -> None:
        _check(self, ("stratum", "post_stratum"), weight="count")


@dataclass(frozen=True)
class PSUReplicates:
    """The draw's weights per PSU: ``weight`` (n_psu), ``replicate_weights`` (n_psu x R),
    ``scale`` (c_r), and the PSU's ``stratum`` (for the design degrees of freedom)."""

    psu: np.ndarray
    stratum: np.ndarray
    weight: np.ndarray
    replicate_weights: np.ndarray
    scale: np.ndarray
    method: str = "JKn"

    @classmethod
    def from_drawn(cls, drawn, method: str = "JKn") -> PSUReplicates:
        """From :class:`sampling.draw.Drawn` (one row per selected EA)."""
        u = drawn.units
        return cls(u["psu"].to_numpy(), u["stratum"].to_numpy(), u["weight"].to_numpy(float),
                   np.asarray(drawn.replicate_weights, float), np.asarray(drawn.replicate_scale, float), method)

    @property
    def df(self) -> int:
        return int(pd.unique(self.psu).size - pd.unique(self.stratum).size)

    def factors(self, psu) -> np.ndarray:
        """Per unit, ``[1, w^(1)/w, ..., w^(R)/w]`` of its PSU (n x (1 + R))."""
        idx = pd.Index(self.psu).get_indexer(np.asarray(psu))
        if (idx < 0).any():
            raise ValueError(f"{int((idx < 0).sum())} unit(s) in a PSU the draw did not select")
        w = np.asarray(self.weight, float)
        f = np.hstack([np.ones((w.size, 1)), np.asarray(self.replicate_weights, float) / w[:, None]])
        return f[idx]


def _check(obj, cols, weight: str = "weight") -> None:
    w = _arr(getattr(obj, weight), float)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{weight} must be a 1-d array of finite non-negative numbers")
    object.__setattr__(obj, weight, w)
    for c in cols:
        a = _arr(getattr(obj, c))
        if a.shape != w.shape:
            raise ValueError(f"{c} must have one entry per unit ({w.size})")
        object.__setattr__(obj, c, a)


PROPORTIONS = ("omission", "erroneous", "duplication")
CI_METHODS = ("beta", "logit", "wald")
LEVELS = ("overall", "stratum", "post_stratum")


def coverage_ci(est: Estimate, stat: str, method: str = "beta", level: float = 0.95,
                n: int | None = None) -> tuple[float, float]:
    """The interval of one coverage statistic: the rates that are proportions (``PROPORTIONS``)
    by :func:`sampling.estimate.proportion_ci` with ``method`` (``n``: the unweighted number of
    sample persons / records in the rate's denominator), ``N`` and ``net_undercount`` by the
    Student-t interval :meth:`Estimate.ci` whatever ``method``."""
    if method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {method!r}")
    if stat in PROPORTIONS:
        return proportion_ci(est, level, method, n=n)
    return est.ci(level)


@dataclass(frozen=True)
class CoverageResult:
    """Estimates keyed by statistic (``RATES``): ``overall[stat]``, ``by_stratum[h][stat]``,
    ``by_post_stratum[g][stat]``; ``census`` is C (overall). ``factors``: per post-stratum the
    coverage correction factor ``N_g / C_g`` (full sample).

    Intervals: :meth:`ci` (and the ``ci_low`` / ``ci_high`` columns of :meth:`table`) use
    ``ci_method`` for the omission, erroneous enumeration and duplication rates (``"beta"``,
    Korn-Graubard, by default; ``"logit"``; ``"wald"``) and the t interval for ``N`` and
    ``net_undercount``. ``n_obs[(level, domain)]`` holds the unweighted P-sample (``"p"``) and
    E-sample (``"e"``) sizes of each domain, the ``n`` of the Korn-Graubard df adjustment."""

    overall: dict[str, Estimate]
    by_stratum: dict[object, dict[str, Estimate]]
    by_post_stratum: dict[object, dict[str, Estimate]]
    census: float
    factors: dict[object, float] = field(default_factory=dict)
    ci_method: str = "beta"
    n_obs: dict[tuple[str, object], dict[str, int]] = field(default_factory=dict)

    def _domain(self, level: str, domain) -> dict[str, Estimate]:
        if level == "overall":
            return self.overall
        if level == "stratum":
            return self.by_stratum[domain]
        if level == "post_stratum":
            return self.by_post_stratum[domain]
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")

    def ci(self, stat: str, level: str = "overall", domain=None, conf: float = 0.95,
           method: str | None = None) -> tuple[float, float]:
        """Interval of ``stat`` in a domain (``level`` "overall", "stratum" or "post_stratum";
        ``domain`` the stratum / post-stratum label), at confidence ``conf``, by ``method``
        (default the result's ``ci_method``)."""
        est = self._domain(level, domain)[stat]
        key = (level, "all" if level == "overall" else domain)
        n = self.n_obs.get(key, {}).get("p" if stat == "omission" else "e")
        return coverage_ci(est, stat, method or self.ci_method, conf, n=n)

    def table(self, conf: float = 0.95) -> pd.DataFrame:
        """One row per (level, domain, statistic): value, se, ci_low, ci_high, ci_method (the
        interval's method: ``ci_method`` for the rates that are proportions, ``"t"`` for ``N``
        and ``net_undercount``)."""
        rows = []
        for level, d in (("overall", {"all": self.overall}), ("stratum", self.by_stratum),
                         ("post_stratum", self.by_post_stratum)):
            for key, ests in d.items():
                for stat, e in ests.items():
                    lo, hi = self.ci(stat, level, None if level == "overall" else key, conf)
                    m = self.ci_method if stat in PROPORTIONS and self.ci_method != "wald" else "t"
                    rows.append((level, key, stat, e.value, e.se, lo, hi, m))
        return pd.DataFrame(rows, columns=["level", "domain", "statistic", "value", "se", "ci_low", "ci_high",
                                           "ci_method"])


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def dse(p: PSample, e: ESample, census: CensusCounts, reps: PSUReplicates,
        ci_method: str = "beta") -> CoverageResult:
    """Dual-system estimate of the population and the coverage rates, overall, per design
    stratum and per post-stratum, each an :class:`Estimate` with its replicate variance.
    See the module docstring for the formulas and the domain conventions. ``ci_method``: the
    interval of the rates that are proportions in the result (:func:`coverage_ci`)."""
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    strata = pd.Index(pd.unique(np.concatenate([_arr(census.stratum, object), _arr(p.stratum, object),
                                                _arr(e.stratum, object)])))
    posts = pd.Index(pd.unique(np.concatenate([_arr(census.post_stratum, object), _arr(p.post_stratum, object),
                                               _arr(e.post_stratum, object)])))
    n_h, n_g = len(strata), len(posts)

    def cells(stratum, post) -> np.ndarray:
        return strata.get_indexer(_arr(stratum, object)) * n_g + posts.get_indexer(_arr(post, object))

    def totals(sample, ys) -> list[np.ndarray]:
        """Per (h, g) and column (full sample + replicates): weighted totals of each y."""
        n = sample.weight.size
        ind = sparse.csr_matrix((np.ones(n), (cells(sample.stratum, sample.post_stratum), np.arange(n))),
                                shape=(n_h * n_g, n))
        wmat = sample.weight[:, None] * reps.factors(sample.psu)
        return [np.asarray(ind @ (np.asarray(y, float)[:, None] * wmat)).reshape(n_h, n_g, -1) for y in ys]

    big_p, big_m = totals(p, [np.ones(p.weight.size), p.matched])
    big_e, big_ce, big_d = totals(e, [np.ones(e.weight.size), e.correct, e.duplicate])
    c_hg = np.zeros(n_h * n_g)
    np.add.at(c_hg, cells(census.stratum, census.post_stratum), census.count)
    c_hg = c_hg.reshape(n_h, n_g)

    # Coverage correction factor per post-stratum, full sample and each replicate: (G, 1 + R).
    pg, mg, eg, ceg = (t.sum(axis=0) for t in (big_p, big_m, big_e, big_ce))
    need = (c_hg.sum(axis=0) > 0) | (pg[:, 0] > 0)
    bad = need & ((mg <= 0) | (eg <= 0)).any(axis=1)
    if bad.any():
        which = [str(posts[i]) for i in np.flatnonzero(bad)]
        raise ValueError(f"post-strata with no matched P-sample weight or no E-sample weight (in the full "
                         f"sample or a replicate): {which}; collapse them into neighbouring post-strata")
    factor = np.where(need[:, None], _div(ceg, eg) * _div(pg, mg), 0.0)

    def stats(c, pt, mt, et, cet, dt, n_hat) -> dict[str, np.ndarray]:
        return {"N": n_hat, "net_undercount": _div(n_hat - c, n_hat), "omission": 1.0 - _div(mt, pt),
                "erroneous": 1.0 - _div(cet, et), "duplication": _div(dt, et)}

    scale = np.asarray(reps.scale, float)
    df = reps.df

    def est(theta: np.ndarray) -> Estimate:
        var = float(np.sum(scale * (theta[1:] - theta[0]) ** 2))
        return Estimate(value=float(theta[0]), se=float(np.sqrt(var)), variance=var, method=reps.method, df=df)

    def pack(d) -> dict[str, Estimate]:
        return {k: est(v) for k, v in d.items() if not np.isnan(v[0])}

    n_g_hat = c_hg.sum(axis=0)[:, None] * factor          # (G, 1 + R)
    n_h_hat = c_hg @ factor                               # (H, 1 + R)
    c_total = float(c_hg.sum())
    overall = pack(stats(c_total, pg.sum(0), mg.sum(0), eg.sum(0), ceg.sum(0), big_d.sum((0, 1)),
                         n_g_hat.sum(0)))
    by_stratum = {strata[h]: pack(stats(c_hg[h].sum(), big_p[h].sum(0), big_m[h].sum(0), big_e[h].sum(0),
                                        big_ce[h].sum(0), big_d[h].sum(0), n_h_hat[h]))
                  for h in range(n_h)}
    dg = big_d.sum(axis=0)
    by_post = {posts[g]: pack(stats(c_hg[:, g].sum(), pg[g], mg[g], eg[g], ceg[g], dg[g], n_g_hat[g]))
               for g in range(n_g)}
    factors = {posts[g]: float(factor[g, 0]) for g in range(n_g) if need[g]}

    def counts(sample) -> np.ndarray:
        k = np.zeros(n_h * n_g)
        np.add.at(k, cells(sample.stratum, sample.post_stratum), 1.0)
        return k.reshape(n_h, n_g)

    kp, ke = counts(p), counts(e)
    n_obs = {("overall", "all"): {"p": int(kp.sum()), "e": int(ke.sum())}}
    n_obs.update({("stratum", strata[h]): {"p": int(kp[h].sum()), "e": int(ke[h].sum())} for h in range(n_h)})
    n_obs.update({("post_stratum", posts[g]): {"p": int(kp[:, g].sum()), "e": int(ke[:, g].sum())}
                  for g in range(n_g)})
    return CoverageResult(overall, by_stratum, by_post, c_total, factors, ci_method, n_obs)
