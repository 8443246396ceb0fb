"""Dual-system estimation on the synthetic county, with the known truth: does the 95 % interval
of the gross omission rate cover the true rate, and how biased are the estimates?

Each draw of the bundled design (``sampling/pes_county.yaml``) gives the sample EAs; the
P-sample is every valid PES person there (true status ``resident``), matched iff its true person
has a census record; the E-sample is every census record there, correct iff the truth lists no
record-level error (duplicate, died_before, born_after, fictitious). No record linkage: the
synth truth is the match. Post-strata: sex x age group x urban/rural, from the reported items.

    python benchmarks/sim_coverage.py [--persons 100000] [--draws 100] [--data SYNTH_FOLDER]

Target (the issue's): the true omission rate inside the 95 % interval in >= 93 of 100 draws and
|mean bias| < 10 % of the true rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from audit_engine.coverage.simulate import load_county, study, summary  # noqa: E402
from benchmarks.common import county  # noqa: E402
from sampling.design import load_design  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--county-seed", type=int, default=8)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--data", type=Path, help="an existing synth folder instead of a fresh county")
    ap.add_argument("--eas", type=int, help="sample EAs (allocation total) instead of the bundled calculator's")
    args = ap.parse_args(argv)
    design = load_design()
    if args.eas:
        design = replace(design, allocation=replace(design.allocation, total=args.eas))
    t0 = time.perf_counter()
    with county(args.persons, seed=args.county_seed, data=args.data) as d:
        c = load_county(d, design)
    runs = study(c, design, range(args.draws))
    s = summary(runs)
    print(f"county: {len(c.frame)} EAs, {int(c.truth['N']):,} residents, {len(c.census):,} census records; "
          f"{runs['eas'].iloc[0]} sample EAs per draw; {args.draws} draws")
    print(f"{'statistic':>15} {'truth':>10} {'mean est':>10} {'bias':>10} {'rel bias':>9} {'emp sd':>10} "
          f"{'mean se':>10} {'covered':>8}")
    for stat, r in s.iterrows():
        fmt = (lambda v: f"{v:>10,.0f}") if stat == "N" else (lambda v: f"{v:>10.4%}")
        print(f"{stat:>15} {fmt(r.truth)} {fmt(r.mean_est)} {fmt(r.bias)} {r.rel_bias:>9.1%} {fmt(r.emp_sd)} "
              f"{fmt(r.mean_se)} {int(r.covered):>4}/{int(r.draws)}")
    om = s.loc["omission"]
    ok = om.covered >= 0.93 * om.draws and abs(om.rel_bias) < 0.10
    print(f"target (omission covered >= 93 %, |mean bias| < 10 % of truth): {'met' if ok else 'NOT met'}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
