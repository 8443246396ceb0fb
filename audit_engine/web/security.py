"""Who is signed in, what they may do, and the headers every response carries.

Every view names the action it needs (``@require("review.read")``); the check runs on the
server through :func:`audit_engine.access.operators.authorize`, the same function the CLI uses,
so a refusal is ledgered the same way. Record pages then check the item's EA against the
officer's scope (:func:`check_scope`). Leadership's role holds no ``review.*`` action, so no
record view is reachable for it whatever the URL.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for

from audit_engine.access.operators import OperatorInfo, Refused, authorize, get_operator

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def engine():
    return current_app.config["ENGINE"]


def current_operator() -> OperatorInfo | None:
    """The signed-in operator, re-read on every request: a disabled operator, or a session
    from before a sign-out or a password change, is out at once."""
    if "op" not in g:
        name = session.get("op")
        op = get_operator(engine(), name) if name else None
        if op is not None and (not op.active or session.get("epoch") != op.session_epoch):
            session.clear()           # disabled, signed out elsewhere, or password changed
            op = None
        g.op = op
    return g.op


def require(action: str) -> Callable:
    """Decorator: sign-in required, and ``action`` allowed for the operator's role."""
    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def inner(*args, **kwargs):
            op = current_operator()
            if op is None:
                return redirect(url_for("auth.login"))
            try:
                authorize(engine(), op.name, action)
            except Refused:
                abort(403)
            return view(*args, **kwargs)
        return inner
    return wrap


def check_scope(action: str, ea_code: str | None) -> OperatorInfo:
    """403 (and a ledgered refusal) unless the operator may take ``action`` on ``ea_code``."""
    op = current_operator()
    if op is None:
        abort(401)
    try:
        authorize(engine(), op.name, action, ea_code)
    except Refused:
        abort(403)
    return op


def add_headers(response):
    """Security headers on every response; pages are never cached (they can show records).

    The CSP is the strict one unless the view already set its own: an issued report (a
    self-contained file with an inline ``<style>``) and its charts are served with
    ``default-src 'none'; style-src 'unsafe-inline'; img-src data:``, which still allows no
    script at all. Only a view can set a header before this hook, so a request cannot."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response
