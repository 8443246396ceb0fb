"""Row validation, vectorised over a chunk: structure, numbers, codes, dates, keys.

A row is rejected only when its value cannot be stored as the item it claims to be (wrong
field count, letters where a number belongs, a code outside the code list, an impossible
year-month, an empty key). Plausibility (an ID number's check digit, a 9-year-old head of
household) is the rule engine's job: such records load and are flagged for review.

The checks run as Arrow compute kernels over whole columns: this is the loader's hot path
(a national file is hundreds of millions of rows), and per-row Python would dominate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit_engine.access.masking import PERSONAL_FIELDS, mask_value
from audit_engine.codes import code_list
from audit_engine.io.columns import KINDS, Column

TEXT_LIMITS = {"name": 60, "address": 200, "id_number": 24, "township_name": 60, "village_code": 15,
               "register_household": 40, "enumerator_id": 40}
KEY_LIMIT = 40
YM = (r"^\s*(?P<y>\d{4})\s*(?:[-/.年]\s*(?P<m>\d{1,2})\s*月?|(?P<m2>\d{2}))"
      r"(?:[-/.]\d{1,2}.*)?\s*$")
MIN_YEAR, MAX_YEAR = 1880, 2021


@dataclass(frozen=True)
class Reject:
    line: int
    field: str | None
    reason: str
    detail: str
    raw: str


@dataclass
class Validated:
    """Good rows per stored column, plus their lines and the rejects.

    ``good`` holds Arrow arrays as validated (compact, cheap to pass between processes) until
    :meth:`materialise` turns them into Python lists (None for missing) for the insert.
    """

    good: dict[str, pa.Array | list]
    lines: list[int]
    rejects: list[Reject]

    def __len__(self) -> int:
        return len(self.lines)

    def materialise(self) -> Validated:
        self.good = {k: (v.to_pylist() if isinstance(v, pa.Array) else v) for k, v in self.good.items()}
        return self


@cache
def _codes(name: str) -> tuple[pa.Array, int | None]:
    codes = code_list(name).codes
    widths = {len(c) for c in codes}
    numeric = all(c.isdigit() for c in codes)
    # Excel drops leading zeros ('01' -> 1): pad numeric codes of one fixed width back.
    return pa.array(codes, type=pa.string()), (widths.pop() if numeric and len(widths) == 1 else None)


def _np(mask: pa.Array) -> np.ndarray:
    return mask.fill_null(False).to_numpy(zero_copy_only=False)


def validate_chunk(kind: str, header: list[str | None], rows: list[list[str]], lines: list[int],
                   raws: list[str], file_name: str) -> Validated:
    """Check every row of a chunk; return the good rows typed and the bad ones with reasons."""
    width = len(header)
    rejects: list[Reject] = []
    ok_idx = [i for i, fields in enumerate(rows) if len(fields) == width]
    if len(ok_idx) != len(rows):
        ok_set = set(ok_idx)
        rejects += [Reject(lines[i], None, "column_count",
                           f"{file_name}, line {lines[i]}: expected {width} fields, found {len(rows[i])}", raws[i])
                    for i in range(len(rows)) if i not in ok_set]
    if not ok_idx:
        return Validated({}, [], rejects)
    ok_rows = rows if len(ok_idx) == len(rows) else [rows[i] for i in ok_idx]
    transposed = list(zip(*ok_rows, strict=True))
    n = len(ok_rows)
    positions = {name: j for j, name in enumerate(header) if name}
    first_bad = np.full(n, -1, dtype=np.int64)          # index into ``problems`` of each row's first problem
    problems: list[tuple[str, str, str, pa.Array]] = []
    out: dict[str, pa.Array] = {}

    def mark(bad: pa.Array, col: Column, reason: str, detail: str, values: pa.Array) -> None:
        b = _np(bad)
        if b.any():
            fresh = b & (first_bad < 0)
            first_bad[fresh] = len(problems)
            problems.append((col.name, reason, detail, values))

    empty_col = pa.nulls(n, pa.string())
    for col in KINDS[kind]:
        if col.name in positions:
            s = pc.utf8_trim_whitespace(pa.array(transposed[positions[col.name]], type=pa.string()))
            s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)
        else:
            s = empty_col
        present = pc.is_valid(s)
        if col.type == "key":
            bad = pc.or_kleene(pc.invert(present), pc.greater(pc.utf8_length(s), KEY_LIMIT))
            mark(bad, col, "missing_key", f"key is empty or longer than {KEY_LIMIT} characters", s)
            out[col.name] = s
        elif col.type == "int":
            whole = pc.match_substring_regex(s, r"^\d{1,9}(\.0+)?$")
            digits = pc.match_substring_regex(s, r"^\d+(\.0+)?$")
            mark(pc.and_kleene(present, pc.invert(digits)), col, "not_a_number", "is not a whole number", s)
            mark(pc.and_kleene(digits, pc.invert(whole)), col, "out_of_range", f"is above {col.max}", s)
            safe = pc.if_else(whole, pc.replace_substring_regex(s, r"\.0+$", ""), pa.scalar(None, pa.string()))
            value = pc.cast(safe, pa.int64())
            if col.max is not None:
                big = pc.greater(value, col.max)
                mark(big, col, "out_of_range", f"is above {col.max}", s)
                value = pc.if_else(big, pa.scalar(None, pa.int64()), value)
            out[col.name] = value
        elif col.type == "code":
            valid, pad = _codes(col.code_list)  # type: ignore[arg-type]
            norm = pc.utf8_upper(s) if col.code_list == "industry" else s
            if pad:
                short = pc.and_kleene(pc.match_substring_regex(norm, r"^\d+$"), pc.less(pc.utf8_length(norm), pad))
                norm = pc.if_else(short, pc.utf8_lpad(norm, width=pad, padding="0"), norm)
            mark(pc.and_kleene(present, pc.invert(pc.is_in(norm, value_set=valid))), col, "unknown_code",
                 f"is not in the {col.code_list} code list", s)
            out[col.name] = norm
        elif col.type == "ym":
            parts = pc.extract_regex(s, YM)
            year = pc.cast(pc.struct_field(parts, "y"), pa.int64(), safe=False)
            m1, m2 = pc.struct_field(parts, "m"), pc.struct_field(parts, "m2")
            month_txt = pc.if_else(pc.equal(m1, ""), m2, m1)
            month = pc.cast(pc.if_else(pc.equal(month_txt, ""), pa.scalar(None, pa.string()), month_txt), pa.int64())
            good = pc.and_kleene(pc.and_kleene(pc.greater_equal(year, MIN_YEAR), pc.less_equal(year, MAX_YEAR)),
                           pc.and_kleene(pc.greater_equal(month, 1), pc.less_equal(month, 12))).fill_null(False)
            mark(pc.and_kleene(present, pc.invert(good)), col, "bad_date",
                 f"is not a year-month between {MIN_YEAR} and {MAX_YEAR}", s)
            out[col.name + ":year"] = pc.if_else(good, year, pa.scalar(None, pa.int64()))
            out[col.name + ":month"] = pc.if_else(good, month, pa.scalar(None, pa.int64()))
        elif col.type == "pattern":
            mark(pc.and_kleene(present, pc.invert(pc.match_substring_regex(s, f"^(?:{col.pattern})$"))), col,
                 "bad_format", f"does not match {col.pattern}", s)
            out[col.name] = s
        else:  # text and list
            limit = TEXT_LIMITS.get(col.name, 400)
            mark(pc.greater(pc.utf8_length(s), limit), col, "too_long", f"is longer than {limit} characters", s)
            out[col.name] = s

    bad_rows = np.flatnonzero(first_bad >= 0)
    for j in bad_rows:
        field, reason, detail, values = problems[first_bad[j]]
        value = values[int(j)].as_py() or ""
        shown = mask_value(field, value) if field in PERSONAL_FIELDS else value
        message = f"value {shown[:40]!r} {detail}" if shown else f"value is empty: {detail}"
        i = ok_idx[j]
        rejects.append(Reject(lines[i], field, reason, f"{file_name}, line {lines[i]}, field {field}: {message}", raws[i]))
    rejects.sort(key=lambda r: r.line)
    keep = first_bad < 0
    keep_arr = pa.array(keep)
    good = {name: (arr if keep.all() else pc.filter(arr, keep_arr)) for name, arr in out.items()}
    good_lines = [lines[ok_idx[j]] for j in np.flatnonzero(keep)]
    return Validated(good, good_lines, rejects)
