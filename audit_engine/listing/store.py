"""``reconcile listing`` against the store: read the listing and the census counts, reconcile,
keep the figures in a run, open a ``revisit`` review item per flagged EA, ledger it.

Everything stored is codes and counts: EA, township and enumerator codes, households and persons
listed / enumerated, gaps and the tolerance — never a name, ID number or address.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, func, select

from audit_engine.ledger import append as ledger_append
from audit_engine.ledger.chain import canonical_json
from audit_engine.listing.reconcile import SHORTFALL, SURPLUS, Reconciliation, Tolerance, reconcile, records
from audit_engine.review.items import NewItem, add_items
from audit_engine.store.models import EnumerationArea, Household, ListedHousehold, LoadFile, Person, Run
from audit_engine.store.runs import finish_run, latest_run, start_run

RUN_KIND = "reconcile listing"
COMMAND = "reconcile listing"


class NoListing(ValueError):
    """Nothing to reconcile: no listing, or no census, loaded."""


@dataclass
class ReconcileResult:
    run_id: int
    result: Reconciliation
    review_items: int

    def summary(self) -> dict:
        eas = self.result.eas
        return {"run_id": self.run_id, "tolerance": self.result.tolerance.to_dict(), "eas": len(eas),
                "shortfall_eas": int((eas["flag"] == SHORTFALL).sum()),
                "surplus_eas": int((eas["flag"] == SURPLUS).sum()),
                "households_listed": int(eas["households_listed"].sum()),
                "households_enumerated": int(eas["households_enumerated"].sum()),
                "persons_listed": int(eas["persons_listed"].sum()),
                "persons_enumerated": int(eas["persons_enumerated"].sum()),
                "review_items": self.review_items}


def _files_hash(engine: Engine, source: str, kinds: tuple[str, ...]) -> str:
    with engine.connect() as conn:
        rows = conn.execute(select(LoadFile.kind, LoadFile.sha256).where(
            LoadFile.source == source, LoadFile.kind.in_(kinds), LoadFile.status == "done")
            .order_by(LoadFile.id)).all()
    return hashlib.sha256(canonical_json([list(r) for r in rows]).encode()).hexdigest()


def read_inputs(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(listing rows, census counts per EA, areas) from the store, codes and counts only."""
    with engine.connect() as conn:
        listing = pd.read_sql(select(ListedHousehold.ea_code, ListedHousehold.persons_listed,
                                     ListedHousehold.enumerator_id), conn)
        hh = pd.read_sql(select(Household.ea_code, Household.enumerator_id, func.count().label("households"))
                         .where(Household.source == "census")
                         .group_by(Household.ea_code, Household.enumerator_id), conn)
        persons = pd.read_sql(select(Person.ea_code, func.count().label("persons"))
                              .where(Person.source == "census").group_by(Person.ea_code), conn)
        areas = pd.read_sql(select(EnumerationArea.code.label("ea_code"), EnumerationArea.township_code), conn)
    if listing.empty:
        raise NoListing("no listing is loaded (census-audit load listing listing.csv)")
    if hh.empty:
        raise NoListing("no census households are loaded (census-audit load census households.csv persons.csv)")
    # one row per EA: households summed over enumerators, the EA's main enumerator kept
    hh = hh.sort_values(["ea_code", "households", "enumerator_id"], ascending=[True, False, True])
    per_ea = hh.groupby("ea_code", sort=True).agg(households=("households", "sum"),
                                                  enumerator_id=("enumerator_id", "first"))
    per_ea = per_ea.join(persons.set_index("ea_code"), how="outer").fillna({"households": 0, "persons": 0})
    per_ea.index.name = "ea_code"
    return listing, per_ea.reset_index(), areas


def run_reconcile(engine: Engine, operator: str, tolerance: Tolerance | None = None) -> ReconcileResult:
    """Reconcile the loaded listing with the census; store the run, the review items, the ledger entry."""
    tol = tolerance or Tolerance()
    params = {"relative": tol.relative, "min_persons": tol.min_persons}
    listing, enumerated, areas = read_inputs(engine)
    inputs = {"listing": _files_hash(engine, "reference", ("listing",)),
              "census": _files_hash(engine, "census", ("households", "persons"))}
    run_id = start_run(engine, RUN_KIND, operator, params)
    try:
        res = reconcile(listing, enumerated, areas, tol)
        flagged = res.eas[res.eas["flag"] != ""]
        items = [NewItem("revisit", str(r.ea_code), str(r.ea_code), {
            "flag": r.flag, "township_code": r.township_code, "enumerator_id": r.enumerator_id,
            "households_listed": int(r.households_listed), "households_enumerated": int(r.households_enumerated),
            "persons_listed": int(r.persons_listed), "persons_enumerated": int(r.persons_enumerated),
            "persons_gap": int(r.persons_gap), "limit": int(r.limit),
            "gap_rate": None if pd.isna(r.gap_rate) else round(float(r.gap_rate), 6)})
            for r in flagged.itertuples(index=False)]
        with engine.begin() as conn:
            n_items = add_items(conn, run_id, items)
        out = ReconcileResult(run_id, res, n_items)
        summary = out.summary()
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted or failed; this run's results are incomplete, run again"},
                   "failed")
        raise
    finish_run(engine, run_id, {**summary, "eas_table": records(res.eas),
                                "enumerators_table": records(res.enumerators),
                                "townships_table": records(res.townships)})
    ledger_append(engine, operator=operator, command=COMMAND, params={**params, "run_id": run_id},
                  inputs=inputs, result={k: v for k, v in summary.items() if k != "tolerance"})
    return out


def latest_reconciliation(engine: Engine) -> dict | None:
    """The newest finished ``reconcile listing`` run, or None if there is none.

    Returns ``{"run_id": int, "tolerance": {...}, "summary": {...}, "eas": [dict, ...],
    "enumerators": [dict, ...], "townships": [dict, ...]}``; an EA row holds ``ea_code,
    township_code, enumerator_id, households_listed, households_enumerated, households_gap,
    persons_listed, persons_enumerated, persons_gap, gap_rate`` (None when nobody was listed),
    ``limit`` (the smallest |gap| flagged) and ``flag`` ('' / 'shortfall' / 'surplus'); an
    enumerator row the same by enumerator plus ``eas`` and ``flagged_eas``.
    """
    run_id = latest_run(engine, RUN_KIND)
    if run_id is None:
        return None
    with engine.connect() as conn:
        raw = conn.execute(select(Run.summary).where(Run.id == run_id)).scalar_one()
    s = json.loads(raw or "{}")
    tables = {k: s.pop(f"{k}_table", []) for k in ("eas", "enumerators", "townships")}
    return {"run_id": run_id, "tolerance": s.get("tolerance", {}), "summary": s, **tables}
