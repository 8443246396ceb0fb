"""Supervision's pages: the runs (what ran, how long, how far a load got) and the ledger (its
head, the newest entries, and a button that verifies the whole chain).

Both need the action ``run`` (supervision and admin). The ledger holds ids, counts and hashes,
never personal data, by design; the page still shows only scalar parameters (numbers, short
texts), so a future command that put something larger in its parameters would not spill it here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from audit_engine.ledger import append as ledger_append
from audit_engine.ledger import head, history, verify
from audit_engine.store.models import LoadFile, Run
from audit_engine.web.security import current_operator, engine, require

bp = Blueprint("supervision", __name__)

PAGE_SIZE = 50
LEDGER_LIMITS = (50, 200, 500)
#: parameter names never shown, whatever a command puts there
HIDDEN_PARAMS = frozenset({"record", "record_key", "person_key", "household_key", "subject", "name_value",
                           "id_number", "values", "password", "reason"})
MAX_VALUE = 48          # characters of one shown parameter value
MAX_PARAMS = 6          # parameters shown per entry
HEX = re.compile(r"[0-9a-f]{32,}")


def _aware(ts: datetime | None) -> datetime | None:
    return None if ts is None else ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def duration(start: datetime | None, end: datetime | None) -> str:
    """'2.4 s', '3 min 05 s', '1 h 02 min'; a running run counts to now."""
    start, end = _aware(start), _aware(end) or datetime.now(UTC)
    if start is None:
        return "—"
    secs = max(0.0, (end - start).total_seconds())
    if secs < 60:
        return f"{secs:.1f} s"
    m, s = divmod(int(secs), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def short_params(params: dict[str, Any]) -> str:
    """A one-line summary of scalar parameters: ``kind=pes · seed=5``; nested values are
    counted, not shown."""
    parts = []
    for key in sorted(params):
        if key in HIDDEN_PARAMS or len(parts) >= MAX_PARAMS:
            continue
        value = params[key]
        if isinstance(value, dict | list):
            text = f"({len(value)})" if value else "–"
        elif value is None:
            continue
        else:
            text = str(value)
            if HEX.fullmatch(text):       # a hash: its first 12 digits identify it
                text = text[:12] + "…"
            elif len(text) > MAX_VALUE:
                text = text[:MAX_VALUE - 1] + "…"
        parts.append(f"{key}={text}")
    return " · ".join(parts)


def _progress(run, params: dict[str, Any], summary: dict[str, Any], files: dict) -> dict[str, Any] | None:
    """A load's rows read / loaded / quarantined (from its load_files row, which a running load
    updates chunk by chunk); other runs: up to four numeric summary figures."""
    if run.kind == "load":
        lf = files.get((params.get("sha256"), params.get("source"), params.get("kind")))
        if lf is not None:
            return {"load": True, "file": params.get("file"), "status": lf.status, "read": lf.rows_read,
                    "loaded": lf.rows_loaded, "quarantined": lf.rows_quarantined}
        if summary:
            return {"load": True, "file": params.get("file"), "status": summary.get("status"),
                    "read": summary.get("rows_read"), "loaded": summary.get("rows_loaded"),
                    "quarantined": summary.get("rows_quarantined")}
        return None
    figures = [(k, v) for k, v in sorted(summary.items())
               if isinstance(v, int | float) and not isinstance(v, bool) and k not in HIDDEN_PARAMS][:4]
    return {"load": False, "figures": figures} if figures else None


@bp.get("/runs")
@require("run")
def runs():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    kind = request.args.get("kind", "").strip()[:20]
    stmt = select(Run)
    count = select(func.count()).select_from(Run)
    if kind:
        stmt, count = stmt.where(Run.kind == kind), count.where(Run.kind == kind)
    with engine().connect() as conn:
        total = int(conn.execute(count).scalar_one())
        rows = conn.execute(stmt.order_by(Run.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        kinds = [k for (k,) in conn.execute(select(Run.kind).distinct().order_by(Run.kind))]
        keys = []
        for r in rows:
            if r.kind == "load":
                p = json.loads(r.params or "{}")
                keys.append((p.get("sha256"), p.get("source"), p.get("kind")))
        files = {}
        if keys:
            hashes = {k[0] for k in keys if k[0]}
            for lf in conn.execute(select(LoadFile).where(LoadFile.sha256.in_(hashes))):
                files[(lf.sha256, lf.source, lf.kind)] = lf
        running = int(conn.execute(select(func.count()).select_from(Run).where(Run.status == "running")).scalar_one())
        failed = int(conn.execute(select(func.count()).select_from(Run).where(Run.status == "failed")).scalar_one())
    out = []
    for r in rows:
        params, summary = json.loads(r.params or "{}"), json.loads(r.summary or "{}")
        out.append({"id": r.id, "kind": r.kind, "status": r.status, "operator": r.operator,
                    "started": _fmt(r.started_at), "finished": _fmt(r.finished_at),
                    "duration": duration(r.started_at, r.finished_at), "params": short_params(params),
                    "progress": _progress(r, params, summary, files)})
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template("supervision_runs.html.j2", runs=out, page=page, pages=pages, total=total,
                           kind=kind, kinds=kinds, running=running, failed=failed)


def _fmt(ts: datetime | None) -> str:
    ts = _aware(ts)
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "—"


def _ledger_page(result: dict[str, Any] | None = None, status: int = 200):
    limit = request.values.get("limit", LEDGER_LIMITS[0], type=int)
    limit = limit if limit in LEDGER_LIMITS else LEDGER_LIMITS[0]
    command = request.values.get("command", "").strip()[:80] or None
    seq, head_hash = head(engine())
    entries = [{"seq": e["seq"], "ts": e["ts"][:19].replace("T", " "), "operator": e["operator"],
                "command": e["command"], "params": short_params(e["params"]),
                "result": short_params(e["result"]), "hash": e["hash"]}
               for e in history(engine(), limit=limit, command=command)]
    return render_template("supervision_ledger.html.j2", seq=seq, head_hash=head_hash, entries=entries,
                           limit=limit, limits=LEDGER_LIMITS, command=command or "", result=result), status


@bp.get("/ledger")
@require("run")
def ledger():
    return _ledger_page()


@bp.post("/ledger/verify")
@require("run")
def verify_ledger():
    """Recompute the whole chain; show and ledger the outcome."""
    op = current_operator()
    r = verify(engine())
    result = {"ok": r.ok, "entries": r.entries, "head_hash": r.head_hash, "first_bad_seq": r.first_bad_seq,
              "problem": r.problem, "message": (r.details or {}).get("message")}
    entry = ledger_append(engine(), operator=op.name, command="web ledger verify", params={},
                          result={k: v for k, v in result.items() if v is not None})
    result["seq"] = entry.seq
    return _ledger_page(result)
