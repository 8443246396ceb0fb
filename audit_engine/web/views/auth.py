"""Sign in, sign out, language, and the home page that sends each role to its own pages."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from audit_engine.ledger import append as ledger_append
from audit_engine.web.auth import end_sessions, sign_in
from audit_engine.web.security import current_operator, engine
from reports.i18n import LANGS

bp = Blueprint("auth", __name__)

#: role -> the endpoint of its first page
HOME = {"qc": "qc.queue", "leadership": "dashboard.dashboard", "supervision": "supervision.runs",
        "admin": "supervision.runs"}


@bp.get("/")
def home():
    op = current_operator()
    if op is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME[op.role]))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, name = None, ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:64]
        result = sign_in(engine(), name, request.form.get("password", ""))
        if result.ok:
            lang = session.get("lang")
            session.clear()
            session.permanent = True
            session["op"] = result.operator.name
            session["epoch"] = result.operator.session_epoch
            session["sid"] = secrets.token_hex(8)   # this sign-in (item holds are per session)
            if lang:
                session["lang"] = lang
            return redirect(url_for("auth.home"))
        error = g.t("web.login_locked") if result.reason == "locked" else g.t("web.login_failed")
    return render_template("login.html.j2", error=error, name=name), (401 if error else 200)


@bp.post("/logout")
def logout():
    op = current_operator()
    if op is not None:
        end_sessions(engine(), op.name)
        ledger_append(engine(), operator=op.name, command="web sign-out", params={}, result={"sessions_ended": True})
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/lang/<code>")
def lang(code: str):
    if code not in LANGS:
        abort(404)
    session["lang"] = code
    target = request.form.get("next", "/")
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return redirect(target if local else "/")
