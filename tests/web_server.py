"""A live census-audit web server for the browser and concurrency tests (tests/test_web_*.py).

:func:`live_server` copies the session's demo store (``pipeline_store``), registers the web
operators (the demo's admin registers them: two QC officers for one township with open flags,
a leadership and a supervision operator, a spare operator for the lockout test, and as many
extra reviewers for that township as asked), sets their passwords, and serves the real
application (``create_app``, Secure session cookies as in production) under waitress on
127.0.0.1 and a free port, in a background thread, until the ``with`` block ends.

:class:`Client` is a standard-library HTTP client (urllib with its own cookie jar) that signs
in like a browser and reads the CSRF token from each form.
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from helpers import copy_store
from sqlalchemy import Engine, func, select

from audit_engine.access.operators import add_operator
from audit_engine.store.models import Flag
from audit_engine.web.auth import set_password

HOST = "127.0.0.1"
ADMIN = "demo.admin"          # the demo registers it as the store's first operator
OFFICER = "web.qc1"
SECOND_OFFICER = "web.qc2"    # same township: the four-eyes partner
LEADER = "web.lead"
SUPERVISOR = "web.super"
LOCKED = "web.lockme"         # the lockout test's victim (a supervision operator)


def password(name: str) -> str:
    return f"pw-{name}-not-guessable"


def busiest_township(engine: Engine) -> str:
    """The 9-digit township with the most open flags."""
    with engine.connect() as conn:
        town = func.substr(Flag.ea_code, 1, 9)
        row = conn.execute(select(town, func.count()).where(Flag.status == "open").group_by(town)
                           .order_by(func.count().desc(), town).limit(1)).first()
    assert row is not None, "the demo store has no open flags"
    return str(row[0])


@dataclass
class Live:
    url: str
    engine: Engine
    db: Path
    township: str
    reviewers: list[str] = field(default_factory=list)

    officer = OFFICER
    second_officer = SECOND_OFFICER
    leader = LEADER
    supervisor = SUPERVISOR
    admin = ADMIN
    locked = LOCKED

    @staticmethod
    def password(name: str) -> str:
        return password(name)


def _register(engine: Engine, township: str, reviewers: list[str], reviewer_scope: str) -> None:
    people = [(OFFICER, "qc", [township]), (SECOND_OFFICER, "qc", [township]), (LEADER, "leadership", []),
              (SUPERVISOR, "supervision", []), (LOCKED, "supervision", [])]
    people += [(name, "qc", [reviewer_scope]) for name in reviewers]
    for name, role, scope in people:
        add_operator(engine, ADMIN, name, role, scope)
    for name in [ADMIN, *(p[0] for p in people)]:
        set_password(engine, ADMIN, name, password(name))


@contextmanager
def live_server(pipeline_store: tuple[Path, str], folder: Path, *, reviewers: int = 0, threads: int = 8,
                secure_cookies: bool = True, reviewer_scope: str | None = None) -> Iterator[Live]:
    """The application over a copy of the pipeline store, served on 127.0.0.1 (see the module doc);
    the extra reviewers ``web.rev01``... cover ``reviewer_scope``: the officers' township by
    default, ``"county"`` for its county (6 digits), or an area code."""
    from waitress import create_server, wasyncore

    from audit_engine.web import create_app

    folder.mkdir(parents=True, exist_ok=True)
    engine = copy_store(pipeline_store, folder)
    db = folder / "store.db"
    township = busiest_township(engine)
    names = [f"web.rev{i:02d}" for i in range(1, reviewers + 1)]
    scope = township[:6] if reviewer_scope == "county" else (reviewer_scope or township)
    _register(engine, township, names, scope)
    app = create_app(engine, secure_cookies=secure_cookies)
    server = create_server(app, host=HOST, port=0, threads=threads, ident="census-audit-test",
                           clear_untrusted_proxy_headers=True)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield Live(f"http://{HOST}:{server.effective_port}", engine, db, township, names)
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=10)
        wasyncore.close_all(server._map)
        thread.join(10)
        engine.dispose()


# -- a standard-library HTTP client ---------------------------------------------------------


class _LoopbackPolicy(http.cookiejar.DefaultCookiePolicy):
    """Send Secure cookies to 127.0.0.1 over http, as browsers do (loopback is a secure context)."""

    def return_ok_secure(self, cookie, request):
        if urllib.parse.urlsplit(request.get_full_url()).hostname == HOST:
            return True
        return super().return_ok_secure(cookie, request)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def csrf_token(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no csrf_token field in the page"
    return m.group(1)


class Client:
    """One reviewer's HTTP session: its own cookie jar; redirects are returned, not followed."""

    def __init__(self, base: str, timeout: float = 60) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar(policy=_LoopbackPolicy())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.timeout = timeout

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Response:
        url = path if path.startswith("http") else self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, method=method)
        start = time.perf_counter()
        try:
            with self.opener.open(req, timeout=self.timeout) as r:
                status, headers, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, raw = e.code, e.headers, e.read()
        seconds = time.perf_counter() - start
        return Response(status, {k.lower(): v for k, v in headers.items()}, raw.decode("utf-8", "replace"), seconds)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, str]) -> Response:
        return self.request("POST", path, data)

    def sign_in(self, name: str, pw: str | None = None) -> Response:
        page = self.get("/login")
        r = self.post("/login", {"name": name, "password": pw or password(name), "csrf_token": csrf_token(page.text)})
        assert r.status in (302, 303), f"sign-in of {name} gave {r.status}"
        return r
