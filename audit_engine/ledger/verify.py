"""Recompute the chain and name the first entry that was modified, deleted or reordered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from audit_engine.ledger.chain import GENESIS, entry_body, entry_hash
from audit_engine.store.models import LedgerEntry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    details: dict = field(default_factory=dict)


def verify(engine: Engine, expected_head: str | None = None, batch: int = 10_000) -> VerifyResult:
    """Walk the ledger in ``seq`` order, recomputing every hash.

    Problems, by the first entry where they show:
    - *modified*: the stored hash does not match the entry's content;
    - *deleted*: ``seq`` jumps, or the entry's ``prev_hash`` is no earlier entry's hash;
    - *reordered*: ``prev_hash`` is the hash of an entry other than the one before it.
    ``expected_head`` (an anchored head hash) also catches deletion of the newest entries.
    """
    seen: dict[str, int] = {}
    prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    with engine.connect() as conn:
        while True:
            rows = conn.execute(
                select(LedgerEntry.__table__).where(LedgerEntry.seq > last_seq).order_by(LedgerEntry.seq).limit(batch)
            ).all()
            if not rows:
                break
            for e in rows:
                last_seq = e.seq
                count += 1
                body = entry_body(e.seq, e.ts, e.operator, e.command, json.loads(e.params), json.loads(e.inputs),
                                  e.code_version, json.loads(e.result))
                recomputed = entry_hash(e.prev_hash, body)
                if recomputed != e.hash:
                    written_as = _original_seq(e, body, seen)
                    if written_as is not None:
                        return _bad(count, prev, e.seq, "reordered", f"it was written as entry {written_as}")
                    return _bad(count, prev, e.seq, "modified", "its content no longer matches its hash")
                if e.seq != expected_seq:
                    return _bad(count, prev, e.seq, "deleted",
                                f"entries {expected_seq}..{e.seq - 1} are missing before it")
                if e.prev_hash != prev:
                    if e.prev_hash in seen:
                        return _bad(count, prev, e.seq, "reordered",
                                    f"it follows entry {seen[e.prev_hash]}, not entry {e.seq - 1}")
                    return _bad(count, prev, e.seq, "deleted or modified",
                                "its predecessor is not in the ledger as it stands")
                seen[e.hash] = e.seq
                prev, expected_seq = e.hash, e.seq + 1
    if expected_head and expected_head != prev:
        where = seen.get(expected_head)
        problem = (f"the anchored head is entry {where}, but entries follow it" if where else
                   "the anchored head is not in the ledger: newest entries were deleted or modified")
        return VerifyResult(False, count, prev, (where or expected_seq), "head mismatch", {"message": problem})
    return VerifyResult(True, count, prev)


def _original_seq(e, body: dict, seen: dict[str, int], window: int = 64) -> int | None:
    """If only ``seq`` was changed (rows renumbered to reorder them), find the seq the entry was
    hashed under: the one after its recorded predecessor, or one nearby."""
    candidates = [seen[e.prev_hash] + 1] if e.prev_hash in seen else []
    candidates += [s for s in range(max(1, e.seq - window), e.seq + window) if s != e.seq]
    for s in candidates:
        if entry_hash(e.prev_hash, {**body, "seq": s}) == e.hash:
            return s
    return None


def _bad(count: int, prev: str, seq: int, problem: str, message: str) -> VerifyResult:
    return VerifyResult(False, count, prev, seq, problem, {"message": f"entry {seq}: {problem}: {message}"})
