"""Passwords and sign-in: argon2id hashes, failed attempts, lockout.

Why here and not in Flask: the CLI sets passwords (``census-audit operator passwd``) and the
web signs in against the same ``operators`` row; both are ledgered. A sign-in never says
whether the name or the password was wrong, and a locked account answers the same way until
the lock expires, so the form cannot be used to find operator names or guess passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update

from audit_engine.access.operators import OperatorInfo, Refused, get_operator, refuse
from audit_engine.ledger import append as ledger_append
from audit_engine.store.models import Operator

MAX_FAILURES = 5                    # consecutive failed sign-ins before the lock
LOCK_MINUTES = 15
MIN_PASSWORD = 10

_hasher = PasswordHasher()          # argon2id, the library's (RFC 9106 low-memory) defaults


class PasswordError(ValueError):
    """A password that may not be set (too short, or the same as the name)."""


@dataclass(frozen=True)
class SignIn:
    ok: bool
    operator: OperatorInfo | None
    reason: str                     # ok / bad_credentials / locked / disabled / no_password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(engine: Engine, by: str, name: str, password: str) -> None:
    """Set ``name``'s password: an admin for anyone, an operator for themselves. Clears any lock."""
    target = get_operator(engine, name)
    if target is None:
        raise ValueError(f"{name!r} is not a registered operator")
    actor = get_operator(engine, by)
    if by != name and (actor is None or actor.role != "admin"):
        raise refuse(engine, by, "operator.manage", f"only an admin may set another operator's password ({name})")
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"a password needs at least {MIN_PASSWORD} characters")
    if password.lower() == name.lower():
        raise PasswordError("the password may not be the operator's name")
    with engine.begin() as conn:   # a new password also ends the operator's open sessions
        conn.execute(update(Operator).where(Operator.name == name).values(
            password_hash=hash_password(password), failed_logins=0, locked_until=None,
            session_epoch=Operator.session_epoch + 1))
    ledger_append(engine, operator=by, command="operator passwd", params={"name": name}, result={"set": True})


def sign_in(engine: Engine, name: str, password: str, *, now: datetime | None = None) -> SignIn:
    """Check a sign-in, count failures, lock after ``MAX_FAILURES``; ledger the outcome."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        row = conn.execute(select(Operator.name, Operator.password_hash, Operator.failed_logins,
                                  Operator.locked_until, Operator.active).where(Operator.name == name)).first()
    reason = "bad_credentials"
    info = None
    if row is not None:
        locked = row.locked_until is not None and _aware(row.locked_until) > now
        if locked:
            reason = "locked"
        elif not row.password_hash:
            reason = "no_password"
        elif not row.active:
            reason = "disabled"
        elif _verify(row.password_hash, password):
            reason = "ok"
            info = get_operator(engine, name)
        if reason in ("bad_credentials", "no_password"):
            failures = (row.failed_logins or 0) + 1
            lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
            with engine.begin() as conn:
                conn.execute(update(Operator).where(Operator.name == name).values(
                    failed_logins=0 if lock else failures, locked_until=lock))
            if lock:
                reason = "locked"
        elif reason == "ok":
            with engine.begin() as conn:
                conn.execute(update(Operator).where(Operator.name == name).values(failed_logins=0, locked_until=None))
    ledger_append(engine, operator=name if row is not None else "(unknown)", command="web sign-in",
                  params={"name": name if row is not None else "(not registered)"}, result={"outcome": reason})
    return SignIn(reason == "ok", info, reason)


def end_sessions(engine: Engine, name: str) -> None:
    """End every web session of ``name`` (sign-out): a copied cookie is dead from now on.
    Sessions are signed cookies held by the browser, so the server revokes them by epoch."""
    with engine.begin() as conn:
        conn.execute(update(Operator).where(Operator.name == name).values(session_epoch=Operator.session_epoch + 1))


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


__all__ = ["LOCK_MINUTES", "MAX_FAILURES", "PasswordError", "Refused", "SignIn", "end_sessions", "hash_password",
           "set_password", "sign_in"]
