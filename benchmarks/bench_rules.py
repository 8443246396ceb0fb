"""Rule evaluation throughput: 1M synthetic persons x the bundled rule set.

Prints person-rule evaluations per second for the vectorised engine (median of runs), peak
memory, and the ratio against the row-by-row reference evaluator timed in the same run on a
sample of households (row-by-row over 1M persons would take many minutes). Also prints how
well the flags find the planted errors.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import county, peak_rss_mb  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=20_000, help="persons evaluated row by row")
    ap.add_argument("--data", type=Path, help="an existing synth output folder")
    args = ap.parse_args(argv)

    from rules import rowwise
    from rules.engine import confront, dataset_duplicates
    from rules.evaluation import read_synthetic, recall_by_error
    from rules.frames import build_frames, records
    from rules.ruleset import load_ruleset

    with county(args.persons, 1, args.data) as data:
        rs = load_ruleset()
        persons, households, deaths = read_synthetic(data)
        t0 = time.perf_counter()
        frames = build_frames(persons, households, deaths)
        t_frames = time.perf_counter() - t0
        dups = dataset_duplicates(rs, frames.persons)
        units = {"person": len(frames.persons), "dataset": len(frames.persons),
                 "household": len(frames.households), "death": len(frames.deaths)}
        evaluations = sum(units[r.scope] for r in rs.rules)
        person_evals = sum(units[r.scope] for r in rs.rules if r.scope in ("person", "dataset"))
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            confront(rs, frames, dups)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"vectorised: {len(frames.persons):,} persons, {len(frames.households):,} households, "
              f"{len(frames.deaths):,} deaths x {len(rs.rules)} rules = {evaluations:,} evaluations "
              f"({person_evals:,} person-rule)")
        print(f"  runs {', '.join(f'{t:.2f}' for t in times)} s; median {med:.2f} s = "
              f"{evaluations / med / 1e6:.1f} M evaluations/s (target >= 10 M person-rule evaluations/s); "
              f"frames built in {t_frames:.1f} s; peak RSS {peak_rss_mb():.0f} MB")

        # row by row on a sample of whole households, same rules
        keep = set(frames.persons["household_key"].iloc[: args.sample])
        sp = frames.persons[frames.persons["household_key"].isin(keep)]
        sh = frames.households[frames.households["household_key"].isin(keep)]
        recs, hrecs = records(sp), records(sh)
        by_hh: dict = {}
        for m in recs:
            by_hh.setdefault(m["household_key"], []).append(m)
        t0 = time.perf_counter()
        n_row = 0
        for rule in rs.rules:
            if rule.scope == "death":
                continue
            when = rule.when.tree if rule.when else None
            for u in (hrecs if rule.scope == "household" else recs):
                rowwise.status(rule.test.tree, when, u, by_hh.get(u["household_key"], []), dups)
                n_row += 1
        t_row = time.perf_counter() - t0
        row_rate = n_row / t_row
        print(f"row by row: {n_row:,} evaluations in {t_row:.1f} s = {row_rate / 1e6:.3f} M/s; "
              f"vectorised is {evaluations / med / row_rate:.0f}x faster")

        r = recall_by_error(data, rs)
        print("flags vs planted errors (records with the error that got at least one flag):")
        for row in r["by_error"]:
            print(f"  {row['error']:<18} {row['records']:>7,}  recall {row['recall']:.3f}")
        print(f"  false-flag rate: all clean records {r['false_flag_rate']:.4f}; isolated clean records "
              f"{r['false_flag_rate_isolated']:.4f} ({r['isolated_clean_flagged']} of {r['isolated_clean_records']:,})")


if __name__ == "__main__":
    main()
