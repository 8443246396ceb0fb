"""Fellegi–Holt error localisation: for each failing record, the cheapest set of fields whose
values can be changed so that the record passes *every* edit of its scope.

"Cheapest" is by the rule set's ``field_weights`` (reliability: an ID number copied from a card
weighs 3, a reported age 0.5). Changing a field must not break another edit, so a candidate set
is feasible only when some combination of candidate values passes all the scope's edits at
once — not only the edits the record failed.

How (docs/error-localisation.md has the reasoning and the measured figures):

1. Each failing record becomes a :class:`~rules.localise_search.Problem`; its admissible field
   sets (covering every failed edit, each part touching one, at most ``MAX_FIELDS`` fields) are
   listed cheapest first.
2. The search walks the distinct total weights upwards. At each weight, every still-unresolved
   record's sets of exactly that weight are expanded into candidate records (the cartesian
   product of the fields' candidate domains, rules/localise_domains.py), for *all* records at
   once, and the scope's edits are evaluated over them with the ordinary vectorised engine. The
   household's other members stay as recorded, so head() and count_if() see the real household.
3. A record is resolved at the first weight where one of its sets has a passing candidate: no
   cheaper set passed, so within the candidate domains the answer is minimal (``exact``).

Person scope (with the dataset edit, repaired through the ID number) and household scope
(household items and the members' relationship codes) are both localised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import islice, product

import numpy as np
import pandas as pd

from rules import localise_domains as dom
from rules.engine import RuleResult
from rules.fields import HOUSEHOLD_FIELDS, PERSON_FIELDS
from rules.frames import Frames, derive, records
from rules.localise_search import Problem, candidate_sets, cheapest_cover
from rules.ruleset import Rule, RuleSet
from rules.vector import Frame, rule_status

MAX_FIELDS = 3            # largest field set tried; beyond it the answer is reported as not exact
ROW_CAP = 20_000          # candidate records per (record, field set); beyond it the product is cut
BATCH_ROWS = 150_000      # candidate records evaluated in one vectorised pass

#: person-scope fields never localised at person level: keys, derived values, and the household
#: items joined onto each person (they belong to the household and are localised there)
PERSON_FIXED = {"ea_code", "age_ym", "away_min_months", *HOUSEHOLD_FIELDS}
HOUSEHOLD_ITEMS = ("household_type", "declared_size", "births_count", "deaths_count", "floor_area", "rooms")
MEMBER_REL = "relationship:"   # household variable naming a member's relationship: "relationship:<person key>"


@dataclass(frozen=True)
class Localisation:
    fields: tuple[str, ...]      # the minimal-weight field set, sorted
    weight: float
    exact: bool                  # True when the search proved minimality within the candidate domains
    example: dict[str, object]   # one feasible set of new values for those fields (for the reviewer; may be {})
    seconds: float


def localise_failures(ruleset: RuleSet, frames: Frames, results: list[RuleResult], duplicates: dict[str, set],
                      max_records: int | None = None) -> dict[tuple[str, str], Localisation]:
    """Localise every failing person (person and dataset edits) and household (household edits).

    Key: ``("person", person key)`` or ``("household", household key)``. Records beyond
    ``max_records`` (persons first, in frame order) are left out of the result.
    """
    failed: dict[str, dict[int, list[Rule]]] = {"person": {}, "household": {}}
    for res in results:
        scope = {"person": "person", "dataset": "person", "household": "household"}.get(res.rule.scope)
        if scope is None:
            continue
        for i in np.flatnonzero(res.status == 0):
            failed[scope].setdefault(int(i), []).append(res.rule)
    person_rows = sorted(failed["person"])
    household_rows = sorted(failed["household"])
    if max_records is not None:
        person_rows = person_rows[:max_records]
        household_rows = household_rows[:max(0, max_records - len(person_rows))]
    out: dict[tuple[str, str], Localisation] = {}
    if person_rows:
        out.update(localise_persons(ruleset, frames, {i: failed["person"][i] for i in person_rows}, duplicates))
    if household_rows:
        out.update(localise_households(ruleset, frames, {i: failed["household"][i] for i in household_rows},
                                       duplicates))
    return out


# ------------------------------------------------------------------------- persons
def _variables(rule: Rule, allowed: set[str]) -> frozenset[str]:
    out: set[str] = set()
    for f in rule.fields:
        out.update(dom.DERIVED_FROM.get(f, (f,)))
    return frozenset(out & allowed)


def localise_persons(ruleset: RuleSet, frames: Frames, failing: dict[int, list[Rule]], duplicates: dict[str, set],
                     max_fields: int = MAX_FIELDS) -> dict[tuple[str, str], Localisation]:
    """Localise persons: ``failing`` maps a row of ``frames.persons`` to the edits it failed."""
    rules = [r for r in ruleset.rules if r.scope in ("person", "dataset")]
    persons = frames.persons
    allowed = {f for r in rules for f in r.fields} - PERSON_FIXED
    allowed = {v for f in allowed for v in dom.DERIVED_FROM.get(f, (f,))} - PERSON_FIXED
    weights = {f: ruleset.weight(f) for f in allowed}
    links = [v for v in (_variables(r, allowed) for r in rules) if v]
    classes = dom.code_classes(rules, {f: PERSON_FIELDS[f] for f in allowed if f in PERSON_FIELDS})
    rows = sorted(failing)
    recs = records(persons.iloc[rows]) if rows else []
    members = persons.groupby("household_key", sort=False).indices if len(persons) else {}
    heads = _heads(persons, {r["household_key"] for r in recs})
    problems = []
    for i, rec in zip(rows, recs, strict=True):
        t0 = time.perf_counter()
        p = Problem("person", str(rec["record_key"]), i, weights,
                    [_variables(r, allowed) for r in failing[i]], links, rec)
        p.subsets = candidate_sets(p, max_fields)
        head = heads.get(rec["household_key"])
        for f in {v for _, s in p.subsets for v in s}:
            p.domains[f] = dom.person_domain(f, rec, head, classes, ruleset.params)
        p.seconds = time.perf_counter() - t0
        problems.append(p)

    def build(pairs: list[tuple[Problem, tuple[str, ...]]]):
        return _person_candidates(persons, members, pairs, duplicates)

    return _search(problems, rules, build, max_fields)


def _heads(persons: pd.DataFrame, households: set) -> dict[object, dict]:
    sub = persons[persons["household_key"].isin(list(households)) & (persons["relationship"] == "0").fillna(False)]
    sub = sub.drop_duplicates("household_key")
    return {r["household_key"]: r for r in records(sub)}


def _expand(p: Problem, subset: tuple[str, ...]) -> list[tuple]:
    doms = [p.domains[f] for f in subset]
    size = int(np.prod([len(d) for d in doms])) if doms else 0
    if size > ROW_CAP:
        p.truncated = True
    return list(islice(product(*doms), ROW_CAP))


def _set_column(frame: pd.DataFrame, name: str, positions: list[int], values: list[object]) -> None:
    col = frame[name].astype(object).to_numpy(copy=True)
    col[np.asarray(positions, dtype=np.int64)] = [pd.NA if v is None else v for v in values]
    if PERSON_FIELDS.get(name, HOUSEHOLD_FIELDS.get(name)).type == "num":
        frame[name] = pd.array(col, dtype="Float64")
    else:
        frame[name] = pd.Series(col, index=frame.index, dtype=object).astype("string[pyarrow]")


def _value(v: object) -> object:
    return None if v is pd.NA or v is None or (isinstance(v, float) and np.isnan(v)) else v


def _person_candidates(persons: pd.DataFrame, members: dict, pairs: list[tuple[Problem, tuple[str, ...]]],
                       duplicates: dict[str, set]):
    base, owner, changes, every = [], [], {}, []
    start = 0
    for j, (p, subset) in enumerate(pairs):
        combos = _expand(p, subset)
        every.extend(combos)
        n = len(combos)
        base.append(np.full(n, p.row))
        owner.append(np.full(n, j))
        for k, f in enumerate(subset):
            pos, vals = changes.setdefault(f, ([], []))
            pos.extend(range(start, start + n))
            vals.extend(c[k] for c in combos)
        start += n
    if not start:
        return None, None, np.zeros(0, np.int64), every
    base_idx, owner_idx = np.concatenate(base), np.concatenate(owner)
    cand = persons.take(base_idx).reset_index(drop=True)
    tokens = {f: changes.pop(f) for f in ("id_number", "age") if f in changes}
    for f, (pos, vals) in changes.items():
        _set_column(cand, f, pos, vals)
    if "id_number" in tokens:
        pos, vals = tokens["id_number"]
        by = cand["birth_year"].to_numpy(object, na_value=None)
        bm = cand["birth_month"].to_numpy(object, na_value=None)
        sex = cand["sex"].to_numpy(object, na_value=None)
        ea = cand["ea_code"].to_numpy(object, na_value=None)
        orig = persons["id_number"].to_numpy(object, na_value=None)
        new = [v if v is None else dom.repaired_id(v, orig[base_idx[q]], ea[q], by[q], bm[q], sex[q])
               for q, v in zip(pos, vals, strict=True)]
        _set_column(cand, "id_number", pos, new)
    cand = derive(cand)
    if "age" in tokens:
        pos, vals = tokens["age"]
        age_ym = cand["age_ym"].to_numpy(object, na_value=None)
        _set_column(cand, "age", pos, [v if v is None else age_ym[q] for q, v in zip(pos, vals, strict=True)])
    keys = np.array([f"~{q}" for q in range(start)], dtype=object)
    cand["household_key"] = pd.Series(keys, dtype="string[pyarrow]")
    # each candidate sits in a copy of its household, the other members as recorded
    own, others_idx, others_key = [], [], []
    for hh_row, q0, n in _runs(base_idx):
        hh = persons["household_key"].iat[hh_row]
        mem = members[hh]
        rest = mem[mem != hh_row]
        others_idx.append(np.tile(rest, n))
        others_key.append(np.repeat(keys[q0:q0 + n], len(rest)))
        own.append(np.arange(q0, q0 + n))
    others = persons.take(np.concatenate(others_idx)).reset_index(drop=True)
    others["household_key"] = pd.Series(np.concatenate(others_key), dtype="string[pyarrow]")
    mem_frame = pd.concat([cand, others], ignore_index=True)
    return Frame(cand, mem_frame, cand["household_key"], duplicates), cand, owner_idx, every


def _runs(idx: np.ndarray):
    """(value, start, length) of each run of equal values."""
    if not len(idx):
        return
    cut = np.flatnonzero(np.diff(idx)) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(idx)]])
    for s, e in zip(starts, ends, strict=True):
        yield int(idx[s]), int(s), int(e - s)


# ------------------------------------------------------------------------- households
def localise_households(ruleset: RuleSet, frames: Frames, failing: dict[int, list[Rule]],
                        duplicates: dict[str, set], max_fields: int = MAX_FIELDS
                        ) -> dict[tuple[str, str], Localisation]:
    """Localise households over their items and their members' relationship codes (the
    members' ages and sexes are person items, held as recorded)."""
    rules = ruleset.by_scope("household")
    hhs, persons = frames.households, frames.persons
    members = persons.groupby("household_key", sort=False).indices if len(persons) else {}
    rel_classes = dom.code_classes(rules, {"relationship": PERSON_FIELDS["relationship"]})["relationship"]
    rows = sorted(failing)
    problems = []
    for i, rec in zip(rows, records(hhs.iloc[rows]) if rows else [], strict=True):
        t0 = time.perf_counter()
        mem = members.get(rec["household_key"], np.zeros(0, np.int64))
        mem_recs = records(persons.iloc[mem]) if len(mem) else []
        rel_vars = [f"{MEMBER_REL}{m['record_key']}" for m in mem_recs]
        weights = {**{f: ruleset.weight(f) for f in HOUSEHOLD_ITEMS}, **{v: ruleset.weight("relationship")
                                                                          for v in rel_vars}}

        def variables(rule: Rule, rel_vars: list[str] = rel_vars) -> frozenset[str]:
            out = {f for f in rule.fields if f in HOUSEHOLD_ITEMS}
            if "relationship" in rule.fields:
                out.update(rel_vars)
            return frozenset(out)

        p = Problem("household", str(rec["record_key"]), i, weights, [variables(r) for r in failing[i]],
                    [v for v in (variables(r) for r in rules) if v], rec)
        p.subsets = candidate_sets(p, max_fields)
        infants = sum(1 for m in mem_recs if m.get("age_ym") == 0)
        rel_of = {f"{MEMBER_REL}{m['record_key']}": m.get("relationship") for m in mem_recs}
        for f in {v for _, s in p.subsets for v in s}:
            p.domains[f] = (dom.coded_domain(rel_classes, rel_of[f]) if f in rel_of
                            else dom.household_domain(f, rec, len(mem), infants))
        p.rec = {**rec, "__members__": mem, "__member_keys__": [m["record_key"] for m in mem_recs]}
        p.seconds = time.perf_counter() - t0
        problems.append(p)

    def build(pairs: list[tuple[Problem, tuple[str, ...]]]):
        return _household_candidates(hhs, persons, pairs, duplicates)

    return _search(problems, rules, build, max_fields)


def _household_candidates(hhs: pd.DataFrame, persons: pd.DataFrame, pairs: list[tuple[Problem, tuple[str, ...]]],
                          duplicates: dict[str, set]):
    base, owner, changes, every = [], [], {}, []
    mem_idx, mem_key, rel_pos, rel_val = [], [], [], []
    start, mstart = 0, 0
    for j, (p, subset) in enumerate(pairs):
        combos = _expand(p, subset)
        every.extend(combos)
        n = len(combos)
        mem = p.rec["__members__"]
        base.append(np.full(n, p.row))
        owner.append(np.full(n, j))
        mem_idx.append(np.tile(mem, n))
        mem_key.append(np.repeat(np.arange(start, start + n), len(mem)))
        where = {f"{MEMBER_REL}{k}": t for t, k in enumerate(p.rec["__member_keys__"])}
        for k, f in enumerate(subset):
            if f in where:
                rel_pos.extend(mstart + c * len(mem) + where[f] for c in range(n))
                rel_val.extend(c[k] for c in combos)
            else:
                pos, vals = changes.setdefault(f, ([], []))
                pos.extend(range(start, start + n))
                vals.extend(c[k] for c in combos)
        start += n
        mstart += n * len(mem)
    if not start:
        return None, None, np.zeros(0, np.int64), every
    cand = hhs.take(np.concatenate(base)).reset_index(drop=True)
    for f, (pos, vals) in changes.items():
        _set_column(cand, f, pos, vals)
    keys = np.array([f"~{q}" for q in range(start)], dtype=object)
    cand["household_key"] = pd.Series(keys, dtype="string[pyarrow]")
    cand["record_key"] = cand["household_key"]
    mem = persons.take(np.concatenate(mem_idx)).reset_index(drop=True)
    mem["household_key"] = pd.Series(keys[np.concatenate(mem_key)], dtype="string[pyarrow]")
    if rel_pos:
        _set_column(mem, "relationship", rel_pos, rel_val)
    return Frame(cand, mem, cand["household_key"], duplicates), cand, np.concatenate(owner), every


# ------------------------------------------------------------------------- the search
def _search(problems: list[Problem], rules: list[Rule], build, max_fields: int) -> dict[tuple[str, str], Localisation]:
    """Walk the total weights upwards; at each, evaluate all open records' sets of that weight."""
    out: dict[tuple[str, str], Localisation] = {}
    open_ = {id(p): p for p in problems if p.subsets}
    for p in problems:
        if not p.subsets:
            out[(p.scope, p.key)] = _unresolved(p)
    levels = sorted({w for p in open_.values() for w, _ in p.subsets})
    for w in levels:
        pairs = [(p, s) for p in open_.values() for pw, s in p.subsets if pw == w]
        found: dict[int, tuple[tuple[str, ...], dict]] = {}
        for chunk in _chunks(pairs):
            t0 = time.perf_counter()
            frame, cand, owner, combos = build(chunk)
            ok = _passes_all(rules, frame) if frame is not None else np.zeros(0, bool)
            elapsed = time.perf_counter() - t0
            rows = np.bincount(owner, minlength=len(chunk)) if len(owner) else np.zeros(len(chunk))
            total = max(int(rows.sum()), 1)
            for j, (p, _s) in enumerate(chunk):
                p.seconds += elapsed * (rows[j] / total if rows.sum() else 1 / len(chunk))
            hits = np.flatnonzero(ok)
            first: dict[int, int] = {}
            for q in hits[::-1]:
                first[int(owner[q])] = int(q)
            for j in sorted(first):          # chunk order = each record's tie order
                p, s = chunk[j]
                if id(p) not in found:
                    found[id(p)] = (s, _example(s, combos[first[j]], cand.iloc[first[j]]))
        for pid, (s, example) in found.items():
            p = open_.pop(pid)
            exact = not p.truncated and w <= _larger_sets_weigh_at_least(p, max_fields)
            out[(p.scope, p.key)] = Localisation(tuple(sorted(s)), w, exact, example, round(float(p.seconds), 6))
        if not open_:
            break
    for p in open_.values():
        out[(p.scope, p.key)] = _unresolved(p)
    return out


def _larger_sets_weigh_at_least(p: Problem, max_fields: int) -> float:
    """A lower bound on the weight of any set bigger than the size bound: the sum of the
    ``max_fields + 1`` smallest weights. A set found at or below it is minimal over all sizes."""
    smallest = sorted(p.weights.values())[:max_fields + 1]
    return sum(smallest) if len(smallest) > max_fields else float("inf")


def _chunks(pairs: list[tuple[Problem, tuple[str, ...]]]):
    chunk, rows = [], 0
    for p, s in pairs:
        n = min(int(np.prod([len(p.domains[f]) for f in s])), ROW_CAP)
        if chunk and rows + n > BATCH_ROWS:
            yield chunk
            chunk, rows = [], 0
        chunk.append((p, s))
        rows += n
    if chunk:
        yield chunk


def _passes_all(rules: list[Rule], frame: Frame) -> np.ndarray:
    ok = np.ones(len(frame.units), dtype=bool)
    for rule in rules:
        ok &= rule_status(rule.test.tree, rule.when.tree if rule.when else None, frame) != 0
    return ok


def _example(subset: tuple[str, ...], combo: tuple, row: pd.Series) -> dict[str, object]:
    """The passing candidate's new values (derived tokens resolved from the candidate row; a
    member's relationship from the combination, as the unit row is the household)."""
    out = {}
    for f, v in sorted(zip(subset, combo, strict=True)):
        if not f.startswith(MEMBER_REL):
            v = _value(row[f])
        out[f] = int(v) if isinstance(v, float) and v.is_integer() else v
    return out


def _unresolved(p: Problem) -> Localisation:
    weight, fields = cheapest_cover(p)
    return Localisation(tuple(sorted(fields)), weight, False, {}, round(float(p.seconds), 6))
