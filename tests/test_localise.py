"""Fellegi–Holt error localisation: known answers on hand-built records, the guarantees of the
search (minimal weight, no edit broken by the repair, the bound), and accuracy against the
errors planted in a synthetic county."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_engine.codes.citizen_id import make
from rules.engine import confront, dataset_duplicates
from rules.evaluation import read_synthetic
from rules.examples import example_base
from rules.frames import Frames, build_frames, derive
from rules.localise import Localisation, localise_failures, localise_persons
from rules.ruleset import load_ruleset

RS = load_ruleset()
BASE = example_base()
PERSON_SCOPES = ("person", "dataset")


def frames_of(people: list[dict], household: dict | None = None):
    rows = [{**BASE["person"], "record_key": f"P{i + 1}", **p} for i, p in enumerate(people)]
    persons = pd.DataFrame(rows).rename(columns={"record_key": "person_key"})
    hh = {**BASE["household"], "declared_size": len(rows), **(household or {})}
    return build_frames(persons, pd.DataFrame([hh]))


def localise(frames, **kw) -> tuple[dict, list]:
    dups = dataset_duplicates(RS, frames.persons)
    results = confront(RS, frames, dups)
    return localise_failures(RS, frames, results, dups, **kw), results


def failed_rules(results, scope_key: str, row: int = 0) -> set[str]:
    scopes = PERSON_SCOPES if scope_key == "person" else ("household",)
    return {r.rule.id for r in results if r.rule.scope in scopes and r.status[row] == 0}


# ------------------------------------------------------------------------- known answers
def test_clean_record_is_not_localised():
    loc, results = localise(frames_of([{}]))
    assert not any((r.status == 0).any() for r in results)
    assert loc == {}


def test_sex_disagreeing_with_the_id_parity_names_sex_not_the_id_number():
    # ID digit 17 is odd (male); the record says female: I04 fails, and F05 (a woman of 45
    # without children_born) too. Sex (2) fixes both; the ID number (3) would fix only I04.
    loc, results = localise(frames_of([{"sex": "2"}]))
    assert {"I04", "F05"} <= failed_rules(results, "person")
    got = loc[("person", "P1")]
    assert got.fields == ("sex",) and got.weight == 2.0 and got.exact
    assert got.example == {"sex": "1"}


def test_wrong_birth_month_names_birth_month_and_the_id_gives_the_value():
    loc, _ = localise(frames_of([{"birth_month": 6}]))
    got = loc[("person", "P1")]
    assert (got.fields, got.weight, got.exact, got.example) == (("birth_month",), 1.5, True, {"birth_month": 5})


def test_age_disagreeing_with_birth_year_month_names_age():
    loc, results = localise(frames_of([{"age": 50}]))
    assert failed_rules(results, "person") == {"V04"}
    got = loc[("person", "P1")]
    assert (got.fields, got.weight, got.example) == (("age",), 0.5, {"age": 45})


def test_a_repair_must_not_break_another_edit_so_two_fields_are_needed():
    # Born 1975-05 (as the ID says) but recorded 1975-12, and the age was derived from the wrong
    # month (44). Only I03 fails. Fixing the month alone makes the age wrong (V04), so the
    # minimal set is {birth_month, age} = 1.5 + 0.5, not {birth_month}.
    loc, results = localise(frames_of([{"birth_month": 12, "age": 44}]))
    assert failed_rules(results, "person") == {"I03"}
    got = loc[("person", "P1")]
    assert got.fields == ("age", "birth_month") and got.weight == 2.0 and got.exact
    assert got.example == {"age": 45, "birth_month": 5}


def test_young_head_needs_relationship_or_a_consistent_birth_date():
    # A 10-year-old head whose ID agrees with the recorded birth date: R01 fails. Changing the
    # birth year would break I03 (and V04), so the relationship (1.5) is the cheapest repair.
    pid = make("320831", "20100315", 123)
    child = {"id_number": pid, "birth_year": 2010, "birth_month": 3, "age": 10, "education": "3",
             "marital_status": None, "industry": None, "occupation": None}
    mother = {"relationship": "1", "sex": "2", "id_number": make("320831", "19800315", 124),
              "birth_year": 1980, "birth_month": 3, "age": 40, "children_born": 1, "children_surviving": 1,
              "births_last_year": 0}
    loc, results = localise(frames_of([child, mother]))
    assert "R01" in failed_rules(results, "person")
    got = loc[("person", "P1")]
    assert got.fields == ("relationship",) and got.weight == 1.5
    # the repaired relationship must keep the person consistent with the (unchanged) mother
    assert got.example["relationship"] not in ("0", "1")


def test_duplicated_id_number_is_localised_to_the_id_number_with_a_new_number():
    loc, results = localise(frames_of([{}, {"relationship": "2", "birth_year": 2000, "age": 20,
                                            "marital_status": "1"}]))
    got = loc[("person", "P1")]
    assert got.fields == ("id_number",) and got.weight == 3.0
    assert got.example["id_number"] != BASE["person"]["id_number"]


def test_a_set_found_within_the_size_bound_is_exact_only_if_no_larger_set_can_be_cheaper():
    # with one field allowed, the rebuilt ID number (3) is the best single field; but two fields
    # can weigh as little as 0.5 + 1, and {birth_month, age} (2.0) is in fact cheaper
    frames = frames_of([{"birth_month": 12, "age": 44}])
    dups = dataset_duplicates(RS, frames.persons)
    got = localise_persons(RS, frames, {0: [RS.rule("I03")]}, dups, max_fields=1)[("person", "P1")]
    assert got.fields == ("id_number",) and got.weight == 3.0 and not got.exact
    assert got.example == {"id_number": "320831197512151238"}


def test_no_feasible_set_within_the_bound_reports_the_cheapest_cover_not_exact():
    # sex and birth month both wrong: no single field repairs I04, I03 and F05 together
    frames = frames_of([{"sex": "2", "birth_month": 6}])
    dups = dataset_duplicates(RS, frames.persons)
    failing = {0: [RS.rule(r) for r in ("I03", "I04", "F05")]}
    got = localise_persons(RS, frames, failing, dups, max_fields=1)[("person", "P1")]
    assert (got.fields, got.weight, got.exact, got.example) == (("birth_month", "sex"), 3.5, False, {})
    exact = localise_persons(RS, frames, failing, dups)[("person", "P1")]
    assert (exact.fields, exact.weight, exact.exact) == (("birth_month", "sex"), 3.5, True)


# ------------------------------------------------------------------------- households
def test_household_with_two_heads_names_one_members_relationship():
    second = {"relationship": "0", "sex": "2", "id_number": make("320831", "19770315", 124), "birth_year": 1977,
              "birth_month": 3, "age": 43, "children_born": 1, "children_surviving": 1, "births_last_year": 0}
    loc, results = localise(frames_of([{}, second]))
    assert "H01" in failed_rules(results, "household")
    got = loc[("household", "H1")]
    assert got.weight == 1.5 and len(got.fields) == 1 and got.fields[0].startswith("relationship:")
    assert list(got.example.values())[0] != "0"


def test_declared_size_mismatch_names_declared_size_with_the_count():
    loc, _ = localise(frames_of([{}], {"declared_size": 3}))
    got = loc[("household", "H1")]
    assert (got.fields, got.weight, got.example) == (("declared_size",), 1.0, {"declared_size": 1})


def test_collective_household_listing_relationships_needs_two_members_cleared():
    # Type 2 (collective) but two members carry relationship '2': H04 fails. Calling it a family
    # household (2.0) would then lack a head (H01) and need a third change (3.5); clearing both
    # relationships costs 1.5 + 1.5 = 3.0.
    people = [{"relationship": "2", "marital_status": "1"},
              {"relationship": "2", "marital_status": "1", "id_number": make("320831", "19750515", 125)}]
    loc, _ = localise(frames_of(people, {"household_type": "2"}))
    got = loc[("household", "H1")]
    assert got.fields == ("relationship:P1", "relationship:P2") and got.weight == 3.0 and got.exact
    assert got.example == {"relationship:P1": None, "relationship:P2": None}


def test_max_records_limits_the_work():
    loc, _ = localise(frames_of([{"age": 50}, {"relationship": "2", "birth_year": 2000, "age": 30,
                                                "marital_status": "1", "id_number": make("320831", "20000515", 125)}]),
                      max_records=1)
    assert list(loc) == [("person", "P1")]


# ------------------------------------------------------------------------- synthetic county
@pytest.fixture(scope="module")
def county(tmp_path_factory):
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("county")
    generate(SynthConfig(persons=5000, seed=5), out)
    persons, households, deaths = read_synthetic(out)
    frames = build_frames(persons, households, deaths)
    dups = dataset_duplicates(RS, frames.persons)
    results = confront(RS, frames, dups)
    loc = localise_failures(RS, frames, results, dups)
    truth = pd.read_csv(out / "truth" / "records.csv", dtype=str, keep_default_na=False)
    return frames, dups, results, loc, truth[truth.source == "census"]


TRULY_WRONG = {"sex_error": {"sex"}, "birth_month": {"birth_month"}, "age_heaping": {"birth_year", "age"}}


@pytest.mark.parametrize("error, floor", [("sex_error", 0.9), ("birth_month", 0.85), ("age_heaping", 0.85)])
def test_localisation_names_the_planted_error(county, error, floor):
    _, _, _, loc, truth = county
    keys = truth.loc[truth.errors == error, "person_id"]
    got = [loc[("person", k)] for k in keys if ("person", k) in loc]
    assert len(got) >= 10, f"too few {error} records localised to measure"
    share = sum(bool(set(g.fields) & TRULY_WRONG[error]) for g in got) / len(got)
    assert share >= floor, f"{error}: {share:.2f} of {len(got)} localisations name the wrong field"


def test_every_failing_record_is_localised_and_examples_really_repair(county):
    frames, dups, results, loc, _ = county
    failing = {("person" if r.rule.scope in PERSON_SCOPES else "household", str(r.keys.iat[i]))
               for r in results if r.rule.scope != "death" for i in np.flatnonzero(r.status == 0)}
    assert set(loc) == failing
    assert all(isinstance(v, Localisation) and v.seconds >= 0 for v in loc.values())
    assert sum(v.exact for v in loc.values()) / len(loc) > 0.95
    # apply each exact person example (one localised person per household, so repairs do not
    # interact) and re-run the edits: the repaired record passes every person and dataset edit
    persons = frames.persons.copy()
    by_hh = persons.groupby("household_key")["record_key"].apply(set)
    keys = {k for (scope, k) in loc if scope == "person"}
    rows = persons.index[persons["record_key"].isin(keys)]
    solo = [i for i in rows if len(by_hh[persons.at[i, "household_key"]] & keys) == 1]
    assert len(solo) > 100
    for i in solo:
        for f, v in loc[("person", persons.at[i, "record_key"])].example.items():
            persons.at[i, f] = pd.NA if v is None else v
    after = confront(RS, Frames(derive(persons), frames.households, frames.deaths), dups)
    for r in after:
        if r.rule.scope in PERSON_SCOPES:
            assert not (r.status[solo] == 0).any(), f"{r.rule.id} still fails after the suggested repair"
