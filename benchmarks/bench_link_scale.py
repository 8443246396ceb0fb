"""Record linkage at census scale: PES ↔ census and census duplicates on a 1,000,000-person county.

    .venv/bin/python benchmarks/bench_link_scale.py [--data DIR | --persons N] [--pes-persons 50000]
                                                    [--repeat 1] [--no-splink] [--quick]

Cases, each in a fresh subprocess so that its peak RSS (VmHWM) is its own:

* ``link``: the PES records of whole EAs (a seeded random set of EAs, added until there are
  ``--pes-persons``) linked against *all* census persons with
  :func:`~audit_engine.linkage.census.pes_census_settings` — ``person_keys`` on both tables, then
  :func:`~audit_engine.linkage.link`. Issue target: ≤ 60 s on 2 cores, precision and recall
  ≥ 0.995 against ``truth/records.csv`` (:func:`~audit_engine.linkage.census.truth_scores`);
* ``link-dl``: the same with the ID number compared by Damerau–Levenshtein (exact / one edit /
  else) instead of ``citizen_id``: a check that the shipped ``citizen_id`` comparison (without
  its "birth segment agrees only" level, which repeats the birth year-month's evidence and made
  EM link PES persons missing from the census to a same-surname person born the same day in
  another EA) does as well as the plain edit distance;
* ``dedupe``: duplicates within all census persons with
  :func:`~audit_engine.linkage.census.duplicate_settings`; scored as pairs against the truth; the
  duplicate clusters are the connected components of the linked pairs. Target: ≤ 5 minutes;
* ``splink``: Splink 5 (DuckDB) on the same PES ↔ census data with comparable blocking rules
  (the same five, on the same derived keys) and comparisons (name: exact / same pinyin / pinyin
  Jaro–Winkler ≥ 0.9 / surname pinyin; ID number Damerau–Levenshtein ≤ 1, ≤ 2; sex; birth
  year-month exact / same year / within a year; ethnicity with tf; relationship; EA), its own
  prior, u from 1e6 random pairs (``--splink-u-pairs``) and EM (blocked on EA + surname pinyin, then on the ID number).
  Its links are its pairs with match probability ≥ 0.5 (no one-to-one step), scored with the
  same definition. ``--splink-census N`` runs it on the census persons of the sampled EAs plus a
  random N others instead of all (if the full run is too slow or too big on the machine).

Times exclude reading the CSV files (printed apart); ``total`` is ``person_keys`` + the run.
With ``--repeat`` > 1 each case runs that many times (fresh processes) and the median is
printed. No stage sees the truth; it is used only to score.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import county, peak_rss_mb, splink_skipped  # noqa: E402

COLUMNS = ["person_id", "ea_code", "name", "id_number", "sex", "birth_ym", "ethnicity", "relationship"]
STAGES = ("block", "compare", "u", "em", "score+assign", "threshold")


def read_persons(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, usecols=COLUMNS, keep_default_na=False, na_values=[""])


def read_truth(data: Path) -> pd.DataFrame:
    return pd.read_csv(data / "truth" / "records.csv", dtype=str, usecols=["person_id", "true_person_id"],
                       keep_default_na=False, na_values=[""])


def pes_sample(pes: pd.DataFrame, persons: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The PES records of whole EAs, EAs in a seeded random order until ``persons`` are reached."""
    sizes = pes["ea_code"].value_counts()
    eas = np.random.default_rng(seed).permutation(np.sort(sizes.index.to_numpy()))
    cum = sizes.reindex(eas).cumsum().to_numpy()
    chosen = eas[: int(np.searchsorted(cum, persons)) + 1]
    return pes[pes["ea_code"].isin(chosen)].reset_index(drop=True), chosen


class _Links:
    """Pairs in the shape :func:`truth_scores` reads (``links()`` with left/right positions)."""

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        self._frame = pd.DataFrame({"left": left, "right": right})

    def links(self) -> pd.DataFrame:
        return self._frame


def _scores(s) -> dict:
    return {"precision": s.precision, "recall": s.recall, "f1": s.f1, "tp": s.true_positives,
            "fp": s.false_positives, "fn": s.false_negatives}


# --- workers (one per subprocess) ---------------------------------------------------------------

def link_settings(variant: str):
    """The shipped PES settings, or (``link-dl``) the same with the ID number compared by
    Damerau–Levenshtein (exact / one edit / else)."""
    from audit_engine.linkage import ComparisonSpec
    from audit_engine.linkage.census import pes_census_settings

    settings = pes_census_settings()
    if variant == "link-dl":
        comps = [ComparisonSpec("id_number", "damerau_levenshtein", "id_number", params={"distances": (1,)})
                 if c.name == "id_number" else c for c in settings.comparisons]
        settings = pes_census_settings(comparisons=comps)
    return settings


def work_link(data: Path, pes_persons: int, seed: int, variant: str = "link") -> dict:
    from audit_engine.linkage import link
    from audit_engine.linkage.census import person_keys, truth_scores

    t0 = time.perf_counter()
    census = read_persons(data / "census" / "persons.csv")
    pes, eas = pes_sample(read_persons(data / "pes" / "persons.csv"), pes_persons, seed)
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    left, right = person_keys(pes), person_keys(census)
    keys = time.perf_counter() - t0
    res = link(left, right, link_settings(variant))
    total = keys + sum(res.seconds.values())
    t0 = time.perf_counter()
    scores = truth_scores(res, left, right, read_truth(data))
    t = res.threshold
    return {"case": variant, "pes": len(pes), "eas": len(eas), "census": len(census), "read": read,
            "seconds": {"keys": keys, **res.seconds, "total": total},
            "rules": res.candidates.counts.to_dict("records"), "candidates": len(res.candidates),
            "prior": res.model.prior, "iterations": res.model.iterations, "links": t.n_accepted,
            "posterior_min": t.posterior_min, "est_fmr": t.est_fmr, "est_fnmr": t.est_fnmr,
            "scores": _scores(scores), "score_seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


def work_dedupe(data: Path) -> dict:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from audit_engine.linkage import dedupe
    from audit_engine.linkage.census import duplicate_settings, person_keys, truth_scores

    t0 = time.perf_counter()
    census = read_persons(data / "census" / "persons.csv")
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = person_keys(census)
    keys = time.perf_counter() - t0
    res = dedupe(table, duplicate_settings())
    t0 = time.perf_counter()
    links = res.links()
    n = len(table)
    graph = coo_matrix((np.ones(len(links)), (links["left"].to_numpy(), links["right"].to_numpy())), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    sizes = np.bincount(label)
    clusters = sizes[sizes > 1]
    cluster_seconds = time.perf_counter() - t0
    total = keys + sum(res.seconds.values()) + cluster_seconds
    t0 = time.perf_counter()
    scores = truth_scores(res, table, None, read_truth(data))
    t = res.threshold
    return {"case": "dedupe", "census": n, "read": read,
            "seconds": {"keys": keys, **res.seconds, "clusters": cluster_seconds, "total": total},
            "rules": res.candidates.counts.to_dict("records"), "candidates": len(res.candidates),
            "prior": res.model.prior, "iterations": res.model.iterations, "links": len(links),
            "posterior_min": t.posterior_min, "est_fmr": t.est_fmr, "est_fnmr": t.est_fnmr,
            "clusters": len(clusters), "records_in_clusters": int(clusters.sum()),
            "cluster_sizes": {int(k): int(v) for k, v in zip(*np.unique(clusters, return_counts=True), strict=True)},
            "scores": _scores(scores), "score_seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


def splink_settings():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(output_column_name="name", comparison_levels=[
        cll.NullLevel("name"),
        cll.ExactMatchLevel("name").configure(tf_adjustment_column="name"),
        cll.ExactMatchLevel("name_py"),
        cll.JaroWinklerLevel("name_py", 0.9),
        cll.ExactMatchLevel("surname_py"),
        cll.ElseLevel(),
    ])
    birth = cl.CustomComparison(output_column_name="birth_ym", comparison_levels=[
        cll.NullLevel("birth_ym"),
        cll.ExactMatchLevel("birth_ym"),
        cll.ExactMatchLevel("birth_year"),
        cll.AbsoluteDifferenceLevel("birth_year", 1),
        cll.ElseLevel(),
    ])
    return SettingsCreator(
        unique_id_column_name="uid",
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("ea_code", "surname_py"),
            block_on("id_key"),
            block_on("given_py", "birth_year"),
            block_on("id_birth", "surname_py"),
            block_on("ea_code", "birth_ym"),
        ],
        comparisons=[
            name,
            cl.DamerauLevenshteinAtThresholds("id_key", [1, 2]),
            cl.ExactMatch("sex"),
            birth,
            cl.ExactMatch("ethnicity").configure(term_frequency_adjustments=True),
            cl.ExactMatch("relationship"),
            cl.ExactMatch("ea_code"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def work_splink(data: Path, pes_persons: int, seed: int, census_persons: int | None, u_pairs: float = 1e6) -> dict:
    import logging
    import warnings

    from splink import DuckDBAPI, Linker, block_on

    from audit_engine.linkage.census import person_keys, truth_scores

    t0 = time.perf_counter()
    census = read_persons(data / "census" / "persons.csv")
    pes, eas = pes_sample(read_persons(data / "pes" / "persons.csv"), pes_persons, seed)
    if census_persons is not None and census_persons < len(census):
        inside = census["ea_code"].isin(eas).to_numpy()
        rng = np.random.default_rng(seed)
        others = np.flatnonzero(~inside)
        extra = rng.choice(others, size=max(0, min(len(others), census_persons - int(inside.sum()))), replace=False)
        census = census.iloc[np.sort(np.r_[np.flatnonzero(inside), extra])].reset_index(drop=True)
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    left, right = person_keys(pes), person_keys(census)
    frames = []
    for frame in (left, right):
        f = frame[["ea_code", "name", "sex", "birth_ym", "ethnicity", "relationship", "surname_py", "given_py",
                   "name_py", "id_key", "id_birth"]].astype("string")
        f["birth_year"] = frame["birth_year"]
        f.insert(0, "uid", np.arange(len(frame)))
        frames.append(f)
    keys = time.perf_counter() - t0
    seconds = {"keys": keys}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        db = DuckDBAPI()
        linker = Linker([db.register(f) for f in frames], splink_settings(), log_level=logging.ERROR)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("id_key"), block_on("name", "birth_ym", "sex")], recall=0.9)
        seconds["prior"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
        seconds["u"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("ea_code", "surname_py"), estimate_without_term_frequencies=True)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("id_key"), estimate_without_term_frequencies=True)
        seconds["em"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
        seconds["predict"] = time.perf_counter() - t0
    seconds["total"] = sum(seconds.values())
    # which side is which: Splink names the tables __splink__input_table_0 / _1 in input order
    sd = pred["source_dataset_l"].astype(str).to_numpy()
    first = sd == sd.min() if len(sd) else np.zeros(0, bool)
    li = np.where(first, pred["uid_l"], pred["uid_r"]).astype(np.int64)
    ri = np.where(first, pred["uid_r"], pred["uid_l"]).astype(np.int64)
    scores = truth_scores(_Links(li, ri), left, right, read_truth(data))
    return {"case": "splink", "pes": len(pes), "census": len(census), "read": read, "seconds": seconds,
            "links": len(pred), "scores": _scores(scores), "peak_rss_mb": peak_rss_mb()}


# --- driver -----------------------------------------------------------------------------------

def run_case(case: str, data: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_link_scale", "--worker", case, "--data", str(data),
           "--pes-persons", str(args.pes_persons), "--seed", str(args.seed)]
    if args.splink_census is not None:
        cmd += ["--splink-census", str(args.splink_census)]
    if case == "splink":
        cmd += ["--splink-u-pairs", str(args.splink_u_pairs)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if out.returncode != 0:
        raise RuntimeError(f"{case} worker failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_run(case: str, data: Path, args: argparse.Namespace) -> dict:
    runs = [run_case(case, data, args) for _ in range(args.repeat)]
    out = runs[len(runs) // 2] if args.repeat > 2 else runs[0]
    out = dict(out)
    out["seconds"] = {k: statistics.median(r["seconds"][k] for r in runs) for k in runs[0]["seconds"]}
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    out["all_totals"] = [r["seconds"]["total"] for r in runs]
    return out


def _print_common(r: dict) -> None:
    sec = r["seconds"]
    runs = len(r.get("all_totals", [])) or 1
    print(f"  seconds{f' (medians of {runs} runs, each stage apart)' if runs > 1 else ''}: " +
          ", ".join(f"{k} {v:.2f}" for k, v in sec.items()) +
          f"  (reading the CSVs {r['read']:.1f} s, not counted)")
    if len(r.get("all_totals", [])) > 1:
        print("  totals of the runs: " + ", ".join(f"{x:.1f}" for x in r["all_totals"]))
    if "rules" in r:
        print(f"  {r['candidates']:,} candidate pairs:")
        for row in r["rules"]:
            print(f"    {row['rule']:<24} {row['pairs']:>10,} pairs {row['new']:>10,} new")
        print(f"  prior {r['prior']:.3g}, EM {r['iterations']} iterations; threshold posterior >= "
              f"{r['posterior_min']:.3f}: {r['links']:,} links, est. FMR {r['est_fmr']:.2e}, "
              f"est. FNMR {r['est_fnmr']:.2e}")
    s = r["scores"]
    print(f"  precision {s['precision']:.4f}, recall {s['recall']:.4f}, F1 {s['f1']:.4f} "
          f"(TP {s['tp']:,}, FP {s['fp']:,}, FN {s['fn']:,})")
    print(f"  peak RSS {r['peak_rss_mb']:,.0f} MB", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="an existing synth folder (else one is generated)")
    ap.add_argument("--persons", type=int, default=1_000_000, help="county size when generating")
    ap.add_argument("--pes-persons", type=int, default=50_000, help="PES persons to link (whole EAs)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed and EA sample seed")
    ap.add_argument("--repeat", type=int, default=1, help="runs per case (fresh processes); medians printed")
    ap.add_argument("--cases", default="link,link-dl,dedupe,splink",
                    help="comma-separated: link, link-dl, dedupe, splink")
    ap.add_argument("--no-splink", action="store_true", help="leave Splink out even if installed")
    ap.add_argument("--splink-census", type=int, help="Splink on the sampled EAs' census persons plus random "
                                                      "others up to this many (default: all)")
    ap.add_argument("--splink-u-pairs", type=float, default=1e6,
                    help="Splink's random pairs for u (1e6 as its FEBRL example; 1e7 took 107 s on 100k persons)")
    ap.add_argument("--quick", action="store_true", help="100,000 persons, 5,000 PES persons (a smoke run)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        if args.worker in ("link", "link-dl"):
            out = work_link(args.data, args.pes_persons, args.seed, args.worker)
        elif args.worker == "dedupe":
            out = work_dedupe(args.data)
        else:
            out = work_splink(args.data, args.pes_persons, args.seed, args.splink_census, args.splink_u_pairs)
        print(json.dumps(out))
        return

    if args.quick:
        args.persons, args.pes_persons = 100_000, 5_000
        if args.data is not None:
            print("--quick with --data: the given county is used, only the PES sample is smaller")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    skipped = splink_skipped(args.no_splink) if "splink" in cases else None
    if "splink" in cases:
        if skipped:
            cases.remove("splink")

    with county(args.persons, args.seed, args.data) as data:
        results = {}
        for case in cases:
            r = results[case] = median_run(case, data, args)
            if case == "link-dl":
                print("PES ↔ census, the same with the ID number compared by Damerau–Levenshtein "
                      "(exact / one edit / else) instead of citizen_id")
            elif case == "link":
                print(f"PES ↔ census: {r['pes']:,} PES persons ({r['eas']:,} whole EAs, seed {args.seed}) against "
                      f"{r['census']:,} census persons (issue: <= 60 s, precision and recall >= 0.995)")
            elif case == "dedupe":
                print(f"census duplicates: {r['census']:,} persons (issue: <= 300 s; precision/recall reported)")
            else:
                print(f"Splink 5 (DuckDB), same PES ↔ census data: {r['pes']:,} PES persons against "
                      f"{r['census']:,} census persons (comparable rules and comparisons, its own prior, "
                      f"u from {args.splink_u_pairs:.0e} random pairs, EM)")
            _print_common(r)
            if case == "dedupe":
                sizes = ", ".join(f"{v:,} of {k}" for k, v in r["cluster_sizes"].items())
                print(f"  duplicate clusters (connected components of the links): {r['clusters']:,} "
                      f"holding {r['records_in_clusters']:,} records (sizes: {sizes})")
        if "splink" in results and ("link" in results or "link-dl" in results):
            b = results["splink"]
            print("\nside by side (PES ↔ census):")
            for case, label in (("link", "ours, pes_census_settings"), ("link-dl", "ours, ID by Damerau–Levenshtein"),
                                ("splink", "Splink 5 (DuckDB)")):
                if case in results:
                    a = results[case]
                    print(f"  {label:<34} F1 {a['scores']['f1']:.4f} in {a['seconds']['total']:5.1f} s, peak "
                          f"{a['peak_rss_mb']:,.0f} MB (Splink's time / this: "
                          f"{b['seconds']['total'] / a['seconds']['total']:.1f}x)")
    if skipped:
        print(f"Splink skipped: {skipped}")


if __name__ == "__main__":
    main()
