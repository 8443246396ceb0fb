"""The two backends side by side: rule checks and duplicate detection, local vs Spark (issue 10).

    .venv/bin/python benchmarks/bench_spark.py [--persons 10000000] [--data DIR] [--work DIR]
                                               [--master local[2]] [--localise] [--quick]

Data: ⌈persons / 1M⌉ synthetic counties (benchmarks/spark_data.py; made once into ``--data``).
Each backend has its own store in ``--work``:

* **local**: the counties' files loaded into SQLite (``load_file``; timed, printed apart), then
  ``check`` (:func:`rules.check.run_check`) and ``link duplicates``
  (:func:`audit_engine.pes.duplicates.run_link_duplicates`), in this process, as the CLI runs them;
* **spark**: the same files loaded into the lake with Spark (:func:`audit_engine.spark.load.load_to_lake`),
  then :func:`audit_engine.spark.check.run_check_spark` and
  :func:`audit_engine.spark.dedupe.run_link_duplicates_spark` on ``--master`` (default
  ``local[2]``: this machine's two cores).

Printed: persons, rule checks (units × rules, as ``check`` counts them: items), seconds and rule
checks per second on each backend, duplicate-detection seconds, Spark's time as a ratio of the
local time, per-core throughput (the basis of the sizing in docs/scale.md), and whether the two
backends' flags and duplicate clusters are identical. Error localisation is off unless
``--localise`` (it is the same code on both, measured by bench_localise.py). Each step runs once:
at ten million persons a step takes minutes, and the machine is shared — the figures are single
runs, said so in the output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import peak_rss_mb  # noqa: E402
from benchmarks.spark_data import county_folders  # noqa: E402

REFERENCE = (("areas.csv", "reference", "areas"), ("enumerators.csv", "reference", "enumerators"))
CENSUS = (("census/households.csv", "households"), ("census/persons.csv", "persons"), ("census/deaths.csv", "deaths"))
OPERATOR = "bench.spark"


def _store(path: Path):
    from audit_engine.store import make_engine
    from audit_engine.store.migrate import upgrade

    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    return eng


def _timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"  {label}: {dt:,.1f} s", flush=True)
    return out, dt


def load_local(engine, counties: list[Path]) -> tuple[int, float]:
    from audit_engine.io.load import load_file

    t0, persons = time.perf_counter(), 0
    for c in counties:
        for rel, source, kind in REFERENCE:
            load_file(engine, c / rel, source, operator=OPERATOR, kind=kind)
        for rel, kind in CENSUS:
            s = load_file(engine, c / rel, "census", operator=OPERATOR, kind=kind)
            persons += s.rows_loaded if kind == "persons" else 0
    return persons, time.perf_counter() - t0


def load_spark(engine, spark, counties: list[Path], lake: Path) -> tuple[int, float]:
    from audit_engine.io.load import load_file
    from audit_engine.spark.load import load_to_lake

    persons = 0
    for c in counties:
        for rel, source, kind in REFERENCE:
            load_file(engine, c / rel, source, operator=OPERATOR, kind=kind)
    t0 = time.perf_counter()
    for rel, kind in CENSUS:
        summaries = load_to_lake(engine, spark, [c / rel for c in counties], "census", lake, operator=OPERATOR, kind=kind)
        persons += sum(s.rows_loaded for s in summaries) if kind == "persons" else 0
    return persons, time.perf_counter() - t0


def flag_set(engine, run_id: int) -> set[tuple]:
    from sqlalchemy import select

    from audit_engine.store.models import Flag

    with engine.connect() as conn:
        rows = conn.execute(select(Flag.rule_id, Flag.record_key, Flag.values, Flag.suggestion)
                            .where(Flag.run_id == run_id)).all()
    return {tuple(r) for r in rows}


def cluster_set(engine, run_id: int) -> set[frozenset]:
    from sqlalchemy import select

    from audit_engine.store.models import ClusterMember

    with engine.connect() as conn:
        rows = conn.execute(select(ClusterMember.cluster, ClusterMember.person_key, ClusterMember.role)
                            .where(ClusterMember.run_id == run_id)).all()
    by: dict[int, set] = {}
    for c, k, role in rows:
        by.setdefault(c, set()).add((k, role))
    return {frozenset(v) for v in by.values()}


def run_local(a, counties, ruleset, localiser, skip) -> dict:
    from rules.check import run_check

    print("== local backend (SQLite store, this process)", flush=True)
    fig: dict = {}
    local = _store(a.work / "local.db")
    persons, dt = load_local(local, counties)
    print(f"  load: {persons:,} persons (+ households, deaths) in {dt:,.0f} s", flush=True)
    fig["persons"], fig["load_s"] = persons, dt
    if "check" not in skip:
        s, dt = _timed("check", lambda: run_check(local, ruleset, operator=OPERATOR, localiser=localiser))
        fig["check"] = {"s": dt, "checks": sum(r["items"] for r in s.rules), "flags": s.flags, "run": s.run_id}
    fig["peak_rss_mb"] = round(peak_rss_mb())
    if "dedupe" not in skip:
        fig["dedupe"] = dedupe_in_subprocess(a.work / "local.db")
        if "failed" in fig["dedupe"]:
            print(f"  link duplicates: {fig['dedupe']['failed']}", flush=True)
        else:
            print(f"  link duplicates: {fig['dedupe']['s']:,.1f} s, peak RSS {fig['dedupe']['peak_rss_gb']:.1f} GB",
                  flush=True)
            fig["dedupe"]["blocking"] = _blocking(local, fig["dedupe"]["run"])
    return fig


_DEDUPE = """
import json, sys, time
from audit_engine.pes.duplicates import run_link_duplicates
from audit_engine.store import make_engine
t0 = time.perf_counter()
d = run_link_duplicates(make_engine(sys.argv[1]), sys.argv[2])
print(json.dumps({"s": time.perf_counter() - t0, "pairs": d.pairs, "clusters": d.clusters,
                  "candidates": d.candidates, "run": d.run_id}))
"""


def dedupe_in_subprocess(db: Path) -> dict:
    """The local ``link duplicates`` in a child process: at ten million persons it may need more
    memory than the machine has, and the kernel's OOM killer must not take the benchmark too.
    The child's peak RSS comes from ``RUSAGE_CHILDREN``."""
    import resource
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _DEDUPE, f"sqlite:///{db}", OPERATOR], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
    if proc.returncode != 0:
        why = "killed by the kernel (out of memory)" if proc.returncode in (-9, 137) else \
            f"failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
        return {"failed": f"{why}; peak RSS {peak:.1f} GB", "peak_rss_gb": peak}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["peak_rss_gb"] = peak
    return out


def run_spark(a, counties, ruleset, localiser, skip) -> dict:
    from audit_engine.spark.check import run_check_spark
    from audit_engine.spark.dedupe import run_link_duplicates_spark
    from audit_engine.spark.session import spark_session

    print(f"== spark backend ({a.master}, lake in {a.work / 'lake'})", flush=True)
    fig: dict = {}
    spark = spark_session(a.master)
    sengine = _store(a.work / "spark.db")
    lake = a.work / "lake"
    persons, dt = load_spark(sengine, spark, counties, lake)
    print(f"  load into the lake: {persons:,} persons (+ households, deaths) in {dt:,.0f} s", flush=True)
    fig["persons"], fig["load_s"] = persons, dt
    if "check" not in skip:
        s, dt = _timed("check", lambda: run_check_spark(sengine, spark, lake, ruleset, operator=OPERATOR,
                                                        localiser=localiser))
        fig["check"] = {"s": dt, "checks": sum(r["items"] for r in s.rules), "flags": s.flags, "run": s.run_id}
    if "dedupe" not in skip:
        d, dt = _timed("link duplicates", lambda: run_link_duplicates_spark(sengine, spark, lake, OPERATOR))
        fig["dedupe"] = {"s": dt, "pairs": d.pairs, "clusters": d.clusters, "candidates": d.candidates,
                         "run": d.run_id, "blocking": _blocking(sengine, d.run_id)}
    return fig


def _blocking(engine, run_id: int) -> list[dict]:
    from sqlalchemy import select

    from audit_engine.store.models import Run

    with engine.connect() as conn:
        result = conn.execute(select(Run.summary).where(Run.id == run_id)).scalar_one()
    result = json.loads(result) if isinstance(result, str) else result
    return (result.get("model") or {}).get("blocking", [])


def report(a, cores: int = 2) -> None:
    figs = {b: json.loads((a.work / f"{b}.json").read_text()) for b in ("local", "spark")
            if (a.work / f"{b}.json").exists()}
    print("== figures (single runs on a shared 2-core machine)")
    for b, f in figs.items():
        print(f"{b}: {f['persons']:,} persons; load {f['load_s']:,.0f} s "
              f"({f['persons'] / f['load_s']:,.0f} persons/s)")
    if len(figs) < 2:
        print("(run both backends for the comparison)")
        return
    lf, sf = figs["local"], figs["spark"]
    local, sengine = _store(a.work / "local.db"), _store(a.work / "spark.db")
    if "check" in lf and "check" in sf:
        lc, sc = lf["check"], sf["check"]
        same = flag_set(local, lc["run"]) == flag_set(sengine, sc["run"])
        print(f"check: {lc['checks']:,} rule checks; local {lc['s']:,.1f} s = {lc['checks'] / lc['s'] / 1e6:.2f} M "
              f"checks/s; spark {sc['s']:,.1f} s = {sc['checks'] / sc['s'] / 1e6:.2f} M checks/s "
              f"({sc['checks'] / sc['s'] / cores / 1e6:.2f} M per core); spark/local time {sc['s'] / lc['s']:.2f}; "
              f"flags {lc['flags']:,} vs {sc['flags']:,}, identical: {'yes' if same else 'NO'}")
    if "dedupe" in sf and "failed" in lf.get("dedupe", {}):
        sd = sf["dedupe"]
        print(f"link duplicates: local {lf['dedupe']['failed']}; spark {sd['s']:,.1f} s for {sd['candidates']:,} "
              f"candidate pairs, {sd['clusters']:,} clusters")
        for r in sd.get("blocking", []):
            print(f"  blocking {r['rule']:<22} {r['pairs']:>14,} pairs  {r['new']:>14,} new")
    elif "dedupe" in lf and "dedupe" in sf:
        ld, sd = lf["dedupe"], sf["dedupe"]
        same = cluster_set(local, ld["run"]) == cluster_set(sengine, sd["run"])
        print(f"link duplicates: {ld['candidates']:,} candidate pairs; local {ld['s']:,.1f} s, spark {sd['s']:,.1f} s "
              f"(spark/local {sd['s'] / ld['s']:.2f}); {ld['clusters']:,} vs {sd['clusters']:,} clusters, "
              f"identical: {'yes' if same else 'NO'}; spark {lf['persons'] / sd['s'] / cores:,.0f} persons/s per core")
        for r in ld.get("blocking", []):
            print(f"  blocking {r['rule']:<22} {r['pairs']:>14,} pairs  {r['new']:>14,} new")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=10_000_000)
    ap.add_argument("--data", type=Path, default=Path("/tmp/census-audit-bench-spark/data"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/census-audit-bench-spark/work"))
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--backend", choices=["local", "spark", "both"], default="both",
                    help="Run one backend (its figures are kept in --work) or both; the comparison is printed "
                         "whenever both have run.")
    ap.add_argument("--localise", action="store_true", help="Error localisation on (both backends).")
    ap.add_argument("--skip", default="", help="Comma-separated steps to skip: check, dedupe.")
    ap.add_argument("--quick", action="store_true", help="200,000 persons (one county).")
    a = ap.parse_args(argv)
    if a.quick:
        a.persons = 200_000
        a.data, a.work = a.data.with_name("data-quick"), a.work.with_name("work-quick")
    skip = set(filter(None, a.skip.split(",")))
    a.work.mkdir(parents=True, exist_ok=True)

    from rules.ruleset import load_ruleset

    localiser = None
    if a.localise:
        from rules.localise import localise_failures as localiser

    print(f"== data: {a.persons:,} persons in {a.data}", flush=True)
    counties = county_folders(a.persons, a.data, say=lambda m: print(m, flush=True))
    ruleset = load_ruleset(None)
    for backend, fn in (("local", run_local), ("spark", run_spark)):
        if a.backend in (backend, "both"):
            fig = fn(a, counties, ruleset, localiser, skip)
            kept = a.work / f"{backend}.json"
            if kept.exists() and skip:   # a partial re-run keeps the figures of the steps it skipped
                fig = {**json.loads(kept.read_text()), **fig}
            fig.update({"counties": len(counties), "master": a.master, "rules": len(ruleset.rules),
                        "localise": a.localise})
            (a.work / f"{backend}.json").write_text(json.dumps(fig, indent=2))
    report(a)


if __name__ == "__main__":
    main()
