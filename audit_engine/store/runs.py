"""Runs: one row per execution of a verb, so every flag and figure names the run that made it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from audit_engine.ledger.chain import canonical_json
from audit_engine.store.models import Run


def start_run(engine: Engine, kind: str, operator: str, params: dict[str, Any]) -> int:
    with engine.begin() as conn:
        res = conn.execute(insert(Run).values(kind=kind, status="running", operator=operator,
                                              started_at=datetime.now(UTC), params=canonical_json(params),
                                              summary="{}"))
        return int(res.inserted_primary_key[0])


def finish_run(engine: Engine, run_id: int, summary: dict[str, Any], status: str = "done") -> None:
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(
            status=status, finished_at=datetime.now(UTC), summary=canonical_json(summary)))


def latest_run(engine: Engine, kind: str, source: str | None = None) -> int | None:
    """The newest finished run of ``kind`` (``check``, ``link pes``, ``link duplicates``,
    ``estimate``…); with ``source``, the newest whose params name that source (a check of the
    census, not of the PES; a run without a source counts for any)."""
    with engine.connect() as conn:
        rows = conn.execute(select(Run.id, Run.params).where(Run.kind == kind, Run.status == "done")
                            .order_by(Run.id.desc())).all()
    for rid, params in rows:
        if source is None or json.loads(params or "{}").get("source", source) == source:
            return int(rid)
    return None
