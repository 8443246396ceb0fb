"""Quality indices of a source in the store, overall and by EA, township or enumerator.

The store edge of ``rules.indices``: one query reads only the columns the indices need, the
pure functions score the whole source and each group, and the result is a plain JSON-ready
dict (str / int / float / None / lists / dicts; NaN becomes None) for ``census-audit quality
--json`` and the reports.

Privacy: names and ID numbers never leave the database. The query turns each into a
present/absent flag (``CASE WHEN ... IS NULL OR TRIM(...) = ''``) so only its non-response
can be computed, and nothing identifying is returned.

Small groups: an index computed on a few hundred persons is mostly sampling noise, so each
index has a minimum number of persons it must use; below it the group gets ``value: None``
with a ``reason``. ``min_persons`` sets these minimums (see ``DEFAULT_MIN_PERSONS``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, case, func, literal, or_, select

from audit_engine.store.models import EnumerationArea, Household, Person
from rules import indices

GROUPINGS = ("ea", "township", "enumerator")

#: Minimum persons an index must use before it is reported (the count is of persons with the
#: values the index needs, in its age range). Whipple: with 200 persons aged 23-62 its standard
#: error is about 14 points (200 / sqrt(n)), enough to tell "rough" (>125) from "accurate"
#: (<110). Sex ratio: at 200 persons its standard error is about 14 per 100 females. Myers
#: blends eight decades, so it needs more. The UN score sums 41 ratios' absolute errors, so
#: noise only adds: simulated on error-free ages it gains about +40 points at 4,000 persons,
#: +8 at 100,000 and +3 at 1,000,000 (docs/quality-indices.md), hence 50,000.
DEFAULT_MIN_PERSONS: dict[str, int] = {
    "whipple": 200,
    "myers": 500,
    "sex_ratio": 200,
    "age_ratios": 1_000,
    "un_age_sex_accuracy": 50_000,
    "item_nonresponse": 1,
}

_CODED_ITEMS = ("sex", "ethnicity", "relationship", "education", "registration_type", "registration_place",
                "time_away", "reason_away", "marital_status")
_COUNT_ITEMS = ("age", "children_born", "children_surviving", "births_last_year")
_FLAGGED_ITEMS = ("name", "id_number")          # read as present/absent flags only


def _min_persons(min_persons: int | Mapping[str, int] | None) -> dict[str, int]:
    out = dict(DEFAULT_MIN_PERSONS)
    if isinstance(min_persons, int):
        out = dict.fromkeys(out, min_persons)
    elif min_persons is not None:
        unknown = sorted(set(min_persons) - set(out))
        if unknown:
            raise ValueError(f"unknown indices in min_persons: {', '.join(unknown)}")
        out.update(min_persons)
    return out


def read_persons(engine: Engine, source: str = "census", by: str | None = None) -> pd.DataFrame:
    """The person columns the indices need, one row per record of ``source``.

    Adds ``group`` (the EA code, township code or enumerator id; None when the EA is not in
    ``enumeration_areas`` or the record has no enumerator) and ``household_type`` (from the
    household record, None if the household was not loaded). ``name`` / ``id_number`` hold
    '1' when present and None when missing, never the values.
    """
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)} or None, got {by!r}")
    p, h, ea = Person.__table__.c, Household.__table__.c, EnumerationArea.__table__.c
    flags = [case((or_(p[c].is_(None), func.trim(p[c]) == ""), None), else_=literal("1")).label(c)
             for c in _FLAGGED_ITEMS]
    group = {None: literal(None), "ea": p.ea_code, "township": ea.township_code, "enumerator": p.enumerator_id}[by]
    stmt = (select(group.label("group"), *[p[c] for c in _CODED_ITEMS + _COUNT_ITEMS], *flags,
                   h.household_type)
            .select_from(Person.__table__
                         .outerjoin(Household.__table__, (h.source == p.source) & (h.household_key == p.household_key)))
            .where(p.source == source))
    if by == "township":
        stmt = stmt.outerjoin(EnumerationArea.__table__, ea.code == p.ea_code)
    with engine.connect() as conn:
        result = conn.execute(stmt)
        df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for c in _COUNT_ITEMS:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def _plain(x: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN / NA to None, recursively."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return None if math.isnan(x) else float(x)
    if x is pd.NA or x is None:
        return None
    return x


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [_plain(r) for r in table.to_dict(orient="records")]


def _gate(used: int, need: int, what: str) -> dict[str, Any] | None:
    """None when ``used`` persons are enough, else the not-computed entry with its reason."""
    if used >= need:
        return None
    return {"value": None, "persons_used": used, "reason": f"too few persons: {used} {what}, fewer than {need}"}


def _age_sex_indices(ages: np.ndarray, sexes: np.ndarray, need: dict[str, int]) -> dict[str, Any]:
    """Every age/sex index of one group (or the whole source)."""
    a, age_ok = indices.clean_ages(ages)
    _, sex_ok = indices.clean_sexes(sexes)
    both = int((age_ok & sex_ok).sum())
    out: dict[str, Any] = {}

    for key, digits in (("whipple", (0, 5)), ("whipple_digit0", (0,))):
        used = int((age_ok & (a >= 23) & (a <= 62)).sum())
        out[key] = _gate(used, need["whipple"], "with an age of 23-62") or {
            "value": indices.whipple(ages, digits=digits), "persons_used": used}

    used = int((age_ok & (a >= 10) & (a <= 89)).sum())
    gated = _gate(used, need["myers"], "with an age of 10-89")
    if gated:
        out["myers"] = {**gated, "per_digit": None}
    else:
        value, per_digit = indices.myers(ages)
        out["myers"] = {"value": value, "per_digit": per_digit, "persons_used": used}

    gated = _gate(both, need["sex_ratio"], "with an age and a sex")
    if gated:
        out["sex_ratio"] = {**gated, "by_age": None}
    else:
        sr = indices.sex_ratio_by_age_group(ages, sexes)
        out["sex_ratio"] = {"value": sr.overall, "persons_used": both, "by_age": _records(sr.table)}

    used = int(age_ok.sum())
    gated = _gate(used, need["age_ratios"], "with an age")
    out["age_ratios"] = ({**gated, "by_age": None} if gated else
                         {"persons_used": used, "by_age": _records(indices.age_ratios(ages))})

    gated = _gate(both, need["un_age_sex_accuracy"], "with an age and a sex")
    if gated:
        out["un_age_sex_accuracy"] = {**gated, "sex_ratio_score": None, "male_age_ratio_score": None,
                                      "female_age_ratio_score": None}
    else:
        un = indices.un_age_sex_accuracy(ages, sexes)
        out["un_age_sex_accuracy"] = {"value": un.score, "persons_used": both,
                                      "sex_ratio_score": un.sex_ratio_score,
                                      "male_age_ratio_score": un.male_age_ratio_score,
                                      "female_age_ratio_score": un.female_age_ratio_score}
        if math.isnan(un.score):
            out["un_age_sex_accuracy"]["reason"] = "an age group 0-74 is empty for one sex"
    return out


def _nonresponse(eligible: np.ndarray, missing: np.ndarray, items: list[str], need: int) -> list[dict[str, Any]]:
    rows = _records(indices.nonresponse_table(eligible, missing, items))
    for row in rows:
        if row["eligible"] < need:
            row["share"] = None
            row["reason"] = f"too few eligible persons: {row['eligible']}, fewer than {need}"
    return rows


def _summary(frame: pd.DataFrame, eligible: pd.DataFrame, missing: pd.DataFrame,
             need: dict[str, int]) -> dict[str, Any]:
    ages, sexes = frame["age"].to_numpy(), frame["sex"].to_numpy()
    return {
        "persons": int(len(frame)),
        "excluded": indices.exclusions(ages, sexes),
        **_age_sex_indices(ages, sexes, need),
        "item_nonresponse": _nonresponse(eligible.sum().to_numpy(), missing.sum().to_numpy(),
                                         list(eligible.columns), need["item_nonresponse"]),
    }


def quality_indices(engine: Engine, source: str = "census", by: str | None = None,
                    min_persons: int | Mapping[str, int] | None = None) -> dict[str, Any]:
    """Age/sex accuracy and item non-response of ``source``, overall and per group.

    ``by``: None, 'ea' (persons.ea_code), 'township' (enumeration_areas.township_code of the
    person's EA) or 'enumerator' (persons.enumerator_id). Every record lands in exactly one
    group (key None for an EA missing from ``enumeration_areas`` or a blank enumerator), so the
    groups' ``persons`` add up to the overall count. Each group's indices are those of its own
    records, computed exactly as overall (not averages of smaller groups).

    Returns {"source", "by", "min_persons", "overall": summary, "groups": [{"key", **summary}]}
    where a summary has persons, excluded (missing age / sex counts), whipple,
    whipple_digit0, myers, sex_ratio, age_ratios, un_age_sex_accuracy and item_nonresponse.
    """
    need = _min_persons(min_persons)
    df = read_persons(engine, source, by)
    items = list(indices.DEFAULT_ITEMS)
    eligible, missing = indices.item_masks(df, items)
    out: dict[str, Any] = {"source": source, "by": by, "min_persons": need,
                           "overall": _summary(df, eligible, missing, need), "groups": []}
    if by is not None:
        keys = df["group"].astype(object).where(df["group"].notna(), None)
        for key, idx in sorted(keys.groupby(keys, dropna=False).groups.items(),
                               key=lambda kv: (kv[0] is None or kv[0] != kv[0], str(kv[0]))):
            key = None if key is None or key != key else str(key)
            summary = _summary(df.loc[idx], eligible.loc[idx], missing.loc[idx], need)
            out["groups"].append({"key": key, **summary})
    return _plain(out)
