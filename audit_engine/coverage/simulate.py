"""Coverage estimation on a synthetic county with known truth: the evaluation behind
``benchmarks/sim_coverage.py`` and ``tests/test_coverage.py``.

:func:`study` (many draws of the design on one county): matching comes from the generator's truth
(a PES person is matched iff its true person has a census record), so it measures the estimator
and its variance alone, not the linkage.

:func:`linkage_seed` (one county per seed, one draw): the P-sample is matched by the linkage
engine (:func:`audit_engine.linkage.link` with :func:`~audit_engine.linkage.census.pes_census_settings`)
against the census persons of the search area, the townships of the sample EAs; the E-sample's
correct / duplicate flags come from the truth (``e_sample="truth"``, standing for the field
follow-up of the census records the PES did not match) or, with ``e_sample="engine"``, from
production's classification (:func:`engine_e_sample`: whole-census duplicate linkage, clusters,
:func:`~audit_engine.coverage.classify.classify_e_sample`), only the records it leaves
unresolved taking their outcome from the truth (a simulated field follow-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit_engine.codes import code_list
from audit_engine.coverage.dse import (
    CI_METHODS,
    CensusCounts,
    CoverageResult,
    ESample,
    PSample,
    PSUReplicates,
    dse,
    post_stratum,
)
from sampling.design import Design
from sampling.draw import draw, prepare_frame

RECORD_ERRORS = ("duplicate", "died_before", "born_after", "fictitious")


@dataclass
class County:
    """The synthetic county, reduced to what the DSE needs (one row per census record / PES
    person), plus the true values of the estimated quantities."""

    frame: pd.DataFrame
    census: pd.DataFrame  # ea_code, post_stratum, correct, duplicate
    pes: pd.DataFrame     # ea_code, post_stratum, matched (valid persons only)
    truth: dict[str, float]


def load_county(folder: Path, design: Design) -> County:
    frame = pd.read_csv(folder / "areas.csv", dtype=str)
    urban_codes = set(code_list("urban_rural").extra.get("urban", []))
    urban = frame.set_index("ea_code")["urban_rural"].isin(urban_codes)
    stratum = prepare_frame(frame, design).set_index("ea_code")["stratum"]
    records = pd.read_csv(folder / "truth" / "records.csv", dtype=str, keep_default_na=False)
    kind = records["errors"].str.split(";").str[0]
    records = records.assign(kind=np.where(kind.isin(RECORD_ERRORS), kind, ""))
    persons = pd.read_csv(folder / "truth" / "persons.csv", dtype={"true_person_id": str, "status": str},
                          usecols=["true_person_id", "status", "census_records"]).set_index("true_person_id")

    def read(source: str) -> pd.DataFrame:
        d = pd.read_csv(folder / source / "persons.csv", dtype={"person_id": str, "ea_code": str},
                        usecols=["person_id", "ea_code", "sex", "age"])
        d = d.merge(records[records["source"] == source][["person_id", "true_person_id", "kind"]], on="person_id")
        d["post_stratum"] = post_stratum(d["sex"], d["age"], urban.reindex(d["ea_code"]).to_numpy())
        d["stratum"] = stratum.reindex(d["ea_code"]).to_numpy()
        return d

    census = read("census")
    census["correct"] = census["kind"] == ""
    census["duplicate"] = census["kind"] == "duplicate"
    pes = read("pes")
    status = persons["status"].reindex(pes["true_person_id"]).to_numpy()
    pes = pes[(status == "resident") & (pes["kind"] == "")].copy()
    pes["matched"] = persons["census_records"].reindex(pes["true_person_id"]).to_numpy() > 0
    residents = persons[persons["status"] == "resident"]
    truth = {
        "N": float(len(residents)),
        "omission": float((residents["census_records"] == 0).mean()),
        "erroneous": float((~census["correct"]).mean()),
        "duplication": float(census["duplicate"].mean()),
    }
    truth["net_undercount"] = (truth["N"] - len(census)) / truth["N"]
    return County(frame, census, pes, truth)


def _samples(c: County, drawn, matched: np.ndarray | None = None,
             e_flags: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[PSample, ESample, CensusCounts,
                                                                             PSUReplicates]:
    """The DSE inputs of one draw; ``matched`` (per P-sample person of the draw, in ``c.pes``
    order) replaces the truth's match status, ``e_flags`` (correct, duplicate per E-sample
    record of the draw, in ``c.census`` order) the truth's E-sample flags."""
    reps = PSUReplicates.from_drawn(drawn)
    w = drawn.units.set_index("psu")["weight"]
    st = drawn.units.set_index("psu")["stratum"]
    p = c.pes[c.pes["ea_code"].isin(w.index)]
    e = c.census[c.census["ea_code"].isin(w.index)]
    m = p["matched"].to_numpy() if matched is None else np.asarray(matched)
    ps = PSample(w.reindex(p["ea_code"]).to_numpy(), st.reindex(p["ea_code"]).to_numpy(), p["ea_code"].to_numpy(),
                 p["post_stratum"].to_numpy(), m)
    correct, duplicate = (e["correct"].to_numpy(), e["duplicate"].to_numpy()) if e_flags is None else \
        (np.asarray(e_flags[0], dtype=bool), np.asarray(e_flags[1], dtype=bool))
    es = ESample(w.reindex(e["ea_code"]).to_numpy(), st.reindex(e["ea_code"]).to_numpy(), e["ea_code"].to_numpy(),
                 e["post_stratum"].to_numpy(), correct, duplicate)
    cc = CensusCounts(c.census["stratum"].to_numpy(), c.census["post_stratum"].to_numpy(),
                      np.ones(len(c.census)))
    return ps, es, cc, reps


def one_draw(c: County, design: Design, seed: int, ci_method: str = "beta"):
    """Draw the design with ``seed`` and estimate: a :class:`CoverageResult` and the draw."""
    drawn = draw(design, c.frame, seed)
    return dse(*_samples(c, drawn), ci_method=ci_method), drawn


def _rows(res: CoverageResult, truth: dict[str, float], methods, **extra) -> list[dict]:
    """One dict per statistic: value, se, truth and per interval method m ``lo_m``, ``hi_m``,
    ``covered_m``; ``ci_low`` / ``ci_high`` / ``covered`` are the result's own ``ci_method``."""
    rows = []
    for stat, e in res.overall.items():
        t = truth[stat]
        r = dict(extra, statistic=stat, value=e.value, se=e.se, truth=t)
        for m in dict.fromkeys((res.ci_method, *methods)):
            lo, hi = res.ci(stat, method=m)
            r[f"lo_{m}"], r[f"hi_{m}"], r[f"covered_{m}"] = lo, hi, bool(lo <= t <= hi)
        r["ci_low"], r["ci_high"], r["covered"] = r[f"lo_{res.ci_method}"], r[f"hi_{res.ci_method}"], \
            r[f"covered_{res.ci_method}"]
        rows.append(r)
    return rows


def study(c: County, design: Design, seeds, ci_method: str = "beta", methods=CI_METHODS) -> pd.DataFrame:
    """One row per (seed, statistic): estimate, se, truth, and the interval and whether it covers
    the truth for ``ci_method`` (``ci_low``, ``ci_high``, ``covered``) and for each of
    ``methods`` (``lo_m``, ``hi_m``, ``covered_m``; N and net undercount: the t interval)."""
    rows = []
    for seed in seeds:
        res, drawn = one_draw(c, design, seed, ci_method)
        rows += _rows(res, c.truth, methods, seed=seed, eas=len(drawn.units))
    return pd.DataFrame(rows)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per statistic: mean truth, mean estimate, bias (mean of estimate - truth, relative to the
    mean truth), empirical SD of the error (estimate - truth; the SD of the estimates when the
    truth is fixed), mean se, intervals covering (``covered`` and each ``covered_m``), runs."""
    g = runs.assign(err=runs["value"] - runs["truth"]).groupby("statistic", sort=False)
    out = pd.DataFrame({
        "truth": g["truth"].mean(),
        "mean_est": g["value"].mean(),
        "bias": g["err"].mean(),
        "emp_sd": g["err"].std(ddof=1),
        "mean_se": g["se"].mean(),
        "covered": g["covered"].sum(),
    })
    for col in runs.columns:
        if col.startswith("covered_"):
            out[col] = g[col].sum()
    out["draws"] = g.size()
    out["rel_bias"] = out["bias"] / out["truth"]
    return out


#: E-sample modes of :func:`linkage_seed`
E_SAMPLE_MODES = ("truth", "engine")
#: the engine's E-sample classes and the truth's record kinds, as counted in the confusion summary
ENGINE_CLASSES = ("correct", "duplicate", "born_after", "died_before", "unresolved")
TRUE_KINDS = ("correct", *RECORD_ERRORS)


def engine_e_sample(folder: Path, c: County, eas: set[str], census: pd.DataFrame, links: pd.DataFrame
                    ) -> tuple[np.ndarray, np.ndarray, dict]:
    """The E-sample's correct / duplicate flags as production's ``link pes`` gets them, plus a
    simulated field follow-up of the records it leaves unresolved.

    ``census``: every census person of the county (``census/persons.csv``); ``links``: the PES
    links (:func:`~audit_engine.coverage.classify.key_links`). Whole-census duplicate linkage
    (``dedupe(person_keys(census), duplicate_settings())``, matches = ``linked``), clusters and
    :func:`~audit_engine.linkage.clusters.choose_kept` (PES-matched census records kept), then
    :func:`~audit_engine.coverage.classify.classify_e_sample` on the census records of the sample
    EAs with the PES links and the deaths the census households reported in those EAs. Each
    unresolved record gets its true outcome (no record-level error → ``correct``, else the
    error: duplicate / died_before / born_after / fictitious) through
    :func:`~audit_engine.coverage.classify.resolve`; correct = class ``correct``, duplicate =
    class ``duplicate``.

    Returns the two flags per E-sample record in ``c.census`` order and a dict: ``followups``
    (unresolved records), ``e_records``, ``dup_pairs``, ``dup_clusters``, ``dedupe_seconds``,
    per (engine class, true kind) the count ``conf_<class>_<kind>``, and ``final_wrong_correct``
    / ``final_wrong_duplicate`` (records whose final flag differs from the truth's).
    """
    import time

    from audit_engine.coverage.classify import classify_e_sample, resolve
    from audit_engine.linkage import dedupe
    from audit_engine.linkage.census import duplicate_settings, person_keys
    from audit_engine.linkage.clusters import choose_kept, clusters

    t = time.perf_counter()
    dres = dedupe(person_keys(census), duplicate_settings())
    dup = dres.links()
    dedupe_seconds = time.perf_counter() - t
    cl = clusters(len(census), dup["left"], dup["right"], dup["weight"])
    kept = choose_kept(cl, census, matched_to_pes=set(links["census_key"]))
    deaths = pd.read_csv(folder / "census" / "deaths.csv", dtype=str, keep_default_na=False).replace("", None)
    deaths = deaths[deaths["ea_code"].isin(eas)].reset_index(drop=True)
    records = census[census["ea_code"].isin(eas)].reset_index(drop=True)
    cls = classify_e_sample(records, links, kept.members, deaths)
    kind = c.census.set_index("person_id")["kind"].reindex(cls["person_id"]).to_numpy(dtype=object)
    if pd.isna(kind).any():
        raise ValueError(f"{int(pd.isna(kind).sum())} E-sample records without a truth row")
    true_kind = np.where(kind == "", "correct", kind)
    unres = (cls["class"] == "unresolved").to_numpy()
    final = resolve(cls, dict(zip(cls["person_id"][unres], true_kind[unres], strict=True)))
    by_id = final.set_index("person_id")["class"]
    e = c.census[c.census["ea_code"].isin(eas)]
    final_cls = by_id.reindex(e["person_id"]).to_numpy(dtype=object)
    correct, duplicate = final_cls == "correct", final_cls == "duplicate"
    first = cls["classified"].to_numpy(dtype=object)
    info = dict(e_records=len(cls), followups=int(unres.sum()), dup_pairs=len(dup), dup_clusters=cl.n_clusters,
                dedupe_seconds=dedupe_seconds,
                final_wrong_correct=int((correct != e["correct"].to_numpy()).sum()),
                final_wrong_duplicate=int((duplicate != e["duplicate"].to_numpy()).sum()))
    for a in ENGINE_CLASSES:
        for b in TRUE_KINDS:
            info[f"conf_{a}_{b}"] = int(((first == a) & (true_kind == b)).sum())
    return correct, duplicate, info


def linkage_seed(folder: Path, design: Design, seed: int, ci_method: str = "beta",
                 methods=CI_METHODS, e_sample: str = "truth") -> tuple[list[dict], dict]:
    """One synthetic county (in ``folder``) and one draw of ``design`` with ``seed``; the
    P-sample's match status from the linkage engine.

    P-sample: the valid PES persons (true status ``resident``, no record-level error) in the
    sample EAs, linked one-to-one against the census persons of the search area — every census
    person in the townships of the sample EAs (``township_code`` of ``areas.csv``, the first 9
    characters of the EA code); matched = linked. E-sample: every census record in the sample
    EAs, ``correct`` / ``duplicate`` from the truth (standing for the field follow-up of the
    census records the PES did not match) with ``e_sample="truth"``; with ``"engine"`` from
    :func:`engine_e_sample` (production's classification, the unresolved records followed up
    with their true outcome). Returns the rows of :func:`_rows` (``ci_method`` and ``methods``)
    with ``seed`` and a dict of linkage scores and sizes (with ``"engine"`` also
    :func:`engine_e_sample`'s counts); the rows also carry the truth-matched estimate
    (``value_truth_match``: P-sample matched and E-sample flagged by the truth) to separate the
    linkage's error from the sampling's, and with ``"engine"`` ``value_truth_e`` (linkage-matched
    P-sample, truth E-sample flags).
    """
    if e_sample not in E_SAMPLE_MODES:
        raise ValueError(f"e_sample must be one of {E_SAMPLE_MODES}, not {e_sample!r}")
    from audit_engine.linkage import link
    from audit_engine.linkage.census import person_keys, pes_census_settings, truth_scores

    c = load_county(folder, design)
    drawn = draw(design, c.frame, seed)
    eas = set(drawn.units["psu"])
    towns = set(c.frame.set_index("ea_code")["township_code"].reindex(sorted(eas)))
    in_town = c.frame.loc[c.frame["township_code"].isin(towns), "ea_code"]
    cen_all = pd.read_csv(folder / "census" / "persons.csv", dtype=str, keep_default_na=False)
    cen = cen_all[cen_all["ea_code"].isin(set(in_town))].reset_index(drop=True)
    pes_all = pd.read_csv(folder / "pes" / "persons.csv", dtype=str, keep_default_na=False)
    p_ids = c.pes.loc[c.pes["ea_code"].isin(eas), "person_id"]
    pes = pes_all.set_index("person_id").loc[p_ids.to_numpy()].reset_index()
    res = link(person_keys(pes), person_keys(cen), pes_census_settings())
    records = pd.read_csv(folder / "truth" / "records.csv", dtype=str, keep_default_na=False)
    sc = truth_scores(res, pes, cen, records)
    linked = np.zeros(len(pes), dtype=bool)
    linked[res.links()["left"].to_numpy()] = True
    e_info: dict = {}
    e_flags = None
    if e_sample == "engine":
        from audit_engine.coverage.classify import key_links

        *e_flags, e_info = engine_e_sample(folder, c, eas, cen_all, key_links(res, pes, cen))
    out = dse(*_samples(c, drawn, linked, e_flags), ci_method=ci_method)
    by_truth = dse(*_samples(c, drawn), ci_method=ci_method)
    truth_e = dse(*_samples(c, drawn, linked), ci_method=ci_method) if e_flags is not None else None
    rows = _rows(out, c.truth, methods, seed=seed, eas=len(eas))
    for r in rows:
        r["value_truth_match"] = by_truth.overall[r["statistic"]].value
        if truth_e is not None:
            r["value_truth_e"] = truth_e.overall[r["statistic"]].value
    info = dict(seed=seed, eas=len(eas), townships=len(towns), townships_county=c.frame["township_code"].nunique(),
                pes_persons=len(pes), census_search=len(cen), precision=sc.precision, recall=sc.recall,
                tp=sc.true_positives, fp=sc.false_positives, fn=sc.false_negatives,
                link_seconds=float(sum(res.seconds.values())), **e_info)
    return rows, info
