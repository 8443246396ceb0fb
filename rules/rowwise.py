"""A plain, row-by-row interpreter of the same compiled rules: the reference the vectorised
evaluator is tested against (hypothesis) and benchmarked against. ``None`` is missing."""

from __future__ import annotations

import re
from typing import Any

from audit_engine.codes.citizen_id import CHECK_CHARS, WEIGHTS
from rules.language import BinOp, BoolOp, Call, Compare, Const, FieldRef, ListLit, Node, Param, Unary

Row = dict[str, Any]


def status(test: Node, when: Node | None, unit: Row, members: list[Row], duplicates: dict[str, set]) -> int:
    """1 pass, 0 fail, -1 not applicable, for one unit (a person or a household)."""
    if when is not None and ev(when, unit, members, duplicates) is not True:
        return -1
    v = ev(test, unit, members, duplicates)
    return -1 if v is None else (1 if v else 0)


def ev(node: Node, row: Row, members: list[Row], dup: dict[str, set]) -> Any:
    if isinstance(node, Const | Param):
        return node.value
    if isinstance(node, FieldRef):
        v = row.get(node.name)
        return v
    if isinstance(node, ListLit):
        return list(node.values)
    if isinstance(node, Unary):
        v = ev(node.operand, row, members, dup)
        if v is None:
            return None
        return (not v) if node.op == "not" else -v
    if isinstance(node, BoolOp):
        vals = [ev(v, row, members, dup) for v in node.values]
        if node.op == "and":
            return False if any(v is False for v in vals) else (None if any(v is None for v in vals) else True)
        return True if any(v is True for v in vals) else (None if any(v is None for v in vals) else False)
    if isinstance(node, Compare):
        a, b = ev(node.left, row, members, dup), ev(node.right, row, members, dup)
        if a is None:
            return None
        if node.op in ("in", "notin"):
            return (a in b) if node.op == "in" else (a not in b)
        if b is None:
            return None
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]
    if isinstance(node, BinOp):
        a, b = ev(node.left, row, members, dup), ev(node.right, row, members, dup)
        if a is None or b is None:
            return None
        if node.op in ("/", "//", "%") and b == 0:
            return None
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                "//": lambda: float(a // b), "%": lambda: float(a % b)}[node.op]()
    if isinstance(node, Call):
        return _call(node, row, members, dup)
    raise TypeError(type(node).__name__)  # pragma: no cover


def _id(s: Any) -> str | None:
    return s if isinstance(s, str) and re.fullmatch(r"\d{17}[\dX]", s) else None


def _call(node: Call, row: Row, members: list[Row], dup: dict[str, set]) -> Any:
    n = node.name
    if n in ("count", "count_if", "exists_one", "any", "all", "sum", "min", "max", "head"):
        if n == "count":
            return len(members)
        if n == "head":
            heads = [m for m in members if m.get("relationship") == "0"]
            return ev(node.args[0], heads[0], members, dup) if heads else None
        vals = [ev(node.args[0], m, members, dup) for m in members]
        if n == "count_if":
            return sum(1 for v in vals if v is True)
        if n == "exists_one":
            return sum(1 for v in vals if v is True) == 1
        if n == "any":
            return any(v is True for v in vals)
        if n == "all":
            return all(v is not False for v in vals)
        present = [v for v in vals if v is not None]
        if n == "sum":
            return sum(present) if present else 0
        return (min(present) if n == "min" else max(present)) if present else None
    args = [ev(a, row, members, dup) for a in node.args]
    if n == "is_missing":
        return args[0] is None or args[0] == ""
    if n == "between":
        x, lo, hi = args
        lo_ok = None if x is None or lo is None else x >= lo
        hi_ok = None if x is None or hi is None else x <= hi
        return False if (lo_ok is False or hi_ok is False) else (None if (lo_ok is None or hi_ok is None) else True)
    if any(a is None for a in args):
        return None
    if n == "length":
        return len(args[0])
    if n == "substr":
        s, start, length = args
        return s[int(start):int(start) + int(length)]
    if n == "matches":
        return re.fullmatch(args[1], args[0]) is not None
    if n == "to_num":
        try:
            return float(args[0])
        except ValueError:
            return None
    if n == "abs":
        return abs(args[0])
    if n == "months":
        return args[0] * 12 + args[1] - 1
    if n == "age_at":
        by, bm, ry, rm = args
        return ry - by - (1 if bm >= rm else 0)
    if n == "id_well_formed":
        return _id(args[0]) is not None
    if n == "is_unique":
        return args[0] not in dup.get(node.args[0].name, set())
    s = _id(args[0])
    if s is None:
        return None
    if n == "id_check_ok":
        return CHECK_CHARS[sum(int(d) * int(w) for d, w in zip(s[:17], WEIGHTS, strict=True)) % 11] == s[17]
    if n == "id_birth_year":
        return int(s[6:10])
    if n == "id_birth_month":
        return int(s[10:12])
    if n == "id_birth_day":
        return int(s[12:14])
    if n == "id_sex":
        return "1" if int(s[16]) % 2 == 1 else "2"
    if n == "id_province":
        return s[:2]
    raise TypeError(n)  # pragma: no cover
