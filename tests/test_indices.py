"""Quality indices against values worked out by hand, and the store summary on both databases.

Each expected number below is derived in the comment next to it, so a failure says which
formula broke rather than that some output changed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit_engine.io.load import load_file
from audit_engine.synth import SynthConfig, generate
from rules.indices import (
    age_ratios,
    exclusions,
    item_nonresponse,
    myers,
    sex_ratio_by_age_group,
    un_age_sex_accuracy,
    whipple,
)
from rules.quality import quality_indices

# ---------------------------------------------------------------------------------------------
# Whipple
# ---------------------------------------------------------------------------------------------


def test_whipple_no_preference_is_100():
    # ages 23..62 once each: 40 persons, 8 of them on 0/5 (25, 30, ..., 60) = exactly 1/5
    # -> 100 * 8 / (40 / 5) = 100; digit 0: 4 (30, 40, 50, 60) of 40 = 1/10 -> 100
    ages = np.arange(23, 63)
    assert whipple(ages) == pytest.approx(100.0)
    assert whipple(ages, digits=(0,)) == pytest.approx(100.0)


def test_whipple_all_on_the_digits_is_the_maximum():
    # everybody aged 25, 30, ..., 60: share on 0/5 is 1 -> 100 * 1 / (1/5) = 500
    assert whipple(np.arange(25, 61, 5)) == pytest.approx(500.0)
    # everybody aged 30, 40, 50, 60: share on 0 is 1 -> 100 * 1 / (1/10) = 1000
    assert whipple([30, 40, 50, 60], digits=(0,)) == pytest.approx(1000.0)
    # nobody on 0/5 -> 0 (complete avoidance)
    assert whipple([23, 24, 26, 61]) == pytest.approx(0.0)


def test_whipple_hand_computed_heaping():
    # 23..62 once each plus 10 extra persons aged 40: n = 50 in range
    # on 0/5: 8 + 10 = 18 -> 100 * (18/50) / (1/5) = 180
    # on 0:   4 + 10 = 14 -> 100 * (14/50) / (1/10) = 280
    ages = np.concatenate([np.arange(23, 63), np.full(10, 40)])
    assert whipple(ages) == pytest.approx(180.0)
    assert whipple(ages, digits=(0,)) == pytest.approx(280.0)


def test_whipple_ignores_missing_and_out_of_range_ages_and_counts_the_missing():
    base = list(range(23, 63)) + [40] * 10                      # 180, as above
    noisy = base + [None, float("nan"), "x", -1, 2.5, 5, 100]     # 5 missing, 2 valid but out of range
    assert whipple(pd.Series(noisy, dtype=object)) == pytest.approx(180.0)
    assert exclusions(pd.Series(noisy, dtype=object)) == {"records": 57, "missing_age": 5}
    assert math.isnan(whipple([1, 2, 90]))                      # nobody aged 23-62


# ---------------------------------------------------------------------------------------------
# Myers
# ---------------------------------------------------------------------------------------------


def test_myers_uniform_ages_is_zero():
    # one person at each age 10..89: S1(d) = S2(d) = 7, B(d) = (d+1)*7 + (9-d)*7 = 70 for all d
    index, per_digit = myers(np.arange(10, 90))
    assert index == pytest.approx(0.0, abs=1e-12)
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in per_digit.values())
    assert sorted(per_digit) == list(range(10))


def test_myers_linear_decline_blends_to_zero():
    # P_x = 200 - x for x = 10..89 (a steadily falling population, the case blending is for):
    # S1(d) = sum_{k=1..7} (200 - 10k - d) = 1120 - 7d;  S2(d) = sum_{k=2..8} (...) = 1050 - 7d
    # B(d) = (d+1)(1120 - 7d) + (9-d)(1050 - 7d) = 10570 for every d  -> index 0
    # (Whipple-like unblended shares would favour digit 0 here: 10 outnumbers 19.)
    ages = np.repeat(np.arange(10, 90), 200 - np.arange(10, 90))
    index, _ = myers(ages)
    assert index == pytest.approx(0.0, abs=1e-9)


def test_myers_all_on_one_digit_is_180():
    # ages 10, 20, ..., 80 once: S1(0) = 7 (10..70), S2(0) = 7 (20..80), B(0) = 1*7 + 9*7 = 70,
    # B(d) = 0 otherwise -> digit 0 holds 100 %: deviation +90, nine digits at -10 -> 90 + 90 = 180
    index, per_digit = myers(np.arange(10, 90, 10))
    assert index == pytest.approx(180.0)
    assert per_digit[0] == pytest.approx(90.0)
    assert per_digit[7] == pytest.approx(-10.0)


@pytest.mark.parametrize(("extra_age", "b5", "total", "expected"), [
    # one extra person aged 15 on top of 10..89 once: 15 is in S1 (10-79) only, so
    # B(5) = 6*8 + 4*7 = 76 (weights d+1 = 6 and 9-d = 4), others 70, total 706;
    # deviation(5) = 7600/706 - 10 = 540/706, nine others 7000/706 - 10 = -60/706
    # -> index = 540/706 + 9*60/706 = 1080/706 = 1.5297...
    (15, 76, 706, 1080 / 706),
    # one extra aged 85: in S2 (20-89) only -> B(5) = 6*7 + 4*8 = 74, total 704
    # deviation(5) = 7400/704 - 10 = 360/704, others -40/704 each -> index = 720/704
    (85, 74, 704, 720 / 704),
    # one extra aged 40: in both -> B(0) = 1*8 + 9*8 = 80, total 710 -> index 2*900/710
    (40, None, 710, 1800 / 710),
])
def test_myers_hand_computed_weights(extra_age, b5, total, expected):
    index, per_digit = myers(np.append(np.arange(10, 90), extra_age))
    assert index == pytest.approx(expected)
    digit = extra_age % 10
    b = b5 if b5 is not None else 80
    assert per_digit[digit] == pytest.approx(100 * b / total - 10)


def test_myers_needs_whole_decades():
    with pytest.raises(ValueError, match="whole decades"):
        myers(np.arange(10, 90), low=10, high=84)


# ---------------------------------------------------------------------------------------------
# Sex ratios and age ratios
# ---------------------------------------------------------------------------------------------


def test_sex_ratio_by_age_group_hand_counts_and_exclusions():
    # 0-4: 3 M, 2 F -> 150;  5-9: 1 M, 1 F -> 100;  85+ (ages 85, 90, 99): 1 M, 2 F -> 50
    # overall 5 M / 5 F -> 100. Three bad records (no sex, sex '9', no age) are left out, counted.
    ages = [0, 1, 4, 2, 3, 7, 8, 90, 85, 99, 3, 3, None]
    sexes = ["1", "1", "1", "2", "2", "1", "2", "1", "2", "2", None, "9", "1"]
    sr = sex_ratio_by_age_group(ages, sexes)
    t = sr.table.set_index("group")
    assert list(sr.table["group"])[:3] == ["0-4", "5-9", "10-14"] and sr.table["group"].iloc[-1] == "85+"
    assert len(sr.table) == 18
    assert (t.loc["0-4", "males"], t.loc["0-4", "females"], t.loc["0-4", "ratio"]) == (3, 2, 150.0)
    assert t.loc["5-9", "ratio"] == 100.0
    assert t.loc["85+", "ratio"] == 50.0
    assert math.isnan(t.loc["10-14", "ratio"])                  # no females: undefined, not 0 or inf
    assert sr.overall == pytest.approx(100.0)
    assert sr.excluded == 3
    assert exclusions(ages, sexes) == {"records": 13, "missing_age": 1, "missing_sex": 2, "missing_age_or_sex": 3}


def test_age_ratios_hand_counts():
    # width 5, top 20: groups 0-4, 5-9, 10-14, 15-19, 20+ with 10, 30, 10, 20, 100 persons
    # AR(5-9) = 200*30/(10+10) = 300;  AR(10-14) = 200*10/(30+20) = 40
    # 0-4 has no younger group, 15-19's older neighbour is the open group -> NaN
    ages = [2] * 10 + [7] * 30 + [12] * 10 + [17] * 20 + [50] * 100 + [None, None]
    t = age_ratios(ages, width=5, top=20)
    assert list(t["group"]) == ["0-4", "5-9", "10-14", "15-19", "20+"]
    assert list(t["persons"]) == [10, 30, 10, 20, 100]
    ratio = t["ratio"].to_numpy()
    assert ratio[1] == pytest.approx(300.0) and ratio[2] == pytest.approx(40.0)
    assert np.isnan(ratio[[0, 3, 4]]).all()
    assert t.attrs["excluded"] == 2


# ---------------------------------------------------------------------------------------------
# UN age-sex accuracy index
# ---------------------------------------------------------------------------------------------


def _population(males_by_group: list[int], females_by_group: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Persons with the given counts per 5-year group 0-4 .. 70-74, spread over the group's ages."""
    ages, sexes = [], []
    for sex, counts in (("1", males_by_group), ("2", females_by_group)):
        for g, n in enumerate(counts):
            ages += [5 * g + i % 5 for i in range(n)]
            sexes += [sex] * n
    return np.array(ages), np.array(sexes, dtype=object)


def test_un_index_is_zero_when_every_sex_ratio_and_age_ratio_is_100():
    # 100 males and 100 females in every group 0-4 .. 70-74: every SR = 100 (diffs 0) and
    # every AR = 200*100/(100+100) = 100, so all three parts and the score are 0. Persons
    # aged 75+ and records without a sex do not enter.
    ages, sexes = _population([100] * 15, [100] * 15)
    ages = np.append(ages, [80, 80, 80, 30])
    sexes = np.append(sexes, ["1", "1", "2", None])
    un = un_age_sex_accuracy(ages, sexes)
    assert (un.score, un.sex_ratio_score, un.male_age_ratio_score, un.female_age_ratio_score) == (0.0, 0.0, 0.0, 0.0)
    assert un.excluded == 1


def test_un_index_hand_computed():
    # As above but 120 males aged 10-14 (group 2).
    # Sex ratios: SR(10-14) = 120, all others 100 -> two successive diffs of 20, twelve of 0:
    #   SRS = 40/14
    # Male age ratios (5-9 .. 65-69, 13 of them):
    #   AR(5-9)   = 200*100/(100+120) = 1000/11 -> |100 - AR| = 100/11
    #   AR(10-14) = 200*120/(100+100) = 120     -> 20
    #   AR(15-19) = 200*100/(120+100) = 1000/11 -> 100/11
    #   ARM = (20 + 200/11)/13 = 420/143
    # Female age ratios all 100 -> ARF = 0
    # score = 3*40/14 + 420/143 = 60/7 + 420/143 = 11.5085...
    males = [100] * 15
    males[2] = 120
    un = un_age_sex_accuracy(*_population(males, [100] * 15))
    assert un.sex_ratio_score == pytest.approx(40 / 14)
    assert un.male_age_ratio_score == pytest.approx(420 / 143)
    assert un.female_age_ratio_score == pytest.approx(0.0)
    assert un.score == pytest.approx(60 / 7 + 420 / 143)
    assert un.score == pytest.approx(11.508491, abs=1e-6)


def test_un_index_is_undefined_with_an_empty_group():
    females = [100] * 15
    females[14] = 0                                      # no women aged 70-74: SR(70-74) undefined
    assert math.isnan(un_age_sex_accuracy(*_population([100] * 15, females)).score)


# ---------------------------------------------------------------------------------------------
# Item non-response
# ---------------------------------------------------------------------------------------------


def _records() -> pd.DataFrame:
    return pd.DataFrame({
        "age": [10, 20, 40, 70, None, 30],
        "sex": ["1", "2", "2", "2", "2", "1"],
        "marital_status": [None, "", "2", None, None, "1"],
        "children_born": [None, 0, None, 3, None, None],
        "education": ["3", "4", " ", "5", None, "6"],
        "industry": [None, None, "C", None, None, None],
        "ethnicity": [None] * 6,
    })


def test_item_nonresponse_uses_eligible_denominators():
    t = item_nonresponse(_records(), ["marital_status", "children_born", "education"]).set_index("item")
    # marital status, aged 15+: rows aged 20, 40, 70, 30 -> 4 eligible; '' (20) and None (70)
    # missing -> 2/4. The child's blank and the no-age record's blank do not count.
    assert (t.loc["marital_status", "eligible"], t.loc["marital_status", "missing"]) == (4, 2)
    assert t.loc["marital_status", "share"] == pytest.approx(0.5)
    # fertility, women 15-64: the women aged 20 and 40 (70 is too old, age unknown is not
    # eligible) -> 2 eligible; 0 is an answer, None (40) is missing -> 1/2
    assert (t.loc["children_born", "eligible"], t.loc["children_born", "missing"]) == (2, 1)
    # education, aged 3+: 5 with an age; the blank-string one (40) is missing -> 1/5
    assert t.loc["education", "share"] == pytest.approx(0.2)


def test_item_nonresponse_caller_masks_and_edge_cases():
    df = _records()
    t = item_nonresponse(df, ["industry", "marital_status", "ethnicity"], eligibility={
        "industry": [True, False, True, False, False, False],      # "employed": rows 1 and 3
        "marital_status": lambda d: d["age"] >= 35,                # overrides the default
        "ethnicity": [False] * 6,
    }).set_index("item")
    assert (t.loc["industry", "eligible"], t.loc["industry", "missing"]) == (2, 1)
    assert (t.loc["marital_status", "eligible"], t.loc["marital_status", "missing"]) == (2, 1)   # 40, 70
    assert t.loc["ethnicity", "eligible"] == 0 and math.isnan(t.loc["ethnicity", "share"])
    # an item with no rule is asked of everyone: all six ethnicity values are missing
    assert item_nonresponse(df, ["ethnicity"], eligibility={"ethnicity": None}).iloc[0]["missing"] == 6
    with pytest.raises(KeyError, match="occupation"):
        item_nonresponse(df, ["occupation"])
    with pytest.raises(ValueError, match="3 values for 6"):
        item_nonresponse(df, ["industry"], eligibility={"industry": [True] * 3})


# ---------------------------------------------------------------------------------------------
# The store: a synthetic county on SQLite and PostgreSQL
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("county")
    generate(SynthConfig(persons=4000, seed=3), out)
    return out


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_quality_indices_from_the_store(engine, county):
    load_file(engine, county / "areas.csv", "reference", operator="test")
    load_file(engine, county / "census" / "persons.csv", "census", operator="test")
    persons = _csv(county / "census" / "persons.csv")
    areas = _csv(county / "areas.csv")
    truth = _csv(county / "truth" / "records.csv")
    truth = truth[truth["source"] == "census"]
    persons = persons.merge(areas[["ea_code", "township_code"]], on="ea_code", how="left")
    persons = persons.merge(truth[["person_id", "errors"]], on="person_id", how="left", validate="1:1")
    ages = persons["age"].astype(int)

    result = quality_indices(engine, by="township")
    text = json.dumps(result, allow_nan=False, ensure_ascii=False)       # plain JSON, no NaN

    # every record is in exactly one township; the groups are the county's townships
    assert result["overall"]["persons"] == len(persons)
    assert sum(g["persons"] for g in result["groups"]) == len(persons)
    assert [g["key"] for g in result["groups"]] == sorted(persons["township_code"].unique())

    # the store path computes what the formula gives on the file, overall and per township
    assert result["overall"]["whipple"]["value"] == pytest.approx(whipple(ages))
    for g in result["groups"]:
        own = ages[persons["township_code"] == g["key"]]
        w = g["whipple"]
        if w["value"] is None:
            assert w["persons_used"] < 200 and "too few persons" in w["reason"]
        else:
            assert w["value"] == pytest.approx(whipple(own))

    # age heaping was injected: the census ages heap more than the truth-clean records' ages
    heaped = persons["errors"].str.contains("age_heaping")
    assert heaped.sum() > 0
    assert result["overall"]["whipple"]["value"] > whipple(ages[persons["errors"] == ""])

    # non-response equals the injected blanks; eligibility shrinks the denominators
    nr = {row["item"]: row for row in result["overall"]["item_nonresponse"]}
    assert nr["ethnicity"]["missing"] == persons["errors"].str.contains("missing_ethnicity").sum()
    assert nr["id_number"]["missing"] == (persons["id_number"] == "").sum() > 0
    assert nr["marital_status"]["eligible"] == (ages >= 15).sum()
    women = (persons["sex"] == "2") & ages.between(15, 64)
    assert nr["children_born"]["eligible"] == women.sum()

    # 4,000 persons is below the UN score's minimum: None with a reason, not a noisy number
    un = result["overall"]["un_age_sex_accuracy"]
    assert un["value"] is None and "fewer than 50000" in un["reason"]
    assert result["overall"]["excluded"]["missing_age_or_sex"] == 0

    # names and ID numbers never leave the database
    assert not any(v in text for v in persons["id_number"] if v)
    assert not any(v in text for v in persons["name"].head(300) if v)


def test_quality_indices_by_enumerator_and_thresholds(engine, county):
    load_file(engine, county / "census" / "persons.csv", "census", operator="test")
    persons = _csv(county / "census" / "persons.csv")
    by_enum = quality_indices(engine, by="enumerator", min_persons={"un_age_sex_accuracy": 0})
    counts = persons["enumerator_id"].value_counts()
    assert {g["key"]: g["persons"] for g in by_enum["groups"]} == counts.to_dict()
    # with the minimum lifted the UN score is computed: 3*SRS + ARM + ARF
    un = by_enum["overall"]["un_age_sex_accuracy"]
    assert un["value"] == pytest.approx(3 * un["sex_ratio_score"] + un["male_age_ratio_score"]
                                        + un["female_age_ratio_score"])
    # EAs hold a few hundred persons: Myers (needs 500 aged 10-89) is withheld in every one
    by_ea = quality_indices(engine, by="ea")
    assert len(by_ea["groups"]) == persons["ea_code"].nunique()
    for g in by_ea["groups"]:
        m = g["myers"]
        assert m["value"] is None and m["per_digit"] is None and m["persons_used"] < 500
    # nothing loaded for the PES: zero persons, every index withheld
    empty = quality_indices(engine, source="pes")
    assert empty["overall"]["persons"] == 0 and empty["overall"]["whipple"]["value"] is None
    with pytest.raises(ValueError, match="by must be one of"):
        quality_indices(engine, by="village")
