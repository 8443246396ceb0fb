"""The QC officer's queue: flags (rule failures) and linkage review items, one decision at a time.

Item references are ``F<id>`` (a flag) and ``R<id>`` (a linkage review item). Every read and
write goes through :func:`audit_engine.access.operators.authorize` with the item's EA, so an
officer lists, sees and decides only inside their scope, and leadership never reaches a record.

Decisions (table ``decisions``, append-only):

* flag: ``confirmed`` (an error; ``corrections`` give the corrected values), ``false_alarm``,
  ``revisit`` (needs a field revisit);
* review item: as :data:`audit_engine.review.items.DECISIONS` for its kind.

Race-free: the unique (item, stage) key lets exactly one first decision in; the other officer
gets :class:`~audit_engine.review.items.AlreadyDecided`. Four-eyes: a share of first decisions
(deterministic from the item reference, so it cannot be steered by retrying) is marked for a
second decision by another officer; :func:`four_eyes` reports agreement. A correction writes a
new :class:`~audit_engine.store.models.PersonVersion`; the loaded record and earlier versions
stay. The ledger gets ids, decisions and hashes — never values, names or reasons' text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from audit_engine.access.operators import OperatorInfo, authorize, refuse, scope_condition
from audit_engine.ledger import append as ledger_append
from audit_engine.review.items import DECISIONS, AlreadyDecided, ReviewError
from audit_engine.store.models import Decision, Flag, Person, PersonVersion, RegisterPerson, ReviewItem

FLAG_DECISIONS = ("confirmed", "false_alarm", "revisit")
#: person items a correction may change
CORRECTABLE = ("name", "id_number", "sex", "birth_year", "birth_month", "age", "ethnicity", "relationship",
               "education", "industry", "occupation", "registration_type", "registration_place", "time_away",
               "reason_away", "marital_status", "children_born", "children_surviving", "births_last_year")
DEFAULT_FOUR_EYES = 0.1


@dataclass(frozen=True)
class ItemRef:
    kind: str   # flag / review
    id: int

    @classmethod
    def parse(cls, text: str) -> ItemRef:
        t = str(text).strip().upper()
        if len(t) > 1 and t[0] in "FR" and t[1:].isdigit():
            return cls("flag" if t[0] == "F" else "review", int(t[1:]))
        raise ReviewError(f"item {text!r}: write F<number> for a flag or R<number> for a linkage item")

    def __str__(self) -> str:
        return f"{'F' if self.kind == 'flag' else 'R'}{self.id}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def needs_second(ref: ItemRef, share: float) -> bool:
    """Whether the four-eyes check picks this item: a uniform number from its reference's hash."""
    return int(_sha(f"four-eyes:{ref}")[:15], 16) / 16 ** 15 < share


def _officer(engine: Engine, operator: str, action: str, ea_code: str | None = None) -> OperatorInfo:
    op = authorize(engine, operator, action, ea_code)
    assert op is not None  # review actions are refused in open mode
    return op


def list_items(engine: Engine, operator: str, *, status: str = "open", limit: int = 50) -> pd.DataFrame:
    """Items in the officer's scope: ref, kind, detail (rule or item kind), severity, ea_code, status."""
    op = _officer(engine, operator, "review.read")
    with engine.connect() as conn:
        flags = pd.read_sql(select(Flag.id, Flag.rule_id, Flag.severity, Flag.ea_code, Flag.status)
                            .where(scope_condition(op, Flag.ea_code), Flag.status == status)
                            .order_by(Flag.id).limit(limit), conn)
        items = pd.read_sql(select(ReviewItem.id, ReviewItem.kind, ReviewItem.ea_code, ReviewItem.status)
                            .where(scope_condition(op, ReviewItem.ea_code), ReviewItem.status == status)
                            .order_by(ReviewItem.id).limit(limit), conn)
    out = pd.concat([
        pd.DataFrame({"ref": "F" + flags["id"].astype(str), "kind": "flag", "detail": flags["rule_id"],
                      "severity": flags["severity"], "ea_code": flags["ea_code"], "status": flags["status"]}),
        pd.DataFrame({"ref": "R" + items["id"].astype(str), "kind": "review", "detail": items["kind"],
                      "severity": "", "ea_code": items["ea_code"], "status": items["status"]}),
    ], ignore_index=True)
    return out.head(limit)


def _item(conn, ref: ItemRef) -> dict:
    if ref.kind == "flag":
        row = conn.execute(select(Flag.__table__).where(Flag.id == ref.id)).mappings().first()
    else:
        row = conn.execute(select(ReviewItem.__table__).where(ReviewItem.id == ref.id)).mappings().first()
    if row is None:
        raise ReviewError(f"no item {ref}")
    return dict(row)


def _awaiting_second(engine: Engine, op: OperatorInfo) -> list[ItemRef]:
    with engine.connect() as conn:
        second = select(Decision.item_kind, Decision.item_id).where(Decision.stage == "second")
        done = {(k, i) for k, i in conn.execute(second)}
        rows = conn.execute(select(Decision.item_kind, Decision.item_id).where(
            Decision.stage == "first", Decision.needs_second.is_(True), Decision.operator != op.name,
            scope_condition(op, Decision.ea_code)).order_by(Decision.id)).all()
    return [ItemRef(k, int(i)) for k, i in rows if (k, i) not in done]


def next_item(engine: Engine, operator: str) -> str | None:
    """The next item for this officer: a four-eyes check awaiting them first, then the oldest
    open error flag, warning flag, linkage item."""
    op = _officer(engine, operator, "review.read")
    waiting = _awaiting_second(engine, op)
    if waiting:
        return str(waiting[0])
    with engine.connect() as conn:
        for sev in ("error", "warning", "info"):
            fid = conn.execute(select(func.min(Flag.id)).where(Flag.status == "open", Flag.severity == sev,
                                                              scope_condition(op, Flag.ea_code))).scalar()
            if fid is not None:
                return f"F{fid}"
        rid = conn.execute(select(func.min(ReviewItem.id)).where(ReviewItem.status == "open",
                                                                scope_condition(op, ReviewItem.ea_code))).scalar()
    return None if rid is None else f"R{rid}"


def _person(conn, source: str, key: str) -> dict | None:
    cols = [c for c in Person.__table__.columns if c.name not in ("id", "load_file_id")]
    row = conn.execute(select(*cols).where(Person.source == source, Person.person_key == key)).mappings().first()
    if row is None:
        return None
    rec = dict(row)
    versions = conn.execute(select(PersonVersion.version, PersonVersion.changes).where(
        PersonVersion.source == source, PersonVersion.person_key == key).order_by(PersonVersion.version)).all()
    for _v, changes in versions:
        for f, (_before, after) in json.loads(changes).items():
            rec[f] = after
    rec["version"] = versions[-1][0] if versions else 1
    return rec


def _register_person(conn, key: str | None) -> dict | None:
    """A household-register record, shaped like a person record (``source`` ``register``)."""
    if not key:
        return None
    cols = [c for c in RegisterPerson.__table__.columns if c.name not in ("id", "load_file_id")]
    row = conn.execute(select(*cols).where(RegisterPerson.register_key == key)).mappings().first()
    return None if row is None else {"source": "register", **dict(row)}


def show_item(engine: Engine, operator: str, text_ref: str) -> dict:
    """The item with its record(s) unmasked — for an officer whose scope holds it; the viewing
    itself is ledgered (who saw which item)."""
    ref = ItemRef.parse(text_ref)
    with engine.connect() as conn:
        item = _item(conn, ref)
    _officer(engine, operator, "review.read", item["ea_code"])
    with engine.connect() as conn:
        if ref.kind == "flag":
            records = [r for r in [_person(conn, item["source"], item["record_key"])] if r] \
                if item["scope"] != "household" else \
                [_person(conn, item["source"], k) for (k,) in conn.execute(select(Person.person_key).where(
                    Person.source == item["source"], Person.household_key == item["record_key"]))]
            detail = {"rule": item["rule_id"], "severity": item["severity"], "fields": json.loads(item["fields"]),
                      "values": json.loads(item["values"]),
                      "suggestion": json.loads(item["suggestion"]) if item["suggestion"] else None}
        else:
            payload = json.loads(item["payload"])
            records = []
            if item["kind"] == "pair":
                records = [_person(conn, "pes", item["subject"]), _person(conn, "census", payload.get("census_key"))]
            elif item["kind"] == "followup":
                records = [_person(conn, "census", item["subject"])]
            elif item["kind"] == "cluster":
                ids = [payload.get("kept_id"), *payload.get("extra_ids", [])]
                records = [_person(conn, "census", str(k)) for k in ids if k]
            elif item["kind"] == "register":   # the census record and the register record side by side
                census_key = payload.get("record_key") if payload.get("record") == "C" else payload.get("other_key")
                register_key = payload.get("record_key") if payload.get("record") == "R" else payload.get("other_key")
                records = [_person(conn, "census", census_key) if census_key else None,
                           _register_person(conn, register_key)]
            detail = {"kind": item["kind"], "evidence": payload}
        decided = conn.execute(select(Decision.stage, Decision.decision, Decision.operator, Decision.decided_at)
                               .where(Decision.item_kind == ref.kind, Decision.item_id == ref.id)
                               .order_by(Decision.id)).mappings().all()
    ledger_append(engine, operator=operator, command="review show", params={"item": str(ref)})
    return {"ref": str(ref), "ea_code": item["ea_code"], "status": item["status"], "detail": detail,
            "records": [r for r in records if r], "decisions": [dict(d) for d in decided]}


def decide_item(engine: Engine, operator: str, text_ref: str, decision: str, reason: str, *,
                corrections: dict[str, object] | None = None, four_eyes: float = DEFAULT_FOUR_EYES,
                expect_stage: str | None = None) -> dict:
    """Decide an item (or give the four-eyes second decision); see the module docstring.

    ``expect_stage``: the stage the officer was shown (the web form says ``first`` or
    ``second``); when the item has moved on since — another officer decided it first — the
    decision is refused as already decided rather than recorded as a four-eyes check the
    officer never saw as one."""
    ref = ItemRef.parse(text_ref)
    if not reason or not reason.strip():
        raise ReviewError("a decision needs a reason")
    with engine.connect() as conn:
        item = _item(conn, ref)
        first = conn.execute(select(Decision.operator, Decision.needs_second, Decision.decision).where(
            Decision.item_kind == ref.kind, Decision.item_id == ref.id, Decision.stage == "first")).first()
    _officer(engine, operator, "review.decide", item["ea_code"])
    allowed = FLAG_DECISIONS if ref.kind == "flag" else DECISIONS[item["kind"]]
    if decision not in allowed:
        raise ReviewError(f"{ref} takes {' / '.join(allowed)}, not {decision!r}")
    stage = "first"
    if first is not None and expect_stage == "first":
        raise AlreadyDecided(f"{ref} was decided by {first.operator} while it was open here")
    if first is not None:
        if not first.needs_second:
            raise AlreadyDecided(f"{ref} was already decided by {first.operator}")
        if first.operator == operator:
            raise refuse(engine, operator, "review.decide",
                         f"{ref} needs its four-eyes decision from another officer", item["ea_code"])
        stage = "second"
    if corrections and not (ref.kind == "flag" and decision == "confirmed" and stage == "first"):
        raise ReviewError("corrections go with a first 'confirmed' decision on a flag")
    bad = sorted(set(corrections or {}) - set(CORRECTABLE))
    if bad:
        raise ReviewError(f"cannot correct {', '.join(bad)}; correctable items: {', '.join(CORRECTABLE)}")
    now = datetime.now(UTC)
    pick = stage == "first" and needs_second(ref, four_eyes)
    version_id = None
    try:
        with engine.begin() as conn:
            res = conn.execute(insert(Decision).values(
                item_kind=ref.kind, item_id=ref.id, stage=stage, decision=decision, reason=reason.strip(),
                operator=operator, decided_at=now, ea_code=item["ea_code"], needs_second=pick))
            decision_id = int(res.inserted_primary_key[0])
            if stage == "first":
                if ref.kind == "flag":
                    conn.execute(update(Flag).where(Flag.id == ref.id).values(
                        status="revisit" if decision == "revisit" else "decided"))
                else:
                    conn.execute(update(ReviewItem).where(ReviewItem.id == ref.id).values(
                        status="decided", decision=decision, reason=reason.strip(), decided_by=operator,
                        decided_at=now))
            if corrections:
                version_id = _correct(conn, item, corrections, decision_id, operator, now)
    except IntegrityError:
        with engine.connect() as conn:
            who = conn.execute(select(Decision.operator).where(Decision.item_kind == ref.kind,
                                                               Decision.item_id == ref.id,
                                                               Decision.stage == stage)).scalar()
        raise AlreadyDecided(f"{ref} was already decided by {who or 'another officer'}") from None
    result = {"item": str(ref), "stage": stage, "decision": decision, "four_eyes": pick,
              "reason_sha256": _sha(reason.strip())}
    if version_id is not None:
        result["correction"] = version_id
    if stage == "second":
        result["agrees"] = first.decision == decision
    ledger_append(engine, operator=operator, command="review decide", params={"item": str(ref)}, result=result)
    return result


def _correct(conn, item: dict, corrections: dict, decision_id: int, operator: str, now) -> dict:
    if item["scope"] == "household":
        raise ReviewError("corrections of household items are not supported yet; decide the person flags")
    current = _person(conn, item["source"], item["record_key"])
    if current is None:
        raise ReviewError("the flagged record is not in the store")
    changes = {f: [current.get(f), v] for f, v in corrections.items()}
    version = int(current["version"]) + 1
    conn.execute(insert(PersonVersion).values(
        source=item["source"], person_key=item["record_key"], version=version,
        changes=json.dumps(changes, ensure_ascii=False, default=str), decision_id=decision_id,
        created_by=operator, created_at=now))
    return {"version": version, "before_sha256": _sha(json.dumps({f: c[0] for f, c in changes.items()}, default=str)),
            "after_sha256": _sha(json.dumps({f: c[1] for f, c in changes.items()}, default=str))}


def four_eyes(engine: Engine) -> dict:
    """Four-eyes checks: how many second decisions, the agreement rate, the disagreements."""
    with engine.connect() as conn:
        d = pd.read_sql(select(Decision.item_kind, Decision.item_id, Decision.stage, Decision.decision,
                               Decision.operator, Decision.ea_code, Decision.needs_second), conn)
    first = d[d["stage"] == "first"].set_index(["item_kind", "item_id"])
    second = d[d["stage"] == "second"].set_index(["item_kind", "item_id"])
    both = first.join(second, lsuffix="_1", rsuffix="_2", how="inner")
    agree = both["decision_1"] == both["decision_2"]
    dis = both[~agree].reset_index()
    return {"checked": int(len(both)), "agreement": float(agree.mean()) if len(both) else None,
            "pending": int((first["needs_second"].astype(bool) & ~first.index.isin(second.index)).sum()),
            "disagreements": [{"item": ("F" if r.item_kind == "flag" else "R") + str(r.item_id), "ea_code": r.ea_code_1,
                               "first": [r.operator_1, r.decision_1], "second": [r.operator_2, r.decision_2]}
                              for r in dis.itertuples(index=False)]}
