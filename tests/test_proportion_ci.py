"""sampling.estimate.proportion_ci: Korn-Graubard (beta), logit and Wald intervals for a
proportion estimated from a complex sample (R survey's svyciprop)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from sampling.estimate import Estimate, proportion_ci


def _srs(x: int, n: int) -> Estimate:
    """An SRS-like estimate: p = x / n, variance p (1 - p) / n, df n - 1 (effective n = n)."""
    p = x / n
    return Estimate(value=p, se=math.sqrt(p * (1 - p) / n), variance=p * (1 - p) / n, method="srs", df=n - 1)


# Clopper-Pearson 95 % intervals as tabulated for the exact binomial interval, 4 decimals
# (x = 0, n = 10: upper 1 - 0.025^(1/10) = 0.3085).
@pytest.mark.parametrize(("x", "n", "low", "high"), [
    (0, 10, 0.0, 0.3085),
    (1, 10, 0.0025, 0.4450),
    (5, 10, 0.1871, 0.8129),
    (10, 10, 0.6915, 1.0),
    (3, 20, 0.0321, 0.3789),
])
def test_beta_reduces_to_clopper_pearson_for_srs(x, n, low, high):
    lo, hi = proportion_ci(_srs(x, n), n=n)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize(("x", "n"), [(2, 15), (7, 50), (40, 300), (299, 300)])
def test_beta_equals_scipy_exact_binomial_interval(x, n):
    ref = stats.binomtest(x, n).proportion_ci(confidence_level=0.9, method="exact")
    lo, hi = proportion_ci(_srs(x, n), level=0.9, n=n)
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-10)


def test_beta_with_design_effect_and_df_matches_a_direct_computation():
    """Korn & Graubard 1998: effective n = p (1 - p) / v, times (t_{n-1} / t_df)^2, then the
    Clopper-Pearson bounds on the (non-integer) effective count, here found by root search on
    the regularised incomplete beta function (the binomial tail) rather than by beta quantiles."""
    p, se, df, n = 0.0132, 0.0019, 17, 9000
    est = Estimate(value=p, se=se, variance=se**2, method="JKn", df=df)
    n_eff = p * (1 - p) / se**2 * (stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, df)) ** 2
    x = n_eff * p
    # P(Beta(x, n_eff - x + 1) <= low) = 0.025;  P(Beta(x + 1, n_eff - x) <= high) = 0.975
    low = optimize.brentq(lambda q: special.betainc(x, n_eff - x + 1, q) - 0.025, 1e-12, 0.5, xtol=1e-14)
    high = optimize.brentq(lambda q: special.betainc(x + 1, n_eff - x, q) - 0.975, 1e-12, 0.5, xtol=1e-14)
    lo, hi = proportion_ci(est, n=n)
    assert lo == pytest.approx(low, rel=1e-8)
    assert hi == pytest.approx(high, rel=1e-8)
    # n=None is the n -> infinity limit (normal quantile for t_{n-1}): nearly the same for n = 9000.
    lo2, hi2 = proportion_ci(est)
    assert lo2 == pytest.approx(lo, rel=1e-3) and hi2 == pytest.approx(hi, rel=1e-3)
    # Skewed like the binomial: longer above the estimate than below, and above Wald's upper end.
    assert hi - p > p - lo
    assert hi > est.ci()[1] and lo > est.ci()[0]


def test_beta_properties():
    base = Estimate(value=0.02, se=0.004, variance=0.004**2, method="JKn", df=20)
    lo, hi = proportion_ci(base, n=5000)
    assert 0 < lo < base.value < hi < 1
    # A larger variance, fewer df, a higher level: each widens the interval on both sides.
    wider = Estimate(value=0.02, se=0.006, variance=0.006**2, method="JKn", df=20)
    fewer_df = Estimate(value=0.02, se=0.004, variance=0.004**2, method="JKn", df=5)
    for e, level in ((wider, 0.95), (fewer_df, 0.95), (base, 0.99)):
        lo2, hi2 = proportion_ci(e, level=level, n=5000)
        assert lo2 < lo and hi2 > hi
    # Symmetric under p -> 1 - p.
    mirror = Estimate(value=0.98, se=0.004, variance=0.004**2, method="JKn", df=20)
    mlo, mhi = proportion_ci(mirror, n=5000)
    assert (mlo, mhi) == pytest.approx((1 - hi, 1 - lo), rel=1e-9)
    # Bounds increase with p.
    his = [proportion_ci(Estimate(p, 0.004, 0.004**2, "JKn", 20), n=5000)[1] for p in np.linspace(0.01, 0.5, 12)]
    assert np.all(np.diff(his) > 0)


def test_beta_edge_cases():
    zero = Estimate(value=0.0, se=0.0, variance=0.0, method="JKn", df=9)
    # Korn-Graubard's rule at p = 0: effective n = n; with df = n - 1 this is Clopper-Pearson x = 0.
    assert proportion_ci(zero, n=10) == pytest.approx((0.0, 0.3085), abs=5e-5)
    assert proportion_ci(zero, n=10)[1] == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-9)
    assert proportion_ci(zero) == (0.0, 0.0)            # no n: degenerate
    one = Estimate(value=1.0, se=0.0, variance=0.0, method="JKn", df=9)
    assert proportion_ci(one, n=10) == pytest.approx((0.6915, 1.0), abs=5e-5)
    with pytest.raises(ValueError):
        proportion_ci(Estimate(1.2, 0.1, 0.01, "JKn", 9))
    with pytest.raises(ValueError):
        proportion_ci(zero, method="wilson")
    with pytest.raises(ValueError):
        proportion_ci(zero, level=1.0)


def test_logit_known_value():
    # p = 0.2, se 0.05, no df (normal): logit 0.2 = ln 0.25 = -1.386294, se on the logit scale
    # 0.05 / (0.2 * 0.8) = 0.3125, half-width 1.959964 * 0.3125 = 0.612489:
    # expit(-1.998783) = 0.119331, expit(-0.773806) = 0.315656.
    lo, hi = proportion_ci(Estimate(0.2, 0.05, 0.0025, "x"), method="logit")
    assert lo == pytest.approx(0.119331, abs=1e-6)
    assert hi == pytest.approx(0.315656, abs=1e-6)
    # With df: the t quantile.
    lo, hi = proportion_ci(Estimate(0.2, 0.05, 0.0025, "x", df=17), method="logit")
    half = stats.t.ppf(0.975, 17) * 0.3125
    assert (lo, hi) == pytest.approx((special.expit(math.log(0.25) - half), special.expit(math.log(0.25) + half)))
    assert proportion_ci(Estimate(0.0, 0.0, 0.0, "x", df=17), method="logit") == (0.0, 0.0)


def test_wald_is_the_t_interval():
    e = Estimate(0.0132, 0.0019, 0.0019**2, "JKn", df=17)
    assert proportion_ci(e, method="wald") == e.ci()
    assert proportion_ci(e, level=0.9, method="wald") == e.ci(0.9)
