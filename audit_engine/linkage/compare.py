"""Comparison: each pair becomes a vector of agreement levels, one per comparison.

A :class:`ComparisonSpec` names a comparator from
:data:`~audit_engine.linkage.comparators.COMPARATORS`, the column(s) it reads on each side and
its parameters. :class:`Comparer` prepares the specs' columns once for two tables and turns any
pair index (the candidates, then random pairs for u) into a :class:`ComparisonMatrix`.

Term-frequency adjustment (``tf=True``): for pairs at the top (exact) level the matrix also
carries the agreed value's relative frequency in both tables together; the model uses it in
place of the u-probability, so agreeing on a common surname weighs less than on a rare one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit_engine.linkage.comparators import COMPARATORS, register

__all__ = ["COMPARATORS", "Comparer", "ComparisonMatrix", "ComparisonSpec", "compare_pairs", "prepared", "register"]


@dataclass(frozen=True)
class ComparisonSpec:
    """One comparison: ``comparator`` applied to ``left`` column(s) against ``right`` column(s).

    Several columns (``("given_name", "surname")``) reach the comparator as an ``(n, k)`` array.
    ``tf=True`` asks for the term-frequency adjustment of the top level (one column only).
    """

    name: str
    comparator: str
    left: str | tuple[str, ...]
    right: str | tuple[str, ...] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    tf: bool = False

    def __post_init__(self) -> None:
        if self.comparator not in COMPARATORS:
            raise ValueError(f"comparison {self.name!r}: unknown comparator {self.comparator!r} "
                             f"(known: {', '.join(sorted(COMPARATORS))})")
        if self.tf and not isinstance(self.left, str):
            raise ValueError(f"comparison {self.name!r}: tf adjustment needs a single column")

    @property
    def labels(self) -> tuple[str, ...]:
        return COMPARATORS[self.comparator].labels(**self.params)

    @property
    def n_levels(self) -> int:
        return len(self.labels)

    def columns(self, side: str) -> tuple[str, ...]:
        cols = self.left if side == "left" or self.right is None else self.right
        return (cols,) if isinstance(cols, str) else tuple(cols)


@dataclass(frozen=True)
class ComparisonMatrix:
    """The comparison vectors of a set of pairs.

    ``levels[p, k]`` is pair ``p``'s level on comparison ``k`` (-1 null). ``tf[name][p]`` is the
    relative frequency of the value pair ``p`` agrees on exactly, NaN where it is not at the top
    level (only for specs with ``tf=True``).
    """

    names: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    levels: np.ndarray
    tf: dict[str, np.ndarray]

    @property
    def n_levels(self) -> tuple[int, ...]:
        return tuple(len(lab) for lab in self.labels)

    def __len__(self) -> int:
        return len(self.levels)


@dataclass(frozen=True)
class _Side:
    """One table's side of a comparison, prepared once per record."""

    values: np.ndarray    # what the comparator reads (prepared)
    codes: np.ndarray     # per record, a code of its raw value(s); missing is a value too
    first: np.ndarray     # per code, the first record that has it
    tf: np.ndarray | None  # per record, its value's relative frequency (tf specs)

    @property
    def n_codes(self) -> int:
        return len(self.first)


def _value_codes(frame: pd.DataFrame, cols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the records' raw values in ``cols`` (jointly), and each code's first record."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for c in cols:
        col, uniq = pd.factorize(frame[c], use_na_sentinel=False)
        codes, _ = pd.factorize(codes * (len(uniq) + 1) + col)
    first = np.empty(int(codes.max()) + 1 if len(codes) else 0, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # the last write is the first occurrence
    return codes.astype(np.int64), first


def prepared(spec: ComparisonSpec, frame: pd.DataFrame, side: str = "left") -> np.ndarray:
    """What the comparator of ``spec`` reads for each record of ``frame`` (its ``prepare`` step);
    for a ``tf`` spec, the values whose relative frequencies weigh an exact agreement."""
    comp = COMPARATORS[spec.comparator]
    cols = [comp.prepare(frame[c].to_numpy(), **spec.params) for c in spec.columns(side)]
    return cols[0] if len(cols) == 1 else np.stack(cols, axis=1)


def _prepare(spec: ComparisonSpec, left: pd.DataFrame, right: pd.DataFrame,
             given: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[_Side, _Side]:
    values = [prepared(spec, left, "left"), prepared(spec, right, "right")]
    tf_l = tf_r = None
    if spec.tf and given is not None:
        tf_l, tf_r = (np.asarray(x, dtype=float) for x in given)
        if len(tf_l) != len(left) or len(tf_r) != len(right):
            raise ValueError(f"comparison {spec.name!r}: frequencies given for {len(tf_l)} and {len(tf_r)} "
                             f"records, the tables have {len(left)} and {len(right)}")
    elif spec.tf:
        tf_l, tf_r = _frequencies(values[0], values[1] if right is not left else None)
    sides = []
    for side, frame, vals, tf in (("left", left, values[0], tf_l), ("right", right, values[1], tf_r)):
        codes, first = _value_codes(frame, spec.columns(side))
        sides.append(_Side(vals, codes, first, tf))
    return sides[0], sides[1]


def _frequencies(left: np.ndarray, right: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each record's value's share among the non-missing values of both tables together."""
    both = left if right is None else np.concatenate([left, right])
    codes, _ = pd.factorize(pd.Series(both, dtype=object), use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0]).astype(float)
    share = np.where(codes >= 0, counts[np.maximum(codes, 0)] / max(counts.sum(), 1.0), np.nan)
    if right is None:
        return share, share
    return share[: len(left)], share[len(left):]


#: from this many pairs on, a comparison whose distinct value pairs are few is computed once
#: per distinct value pair (random pairs for u, or big blocks of low-cardinality fields)
DISTINCT_MIN_PAIRS = 50_000
#: ... as long as the table of all value pairs stays small (int32 ranks: 64 MB)
DISTINCT_MAX_TABLE = 16_000_000


class Comparer:
    """Specs prepared once for two tables; :meth:`__call__` compares any pair index.

    Candidate pairs and random pairs (for u) are compared with the same prepared columns. When
    many pairs share few distinct value pairs (``n_left_values * n_right_values <= 8 * pairs``),
    the comparator runs on the distinct value pairs only and the levels are spread back: the
    result is the same, the string distances are not recomputed a hundred times.
    """

    def __init__(self, specs: Sequence[ComparisonSpec], left: pd.DataFrame, right: pd.DataFrame | None = None,
                 *, frequencies: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None):
        """``frequencies``: per ``tf`` comparison's name, each record's relative frequency on the
        left and on the right, when they come from a larger population than these two frames (a
        whole census compared batch by batch on Spark, :func:`_frequencies` over all of it);
        missing names are computed from the frames as usual."""
        if len({s.name for s in specs}) != len(specs):
            raise ValueError("comparison names must be unique")
        self.specs = tuple(specs)
        right = left if right is None else right
        given = dict(frequencies or {})
        self._sides = [_prepare(s, left, right, given.get(s.name)) for s in self.specs]

    def _levels(self, spec: ComparisonSpec, left: _Side, right: _Side,
                left_idx: np.ndarray, right_idx: np.ndarray) -> np.ndarray:
        fn = COMPARATORS[spec.comparator].fn
        n = len(left_idx)
        size = left.n_codes * right.n_codes
        if n >= DISTINCT_MIN_PAIRS and size <= min(8 * n, DISTINCT_MAX_TABLE):
            # value pairs coded densely: a presence table beats hashing a million keys
            key = left.codes[left_idx] * right.n_codes + right.codes[right_idx]
            seen = np.zeros(size, dtype=bool)
            seen[key] = True
            distinct = np.flatnonzero(seen)
            if len(distinct) < n // 2:
                inverse = (np.cumsum(seen, dtype=np.int32) - 1)[key]
                li, ri = left.first[distinct // right.n_codes], right.first[distinct % right.n_codes]
                return fn(left.values[li], right.values[ri], **spec.params)[inverse]
        return fn(left.values[left_idx], right.values[right_idx], **spec.params)

    def __call__(self, left_idx: np.ndarray, right_idx: np.ndarray) -> ComparisonMatrix:
        left_idx, right_idx = np.asarray(left_idx, dtype=np.int64), np.asarray(right_idx, dtype=np.int64)
        levels = np.empty((len(left_idx), len(self.specs)), dtype=np.int8)
        tf: dict[str, np.ndarray] = {}
        for k, (spec, (left, right)) in enumerate(zip(self.specs, self._sides, strict=True)):
            lev = self._levels(spec, left, right, left_idx, right_idx)
            levels[:, k] = lev
            if spec.tf:
                top = lev == spec.n_levels - 1
                tf[spec.name] = np.where(top, np.fmax(left.tf[left_idx], right.tf[right_idx]), np.nan)
        return ComparisonMatrix(tuple(s.name for s in self.specs), tuple(s.labels for s in self.specs), levels, tf)


def compare_pairs(specs: Sequence[ComparisonSpec], left: pd.DataFrame, right: pd.DataFrame | None,
            left_idx: np.ndarray, right_idx: np.ndarray) -> ComparisonMatrix:
    """The level matrix of the pairs ``(left_idx[p], right_idx[p])`` (positions; ``right=None``: dedup)."""
    return Comparer(specs, left, right)(left_idx, right_idx)
