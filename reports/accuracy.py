"""The accuracy report for leadership: omission, duplication, erroneous enumeration and net
undercount from the newest (or a chosen) ``estimate`` run, with 95 % intervals, by design
stratum and by post-stratum, beside a previous census figure when one is given.

Every figure is read from ``coverage_estimates`` as stored by the estimate run (never
recomputed here), so the report and ``census-audit estimate --json`` agree to the digit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from audit_engine.store.models import CoverageEstimate, Sample, SampleUnit
from audit_engine.store.runs import latest_run
from reports import charts
from reports.common import run_summary, township_names
from reports.i18n import Translator
from sampling.draw import COLLAPSED

TEMPLATE = "accuracy.html.j2"
#: headline order: what leadership reads first
HEADLINE = ("omission", "duplication", "erroneous", "net_undercount")
STATISTICS = ("N", "omission", "duplication", "erroneous", "net_undercount")
PREVIOUS_STATISTICS = HEADLINE


def parse_previous(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``omission=0.12%`` / ``net_undercount=0.0012`` -> {statistic: rate}."""
    out: dict[str, float] = {}
    for item in items:
        stat, sep, value = item.partition("=")
        stat = stat.strip()
        if not sep or stat not in PREVIOUS_STATISTICS:
            raise ValueError(f"--previous {item!r}: write STATISTIC=RATE with STATISTIC one of "
                             f"{', '.join(PREVIOUS_STATISTICS)} (e.g. omission=0.12%)")
        v = value.strip()
        try:
            rate = float(v[:-1]) / 100 if v.endswith("%") else float(v)
        except ValueError as exc:
            raise ValueError(f"--previous {item!r}: {v!r} is not a rate (0.0012 or 0.12%)") from exc
        if not 0 <= rate <= 1:
            raise ValueError(f"--previous {item!r}: a rate lies between 0 and 1 (0% and 100%)")
        out[stat] = rate
    return out


def _figures(engine: Engine, run_id: int) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """level -> domain -> statistic -> {value, se, ci_low, ci_high, ci_method, df}."""
    out: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(CoverageEstimate.__table__).where(CoverageEstimate.run_id == run_id)
                            .order_by(CoverageEstimate.id)).all()
        for r in rows:
            out.setdefault(r.level, {}).setdefault(r.domain, {})[r.statistic] = {
                "value": r.value, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high, "ci_method": r.ci_method,
                "df": r.df}
    return out


def _stratum_label(domain: str, towns: dict[str, str], t: Translator) -> str:
    parts = domain.split("|")
    words = []
    for p in parts:
        if p == "":
            continue
        if p == COLLAPSED:  # the sampler merged this part (a stratum too small to split)
            words.append(t("accuracy.collapsed_part"))
            continue
        if p in towns:
            words.append(towns[p])
        elif p in ("urban", "rural"):
            words.append(t(f"accuracy.{p}"))
        else:
            words.append(p)
    return " · ".join(words)


def _post_stratum_label(domain: str, post_strata: list[str], t: Translator) -> str:
    words = []
    for var, value in zip(post_strata, domain.split("|"), strict=False):
        if var == "sex":
            words.append(t("common.male") if value == "1" else t("common.female") if value == "2" else value)
        elif var == "urban":
            words.append(t("accuracy.urban") if value == "U" else t("accuracy.rural") if value == "R" else value)
        elif var == "age":
            words.append(t("accuracy.age_group", group=value))
        else:
            words.append(value)
    return " · ".join(words)


def _rows(level: dict[str, dict[str, dict[str, Any]]], label) -> list[dict[str, Any]]:
    return [{"domain": d, "label": label(d), **{s: stats.get(s) for s in STATISTICS}} for d, stats in level.items()]


def _sample(engine: Engine, sample_id: int | None) -> dict[str, Any]:
    if sample_id is None:
        return {}
    with engine.connect() as conn:
        s = conn.execute(select(Sample.name, Sample.units, Sample.seed, Sample.selection_hash)
                         .where(Sample.id == sample_id)).first()
        strata = conn.execute(select(func.count(func.distinct(SampleUnit.stratum)))
                              .where(SampleUnit.sample_id == sample_id)).scalar_one()
    return {"name": s.name, "units": s.units, "seed": s.seed, "selection_hash": s.selection_hash,
            "strata": strata} if s else {}


def _hotspots(engine: Engine, towns: dict[str, str]) -> dict[str, Any] | None:
    """Register vs PES by village (audit_engine.register.hotspots): the villages both sources
    cover, and the register's ten worst villages outside the PES sample; None without a
    ``link register`` run."""
    from audit_engine.register.hotspots import hotspots

    h = hotspots(engine)
    if h is None:
        return None

    def clean(r: dict) -> dict:
        out = {k: (None if isinstance(v, float) and v != v else v.item() if hasattr(v, "item") else v)
               for k, v in r.items()}
        out["township_name"] = towns.get(out["township"], out["township"])
        return out

    rows = [clean(r) for r in h.villages.to_dict("records")]
    both = [r for r in rows if r["pes_eas"] > 0 and r["registered"] > 0]
    outside = [r for r in rows if r["pes_eas"] == 0 and r["registered"] > 0][:10]
    return {"both": both, "outside": outside, "agreement": h.agreement, "register_run": h.register_run,
            "link_run": h.link_run, "villages": len(rows)}


def gather(engine: Engine, lang: str, run_id: int | None = None, previous: dict[str, float] | None = None,
           previous_label: str | None = None) -> dict[str, Any]:
    """The accuracy report's context from the stored estimate run."""
    from reports.issue import ReportError

    t = Translator(lang)
    run_id = run_id if run_id is not None else latest_run(engine, "estimate")
    if run_id is None:
        raise ReportError("no finished estimate run: run `census-audit estimate` first")
    params, summary = run_summary(engine, run_id)
    figures = _figures(engine, run_id)
    if "overall" not in figures:
        raise ReportError(f"estimate run {run_id} stored no figures")
    overall = figures["overall"]["all"]
    towns = township_names(engine)
    post_strata = list(params.get("post_strata") or summary.get("post_strata") or [])
    strata = _rows(figures.get("stratum", {}), lambda d: _stratum_label(d, towns, t))
    posts = _rows(figures.get("post_stratum", {}), lambda d: _post_stratum_label(d, post_strata, t))
    previous = previous or {}
    clang = charts.chart_lang(lang)
    ct = Translator(clang)
    chart = {}
    chart_towns = {c: charts.place(n, c) for c, n in towns.items()}
    for name, rows, title_key in (("strata", strata, "chart_strata"), ("post", posts, "chart_post")):
        with_rate = [r for r in rows if r["omission"] is not None]
        if with_rate:
            label = (lambda d: _stratum_label(d, chart_towns, ct)) if name == "strata" else (
                lambda d: _post_stratum_label(d, post_strata, ct))
            chart[name] = charts.ci_dotplot(
                f"acc-{name}", [label(r["domain"]) for r in with_rate], [r["omission"]["value"] for r in with_rate],
                [r["omission"]["ci_low"] for r in with_rate], [r["omission"]["ci_high"] for r in with_rate],
                title=ct(f"accuracy.{title_key}"), xlabel=ct("accuracy.omission_rate"), lang=clang,
                reference=overall["omission"]["value"], reference_label=ct("accuracy.overall_rate"))
    headline = [{"statistic": s, **overall[s], "previous": previous.get(s)} for s in HEADLINE if s in overall]
    if previous:
        chart["previous"] = charts.hbar(
            "acc-prev", [ct(f"accuracy.stat_{s}") + " · " + ct("accuracy.this_census") for s in previous] +
            [ct(f"accuracy.stat_{s}") + " · " + (previous_label or ct("accuracy.previous")) for s in previous],
            [overall[s]["value"] for s in previous] + [previous[s] for s in previous],
            title=ct("accuracy.chart_previous"), xlabel=ct("accuracy.rate"), lang=clang, percent=True,
            colors=[charts.BLUE] * len(previous) + [charts.GREY] * len(previous))
    hot = _hotspots(engine, towns)
    runs = {"estimate": run_id, "link_pes": params.get("link_run")}
    if hot:
        runs["link_register"] = hot["register_run"]
    return {
        "runs": runs, "hotspots": hot,
        "sample_id": params.get("sample_id"),
        "sample": _sample(engine, params.get("sample_id")),
        "overall": overall, "headline": headline, "strata": strata, "post_strata": posts,
        "post_strata_vars": post_strata, "age_groups": params.get("age_groups") or [],
        "ci_method": params.get("ci_method") or overall["omission"]["ci_method"],
        "collapsed": summary.get("collapsed") or [], "imputed": summary.get("imputed") or {},
        "previous": previous, "previous_label": previous_label, "charts": chart,
    }
