"""Design-based estimation (sampling/estimate.py, sampling/replicates.py).

1. Hand-worked textbook examples: the expected numbers are worked out in the comments with the
   classical formulas (Cochran 1977; Lohr 2019) and written as literals. They are not recomputed
   with the code's own PSU-total formula.
2. Agreement with samplics 0.6.1 (TaylorEstimator, ReplicateEstimator, ReplicateWeight) on a
   random stratified clustered design with unequal weights, with and without fpc.
3. Replicates against Taylor: JKn equals Taylor exactly for totals. For means and ratios it is
   close but not equal. The Rao-Wu bootstrap is within Monte Carlo error.
4. Domains, errors and lonely PSUs, confidence intervals, design effects.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sampling.estimate import SurveyDesign, design_df, domain, mean, ratio, total
from sampling.replicates import bootstrap_replicates, jkn_replicates

SAMPLICS_TOL = 1e-6  # relative, the agreement asked of another implementation
EXACT_TOL = 1e-10  # relative, two routes to the same algebraic quantity


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


# ============================================================================ hand-worked examples
#
# Example A: stratified SRS without replacement, each unit its own PSU (Cochran 1977, §5.3; Lohr 2019, §3.2).
#   stratum "urban": N_1 = 25, n_1 = 5, w = 25/5 = 5,  y = 1 3 5 7 9
#   stratum "rural": N_2 = 30, n_2 = 3, w = 30/3 = 10, y = 10 16 22
A_STRATA = ["urban"] * 5 + ["rural"] * 3
A_PSU = [1, 2, 3, 4, 5, 1, 2, 3]  # PSU ids are reused across strata: they are nested
A_W = [5.0] * 5 + [10.0] * 3
A_Y = [1.0, 3.0, 5.0, 7.0, 9.0, 10.0, 16.0, 22.0]
A_FPC = [25.0] * 5 + [30.0] * 3


def example_a(with_fpc: bool) -> SurveyDesign:
    return SurveyDesign(A_W, A_STRATA, A_PSU, fpc=A_FPC if with_fpc else None)


@pytest.mark.parametrize("with_fpc", [True, False])
def test_stratified_srs_total_and_mean_by_hand(with_fpc):
    # urban: ybar_1 = 5, squares about the mean 16+4+0+4+16 = 40, s_1^2 = 40/4 = 10, f_1 = 5/25 = 0.2
    # rural: ybar_2 = 16, squares about the mean 36+0+36 = 72, s_2^2 = 72/2 = 36, f_2 = 3/30 = 0.1
    # Y_hat = N_1 ybar_1 + N_2 ybar_2 = 25*5 + 30*16 = 125 + 480 = 605
    # V(Y_hat) = sum_h N_h^2 (1 - f_h) s_h^2 / n_h
    #   with fpc:    625*0.8*10/5 + 900*0.9*36/3 = 1000 + 9720  = 10720
    #   without fpc: 625*10/5     + 900*36/3     = 1250 + 10800 = 12050
    # Stratified mean: N = 55 and ybar_st = 605/55 = 11. V(ybar_st) = V(Y_hat)/N^2 = V/3025.
    # N_hat = sum w = 55 exactly, so the Hajek mean is the stratified mean. Its linearised
    # variance is the classical one, because w is constant within each stratum.
    v_total = 10720.0 if with_fpc else 12050.0
    design = example_a(with_fpc)
    t = total(A_Y, design)
    assert t.value == pytest.approx(605.0, rel=1e-14)
    assert t.variance == pytest.approx(v_total, rel=1e-12)
    assert t.se == pytest.approx(math.sqrt(v_total), rel=1e-12)
    assert t.df == 6  # 8 PSUs - 2 strata
    m = mean(A_Y, design)
    assert m.value == pytest.approx(11.0, rel=1e-14)
    assert m.variance == pytest.approx(v_total / 3025.0, rel=1e-12)
    # the JKn replicate variance of a total equals the textbook value too
    assert total(A_Y, jkn_replicates(design), "replicate").variance == pytest.approx(v_total, rel=1e-12)


def test_stratified_srs_domain_by_hand():
    # Domain D = {7, 9} in urban and {22} in rural (with fpc). Define y_d = y * 1{D}:
    #   urban y_d = 0 0 0 7 9, mean 3.2, squares 3*3.2^2 + 3.8^2 + 5.8^2 = 30.72+14.44+33.64 = 78.8,
    #         s^2 = 78.8/4 = 19.7, term 625*0.8*19.7/5 = 1970
    #   rural y_d = 0 0 22, mean 22/3, squares 2*(22/3)^2 + (44/3)^2 = 2904/9, s^2 = 484/3,
    #         term 900*0.9*(484/3)/3 = 90*484 = 43560
    #   Y_hat_D = 5*(7+9) + 10*22 = 300, V = 1970 + 43560 = 45530
    # Domain mean: N_hat_D = 5*2 + 10*1 = 20, ybar_D = 300/20 = 15. It is a ratio: use the
    # residual e = 1{D} (y - 15) in the same formula and divide by N_hat_D^2:
    #   urban e = 0 0 0 -8 -6, mean -2.8, squares 3*2.8^2 + 5.2^2 + 3.2^2 = 23.52+27.04+10.24 = 60.8,
    #         s^2 = 15.2, term 625*0.8*15.2/5 = 1520
    #   rural e = 0 0 7, mean 7/3, squares 49 - 3*(7/3)^2 = 98/3, s^2 = 49/3, term 900*0.9*(49/3)/3 = 4410
    #   V(ybar_D) = (1520 + 4410) / 20^2 = 5930/400 = 14.825
    design = example_a(True)
    in_d = np.isin(A_Y, [7.0, 9.0, 22.0])
    t = domain(A_Y, in_d, design, "total")
    assert t.value == pytest.approx(300.0, rel=1e-14)
    assert t.variance == pytest.approx(45530.0, rel=1e-12)
    m = domain(A_Y, in_d, design, "mean")
    assert m.value == pytest.approx(15.0, rel=1e-14)
    assert m.variance == pytest.approx(14.825, rel=1e-12)


# Example B: one-stage cluster sample (Lohr 2019, ch. 5). SRS of n = 4 clusters out of N = 10.
# Every unit of a sampled cluster is observed, so w = N/n = 2.5.
#   cluster A: y = 3 5      M = 2  t = 8
#   cluster B: y = 4 6 8    M = 3  t = 18
#   cluster C: y = 1 2 3 6  M = 4  t = 12
#   cluster D: y = 6 7 9    M = 3  t = 22
B_PSU = ["A"] * 2 + ["B"] * 3 + ["C"] * 4 + ["D"] * 3
B_Y = [3.0, 5.0, 4.0, 6.0, 8.0, 1.0, 2.0, 3.0, 6.0, 6.0, 7.0, 9.0]


def example_b(with_fpc: bool) -> SurveyDesign:
    n = len(B_Y)
    return SurveyDesign([2.5] * n, ["all"] * n, B_PSU, fpc=[10.0] * n if with_fpc else None)


@pytest.mark.parametrize("with_fpc", [True, False])
def test_one_stage_cluster_total_and_ratio_mean_by_hand(with_fpc):
    # Total (Lohr (5.3)): t_hat = (N/n) sum t_i = 2.5 * 60 = 150.
    #   The cluster totals 8 18 12 22 have mean 15. Squares about it: 49+9+9+49 = 116, so s_t^2 = 116/3.
    #   V(t_hat) = N^2 (1 - n/N) s_t^2 / n = 100 * 0.6 * (116/3) / 4 = 580      (without fpc: 2900/3)
    # Ratio mean per element (Lohr (5.8)): ybar_r = sum t_i / sum M_i = 60/12 = 5, Mbar = 12/4 = 3.
    #   The residuals e_i = t_i - 5 M_i are -2 3 -8 7. They sum to 0, and sum e^2 = 4+9+64+49 = 126, so s_e^2 = 42.
    #   V(ybar_r) = (1 - n/N) s_e^2 / (n Mbar^2) = 0.6 * 42 / (4*9) = 0.7             (without fpc: 7/6)
    f = 0.6 if with_fpc else 1.0
    design = example_b(with_fpc)
    t = total(B_Y, design)
    assert t.value == pytest.approx(150.0, rel=1e-14)
    assert t.variance == pytest.approx(f * 2900.0 / 3.0, rel=1e-12)
    assert t.df == 3
    m = mean(B_Y, design)
    assert m.value == pytest.approx(5.0, rel=1e-14)
    assert m.variance == pytest.approx(f * 7.0 / 6.0, rel=1e-12)
    # The Hajek mean is the ratio of y to the cluster size (x = 1 per unit).
    r = ratio(B_Y, np.ones(len(B_Y)), design)
    assert (r.value, r.variance) == pytest.approx((m.value, m.variance), rel=1e-12)


def test_one_stage_cluster_jkn_by_hand():
    # JKn with fpc. Deleting cluster i scales the other three by 4/3, and c = (1 - f)(n-1)/n = 0.6*3/4 = 0.45.
    # Total: t_(i) - 150 = 2.5*(4/3)*(60 - t_i) - 150 = 10 (15 - t_i) / 3 = 70/3, -10, 10, -70/3.
    #   0.45 * (2*4900/9 + 200) = 0.45 * 11600/9 = 580, the Taylor value, exactly.
    # Ratio mean: ybar_(i) = (60 - t_i)/(12 - M_i) = 52/10, 42/9, 48/8, 38/9.
    #   The deviations from 5 are 1/5, -1/3, 1, -7/9. Their squares sum to 1/25 + 139/81.
    #   0.45 * (1/25 + 139/81) = 9/500 + 139/180 = 889/1125 = 0.79022...   (Taylor: 0.7)
    design = jkn_replicates(example_b(True))
    assert total(B_Y, design, "replicate").variance == pytest.approx(580.0, rel=1e-12)
    m = mean(B_Y, design, "replicate")
    assert m.method == "JKn"
    assert m.variance == pytest.approx(889.0 / 1125.0, rel=1e-12)


def test_ratio_estimator_by_hand():
    # Example C: ratio estimation (Cochran 1977, ch. 6; Lohr 2019, §4.1). SRS of n = 5 from N = 50, w = 10.
    #   x = 2 4 5 4 5 (sum 20, xbar = 4),  y = 5 7 12 8 8 (sum 40),  R_hat = 40/20 = 2
    #   e = y - 2x = 1 -1 2 0 -2, sum e^2 = 10, s_e^2 = 10/4 = 2.5
    #   V(R_hat) = (1 - n/N) s_e^2 / (n xbar^2) = 0.9 * 2.5 / (5*16) = 0.028125
    # The ratio estimator of the y total, with known population total X = 200 (xbar_U = 4 = xbar,
    # so Lohr's "use xbar_U if known" and the sample-xbar version agree):
    #   Y_hat_R = 2 * 200 = 400,  V = 200^2 * 0.028125 = 1125
    # The HT total 10*40 = 400 has V = N^2 (1-f) s_y^2 / n. Here s_y^2 = (9+1+16+0+0)/4 = 6.5,
    # so V = 2500*0.9*6.5/5 = 2925. That is 2.6 times the ratio estimator's variance.
    x = [2.0, 4.0, 5.0, 4.0, 5.0]
    y = [5.0, 7.0, 12.0, 8.0, 8.0]
    design = SurveyDesign([10.0] * 5, [1] * 5, [1, 2, 3, 4, 5], fpc=[50.0] * 5)
    r = ratio(y, x, design)
    assert r.value == pytest.approx(2.0, rel=1e-14)
    assert r.variance == pytest.approx(0.028125, rel=1e-12)
    assert 200.0**2 * r.variance == pytest.approx(1125.0, rel=1e-12)
    assert total(y, design).variance == pytest.approx(2925.0, rel=1e-12)


# ============================================================================ a random survey
def make_survey(seed: int = 20240611) -> pd.DataFrame:
    """8 strata with 3-6 PSUs each and 5-20 units per PSU. Weights are unequal within and between
    PSUs. PSU ids repeat across strata. In about a fifth of the PSUs nobody is in the domain.
    Rows are shuffled, so nothing may assume sorted input."""
    rng = np.random.default_rng(seed)
    parts = []
    for h in range(8):
        n_h = int(rng.integers(3, 7))
        big_n_h = n_h * int(rng.integers(2, 8))
        base = rng.uniform(20.0, 200.0)
        for i in range(n_h):
            m = int(rng.integers(5, 21))
            psu_effect = rng.normal(0.0, 4.0)
            p_domain = 0.0 if rng.random() < 0.2 else rng.uniform(0.2, 0.6)
            x = rng.poisson(3.0, m) + 1.0
            parts.append(pd.DataFrame({
                "stratum": f"S{h + 1}",
                "psu": i + 1,
                "N_h": float(big_n_h),
                "w": base * rng.uniform(0.7, 1.4, m),
                "x": x,
                "y": 10.0 + 2.0 * h + psu_effect + 3.0 * x + rng.normal(0.0, 5.0, m),
                "d": rng.random(m) < p_domain,
            }))
    df = pd.concat(parts, ignore_index=True)
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


FPC_CASES = ["none", "fpc", "fpc+certainty"]


@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    df = make_survey()
    n_h = df.groupby("stratum")["psu"].nunique()
    assert len(n_h) == 8 and n_h.between(3, 6).all()
    # preconditions of the domain tests: some PSUs have no domain members
    members = df.groupby(["stratum", "psu"])["d"].sum()
    assert (members == 0).sum() >= 3 and (members > 0).sum() >= 20
    return df


def with_n_h(df: pd.DataFrame, case: str) -> pd.Series:
    """N_h per unit for the case. In "fpc+certainty", S3 is a certainty stratum with N_h = n_h."""
    big_n = df["N_h"].copy()
    if case == "fpc+certainty":
        s3 = df["stratum"] == "S3"
        big_n[s3] = df.loc[s3, "psu"].nunique()
    return big_n


def design_for(df: pd.DataFrame, case: str) -> SurveyDesign:
    fpc = None if case == "none" else with_n_h(df, case).to_numpy()
    return SurveyDesign(df["w"].to_numpy(), df["stratum"].to_numpy(), df["psu"].to_numpy(), fpc=fpc)


# ============================================================================ samplics
@pytest.fixture(scope="module")
def samplics():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "samplics is archived ..." on import
        return pytest.importorskip("samplics")


def samplics_fpc(df: pd.DataFrame, case: str):
    """samplics' ``fpc`` argument is the multiplier 1 - f_h itself, not N_h (expansion.py,
    ``_taylor_variance``: ``covariance += fpc[s] * ...``). It is a dict keyed by stratum in sorted
    order, because ``estimate`` checks ``list(np.unique(stratum)) == list(fpc.keys())``. The default
    1.0 means no correction."""
    if case == "none":
        return 1.0
    big_n = with_n_h(df, case)
    out = {}
    for s in sorted(df["stratum"].unique()):
        in_s = df["stratum"] == s
        out[s] = 1.0 - df.loc[in_s, "psu"].nunique() / big_n[in_s].iloc[0]
    return out


@pytest.mark.parametrize("case", FPC_CASES)
def test_taylor_agrees_with_samplics(samplics, survey, case):
    df = survey
    design = design_for(df, case)
    y, x, d = df["y"].to_numpy(), df["x"].to_numpy(), df["d"].to_numpy()
    common = dict(samp_weight=df["w"].to_numpy(), stratum=df["stratum"].to_numpy(),
                  psu=df["psu"].to_numpy(), fpc=samplics_fpc(df, case))
    P = samplics.PopParam
    checks = [
        (total(y, design), P.total, {}, None),
        (mean(y, design), P.mean, {}, None),
        (ratio(y, x, design), P.ratio, {"x": x}, None),
        (domain(y, d, design, "total"), P.total, {"domain": d}, True),
        (domain(y, d, design, "mean"), P.mean, {"domain": d}, True),
    ]
    for ours, param, extra, key in checks:
        est = samplics.TaylorEstimator(param=param)
        est.estimate(y=y, **common, **extra)
        value = est.point_est if key is None else est.point_est[key]
        se = est.stderror if key is None else est.stderror[key]
        assert rel(ours.value, value) < SAMPLICS_TOL, (param, "value")
        assert rel(ours.se, se) < SAMPLICS_TOL, (param, "se")
        assert ours.df == est.degree_of_freedom == 29  # 37 PSUs - 8 strata


@pytest.mark.parametrize("case", FPC_CASES)
def test_replicate_variance_agrees_with_samplics(samplics, survey, case):
    # samplics' jackknife variance (replication.py, ``_variance``) is written with pseudo-values
    # p_r = J theta - (J-1) theta_r, where J = 1/(1 - c_r). With ``conservative=True`` it is
    # sum_r c_r ((p_r - theta)/(J-1))^2 = sum_r c_r (theta_r - theta)^2. That is our definition,
    # centred on the full-sample estimate. The default conservative=False centres on the mean
    # pseudo-value instead, which is another estimator, so we set the flag.
    # Our certainty-stratum replicates have c_r = 0. samplics would compute 0/0 = nan for them
    # (J - 1 = 0). They add 0 to our sum by definition, so we drop them before calling samplics.
    df = survey
    y, x = df["y"].to_numpy(), df["x"].to_numpy()
    jk = jkn_replicates(design_for(df, case))
    boot = bootstrap_replicates(design_for(df, case), 100, np.random.default_rng(7))
    P, M = samplics.PopParam, samplics.RepMethod
    for design, method in ((jk, M.jackknife), (boot, M.bootstrap)):
        keep = design.replicate_scale > 0
        dropped = df.loc[df["stratum"] == "S3", "psu"].nunique() if case == "fpc+certainty" and method == M.jackknife else 0
        assert (~keep).sum() == dropped
        for ours, param, extra in (
            (total(y, design, "replicate"), P.total, {}),
            (mean(y, design, "replicate"), P.mean, {}),
            (ratio(y, x, design, "replicate"), P.ratio, {"x": x}),
        ):
            est = samplics.ReplicateEstimator(method=method, param=param)
            est.estimate(y=y, samp_weight=df["w"].to_numpy(), rep_weights=design.replicate_weights[:, keep],
                         rep_coefs=design.replicate_scale[keep], conservative=True, **extra)
            assert rel(ours.value, est.point_est) < SAMPLICS_TOL
            assert rel(ours.se, est.stderror) < SAMPLICS_TOL, (method, param)


def test_jkn_weights_match_samplics_replicate_weight(samplics, survey):
    # samplics' ReplicateWeight(jackknife).replicate() returns its rows sorted by stratum. It then
    # multiplies the factors by samp_weight in the *input* order (weighting/replicates.py,
    # ``full_sample[rep_cols].mul(samp_weight.values, axis=0)``), so for unsorted input its
    # weights are misaligned. rep_coefs=True returns the unmultiplied factors. We compare those,
    # per (stratum, PSU). Replicates are matched by the PSU they delete, since the column orders differ.
    df = survey
    design = jkn_replicates(design_for(df, "none"))
    rw = samplics.ReplicateWeight(method=samplics.RepMethod.jackknife, strat=True)
    out = rw.replicate(samp_weight=df["w"].to_numpy(), psu=df["psu"].to_numpy(),
                       stratum=df["stratum"].to_numpy(), rep_coefs=True)
    cols = [c for c in out.columns if c.startswith("_jk_wgt_")]
    theirs = out.groupby(["_stratum", "_psu"])[cols].first()
    factors = pd.DataFrame(design.replicate_weights / df["w"].to_numpy()[:, None])
    factors["_stratum"], factors["_psu"] = df["stratum"].to_numpy(), df["psu"].to_numpy()
    ours = factors.groupby(["_stratum", "_psu"]).first()
    assert list(ours.index) == list(theirs.index)

    def by_deleted_psu(m: np.ndarray) -> np.ndarray:
        deleted = [int(np.flatnonzero(m[:, r] == 0.0)[0]) for r in range(m.shape[1])]
        assert sorted(deleted) == list(range(m.shape[0]))  # each PSU deleted exactly once
        return m[:, np.argsort(deleted)]

    a, b = by_deleted_psu(ours.to_numpy()), by_deleted_psu(theirs.to_numpy())
    assert np.abs(a - b).max() < 1e-12
    # multipliers: samplics (n_h - 1)/n_h per replicate, ours the same without fpc
    deleted_ours = [int(np.flatnonzero(ours.to_numpy()[:, r] == 0.0)[0]) for r in range(len(cols))]
    deleted_theirs = [int(np.flatnonzero(theirs.to_numpy()[:, r] == 0.0)[0]) for r in range(len(cols))]
    scale_ours = np.asarray(design.replicate_scale)[np.argsort(deleted_ours)]
    scale_theirs = np.asarray(rw.rep_coefs, dtype=float)[np.argsort(deleted_theirs)]
    assert np.allclose(scale_ours, scale_theirs, rtol=1e-14, atol=0)


# ============================================================================ replicates vs Taylor
@pytest.mark.parametrize("case", FPC_CASES)
def test_jkn_equals_taylor_for_totals(survey, case):
    # For a linear statistic the deviation theta_(hi) - theta is n_h (zbar_h - z_hi)/(n_h - 1).
    # Times c = (1-f_h)(n_h-1)/n_h this gives (1-f_h) n_h/(n_h-1) (z_hi - zbar_h)^2: the Taylor term.
    df = survey
    design = jkn_replicates(design_for(df, case))
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    for f in (lambda m: total(y, design, m), lambda m: domain(y, d, design, "total", m)):
        rep, tay = f("replicate"), f("taylor")
        assert rep.value == tay.value
        assert rel(rep.variance, tay.variance) < EXACT_TOL


@pytest.mark.parametrize("case", FPC_CASES)
def test_jkn_close_to_but_not_taylor_for_means_and_ratios(survey, case):
    df = survey
    design = jkn_replicates(design_for(df, case))
    y, x, d = df["y"].to_numpy(), df["x"].to_numpy(), df["d"].to_numpy()
    for f in (lambda m: mean(y, design, m), lambda m: ratio(y, x, design, m),
              lambda m: domain(y, d, design, "mean", m)):
        rep, tay = f("replicate"), f("taylor")
        # nonlinear statistics: the same to first order, but not identical
        assert 1e-6 < rel(rep.variance, tay.variance) < 0.05


@pytest.mark.parametrize("case", ["none", "fpc+certainty"])
def test_bootstrap_total_variance_near_taylor(survey, case):
    # Rao-Wu with m_h = n_h - 1: the replicate total minus Y_hat is lambda_h (n_h/m_h) sum_i (m_hi - m_h/n_h) z_hi,
    # with multinomial counts m_hi. Its expected square is exactly (1-f_h) n_h/(n_h-1) sum_i (z_hi - zbar_h)^2,
    # the Taylor variance. So v_boot = mean of R such squares is unbiased for it. The Monte Carlo
    # standard error comes from the replicates themselves (about 3% of v at R = 2000).
    df = survey
    base = design_for(df, case)
    design = bootstrap_replicates(base, 2000, np.random.default_rng(20240611))
    y = df["y"].to_numpy()
    rep, tay = total(y, design, "replicate"), total(y, base)
    assert rep.method == "bootstrap"
    squares = (design.replicate_weights.T @ y - rep.value) ** 2
    mc_se = squares.std(ddof=1) / math.sqrt(squares.size)
    assert abs(rep.variance - tay.variance) < 4.0 * mc_se
    assert rel(rep.variance, tay.variance) < 0.15
    if case == "fpc+certainty":  # the certainty stratum's factors stay at 1 in every replicate
        s3 = df["stratum"].to_numpy() == "S3"
        assert np.array_equal(design.replicate_weights[s3], np.repeat(base.weights[s3, None], 2000, axis=1))


# ============================================================================ domains
def test_domain_mean_is_ratio_of_domain_totals(survey):
    df = survey
    design = design_for(df, "fpc")
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    dm = domain(y, d, design, "mean")
    ty = domain(y, d, design, "total")
    tn = domain(np.ones_like(y), d, design, "total")
    assert rel(dm.value, ty.value / tn.value) < 1e-14
    r = ratio(y * d, d.astype(float), design)
    assert (dm.value, dm.variance) == pytest.approx((r.value, r.variance), rel=1e-14)
    assert dm.df == design_df(design) == 29  # all PSUs and strata, not only those with domain members


def test_domain_keeps_psus_without_members():
    # One stratum, 4 PSUs (SRS of clusters, with replacement), w = 1. Domain totals per PSU are 6 0 2 4.
    #   Whole design: mean 3, squares 9+9+1+1 = 20, v = 4/3 * 20 = 80/3.
    #   Subset to the domain first: PSU 2 disappears. Then the mean is 4, squares 4+4+0 = 8, v = 3/2 * 8 = 12.
    #   That is wrong: the empty PSU is a real draw with total 0, and dropping it also makes n = 3.
    y = [6.0, 1.0, 2.0, 3.0, 1.0]
    psu = [1, 2, 3, 4, 4]
    in_d = np.array([True, False, True, True, True])
    design = SurveyDesign([1.0] * 5, [0] * 5, psu)
    right = domain(y, in_d, design, "total")
    assert right.value == pytest.approx(12.0) and right.variance == pytest.approx(80.0 / 3.0, rel=1e-12)
    subset = SurveyDesign([1.0] * 4, [0] * 4, np.array(psu)[in_d])
    wrong = total(np.array(y)[in_d], subset)
    assert wrong.value == pytest.approx(12.0) and wrong.variance == pytest.approx(12.0, rel=1e-12)


def test_domain_subsetting_changes_the_variance(survey):
    df = survey
    design = design_for(df, "none")
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    sub = df[d]
    subset = design_for(sub, "none")
    assert subset.n_psus < design.n_psus  # PSUs without domain members are gone
    for stat, f in (("total", total), ("mean", mean)):
        right, wrong = domain(y, d, design, stat), f(sub["y"].to_numpy(), subset)
        assert rel(wrong.value, right.value) < 1e-12  # same point estimate
        assert rel(wrong.variance, right.variance) > 0.01, stat  # different variance


# ============================================================================ errors and intervals
def test_lonely_psu_stratum_raises_naming_it():
    with pytest.raises(ValueError, match=r"single sampled PSU.*county-07"):
        SurveyDesign([1.0] * 5, ["county-03"] * 3 + ["county-07"] * 2, [1, 2, 3, 9, 9])
    # with an fpc that does not make it a certainty PSU, it is still an error
    with pytest.raises(ValueError, match="county-07"):
        SurveyDesign([1.0] * 5, ["county-03"] * 3 + ["county-07"] * 2, [1, 2, 3, 9, 9], fpc=[5, 5, 5, 4, 4])


def test_certainty_single_psu_contributes_no_variance():
    # Stratum "cert" has its only PSU taken with certainty (N_h = n_h = 1). It adds to the total but not the variance.
    design = example_a(True)
    with_cert = SurveyDesign(A_W + [1.0, 1.0], A_STRATA + ["cert", "cert"], A_PSU + [1, 1], fpc=A_FPC + [1.0, 1.0])
    t = total(A_Y + [100.0, 50.0], with_cert)
    assert t.value == pytest.approx(605.0 + 150.0) and t.variance == pytest.approx(10720.0, rel=1e-12)
    assert total(A_Y + [100.0, 50.0], jkn_replicates(with_cert), "replicate").variance == pytest.approx(10720.0, rel=1e-12)
    assert design_df(with_cert) == design_df(design) == 6  # 9 PSUs - 3 strata


def test_fpc_errors():
    with pytest.raises(ValueError, match="smaller than the number of sampled PSUs"):
        SurveyDesign(A_W, A_STRATA, A_PSU, fpc=[25.0] * 5 + [2.0] * 3)  # rural has 3 PSUs, N_h = 2
    with pytest.raises(ValueError, match="constant within each stratum"):
        SurveyDesign(A_W, A_STRATA, A_PSU, fpc=[25.0] * 4 + [26.0] + [30.0] * 3)
    with pytest.raises(ValueError, match="needs a design with replicate weights"):
        total(A_Y, example_a(True), "replicate")


def test_ci_uses_t_with_design_degrees_of_freedom(survey):
    # Example A: df = 8 PSUs - 2 strata = 6. The table value is t_{0.975, 6} = 2.446912 and t_{0.95, 6} = 1.943180.
    t = total(A_Y, example_a(True))
    lo, hi = t.ci()
    assert (hi - lo) / (2 * t.se) == pytest.approx(2.446912, rel=1e-6)
    assert (lo + hi) / 2 == pytest.approx(605.0, rel=1e-14)
    lo, hi = t.ci(0.90)
    assert (hi - lo) / (2 * t.se) == pytest.approx(1.943180, rel=1e-6)
    # the random survey: df = 37 - 8 = 29, against scipy
    m = mean(survey["y"].to_numpy(), design_for(survey, "fpc"))
    assert m.df == 29
    lo, hi = m.ci(0.95)
    q = stats.t.ppf(0.975, 29)
    assert (lo, hi) == pytest.approx((m.value - q * m.se, m.value + q * m.se), rel=1e-14)
    assert m.cv == pytest.approx(m.se / m.value)
    with pytest.raises(ValueError):
        m.ci(1.0)


# ============================================================================ design effects
@pytest.mark.parametrize("with_fpc", [True, False])
def test_deff_is_one_under_srs(with_fpc):
    # SRS of n = 40 out of N = 1000. One stratum, each unit its own PSU, w = N/n = 25, so N_hat = N.
    # Design (Taylor) variance of the mean: z_i = w (y_i - ybar)/N_hat = (y_i - ybar)/n, so
    #   v = (1 - n/N) * n/(n-1) * sum (y_i - ybar)^2 / n^2 = (1 - n/N) s_y^2 / n.
    # SRS reference (Kish): s_u^2 = n/(n-1) * weighted variance of u. With equal weights and
    #   u = (y - ybar)/N that is s_y^2/N^2, so v_srs = N^2 (1 - n/N_hat) s_y^2/(N^2 n) = (1 - n/N) s_y^2 / n.
    # The n/(n-1) conventions agree (Taylor's n_h/(n_h-1) equals s^2's), and so do the fpcs, because
    # N_h (PSUs) = N_hat (units). So deff = 1 exactly, not (n-1)/n. The same holds for totals and ratios.
    rng = np.random.default_rng(5)
    n = 40
    y, x = rng.gamma(2.0, 10.0, n), rng.uniform(1.0, 3.0, n)
    design = SurveyDesign(np.full(n, 25.0), np.zeros(n), np.arange(n), fpc=np.full(n, 1000.0) if with_fpc else None)
    for est in (mean(y, design), total(y, design), ratio(y, x, design)):
        assert est.deff == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("with_fpc", [True, False])
def test_deff_of_a_cluster_sample_by_hand(with_fpc):
    # Example B, design effect 设计效应 of the mean. Its 12 units y have mean 5.
    #   Squares about 5: 4,0,1,1,9,16,9,4,1,1,4,16, sum 66, s_y^2 = 66/11 = 6.
    #   v_srs = s_y^2 / n * (1 - n/N_hat) = 6/12 * (1 - 12/30) = 0.3      (without fpc: 0.5)
    #   v = 0.7 (without fpc: 7/6), so deff = 0.7/0.3 = (7/6)/0.5 = 7/3.
    # Total: v_srs = N_hat^2 s_y^2 / n = 900*6/12 = 450 (times 0.6 with fpc).
    #   deff = (2900/3)/450 = 58/27.
    design = example_b(with_fpc)
    assert mean(B_Y, design).deff == pytest.approx(7.0 / 3.0, rel=1e-12)
    assert total(B_Y, design).deff == pytest.approx(58.0 / 27.0, rel=1e-12)
