"""A record's full story: its flags, the decisions on them and on its linkage items, its
corrections (versions), with who and when — ids, rules, decisions and hashes, no values."""

from __future__ import annotations

import json

from sqlalchemy import Engine, or_, select

from audit_engine.access.operators import authorize, get_operator
from audit_engine.store.models import Decision, Flag, Person, PersonVersion, ReviewItem


def record_history(engine: Engine, operator: str, record_key: str, source: str = "census") -> dict:
    """Events of ``record_key`` in time order. QC officers see records in their scope;
    supervision and admin anywhere; leadership never."""
    with engine.connect() as conn:
        row = conn.execute(select(Person.ea_code, Person.household_key).where(
            Person.source == source, Person.person_key == record_key)).first()
    if row is None:
        raise ValueError(f"no {source} record {record_key!r}")
    ea, household = row
    op = get_operator(engine, operator)
    if op is not None and op.active and op.role in ("supervision", "admin"):
        authorize(engine, operator, "run")
    else:
        authorize(engine, operator, "review.read", ea)   # QC in scope; everyone else is refused
    events = []
    with engine.connect() as conn:
        flags = conn.execute(select(Flag.id, Flag.rule_id, Flag.severity, Flag.run_id, Flag.status).where(
            Flag.source == source, or_(Flag.record_key == record_key, Flag.record_key == household))).all()
        for f in flags:
            events.append({"what": "flag", "item": f"F{f.id}", "rule": f.rule_id, "severity": f.severity,
                           "run": f.run_id, "status": f.status})
        items = conn.execute(select(ReviewItem.id, ReviewItem.kind, ReviewItem.run_id).where(
            ReviewItem.subject == record_key)).all()
        for it in items:
            events.append({"what": "review item", "item": f"R{it.id}", "kind": it.kind, "run": it.run_id})
        refs = [("flag", f.id) for f in flags] + [("review", it.id) for it in items]
        for kind, item_id in refs:
            for d in conn.execute(select(Decision.id, Decision.stage, Decision.decision, Decision.operator,
                                         Decision.decided_at).where(Decision.item_kind == kind,
                                                                    Decision.item_id == item_id)):
                events.append({"what": "decision", "item": ("F" if kind == "flag" else "R") + str(item_id),
                               "decision_id": d.id, "stage": d.stage, "decision": d.decision, "by": d.operator,
                               "at": d.decided_at.isoformat() if d.decided_at else None})
        for v in conn.execute(select(PersonVersion.version, PersonVersion.changes, PersonVersion.decision_id,
                                     PersonVersion.created_by, PersonVersion.created_at).where(
                PersonVersion.source == source, PersonVersion.person_key == record_key)
                .order_by(PersonVersion.version)):
            events.append({"what": "correction", "version": v.version, "fields": sorted(json.loads(v.changes)),
                           "decision_id": v.decision_id, "by": v.created_by, "at": v.created_at.isoformat()})
    return {"record": record_key, "source": source, "ea_code": ea, "events": events}
