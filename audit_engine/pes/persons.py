"""Person records read from the store in the column layout of docs/data-format.md, which is
what the linkage settings and classifiers expect (``person_id``, ``household_id``,
``birth_ym`` as ``YYYY-MM``).

A national census is not in the store but in the lake (:mod:`audit_engine.spark.lake`):
with ``lake`` given, the same readers take the source's rows from its Parquet files instead
(plain pyarrow, partition pruning by county), in exactly the shape, dtypes and order the store
gives, so that everything downstream — linkage, classification, estimation — sees the same
frames and gives the same results whichever holds the census.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, or_, select

from audit_engine.store.models import Death, Person

#: person columns the PES steps need
COLUMNS = ("person_key", "household_key", "ea_code", "line_no", "name", "id_number", "sex", "birth_year",
           "birth_month", "age", "ethnicity", "relationship", "registration_type", "registration_place",
           "enumerator_id")

#: death columns the PES steps need
DEATH_COLUMNS = ("household_key", "ea_code", "line_no", "name", "sex", "birth_year", "birth_month", "death_year",
                 "death_month")

#: levels of the search area for the PES: how many leading characters of the EA code are shared
AREA_PREFIX = {"ea": 15, "village": 12, "township": 9, "county": 6}


def _ym(year: pd.Series, month: pd.Series) -> pd.Series:
    y = pd.Series(pd.array(year, dtype="Int64"), index=year.index).astype("string").str.zfill(4)
    m = pd.Series(pd.array(month, dtype="Int64"), index=month.index).astype("string").str.zfill(2)
    return (y + "-" + m).astype(object).where(y.notna() & m.notna(), None)


def shape_persons(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns={"person_key": "person_id", "household_key": "household_id"})
    df["birth_ym"] = _ym(df["birth_year"], df["birth_month"]).to_numpy()
    for c in ("name", "id_number", "sex", "ethnicity", "relationship", "registration_type", "registration_place"):
        if c in df:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df.reset_index(drop=True)


def _lake_rows(lake: str | os.PathLike, source: str, kind: str, columns: list[str],
               eas: Iterable[str] | None, prefixes: Iterable[str] | None, chunk: int) -> pd.DataFrame:
    """Rows of a lake table in the EAs ``eas`` / under ``prefixes`` / all of them; reads only
    ``columns`` and only the counties of the EAs or prefixes (partition pruning), ``chunk``
    prefixes per scan (one filter expression per prefix); shaped as the store gives them."""
    from audit_engine.spark.lake import read_table, store_shaped

    if eas is None and prefixes is None:
        return store_shaped(read_table(lake, source, kind, columns_=columns), kind, columns)
    want = sorted(set(eas if eas is not None else prefixes))
    frames = [read_table(lake, source, kind, prefixes=want[i:i + chunk], columns_=columns)
              for i in range(0, len(want), chunk)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: pd.Series(dtype=object)
                                                                        for c in columns})
    if eas is not None:     # an EA code as a prefix could match a longer code: keep exact codes only
        df = df[df["ea_code"].isin(want)]
    return store_shaped(df, kind, columns)


def read_persons(engine: Engine, source: str, *, eas: Iterable[str] | None = None,
                 prefixes: Iterable[str] | None = None, chunk: int = 500,
                 lake: str | os.PathLike | None = None) -> pd.DataFrame:
    """Persons of ``source`` in the EAs ``eas``, or in EAs whose code starts with one of
    ``prefixes`` (a township's, a village's), or all of them when both are None. Sorted by
    person key so every run sees the same order (results and pair positions reproducible).

    ``lake``: read the source's persons from the lake instead of the store (same frame)."""
    if lake is not None:
        df = _lake_rows(lake, source, "persons", list(COLUMNS), eas, prefixes, chunk)
        return shape_persons(df.sort_values("person_key", kind="stable"))
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
    return shape_persons(df)


def read_deaths(engine: Engine, source: str = "census", eas: Iterable[str] | None = None, *,
                lake: str | os.PathLike | None = None) -> pd.DataFrame:
    """Deaths reported by households (``household_id``, ``ea_code``, ``line_no``, ``name``,
    ``sex``, ``birth_ym``, ``death_ym``), sorted by household and line: when a census record
    matches two reported deaths, the first is the one cited, and neither the store (no ORDER
    BY) nor the lake (files written in parallel) guarantees a row order of its own.

    ``lake``: read the source's deaths from the lake instead of the store (same frame)."""
    if lake is not None:
        df = _lake_rows(lake, source, "deaths", list(DEATH_COLUMNS), eas, None, 500)
    else:
        stmt = select(*(getattr(Death, c) for c in DEATH_COLUMNS)).where(Death.source == source)
        if eas is not None:
            stmt = stmt.where(Death.ea_code.in_(sorted(set(eas))))
        with engine.connect() as conn:
            df = pd.read_sql(stmt, conn)
    df = df.sort_values(["household_key", "line_no"], kind="stable").reset_index(drop=True)
    df = df.rename(columns={"household_key": "household_id"})
    df["birth_ym"] = _ym(df["birth_year"], df["birth_month"]).to_numpy()
    df["death_ym"] = _ym(df["death_year"], df["death_month"]).to_numpy()
    return df.drop(columns=["birth_year", "birth_month", "death_year", "death_month"])
