"""Record linkage: which PES person is which census person, and which census records are duplicates.

Fellegi–Sunter probabilistic linkage in stages, each a module with one job (docs/linkage.md):

* :mod:`~audit_engine.linkage.blocking` — candidate pairs: the union of equality rules, sort-based
  joins on integer-coded keys, per-rule counts; random record pairs for u.
* :mod:`~audit_engine.linkage.comparators` — a registry of small vectorised comparators (exact,
  Jaro–Winkler, (Damerau–)Levenshtein, numeric, date, swapped columns) giving ``int8``
  agreement levels (-1 = missing);
* :mod:`~audit_engine.linkage.compare` — comparison specs → the pairs' level matrix, plus term
  frequencies for tf adjustment.
* :mod:`~audit_engine.linkage.fellegi_sunter` — the model (m, u per level, prior λ), EM on
  distinct comparison patterns, match weights, posteriors, refinement from reviewed pairs.
* :mod:`~audit_engine.linkage.assign` — optimal one-to-one assignment.
* :mod:`~audit_engine.linkage.thresholds` — the cut from target false-match / false-non-match
  rates, as the model itself estimates them.
* :mod:`~audit_engine.linkage.evaluate` — precision / recall / F1 against known truth.
* :mod:`~audit_engine.linkage.pipeline` — :func:`link` / :func:`dedupe`: all of the above, driven
  by one :class:`LinkSettings`; :mod:`~audit_engine.linkage.febrl` — the FEBRL4 proof's settings.

Everything works on positions into pandas frames and on numpy arrays; nothing here touches the
store: reading persons and writing links is the CLI's business.
"""

from audit_engine.linkage.assign import one_to_one
from audit_engine.linkage.blocking import BlockingRule, Candidates, block, random_pairs, rule
from audit_engine.linkage.compare import (
    COMPARATORS,
    Comparer,
    ComparisonMatrix,
    ComparisonSpec,
    compare_pairs,
    register,
)
from audit_engine.linkage.evaluate import Scores, score_pairs
from audit_engine.linkage.fellegi_sunter import (
    Model,
    em,
    estimate_u,
    initial_model,
    level_weights,
    match_weights,
    posterior,
    train_from_labels,
)
from audit_engine.linkage.pipeline import LinkResult, LinkSettings, dedupe, link
from audit_engine.linkage.thresholds import Threshold, choose_threshold, error_curve

__all__ = [
    "COMPARATORS", "BlockingRule", "Candidates", "Comparer", "ComparisonMatrix", "ComparisonSpec", "LinkResult",
    "LinkSettings", "Model", "Scores", "Threshold", "block", "choose_threshold", "compare_pairs", "dedupe", "em",
    "error_curve", "estimate_u", "initial_model", "level_weights", "link", "match_weights", "one_to_one",
    "posterior", "random_pairs", "register", "rule", "score_pairs", "train_from_labels",
]
