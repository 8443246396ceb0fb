"""Precision, recall and F1 of predicted links against known true pairs (synthetic data, FEBRL)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scores", "score_pairs"]


@dataclass(frozen=True)
class Scores:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        n = self.true_positives + self.false_positives
        return self.true_positives / n if n else 1.0

    @property
    def recall(self) -> float:
        n = self.true_positives + self.false_negatives
        return self.true_positives / n if n else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (f"F1 {self.f1:.4f} (precision {self.precision:.4f}, recall {self.recall:.4f}; "
                f"TP {self.true_positives:,}, FP {self.false_positives:,}, FN {self.false_negatives:,})")


def score_pairs(pred_left: np.ndarray, pred_right: np.ndarray, true_left: np.ndarray, true_right: np.ndarray,
                dedup: bool = False) -> Scores:
    """Compare two pair sets given as parallel position arrays (duplicates count once).

    ``dedup=True`` treats (i, j) and (j, i) as the same pair.
    """
    def codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if dedup:
            a, b = np.minimum(a, b), np.maximum(a, b)
        # pairs as two int64 columns viewed as one structured key: no overflow whatever the sizes
        return np.unique(np.stack([a, b], axis=1).view([("a", np.int64), ("b", np.int64)]).reshape(-1))

    pred, true = codes(pred_left, pred_right), codes(true_left, true_right)
    tp = len(np.intersect1d(pred, true, assume_unique=True))
    return Scores(tp, len(pred) - tp, len(true) - tp)
