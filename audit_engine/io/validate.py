"""Row validation, vectorised over a chunk: structure, numbers, codes, dates, keys.

A row is rejected only when its value cannot be stored as the item it claims to be (wrong
field count, letters where a number belongs, a code outside the code list, an impossible
year-month, an empty key). Plausibility (an ID number's check digit, a 9-year-old head of
household) is the rule engine's job: such records load and are flagged for review.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit_engine.access.masking import PERSONAL_FIELDS, mask_value
from audit_engine.codes import code_list
from audit_engine.io.columns import KINDS, Column

TEXT_LIMITS = {"name": 60, "address": 200, "id_number": 24, "township_name": 60, "village_code": 15}
KEY_LIMIT = 40
YM = r"^\s*(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))(?:[-/.]\d{1,2}.*)?\s*$"
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
    good: pd.DataFrame          # canonical column names, typed values, plus 'line'
    rejects: list[Reject]


def _codes(col: Column) -> tuple[set[str], int | None]:
    codes = code_list(col.code_list).codes  # type: ignore[arg-type]
    widths = {len(c) for c in codes}
    numeric = all(c.isdigit() for c in codes)
    # Excel drops leading zeros ('01' -> 1): pad numeric codes of one fixed width back.
    return set(codes), (widths.pop() if numeric and len(widths) == 1 else None)


def validate_chunk(kind: str, header: list[str | None], rows: list[list[str]], lines: list[int],
                   raws: list[str], file_name: str) -> Validated:
    """Check every row of a chunk; return the good rows typed and the bad ones with reasons."""
    columns = KINDS[kind]
    width = len(header)
    rejects: list[Reject] = []
    ok_idx = []
    for i, fields in enumerate(rows):
        if len(fields) != width:
            rejects.append(Reject(lines[i], None, "column_count",
                                  f"{file_name}, line {lines[i]}: expected {width} fields, found {len(fields)}", raws[i]))
        else:
            ok_idx.append(i)
    if not ok_idx:
        return Validated(pd.DataFrame(), rejects)
    frame = pd.DataFrame([rows[i] for i in ok_idx], columns=range(width), dtype=object)
    n = len(frame)
    data: dict[str, pd.Series] = {}
    positions = {name: j for j, name in enumerate(header) if name}
    for col in columns:
        if col.name in positions:
            data[col.name] = frame[positions[col.name]].astype(str).str.strip()
        else:
            data[col.name] = pd.Series([""] * n, dtype=object)
    line_arr = np.asarray([lines[i] for i in ok_idx])
    problem = np.full(n, None, dtype=object)        # first (field, reason, detail) per row
    out: dict[str, object] = {}
    for col in columns:
        s = data[col.name]
        empty = (s == "").to_numpy()
        bad = np.zeros(n, dtype=bool)
        reason, detail = "", ""
        if col.type == "key":
            bad = empty | (s.str.len() > KEY_LIMIT).to_numpy()
            reason, detail = "missing_key", f"key is empty or longer than {KEY_LIMIT} characters"
            out[col.name] = s
        elif col.type == "int":
            num = pd.to_numeric(s.where(~empty), errors="coerce")
            whole = num.notna() & (num == np.floor(num)) & (num >= 0)
            bad = ~empty & ~whole.to_numpy()
            _mark(problem, bad, col.name, "not_a_number", "is not a whole number", s)
            big = ~empty & whole.to_numpy() & (num > (col.max or np.inf)).to_numpy()
            _mark(problem, big, col.name, "out_of_range", f"is above {col.max}", s)
            out[col.name] = pd.array(num.where(whole).round(), dtype="Int64")
            continue
        elif col.type == "code":
            valid, pad = _codes(col)
            norm = s.str.upper() if col.code_list == "industry" else s
            if pad:
                short = norm.str.fullmatch(r"\d+") & (norm.str.len() < pad)
                norm = norm.where(~short, norm.str.zfill(pad))
            bad = ~empty & ~norm.isin(valid).to_numpy()
            reason, detail = "unknown_code", f"is not in the {col.code_list} code list"
            out[col.name] = norm
        elif col.type == "ym":
            parts = s.str.extract(YM)
            year = pd.to_numeric(parts[0], errors="coerce")
            month = pd.to_numeric(parts[1].fillna(parts[2]), errors="coerce")
            okd = year.between(MIN_YEAR, MAX_YEAR) & month.between(1, 12)
            bad = ~empty & ~okd.to_numpy()
            reason, detail = "bad_date", f"is not a year-month between {MIN_YEAR} and {MAX_YEAR}"
            out[col.name + ":year"] = pd.array(year.where(okd), dtype="Int64")
            out[col.name + ":month"] = pd.array(month.where(okd), dtype="Int64")
        elif col.type == "pattern":
            bad = ~empty & ~s.str.fullmatch(col.pattern or ".*").to_numpy()
            reason, detail = "bad_format", f"does not match {col.pattern}"
            out[col.name] = s
        else:  # text and list
            limit = TEXT_LIMITS.get(col.name, 400)
            bad = (s.str.len() > limit).to_numpy()
            reason, detail = "too_long", f"is longer than {limit} characters"
            out[col.name] = s
        _mark(problem, bad, col.name, reason, detail, s)
    good_mask = np.array([p is None for p in problem], dtype=bool)
    for j in np.flatnonzero(~good_mask):
        field, reason, detail = problem[j]
        i = ok_idx[j]
        rejects.append(Reject(int(line_arr[j]), field, reason, f"{file_name}, line {lines[i]}, field {field}: {detail}", raws[i]))
    good = pd.DataFrame({k: (v[good_mask] if isinstance(v, pd.Series) else v[good_mask]) for k, v in out.items()})
    good = good.reset_index(drop=True)
    good["line"] = line_arr[good_mask]
    rejects.sort(key=lambda r: r.line)
    return Validated(good, rejects)


def _mark(problem: np.ndarray, bad: np.ndarray, field: str, reason: str, detail: str, values: pd.Series) -> None:
    """Record the first problem of each bad row, with its value shown only if not personal."""
    for j in np.flatnonzero(bad):
        if problem[j] is None:
            shown = mask_value(field, values.iat[j]) if field in PERSONAL_FIELDS else values.iat[j]
            problem[j] = (field, reason, f"value {shown[:40]!r} {detail}" if shown else f"value is empty: {detail}")
