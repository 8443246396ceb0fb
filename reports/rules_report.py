"""The rules report for the supervision team: what the consistency check found and where.

Four parts, each from the store as it stands:

* failures per rule (records checked, failures, failure rate, severity) and the rules that fail
  most, from the check run's stored per-rule counts (``runs.summary.per_rule``), so the report
  agrees with ``census-audit check --json`` to the digit;
* flag rates by township with binomial funnel limits, from
  :func:`audit_engine.accountability.figures.flag_figures` for the same run;
* data-quality indices of reported ages and sexes (Whipple, Myers, sex ratio, UN age-sex
  accuracy index), census overall and by township beside the PES, from
  :func:`rules.quality.quality_indices`;
* age-sex pyramids of the census and the PES (shares by five-year group), computed here from
  the ages and sexes :func:`rules.quality.read_persons` reads.

The last two are computed at issue time, not stored by a run: the report says so and the
ledger head printed in its footer pins the state of the store they describe.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from audit_engine.accountability.figures import NoData, flag_figures
from audit_engine.store.models import Run
from audit_engine.store.runs import latest_run
from reports import charts
from reports.common import run_summary, township_names
from reports.i18n import Translator
from rules import indices
from rules.quality import quality_indices, read_persons

TEMPLATE = "rules.html.j2"
SEVERITIES = ("error", "warning", "info")
SEVERITY_COLOURS = {"error": charts.RED, "warning": charts.ORANGE, "info": charts.GREY}
#: rule families by the first letter of the id, in the order of the bundled rule set
FAMILIES = ("V", "I", "D", "R", "M", "F", "E", "W", "G", "X", "H")
TOP_RULES = 15
#: the indices shown, with the digits they are printed to
INDICES = (("whipple", 1), ("whipple_digit0", 1), ("myers", 1), ("sex_ratio", 1), ("un_age_sex_accuracy", 1))
#: five-year age groups of the pyramid: 0-4 ... 80-84, 85+
AGE_WIDTH, AGE_TOP = 5, 85
AGE_GROUPS = tuple(f"{a}-{a + AGE_WIDTH - 1}" for a in range(0, AGE_TOP, AGE_WIDTH)) + (f"{AGE_TOP}+",)
#: UN Manual II classes of Whipple's W(0,5): upper bound (exclusive) -> class
WHIPPLE_CLASSES = ((105.0, "highly_accurate"), (110.0, "fairly_accurate"), (125.0, "approximate"),
                   (175.0, "rough"), (float("inf"), "very_rough"))
#: UN classes of the joint age-sex accuracy index
UN_CLASSES = ((20.0, "accurate"), (40.0, "inaccurate"), (float("inf"), "highly_inaccurate"))


def whipple_class(value: float | None) -> str | None:
    """The UN class of a Whipple index W(0,5), or None when it was not computed."""
    if value is None:
        return None
    return next(name for bound, name in WHIPPLE_CLASSES if value < bound)


def un_class(value: float | None) -> str | None:
    """The UN class of an age-sex accuracy score, or None when it was not computed."""
    if value is None:
        return None
    return next(name for bound, name in UN_CLASSES if value < bound)


def _descriptions(params: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Rule id -> {zh, en} description from the bundled rule set, but only when it is the set
    the run checked (same name and content hash): a description of another version of a rule
    would misstate what was tested, so then the report shows bare rule ids."""
    from rules.ruleset import load_ruleset

    ruleset = load_ruleset()
    if ruleset.name != params.get("ruleset") or ruleset.content_hash != params.get("ruleset_hash"):
        return {}
    return {r.id: dict(r.description) for r in ruleset.rules}


def _rules(per_rule: list[dict[str, Any]], descriptions: dict[str, dict[str, str]], lang: str) -> list[dict[str, Any]]:
    """Per-rule rows: checked = passes + fails (the rule applied), rate = fails / checked."""
    total_fails = sum(r["fails"] for r in per_rule)
    rows = []
    for r in per_rule:
        checked = r["passes"] + r["fails"]
        desc = descriptions.get(r["id"])
        rows.append({"id": r["id"], "severity": r["severity"], "scope": r["scope"], "records": r["items"],
                     "na": r["na"], "checked": checked, "fails": r["fails"],
                     "rate": r["fails"] / checked if checked else None,
                     "share": r["fails"] / total_fails if total_fails else None,
                     "description": desc[lang] if desc else None, "descriptions": desc,
                     "family": r["id"][:1] if r["id"][:1] in FAMILIES else "other"})
    return rows


def _families(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules grouped by family (id letter) in rule-set order, for the per-rule table."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["family"], []).append(r)
    return [{"family": f, "rules": rs} for f, rs in out.items()]


def _top(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules with most failures (rate, then id, breaks ties): at most TOP_RULES, only failing ones."""
    failing = [r for r in rows if r["fails"] > 0]
    return sorted(failing, key=lambda r: (-r["fails"], -(r["rate"] or 0.0), r["id"]))[:TOP_RULES]


def _short(text: str, n: int = 26) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _index_row(summary: dict[str, Any]) -> dict[str, Any]:
    """One source's or group's indices: value (None when not computed) and the reason why not."""
    row: dict[str, Any] = {"persons": summary["persons"]}
    for name, _ in INDICES:
        entry = summary.get(name) or {}
        row[name] = entry.get("value")
        row[f"{name}_reason"] = entry.get("reason")
    row["whipple_class"] = whipple_class(row["whipple"])
    row["un_class"] = un_class(row["un_age_sex_accuracy"])
    return row


def pyramid_shares(engine: Engine, source: str) -> dict[str, Any]:
    """Shares of persons by five-year age group and sex, of the persons of ``source`` with both
    a valid age and a valid sex (the indices' own cleaning: whole ages >= 0, sex '1' / '2')."""
    df = read_persons(engine, source)
    ages, age_ok = indices.clean_ages(df["age"].to_numpy())
    sexes, sex_ok = indices.clean_sexes(df["sex"].to_numpy())
    ok = age_ok & sex_ok
    group = np.minimum(ages[ok] // AGE_WIDTH, len(AGE_GROUPS) - 1)
    used = int(ok.sum())
    out: dict[str, Any] = {"persons": int(len(df)), "used": used, "groups": []}
    for sex_code, name in ((indices.MALE, "male"), (indices.FEMALE, "female")):
        counts = np.bincount(group[sexes[ok] == sex_code], minlength=len(AGE_GROUPS))
        out[name] = [int(c) / used if used else None for c in counts]
    out["groups"] = list(AGE_GROUPS)
    return out


def _townships(figures, quality: dict[str, Any], towns: dict[str, str]) -> tuple[list[dict], list[dict]]:
    flag_rows = [{**r, "name": towns.get(str(r["unit"]), str(r["unit"]))} for r in figures.rows]
    quality_rows = [{"key": g["key"], "name": towns.get(str(g["key"]), str(g["key"])) if g["key"] else None,
                     **_index_row(g)} for g in quality["groups"]]
    return flag_rows, quality_rows


def _is_census_check(engine: Engine, run_id: int) -> bool:
    """A finished check of the census (a check of the PES, or another kind of run, has no
    township flag rates to show)."""
    with engine.connect() as conn:
        row = conn.execute(select(Run.kind, Run.status, Run.params).where(Run.id == run_id)).first()
    return bool(row) and row.kind == "check" and row.status == "done" and \
        json.loads(row.params or "{}").get("source", "census") == "census"


def gather(engine: Engine, lang: str, run_id: int | None = None) -> dict[str, Any]:
    """The rules report's context: the check run's per-rule counts, township flag rates,
    quality indices and age-sex pyramids."""
    from reports.issue import ReportError

    run_id = run_id if run_id is not None else latest_run(engine, "check", "census")
    if run_id is None:
        raise ReportError("no finished census check run: run `census-audit check` first")
    if not _is_census_check(engine, run_id):
        raise ReportError(f"run {run_id} is not a finished census check run: run `census-audit check` first")
    params, summary = run_summary(engine, run_id)
    if "per_rule" not in summary:
        raise ReportError(f"check run {run_id} predates the stored per-rule counts: run `census-audit check` "
                          "again to record them")
    descriptions = _descriptions(params)
    rules = _rules(summary["per_rule"], descriptions, lang)
    top = _top(rules)
    try:
        figures = flag_figures(engine, "township", run_id)
    except NoData as exc:
        raise ReportError(str(exc)) from exc
    towns = township_names(engine)
    census_q = quality_indices(engine, source="census", by="township")
    pes_q = quality_indices(engine, source="pes")
    township_flags, township_quality = _townships(figures, census_q, towns)
    pyramid = {"census": pyramid_shares(engine, "census"), "pes": pyramid_shares(engine, "pes")}
    sex_ratios = {src: {r["group"]: r["ratio"] for r in (q["overall"]["sex_ratio"].get("by_age") or [])}
                  for src, q in (("census", census_q), ("pes", pes_q))}

    clang = charts.chart_lang(lang)
    ct = Translator(clang)
    chart: dict[str, Any] = {}
    if top:
        width = 24 if clang == "zh" else 38         # a Chinese character is about two Latin letters wide
        labels = [r["id"] + ("  " + _short(r["descriptions"][clang], width) if r["descriptions"] else "")
                  for r in top]
        chart["top"] = charts.hbar("rules-top", labels, [r["fails"] for r in top], title=ct("rules.chart_top"),
                                   xlabel=ct("rules.fails"), lang=clang,
                                   colors=[SEVERITY_COLOURS.get(r["severity"], charts.BLUE) for r in top])
    with_rate = [r for r in township_flags if r["flag_rate"] is not None]
    if with_rate:
        ordered = sorted(with_rate, key=lambda r: (-r["flag_rate"], str(r["unit"])))
        chart["townships"] = charts.hbar(
            "rules-towns", [charts.place(towns.get(str(r["unit"])), str(r["unit"])) for r in ordered],
            [r["flag_rate"] for r in ordered], title=ct("rules.chart_townships"), xlabel=ct("rules.flag_rate"),
            lang=clang, percent=True,
            colors=[charts.RED if str(r["outlier"]).startswith("above") else charts.BLUE for r in ordered])
    if pyramid["census"]["used"]:
        has_pes = bool(pyramid["pes"]["used"])
        chart["pyramid"] = charts.pyramid(
            "rules-pyramid", list(AGE_GROUPS), pyramid["census"]["male"], pyramid["census"]["female"],
            pyramid["pes"]["male"] if has_pes else None, pyramid["pes"]["female"] if has_pes else None,
            title=ct("rules.chart_pyramid"), lang=clang,
            labels={"male": ct("rules.census_male"), "female": ct("rules.census_female"),
                    "reference": ct("rules.pes_outline"), "share": ct("rules.share_of_persons")})

    return {
        "runs": {"check": run_id},
        "ruleset": {"name": params.get("ruleset"), "hash": params.get("ruleset_hash"),
                    "described": bool(descriptions)},
        "area": params.get("area"),
        "summary": {"persons": summary.get("persons"), "households": summary.get("households"),
                    "deaths": summary.get("deaths"), "flags": summary.get("flags"), "rules": len(rules),
                    "rules_failing": sum(1 for r in rules if r["fails"] > 0),
                    "fails": {s: sum(r["fails"] for r in rules if r["severity"] == s) for s in SEVERITIES}},
        "rules": rules, "families": _families(rules), "top": top,
        "townships": {"overall": figures.overall, "rows": township_flags},
        "quality": {"census": _index_row(census_q["overall"]), "pes": _index_row(pes_q["overall"]),
                    "townships": township_quality, "min_persons": census_q["min_persons"]},
        "pyramid": pyramid, "sex_ratios": sex_ratios, "age_groups": list(AGE_GROUPS),
        "indices": [name for name, _ in INDICES], "digits": dict(INDICES), "charts": chart,
    }
