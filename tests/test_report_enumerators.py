"""The enumerators report shows the engine's accountability figures (flag rates with funnel
limits, PES omissions) to the digit, lists exactly the enumerators above the upper limits for
follow-up, shows confirmed-error rates once QC officers decide flags, and holds no personal data."""

from __future__ import annotations

import csv
import json
import re
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import assert_figures, report_figures, shown
from sqlalchemy import func, select, update

from audit_engine.accountability.figures import NoData, flag_figures, omission_figures
from audit_engine.cli.main import cli
from audit_engine.ledger import history
from audit_engine.store import make_engine
from audit_engine.store.models import Decision, Enumerator, Flag, Household, Person, Run
from audit_engine.store.runs import latest_run
from reports.issue import ReportError, build, issue

LIMITS = ("lower_95", "upper_95", "lower_99_8", "upper_99_8")
KEY = {"above 99.8%": "above_99_8", "above 95%": "above_95", "below 95%": "below_95", "below 99.8%": "below_99_8"}


@pytest.fixture(scope="module")
def store(pipeline_store):
    folder, url = pipeline_store
    return folder, make_engine(url)


def _census(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(select(Person.person_key, Person.household_key, Person.ea_code, Person.enumerator_id)
                           .where(Person.source == "census"), conn)


def expected_figures(engine, run_id: int) -> dict[str, tuple[float | int | None, str]]:
    """Every figure the report must show: the engine's accountability results for the run, plus
    the EA and staff counts straight from the store."""
    ff = flag_figures(engine, "enumerator", run_id)
    sf = flag_figures(engine, "supervisor", run_id)
    try:
        of = omission_figures(engine, "enumerator")
    except NoData:
        of = None
    census = _census(engine).dropna(subset=["enumerator_id"])
    eas = census.groupby("enumerator_id")["ea_code"].nunique()
    with engine.connect() as conn:
        sup = dict(conn.execute(select(Enumerator.id, Enumerator.supervisor_id)).all())
    staff = pd.Series({e: sup.get(e) for e in census["enumerator_id"].unique()}).value_counts()

    exp: dict[str, tuple[float | int | None, str]] = {}

    def put(key: str, value, kind: str = "pct", digits: int | None = None) -> None:
        exp[key] = (value, shown(value, kind, digits))

    o = ff.overall
    for k in ("units", "persons", "flagged", "flags"):
        put(f"overall.{k}", o[k], "num")
    put("overall.flag_rate", o["flag_rate"])
    for label, k in KEY.items():
        put(f"overall.outliers.{k}", o["outliers"][label], "num")
    decided_rows = [r for r in ff.rows if r["decided"] or r["revisit"]]
    if o["decided"] or decided_rows:
        put("overall.decided", o["decided"], "num")
        put("overall.confirmed", o["confirmed"], "num")
    if o["decided"]:
        put("overall.confirmed_rate", o["confirmed_rate"])
    put("chance.above_95", o["units"] * 0.025, "num", 1)
    put("chance.above_99_8", o["units"] * 0.001, "num", 2)
    for r in ff.rows:
        k = f"enumerator.{r['unit']}"
        put(f"{k}.eas", int(eas[r["unit"]]), "num")
        for f in ("persons", "flagged", "flags", "decided", "confirmed"):
            put(f"{k}.{f}", r[f], "num")
        put(f"{k}.flag_rate", r["flag_rate"])
        for lim in LIMITS:
            put(f"{k}.flag_{lim}", r[f"flag_{lim}"])
        if r["decided"] or r["revisit"]:
            put(f"{k}.revisit", r["revisit"], "num")
        if r["decided"]:
            for f in ("confirmed_rate", "confirmed_upper_95", "confirmed_upper_99_8"):
                put(f"{k}.{f}", r[f])
    for r in sf.rows:
        k = f"supervisor.{r['unit']}"
        put(f"{k}.enumerators", int(staff[r["unit"]]), "num")
        put(f"{k}.persons", r["persons"], "num")
        put(f"{k}.flagged", r["flagged"], "num")
        put(f"{k}.flag_rate", r["flag_rate"])
        for lim in LIMITS:
            put(f"{k}.flag_{lim}", r[f"flag_{lim}"])
    if of is not None:
        for f in ("eas", "units", "p_persons", "omitted", "possible_open"):
            put(f"pes.overall.{f}", of.overall[f], "num")
        put("pes.overall.omission_rate", of.overall["omission_rate"])
        put("pes.overall.outliers.above_99_8", of.overall["outliers"]["above 99.8%"], "num")
        for r in of.rows:
            if r["outlier"].startswith("above"):
                k = f"pes.enumerator.{r['unit']}"
                for f in ("eas", "p_persons", "omitted"):
                    put(f"{k}.{f}", r[f], "num")
                for f in ("omission_rate", "omission_upper_95", "omission_upper_99_8"):
                    put(f"{k}.{f}", r[f])
    return exp


def table_units(html: str, table_id: str) -> list[str]:
    m = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert m, table_id
    return re.findall(r'<tr[^>]*data-enumerator="([^"]+)"', m.group(0))


def personal_data(folder) -> list[str]:
    with open(folder / "data" / "census" / "persons.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = {r["name"] for r in rows if len(r["name"] or "") >= 2}
    ids = {r["id_number"] for r in rows if r["id_number"]}
    return sorted(names | ids)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_figure_is_the_engine_result(store, tmp_path, lang):
    folder, engine = store
    run_id = latest_run(engine, "check", "census")
    issued = issue(engine, "enumerators", tmp_path, lang=lang, operator="test.supervision")
    html = issued.path.read_text("utf-8")
    assert_figures(html, expected_figures(engine, run_id))

    # a couple of counts straight from the flags and persons tables
    figs = report_figures(html)
    census = _census(engine)
    with engine.connect() as conn:
        flags = pd.read_sql(select(Flag.record_key, Flag.scope).where(Flag.run_id == run_id, Flag.source == "census"),
                            conn)
        n_flags = conn.execute(select(func.count()).select_from(Flag).where(
            Flag.run_id == run_id, Flag.source == "census")).scalar_one()
    with_enum = census.dropna(subset=["enumerator_id"])
    assert figs["overall.persons"][0] == len(with_enum)
    assert figs["overall.flags"][0] == n_flags
    flagged = with_enum[with_enum["person_key"].isin(set(flags["record_key"]))]
    assert figs["overall.flagged"][0] == len(flagged)
    for e, n in with_enum.groupby("enumerator_id").size().items():
        assert figs[f"enumerator.{e}.persons"][0] == n
        assert figs[f"enumerator.{e}.flagged"][0] == int((flagged["enumerator_id"] == e).sum())

    # the follow-up list: exactly the enumerators above an upper limit, worst first
    ff = flag_figures(engine, "enumerator", run_id)
    above = [r["unit"] for r in ff.rows if r["outlier"].startswith("above")]
    assert above, "the pipeline store should have an enumerator above the 95% limit"
    assert table_units(html, "outliers") == above
    assert table_units(html, "all-enumerators") == [r["unit"] for r in ff.rows]
    of = omission_figures(engine, "enumerator")
    pes_above = [r["unit"] for r in of.rows if r["outlier"].startswith("above")]
    assert pes_above and table_units(html, "pes-outliers") == pes_above

    # provenance, charts, no decisions yet
    assert f'data-run="check">{run_id}<' in html
    assert f'data-run="link_pes">{latest_run(engine, "link pes")}<' in html
    assert html.count('<svg class="chart"') == 2 and 'id="decisions"' not in html
    entry = history(engine, limit=1, command="report")[0]
    assert entry["params"]["kind"] == "enumerators" and entry["result"]["sha256"] == issued.sha256
    assert entry["params"]["runs"] == {"check": run_id, "link_pes": latest_run(engine, "link pes")}

    # aggregates only
    leaked = [v for v in personal_data(folder) if v in html]
    assert not leaked, leaked[:5]
    assert ("须核查名单" in html) == (lang == "zh") and ("Follow-up list" in html) == (lang == "en")


def _enumerator_of_flags(engine, run_id: int) -> pd.DataFrame:
    """Each decided flag of the run with its first decision and the enumerator it counts for."""
    census = _census(engine)
    with engine.connect() as conn:
        d = pd.read_sql(select(Flag.id, Flag.record_key, Decision.decision).join(Decision, Decision.item_id == Flag.id)
                        .where(Decision.item_kind == "flag", Decision.stage == "first", Flag.run_id == run_id), conn)
        households = pd.read_sql(select(Household.household_key, Household.enumerator_id)
                                 .where(Household.source == "census"), conn)
    unit = d["record_key"].map(census.set_index("person_key")["enumerator_id"])
    d["enumerator"] = unit.fillna(d["record_key"].map(households.set_index("household_key")["enumerator_id"]))
    return d


def test_confirmed_rates_after_qc_decisions(store, tmp_path):
    from audit_engine.access.operators import get_operator
    from audit_engine.review.queue import decide_item

    folder, shared = store
    db = tmp_path / "decided.db"
    shutil.copy(folder / "census_audit.db", db)
    engine = make_engine(f"sqlite:///{db}")
    run_id = latest_run(engine, "check", "census")
    scope = get_operator(engine, "demo.qc").scope
    with engine.connect() as conn:
        ids = [i for i, ea in conn.execute(select(Flag.id, Flag.ea_code).where(Flag.run_id == run_id)
                                           .order_by(Flag.id)) if any(str(ea).startswith(s) for s in scope)]
    assert len(ids) >= 14
    plan = ["confirmed"] * 8 + ["false_alarm"] * 4 + ["revisit"] * 2
    for fid, decision in zip(ids, plan, strict=False):
        decide_item(engine, "demo.qc", f"F{fid}", decision, "checked with the supervisor")

    html, ctx = build(engine, "enumerators", lang="zh", operator="t")
    assert_figures(html, expected_figures(engine, run_id))
    figs = report_figures(html)
    assert figs["overall.decided"][0] == 12 and figs["overall.confirmed"][0] == 8
    assert figs["overall.confirmed_rate"][0] == flag_figures(engine, "enumerator", run_id).overall["confirmed_rate"]
    assert figs["overall.confirmed_rate"][1] == shown(8 / 12)
    d = _enumerator_of_flags(engine, run_id)
    for e, g in d.groupby("enumerator"):
        confirmed, decided = int((g["decision"] == "confirmed").sum()), int(g["decision"].isin(
            ["confirmed", "false_alarm"]).sum())
        assert figs[f"enumerator.{e}.confirmed"][0] == confirmed and figs[f"enumerator.{e}.decided"][0] == decided
        assert figs[f"enumerator.{e}.revisit"][0] == int((g["decision"] == "revisit").sum())
        if decided:
            assert figs[f"enumerator.{e}.confirmed_rate"][0] == pytest.approx(confirmed / decided)
    assert set(table_units(html, "decisions")) == set(d["enumerator"])
    # the shared store is untouched
    assert flag_figures(shared, "enumerator").overall["decided"] == 0
    html_en, _ = build(engine, "enumerators", lang="en", operator="t")
    assert_figures(html_en, expected_figures(engine, run_id))
    assert "QC decisions and confirmed-error rates" in html_en


def test_without_pes_link_run_the_section_is_left_out(store, tmp_path):
    folder, _ = store
    db = tmp_path / "nopes.db"
    shutil.copy(folder / "census_audit.db", db)
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.kind == "link pes").values(status="failed"))
    run_id = latest_run(engine, "check", "census")
    html, ctx = build(engine, "enumerators", lang="en", operator="t")
    assert ctx["runs"] == {"check": run_id} and ctx["pes"] is None
    assert_figures(html, expected_figures(engine, run_id))
    assert "census-audit link pes" in html and 'id="pes-outliers"' not in html
    assert html.count('<svg class="chart"') == 1


def test_a_chosen_run_and_a_wrong_run(store):
    _, engine = store
    run_id = latest_run(engine, "check", "census")
    html, ctx = build(engine, "enumerators", lang="zh", operator="t", options={"run_id": run_id})
    assert ctx["runs"]["check"] == run_id and f"第 {run_id} 号" in html
    estimate = latest_run(engine, "estimate")
    with pytest.raises(ReportError, match="not a finished check run"):
        build(engine, "enumerators", operator="t", options={"run_id": estimate})


def test_no_check_run_is_a_clear_error(engine, tmp_path):
    with pytest.raises(ReportError, match="census-audit check"):
        issue(engine, "enumerators", tmp_path / "out", operator="t")
    assert not (tmp_path / "out").exists() and history(engine, command="report") == []


def test_cli(store, tmp_path):
    _, engine = store
    r = CliRunner().invoke(cli, ["--db", str(engine.url), "--operator", "demo", "report", "enumerators",
                                 "--out", str(tmp_path), "--lang", "en", "--json"])
    assert r.exit_code == 0, r.output
    path = json.loads(r.stdout)["path"]
    assert path.endswith("enumerators.en.html")
    ok = CliRunner().invoke(cli, ["--db", str(engine.url), "report", "verify", path])
    assert ok.exit_code == 0 and "issued" in ok.output
