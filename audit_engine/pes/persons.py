"""Person records read from the store in the column layout of docs/data-format.md, which is
what the linkage settings and classifiers expect (``person_id``, ``household_id``,
``birth_ym`` as ``YYYY-MM``)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, or_, select

from audit_engine.store.models import Death, Person

#: person columns the PES steps need
COLUMNS = ("person_key", "household_key", "ea_code", "line_no", "name", "id_number", "sex", "birth_year",
           "birth_month", "age", "ethnicity", "relationship", "registration_type", "registration_place",
           "enumerator_id")

#: levels of the search area for the PES: how many leading characters of the EA code are shared
AREA_PREFIX = {"ea": 15, "village": 12, "township": 9, "county": 6}


def _ym(year: pd.Series, month: pd.Series) -> pd.Series:
    y = pd.Series(pd.array(year, dtype="Int64"), index=year.index).astype("string").str.zfill(4)
    m = pd.Series(pd.array(month, dtype="Int64"), index=month.index).astype("string").str.zfill(2)
    return (y + "-" + m).astype(object).where(y.notna() & m.notna(), None)


def _shape(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns={"person_key": "person_id", "household_key": "household_id"})
    df["birth_ym"] = _ym(df["birth_year"], df["birth_month"]).to_numpy()
    for c in ("name", "id_number", "sex", "ethnicity", "relationship", "registration_type", "registration_place"):
        if c in df:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df.reset_index(drop=True)


def read_persons(engine: Engine, source: str, *, eas: Iterable[str] | None = None,
                 prefixes: Iterable[str] | None = None, chunk: int = 500) -> pd.DataFrame:
    """Persons of ``source`` in the EAs ``eas``, or in EAs whose code starts with one of
    ``prefixes`` (a township's, a village's), or all of them when both are None. Sorted by
    person key so every run sees the same order (results and pair positions reproducible)."""
    cols = [getattr(Person, c) for c in COLUMNS]
    frames = []
    with engine.connect() as conn:
        if eas is None and prefixes is None:
            frames.append(pd.read_sql(select(*cols).where(Person.source == source), conn))
        elif eas is not None:
            eas = sorted(set(eas))
            for i in range(0, len(eas), chunk):
                frames.append(pd.read_sql(select(*cols).where(Person.source == source,
                                                              Person.ea_code.in_(eas[i:i + chunk])), conn))
        else:
            pre = sorted(set(prefixes))
            for i in range(0, len(pre), chunk):
                cond = or_(*(Person.ea_code.like(f"{p}%") for p in pre[i:i + chunk]))
                frames.append(pd.read_sql(select(*cols).where(Person.source == source, cond), conn))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    df = df.sort_values("person_key", kind="stable")
    return _shape(df)


def read_deaths(engine: Engine, source: str = "census", eas: Iterable[str] | None = None) -> pd.DataFrame:
    """Deaths reported by households (``household_id``, ``ea_code``, ``line_no``, ``name``,
    ``sex``, ``birth_ym``, ``death_ym``)."""
    cols = [Death.household_key, Death.ea_code, Death.line_no, Death.name, Death.sex, Death.birth_year,
            Death.birth_month, Death.death_year, Death.death_month]
    stmt = select(*cols).where(Death.source == source)
    if eas is not None:
        stmt = stmt.where(Death.ea_code.in_(sorted(set(eas))))
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    df = df.rename(columns={"household_key": "household_id"})
    df["birth_ym"] = _ym(df["birth_year"], df["birth_month"]).to_numpy()
    df["death_ym"] = _ym(df["death_year"], df["death_month"]).to_numpy()
    return df.drop(columns=["birth_year", "birth_month", "death_year", "death_month"])
