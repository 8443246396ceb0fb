"""Comparators: small vectorised functions from two arrays of values to agreement levels.

Each takes the two sides' values *for all pairs at once* and returns ``int8`` levels: ``0`` the
weakest agreement ("else"), higher numbers closer agreement, the top level exact agreement, and
``-1`` when either side is missing (the model gives that weight 0). Each also has a ``prepare``
step run once per record, not per pair (strip strings, parse dates), and a ``labels`` function
naming its levels from the parameters alone, so the number of levels is known before any data
is seen.

New comparators (pinyin of Chinese names, ID numbers with a check digit) are added with
:func:`register` and used by name in a :class:`~audit_engine.linkage.compare.ComparisonSpec`:
the model and the blocking never look inside them. String distances are rapidfuzz's
``process.cpdist`` (one C loop over the paired lists, all cores).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

__all__ = ["COMPARATORS", "Comparator", "dates", "numbers", "per_distinct", "register", "strings"]

NULL = np.int8(-1)


@dataclass(frozen=True)
class Comparator:
    """``fn(left, right, **params) -> int8 levels``; ``prepare(values, **params)`` per record."""

    fn: Callable[..., np.ndarray]
    labels: Callable[..., tuple[str, ...]]
    prepare: Callable[..., np.ndarray]


#: name -> comparator; add with :func:`register`
COMPARATORS: dict[str, Comparator] = {}


#: from this many values on, a per-value preparation runs once per distinct value
PER_DISTINCT_MIN = 1_000


def per_distinct(values: Any, fn: Callable[[np.ndarray], np.ndarray], missing: Any) -> np.ndarray | None:
    """``fn`` applied once per distinct value of an object array of strings and spread back.

    ``fn`` maps an object array of distinct strings to an array of results (one per value);
    missing values (``None``, NaN, ``pd.NA``) get ``missing``. Returns ``None`` — the caller
    then runs its per-record code — unless ``values`` is a large object array whose non-missing
    values are all ``str`` (so that equal values are equal strings and the result is the same).
    """
    if not (isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1
            and len(values) >= PER_DISTINCT_MIN
            and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")):
        return None
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    done = np.asarray(fn(np.asarray(uniq, dtype=object)))
    out = np.empty((len(done) + 1, *done.shape[1:]), dtype=done.dtype)
    out[:-1] = done
    out[-1] = missing  # code -1 (missing) reads the last row
    return out[codes]


def _strings(values: Any) -> np.ndarray:
    s = pd.Series(values).astype("string").str.strip()
    s = s.mask(s == "")
    return s.to_numpy(dtype=object, na_value=None)


def strings(values: Any, **_: Any) -> np.ndarray:
    """Object array of stripped strings, ``None`` for missing or blank (once per distinct value)."""
    out = per_distinct(values, _strings, None)
    return _strings(values) if out is None else out


def register(name: str, labels: Callable[..., tuple[str, ...]],
             prepare: Callable[..., np.ndarray] = strings) -> Callable[[Callable], Callable]:
    """Decorator adding a comparator function to :data:`COMPARATORS` under ``name``."""
    def deco(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        COMPARATORS[name] = Comparator(fn, labels, prepare)
        return fn
    return deco


def _null_mask(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Missing on either side (prepared strings hold ``None``, numbers NaN)."""
    if left.dtype == object:
        return np.equal(left, None) | np.equal(right, None)
    return np.isnan(left) | np.isnan(right)


def _similarity(scorer: Any, left: np.ndarray, right: np.ndarray, ok: np.ndarray, dtype: Any,
                cutoff: float | None = None) -> np.ndarray:
    """``scorer`` over the non-null pairs (rapidfuzz's C loop over paired lists, all cores).

    ``cutoff`` lets rapidfuzz stop early: similarities below it come back as 0, distances above
    it as ``cutoff + 1`` — either way the lowest level.
    """
    out = np.zeros(len(left), dtype=dtype)
    if ok.any():
        out[ok] = cpdist(left[ok].tolist(), right[ok].tolist(), scorer=scorer, dtype=dtype, workers=-1,
                         score_cutoff=cutoff)
    return out


# --- exact -----------------------------------------------------------------------------------

@register("exact", labels=lambda: ("else", "exact"))
def exact(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """1 if equal, 0 if not, -1 if either is missing."""
    null = _null_mask(left, right)
    out = (left == right).astype(np.int8)
    out[null] = NULL
    return out


# --- string similarity -----------------------------------------------------------------------

def _jw_labels(thresholds: Sequence[float] = (0.92, 0.88, 0.7)) -> tuple[str, ...]:
    return ("else", *(f"jaro_winkler>={t}" for t in sorted(thresholds)), "exact")


@register("jaro_winkler", labels=_jw_labels)
def jaro_winkler(left: np.ndarray, right: np.ndarray, thresholds: Sequence[float] = (0.92, 0.88, 0.7)
                 ) -> np.ndarray:
    """Top = exact; then one level per Jaro-Winkler threshold, highest first; 0 below all.

    The defaults are Splink's ``NameComparison`` levels.
    """
    null = _null_mask(left, right)
    ok = ~null
    thr = np.sort(np.asarray(thresholds, dtype=float))  # ascending: level i+1 means sim >= thr[i]
    sim = _similarity(JaroWinkler.normalized_similarity, left, right, ok, np.float64, thr[0] if len(thr) else None)
    out = np.searchsorted(thr, sim, side="right").astype(np.int8)
    out[ok & (left == right)] = len(thr) + 1
    out[null] = NULL
    return out


def _dist_labels(distances: Sequence[int] = (1, 2), name: str = "levenshtein") -> tuple[str, ...]:
    return ("else", *(f"{name}<={d}" for d in sorted(distances, reverse=True)), "exact")


def _edit_levels(scorer: Any, left: np.ndarray, right: np.ndarray, distances: Sequence[int]) -> np.ndarray:
    null = _null_mask(left, right)
    ok = ~null
    thr = np.sort(np.asarray(distances, dtype=np.int64))  # ascending distances = descending levels
    dist = _similarity(scorer, left, right, ok, np.int32, int(thr[-1]) if len(thr) else 0)
    # level for d: exact (d == 0) -> top; d <= thr[0] -> len(thr); ...; d > thr[-1] -> 0
    out = (len(thr) - np.searchsorted(thr, dist, side="left")).astype(np.int8)
    out[ok & (dist == 0)] = len(thr) + 1
    out[null] = NULL
    return out


@register("levenshtein", labels=lambda distances=(1, 2): _dist_labels(distances, "levenshtein"))
def levenshtein(left: np.ndarray, right: np.ndarray, distances: Sequence[int] = (1, 2)) -> np.ndarray:
    """Top = exact; then Levenshtein distance ``<= d`` for each ``d``, smallest first; 0 beyond."""
    return _edit_levels(Levenshtein.distance, left, right, distances)


@register("damerau_levenshtein",
          labels=lambda distances=(1, 2): _dist_labels(distances, "damerau_levenshtein"))
def damerau_levenshtein(left: np.ndarray, right: np.ndarray, distances: Sequence[int] = (1, 2)) -> np.ndarray:
    """As :func:`levenshtein`, a transposition of neighbours counting as one edit (ID numbers, codes)."""
    return _edit_levels(DamerauLevenshtein.distance, left, right, distances)


# --- names in two columns, possibly swapped --------------------------------------------------

def _swap_labels(threshold: float = 0.9) -> tuple[str, ...]:
    return ("else", f"swapped jaro_winkler>={threshold}", "swapped exact")


@register("swapped", labels=_swap_labels)
def swapped(left: np.ndarray, right: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """Two columns (e.g. given name, surname) compared crosswise: left's first to right's second.

    2 = both cross pairs equal, 1 = both cross Jaro-Winkler similarities ``>= threshold``, 0 else,
    -1 if any of the four values is missing. The straight comparisons are separate specs; this
    one adds the evidence of a swap, which they read as two disagreements.
    """
    a1, a2, b1, b2 = left[:, 0], left[:, 1], right[:, 0], right[:, 1]
    null = _null_mask(a1, b2) | _null_mask(a2, b1)
    ok = ~null
    s1 = _similarity(JaroWinkler.normalized_similarity, a1, b2, ok, np.float64, threshold)
    near = ok & (s1 >= threshold)  # the second cross pair only matters where the first is close
    s2 = _similarity(JaroWinkler.normalized_similarity, a2, b1, near, np.float64, threshold)
    out = (near & (s2 >= threshold)).astype(np.int8)
    out[ok & (a1 == b2) & (a2 == b1)] = 2
    out[null] = NULL
    return out


# --- numbers and dates -----------------------------------------------------------------------

def numbers(values: Any, **_: Any) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def _num_labels(tolerances: Sequence[float] = (1,)) -> tuple[str, ...]:
    return ("else", *(f"within {t}" for t in sorted(tolerances, reverse=True)), "exact")


@register("numeric", labels=_num_labels, prepare=numbers)
def numeric(left: np.ndarray, right: np.ndarray, tolerances: Sequence[float] = (1,)) -> np.ndarray:
    """Top = equal; then ``|left - right| <= t`` for each tolerance, smallest first; 0 beyond."""
    null = _null_mask(left, right)
    diff = np.abs(np.where(null, 0, left - right))
    thr = np.sort(np.asarray(tolerances, dtype=float))
    out = (len(thr) - np.searchsorted(thr, diff, side="left")).astype(np.int8)
    out[diff == 0] = len(thr) + 1
    out[null] = NULL
    return out


#: prepared date columns: yyyymmdd, days since 1970, then the 8 digits
_YMD, _DAYS, _DIGITS = 0, 1, slice(2, 10)
_NO_DAY = np.iinfo(np.int32).min


def dates(values: Any, fmt: str = "%Y%m%d", **_: Any) -> np.ndarray:
    """Per record ``[yyyymmdd, days since 1970, d1..d8]`` (int32), prepared once per record.

    ``yyyymmdd`` is -1 where missing, ``days`` :data:`_NO_DAY` where not a valid date. An
    impossible date (month 13) keeps its digits, so the digit-typo level still sees it.
    """
    s = pd.Series(values)
    parsed = pd.to_datetime(s, format=fmt, errors="coerce")
    valid = parsed.notna().to_numpy()
    ymd = np.where(valid, parsed.dt.year * 10000 + parsed.dt.month * 100 + parsed.dt.day, -1)
    if fmt == "%Y%m%d":  # keep invalid-but-present 8-digit strings for the typo level
        txt = s.astype("string").str.strip()
        eight = txt.str.fullmatch(r"\d{8}").fillna(False).to_numpy(dtype=bool)
        raw = pd.to_numeric(txt.where(eight), errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
        ymd = np.where(eight, raw, ymd)
    ymd = np.asarray(ymd, dtype=np.int64)
    days = np.full(len(s), _NO_DAY, dtype=np.int64)
    days[valid] = parsed[valid].to_numpy(dtype="datetime64[D]").astype(np.int64)
    digits = (np.maximum(ymd, 0)[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    return np.column_stack([ymd, days, digits]).astype(np.int32)


def _date_labels(years: Sequence[int] = (1, 10), fmt: str = "%Y%m%d") -> tuple[str, ...]:
    return ("else", *(f"within {y} years" for y in sorted(years, reverse=True)), "same year and month",
            "one digit typo or transposition", "day and month swapped", "exact")


@register("date", labels=_date_labels, prepare=dates)
def date(left: np.ndarray, right: np.ndarray, years: Sequence[int] = (1, 10), fmt: str = "%Y%m%d") -> np.ndarray:
    """Birth dates, from closest: exact; day and month swapped; one digit wrong or two adjacent
    digits transposed; same year and month; within each of ``years`` (smallest first); else.

    Values are prepared by :func:`dates` (``fmt`` is read there).
    """
    del fmt
    lymd, rymd = left[:, _YMD], right[:, _YMD]
    ldays, rdays = left[:, _DAYS].astype(np.int64), right[:, _DAYS].astype(np.int64)
    null = (lymd < 0) | (rymd < 0)
    valid = (ldays != _NO_DAY) & (rdays != _NO_DAY)
    yrs = np.sort(np.asarray(years, dtype=float))
    n_within = len(yrs)
    out = np.zeros(len(lymd), dtype=np.int8)
    if n_within:
        gap = np.abs(ldays - rdays) / 365.25
        within = valid & (gap <= yrs[-1])
        out[within] = (n_within - np.searchsorted(yrs, gap[within], side="left")).astype(np.int8)
    out[valid & (lymd // 100 == rymd // 100)] = n_within + 1
    dl, dr = left[:, _DIGITS], right[:, _DIGITS]
    differ = dl != dr
    n_diff = differ.sum(axis=1)
    two = np.flatnonzero(n_diff == 2)  # a transposition of neighbours changes exactly two digits
    d, a, b = differ[two], dl[two], dr[two]
    swap = (d[:, :-1] & d[:, 1:] & (a[:, :-1] == b[:, 1:]) & (a[:, 1:] == b[:, :-1])).any(axis=1)
    out[n_diff == 1] = n_within + 2
    out[two[swap]] = n_within + 2
    lm, ld, rm, rd = lymd // 100 % 100, lymd % 100, rymd // 100 % 100, rymd % 100
    out[(lymd // 10000 == rymd // 10000) & (lm == rd) & (ld == rm) & (lm != ld)] = n_within + 3
    out[lymd == rymd] = n_within + 4
    out[null] = NULL
    return out


# --- registered elsewhere ----------------------------------------------------------------------
# Chinese names (pinyin), citizen ID numbers, birth year-months: imported last so they register
from audit_engine.linkage import chinese as _chinese  # noqa: E402, F401
