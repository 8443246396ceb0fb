"""Vectorised interpretation of compiled rules over pandas columns (nullable, three-valued).

Values are pandas Series with nullable dtypes (``Int64``/``Float64``, ``string``, ``boolean``)
or plain scalars; ``pd.NA`` is "missing". Comparisons and arithmetic with a missing operand give
missing; ``and``/``or``/``not`` follow Kleene logic (false and NA = false, true or NA = true).
A rule whose test is missing for a unit is *not applicable* to it.

Household aggregates evaluate their argument over the members and group by household key;
members whose condition is unknown are not counted (count_if, exists_one), any() is true when
one member's condition is true, all() when none is false; sum/min/max skip missing values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rules.language import BinOp, BoolOp, Call, Compare, Const, FieldRef, ListLit, Node, Param, Unary

ID_WEIGHTS = np.array([2 ** (17 - i) % 11 for i in range(17)], dtype=np.int64)


@dataclass
class Frame:
    """What a rule sees: the units of its scope and, for aggregates, the household members.

    ``units`` is indexed 0..n-1. ``unit_household`` gives each unit's household key (person
    scope: the person's household; household scope: the household itself). ``duplicates``
    holds, per field used under is_unique(), the values held by more than one record in the
    whole data set (computed beforehand over the store, so chunks agree with the whole).
    """

    units: pd.DataFrame
    members: pd.DataFrame | None = None
    unit_household: pd.Series | None = None
    duplicates: dict[str, set] = field(default_factory=dict)
    _agg_cache: dict = field(default_factory=dict)


def evaluate(node: Node, frame: Frame) -> pd.Series | object:
    """The value of ``node`` for every unit (a Series of length n) or a scalar."""
    return _eval(node, frame, frame.units)


def rule_status(node: Node, when: Node | None, frame: Frame) -> np.ndarray:
    """Per unit: 1 pass, 0 fail, -1 not applicable (``when`` false/unknown, or test unknown)."""
    n = len(frame.units)
    result = _as_bool(evaluate(node, frame), n)
    status = np.where(result.isna().to_numpy(), -1, np.where(result.fillna(False).to_numpy(bool), 1, 0))
    if when is not None:
        applies = _as_bool(evaluate(when, frame), n).fillna(False).to_numpy(bool)
        status = np.where(applies, status, -1)
    return status.astype(np.int8)


def _as_bool(v, n: int) -> pd.Series:
    if isinstance(v, pd.Series):
        return _boolean(v)
    return pd.Series([v] * n, dtype="boolean")


def _boolean(v: pd.Series) -> pd.Series:
    """To pandas' masked boolean. Arrow-backed results (string comparisons, regex matches) are
    converted through their buffers: ``astype('boolean')`` on them costs ~10x the comparison."""
    if isinstance(v.dtype, pd.ArrowDtype):
        arr = pa.chunked_array(v.array.__arrow_array__()).combine_chunks()
        values = arr.fill_null(False).to_numpy(zero_copy_only=False)
        mask = arr.is_null().to_numpy(zero_copy_only=False)
        return pd.Series(pd.arrays.BooleanArray(values, mask), index=v.index)
    return v if v.dtype == "boolean" else v.astype("boolean")


def _eval(node: Node, fr: Frame, data: pd.DataFrame):
    if isinstance(node, Const | Param):
        return node.value
    if isinstance(node, FieldRef):
        return data[node.name]
    if isinstance(node, ListLit):
        return list(node.values)
    if isinstance(node, Unary):
        v = _eval(node.operand, fr, data)
        if node.op == "not":
            return (~v) if isinstance(v, pd.Series) else (pd.NA if v is pd.NA else not v)
        return -v
    if isinstance(node, BoolOp):
        vals = [_eval(v, fr, data) for v in node.values]
        out = vals[0]
        for v in vals[1:]:
            out = _kleene(out, v, node.op)
        return out
    if isinstance(node, Compare):
        return _compare(node.op, _eval(node.left, fr, data), _eval(node.right, fr, data), len(data))
    if isinstance(node, BinOp):
        return _arith(node.op, _eval(node.left, fr, data), _eval(node.right, fr, data))
    if isinstance(node, Call):
        return _call(node, fr, data)
    raise TypeError(f"cannot evaluate {type(node).__name__}")  # pragma: no cover - the compiler refuses it


def _kleene(a, b, op: str):
    if not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
        if op == "and":
            return False if (a is False or b is False) else (pd.NA if (a is pd.NA or b is pd.NA) else True)
        return True if (a is True or b is True) else (pd.NA if (a is pd.NA or b is pd.NA) else False)
    if not isinstance(a, pd.Series):
        a, b = b, a
    a = _boolean(a)
    if isinstance(b, pd.Series):
        b = _boolean(b)
    return (a & b) if op == "and" else (a | b)


def _compare(op: str, a, b, n: int):
    if op in ("in", "notin"):
        values = b
        if isinstance(a, pd.Series):
            res = pd.Series(pd.arrays.BooleanArray(a.isin(values).to_numpy(bool), a.isna().to_numpy()), index=a.index)
        else:
            res = pd.NA if a is pd.NA else (a in values)
        if op == "notin":
            res = (~res) if isinstance(res, pd.Series) else (pd.NA if res is pd.NA else not res)
        return res
    if not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
        if a is pd.NA or b is pd.NA:
            return pd.NA
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    ops = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
    if isinstance(a, pd.Series):
        return _boolean(getattr(a, ops[op])(b))
    flipped = {"==": "eq", "!=": "ne", "<": "gt", "<=": "ge", ">": "lt", ">=": "le"}
    return _boolean(getattr(b, flipped[op])(a))


def _arith(op: str, a, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    # division: a zero divisor gives missing, not infinity
    if isinstance(b, pd.Series):
        b = b.astype("Float64").mask(b == 0)
    elif b == 0:
        return pd.NA if not isinstance(a, pd.Series) else pd.Series(pd.NA, index=a.index, dtype="Float64")
    if isinstance(a, pd.Series):
        a = a.astype("Float64")
    if op == "/":
        return a / b
    if op == "//":
        return a // b
    return a % b


# ------------------------------------------------------------------------- functions
def _str(v) -> pd.Series:
    if isinstance(v, pd.Series) and v.dtype != "string[pyarrow]":
        return v.astype("string[pyarrow]")
    return v


def _id_parts(node: Node, v: pd.Series, fr: Frame) -> dict[str, np.ndarray]:
    """Parse an ID number column once per frame: well-formed mask, check result, birth date,
    sex digit parity, province code. Every id_*() call on the same field reuses it."""
    key = ("id", node.name) if isinstance(node, FieldRef) else None
    if key is not None and key in fr._agg_cache:
        return fr._agg_cache[key]
    n = len(v)
    arrow = pa.array(v.astype("string[pyarrow]").array) if n else pa.array([], pa.string())
    ok = pc.match_substring_regex(arrow, r"^\d{17}[\dX]$").fill_null(False).to_numpy(zero_copy_only=False)
    good = pc.filter(arrow, pa.array(ok)).to_numpy(zero_copy_only=False)
    raw = (np.frombuffer("".join(good).encode("ascii"), dtype=np.uint8).reshape(-1, 18) if len(good)
           else np.zeros((0, 18), np.uint8))
    d = raw[:, :17].astype(np.int64) - ord("0")
    out = {"ok": ok}
    for name, cols in (("year", (6, 10)), ("month", (10, 12)), ("day", (12, 14))):
        full = np.full(n, np.nan)
        part = d[:, cols[0]:cols[1]]
        full[ok] = part @ (10 ** np.arange(part.shape[1] - 1, -1, -1))
        out[name] = full
    check = np.zeros(n, dtype=bool)
    check[ok] = np.frombuffer(b"10X98765432", dtype=np.uint8)[(d @ ID_WEIGHTS) % 11] == raw[:, 17]
    out["check"] = check
    sex = np.full(n, None, dtype=object)
    sex[ok] = np.where(d[:, 16] % 2 == 1, "1", "2")
    out["sex"] = sex
    prov = np.full(n, None, dtype=object)
    prov[ok] = raw[:, :2].copy().view("S2").ravel().astype(str)
    out["province"] = prov
    if key is not None:
        fr._agg_cache[key] = out
    return out


def _masked(values: np.ndarray, ok: np.ndarray, index: pd.Index, dtype: str) -> pd.Series:
    out = pd.Series(values, index=index)
    if dtype == "boolean":
        return out.astype("boolean").where(ok, pd.NA)
    return out.astype(dtype)


def _call(node: Call, fr: Frame, data: pd.DataFrame):
    name = node.name
    if name in AGGREGATES:
        return _aggregate(node, fr, data)
    args = [_eval(a, fr, data) for a in node.args]
    if name == "is_missing":
        v = args[0]
        if isinstance(v, pd.Series):   # frames hold empty text as missing already
            return pd.Series(pd.arrays.BooleanArray(v.isna().to_numpy(), np.zeros(len(v), bool)), index=v.index)
        return v is pd.NA or v == ""
    if name == "between":
        x, lo, hi = args
        return _kleene(_compare(">=", x, lo, 0), _compare("<=", x, hi, 0), "and")
    if name == "length":
        return _str(args[0]).str.len().astype("Float64")
    if name == "substr":
        s, start, length = args
        return _str(s).str.slice(int(start), int(start) + int(length))
    if name == "matches":
        return _boolean(_str(args[0]).str.fullmatch(args[1]))
    if name == "to_num":
        return pd.to_numeric(_str(args[0]), errors="coerce").astype("Float64")
    if name == "abs":
        return args[0].abs() if isinstance(args[0], pd.Series) else abs(args[0])
    if name == "months":
        return args[0] * 12 + args[1] - 1
    if name == "age_at":
        by, bm, ry, rm = args
        return ry - by - _ge(bm, rm)
    if name.startswith("id_"):
        v = args[0]
        if not isinstance(v, pd.Series):
            v = pd.Series([v] * len(data), index=data.index, dtype="string")
        parts = _id_parts(node.args[0], v, fr)
        ok = parts["ok"]
        if name == "id_well_formed":
            res = pd.Series(ok, index=v.index).astype("boolean")
            return res.mask(v.isna().to_numpy(), pd.NA)
        if name == "id_check_ok":
            return _masked(parts["check"], ok, v.index, "boolean")
        if name in ("id_birth_year", "id_birth_month", "id_birth_day"):
            return pd.Series(pd.array(parts[name.removeprefix("id_birth_")], dtype="Float64"), index=v.index)
        return pd.Series(parts[name.removeprefix("id_")], index=v.index, dtype="string[pyarrow]")
    if name == "is_unique":
        s = args[0]
        dups = fr.duplicates.get(node.args[0].name, set())
        res = (~s.isin(dups)).astype("boolean")
        res[s.isna()] = pd.NA
        return res
    raise TypeError(f"unknown function {name}")  # pragma: no cover


def _ge(a, b):
    if isinstance(a, pd.Series) or isinstance(b, pd.Series):
        return _compare(">=", a, b, 0).astype("Int64")
    return pd.NA if (a is pd.NA or b is pd.NA) else int(a >= b)


AGGREGATES = {"count", "count_if", "exists_one", "any", "all", "sum", "min", "max", "head"}


def _households(fr: Frame) -> tuple[np.ndarray, int, np.ndarray]:
    """Members' household codes (0..G-1), G, and each unit's code (-1: household without members).
    Factorised once per frame: every aggregate then works on integer codes."""
    if "hh" not in fr._agg_cache:
        codes, uniques = pd.factorize(fr.members["household_key"].to_numpy(dtype=object))
        unit_codes = pd.Index(uniques).get_indexer(fr.unit_household.to_numpy(dtype=object))
        fr._agg_cache["hh"] = (codes, len(uniques), unit_codes)
    return fr._agg_cache["hh"]


def _aggregate(node: Call, fr: Frame, data: pd.DataFrame):
    """Household aggregate over the members, aligned to the units (never nested: the compiler
    refuses an aggregate inside another)."""
    if fr.members is None or fr.unit_household is None:
        raise ValueError(f"{node.name}() needs household members in the frame")
    codes, groups, unit_codes = _households(fr)
    key = (node.name, node.args)
    if key not in fr._agg_cache:
        m = fr.members
        name = node.name
        if name == "count":
            per, default = np.bincount(codes, minlength=groups).astype(float), 0.0
        elif name == "head":
            v = _eval(node.args[0], fr, m)
            is_head = (m["relationship"] == "0").fillna(False).to_numpy(bool)
            rows = np.flatnonzero(is_head)
            first = np.full(groups, -1, dtype=np.int64)
            first[codes[rows][::-1]] = rows[::-1]          # the first head listed wins
            per, default = (v, first), None
        else:
            v = _eval(node.args[0], fr, m)
            v = v if isinstance(v, pd.Series) else pd.Series([v] * len(m), index=m.index)
            if name in ("count_if", "exists_one", "any", "all"):
                b = _boolean(v)
                true = np.bincount(codes, weights=b.fillna(False).to_numpy(bool), minlength=groups)
                if name == "all":
                    false = np.bincount(codes, weights=(~b).fillna(False).to_numpy(bool), minlength=groups)
                    per, default = false == 0, True
                elif name == "any":
                    per, default = true > 0, False
                elif name == "exists_one":
                    per, default = true == 1, False
                else:
                    per, default = true, 0.0
            else:
                x = v.astype("Float64")
                present = x.notna().to_numpy()
                if name == "sum":
                    per = np.bincount(codes, weights=x.fillna(0).to_numpy(float), minlength=groups)
                    default = 0.0
                else:
                    g = pd.Series(x.to_numpy(float, na_value=np.nan)[present]).groupby(codes[present])
                    agg = g.min() if name == "min" else g.max()
                    per = agg.reindex(range(groups)).to_numpy()
                    default = np.nan
        fr._agg_cache[key] = (per, default)
    per, default = fr._agg_cache[key]
    has = unit_codes >= 0
    safe = np.where(has, unit_codes, 0)
    if node.name == "head":
        v, first = per
        rows = np.where(has, first[safe], -1)
        found = rows >= 0
        if isinstance(v, pd.Series):
            vals = v.take(np.where(found, rows, 0)).reset_index(drop=True)
            vals.index = data.index
            return vals.mask(~found)
        return pd.Series([v if f else pd.NA for f in found], index=data.index)
    out = np.where(has, per[safe] if len(per) else default, default)
    if node.type == "bool":
        return pd.Series(out.astype(bool), index=data.index).astype("boolean")
    return pd.Series(pd.array(out.astype(float), dtype="Float64"), index=data.index)
