"""Dual-system estimation on synthetic counties, with the known truth: does the 95 % interval
of the gross omission rate cover the true rate, and how biased are the estimates?

Default mode (many draws, one county, truth as the match): each draw of the bundled design
(``sampling/pes_county.yaml``) gives the sample EAs; the P-sample is every valid PES person there
(true status ``resident``), matched iff its true person has a census record; the E-sample is
every census record there, correct iff the truth lists no record-level error (duplicate,
died_before, born_after, fictitious). Post-strata: sex x age group x urban/rural, from the
reported items.

``--linkage`` (one county per seed, real linkage): for seed s in 1..SEEDS a fresh synthetic
county (synth seed s) and one draw of the bundled design (draw seed s); the valid PES persons of
the sample EAs are linked by the linkage engine against the census persons of the search area
(the townships of the sample EAs) and matched = linked; the E-sample flags come from the truth
(``--e-sample truth``, the default: standing for the field follow-up of unmatched census
records) or from the engine (``--e-sample engine``: whole-census duplicate linkage, clusters and
the E-sample classification as ``link pes`` does it; the records it leaves unresolved get their
true outcome, a simulated follow-up; also prints the engine's classes against the truth and the
follow-ups per seed). Prints per seed the linkage precision / recall (against the truth) and the
coverage table over seeds; each seed is appended to ``--runs`` (CSV) as it finishes, and
``--report`` prints the report again from such CSVs (e.g. seed ranges run in parallel with
``--first-seed``).

    python benchmarks/sim_coverage.py [--persons 100000] [--county-seed 8] [--draws 100] [--eas N]
                                      [--data SYNTH_FOLDER] [--ci-method beta|logit|wald]
    python benchmarks/sim_coverage.py --linkage [--seeds 100] [--first-seed 1] [--persons 100000]
                                      [--e-sample truth|engine] [--runs FILE.csv]
    python benchmarks/sim_coverage.py --report RUNS.csv [RUNS.csv ...]

Target (the issue's): the true omission rate inside the 95 % interval in >= 93 of 100 draws and
|mean bias| < 10 % of the true rate; with linkage also PES-census precision and recall >= 0.995.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from audit_engine.coverage.dse import CI_METHODS  # noqa: E402
from audit_engine.coverage.simulate import (  # noqa: E402
    E_SAMPLE_MODES,
    ENGINE_CLASSES,
    TRUE_KINDS,
    linkage_seed,
    load_county,
    study,
    summary,
)
from benchmarks.common import county  # noqa: E402
from sampling.design import load_design  # noqa: E402


def print_table(s: pd.DataFrame, ci_method: str) -> None:
    others = [m for m in CI_METHODS if m != ci_method]
    print(f"{'statistic':>15} {'truth':>10} {'mean est':>10} {'bias':>10} {'rel bias':>9} {'emp sd':>10} "
          f"{'mean se':>10} {'covered':>8} " + " ".join(f"{m:>8}" for m in others))
    for stat, r in s.iterrows():
        fmt = (lambda v: f"{v:>10,.0f}") if stat == "N" else (lambda v: f"{v:>10.4%}")
        extra = " ".join(f"{int(r[f'covered_{m}']):>4}/{int(r.draws):<3}" for m in others)
        print(f"{stat:>15} {fmt(r.truth)} {fmt(r.mean_est)} {fmt(r.bias)} {r.rel_bias:>9.1%} {fmt(r.emp_sd)} "
              f"{fmt(r.mean_se)} {int(r.covered):>4}/{int(r.draws):<3} {extra}")
    print(f"(covered: the {ci_method} interval for omission / erroneous / duplication, t for N and net "
          f"undercount; other columns: the other interval methods)")
    om = s.loc["omission"]
    ok = om.covered >= 0.93 * om.draws and abs(om.rel_bias) < 0.10
    print(f"target (omission covered >= 93 %, |mean bias| < 10 % of truth): {'met' if ok else 'NOT met'}")


def print_confusion(info: pd.DataFrame) -> None:
    """The engine's own E-sample classes (before follow-up) against the truth, summed over seeds."""
    print(f"E-sample from the engine: {int(info['e_records'].sum()):,} records over {len(info)} seeds; follow-ups "
          f"(unresolved) per seed mean {info['followups'].mean():.1f} (min {int(info['followups'].min())}, max "
          f"{int(info['followups'].max())}), {info['followups'].sum() / info['e_records'].sum():.2%} of the records; "
          f"whole-census dedupe {info['dedupe_seconds'].mean():.1f} s, {info['dup_pairs'].mean():.0f} pairs per seed")
    print("engine class (rows) x truth (columns), summed over seeds:")
    print(f"{'':>12} " + " ".join(f"{k:>12}" for k in TRUE_KINDS) + f" {'total':>9}")
    for a in ENGINE_CLASSES:
        cells = [int(info[f"conf_{a}_{b}"].sum()) for b in TRUE_KINDS]
        print(f"{a:>12} " + " ".join(f"{x:>12,}" for x in cells) + f" {sum(cells):>9,}")
    tot = [int(sum(info[f"conf_{a}_{b}"].sum() for a in ENGINE_CLASSES)) for b in TRUE_KINDS]
    print(f"{'total':>12} " + " ".join(f"{x:>12,}" for x in tot))
    print(f"after follow-up: records whose correct flag differs from the truth {int(info['final_wrong_correct'].sum())}, "
          f"duplicate flag {int(info['final_wrong_duplicate'].sum())}")


def report_linkage(runs: pd.DataFrame, info: pd.DataFrame, persons: int, ci_method: str) -> None:
    engine_e = "followups" in info and info["followups"].notna().all()
    print(f"{len(info)} seeds: one {persons:,}-person county and one draw of the bundled design each; "
          f"sample EAs {info['eas'].min()}-{info['eas'].max()}; P-sample matched by the linkage engine; "
          f"E-sample {'from the engine (unresolved: true outcome)' if engine_e else 'from the truth'}")
    print("per seed (precision, recall):")
    for _, r in info.iterrows():
        print(f"  seed {int(r.seed):>3}: EAs {int(r.eas)}, PES {int(r.pes_persons):,}, search {int(r.census_search):,}, "
              f"precision {r.precision:.4f}, recall {r.recall:.4f} (TP {int(r.tp)}, FP {int(r.fp)}, FN {int(r.fn)})")
    tp, fp, fn = info["tp"].sum(), info["fp"].sum(), info["fn"].sum()
    print(f"linkage, pooled: precision {tp / (tp + fp):.4f}, recall {tp / (tp + fn):.4f}; per seed min precision "
          f"{info['precision'].min():.4f}, min recall {info['recall'].min():.4f}; seeds with both >= 0.995: "
          f"{int(((info['precision'] >= 0.995) & (info['recall'] >= 0.995)).sum())}/{len(info)}")
    print_table(summary(runs), ci_method)
    tm = runs.assign(d=runs["value"] - runs["value_truth_match"]).groupby("statistic", sort=False)["d"].mean()
    print("mean (this - truth-matched) estimate: "
          + ", ".join(f"{k} {v:,.0f}" if k == "N" else f"{k} {v:+.4%}" for k, v in tm.items()))
    if engine_e:
        d = runs.assign(d=runs["value"] - runs["value_truth_e"]).groupby("statistic", sort=False)["d"]
        print("engine E-sample - truth E-sample (same linkage P-sample), mean / max |.|: "
              + ", ".join(f"{k} {v:,.0f} / {a:,.0f}" if k == "N" else f"{k} {v:+.4%} / {a:.4%}"
                          for (k, v), a in zip(d.mean().items(), d.apply(lambda x: x.abs().max()), strict=True)))
        print_confusion(info)


def run_linkage(args, design) -> None:
    from audit_engine.synth import SynthConfig, generate

    rows, infos = [], []
    if args.runs and args.runs.exists():
        args.runs.unlink()
    first = args.first_seed
    for s in range(first, first + args.seeds):
        t = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="census-audit-cov-") as tmp:
            generate(SynthConfig(persons=args.persons, seed=s), Path(tmp))
            r, info = linkage_seed(Path(tmp), design, s, args.ci_method, e_sample=args.e_sample)
        rows += r
        infos.append(info)
        om = next(x for x in r if x["statistic"] == "omission")
        er = next(x for x in r if x["statistic"] == "erroneous")
        fu = f"; follow-ups {info['followups']}" if "followups" in info else ""
        print(f"seed {s:>3}: {info['eas']} EAs, {info['townships']}/{info['townships_county']} townships, "
              f"PES {info['pes_persons']:,} vs census {info['census_search']:,}; precision {info['precision']:.4f} "
              f"recall {info['recall']:.4f}; omission {om['value']:.4%} [{om['ci_low']:.4%}, {om['ci_high']:.4%}] "
              f"truth {om['truth']:.4%}; erroneous {er['value']:.4%} truth {er['truth']:.4%}{fu}; "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        if args.runs:
            pd.DataFrame(r).merge(pd.DataFrame([info]), on=["seed", "eas"]).to_csv(
                args.runs, mode="a", header=s == first, index=False)
    report_linkage(pd.DataFrame(rows), pd.DataFrame(infos), args.persons, args.ci_method)


def report_runs(files: list[Path], persons: int, ci_method: str) -> None:
    """The linkage study's report from ``--runs`` CSVs (e.g. seed ranges run in parallel)."""
    runs = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    runs = runs.drop_duplicates(["seed", "statistic"], keep="last").sort_values(["seed"], kind="stable")
    info = runs.drop_duplicates("seed").reset_index(drop=True)
    report_linkage(runs, info, persons, ci_method)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--county-seed", type=int, default=8)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--data", type=Path, help="an existing synth folder instead of a fresh county")
    ap.add_argument("--eas", type=int, help="sample EAs (allocation total) instead of the bundled calculator's")
    ap.add_argument("--ci-method", choices=CI_METHODS, default="beta",
                    help="interval for the omission, erroneous and duplication rates (default beta)")
    ap.add_argument("--linkage", action="store_true", help="one county per seed, P-sample matched by linkage")
    ap.add_argument("--seeds", type=int, default=100, help="with --linkage: seeds 1..SEEDS")
    ap.add_argument("--first-seed", type=int, default=1, help="with --linkage: seeds FIRST..FIRST+SEEDS-1")
    ap.add_argument("--e-sample", choices=E_SAMPLE_MODES, default="truth",
                    help="with --linkage: E-sample flags from the truth (default) or from the engine's "
                         "classification with a simulated follow-up of the unresolved records")
    ap.add_argument("--runs", type=Path, help="with --linkage: append each seed's rows to this CSV")
    ap.add_argument("--report", type=Path, nargs="+", metavar="RUNS_CSV",
                    help="print the linkage study's report from --runs CSVs (no new seeds)")
    args = ap.parse_args(argv)
    design = load_design()
    if args.eas:
        design = replace(design, allocation=replace(design.allocation, total=args.eas))
    t0 = time.perf_counter()
    if args.report:
        report_runs(args.report, args.persons, args.ci_method)
    elif args.linkage:
        run_linkage(args, design)
    else:
        with county(args.persons, seed=args.county_seed, data=args.data) as d:
            c = load_county(d, design)
        runs = study(c, design, range(args.draws), args.ci_method)
        print(f"county: {len(c.frame)} EAs, {int(c.truth['N']):,} residents, {len(c.census):,} census records; "
              f"{runs['eas'].iloc[0]} sample EAs per draw; {args.draws} draws")
        print_table(summary(runs), args.ci_method)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
