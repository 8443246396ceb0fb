"""Load throughput: synthetic census persons into SQLite, persons per second and peak memory.

Each load runs in a fresh subprocess so its peak RSS is its own (the reader process is
counted separately, as a child). Two file sizes with the same chunk size show that memory
is bounded by the chunk, not by the file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import status_kb  # noqa: E402


def _children() -> list[str]:
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except OSError:
        return []


class ChildPeak(threading.Thread):
    """Samples the reader process's resident memory (ru_maxrss is inherited across exec on
    Linux, so it would report the parent's high-water mark, not the child's)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kb, self.stop = 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak_kb = max(self.peak_kb, sum(status_kb(c, "VmRSS") for c in _children()))


def worker(csv_path: str, db_path: str, chunk: int) -> dict:
    from audit_engine.io.load import load_file
    from audit_engine.store import make_engine
    from audit_engine.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    sampler = ChildPeak()
    sampler.start()
    t0 = time.perf_counter()
    s = load_file(engine, csv_path, "census", operator="bench", kind="persons", chunk_rows=chunk)
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    return {
        "rows": s.rows_loaded, "quarantined": s.rows_quarantined, "seconds": seconds,
        "persons_per_s": s.rows_loaded / seconds,
        "peak_rss_mb": status_kb("self", "VmHWM") / 1024,     # this process's own high-water mark
        "reader_peak_rss_mb": sampler.peak_kb / 1024,
        "db_mb": os.path.getsize(db_path) / 2**20,
    }


def one_run(csv_path: Path, chunk: int, tmp: Path) -> dict:
    db = tmp / f"bench_{time.monotonic_ns()}.db"
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_load", "--worker", str(csv_path), str(db), str(chunk)],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    for f in tmp.glob(db.name + "*"):
        f.unlink()
    return json.loads(out.stdout.strip().splitlines()[-1])


def head_file(src: Path, dst: Path, rows: int) -> None:
    with open(src, "rb") as f, open(dst, "wb") as g:
        for i, line in enumerate(f):
            if i > rows:
                break
            g.write(line)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--data", type=Path, help="an existing synth output folder (else one is generated)")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], int(args.worker[2]))))
        return
    with tempfile.TemporaryDirectory(prefix="census-audit-bench-") as tmpname:
        tmp = Path(tmpname)
        data = args.data
        if data is None:
            from audit_engine.synth import SynthConfig, generate

            data = tmp / "county"
            t0 = time.perf_counter()
            generate(SynthConfig(persons=args.persons, seed=1), data)
            print(f"synth: {args.persons:,} true persons in {time.perf_counter() - t0:.1f} s")
        persons = data / "census" / "persons.csv"
        small = tmp / "quarter.csv"
        n_lines = sum(1 for _ in open(persons, "rb")) - 1
        head_file(persons, small, n_lines // 4)
        print(f"load census persons into SQLite: {n_lines:,} records, chunk {args.chunk:,}, {args.repeat} runs")
        runs = [one_run(persons, args.chunk, tmp) for _ in range(args.repeat)]
        rates = [r["persons_per_s"] for r in runs]
        for i, r in enumerate(runs, 1):
            print(f"  run {i}: {r['rows']:,} loaded in {r['seconds']:.1f} s = {r['persons_per_s']:,.0f} persons/s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB (reader process {r['reader_peak_rss_mb']:.0f} MB)")
        print(f"  median {statistics.median(rates):,.0f} persons/s (target >= 50,000)")
        q = one_run(small, args.chunk, tmp)
        print(f"memory: {q['rows']:,} records -> peak RSS {q['peak_rss_mb']:.0f} MB (database {q['db_mb']:.0f} MB); "
              f"{runs[0]['rows']:,} records -> {runs[0]['peak_rss_mb']:.0f} MB (database {runs[0]['db_mb']:.0f} MB); "
              f"reader process {q['reader_peak_rss_mb']:.0f} vs {runs[0]['reader_peak_rss_mb']:.0f} MB")
        print("  bounded: interpreter + chunks in flight + SQLite's page cache, which fills with the "
              "database up to its fixed cap (PRAGMA cache_size = 256 MiB), then stays there")


if __name__ == "__main__":
    main()
