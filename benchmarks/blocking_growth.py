"""How the duplicate blocking rules' candidate pairs grow with the census: the basis of the
national sizing in docs/scale.md.

    .venv/bin/python benchmarks/blocking_growth.py --data DIR [--counties 1,2,5,10]

For the first k counties of a multi-county synthetic census (benchmarks/spark_data.py), each
rule of :func:`~audit_engine.linkage.census.duplicate_settings` makes Σ_b n_b(n_b − 1)/2 pairs
over its blocks b (before the union): counted from the block sizes, no pair is made. A rule on a
key that is nearly one per person (the ID number) grows like N; a rule whose key space does not
grow with the population (name pinyin + birth year) grows like N² — the exponent fitted between
the smallest and largest k is printed per rule, with the pairs extrapolated to 1.4 billion.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

NATIONAL = 1_400_000_000


def county_keys(folder: Path) -> pd.DataFrame:
    from audit_engine.linkage.census import person_keys

    cols = ["person_id", "name", "id_number", "birth_ym"]
    p = pd.read_csv(folder / "census" / "persons.csv", dtype=str, usecols=cols, keep_default_na=False)
    p = p.replace({"": None})
    k = person_keys(p)
    return k[["id_key", "name_py", "birth_year", "given_py", "birth_ym", "id_birth", "surname_py"]]


def pairs_per_rule(keys: pd.DataFrame) -> dict[str, int]:
    from audit_engine.linkage.census import duplicate_settings

    out = {}
    for r in duplicate_settings().rules:
        sizes = keys[list(r.on)].dropna().value_counts(sort=False).to_numpy(dtype="int64")
        out[r.label] = int((sizes * (sizes - 1) // 2).sum())
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--counties", default="1,2,5,10")
    a = ap.parse_args(argv)
    folders = sorted(p for p in a.data.glob("county-*") if (p / "manifest.json").exists())
    ks = [k for k in (int(x) for x in a.counties.split(",")) if k <= len(folders)]
    parts, rows = [], []
    t0 = time.perf_counter()
    for k in ks:
        while len(parts) < k:
            parts.append(county_keys(folders[len(parts)]))
        keys = pd.concat(parts, ignore_index=True)
        got = pairs_per_rule(keys)
        rows.append((k, len(keys), got))
        print(f"{k:>3} counties, {len(keys):>12,} persons: "
              + ", ".join(f"{r} {n:,}" for r, n in got.items()) + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if len(rows) >= 2:
        (_, n0, p0), (_, n1, p1) = rows[0], rows[-1]
        print(f"growth between {n0:,} and {n1:,} persons, extrapolated to {NATIONAL:,}:")
        for r in p1:
            if p0[r] == 0 or p1[r] == 0:
                print(f"  {r:<22} no pairs at one end")
                continue
            e = math.log(p1[r] / p0[r]) / math.log(n1 / n0)
            print(f"  {r:<22} exponent {e:.2f}; {p1[r] / n1:.3f} pairs per person at {n1:,}; "
                  f"national {p1[r] * (NATIONAL / n1) ** e:,.3g} pairs")


if __name__ == "__main__":
    main()
