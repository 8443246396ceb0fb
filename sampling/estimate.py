"""Design-based estimation for the PES: Horvitz-Thompson totals, Hajek means, ratios, domains.

One design object (:class:`SurveyDesign`, like R survey's ``svydesign``) carries weights, strata,
PSUs, the finite population correction and, optionally, replicate weights. Every estimator takes
it and returns an :class:`Estimate` (value, standard error, variance, method, design degrees of
freedom, Kish design effect).

Notation. Stratum ``h = 1..H`` has ``n_h`` sampled PSUs out of ``N_h``; unit ``k`` has design
weight ``w_k``; ``f_h = n_h / N_h``. PSUs are identified by the pair (stratum, psu), as R survey's
``nest=TRUE``: the same PSU id in two strata names two PSUs.

Variance (Taylor linearisation). Every estimator here is written as ``theta = g(totals)``; its
linearised variable ``u_k`` makes ``theta_hat - theta ~ sum_k w_k u_k`` to first order, and

    v(theta_hat) = sum_h (1 - f_h) * n_h / (n_h - 1) * sum_i (z_hi - zbar_h)^2,
    z_hi = sum_{k in PSU hi} w_k u_k,    zbar_h = (1 / n_h) sum_i z_hi,

the stratified with-replacement ("ultimate cluster") PSU-total formula, with the first-stage
correction ``1 - f_h`` when ``fpc`` is given and ``1`` otherwise. Sources: Wolter (2007),
*Introduction to Variance Estimation*, 2nd ed., ch. 1 (ultimate cluster) and ch. 6 (Taylor
series); Särndal, Swensson & Wretman (1992), *Model Assisted Survey Sampling*, ch. 4-5 and 10;
Lohr (2019), *Sampling: Design and Analysis*, 3rd ed., ch. 9. It is the formula of R survey's
``svytotal``/``svymean``/``svyratio`` and of samplics' ``TaylorEstimator``.

    total:  Y_hat = sum w y,                         u = y
    mean:   ybar = Y_hat / N_hat, N_hat = sum w,     u = (y - ybar) / N_hat
    ratio:  R_hat = Y_hat / X_hat,                   u = (y - R_hat x) / X_hat

Variance (replicates). With replicate weights ``w^(r)`` (n x R) and multipliers ``c_r``,

    v(theta_hat) = sum_r c_r (theta_hat^(r) - theta_hat)^2,

centred on the full-sample estimate (R survey's ``mse=TRUE``; samplics' ``conservative=True``).
For a total, a mean of the replicates equals theta_hat under JKn, so centring makes no difference
there. See :mod:`sampling.replicates` for JKn and the Rao-Wu bootstrap.

Design effect (Kish 1965, *Survey Sampling*, §8.2): ``deff = v(theta_hat) / v_srs`` where
``v_srs`` is the variance of the same estimator under simple random sampling of the same number of
units ``n`` (with replacement; times ``1 - n / N_hat`` when the design has an ``fpc``):

    v_srs = N_hat^2 * (1 - n / N_hat) * s_u^2 / n,
    s_u^2 = n / (n - 1) * sum_k w_k (u_k - ubar_w)^2 / sum_k w_k,   ubar_w = weighted mean of u,

which is R survey's ``deff="replace"`` for means and totals without an fpc and its ``deff=TRUE``
(``svyvar`` / n, times ``(N_hat - n) / N_hat``) with one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special, stats

__all__ = [
    "Estimate",
    "SurveyDesign",
    "design_df",
    "domain",
    "mean",
    "proportion_ci",
    "ratio",
    "replicate_variance",
    "taylor_variance",
    "total",
]


@dataclass(frozen=True, eq=False)
class SurveyDesign:
    """A stratified (multi-stage) design, described at its first stage.

    ``weights``: design weight of each observation unit (length n). ``strata``: stratum id per
    unit. ``psu``: PSU id per unit (PSUs are the (stratum, psu) pairs). ``fpc``: per unit, the
    population number of PSUs in its stratum ``N_h`` (constant within a stratum, ``>= n_h``);
    ``None`` is the with-replacement approximation. ``replicate_weights``: n x R matrix;
    ``replicate_scale``: per replicate multiplier ``c_r``; ``replicate_method``: "JKn",
    "bootstrap", ... (carried into :attr:`Estimate.method`).

    A stratum with a single sampled PSU is allowed only when it is a certainty stratum
    (``fpc`` says ``N_h == n_h``); it then contributes no variance. Otherwise such a stratum is an
    error (R survey's ``lonely.psu="fail"``): collapse strata before estimating.
    """

    weights: np.ndarray
    strata: np.ndarray
    psu: np.ndarray
    fpc: np.ndarray | None = None
    replicate_weights: np.ndarray | None = None
    replicate_scale: np.ndarray | None = None
    replicate_method: str | None = None

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=float)
        n = w.shape[0]
        if w.ndim != 1 or n == 0:
            raise ValueError("weights must be a non-empty 1-d array")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
        strata = np.asarray(self.strata)
        psu = np.asarray(self.psu)
        if strata.shape != (n,) or psu.shape != (n,):
            raise ValueError("strata and psu must have one entry per unit")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "strata", strata)
        object.__setattr__(self, "psu", psu)
        if self.fpc is not None:
            fpc = np.asarray(self.fpc, dtype=float)
            if fpc.shape != (n,):
                raise ValueError("fpc must have one entry per unit (N_h of the unit's stratum)")
            object.__setattr__(self, "fpc", fpc)
        if self.replicate_weights is not None:
            rw = np.asarray(self.replicate_weights, dtype=float)
            if rw.ndim != 2 or rw.shape[0] != n:
                raise ValueError("replicate_weights must be n x R")
            if self.replicate_scale is None:
                raise ValueError("replicate_weights need replicate_scale")
            scale = np.asarray(self.replicate_scale, dtype=float)
            if scale.shape != (rw.shape[1],):
                raise ValueError("replicate_scale must have one entry per replicate")
            object.__setattr__(self, "replicate_weights", rw)
            object.__setattr__(self, "replicate_scale", scale)
        # Validate the structure now (single-PSU strata, fpc consistency), not at first use.
        _ = self._structure

    @property
    def n(self) -> int:
        """Number of observation units."""
        return int(self.weights.shape[0])

    @property
    def n_strata(self) -> int:
        return int(self._structure.n_h.shape[0])

    @property
    def n_psus(self) -> int:
        return int(self._structure.psu_stratum.shape[0])

    @cached_property
    def _structure(self) -> _Structure:
        return _Structure.build(self.strata, self.psu, self.fpc)


@dataclass(frozen=True, eq=False)
class _Structure:
    """Integer codes of the design: strata sorted by id, PSUs sorted by (stratum, psu)."""

    stratum_code: np.ndarray  # per unit, 0..H-1
    psu_code: np.ndarray  # per unit, 0..P-1 (global over (stratum, psu) pairs)
    psu_stratum: np.ndarray  # per PSU, its stratum code
    n_h: np.ndarray  # per stratum, sampled PSUs
    one_minus_f: np.ndarray  # per stratum, 1 - n_h/N_h (1.0 without fpc)
    big_n_h: np.ndarray | None  # per stratum, N_h (None without fpc)

    @staticmethod
    def build(strata: np.ndarray, psu: np.ndarray, fpc: np.ndarray | None) -> _Structure:
        _, stratum_code = np.unique(strata, return_inverse=True)
        _, psu_in = np.unique(psu, return_inverse=True)
        pairs = np.stack([stratum_code, psu_in], axis=1)
        uniq_pairs, psu_code = np.unique(pairs, axis=0, return_inverse=True)
        psu_code = psu_code.reshape(-1)
        psu_stratum = uniq_pairs[:, 0]
        n_h = np.bincount(psu_stratum).astype(float)
        n_strata = n_h.shape[0]
        big_n_h = None
        one_minus_f = np.ones(n_strata)
        if fpc is not None:
            big_n_h = np.full(n_strata, np.nan)
            big_n_h[stratum_code] = fpc
            # Constant within stratum: every unit's N_h equals its stratum's.
            if not np.all(big_n_h[stratum_code] == fpc):
                raise ValueError("fpc (N_h) must be constant within each stratum")
            if np.any(big_n_h < n_h):
                raise ValueError("fpc: N_h smaller than the number of sampled PSUs n_h")
            one_minus_f = 1.0 - n_h / big_n_h
        lonely = (n_h < 2) & (one_minus_f > 0)
        if np.any(lonely):
            ids = np.unique(strata)[lonely]
            raise ValueError(
                f"strata with a single sampled PSU (not certainty): {ids.tolist()}; collapse them"
            )
        return _Structure(stratum_code, psu_code, psu_stratum, n_h, one_minus_f, big_n_h)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error.

    ``method``: "taylor", or the design's replicate method ("JKn", "bootstrap").
    ``df``: design degrees of freedom (#PSUs - #strata), used by :meth:`ci`.
    ``deff``: Kish design effect against SRS of the same number of units (see module docstring).
    """

    value: float
    se: float
    variance: float
    method: str
    df: int | None = None
    deff: float | None = None

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Two-sided Wald interval ``value -/+ q * se``; q from Student's t with ``df`` degrees of
        freedom when ``df`` is given (and positive), else from the standard normal."""
        if not 0.0 < level < 1.0:
            raise ValueError("level must be in (0, 1)")
        p = 0.5 + level / 2.0
        q = float(stats.t.ppf(p, self.df)) if self.df is not None and self.df > 0 else float(stats.norm.ppf(p))
        return (self.value - q * self.se, self.value + q * self.se)

    @property
    def cv(self) -> float:
        """Coefficient of variation se / |value|."""
        return self.se / abs(self.value) if self.value != 0 else float("inf")


PROPORTION_CI_METHODS = ("beta", "logit", "wald")


def proportion_ci(est: Estimate, level: float = 0.95, method: str = "beta",
                  n: int | None = None) -> tuple[float, float]:
    """Confidence interval for a proportion ``est.value`` in [0, 1] with design variance
    ``est.variance`` and design degrees of freedom ``est.df`` — R survey's ``svyciprop``.

    ``method="beta"`` (default; ``svyciprop(method="beta")``, Korn & Graubard 1998, *Survey
    Methodology* 24, 193-201): the Clopper-Pearson interval on the effective sample size.
    With ``alpha = 1 - level`` and ``p = est.value``::

        n_eff = p (1 - p) / variance                                    (effective n)
        n_eff = n_eff * (t_{n-1}(alpha/2) / t_df(alpha/2))^2             (df adjustment)
        low   = Beta^-1(alpha/2;     n_eff p,     n_eff (1 - p) + 1)
        high  = Beta^-1(1 - alpha/2; n_eff p + 1, n_eff (1 - p))

    ``n`` is the number of observations (R's ``nrow(design)``); ``n=None`` takes the limit
    ``n -> inf`` (normal quantile in the numerator, which is what ``t_{n-1}`` is for the
    thousands of persons of a PES). ``df=None`` on the estimate uses the normal quantile in the
    denominator. Edge cases (where R returns NaN): when ``p`` is 0 or 1 or the variance is 0,
    Korn & Graubard's rule ``n_eff = n`` (before the df adjustment) is used, which needs ``n``;
    without it the interval is ``(p, p)``. ``low`` is 0 at ``p = 0`` and ``high`` 1 at ``p = 1``.
    For an SRS-like estimate (variance ``p (1 - p) / n``, ``df = n - 1``) the interval is
    exactly Clopper-Pearson for ``x = n p`` successes in ``n`` trials. The interval is
    asymmetric (longer on the side away from 0 or 1), which is what a right-skewed cluster
    estimate of a small rate needs.

    ``method="logit"`` (``svyciprop(method="logit")``): a Wald interval on the logit scale,
    back-transformed; the logit's standard error by the delta method ``se / (p (1 - p))``,
    quantile from ``t_df``::

        expit(logit(p) -/+ t_df(1 - alpha/2) * se / (p (1 - p)))

    (``(p, p)`` when ``p`` is 0 or 1 or ``se`` is 0.)

    ``method="wald"``: :meth:`Estimate.ci` (``p -/+ t_df se``), not clipped to [0, 1].
    """
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    if method not in PROPORTION_CI_METHODS:
        raise ValueError(f"method must be one of {PROPORTION_CI_METHODS}, not {method!r}")
    if method == "wald":
        return est.ci(level)
    p, var = float(est.value), float(est.variance)
    if not (0.0 <= p <= 1.0) or not np.isfinite(var) or var < 0:
        raise ValueError(f"not a proportion with a variance: value {p}, variance {var}")
    alpha = 1.0 - level
    df = est.df if est.df is not None and est.df > 0 else None
    q_df = float(stats.t.ppf(1.0 - alpha / 2.0, df)) if df is not None else float(stats.norm.ppf(1.0 - alpha / 2.0))
    if method == "logit":
        if p <= 0.0 or p >= 1.0 or var == 0.0:
            return (p, p)
        half = q_df * np.sqrt(var) / (p * (1.0 - p))
        lp = float(np.log(p / (1.0 - p)))
        return (float(special.expit(lp - half)), float(special.expit(lp + half)))
    # beta (Korn-Graubard)
    if p <= 0.0 or p >= 1.0 or var == 0.0:
        if n is None:
            return (p, p)
        n_eff = float(n)
    else:
        n_eff = p * (1.0 - p) / var
    if n is not None and n < 2:
        raise ValueError("n must be at least 2")
    q_n = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1)) if n is not None else float(stats.norm.ppf(1.0 - alpha / 2.0))
    n_eff *= (q_n / q_df) ** 2
    x = n_eff * p
    low = float(stats.beta.ppf(alpha / 2.0, x, n_eff - x + 1.0)) if x > 0 else 0.0
    high = float(stats.beta.ppf(1.0 - alpha / 2.0, x + 1.0, n_eff - x)) if n_eff - x > 0 else 1.0
    return (low, high)


# --------------------------------------------------------------------------- variance kernels


def design_df(design: SurveyDesign) -> int:
    """Design degrees of freedom: number of PSUs minus number of strata (Korn & Graubard 1999;
    R survey's ``degf`` for a ``svydesign``; samplics' ``degree_of_freedom``)."""
    return design.n_psus - design.n_strata


def taylor_variance(z: np.ndarray, design: SurveyDesign) -> float:
    """Stratified with-replacement PSU-total variance of ``sum_k z_k``.

    ``z`` is the *weighted* linearised variable per unit, ``z_k = w_k u_k``:

        v = sum_h (1 - f_h) n_h / (n_h - 1) sum_i (z_hi - zbar_h)^2

    (Wolter 2007, ch. 1 and 6; Lohr 2019, ch. 9). Certainty strata (``1 - f_h = 0``) contribute 0.
    """
    s = design._structure
    z = np.asarray(z, dtype=float)
    if z.shape != (design.n,):
        raise ValueError("z must have one entry per unit")
    z_psu = np.bincount(s.psu_code, weights=z, minlength=s.psu_stratum.shape[0])
    h = s.psu_stratum
    zbar = np.bincount(h, weights=z_psu, minlength=s.n_h.shape[0]) / s.n_h
    ss = np.bincount(h, weights=(z_psu - zbar[h]) ** 2, minlength=s.n_h.shape[0])
    factor = np.zeros_like(s.n_h)
    ok = s.n_h > 1
    factor[ok] = s.one_minus_f[ok] * s.n_h[ok] / (s.n_h[ok] - 1.0)
    return float(np.sum(factor * ss))


def replicate_variance(replicates: np.ndarray, value: float, design: SurveyDesign) -> float:
    """``v = sum_r c_r (theta_r - theta)^2`` with the design's ``replicate_scale`` c_r
    (Wolter 2007, ch. 4-5; R survey ``svrVar`` with ``mse=TRUE``)."""
    if design.replicate_scale is None:
        raise ValueError("the design has no replicate weights")
    replicates = np.asarray(replicates, dtype=float)
    return float(np.sum(design.replicate_scale * (replicates - value) ** 2))


def _srs_variance(u: np.ndarray, design: SurveyDesign) -> float:
    """Variance of the same estimator under SRS of n units (Kish): see the module docstring."""
    w = design.weights
    n = design.n
    n_hat = float(w.sum())
    ubar = float(np.sum(w * u) / n_hat)
    s2 = n / (n - 1.0) * float(np.sum(w * (u - ubar) ** 2)) / n_hat
    fpc = max(0.0, 1.0 - n / n_hat) if design.fpc is not None else 1.0
    return n_hat**2 * fpc * s2 / n


def _finish(
    value: float,
    u: np.ndarray,
    design: SurveyDesign,
    method: str,
    replicate_values,
) -> Estimate:
    """Variance by the requested method, then df and deff."""
    if method == "taylor":
        var = taylor_variance(design.weights * u, design)
        name = "taylor"
    elif method == "replicate":
        if design.replicate_weights is None:
            raise ValueError('method="replicate" needs a design with replicate weights')
        var = replicate_variance(replicate_values(design.replicate_weights), value, design)
        name = design.replicate_method or "replicate"
    else:
        raise ValueError(f'method must be "taylor" or "replicate", not {method!r}')
    v_srs = _srs_variance(u, design) if design.n > 1 else 0.0
    deff = var / v_srs if v_srs > 0 else None
    return Estimate(
        value=float(value),
        se=float(np.sqrt(var)),
        variance=float(var),
        method=name,
        df=design_df(design),
        deff=None if deff is None else float(deff),
    )


def _as_y(y, design: SurveyDesign, name: str = "y") -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    if arr.shape != (design.n,):
        raise ValueError(f"{name} must have one entry per unit ({design.n})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has missing or infinite values")
    return arr


# --------------------------------------------------------------------------- estimators


def total(y, design: SurveyDesign, method: str = "taylor") -> Estimate:
    """Horvitz-Thompson total ``Y_hat = sum_k w_k y_k`` (Särndal et al. 1992, §2.8; Lohr 2019,
    ch. 6). Linearised variable ``u = y`` (the estimator is linear): the Taylor variance is the
    PSU-total formula of :func:`taylor_variance` with ``z = w y``."""
    y = _as_y(y, design)
    value = float(np.sum(design.weights * y))
    return _finish(value, y, design, method, lambda rw: rw.T @ y)


def mean(y, design: SurveyDesign, method: str = "taylor") -> Estimate:
    """Hajek mean ``ybar = sum w y / sum w`` (a ratio of two HT totals; Särndal et al. 1992,
    §5.7). Linearised variable ``u = (y - ybar) / N_hat``."""
    y = _as_y(y, design)
    w = design.weights
    n_hat = float(w.sum())
    value = float(np.sum(w * y) / n_hat)
    u = (y - value) / n_hat
    return _finish(value, u, design, method, lambda rw: (rw.T @ y) / rw.sum(axis=0))


def ratio(y, x, design: SurveyDesign, method: str = "taylor") -> Estimate:
    """Ratio ``R_hat = Y_hat / X_hat`` of two HT totals with the linearised variance
    (Wolter 2007, §6.5; Lohr 2019, §4.1 and ch. 9): ``u = (y - R_hat x) / X_hat``, so

        v(R_hat) = sum_h (1 - f_h) n_h / (n_h - 1) sum_i (e_hi - ebar_h)^2 / X_hat^2,
        e_hi = sum_{k in hi} w_k (y_k - R_hat x_k).
    """
    y = _as_y(y, design)
    x = _as_y(x, design, "x")
    w = design.weights
    x_hat = float(np.sum(w * x))
    if x_hat == 0:
        raise ZeroDivisionError("ratio: the estimated denominator total is 0")
    value = float(np.sum(w * y) / x_hat)
    u = (y - value * x) / x_hat
    return _finish(value, u, design, method, lambda rw: (rw.T @ y) / (rw.T @ x))


def domain(
    y,
    in_domain,
    design: SurveyDesign,
    statistic: str = "mean",
    method: str = "taylor",
) -> Estimate:
    """Domain (sub-population) total or mean, computed on the whole design.

    The domain total is the total of ``y * 1{domain}``; the domain mean is the ratio of the totals
    of ``y * 1{domain}`` and ``1{domain}`` (Särndal et al. 1992, §10.3; Lohr 2019, §4.3). Units
    outside the domain stay in the design with ``u = 0``, so PSUs without domain members still
    count: never subset a design to a domain before estimating its variance.
    """
    d = np.asarray(in_domain)
    if d.shape != (design.n,):
        raise ValueError("in_domain must have one entry per unit")
    d = d.astype(bool).astype(float)
    y = _as_y(y, design)
    yd = y * d
    if statistic == "total":
        return total(yd, design, method)
    if statistic == "mean":
        return ratio(yd, d, design, method)
    raise ValueError('statistic must be "total" or "mean"')


def with_replicates(design: SurveyDesign, weights: np.ndarray, scale: np.ndarray, method: str) -> SurveyDesign:
    """A copy of ``design`` carrying the given replicate weights (used by :mod:`sampling.replicates`)."""
    return dataclasses.replace(
        design, replicate_weights=weights, replicate_scale=scale, replicate_method=method
    )
