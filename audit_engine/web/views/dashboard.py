"""Leadership's dashboard: the accuracy headline, omission by stratum, the listing and register
comparisons, the review backlog, and the reports, as aggregates only.

Every figure comes from what the engine stored: the accuracy figures from
:func:`reports.accuracy.gather` (the same context the accuracy report prints, so page and
report agree to the digit), the listing reconciliation from
:func:`audit_engine.listing.latest_reconciliation`, the register comparison from
:func:`audit_engine.register.run.register_summary`, the backlog from
:func:`audit_engine.review.stats.review_statistics`. The page shows counts, rates and township
names, never a record key, name or ID number (a test scans it against the store's persons).

Reports (``/reports/<kind>``) are *issued* (:func:`reports.issue.issue`: written to a
server-side folder, SHA-256 in the ledger) and the file's bytes are served, with a ledger
entry ``web report view``. A report is a self-contained page with an inline ``<style>``, which
the application's CSP (``style-src 'self'``) would block; its response carries its own,
narrower policy instead (:data:`REPORT_CSP`: no script, no fetch, inline style only), which
:func:`audit_engine.web.security.add_headers` keeps. The charts on the dashboard are
matplotlib SVG with ``style="…"`` attributes, so they are served the same way, as images.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, render_template

from audit_engine.access.operators import ACTIONS
from audit_engine.ledger import append as ledger_append
from audit_engine.listing import latest_reconciliation
from audit_engine.register.run import register_summary
from audit_engine.review.stats import review_statistics
from audit_engine.store.runs import latest_run
from audit_engine.web.security import current_operator, engine, require
from reports.common import township_names
from reports.i18n import MessageError
from reports.issue import ALL_KINDS, ReportError, issue
from reports.render import num, pct

bp = Blueprint("dashboard", __name__)

#: the policy of an issued report and of a chart: inline style, inline images, nothing else
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'none'")
#: register classes in the order the bulletin prints them
REGISTER_CLASSES = ("registered_here", "registered_elsewhere", "no_registration", "not_enumerated",
                    "moved_out", "deceased")
CHARTS = ("strata", "post")


def label(prefix: str, value: str) -> str:
    """``dashboard.<prefix>_<value>`` in the reader's language; the value itself when the
    engine has a kind or status this page does not know yet (never a blank cell)."""
    try:
        return g.t(f"dashboard.{prefix}_{value}")
    except MessageError:
        return value


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"pct": pct, "num": num, "label": label}


def _accuracy(lang: str) -> dict[str, Any] | None:
    """The accuracy report's context for the newest estimate run, or None without one.

    Cached per (estimate run, register run, language): a run's stored figures never change,
    and drawing the charts takes a second."""
    from reports import accuracy

    key = (latest_run(engine(), "estimate"), latest_run(engine(), "link register"), lang)
    if key[0] is None:
        return None
    cache = current_app.extensions.setdefault("dashboard_accuracy", {})
    if key not in cache:
        try:
            context = accuracy.gather(engine(), lang, run_id=key[0])
        except ReportError:
            return None
        if len(cache) > 8:
            cache.clear()
        cache[key] = context
    return cache[key]


def _listing(towns: dict[str, str]) -> dict[str, Any] | None:
    rec = latest_reconciliation(engine())
    if rec is None:
        return None
    s = rec["summary"]
    rows = [{**r, "name": towns.get(str(r["township_code"]), str(r["township_code"]))}
            for r in rec.get("townships", [])]
    pl, pe = s.get("persons_listed") or 0, s.get("persons_enumerated") or 0
    return {"run_id": rec["run_id"], "summary": s, "townships": rows, "persons_gap": pe - pl,
            "persons_gap_rate": (pe - pl) / pl if pl else None}


def _register(towns: dict[str, str]) -> dict[str, Any] | None:
    reg = register_summary(engine())
    if reg is None:
        return None
    classes = [c for c in REGISTER_CLASSES if c in reg["classes"]] + sorted(
        c for c in reg["classes"] if c not in REGISTER_CLASSES)
    rows = [{"code": code, "name": towns.get(code, code), "counts": counts}
            for code, counts in sorted(reg["by_township"].items())]
    return {"run_id": reg["run_id"], "classes": classes, "totals": reg["classes"], "townships": rows,
            "total": sum(reg["classes"].values())}


def _backlog() -> dict[str, Any]:
    stats = review_statistics(engine())
    items = stats["items"]
    kinds = sorted(items)
    statuses = sorted({s for by in items.values() for s in by})
    return {"flags": stats["flags"], "items": items, "kinds": kinds, "statuses": statuses,
            "four_eyes": stats["four_eyes"],
            "open": stats["flags"].get("open", 0) + sum(by.get("open", 0) for by in items.values())}


@bp.get("/dashboard")
@require("aggregate")
def dashboard():
    op = current_operator()
    towns = township_names(engine())
    acc = _accuracy(g.lang)
    return render_template(
        "dashboard.html.j2", acc=acc, listing=_listing(towns), register=_register(towns), backlog=_backlog(),
        kinds=list(ALL_KINDS), can_report=op.role in ACTIONS["report"])


@bp.get("/dashboard/chart/<name>.svg")
@require("aggregate")
def chart(name: str):
    """A dashboard chart as an SVG image (its ``style`` attributes need the report policy)."""
    acc = _accuracy(g.lang)
    if name not in CHARTS or acc is None or name not in acc["charts"]:
        abort(404)
    response = Response(str(acc["charts"][name]), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


def reports_dir() -> Path:
    """Where the web application issues reports: the ``REPORTS_DIR`` setting, else a private
    (0700) folder made for this process."""
    folder = current_app.config.get("REPORTS_DIR")
    if folder:
        return Path(folder)
    if "dashboard_reports" not in current_app.extensions:
        current_app.extensions["dashboard_reports"] = Path(tempfile.mkdtemp(prefix="census-audit-reports-"))
    return current_app.extensions["dashboard_reports"]


@bp.get("/reports/<kind>")
@require("report")
def report(kind: str):
    """Issue the report now (the county's, for the bulletin) and serve the issued file."""
    if kind not in ALL_KINDS:
        abort(404)
    op = current_operator()
    # One folder per view: two readers at once never overwrite each other's file.
    out = reports_dir() / uuid.uuid4().hex[:16]
    try:
        issued = issue(engine(), kind, out, lang=g.lang, operator=op.name)
    except ReportError as exc:
        return render_template("dashboard_report_missing.html.j2", kind=kind, reason=str(exc)), 409
    data = issued.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if sha != issued.sha256:          # the file changed under us: serve nothing unledgered
        abort(500)
    ledger_append(engine(), operator=op.name, command="web report view",
                  params={"kind": kind, "lang": g.lang},
                  result={"file": issued.path.name, "sha256": sha, "issued_seq": issued.ledger_seq})
    response = Response(data, mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers["X-Report-SHA256"] = sha
    return response
