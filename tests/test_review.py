"""Review workflow, roles and scopes, on SQLite and PostgreSQL: officers see and decide only in
their scope, leadership never sees a record, refusals are ledgered, decisions are written once
(also by two processes at the same moment), corrections keep the old value, four-eyes checks
agree or are listed, and the ledger stays verifiable."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import CENSUS_FILES, load_county
from sqlalchemy import select, text

from audit_engine.access.operators import Refused, add_operator, disable_operator
from audit_engine.ledger import verify
from audit_engine.review.history import record_history
from audit_engine.review.items import AlreadyDecided, ReviewError
from audit_engine.review.queue import decide_item, four_eyes, list_items, next_item, show_item
from audit_engine.store import make_engine
from audit_engine.store.models import Flag, LedgerEntry, Person
from rules.check import run_check
from rules.ruleset import load_ruleset

FILES = CENSUS_FILES


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("review_county")
    generate(SynthConfig(persons=4_000, seed=13), out)
    return out


@pytest.fixture
def store(engine, county):
    load_county(engine, county, FILES, operator="loader")
    run_check(engine, load_ruleset(), operator="sup")
    with engine.connect() as conn:
        flags = pd.read_sql(select(Flag.id, Flag.ea_code, Flag.scope).where(Flag.scope == "person"), conn)
    flags["township"] = flags["ea_code"].str[:9]
    towns = flags["township"].value_counts().index.tolist()
    assert len(towns) >= 2, "the county needs flags in two townships"
    t1, t2 = towns[0], towns[1]
    add_operator(engine, "root", "admin.chen", "admin")
    add_operator(engine, "admin.chen", "li.qc", "qc", [t1])
    add_operator(engine, "admin.chen", "zhao.qc", "qc", [t1])
    add_operator(engine, "admin.chen", "sun.qc", "qc", [t2])
    add_operator(engine, "admin.chen", "boss", "leadership")
    add_operator(engine, "admin.chen", "sup.wang", "supervision")
    f1 = flags[flags["township"] == t1]
    return engine, t1, t2, f1


def _refusals(engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(LedgerEntry.seq).where(LedgerEntry.command == "refused")).all())


def test_review_is_refused_in_open_mode(engine, county):
    load_county(engine, county, FILES[:4], operator="loader")
    with pytest.raises(Refused, match="no operators"):
        list_items(engine, "anyone")
    assert _refusals(engine) == 1
    with pytest.raises(ValueError, match="first operator"):
        add_operator(engine, "x", "li.qc", "qc", ["320831001"])
    with pytest.raises(ValueError, match="needs a scope"):
        add_operator(engine, "x", "admin.chen", "qc")


def test_scope_and_roles(store):
    engine, t1, t2, f1 = store
    before = _refusals(engine)
    mine = list_items(engine, "li.qc", limit=10_000)
    assert len(mine) and mine["ea_code"].str.startswith(t1).all()
    theirs = list_items(engine, "sun.qc", limit=10_000)
    assert not theirs["ea_code"].str.startswith(t1).any()
    ref = f"F{int(f1['id'].iat[0])}"
    with pytest.raises(Refused, match="outside the scope"):
        show_item(engine, "sun.qc", ref)
    with pytest.raises(Refused, match="outside the scope"):
        decide_item(engine, "sun.qc", ref, "false_alarm", "not mine")
    for who in ("boss", "sup.wang", "admin.chen"):          # no record for leadership, supervision, admin
        with pytest.raises(Refused, match="may not"):
            show_item(engine, who, ref)
        with pytest.raises(Refused, match="may not"):
            list_items(engine, who)
    with pytest.raises(Refused, match="may not"):
        record_history(engine, "boss", _record_of(engine, ref))
    disable_operator(engine, "admin.chen", "zhao.qc")
    with pytest.raises(Refused, match="disabled"):
        list_items(engine, "zhao.qc")
    with pytest.raises(Refused, match="not a registered"):
        list_items(engine, "stranger")
    with pytest.raises(Refused, match="may not"):
        add_operator(engine, "li.qc", "x.qc", "qc", [t1])
    assert _refusals(engine) - before == 12
    # the officer in scope sees the record unmasked
    shown = show_item(engine, "li.qc", ref)
    assert shown["records"] and shown["records"][0]["person_key"] == _record_of(engine, ref)
    assert shown["detail"]["rule"]


def _record_of(engine, ref: str) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Flag.record_key).where(Flag.id == int(ref[1:]))).scalar()


def test_decide_correct_four_eyes_and_history(store):
    engine, t1, _t2, f1 = store
    ref = next_item(engine, "li.qc")
    assert ref and ref.startswith("F")
    key = _record_of(engine, ref)
    with engine.connect() as conn:
        age_before = conn.execute(select(Person.age).where(Person.source == "census", Person.person_key == key)).scalar()
    with pytest.raises(ReviewError, match="reason"):
        decide_item(engine, "li.qc", ref, "confirmed", " ")
    with pytest.raises(ReviewError, match="takes"):
        decide_item(engine, "li.qc", ref, "match", "wrong vocabulary")
    with pytest.raises(ReviewError, match="cannot correct"):
        decide_item(engine, "li.qc", ref, "confirmed", "x", corrections={"enumerator_id": "E9"})
    r = decide_item(engine, "li.qc", ref, "confirmed", "household register checked", corrections={"age": 41},
                    four_eyes=1.0)
    assert r["stage"] == "first" and r["four_eyes"] and r["correction"]["version"] == 2
    with engine.connect() as conn:      # the loaded value is never overwritten
        assert conn.execute(select(Person.age).where(Person.source == "census",
                                                     Person.person_key == key)).scalar() == age_before
    assert show_item(engine, "li.qc", ref)["records"][0]["age"] == 41
    # a form shown before that first decision cannot become the four-eyes check (web: stage=first)
    with pytest.raises(AlreadyDecided, match="while it was open"):
        decide_item(engine, "zhao.qc", ref, "false_alarm", "stale form", expect_stage="first")
    # the same officer cannot give the four-eyes decision; another officer in scope can
    with pytest.raises(Refused, match="another officer"):
        decide_item(engine, "li.qc", ref, "confirmed", "again")
    assert next_item(engine, "zhao.qc") == ref
    r2 = decide_item(engine, "zhao.qc", ref, "false_alarm", "second look: age was right")
    assert r2["stage"] == "second" and r2["agrees"] is False
    with pytest.raises(AlreadyDecided):
        decide_item(engine, "zhao.qc", ref, "confirmed", "third try")
    fe = four_eyes(engine)
    assert fe["checked"] == 1 and fe["agreement"] == 0.0 and fe["disagreements"][0]["item"] == ref
    # a decision without four-eyes cannot be decided again
    other = f"F{int(f1['id'].iat[-1])}"
    decide_item(engine, "li.qc", other, "false_alarm", "checked on the phone", four_eyes=0.0)
    with pytest.raises(AlreadyDecided, match="li.qc"):
        decide_item(engine, "zhao.qc", other, "confirmed", "disagree")
    h = record_history(engine, "li.qc", key)
    kinds = [e["what"] for e in h["events"]]
    assert "flag" in kinds and kinds.count("decision") >= 2 and "correction" in kinds
    assert record_history(engine, "sup.wang", key)["events"] == h["events"]
    # the ledger holds no value, name or reason, and verifies; tampering is caught
    with engine.connect() as conn:
        blob = " ".join(r[0] + r[1] for r in conn.execute(select(LedgerEntry.params, LedgerEntry.result)))
    assert "household register checked" not in blob and '"age"' not in blob
    assert verify(engine).ok
    with engine.begin() as conn:
        conn.execute(text("update ledger set result = replace(result, 'false_alarm', 'confirmed') "
                          "where command = 'review decide'"))
    assert not verify(engine).ok


def _decide_in_process(url: str, ref: str, who: str, start: float, out) -> None:
    engine = make_engine(url)
    while time.time() < start:
        time.sleep(0.001)
    try:
        decide_item(engine, who, ref, "false_alarm", f"decided by {who}", four_eyes=0.0)
        out.put((who, "ok"))
    except AlreadyDecided:
        out.put((who, "already"))
    except Exception as exc:  # noqa: BLE001 - report anything else to the test
        out.put((who, f"error {type(exc).__name__}: {exc}"))


def test_two_processes_deciding_the_same_item(store, db_url):
    engine, _t1, _t2, f1 = store
    ctx = mp.get_context("spawn")
    for k in range(3):
        ref = f"F{int(f1['id'].iat[k + 1])}"
        q = ctx.Queue()
        start = time.time() + 2.0
        procs = [ctx.Process(target=_decide_in_process, args=(db_url, ref, who, start, q)) for who in ("li.qc", "zhao.qc")]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        results = sorted(q.get(timeout=5)[1] for _ in procs)
        assert results == ["already", "ok"], results
    assert verify(engine).ok


def test_cli_checks_roles(store, db_url):
    import json

    from click.testing import CliRunner

    from audit_engine.cli.main import cli

    engine, t1, _t2, f1 = store
    run = CliRunner().invoke
    r = run(cli, ["--db", db_url, "--operator", "li.qc", "check"])
    assert r.exit_code == 2 and "may not run" in r.output
    r = run(cli, ["--db", db_url, "--operator", "boss", "review", "list"])
    assert r.exit_code == 2 and "may not" in r.output
    r = run(cli, ["--db", db_url, "--operator", "li.qc", "review", "list", "--json"])
    assert r.exit_code == 0 and all(i["ea_code"].startswith(t1) for i in json.loads(r.output)["items"])
    ref = json.loads(run(cli, ["--db", db_url, "--operator", "li.qc", "review", "next", "--json"]).output)["item"]
    r = run(cli, ["--db", db_url, "--operator", "li.qc", "review", "decide", ref, "revisit", "--reason", "field visit",
                  "--four-eyes", "0", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["decision"] == "revisit"
    assert ref in run(cli, ["--db", db_url, "--operator", "li.qc", "review", "list", "--status", "revisit"]).output
    r = run(cli, ["--db", db_url, "--operator", "li.qc", "ledger", "history", _record_of(engine, ref), "--json"])
    assert r.exit_code == 0 and any(e["what"] == "decision" for e in json.loads(r.output)["events"])
    r = run(cli, ["--db", db_url, "--operator", "boss", "quality", "--json"])
    assert r.exit_code == 0
    r = run(cli, ["--db", db_url, "--operator", "admin.chen", "operator", "list", "--json"])
    assert {o["name"] for o in json.loads(r.output)["operators"]} >= {"li.qc", "boss"}
