"""The rule set on a synthetic county: it finds the planted errors, leaves clean records alone,
and `check` over the store stores exactly those failures, with a ledger entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from audit_engine.cli.main import cli
from audit_engine.io.load import load_file
from audit_engine.synth import SynthConfig, generate
from rules.check import run_check
from rules.evaluation import flagged_persons, read_synthetic, recall_by_error
from rules.ruleset import load_ruleset

DETECTABLE = ("age_heaping", "birth_month", "born_after", "duplicate", "id_digit", "id_transpose",
              "missing_education", "missing_ethnicity", "missing_id_number", "sex_error")


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("county")
    generate(SynthConfig(persons=8000, seed=21), out)
    return out


def test_flags_find_planted_errors_and_spare_clean_records(county):
    r = recall_by_error(county, load_ruleset())
    by = {row["error"]: row for row in r["by_error"]}
    for etype in DETECTABLE:
        if by.get(etype, {}).get("records"):
            assert by[etype]["recall"] >= 0.95, (etype, by[etype])
    assert r["isolated_clean_records"] > 5000
    assert r["false_flag_rate_isolated"] == 0.0
    assert r["false_flag_rate"] < 0.02


def test_check_over_the_store_matches_the_engine_and_is_recorded(engine, county):
    for rel, source in (("areas.csv", "reference"), ("census/households.csv", "census"),
                        ("census/persons.csv", "census"), ("census/deaths.csv", "census")):
        load_file(engine, county / rel, source, operator="t")
    rs = load_ruleset()
    s = run_check(engine, rs, operator="li.qc", chunk_persons=2000)   # several EA chunks
    persons, households, deaths = read_synthetic(county)
    expected = flagged_persons(rs, persons, households, deaths, severities=("error", "warning", "info"))
    with engine.connect() as c:
        rows = c.execute(text("select record_key, rule_id, scope, fields, \"values\" from flags where run_id = :r"),
                         {"r": s.run_id}).all()
        entry = c.execute(text("select command, params, inputs, result from ledger order by seq desc")).first()
    stored: dict[str, set] = {}
    for key, rule_id, scope, _fields, _values in rows:
        if scope in ("person", "dataset"):
            stored.setdefault(key, set()).add(rule_id)
    assert stored == expected
    assert s.flags == len(rows) and sum(r["fails"] for r in s.rules) == len(rows)
    assert all(r["items"] == r["passes"] + r["fails"] + r["na"] for r in s.rules)
    d01 = [json.loads(v) for k, rid, sc, f, v in rows if rid == "D01"]
    assert d01 and all(set(v) == {"id_number"} for v in d01)       # values at check time, for the reviewer
    assert entry.command == "check"
    assert json.loads(entry.inputs)["ruleset"] == rs.content_hash
    assert json.loads(entry.params)["run_id"] == s.run_id and json.loads(entry.result)["flags"] == s.flags
    # check output on the command line holds no name or ID number
    r = CliRunner().invoke(cli, ["--db", str(engine.url.render_as_string(hide_password=False)), "--operator", "x",
                                 "check", "--no-localise", "--area", "320831001"])
    assert r.exit_code == 0, r.output
    ids = set(persons.id_number.dropna())
    assert not any(i in r.output for i in ids)


def test_bad_rule_file_is_a_clear_cli_error(tmp_path, county):
    db = f"sqlite:///{tmp_path / 's.db'}"
    CliRunner().invoke(cli, ["--db", db, "--operator", "a", "init"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("ruleset: x\nrules:\n  - id: B1\n    description: {zh: 坏, en: bad}\n    test: \"__import__('os') == 1\"\n",
                   encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", db, "--operator", "a", "check", "--rules", str(bad)])
    assert r.exit_code == 2 and "bad.yaml, line 5: rule B1" in r.output and "Traceback" not in r.output


def test_check_stores_error_localisation_with_each_flag(tmp_path, county):
    from audit_engine.store import make_engine
    from audit_engine.store.migrate import upgrade
    from rules.localise import localise_failures

    engine = make_engine(f"sqlite:///{tmp_path / 'loc.db'}")
    upgrade(engine)
    for rel in ("census/households.csv", "census/persons.csv"):
        load_file(engine, county / rel, "census", operator="t")
    s = run_check(engine, load_ruleset(), operator="li.qc", localiser=localise_failures)
    with engine.connect() as c:
        rows = c.execute(text("select rule_id, scope, suggestion from flags where run_id = :r"), {"r": s.run_id}).all()
    person_rows = [r for r in rows if r.scope in ("person", "dataset")]
    assert person_rows and all(r.suggestion for r in person_rows)
    i04 = [json.loads(r.suggestion) for r in rows if r.rule_id == "I04"]
    # sex vs the ID's parity digit: one of the two is named; alone, the sex (weight 2) rather than
    # the ID (3), unless changing the sex would break other edits (a woman's fertility items)
    assert i04 and all({"sex", "id_number"} & set(sug["fields"]) for sug in i04)
    assert sum(sug["fields"] == ["sex"] for sug in i04) / len(i04) > 0.5
    assert all(sug["weight"] > 0 for sug in i04)
