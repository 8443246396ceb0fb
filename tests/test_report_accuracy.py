"""The accuracy report shows every stored estimate to the digit, traces to its runs and the
ledger, records its own hash, and holds no personal data."""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner
from helpers import report_figures, shown
from sqlalchemy import select

from audit_engine.cli.main import cli
from audit_engine.ledger import head, history
from audit_engine.store import make_engine
from audit_engine.store.models import CoverageEstimate
from audit_engine.store.runs import latest_run
from reports.accuracy import parse_previous
from reports.issue import ReportError, build, issue


@pytest.fixture(scope="module")
def store(pipeline_store):
    folder, url = pipeline_store
    return folder, make_engine(url)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_stored_estimate_is_shown_exactly(store, tmp_path, lang):
    _, engine = store
    run_id = latest_run(engine, "estimate")
    issued = issue(engine, "accuracy", tmp_path, lang=lang, operator="test.leader")
    html = issued.path.read_text("utf-8")
    figs = report_figures(html)
    with engine.connect() as conn:
        rows = conn.execute(select(CoverageEstimate.__table__).where(CoverageEstimate.run_id == run_id)).all()
    assert len(rows) > 50
    expected: dict[str, tuple[float, str]] = {}
    for r in rows:
        base = "overall" if r.level == "overall" else f"{r.level}.{r.domain}"
        kind = "num" if r.statistic == "N" else "pct"
        expected[f"{base}.{r.statistic}.value"] = (r.value, shown(r.value, kind))
        if r.statistic in ("omission", "net_undercount") or r.level == "overall":
            expected[f"{base}.{r.statistic}.ci_low"] = (r.ci_low, shown(r.ci_low, kind))
            expected[f"{base}.{r.statistic}.ci_high"] = (r.ci_high, shown(r.ci_high, kind))
    # the register vs PES hot spots (pipeline_store ran link register): villages both cover, and
    # the register's worst villages outside the sample
    from audit_engine.register.hotspots import hotspots

    hot = hotspots(engine)
    v = hot.villages
    covered = v[(v.pes_eas > 0) & (v.registered > 0)]
    for r in list(covered.itertuples()) + list(v[(v.pes_eas == 0) & (v.registered > 0)].head(10).itertuples()):
        k = f"hotspot.{r.village}"
        expected[f"{k}.registered"] = (r.registered, shown(r.registered, "num"))
        expected[f"{k}.not_enumerated"] = (r.not_enumerated, shown(r.not_enumerated, "num"))
        expected[f"{k}.register_rate"] = (r.register_rate, shown(r.register_rate))
        if r.pes_eas:
            for col in ("pes_eas", "p_persons", "omitted"):
                expected[f"{k}.{col}"] = (getattr(r, col), shown(getattr(r, col), "num"))
            expected[f"{k}.pes_rate"] = (r.pes_rate, shown(r.pes_rate))
    assert len(covered) >= 3 and hot.agreement["villages"] == len(covered)
    expected["hotspot.spearman"] = (hot.agreement["spearman"], shown(hot.agreement["spearman"], "num", 2))
    expected["hotspot.p_value"] = (hot.agreement["p_value"], shown(hot.agreement["p_value"], "num", 3))
    missing = sorted(set(expected) - set(figs))
    assert not missing, missing[:10]
    for key, (value, text) in expected.items():
        got_value, got_text = figs[key]
        assert got_value == value and got_text == text, (key, figs[key], value, text)
    # nothing is shown that is not a stored figure
    assert set(figs) == set(expected)
    # provenance: the runs and the ledger head at issue time
    assert f'data-run="estimate">{run_id}<' in html
    assert 'data-ledger-head="' in html
    # the file's hash is in the ledger entry that issued it
    sha = hashlib.sha256(issued.path.read_bytes()).hexdigest()
    entry = history(engine, limit=1, command="report")[0]
    assert entry["result"]["sha256"] == sha == issued.sha256
    assert entry["seq"] == issued.ledger_seq == head(engine)[0]
    assert entry["params"]["runs"]["estimate"] == run_id


def test_previous_census_comparison(store, tmp_path):
    _, engine = store
    prev = parse_previous(["omission=0.12%", "net_undercount=0.0012"])
    assert prev == {"omission": pytest.approx(0.0012), "net_undercount": 0.0012}
    html, ctx = build(engine, "accuracy", lang="zh", operator="t",
                      options={"previous": prev, "previous_label": "第六次人口普查"})
    figs = report_figures(html)
    om = ctx["overall"]["omission"]["value"]
    assert figs["previous.omission"] == (prev["omission"], "0.12%")
    assert figs["difference.omission"][0] == pytest.approx(om - prev["omission"])
    assert "第六次人口普查" in html and 'aria-label="' in html
    for bad in (["omission"], ["coverage=1%"], ["omission=abc"], ["omission=150%"]):
        with pytest.raises(ValueError, match="--previous"):
            parse_previous(bad)


def test_no_estimate_is_a_clear_error(engine, tmp_path):
    with pytest.raises(ReportError, match="census-audit estimate"):
        issue(engine, "accuracy", tmp_path / "out", operator="t")
    assert not (tmp_path / "out").exists() and history(engine, command="report") == []


def test_cli_issue_and_verify(store, tmp_path):
    folder, engine = store
    db = str(engine.url)
    r = CliRunner().invoke(cli, ["--db", db, "--operator", "demo", "report", "accuracy", "--out", str(tmp_path),
                                 "--lang", "en", "--previous", "omission=0.12%", "--json"])
    assert r.exit_code == 0, r.output
    path = json.loads(r.stdout)["path"]
    ok = CliRunner().invoke(cli, ["--db", db, "report", "verify", path])
    assert ok.exit_code == 0 and "issued" in ok.output
    with open(path, "a", encoding="utf-8") as f:
        f.write("<!-- edited -->")
    bad = CliRunner().invoke(cli, ["--db", db, "report", "verify", path])
    assert bad.exit_code == 1 and "NOT in the ledger" in bad.output
    # a QC officer may not issue reports (role check), and the refusal is no report
    r = CliRunner().invoke(cli, ["--db", db, "--operator", "demo.qc", "report", "accuracy", "--out",
                                 str(tmp_path / "qc")])
    assert r.exit_code != 0 and not (tmp_path / "qc").exists()
