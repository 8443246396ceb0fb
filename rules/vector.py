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
        return v.astype("boolean")
    return pd.Series([v] * n, dtype="boolean")


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
    a = a.astype("boolean")
    if isinstance(b, pd.Series):
        b = b.astype("boolean")
    return (a & b) if op == "and" else (a | b)


def _compare(op: str, a, b, n: int):
    if op in ("in", "notin"):
        values = b
        if isinstance(a, pd.Series):
            res = a.isin(values).astype("boolean")
            res[a.isna()] = pd.NA
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
        return getattr(a, ops[op])(b).astype("boolean")
    flipped = {"==": "eq", "!=": "ne", "<": "gt", "<=": "ge", ">": "lt", ">=": "le"}
    return getattr(b, flipped[op])(a).astype("boolean")


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
    return v.astype("string") if isinstance(v, pd.Series) else v


def _id_digits(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(well-formed mask, 18-column uint8 matrix of the well-formed ones)."""
    ok = s.astype("string").str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(bool)
    good = s[ok].astype(str).to_numpy()
    raw = np.frombuffer("".join(good).encode("ascii"), dtype=np.uint8).reshape(-1, 18) if len(good) else np.zeros((0, 18), np.uint8)
    return ok, raw


def _id_part(s: pd.Series, start: int, stop: int, numeric: bool):
    part = s.astype("string").str.slice(start, stop)
    well = s.astype("string").str.fullmatch(r"\d{17}[\dX]").fillna(False)
    part = part.where(well, pd.NA)
    return pd.to_numeric(part, errors="coerce").astype("Int64") if numeric else part


def _call(node: Call, fr: Frame, data: pd.DataFrame):
    name = node.name
    if name in AGGREGATES:
        return _aggregate(node, fr, data)
    args = [_eval(a, fr, data) for a in node.args]
    if name == "is_missing":
        v = args[0]
        if isinstance(v, pd.Series):
            miss = v.isna()
            if v.dtype == "string" or v.dtype == object:
                miss = miss | (v.astype("string") == "").fillna(True)
            return miss.astype("boolean")
        return v is pd.NA or v == ""
    if name == "between":
        x, lo, hi = args
        return _kleene(_compare(">=", x, lo, 0), _compare("<=", x, hi, 0), "and")
    if name == "length":
        return _str(args[0]).str.len().astype("Int64")
    if name == "substr":
        s, start, length = args
        return _str(s).str.slice(int(start), int(start) + int(length))
    if name == "matches":
        s = _str(args[0])
        res = s.str.fullmatch(args[1]).astype("boolean")
        return res
    if name == "to_num":
        return pd.to_numeric(_str(args[0]), errors="coerce").astype("Float64")
    if name == "abs":
        return args[0].abs() if isinstance(args[0], pd.Series) else abs(args[0])
    if name == "months":
        return args[0] * 12 + args[1] - 1
    if name == "age_at":
        by, bm, ry, rm = args
        return ry - by - _ge(bm, rm)
    if name == "id_well_formed":
        return _str(args[0]).str.fullmatch(r"\d{17}[\dX]").astype("boolean")
    if name == "id_check_ok":
        s = args[0]
        ok, raw = _id_digits(s)
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        if len(raw):
            digits = raw[:, :17].astype(np.int64) - ord("0")
            expected = np.frombuffer(b"10X98765432", dtype=np.uint8)[(digits @ ID_WEIGHTS) % 11]
            out[ok] = expected == raw[:, 17]
        return out
    if name == "id_birth_year":
        return _id_part(args[0], 6, 10, True)
    if name == "id_birth_month":
        return _id_part(args[0], 10, 12, True)
    if name == "id_birth_day":
        return _id_part(args[0], 12, 14, True)
    if name == "id_sex":
        d = _id_part(args[0], 16, 17, True)
        return (d % 2).map({1: "1", 0: "2"}, na_action="ignore").astype("string")
    if name == "id_province":
        return _id_part(args[0], 0, 2, False)
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


def _aggregate(node: Call, fr: Frame, data: pd.DataFrame):
    """Household aggregate, computed over the members and aligned to the units."""
    if fr.members is None or fr.unit_household is None:
        raise ValueError(f"{node.name}() needs household members in the frame")
    key = (node.name, node.args)
    if key not in fr._agg_cache:
        m = fr.members
        hh = m["household_key"]
        if node.name == "count":
            per = hh.value_counts()
            default = 0
        elif node.name == "head":
            v = _eval(node.args[0], fr, m)
            is_head = (m["relationship"] == "0").fillna(False).to_numpy(bool)
            heads = pd.Series(np.asarray(v, dtype=object)[is_head] if isinstance(v, pd.Series) else v,
                              index=hh[is_head].to_numpy())
            per = heads[~heads.index.duplicated(keep="first")]
            if isinstance(v, pd.Series):
                per = per.astype(v.dtype)
            default = pd.NA
        else:
            v = _eval(node.args[0], fr, m)
            v = v if isinstance(v, pd.Series) else pd.Series([v] * len(m), index=m.index)
            g = v.groupby(hh.to_numpy())
            if node.name in ("count_if", "exists_one"):
                per = v.astype("boolean").fillna(False).astype(int).groupby(hh.to_numpy()).sum()
                if node.name == "exists_one":
                    per = per == 1
                default = 0 if node.name == "count_if" else False
            elif node.name == "any":
                per = v.astype("boolean").fillna(False).groupby(hh.to_numpy()).any()
                default = False
            elif node.name == "all":
                per = v.astype("boolean").fillna(True).groupby(hh.to_numpy()).all()
                default = True
            else:  # sum, min, max skip missing values
                per = getattr(g, node.name)(min_count=1) if node.name == "sum" else getattr(g, node.name)()
                default = 0 if node.name == "sum" else pd.NA
        fr._agg_cache[key] = (per, default)
    per, default = fr._agg_cache[key]
    keys = fr.unit_household if data is fr.units else data["household_key"]
    out = keys.map(per)
    dtype = "boolean" if node.type == "bool" else ("Float64" if node.type == "num" else "string")
    if node.name == "head" and node.type == "num":
        dtype = "Float64"
    out = out.astype(object).where(out.notna(), default)
    return pd.Series(out.to_numpy(), index=data.index).astype(dtype)
