"""Binomial funnel-plot control limits (pure functions).

For a unit of size ``n`` (persons, decided flags, P-sample persons) the limits around the
overall rate ``p0`` are the exact binomial quantiles, made continuous by the interpolation of
Spiegelhalter (2005), *Funnel plots for comparing institutional performance*, Statistics in
Medicine 24:1185-1202, appendix A.1.1: with ``r`` the smallest count whose binomial CDF
reaches ``q`` (``scipy.stats.binom.ppf(q, n, p0)``),

    alpha = (F(r) - q) / (F(r) - F(r - 1)),    limit = (r - alpha) / n.

So the limit is a proportion between ``(r - 1) / n`` and ``r / n`` and the funnel is smooth
in ``n`` instead of a staircase. Two-sided levels: 95 % (q = 0.025, 0.975) and 99.8 %
(q = 0.001, 0.999), the usual "2 and 3 standard deviation" pair.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

#: level name -> (lower q, upper q)
LEVELS: dict[str, tuple[float, float]] = {"95%": (0.025, 0.975), "99.8%": (0.001, 0.999)}


def binomial_limit(q: float, n, p0: float) -> np.ndarray:
    """The interpolated exact binomial ``q`` quantile of a proportion, for each size ``n``.

    ``n`` may be a scalar or an array; sizes of 0 give NaN, and so do fractional sizes (scipy's
    binomial is defined for whole ``n`` only: draw a funnel on a grid of whole sizes).
    ``p0`` of 0 or 1 gives that rate."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be within (0, 1), got {q}")
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"p0 must be within [0, 1], got {p0}")
    n = np.asarray(n, dtype=float)
    out = np.full(n.shape, np.nan)
    ok = n > 0
    if not ok.any():
        return out if out.ndim else out[()]
    nn = n[ok]
    if p0 in (0.0, 1.0):
        out[ok] = p0
        return out if out.ndim else out[()]
    r = binom.ppf(q, nn, p0)
    f_r = binom.cdf(r, nn, p0)
    f_r1 = binom.cdf(r - 1, nn, p0)
    alpha = (f_r - q) / (f_r - f_r1)
    out[ok] = (r - alpha) / nn
    np.clip(out, 0.0, 1.0, out=out)
    return out if out.ndim else out[()]


def funnel_limits(n, p0: float) -> dict[str, np.ndarray]:
    """The four limits for sizes ``n``: ``lower_95``, ``upper_95``, ``lower_99_8``, ``upper_99_8``."""
    out = {}
    for level, (lo, hi) in LEVELS.items():
        tag = level.rstrip("%").replace(".", "_")
        out[f"lower_{tag}"] = binomial_limit(lo, n, p0)
        out[f"upper_{tag}"] = binomial_limit(hi, n, p0)
    return out


def classify(count, n, p0: float) -> np.ndarray:
    """The outlier label of each unit: ``above 99.8%``, ``above 95%``, ``below 99.8%``,
    ``below 95%`` or ``''`` (within the 95 % limits, or a unit of size 0).

    A unit is above a limit when its rate is strictly greater than it (below: strictly less),
    with one exception at the ceiling: when the binomial quantile itself is ``n`` (a rate near
    1, e.g. confirmed-error rates of 99 %), the interpolated limit lies just under 100 % and a
    unit with every item counted would be "above" it although ``P(Y = n)`` is large; such a
    unit is within the limits."""
    count = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    lim = funnel_limits(n, p0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, count / np.where(n > 0, n, 1), np.nan)

    def above(level: str) -> np.ndarray:
        tag = level.rstrip("%").replace(".", "_")
        at_ceiling = (count >= n) & (n > 0) & (binom.ppf(LEVELS[level][1], np.maximum(n, 1), p0) >= n)
        return (rate > lim[f"upper_{tag}"]) & ~at_ceiling

    label = np.full(np.shape(rate), "", dtype=object)
    label = np.where(rate < lim["lower_95"], "below 95%", label)
    label = np.where(rate < lim["lower_99_8"], "below 99.8%", label)
    label = np.where(above("95%"), "above 95%", label)
    label = np.where(above("99.8%"), "above 99.8%", label)
    return label
