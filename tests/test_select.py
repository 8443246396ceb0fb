"""Selection methods checked against their definitions, and the draw against its sealed results.

Frequencies: every method is run 20,000 times from one seeded generator, so each check is
deterministic (it passes or fails the same way on every run); the levels are strict (0.001 and
a Bonferroni bound) so a correct method does not fail them by bad luck, and a negative control
shows the same check catches a method that is wrong (numpy's ``choice`` with ``p``, which does
not give inclusion probabilities proportional to size).
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pandas as pd
import pytest
import yaml
from pandas.testing import assert_frame_equal
from scipy.stats import chi2

from audit_engine.codes import code_list
from audit_engine.ledger.chain import canonical_json
from sampling import draw as draw_module
from sampling.design import DesignError, bundled_path, load_design, parse_design
from sampling.draw import draw, frame_hash, prepare_frame
from sampling.select import (
    SELECTORS,
    inclusion_probabilities,
    joint_inclusion,
    pps_sampford,
    pps_systematic,
    srswor,
    systematic,
)

R = 20_000
R_CERTAIN = 5_000   # the designs with certainty units (slower per draw): fewer runs, same strict level
SIZES = np.array([12, 3, 7, 20, 5, 9, 15, 4, 10, 6, 2, 8], dtype=float)   # N = 12, n = 4: no certainty unit
N_SIZES = 4
# Iterative certainty (worked by hand below): N = 10, n = 3.
CERTAIN = np.array([100, 70, 10, 10, 10, 10, 5, 5, 5, 5], dtype=float)


def chi_square(counts: np.ndarray, pi: np.ndarray, runs: int) -> float:
    """sum (c_k - R pi_k)^2 / (R pi_k (1 - pi_k)) over the units with 0 < pi < 1: each term is a
    standardised Binomial(R, pi_k) count, so the sum is about chi2 with (at most) that many df."""
    free = (pi > 0) & (pi < 1)
    e = runs * pi[free]
    return float(((counts[free] - e) ** 2 / (e * (1 - pi[free]))).sum())


def limit(pi: np.ndarray) -> float:
    return float(chi2.ppf(0.999, int(((pi > 0) & (pi < 1)).sum())))


def wald(counts: np.ndarray, joint: np.ndarray, runs: int) -> tuple[float, int]:
    """The same comparison with the counts' covariance: in a fixed-size design the counts are
    dependent (they add up to R n), so the statistic above is only roughly chi2(N) (its tail is a
    little heavier). ``d' S^+ d`` with ``S = R (pi_kl - pi_k pi_l)`` from the exact joint
    probabilities is chi2 with rank(S) degrees of freedom. Returns (statistic, rank)."""
    pi = np.diag(joint).copy()
    free = (pi > 0) & (pi < 1)
    p = pi[free]
    cov = runs * (joint[np.ix_(free, free)] - np.outer(p, p))
    d = counts[free] - runs * p
    return float(d @ np.linalg.pinv(cov, rcond=1e-10) @ d), int(np.linalg.matrix_rank(cov, tol=1e-9 * runs))


def simulate(select, N: int, runs: int = R, seed: int = 2020) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each unit and of each pair over ``runs`` samples (``select(rng)`` -> positions),
    all from one generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    hits = np.zeros((runs, N), dtype=np.int64)
    for r in range(runs):
        hits[r, select(rng)] = 1
    return hits.sum(axis=0), hits.T @ hits


_SIMULATIONS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def runs(name: str) -> int:
    return R_CERTAIN if name.endswith("/certainty") else R


def simulated(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Each simulation once per test session (the first-order and the pair checks share it)."""
    if name not in _SIMULATIONS:
        make, N = {
            "srswor": (lambda rng: srswor(12, 4, rng).index, 12),
            "systematic": (lambda rng: systematic(12, 5, rng).index, 12),
            "pps_systematic": (lambda rng: pps_systematic(SIZES, N_SIZES, rng).index, 12),
            "pps_sampford": (lambda rng: pps_sampford(SIZES, N_SIZES, rng).index, 12),
            "pps_systematic/certainty": (lambda rng: pps_systematic(CERTAIN, 3, rng).index, 10),
            "pps_sampford/certainty": (lambda rng: pps_sampford(CERTAIN, 3, rng).index, 10),
        }[name]
        _SIMULATIONS[name] = simulate(make, N, runs(name))
    return _SIMULATIONS[name]


# ------------------------------------------------------------------ inclusion probabilities
def test_inclusion_probabilities_are_proportional_to_size_and_sum_to_n():
    pi, certainty = inclusion_probabilities(SIZES, N_SIZES)
    assert not certainty.any()
    assert np.allclose(pi, N_SIZES * SIZES / SIZES.sum()) and pi.sum() == pytest.approx(N_SIZES, abs=1e-12)
    rng = np.random.default_rng(7)
    for _ in range(200):
        N = int(rng.integers(5, 40))
        x = rng.lognormal(0, 1.5, N) * (rng.uniform(size=N) < 0.9)           # some units of size 0
        x[0] = x.max() * rng.choice([0.5, 50])                               # often a certainty unit
        n = int(rng.integers(1, min(10, np.count_nonzero(x)) + 1))
        pi, certainty = inclusion_probabilities(x, n)
        assert pi.sum() == pytest.approx(n, abs=1e-9) and (pi >= 0).all() and (pi <= 1).all()
        assert (pi[certainty] == 1).all()
        free = ~certainty & (x > 0)
        if free.any():   # the rest proportional to size, and every certainty unit at least as large
            assert np.allclose(pi[free] / x[free], pi[free][0] / x[free][0])
            assert x[certainty].min(initial=np.inf) >= x[free].max()


def test_iterative_certainty_removal_worked_by_hand():
    # n = 3, X = 230: unit 0 has 3 * 100 / 230 = 1.30 -> certain; unit 1 has 3 * 70 / 230 = 0.91 < 1.
    # Without unit 0: n = 2, X = 130, unit 1 has 2 * 70 / 130 = 1.08 -> certain as well.
    # Then n = 1 over X = 60: the 10s get 1/6 and the 5s 1/12.
    pi, certainty = inclusion_probabilities(CERTAIN, 3)
    assert 3 * 70 / CERTAIN.sum() < 1 < 2 * 70 / (CERTAIN.sum() - 100)
    assert list(certainty) == [True, True] + [False] * 8
    assert np.allclose(pi, [1, 1, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 12, 1 / 12, 1 / 12, 1 / 12])
    assert pi.sum() == pytest.approx(3, abs=1e-12)
    # zero sizes get pi = 0 and are never selected
    x = np.array([0, 5, 0, 5, 10, 0], dtype=float)
    pi, _ = inclusion_probabilities(x, 2)                                    # 2 * 10 / 20 = 1: certain; then 1/2
    assert np.allclose(pi, [0, 0.5, 0, 0.5, 1.0, 0])
    rng = np.random.default_rng(1)
    for method in (pps_systematic, pps_sampford):
        for _ in range(200):
            s = method(x, 2, rng).index
            assert 4 in s and not set(s) & {0, 2, 5}


# ------------------------------------------------------------------ frequencies against pi
JOINT = {
    "srswor": lambda: joint_inclusion("srswor", 12, 4),
    "systematic": lambda: joint_inclusion("systematic", 12, 5),                 # interval 2.4: fractional
    "pps_systematic": lambda: joint_inclusion("pps_systematic", SIZES, N_SIZES),
    "pps_sampford": lambda: joint_inclusion("pps_sampford", SIZES, N_SIZES),
    "pps_systematic/certainty": lambda: joint_inclusion("pps_systematic", CERTAIN, 3),
    "pps_sampford/certainty": lambda: joint_inclusion("pps_sampford", CERTAIN, 3),
}
PI = {"srswor": np.full(12, 4 / 12), "systematic": np.full(12, 5 / 12),
      "pps_systematic": N_SIZES * SIZES / SIZES.sum(), "pps_sampford": N_SIZES * SIZES / SIZES.sum(),
      "pps_systematic/certainty": inclusion_probabilities(CERTAIN, 3)[0],
      "pps_sampford/certainty": inclusion_probabilities(CERTAIN, 3)[0]}


@pytest.mark.parametrize("name", list(PI))
def test_inclusion_frequencies_match_pi(name):
    pi, joint = PI[name], JOINT[name]()
    assert np.allclose(np.diag(joint), pi)
    counts, _ = simulated(name)
    assert chi_square(counts, pi, runs(name)) < limit(pi), (name, counts / runs(name), pi)
    stat, df = wald(counts, joint, runs(name))
    assert df == int(((pi > 0) & (pi < 1)).sum()) - 1 and stat < chi2.ppf(0.999, df), (name, stat, df)
    assert (counts[pi == 1] == runs(name)).all()              # certainty units in every sample


def test_the_frequency_check_catches_a_method_that_is_not_pps():
    """Negative control: ``rng.choice(N, n, replace=False, p=x / X)`` draws successively with
    probability proportional to size among those left, which does NOT give pi = n x / X (the
    large units are under-represented). The same check, same R, must reject it, by far."""
    pi = N_SIZES * SIZES / SIZES.sum()
    p = SIZES / SIZES.sum()
    counts, _ = simulate(lambda rng: rng.choice(12, N_SIZES, replace=False, p=p), 12)
    stat = chi_square(counts, pi, R)
    assert stat > 10 * limit(pi), stat
    assert wald(counts, JOINT["pps_sampford"](), R)[0] > 10 * chi2.ppf(0.999, 11)
    assert counts[3] / R < pi[3] - 0.1                        # the largest unit: well under its pi


# ------------------------------------------------------------------ joint probabilities
def sampford_design(pi: np.ndarray) -> dict[tuple[int, ...], float]:
    """Sampford's design by full enumeration: p(s) proportional to
    (n - sum_{i in s} pi_i) prod_{j in s} pi_j / (1 - pi_j)."""
    n = int(round(pi.sum()))
    lam = pi / (1 - pi)
    weight = {s: (n - pi[list(s)].sum()) * np.prod(lam[list(s)]) for s in itertools.combinations(range(pi.size), n)}
    total = sum(weight.values())
    return {s: w / total for s, w in weight.items()}


def test_sampford_joint_probabilities_equal_full_enumeration():
    pi = N_SIZES * SIZES / SIZES.sum()
    design = sampford_design(pi)
    first, joint = np.zeros(pi.size), np.zeros((pi.size, pi.size))
    for s, p in design.items():
        first[list(s)] += p
        joint[np.ix_(s, s)] += p
    assert np.allclose(first, pi, atol=1e-12)                 # Sampford's theorem: the design has pi exactly
    assert np.allclose(joint_inclusion("pps_sampford", SIZES, N_SIZES), joint, atol=1e-12)
    assert (joint[~np.eye(pi.size, dtype=bool)] > 0).all()    # every pair possible: an unbiased SYG variance


def pair_z(pairs: np.ndarray, joint: np.ndarray, runs: int) -> np.ndarray:
    iu = np.triu_indices(joint.shape[0], 1)
    p, c = joint[iu], pairs[iu]
    ok = p > 0
    return (c[ok] - runs * p[ok]) / np.sqrt(runs * p[ok] * (1 - p[ok]))


def test_sampford_pair_frequencies_match_joint_probabilities():
    _, pairs = simulated("pps_sampford")
    z = pair_z(pairs, joint_inclusion("pps_sampford", SIZES, N_SIZES), R)
    assert np.abs(z).max() < 4.5, np.abs(z).max()            # 66 pairs; Bonferroni level about 5e-4


def systematic_joint_by_starts(pi: np.ndarray) -> np.ndarray:
    """pi_kl of systematic selection on the cumulated pi, by integrating over the random start:
    the sample only changes where u crosses the fractional part of a cumulated pi."""
    cum = np.concatenate([[0.0], np.cumsum(pi)])
    cuts = np.unique(np.concatenate([[0.0, 1.0], cum - np.floor(cum)]))
    joint = np.zeros((pi.size, pi.size))
    for a, b in itertools.pairwise(cuts):
        u = (a + b) / 2
        chosen = np.searchsorted(cum, u + np.arange(int(round(pi.sum()))), side="right") - 1
        joint[np.ix_(chosen, chosen)] += b - a
    return joint


def test_pps_systematic_joint_probabilities():
    pi = N_SIZES * SIZES / SIZES.sum()
    joint = joint_inclusion("pps_systematic", SIZES, N_SIZES)
    assert np.allclose(joint, systematic_joint_by_starts(pi), atol=1e-12)
    assert np.allclose(joint.sum(axis=1), N_SIZES * pi) and np.allclose(np.diag(joint), pi)   # sum_l pi_kl = n pi_k
    cum = np.concatenate([[0.0], np.cumsum(pi)])
    zero = [(k, m) for k, m in itertools.combinations(range(12), 2) if joint[k, m] == 0]
    within = [(k, m) for k, m in zero if cum[m + 1] - cum[k] <= 1]          # both inside one interval
    apart = [(k, m) for k, m in zero if cum[m] - cum[k + 1] >= 1]           # further apart than the interval
    assert (0, 1) in within and (3, 4) in within and (0, 4) in apart and (1, 11) in apart
    assert len(zero) == 29
    # units 0 and 4 cover [0, 0.475) and [1.663, 1.861) of the cumulated pi: mod 1 they do not meet
    _, pairs = simulated("pps_systematic")
    assert all(pairs[k, m] == 0 for k, m in zero)             # never together in 20,000 samples
    z = pair_z(pairs, joint, R)
    assert np.abs(z).max() < 4.5, np.abs(z).max()
    # with certainty units: their rows are pi_l, and rows still sum to n pi_k
    jc = joint_inclusion("pps_systematic", CERTAIN, 3)
    pc, _ = inclusion_probabilities(CERTAIN, 3)
    assert np.allclose(jc.sum(axis=1), 3 * pc) and np.allclose(jc[0], pc) and np.allclose(jc[:, 1], pc)


def test_equal_probability_joint_probabilities():
    # systematic, N = 12, n = 3: interval 4, samples {u, u+4, u+8}: pairs 4 or 8 apart have 1/4, others 0
    joint = joint_inclusion("systematic", 12, 3)
    d = np.abs(np.subtract.outer(np.arange(12), np.arange(12)))
    assert np.allclose(joint, np.where(d == 0, 0.25, np.where(d % 4 == 0, 0.25, 0.0)))
    _, pairs = simulated("systematic")                                       # n = 5, interval 2.4
    assert np.abs(pair_z(pairs, joint_inclusion("systematic", 12, 5), R)).max() < 4.5
    assert all(pairs[k, k + 1] == 0 for k in range(11))                     # neighbours never together
    s = joint_inclusion("srswor", 12, 4)
    assert np.allclose(s[~np.eye(12, dtype=bool)], 4 * 3 / (12 * 11)) and np.allclose(np.diag(s), 4 / 12)
    _, pairs = simulated("srswor")
    assert np.abs(pair_z(pairs, s, R)).max() < 4.5


# ------------------------------------------------------------------ systematic: implicit stratification
def test_systematic_hits_every_interval_of_the_sorted_list_once():
    """Implicit stratification: on a list sorted by a variable (here: age), a systematic sample
    of n takes exactly one unit from each run of N / n consecutive units, i.e. one from each
    tenth of the age distribution; with a fractional interval the gaps are its floor or ceiling.
    PPS systematic does the same on the cumulated size: one common start u puts selection j in
    the stretch [u + j, u + j + 1) of cumulated pi."""
    rng = np.random.default_rng(3)
    people = pd.DataFrame({"id": np.arange(120), "age": rng.integers(0, 100, 120)})
    listed = people.sort_values(["age", "id"]).reset_index(drop=True)      # the frame's sort order
    deciles = np.repeat(np.arange(12), 10)                                  # position -> age group
    for _ in range(300):
        s = systematic(120, 12, rng).index                                   # interval 10
        assert sorted(deciles[s]) == list(range(12))
        assert listed["age"].iloc[s].is_monotonic_increasing
        assert set(np.diff(systematic(100, 12, rng).index)) <= {8, 9}       # interval 8.33
        x = rng.uniform(1, 5, 60)
        pi, _ = inclusion_probabilities(x, 6)
        s = pps_systematic(x, 6, rng).index
        cum = np.concatenate([[0.0], np.cumsum(pi)])
        lo, hi = cum[s] - np.arange(6), cum[s + 1] - np.arange(6)           # the starts that select s[j] as the j-th
        assert max(lo.max(), 0.0) < min(hi.min(), 1.0)                      # one start fits them all


# ------------------------------------------------------------------ reproducibility and errors
@pytest.mark.parametrize("name", ["srswor", "systematic", "pps_systematic", "pps_sampford"])
def test_same_seed_same_selection_and_selectors_match_direct_calls(name):
    direct = {"srswor": lambda rng: srswor(12, 4, rng), "systematic": lambda rng: systematic(12, 4, rng),
              "pps_systematic": lambda rng: pps_systematic(SIZES, 4, rng),
              "pps_sampford": lambda rng: pps_sampford(SIZES, 4, rng)}[name]
    a = [direct(np.random.default_rng(s)).index.tolist() for s in range(30)]
    assert a == [direct(np.random.default_rng(s)).index.tolist() for s in range(30)]
    assert len({tuple(x) for x in a}) >= 3              # seeds change the sample (systematic: its 3 starts)
    uniform = [SELECTORS[name](SIZES if "pps" in name else None, 12, 4, np.random.default_rng(s)) for s in range(30)]
    assert [u.index.tolist() for u in uniform] == a
    one = direct(np.random.default_rng(0))
    assert one.n == 4 and (np.diff(one.index) > 0).all() and one.index.dtype == np.int64
    assert one.pi.shape == (12,) and one.certainty.shape == (12,)


def test_selection_errors_are_clear():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="cannot select 5 units from a list of 4"):
        srswor(4, 5, rng)
    with pytest.raises(ValueError, match="cannot select 13 units from a list of 12"):
        pps_systematic(SIZES, 13, rng)
    with pytest.raises(ValueError, match="whole number >= 0"):
        systematic(10, 2.5, rng)
    with pytest.raises(ValueError, match="whole number >= 0"):
        srswor(10, -1, rng)
    with pytest.raises(ValueError, match="finite and non-negative"):
        pps_sampford(np.array([3.0, -1.0, 2.0, 4.0]), 2, rng)
    with pytest.raises(ValueError, match="finite and non-negative"):
        pps_systematic(np.array([3.0, np.nan, 2.0]), 1, rng)
    with pytest.raises(ValueError, match="only 2 unit.s. have a positive size; cannot select 3"):
        pps_systematic(np.array([0.0, 4.0, 0.0, 1.0]), 3, rng)
    with pytest.raises(ValueError, match="unknown selection method"):
        joint_inclusion("lottery", SIZES, 4)
    # Sampford with 30 of 31 equal units: all pi = 30/31, a sample without repeats has probability
    # about 1e-11 per attempt — the design cannot be drawn this way
    with pytest.raises(RuntimeError, match="Sampford: no sample without repeats .* too close to 1 — use pps_systematic"):
        pps_sampford(np.ones(31), 30, rng, max_attempts=20_000)


# ------------------------------------------------------------------ the draw: reproducible and exact
TWO_STAGE = {"design": "two_stage", "frame": {"source": "store", "unit": "ea_code", "size": "persons_listed"},
             "strata": ["county_code"], "sort": ["ea_code"],
             "stages": [{"unit": "township_code", "method": "pps_sampford"},
                        {"unit": "ea_code", "method": "srswor", "per_psu": 3}],
             "allocation": {"method": "proportional", "total": 4, "min_per_stratum": 2}}

# Selection and frame hashes of draws made before draw.py was vectorised (row-by-row stratum keys,
# one stratum at a time): a (design, frame, seed) must select the same units for ever. If the
# synthetic generator changes, these move with it; if only the sampler changed, it broke a seal.
SEALED = {
    ("bundled", 11): "f5676dfccd435dcaaa3b1202bf9ff20b89ed90c8deb7d34857421d76bbd5ce10",
    ("bundled", 12): "c24ab5111541ce62ad25accc836fdb1d575427ea1493ff9f810597443f0a7c6d",
    ("bundled", 20201115): "fce903ecb6d9bf958fee77fb774aa353c058a683ec03f05fa4c8e0b0bf6d343c",
    ("two_stage", 5): "99d1cb1bb87e5f7339fece5d31d3e69472f8bc563a9296acd58c17d0254d3a43",
}
FRAME_HASHES = {"bundled": "2b0c285a3a005060d81d6b2e26e2de9ff563c363821b466b14cc2a0d427e2c31",
                "two_stage": "ad881a2114f27d9eb96c2b875f4e7712b14d61f91b495169000b333992b8f62a"}


def test_draws_select_what_they_always_selected(frame30k):
    designs = {"bundled": load_design(), "two_stage": parse_design(TWO_STAGE)}
    shuffled = frame30k.sample(frac=1.0, random_state=1)                       # row order of the frame is irrelevant
    for (name, seed), sealed in SEALED.items():
        a, b = draw(designs[name], frame30k, seed), draw(designs[name], shuffled, seed)
        assert a.selection_hash == sealed and a.frame_hash == FRAME_HASHES[name], (name, seed)
        assert b.selection_hash == sealed and b.frame_hash == FRAME_HASHES[name]
        assert_frame_equal(a.units, b.units)
        assert_frame_equal(a.strata, b.strata)
        assert np.array_equal(a.replicate_weights, b.replicate_weights)


def reference_prepare(frame: pd.DataFrame, design) -> pd.DataFrame:
    """prepare_frame as it was written row by row (the specification the vectorised one keeps)."""
    f = frame.copy()
    urban = set(code_list("urban_rural").extra.get("urban", []))
    if "urban" in design.strata or "urban" in design.sort:
        f["urban"] = np.where(f["urban_rural"].astype(str).isin(urban), "urban", "rural")
    f[design.size] = pd.to_numeric(f[design.size], errors="coerce").fillna(0).astype(float)
    f["stratum"] = f[list(design.strata)].astype(str).agg("|".join, axis=1) if design.strata else "all"
    key, psu = f["stratum"].copy(), design.stages[0].unit
    for level in ("first", "all"):
        n_psu = f.assign(_k=key).groupby("_k")[psu].nunique()
        small = set(n_psu[n_psu < design.allocation.min_per_stratum].index)
        if not small:
            break
        into = f[design.strata[0]].astype(str) + "|*" if level == "first" and design.strata else "*"
        key = key.where(~key.isin(small), into)
    f["stratum"] = key
    return f.sort_values(["stratum", *design.sort, design.frame_unit], kind="stable").reset_index(drop=True)


def reference_frame_hash(f: pd.DataFrame, design) -> str:
    cols = list(dict.fromkeys([design.frame_unit, *design.strata, *design.sort, design.size,
                               *(s.unit for s in design.stages)]))
    rows = f[cols].astype(str).sort_values(design.frame_unit).values.tolist()
    return hashlib.sha256(canonical_json({"columns": cols, "rows": rows}).encode()).hexdigest()


def variant(**patch):
    doc = yaml.safe_load(bundled_path().read_text("utf-8"))
    doc.update(patch)
    return parse_design(doc)


def test_vectorised_prepare_and_frame_hash_equal_the_row_by_row_definition(frame30k, monkeypatch):
    holes = frame30k.copy()
    holes.loc[[3, 17, 40], "village_code"] = np.nan                          # missing values sort last
    holes.loc[[5, 70], "urban_rural"] = np.nan                               # missing is rural
    holes.loc[[1, 80], "township_code"] = np.nan                             # a stratum "nan|..."
    wide = frame30k.copy()
    wide.loc[::7, "ea_code"] = wide.loc[::7, "ea_code"] + "区"               # non-ASCII unit codes
    escaped = frame30k.copy()
    escaped.loc[9, "village_code"] = escaped.loc[9, "village_code"] + '"\\'  # a value JSON escapes
    designs = [load_design(),
               variant(strata=["village_code", "urban"],                     # collapses down to '*'
                       allocation={"method": "proportional", "total": 50, "min_per_stratum": 4}),
               variant(strata=[], sort=["urban_rural", "households_listed", "ea_code"]),
               parse_design(TWO_STAGE)]
    monkeypatch.setattr(draw_module, "_HASH_CHUNK", 7)                       # the hash assembled in many pieces
    for design in designs:
        for f in (frame30k, holes, wide, escaped, frame30k.sample(frac=1.0, random_state=2)):
            got, want = prepare_frame(f, design), reference_prepare(f, design)
            assert_frame_equal(got, want, check_exact=True)
            assert frame_hash(got, design) == reference_frame_hash(want, design)
            assert draw(design, f, 3).frame_hash == reference_frame_hash(want, design)
    assert "*" in set(prepare_frame(frame30k, designs[1])["stratum"])


def test_frame_checks_still_name_the_problem(frame30k):
    d = load_design()
    dup = frame30k.copy()
    dup.loc[3, "ea_code"] = dup.loc[4, "ea_code"]
    with pytest.raises(DesignError, match="repeats unit codes"):
        draw(d, dup, 1)
    bad = frame30k.copy()
    bad.loc[3, "persons_listed"] = "n/a"
    with pytest.raises(DesignError, match="missing or not positive for 1 unit"):
        draw(d, bad, 1)
    with pytest.raises(DesignError, match=r"no column\(s\) \['village_code'\]"):
        draw(d, frame30k.drop(columns="village_code"), 1)
    span = frame30k.copy()
    span.loc[0, "county_code"] = "999999"
    with pytest.raises(DesignError, match="must lie within one stratum"):
        draw(parse_design(TWO_STAGE), span, 1)


# ------------------------------------------------------------------ replicates: none (national samples)
def test_replicates_none_in_the_design():
    assert variant(replicates={"method": "none"}).replicates == "none"
    assert load_design().replicates == "JKn"
    for bad, message in [({"method": "jackknife"}, "must be one of JKn, bootstrap, none"),
                         ("JKn", "replicates is a mapping"),
                         ({"method": "none", "count": 3}, "replicates is a mapping")]:
        with pytest.raises(DesignError, match=message):
            variant(replicates=bad)


def test_replicates_none_draws_the_same_sample_without_weights(frame30k, county30k, engine):
    from audit_engine.io.load import load_file
    from sampling.store import load_sample, read_frame, save_sample, verify_sample

    jkn, none = load_design(), variant(replicates={"method": "none"})
    a, b = draw(jkn, frame30k, 11), draw(none, frame30k, 11)
    assert a.selection_hash == b.selection_hash and a.units.equals(b.units)   # replicates never touch the selection
    assert b.replicate_weights.shape == (len(b.units), 0) and b.replicate_scale.shape == (0,)
    assert none.content_hash != jkn.content_hash
    # sealed and verified like any other sample
    load_file(engine, county30k / "areas.csv", "reference", operator="t")
    drawn = draw(none, read_frame(engine, none), 7)
    sid = save_sample(engine, none, 7, drawn, "sup")
    assert load_sample(engine, sid).replicate_weights.shape == (len(drawn.units), 0)
    assert verify_sample(engine, "auditor", sid).ok


def test_jkn_refuses_a_sample_too_large_for_its_n_by_n_weights(frame30k, monkeypatch):
    monkeypatch.setattr(draw_module, "JKN_MAX_CELLS", 20 * 20)
    with pytest.raises(DesignError, match=r"JKn replicate weights for \d+ units .* GB\); .* \{method: none\}"):
        draw(load_design(), frame30k, 11)
    assert draw(variant(replicates={"method": "bootstrap"}), frame30k, 11).replicate_weights.shape[1] == 200
