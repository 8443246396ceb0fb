"""What a link run keeps of a :class:`~audit_engine.linkage.LinkResult`: the two-threshold
bands, a model refined from reviewed pairs, and the model's summary for the run record.

Fellegi–Sunter's two thresholds: pairs at or above the upper one (chosen for the target
false-match rate) are matches; pairs between the lower one (chosen for the target
false-non-match rate) and the upper one are *possible matches* for clerical review; the rest
are non-matches. Both are the model's own error estimates (:mod:`audit_engine.linkage.thresholds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit_engine.linkage import (
    LinkResult,
    LinkSettings,
    Model,
    choose_threshold,
    level_weights,
    match_weights,
    posterior,
    train_from_labels,
)
from audit_engine.linkage.pipeline import assign
from audit_engine.linkage.thresholds import Threshold


@dataclass(frozen=True)
class Bands:
    """Per candidate pair: ``match`` / ``possible`` masks, and the two thresholds."""

    weights: np.ndarray
    posteriors: np.ndarray
    match: np.ndarray
    possible: np.ndarray
    upper: Threshold
    lower: Threshold
    model: Model


def bands(result: LinkResult, settings: LinkSettings, target_fnmr: float | None,
          model: Model | None = None, review_posterior: float = 0.5) -> Bands:
    """Matches and possible matches of ``result`` (re-scored with ``model`` when given, e.g. a
    model refined from reviewed pairs). With ``target_fnmr`` None there is no possible band.

    The lower threshold is the FNMR rule's, but never above ``review_posterior``: the FNMR rule
    picks the *highest* cut meeting its target, which for a well-separated model is the upper
    cut itself (no band at all), while a pair the one-to-one step kept at posterior 0.9 is
    exactly what a clerk should look at."""
    model = model or result.model
    if model is result.model:
        w, post = result.weights, result.posteriors
    else:
        w = match_weights(model, result.comparisons)
        post = posterior(w)
    keep, expected = assign(result.candidates, w, model, settings)
    upper = choose_threshold(post[keep], settings.target_fmr, None, expected_matches=expected)
    match = keep & (post >= upper.posterior_min)
    if target_fnmr is None:
        lower = upper
        possible = np.zeros_like(match)
    else:
        lower = choose_threshold(post[keep], None, target_fnmr, expected_matches=expected)
        cut = min(lower.posterior_min, upper.posterior_min, review_posterior)
        lower = _at(post[keep], cut, expected, target_fnmr)
        possible = keep & ~match & (post >= cut)
    return Bands(w, post, match, possible, upper, lower, model)


def _at(p: np.ndarray, cut: float, expected: float, target_fnmr: float) -> Threshold:
    """The model's error estimates when pairs with posterior ≥ ``cut`` are accepted."""
    acc = p[p >= cut]
    fnmr = max(0.0, 1.0 - float(acc.sum()) / expected) if expected > 0 else 0.0
    fmr = float((1.0 - acc).sum() / len(acc)) if len(acc) else 0.0
    return Threshold(float(cut), int(len(acc)), fmr, fnmr, float(expected), None, target_fnmr, fnmr <= target_fnmr)


def refine(result: LinkResult, left_keys: np.ndarray, right_keys: np.ndarray,
           reviewed: pd.DataFrame) -> tuple[Model, int]:
    """The model with m and u refined from reviewed pairs (``reviewed``: left_key, right_key,
    is_match) found among this run's candidates; returns it and how many pairs were used."""
    if reviewed.empty:
        return result.model, 0
    cand = result.candidates
    pairs = pd.DataFrame({"left_key": left_keys[cand.left], "right_key": right_keys[cand.right],
                          "pos": np.arange(len(cand))})
    hit = pairs.merge(reviewed, on=["left_key", "right_key"], how="inner")
    if hit.empty:
        return result.model, 0
    model = train_from_labels(result.model, result.comparisons.levels[hit["pos"].to_numpy()],
                              hit["is_match"].to_numpy(bool))
    return model, len(hit)


#: bins of the match-weight histogram in a run record
HIST_BINS = 40


def weight_histogram(weights: np.ndarray, bins: int = HIST_BINS) -> dict:
    """``np.histogram`` of the finite match weights, as the run record keeps it."""
    w = weights[np.isfinite(weights)]
    counts, edges = np.histogram(w, bins=bins) if len(w) else (np.zeros(0), np.zeros(1))
    return {"edges": [float(x) for x in edges], "counts": [int(x) for x in counts]}


def summarise_model(model: Model, labels: Sequence[Sequence[str]], upper: Threshold, lower: Threshold, *,
                    blocking: list[dict], candidates: int, histogram: dict, seconds: dict[str, float]) -> dict:
    """The model as the run record keeps it (and the linkage report charts): per comparison
    and level m, u and the weight; λ; both thresholds with their estimated error rates;
    blocking counts per rule; the candidate pairs' match-weight histogram; seconds. From its
    parts, so that a backend whose pairs never sit in one process (Spark) records the same."""
    lw = level_weights(model)
    comps = []
    for k, name in enumerate(model.names):
        comps.append({"name": name, "levels": [
            {"level": i, "label": labels[k][i], "m": float(model.m[k][i]), "u": float(model.u[k][i]),
             "weight": float(lw[k][i])} for i in range(len(labels[k]))]})

    def thr(t: Threshold) -> dict:
        return {"posterior_min": t.posterior_min, "weight_min": t.weight_min, "accepted": t.n_accepted,
                "est_fmr": t.est_fmr, "est_fnmr": t.est_fnmr, "target_fmr": t.target_fmr,
                "target_fnmr": t.target_fnmr, "targets_met": t.targets_met}

    return {
        "prior": model.prior, "em_iterations": model.iterations, "em_converged": model.converged,
        "comparisons": comps, "upper": thr(upper), "lower": thr(lower), "blocking": blocking,
        "candidates": candidates, "weight_histogram": histogram,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def model_summary(result: LinkResult, b: Bands, hist_bins: int = HIST_BINS) -> dict:
    """:func:`summarise_model` of a local run: its candidates, comparisons and timings."""
    return summarise_model(b.model, result.comparisons.labels, b.upper, b.lower,
                           blocking=result.candidates.counts.to_dict("records"), candidates=len(result.candidates),
                           histogram=weight_histogram(b.weights, hist_bins), seconds=result.seconds)


def levels_json(result: LinkResult, positions: np.ndarray) -> list[str]:
    """Per pair, its comparison levels as compact JSON ``{"name": level, ...}`` (-1 = missing)."""
    names = result.comparisons.names
    lv = result.comparisons.levels[positions]
    return ["{" + ",".join(f'"{n}":{int(v)}' for n, v in zip(names, row, strict=True)) + "}" for row in lv]
