"""Run every benchmark and print its figures: ``python benchmarks/run.py [--quick]``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import (  # noqa: E402
    bench_demo,
    bench_febrl,
    bench_link_scale,
    bench_load,
    bench_localise,
    bench_register,
    bench_rules,
    bench_sample,
    bench_spark,
    bench_synth,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100,000 persons, one run (a smoke check, not the target)")
    args = ap.parse_args()
    persons = "100000" if args.quick else "1000000"
    with tempfile.TemporaryDirectory(prefix="census-audit-bench-") as tmp:
        print("== synthetic county generation")
        bench_synth.main(["--persons", persons, "--out", tmp])
        print("== load throughput (issue: >= 50,000 persons/s on SQLite, 1M persons)")
        bench_load.main(["--data", tmp] + (["--repeat", "1"] if args.quick else []))
        print("== rule evaluation (issue: >= 10 M person-rule evaluations/s, 1M persons)")
        bench_rules.main(["--data", tmp] + (["--repeat", "1", "--sample", "5000"] if args.quick else []))
        print("== record linkage at census scale (issue: 50,000 PES persons against 1M census persons <= 60 s, "
              "precision and recall >= 0.995; census duplicates over 1M <= 5 minutes)")
        bench_link_scale.main(["--data", tmp] + (["--quick"] if args.quick else []))
    print("== error localisation (Fellegi-Holt), time per failing record")
    bench_localise.main(["--persons", "20000" if args.quick else "50000"])
    print("== record linkage on FEBRL4 (issue: unsupervised F1 >= 0.999; Splink and recordlinkage side by side)")
    bench_febrl.main(["--repeat", "1"] if args.quick else [])
    print("== census <-> household register (issue 8: recall and precision of each register class)")
    bench_register.main(["--persons", "20000" if args.quick else "200000"])
    print("== the demo end to end (issue 7: 200,000 persons <= 5 minutes, time per step)")
    bench_demo.main(["--persons", "50000" if args.quick else "200000"])
    print("== national PES draw (issue: <= 10 s from a 5,000,000-EA frame)")
    bench_sample.main(["--eas", "500000", "--counties", "280", "--townships", "4000", "--total", "3000",
                       "--repeat", "1"] if args.quick else [])
    print("== the Spark backend against the local one (issue 10: 10 million persons, rule checks/s and "
          "duplicate detection on both, Spark's overhead as a ratio; identical flags and clusters)")
    bench_spark.main(["--quick"] if args.quick else [])


if __name__ == "__main__":
    main()
