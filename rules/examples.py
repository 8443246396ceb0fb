"""Run each rule's own examples: a passing and a failing record, through both evaluators.

Rule authors write examples next to the rule (``examples: {pass: …, fail: …}``), merged onto
the rule set's ``example_base``. Person examples may name other ``members`` of the household
(needed by head() and count_if()); household examples give ``household`` items and ``members``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rules import rowwise
from rules.engine import dataset_duplicates, frame_for
from rules.frames import build_frames, records
from rules.ruleset import Rule, RuleSet, bundled_path
from rules.vector import rule_status

EXPECTED = {"pass": 1, "fail": 0}


@dataclass
class ExampleOutcome:
    rule_id: str
    case: str             # pass / fail
    vector: int
    rowwise: int

    @property
    def ok(self) -> bool:
        return self.vector == self.rowwise == EXPECTED[self.case]


def example_base(path: str | Path | None = None) -> dict[str, dict]:
    doc = yaml.safe_load(Path(path or bundled_path()).read_text("utf-8"))
    return doc.get("example_base") or {}


def example_tables(rule: Rule, case: str, base: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ex: dict[str, Any] = rule.examples
    spec = ex[case] or {}
    structured = any(k in spec for k in ("person", "household", "members"))
    person = {**base["person"], **(spec.get("person", {}) if structured else spec)}
    household = {**base["household"], **spec.get("household", {})} if structured else dict(base["household"])
    members_spec = spec.get("members", ex.get("members", [] if rule.scope != "household" else [{}]))
    if rule.scope == "household":
        people = [{**base["person"], **m} for m in members_spec]
    else:
        others = [{**base["person"], **m} for m in members_spec]
        people = [person] + others
    for p in people:
        p.setdefault("household_key", household["household_key"])
    persons = pd.DataFrame(people, columns=list(base["person"]) + sorted({k for p in people for k in p} - set(base["person"])))
    persons = persons.rename(columns={"record_key": "person_key"})
    households = pd.DataFrame([household])
    death = {**base.get("death", {}), **(spec if rule.scope == "death" else {})}
    deaths = pd.DataFrame([death]) if rule.scope == "death" else pd.DataFrame()
    return persons, households, deaths


def run_examples(ruleset: RuleSet, base: dict[str, dict]) -> list[ExampleOutcome]:
    out = []
    for rule in ruleset.rules:
        for case in ("pass", "fail"):
            if case not in rule.examples:
                continue
            persons, households, deaths = example_tables(rule, case, base)
            frames = build_frames(persons, households, deaths)
            dups = dataset_duplicates(ruleset, frames.persons)
            fr, units = frame_for(rule.scope, frames, dups)
            when = rule.when.tree if rule.when else None
            v = int(rule_status(rule.test.tree, when, fr)[0])
            unit = records(units)[0]
            members = records(frames.persons) if rule.scope != "death" else []
            members = [m for m in members if m["household_key"] == unit.get("household_key")]
            r = rowwise.status(rule.test.tree, when, unit, members, dups)
            out.append(ExampleOutcome(rule.id, case, v, r))
    return out
