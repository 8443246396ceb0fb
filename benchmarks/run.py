"""Run every benchmark and print its figures: ``python benchmarks/run.py [--quick]``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_load, bench_localise, bench_rules, bench_synth  # noqa: E402


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
    print("== error localisation (Fellegi-Holt), time per failing record")
    bench_localise.main(["--persons", "20000" if args.quick else "50000"])


if __name__ == "__main__":
    main()
