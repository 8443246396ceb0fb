"""Blocking: which record pairs are compared at all.

Comparing every PES person with every census person is ``n_left * n_right`` pairs; blocking keeps
only pairs that agree exactly on at least one key (same EA and household, same ID number, same
name and birth year, ...). Each :class:`BlockingRule` is an equality join; the candidate set is
the union of the rules, so a true pair that one rule misses (a typo in the ID number) is caught
by another (same name and birth date).

The joins are sort-based on integer-coded keys: every key column is factorised jointly over
both tables, the columns of a rule are folded into one ``int64`` key, one side is sorted and
each record of the other side finds its block with ``searchsorted``; the pairs of a block are
expanded with ``repeat``/``arange``. No Python loop runs per record or per block, so the cost is
``O(n log n + pairs)``. Pairs are coded ``left * n_right + right`` for the union and the
"new to the union" counts. For deduplication within one table only pairs ``i < j`` exist.

Keys are compared as they are: normalise values (case, blanks, derived keys such as a birth
year or a surname's pinyin) into columns before blocking. A missing value never agrees, so a
record with a null key simply takes no part in that rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BlockingRule", "Candidates", "block", "random_pairs", "rule"]

#: a rule producing more pairs than this is almost surely a mistake (e.g. blocking on sex);
#: raised before the pairs are materialised, naming the rule
DEFAULT_MAX_PAIRS_PER_RULE = 100_000_000


@dataclass(frozen=True)
class BlockingRule:
    """Pairs whose ``on`` columns (left) equal the ``right_on`` columns (right), none null.

    ``right_on`` defaults to ``on``; a different order expresses cross rules such as
    "given name = other's surname and surname = other's given name" (swapped names).
    """

    on: tuple[str, ...]
    right_on: tuple[str, ...] | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.right_on is None or tuple(self.right_on) == tuple(self.on):
            return "+".join(self.on)
        return "+".join(f"{a}={b}" for a, b in zip(self.on, self.right_on, strict=True))

    @property
    def right_columns(self) -> tuple[str, ...]:
        return tuple(self.on if self.right_on is None else self.right_on)


def rule(*on: str, right_on: Sequence[str] | None = None, name: str | None = None) -> BlockingRule:
    """Shorthand: ``rule("surname", "birth_year")``."""
    if not on:
        raise ValueError("a blocking rule needs at least one column")
    if right_on is not None and len(right_on) != len(on):
        raise ValueError(f"rule {on}: right_on has {len(right_on)} columns, on has {len(on)}")
    return BlockingRule(tuple(on), None if right_on is None else tuple(right_on), name)


@dataclass(frozen=True)
class Candidates:
    """The candidate pair index: positions (not labels) into the left and right tables.

    ``left``/``right`` are ``int64``, deduplicated and sorted by (left, right); for a dedup
    (``right`` table is the left one) every pair has ``left < right``. ``counts`` has one row per
    rule: ``pairs`` it found and ``new`` pairs it added to the union of the rules before it.
    """

    left: np.ndarray
    right: np.ndarray
    counts: pd.DataFrame
    n_left: int
    n_right: int
    dedup: bool

    def __len__(self) -> int:
        return len(self.left)

    @property
    def n_possible(self) -> int:
        """All pairs there are: the population the prior probability of a match refers to."""
        if self.dedup:
            return self.n_left * (self.n_left - 1) // 2
        return self.n_left * self.n_right


def _codes(left: pd.Series, right: pd.Series | None) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Joint integer codes of one key column over both tables (-1 = null)."""
    if right is None:
        codes, uniques = pd.factorize(left, use_na_sentinel=True)
        return codes.astype(np.int64), None, len(uniques)
    # factorise both sides together so that equal values get equal codes
    both = pd.concat([left.reset_index(drop=True), right.reset_index(drop=True)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    return codes[: len(left)], codes[len(left):], len(uniques)


def _fold(key: np.ndarray, codes: np.ndarray, n_values: int) -> np.ndarray:
    """Fold one more column's codes into a running key; nulls stay -1."""
    null = (key < 0) | (codes < 0)
    out = key * (n_values + 1) + codes  # < n_rows * (n_values + 1): no overflow below ~3e9 rows
    out[null] = -1
    return out


def _rule_keys(rule_: BlockingRule, left: pd.DataFrame, right: pd.DataFrame | None,
               cache: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """One int64 key per record for ``rule_`` (-1 where any key column is null).

    ``cache`` keeps each column pair's codes for the next rules that use it.
    """
    kl = np.zeros(len(left), dtype=np.int64)
    kr = None if right is None else np.zeros(len(right), dtype=np.int64)
    for col_l, col_r in zip(rule_.on, rule_.right_columns, strict=True):
        if cache is not None and (col_l, col_r) in cache:
            cl, cr, n = cache[(col_l, col_r)]
        else:
            cl, cr, n = _codes(left[col_l], None if right is None else right[col_r])
            if cache is not None:
                cache[(col_l, col_r)] = (cl, cr, n)
        kl = _fold(kl, cl, n)
        if kr is not None:
            kr = _fold(kr, cr, n)
        # re-code the running key densely so the next fold cannot overflow
        if kr is None:
            kl = _dense(kl)
        else:
            kl, kr = _dense(kl, kr)
    return kl, kr


def _dense(*keys: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
    """Re-code keys to 0..k-1 jointly (nulls stay -1)."""
    allk = np.concatenate(keys)
    codes, _ = pd.factorize(allk)
    codes = codes.astype(np.int64)
    codes[allk < 0] = -1
    if len(keys) == 1:
        return codes
    cuts = np.cumsum([len(k) for k in keys])[:-1]
    return tuple(np.split(codes, cuts))


def _expand(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate the ranges ``starts[i] .. starts[i] + counts[i]`` without a loop."""
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)


def _join(kl: np.ndarray, kr: np.ndarray, label: str, max_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with ``kl[i] == kr[j] >= 0``."""
    order = np.argsort(kr, kind="stable")
    skr = kr[order]
    lo = np.searchsorted(skr, kl, side="left")
    hi = np.searchsorted(skr, kl, side="right")
    cnt = np.where(kl >= 0, hi - lo, 0)
    guard_pairs(int(cnt.sum()), label, max_pairs)
    left = np.repeat(np.arange(len(kl), dtype=np.int64), cnt)
    right = order[_expand(lo, cnt)].astype(np.int64)
    return left, right


def _self_join(k: np.ndarray, label: str, max_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, with ``k[i] == k[j] >= 0``: each sorted position pairs with the rest of its block."""
    order = np.argsort(k, kind="stable")
    sk = k[order]
    end = np.searchsorted(sk, sk, side="right")
    cnt = np.where(sk >= 0, end - np.arange(len(sk)) - 1, 0)
    guard_pairs(int(cnt.sum()), label, max_pairs)
    a = np.repeat(order, cnt).astype(np.int64)
    b = order[_expand(np.arange(len(sk), dtype=np.int64) + 1, cnt)].astype(np.int64)
    return np.minimum(a, b), np.maximum(a, b)


def guard_pairs(n: int, label: str, max_pairs: int) -> None:
    if n > max_pairs:
        raise ValueError(f"blocking rule {label!r} would make {n:,} pairs (limit {max_pairs:,}): "
                         "add a column to it or raise max_pairs_per_rule")


def block(left: pd.DataFrame, right: pd.DataFrame | None, rules: Sequence[BlockingRule],
          max_pairs_per_rule: int = DEFAULT_MAX_PAIRS_PER_RULE) -> Candidates:
    """The union of the rules' pairs, with per-rule counts.

    ``right=None`` deduplicates ``left`` (pairs ``i < j``). Positions refer to the row order of the
    frames, whatever their index.
    """
    if not rules:
        raise ValueError("at least one blocking rule is needed")
    dedup = right is None
    n_left = len(left)
    n_right = n_left if dedup else len(right)
    codes, cache = [], {}
    for r in rules:
        kl, kr = _rule_keys(r, left, right, cache)
        if dedup:
            li, ri = _self_join(kl, r.label, max_pairs_per_rule)
        else:
            li, ri = _join(kl, kr, r.label, max_pairs_per_rule)
        codes.append(_sorted_unique(li * n_right + ri))
        del li, ri
    del cache
    # the union in one stable sort: each pair's first occurrence is in the first rule that found it
    # (sorting beats numpy's hash-based unique / union1d / setdiff1d by far on int64 codes)
    rule_of = np.repeat(np.arange(len(rules)), [len(c) for c in codes])
    allc = np.concatenate(codes)
    order = np.argsort(allc, kind="stable")
    allc = allc[order]
    first = np.empty(len(allc), dtype=bool)
    first[:1] = True
    np.not_equal(allc[1:], allc[:-1], out=first[1:])
    union = allc[first]
    new = np.bincount(rule_of[order[first]], minlength=len(rules))
    rows = [{"rule": r.label, "pairs": len(c), "new": int(k)} for r, c, k in zip(rules, codes, new, strict=True)]
    counts = pd.DataFrame(rows, columns=["rule", "pairs", "new"])
    return Candidates(union // n_right, union % n_right, counts, n_left, n_right, dedup)


def _sorted_unique(code: np.ndarray) -> np.ndarray:
    """``np.unique`` of int64 codes by sorting (numpy 2's hash-based unique is slower here)."""
    code = np.sort(code)
    if len(code) < 2:
        return code
    keep = np.empty(len(code), dtype=bool)
    keep[0] = True
    np.not_equal(code[1:], code[:-1], out=keep[1:])
    return code[keep]


def random_pairs(n_left: int, n_right: int | None, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` record pairs drawn uniformly from *all* pairs (not from the candidates).

    Comparing them estimates the u-probabilities as Splink does: almost every random pair is a
    non-match, so the share of random pairs at a level is that level's u. ``n_right=None`` draws
    pairs ``i < j`` of one table. Drawn with replacement: at these sizes duplicates are rare and
    harmless.
    """
    rng = np.random.default_rng(seed)
    if n_right is None:
        if n_left < 2:
            raise ValueError("a dedup needs at least two records")
        i = rng.integers(0, n_left, size=n, dtype=np.int64)
        j = rng.integers(0, n_left - 1, size=n, dtype=np.int64)
        j = j + (j >= i)  # any record but i itself
        return np.minimum(i, j), np.maximum(i, j)
    return (rng.integers(0, n_left, size=n, dtype=np.int64),
            rng.integers(0, n_right, size=n, dtype=np.int64))
