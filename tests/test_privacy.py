"""Privacy: pseudonymous keys, masked and scoped flag exports, pseudonymous linkage exports, and
a scan of everything the demo writes for personal data of the synthetic county."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import COUNTY_FILES, load_county
from sqlalchemy import func, select

from audit_engine.access.operators import Refused, add_operator
from audit_engine.access.pseudonym import (
    SECRET_ENV,
    SecretError,
    office_secret,
    pseudonymise_id,
    pseudonymise_ids,
    pseudonymise_person_keys,
)
from audit_engine.exports.flags import export_flags, mask_values
from audit_engine.exports.links import export_links
from audit_engine.store.models import Flag, LedgerEntry, LinkPair

SECRET = "s" * 16 + "0123456789abcdef"   # 32 characters
OTHER = "another office secret, long enough!"

FILES = COUNTY_FILES

# excluded from the scan: where personal data lives by design (and decision reason texts)
PERSONAL_TABLES = {"persons", "deaths", "quarantine", "person_versions", "decisions", "register_persons"}


# ---------------------------------------------------------------- personal data of a county

class PersonalData:
    """The full names (≥ 2 characters) and ID numbers of a synthetic county, and a fast scan for them.

    Names are looked up among the substrings of each run of CJK characters, ID numbers among
    the 15/18-character windows of each alphanumeric run (upper-cased: x and X are one digit),
    anything else by plain search — so a scan of megabytes takes well under a second."""

    CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff·]+")
    ALNUM = re.compile(r"[0-9A-Z]+")

    def __init__(self, names, ids) -> None:
        names = {str(n) for n in names if isinstance(n, str) and len(n) >= 2}
        ids = {str(i).strip().upper() for i in ids if isinstance(i, str) and i.strip()}
        self.names = {n for n in names if self.CJK.fullmatch(n)}
        self.ids = {i for i in ids if self.ALNUM.fullmatch(i)}
        self.other = (names - self.names) | (ids - self.ids)
        self.name_lengths = sorted({len(n) for n in self.names})
        self.id_lengths = sorted({len(i) for i in self.ids})

    @classmethod
    def of_county(cls, folder: Path) -> PersonalData:
        names, ids = [], []
        for rel in ("census/persons.csv", "pes/persons.csv", "census/deaths.csv", "register/register.csv"):
            if not (folder / rel).exists():
                continue
            f = pd.read_csv(folder / rel, dtype=str, keep_default_na=False)
            names += f["name"].tolist()
            if "id_number" in f:
                ids += f["id_number"].tolist()
        return cls(names, ids)

    def found(self, text: str) -> set[str]:
        hits: set[str] = set()
        for m in self.CJK.finditer(text):
            run = m.group()
            for n in self.name_lengths:
                hits.update(s for s in (run[i:i + n] for i in range(len(run) - n + 1)) if s in self.names)
        for m in self.ALNUM.finditer(text.upper()):
            run = m.group()
            for n in self.id_lengths:
                hits.update(s for s in (run[i:i + n] for i in range(len(run) - n + 1)) if s in self.ids)
        hits.update(o for o in self.other if o in text)
        return hits


# ---------------------------------------------------------------- pseudonyms

def test_hmac_keys_stable_normalised_and_secret_dependent():
    a = pseudonymise_id("32010119800101123X", SECRET)
    assert a == pseudonymise_id(" 32010119800101123x ", SECRET) == pseudonymise_id("32010119800101123X", SECRET)
    assert re.fullmatch(r"[0-9a-f]{64}", a)
    assert a != pseudonymise_id("32010119800101123X", OTHER)
    assert "32010119800101123X" not in a
    s = pd.Series([" 32010119800101123x", "32010119800101123X", None, "", "320101198001011234"], index=[5, 6, 7, 8, 9])
    p = pseudonymise_ids(s, SECRET)
    assert list(p.index) == [5, 6, 7, 8, 9]
    assert p[5] == p[6] == a and p[7] is None and p[8] is None and p[9] not in (None, a)
    assert pseudonymise_id(None, SECRET) is None and pseudonymise_id("  ", SECRET) is None
    # person keys: per source, and never equal to an ID number's pseudonym
    k = pseudonymise_person_keys(pd.Series(["32010119800101123X", "P1"]), "census", SECRET)
    assert k[0] != a and k[0] != pseudonymise_person_keys(pd.Series(["32010119800101123X"]), "pes", SECRET)[0]
    assert k.tolist() == pseudonymise_person_keys(pd.Series(["32010119800101123X", "P1"]), "census", SECRET).tolist()


def test_secret_from_environment_missing_or_short(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(SecretError, match=SECRET_ENV):
        pseudonymise_id("32010119800101123X")
    with pytest.raises(SecretError, match=SECRET_ENV):
        pseudonymise_ids(pd.Series(["1"]))
    monkeypatch.setenv(SECRET_ENV, "too short")
    with pytest.raises(SecretError, match=rf"{SECRET_ENV}.*32"):
        office_secret()
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert pseudonymise_id("32010119800101123X") == pseudonymise_id("32010119800101123X", SECRET)


def test_mask_values_masks_personal_fields():
    v = mask_values(json.dumps({"name": "李月慧", "id_number": "320831198405186165", "age": 36, "sex": None},
                               ensure_ascii=False))
    d = json.loads(v)
    assert d == {"name": "李**", "id_number": "3208**********6165", "age": 36, "sex": None}


# ---------------------------------------------------------------- exports over a loaded, checked county

@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("county_privacy")
    generate(SynthConfig(persons=2000, seed=13), out)
    return out


@pytest.fixture
def checked(engine, county):
    from rules.check import run_check
    from rules.ruleset import load_ruleset

    load_county(engine, county, FILES, operator="test.loader")
    run_check(engine, load_ruleset(), operator="t")
    return engine


def _township_with_flags(engine) -> str:
    with engine.connect() as conn:
        eas = [r[0] for r in conn.execute(select(Flag.ea_code).where(Flag.ea_code.is_not(None)).distinct())]
    townships = sorted({ea[:9] for ea in eas})
    assert len(townships) >= 2, "the test county needs flags in two townships"
    return townships[0]


def test_flag_export_holds_only_the_officers_scope_masked(checked, county, tmp_path):
    engine = checked
    town = _township_with_flags(engine)
    add_operator(engine, "boot", "admin.li", "admin")
    add_operator(engine, "admin.li", "qc.zhang", "qc", [town])
    add_operator(engine, "admin.li", "lead.zhao", "leadership")
    with engine.connect() as conn:
        in_scope = conn.execute(select(func.count()).select_from(Flag).where(Flag.ea_code.like(f"{town}%"))).scalar()
        total = conn.execute(select(func.count()).select_from(Flag)).scalar()
        n_personal = conn.execute(select(func.count()).select_from(Flag).where(
            Flag.ea_code.like(f"{town}%"), Flag.fields.contains('"id_number"'))).scalar()
    assert 0 < in_scope < total and n_personal > 0
    pdata = PersonalData.of_county(county)

    s = export_flags(engine, "qc.zhang", tmp_path / "flags.csv")
    raw = (tmp_path / "flags.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and s.rows == in_scope
    csv = pd.read_csv(tmp_path / "flags.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert len(csv) == in_scope and csv["ea_code"].str.startswith(town).all()
    assert not pdata.found(raw.decode("utf-8-sig"))
    assert csv["values"].str.contains(r"\*\*\*\*").any()  # masked ID numbers are there, as masks

    s = export_flags(engine, "qc.zhang", tmp_path / "flags.xlsx")
    xl = pd.read_excel(tmp_path / "flags.xlsx", dtype=str, keep_default_na=False)
    assert s.rows == len(xl) == in_scope and xl["ea_code"].str.startswith(town).all()
    assert not pdata.found(xl.to_csv(index=False))

    with engine.connect() as conn:
        entries = conn.execute(select(LedgerEntry).where(LedgerEntry.command == "export flags")).all()
    assert len(entries) == 2 and json.loads(entries[0].result)["rows"] == in_scope

    # leadership never exports records; the refusal is in the ledger, the file is not written
    with pytest.raises(Refused):
        export_flags(engine, "lead.zhao", tmp_path / "lead.csv")
    assert not (tmp_path / "lead.csv").exists()
    with engine.connect() as conn:
        last = conn.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).one()
    assert last.command == "refused" and last.operator == "lead.zhao"
    assert json.loads(last.params)["action"] == "review.read"
    # the ledger holds ids and hashes, no personal data
    with engine.connect() as conn:
        ledger_text = " ".join(f"{e.params} {e.inputs} {e.result}" for e in conn.execute(select(LedgerEntry)))
    assert not pdata.found(ledger_text)


def test_flag_export_refused_in_open_mode_and_via_cli(checked, tmp_path):
    engine = checked
    with pytest.raises(Refused):
        export_flags(engine, "anyone", tmp_path / "f.csv")
    url = engine.url.render_as_string(hide_password=False)
    from audit_engine.cli.export import export

    r = CliRunner().invoke(export, ["flags", "--out", str(tmp_path / "f.csv")],
                           obj=_app(url, "anyone"))
    assert r.exit_code == 2 and "refused" in r.output and not (tmp_path / "f.csv").exists()
    r = CliRunner().invoke(export, ["flags", "--out", str(tmp_path / "f.txt")], obj=_app(url, "anyone"))
    assert r.exit_code == 2 and ".csv or .xlsx" in r.output
    with engine.connect() as conn:
        cmds = [e.command for e in conn.execute(select(LedgerEntry).order_by(LedgerEntry.seq))]
    assert cmds[-2:] == ["refused", "refused"]


def _app(url: str, operator: str):
    from audit_engine.cli.context import AppContext

    return AppContext(db=url, operator_opt=operator, debug=False)


def test_links_export_is_pseudonymous(checked, county, tmp_path, monkeypatch):
    from audit_engine.pes.duplicates import run_link_duplicates

    engine = checked
    dup = run_link_duplicates(engine, "test.sup")
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(LinkPair).where(LinkPair.run_id == dup.run_id)).scalar()
        keys = {k for r in conn.execute(select(LinkPair.left_key, LinkPair.right_key)) for k in r}
    assert n > 0
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(SecretError, match=SECRET_ENV):
        export_links(engine, "test.sup", dup.run_id, tmp_path / "pairs.csv")
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with pytest.raises(ValueError, match="link"):
        export_links(engine, "test.sup", 1, tmp_path / "pairs.csv")   # run 1 is a load

    from audit_engine.cli.export import export

    url = engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(export, ["links", "--run", str(dup.run_id), "--out", str(tmp_path / "pairs.csv"), "--json"],
                           obj=_app(url, "test.sup"))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == n
    text = (tmp_path / "pairs.csv").read_text("utf-8-sig")
    df = pd.read_csv(tmp_path / "pairs.csv", dtype=str, keep_default_na=False)
    assert len(df) == n and {"left_pid", "right_pid", "left_id_hmac", "right_id_hmac"} <= set(df.columns)
    assert not ({"left_key", "right_key", "id_number"} & set(df.columns))
    assert df["left_pid"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert (df["left_id_hmac"] != "").any()
    assert not PersonalData.of_county(county).found(text)
    assert not any(k in text for k in keys)
    # same secret, same pseudonyms; another secret, others
    again = export_links(engine, "test.sup", dup.run_id, tmp_path / "again.csv")
    assert again.sha256 == json.loads(r.stdout)["sha256"]
    other = export_links(engine, "test.sup", dup.run_id, tmp_path / "other.csv", secret=OTHER)
    assert other.sha256 != again.sha256
    # an ID number's pseudonym in the export is the one the office computes for it
    persons = pd.read_csv(county / "census/persons.csv", dtype=str, keep_default_na=False)
    ids = set(pseudonymise_ids(persons["id_number"], SECRET).dropna())
    assert set(df["left_id_hmac"].replace("", pd.NA).dropna()) <= ids

    # leadership may not export linkage; refused and ledgered
    add_operator(engine, "boot", "admin.li", "admin")
    add_operator(engine, "admin.li", "lead.zhao", "leadership")
    with pytest.raises(Refused):
        export_links(engine, "lead.zhao", dup.run_id, tmp_path / "lead.csv")
    with engine.connect() as conn:
        last = conn.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).one()
    assert last.command == "refused" and json.loads(last.params)["action"] == "run"


# ---------------------------------------------------------------- the demo, scanned

def test_demo_writes_no_personal_data_outside_the_personal_tables(tmp_path):
    from audit_engine.cli.main import cli

    out = tmp_path / "demo"
    r = CliRunner().invoke(cli, ["demo", "--persons", "3000", "--seed", "11", "--out", str(out), "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0
    pdata = PersonalData.of_county(out / "data")
    assert len(pdata.ids) > 2500 and len(pdata.names) > 2000  # PES persons are mostly census persons too
    leaks: dict[str, set[str]] = {}

    def scan(where: str, text: str) -> None:
        hits = pdata.found(text)
        if hits:
            leaks[where] = hits

    scan("stdout", r.stdout)
    db = out / "census_audit.db"
    for f in sorted(out.rglob("*")):
        if f.is_dir() or f.relative_to(out).parts[0] == "data" or f.name.startswith(db.name):
            continue
        scan(str(f.relative_to(out)), f.read_bytes().decode("utf-8", errors="replace"))
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("select name from sqlite_master where type = 'table'")]
        assert {"persons", "flags", "ledger", "link_pairs"} <= set(tables)
        for t in tables:
            if t in PERSONAL_TABLES:
                continue
            cur = conn.execute(f'select * from "{t}"')
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            for j, c in enumerate(cols):
                scan(f"{t}.{c}", "\n".join("" if row[j] is None else str(row[j]) for row in rows))
    report = {w: sorted(h)[:3] + ([f"... {len(h)} in all"] if len(h) > 3 else []) for w, h in leaks.items()}
    assert not leaks, f"personal data found: {report}"
