"""Does the sample-size calculator's answer give the target margin of error? A simulation on the
synthetic county, with the known truth (census omissions per EA).

1. Pilot: ``--draws`` draws of the bundled design at ``--pilot`` EAs measure the design effect of
   the census omission rate (variance over the draws / variance of SRS of as many persons).
2. For each target margin, the calculator (fed that design effect) sizes the sample; ``--draws``
   draws at that size give the realised margin (1.96 x SD of the estimates), the mean reported
   margin (1.96 x mean Taylor SE) and the coverage of the 95 % intervals.

    python benchmarks/sim_sample_size.py [--persons 200000] [--draws 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from benchmarks.common import county  # noqa: E402
from sampling.design import bundled_path, parse_design  # noqa: E402
from sampling.simulate import moe_study  # noqa: E402


def design(total):
    doc = yaml.safe_load(bundled_path().read_text("utf-8"))
    doc["allocation"]["total"] = total
    return parse_design(doc)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--pilot", type=int, default=40, help="EAs in the pilot draws")
    ap.add_argument("--targets", default="0.005,0.004,0.003,0.0025")
    ap.add_argument("--data", type=Path, help="an existing synth folder instead of a fresh county")
    args = ap.parse_args(argv)
    with county(args.persons, seed=8, data=args.data) as d:
        frame = pd.read_csv(d / "areas.csv", dtype=str)
        truth = pd.read_csv(d / "truth" / "areas.csv", dtype={"ea_code": str}).set_index("ea_code")
    y, x = truth["census_omitted"], truth["true_persons"]
    t0 = time.perf_counter()
    pilot = moe_study(design(args.pilot), frame, y, x, range(args.draws))
    print(f"county: {len(frame)} EAs, {int(x.sum()):,} persons, true omission rate {pilot.true_rate:.4%}")
    print(f"pilot: {args.draws} draws of {pilot.eas} EAs: design effect {pilot.empirical_deff:.2f}, "
          f"realised margin {pilot.realised_moe:.4%}")
    print(f"{'target':>8} {'EAs':>5} {'realised':>9} {'ratio':>6} {'reported':>9} {'coverage':>8} {'deff':>5}")
    for i, target in enumerate(float(t) for t in args.targets.split(",")):
        calc = {"expected_rate": pilot.true_rate, "moe": target, "deff": pilot.empirical_deff}
        s = moe_study(design(calc), frame, y, x, range(10_000 * (i + 1), 10_000 * (i + 1) + args.draws))
        print(f"{target:>8.4%} {s.eas:>5} {s.realised_moe:>9.4%} {s.realised_moe / target:>6.2f} "
              f"{s.mean_reported_moe:>9.4%} {s.coverage:>8.1%} {s.empirical_deff:>5.2f}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
