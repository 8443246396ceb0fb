"""Error localisation cost and accuracy on a synthetic county (default 50,000 persons).

Prints, for every failing record (person and household): the time charged to it (its own set
enumeration plus its share, by candidate rows, of each batched evaluation) as median and p95;
the wall time of the whole localisation; single-record latency (each record localised alone,
on a sample); the share proven exact; and, per planted error type, how often the localised
field set names the field that was really wrong.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import county  # noqa: E402

#: planted error type -> the fields that were really wrong (age is re-derived from the birth date)
TRULY_WRONG = {"sex_error": {"sex"}, "birth_month": {"birth_month"}, "age_heaping": {"birth_year", "age"},
               "id_digit": {"id_number"}, "id_transpose": {"id_number"}, "missing_id_number": {"id_number"},
               "missing_ethnicity": {"ethnicity"}, "missing_education": {"education"}}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sample", type=int, default=100, help="records timed one at a time")
    ap.add_argument("--data", type=Path, help="an existing synth output folder")
    args = ap.parse_args(argv)

    import numpy as np
    import pandas as pd

    from rules.engine import confront, dataset_duplicates
    from rules.evaluation import read_synthetic
    from rules.frames import build_frames
    from rules.localise import localise_failures, localise_households, localise_persons
    from rules.ruleset import load_ruleset

    with county(args.persons, args.seed, args.data) as data:
        rs = load_ruleset()
        frames = build_frames(*read_synthetic(data))
        dups = dataset_duplicates(rs, frames.persons)
        results = confront(rs, frames, dups)
        t0 = time.perf_counter()
        loc = localise_failures(rs, frames, results, dups)
        wall = time.perf_counter() - t0
        secs = [v.seconds for v in loc.values()]
        n_p = sum(1 for s, _ in loc if s == "person")
        print(f"{len(frames.persons):,} persons, {len(frames.households):,} households: "
              f"{n_p:,} failing persons + {len(loc) - n_p:,} failing households localised in {wall:.1f} s "
              f"({wall / max(len(loc), 1) * 1000:.1f} ms per record, batched)")
        print(f"  time charged per record: median {statistics.median(secs) * 1000:.1f} ms, "
              f"p95 {_pct(secs, 0.95) * 1000:.1f} ms, max {max(secs) * 1000:.0f} ms")
        exact = sum(v.exact for v in loc.values())
        print(f"  exact (minimal within the candidate domains): {exact:,} of {len(loc):,} ({exact / len(loc):.1%})")
        sizes = pd.Series([len(v.fields) for v in loc.values()]).value_counts().sort_index()
        print("  fields per localisation: " + ", ".join(f"{k}: {v:,}" for k, v in sizes.items()))

        # one record at a time: latency when a reviewer asks for a single record
        failing: dict[str, dict[int, list]] = {"person": {}, "household": {}}
        for r in results:
            scope = {"person": "person", "dataset": "person", "household": "household"}.get(r.rule.scope)
            if scope:
                for i in np.flatnonzero(r.status == 0):
                    failing[scope].setdefault(int(i), []).append(r.rule)
        rng = np.random.default_rng(0)
        rows = rng.choice(sorted(failing["person"]), size=min(args.sample, len(failing["person"])), replace=False)
        alone = []
        for i in rows:
            t = time.perf_counter()
            localise_persons(rs, frames, {int(i): failing["person"][int(i)]}, dups)
            alone.append(time.perf_counter() - t)
        hrows = sorted(failing["household"])[: args.sample]
        halone = []
        for i in hrows:
            t = time.perf_counter()
            localise_households(rs, frames, {i: failing["household"][i]}, dups)
            halone.append(time.perf_counter() - t)
        print(f"  one person alone ({len(alone)} sampled): median {statistics.median(alone) * 1000:.0f} ms, "
              f"p95 {_pct(alone, 0.95) * 1000:.0f} ms")
        if halone:
            print(f"  one household alone ({len(halone)}): median {statistics.median(halone) * 1000:.0f} ms, "
                  f"p95 {_pct(halone, 0.95) * 1000:.0f} ms")

        truth = pd.read_csv(data / "truth" / "records.csv", dtype=str, keep_default_na=False)
        truth = truth[truth.source == "census"]
        print("records with exactly one planted error: localised / names the wrong field / most common set")
        for error, wrong in TRULY_WRONG.items():
            keys = truth.loc[truth.errors == error, "person_id"]
            got = [loc[("person", k)] for k in keys if ("person", k) in loc]
            hit = sum(bool(set(g.fields) & wrong) for g in got)
            common = pd.Series([",".join(g.fields) for g in got]).value_counts()
            top = f"{common.index[0]} ({common.iloc[0]})" if len(common) else "-"
            share = f"{hit / len(got):.3f}" if got else "  -  "
            print(f"  {error:<18} {len(keys):>6,} {len(got):>6,}  {share}  {top}")


if __name__ == "__main__":
    main()
