"""Replicate weights for a stratified multi-stage design: delete-one-PSU jackknife (JKn) and the
Rao-Wu rescaling bootstrap.

Replicates let any statistic — a dual-system estimate, a ratio of ratios — get a variance by
recomputing it with each column of weights, with no derivative to work out. They are made once,
at the draw, and stored with the sealed sample, so every analyst uses the same ones.

JKn (Wolter 2007, §4.5; R survey ``jknweights`` / ``as.svrepdesign(type="JKn")``): one replicate
per PSU ``(h, i)``; in it the PSU's units get weight 0, the other PSUs of stratum ``h`` are scaled
by ``n_h / (n_h - 1)``, other strata are unchanged. Multiplier ``c_r = (1 - f_h)(n_h - 1)/n_h``
(``f_h = n_h / N_h`` when the design has an ``fpc``, else 0). For a linear statistic (a total)
the JKn variance equals the Taylor (ultimate cluster) variance exactly. Every PSU has its
replicate, in the order of the design's PSUs (sorted by stratum, then PSU id); those of
certainty strata (``f_h = 1``) get multiplier 0, so the matrix shape never depends on the data.

Rao-Wu bootstrap (Rao & Wu 1988; Rao, Wu & Yue 1992): in each replicate draw ``m_h = n_h - 1``
PSUs with replacement in each stratum; PSU ``i`` drawn ``m_hi`` times gets the factor
``1 - lambda_h + lambda_h (n_h / m_h) m_hi`` with ``lambda_h = sqrt(m_h (1 - f_h) / (n_h - 1))``
(which is ``sqrt(1 - f_h)`` for ``m_h = n_h - 1``, i.e. ``n_h/(n_h-1) m_hi`` without fpc).
Multiplier ``c_r = 1 / R``.
"""

from __future__ import annotations

import numpy as np

from sampling.estimate import SurveyDesign, with_replicates

__all__ = ["bootstrap_replicates", "jkn_replicates"]


def jkn_replicates(design: SurveyDesign) -> SurveyDesign:
    """``design`` with JKn replicate weights (n x R, one column per PSU) and their multipliers."""
    s = design._structure
    h_of_psu = s.psu_stratum
    n_h = s.n_h[h_of_psu]
    factor = s.one_minus_f[h_of_psu]
    psus = np.arange(h_of_psu.shape[0])
    w = design.weights
    unit_h = s.stratum_code
    rep = np.repeat(w[:, None], psus.size, axis=1)
    for p in psus:
        h = h_of_psu[p]
        if s.n_h[h] < 2:
            continue  # a lone certainty PSU: nothing to delete, multiplier 0
        in_h = unit_h == h
        rep[in_h, p] = w[in_h] * s.n_h[h] / (s.n_h[h] - 1.0)
        rep[s.psu_code == p, p] = 0.0
    scale = np.where(n_h > 1, factor * (n_h - 1.0) / np.maximum(n_h, 1.0), 0.0)
    return with_replicates(design, rep, scale, "JKn")


def bootstrap_replicates(design: SurveyDesign, replicates: int, rng: np.random.Generator) -> SurveyDesign:
    """``design`` with ``replicates`` Rao-Wu rescaling bootstrap replicate weights (``m_h = n_h - 1``)."""
    if replicates < 2:
        raise ValueError("the bootstrap needs at least 2 replicates")
    s = design._structure
    n_psu = s.psu_stratum.shape[0]
    factors = np.ones((n_psu, replicates))
    for h in range(s.n_h.shape[0]):
        psus = np.flatnonzero(s.psu_stratum == h)
        nh = psus.size
        if nh < 2 or s.one_minus_f[h] <= 0:
            continue
        mh = nh - 1
        lam = np.sqrt(mh * s.one_minus_f[h] / (nh - 1.0))
        draws = rng.integers(0, nh, size=(replicates, mh))
        counts = np.zeros((nh, replicates))
        for r in range(replicates):
            counts[:, r] = np.bincount(draws[r], minlength=nh)
        factors[psus, :] = 1.0 - lam + lam * (nh / mh) * counts
    rep = design.weights[:, None] * factors[s.psu_code, :]
    return with_replicates(design, rep, np.full(replicates, 1.0 / replicates), "bootstrap")
