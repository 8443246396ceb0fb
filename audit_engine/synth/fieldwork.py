"""Simulated QC work for the synthetic county: decisions a field team would reach, read off
the ground truth, made through the real review queue.

Why: the demo must show the whole loop — flags and linkage items reviewed by QC officers with
their roles and scopes checked, decisions in the ledger, follow-up outcomes feeding a second
estimate, review statistics and reports with outcomes in them. The decisions go through
:func:`audit_engine.review.queue.decide_item` exactly as an officer's would; only the *answer*
comes from the truth files (``truth/records.csv``: record -> true person and planted errors;
``truth/persons.csv``: the true person's status and EA).

Answers:

* follow-up of an unmatched census record: ``fictitious`` (no true person), ``died_before``
  (died before the standard time), ``not_resident`` (the true person lives in another EA),
  ``duplicate`` (a second census record of a true person), else ``correct``; a record of a
  person born after the standard time is left open (the data already class it);
* duplicate cluster: ``duplicate`` when all its records are one true person, else ``not_duplicate``;
* possible PES match: ``match`` when both records are one true person, else ``non_match``;
* a person flag in the officer's scope: ``confirmed`` when the record carries a planted error
  (or is fictitious), else ``false_alarm``; household and dataset flags are left to the officer.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, select

from audit_engine.access.operators import get_operator
from audit_engine.review.queue import decide_item
from audit_engine.store.models import Decision, Flag, ReviewItem

REASONS = {
    "fictitious": "实地核查：该址查无此人", "died_before": "实地核查：标准时点前已死亡",
    "not_resident": "实地核查：常住地在其他普查小区", "duplicate": "实地核查：同一人重复登记",
    "correct": "实地核查：登记无误", "not_duplicate": "人工复核：不是同一人", "match": "人工复核：同一人",
    "non_match": "人工复核：不是同一人", "confirmed": "电话回访核实：登记有误", "false_alarm": "电话回访核实：登记无误",
}


def _truth(truth_dir: Path) -> tuple[dict[tuple[str, str], tuple[str, str]], dict[str, dict[str, str]], set[str]]:
    records: dict[tuple[str, str], tuple[str, str]] = {}
    with open(truth_dir / "records.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            records[(r["source"], r["person_id"])] = (r["true_person_id"], r["errors"])
    persons: dict[str, dict[str, str]] = {}
    with open(truth_dir / "persons.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            persons[r["true_person_id"]] = {"status": r["status"], "ea_code": r["ea_code"]}
    # the first census record of each true person is the real one; later ones are duplicates
    first: dict[str, str] = {}
    for (source, key), (tid, _) in sorted(records.items()):
        if source == "census" and tid and tid not in first:
            first[tid] = key
    extra = {key for (source, key), (tid, _) in records.items()
             if source == "census" and tid and first.get(tid) != key}
    return records, persons, extra


def _followup(key: str, records, persons, extra) -> str | None:
    tid, _ = records.get(("census", key), ("", ""))
    if not tid:
        return "fictitious"
    p = persons.get(tid, {})
    if p.get("status") == "died":
        return "died_before"
    if p.get("status") == "born_after":
        return None
    if key in extra:
        return "duplicate"
    if p.get("ea_code") and p["ea_code"] != key[:15]:
        return "not_resident"
    return "correct"


def simulate_review(engine: Engine, truth_dir: Path, officers: list[str], *, four_eyes: float = 0.1,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, int]]:
    """Decide every open linkage item, and the person flags in the scope of the first of
    ``officers`` (QC officers, in order: the first whose scope covers an item decides it; a
    four-eyes pick is seconded by the next officer covering it). Returns counts of decisions
    by item kind."""
    records, persons, extra = _truth(truth_dir)
    ops = [get_operator(engine, o) for o in officers]
    with engine.connect() as conn:
        items = conn.execute(select(ReviewItem.id, ReviewItem.kind, ReviewItem.subject, ReviewItem.ea_code,
                                    ReviewItem.payload).where(ReviewItem.status == "open")
                             .order_by(ReviewItem.id)).all()
        flags = conn.execute(select(Flag.id, Flag.record_key, Flag.ea_code, Flag.source)
                             .where(Flag.status == "open", Flag.scope == "person").order_by(Flag.id)).all()
    work: list[tuple[str, str, str]] = []    # (ref, ea_code, decision)
    for it in items:
        payload = json.loads(it.payload or "{}")
        if it.kind == "followup":
            decision = _followup(it.subject, records, persons, extra)
        elif it.kind == "cluster":
            keys = [payload.get("kept_id"), *payload.get("extra_ids", [])]
            tids = {records.get(("census", str(k)), ("", ""))[0] for k in keys}
            decision = "duplicate" if len(tids) == 1 and "" not in tids else "not_duplicate"
        elif it.kind == "pair":
            a = records.get(("pes", it.subject), ("", ""))[0]
            b = records.get(("census", str(payload.get("census_key"))), ("", ""))[0]
            decision = "match" if a and a == b else "non_match"
        else:
            decision = None
        if decision:
            work.append((f"R{it.id}", it.ea_code, decision))
    for fl in flags:
        if ops[0] is None or not ops[0].covers(fl.ea_code):
            continue                        # flags: the first officer's area only
        tid, errors = records.get((fl.source, fl.record_key), (None, ""))
        if tid is None:
            continue
        work.append((f"F{fl.id}", fl.ea_code, "confirmed" if errors or not tid else "false_alarm"))
    counts: Counter[tuple[str, str]] = Counter()
    for done, (ref, ea, decision) in enumerate(work, 1):
        covering = [o for o in ops if o is not None and o.covers(ea)]
        if not covering:
            continue
        res = decide_item(engine, covering[0].name, ref, decision, REASONS[decision], four_eyes=four_eyes)
        counts[(ref[0], decision)] += 1
        if res["four_eyes"] and len(covering) > 1:
            decide_item(engine, covering[1].name, ref, decision, REASONS[decision], four_eyes=four_eyes)
            counts[(ref[0], "second")] += 1
        if progress:
            progress(done, len(work))
    out: dict[str, dict[str, int]] = {}
    for (kind, decision), n in counts.items():
        out.setdefault("flag" if kind == "F" else "review", {})[decision] = n
    return out


def decided(engine: Engine) -> int:
    """First-stage decisions in the store (for the demo's summary)."""
    with engine.connect() as conn:
        return len(conn.execute(select(Decision.id).where(Decision.stage == "first")).all())
