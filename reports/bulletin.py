"""The supervision bulletin (督查通报): a short, dated, numbered bulletin for the county (one row
per township) or for one township (one row per EA), for the supervision team and township
leaders. Five sections, each per unit, with totals:

1. enumeration progress against the pre-enumeration listing (the listing reconciliation of
   :mod:`audit_engine.listing` when it has been run; else the ``listing`` table, else the
   listed counts of ``enumeration_areas``, against the census households and persons loaded);
2. flag rates and confirmed-error rates of the newest census check run — the engine's own
   :func:`~audit_engine.accountability.figures.flag_figures`, by township or by EA;
3. register-comparison gaps per class of the newest ``link register`` run
   (:mod:`audit_engine.register`), or a note saying which command to run;
4. the review backlog (open flags and open review items, whole store, as
   :func:`~audit_engine.review.stats.review_statistics` counts them) and its age in days:
   from the finish time of the run that created each flag or item to the bulletin's *as of*
   time (the newest finished run of the store);
5. who and where to follow up: enumerators above the funnel limits, EAs the listing
   reconciliation flagged, EAs with the most registered persons not enumerated.

Numbered per scope and language: 第 N 期 is 1 + the bulletins of that scope and language the
ledger already holds. Aggregates only: codes and names of places, staff codes, counts, rates.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from audit_engine.accountability.figures import flag_figures
from audit_engine.review.stats import review_statistics
from audit_engine.store.models import (
    EnumerationArea,
    Flag,
    Household,
    LedgerEntry,
    ListedHousehold,
    Person,
    ReviewItem,
    Run,
)
from reports import charts
from reports.common import township_names
from reports.enumerators import LABELS, is_above
from reports.i18n import Translator, catalogue

TEMPLATE = "bulletin.html.j2"
TOWNSHIP_DIGITS = 9
#: classes of the register comparison, in the order the bulletin shows them
REGISTER_CLASSES = ("registered_here", "not_enumerated", "registered_elsewhere", "no_registration",
                    "deceased_enumerated", "moved_out", "deceased")
#: EAs listed under "most registered persons not enumerated"
TOP_NOT_ENUMERATED = 10
#: China Standard Time (the census's standard time is Beijing time)
CST = timezone(timedelta(hours=8))
#: the flag-rate chart is drawn only up to this many townships
CHART_MAX_UNITS = 40


# -- adapters to the other engines: None when the engine or its run is missing ------------------


def listing_reconciliation(engine: Engine) -> dict[str, Any] | None:
    """The newest listing reconciliation as ``{"run_id", "rows": [per EA]}`` (rows with ea_code,
    township_code, enumerator_id, households_listed, households_enumerated, persons_listed,
    persons_enumerated, persons_gap, gap_rate, flag), or None when :mod:`audit_engine.listing`
    is not installed or has no finished run."""
    try:
        from audit_engine.listing import latest_reconciliation
    except ImportError:
        return None
    found = latest_reconciliation(engine)
    if not found:
        return None
    rows = found.get("rows", found.get("eas", []))
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    out = []
    for r in rows:
        ea = str(r["ea_code"])
        out.append({**r, "ea_code": ea, "township_code": str(r.get("township_code") or ea[:TOWNSHIP_DIGITS]),
                    "flag": r.get("flag") or ""})
    return {"run_id": found.get("run_id"), "rows": out}


def register_comparison(engine: Engine) -> dict[str, Any] | None:
    """The newest register comparison as ``{"run_id", "townships": {code: {cls: n}},
    "eas": {code: {cls: n}}}``, or None when :mod:`audit_engine.register` is not installed or
    has no finished ``link register`` run."""
    try:
        from audit_engine.register import register_summary
    except ImportError:
        return None
    found = register_summary(engine)
    if not found:
        return None

    def per_unit(value: Any, key: str) -> dict[str, dict[str, int]]:
        if isinstance(value, pd.DataFrame):
            value = value.to_dict("records")
        if isinstance(value, list):             # [{code, cls: n, ...}] or [{code, cls, n}]
            table: dict[str, dict[str, int]] = {}
            for r in value:
                code = str(r.get(key) or r.get("unit") or r.get("code"))
                counts = table.setdefault(code, {})
                if "cls" in r:
                    counts[r["cls"]] = counts.get(r["cls"], 0) + int(r.get("n", r.get("count", 0)))
                else:
                    counts.update({c: int(r[c]) for c in REGISTER_CLASSES if c in r})
            return table
        return {str(code): {c: int(n) for c, n in counts.items()} for code, counts in (value or {}).items()}

    return {"run_id": found.get("run_id"),
            "townships": per_unit(found.get("townships", found.get("by_township", {})), "township_code"),
            "eas": per_unit(found.get("eas", found.get("by_ea", {})), "ea_code")}


# -- the store ---------------------------------------------------------------------------------


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def as_of(engine: Engine) -> datetime | None:
    """The bulletin's *as of* time: the newest finish time of a finished run of the store."""
    with engine.connect() as conn:
        ts = conn.execute(select(func.max(Run.finished_at)).where(Run.status == "done")).scalar()
    return _utc(ts)


def bulletin_number(engine: Engine, township: str | None, lang: str) -> int:
    """1 + the bulletins of this scope (county: ``township`` None) and language in the ledger."""
    with engine.connect() as conn:
        rows = conn.execute(select(LedgerEntry.params).where(LedgerEntry.command == "report")).scalars().all()
    n = 0
    for text in rows:
        p = json.loads(text)
        if p.get("kind") == "bulletin" and p.get("lang") == lang and \
                (p.get("options") or {}).get("township") == township:
            n += 1
    return n + 1


def _areas(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(select(EnumerationArea.code.label("ea_code"), EnumerationArea.township_code,
                                  EnumerationArea.households_listed, EnumerationArea.persons_listed), conn)


def _progress_eas(engine: Engine, recon: dict[str, Any] | None) -> tuple[pd.DataFrame, str]:
    """Per EA: township_code, hh_listed, hh_enum, p_listed, p_enum; and where listed counts came
    from (``reconciliation``, ``listing``, ``areas``)."""
    cols = ["ea_code", "township_code", "hh_listed", "hh_enum", "p_listed", "p_enum"]
    if recon is not None:
        df = pd.DataFrame(recon["rows"]).rename(columns={
            "households_listed": "hh_listed", "households_enumerated": "hh_enum",
            "persons_listed": "p_listed", "persons_enumerated": "p_enum"})
        return (df[cols] if len(df) else pd.DataFrame(columns=cols)), "reconciliation"
    areas = _areas(engine)
    with engine.connect() as conn:
        listing = pd.read_sql(select(ListedHousehold.ea_code, func.count().label("hh"),
                                     func.sum(ListedHousehold.persons_listed).label("p"))
                              .group_by(ListedHousehold.ea_code), conn)
        hh = pd.read_sql(select(Household.ea_code, func.count().label("n")).where(Household.source == "census")
                         .group_by(Household.ea_code), conn)
        persons = pd.read_sql(select(Person.ea_code, func.count().label("n")).where(Person.source == "census")
                              .group_by(Person.ea_code), conn)
    if len(listing):
        source = "listing"
        listed = listing.set_index("ea_code")
        areas["hh_listed"] = areas["ea_code"].map(listed["hh"])
        areas["p_listed"] = areas["ea_code"].map(listed["p"])
    else:
        source = "areas"
        areas = areas.rename(columns={"households_listed": "hh_listed", "persons_listed": "p_listed"})
    areas["hh_enum"] = areas["ea_code"].map(hh.set_index("ea_code")["n"])
    areas["p_enum"] = areas["ea_code"].map(persons.set_index("ea_code")["n"])
    for c in ("hh_listed", "hh_enum", "p_listed", "p_enum"):
        areas[c] = areas[c].fillna(0).astype(int)
    return areas[cols], source


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _progress_row(unit: str, g: pd.DataFrame) -> dict[str, Any]:
    hl, he, pl, pe = (int(g[c].sum()) for c in ("hh_listed", "hh_enum", "p_listed", "p_enum"))
    return {"unit": unit, "eas": len(g), "hh_listed": hl, "hh_enum": he, "hh_rate": _rate(he, hl),
            "p_listed": pl, "p_enum": pe, "p_gap": pe - pl, "p_rate": _rate(pe, pl)}


def _backlog(engine: Engine, at: datetime | None) -> pd.DataFrame:
    """Open flags and open review items (whole store), each with its EA and age in days."""
    rows = []
    with engine.connect() as conn:
        for what, table in (("flag", Flag), ("item", ReviewItem)):
            for ea, finished in conn.execute(select(table.ea_code, Run.finished_at)
                                             .join(Run, Run.id == table.run_id).where(table.status == "open")):
                t = _utc(finished)
                age = max(0.0, (at - t).total_seconds() / 86400) if at is not None and t is not None else np.nan
                rows.append((ea, what, age))
    return pd.DataFrame(rows, columns=["ea_code", "what", "age"]).astype({"ea_code": object, "age": float})


def _backlog_row(unit: str, g: pd.DataFrame) -> dict[str, Any]:
    ages = g["age"].dropna()
    return {"unit": unit, "open_flags": int((g["what"] == "flag").sum()), "open_items": int((g["what"] == "item").sum()),
            "oldest_days": float(ages.max()) if len(ages) else None,
            "median_days": float(np.median(ages)) if len(ages) else None}


def _run_role(role: str) -> bool:
    """A run role the report's provenance table can name (common.yaml has its text)."""
    return f"role_{role}" in catalogue("common")


# -- the context --------------------------------------------------------------------------------


def gather(engine: Engine, lang: str, township: str | None = None, run_id: int | None = None) -> dict[str, Any]:
    """The bulletin's context: the county's (``township`` None: one row per township) or one
    township's (one row per EA), from the newest census check run (or ``run_id``)."""
    from reports.enumerators import _check_run
    from reports.issue import ReportError

    run_id = _check_run(engine, run_id)
    towns = township_names(engine)
    if township is not None:
        township = str(township)
        if township not in towns:
            raise ReportError(f"no township {township!r} among the enumeration areas: "
                              f"one of {', '.join(sorted(towns))}")
    at = as_of(engine)
    recon = listing_reconciliation(engine)
    register = register_comparison(engine)

    def unit_of(ea: pd.Series) -> pd.Series:
        return ea.astype(str) if township else ea.astype(str).str[:TOWNSHIP_DIGITS]

    def mine(ea: str | None) -> bool:
        return township is None or (ea is not None and str(ea).startswith(township))

    # 1. progress
    eas, listed_from = _progress_eas(engine, recon)
    eas = eas[[mine(e) for e in eas["ea_code"]]].copy()
    eas["unit"] = unit_of(eas["ea_code"])
    progress = [_progress_row(u, g) for u, g in eas.groupby("unit", sort=True)]
    progress_total = _progress_row("total", eas)
    units = [r["unit"] for r in progress]

    # 2. flags and confirmed errors (the engine's accountability figures)
    by_town = flag_figures(engine, "township", run_id)
    if township is None:
        flag_rows = sorted(by_town.rows, key=lambda r: r["unit"])
        flag_total = {k: by_town.overall[k] for k in ("persons", "flagged", "flag_rate", "flags", "decided",
                                                       "confirmed", "confirmed_rate")}
    else:
        by_ea = flag_figures(engine, "ea", run_id)
        flag_rows = sorted((r for r in by_ea.rows if mine(r["unit"])), key=lambda r: r["unit"])
        flag_total = next((dict(r) for r in by_town.rows if r["unit"] == township), None) or {
            "persons": 0, "flagged": 0, "flag_rate": None, "flags": 0, "decided": 0, "confirmed": 0,
            "confirmed_rate": None}
    for r in flag_rows:
        r["level"] = LABELS.get(r["outlier"], "within")

    # 3. register comparison
    reg_ctx = None
    if register is not None:
        source = register["eas"] if township else register["townships"]
        reg_rows = [{"unit": u, **{c: int(counts.get(c, 0)) for c in REGISTER_CLASSES}}
                    for u, counts in sorted(source.items()) if mine(u)]
        total = {c: sum(r[c] for r in reg_rows) for c in REGISTER_CLASSES}
        top = sorted(({"unit": ea, "not_enumerated": int(c.get("not_enumerated", 0))}
                      for ea, c in register["eas"].items() if mine(ea) and c.get("not_enumerated", 0) > 0),
                     key=lambda r: (-r["not_enumerated"], r["unit"]))[:TOP_NOT_ENUMERATED]
        reg_ctx = {"run_id": register["run_id"], "rows": reg_rows, "total": total, "top": top}

    # 4. backlog (whole store, as review_statistics counts it)
    stats = review_statistics(engine)
    backlog = _backlog(engine, at)
    backlog = backlog[[mine(e) for e in backlog["ea_code"]]].copy()
    backlog["unit"] = [("—" if e is None or pd.isna(e) else (str(e) if township else str(e)[:TOWNSHIP_DIGITS]))
                       for e in backlog["ea_code"]]
    backlog_rows = [_backlog_row(u, g) for u, g in backlog.groupby("unit", sort=True)]
    backlog_total = _backlog_row("total", backlog)
    if township is None:   # the county's open counts are review_statistics' own
        backlog_total["open_flags"] = stats["flags"].get("open", 0)
        backlog_total["open_items"] = sum(v.get("open", 0) for v in stats["items"].values())

    # 5. follow-up
    enumerators = flag_figures(engine, "enumerator", run_id)
    with engine.connect() as conn:
        worked = conn.execute(select(Person.enumerator_id, Person.ea_code).distinct()
                              .where(Person.source == "census", Person.enumerator_id.is_not(None))).all()
    where: dict[str, set[str]] = {}
    for e, ea in worked:
        where.setdefault(str(e), set()).add(str(ea))
    sep = "、" if lang == "zh" else ", "
    follow_enum = []
    for r in enumerators.rows:
        places = where.get(r["unit"], set())
        if is_above(r["outlier"]) and (township is None or any(mine(ea) for ea in places)):
            codes = sorted({ea[:TOWNSHIP_DIGITS] for ea in places})
            follow_enum.append({**r, "level": LABELS[r["outlier"]],
                                "township": sep.join(towns.get(c, c) for c in codes) or "—"})
    follow_eas = None
    if recon is not None:
        follow_eas = sorted((r for r in recon["rows"] if r["flag"] and mine(r["ea_code"])),
                            key=lambda r: (r["flag"], r["ea_code"]))

    # chart (county bulletin only, to keep a township's to two pages): flag rate by township
    clang = charts.chart_lang(lang)
    ct = Translator(clang)
    label = (lambda u: charts.place(towns.get(u), u)) if township is None else (lambda u: u)
    chart: dict[str, Any] = {}
    with_rate = [r for r in flag_rows if r["flag_rate"] is not None]
    if township is None and with_rate and len(with_rate) <= CHART_MAX_UNITS:   # a township's EAs: the table
        ordered = sorted(with_rate, key=lambda r: (-r["flag_rate"], r["unit"]))
        chart["flags"] = charts.hbar(
            f"bulletin-flags-{township or 'county'}", [label(r["unit"]) for r in ordered],
            [r["flag_rate"] for r in ordered], title=ct("bulletin.chart_flags"), xlabel=ct("bulletin.col_flag_rate"),
            lang=clang, percent=True,
            colors=[charts.RED if is_above(r["outlier"]) else charts.BLUE for r in ordered])

    # runs: those the provenance table can name; the others are named in their section
    runs: dict[str, int | None] = {"check": run_id}
    other_runs: dict[str, int | None] = {}
    for role, found in (("reconcile_listing", recon), ("link_register", register)):
        if found is not None:
            (runs if _run_role(role) else other_runs)[role] = found["run_id"]
    now = datetime.now(CST)
    return {
        "runs": runs, "other_runs": other_runs, "check_run": run_id, "township": township,
        "township_name": towns.get(township) if township else None, "towns": towns,
        "number": bulletin_number(engine, township, lang),
        "issued_on": now.strftime("%Y-%m-%d"),
        "as_of": at.astimezone(CST).strftime("%Y-%m-%d %H:%M") if at else None,
        "units": units, "progress": progress, "progress_total": progress_total, "listed_from": listed_from,
        "recon_run": recon["run_id"] if recon else None,
        "flags": flag_rows, "flag_total": flag_total,
        "register": reg_ctx, "register_classes": REGISTER_CLASSES,
        "backlog": backlog_rows, "backlog_total": backlog_total,
        "follow_enumerators": follow_enum, "follow_eas": follow_eas, "charts": chart,
    }
