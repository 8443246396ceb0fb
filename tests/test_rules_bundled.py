"""Every bundled rule passes its passing example and fails its failing one, in both evaluators."""

import pytest

from rules.examples import example_base, run_examples
from rules.ruleset import load_ruleset

RULESET = load_ruleset()
OUTCOMES = {(o.rule_id, o.case): o for o in run_examples(RULESET, example_base())}


def test_the_bundled_set_is_large_and_covers_every_scope():
    assert len(RULESET.rules) >= 40
    assert {r.scope for r in RULESET.rules} == {"person", "household", "dataset", "death"}
    assert {r.severity for r in RULESET.rules} == {"error", "warning", "info"}
    assert all(r.description.get("zh") and r.description.get("en") for r in RULESET.rules)
    assert all(r.hint.get("zh") and r.hint.get("en") for r in RULESET.rules), "every rule needs a reviewer hint"


@pytest.mark.parametrize("rule_id", [r.id for r in RULESET.rules])
def test_rule_examples(rule_id):
    for case in ("pass", "fail"):
        o = OUTCOMES.get((rule_id, case))
        assert o is not None, f"rule {rule_id} has no {case} example"
        assert o.ok, f"rule {rule_id}, {case} example: vectorised {o.vector}, row-by-row {o.rowwise}"


def test_the_clean_base_record_passes_every_person_rule():
    from rules.engine import confront
    from rules.examples import example_tables
    from rules.frames import build_frames

    persons, households, deaths = example_tables(RULESET.rule("V01"), "pass", example_base())
    results = confront(RULESET, build_frames(persons, households, deaths))
    failing = [r.rule.id for r in results if (r.status == 0).any()]
    assert failing == []
