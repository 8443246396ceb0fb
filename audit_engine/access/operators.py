"""The operator registry, roles and scopes: who may do what, where.

Roles:

* ``supervision`` (督查组) — runs loads, checks, samples, linkage and estimates; sees aggregates;
* ``qc`` (质量核查员) — reviews flags and clerical items, only in their scope (townships or EAs),
  and is the only role that sees records unmasked, and only there;
* ``leadership`` — reports and aggregates only, never a record;
* ``admin`` — manages operators.

Scope: area-code prefixes (county 6, township 9, village 12, EA 15 digits); an empty scope is the
whole store (not allowed for a QC officer: every officer answers for named areas).

Open mode: while the registry is empty the engine behaves as an unconfigured tool does (the
demo, a newcomer's first load): every command runs for the ``--operator`` named, and review
commands are refused until operators are registered. The first operator must be an admin.
Every refusal is recorded in the ledger (command ``refused``) with the operator, the action and
the area — never the record's personal data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, false, func, insert, or_, select, true, update

from audit_engine.ledger import append as ledger_append
from audit_engine.store.models import Operator

ROLES = ("supervision", "qc", "leadership", "admin")

#: action -> roles allowed to take it
ACTIONS: dict[str, tuple[str, ...]] = {
    "operator.manage": ("admin",),
    "run": ("supervision", "admin"),           # load, check, sample, link, estimate
    "review.read": ("qc",),                    # list / next / show / export records
    "review.decide": ("qc",),
    "report": ("leadership", "supervision", "admin"),
    "aggregate": ROLES,                        # figures without records
}

_PREFIX_LENGTHS = (6, 9, 12, 15)


class Refused(PermissionError):
    """The operator may not take this action (here)."""


@dataclass(frozen=True)
class OperatorInfo:
    name: str
    role: str
    scope: tuple[str, ...]
    active: bool
    session_epoch: int = 0      # web sessions signed in under an older epoch are ended

    def covers(self, ea_code: str | None) -> bool:
        """Whether ``ea_code`` lies in this operator's scope (empty scope: everywhere)."""
        if not self.scope:
            return self.role != "qc"
        return ea_code is not None and any(str(ea_code).startswith(p) for p in self.scope)


def _info(row) -> OperatorInfo:
    return OperatorInfo(row.name, row.role, tuple(json.loads(row.scope or "[]")), bool(row.active),
                        int(row.session_epoch or 0))


def registry_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Operator)).scalar())


def get_operator(engine: Engine, name: str) -> OperatorInfo | None:
    with engine.connect() as conn:
        row = conn.execute(select(Operator.__table__).where(Operator.name == name)).first()
    return None if row is None else _info(row)


def list_operators(engine: Engine) -> list[OperatorInfo]:
    with engine.connect() as conn:
        return [_info(r) for r in conn.execute(select(Operator.__table__).order_by(Operator.name))]


def _check_scope(scope: Iterable[str]) -> list[str]:
    out = []
    for p in scope:
        p = str(p).strip()
        if not p.isdigit() or len(p) not in _PREFIX_LENGTHS:
            raise ValueError(f"scope {p!r}: give area codes of 6 (county), 9 (township), 12 (village) "
                             "or 15 (EA) digits")
        out.append(p)
    return sorted(set(out))


def refuse(engine: Engine, operator: str, action: str, why: str, ea_code: str | None = None) -> Refused:
    """Record a refusal in the ledger and return the exception to raise."""
    ledger_append(engine, operator=operator or "(none)", command="refused",
                  params={"action": action, "ea_code": ea_code}, result={"reason": why})
    return Refused(f"refused: {why}")


def authorize(engine: Engine, operator: str, action: str, ea_code: str | None = None) -> OperatorInfo | None:
    """The operator's record if ``action`` (in ``ea_code``'s area, when given) is allowed.

    Raises :class:`Refused` (and ledgers it) otherwise. In open mode (empty registry) returns
    None for every action but review ones, which need a registered QC officer."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if registry_size(engine) == 0:
        if action.startswith("review"):
            raise refuse(engine, operator, action, "no operators are registered: an admin must register QC "
                         "officers with their scope first (census-audit operator add)", ea_code)
        return None
    op = get_operator(engine, operator)
    if op is None:
        raise refuse(engine, operator, action, f"{operator!r} is not a registered operator", ea_code)
    if not op.active:
        raise refuse(engine, operator, action, f"operator {operator!r} is disabled", ea_code)
    if op.role not in ACTIONS[action]:
        raise refuse(engine, operator, action, f"role {op.role} may not {action.replace('.', ' ')}", ea_code)
    if ea_code is not None and not op.covers(ea_code):
        raise refuse(engine, operator, action, f"EA {ea_code} is outside the scope of {operator}", ea_code)
    return op


def scope_condition(op: OperatorInfo, column):
    """A SQL condition restricting ``column`` (an EA code column) to the operator's scope."""
    if not op.scope:
        return true() if op.role != "qc" else false()
    return or_(*(column.like(f"{p}%") for p in op.scope))


def add_operator(engine: Engine, by: str, name: str, role: str, scope: Iterable[str] = ()) -> OperatorInfo:
    """Register an operator (the first one must be an admin; later ones need an admin)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    scope = _check_scope(scope)
    if role == "qc" and not scope:
        raise ValueError("a QC officer needs a scope: the townships or EAs they review (--scope 320831001)")
    first = registry_size(engine) == 0
    if first and role != "admin":
        raise ValueError("the first operator registered must be an admin")
    if not first:
        authorize(engine, by, "operator.manage")
    if get_operator(engine, name) is not None:
        raise ValueError(f"operator {name!r} already exists")
    with engine.begin() as conn:
        conn.execute(insert(Operator).values(name=name, role=role, scope=json.dumps(scope), active=True,
                                             created_by=by, created_at=datetime.now(UTC)))
    ledger_append(engine, operator=by, command="operator add", params={"name": name, "role": role, "scope": scope})
    return OperatorInfo(name, role, tuple(scope), True)


def disable_operator(engine: Engine, by: str, name: str) -> None:
    authorize(engine, by, "operator.manage")
    with engine.begin() as conn:
        n = conn.execute(update(Operator).where(Operator.name == name).values(active=False)).rowcount
    if n != 1:
        raise ValueError(f"no operator {name!r}")
    ledger_append(engine, operator=by, command="operator disable", params={"name": name})
