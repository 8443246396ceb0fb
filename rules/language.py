"""The rule expression language: parsed, whitelisted and type-checked; never evaluated by Python.

Rule text is parsed with :func:`ast.parse` (which only builds a tree, it runs nothing) and then
translated node by node into this module's own small tree. Anything not on the whitelist —
attribute access, subscripts, lambdas, comprehensions, keyword arguments, ``**``, unknown
names or functions — is refused with the rule id and the position in the expression. Both
evaluators (vectorised and row-by-row) interpret only this tree.

Grammar (Python-like)::

    expr   := expr 'or' expr | expr 'and' expr | 'not' expr | comparison
    comparison := sum (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') sum)*
    sum    := sum ('+' | '-') term | term ;  term := term ('*' | '/' | '//' | '%') unary
    unary  := '-' unary | atom
    atom   := NUMBER | 'text' | True | False | NAME | NAME '(' args ')' | '[' literals ']' | '(' expr ')'

NAME is a field of the rule's scope or a parameter of the rule set.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from rules.fields import MEMBER_FIELDS, SCOPE_FIELDS, Field

MAX_TEXT = 2_000
MAX_DEPTH = 40
MAX_LITERAL = 10**12


class RuleError(ValueError):
    """A rule that cannot be loaded: names the rule and, where it helps, the position."""

    def __init__(self, rule_id: str, message: str, line: int | None = None, col: int | None = None,
                 where: str = "") -> None:
        pos = f" at line {line}, column {col}" if line is not None else ""
        super().__init__(f"rule {rule_id}{where}{pos}: {message}")
        self.rule_id, self.line, self.col = rule_id, line, col


# ------------------------------------------------------------------------- the tree
@dataclass(frozen=True)
class Node:
    type: str = field(default="", compare=False)   # num / str / bool / list


@dataclass(frozen=True)
class Const(Node):
    value: object = None


@dataclass(frozen=True)
class ListLit(Node):
    values: tuple = ()
    elem: str = ""


@dataclass(frozen=True)
class FieldRef(Node):
    name: str = ""
    member: bool = False      # a household member's field, inside an aggregate


@dataclass(frozen=True)
class Param(Node):
    name: str = ""
    value: object = None


@dataclass(frozen=True)
class Unary(Node):
    op: str = ""              # not / neg
    operand: Node = None      # type: ignore[assignment]


@dataclass(frozen=True)
class BinOp(Node):
    op: str = ""              # + - * / // %
    left: Node = None         # type: ignore[assignment]
    right: Node = None        # type: ignore[assignment]


@dataclass(frozen=True)
class Compare(Node):
    op: str = ""              # == != < <= > >= in notin
    left: Node = None         # type: ignore[assignment]
    right: Node = None        # type: ignore[assignment]


@dataclass(frozen=True)
class BoolOp(Node):
    op: str = ""              # and / or
    values: tuple = ()


@dataclass(frozen=True)
class Call(Node):
    name: str = ""
    args: tuple = ()


# ------------------------------------------------------------------------- functions
@dataclass(frozen=True)
class Signature:
    args: tuple[str, ...]          # argument types: num, str, bool, any, member:num, member:bool, member:any, lit:str
    returns: str                   # num / str / bool / list / same
    kind: str = "scalar"           # scalar / aggregate / dataset
    scopes: tuple[str, ...] = ("person", "household", "dataset", "death")


AGG_SCOPES = ("person", "household")
FUNCTIONS: dict[str, Signature] = {
    "is_missing": Signature(("any",), "bool"),
    "between": Signature(("num", "num", "num"), "bool"),
    "codes": Signature(("lit:str",), "list"),
    "length": Signature(("str",), "num"),
    "substr": Signature(("str", "num", "num"), "str"),
    "matches": Signature(("str", "lit:str"), "bool"),
    "to_num": Signature(("str",), "num"),
    "abs": Signature(("num",), "num"),
    "months": Signature(("num", "num"), "num"),                      # year*12 + month - 1
    "age_at": Signature(("num", "num", "num", "num"), "num"),        # completed years
    "id_well_formed": Signature(("str",), "bool"),
    "id_check_ok": Signature(("str",), "bool"),
    "id_birth_year": Signature(("str",), "num"),
    "id_birth_month": Signature(("str",), "num"),
    "id_birth_day": Signature(("str",), "num"),
    "id_sex": Signature(("str",), "str"),
    "id_province": Signature(("str",), "str"),
    "count": Signature((), "num", "aggregate", AGG_SCOPES),
    "count_if": Signature(("member:bool",), "num", "aggregate", AGG_SCOPES),
    "exists_one": Signature(("member:bool",), "bool", "aggregate", AGG_SCOPES),
    "any": Signature(("member:bool",), "bool", "aggregate", AGG_SCOPES),
    "all": Signature(("member:bool",), "bool", "aggregate", AGG_SCOPES),
    "sum": Signature(("member:num",), "num", "aggregate", AGG_SCOPES),
    "min": Signature(("member:num",), "num", "aggregate", AGG_SCOPES),
    "max": Signature(("member:num",), "num", "aggregate", AGG_SCOPES),
    "head": Signature(("member:any",), "same", "aggregate", AGG_SCOPES),   # the head's value
    "is_unique": Signature(("str",), "bool", "dataset", ("dataset",)),
}


# ------------------------------------------------------------------------- compile
@dataclass(frozen=True)
class Compiled:
    tree: Node
    fields: tuple[str, ...]          # fields named (own scope and members), for flags and localisation
    uses_aggregates: bool
    dataset_fields: tuple[str, ...]  # fields under is_unique(), precomputed over the whole data


def compile_expr(text: str, *, rule_id: str, scope: str, params: dict[str, object],
                 where: str = "") -> Compiled:
    """Parse and check one expression; raise :class:`RuleError` on anything not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise RuleError(rule_id, "the expression is empty", where=where)
    if len(text) > MAX_TEXT:
        raise RuleError(rule_id, f"the expression is longer than {MAX_TEXT} characters", where=where)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise RuleError(rule_id, f"syntax error: {exc.msg}", exc.lineno, exc.offset, where) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise RuleError(rule_id, f"the expression cannot be parsed ({type(exc).__name__}: too deeply nested?)",
                        where=where) from None
    b = _Builder(rule_id, scope, params, where)
    node = b.build(tree.body, 0, member=False)
    if node.type != "bool":
        raise RuleError(rule_id, f"a rule must be a true/false test, this expression gives {node.type}", where=where)
    return Compiled(node, tuple(dict.fromkeys(b.fields)), b.aggregates, tuple(dict.fromkeys(b.dataset_fields)))


class _Builder:
    def __init__(self, rule_id: str, scope: str, params: dict[str, object], where: str) -> None:
        self.rule_id, self.scope, self.params, self.where = rule_id, scope, params, where
        self.fields: list[str] = []
        self.dataset_fields: list[str] = []
        self.aggregates = False

    def err(self, node: ast.AST, message: str) -> RuleError:
        return RuleError(self.rule_id, message, getattr(node, "lineno", None),
                         (getattr(node, "col_offset", -1) or 0) + 1, self.where)

    def build(self, n: ast.AST, depth: int, member: bool) -> Node:
        if depth > MAX_DEPTH:
            raise self.err(n, f"the expression is nested more than {MAX_DEPTH} levels deep")
        d = depth + 1
        if isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, bool):
                return Const("bool", v)
            if isinstance(v, int | float):
                if abs(v) > MAX_LITERAL:
                    raise self.err(n, f"number {v!r} is too large")
                return Const("num", v)
            if isinstance(v, str):
                return Const("str", v)
            raise self.err(n, f"constant {v!r} is not allowed (numbers, 'text', True, False)")
        if isinstance(n, ast.Name):
            return self.name(n, member)
        if isinstance(n, ast.List | ast.Tuple):
            vals = [self.build(e, d, member) for e in n.elts]
            if not vals or not all(isinstance(v, Const) for v in vals):
                raise self.err(n, "a list must hold constants, e.g. ['1', '2']")
            types = {v.type for v in vals}
            if len(types) != 1:
                raise self.err(n, "a list must hold values of one type")
            return ListLit("list", tuple(v.value for v in vals), types.pop())
        if isinstance(n, ast.UnaryOp):
            operand = self.build(n.operand, d, member)
            if isinstance(n.op, ast.Not):
                self.expect(n, operand, "bool")
                return Unary("bool", "not", operand)
            if isinstance(n.op, ast.USub | ast.UAdd):
                self.expect(n, operand, "num")
                return operand if isinstance(n.op, ast.UAdd) else Unary("num", "neg", operand)
            raise self.err(n, "operator not allowed")
        if isinstance(n, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}
            op = ops.get(type(n.op))
            if op is None:
                raise self.err(n, f"operator {type(n.op).__name__} is not allowed (use + - * / // %)")
            left, right = self.build(n.left, d, member), self.build(n.right, d, member)
            self.expect(n, left, "num")
            self.expect(n, right, "num")
            return BinOp("num", op, left, right)
        if isinstance(n, ast.BoolOp):
            vals = tuple(self.build(v, d, member) for v in n.values)
            for v in vals:
                self.expect(n, v, "bool")
            return BoolOp("bool", "and" if isinstance(n.op, ast.And) else "or", vals)
        if isinstance(n, ast.Compare):
            return self.compare(n, d, member)
        if isinstance(n, ast.Call):
            return self.call(n, d, member)
        raise self.err(n, f"{type(n).__name__} is not allowed in a rule")

    def expect(self, n: ast.AST, node: Node, type_: str) -> None:
        if node.type != type_:
            raise self.err(n, f"expected a {type_} here, got a {node.type}")

    def name(self, n: ast.Name, member: bool) -> Node:
        fields: dict[str, Field] = MEMBER_FIELDS if member else SCOPE_FIELDS[self.scope]
        if n.id in fields:
            f = fields[n.id]
            self.fields.append(n.id)
            return FieldRef(f.type, n.id, member)
        if n.id in self.params:
            v = self.params[n.id]
            t = "bool" if isinstance(v, bool) else "num" if isinstance(v, int | float) else "str" if isinstance(v, str) else None
            if t is None:
                raise self.err(n, f"parameter {n.id} must be a number, text or true/false")
            return Param(t, n.id, v)
        if n.id in (SCOPE_FIELDS["person"] if self.scope == "household" else {}):
            raise self.err(n, f"{n.id} is a person's field: in a household rule use it inside count_if(), any(), head() …")
        raise self.err(n, f"unknown name {n.id!r} (not a field of a {self.scope} rule, nor a parameter)")

    def compare(self, n: ast.Compare, d: int, member: bool) -> Node:
        ops = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
               ast.In: "in", ast.NotIn: "notin"}
        terms = [self.build(n.left, d, member)] + [self.build(c, d, member) for c in n.comparators]
        parts = []
        for i, op_node in enumerate(n.ops):
            op = ops.get(type(op_node))
            if op is None:
                raise self.err(n, f"comparison {type(op_node).__name__} is not allowed")
            left, right = terms[i], terms[i + 1]
            if op in ("in", "notin"):
                if right.type != "list":
                    raise self.err(n, "'in' needs a list, e.g. x in ['1', '2'] or x in codes('sex')")
                elem = right.elem if isinstance(right, ListLit) else "str"
                if left.type != elem:
                    raise self.err(n, f"'in' compares a {left.type} with a list of {elem}")
                self.check_codes(n, left, right)
            else:
                if left.type != right.type or left.type == "list":
                    raise self.err(n, f"cannot compare a {left.type} with a {right.type}"
                                      + (" (codes are text: write '1', not 1)" if {left.type, right.type} == {"num", "str"} else ""))
                if op in ("==", "!="):
                    for a, b in ((left, right), (right, left)):
                        if isinstance(b, Const):
                            self.check_codes(n, a, ListLit("list", (b.value,), b.type))
            parts.append(Compare("bool", op, left, right))
        return parts[0] if len(parts) == 1 else BoolOp("bool", "and", tuple(parts))

    def check_codes(self, n: ast.AST, left: Node, right: Node) -> None:
        """A literal code compared with a coded field must exist in its code list."""
        if not (isinstance(left, FieldRef) and isinstance(right, ListLit)):
            return
        fields = MEMBER_FIELDS if left.member else SCOPE_FIELDS[self.scope]
        f = fields.get(left.name)
        if f and f.code_list:
            from audit_engine.codes import code_list

            unknown = [v for v in right.values if v not in code_list(f.code_list)]
            if unknown:
                raise self.err(n, f"{unknown!r} not in the {f.code_list} code list (field {left.name})")

    def call(self, n: ast.Call, d: int, member: bool) -> Node:
        if not isinstance(n.func, ast.Name):
            raise self.err(n, "only plain function calls are allowed, e.g. is_missing(x)")
        name = n.func.id
        sig = FUNCTIONS.get(name)
        if sig is None:
            raise self.err(n, f"unknown function {name!r}")
        if n.keywords:
            raise self.err(n, "keyword arguments are not allowed")
        if self.scope not in sig.scopes:
            raise self.err(n, f"{name}() cannot be used in a {self.scope} rule")
        if sig.kind == "aggregate":
            if member:
                raise self.err(n, f"{name}() cannot be nested inside another household aggregate")
            self.aggregates = True
        if len(n.args) != len(sig.args):
            raise self.err(n, f"{name}() takes {len(sig.args)} argument(s), got {len(n.args)}")
        args = []
        for a, want in zip(n.args, sig.args, strict=True):
            if isinstance(a, ast.Starred):
                raise self.err(n, "*args are not allowed")
            if want.startswith("lit:"):
                if not (isinstance(a, ast.Constant) and isinstance(a.value, str)):
                    raise self.err(a, f"{name}() needs a text constant here")
                node = Const("str", a.value)
                if name == "codes":
                    from audit_engine.codes import code_lists

                    if a.value not in code_lists():
                        raise self.err(a, f"unknown code list {a.value!r}")
                if name == "matches":
                    _check_regex(self, a, a.value)
            elif want.startswith("member:"):
                node = self.build(a, d, member=True)
                t = want.split(":")[1]
                if t != "any":
                    self.expect(a, node, t)
            else:
                node = self.build(a, d, member)
                if want != "any":
                    self.expect(a, node, want)
                if sig.kind == "dataset":
                    if not isinstance(node, FieldRef):
                        raise self.err(a, f"{name}() takes a field")
                    self.dataset_fields.append(node.name)
            args.append(node)
        if name == "codes":
            from audit_engine.codes import code_list

            return ListLit("list", code_list(args[0].value).codes, "str")
        returns = args[0].type if sig.returns == "same" else sig.returns
        return Call(returns, name, tuple(args))


def _check_regex(b: _Builder, node: ast.AST, pattern: str) -> None:
    """Patterns run on RE2 (linear time, no catastrophic backtracking); refuse what RE2 refuses."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(pattern) > 200:
        raise b.err(node, "the pattern is longer than 200 characters")
    try:
        pc.match_substring_regex(pa.array(["x"]), pattern=pattern)
    except pa.ArrowInvalid as exc:
        raise b.err(node, f"invalid pattern: {exc}") from None
