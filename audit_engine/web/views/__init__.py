"""The application's pages, one blueprint per audience."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from audit_engine.web.views import auth

    app.register_blueprint(auth.bp)
    for name in ("qc", "dashboard", "supervision"):   # each audience's pages, when present
        try:
            module = __import__(f"audit_engine.web.views.{name}", fromlist=["bp"])
        except ModuleNotFoundError as exc:
            if exc.name != f"audit_engine.web.views.{name}":
                raise
            continue
        app.register_blueprint(module.bp)
