"""Review statistics count the workload and its outcomes as the store holds them."""

from __future__ import annotations

import shutil

from sqlalchemy import select

from audit_engine.review.items import decide
from audit_engine.review.queue import decide_item
from audit_engine.review.stats import review_statistics
from audit_engine.store import make_engine
from audit_engine.store.models import Flag, ReviewItem


def test_counts_follow_decisions(pipeline_store, tmp_path):
    folder, _ = pipeline_store
    shutil.copy(folder / "census_audit.db", tmp_path / "s.db")
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    before = review_statistics(engine)
    with engine.connect() as conn:
        items = conn.execute(select(ReviewItem.id, ReviewItem.kind).where(ReviewItem.status == "open")
                             .order_by(ReviewItem.id)).all()
        flag_ids = conn.execute(select(Flag.id).where(Flag.status == "open")).scalars().all()
    kinds = {k for _, k in items}
    assert before["decisions"] == {} and sum(before["flags"].values()) == len(flag_ids)
    assert {k: sum(v.values()) for k, v in before["items"].items()} == {
        k: sum(1 for _, kk in items if kk == k) for k in kinds}
    cluster = next(i for i, k in items if k == "cluster")
    followups = [i for i, k in items if k == "followup"][:2]
    decide(engine, cluster, "duplicate", "same person twice", "t.qc")
    decide(engine, followups[0], "fictitious", "no such person at the address", "t.qc")
    decide(engine, followups[1], "correct", "found at home", "t.qc")
    # a flag in the QC officer's scope, through the queue (role and scope checked)
    with engine.connect() as conn:
        fid, ea = conn.execute(select(Flag.id, Flag.ea_code).where(Flag.ea_code.like("320831001%"))
                               .order_by(Flag.id)).first()
    decide_item(engine, "demo.qc", f"F{fid}", "confirmed", "checked with the household", four_eyes=0.0)
    after = review_statistics(engine)
    assert after["decisions"]["review"] == {"duplicate": 1, "fictitious": 1, "correct": 1}
    assert after["decisions"]["flag"] == {"confirmed": 1}
    assert after["items"]["cluster"].get("decided") == 1
    assert after["items"]["followup"]["decided"] == 2
    assert after["items"]["followup"]["open"] == before["items"]["followup"]["open"] - 2
    assert sum(after["flags"].values()) == sum(before["flags"].values())
    assert after["flags"].get("open", 0) == before["flags"]["open"] - 1
    assert after["four_eyes"] == {"checked": 0, "agreement": None, "pending": 0}
