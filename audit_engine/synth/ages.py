"""Ages and birth dates: a Jiangsu-2020 age pyramid and the standard-time age convention.

Every age in the generator is drawn from the pyramid restricted to an interval (a child is
0 to its mother's age minus 18, a parent 20-42 years older than the head), so the county's
ages follow the pyramid's shape (ageing, small recent birth cohorts, the bulge born
1961-1975) while each household stays coherent.

Age convention: completed years at the standard time 2020-11-01 00:00 from the birth
year-month alone, ``age = 2020 - year - (month >= 11)``; anyone born in 2020-11 or later is
born after the standard time.
"""

from __future__ import annotations

import numpy as np

from audit_engine.codes.lookup import standard_time

ST = standard_time()
ST_YEAR, ST_MONTH = ST.year, ST.month
MAX_AGE = 100

# Approximate percentage of Jiangsu's 2020 census population by five-year age group (0-4,
# 5-9, ..., 85-89, 90+), rounded from the province's 7th-census bulletin: 0-14 about 15 %,
# 65+ about 16-17 %.
PYRAMID_5Y = (4.6, 5.4, 5.2, 4.4, 5.0, 6.6, 8.3, 6.9, 6.6, 8.2, 8.9, 7.9, 5.6, 6.4, 4.4, 2.7, 1.8,
              1.0, 0.4)


def single_year_weights() -> np.ndarray:
    """Weights for ages 0..MAX_AGE: each group spread evenly; 90+ tapering to 100."""
    w = np.zeros(MAX_AGE + 1)
    for g, share in enumerate(PYRAMID_5Y[:-1]):
        w[5 * g:5 * g + 5] = share / 5
    tail = np.exp(-0.35 * np.arange(MAX_AGE - 90 + 1))
    w[90:] = PYRAMID_5Y[-1] * tail / tail.sum()
    return w / w.sum()


_CDF = np.concatenate([[0.0], np.cumsum(single_year_weights())])


def draw_in(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Ages drawn from the pyramid restricted to [lo, hi] (per element; hi < lo gives lo)."""
    lo = np.clip(np.asarray(lo, dtype=np.int64), 0, MAX_AGE)
    hi = np.clip(np.maximum(np.asarray(hi, dtype=np.int64), lo), 0, MAX_AGE)
    a, b = _CDF[lo], _CDF[hi + 1]
    target = a + rng.random(lo.shape) * (b - a)
    age = np.searchsorted(_CDF, target, side="right") - 1
    return np.clip(age, lo, hi)


def birth_from_age(rng: np.random.Generator, age: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of a birth consistent with ``age`` at the standard time."""
    n = len(age)
    month = rng.integers(1, 13, size=n)
    year = ST_YEAR - age - (month >= ST_MONTH)
    day = 1 + (rng.random(n) * days_in_month(year, month)).astype(np.int64)
    return year.astype(np.int64), month.astype(np.int64), day


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    base = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[month]
    return base + ((month == 2) & leap)


def age_at_standard_time(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Completed years at the standard time from a birth year-month."""
    return ST_YEAR - year - (month >= ST_MONTH)


def months_lived(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Whole months from the start of the birth month to the standard time."""
    return (ST_YEAR - year) * 12 + (ST_MONTH - month)
