"""How well a rule set finds the errors planted in a synthetic census (ground truth known).

Recall by injected error type: the share of records carrying that error that got at least
one person-level flag. False-flag rate: the share of records with no injected error (and a
real person behind them) that got one anyway. Used by the tests and benchmarks/bench_rules.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rules.engine import confront, dataset_duplicates
from rules.frames import build_frames
from rules.ruleset import RuleSet


def read_synthetic(folder: Path, source: str = "census") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The generator's CSVs shaped like the store's tables."""
    persons = pd.read_csv(folder / source / "persons.csv", dtype=str, keep_default_na=False)
    persons = persons.replace({"": None}).rename(columns={"person_id": "person_key", "household_id": "household_key"})
    ym = persons.pop("birth_ym").str.split("-", expand=True)
    persons["birth_year"], persons["birth_month"] = pd.to_numeric(ym[0]), pd.to_numeric(ym[1])
    households = pd.read_csv(folder / source / "households.csv", dtype=str, keep_default_na=False)
    households = households.replace({"": None}).rename(columns={"household_id": "household_key"})
    deaths_path = folder / source / "deaths.csv"
    deaths = pd.DataFrame()
    if deaths_path.exists():
        deaths = pd.read_csv(deaths_path, dtype=str, keep_default_na=False).replace({"": None})
        deaths = deaths.rename(columns={"household_id": "household_key"})
        for col in ("birth_ym", "death_ym"):
            parts = deaths.pop(col).str.split("-", expand=True)
            base = col.removesuffix("_ym")
            deaths[f"{base}_year"], deaths[f"{base}_month"] = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    return persons, households, deaths


def flagged_persons(ruleset: RuleSet, persons: pd.DataFrame, households: pd.DataFrame,
                    deaths: pd.DataFrame, severities=("error", "warning")) -> dict[str, set[str]]:
    """Person record key -> ids of the person/dataset rules it failed."""
    frames = build_frames(persons, households, deaths)
    out: dict[str, set[str]] = {}
    for res in confront(ruleset, frames, dataset_duplicates(ruleset, frames.persons)):
        if res.rule.scope not in ("person", "dataset") or res.rule.severity not in severities:
            continue
        for i in np.flatnonzero(res.status == 0):
            out.setdefault(str(res.keys.iat[i]), set()).add(res.rule.id)
    return out


def recall_by_error(folder: Path, ruleset: RuleSet, source: str = "census") -> dict:
    persons, households, deaths = read_synthetic(folder, source)
    flags = flagged_persons(ruleset, persons, households, deaths)
    truth = pd.read_csv(folder / "truth" / "records.csv", dtype=str, keep_default_na=False)
    truth = truth[truth.source == source]
    rows = []
    errors = truth.errors.str.split(";")
    flagged = truth.person_id.isin(flags.keys())
    for etype in sorted({e for es in errors for e in es if e}):
        has = errors.map(lambda es, t=etype: t in es)
        n = int(has.sum())
        rows.append({"error": etype, "records": n, "flagged": int((has & flagged).sum()),
                     "recall": float((has & flagged).sum() / n) if n else None})
    clean = (truth.errors == "") & (truth.true_person_id != "")
    # Stricter: a clean record can rightly be flagged because of another record — the other half
    # of a duplicate pair (same ID number), or a household member whose error breaks a
    # relationship edit. Isolated clean records have neither.
    hh = persons.set_index("person_key")["household_key"].reindex(truth.person_id).to_numpy()
    bad_hh = set(hh[(truth.errors != "").to_numpy()])
    duplicated = set(truth.loc[errors.map(lambda es: "duplicate" in es), "true_person_id"])
    isolated = clean & ~pd.Series(hh, index=truth.index).isin(bad_hh) & ~truth.true_person_id.isin(duplicated)
    def rate(mask: pd.Series) -> float | None:
        return float((mask & flagged).sum() / mask.sum()) if mask.sum() else None
    return {"records": len(truth), "by_error": rows,
            "clean_records": int(clean.sum()), "clean_flagged": int((clean & flagged).sum()),
            "false_flag_rate": rate(clean),
            "isolated_clean_records": int(isolated.sum()), "isolated_clean_flagged": int((isolated & flagged).sum()),
            "false_flag_rate_isolated": rate(isolated)}
