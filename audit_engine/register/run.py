"""``link register``: the run over the store — read, link, classify, store, review, ledger.

Every census person and every register person (the county's extract), linked by
:func:`audit_engine.register.link.link_register`, classified by
:func:`audit_engine.register.classify.classify`; stored under one run (kind ``link register``):
``link_pairs`` (kind ``register``: left the census person, right the register person, status
match / possible / shared), ``register_status`` (one row per record of both sides) and one
review item (kind ``register``, subject ``C:<person key>`` or ``R:<register key>``) per record
of an actionable class or in a possible match. Every insert happens in one transaction at the
end; a failure leaves the run ``failed`` and nothing half-written.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, select

from audit_engine.ledger import append as ledger_append
from audit_engine.pes.persons import read_persons
from audit_engine.pes.scoring import model_summary
from audit_engine.register.classify import CLASSES, classify
from audit_engine.register.link import link_register, read_register, register_settings
from audit_engine.review.items import NewItem, add_items
from audit_engine.store.bulk import insert_rows
from audit_engine.store.models import EnumerationArea, LinkPair, RegisterStatus
from audit_engine.store.runs import finish_run, latest_run, start_run
from rules.check import data_hash

__all__ = ["RUN_KIND", "RegisterLinkSummary", "register_summary", "run_link_register", "townships"]

RUN_KIND = "link register"
#: review item kind (audit_engine.review.items.DECISIONS)
ITEM_KIND = "register"


@dataclass
class RegisterLinkSummary:
    run_id: int
    census_persons: int
    register_persons: int
    candidates: int
    matches: int
    possible: int
    shared: int
    classes: dict
    by_township: dict
    review_items: int
    upper: dict
    lower: dict
    seconds: float
    steps: dict

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def townships(engine: Engine) -> dict[str, str]:
    """EA code → township code, from the ``enumeration_areas`` table."""
    with engine.connect() as conn:
        return {str(c): str(t) for c, t in conn.execute(select(EnumerationArea.code, EnumerationArea.township_code))}


def _township_of(code: str | None, tmap: dict[str, str]) -> str:
    code = code or ""
    return tmap.get(code, code[:9] if len(code) >= 9 else code)


def counts_by_area(status: pd.DataFrame, tmap: dict[str, str]) -> tuple[dict, dict, dict]:
    """Per class, per township and per EA (or registration address for register-only records):
    counts of persons — census records, plus register records without a census partner (a
    matched register record is the same person as its census record and is not counted again;
    a census duplicate is counted once per record)."""
    counted = status[(status["record"] == "C") | status["other_key"].isna()]
    total: Counter = Counter()
    by_t: dict = defaultdict(Counter)
    by_ea: dict = defaultdict(Counter)
    for ea, cls in zip(counted["ea_code"], counted["cls"], strict=True):
        total[cls] += 1
        by_t[_township_of(ea, tmap)][cls] += 1
        by_ea[ea][cls] += 1
    return ({c: total[c] for c in CLASSES if total[c]}, {k: dict(v) for k, v in sorted(by_t.items())},
            {k: dict(v) for k, v in sorted(by_ea.items())})


def run_link_register(engine: Engine, operator: str, *, target_fmr: float = 0.001, target_fnmr: float = 0.001,
                      progress: Callable[[str], None] | None = None) -> RegisterLinkSummary:
    """Compare the census with the household-register extract; store and review the outcome."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    steps: dict[str, float] = {}

    since = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        steps[name] = round(now - since[0], 2)
        since[0] = now

    params = {"kind": "register", "target_fmr": target_fmr, "target_fnmr": target_fnmr}
    inputs = {"census": data_hash(engine, "census"), "register": data_hash(engine, "register")}
    run_id = start_run(engine, RUN_KIND, operator, params)
    try:
        say("reading census persons and the register extract")
        census = read_persons(engine, "census")
        reg = read_register(engine)
        if census.empty:
            raise ValueError("no census persons are loaded (census-audit load census persons.csv)")
        if reg.empty:
            raise ValueError("no register persons are loaded (census-audit load register register.csv)")
        tmap = townships(engine)
        lap("read")
        say(f"linking {len(census):,} census persons with {len(reg):,} register persons (county-wide)")
        settings = register_settings(target_fmr=target_fmr)
        rl = link_register(census, reg, settings, target_fnmr=target_fnmr)
        lap("link")
        ckeys = census["person_id"].to_numpy(dtype=object)
        rkeys = reg["register_id"].to_numpy(dtype=object)
        cea = census["ea_code"].to_numpy(dtype=object)
        raddr = reg["address_code"].to_numpy(dtype=object)
        p = rl.pairs
        links = pd.DataFrame({"census_key": ckeys[p["census"]], "register_key": rkeys[p["register"]],
                              "status": p["status"].to_numpy(), "weight": p["weight"].to_numpy(),
                              "posterior": p["posterior"].to_numpy(), "levels": p["levels"].to_numpy()})
        say(f"{int((p['status'] == 'match').sum()):,} matches, {int((p['status'] == 'possible').sum()):,} possible; "
            "classifying")
        status = classify(census, reg, links, tmap)
        lap("classify")
        pairs = pd.DataFrame({
            "run_id": run_id, "kind": "register", "left_key": links["census_key"], "right_key": links["register_key"],
            "left_ea": cea[p["census"]], "right_ea": raddr[p["register"]], "weight": links["weight"],
            "posterior": links["posterior"], "levels": links["levels"], "status": links["status"], "cluster": None})
        rows = status.drop(columns="review").assign(run_id=run_id)
        items = [NewItem(ITEM_KIND, f"{r.record}:{r.record_key}", str(r.ea_code),
                         {"record": r.record, "record_key": r.record_key, "class": r.cls, "other_key": r.other_key,
                          "place": r.place, **json.loads(r.evidence)})
                 for r in status[status["review"]].itertuples(index=False)]
        say(f"storing {len(pairs):,} pairs, {len(rows):,} register statuses, {len(items):,} review items")
        with engine.begin() as conn:
            insert_rows(conn, LinkPair, pairs)
            insert_rows(conn, RegisterStatus, rows)
            n_items = add_items(conn, run_id, items)
        lap("store")
        classes, by_t, _ = counts_by_area(status, tmap)
        ms = model_summary(rl.result, rl.bands)
        n = p["status"].value_counts()
        summary = RegisterLinkSummary(
            run_id, len(census), len(reg), len(rl.result.candidates), int(n.get("match", 0)),
            int(n.get("possible", 0)), int(n.get("shared", 0)), classes, by_t, n_items, ms["upper"], ms["lower"],
            round(time.perf_counter() - t0, 2), steps)
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted or failed; this run's results are incomplete, run again"},
                   "failed")
        raise
    finish_run(engine, run_id, {**summary.to_dict(), "model": ms})
    ledger_append(engine, operator=operator, command=RUN_KIND, params={**params, "run_id": run_id}, inputs=inputs,
                  result={k: v for k, v in summary.to_dict().items()
                          if k not in ("seconds", "steps", "upper", "lower", "by_township")}
                  | {"threshold_posterior": ms["upper"]["posterior_min"],
                     "possible_posterior": ms["lower"]["posterior_min"]})
    return summary


def register_summary(engine: Engine, run_id: int | None = None) -> dict | None:
    """Class counts of the newest finished ``link register`` run (or ``run_id``), for the
    supervision bulletin; None when there is none.

    ``{"run_id", "classes": {cls: n}, "by_township": {township: {cls: n}}, "by_ea": {code: {cls: n}}}``
    — persons counted once: census records by their EA, plus register records with no census
    partner (not_enumerated, moved_out, deceased) by their registration address code (a village
    code, so ``by_ea`` holds both EA and village codes; both scope by prefix)."""
    run_id = run_id if run_id is not None else latest_run(engine, RUN_KIND)
    if run_id is None:
        return None
    with engine.connect() as conn:
        status = pd.read_sql(select(RegisterStatus.record, RegisterStatus.ea_code, RegisterStatus.cls,
                                    RegisterStatus.other_key)
                             .where(RegisterStatus.run_id == run_id), conn)
    classes, by_t, by_ea = counts_by_area(status, townships(engine))
    return {"run_id": int(run_id), "classes": classes, "by_township": by_t, "by_ea": by_ea}
