"""``link pes``: which census person is each PES person of the sample EAs, and which census
records of the sample EAs are correct enumerations.

1. The sealed sample (:mod:`sampling.store`) gives the sample EAs. PES persons: those EAs.
   Census persons: the *search area* — the EAs sharing the sample EAs' township (default),
   village committee, or the EAs themselves — so that a person enumerated by the census in the
   next EA is still found (not a false omission).
2. Unsupervised Fellegi–Sunter linkage (:func:`~audit_engine.linkage.census.pes_census_settings`),
   a second pass with the household context (:mod:`audit_engine.linkage.context`: how many
   co-members are matched across), its m and u refined by the pairs QC officers decided in earlier PES runs, one-to-one.
3. Two thresholds (:mod:`audit_engine.pes.scoring`): matches; possible matches → review items.
4. P-sample status per PES person; E-sample classification per census record of the sample
   EAs (:mod:`audit_engine.coverage.classify`): correct, duplicate (from the newest ``link
   duplicates`` run), born after / died before the standard time, or unresolved → a field
   follow-up review item.

Everything is stored under one run and summed up in the ledger (counts, hashes, thresholds).

A national census is in the lake, not in the store (``lake``): then the census persons of the
search area and the deaths of the sample EAs are read from its Parquet files — only the
counties of the sample EAs are opened — while the PES, the sample, the ``link duplicates``
results and everything this run writes stay in the store. The results are the same.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from audit_engine.coverage.classify import classify_e_sample, p_sample_status
from audit_engine.ledger import append as ledger_append
from audit_engine.linkage import link
from audit_engine.linkage.census import person_keys, pes_census_settings
from audit_engine.linkage.context import with_household_context
from audit_engine.pes.persons import AREA_PREFIX, read_deaths, read_persons
from audit_engine.pes.scoring import bands, levels_json, model_summary, refine
from audit_engine.review.items import NewItem, add_items
from audit_engine.store.bulk import insert_rows
from audit_engine.store.models import ClusterMember, LinkPair, ReviewItem, SampleStatus
from audit_engine.store.runs import finish_run, latest_run, start_run
from rules.check import data_hash
from sampling.store import load_sample


@dataclass
class PesLinkSummary:
    run_id: int
    sample_id: int
    search_area: str
    pes_persons: int
    census_search_area: int
    candidates: int
    matches: int
    possible: int
    p_sample: dict
    e_sample: dict
    duplicates_run: int | None
    reviewed_pairs_used: int
    review_items: int
    upper: dict
    lower: dict
    seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def reviewed_pairs(engine: Engine) -> pd.DataFrame:
    """Decided possible-match items of every PES run, as labelled pairs (left_key, right_key,
    is_match): what the officers taught the model."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(LinkPair.left_key, LinkPair.right_key, ReviewItem.decision)
            .join(ReviewItem, (ReviewItem.run_id == LinkPair.run_id) & (ReviewItem.subject == LinkPair.left_key))
            .where(ReviewItem.kind == "pair", ReviewItem.status == "decided", LinkPair.kind == "pes",
                   LinkPair.status == "possible")).all()
    df = pd.DataFrame(rows, columns=["left_key", "right_key", "decision"])
    df["is_match"] = df["decision"] == "match"
    return df.drop(columns="decision").drop_duplicates(["left_key", "right_key"], keep="last")


def duplicate_clusters(engine: Engine, run_id: int | None) -> pd.DataFrame:
    """Members of the duplicate clusters of ``run_id``: person_key, cluster, role, ea_code."""
    if run_id is None:
        return pd.DataFrame(columns=["person_key", "cluster", "role", "ea_code"])
    with engine.connect() as conn:
        return pd.read_sql(select(ClusterMember.person_key, ClusterMember.cluster, ClusterMember.role,
                                  ClusterMember.ea_code).where(ClusterMember.run_id == run_id), conn)


def run_link_pes(engine: Engine, operator: str, *, sample_id: int | None = None, search_area: str = "township",
                 target_fmr: float = 0.001, target_fnmr: float = 0.001,
                 progress: Callable[[str], None] | None = None,
                 lake: str | os.PathLike | None = None) -> PesLinkSummary:
    """Link the PES of the sample EAs to the census and classify both samples; store everything.

    ``lake``: the census persons and deaths are in this lake, not in the store."""
    if search_area not in AREA_PREFIX:
        raise ValueError(f"search area must be one of {', '.join(AREA_PREFIX)}, not {search_area!r}")
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    sample = load_sample(engine, sample_id)
    eas = sorted(sample.units["unit"].astype(str))
    dup_run = latest_run(engine, "link duplicates")
    params = {"kind": "pes", "sample_id": sample.id, "search_area": search_area, "target_fmr": target_fmr,
              "target_fnmr": target_fnmr, "duplicates_run": dup_run}
    inputs = {"census": data_hash(engine, "census"), "pes": data_hash(engine, "pes"),
              "sample_selection": sample.selection_hash}
    if lake is not None:
        from audit_engine.spark.lake import fingerprint

        params["census_source"] = "lake"
        inputs["census_lake"] = fingerprint(lake, "census")
    run_id = start_run(engine, "link pes", operator, params)
    try:
        say(f"reading PES persons of {len(eas)} sample EAs and census persons of their {search_area}s")
        pes = read_persons(engine, "pes", eas=eas)
        prefixes = {ea[:AREA_PREFIX[search_area]] for ea in eas}
        census = read_persons(engine, "census", prefixes=prefixes, lake=lake)
        if pes.empty:
            raise ValueError(f"no PES persons are loaded in the {len(eas)} EAs of sample {sample.id} "
                             "(census-audit load pes persons.csv)")
        if census.empty:
            raise ValueError("no census persons are loaded in the search area (census-audit load census persons.csv)"
                             if lake is None else f"no census persons in the lake {lake} in the search area "
                             "(census-audit lake export, or load the census with --engine spark --lake DIR)")
        settings = pes_census_settings(target_fmr=target_fmr)
        say(f"linking {len(pes):,} PES persons with {len(census):,} census persons")
        res = link(person_keys(pes), person_keys(census), settings)
        say("second pass: household context (co-members matched across)")
        res = with_household_context(res, settings, pes["household_id"].to_numpy(dtype=object),
                                     census["household_id"].to_numpy(dtype=object))
        lkeys = pes["person_id"].to_numpy(dtype=object)
        rkeys = census["person_id"].to_numpy(dtype=object)
        model, n_reviewed = refine(res, lkeys, rkeys, reviewed_pairs(engine))
        b = bands(res, settings, target_fnmr, model)
        cand = res.candidates
        kept = np.flatnonzero(b.match | b.possible)
        status = np.where(b.match[kept], "match", "possible")
        pairs = pd.DataFrame({
            "run_id": run_id, "kind": "pes", "left_key": lkeys[cand.left[kept]], "right_key": rkeys[cand.right[kept]],
            "left_ea": pes["ea_code"].to_numpy(dtype=object)[cand.left[kept]],
            "right_ea": census["ea_code"].to_numpy(dtype=object)[cand.right[kept]],
            "weight": b.weights[kept], "posterior": b.posteriors[kept], "levels": levels_json(res, kept),
            "status": status, "cluster": None,
        })
        links = pairs[["left_key", "right_key", "weight", "status"]].rename(
            columns={"left_key": "pes_key", "right_key": "census_key"})

        say("classifying the P-sample and the E-sample")
        p_status = p_sample_status(pes, links)
        e_records = census[census["ea_code"].isin(set(eas))].reset_index(drop=True)
        e_status = classify_e_sample(e_records, links, duplicate_clusters(engine, dup_run),
                                     read_deaths(engine, "census", eas=eas, lake=lake))
        rows = []
        for sample_code, st in (("P", p_status), ("E", e_status)):
            rows.append(pd.DataFrame({"run_id": run_id, "sample": sample_code, "person_key": st["person_id"],
                                      "ea_code": st["ea_code"], "cls": st["class"], "other_key": st["other_key"],
                                      "evidence": st["evidence"]}))
        statuses = pd.concat(rows, ignore_index=True)
        items = [NewItem("pair", str(r.left_key), str(r.left_ea),
                         {"census_key": r.right_key, "weight": round(float(r.weight), 3),
                          "posterior": round(float(r.posterior), 4), "levels": json.loads(r.levels)})
                 for r in pairs[pairs["status"] == "possible"].itertuples(index=False)]
        unresolved = e_status[e_status["class"] == "unresolved"]
        items += [NewItem("followup", str(r.person_id), str(r.ea_code), json.loads(r.evidence))
                  for r in unresolved.itertuples(index=False)]
        say(f"storing {len(pairs):,} pairs, {len(statuses):,} sample statuses, {len(items):,} review items")
        with engine.begin() as conn:
            insert_rows(conn, LinkPair, pairs)
            insert_rows(conn, SampleStatus, statuses)
            n_items = add_items(conn, run_id, items)
        ms = model_summary(res, b)
        summary = PesLinkSummary(
            run_id, sample.id, search_area, len(pes), len(census), len(cand), int((status == "match").sum()),
            int((status == "possible").sum()), p_status["class"].value_counts().to_dict(),
            e_status["class"].value_counts().to_dict(), dup_run, n_reviewed, n_items, ms["upper"], ms["lower"],
            round(time.perf_counter() - t0, 2))
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted or failed; this run's results are incomplete, run again"},
                   "failed")
        raise
    finish_run(engine, run_id, {**summary.to_dict(), "model": ms})
    ledger_append(engine, operator=operator, command="link pes", params={**params, "run_id": run_id}, inputs=inputs,
                  result={k: v for k, v in summary.to_dict().items() if k not in ("seconds", "upper", "lower")}
                  | {"threshold_posterior": ms["upper"]["posterior_min"],
                     "possible_posterior": ms["lower"]["posterior_min"]})
    return summary
