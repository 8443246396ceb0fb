"""The application's pages, one blueprint per audience."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from audit_engine.web.views import auth, dashboard, qc, supervision

    for module in (auth, qc, dashboard, supervision):
        app.register_blueprint(module.bp)
