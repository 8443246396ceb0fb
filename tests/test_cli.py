"""The command line: exit codes, one-line errors, JSON, operator attribution."""

from __future__ import annotations

import json

from click.testing import CliRunner
from helpers import csv_bytes, person_rows

from audit_engine.cli.main import cli
from audit_engine.store.migrate import head_revision


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_init_load_status_verify(db_url, tmp_path):
    r = run("--db", db_url, "--operator", "admin", "init", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["schema"] == head_revision()
    r = run("--db", db_url, "--operator", "admin", "init")
    assert r.exit_code == 0 and "already current" in r.output
    p = tmp_path / "persons.csv"
    rows = person_rows(10)
    rows[2]["sex"] = "x"
    p.write_bytes(csv_bytes(rows))
    r = run("--db", db_url, "load", "census", str(p), env={"CENSUS_AUDIT_OPERATOR": "li.qc"})
    assert r.exit_code == 0, r.output
    assert "9 loaded, 1 quarantined" in r.output and "persons.csv, line 4, field sex" in r.output
    r = run("--db", db_url, "status", "--json")
    data = json.loads(r.output)
    assert data["persons"] == {"census": 9} and data["quarantined"] == {"unknown_code": 1}
    r = run("--db", db_url, "ledger", "history", "--json")
    entries = json.loads(r.output)["entries"]
    assert [e["operator"] for e in entries] == ["li.qc", "admin"]
    r = run("--db", db_url, "ledger", "verify", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True and json.loads(r.output)["entries"] == 2


def test_errors_are_one_line_with_exit_2(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    r = CliRunner().invoke(cli, ["--db", db, "load", "census", __file__], env={"CENSUS_AUDIT_OPERATOR": "x"})
    assert r.exit_code == 2 and "census-audit init" in r.output            # store not initialised
    assert "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["--db", db, "init"], env={"CENSUS_AUDIT_OPERATOR": ""})
    assert r.exit_code == 2 and "--operator" in r.output                   # nobody to attribute it to
    run("--db", db, "--operator", "a", "init")
    bad = tmp_path / "bad.txt"
    bad.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", db, "--operator", "a", "load", "census", str(bad)])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and r.output.startswith("error: bad.txt, line 1 (header)")
    r = CliRunner().invoke(cli, ["--db", db, "--operator", "a", "load", "census", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2
    r = CliRunner().invoke(cli, ["--db", db, "--operator", "a", "load", "census", str(bad), "--kind", "bogus"])
    assert r.exit_code == 2


def test_verify_fails_with_exit_1_after_tampering(tmp_path):
    from sqlalchemy import text

    from audit_engine.store import make_engine

    db = f"sqlite:///{tmp_path / 's.db'}"
    run("--db", db, "--operator", "a", "init")
    p = tmp_path / "persons.csv"
    p.write_bytes(csv_bytes(person_rows(3)))
    run("--db", db, "--operator", "a", "load", "census", str(p))
    with make_engine(db).begin() as c:
        c.execute(text("update ledger set operator = 'b' where seq = 1"))
    r = CliRunner().invoke(cli, ["--db", db, "ledger", "verify"])
    assert r.exit_code == 1 and "LEDGER BROKEN at entry 1" in r.output


def test_every_command_has_help_with_examples():
    def walk(group, path):
        for name, cmd in group.commands.items():
            yield [*path, name], cmd
            if hasattr(cmd, "commands"):
                yield from walk(cmd, [*path, name])

    for path, _cmd in walk(cli, []):
        r = run(*path, "--help")
        assert r.exit_code == 0 and "Example" in r.output, path
