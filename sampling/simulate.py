"""Design evaluation by simulation: draw a design many times from a frame whose true values are
known (a previous census, the synthetic county) and see what margin of error it really gives.

This is how a census office checks a PES design before fieldwork — and how we check the
sample-size calculator: its answer is only as good as the design effect fed to it, and a design
effect measured from repeated draws at one sample size should give the target margin of error at
another (the ``1/sqrt(n)`` law the calculator relies on).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sampling.design import Design
from sampling.draw import draw
from sampling.estimate import SurveyDesign, ratio

__all__ = ["MoeStudy", "moe_study"]


@dataclass(frozen=True)
class MoeStudy:
    """What repeated draws of one design gave for the rate ``sum y / sum x``.

    ``realised_moe``: z times the standard deviation of the estimates over the draws (the margin
    the design really has); ``mean_reported_moe``: z times the mean Taylor standard error (what an
    analyst would have reported); ``coverage``: share of draws whose interval held the true rate;
    ``empirical_deff``: the variance over the draws divided by the variance of simple random
    sampling of the same mean number of persons (``(1 - f) p (1 - p) / n``).
    """

    draws: int
    eas: int
    persons: float
    true_rate: float
    mean_estimate: float
    realised_moe: float
    mean_reported_moe: float
    coverage: float
    empirical_deff: float


def moe_study(design: Design, frame: pd.DataFrame, y: pd.Series, x: pd.Series, seeds: Iterable[int],
              confidence: float = 0.95) -> MoeStudy:
    """Draw ``design`` from ``frame`` once per seed and estimate ``sum y / sum x`` (e.g. omitted
    persons over true persons, per frame unit; ``y`` and ``x`` indexed by the frame unit code)."""
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    true_rate = float(y.sum() / x.sum())
    values, ses, eas, persons, covered = [], [], [], [], 0
    for seed in seeds:
        u = draw(design, frame, int(seed)).units
        yy = y.loc[u["unit"]].to_numpy(float)
        xx = x.loc[u["unit"]].to_numpy(float)
        sd = SurveyDesign(weights=u["weight"].to_numpy(float), strata=u["stratum"].to_numpy(),
                          psu=u["psu"].to_numpy())
        e = ratio(yy, xx, sd)
        lo, hi = e.ci(confidence)
        covered += lo <= true_rate <= hi
        values.append(e.value)
        ses.append(e.se)
        eas.append(len(u))
        persons.append(xx.sum())
    v = np.asarray(values)
    n_persons = float(np.mean(persons))
    f = n_persons / float(x.sum())
    v_srs = (1.0 - f) * true_rate * (1.0 - true_rate) / n_persons
    return MoeStudy(
        draws=len(v),
        eas=int(round(float(np.mean(eas)))),
        persons=n_persons,
        true_rate=true_rate,
        mean_estimate=float(v.mean()),
        realised_moe=z * float(v.std(ddof=1)),
        mean_reported_moe=z * float(np.mean(ses)),
        coverage=covered / len(v),
        empirical_deff=float(v.var(ddof=1) / v_srs),
    )
