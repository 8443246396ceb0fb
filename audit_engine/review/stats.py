"""Review statistics: the QC workload and its outcomes, as counts only.

What the supervision team asks every evening: how many flags and linkage items are waiting, how
many were decided and how, and how the four-eyes checks agree. Used by the demo's summary and
printed by the reports; no record, name or ID number leaves this module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from audit_engine.review.queue import four_eyes
from audit_engine.store.models import Decision, Flag, ReviewItem


def review_statistics(engine: Engine) -> dict[str, Any]:
    """``{"flags": {status: n}, "items": {kind: {status: n}}, "decisions": {item_kind: {decision: n}},
    "four_eyes": {checked, agreement, pending}}`` over the whole store (first-stage decisions)."""
    with engine.connect() as conn:
        flags = dict(conn.execute(select(Flag.status, func.count()).group_by(Flag.status)).all())
        items: dict[str, dict[str, int]] = {}
        for kind, status, n in conn.execute(select(ReviewItem.kind, ReviewItem.status, func.count())
                                            .group_by(ReviewItem.kind, ReviewItem.status)):
            items.setdefault(kind, {})[status] = int(n)
        decisions: dict[str, dict[str, int]] = {}
        for kind, decision, n in conn.execute(select(Decision.item_kind, Decision.decision, func.count())
                                              .where(Decision.stage == "first")
                                              .group_by(Decision.item_kind, Decision.decision)):
            decisions.setdefault(kind, {})[decision] = int(n)
    fe = four_eyes(engine)
    return {"flags": {k: int(v) for k, v in flags.items()}, "items": items, "decisions": decisions,
            "four_eyes": {"checked": fe["checked"], "agreement": fe["agreement"], "pending": fe["pending"]}}
