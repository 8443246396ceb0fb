"""The enumerators report for the supervision team: which enumerators' work carries more
consistency-check flags (and, from the PES, more omissions) than chance alone would give, as a
funnel plot and the follow-up list of those above the upper control limits.

Every figure is the engine's own accountability result (:func:`flag_figures` and
:func:`omission_figures` of :mod:`audit_engine.accountability.figures`), never recomputed here,
so the report agrees to the digit with ``census-audit accountability --json``. The only things
this module adds are context for the follow-up list (the EAs and townships where an enumerator
recorded persons) and the limit curves drawn on a grid of sizes for the chart.

Aggregates only: staff codes, EA and township codes and names, counts and rates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from audit_engine.accountability.figures import NoData, flag_figures, omission_figures
from audit_engine.store.models import Person, Run
from audit_engine.store.runs import latest_run
from reports import charts
from reports.common import township_names
from reports.i18n import Translator

TEMPLATE = "enumerators.html.j2"
#: outlier label (as the engine stores it) -> figure-key suffix and message key
LABELS: dict[str, str] = {"above 99.8%": "above_99_8", "above 95%": "above_95", "below 95%": "below_95",
                          "below 99.8%": "below_99_8", "": "within"}
#: share of units expected above the upper 95 % and 99.8 % limits by chance alone (one side)
CHANCE = {"above_95": 0.025, "above_99_8": 0.001}
TOWNSHIP_DIGITS = 9


def is_above(label: str | None) -> bool:
    """A unit on the follow-up list: above the upper 95 % limit (and so perhaps 99.8 %)."""
    return bool(label) and str(label).startswith("above")


def _check_run(engine: Engine, run_id: int | None) -> int:
    from reports.issue import ReportError

    if run_id is None:
        run_id = latest_run(engine, "check", "census")
        if run_id is None:
            raise ReportError("no finished census check run: run `census-audit check` first")
        return run_id
    with engine.connect() as conn:
        row = conn.execute(select(Run.kind, Run.status).where(Run.id == run_id)).first()
    if row is None or row.kind != "check" or row.status != "done":
        raise ReportError(f"run {run_id} is not a finished check run: run `census-audit check` first, "
                          "or name one with --run")
    return run_id


def _areas(engine: Engine) -> dict[str, list[str]]:
    """Enumerator -> the EA codes where they recorded census persons (sorted)."""
    with engine.connect() as conn:
        rows = conn.execute(select(Person.enumerator_id, Person.ea_code).distinct()
                            .where(Person.source == "census", Person.enumerator_id.is_not(None))).all()
    out: dict[str, set[str]] = {}
    for enumerator, ea in rows:
        out.setdefault(str(enumerator), set()).add(str(ea))
    return {k: sorted(v) for k, v in out.items()}


_ORDER = {"above 99.8%": 0, "above 95%": 1, "": 2, "below 95%": 3, "below 99.8%": 4}


def _by_confirmed(row: dict[str, Any]) -> tuple:
    """Worst first by confirmed-error rate, as the flag tables are by flag rate; undecided last."""
    rate = row["confirmed_rate"]
    return (_ORDER.get(row["confirmed_outlier"], 2) if rate is not None else 5, -(rate or 0.0), row["unit"])


def _legend(ct: Translator) -> dict[str, str]:
    return {k: ct(f"enumerators.legend_{k}") for k in ("l95", "l998", "p0", "unit", "watch", "follow")}


def gather(engine: Engine, lang: str, run_id: int | None = None) -> dict[str, Any]:
    """The enumerators report's context: flag figures by enumerator and supervisor from the
    census check run (default the newest), PES omissions by enumerator when a link pes run exists."""
    run_id = _check_run(engine, run_id)
    from reports.issue import ReportError

    enumerators = flag_figures(engine, "enumerator", run_id)
    if not enumerators.rows:
        raise ReportError(f"check run {run_id}: no census person carries an enumerator id; load census persons "
                          "with enumerator_id (`census-audit load`) and run `census-audit check` first")
    supervisors = flag_figures(engine, "supervisor", run_id)
    towns = township_names(engine)
    areas = _areas(engine)
    try:
        pes = omission_figures(engine, "enumerator")
    except NoData:
        pes = None
    pes_label = {r["unit"]: r["outlier"] for r in pes.rows} if pes else {}
    sep = "、" if lang == "zh" else ", "

    staff_count: dict[str, int] = {}
    rows = []
    for r in enumerators.rows:
        eas = areas.get(r["unit"], [])
        codes = sorted({ea[:TOWNSHIP_DIGITS] for ea in eas})
        rows.append({**r, "eas": len(eas), "township": sep.join(towns.get(c, c) for c in codes) or "—",
                     "key": LABELS[r["outlier"]], "pes_outlier": pes_label.get(r["unit"], None)})
        if r["supervisor"] is not None:
            staff_count[r["supervisor"]] = staff_count.get(r["supervisor"], 0) + 1
    sup_rows = [{**r, "enumerators": staff_count.get(r["unit"], 0), "key": LABELS[r["outlier"]]}
                for r in supervisors.rows]
    overall = enumerators.overall
    clang = charts.chart_lang(lang)
    ct = Translator(clang)
    chart = {"flags": charts.funnel(
        "enum-flags", [r["unit"] for r in rows], [r["persons"] for r in rows], [r["flagged"] for r in rows],
        [r["outlier"] for r in rows], overall["flag_rate"], title=ct("enumerators.chart_flags"),
        xlabel=ct("enumerators.chart_persons"), ylabel=ct("enumerators.chart_flag_rate"), legend=_legend(ct),
        lang=clang)}
    pes_ctx = None
    if pes is not None:
        pes_rows = [{**r, "key": LABELS[r["outlier"]], "flag_outlier": next(
            (e["outlier"] for e in rows if e["unit"] == r["unit"]), None)} for r in pes.rows]
        pes_ctx = {"run_id": pes.run_id, "overall": pes.overall, "rows": pes_rows,
                   "outliers": [r for r in pes_rows if is_above(r["outlier"])]}
        if pes.overall["omission_rate"] is not None and pes_rows:
            chart["pes"] = charts.funnel(
                "enum-pes", [r["unit"] for r in pes_rows], [r["p_persons"] for r in pes_rows],
                [r["omitted"] for r in pes_rows], [r["outlier"] for r in pes_rows], pes.overall["omission_rate"],
                title=ct("enumerators.chart_pes"), xlabel=ct("enumerators.chart_p_persons"),
                ylabel=ct("enumerators.chart_omission_rate"), legend=_legend(ct), lang=clang)
    runs: dict[str, int | None] = {"check": run_id}
    if pes is not None:
        runs["link_pes"] = pes.run_id
    return {
        "runs": runs, "check_run": run_id, "overall": overall,
        "outlier_counts": {LABELS[k]: v for k, v in overall["outliers"].items()},
        "rows": rows, "outliers": [r for r in rows if is_above(r["outlier"])],
        "decided_rows": sorted([r for r in rows if r["decided"] or r["revisit"]], key=_by_confirmed),
        "supervisors": sup_rows, "pes": pes_ctx, "charts": chart,
        "chance": {k: overall["units"] * share for k, share in CHANCE.items()},
    }
