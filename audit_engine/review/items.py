"""Review items and their decisions.

Kinds and the decisions each takes:

* ``pair`` — a possible PES ↔ census match (subject: the PES person key): ``match`` /
  ``non_match``;
* ``cluster`` — a duplicate cluster with a weak link (subject: the cluster number):
  ``duplicate`` / ``not_duplicate``;
* ``followup`` — a census record of the sample EAs neither matched to the PES nor shown
  erroneous by the data (subject: its person key), the field follow-up's outcome: ``correct``
  / ``not_resident`` / ``fictitious`` / ``died_before`` / ``duplicate``.

Deciding inserts the first-stage row of ``decisions`` (unique per item and stage): of two
officers deciding the same item at the same moment exactly one insert succeeds, on SQLite and
PostgreSQL alike; the other gets :class:`AlreadyDecided`. This is the programmatic path without
roles (tests, batch tools); officers go through :mod:`audit_engine.review.queue`. The ledger entry holds the item id, kind, decision and a
hash of the reason — never the reason's text, which may quote a name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from audit_engine.ledger import append as ledger_append
from audit_engine.store.bulk import insert_rows
from audit_engine.store.models import Decision, ReviewItem

DECISIONS: dict[str, tuple[str, ...]] = {
    "pair": ("match", "non_match"),
    "cluster": ("duplicate", "not_duplicate"),
    "followup": ("correct", "not_resident", "fictitious", "died_before", "duplicate"),
    "revisit": ("confirmed_gap", "explained"),   # an EA off its pre-enumeration listing (reconcile listing)
    "register": ("confirmed", "explained", "record_error", "not_same_person"),
}


class ReviewError(ValueError):
    """A decision that cannot be taken (unknown item, wrong value, no reason)."""


class AlreadyDecided(ReviewError):
    """Another officer decided the item first."""


@dataclass(frozen=True)
class NewItem:
    kind: str
    subject: str
    ea_code: str
    payload: dict

    def row(self, run_id: int) -> dict:
        if self.kind not in DECISIONS:
            raise ReviewError(f"unknown review item kind {self.kind!r}")
        return {"run_id": run_id, "kind": self.kind, "subject": str(self.subject), "ea_code": self.ea_code,
                "payload": json.dumps(self.payload, ensure_ascii=False, sort_keys=True, default=str),
                "status": "open"}


def add_items(conn, run_id: int, items: Iterable[NewItem]) -> int:
    """Insert ``items`` for ``run_id`` inside the caller's transaction; returns how many."""
    return insert_rows(conn, ReviewItem, [it.row(run_id) for it in items])


def decide(engine: Engine, item_id: int, decision: str, reason: str, operator: str) -> dict:
    """Record ``decision`` on an open item; raises :class:`AlreadyDecided` if someone was first."""
    if not reason or not reason.strip():
        raise ReviewError("a decision needs a reason")
    with engine.begin() as conn:
        item = conn.execute(select(ReviewItem.kind, ReviewItem.run_id, ReviewItem.status, ReviewItem.decided_by,
                                   ReviewItem.ea_code)
                            .where(ReviewItem.id == item_id)).first()
        if item is None:
            raise ReviewError(f"no review item {item_id}")
        if decision not in DECISIONS[item.kind]:
            raise ReviewError(f"review item {item_id} ({item.kind}) takes {' / '.join(DECISIONS[item.kind])}, "
                              f"not {decision!r}")
        if item.status != "open":
            raise AlreadyDecided(f"review item {item_id} was already decided by {item.decided_by or 'another officer'}")
        now = datetime.now(UTC)
        try:
            with conn.begin_nested():
                conn.execute(insert(Decision).values(item_kind="review", item_id=item_id, stage="first",
                                                     decision=decision, reason=reason.strip(), operator=operator,
                                                     decided_at=now, ea_code=item.ea_code, needs_second=False))
        except IntegrityError:
            raise AlreadyDecided(f"review item {item_id} was already decided by another officer") from None
        conn.execute(update(ReviewItem).where(ReviewItem.id == item_id).values(
            status="decided", decision=decision, reason=reason.strip(), decided_by=operator, decided_at=now))
    result = {"item": item_id, "kind": item.kind, "run_id": item.run_id, "decision": decision,
              "reason_sha256": hashlib.sha256(reason.strip().encode()).hexdigest()}
    ledger_append(engine, operator=operator, command="review decide", params={"item": item_id}, result=result)
    return result


def decisions(engine: Engine, run_id: int, kind: str | None = None) -> pd.DataFrame:
    """Decided items of a run: id, kind, subject, ea_code, decision, decided_by."""
    stmt = select(ReviewItem.id, ReviewItem.kind, ReviewItem.subject, ReviewItem.ea_code, ReviewItem.decision,
                  ReviewItem.decided_by).where(ReviewItem.run_id == run_id, ReviewItem.status == "decided")
    if kind:
        stmt = stmt.where(ReviewItem.kind == kind)
    with engine.connect() as conn:
        return pd.read_sql(stmt.order_by(ReviewItem.id), conn)


def open_items(engine: Engine, run_id: int | None = None, kind: str | None = None) -> pd.DataFrame:
    """Open items (oldest first): id, run_id, kind, subject, ea_code, payload."""
    stmt = select(ReviewItem.id, ReviewItem.run_id, ReviewItem.kind, ReviewItem.subject, ReviewItem.ea_code,
                  ReviewItem.payload).where(ReviewItem.status == "open")
    if run_id is not None:
        stmt = stmt.where(ReviewItem.run_id == run_id)
    if kind:
        stmt = stmt.where(ReviewItem.kind == kind)
    with engine.connect() as conn:
        return pd.read_sql(stmt.order_by(ReviewItem.id), conn)
