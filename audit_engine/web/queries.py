"""The QC queue as one SQL query: open flags and review items in an officer's scope, with
filters, counts per filter value and pagination.

:func:`audit_engine.review.queue.list_items` lists a few items for the CLI; the web queue needs
filters and pages over tens of thousands of flags, so the union is built here, in SQL, once.
Only codes leave this module (refs, rule ids, EA/township/enumerator codes): no names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, case, func, literal_column, select, union_all
from sqlalchemy.orm import aliased

from audit_engine.access.operators import OperatorInfo, scope_condition
from audit_engine.review.queue import ItemRef
from audit_engine.store.models import Flag, Household, Person, ReviewItem, Run

PAGE_SIZE = 100
#: filter name -> the column of the queue it filters (all codes)
FILTERS = ("township", "ea", "rule", "severity", "enumerator", "kind")
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass
class QueuePage:
    rows: list[dict]
    total: int
    page: int
    pages: int
    counts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def _queue_subquery(op: OperatorInfo):
    """One row per open item in scope: ref_kind (F/R), id, kind, rule, severity, rank, ea_code,
    township, enumerator, created."""
    p = aliased(Person)
    h = aliased(Household)
    flags = (
        select(literal_column("'F'").label("ref_kind"), Flag.id.label("id"), literal_column("'flag'").label("kind"),
               Flag.rule_id.label("rule"), Flag.severity.label("severity"),
               case(*((Flag.severity == s, r) for s, r in SEVERITY_RANK.items()), else_=3).label("rank"),
               Flag.ea_code.label("ea_code"), func.substr(Flag.ea_code, 1, 9).label("township"),
               func.coalesce(p.enumerator_id, h.enumerator_id).label("enumerator"),
               Run.started_at.label("created"))
        .select_from(Flag)
        .join(Run, Run.id == Flag.run_id)
        .outerjoin(p, and_(Flag.scope != "household", p.source == Flag.source, p.person_key == Flag.record_key))
        .outerjoin(h, and_(Flag.scope == "household", h.source == Flag.source, h.household_key == Flag.record_key))
        .where(Flag.status == "open", scope_condition(op, Flag.ea_code))
    )
    # the person a review item is about: PES person (pair), census person (followup, register C:key)
    src = case((ReviewItem.kind == "pair", "pes"), else_="census")
    key = case((ReviewItem.kind.in_(("pair", "followup")), ReviewItem.subject),
               (and_(ReviewItem.kind == "register", ReviewItem.subject.like("C:%")), func.substr(ReviewItem.subject, 3)),
               else_=None)
    rp = aliased(Person)
    items = (
        select(literal_column("'R'").label("ref_kind"), ReviewItem.id.label("id"), ReviewItem.kind.label("kind"),
               ReviewItem.kind.label("rule"), literal_column("''").label("severity"), literal_column("4").label("rank"),
               ReviewItem.ea_code.label("ea_code"), func.substr(ReviewItem.ea_code, 1, 9).label("township"),
               rp.enumerator_id.label("enumerator"), Run.started_at.label("created"))
        .select_from(ReviewItem)
        .join(Run, Run.id == ReviewItem.run_id)
        .outerjoin(rp, and_(rp.source == src, rp.person_key == key))
        .where(ReviewItem.status == "open", scope_condition(op, ReviewItem.ea_code))
    )
    return union_all(flags, items).subquery("q")


def _conditions(q, filters: dict[str, str], skip: str | None = None) -> list:
    cols = {"township": q.c.township, "ea": q.c.ea_code, "rule": q.c.rule, "severity": q.c.severity,
            "enumerator": q.c.enumerator, "kind": q.c.kind}
    return [cols[k] == v for k, v in filters.items() if v and k != skip and k in cols]


def queue_page(engine: Engine, op: OperatorInfo, filters: dict[str, str], page: int = 1,
               page_size: int = PAGE_SIZE, *, now: datetime | None = None) -> QueuePage:
    """One page of the officer's open items (errors first, then warnings, info, review items;
    oldest first within each), and for every filter the count per value given the other filters."""
    q = _queue_subquery(op)
    where = _conditions(q, filters)
    facet_cols = {"township": q.c.township, "ea": q.c.ea_code, "rule": q.c.rule, "severity": q.c.severity,
                  "enumerator": q.c.enumerator, "kind": q.c.kind}
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(q).where(*where)).scalar() or 0)
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        rows = conn.execute(select(q).where(*where).order_by(q.c.rank, q.c.id)
                            .limit(page_size).offset((page - 1) * page_size)).mappings().all()
        counts = {}
        for name, col in facet_cols.items():
            res = conn.execute(select(col, func.count()).select_from(q).where(*_conditions(q, filters, skip=name))
                               .group_by(col).order_by(col)).all()
            counts[name] = [(str(v), int(n)) for v, n in res if v not in (None, "")]
    out = []
    for r in rows:
        created = r["created"]
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        out.append({"ref": f"{r['ref_kind']}{r['id']}", "kind": r["kind"], "rule": r["rule"],
                    "severity": r["severity"] or "", "ea_code": r["ea_code"], "township": r["township"],
                    "enumerator": r["enumerator"] or "",
                    "age_hours": None if created is None else max(0, int((now - created).total_seconds() // 3600))})
    return QueuePage(out, total, page, pages, counts)


def item_location(engine: Engine, ref: ItemRef) -> dict | None:
    """Codes only: the item's EA, status, kind and rule (for the scope check before showing it)."""
    with engine.connect() as conn:
        if ref.kind == "flag":
            row = conn.execute(select(Flag.ea_code, Flag.status, Flag.rule_id.label("rule"), Flag.scope,
                                      Flag.source, Flag.record_key, Flag.run_id).where(Flag.id == ref.id)).mappings().first()
            return None if row is None else {**dict(row), "kind": "flag"}
        row = conn.execute(select(ReviewItem.ea_code, ReviewItem.status, ReviewItem.kind, ReviewItem.run_id,
                                  ReviewItem.subject).where(ReviewItem.id == ref.id)).mappings().first()
        return None if row is None else {**dict(row), "rule": row["kind"]}


def items_summary(engine: Engine, refs: list[ItemRef]) -> list[dict]:
    """Codes of the given items (for the four-eyes list): ref, kind, rule, severity, ea_code."""
    flag_ids = [r.id for r in refs if r.kind == "flag"]
    item_ids = [r.id for r in refs if r.kind == "review"]
    found: dict[str, dict] = {}
    with engine.connect() as conn:
        if flag_ids:
            for r in conn.execute(select(Flag.id, Flag.rule_id, Flag.severity, Flag.ea_code).where(Flag.id.in_(flag_ids))):
                found[f"F{r.id}"] = {"ref": f"F{r.id}", "kind": "flag", "rule": r.rule_id, "severity": r.severity,
                                     "ea_code": r.ea_code}
        if item_ids:
            for r in conn.execute(select(ReviewItem.id, ReviewItem.kind, ReviewItem.ea_code)
                                  .where(ReviewItem.id.in_(item_ids))):
                found[f"R{r.id}"] = {"ref": f"R{r.id}", "kind": r.kind, "rule": r.kind, "severity": "",
                                     "ea_code": r.ea_code}
    return [found[str(r)] for r in refs if str(r) in found]


def run_ruleset(engine: Engine, run_id: int) -> str | None:
    """The ruleset name a check run used (from its parameters)."""
    with engine.connect() as conn:
        params = conn.execute(select(Run.params).where(Run.id == run_id)).scalar()
    try:
        return json.loads(params or "{}").get("ruleset")
    except ValueError:
        return None


def next_after(engine: Engine, op: OperatorInfo, ref: ItemRef) -> str | None:
    """The open item after ``ref`` in queue order (errors, warnings, info, review items; by id),
    wrapping round to the first; None when nothing else is open."""
    q = _queue_subquery(op)
    rank = 4
    if ref.kind == "flag":
        with engine.connect() as conn:
            sev = conn.execute(select(Flag.severity).where(Flag.id == ref.id)).scalar()
        rank = SEVERITY_RANK.get(sev, 3)
    me = and_(q.c.ref_kind == ("F" if ref.kind == "flag" else "R"), q.c.id == ref.id)
    with engine.connect() as conn:
        row = conn.execute(select(q.c.ref_kind, q.c.id).where(
            (q.c.rank > rank) | and_(q.c.rank == rank, q.c.id > ref.id)).order_by(q.c.rank, q.c.id).limit(1)).first()
        if row is None:
            row = conn.execute(select(q.c.ref_kind, q.c.id).where(~me).order_by(q.c.rank, q.c.id).limit(1)).first()
    return None if row is None else f"{row.ref_kind}{row.id}"


def next_candidates(engine: Engine, op: OperatorInfo, limit: int = 60) -> list[str]:
    """The first ``limit`` open items in scope in queue order (error, warning, info flags, then
    review items; oldest first) — refs only, without the queue page's joins, for "next"."""
    rank = case(*((Flag.severity == s, r) for s, r in SEVERITY_RANK.items()), else_=3)
    with engine.connect() as conn:
        flags = conn.execute(select(Flag.id).where(Flag.status == "open", scope_condition(op, Flag.ea_code))
                             .order_by(rank, Flag.id).limit(limit)).scalars().all()
        refs = [f"F{i}" for i in flags]
        if len(refs) < limit:
            items = conn.execute(select(ReviewItem.id).where(ReviewItem.status == "open",
                                                             scope_condition(op, ReviewItem.ea_code))
                                 .order_by(ReviewItem.id).limit(limit - len(refs))).scalars().all()
            refs += [f"R{i}" for i in items]
    return refs
