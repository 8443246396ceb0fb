"""Thresholds from target error rates, estimated by the model itself (no labels).

If the posteriors ``p_i`` are calibrated, accepting the pairs with ``p >= t`` gives

    expected false matches     FM(t)  = Σ_{p_i >= t} (1 - p_i)
    expected missed matches    FNM(t) = Σ_{p_i <  t} p_i
    est. false-match rate      FMR(t)  = FM(t) / #accepted          (share of links that are wrong)
    est. false-non-match rate  FNMR(t) = FNM(t) / E[#matches],  E[#matches] = Σ_i p_i

FMR is the share of *accepted links* that are false (the quantity a PES match rate is biased
by); FNMR the share of *true matches* not linked. Pass ``expected_matches`` when the pairs
scored are not all the pairs that could hold a match. Both are only as good as the model's
calibration: the independence assumption makes posteriors too extreme, so they are reported
as the model's estimates, never as measured rates; matches that blocking never proposed are
outside both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Threshold", "choose_threshold", "error_curve"]


@dataclass(frozen=True)
class Threshold:
    """Accept pairs with ``posterior >= posterior_min``; the model's error estimates there."""

    posterior_min: float
    n_accepted: int
    est_fmr: float
    est_fnmr: float
    expected_matches: float
    target_fmr: float | None
    target_fnmr: float | None
    targets_met: bool

    @property
    def weight_min(self) -> float:
        """The same threshold as a match weight (log2 odds)."""
        p = min(max(self.posterior_min, 1e-300), 1 - 1e-16)
        return float(np.log2(p) - np.log2(1 - p))


def _curve(p: np.ndarray, expected_matches: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Sorted posteriors (desc) and FMR/FNMR if the top ``k+1`` are accepted."""
    ps = np.sort(np.asarray(p, dtype=float))[::-1]
    total = float(ps.sum()) if expected_matches is None else float(expected_matches)
    n_acc = np.arange(1, len(ps) + 1)
    fmr = np.cumsum(1 - ps) / n_acc
    fnmr = 1 - np.cumsum(ps) / total if total > 0 else np.zeros(len(ps))
    return ps, fmr, np.maximum(fnmr, 0.0), total


def error_curve(p: np.ndarray, expected_matches: float | None = None) -> pd.DataFrame:
    """One row per distinct posterior ``t`` (descending): accepted pairs, est. FMR and FNMR at ``p >= t``."""
    ps, fmr, fnmr, _ = _curve(p, expected_matches)
    last = np.r_[ps[1:] != ps[:-1], True]  # accept all ties of a value together
    return pd.DataFrame({"posterior_min": ps[last], "accepted": np.flatnonzero(last) + 1,
                         "est_fmr": fmr[last], "est_fnmr": fnmr[last]})


def choose_threshold(p: np.ndarray, target_fmr: float | None = 0.001, target_fnmr: float | None = None,
                     expected_matches: float | None = None) -> Threshold:
    """The threshold for the targets, by the model's own estimates.

    * ``target_fmr`` only: the lowest threshold whose est. FMR is within target (most links
      at that precision);
    * ``target_fnmr`` only: the highest threshold whose est. FNMR is within target (fewest false
      links at that recall);
    * both: the FMR rule, and ``targets_met`` says whether est. FNMR is also within target —
      false links are the costlier error in a PES (they hide omissions), so FMR binds.

    Est. FMR grows and est. FNMR falls as the threshold is lowered, so each rule is a search
    on cumulative sums. Ties are accepted or rejected together.
    """
    if target_fmr is None and target_fnmr is None:
        raise ValueError("give target_fmr, target_fnmr or both")
    ps, fmr, fnmr, total = _curve(p, expected_matches)
    if len(ps) == 0:
        return Threshold(1.0, 0, 0.0, 0.0 if total == 0 else 1.0, total, target_fmr, target_fnmr, total == 0)
    last = np.r_[ps[1:] != ps[:-1], True]
    ends = np.flatnonzero(last)  # accepting ps[: e + 1]
    if target_fmr is not None:
        ok = ends[fmr[ends] <= target_fmr]
        k = int(ok[-1]) if len(ok) else -1
    else:
        ok = ends[fnmr[ends] <= target_fnmr]
        k = int(ok[0]) if len(ok) else int(ends[-1])
    if k < 0:  # even the best pair alone is over the FMR target: accept nothing, and say so
        return Threshold(float(np.nextafter(ps[0], np.inf)), 0, 0.0, 1.0, total, target_fmr, target_fnmr, False)
    met = ((target_fmr is None or fmr[k] <= target_fmr) and (target_fnmr is None or fnmr[k] <= target_fnmr))
    return Threshold(float(ps[k]), k + 1, float(fmr[k]), float(fnmr[k]), total, target_fmr, target_fnmr, bool(met))
