"""The Flask application factory: configuration, security, languages, error pages, blueprints."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, g, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Engine

from audit_engine.ledger import append as ledger_append
from audit_engine.web.security import add_headers, current_operator
from reports.i18n import LANGS, Translator

SESSION_HOURS = 8                   # one working day; then sign in again


def create_app(engine: Engine, *, secret_key: str | None = None, secure_cookies: bool = True,
               testing: bool = False) -> Flask:
    """The application over ``engine``. Without ``secret_key`` a random one is drawn: sessions
    then end when the server stops, which is what a field office wants by default."""
    app = Flask(__name__)
    app.config.update(
        ENGINE=engine, SECRET_KEY=secret_key or secrets.token_hex(32), TESTING=testing,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_COOKIE_NAME="census_audit_session", PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600, MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False, PROPAGATE_EXCEPTIONS=False,
    )
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.after_request(add_headers)

    @app.before_request
    def _lang() -> None:
        lang = session.get("lang", "zh")
        g.lang = lang if lang in LANGS else "zh"
        g.t = Translator(g.lang, package="audit_engine.web")

    CSRFProtect(app)   # after the language hook: a refused form is answered in the reader's language

    @app.context_processor
    def _globals() -> dict:
        return {"t": g.t, "lang": g.lang, "op": current_operator(), "langs": LANGS}

    def _error(code: int, key: str):
        def handler(_exc):
            return render_template("error.html.j2", code=code, message=g.t(f"web.error_{key}")), code
        return handler

    for code, key in ((400, "bad_request"), (401, "forbidden"), (403, "forbidden"), (404, "not_found"),
                      (405, "bad_request"), (413, "bad_request"), (500, "server")):
        app.register_error_handler(code, _error(code, key))

    @app.errorhandler(CSRFError)
    def _csrf(_exc):
        op = current_operator()
        ledger_append(engine, operator=op.name if op else "(not signed in)", command="web refused",
                      params={"path": request.path, "method": request.method}, result={"reason": "csrf"})
        return render_template("error.html.j2", code=400, message=g.t("web.error_csrf")), 400

    from audit_engine.web.views import register_blueprints

    register_blueprints(app)
    return app
