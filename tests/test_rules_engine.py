"""The rule language and engine: safety, NA semantics, aggregates, includes, overrides,
and agreement of the vectorised evaluator with the row-by-row one on random records."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import rowwise
from rules.engine import confront, dataset_duplicates, frame_for
from rules.frames import build_frames, records
from rules.language import RuleError, compile_expr
from rules.ruleset import RuleSetError, load_ruleset
from rules.vector import rule_status

PARAMS = {"head_min_age": 15, "census_year": 2020}


def comp(text, scope="person"):
    return compile_expr(text, rule_id="T1", scope=scope, params=PARAMS)


# ------------------------------------------------------------------------- hostile text
@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('echo hi')", "only plain function calls"),
    ("__import__('os') == 1", "unknown function '__import__'"),
    ("sex.__class__ == '1'", "Attribute is not allowed"),
    ("(lambda: True)()", "only plain function calls"),
    ("lambda x: x", "Lambda is not allowed"),
    ("[x for x in codes('sex')] == 1", "ListComp is not allowed"),
    ("age ** 99999999 > 1", "Pow is not allowed"),
    ("age > 10 ** 100", "Pow is not allowed"),
    ("age > 1000000000000000", "too large"),
    ("sex[0] == '1'", "Subscript is not allowed"),
    ("unknown_field == '1'", "unknown name 'unknown_field'"),
    ("open('/etc/passwd') == 1", "unknown function 'open'"),
    ("is_missing(x=sex)", "keyword arguments"),
    ("sex == 1", "cannot compare a str with a num"),
    ("sex == '7'", "not in the sex code list"),
    ("age > 1 and", "syntax error"),
    ("age", "must be a true/false test"),
    ("matches(name, '(a+)+$x[')", "invalid pattern"),
])
def test_hostile_or_wrong_rules_are_refused_at_load(text, message):
    with pytest.raises(RuleError, match="rule T1") as exc:
        comp(text)
    assert message in str(exc.value)


def test_deep_nesting_and_long_text_are_refused():
    with pytest.raises(RuleError, match="rule T1"):
        comp("(" * 10_000 + "age > 1" + ")" * 10_000)
    with pytest.raises(RuleError, match="nested more than"):
        comp("not " * 60 + "age > 1")
    with pytest.raises(RuleError, match="longer than"):
        comp("age > 1 and " * 300 + "age > 1")


def test_syntax_error_names_rule_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("ruleset: t\nrules:\n  - id: Z9\n    description: {zh: 测试, en: test}\n    test: \"age >\"\n",
                 encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"bad.yaml, line 5: rule Z9 \(test\).*syntax error"):
        load_ruleset(f)


def test_household_rules_cannot_name_person_fields_outside_aggregates():
    with pytest.raises(RuleError, match="inside count_if"):
        comp("sex == '1'", scope="household")
    assert comp("count_if(sex == '1') >= 0", scope="household").uses_aggregates


# ------------------------------------------------------------------------- semantics
def people(*rows):
    base = {"person_key": "P", "household_key": "H1", "ea_code": "320831001001001", "sex": "1",
            "birth_year": 1980, "birth_month": 5, "relationship": "0"}
    return pd.DataFrame([{**base, "person_key": f"P{i}", **r} for i, r in enumerate(rows)])


def statuses(text, persons, when=None, scope="person", households=None):
    frames = build_frames(persons, households if households is not None else
                          pd.DataFrame({"household_key": sorted(set(persons.household_key)), "household_type": "1"}))
    fr, _ = frame_for(scope, frames, {})
    return list(rule_status(comp(text, scope).tree, comp(when, scope).tree if when else None, fr))


def test_missing_values_make_a_rule_not_applicable_unless_it_tests_missingness():
    p = people({}, {"birth_year": None}, {"sex": None})
    assert statuses("age_ym >= 18", p) == [1, -1, 1]
    assert statuses("sex == '1' and age_ym >= 18", p) == [1, -1, -1]
    assert statuses("sex == '2' and age_ym >= 18", p) == [0, 0, -1]    # false and NA = false
    assert statuses("sex == '1' or age_ym >= 18", p) == [1, 1, 1]      # true or NA = true
    assert statuses("is_missing(birth_year)", p) == [0, 1, 0]
    assert statuses("age_ym >= 18", p, when="sex == '1'") == [1, -1, -1]
    assert statuses("age_ym / 0 > 1", p) == [-1, -1, -1]               # division by zero is unknown


def test_household_aggregates():
    p = people({"household_key": "A", "relationship": "0", "birth_year": 1950},
               {"household_key": "A", "relationship": "1", "sex": "2", "birth_year": 1952},
               {"household_key": "A", "relationship": "2", "birth_year": 1990},
               {"household_key": "B", "relationship": "0", "birth_year": 2000},
               {"household_key": "B", "relationship": "0", "birth_year": 2001, "sex": None},
               {"household_key": "C", "relationship": "2", "birth_year": 2015})
    assert statuses("exists_one(relationship == '0')", p, scope="household") == [1, 0, 0]
    assert statuses("count() == 3", p, scope="household") == [1, 0, 0]
    assert statuses("count_if(sex == '1') == 2", p, scope="household") == [1, 0, 0]   # unknown sex not counted
    assert statuses("all(sex == '1')", p, scope="household") == [0, 1, 1]             # unknown ignored
    assert statuses("any(relationship == '1')", p, scope="household") == [1, 0, 0]
    assert statuses("max(age_ym) - min(age_ym) == 40", p, scope="household") == [1, 0, 0]
    assert statuses("sum(birth_year) == 5892", p, scope="household") == [1, 0, 0]
    # head() broadcasts the head's value to every member; no head -> unknown
    assert statuses("head(age_ym) - age_ym >= 12", p, when="relationship == '2'") == [-1, -1, 1, -1, -1, -1]


def test_dataset_uniqueness_is_over_the_whole_data():
    rs = load_ruleset()
    p = people({"id_number": "X1"}, {"id_number": "X2"}, {"id_number": "X1"}, {"id_number": None})
    frames = build_frames(p, pd.DataFrame({"household_key": ["H1"], "household_type": ["1"]}))
    res = {r.rule.id: r for r in confront(rs, frames, dataset_duplicates(rs, frames.persons))}
    assert list(res["D01"].status) == [0, 1, 0, -1]


def test_includes_overrides_and_disable(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "ruleset: base\nparams: {head_min_age: 15}\nrules:\n"
        "  - id: A1\n    description: {zh: 甲, en: a}\n    when: \"relationship == '0'\"\n    test: age_ym >= head_min_age\n"
        "  - id: A2\n    description: {zh: 乙, en: b}\n    test: not is_missing(sex)\n"
        "  - id: A3\n    description: {zh: 丙, en: c}\n    severity: info\n    test: not is_missing(name)\n", encoding="utf-8")
    (tmp_path / "county.yaml").write_text(
        "ruleset: county\ninclude: [base.yaml]\nparams: {head_min_age: 18}\ndisable: [A3]\nrules:\n"
        "  - id: A2\n    description: {zh: 乙改, en: b2}\n    severity: warning\n    test: sex == '1'\n", encoding="utf-8")
    base, county = load_ruleset(tmp_path / "base.yaml"), load_ruleset(tmp_path / "county.yaml")
    assert [r.id for r in county.rules] == ["A1", "A2"] and county.rule("A2").severity == "warning"
    assert county.params["head_min_age"] == 18 and base.content_hash != county.content_hash
    p = people({"birth_year": 2004, "sex": "2"})
    frames = build_frames(p, pd.DataFrame({"household_key": ["H1"], "household_type": ["1"]}))
    assert [list(r.status) for r in confront(base, frames)] == [[1], [1], [0]]   # no name: is_missing is never unknown
    assert [list(r.status) for r in confront(county, frames)] == [[0], [0]]
    # a parameter passed at load time overrides the files, and changes the hash
    assert load_ruleset(tmp_path / "county.yaml", {"head_min_age": 16}).content_hash != county.content_hash
    (tmp_path / "loop.yaml").write_text("ruleset: loop\ninclude: [loop.yaml]\nrules: []\n", encoding="utf-8")
    with pytest.raises(RuleSetError, match="include cycle"):
        load_ruleset(tmp_path / "loop.yaml")


def test_content_hash_ignores_layout_but_not_meaning(tmp_path):
    rs = load_ruleset()
    text = (tmp_path / "x.yaml")
    from rules.ruleset import bundled_path

    text.write_text("# a comment that changes nothing\n" + bundled_path().read_text("utf-8"), encoding="utf-8")
    assert load_ruleset(text).content_hash == rs.content_hash
    assert load_ruleset(text, {"max_age": 110}).content_hash != rs.content_hash


# ------------------------------------------------------------------------- vectorised == row by row
CODES = {"sex": ["1", "2", None], "relationship": ["0", "1", "2", "3", "7", None], "marital_status": ["1", "2", "4", None],
         "education": ["1", "3", "5", "7", "9", None], "registration_type": ["1", "2", "4", None],
         "time_away": ["0", "1", "5", "8", None], "reason_away": ["1", None], "industry": ["A", "C", None],
         "occupation": ["2", "6", None], "ethnicity": ["01", "03", None]}
person = st.fixed_dictionaries({
    **{k: st.sampled_from(v) for k, v in CODES.items()},
    "household_key": st.sampled_from(["H1", "H2", "H3"]),
    "birth_year": st.one_of(st.none(), st.integers(1895, 2021)),
    "birth_month": st.one_of(st.none(), st.integers(1, 12)),
    "age": st.one_of(st.none(), st.integers(0, 130)),
    "children_born": st.one_of(st.none(), st.integers(0, 5)),
    "children_surviving": st.one_of(st.none(), st.integers(0, 5)),
    "births_last_year": st.one_of(st.none(), st.integers(0, 3)),
    "id_number": st.sampled_from(["32083119750515123X", "320831197505151248", "320831197505151231", "123", None,
                                  "990000197505151236", "320831197513151236"]),
    "registration_place": st.sampled_from(["320830", "320831", "990100", None]),
    "name": st.sampled_from(["张三", None]),
})
household = st.fixed_dictionaries({"household_type": st.sampled_from(["1", "2", None]),
                                   "declared_size": st.one_of(st.none(), st.integers(0, 4)),
                                   "births_count": st.one_of(st.none(), st.integers(0, 2)),
                                   "floor_area": st.one_of(st.none(), st.integers(0, 1200)),
                                   "rooms": st.one_of(st.none(), st.integers(0, 60))})
RULESET = load_ruleset()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person, min_size=1, max_size=12), st.lists(household, min_size=3, max_size=3))
def test_vectorised_and_row_by_row_evaluators_agree(ps, hs):
    persons = pd.DataFrame(ps)
    persons["person_key"] = [f"P{i}" for i in range(len(ps))]
    persons["ea_code"] = "320831001001001"
    households = pd.DataFrame(hs)
    households["household_key"] = ["H1", "H2", "H3"]
    households["ea_code"] = "320831001001001"
    frames = build_frames(persons, households)
    dups = dataset_duplicates(RULESET, frames.persons)
    members_by_hh: dict[str, list] = {}
    for m in records(frames.persons):
        members_by_hh.setdefault(m["household_key"], []).append(m)
    for res in confront(RULESET, frames, dups):
        if res.rule.scope == "death":
            continue
        units = frames.households if res.rule.scope == "household" else frames.persons
        when = res.rule.when.tree if res.rule.when else None
        expected = [rowwise.status(res.rule.test.tree, when, u, members_by_hh.get(u["household_key"], []), dups)
                    for u in records(units)]
        assert list(res.status) == expected, res.rule.id


def test_vectorised_is_much_faster_than_row_by_row():
    """Not a speed target (that is benchmarks/), only that the vectorised path is really vectorised."""
    n = 20_000
    rng = np.random.default_rng(1)
    persons = pd.DataFrame({"person_key": [f"P{i}" for i in range(n)], "household_key": [f"H{i // 3}" for i in range(n)],
                            "ea_code": "320831001001001", "sex": rng.choice(["1", "2"], n),
                            "birth_year": rng.integers(1930, 2020, n), "birth_month": rng.integers(1, 13, n),
                            "relationship": rng.choice(["0", "1", "2"], n)})
    frames = build_frames(persons, pd.DataFrame({"household_key": [f"H{i}" for i in range(n // 3 + 1)], "household_type": "1"}))
    rule = RULESET.rule("R03")
    t0 = time.perf_counter()
    fr, _ = frame_for("person", frames, {})
    vec = rule_status(rule.test.tree, rule.when.tree, fr)
    t_vec = time.perf_counter() - t0
    recs = records(frames.persons)
    by_hh: dict[str, list] = {}
    for m in recs:
        by_hh.setdefault(m["household_key"], []).append(m)
    t0 = time.perf_counter()
    row = [rowwise.status(rule.test.tree, rule.when.tree, u, by_hh[u["household_key"]], {}) for u in recs]
    t_row = time.perf_counter() - t0
    assert list(vec) == row
    assert t_row > 3 * t_vec
