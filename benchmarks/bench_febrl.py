"""Record linkage on FEBRL4 (5,000 + 5,000 persons, 5,000 true links), unsupervised, side by side.

Prints F1, precision, recall and seconds (median of ``--repeat`` runs, data already in memory)
for:

* ours: :func:`audit_engine.linkage.link` with :data:`audit_engine.linkage.febrl.SETTINGS`
  (u from random record pairs, the default) and the same with u fitted by EM;
* recordlinkage 0.16 ECM, tutorial-style (blocks on given name and on surname, the guide's six
  binary comparisons) and Splink-like (Splink's blocking rules, binarised fuzzy comparisons);
* Splink (DuckDB) with the settings of its own FEBRL4 example (detailed model), if ``splink``
  is installed (``pip install -c requirements/constraints.txt '.[bench]'``), at the example's
  1e6 random pairs for u and at 1e7. Splink's links are its pairs with match probability >= 0.5.

No threshold sees the labels; they are used only to score.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import splink_skipped  # noqa: E402

Pairs = tuple[np.ndarray, np.ndarray]


def ours(a: pd.DataFrame, b: pd.DataFrame, **changes) -> Callable[[], Pairs]:
    import dataclasses

    from audit_engine.linkage import link
    from audit_engine.linkage.febrl import SETTINGS

    settings = dataclasses.replace(SETTINGS, **changes)

    def run() -> Pairs:
        links = link(a, b, settings).links()
        return links.left.to_numpy(), links.right.to_numpy()
    return run


def _positions(a: pd.DataFrame, b: pd.DataFrame, index: pd.MultiIndex) -> Pairs:
    return a.index.get_indexer(index.get_level_values(0)), b.index.get_indexer(index.get_level_values(1))


def rl_tutorial(a: pd.DataFrame, b: pd.DataFrame) -> Callable[[], Pairs]:
    import recordlinkage as rl

    def run() -> Pairs:
        ix = rl.Index()
        ix.block("given_name")
        ix.block("surname")
        cand = ix.index(a, b)
        c = rl.Compare()
        c.exact("given_name", "given_name", label="given_name")
        c.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
        c.exact("date_of_birth", "date_of_birth", label="date_of_birth")
        c.exact("suburb", "suburb", label="suburb")
        c.exact("state", "state", label="state")
        c.string("address_1", "address_1", threshold=0.85, label="address_1")
        return _positions(a, b, rl.ECMClassifier().fit_predict(c.compute(cand, a, b)))
    return run


def rl_splink_like(a: pd.DataFrame, b: pd.DataFrame) -> Callable[[], Pairs]:
    import recordlinkage as rl

    def run() -> Pairs:
        ix = rl.Index()
        ix.block(["given_name", "surname"])
        ix.block(left_on=["given_name", "surname"], right_on=["surname", "given_name"])
        for on in ("date_of_birth", "soc_sec_id", ["state", "address_1"], ["street_number", "address_1"], "postcode"):
            ix.block(on)
        cand = ix.index(a, b)
        c = rl.Compare()
        c.string("given_name", "given_name", method="jarowinkler", threshold=0.88, label="given_name")
        c.string("surname", "surname", method="jarowinkler", threshold=0.88, label="surname")
        c.string("date_of_birth", "date_of_birth", method="damerau_levenshtein", threshold=0.85, label="dob")
        c.string("soc_sec_id", "soc_sec_id", method="damerau_levenshtein", threshold=0.7, label="soc_sec_id")
        c.exact("street_number", "street_number", label="street_number")
        c.string("postcode", "postcode", method="damerau_levenshtein", threshold=0.7, label="postcode")
        return _positions(a, b, rl.ECMClassifier(binarize=0.5).fit_predict(c.compute(cand, a, b)))
    return run


def splink_example(a: pd.DataFrame, b: pd.DataFrame, max_pairs: float) -> Callable[[], Pairs]:
    """Splink's FEBRL4 example, detailed model: its blocking rules, comparisons and training."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frames = [a.reset_index(), b.reset_index()]

    def run() -> Pairs:
        blocking_rules = [
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ]
        settings = SettingsCreator(
            unique_id_column_name="rec_id",
            link_type="link_only",
            blocking_rules_to_generate_predictions=blocking_rules,
            comparisons=[
                cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                         invalid_dates_as_null=True),
                cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
            ],
        )
        db = DuckDBAPI()
        linker = Linker([db.register(f) for f in frames], settings, log_level=logging.ERROR)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth"), estimate_without_term_frequencies=True)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("postcode"), estimate_without_term_frequencies=True)
        pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
        return a.index.get_indexer(pred.rec_id_l), b.index.get_indexer(pred.rec_id_r)
    return run


def measure(run: Callable[[], Pairs], repeat: int) -> tuple[Pairs, float]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = run()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs per method; the median time is printed")
    ap.add_argument("--no-splink", action="store_true", help="leave Splink out even if installed")
    args = ap.parse_args(argv)

    from audit_engine.linkage import link, score_pairs
    from audit_engine.linkage.febrl import SETTINGS, load_febrl4

    a, b, true_left, true_right = load_febrl4()
    res = link(a, b, SETTINGS)
    print(f"FEBRL4: {len(a):,} + {len(b):,} records, {len(true_left):,} true links; "
          f"{len(res.candidates):,} candidate pairs from {len(SETTINGS.rules)} rules:")
    for row in res.candidates.counts.itertuples():
        print(f"  {row.rule:<26} {row.pairs:>7,} pairs {row.new:>7,} new")
    t = res.threshold
    print(f"ours: prior {res.model.prior:.3g} (≈ {t.expected_matches:,.0f} expected matches), EM "
          f"{res.model.iterations} iterations; threshold posterior >= {t.posterior_min:.3f} "
          f"(weight {t.weight_min:.2f}) for target FMR {t.target_fmr}: {t.n_accepted:,} links, "
          f"est. FMR {t.est_fmr:.2e}, est. FNMR {t.est_fnmr:.2e}")
    print("  stage seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in res.seconds.items()))

    methods: list[tuple[str, Callable[[], Callable[[], Pairs]]]] = [
        ("ours (u from 1e6 random pairs; default)", lambda: ours(a, b)),
        ("ours (u from 3e5 random pairs)", lambda: ours(a, b, random_pairs=300_000)),
        ("ours (u fitted by EM)", lambda: ours(a, b, u_from_random_pairs=False)),
        ("recordlinkage ECM, tutorial-style", lambda: rl_tutorial(a, b)),
        ("recordlinkage ECM, Splink-like", lambda: rl_splink_like(a, b)),
    ]
    skipped = splink_skipped(args.no_splink)
    if skipped is None:
        methods += [("Splink 5 (DuckDB), example, u 1e6 pairs", lambda: splink_example(a, b, 1e6)),
                    ("Splink 5 (DuckDB), example, u 1e7 pairs", lambda: splink_example(a, b, 1e7))]

    print(f"\n{'method':<42} {'F1':>7} {'precision':>9} {'recall':>7} {'links':>6} "
          f"{'seconds':>8}  (median of {args.repeat})")
    for name, make in methods:
        (pl, pr), secs = measure(make(), args.repeat)
        s = score_pairs(pl, pr, true_left, true_right)
        print(f"{name:<42} {s.f1:>7.4f} {s.precision:>9.4f} {s.recall:>7.4f} "
              f"{s.true_positives + s.false_positives:>6,} {secs:>8.2f}", flush=True)
    if skipped:
        print(f"Splink skipped: {skipped}")


if __name__ == "__main__":
    main()
