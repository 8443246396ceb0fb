"""Demographic quality indices of reported ages, sexes and item response.

Pure, vectorised functions over arrays / Series / DataFrames of person records: no store, no
I/O, so the same code scores a whole county, one township or one enumerator's work, and the
tests can check each formula against populations worked out by hand.

Sources:
- United Nations (1983), *Manual X: Indirect Techniques for Demographic Estimation*, and
  United Nations (1955), *Manual II: Methods of Appraisal of Quality of Basic Data for
  Population Estimates* (the age-sex accuracy index and its thresholds).
- Shryock, H. S. & Siegel, J. S. (1976), *The Methods and Materials of Demography*
  (condensed edition), chapter 8, "Age and sex composition" (Whipple, Myers, age ratios).

Missing values: an age is missing when it is NULL / NaN / not a whole number >= 0; a sex is
missing when it is neither '1' (male) nor '2' (female). Records with a missing value are left
out of the indices that need that value, and every function that takes ages reports how many
it left out (``excluded``), or, for the ones that return a bare number, ``exclusions`` gives
the count for the same input. Nothing is dropped without being counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

MALE, FEMALE = "1", "2"

ArrayLike = Any   # numpy array, pandas Series, list: anything pandas can turn into a Series


# ---------------------------------------------------------------------------------------------
# Cleaning: one place that decides what "missing" means and counts it
# ---------------------------------------------------------------------------------------------

def clean_ages(ages: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(ages as int64 with -1 for missing, valid mask). Non-numbers, NaN, negatives and
    fractions are missing: completed years are whole and non-negative."""
    series = pd.Series(ages)
    if not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series.astype(object), errors="coerce")
    a = series.to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(a) & (a >= 0) & (np.floor(a) == a)
    out = np.where(ok, a, -1).astype(np.int64)
    return out, ok


def clean_sexes(sexes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(sex codes as str, valid mask): only '1' and '2' are valid (1 and 2 as numbers too)."""
    s = pd.Series(sexes, dtype=object).astype("string").str.strip()
    ok = s.isin([MALE, FEMALE]).fillna(False).to_numpy(dtype=bool)
    return s.fillna("").to_numpy(dtype=object), ok


def exclusions(ages: ArrayLike, sexes: ArrayLike | None = None) -> dict[str, int]:
    """How many records an index leaves out: missing age, missing sex, and either.

    Age-only indices (Whipple, Myers, age ratios) leave out ``missing_age``; the ones by sex
    leave out ``missing_age_or_sex``.
    """
    _, age_ok = clean_ages(ages)
    out = {"records": int(age_ok.size), "missing_age": int((~age_ok).sum())}
    if sexes is not None:
        _, sex_ok = clean_sexes(sexes)
        if sex_ok.size != age_ok.size:
            raise ValueError("ages and sexes differ in length")
        out["missing_sex"] = int((~sex_ok).sum())
        out["missing_age_or_sex"] = int((~(age_ok & sex_ok)).sum())
    return out


def _counts(ages: np.ndarray, size: int) -> np.ndarray:
    """Counts by single year 0..size-1 of valid ages (older ages fall off the end)."""
    return np.bincount(ages[(ages >= 0) & (ages < size)], minlength=size)[:size].astype(float)


# ---------------------------------------------------------------------------------------------
# Digit preference
# ---------------------------------------------------------------------------------------------

def whipple(ages: ArrayLike, low: int = 23, high: int = 62, digits: Sequence[int] = (0, 5)) -> float:
    """Whipple's index of preference for ages ending in ``digits`` (Shryock & Siegel, ch. 8).

    Textbook form on the standard range 23-62 (chosen because heaping is clearest in adult
    ages and the range holds eight full quinquennia, so the 1/5 share is exact):

        W(0,5) = 100 * (P25 + P30 + ... + P60) / (1/5 * sum_{23..62} Px)      range 0-500
        W(0)   = 100 * (P30 + P40 + P50 + P60) / (1/10 * sum_{23..62} Px)     range 0-1000

    100 = no preference; 500 (or 1000) = every age in range reported on the digits; below 100
    = avoidance. Generalised here as 100 * observed share on the digits / the share of ages in
    [low, high] that end in them, which is the textbook formula on 23-62 and keeps "100 = no
    preference" for any other range. Missing ages are ignored (see ``exclusions``); NaN when
    nobody is in range.
    """
    if low > high:
        raise ValueError(f"low {low} is above high {high}")
    a, ok = clean_ages(ages)
    digits = tuple(int(d) for d in digits)
    span = np.arange(low, high + 1)
    expected = np.isin(span % 10, digits).mean()
    if expected == 0:
        raise ValueError(f"no age in {low}-{high} ends in {digits}")
    in_range = ok & (a >= low) & (a <= high)
    n = int(in_range.sum())
    if n == 0:
        return float("nan")
    on_digits = int((in_range & np.isin(a % 10, digits)).sum())
    return float(100.0 * (on_digits / n) / expected)


def myers(ages: ArrayLike, low: int = 10, high: int = 89) -> tuple[float, dict[int, float]]:
    """Myers' blended index (Myers 1940; Shryock & Siegel, ch. 8) -> (index, per-digit deviation).

    For the standard range 10-89 and each terminal digit d:
      S1(d) = sum of P at ages 10+d, 20+d, ..., 70+d      (starting at the lower limit)
      S2(d) = sum of P at ages 20+d, 30+d, ..., 80+d      (the same, one decade later)
      B(d)  = (d + 1) * S1(d) + (9 - d) * S2(d)            blended count, weights 1..10 / 9..0
    The weights give each digit every starting position in turn, so a population falling
    steadily with age blends to the same count for every digit. Then
      deviation(d) = 100 * B(d) / sum B - 10               (percentage points; + = preference)
      index        = sum_d |deviation(d)|                   0 = no preference, 180 = all on one digit
    Shryock & Siegel (and DemoTools' ``method="orig"``) report half this sum (range 0-90, the
    minimum share of persons whose terminal digit would have to move); the full sum is
    returned here, so halve it before comparing with such figures.

    ``high - low + 1`` must be a whole number of decades (at least two); the weights follow
    each digit's position after ``low``. Missing ages are ignored (see ``exclusions``);
    NaN index and deviations when nobody is in range.
    """
    span = high - low + 1
    if span < 20 or span % 10:
        raise ValueError(f"Myers' range {low}-{high} must be two or more whole decades")
    a, _ = clean_ages(ages)
    counts = _counts(a, high + 1)[low:]               # ages low..high
    decades = counts.reshape(-1, 10)                   # row k: ages low+10k .. low+10k+9
    s1 = decades[:-1].sum(axis=0)                      # by position j = 0..9 after low
    s2 = decades[1:].sum(axis=0)
    j = np.arange(10)
    blended = (j + 1) * s1 + (9 - j) * s2
    digit_of_position = (low + j) % 10
    total = blended.sum()
    if total == 0:
        return float("nan"), {d: float("nan") for d in range(10)}
    deviation = 100.0 * blended / total - 10.0
    per_digit = {int(d): float(v) for d, v in sorted(zip(digit_of_position, deviation, strict=True))}
    return float(np.abs(deviation).sum()), per_digit


# ---------------------------------------------------------------------------------------------
# Five-year groups: sex ratios and age ratios
# ---------------------------------------------------------------------------------------------

def _group_labels(width: int, top: int) -> list[str]:
    if width < 1 or top % width or top <= 0:
        raise ValueError(f"top {top} must be a positive multiple of width {width}")
    closed = [f"{x}-{x + width - 1}" if width > 1 else str(x) for x in range(0, top, width)]
    return closed + [f"{top}+"]


def _group_counts(ages: np.ndarray, width: int, top: int) -> np.ndarray:
    """Counts of valid ages in groups [0, width), ..., [top - width, top), [top, inf)."""
    valid = ages[ages >= 0]
    g = np.minimum(valid // width, top // width)
    return np.bincount(g, minlength=top // width + 1).astype(np.int64)


class SexRatios(NamedTuple):
    """Sex ratios (males per 100 females) by age group, overall, and records left out."""

    table: pd.DataFrame       # group, males, females, ratio (NaN where there are no females)
    overall: float
    excluded: int             # records with a missing age or sex


def sex_ratio_by_age_group(ages: ArrayLike, sexes: ArrayLike, width: int = 5, top: int = 85) -> SexRatios:
    """Sex ratio 100 * M / F by age group ('0-4', ..., '80-84', '85+') and overall.

    A regular census shows about 103-107 at birth, falling slowly with age and steeply in
    old age (Shryock & Siegel, ch. 7); jumps between neighbouring groups point at sex or age
    misreporting or selective omission. The overall ratio counts only records with both an
    age and a sex, so it matches the table.
    """
    a, age_ok = clean_ages(ages)
    s, sex_ok = clean_sexes(sexes)
    if a.size != s.size:
        raise ValueError("ages and sexes differ in length")
    ok = age_ok & sex_ok
    males = _group_counts(a[ok & (s == MALE)], width, top)
    females = _group_counts(a[ok & (s == FEMALE)], width, top)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(females > 0, 100.0 * males / np.maximum(females, 1), np.nan)
    table = pd.DataFrame({"group": _group_labels(width, top), "males": males, "females": females,
                          "ratio": ratio})
    overall = float(100.0 * males.sum() / females.sum()) if females.sum() else float("nan")
    return SexRatios(table, overall, int((~ok).sum()))


def age_ratios(ages: ArrayLike, width: int = 5, top: int = 75) -> pd.DataFrame:
    """Age ratios by group: AR_x = 100 * 2 * P_x / (P_{x-1} + P_{x+1}) (Shryock & Siegel, ch. 8).

    P_x is the count in group x of ``width`` years. With no age misreporting and smooth past
    births, deaths and migration each AR is near 100. AR is computed for interior closed
    groups only: the first group has no younger neighbour and the last closed group's older
    neighbour is the open group ``top+``, which is not comparable; those rows (and any whose
    neighbours are both empty) have NaN. Columns: group, persons, ratio. Records with a
    missing age are left out; their count is in ``.attrs["excluded"]``.
    """
    a, ok = clean_ages(ages)
    p = _group_counts(a, width, top).astype(float)
    closed = p[:-1]
    ratio = np.full(p.size, np.nan)
    if closed.size >= 3:
        neighbours = closed[:-2] + closed[2:]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio[1:closed.size - 1] = np.where(neighbours > 0, 200.0 * closed[1:-1] / neighbours, np.nan)
    table = pd.DataFrame({"group": _group_labels(width, top), "persons": p.astype(np.int64), "ratio": ratio})
    table.attrs["excluded"] = int((~ok).sum())
    return table


class UNAccuracy(NamedTuple):
    """The UN age-sex accuracy index and its three parts."""

    score: float                      # 3 * sex_ratio_score + male_age_ratio_score + female_age_ratio_score
    sex_ratio_score: float            # mean |SR_x - SR_{x-1}| over groups 0-4 .. 70-74
    male_age_ratio_score: float       # mean |100 - AR_x| of males over 5-9 .. 65-69
    female_age_ratio_score: float     # the same for females
    excluded: int                     # records with a missing age or sex


def un_age_sex_accuracy(ages: ArrayLike, sexes: ArrayLike) -> UNAccuracy:
    """UN joint age-sex accuracy index (UN Manual II, 1955; Shryock & Siegel, ch. 8).

    Over five-year groups 0-4 ... 70-74:
      SRS = mean over the 14 successive pairs of |SR_x - SR_{x-1}|   (sex ratios, per 100 F)
      ARM = mean over 5-9 ... 65-69 of |100 - AR_x| for males       (13 age ratios)
      ARF = the same for females
      score = 3 * SRS + ARM + ARF
    The sex-ratio term is tripled because sex ratios vary less than age ratios. Under 20:
    accurate; 20-40: inaccurate; over 40: highly inaccurate. NaN when any sex ratio or age
    ratio in range cannot be computed (an empty group): too few persons to judge.
    """
    sr = sex_ratio_by_age_group(ages, sexes, width=5, top=75)
    sex_ratios = sr.table["ratio"].to_numpy()[:15]                    # 0-4 .. 70-74
    srs = float(np.mean(np.abs(np.diff(sex_ratios))))
    a, age_ok = clean_ages(ages)
    s, sex_ok = clean_sexes(sexes)
    ok = age_ok & sex_ok
    parts = []
    for code in (MALE, FEMALE):
        ar = age_ratios(np.where(ok & (s == code), a, -1), width=5, top=75)["ratio"].to_numpy()[1:14]
        parts.append(float(np.mean(np.abs(100.0 - ar))))              # 5-9 .. 65-69
    arm, arf = parts
    return UNAccuracy(3 * srs + arm + arf, srs, arm, arf, sr.excluded)


# ---------------------------------------------------------------------------------------------
# Item non-response
# ---------------------------------------------------------------------------------------------

Eligibility = Callable[[pd.DataFrame], ArrayLike]


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, index=df.index)


def _str(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col].astype("string").str.strip() if col in df else pd.Series(pd.NA, index=df.index, dtype="string")


def _women_15_64(df: pd.DataFrame) -> pd.Series:
    age = _num(df, "age")
    return (_str(df, "sex") == FEMALE).fillna(False) & (age >= 15) & (age <= 64)


#: Who must answer each item, from the 7th-census short form (and how the synthetic county is
#: made). A person whose eligibility cannot be decided (age or sex missing) is not counted as
#: eligible: their missing age/sex is counted under those items instead. industry and
#: occupation are absent: a blank is right for anyone not employed and the store holds no
#: employment item, so a blank cannot be told from a non-response; pass a mask to score them.
DEFAULT_ELIGIBILITY: dict[str, Eligibility] = {
    "name": lambda df: pd.Series(True, index=df.index),
    "id_number": lambda df: pd.Series(True, index=df.index),
    "sex": lambda df: pd.Series(True, index=df.index),
    "age": lambda df: pd.Series(True, index=df.index),
    "ethnicity": lambda df: pd.Series(True, index=df.index),
    # collective households (household_type '2') have no head, so no relationship
    "relationship": lambda df: (_str(df, "household_type") != "2").fillna(True),
    "education": lambda df: _num(df, "age") >= 3,
    "registration_type": lambda df: pd.Series(True, index=df.index),
    "registration_place": lambda df: (_str(df, "registration_type") == "4").fillna(False),
    # registration pending (type 5) has no registration place, so no time away from it
    "time_away": lambda df: (_str(df, "registration_type") != "5").fillna(True),
    "reason_away": lambda df: _str(df, "time_away").isin(list("12345678")).fillna(False),
    "marital_status": lambda df: _num(df, "age") >= 15,
    "children_born": _women_15_64,
    "children_surviving": _women_15_64,
    "births_last_year": _women_15_64,
}

#: The items scored by default, in form order.
DEFAULT_ITEMS: tuple[str, ...] = tuple(DEFAULT_ELIGIBILITY)


def is_missing(values: pd.Series) -> pd.Series:
    """NULL, NaN or an empty / blank string."""
    blank = values.astype("string").str.strip().eq("").fillna(False).astype(bool)
    return values.isna() | blank


def item_masks(df: pd.DataFrame, items: Iterable[str] = DEFAULT_ITEMS,
               eligibility: Mapping[str, Eligibility | ArrayLike] | None = None,
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(eligible, missing-and-eligible): two boolean frames, one column per item, indexed like ``df``.

    ``eligibility`` maps an item to a boolean mask aligned with ``df`` or to a function of
    ``df`` returning one; it overrides ``DEFAULT_ELIGIBILITY`` item by item, and an item in
    neither is asked of everyone. A mask value that is NA counts as not eligible. An item
    absent from ``df`` raises ``KeyError``: silence there would read as full response.
    Kept apart from the summing so grouped callers can sum by any key in one pass.
    """
    rules: dict[str, Eligibility | ArrayLike] = dict(DEFAULT_ELIGIBILITY)
    rules.update(eligibility or {})
    eligible, missing = {}, {}
    for item in items:
        if item not in df:
            raise KeyError(f"item {item!r} is not a column of the records")
        rule = rules.get(item)
        if rule is None:
            mask = np.ones(len(df), dtype=bool)
        else:
            raw = rule(df) if callable(rule) else rule
            mask = pd.array(np.asarray(raw, dtype=object), dtype="boolean").fillna(False).to_numpy(dtype=bool)
        if mask.size != len(df):
            raise ValueError(f"eligibility mask for {item!r} has {mask.size} values for {len(df)} records")
        eligible[item] = mask
        missing[item] = is_missing(df[item]).to_numpy(dtype=bool) & mask
    return pd.DataFrame(eligible, index=df.index), pd.DataFrame(missing, index=df.index)


def item_nonresponse(df: pd.DataFrame, items: Iterable[str] = DEFAULT_ITEMS,
                     eligibility: Mapping[str, Eligibility | ArrayLike] | None = None) -> pd.DataFrame:
    """Share of eligible persons with the item missing: missing / eligible, per item.

    The denominator matters: a blank marital status for a child is correct, not a
    non-response, so each item is scored only over the persons who must answer it
    (``DEFAULT_ELIGIBILITY``, overridden item by item by ``eligibility``; see ``item_masks``).
    Columns: item, eligible, missing, share (NaN when nobody is eligible).
    """
    items = list(items)
    eligible, missing = item_masks(df, items, eligibility)
    return nonresponse_table(eligible.sum().to_numpy(), missing.sum().to_numpy(), items)


def nonresponse_table(eligible: ArrayLike, missing: ArrayLike, items: Sequence[str]) -> pd.DataFrame:
    """The item / eligible / missing / share table from per-item counts."""
    e = np.asarray(eligible, dtype=np.int64)
    m = np.asarray(missing, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(e > 0, m / np.maximum(e, 1), np.nan)
    return pd.DataFrame({"item": list(items), "eligible": e, "missing": m, "share": share})
