"""The rules report shows every per-rule count, township flag rate, quality index and pyramid
share to the digit, each recomputed here from the store (not from the report's gather), and
holds no personal data."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from click.testing import CliRunner
from helpers import report_figures, shown
from sqlalchemy import func, select, text, update

from audit_engine.accountability.figures import flag_figures
from audit_engine.cli.main import cli
from audit_engine.ledger import history
from audit_engine.store import make_engine
from audit_engine.store.models import Flag, Run
from audit_engine.store.runs import latest_run
from reports.issue import ReportError, build, issue
from rules.quality import quality_indices
from rules.ruleset import load_ruleset

GROUPS = [f"{a}-{a + 4}" for a in range(0, 85, 5)] + ["85+"]
INDEX_DIGITS = {"whipple": 1, "whipple_digit0": 1, "myers": 1, "sex_ratio": 1, "un_age_sex_accuracy": 1}


@pytest.fixture(scope="module")
def store(pipeline_store):
    folder, url = pipeline_store
    return folder, make_engine(url)


def _stored_check(engine, run_id: int) -> tuple[dict, dict]:
    with engine.connect() as conn:
        row = conn.execute(select(Run.params, Run.summary).where(Run.id == run_id)).one()
    return json.loads(row.params), json.loads(row.summary)


def _flags_per_rule(engine, run_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Flag.rule_id, func.count()).where(Flag.run_id == run_id)
                            .group_by(Flag.rule_id)).all()
    return {r: n for r, n in rows}


def _pyramid_sql(engine, source: str) -> tuple[int, dict[tuple[str, str], int]]:
    """(persons with a valid age and sex, counts by (group, sex)) by plain SQL."""
    sql = text("select sex, case when age >= 85 then 17 else age / 5 end as g, count(*) from persons "
               "where source = :s and age >= 0 and sex in ('1', '2') group by sex, g")
    with engine.connect() as conn:
        rows = conn.execute(sql, {"s": source}).all()
    counts = {(GROUPS[int(g)], "male" if sex == "1" else "female"): n for sex, g, n in rows}
    return sum(counts.values()), counts


def _expected(engine, run_id: int) -> dict[str, tuple[float | int, str]]:
    exp: dict[str, tuple[float | int, str]] = {}

    def put(key, value, kind="pct", digits=None):
        if value is not None:
            exp[key] = (value, shown(value, kind, digits))

    params, summary = _stored_check(engine, run_id)
    per_rule = summary["per_rule"]
    flags = _flags_per_rule(engine, run_id)
    # every rule's failures are its flags of that run, one per failing record or household
    assert {r["id"]: r["fails"] for r in per_rule if r["fails"]} == flags
    total = sum(flags.values())
    for r in per_rule:
        checked = r["passes"] + r["fails"]
        assert r["fails"] == flags.get(r["id"], 0)
        put(f"rule.{r['id']}.records", r["items"], "num")
        put(f"rule.{r['id']}.checked", checked, "num")
        put(f"rule.{r['id']}.na", r["na"], "num")
        put(f"rule.{r['id']}.fails", r["fails"], "num")
        put(f"rule.{r['id']}.rate", r["fails"] / checked if checked else None)
    top = sorted((r for r in per_rule if r["fails"]),
                 key=lambda r: (-r["fails"], -r["fails"] / (r["passes"] + r["fails"]), r["id"]))[:15]
    for r in top:
        put(f"rule.{r['id']}.share", r["fails"] / total, "pct", 1)
    for k in ("persons", "households", "deaths", "flags"):
        put(f"summary.{k}", summary[k], "num")
    assert summary["flags"] == total
    put("summary.rules", len(per_rule), "num")
    put("summary.rules_failing", len(flags), "num")
    for sev in ("error", "warning", "info"):
        put(f"summary.fails.{sev}", summary["fails_by_severity"][sev], "num")

    figs = flag_figures(engine, "township", run_id)
    for k in ("persons", "flagged", "flags"):
        put(f"townships.overall.{k}", figs.overall[k], "num")
    put("townships.overall.flag_rate", figs.overall["flag_rate"])
    for u in figs.rows:
        for k in ("persons", "flagged", "flags"):
            put(f"township.{u['unit']}.{k}", u[k], "num")
        for k in ("flag_rate", "flag_upper_95", "flag_upper_99_8"):
            put(f"township.{u['unit']}.{k}", u[k])

    census = quality_indices(engine, "census", by="township")
    pes = quality_indices(engine, "pes")
    for prefix, block in [("quality.census", census["overall"]), ("quality.pes", pes["overall"])] + [
            (f"quality.township.{g['key'] or 'none'}", g) for g in census["groups"]]:
        put(f"{prefix}.persons", block["persons"], "num")
        for name, digits in INDEX_DIGITS.items():
            put(f"{prefix}.{name}", block[name]["value"], "num", digits)

    for source, q in (("census", census), ("pes", pes)):
        used, counts = _pyramid_sql(engine, source)
        put(f"pyramid.{source}.used", used, "num")
        for g in GROUPS:
            for sex in ("male", "female"):
                put(f"pyramid.{source}.{g}.{sex}", counts.get((g, sex), 0) / used)
        for row in q["overall"]["sex_ratio"]["by_age"]:
            put(f"sex_ratio.{source}.{row['group']}", row["ratio"], "num", 1)
    return exp


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_figure_is_shown_exactly(store, tmp_path, lang):
    folder, engine = store
    run_id = latest_run(engine, "check", "census")
    issued = issue(engine, "rules", tmp_path, lang=lang, operator="test.sup")
    html = issued.path.read_text("utf-8")
    figs = report_figures(html)
    expected = _expected(engine, run_id)
    assert len(expected) > 400
    missing = sorted(set(expected) - set(figs))
    assert not missing, missing[:10]
    for key, (value, txt) in expected.items():
        got_value, got_text = figs[key]
        assert got_value == value and got_text == txt, (key, figs[key], value, txt)
    assert set(figs) == set(expected), sorted(set(figs) ^ set(expected))[:10]
    # provenance, descriptions of the rule set the run checked, the four parts and their charts
    assert f'data-run="check">{run_id}<' in html
    ruleset = load_ruleset()
    assert ruleset.rule("V01").description[lang] in html
    for section in ("top", "per-rule", "townships", "quality", "pyramid"):
        assert f'<section id="{section}">' in html
    assert html.count('<svg class="chart"') == 3
    assert history(engine, limit=1, command="report")[0]["params"]["runs"] == {"check": run_id}
    # privacy: no census name or ID number appears
    with open(folder / "data" / "census" / "persons.csv", encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    assert people
    leaked = [p["name"] for p in people if len(p["name"]) >= 2 and p["name"] in html]
    leaked += [p["id_number"] for p in people if p["id_number"] and p["id_number"] in html]
    assert not leaked, leaked[:3]


def test_old_run_and_other_rule_set(store, tmp_path):
    """A run without per-rule counts asks for a new check; a run of another rule set version
    is shown by rule id, without descriptions that may not match what was tested."""
    folder, _ = store
    shutil.copy(folder / "census_audit.db", tmp_path / "x.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    run_id = latest_run(engine, "check", "census")
    params, summary = _stored_check(engine, run_id)
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(
            params=json.dumps({**params, "ruleset_hash": "0" * 64})))
    html, ctx = build(engine, "rules", lang="en", operator="t")
    assert not ctx["ruleset"]["described"] and "bundled one" in html
    assert load_ruleset().rule("V01").description["en"] not in html
    assert report_figures(html)["rule.V01.records"][0] == summary["per_rule"][0]["items"]
    old = {k: v for k, v in summary.items() if k != "per_rule"}
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(summary=json.dumps(old)))
    with pytest.raises(ReportError, match="census-audit check"):
        build(engine, "rules", lang="zh", operator="t")
    # a run that is not a census check
    with engine.connect() as conn:
        other = conn.execute(select(Run.id).where(Run.kind != "check")).scalars().first()
    with pytest.raises(ReportError, match="not a finished census check"):
        build(engine, "rules", lang="zh", operator="t", options={"run_id": other})
    engine.dispose()


def test_no_check_run_is_a_clear_error(engine, tmp_path):
    with pytest.raises(ReportError, match="census-audit check"):
        issue(engine, "rules", tmp_path / "out", operator="t")
    assert not (tmp_path / "out").exists() and history(engine, command="report") == []


def test_cli_rules_report(store, tmp_path):
    _, engine = store
    r = CliRunner().invoke(cli, ["--db", str(engine.url), "--operator", "demo", "report", "rules", "--out",
                                 str(tmp_path), "--lang", "en", "--json"])
    assert r.exit_code == 0, r.output
    path = json.loads(r.stdout)["path"]
    assert path.endswith("rules.en.html") and "Annex: results by rule" in open(path, encoding="utf-8").read()
