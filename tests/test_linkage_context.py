"""Household context: co-member counts by hand, and a second pass that rescues heads whose
own items were damaged, without false links."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_engine.linkage import link
from audit_engine.linkage.census import person_keys, pes_census_settings, truth_scores
from audit_engine.linkage.context import household_context, with_household_context


def test_counts_co_members_linked_across_households():
    # left: household A = 0,1,2 ; B = 3 (alone) ; right: household X = 0,1,2 ; Y = 3,4
    lh = np.array(["A", "A", "A", "B"], dtype=object)
    rh = np.array(["X", "X", "X", "Y", "Y"], dtype=object)
    link_left, link_right = np.array([1, 2, 3]), np.array([1, 2, 3])   # 0 unlinked
    pairs_left = np.array([0, 0, 1, 1, 3, 0])
    pairs_right = np.array([0, 3, 1, 0, 4, 4])
    got = household_context(pairs_left, pairs_right, lh, rh, link_left, link_right)
    # (0,0): co-members 1->1, 2->2 both into X -> 2+; (0,3): none of A linked into Y -> 0
    # (1,1): its own link does not count, 2->2 does -> 1; (1,0): 1->1 is itself into X, 2->2 -> 1
    # (3,4): household B alone -> null; (0,4): A into Y none -> 0
    assert got.tolist() == [2, 0, 1, 1, -1, 0]


def test_missing_household_code_is_a_household_of_its_own():
    lh = np.array([None, None], dtype=object)
    rh = np.array(["X", "X"], dtype=object)
    got = household_context(np.array([0, 1]), np.array([0, 1]), lh, rh, np.array([0, 1]), np.array([0, 1]))
    assert got.tolist() == [-1, -1]


@pytest.fixture(scope="module")
def small_county(tmp_path_factory):
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("ctx")
    generate(SynthConfig(persons=6_000, seed=21), out)
    pes = pd.read_csv(out / "pes" / "persons.csv", dtype=str, keep_default_na=False).replace({"": None})
    census = pd.read_csv(out / "census" / "persons.csv", dtype=str, keep_default_na=False).replace({"": None})
    truth = pd.read_csv(out / "truth" / "records.csv", dtype=str, keep_default_na=False)
    return pes, census, truth


def test_second_pass_rescues_damaged_heads_without_false_links(small_county):
    pes, census, truth = small_county
    rng = np.random.default_rng(3)
    heads = np.flatnonzero((pes["relationship"] == "0").to_numpy())
    hit = rng.choice(heads, 120, replace=False)
    names, ids = pes["name"].to_numpy(object).copy(), pes["id_number"].to_numpy(object).copy()
    for i in hit:  # a surname nobody has and no ID number: the head's own items barely link
        names[i] = "欧阳" + names[i][-1]
        ids[i] = None
    pes = pes.assign(name=names, id_number=ids)
    settings = pes_census_settings()
    first = link(person_keys(pes), person_keys(census), settings)
    second = with_household_context(first, settings, pes["household_id"].to_numpy(object),
                                    census["household_id"].to_numpy(object))
    s1, s2 = truth_scores(first, pes, census, truth), truth_scores(second, pes, census, truth)
    assert second.comparisons.names[-1] == "household"
    assert s2.false_negatives < s1.false_negatives - 40, (s1, s2)          # most damaged heads found again
    assert s2.false_positives <= s1.false_positives + 2 and s2.precision >= 0.999
    m, u = second.model.m[-1], second.model.u[-1]
    assert m[2] > 0.5 and u[2] < 0.01           # "two or more co-members match" is match evidence


def test_dedup_has_no_household_context(small_county):
    from audit_engine.linkage import dedupe
    from audit_engine.linkage.census import duplicate_settings

    _, census, _ = small_county
    res = dedupe(person_keys(census), duplicate_settings())
    with pytest.raises(ValueError, match="dedup"):
        with_household_context(res, duplicate_settings(), census["household_id"], census["household_id"])
