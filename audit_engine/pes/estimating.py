"""``estimate``: dual-system estimation from a PES link run, its review decisions and the
sealed sample's replicate weights; every figure stored and the run recorded in the ledger.

Inputs, all from the store:

* the link run's P-sample statuses (matched / possible / not matched / invalid) and E-sample
  classes (correct / erroneous kinds / unresolved);
* the QC officers' decisions on that run's items: a possible match decided ``match`` counts as
  matched, ``non_match`` as not; a follow-up decides the record's class; a duplicate cluster
  decided ``not_duplicate`` (in the duplicates run the link run used) makes its records correct;
* undecided items are imputed, as a PES does before its follow-up is complete: a possible
  match counts as matched with its posterior probability; an unresolved census record as
  correct with the probability :func:`~audit_engine.coverage.classify.ce_probability` gives;
* the weights and replicate weights of the sealed sample (per EA), the design strata of every
  EA (the frame), and the census counts by stratum and post-stratum
  (:mod:`audit_engine.pes.census_counts`).

A national census lives in the lake, not the store (``lake``): then the census records of the
sample EAs and the census counts are read from its Parquet files, the rest — statuses,
decisions, sample, frame — from the store as always; the figures are the same.

Post-strata: any of ``sex``, ``age`` (groups), ``urban`` (the EA's urban/rural code).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select

from audit_engine.codes import code_list
from audit_engine.coverage.classify import ce_probability
from audit_engine.coverage.dse import (
    AGE_GROUPS,
    CensusCounts,
    CoverageResult,
    ESample,
    PSample,
    PSUReplicates,
    dse,
)
from audit_engine.coverage.dse import post_stratum as make_post_stratum
from audit_engine.ledger import append as ledger_append
from audit_engine.pes import census_counts
from audit_engine.pes.persons import read_persons
from audit_engine.review.items import decisions
from audit_engine.store.models import (
    ClusterMember,
    CoverageEstimate,
    EnumerationArea,
    LinkPair,
    Run,
    SampleStatus,
)
from audit_engine.store.runs import finish_run, latest_run, start_run
from sampling.draw import prepare_frame
from sampling.store import load_sample, read_frame

POST_STRATUM_VARIABLES = ("sex", "age", "urban")
#: which post-stratum variable goes first when post-strata must be collapsed
COLLAPSE_ORDER = ("sex", "urban", "age")


@dataclass
class EstimateSummary:
    run_id: int
    link_run: int
    sample_id: int
    post_strata: list[str]
    collapsed: list[dict]
    overall: dict[str, dict]
    imputed: dict
    rows: int
    seconds: float
    result: CoverageResult | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "result"}


def parse_age_groups(text: str | None) -> tuple[tuple[int, int | None], ...]:
    """``"0-14,15-29,30-44,45-59,60+"`` → ((0, 14), …, (60, None))."""
    if not text:
        return AGE_GROUPS
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            if part.endswith("+"):
                out.append((int(part[:-1]), None))
            else:
                lo, hi = part.split("-")
                out.append((int(lo), int(hi)))
        except ValueError:
            raise ValueError(f"age groups: cannot read {part!r}; write them like 0-14,15-29,60+") from None
    return tuple(out)


def _urban_by_ea(engine: Engine) -> pd.Series:
    urban_codes = set(code_list("urban_rural").extra.get("urban", []))
    with engine.connect() as conn:
        areas = pd.read_sql(select(EnumerationArea.code, EnumerationArea.urban_rural), conn)
    return pd.Series(areas["urban_rural"].isin(urban_codes).to_numpy(), index=areas["code"].astype(str))


def _check_census(counts: census_counts.CensusCells, lake, link_run: int, link_params: dict) -> None:
    """Refuse census counts that cannot be right rather than estimate from them: persons in EAs
    the frame lacks; an empty lake; an empty store when the link run read its census from a
    lake (the census is there, the counts would silently be zero)."""
    if counts.outside_frame:
        raise ValueError(f"{counts.outside_frame:,} census persons are in EAs missing from the frame (load areas.csv)")
    if counts.persons:
        return
    if lake is not None:
        raise ValueError(f"no census persons in the lake {lake} (census-audit lake export, or load the census "
                         "with --engine spark --lake DIR)")
    if link_params.get("census_source") == "lake":
        raise ValueError(f"link run {link_run} read the census from a lake and the store holds no census persons: "
                         "give the same lake (--lake DIR)")


def run_estimate(engine: Engine, operator: str, *, link_run: int | None = None,
                 post_strata: Sequence[str] = POST_STRATUM_VARIABLES, age_groups=AGE_GROUPS,
                 ci_method: str = "beta", collapse: bool = True,
                 lake: str | os.PathLike | None = None) -> EstimateSummary:
    """Estimate coverage from a PES link run (default: the newest); store and ledger the figures.

    ``lake``: the census is in this lake, not in the store (census records of the sample EAs
    and the census counts are read from it; see :mod:`audit_engine.pes.census_counts`).

    ``collapse``: when a post-stratum has no matched P-sample or no E-sample weight in the full
    sample or a replicate (a small county, few EAs per stratum), drop post-stratum variables in
    the order sex, urban, age until every post-stratum is estimable — what the summary reports
    as ``post_strata`` is what was used, and ``collapsed`` says what was tried and why."""
    t0 = time.perf_counter()
    bad = [v for v in post_strata if v not in POST_STRATUM_VARIABLES]
    if bad:
        raise ValueError(f"post-stratum variables are {', '.join(POST_STRATUM_VARIABLES)}; not {', '.join(bad)}")
    link_run = link_run or latest_run(engine, "link pes")
    if link_run is None:
        raise ValueError("no PES link run yet: run `census-audit link pes` first")
    with engine.connect() as conn:
        run = conn.execute(select(Run.kind, Run.status, Run.params).where(Run.id == link_run)).first()
        if run is None or run.kind != "link pes" or run.status != "done":
            raise ValueError(f"run {link_run} is not a finished `link pes` run")
        lp = json.loads(run.params)
        status = pd.read_sql(select(SampleStatus.sample, SampleStatus.person_key, SampleStatus.ea_code,
                                    SampleStatus.cls, SampleStatus.other_key)
                             .where(SampleStatus.run_id == link_run), conn)
        possible = pd.read_sql(select(LinkPair.left_key, LinkPair.posterior).where(
            LinkPair.run_id == link_run, LinkPair.status == "possible"), conn).set_index("left_key")["posterior"]
        dup_run = lp.get("duplicates_run")
        members = (pd.read_sql(select(ClusterMember.person_key, ClusterMember.cluster)
                               .where(ClusterMember.run_id == dup_run), conn)
                   if dup_run else pd.DataFrame(columns=["person_key", "cluster"]))
    sample = load_sample(engine, lp["sample_id"])
    params = {"link_run": link_run, "sample_id": sample.id, "post_strata": list(post_strata),
              "age_groups": [list(g) for g in age_groups], "ci_method": ci_method}
    inputs = {"sample_selection": sample.selection_hash}
    if lake is not None:
        from audit_engine.spark.lake import fingerprint

        params["census_source"] = "lake"
        inputs["census_lake"] = fingerprint(lake, "census")
    run_id = start_run(engine, "estimate", operator, params)
    try:
        dec = decisions(engine, link_run)
        pair_dec = dec[dec["kind"] == "pair"].set_index("subject")["decision"]
        fu_dec = dec[dec["kind"] == "followup"].set_index("subject")["decision"]
        not_dup_clusters: set[int] = set()
        if dup_run:
            cd = decisions(engine, dup_run, "cluster")
            not_dup_clusters = set(cd.loc[cd["decision"] == "not_duplicate", "subject"].astype(int))

        p = status[status["sample"] == "P"].copy()
        p = p[p["cls"] != "invalid"]
        matched = (p["cls"] == "matched").astype(float).to_numpy()
        poss = (p["cls"] == "possible").to_numpy()
        d = pair_dec.reindex(p["person_key"]).to_numpy(dtype=object)
        post = possible.reindex(p["person_key"]).to_numpy(dtype=float)
        matched = np.where(poss & (d == "match"), 1.0, matched)
        matched = np.where(poss & (d == "non_match"), 0.0, matched)
        undecided_poss = poss & pd.isna(d)
        matched = np.where(undecided_poss, np.nan_to_num(post, nan=0.0), matched)

        e = status[status["sample"] == "E"].copy()
        cls = e["cls"].to_numpy(dtype=object).copy()
        fd = fu_dec.reindex(e["person_key"]).to_numpy(dtype=object)
        decided_fu = (cls == "unresolved") & ~pd.isna(fd)
        cls[decided_fu] = fd[decided_fu]
        if not_dup_clusters:
            cl = members.set_index("person_key")["cluster"].reindex(e["person_key"]).to_numpy()
            cls[(cls == "duplicate") & np.isin(cl, list(not_dup_clusters))] = "correct"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # reported in the summary instead
            ce = ce_probability(pd.DataFrame({"class": cls, "classified": e["cls"].to_numpy(dtype=object)}))
        correct = ce.p
        duplicate = (cls == "duplicate").astype(float)

        urban = _urban_by_ea(engine)
        units = sample.units.set_index("unit")
        frame = prepare_frame(read_frame(engine, sample.design), sample.design)
        stratum_of = frame.set_index("ea_code")["stratum"].astype(str)
        sample_eas = units.index.astype(str)
        pp = read_persons(engine, "pes", eas=sample_eas).set_index("person_id").reindex(p["person_key"])
        ep = read_persons(engine, "census", eas=sample_eas, lake=lake).set_index("person_id").reindex(e["person_key"])
        p_ea, e_ea = p["ea_code"].astype(str).to_numpy(), e["ea_code"].astype(str).to_numpy()
        counts = (census_counts.from_store(engine, stratum_of, urban) if lake is None
                  else census_counts.from_lake(lake, stratum_of, urban))
        _check_census(counts, lake, link_run, lp)
        census_cells = counts.cells
        if sample.replicate_weights.size == 0:
            raise ValueError(f"sample {sample.id} has no replicate weights (its design says replicates: none); "
                             "coverage variance needs them: draw a sample with JKn or bootstrap replicates")
        reps = PSUReplicates(units.index.to_numpy(), units["stratum"].to_numpy(), units["weight"].to_numpy(float),
                             sample.replicate_weights, sample.replicate_scale, sample.design.replicates)

        def estimate_with(variables: Sequence[str]) -> CoverageResult:
            use = {"by_sex": "sex" in variables, "by_urban": "urban" in variables}
            groups = age_groups if "age" in variables else ((0, None),)

            def posts(sex, age, is_urban: np.ndarray) -> np.ndarray:
                a = age if "age" in variables else np.zeros(len(is_urban))
                return make_post_stratum(sex, a, is_urban, groups, **use)

            def urban_of(ea: np.ndarray) -> np.ndarray:
                return urban.reindex(ea).fillna(False).to_numpy(bool)

            ps = PSample(units["weight"].reindex(p_ea).to_numpy(float), units["stratum"].reindex(p_ea).to_numpy(),
                         p_ea, posts(pp["sex"].to_numpy(), pp["age"].to_numpy(), urban_of(p_ea)), matched)
            es = ESample(units["weight"].reindex(e_ea).to_numpy(float), units["stratum"].reindex(e_ea).to_numpy(),
                         e_ea, posts(ep["sex"].to_numpy(), ep["age"].to_numpy(), urban_of(e_ea)), correct, duplicate)
            cc = CensusCounts(census_cells["stratum"].to_numpy(dtype=object),
                              posts(census_cells["sex"].to_numpy(), census_cells["age"].to_numpy(),
                                    census_cells["urban"].to_numpy(bool)),
                              census_cells["n"].to_numpy(float))
            return dse(ps, es, cc, reps, ci_method=ci_method)

        used, collapsed = list(post_strata), []
        while True:
            try:
                result = estimate_with(used)
                break
            except ValueError as exc:
                if not (collapse and used and "post-strata with no matched" in str(exc)):
                    raise
                collapsed.append({"post_strata": list(used), "reason": str(exc)})
                used = [v for v in used if v != next(v for v in COLLAPSE_ORDER if v in used)]
        table = result.table()
        if "ci_method" not in table:
            table["ci_method"] = ci_method
        rows = pd.DataFrame({"run_id": run_id, "level": table["level"], "domain": table["domain"].astype(str),
                             "statistic": table["statistic"], "value": table["value"], "se": table["se"],
                             "ci_low": table["ci_low"], "ci_high": table["ci_high"],
                             "ci_method": table["ci_method"], "df": reps.df})
        rows = rows.astype(object).where(rows.notna(), None)    # an undefined interval is stored as NULL
        with engine.begin() as conn:
            conn.execute(insert(CoverageEstimate), rows.to_dict("records"))
        overall = {r.statistic: {"value": r.value, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high}
                   for r in table[table["level"] == "overall"].itertuples(index=False)}
        imputed = {"possible_matches_undecided": int(undecided_poss.sum()),
                   "unresolved_undecided": int((cls == "unresolved").sum()),
                   "ce_probability": None if not (cls == "unresolved").any() else float(np.mean(correct[cls == "unresolved"])),
                   "warnings": ce.warnings}
        summary = EstimateSummary(run_id, link_run, sample.id, used, collapsed, overall, imputed, len(rows),
                                  round(time.perf_counter() - t0, 2), result)
    except BaseException:
        finish_run(engine, run_id, {"error": "failed; no figures of this run are stored"}, "failed")
        raise
    finish_run(engine, run_id, summary.to_dict())
    ledger_append(engine, operator=operator, command="estimate", params={**params, "run_id": run_id},
                  inputs=inputs,
                  result={"overall": overall, "rows": len(rows), "imputed": imputed, "post_strata_used": used})
    return summary
