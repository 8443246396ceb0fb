"""Simulated QC work decides through the real queue, inside each officer's scope, and its
answers agree with the ground truth."""

from __future__ import annotations

import csv
import shutil

from sqlalchemy import select

from audit_engine.access.operators import add_operator
from audit_engine.store import make_engine
from audit_engine.store.models import Decision, Flag, ReviewItem
from audit_engine.synth.fieldwork import simulate_review


def test_simulated_review_follows_truth_and_scope(pipeline_store, tmp_path):
    folder, _ = pipeline_store
    shutil.copy(folder / "census_audit.db", tmp_path / "s.db")
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.connect() as conn:
        county = conn.execute(select(ReviewItem.ea_code)).scalars().first()[:6]
    add_operator(engine, "demo.admin", "county.qc", "qc", [county])
    counts = simulate_review(engine, folder / "data" / "truth", ["demo.qc", "county.qc"])
    with open(folder / "data" / "truth" / "records.csv", encoding="utf-8") as f:
        truth = {(r["source"], r["person_id"]): r for r in csv.DictReader(f)}
    with engine.connect() as conn:
        items = conn.execute(select(ReviewItem.kind, ReviewItem.subject, ReviewItem.status, ReviewItem.decision,
                                    ReviewItem.decided_by, ReviewItem.ea_code)).all()
        flags = conn.execute(select(Flag.id, Flag.record_key, Flag.ea_code, Flag.status, Flag.scope)).all()
        first = {r.item_id: r for r in conn.execute(select(Decision.__table__).where(
            Decision.item_kind == "flag", Decision.stage == "first"))}
        second = conn.execute(select(Decision.operator).where(Decision.stage == "second",
                                                              Decision.item_kind == "flag")).scalars().all()
    scope = "320831001"
    for it in items:
        if it.status != "decided":
            continue
        # the township officer decides in the township, the county officer elsewhere
        assert it.decided_by == ("demo.qc" if it.ea_code.startswith(scope) else "county.qc")
        if it.kind == "followup" and it.decision == "fictitious":
            assert truth[("census", it.subject)]["true_person_id"] == ""
        if it.kind == "followup" and it.decision == "correct":
            assert truth[("census", it.subject)]["true_person_id"] != ""
    # the linkage items (register checks and EA revisits are field work the simulation leaves open)
    linkage = [it for it in items if it.kind in ("pair", "cluster", "followup")]
    assert sum(it.status == "decided" for it in linkage) >= 0.9 * len(linkage)
    assert all(it.status == "open" for it in items if it.kind not in ("pair", "cluster", "followup"))
    decided_flags = [f for f in flags if f.status == "decided"]
    assert decided_flags and all(f.ea_code.startswith(scope) and f.scope == "person" for f in decided_flags)
    for f in decided_flags:
        planted = truth[("census", f.record_key)]["errors"]
        assert first[f.id].decision == ("confirmed" if planted else "false_alarm")
    # four-eyes picks are seconded by the other officer
    assert counts["flag"].get("second", 0) == sum(1 for op in second if op == "county.qc") > 0
