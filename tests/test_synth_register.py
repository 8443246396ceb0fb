"""The synthetic county's household-registration register (户籍) and its ground truth.

The register is what the census is compared with, and truth/register_classes.csv is what that
comparison is scored against, so these tests check that each planted situation is there at
its configured rate (within 4.5 binomial SE), that membership follows the true registration,
and that the expected classes agree with the truth they are derived from.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from audit_engine.codes.citizen_id import valid_mask
from audit_engine.io.columns import header_names
from audit_engine.io.load import load_file
from audit_engine.synth import CaptureRates, SynthConfig, generate
from audit_engine.synth import codes as C
from audit_engine.synth import names as N
from audit_engine.synth.config import RegisterRates
from audit_engine.synth.register import CLASSES

Z = 4.5
REGISTER_FILES = ("register/register.csv", "truth/register.csv", "truth/register_classes.csv")
ELEVATED = RegisterRates(moved_away=0.15, moved_out=0.05, death_uncancelled=0.3, id_digit=0.02,
                         missing_id_number=0.02, birth_month=0.02, name_homophone=0.03)


def _within(observed: float, n: int, p: float, what: str) -> None:
    se = math.sqrt(max(n * p * (1 - p), 1.0))
    assert abs(observed - n * p) <= Z * se, f"{what}: observed {observed}, expected {n * p:.1f} (se {se:.1f})"


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """20,000 persons, elevated register rates, more deaths, and more decedents enumerated as living."""
    out = tmp_path_factory.mktemp("register")
    cfg = SynthConfig(persons=20_000, seed=2020, register=ELEVATED, death_rate=0.03,
                      census=dataclasses.replace(CaptureRates(), died_enumerated=0.002))
    generate(cfg, out)
    data = {rel: _csv(out / rel) for rel in (*REGISTER_FILES, "truth/persons.csv", "truth/records.csv",
                                             "census/persons.csv")}
    return data


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(SynthConfig(persons=5_000, seed=3), out)
    return out


def _joined(county: dict) -> pd.DataFrame:
    """Register records with their truth and, where there is one, the true person."""
    reg = county["register/register.csv"].merge(county["truth/register.csv"], on="register_id", validate="1:1")
    truth = county["truth/persons.csv"].add_prefix("t_")
    return reg.merge(truth, left_on="true_person_id", right_on="t_true_person_id", how="left", validate="m:1")


# ---------------------------------------------------------------- files, determinism, loading


def test_same_seed_same_bytes_and_other_files_untouched(small: Path, tmp_path: Path) -> None:
    """The register has its own random stream: changing only its rates changes only its files."""
    again = tmp_path / "again"
    generate(SynthConfig(persons=5_000, seed=3), again)
    other = tmp_path / "other"
    generate(SynthConfig(persons=5_000, seed=3, register=ELEVATED), other)
    files = sorted(str(p.relative_to(small)) for p in small.rglob("*.csv"))
    assert set(REGISTER_FILES) <= set(files)
    for rel in files:
        assert (small / rel).read_bytes() == (again / rel).read_bytes(), rel
        same = (small / rel).read_bytes() == (other / rel).read_bytes()
        assert same == (rel not in REGISTER_FILES), rel
    raw = (small / "register/register.csv").read_bytes()
    assert raw.split(b"\n", 1)[0].decode() == ",".join(header_names("register"))
    assert b"\r" not in raw and b'"' not in raw


def test_register_loads_without_quarantine(engine, small: Path) -> None:
    rows = len(_csv(small / "register/register.csv"))
    s = load_file(engine, small / "register/register.csv", "register", operator="t")
    assert (s.kind, s.rows_loaded, s.rows_quarantined) == ("register", rows, 0)


def test_manifest_counts(small: Path) -> None:
    import json

    m = json.loads((small / "manifest.json").read_text("utf-8"))
    reg = _csv(small / "register/register.csv")
    c = m["counts"]
    assert c["register_records"] == len(reg)
    assert (c["register_registered"], c["register_moved_out"], c["register_deceased"]) == tuple(
        int((reg["status"] == s).sum()) for s in ("1", "2", "3"))
    for rel in REGISTER_FILES:
        assert rel in m["files"]


# ---------------------------------------------------------------- who is in the register, where


def test_membership_and_addresses_follow_the_true_registration(county) -> None:
    t = county["truth/persons.csv"]
    reg = _joined(county)
    assert reg["register_id"].str.fullmatch(r"R\d{8}").all() and reg["register_id"].is_unique
    assert reg["address_code"].str.fullmatch(r"320831\d{6}").all()
    true = reg[reg["true_person_id"] != ""]
    assert true["true_person_id"].is_unique
    in_county = t["registration_type"].isin([C.REG_HERE, C.REG_TOWNSHIP, C.REG_COUNTY])
    expected = set(t.loc[in_county & t["status"].isin(["resident", "died"]), "true_person_id"])
    assert set(true["true_person_id"]) == expected      # no type 4/5, no baby born after the standard time

    ea = true["t_ea_code"]
    own = true["t_registration_type"] == C.REG_HERE
    town = true["t_registration_type"] == C.REG_TOWNSHIP
    other = true["t_registration_type"] == C.REG_COUNTY
    assert (true.loc[own, "address_code"] == ea[own].str[:12]).all()
    assert (true.loc[town, "address_code"].str[:9] == ea[town].str[:9]).mean() == 1.0
    assert (true.loc[town, "address_code"] != ea[town].str[:12]).mean() > 0.99
    assert (true.loc[other, "address_code"].str[:9] != ea[other].str[:9]).all()
    # registered at a linked household: its village, and the same 户号 as that household's own members
    hh = county["truth/persons.csv"].groupby("true_household_id")["ea_code"].first()
    linked = true[true["t_registration_household_id"] != ""]
    assert len(linked) > 100
    assert (linked["address_code"] == hh[linked["t_registration_household_id"]].str[:12].to_numpy()).all()
    own_hh = true[own].groupby("t_true_household_id")["register_household"].first()
    has = linked["t_registration_household_id"].isin(own_hh.index)
    assert has.sum() > 50
    assert (linked.loc[has, "register_household"].to_numpy()
            == own_hh[linked.loc[has, "t_registration_household_id"]].to_numpy()).all()
    # one 户号 is at one address
    assert (reg.groupby("register_household")["address_code"].nunique() == 1).all()


def test_planted_situations_and_statuses(county) -> None:
    t = county["truth/persons.csv"]
    reg = _joined(county)
    residents = int((t["status"] == "resident").sum())
    sit = reg["situation"]
    _within(int((sit == "moved_away").sum()), residents, ELEVATED.moved_away, "moved_away")
    _within(int((sit == "moved_out").sum()), residents, ELEVATED.moved_out, "moved_out")
    dead = reg[sit.isin(["died_cancelled", "died_not_cancelled"])]
    counted = dead["t_census_records"] != "0"
    assert (dead.loc[counted, "situation"] == "died_cancelled").all()      # enumerated dead: always cancelled
    free = dead[~counted]
    _within(int((free["situation"] == "died_not_cancelled").sum()), len(free), ELEVATED.death_uncancelled,
            "death_uncancelled")

    status = {"resident_own_village": "1", "resident_other_village": "1", "resident_other_township": "1",
              "moved_away": "1", "died_not_cancelled": "1", "died_cancelled": "3", "moved_out": "2"}
    assert (reg["status"] == sit.map(status)).all()
    assert (reg.loc[reg["status"] == "1", "status_ym"] == "").all()
    dated = reg[reg["status"] != "1"]
    assert dated["status_ym"].str.fullmatch(r"\d{4}-\d{2}").all() and (dated["status_ym"] <= "2020-10").all()
    assert (dated.loc[dated["status"] == "2", "status_ym"] >= "2018-11").all()
    cancelled = reg[reg["status"] == "3"]
    assert (cancelled["status_ym"] >= cancelled["t_death_ym"]).all()
    assert (reg.loc[sit.str.startswith("died"), "t_status"] == "died").all()
    assert (reg.loc[sit.str.startswith("resident"), "t_status"] == "resident").all()


def test_invented_persons_look_real(county) -> None:
    t = county["truth/persons.csv"]
    reg = _joined(county)
    inv = reg[reg["true_person_id"] == ""]
    assert set(inv["situation"]) == {"moved_away", "moved_out"}
    clean = inv[inv["errors"] == ""]
    assert len(clean) > 1000 and valid_mask(clean["id_number"]).all()
    assert (clean["id_number"].str[6:12] == clean["birth_ym"].str.replace("-", "")).all()
    male = clean["id_number"].str[16].astype(int) % 2 == 1
    assert ((clean["sex"] == "1") == male).all()
    assert not clean["id_number"].isin(t["id_number"]).any() and clean["id_number"].is_unique
    assert inv["name"].str.len().between(2, 4).all()
    away_age = 2020 - inv.loc[inv["situation"] == "moved_away", "birth_ym"].str[:4].astype(int)
    assert away_age.between(0, 77).all() and away_age.between(18, 46).mean() > 0.6


def test_recording_errors_do_what_they_say(county) -> None:
    reg = _joined(county)
    n = len(reg)
    err = reg["errors"]
    for name, rate in (("id_digit", ELEVATED.id_digit), ("missing_id_number", ELEVATED.missing_id_number),
                       ("birth_month", ELEVATED.birth_month), ("name_homophone", ELEVATED.name_homophone)):
        hit = err.str.split(";").apply(lambda e, k=name: k in e)
        _within(int(hit.sum()), n, rate, name)
    true = reg[reg["true_person_id"] != ""]
    e = true["errors"]
    digit = true[e.str.contains("id_digit")]
    assert not valid_mask(digit["id_number"]).any()
    diffs = [sum(a != b for a, b in zip(x, y, strict=True)) for x, y in zip(digit["id_number"], digit["t_id_number"], strict=True)]
    assert set(diffs) == {1}
    assert (true.loc[e.str.contains("missing_id_number"), "id_number"] == "").all()
    bm = true[e.str.contains("birth_month")]
    assert (bm["birth_ym"] != bm["t_birth_ym"]).all() and (bm["birth_ym"].str[:4] == bm["t_birth_ym"].str[:4]).all()
    hom = true[e.str.contains("name_homophone")]
    changed = hom["name"] != hom["t_name"]
    assert changed.mean() > 0.9
    for a, b in zip(hom.loc[changed, "name"], hom.loc[changed, "t_name"], strict=True):
        (i,) = [k for k in range(len(a)) if a[k] != b[k]]
        assert a[i] in N.HOMOPHONE_OF[b[i]]
    clean = true[e == ""]
    for col in ("id_number", "name", "sex", "birth_ym"):
        assert (clean[col] == clean[f"t_{col}"]).all(), col


# ---------------------------------------------------------------- the expected classes


def test_classes_cover_every_record_once_and_agree_with_the_truth(county) -> None:
    cls = county["truth/register_classes.csv"]
    assert list(cls.columns) == ["record", "key", "expected"]
    assert set(cls["expected"]) <= set(CLASSES)
    census = county["census/persons.csv"]
    reg = _joined(county)
    c = cls[cls["record"] == "C"].set_index("key")["expected"]
    r = cls[cls["record"] == "R"].set_index("key")["expected"]
    assert len(c) + len(r) == len(cls)
    assert list(c.index) == list(census["person_id"]) and list(r.index) == list(reg["register_id"])

    rec = county["truth/records.csv"]
    rec = rec[rec["source"] == "census"].merge(county["truth/persons.csv"], on="true_person_id", how="left")
    rec["expected"] = c[rec["person_id"]].to_numpy()
    kind = rec["errors"].str.split(";").str[0]
    rtype = rec["registration_type"]
    living = kind.isin(["", "duplicate"])
    here = {C.REG_HERE: "registered_here", C.REG_TOWNSHIP: "registered_here", C.REG_COUNTY: "registered_elsewhere",
            C.REG_OTHER_COUNTY: "registered_elsewhere", C.REG_PENDING: "no_registration"}
    assert (rec.loc[living, "expected"] == rtype[living].map(here)).all()
    for code, want in here.items():
        assert (rec.loc[living & (rtype == code), "expected"] == want).all() and (living & (rtype == code)).any()
    assert (rec.loc[kind.isin(["fictitious", "born_after"]), "expected"] == "no_registration").all()
    dead = rec[kind == "died_before"]
    cancelled = set(reg.loc[reg["status"] == "3", "true_person_id"])
    in_county = dead["registration_type"].isin([C.REG_HERE, C.REG_TOWNSHIP, C.REG_COUNTY])
    assert in_county.sum() >= 10
    assert (dead.loc[in_county, "expected"] == "deceased_enumerated").all()
    assert dead.loc[in_county, "true_person_id"].isin(cancelled).all()
    assert (dead.loc[~in_county, "expected"] != "deceased_enumerated").all()
    # a duplicate has the class of its person's other record
    by_person = rec[living].groupby("true_person_id")["expected"].nunique()
    assert (by_person == 1).all()

    reg["expected"] = r[reg["register_id"]].to_numpy()
    counted = reg["t_census_records"].fillna("0") != "0"
    s = reg["status"]
    want = pd.Series("not_enumerated", index=reg.index)
    want[(s == "1") & counted] = "registered_here"
    want[s == "2"] = "moved_out"
    want[(s == "3") & counted] = "deceased_enumerated"
    want[(s == "3") & ~counted] = "deceased"
    assert (reg["expected"] == want).all()
    assert (reg.loc[reg["situation"] == "moved_away", "expected"] == "not_enumerated").all()
    omitted = reg["situation"].str.startswith("resident") & ~counted
    assert omitted.sum() > 50 and (reg.loc[omitted, "expected"] == "not_enumerated").all()
    assert set(r) == {"registered_here", "not_enumerated", "moved_out", "deceased", "deceased_enumerated"}
    assert (r == "deceased_enumerated").sum() == (c == "deceased_enumerated").sum()
