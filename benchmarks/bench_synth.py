"""Time and peak memory of ``audit_engine.synth.generate``.

    .venv/bin/python benchmarks/bench_synth.py --persons 1000000 [--seed 1] [--out DIR]

Prints the time of each step, the total and the peak resident memory of the process; the
output goes to a temporary directory (deleted afterwards) unless --out is given.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from audit_engine.synth import SynthConfig, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    start = time.perf_counter()
    last = [start]

    def progress(step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        print(f"{now - start:7.1f}s  (+{now - last[0]:5.1f}s)  {step} {done}/{total}", flush=True)
        last[0] = now

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        manifest = generate(SynthConfig(persons=args.persons, seed=args.seed), out, progress)
        elapsed = time.perf_counter() - start
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c = manifest["counts"]
    print(f"persons {c['true_persons']:,}  census records {c['census_persons']:,}  "
          f"PES records {c['pes_persons']:,}  files {size / 1e6:,.0f} MB")
    print(f"total {elapsed:.1f} s  peak RSS {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
