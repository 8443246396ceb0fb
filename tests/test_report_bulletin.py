"""The supervision bulletin (督查通报): every figure is the store's (progress against the listing,
the engine's flag figures, the register comparison, the review backlog and its age), the
county's and each township's file, both languages, numbered per scope, in the ledger, sections
that say 'not run' when the listing reconciliation or the register comparison is missing, and
no personal data."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import UTC
from functools import partial

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import assert_figures as assert_store_figures
from helpers import copy_store, report_figures, shown
from sqlalchemy import select, update

from audit_engine.accountability.figures import flag_figures
from audit_engine.cli.main import cli
from audit_engine.ledger import history
from audit_engine.review.stats import review_statistics
from audit_engine.store import make_engine
from audit_engine.store.models import (
    EnumerationArea,
    Flag,
    Household,
    ListedHousehold,
    Person,
    RegisterPerson,
    ReviewItem,
    Run,
)
from audit_engine.store.runs import latest_run
from reports import bulletin as bulletin_module
from reports.issue import ReportError, build, issue

#: bulletin figures are sums the test redoes in another order: equal to 1e-9, not to the bit
assert_figures = partial(assert_store_figures, float_rel=1e-9)
T = 9   # township code digits
CLASSES = bulletin_module.REGISTER_CLASSES


@pytest.fixture(scope="module")
def store(pipeline_store, tmp_path_factory):
    """A copy of the pipeline store (the bulletin numbers count this module's issues only)."""
    folder, _ = pipeline_store
    engine = copy_store(pipeline_store, tmp_path_factory.mktemp("bulletin"))
    yield folder, engine
    engine.dispose()


def personal_data(folder) -> list[str]:
    """Every name and ID number of the demo's census and, if there is one, register extract."""
    rows = []
    for rel in ("census/persons.csv", "register/register.csv"):
        if (folder / "data" / rel).exists():
            with open(folder / "data" / rel, encoding="utf-8") as f:
                rows += list(csv.DictReader(f))
    names = {r["name"] for r in rows if len(r["name"] or "") >= 2}
    ids = {r["id_number"] for r in rows if r["id_number"]}
    return sorted(names | ids)


def _utc(ts):
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def expected_figures(engine, township: str | None, number: int) -> dict[str, tuple]:
    """Every figure the bulletin must show, from the store (and the engines' own results)."""
    exp: dict[str, tuple] = {}

    def put(key, value, kind="pct", digits=None):
        exp[key] = (value, shown(value, kind, digits))

    def mine(code) -> bool:
        return township is None or (code is not None and str(code).startswith(township))

    def unit(code: str) -> str:
        return code if township else code[:T]

    put("bulletin.number", number, "num")
    run_id = latest_run(engine, "check", "census")

    # 1. progress: listed (reconciliation, else listing table, else areas) vs census loaded
    recon = bulletin_module.listing_reconciliation(engine)
    with engine.connect() as conn:
        areas = pd.read_sql(select(EnumerationArea.code, EnumerationArea.households_listed,
                                   EnumerationArea.persons_listed), conn)
        listing = pd.read_sql(select(ListedHousehold.ea_code, ListedHousehold.persons_listed), conn)
        hh = pd.read_sql(select(Household.ea_code).where(Household.source == "census"), conn)
        persons = pd.read_sql(select(Person.ea_code).where(Person.source == "census"), conn)
    if recon is not None:
        ea = pd.DataFrame(recon["rows"]).rename(columns={
            "households_listed": "hl", "households_enumerated": "he", "persons_listed": "pl",
            "persons_enumerated": "pe"})[["ea_code", "hl", "he", "pl", "pe"]]
    else:
        ea = areas.rename(columns={"code": "ea_code", "households_listed": "hl", "persons_listed": "pl"})
        if len(listing):
            ea["hl"] = ea["ea_code"].map(listing.groupby("ea_code").size())
            ea["pl"] = ea["ea_code"].map(listing.groupby("ea_code")["persons_listed"].sum())
        ea["he"] = ea["ea_code"].map(hh.groupby("ea_code").size())
        ea["pe"] = ea["ea_code"].map(persons.groupby("ea_code").size())
        ea = ea.fillna(0)
    ea = ea[ea["ea_code"].map(mine)]
    groups = [(u, g) for u, g in ea.groupby(ea["ea_code"].map(unit))] + [("total", ea)]
    for u, g in groups:
        hl, he, pl, pe = (int(g[c].sum()) for c in ("hl", "he", "pl", "pe"))
        k = f"progress.{u}"
        if township is None:
            put(f"{k}.eas", len(g), "num")
        for f, v in (("hh_listed", hl), ("hh_enum", he), ("p_listed", pl), ("p_enum", pe), ("p_gap", pe - pl)):
            put(f"{k}.{f}", v, "num")
        put(f"{k}.hh_rate", he / hl if hl else None, "pct", 1)
        put(f"{k}.p_rate", pe / pl if pl else None, "pct", 1)

    # 2. flags: the engine's accountability figures
    fields = ("persons", "flagged", "flag_rate", "flags", "decided", "confirmed", "confirmed_rate")
    by_town = flag_figures(engine, "township", run_id)
    rows = by_town.rows if township is None else [r for r in flag_figures(engine, "ea", run_id).rows if mine(r["unit"])]
    total = by_town.overall if township is None else next(r for r in by_town.rows if r["unit"] == township)
    for u, r in [(r["unit"], r) for r in rows] + [("total", total)]:
        for f in fields:
            put(f"flags.{u}.{f}", r[f], "pct" if f.endswith("rate") else "num")

    # 3. register comparison
    reg = bulletin_module.register_comparison(engine)
    if reg is not None:
        source = reg["eas"] if township else reg["townships"]
        sums = dict.fromkeys(CLASSES, 0)
        for u, counts in source.items():
            if mine(u):
                for c in CLASSES:
                    put(f"register.{u}.{c}", counts.get(c, 0), "num")
                    sums[c] += counts.get(c, 0)
        for c in CLASSES:
            put(f"register.total.{c}", sums[c], "num")
        top = sorted(((u, c["not_enumerated"]) for u, c in reg["eas"].items()
                      if mine(u) and c.get("not_enumerated", 0) > 0), key=lambda x: (-x[1], x[0]))[:10]
        for u, n in top:
            put(f"register.{u}.not_enumerated", n, "num")

    # 4. backlog: open flags and items, age from their run's finish to the newest finish
    with engine.connect() as conn:
        runs = {r.id: r for r in conn.execute(select(Run.id, Run.status, Run.finished_at))}
        open_ = [(ea_code, "flag", rid) for ea_code, rid in conn.execute(
            select(Flag.ea_code, Flag.run_id).where(Flag.status == "open"))]
        open_ += [(ea_code, "item", rid) for ea_code, rid in conn.execute(
            select(ReviewItem.ea_code, ReviewItem.run_id).where(ReviewItem.status == "open"))]
    as_of = max(_utc(r.finished_at) for r in runs.values() if r.status == "done")
    # (a run that finished after the as-of time, a failed one, counts as 0 days old)
    b = pd.DataFrame([(e, w, max(0.0, (as_of - _utc(runs[rid].finished_at)).total_seconds() / 86400))
                      for e, w, rid in open_],
                     columns=["ea", "what", "age"])
    b = b[b["ea"].map(mine)]
    b["unit"] = [("none" if e is None else unit(str(e))) for e in b["ea"]]
    for u, g in [*b.groupby("unit"), ("total", b)]:
        put(f"backlog.{u}.open_flags", int((g["what"] == "flag").sum()), "num")
        put(f"backlog.{u}.open_items", int((g["what"] == "item").sum()), "num")
        put(f"backlog.{u}.oldest_days", float(g["age"].max()) if len(g) else None, "num", 1)
        put(f"backlog.{u}.median_days", float(np.median(g["age"])) if len(g) else None, "num", 1)
    if township is None:
        stats = review_statistics(engine)
        assert exp["backlog.total.open_flags"][0] == stats["flags"].get("open", 0)
        assert exp["backlog.total.open_items"][0] == sum(v.get("open", 0) for v in stats["items"].values())

    # 5. follow-up: enumerators above the upper limits (working in the township)
    with engine.connect() as conn:
        worked = pd.read_sql(select(Person.enumerator_id, Person.ea_code).where(Person.source == "census"), conn)
    n_follow = 0
    for r in flag_figures(engine, "enumerator", run_id).rows:
        eas = worked.loc[worked["enumerator_id"] == r["unit"], "ea_code"]
        if r["outlier"].startswith("above") and (township is None or eas.map(mine).any()):
            n_follow += 1
            k = f"enumerator.{r['unit']}"
            put(f"{k}.persons", r["persons"], "num")
            put(f"{k}.flagged", r["flagged"], "num")
            put(f"{k}.flag_rate", r["flag_rate"])
            put(f"{k}.flag_upper_99_8", r["flag_upper_99_8"])
    put("follow.enumerators", n_follow, "num")
    if recon is not None:
        for r in recon["rows"]:
            if r["flag"] and mine(r["ea_code"]):
                k = f"listing.{r['ea_code']}"
                for f in ("persons_listed", "persons_enumerated", "persons_gap"):
                    put(f"{k}.{f}", r[f], "num")
                put(f"{k}.gap_rate", r["gap_rate"], "pct", 1)
    return exp


def next_number(engine, township: str | None, lang: str) -> int:
    """1 + the bulletins of that scope and language in the ledger, counted from its entries."""
    entries = history(engine, limit=1_000_000, command="report")
    return 1 + sum(1 for e in entries if e["params"]["kind"] == "bulletin" and e["params"]["lang"] == lang
                   and e["params"]["options"].get("township") == township)


def townships(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted({str(t) for t in conn.execute(select(EnumerationArea.township_code)).scalars()})


def test_county_and_township_bulletins_show_the_store(store, tmp_path):
    folder, engine = store
    secrets = personal_data(folder)
    town = townships(engine)[0]
    for lang in ("zh", "en"):
        n = next_number(engine, None, lang)
        county = issue(engine, "bulletin", tmp_path, lang=lang, operator="test.supervision")
        assert county.path.name == f"bulletin.{lang}.html"
        html = county.path.read_text("utf-8")
        assert_figures(html, expected_figures(engine, None, n))
        n = next_number(engine, town, lang)
        one = issue(engine, "bulletin", tmp_path, lang=lang, operator="test.supervision", options={"township": town})
        assert one.path.name == f"bulletin-{town}.{lang}.html"
        thtml = one.path.read_text("utf-8")
        assert_figures(thtml, expected_figures(engine, town, n))
        for text in (html, thtml):
            leaked = [v for v in secrets if v in text]
            assert not leaked, leaked[:5]
            assert ('id="flags-table"' in text and 'id="progress-table"' in text and 'id="backlog-table"' in text)
        assert ("督查通报" in html) == (lang == "zh")
        assert ("Census quality supervision bulletin" in html) == (lang == "en")
        # the county bulletin: one row per township; the township's: one per EA of it
        rows = re.findall(r'<tr data-unit="([^"]+)"', re.search(r'id="progress-table".*?</table>', html, re.S)[0])
        assert rows == [*townships(engine), "total"]
        rows = re.findall(r'<tr data-unit="([^"]+)"', re.search(r'id="progress-table".*?</table>', thtml, re.S)[0])
        assert rows[:-1] and all(r.startswith(town) and len(r) > T for r in rows[:-1])
    # the ledger: one entry per file, with its hash, the runs and the township
    entries = history(engine, limit=4, command="report")
    assert [e["result"]["file"] for e in entries] == [f"bulletin-{town}.en.html", "bulletin.en.html",
                                                      f"bulletin-{town}.zh.html", "bulletin.zh.html"]
    assert entries[0]["result"]["sha256"] == one.sha256 and entries[0]["params"]["options"]["township"] == town
    assert entries[1]["params"]["kind"] == "bulletin" and entries[1]["params"]["options"].get("township") is None
    assert entries[1]["params"]["runs"]["check"] == latest_run(engine, "check", "census")


def test_numbering_per_scope_and_language(store, tmp_path):
    _, engine = store
    town = townships(engine)[-1]
    town_before, en_before = next_number(engine, town, "zh"), next_number(engine, None, "en")
    numbers = []
    for options in ({}, {}, {"township": town}):
        numbers.append(build(engine, "bulletin", lang="zh", operator="t", options=options)[1]["number"])
        issue(engine, "bulletin", tmp_path, lang="zh", operator="t", options=options)
    first = numbers[0]
    assert numbers == [first, first + 1, town_before]           # the township has its own count
    assert build(engine, "bulletin", lang="en", operator="t")[1]["number"] == en_before   # and each language
    html, ctx = build(engine, "bulletin", lang="zh", operator="t")
    assert ctx["number"] == first + 2 and report_figures(html)["bulletin.number"] == (first + 2, f"{first + 2}")
    assert "第 <span" in html and ctx["as_of"] and ctx["issued_on"]


def test_without_register_and_listing_runs_the_sections_say_so(store, tmp_path):
    folder, _ = store
    db = tmp_path / "norun.db"
    shutil.copy(folder / "census_audit.db", db)
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:     # whatever the demo ran, no finished register or listing run
        conn.execute(update(Run).where(Run.kind.in_(["link register", "reconcile listing"])).values(status="failed"))
    for lang, words in (("zh", ("户籍比对尚未运行", "摸底核对尚未运行", "census-audit link register",
                                "census-audit reconcile listing")),
                        ("en", ("register comparison has not been run", "listing reconciliation has not been run",
                                "census-audit link register", "census-audit reconcile listing"))):
        for township in (None, townships(engine)[0]):
            html, ctx = build(engine, "bulletin", lang=lang, operator="t", options={"township": township})
            assert ctx["register"] is None and ctx["recon_run"] is None and ctx["follow_eas"] is None
            assert 'id="register-not-run"' in html and 'id="register-table"' not in html
            assert 'id="listing-not-run"' in html and 'id="follow-eas"' not in html
            assert all(w in html for w in words), lang
            assert_figures(html, expected_figures(engine, township, next_number(engine, township, lang)))
            assert set(ctx["runs"]) == {"check"} and not ctx["other_runs"]
    engine.dispose()


def test_with_register_and_reconciliation(store, monkeypatch):
    """The register and listing sections, fed through the adapters (here with fixed results)."""
    _, engine = store
    towns = townships(engine)
    with engine.connect() as conn:
        eas = sorted(str(c) for c in conn.execute(select(EnumerationArea.code)).scalars())
    t0 = towns[0]
    mine = [e for e in eas if e.startswith(t0)]
    reg = {"run_id": 99, "classes": {},
           "by_township": {t: {"registered_here": 100 + i, "not_enumerated": i + 1, "moved_out": 2}
                           for i, t in enumerate(towns)},
           "by_ea": {**{e: {"registered_here": 50, "no_registration": i} for i, e in enumerate(eas)},
                     f"{t0}001": {"not_enumerated": 7, "deceased": 1}}}
    monkeypatch.setattr("audit_engine.register.register_summary", lambda engine: reg, raising=False)
    rows = [{"ea_code": e, "township_code": e[:T], "enumerator_id": "E0001", "households_listed": 100,
             "households_enumerated": 90 + i, "persons_listed": 300, "persons_enumerated": 280 + 3 * i,
             "persons_gap": 3 * i - 20, "gap_rate": (3 * i - 20) / 300,
             "flag": "shortfall" if i == 0 else "surplus" if i == 9 else ""} for i, e in enumerate(eas)]
    monkeypatch.setattr(bulletin_module, "listing_reconciliation",
                        lambda engine: {"run_id": 98, "rows": [dict(r) for r in rows]})
    for township in (None, t0):
        for lang in ("zh", "en"):
            html, ctx = build(engine, "bulletin", lang=lang, operator="t", options={"township": township})
            n = ctx["number"]
            assert_figures(html, expected_figures(engine, township, n))
            assert ctx["recon_run"] == 98 and ctx["register"]["run_id"] == 99
            assert 'id="register-table"' in html and 'id="follow-register"' in html
            assert ctx["other_runs"] or {"reconcile_listing", "link_register"} <= set(ctx["runs"])
        figs = report_figures(html)
        if township is None:
            assert figs[f"register.{t0}.not_enumerated"][0] == 1 and figs["register.total.moved_out"][0] == 2 * len(towns)
            assert figs["progress.total.p_listed"][0] == 300 * len(eas)
            assert set(re.findall(r'<tr data-ea="(\d+)"><td>', html.split('id="follow-eas"')[1].split("</table>")[0])) \
                == {eas[0], eas[9]}
        else:
            assert figs[f"register.{t0}001.not_enumerated"][0] == 7
            assert set(re.findall(r'data-unit="(\d+)"', html.split('id="register-table"')[1].split("</table>")[0])) \
                == {*mine, f"{t0}001"}


def test_unknown_township_and_no_check_run(store, engine, tmp_path):
    _, shared = store
    with pytest.raises(ReportError, match="no township"):
        build(shared, "bulletin", operator="t", options={"township": "999999999"})
    with pytest.raises(ReportError, match="census-audit check"):
        issue(engine, "bulletin", tmp_path / "out", operator="t")
    assert not (tmp_path / "out").exists()


def test_cli_writes_the_county_and_every_township(store, tmp_path):
    _, engine = store
    url = str(engine.url)
    r = CliRunner().invoke(cli, ["--db", url, "--operator", "demo", "report", "bulletin", "--out", str(tmp_path),
                                 "--lang", "en", "--json"])
    assert r.exit_code == 0, r.output
    paths = [rep["path"] for rep in json.loads(r.stdout)["reports"]]
    assert [p.rsplit("/", 1)[1] for p in paths] == ["bulletin.en.html"] + [f"bulletin-{t}.en.html"
                                                                           for t in townships(engine)]
    t = townships(engine)[1]
    r = CliRunner().invoke(cli, ["--db", url, "--operator", "demo", "report", "bulletin", "--out", str(tmp_path),
                                 "--township", t, "--json"])
    assert r.exit_code == 0, r.output
    assert [rep["path"].rsplit("/", 1)[1] for rep in json.loads(r.stdout)["reports"]] == [f"bulletin-{t}.zh.html"]
    ok = CliRunner().invoke(cli, ["--db", url, "report", "verify", str(tmp_path / f"bulletin-{t}.zh.html")])
    assert ok.exit_code == 0 and "issued" in ok.output
    refused = CliRunner().invoke(cli, ["--db", url, "--operator", "demo.qc", "report", "bulletin",
                                       "--out", str(tmp_path / "qc")])
    assert refused.exit_code != 0 and "may not report" in refused.output


def test_with_the_real_listing_reconciliation_and_register_comparison(store, tmp_path):
    """The listing and register extract of the demo county loaded, ``reconcile listing`` and
    ``link register`` run: the bulletin shows their results to the digit."""
    folder, shared = store
    listing_csv, register_csv = folder / "data" / "listing.csv", folder / "data" / "register" / "register.csv"
    try:
        from audit_engine.listing import run_reconcile
        from audit_engine.register import run_link_register
    except ImportError:
        pytest.skip("the listing or register engine is not installed")
    if not (listing_csv.exists() and register_csv.exists()):
        pytest.skip("the demo county has no listing or register extract")
    from audit_engine.io.load import REFERENCE, REGISTER, load_file

    db = tmp_path / "linked.db"
    shutil.copy(folder / "census_audit.db", db)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:   # the demo may have loaded and run them already
        listed = conn.execute(select(ListedHousehold.id).limit(1)).first()
        registered = conn.execute(select(RegisterPerson.id).limit(1)).first()
    if not listed:
        load_file(engine, listing_csv, REFERENCE, operator="demo", kind="listing")
    if not registered:
        load_file(engine, register_csv, REGISTER, operator="demo", kind="register")
    recon_run = run_reconcile(engine, "demo").run_id
    reg_run = run_link_register(engine, "demo").run_id
    town = townships(engine)[0]
    for township in (None, town):
        html, ctx = build(engine, "bulletin", lang="zh", operator="t", options={"township": township})
        assert ctx["recon_run"] == recon_run and ctx["register"]["run_id"] == reg_run
        assert_figures(html, expected_figures(engine, township, next_number(engine, township, "zh")))
        assert 'id="register-table"' in html and 'id="register-not-run"' not in html
        assert 'id="listing-not-run"' not in html and f"第 {recon_run} 号摸底核对运行" in html
        leaked = [v for v in personal_data(folder) if v in html]
        assert not leaked, leaked[:5]
    # the open review items the two runs raised are in the backlog
    figs = report_figures(build(engine, "bulletin", lang="en", operator="t")[0])
    assert figs["backlog.total.open_items"][0] == sum(v.get("open", 0) for v in review_statistics(engine)["items"].values())
    assert figs["backlog.total.open_items"][0] > 0
    engine.dispose()
