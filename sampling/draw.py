"""Drawing a PES sample: frame + design + seed -> the selected units, their inclusion
probabilities, weights, strata, PSUs and replicate weights, and the hashes that seal them.

Everything comes from one ``numpy.random.default_rng(seed)``, strata taken in sorted order,
units within a stratum in the design's sort order, so the same design, frame and seed always
give the same sample — which is how ``sample verify`` proves a sample was not hand-picked.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit_engine.codes import code_list
from audit_engine.ledger.chain import canonical_json
from sampling.allocate import allocate
from sampling.design import PPS, Design, DesignError

COLLAPSED = "*"


@dataclass
class Drawn:
    units: pd.DataFrame            # one row per selected EA: unit, stratum, psu, stage1_pi, pi, weight, certainty, N_h, n_h
    replicate_weights: np.ndarray  # n x R (JKn: one replicate per PSU; none: n x 0)
    replicate_scale: np.ndarray    # R
    strata: pd.DataFrame           # per stratum: key, frame PSUs N_h, sample PSUs n_h, size
    frame_hash: str
    selection_hash: str
    total: int                     # PSUs allocated


def prepare_frame(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Derived columns, checks, stratum keys (with small strata collapsed), sorted by stratum,
    the design's sort order and the unit."""
    return _prepare(frame, design).frame


@dataclass
class _Prepared:
    frame: pd.DataFrame       # sorted as prepare_frame returns it (or only some of its columns)
    order: np.ndarray         # row i of frame is row order[i] of the frame given
    strata_keys: np.ndarray   # the stratum keys, sorted
    stratum_rank: np.ndarray  # per row of frame: index of its stratum in strata_keys
    hashing: _HashSource      # what frame_hash needs, in the frame's original row order


def _prepare(frame: pd.DataFrame, design: Design, columns: list[str] | None = None,
             with_stratum: bool = True) -> _Prepared:
    """:func:`prepare_frame` without per-row Python: stratum keys are built from the codes of
    the stratum variables (one string per combination, not per row), small strata are collapsed
    combination by combination, and the sort is one integer sort of the ranks of (stratum, sort
    variables, unit) — the order ``sort_values([stratum, *sort, unit])`` gives. ``columns``:
    keep only these (and ``stratum``, unless ``with_stratum`` is false) in the returned frame."""
    f: dict[str, pd.Series] = {c: frame[c] for c in frame.columns}   # derived columns replace, never write into, the frame's
    texts = _Texts(f)
    if "urban" in design.strata or "urban" in design.sort:
        urban_codes = list(code_list("urban_rural").extra.get("urban", []))
        codes, uniq = pd.factorize(frame["urban_rural"])            # a missing code is not urban
        is_urban = np.append(pd.Series(uniq, dtype=object).astype(str).isin(urban_codes).to_numpy(), False)
        label = np.array(["urban", "rural"], dtype=object)
        f["urban"] = pd.Series(label[np.where(is_urban[codes], 0, 1)], index=frame.index, name="urban")
        texts.cache["urban"] = (np.where(is_urban[codes], 0, 1), label)
    need = {design.frame_unit, design.size, *design.strata, *design.sort} | {s.unit for s in design.stages}
    missing = sorted(need - set(f))
    if missing:
        raise DesignError(f"the frame has no column(s) {missing}")
    size = _to_numeric(f[design.size])
    bad = f[design.frame_unit][~(size > 0)].astype(str).tolist()
    if bad and any(s.method in PPS for s in design.stages) or (bad and design.allocation.by == "size"):
        raise DesignError(f"size measure {design.size} is missing or not positive for {len(bad)} unit(s), "
                          f"e.g. {', '.join(bad[:5])}")
    f[design.size] = size.fillna(0).astype(float).rename(design.size)
    unit_sort = _unit_sort(f[design.frame_unit])
    if unit_sort is None and f[design.frame_unit].duplicated().any():
        raise DesignError(f"the frame repeats unit codes ({design.frame_unit})")
    n = len(frame)
    # Stratum keys: one combination code per row, the key string once per combination.
    if design.strata:
        combo = np.zeros(n, dtype=np.int64)
        for col in design.strata:
            codes, uniq = texts.get(col)
            combo = combo * len(uniq) + codes
            if len(uniq) > 1 and col != design.strata[0]:
                combo = pd.factorize(combo)[0].astype(np.int64)
        n_combo = int(combo.max()) + 1 if n else 0
        row_of = np.zeros(n_combo, dtype=np.int64)
        row_of[combo] = np.arange(n)                          # a row of each combination
        parts = [texts.get(col)[1][texts.get(col)[0][row_of]] for col in design.strata]
        keys = parts[0].copy()
        for part in parts[1:]:
            keys = keys + "|" + part
        first = parts[0]
    else:
        combo = np.zeros(n, dtype=np.int64)
        keys = np.array(["all"] if n else [], dtype=object)
        first = keys
    psu_col = design.stages[0].unit
    pairs = _psu_pairs(f[psu_col], combo, psu_col == design.frame_unit and unit_sort is not None,
                       psu_col == design.frame_unit)
    if len(design.stages) == 2:
        key_code = pd.factorize(keys)[0]
        if (pairs.distinct_keys_per_psu(key_code) > 1).any():
            per_psu = pd.DataFrame({psu_col: f[psu_col], "stratum": keys[combo]}).groupby(psu_col)["stratum"].nunique()
            raise DesignError(f"stage-1 units ({psu_col}) must lie within one stratum: "
                              f"{', '.join(per_psu[per_psu > 1].index.astype(str)[:5])} span several")
    if design.allocation.collapse_small_strata:
        keys = _collapse(keys, first, pairs, design)
    # Sort: (stratum, *sort, unit) as integer ranks; the unit is unique, so the order is total.
    strata_keys, key_code = np.unique(keys, return_inverse=True) if len(keys) else (keys, np.zeros(0, np.int64))
    ranks = [key_code[combo]]
    radix = [max(len(strata_keys), 1)]
    for col in (*design.sort, design.frame_unit):
        if col == design.frame_unit:
            r = unit_sort.rank if unit_sort is not None else _rank(f[col])
            ranks.append(r)
            radix.append(max(n, 1) + 1)
            break                                             # the unit is unique: nothing after it matters
        r = _rank(f[col], texts)
        ranks.append(r)
        radix.append(int(r.max()) + 1 if n else 1)
    if math.prod(radix) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for r, m in zip(ranks, radix, strict=True):
            key = key * m + r
        order = np.argsort(key)          # the keys are distinct (the unit's rank is in them): any sort agrees
    else:
        order = np.lexsort(ranks[::-1])
    stratum_rank = ranks[0][order]
    # Column by column into an empty frame: no copy into consolidated blocks.
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for c in f:
        if columns is None or c in columns:
            v = f[c]
            out[c] = v.to_numpy()[order] if isinstance(v.dtype, np.dtype) else v.array.take(order)
    if with_stratum:
        out["stratum"] = strata_keys[stratum_rank] if n else np.zeros(0, dtype=object)
    return _Prepared(out, order, strata_keys, stratum_rank, _HashSource(f, texts, unit_sort))


def _to_numeric(s: pd.Series) -> pd.Series:
    """``pd.to_numeric(s, errors="coerce")``; for text columns converted once per distinct value."""
    if s.dtype != object or len(s) == 0:
        return pd.to_numeric(s, errors="coerce")
    codes, uniq = pd.factorize(s)
    vals = pd.to_numeric(pd.Series(uniq, dtype=object), errors="coerce").to_numpy()
    if vals.dtype.kind not in "fiu":
        return pd.to_numeric(s, errors="coerce")
    out = vals[codes] if (codes >= 0).all() else np.where(codes >= 0, vals[codes].astype(float), np.nan)
    return pd.Series(out, index=s.index, name=s.name)


class _Texts:
    """``column.astype(str)`` of frame columns as (code per row, distinct strings), computed once."""

    def __init__(self, f: pd.DataFrame | dict[str, pd.Series]) -> None:
        self.f = f
        self.cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def get(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        if col not in self.cache:
            s = self.f[col]
            if s.dtype.kind in "biuf":   # convert the distinct values only (astype(str) is elementwise)
                codes, uniq = pd.factorize(s, use_na_sentinel=False)
                text = pd.Series(uniq, dtype=s.dtype).astype(str).to_numpy(object)
            else:
                codes, uniq = pd.factorize(s.astype(str))
                text = np.asarray(uniq, dtype=object)
            self.cache[col] = (codes.astype(np.int64, copy=False), text)
        return self.cache[col]

    def all_text(self, col: str) -> bool:
        """The column holds only ``str`` values (so its text is itself)."""
        s = self.f[col]
        return s.dtype == object and pd.api.types.infer_dtype(s.to_numpy(), skipna=False) == "string"


@dataclass
class _UnitSort:
    """A unit column of distinct ASCII ``str`` values, sorted by their bytes (the order of
    Python string comparison): ``order`` sorts the rows, ``rank`` is each row's place."""

    order: np.ndarray
    rank: np.ndarray
    text: np.ndarray   # the values as bytes (numpy ``S``), row order


def _unit_sort(s: pd.Series) -> _UnitSort | None:
    """Fast path for the unit: ``None`` when the values are not all distinct ASCII strings
    (then the exact pandas path is taken). Equal bytes — a repeat, or strings that differ only by
    trailing NULs — also send it to the exact path."""
    v = s.to_numpy()
    if v.dtype != object or len(v) == 0 or pd.api.types.infer_dtype(v, skipna=False) != "string":
        return None
    try:
        text = v.astype("S")
    except UnicodeEncodeError:
        return None
    order = _bytes_order(text)
    ordered = text[order]
    if (ordered[1:] == ordered[:-1]).any():
        return None
    rank = np.empty(len(v), dtype=np.int64)
    rank[order] = np.arange(len(v))
    return _UnitSort(order, rank, text)


_DIGIT = np.full(256, -1, dtype=np.int64)
_DIGIT[0] = 0                                  # NUL padding sorts before every character
_DIGIT[ord("0"):ord("9") + 1] = np.arange(1, 11)


def _bytes_order(text: np.ndarray) -> np.ndarray:
    """``argsort`` of numpy ``S`` values (their byte order). A list that is mostly in order
    already is sorted as it is (timsort runs); otherwise codes of at most 18 digits are sorted
    as base-11 integers (NUL 0, '0'..'9' 1..10: the same order, an integer sort being several
    times faster than a byte-string sort)."""
    n, width = len(text), text.dtype.itemsize
    if n < 2 or width > 18 or np.count_nonzero(text[1:] >= text[:-1]) > 0.9 * (n - 1):
        return np.argsort(text, kind="stable")
    b = text.view(np.uint8).reshape(n, width)
    key = np.zeros(n, dtype=np.int64)
    for j in range(width):
        digit = _DIGIT[b[:, j]]
        if digit.min() < 0:
            return np.argsort(text, kind="stable")
        key *= 11
        key += digit
    return np.argsort(key, kind="stable")


def _rank(s: pd.Series, texts: _Texts | None = None) -> np.ndarray:
    """Each row's rank in the order ``sort_values`` uses (an ordered Categorical: sorted distinct
    values, missing values last)."""
    if texts is not None and texts.all_text(s.name):
        codes, uniq = texts.get(s.name)
        rank_of = _text_rank(uniq)
    else:
        codes, uniq = pd.factorize(s)
        rank_of = np.asarray(pd.Categorical(uniq, ordered=True).codes, dtype=np.int64)
    return np.where(codes >= 0, rank_of[np.maximum(codes, 0)], len(uniq)) if (codes < 0).any() else rank_of[codes]


def _text_rank(text: np.ndarray) -> np.ndarray:
    """The rank of each of distinct strings in Python's string order (the order of an ordered
    Categorical of them): by their bytes when they are ASCII and no two are equal as numpy
    ``S`` values (NUL padding), else by comparing the strings."""
    try:
        b = text.astype("S")
    except UnicodeEncodeError:
        b = None
    if b is not None:
        order = _bytes_order(b)
        if (b[order][1:] == b[order][:-1]).any():
            order = np.argsort(text, kind="stable")
    else:
        order = np.argsort(text, kind="stable")
    rank = np.empty(len(text), dtype=np.int64)
    rank[order] = np.arange(len(text))
    return rank


@dataclass
class _PsuPairs:
    """The distinct (stratum-variable combination, stage-1 unit) pairs of the frame; ``psu`` is
    ``None`` when the stage-1 unit is the frame unit (then every row with a unit is its own PSU)."""

    combo: np.ndarray
    psu: np.ndarray | None
    n_psu: int

    def psus_per_key(self, key_code: np.ndarray, n_keys: int) -> np.ndarray:
        k = key_code[self.combo]
        if self.psu is not None:
            k = np.unique(k * self.n_psu + self.psu) // self.n_psu
        return np.bincount(k, minlength=n_keys)

    def distinct_keys_per_psu(self, key_code: np.ndarray) -> np.ndarray:
        if self.psu is None:
            return np.ones(0, dtype=np.int64)
        n_keys = int(key_code.max()) + 1 if len(key_code) else 1
        p = np.unique(self.psu * n_keys + key_code[self.combo]) // n_keys
        return np.bincount(p, minlength=self.n_psu)


def _psu_pairs(psu: pd.Series, combo: np.ndarray, distinct: bool, is_unit: bool) -> _PsuPairs:
    """``distinct``: the stage-1 unit is the frame unit and known to be distinct text (no
    missing value); ``is_unit``: it is the frame unit (checked to be distinct)."""
    if distinct:
        return _PsuPairs(combo, None, 0)
    if is_unit:
        has = psu.notna().to_numpy()
        return _PsuPairs(combo if has.all() else combo[has], None, 0)
    codes = pd.factorize(psu)[0].astype(np.int64)
    ok = codes >= 0
    n_psu = int(codes.max()) + 1 if ok.any() else 1
    pair = np.unique(combo[ok] * n_psu + codes[ok])
    return _PsuPairs(pair // n_psu, pair % n_psu, n_psu)


def _collapse(keys: np.ndarray, first: np.ndarray, pairs: _PsuPairs, design: Design) -> np.ndarray:
    """Strata with fewer PSUs than the minimum merge into '<first variable>|*', then into '*'.
    Works on the stratum-variable combinations (``keys``: each one's stratum key, ``first``: its
    value of the first variable); a stratum's PSUs are counted over all its combinations."""
    minimum = design.allocation.min_per_stratum
    key = keys.copy()
    for level in ("first", "all"):
        key_code, uniq = pd.factorize(key)
        small = (pairs.psus_per_key(key_code, len(uniq)) < minimum)[key_code]
        if not small.any():
            break
        if level == "first" and design.strata:
            key = np.where(small, first + ("|" + COLLAPSED), key).astype(object)
        else:
            key = np.where(small, COLLAPSED, key).astype(object)
    return key


@dataclass
class _HashSource:
    f: pd.DataFrame | dict[str, pd.Series]   # the prepared columns, frame row order
    texts: _Texts
    unit_sort: _UnitSort | None


def frame_hash(f: pd.DataFrame, design: Design) -> str:
    """SHA-256 of the canonical JSON ``{"columns": [...], "rows": [[str, ...] ...]}`` of the
    design's columns of the frame as text, rows in unit order."""
    return _frame_hash(_HashSource(f, _Texts(f), _unit_sort(f[design.frame_unit])), design)


def _columns(design: Design) -> list[str]:
    return list(dict.fromkeys([design.frame_unit, *design.strata, *design.sort, design.size,
                               *(s.unit for s in design.stages)]))


_NEEDS_ESCAPE = np.zeros(256, dtype=bool)
_NEEDS_ESCAPE[:0x20] = True                    # control characters, NUL included
_NEEDS_ESCAPE[[ord('"'), ord("\\")]] = True
_NEEDS_ESCAPE_PADDED = _NEEDS_ESCAPE.copy()   # numpy S values: NUL is padding (real NULs are checked apart)
_NEEDS_ESCAPE_PADDED[0] = False


def _plain_bytes(text: np.ndarray) -> np.ndarray | None:
    """Distinct strings as UTF-8 bytes (numpy ``S``) when JSON writes each as ``"text"``
    unchanged (no quote, backslash or control character; NUL included); else ``None``."""
    if len(text) == 0:
        return np.zeros(0, dtype="S1")
    joined = "".join(text.tolist())
    raw = joined.encode("utf-8")
    if _NEEDS_ESCAPE[np.frombuffer(raw, dtype=np.uint8)].any():
        return None
    if len(raw) == len(joined):                   # ASCII
        return text.astype("S")
    return np.array([t.encode("utf-8") for t in text.tolist()], dtype="S")


_HASH_CHUNK = 1_000_000   # rows assembled at a time (about 70 MB for the bundled design's columns)


def _frame_hash(src: _HashSource, design: Design) -> str:
    """The same bytes as ``canonical_json({"columns": cols, "rows": f[cols].astype(str)
    .sort_values(unit).values.tolist()})``, assembled with numpy when every value is plain text:
    each row is a fixed-width byte template (``["`` value ``","`` ... ``"],``) with the values
    NUL-padded, and the padding dropped. Values that JSON would escape, or a unit column that is
    not distinct ASCII strings, take the exact (slow) path."""
    cols = _columns(design)
    f, unit = src.f, design.frame_unit
    us = src.unit_sort
    chunk = _HASH_CHUNK
    n = len(f[unit])
    if us is None or n == 0:
        return _frame_hash_exact(f, cols, unit)
    order = us.order
    # the unit as bytes: no byte JSON escapes, and no NUL (the bytes add up to the strings' length)
    ub = us.text.view(np.uint8)
    if _NEEDS_ESCAPE_PADDED[ub].any() or np.count_nonzero(ub) != sum(map(len, f[unit].to_numpy())):
        return _frame_hash_exact(f, cols, unit)
    pieces: list[bytes | np.ndarray] = []
    for j, col in enumerate(cols):
        if col == unit:
            values = us.text[order]
        else:
            codes, text = src.texts.get(col)
            encoded = _plain_bytes(text)
            if encoded is None:
                return _frame_hash_exact(f, cols, unit)
            values = encoded[codes[order]]
        pieces += [b'["' if j == 0 else b'","', values]
    pieces.append(b'"],')
    widths = [len(p) if isinstance(p, bytes) else p.dtype.itemsize for p in pieces]
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
    block = np.zeros((min(chunk, n), int(offsets[-1])), dtype=np.uint8)
    for p, o in zip(pieces, offsets, strict=False):
        if isinstance(p, bytes):
            block[:, o:o + len(p)] = np.frombuffer(p, dtype=np.uint8)
    h = hashlib.sha256(canonical_json({"columns": cols, "rows": []})[:-2].encode("utf-8"))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        rows = block[: b - a]
        for p, o in zip(pieces, offsets, strict=False):
            if not isinstance(p, bytes):   # the value fills its whole slot: padding included
                rows[:, o:o + p.dtype.itemsize] = p[a:b].view(np.uint8).reshape(b - a, -1)
        flat = rows.ravel()
        text = flat[flat != 0]
        if b == n:
            h.update(text[:-1])
            h.update(b"]}")
        else:
            h.update(text)
    return h.hexdigest()


def _frame_hash_exact(f: pd.DataFrame | dict[str, pd.Series], cols: list[str], unit: str) -> str:
    rows = pd.DataFrame({c: f[c] for c in cols}).astype(str).sort_values(unit).values.tolist()
    return hashlib.sha256(canonical_json({"columns": cols, "rows": rows}).encode()).hexdigest()


def selection_hash(units: pd.DataFrame) -> str:
    rows = [[str(u), str(s), str(p), format(float(pi), ".12g")]
            for u, s, p, pi in units[["unit", "stratum", "psu", "pi"]].sort_values("unit").itertuples(index=False)]
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()


def total_psus(design: Design, f: pd.DataFrame) -> int:
    """The allocation total: given, or from the sample-size calculator (EAs -> PSUs)."""
    a = design.allocation
    if a.total is not None:
        return int(a.total)
    if a.method == "fixed":
        return int(sum(a.fixed.values()))
    from sampling.size import eas_needed

    c = a.calculator or {}
    eas = eas_needed(c["expected_rate"], c["moe"], deff=c.get("deff", 1.0),
                     mean_persons_per_ea=float(f[design.size].mean()), confidence=c.get("confidence", 0.95),
                     population_eas=len(f), nonresponse=c.get("nonresponse", 0.0))
    per = design.stages[1].per_psu if len(design.stages) == 2 else 1
    return max(1, math.ceil(eas / per))


#: JKn replicate weights are n x (PSUs): refuse a JKn design beyond this many cells (200 MB of
#: float64; 5,000 one-stage EAs) — use ``replicates: {method: bootstrap}`` or ``{method: none}``.
JKN_MAX_CELLS = 25_000_000


def draw(design: Design, frame: pd.DataFrame, seed: int, *, timings: dict[str, float] | None = None) -> Drawn:
    """Draw the design's sample from ``frame`` with ``seed``.

    Strata are taken in sorted order of their keys and, within a stratum, the PSUs in the
    design's sort order; one ``numpy.random.default_rng(seed)`` feeds every selection in that
    order (then the second stage, PSU by PSU), so the draw is a pure function of its inputs.
    ``timings``: filled with the seconds spent in each step (prepare_frame, frame_hash,
    allocation, selection, replicates)."""
    from sampling.select import SELECTORS

    clock = _Clock(timings)
    s1 = design.stages[0]
    psu_col = s1.unit
    size_col = s1.size or design.size
    one_stage = len(design.stages) == 1 and size_col == design.size   # every unit is its own PSU
    needed = ([design.size] if one_stage else
              [design.frame_unit, design.size, *(s.unit for s in design.stages), *(s.size for s in design.stages if s.size)])
    prep = _prepare(frame, design, columns=needed, with_stratum=not one_stage)
    f = prep.frame
    clock("prepare_frame")
    fhash = _frame_hash(prep.hashing, design)
    clock("frame_hash")
    rng = np.random.default_rng(seed)
    # Stage-1 units in frame order: grouped by stratum (the frame is sorted by stratum first and a
    # PSU lies in one stratum), so each stratum's PSUs are one contiguous block.
    if one_stage:   # the units themselves; their codes and stratum keys are looked up when selected
        at = np.arange(len(f))
        if prep.hashing.unit_sort is None and not (has := frame[psu_col].notna().to_numpy()[prep.order]).all():
            at = np.flatnonzero(has)
        codes, origin = frame[psu_col].to_numpy(), prep.order[at]
        psus = _Psus(f[size_col].to_numpy()[at], prep.stratum_rank[at], lambda i: codes[origin[i]], prep.strata_keys)
    else:
        g = (f.groupby(psu_col, sort=False).agg(stratum=("stratum", "first"), size=(size_col, "sum"))
             .reset_index().rename(columns={psu_col: "psu"}))
        st = g["stratum"].to_numpy()
        rank = np.concatenate([[0], np.cumsum(st[1:] != st[:-1])]) if len(st) else np.zeros(0, np.int64)
        keys = st[np.searchsorted(rank, np.unique(rank))]
        psus = _Psus(g["size"].to_numpy(), rank, g["psu"].to_numpy().__getitem__, keys)
    by_stratum = pd.Series(psus.size).groupby(psus.rank, sort=True)
    strata = pd.DataFrame({"stratum": psus.keys[np.unique(psus.rank)], "N": by_stratum.size().to_numpy(),
                           "size": by_stratum.sum().to_numpy()})
    a = design.allocation
    total = total_psus(design, f)
    floor = int(np.minimum(strata["N"].to_numpy(), a.min_per_stratum).sum())
    if a.total is None and a.method != "fixed" and total < floor:
        # The calculator's answer is below what the design needs for a variance in every stratum.
        total = floor
    fixed = np.array([a.fixed.get(k, 0) for k in strata["stratum"]]) if a.method == "fixed" else None
    sd = (np.array([a.prior_sd.get(k, a.prior_sd.get("default", 1.0)) for k in strata["stratum"]])
          if a.method == "neyman" else None)
    try:
        strata["n"] = allocate(a.method, total, strata["N"].to_numpy(), strata["size"].to_numpy(),
                               minimum=a.min_per_stratum, fixed=fixed, prior_sd=sd, by=a.by)
    except ValueError as exc:
        raise DesignError(str(exc)) from None
    clock("allocation")
    pps1 = s1.method in PPS
    sizes = np.asarray(psus.size, dtype=float) if pps1 else None
    start = np.concatenate([[0], np.cumsum(strata["N"].to_numpy())])
    picked, pis, certs, big_n, small_n = [], [], [], [], []
    for h, n_h in enumerate(strata["n"].to_numpy()):
        if n_h == 0:
            continue
        lo, hi = int(start[h]), int(start[h + 1])
        sel = SELECTORS[s1.method](sizes[lo:hi] if pps1 else None, hi - lo, int(n_h), rng)
        picked.append(lo + sel.index)
        pis.append(sel.pi[sel.index])
        certs.append(sel.certainty[sel.index])
        big_n.append(np.full(sel.index.size, hi - lo, dtype=np.int64))
        small_n.append(np.full(sel.index.size, int(n_h), dtype=np.int64))
    rows = np.concatenate(picked)
    first = pd.DataFrame({"psu": psus.psu(rows), "stratum": psus.keys[psus.rank[rows]], "size": psus.size[rows],
                          "stage1_pi": np.concatenate(pis), "certainty": np.concatenate(certs).astype(bool),
                          "N_h": np.concatenate(big_n), "n_h": np.concatenate(small_n)})
    if len(design.stages) == 1:
        units = first.assign(unit=first["psu"], pi=first["stage1_pi"])
    else:
        units = _second_stage(f, first, design, rng)
    units["weight"] = 1.0 / units["pi"]
    units = units[["unit", "stratum", "psu", "stage1_pi", "pi", "weight", "certainty", "N_h", "n_h"]]
    units = units.sort_values(["stratum", "psu", "unit"], kind="stable").reset_index(drop=True)
    shash = selection_hash(units)
    clock("selection")
    rep_w, rep_scale = replicates(units, design, seed)
    clock("replicates")
    return Drawn(units, rep_w, rep_scale, strata.rename(columns={"N": "N_h", "n": "n_h"}), fhash, shash, total)


@dataclass
class _Psus:
    """The stage-1 units in prepared order: their size, the index of their stratum in ``keys``
    (non-decreasing: each stratum's PSUs are one block), and their codes by position (looked up
    for the selected ones only — a national frame has millions)."""

    size: np.ndarray
    rank: np.ndarray
    psu: Callable[[np.ndarray], np.ndarray]
    keys: np.ndarray


def _second_stage(f: pd.DataFrame, first: pd.DataFrame, design: Design, rng: np.random.Generator) -> pd.DataFrame:
    """Stage 2 in each selected PSU, PSU by PSU in the order of ``first``; a PSU's units in frame
    order (positions grouped once, not searched per PSU)."""
    from sampling.select import SELECTORS

    s2 = design.stages[1]
    psu_col = design.stages[0].unit
    size2 = s2.size or design.size
    codes, uniq = pd.factorize(f[psu_col])
    by_psu = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes[codes >= 0], minlength=len(uniq)))])
    by_psu = by_psu[int((codes < 0).sum()):]                 # units without a PSU sort first: drop them
    where = pd.Index(uniq).get_indexer(first["psu"])
    sizes = f[size2].to_numpy(float) if s2.method in PPS else None
    unit_values = f[design.frame_unit].to_numpy()
    per = int(s2.per_psu or 1)
    got, pi, cert = [], [], []
    for row, c in zip(first.itertuples(index=False), where, strict=True):
        pos = by_psu[bounds[c]:bounds[c + 1]]
        m = min(per, len(pos))
        sel = SELECTORS[s2.method](sizes[pos] if sizes is not None else None, len(pos), m, rng)
        got.append(pos[sel.index])
        pi.append(row.stage1_pi * sel.pi[sel.index])
        cert.append(bool(row.certainty) & bool(sel.certainty[sel.index].all()))
    k = [g.size for g in got]
    return pd.DataFrame({"unit": unit_values[np.concatenate(got)], "psu": np.repeat(first["psu"].to_numpy(), k),
                         "stratum": np.repeat(first["stratum"].to_numpy(), k),
                         "stage1_pi": np.repeat(first["stage1_pi"].to_numpy(), k), "pi": np.concatenate(pi),
                         "certainty": np.repeat(np.array(cert, dtype=bool), k),
                         "N_h": np.repeat(first["N_h"].to_numpy(), k), "n_h": np.repeat(first["n_h"].to_numpy(), k)})


class _Clock:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def __call__(self, step: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[step] = self.timings.get(step, 0.0) + now - self.t
            self.t = now


def replicates(units: pd.DataFrame, design: Design, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """JKn (or bootstrap) replicate weights over the stage-1 PSUs of the sample; none (an n x 0
    matrix) when the design says ``replicates: {method: none}`` (variance by linearisation)."""
    if design.replicates == "none":
        return np.zeros((len(units), 0)), np.zeros(0)
    from sampling.estimate import SurveyDesign
    from sampling.replicates import bootstrap_replicates, jkn_replicates

    if design.replicates == "JKn":
        n_psu = len(units[["stratum", "psu"]].drop_duplicates())
        if len(units) * n_psu > JKN_MAX_CELLS:
            raise DesignError(
                f"JKn replicate weights for {len(units):,} units and {n_psu:,} PSUs would be a "
                f"{len(units):,} x {n_psu:,} matrix ({len(units) * n_psu * 8 / 1e9:.1f} GB); for a sample this "
                "large use replicates: {method: bootstrap} (200 replicates) or {method: none} (linearisation)")
    sd = SurveyDesign(weights=units["weight"].to_numpy(float), strata=units["stratum"].to_numpy(),
                      psu=units["psu"].to_numpy(), fpc=units["N_h"].to_numpy(float))
    if design.replicates == "bootstrap":
        rep = bootstrap_replicates(sd, 200, np.random.default_rng([seed, 1]))   # sealed with the draw
    else:
        rep = jkn_replicates(sd)
    return np.asarray(rep.replicate_weights, dtype=float), np.asarray(rep.replicate_scale, dtype=float)
