"""The QC officer's pages: the queue, the record page with its decision form, four-eyes checks.

Everything goes through :mod:`audit_engine.review.queue` (``show_item`` ledgers the viewing,
``decide_item`` the decision, four-eyes and races); this module only shapes pages. URLs carry
item refs (F123, R17), codes and page numbers — never a name or an ID number.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from audit_engine.access.operators import Refused
from audit_engine.codes.lookup import label
from audit_engine.io.columns import KINDS
from audit_engine.review.history import record_history
from audit_engine.review.items import DECISIONS, AlreadyDecided, ReviewError
from audit_engine.review.queue import (
    CORRECTABLE,
    FLAG_DECISIONS,
    ItemRef,
    _awaiting_second,
    decide_item,
    four_eyes,
    next_item,
    show_item,
)
from audit_engine.web.holds import held_by_other, hold, release
from audit_engine.web.queries import (
    FILTERS,
    item_location,
    items_summary,
    next_after,
    next_candidates,
    queue_page,
    run_ruleset,
)
from audit_engine.web.security import check_scope, current_operator, engine, require
from reports.i18n import MessageError

bp = Blueprint("qc", __name__)

#: decision -> keyboard shortcut (the others of a kind get 1..9)
SHORTCUTS = {"confirmed": "c", "false_alarm": "f", "revisit": "v", "match": "m", "non_match": "n"}
#: record columns never shown as fields
HIDDEN = {"version", "load_file_id"}
MAX_REASON = 2000


@lru_cache(maxsize=4)
def _ruleset(name: str | None):
    from rules.ruleset import bundled_path, load_ruleset

    try:
        if name and bundled_path(name).exists():
            return load_ruleset(bundled_path(name))
        return load_ruleset()
    except Exception:   # noqa: BLE001 - a missing ruleset only costs the description
        return None


def _rule_text(run_id: int, rule_id: str) -> dict | None:
    rs = _ruleset(run_ruleset(engine(), run_id))
    if rs is None:
        return None
    try:
        rule = rs.rule(rule_id)
    except Exception:   # noqa: BLE001 - a rule no longer in the bundled set
        return None
    return {"description": rule.description.get(g.lang) or rule.description.get("zh"),
            "hint": (rule.hint or {}).get(g.lang) or (rule.hint or {}).get("zh"), "test": rule.test_text}


def _label(prefix: str, name: object) -> str:
    """A translated label, or the code itself when the catalogue has none."""
    try:
        return g.t(f"qc.{prefix}_{name}")
    except (MessageError, KeyError):
        return str(name)


@bp.context_processor
def _helpers() -> dict:
    return {"field_label": lambda n: _label("field", n), "decision_label": lambda n: _label("decision", n),
            "kind_label": lambda n: _label("kind", n)}


def _item_in_scope(text: str, action: str) -> tuple[ItemRef, dict]:
    """The item a URL names and where it is: 404 for a malformed or unknown ref, 403 (and a
    ledgered refusal) when its EA is outside the officer's scope for ``action``."""
    try:
        iref = ItemRef.parse(text)
    except ReviewError:
        abort(404)
    loc = item_location(engine(), iref)
    if loc is None:
        abort(404)
    check_scope(action, loc["ea_code"])
    return iref, loc


def _filters() -> dict[str, str]:
    """The queue filters from the query string: codes only (digits, letters, _ and -), short."""
    out = {}
    for name in FILTERS:
        v = request.args.get(name, "").strip()[:40]
        if v and all(c.isalnum() or c in "_-" for c in v) and v.isascii():
            out[name] = v
    return out


@bp.get("/queue")
@require("review.read")
def queue():
    op = current_operator()
    filters = _filters()
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() else 1
    data = queue_page(engine(), op, filters, page_no)
    waiting = len(_awaiting_second(engine(), op))
    return render_template("qc_queue.html.j2", data=data, filters=filters, filter_names=FILTERS, waiting=waiting)


def _decisions_for(loc: dict) -> list[tuple[str, str]]:
    allowed = FLAG_DECISIONS if loc["kind"] == "flag" else DECISIONS.get(loc["kind"], ())
    out, n = [], 0
    used = set()
    for d in allowed:
        key = SHORTCUTS.get(d)
        if key is None or key in used:
            n += 1
            key = str(n)
        used.add(key)
        out.append((d, key))
    return out


#: record field -> its census code list (persons and register columns), for labels beside codes
CODED = {c.name: c.code_list for kind in ("persons", "register") for c in KINDS[kind] if c.type == "code"}


def _shown(field: str, value) -> str:
    """A record value as the page shows it: a code with its label (``2 女``), else as stored."""
    if value is None:
        return ""
    if field in CODED and value != "":
        try:
            return f"{value} {label(CODED[field], str(value), g.lang)}"
        except KeyError:
            return str(value)          # a code outside the list: shown as it is (a rule flags it)
    return str(value)


def _record_table(records: list[dict], marked: set[str]) -> dict:
    """Fields as rows, records as columns; which rows differ between records; which are marked."""
    fields: list[str] = []
    for r in records:
        for k in r:
            if k not in fields and k not in HIDDEN:
                fields.append(k)
    differ = set()
    if len(records) > 1:
        for f in fields:
            values = {str(r.get(f)) for r in records if f in r}
            if len(values) > 1 and f not in ("source", "person_key", "register_key", "household_key", "line_no"):
                differ.add(f)
    return {"fields": fields, "differ": differ, "marked": marked}


def _columns(loc: dict, records: list[dict]) -> list[str]:
    """A heading per record column: PES / census, kept / extra, census / register."""
    kind = loc["kind"]
    heads = []
    for i, r in enumerate(records):
        if kind == "pair":
            heads.append(g.t("qc.col_pes") if r.get("source") == "pes" else g.t("qc.col_census"))
        elif kind == "cluster":
            heads.append(g.t("qc.col_kept") if i == 0 else g.t("qc.col_extra"))
        elif kind == "register":
            heads.append(g.t("qc.col_register") if r.get("source") == "register" else g.t("qc.col_census"))
        else:
            heads.append(g.t("qc.col_record") if len(records) == 1 else g.t("qc.col_member", n=i + 1))
    return heads


@bp.get("/item/<ref>")
@require("review.read")
def item(ref: str):
    op = current_operator()
    iref, loc = _item_in_scope(ref, "review.read")
    shown = show_item(engine(), op.name, str(iref))
    hold(str(iref), _holder(op))
    detail = shown["detail"]
    rule = None
    marked: set[str] = set()
    suggested: list[str] = []
    example: dict = {}
    if iref.kind == "flag":
        rule = _rule_text(loc["run_id"], loc["rule"])
        marked = set(detail.get("fields") or [])
        sug = detail.get("suggestion") or {}
        suggested = list(sug.get("fields") or [])
        example = sug.get("example") or {}
    records = shown["records"]
    table = _record_table(records, marked)
    awaiting = [str(r) for r in _awaiting_second(engine(), op)]
    second = str(iref) in awaiting
    can_decide = shown["status"] == "open" or second
    history = []
    for r in records:
        key, source = r.get("person_key"), r.get("source")
        if key and source in ("census", "pes") and op.covers(r.get("ea_code")):   # no refusal to ledger
            try:
                h = record_history(engine(), op.name, key, source)
            except (Refused, ValueError):
                continue   # outside the scope (e.g. a pair's other EA): no history shown
            history.append(h)
    correctable = [f for f in suggested if f in CORRECTABLE] if (
        iref.kind == "flag" and loc.get("scope") != "household" and shown["status"] == "open") else []
    evidence = detail.get("evidence") if iref.kind == "review" else None
    return render_template(
        "qc_item.html.j2", shown_value=_shown, item=shown, loc=loc, ref=str(iref), rule=rule, detail=detail, records=records,
        table=table, heads=_columns(loc, records), suggested=set(suggested), example=example,
        decisions=_decisions_for(loc), can_decide=can_decide, second=second, history=history,
        correctable=correctable, evidence=evidence, max_reason=MAX_REASON)


@bp.post("/item/<ref>/decide")
@require("review.decide")
def decide(ref: str):
    op = current_operator()
    iref, loc = _item_in_scope(ref, "review.decide")
    decision = (request.form.get("decision") or request.form.get("decision_button") or "").strip()[:32]
    reason = request.form.get("reason", "")[:MAX_REASON]
    corrections = {}
    if decision == "confirmed" and iref.kind == "flag":
        for f in CORRECTABLE:
            v = request.form.get(f"fix_{f}", "").strip()
            if v:
                corrections[f] = v
    try:
        stage = request.form.get("stage") if request.form.get("stage") in ("first", "second") else None
        result = decide_item(engine(), op.name, str(iref), decision, reason, corrections=corrections or None,
                             expect_stage=stage)
    except AlreadyDecided:
        flash(g.t("qc.flash_already", ref=str(iref)), "warning")
        return _to_next(op.name)
    except Refused:
        abort(403)
    except ReviewError as exc:
        msg = g.t("qc.error_reason") if not reason.strip() else g.t("qc.error_decision", detail=_safe(str(exc)))
        return render_template("error.html.j2", code=400, message=msg), 400
    note = g.t("qc.flash_decided", ref=str(iref), decision=_label("decision", decision),
               stage=g.t(f"qc.stage_{result['stage']}"))
    if result.get("four_eyes"):
        note += " " + g.t("qc.flash_four_eyes")
    flash(note, "ok")
    release(str(iref))
    return _to_next(op.name)


def _safe(text: str) -> str:
    """A review error's text, short; it holds refs, decisions and field names, never values."""
    return text[:200]


def _holder(op) -> str:
    """Who holds an item: the signed-in session (an officer with two tabs is two holders)."""
    return f"{op.name}/{session.get('sid', '')}"


def _next_free(op) -> str | None:
    """The next item for this officer — a four-eyes check awaiting them, then the queue's
    order — skipping items another officer has just been given or has open, and holding the
    one chosen (audit_engine/web/holds.py): officers sharing a queue spread over it instead of
    all opening its oldest item."""
    waiting = [str(r) for r in _awaiting_second(engine(), op)]
    me = _holder(op)
    for ref in waiting + next_candidates(engine(), op):
        if not held_by_other(ref, me):
            hold(ref, me)
            return ref
    return next_item(engine(), op.name)   # every candidate is held: the oldest anyway


def _to_next(operator: str):
    ref = _next_free(current_operator())
    if ref is None:
        flash(g.t("qc.flash_empty"), "ok")
        return redirect(url_for("qc.queue"), 303)
    return redirect(url_for("qc.item", ref=ref), 303)


@bp.get("/next", endpoint="next")
@require("review.read")
def next_page():
    """The next item: four-eyes checks first, then the oldest open one; ``?after=F12`` skips
    to the item after F12 in queue order (the record page's "next" without deciding)."""
    op = current_operator()
    after = request.args.get("after", "")
    try:
        ref = next_after(engine(), op, ItemRef.parse(after)) if after else _next_free(op)
    except ReviewError:
        ref = _next_free(op)
    if ref is None:
        flash(g.t("qc.flash_empty"), "ok")
        return redirect(url_for("qc.queue"))
    return redirect(url_for("qc.item", ref=ref))


@bp.get("/four-eyes", endpoint="four_eyes")
@require("review.read")
def four_eyes_page():
    op = current_operator()
    waiting = items_summary(engine(), _awaiting_second(engine(), op))
    figures = four_eyes(engine())
    mine = [d for d in figures["disagreements"] if op.covers(d["ea_code"])]
    return render_template("qc_four_eyes.html.j2", waiting=waiting, figures=figures, disagreements=mine)

