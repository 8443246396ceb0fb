"""The CLI's --engine switch: `check` and `link duplicates` give the same answers on either
backend through the commands a supervisor types; `lake export` / `lake info`; the errors a user
can fix (no lake) are one line and exit 2."""

from __future__ import annotations

import json

from click.testing import CliRunner
from helpers import copy_county_store
from sqlalchemy import select

from audit_engine.cli.main import cli
from audit_engine.store.models import ClusterMember, Flag, LedgerEntry


def _run(url: str, *args: str):
    return CliRunner().invoke(cli, ["--db", url, "--operator", "sup.test", *args], catch_exceptions=False)


def _copy(spark_county, folder):
    folder.mkdir()
    eng = copy_county_store(spark_county, folder)
    return eng, str(eng.url)


def test_check_and_duplicates_same_on_both_engines(spark, spark_county, tmp_path):
    _, _, lake = spark_county
    local, lurl = _copy(spark_county, tmp_path / "local")
    remote, rurl = _copy(spark_county, tmp_path / "spark")

    r1 = _run(lurl, "check", "--no-localise", "--json")
    r2 = _run(rurl, "check", "--no-localise", "--engine", "spark", "--lake", str(lake), "--json")
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    a, b = json.loads(r1.output), json.loads(r2.output)
    assert a["flags"] == b["flags"] > 0
    assert a["rules"] == b["rules"]

    def flags(eng):
        with eng.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(Flag.rule_id, Flag.record_key, Flag.values)))
    assert flags(local) == flags(remote)

    d1 = json.loads(_run(lurl, "link", "duplicates", "--json").output)
    d2 = json.loads(_run(rurl, "link", "duplicates", "--engine", "spark", "--lake", str(lake), "--json").output)
    assert (d1["clusters"], d1["pairs"], d1["extra_records"]) == (d2["clusters"], d2["pairs"], d2["extra_records"])
    assert d1["clusters"] > 0

    def members(eng):
        with eng.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(ClusterMember.person_key, ClusterMember.role)))
    assert members(local) == members(remote)
    with remote.connect() as conn:
        entries = conn.execute(select(LedgerEntry.command, LedgerEntry.params)).all()
    spark_entries = [c for c, p in entries if json.loads(p).get("engine") == "spark"]
    assert "check" in spark_entries and "link duplicates" in spark_entries


def test_lake_export_and_info(spark_county, tmp_path):
    eng, url = _copy(spark_county, tmp_path / "store")
    lake = tmp_path / "lake"
    r = _run(url, "lake", "export", "--lake", str(lake), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    with eng.connect() as conn:
        n = conn.exec_driver_sql("select count(*) from persons where source = 'census'").scalar_one()
        last = conn.execute(select(LedgerEntry.command).order_by(LedgerEntry.seq.desc())).scalars().first()
    assert out["rows"]["persons"] == n > 0 and last == "lake export"
    info = json.loads(CliRunner().invoke(cli, ["lake", "info", "--lake", str(lake), "--json"]).output)
    assert info["tables"]["census/persons"]["rows"] == n
    assert info["tables"]["census/persons"]["counties"] >= 1


def test_spark_engine_without_a_lake_is_a_clear_error(spark_county, tmp_path, monkeypatch):
    monkeypatch.delenv("CENSUS_AUDIT_LAKE", raising=False)
    _, url = _copy(spark_county, tmp_path / "store")
    r = _run(url, "check", "--engine", "spark")
    assert r.exit_code == 2 and "--engine spark needs --lake" in r.output
    r = _run(url, "link", "duplicates", "--engine", "spark", "--lake", str(tmp_path / "nowhere"))
    assert r.exit_code == 2 and "no such folder" in r.output
