"""Confront frames with a rule set: per rule, the status of every unit and a summary.

Like R's validate: for each rule, the number of items it was checked on, passes, fails and
not-applicable. Person and dataset rules run over persons, household rules over households,
death rules over reported deaths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rules.frames import Frames
from rules.ruleset import Rule, RuleSet
from rules.vector import Frame, rule_status


@dataclass
class RuleResult:
    rule: Rule
    status: np.ndarray        # per unit: 1 pass, 0 fail, -1 not applicable
    keys: pd.Series           # record key of each unit
    ea: pd.Series             # EA code of each unit

    @property
    def summary(self) -> dict[str, int]:
        s = self.status
        return {"items": int(len(s)), "passes": int((s == 1).sum()), "fails": int((s == 0).sum()),
                "na": int((s == -1).sum())}


def frame_for(scope: str, frames: Frames, duplicates: dict[str, set]) -> tuple[Frame, pd.DataFrame]:
    if scope in ("person", "dataset"):
        units = frames.persons
        return Frame(units, frames.persons, units["household_key"], duplicates), units
    if scope == "household":
        units = frames.households
        return Frame(units, frames.persons, units["household_key"], duplicates), units
    units = frames.deaths
    return Frame(units, None, None, duplicates), units


def confront(ruleset: RuleSet, frames: Frames, duplicates: dict[str, set] | None = None,
             only: list[str] | None = None) -> list[RuleResult]:
    """Evaluate every rule (or those in ``only``) over the frames."""
    duplicates = duplicates or {}
    out: list[RuleResult] = []
    cache: dict[str, tuple[Frame, pd.DataFrame]] = {}
    for rule in ruleset.rules:
        if only and rule.id not in only:
            continue
        if rule.scope not in cache:
            cache[rule.scope] = frame_for(rule.scope, frames, duplicates)
        fr, units = cache[rule.scope]
        status = rule_status(rule.test.tree, rule.when.tree if rule.when else None, fr)
        ea = units["ea_code"] if "ea_code" in units.columns else pd.Series([None] * len(units), dtype="string")
        out.append(RuleResult(rule, status, units["record_key"], ea))
    return out


def dataset_duplicates(ruleset: RuleSet, persons: pd.DataFrame) -> dict[str, set]:
    """Values held by more than one person, for every field a dataset rule uses under is_unique()."""
    out: dict[str, set] = {}
    for rule in ruleset.by_scope("dataset"):
        for f in rule.test.dataset_fields + (rule.when.dataset_fields if rule.when else ()):
            col = persons[f].dropna()
            counts = col.value_counts()
            out[f] = set(counts.index[counts > 1])
    return out
