"""The synthetic county: determinism, file formats, realism, and that the truth tells the truth.

Rate checks use binomial/Poisson standard errors: a realised count must fall within 4.5 SE of
its expectation (a false alarm about once in 150,000 checks), so a generator that ignores a
configured rate, or applies it twice, fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from audit_engine.codes.citizen_id import valid_mask
from audit_engine.codes.lookup import code_list
from audit_engine.io.columns import header_names
from audit_engine.synth import PES_DEFAULTS, CaptureRates, SynthConfig, generate
from audit_engine.synth import codes as C
from audit_engine.synth import names as N

LOADABLE = {
    "areas.csv": "areas", "enumerators.csv": "enumerators",
    "census/households.csv": "households", "census/persons.csv": "persons", "census/deaths.csv": "deaths",
    "pes/households.csv": "households", "pes/persons.csv": "persons",
    "listing.csv": "listing", "register/register.csv": "register",
}
TRUTH = ("truth/persons.csv", "truth/records.csv", "truth/areas.csv", "truth/enumerators.csv",
         "truth/households.csv", "truth/listing.csv", "truth/register.csv", "truth/register_classes.csv")
Z = 4.5


def _read(out: Path) -> dict[str, pd.DataFrame]:
    return {rel: pd.read_csv(out / rel, dtype=str, keep_default_na=False) for rel in (*LOADABLE, *TRUTH)}


def _within(observed: float, expected: float, n: int, p: float, what: str) -> None:
    se = math.sqrt(max(n * p * (1 - p), 1.0))
    assert abs(observed - expected) <= Z * se, f"{what}: observed {observed}, expected {expected:.1f} (se {se:.1f})"


@pytest.fixture(scope="module")
def default_county(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("default")
    manifest = generate(SynthConfig(persons=20_000, seed=11), out)
    return out, manifest, _read(out)


# elevated rates, no area effect, 10 % bad enumerators: realised rates have small relative SEs
ELEVATED = CaptureRates(
    household_omission=0.04, person_omission=0.03, infant_omission=0.15, mobile_omission=0.10,
    duplicate=0.02, died_enumerated=0.002, born_after_enumerated=0.0005, fictitious=0.003,
    id_digit=0.02, id_transpose=0.015, missing_id_number=0.02, birth_month=0.02, age_heaping=0.03,
    name_homophone=0.03, sex_error=0.02, missing_ethnicity=0.02, missing_education=0.02,
    bad_enumerator_share=0.1, bad_enumerator_factor=4.0, ea_rate_sigma=0.0,
)


@pytest.fixture(scope="module")
def elevated_county(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthConfig, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("elevated")
    cfg = SynthConfig(persons=20_000, seed=5, census=ELEVATED,
                      pes=dataclasses.replace(PES_DEFAULTS, ea_rate_sigma=0.0))
    generate(cfg, out)
    return cfg, _read(out)


# ---------------------------------------------------------------- determinism and format


def test_same_seed_gives_identical_bytes_other_seed_differs(tmp_path: Path) -> None:
    cfg = SynthConfig(persons=3_000, seed=42)
    steps: list[tuple[str, int, int]] = []
    m1 = generate(cfg, tmp_path / "a", lambda s, d, t: steps.append((s, d, t)))
    m2 = generate(cfg, tmp_path / "b")
    m3 = generate(dataclasses.replace(cfg, seed=43), tmp_path / "c")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 1 + len(LOADABLE) + len(TRUTH)
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert m1 == m2
    for rel in ("census/persons.csv", "pes/persons.csv", "truth/persons.csv", "areas.csv"):
        assert m1["files"][rel] != m3["files"][rel], rel
    # progress: named steps, monotone, ending at done == total; never personal data
    assert steps[-1][1] == steps[-1][2] and [d for _, d, _ in steps] == sorted(d for _, d, _ in steps)
    assert all(re.fullmatch(r"[a-z_]+", s) for s, _, _ in steps)


def test_headers_line_endings_and_manifest(default_county) -> None:
    out, manifest, data = default_county
    for rel, kind in LOADABLE.items():
        raw = (out / rel).read_bytes()
        assert raw.split(b"\n", 1)[0].decode("utf-8") == ",".join(header_names(kind)), rel
        assert b"\r" not in raw and raw.endswith(b"\n")
    listed = set(manifest["files"])
    present = {str(p.relative_to(out)) for p in out.rglob("*.csv")}
    assert listed == present
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    on_disk = json.loads((out / "manifest.json").read_text("utf-8"))
    assert on_disk == manifest and on_disk["seed"] == 11 and on_disk["config"]["persons"] == 20_000
    assert SynthConfig.from_dict(on_disk["config"]) == SynthConfig(persons=20_000, seed=11)
    p = data["census/persons.csv"]
    assert p["age"].str.fullmatch(r"\d+").all()
    assert p["birth_ym"].str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").all()
    for col in ("children_born", "children_surviving", "births_last_year", "line_no"):
        assert p[col].str.fullmatch(r"(\d+)?").all(), col
    # every coded item is in its code list (or blank)
    for col in ("sex", "ethnicity", "relationship", "education", "industry", "occupation",
                "registration_type", "time_away", "reason_away", "marital_status"):
        codes = {"": None, **dict.fromkeys(code_list(col).codes)}
        assert set(p[col]) <= set(codes), col
    assert set(data["areas.csv"]["urban_rural"]) <= set(code_list("urban_rural").codes)


def test_config_yaml_round_trip_and_validation(tmp_path: Path) -> None:
    cfg = SynthConfig(persons=5_000, seed=3, census=dataclasses.replace(CaptureRates(), duplicate=0.01))
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True), encoding="utf-8")
    assert SynthConfig.from_yaml(path) == cfg
    path.write_text("persons: 2000\ncensus: {fictitious: 0.001}\n", encoding="utf-8")
    partial = SynthConfig.from_yaml(path)
    assert partial.persons == 2000 and partial.census.fictitious == 0.001 and partial.pes == PES_DEFAULTS
    with pytest.raises(ValueError, match="unknown synth settings: people"):
        SynthConfig.from_dict({"people": 5})
    with pytest.raises(ValueError, match="census.sex_error"):
        SynthConfig(census=dataclasses.replace(CaptureRates(), sex_error=1.5))


# ---------------------------------------------------------------- the true population


def _residents(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    t = data["truth/persons.csv"]
    return t[t["status"] == "resident"].copy()


def test_ids_unique_and_clean_census_records_valid(default_county) -> None:
    _, _, data = default_county
    t = data["truth/persons.csv"]
    with_id = t[t["id_number"] != ""]
    assert with_id["id_number"].is_unique
    assert (t.loc[t["status"] == "resident", "id_number"] != "").all()
    assert valid_mask(with_id["id_number"]).all()
    p = data["census/persons.csv"].merge(data["truth/records.csv"], on="person_id")
    assert len(p) == len(data["census/persons.csv"])
    clean = p[p["errors"] == ""]
    assert len(clean) > 0.9 * len(p)
    ids = clean["id_number"]
    assert valid_mask(ids).all()
    parity = ids.str[16].astype(int) % 2
    assert (np.where(parity == 1, C.MALE, C.FEMALE) == clean["sex"].to_numpy()).all()
    assert (ids.str[6:12] == clean["birth_ym"].str.replace("-", "")).all()
    # migrants from elsewhere mostly carry their home county's code; most locals this county's
    r = _residents(data)
    other = r[r["registration_type"] == C.REG_OTHER_COUNTY]
    assert (other["id_number"].str[:6] == other["registration_place"]).mean() > 0.8
    assert (r.loc[r["registration_type"] == C.REG_HERE, "id_number"].str[:6] == "320831").mean() > 0.8


def test_household_composition(default_county) -> None:
    _, _, data = default_county
    r = _residents(data)
    r["age_i"] = r["age"].astype(int)
    fam = r[r["household_type"] == C.FAMILY]
    heads = fam[fam["relationship"] == C.HEAD]
    assert heads["true_household_id"].is_unique
    assert set(heads["true_household_id"]) == set(fam["true_household_id"])
    head = heads.set_index("true_household_id")
    joined = fam.join(head[["sex", "age_i", "name"]], on="true_household_id", rsuffix="_head")
    spouses = joined[joined["relationship"] == C.SPOUSE]
    assert spouses["true_household_id"].is_unique
    assert (spouses["sex"] != spouses["sex_head"]).all()
    assert (abs(spouses["age_i"] - spouses["age_i_head"]) <= 15).all()
    assert (spouses["marital_status"] == C.MARRIED).all()
    kids = joined[joined["relationship"] == C.CHILD]
    assert (kids["age_i_head"] - kids["age_i"] >= 15).all()
    parents = joined[joined["relationship"] == C.PARENT]
    assert (parents["age_i"] - parents["age_i_head"] >= 15).all()
    grand = joined[joined["relationship"] == C.GRANDCHILD]
    assert (grand["age_i_head"] - grand["age_i"] >= 30).all()
    # married persons meet the legal marriage age
    married = r[r["marital_status"] == C.MARRIED]
    assert (married["age_i"] >= np.where(married["sex"] == C.MALE, 22, 20)).all()
    assert (r.loc[r["age_i"] < 15, "marital_status"] == "").all()
    # children mostly carry their father's surname
    couple_heads = head[head.index.isin(spouses["true_household_id"])]
    fathers = pd.concat([couple_heads[couple_heads["sex"] == C.MALE]["name"],
                         spouses[spouses["sex"] == C.MALE].set_index("true_household_id")["name"]])
    k = kids[kids["true_household_id"].isin(fathers.index)]
    same = k["name"].str[0].to_numpy() == fathers.loc[k["true_household_id"]].str[0].to_numpy()
    assert same.mean() > 0.8
    # collective quarters: relationship blank, about 2.5 % of persons
    coll = r[r["household_type"] == C.COLLECTIVE]
    assert (coll["relationship"] == "").all()
    assert 0.015 < len(coll) / len(r) < 0.035
    sizes = fam.groupby("true_household_id").size()
    assert 2.4 < sizes.mean() < 2.8
    assert 0.2 < (sizes == 1).mean() < 0.32


def test_age_pyramid_and_items(default_county) -> None:
    _, _, data = default_county
    r = _residents(data)
    age = r["age"].astype(int)
    assert 0.15 < (age >= 65).mean() < 0.25
    assert 0.10 < (age < 15).mean() < 0.20
    assert 38 < age.mean() < 48
    by_year = age.value_counts()
    def mean(lo: int, hi: int) -> float:
        return float(by_year.reindex(range(lo, hi + 1), fill_value=0).mean())

    assert by_year.get(0, 0) < 0.8 * mean(30, 34)                        # small recent cohorts
    assert mean(50, 59) > mean(20, 29)                                    # the 1960s bulge
    # age = completed years at 2020-11-01 from the birth year-month
    y = r["birth_ym"].str[:4].astype(int)
    m = r["birth_ym"].str[5:].astype(int)
    assert (age == 2020 - y - (m >= 11)).all()
    # education, work and fertility blank where the census does not ask
    assert (r.loc[age < 3, "education"] == "").all() and (r.loc[age >= 3, "education"] != "").all()
    assert (r.loc[age < 16, "industry"] == "").all()
    assert ((r["industry"] == "") == (r["occupation"] == "")).all()
    urban = r["ea_code"].map(data["areas.csv"].set_index("ea_code")["urban_rural"]).isin(C.URBAN_CODES)
    employed = r["industry"] != ""
    agri_rural = (r.loc[employed & ~urban, "industry"] == C.AGRICULTURE).mean()
    agri_urban = (r.loc[employed & urban, "industry"] == C.AGRICULTURE).mean()
    assert agri_rural > 2 * agri_urban
    women = (r["sex"] == C.FEMALE) & (age >= 15) & (age <= 64)
    assert (r.loc[~women, ["children_born", "children_surviving", "births_last_year"]] == "").all().all()
    w = r[women]
    born, surv, last = (w[c].astype(int) for c in ("children_born", "children_surviving", "births_last_year"))
    assert (born >= surv).all() and last.between(0, 2).all()
    with_grandchild = set(r.loc[r["relationship"] == C.GRANDCHILD, "true_household_id"])
    grandmothers = w[w["relationship"].isin([C.HEAD, C.SPOUSE]) & w["true_household_id"].isin(with_grandchild)]
    assert len(grandmothers) > 0 and (grandmothers["children_surviving"].astype(int) >= 1).all()
    infants = r[(age == 0) & (r["mother_id"] != "")].groupby("mother_id").size()
    assert (last == w["true_person_id"].map(infants).fillna(0).astype(int)).all()
    # households report their births and deaths
    h = data["truth/households.csv"].set_index("true_household_id")
    assert (h["births"].astype(int) == r[age == 0].groupby("true_household_id").size()
            .reindex(h.index, fill_value=0)).all()
    t = data["truth/persons.csv"]
    died = t[t["status"] == "died"]
    assert 0.004 < len(died) / len(r) < 0.011
    assert died["death_ym"].between("2019-11", "2020-10").all()


def test_migration_items_are_consistent(default_county) -> None:
    _, _, data = default_county
    rec = data["truth/records.csv"]
    p = data["census/persons.csv"].merge(rec[rec["source"] == "census"], on="person_id")
    p = p[p["errors"] == ""]                 # a wrong birth month may make a time band too long
    here = p["registration_type"] == C.REG_HERE
    assert (p.loc[here, "time_away"] == C.NOT_AWAY).all() and (p.loc[here, "reason_away"] == "").all()
    away = p["registration_type"].isin(C.REG_AWAY)
    assert away.mean() > 0.1
    assert p.loc[away, "time_away"].isin(C.AWAY_BANDS).all() and (p.loc[away, "reason_away"] != "").all()
    other = p["registration_type"] == C.REG_OTHER_COUNTY
    assert p.loc[other, "registration_place"].str.fullmatch(r"\d{6}").all()
    assert (p.loc[~other, "registration_place"] == "").all()
    months = (2020 - p["birth_ym"].str[:4].astype(int)) * 12 + 11 - p["birth_ym"].str[5:].astype(int)
    min_months = code_list("time_away").extra["min_months"]
    assert (p.loc[away, "time_away"].map(lambda c: int(min_months[c])) <= months[away]).all()


def test_names_and_homophone_table(default_county) -> None:
    _, _, data = default_county
    r = _residents(data)
    assert len(N.SURNAMES) >= 100 and len(N.HOMOPHONE_GROUPS) >= 40
    assert N.all_given_chars() <= set(N.HOMOPHONE_OF)
    for group in ("明铭鸣", "伟玮炜", "丽莉俐", "军君钧", "峰锋枫"):
        assert set(group) <= set(N.HOMOPHONE_OF[group[0]])
    surname = r["name"].map(lambda s: s[:2] if s[:2] in set(N.SURNAMES) else s[0])
    shares = surname.value_counts(normalize=True)
    assert shares.index[0] in ("王", "李", "张") and 0.04 < shares.iloc[0] < 0.10
    assert shares.get("王", 0) > 5 * shares.get("孔", 0)
    assert surname.nunique() >= 100
    given_len = r["name"].str.len() - surname.str.len()
    assert 0.12 < (given_len == 1).mean() < 0.22 and given_len.between(1, 2).all()


# ---------------------------------------------------------------- the enumerations


def test_truth_areas_add_up(default_county) -> None:
    _, manifest, data = default_county
    ta = data["truth/areas.csv"].set_index("ea_code").astype(int)
    r = _residents(data)
    assert ta["true_persons"].sum() == len(r) == manifest["counts"]["true_persons"]
    assert (ta["true_persons"] == r.groupby("ea_code").size().reindex(ta.index, fill_value=0)).all()
    for src in ("census", "pes"):
        rec = data[f"{src}/persons.csv"]
        assert (ta[f"{src}_records"] == rec.groupby("ea_code").size().reindex(ta.index, fill_value=0)).all()
        assert (ta[f"{src}_records"] == ta["true_persons"] - ta[f"{src}_omitted"] + ta[f"{src}_duplicates"]
                + ta[f"{src}_erroneous"]).all()
        missed = r[r[f"{src}_records"] == "0"].groupby("ea_code").size().reindex(ta.index, fill_value=0)
        assert (ta[f"{src}_omitted"] == missed).all()
        hh = data[f"{src}/households.csv"]
        assert (hh["declared_size"].astype(int).to_numpy()
                == rec.groupby("household_id").size().reindex(hh["household_id"]).to_numpy()).all()
        assert rec["person_id"].is_unique and hh["household_id"].is_unique
        assert rec["person_id"].is_monotonic_increasing
    d = data["census/deaths.csv"]
    hh = data["census/households.csv"].set_index("household_id")
    assert (hh["deaths_count"].astype(int) == d.groupby("household_id").size().reindex(hh.index, fill_value=0)).all()
    # realistic census defaults: about 1-2 % omitted, about 0.5 % duplicated (loose bands: at
    # 20,000 persons a handful of bad enumerators and the area effects make these clustered;
    # the exact rates are checked in test_realised_rates_match_configuration)
    assert 0.009 < ta["census_omitted"].sum() / len(r) < 0.022
    assert 0.002 < ta["census_duplicates"].sum() / len(r) < 0.011
    assert ta["pes_omitted"].sum() < ta["census_omitted"].sum()


def test_pes_is_separate(default_county) -> None:
    _, _, data = default_county
    c, p = data["census/persons.csv"], data["pes/persons.csv"]
    assert not set(c["person_id"]) & set(p["person_id"])
    assert not set(c["household_id"]) & set(p["household_id"])
    assert p["household_id"].str.startswith("P").all()
    enum = data["enumerators.csv"].set_index("enumerator_id")
    assert not set(c["enumerator_id"]) & set(p["enumerator_id"])
    # every record's enumerator is the one assigned to its EA
    for df in (c, p):
        ok = [ea in enum.loc[e, "ea_codes"].split(";") for e, ea in zip(df["enumerator_id"], df["ea_code"], strict=True)]
        assert all(ok)
    # the PES numbers households in its own visiting order: numbering does not follow the census
    t = data["truth/households.csv"]
    both = t[(t["census_household_id"] != "") & (t["pes_household_id"] != "")]
    same_no = (both["census_household_id"].str[-3:] == both["pes_household_id"].str[-3:]).mean()
    assert same_no < 0.2
    # the PES sees nearly everyone, independently of the census
    r = _residents(data)
    assert (r["pes_records"] == "0").mean() < (r["census_records"] == "0").mean()


def test_duplicates_are_one_person_in_two_households(default_county) -> None:
    _, _, data = default_county
    rec = data["truth/records.csv"]
    c = data["census/persons.csv"].merge(rec[rec["source"] == "census"], on="person_id")
    dups = c[c["errors"].str.contains("duplicate")]
    assert len(dups) > 50
    home = c[~c["errors"].str.contains("duplicate") & c["true_person_id"].isin(dups["true_person_id"])]
    home = home.set_index("true_person_id")
    assert set(dups["true_person_id"]) <= set(home.index)
    pair = dups.join(home, on="true_person_id", rsuffix="_home")
    assert (pair["household_id"] != pair["household_id_home"]).all()
    assert (pair["ea_code"].str[:12] != pair["ea_code_home"].str[:12]).all()       # another committee
    untouched = (pair["errors"] == "duplicate") & (pair["errors_home"] == "")
    for col in ("name", "sex", "birth_ym"):
        assert (pair.loc[untouched, col] == pair.loc[untouched, f"{col}_home"]).all(), col
    truth = _residents(data).set_index("true_person_id")
    assert truth.loc[dups["true_person_id"], "registration_type"].isin([C.REG_TOWNSHIP, C.REG_COUNTY]).all()
    assert (dups["registration_type"] == C.REG_HERE).all()


def test_item_errors_do_what_they_say(elevated_county) -> None:
    _, data = elevated_county
    rec = data["truth/records.csv"]
    c = data["census/persons.csv"].merge(rec[rec["source"] == "census"], on="person_id")
    t = data["truth/persons.csv"].set_index("true_person_id")
    c = c[c["true_person_id"] != ""].join(t, on="true_person_id", rsuffix="_true")

    def has(err: str) -> pd.Series:
        return c["errors"].str.split(";").map(lambda e: err in e)

    assert not valid_mask(c.loc[has("id_digit"), "id_number"]).any()
    tr = c[has("id_transpose")]
    assert not valid_mask(tr["id_number"]).any()
    assert (tr["id_number"].map(sorted) == tr["id_number_true"].map(sorted)).all()
    assert (c.loc[has("missing_id_number"), "id_number"] == "").all()
    bm = c[has("birth_month")]
    assert (bm["birth_ym"].str[5:] != bm["birth_ym_true"].str[5:]).all()
    ah = c[has("age_heaping")]
    assert (ah["age"].astype(int) % 5 == 0).all() and (ah["age_true"].astype(int) % 5 != 0).all()
    sx = c[has("sex_error")]
    assert (sx["sex"] != sx["sex_true"]).all()
    hp = c[has("name_homophone")]
    for got, true in zip(hp["name"], hp["name_true"], strict=True):
        diff = [(a, b) for a, b in zip(got, true, strict=True) if a != b]
        assert len(diff) == 1 and diff[0][0] in N.HOMOPHONE_OF[diff[0][1]]
    assert (c.loc[has("missing_ethnicity"), "ethnicity"] == "").all()
    assert (c.loc[has("missing_education"), "education"] == "").all()
    clean = c[c["errors"] == ""]
    for col in ("name", "id_number", "sex", "birth_ym", "ethnicity", "education"):
        assert (clean[col] == clean[f"{col}_true"]).all(), col


def test_realised_rates_match_configuration(elevated_county) -> None:
    cfg, data = elevated_county
    rates = cfg.census
    f = rates.bad_enumerator_factor
    enum = data["enumerators.csv"].merge(data["truth/enumerators.csv"], on="enumerator_id")
    census_enum = enum[enum["source"] == "census"]
    assert census_enum["bad"].astype(int).sum() == round(rates.bad_enumerator_share * len(census_enum))
    bad_ea = {ea for codes in census_enum.loc[census_enum["bad"] == "1", "ea_codes"] for ea in codes.split(";")}

    rec = data["truth/records.csv"]
    c = data["census/persons.csv"].merge(rec[rec["source"] == "census"], on="person_id")
    c = c[c["true_person_id"] != ""]
    t = data["truth/persons.csv"].set_index("true_person_id")
    c = c.join(t[["age"]], on="true_person_id", rsuffix="_true")
    c["bad"] = c["ea_code"].isin(bad_ea)
    errs = c["errors"].str.split(";")
    eligible = {
        "id_digit": c["id_number"].ne("") | errs.map(lambda e: "missing_id_number" in e),
        "age_heaping": (c["age_true"].astype(int) >= 15) & (c["age_true"].astype(int) % 5 != 0)
                       & ~errs.map(lambda e: "birth_month" in e),
        "missing_education": c["education"].ne("") | errs.map(lambda e: "missing_education" in e),
    }
    for err in ("id_digit", "id_transpose", "missing_id_number", "birth_month", "age_heaping", "name_homophone",
                "sex_error", "missing_ethnicity", "missing_education"):
        p = getattr(rates, err)
        base = eligible.get(err, eligible["id_digit"] if err.startswith(("id_", "missing_id")) else True)
        hit = errs.map(lambda e, err=err: err in e)
        for is_bad, mult in ((False, 1.0), (True, f)):
            sel = (c["bad"] == is_bad) & base
            n = int(sel.sum())
            if err == "age_heaping":                 # excluded by a birth-month error first
                q = mult * p / (1 - mult * rates.birth_month)
            else:
                q = mult * p
            _within(int(hit[sel].sum()), n * q, n, q, f"{err} ({'bad' if is_bad else 'good'})")

    # coverage: per person an omission probability by class; a household is missing when
    # omitted whole or when every member was omitted. Bad enumerators' EAs at f times the rates.
    everyone = _residents(data)
    for is_bad, mult in ((False, 1.0), (True, f)):
        r = everyone[everyone["ea_code"].isin(bad_ea) == is_bad].copy()
        what = "bad" if is_bad else "good"
        age = r["age"].astype(int)
        away = r["registration_type"].isin(C.REG_AWAY)
        infant = age <= 1
        mobile = ~infant & (age >= 18) & (age <= 35) & away
        p_person = np.where(infant, rates.infant_omission,
                            np.where(mobile, rates.mobile_omission, rates.person_omission))
        r["p"] = np.minimum(1.0, mult * p_person)
        r["missed"] = r["census_records"] == "0"
        by_hh = r.groupby("true_household_id").agg(all_missed=("missed", "all"), p_all=("p", "prod"))
        p_h = mult * rates.household_omission
        q = p_h + (1 - p_h) * by_hh["p_all"]
        _within(int(by_hh["all_missed"].sum()), q.sum(), len(by_hh), float(q.mean()), f"household omission ({what})")
        # persons in households that were found (one member found means the household was not
        # omitted; the bias from "someone else was found" is tiny), households of two or more
        size = r["true_household_id"].map(r.groupby("true_household_id").size())
        found = ~r["true_household_id"].map(by_hh["all_missed"])
        for name, sel in (("infant", infant), ("mobile", mobile), ("other", ~infant & ~mobile)):
            sel = sel & found & (size > 1)
            n = int(sel.sum())
            p = float(r.loc[sel, "p"].iloc[0])
            _within(int(r.loc[sel, "missed"].sum()), n * p, n, p, f"{name} omission ({what})")


def test_duplicate_and_erroneous_counts(elevated_county) -> None:
    cfg, data = elevated_county
    rates = cfg.census
    enum = data["enumerators.csv"].merge(data["truth/enumerators.csv"], on="enumerator_id")
    bad_ea = {ea for codes in enum.loc[(enum["source"] == "census") & (enum["bad"] == "1"), "ea_codes"]
              for ea in codes.split(";")}
    t = data["truth/persons.csv"]
    r = t[t["status"] == "resident"]
    n_true = len(r)
    rec = data["truth/records.csv"]
    rec = rec[rec["source"] == "census"]
    kinds = rec["errors"].str.split(";").str[0]
    # duplicates: eligible = enumerated at home, registration household enumerated
    th = data["truth/households.csv"].set_index("true_household_id")
    home_ok = r["registration_household_id"].map(th["census_household_id"]).fillna("") != ""
    at_home = r["census_records"].astype(int) >= 1          # a duplicate needs a record at home
    elig = r[home_ok & at_home & (r["registration_household_id"] != "")]
    mult = np.where(elig["registration_household_id"].map(th["ea_code"]).isin(bad_ea),
                    rates.bad_enumerator_factor, 1.0)
    p = rates.duplicate * n_true / len(elig) * mult
    expected = p.sum()
    _within(int((kinds == "duplicate").sum()), expected, len(elig), float(p.mean()), "duplicates")
    for kind, status, rate in (("died_before", "died", rates.died_enumerated),
                               ("born_after", "born_after", rates.born_after_enumerated)):
        pool = t[t["status"] == status]
        m = np.where(pool["ea_code"].isin(bad_ea), rates.bad_enumerator_factor, 1.0)
        q = np.clip(rate * n_true / len(pool) * m, 0, 1) * (1 - rates.household_omission * m)
        _within(int((kinds == kind).sum()), q.sum(), len(pool), float(q.mean()), kind)
    fict = rec[kinds == "fictitious"]
    assert (fict["true_person_id"] == "").all() and (rec.loc[kinds != "fictitious", "true_person_id"] != "").all()
    n_hh = len(th)
    m = np.where(th["ea_code"].isin(bad_ea), rates.bad_enumerator_factor, 1.0)
    enumerated = 1 - rates.household_omission * m
    q = rates.fictitious * n_true / enumerated.sum() * m * enumerated
    _within(len(fict), q.sum(), n_hh, float(q.mean()), "fictitious")
    # the dead enumerated as living are not also reported as deaths
    died_listed = set(rec.loc[kinds == "died_before", "true_person_id"])
    reported = t[(t["status"] == "died") & (t["census_death_reported"] == "1")]
    assert not died_listed & set(reported["true_person_id"])
