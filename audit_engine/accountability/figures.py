"""Accountability figures from the store: who and where the errors come from.

Per unit (enumerator, supervisor, EA, township):

* ``persons`` — census person records of the unit;
* ``flagged`` — distinct census persons named by at least one flag of the newest done census
  ``check`` run (a flag names a person when its ``record_key`` is a census person key: person-
  and dataset-scope flags; household- and death-scope flags name a household and are not
  spread over its members);
* ``flag_rate`` = flagged / persons, with its binomial funnel limits around the overall rate
  and an ``outlier`` label (see :mod:`audit_engine.accountability.funnel`);
* ``flags`` — flags of that run on the unit's persons and households (a household flag counts
  for the household's enumerator and EA);
* ``decided`` — of those, flags with a first-stage decision ``confirmed`` or ``false_alarm``
  (``revisit`` waits for a field visit and is not yet decided); ``confirmed`` — decided
  ``confirmed``; ``confirmed_rate`` = confirmed / decided with its own funnel (size: decided)
  and ``confirmed_outlier``.

PES omissions (newest done ``link pes`` run), per EA and per census enumerator:

* ``p_persons`` — valid P-sample persons (class not ``invalid``);
* ``omitted`` — not matched, plus possible matches a QC officer decided ``non_match``;
  ``possible_open`` — possible matches still undecided (not counted as omitted);
* ``omission_rate`` = omitted / p_persons with funnel limits and ``outlier``.

An EA's omissions are charged to each census enumerator assigned to it in
``enumerator_areas`` (or, without assignments, to the most common enumerator of its census
records). Overall rates (``p0``) are over EAs, so an EA shared by two enumerators counts once.

Only aggregates leave this module: unit codes, counts and rates, never a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from audit_engine.accountability.funnel import classify, funnel_limits
from audit_engine.store.models import (
    Decision,
    Enumerator,
    EnumeratorArea,
    Flag,
    Household,
    Person,
    SampleStatus,
)
from audit_engine.store.runs import latest_run

UNITS = ("enumerator", "supervisor", "ea", "township")
TOWNSHIP_DIGITS = 9


class NoData(LookupError):
    """The store lacks what the figures need (no check run, no link pes run)."""


@dataclass
class Figures:
    """One table of figures: ``rows`` (one dict per unit, worst first) and the overall rates."""

    by: str
    run_id: int
    overall: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"by": self.by, "run_id": self.run_id, "overall": self.overall, "units": self.rows}


def _with_funnel(df: pd.DataFrame, count: str, size: str, prefix: str, outlier: str) -> float:
    """Add the rate, the four limits and the outlier label; returns p0."""
    n = df[size].to_numpy(dtype=float)
    y = df[count].to_numpy(dtype=float)
    total = n.sum()
    p0 = float(y.sum() / total) if total > 0 else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        df[f"{prefix}_rate"] = np.where(n > 0, y / np.where(n > 0, n, 1), np.nan)
    if np.isnan(p0):
        for k in ("lower_95", "upper_95", "lower_99_8", "upper_99_8"):
            df[f"{prefix}_{k}"] = np.nan
        df[outlier] = ""
        return p0
    for k, v in funnel_limits(n, p0).items():
        df[f"{prefix}_{k}"] = v
    df[outlier] = classify(y, n, p0)
    return p0


def _unit_of(df: pd.DataFrame, by: str, supervisors: pd.Series) -> pd.Series:
    if by == "enumerator":
        return df["enumerator_id"]
    if by == "supervisor":
        return df["enumerator_id"].map(supervisors)
    if by == "ea":
        return df["ea_code"]
    return df["ea_code"].str[:TOWNSHIP_DIGITS]


_ORDER = {"above 99.8%": 0, "above 95%": 1, "": 2, "below 95%": 3, "below 99.8%": 4}


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and np.isnan(v) else
                        int(v) if isinstance(v, np.integer) else float(v) if isinstance(v, np.floating) else v)
                    for k, v in rec.items()})
    return out


def flag_figures(engine: Engine, by: str = "enumerator", run_id: int | None = None) -> Figures:
    """Flag rates and confirmed-error rates per unit, with funnel limits (see the module doc)."""
    if by not in UNITS:
        raise ValueError(f"by must be one of {', '.join(UNITS)}")
    run_id = run_id if run_id is not None else latest_run(engine, "check", "census")
    if run_id is None:
        raise NoData("no finished census check run: run `census-audit check` first")
    with engine.connect() as conn:
        persons = pd.read_sql(select(Person.person_key, Person.household_key, Person.ea_code, Person.enumerator_id)
                              .where(Person.source == "census"), conn)
        households = pd.read_sql(select(Household.household_key, Household.ea_code, Household.enumerator_id)
                                 .where(Household.source == "census"), conn)
        supervisors = pd.read_sql(select(Enumerator.id, Enumerator.supervisor_id), conn) \
            .set_index("id")["supervisor_id"]
        flags = pd.read_sql(select(Flag.id, Flag.record_key, Flag.scope)
                            .where(Flag.run_id == run_id, Flag.source == "census"), conn)
        first = pd.read_sql(select(Decision.item_id, Decision.decision)
                            .join(Flag, Flag.id == Decision.item_id)
                            .where(Decision.item_kind == "flag", Decision.stage == "first", Flag.run_id == run_id), conn)

    persons["unit"] = _unit_of(persons, by, supervisors)
    households["unit"] = _unit_of(households, by, supervisors)
    # a household's enumerator: its own field, else its members' most common one
    if by in ("enumerator", "supervisor") and households["unit"].isna().any():
        member_unit = persons.dropna(subset=["unit"]).groupby("household_key")["unit"].agg(lambda s: s.mode().iat[0])
        households["unit"] = households["unit"].fillna(households["household_key"].map(member_unit))

    p_unit = persons.set_index("person_key")["unit"]
    h_unit = households.set_index("household_key")["unit"]
    flags["unit"] = flags["record_key"].map(p_unit)
    on_person = flags["unit"].notna() | flags["record_key"].isin(p_unit.index)
    flags.loc[~on_person, "unit"] = flags.loc[~on_person, "record_key"].map(h_unit)
    dec = first.set_index("item_id")["decision"]
    flags["decision"] = flags["id"].map(dec)

    table = persons.dropna(subset=["unit"]).groupby("unit").size().rename("persons").to_frame()
    table["flagged"] = flags[on_person].dropna(subset=["unit"]).groupby("unit")["record_key"].nunique()
    f = flags.dropna(subset=["unit"])
    table["flags"] = f.groupby("unit").size()
    table["decided"] = f[f["decision"].isin(["confirmed", "false_alarm"])].groupby("unit").size()
    table["confirmed"] = f[f["decision"] == "confirmed"].groupby("unit").size()
    table["revisit"] = f[f["decision"] == "revisit"].groupby("unit").size()
    table = table.fillna(0).astype(int)
    table.index.name = "unit"
    table = table.reset_index()
    if by == "enumerator":
        table.insert(1, "supervisor", table["unit"].map(supervisors))
    p_flag = _with_funnel(table, "flagged", "persons", "flag", "outlier")
    p_conf = _with_funnel(table, "confirmed", "decided", "confirmed", "confirmed_outlier")
    table["_o"] = table["outlier"].map(_ORDER)
    table = table.sort_values(["_o", "flag_rate", "unit"], ascending=[True, False, True]).drop(columns="_o")
    overall = {"units": len(table), "persons": int(table["persons"].sum()), "flagged": int(table["flagged"].sum()),
               "flag_rate": p_flag, "flags": int(table["flags"].sum()), "decided": int(table["decided"].sum()),
               "confirmed": int(table["confirmed"].sum()), "confirmed_rate": None if np.isnan(p_conf) else p_conf,
               "outliers": {k: int((table["outlier"] == k).sum()) for k in _ORDER if k},
               "limits": "exact binomial, Spiegelhalter (2005) interpolation, 95% and 99.8%"}
    return Figures(by, run_id, overall, _records(table))


def _ea_enumerators(engine: Engine) -> pd.DataFrame:
    """(ea_code, enumerator_id) of census enumerators: assignments, else the EA's modal enumerator."""
    with engine.connect() as conn:
        census = pd.read_sql(select(Person.ea_code, Person.enumerator_id)
                             .where(Person.source == "census", Person.enumerator_id.is_not(None)), conn)
        assigned = pd.read_sql(select(EnumeratorArea.ea_code, EnumeratorArea.enumerator_id), conn)
    census_ids = set(census["enumerator_id"].unique())
    assigned = assigned[assigned["enumerator_id"].isin(census_ids)]
    modal = (census.groupby(["ea_code", "enumerator_id"]).size().rename("n").reset_index()
             .sort_values(["ea_code", "n", "enumerator_id"], ascending=[True, False, True])
             .drop_duplicates("ea_code")[["ea_code", "enumerator_id"]])
    modal = modal[~modal["ea_code"].isin(set(assigned["ea_code"]))]
    return pd.concat([assigned, modal], ignore_index=True).drop_duplicates()


def omission_figures(engine: Engine, by: str = "ea", run_id: int | None = None) -> Figures:
    """PES omissions per EA or per census enumerator, with funnel limits (see the module doc)."""
    if by not in ("ea", "enumerator"):
        raise ValueError("PES omissions are by ea or by enumerator")
    from audit_engine.review.items import decisions

    run_id = run_id if run_id is not None else latest_run(engine, "link pes")
    if run_id is None:
        raise NoData("no finished PES link run: run `census-audit link pes` first")
    with engine.connect() as conn:
        p = pd.read_sql(select(SampleStatus.person_key, SampleStatus.ea_code, SampleStatus.cls)
                        .where(SampleStatus.run_id == run_id, SampleStatus.sample == "P"), conn)
    p = p[p["cls"] != "invalid"].copy()
    pair = decisions(engine, run_id, "pair")
    d = p["person_key"].map(pair.set_index("subject")["decision"]) if len(pair) else pd.Series(None, index=p.index)
    poss = p["cls"] == "possible"
    p["omitted"] = (p["cls"] == "not_matched") | (poss & (d == "non_match"))
    p["possible_open"] = poss & d.isna()
    ea = p.groupby("ea_code").agg(p_persons=("person_key", "size"), omitted=("omitted", "sum"),
                                  possible_open=("possible_open", "sum")).astype(int)
    p0 = float(ea["omitted"].sum() / ea["p_persons"].sum()) if len(ea) and ea["p_persons"].sum() else float("nan")
    if by == "ea":
        table = ea.reset_index().rename(columns={"ea_code": "unit"})
    else:
        links = _ea_enumerators(engine)
        m = ea.reset_index().merge(links, on="ea_code", how="left")
        m["enumerator_id"] = m["enumerator_id"].fillna("(unassigned)")
        table = m.groupby("enumerator_id").agg(eas=("ea_code", "nunique"), p_persons=("p_persons", "sum"),
                                              omitted=("omitted", "sum"),
                                              possible_open=("possible_open", "sum")).reset_index()
        table = table.rename(columns={"enumerator_id": "unit"})
    table["omission_rate"] = np.where(table["p_persons"] > 0, table["omitted"] / table["p_persons"].clip(lower=1), np.nan)
    if np.isnan(p0):
        table["outlier"] = ""
    else:
        for k, v in funnel_limits(table["p_persons"].to_numpy(float), p0).items():
            table[f"omission_{k}"] = v
        table["outlier"] = classify(table["omitted"].to_numpy(float), table["p_persons"].to_numpy(float), p0)
    table["_o"] = table["outlier"].map(_ORDER)
    table = table.sort_values(["_o", "omission_rate", "unit"], ascending=[True, False, True]).drop(columns="_o")
    overall = {"units": len(table), "eas": len(ea), "p_persons": int(ea["p_persons"].sum()),
               "omitted": int(ea["omitted"].sum()), "possible_open": int(ea["possible_open"].sum()),
               "omission_rate": None if np.isnan(p0) else p0,
               "outliers": {k: int((table["outlier"] == k).sum()) for k in _ORDER if k},
               "limits": "exact binomial, Spiegelhalter (2005) interpolation, 95% and 99.8%"}
    return Figures(by, run_id, overall, _records(table))
