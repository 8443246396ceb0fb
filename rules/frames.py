"""Typed frames for the evaluators: nullable columns, derived fields, person/household/death.

Both evaluators see the same data: the vectorised one as these frames, the row-by-row one as
``records()`` of them (missing values as None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit_engine.codes import code_list, standard_time
from rules.fields import DEATH_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS, Field

ST = standard_time()
KEYS = ("record_key", "household_key", "ea_code")


def _typed(df: pd.DataFrame, fields: dict[str, Field]) -> pd.DataFrame:
    out = {}
    for name, f in fields.items():
        if name in ("age_ym", "away_min_months"):
            continue
        col = df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index)
        if f.type == "num":
            out[name] = pd.to_numeric(col, errors="coerce").astype("Float64")
        else:
            s = col.astype(object).where(col.notna() & (col.astype(object) != ""), None)   # empty text is missing
            out[name] = pd.Series(s, index=df.index, dtype="string[pyarrow]")   # Arrow kernels for compare/isin
    for k in KEYS:
        if k in df.columns:
            out[k] = df[k].astype("string[pyarrow]")
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def derive(persons: pd.DataFrame) -> pd.DataFrame:
    """Add age_ym (completed years at the standard time) and away_min_months."""
    by, bm = persons["birth_year"], persons["birth_month"]
    persons["age_ym"] = (ST.year - by - (bm >= ST.month).astype("Float64")).astype("Float64")
    bands = code_list("time_away").extra["min_months"]
    persons["away_min_months"] = persons["time_away"].map(lambda c: bands.get(c, np.nan) if isinstance(c, str) else np.nan,
                                                          na_action="ignore").astype("Float64")
    return persons


@dataclass
class Frames:
    persons: pd.DataFrame       # one row per person, household items joined; record_key, household_key, ea_code
    households: pd.DataFrame    # one row per household; household_key is its record_key
    deaths: pd.DataFrame


def build_frames(persons: pd.DataFrame, households: pd.DataFrame | None = None,
                 deaths: pd.DataFrame | None = None) -> Frames:
    """From store-shaped tables (``person_key``/``household_key`` columns) to typed frames."""
    households = households if households is not None else pd.DataFrame({"household_key": []})
    hh = households.rename(columns={"household_key": "household_key"})
    p = persons.rename(columns={"person_key": "record_key"})
    hh_cols = [c for c in HOUSEHOLD_FIELDS if c in hh.columns and c not in p.columns]
    if hh_cols:
        p = p.merge(hh[["household_key", *hh_cols]].drop_duplicates("household_key"), on="household_key", how="left")
    pf = derive(_typed(p, PERSON_FIELDS))
    h = hh.assign(record_key=hh["household_key"]) if len(hh) else hh.assign(record_key=pd.Series(dtype=object))
    hf = _typed(h, HOUSEHOLD_FIELDS)
    d = deaths if deaths is not None else pd.DataFrame()
    if len(d):
        d = d.assign(record_key=d["household_key"].astype(str) + "#" + d["line_no"].astype(str))
    df = _typed(d, DEATH_FIELDS) if len(d) else _typed(pd.DataFrame({"record_key": []}), DEATH_FIELDS)
    return Frames(pf, hf, df)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with None for missing (numbers as float, like the Float64 columns)."""
    obj = frame.astype(object).where(frame.notna(), None)
    return obj.to_dict("records")
