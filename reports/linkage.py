"""The linkage report for supervision: how the PES was matched to the census and how the
census's duplicates were found — the Fellegi–Sunter model (m, u, weights, λ), the match-weight
distribution with the two thresholds, blocking, the outcome counts, and the clerical review's
workload and decisions.

Why this report: the coverage estimate is only as good as the matching behind it. A reviewer
must be able to see which evidence the model trusted (the m/u table), where the thresholds cut
(the histogram), how many pairs each blocking rule contributed (a rule that adds nothing, or
everything, is a warning), and whether the possible matches and follow-ups are being decided.

Every model figure is read from the run summary that ``link pes`` / ``link duplicates`` stored
(:func:`audit_engine.pes.scoring.model_summary`), outcome counts from ``sample_status`` and
``cluster_members``, review figures from ``review_items`` and ``decisions`` — nothing is
re-estimated here.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from audit_engine.review.items import DECISIONS
from audit_engine.store.models import ClusterMember, Decision, ReviewItem, Run, SampleStatus
from audit_engine.store.runs import latest_run
from reports import charts
from reports.common import run_summary
from reports.i18n import Translator, catalogue

TEMPLATE = "linkage.html.j2"
#: sample classes in the order a reader expects them (see SampleStatus)
P_CLASSES = ("matched", "possible", "not_matched", "invalid")
E_CLASSES = ("correct", "duplicate", "born_after", "died_before", "unresolved")
#: review item kinds: which run makes them
PES_KINDS = ("pair", "followup")
DUP_KINDS = ("cluster",)


def pct_digits(value: float | None, significant: int = 3, lowest: int = 2, highest: int = 10) -> int:
    """Decimals for a percentage so that a tiny rate (λ = 0.0000549 %, an estimated false-match
    rate of 10⁻⁹) still shows ``significant`` digits instead of a misleading 0.00 %."""
    if value is None or not math.isfinite(value) or value <= 0:
        return lowest
    return min(highest, max(lowest, significant - 1 - math.floor(math.log10(100 * value))))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")


def _label(t: Translator, prefix: str, raw: str) -> str:
    """A stored English label (comparison, level, blocking key) in the report's language; a
    label the message file does not know is shown as stored rather than failing the report."""
    slug = _slug(raw)
    if f"{prefix}_{slug}" in catalogue("linkage"):
        return t(f"linkage.{prefix}_{slug}")
    m = re.fullmatch(r"within (\d+) (year|month)s?", raw)
    if m and prefix == "lvl":
        return t(f"linkage.lvl_within_{m.group(2)}s", n=m.group(1))
    return raw


def _rule_label(t: Translator, rule: str) -> str:
    return " + ".join(_label(t, "key", part) for part in rule.split("+"))


def _model(summary: dict[str, Any], t: Translator, prefix: str) -> dict[str, Any]:
    """The stored model summary, with labels in the report's language and the digits to show."""
    model = summary.get("model") or {}
    comps = [{"name": c["name"], "label": _label(t, "cmp", c["name"]),
              "levels": [{**lv, "text": _label(t, "lvl", lv["label"])} for lv in c["levels"]]}
             for c in model.get("comparisons", [])]
    bands = [("upper", model.get("upper"))]
    lower = model.get("lower")
    if lower and lower.get("target_fnmr") is not None:       # a run without a possible-match band has one cut
        bands.append(("lower", lower))
    thresholds = [{"band": b, **th, "fmr_digits": pct_digits(th.get("est_fmr")),
                   "fnmr_digits": pct_digits(th.get("est_fnmr"))} for b, th in bands if th]
    candidates = model.get("candidates", summary.get("candidates"))
    blocking = [{**b, "label": _rule_label(t, b["rule"]),
                 "share": (b["new"] / candidates) if candidates else None} for b in model.get("blocking", [])]
    hist = model.get("weight_histogram") or {"edges": [], "counts": []}
    bins = [{"i": i, "low": hist["edges"][i], "high": hist["edges"][i + 1], "count": c}
            for i, c in enumerate(hist["counts"])]
    return {"prefix": prefix, "prior": model.get("prior"), "prior_digits": pct_digits(model.get("prior")),
            "em_iterations": model.get("em_iterations"), "em_converged": model.get("em_converged"),
            "comparisons": comps, "thresholds": thresholds, "blocking": blocking, "candidates": candidates,
            "histogram": hist, "bins": bins}


def _charts(section: dict[str, Any], name: str, clang: str) -> dict[str, Any]:
    ct = Translator(clang)
    lines = []
    colours = {"upper": charts.RED, "lower": charts.ORANGE}
    for th in section["thresholds"]:
        lines.append((th["weight_min"], ct(f"linkage.band_{th['band']}_short"), colours[th["band"]]))
    out = {"histogram": charts.histogram(
        f"lk-{name}-hist", section["histogram"]["edges"], section["histogram"]["counts"],
        title=ct(f"linkage.chart_hist_{name}"), xlabel=ct("linkage.match_weight"), ylabel=ct("linkage.pairs_log"),
        lang=clang, lines=lines)}
    if section["blocking"]:
        out["blocking"] = charts.hbar(
            f"lk-{name}-block", [_rule_label(ct, b["rule"]) for b in section["blocking"]],
            [b["new"] for b in section["blocking"]], title=ct(f"linkage.chart_blocking_{name}"),
            xlabel=ct("linkage.new_pairs"), lang=clang)
    return out


def _counts(engine: Engine, run_id: int) -> dict[str, dict[str, int]]:
    """sample (P/E) -> class -> persons, as stored by the PES run."""
    with engine.connect() as conn:
        rows = conn.execute(select(SampleStatus.sample, SampleStatus.cls, func.count())
                            .where(SampleStatus.run_id == run_id)
                            .group_by(SampleStatus.sample, SampleStatus.cls)).all()
    out: dict[str, dict[str, int]] = {"P": {}, "E": {}}
    for sample, cls, n in rows:
        out.setdefault(sample, {})[cls] = int(n)
    return out


def _class_rows(counts: dict[str, int], order: tuple[str, ...]) -> tuple[list[dict[str, Any]], int]:
    classes = list(order) + sorted(set(counts) - set(order))
    total = sum(counts.values())
    return [{"cls": c, "n": counts.get(c, 0), "share": counts.get(c, 0) / total if total else None}
            for c in classes], total


def _cluster_sizes(engine: Engine, run_id: int) -> list[dict[str, int]]:
    """How many duplicate clusters have 2, 3, … records (a big cluster is a suspect one)."""
    with engine.connect() as conn:
        sizes = conn.execute(select(func.count()).where(ClusterMember.run_id == run_id)
                             .group_by(ClusterMember.cluster)).scalars().all()
    counts = pd.Series(sizes, dtype="int64").value_counts().sort_index()
    return [{"size": int(s), "clusters": int(n)} for s, n in counts.items()]


def _aware(ts: datetime | None) -> datetime | None:
    return None if ts is None else ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _review(engine: Engine, runs: list[tuple[int, tuple[str, ...]]], now: datetime) -> list[dict[str, Any]]:
    """Per review item kind: items created, open, decided, decisions by outcome, the four-eyes
    second decisions and their agreement, and the age of the open backlog in whole days.

    Items carry no creation time of their own: they are made inside their run, so an open
    item's age is the time since its run finished."""
    out = []
    for run_id, kinds in runs:
        with engine.connect() as conn:
            items = pd.DataFrame(conn.execute(select(ReviewItem.id, ReviewItem.kind, ReviewItem.status,
                                                     ReviewItem.decision)
                                              .where(ReviewItem.run_id == run_id)).all(),
                                 columns=["id", "kind", "status", "decision"])
            dec = pd.DataFrame(conn.execute(
                select(Decision.item_id, Decision.stage, Decision.decision, Decision.needs_second)
                .join(ReviewItem, ReviewItem.id == Decision.item_id)
                .where(Decision.item_kind == "review", ReviewItem.run_id == run_id)).all(),
                columns=["item_id", "stage", "decision", "needs_second"])
            finished = _aware(conn.execute(select(Run.finished_at).where(Run.id == run_id)).scalar())
        for kind in kinds:
            it = items[items["kind"] == kind]
            decided = it[it["status"] == "decided"]
            d = dec[dec["item_id"].isin(it["id"])]
            first = d[d["stage"] == "first"].set_index("item_id")
            second = d[d["stage"] == "second"].set_index("item_id")
            both = first.join(second, lsuffix="_1", rsuffix="_2", how="inner")
            agree = int((both["decision_1"] == both["decision_2"]).sum())
            pending = int((first["needs_second"].astype(bool) & ~first.index.isin(second.index)).sum())
            n_open = int((it["status"] == "open").sum())
            outcomes = decided["decision"].value_counts()
            values = list(DECISIONS[kind]) + sorted(set(outcomes.index) - set(DECISIONS[kind]))
            out.append({
                "kind": kind, "run_id": run_id, "created": len(it), "open": n_open, "decided": len(decided),
                "decided_share": len(decided) / len(it) if len(it) else None,
                "outcomes": [{"decision": v, "n": int(outcomes.get(v, 0)),
                              "share": int(outcomes.get(v, 0)) / len(decided) if len(decided) else None}
                             for v in values],
                "checked": len(both), "agree": agree, "agreement": agree / len(both) if len(both) else None,
                "pending_second": pending,
                "backlog_days": int((now - finished).total_seconds() // 86400) if n_open and finished else None,
            })
    return out


def _review_chart(rows: list[dict[str, Any]], clang: str) -> Any:
    """Decided and open items per kind, as stacked horizontal bars."""
    import matplotlib.pyplot as plt
    import numpy as np

    ct = Translator(clang)
    title = ct("linkage.chart_review")
    with plt.rc_context(charts._style(clang)):
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.34 * len(rows)))
        y = np.arange(len(rows))[::-1]
        decided = np.array([r["decided"] for r in rows], float)
        opened = np.array([r["open"] for r in rows], float)
        ax.barh(y, decided, color=charts.GREEN, height=0.6, label=ct("linkage.decided"))
        ax.barh(y, opened, left=decided, color=charts.ORANGE, height=0.6, label=ct("linkage.open"))
        ax.set_yticks(y, [ct(f"linkage.kind_{r['kind']}") for r in rows])
        ax.set_xlabel(ct("linkage.items"))
        ax.set_title(title, loc="left")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False, fontsize=8)
        ax.grid(axis="y", visible=False)
        return charts.to_svg(fig, "lk-review", title)


def _check_run(engine: Engine, run_id: int, kind: str, command: str) -> None:
    from reports.issue import ReportError

    with engine.connect() as conn:
        row = conn.execute(select(Run.kind, Run.status).where(Run.id == run_id)).first()
    if row is None or row.kind != kind or row.status != "done":
        raise ReportError(f"run {run_id} is not a finished {kind} run: run `{command}` first "
                          f"or name one with --{'pes' if kind == 'link pes' else 'duplicates'}-run")


def gather(engine: Engine, lang: str, pes_run: int | None = None,
           duplicates_run: int | None = None) -> dict[str, Any]:
    """The linkage report's context from the stored link runs, sample statuses and review."""
    from reports.issue import ReportError

    t = Translator(lang)
    clang = charts.chart_lang(lang)
    pes_run = pes_run if pes_run is not None else latest_run(engine, "link pes")
    if pes_run is None:
        raise ReportError("no finished PES linkage run: run `census-audit link pes` first")
    _check_run(engine, pes_run, "link pes", "census-audit link pes")
    duplicates_run = duplicates_run if duplicates_run is not None else latest_run(engine, "link duplicates")
    if duplicates_run is not None:
        _check_run(engine, duplicates_run, "link duplicates", "census-audit link duplicates")

    pes_params, pes_summary = run_summary(engine, pes_run)
    pes = _model(pes_summary, t, "pes")
    counts = _counts(engine, pes_run)
    pes["p_rows"], pes["p_total"] = _class_rows(counts.get("P", {}), P_CLASSES)
    pes["e_rows"], pes["e_total"] = _class_rows(counts.get("E", {}), E_CLASSES)
    pes["run_id"] = pes_run
    pes["params"] = pes_params
    pes["outcome"] = {k: pes_summary.get(k) for k in ("pes_persons", "census_search_area", "matches", "possible",
                                                     "review_items", "reviewed_pairs_used")}
    pes["search_area"] = pes_summary.get("search_area") or pes_params.get("search_area")
    chart = {"pes": _charts(pes, "pes", clang)}

    dup = None
    review_runs: list[tuple[int, tuple[str, ...]]] = [(pes_run, PES_KINDS)]
    if duplicates_run is not None:
        _, dup_summary = run_summary(engine, duplicates_run)
        dup = _model(dup_summary, t, "dup")
        dup["run_id"] = duplicates_run
        dup["outcome"] = {k: dup_summary.get(k) for k in ("persons", "pairs", "clusters", "extra_records",
                                                         "weak_clusters", "review_items")}
        dup["cluster_sizes"] = _cluster_sizes(engine, duplicates_run)
        chart["dup"] = _charts(dup, "dup", clang)
        review_runs.append((duplicates_run, DUP_KINDS))

    review = _review(engine, review_runs, datetime.now(UTC))
    total = {k: sum(r[k] for r in review) for k in ("created", "open", "decided", "checked", "agree",
                                                     "pending_second")}
    total["decided_share"] = total["decided"] / total["created"] if total["created"] else None
    total["agreement"] = total["agree"] / total["checked"] if total["checked"] else None
    if total["created"]:
        chart["review"] = _review_chart(review, clang)
    return {
        "runs": {"link_pes": pes_run, **({"link_duplicates": duplicates_run} if duplicates_run is not None else {})},
        "pes": pes, "dup": dup, "review": review, "review_total": total, "charts": chart,
        "pes_dup_run": pes_params.get("duplicates_run"),
    }
