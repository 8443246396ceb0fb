"""``census-audit check``: confront the store with a rule set, EA chunk by EA chunk.

Memory stays bounded on a national file: persons, households and deaths are read for a group
of enumeration areas at a time (households never straddle EAs). Dataset-wide tests (the same
ID number held twice anywhere) are answered by one aggregate query before the chunks. Every
failure becomes a flag with the fields the rule reads and their values at check time; the run
is recorded in the ledger with the rule set's content hash and the hash of the data checked.

:func:`check_group` is the whole check of one EA group; the Spark backend
(audit_engine/spark/check.py) calls it inside its workers, so the two backends share every step
from the store-shaped tables to the flag rows.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, insert, select

from audit_engine.access.masking import PERSONAL_FIELDS, mask_value
from audit_engine.ledger import append as ledger_append
from audit_engine.ledger.chain import canonical_json
from audit_engine.store.models import Death, Flag, Household, LoadFile, Person
from audit_engine.store.runs import finish_run, start_run
from rules.engine import RuleResult, confront
from rules.frames import build_frames
from rules.ruleset import RuleSet

CHUNK_PERSONS = 200_000
Localiser = Callable[..., dict]


@dataclass
class CheckSummary:
    run_id: int
    ruleset: str
    ruleset_hash: str
    data_hash: str
    source: str
    area: str | None
    persons: int
    households: int
    deaths: int
    rules: list[dict] = field(default_factory=list)   # id, severity, scope, items, passes, fails, na
    flags: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def data_hash(engine: Engine, source: str) -> str:
    """What was checked: the SHA-256 of the loaded files of the source (in load order)."""
    with engine.connect() as conn:
        rows = conn.execute(select(LoadFile.kind, LoadFile.sha256).where(
            LoadFile.source == source, LoadFile.status == "done").order_by(LoadFile.id)).all()
    return hashlib.sha256(canonical_json([list(r) for r in rows]).encode()).hexdigest()


def _ea_groups(engine: Engine, source: str, area: str | None, chunk_persons: int) -> list[list[str]]:
    stmt = select(Person.ea_code, func.count()).where(Person.source == source)
    if area:
        stmt = stmt.where(Person.ea_code.like(f"{area}%"))
    with engine.connect() as conn:
        counts = conn.execute(stmt.group_by(Person.ea_code).order_by(Person.ea_code)).all()
        hh_only = select(Household.ea_code).where(Household.source == source)
        if area:
            hh_only = hh_only.where(Household.ea_code.like(f"{area}%"))
        extra = {r[0] for r in conn.execute(hh_only.distinct())} - {c[0] for c in counts}
    groups, current, size = [], [], 0
    for ea, n in [*counts, *((e, 0) for e in sorted(extra))]:
        if current and size + n > chunk_persons:
            groups.append(current)
            current, size = [], 0
        current.append(ea)
        size += n
    if current:
        groups.append(current)
    return groups


def dataset_fields(ruleset: RuleSet) -> list[str]:
    """Fields the dataset rules use under is_unique(), in rule order (each once): the values
    held twice anywhere in the source are found for these before any chunk is checked."""
    return list(dict.fromkeys(f for rule in ruleset.by_scope("dataset")
                              for f in rule.test.dataset_fields + (rule.when.dataset_fields if rule.when else ())))


def _duplicates(engine: Engine, ruleset: RuleSet, source: str) -> dict[str, set]:
    out: dict[str, set] = {}
    with engine.connect() as conn:
        for f in dataset_fields(ruleset):
            col = getattr(Person, f)
            rows = conn.execute(select(col).where(Person.source == source, col.is_not(None))
                                .group_by(col).having(func.count() > 1))
            out[f] = {r[0] for r in rows}
    return out


def _read(engine: Engine, source: str, eas: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    p_cols = [c for c in Person.__table__.columns if c.name not in ("id", "source", "load_file_id")]
    h_cols = [c for c in Household.__table__.columns if c.name not in ("id", "source", "load_file_id")]
    d_cols = [c for c in Death.__table__.columns if c.name not in ("id", "source", "load_file_id")]
    with engine.connect() as conn:
        persons = pd.read_sql(select(*p_cols).where(Person.source == source, Person.ea_code.in_(eas)), conn)
        households = pd.read_sql(select(*h_cols).where(Household.source == source, Household.ea_code.in_(eas)), conn)
        deaths = pd.read_sql(select(*d_cols).where(Death.source == source, Death.ea_code.in_(eas)), conn)
    return persons, households, deaths


def _jsonable(v: object) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, int | float | str | bool) else str(v)


def _private(field: str, value: object) -> object:
    """A flag keeps the values at check time, masked where the field is personal (a name, an
    ID number): flags are read by exports, reports and logs; the unmasked record is what
    ``review show`` reads from ``persons``, for the officer in scope only."""
    v = _jsonable(value)
    return mask_value(field, v) if field in PERSONAL_FIELDS and v is not None else v


def flag_rows(results: list[RuleResult], frames, run_id: int, source: str,
              suggestions: dict[tuple[str, str], object]) -> list[dict]:
    """One flag row (the ``flags`` table's columns, less ``id``) per failing unit."""
    rows = []
    units = {"person": frames.persons, "dataset": frames.persons, "household": frames.households, "death": frames.deaths}
    for res in results:
        failing = np.flatnonzero(res.status == 0)
        if not len(failing):
            continue
        frame = units[res.rule.scope]
        fields = [f for f in res.rule.fields if f in frame.columns]
        values = frame.iloc[failing][fields] if fields else None
        scope_key = "household" if res.rule.scope == "household" else "person"
        for n, i in enumerate(failing):
            key = str(res.keys.iat[i])
            sug = suggestions.get((scope_key, key))
            rows.append({
                "run_id": run_id, "rule_id": res.rule.id, "severity": res.rule.severity, "scope": res.rule.scope,
                "source": source, "record_key": key, "ea_code": None if res.ea.iat[i] is pd.NA else str(res.ea.iat[i]),
                "fields": json.dumps(fields),
                "values": json.dumps({f: _private(f, values.iat[n, j]) for j, f in enumerate(fields)} if fields else {},
                                     ensure_ascii=False),
                "suggestion": None if sug is None else json.dumps(
                    {"fields": list(sug.fields), "weight": sug.weight, "exact": sug.exact,
                     "example": {k: _private(k, v) for k, v in sug.example.items()}}, ensure_ascii=False),
                "status": "open",
            })
    return rows


#: the order every backend checks a chunk's rows in: the localiser's tie-breaks (the first head
#: of a household with two, a member's place in the household) follow frame order, so it is
#: fixed by the records' keys, not left to a query plan or a shuffle
ORDER = {"persons": ["ea_code", "household_key", "line_no", "person_key"],
         "households": ["ea_code", "household_key"], "deaths": ["ea_code", "household_key", "line_no"]}


def ordered(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``frame`` (a store-shaped table of ``kind``) sorted by :data:`ORDER`, index 0..n-1."""
    keys = [k for k in ORDER[kind] if k in frame.columns]
    if not len(frame) or not keys:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="stable", na_position="last", ignore_index=True)


@dataclass
class GroupCheck:
    """What checking one chunk of EAs gives: its flag rows and each rule's counts."""
    rows: list[dict]
    counts: dict[str, dict[str, int]]      # rule id -> items, passes, fails, na
    persons: int
    households: int
    deaths: int


def check_group(ruleset: RuleSet, persons: pd.DataFrame, households: pd.DataFrame, deaths: pd.DataFrame,
                duplicates: dict[str, set], *, run_id: int, source: str,
                localiser: Localiser | None = None) -> GroupCheck:
    """Check one chunk of whole EAs (store-shaped tables, as ``pandas.read_sql`` gives them).

    The one code path of both backends: the local one calls it per EA group read from the
    store, the Spark one inside ``applyInPandas`` per EA group read from the lake."""
    persons, households, deaths = ordered(persons, "persons"), ordered(households, "households"), \
        ordered(deaths, "deaths")
    frames = build_frames(persons, households, deaths)
    results = confront(ruleset, frames, duplicates)
    suggestions = localiser(ruleset, frames, results, duplicates) if localiser else {}
    rows = flag_rows(results, frames, run_id, source, suggestions)
    counts: dict[str, dict[str, int]] = {}
    for res in results:
        acc = counts.setdefault(res.rule.id, {"items": 0, "passes": 0, "fails": 0, "na": 0})
        for k, v in res.summary.items():
            acc[k] += v
    return GroupCheck(rows, counts, len(persons), len(households), len(deaths))


def new_totals(ruleset: RuleSet) -> dict[str, dict]:
    """Per-rule counters, every rule present (a rule checked on nothing still shows)."""
    return {r.id: {"id": r.id, "severity": r.severity, "scope": r.scope, "items": 0, "passes": 0, "fails": 0, "na": 0}
            for r in ruleset.rules}


def add_counts(totals: dict[str, dict], counts: dict[str, dict[str, int]]) -> None:
    for rule_id, c in counts.items():
        for k, v in c.items():
            totals[rule_id][k] += int(v)


def finish_check(engine: Engine, summary: CheckSummary, ruleset: RuleSet, params: dict, *, operator: str,
                 t0: float, inputs: dict | None = None) -> None:
    """Close a check run: the run record (per-rule counts for the rules report) and the ledger
    entry (rule set and data hashes, plus what the backend adds)."""
    summary.seconds = round(time.perf_counter() - t0, 3)
    result = {"persons": summary.persons, "households": summary.households, "deaths": summary.deaths,
              "flags": summary.flags, "rules": len(summary.rules),
              "fails_by_severity": {s: sum(r["fails"] for r in summary.rules if r["severity"] == s)
                                    for s in ("error", "warning", "info")}}
    # The run record keeps the per-rule counts (items / passes / fails / n/a) for the rules report.
    finish_run(engine, summary.run_id, {**result, "per_rule": summary.rules, "seconds": summary.seconds})
    ledger_append(engine, operator=operator, command="check",
                  params={**params, "run_id": summary.run_id},
                  inputs={"ruleset": ruleset.content_hash, "data": summary.data_hash,
                          **{f"rules:{k}": v for k, v in ruleset.files.items()}, **(inputs or {})},
                  result=result)


def run_check(engine: Engine, ruleset: RuleSet, *, operator: str, source: str = "census", area: str | None = None,
              chunk_persons: int = CHUNK_PERSONS, localiser: Localiser | None = None,
              progress: Callable[[int, int], None] | None = None) -> CheckSummary:
    """Check the store; store flags; record the run in the ledger. Returns the per-rule summary."""
    t0 = time.perf_counter()
    dhash = data_hash(engine, source)
    params = {"ruleset": ruleset.name, "ruleset_hash": ruleset.content_hash, "source": source, "area": area}
    run_id = start_run(engine, "check", operator, params)
    summary = CheckSummary(run_id, ruleset.name, ruleset.content_hash, dhash, source, area, 0, 0, 0)
    totals = new_totals(ruleset)
    try:
        duplicates = _duplicates(engine, ruleset, source)
        groups = _ea_groups(engine, source, area, chunk_persons)
        for gi, eas in enumerate(groups):
            persons, households, deaths = _read(engine, source, eas)
            got = check_group(ruleset, persons, households, deaths, duplicates, run_id=run_id, source=source,
                              localiser=localiser)
            if got.rows:
                with engine.begin() as conn:
                    conn.execute(insert(Flag), got.rows)
            add_counts(totals, got.counts)
            summary.persons += got.persons
            summary.households += got.households
            summary.deaths += got.deaths
            summary.flags += len(got.rows)
            if progress:
                progress(gi + 1, len(groups))
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted; flags of this run are incomplete, run check again"}, "failed")
        raise
    summary.rules = list(totals.values())
    finish_check(engine, summary, ruleset, params, operator=operator, t0=t0)
    return summary
