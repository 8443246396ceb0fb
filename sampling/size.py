"""Sample-size calculator: how many enumeration areas a PES needs to estimate a rate (omission,
duplication) to a target margin of error.

For a proportion ``p`` estimated from a cluster sample of persons (every person of a selected EA),
the variance is the simple-random-sampling variance times the design effect ``deff`` of the EA
clustering (Kish 1965, §5.4; Cochran 1977, §3.4 and §9.4):

    persons needed   n0 = z^2 p (1 - p) deff / e^2          (e: margin of error, z for the level)
    EAs needed       m0 = n0 / persons per EA
    finite EA frame  m  = m0 / (1 + (m0 - 1) / M)            (M: EAs in the frame; Cochran eq. 4.2)
    non-response     m / (1 - r)

rounded up. ``deff`` is the crux: 1 + (b - 1) rho for EAs of b persons and intra-EA correlation
rho of omission, which clusters strongly (whole missed households, missed buildings). Take it from
a previous PES or a pilot; :func:`moe_for` turns it round to the margin a given sample achieves.
"""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["eas_needed", "moe_for"]


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def eas_needed(expected_rate: float, moe: float, deff: float = 1.0, mean_persons_per_ea: float = 1.0,
               confidence: float = 0.95, population_eas: int | None = None, nonresponse: float = 0.0) -> int:
    """Enumeration areas to sample so the rate's margin of error (half-width of the interval at
    ``confidence``) is ``moe``. See the module docstring for the formula."""
    if not 0.0 < expected_rate < 1.0:
        raise ValueError("expected_rate must be in (0, 1)")
    if not 0.0 < moe < 1.0:
        raise ValueError("moe must be in (0, 1)")
    if deff <= 0 or mean_persons_per_ea <= 0:
        raise ValueError("deff and mean_persons_per_ea must be positive")
    if not 0.0 <= nonresponse < 1.0:
        raise ValueError("nonresponse must be in [0, 1)")
    z = _z(confidence)
    persons = z * z * expected_rate * (1.0 - expected_rate) * deff / (moe * moe)
    m = persons / mean_persons_per_ea
    if population_eas is not None:
        if population_eas < 1:
            raise ValueError("population_eas must be positive")
        m = m / (1.0 + (m - 1.0) / population_eas)
    m = m / (1.0 - nonresponse)
    # Round away float noise before the ceiling (e.g. 99.99999999 -> 100).
    need = math.ceil(round(m, 9))
    return int(min(max(need, 1), population_eas)) if population_eas is not None else int(max(need, 1))


def moe_for(eas: int, expected_rate: float, deff: float = 1.0, mean_persons_per_ea: float = 1.0,
            confidence: float = 0.95, population_eas: int | None = None) -> float:
    """The margin of error a sample of ``eas`` EAs gives for the rate (the inverse of
    :func:`eas_needed` without non-response)."""
    if eas < 1:
        raise ValueError("eas must be positive")
    z = _z(confidence)
    fpc = 1.0 - eas / population_eas if population_eas else 1.0
    persons = eas * mean_persons_per_ea
    return z * math.sqrt(max(fpc, 0.0) * expected_rate * (1.0 - expected_rate) * deff / persons)
