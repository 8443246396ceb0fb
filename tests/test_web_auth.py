"""Web sign-in: argon2id passwords, lockout, sessions, CSRF, security headers — on both stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from audit_engine.access.operators import Refused, add_operator, disable_operator
from audit_engine.cli.main import cli
from audit_engine.ledger import history
from audit_engine.store.models import Operator
from audit_engine.web import create_app
from audit_engine.web.auth import LOCK_MINUTES, MAX_FAILURES, PasswordError, set_password, sign_in

GOOD = "correct horse battery"


@pytest.fixture
def registry(engine):
    add_operator(engine, "adm", "adm", "admin")
    add_operator(engine, "adm", "li.qc", "qc", ["320831001"])
    add_operator(engine, "adm", "boss", "leadership")
    for name in ("adm", "li.qc", "boss"):
        set_password(engine, "adm", name, GOOD + name)
    return engine


def _token(client, path="/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def _login(client, name, password):
    return client.post("/login", data={"name": name, "password": password, "csrf_token": _token(client)})


def test_password_is_an_argon2id_hash_and_rules_apply(registry):
    with registry.connect() as conn:
        stored = conn.execute(select(Operator.password_hash).where(Operator.name == "li.qc")).scalar_one()
    assert stored.startswith("$argon2id$") and GOOD not in stored
    with pytest.raises(PasswordError):
        set_password(registry, "adm", "li.qc", "short")
    with pytest.raises(PasswordError):
        set_password(registry, "adm", "li.qc", "LI.QC")  # the name itself (any case) never
    with pytest.raises(Refused):
        set_password(registry, "li.qc", "boss", GOOD)    # only an admin sets another's password
    set_password(registry, "li.qc", "li.qc", GOOD + "new")  # one's own: allowed
    assert sign_in(registry, "li.qc", GOOD + "new").ok and not sign_in(registry, "li.qc", GOOD + "li.qc").ok


def test_lockout_after_repeated_failures_and_its_expiry(registry):
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(registry, "boss", "wrong").reason == "bad_credentials"
    assert sign_in(registry, "boss", "wrong").reason == "locked"
    assert sign_in(registry, "boss", GOOD + "boss").reason == "locked"          # even the right password
    later = datetime.now(UTC) + timedelta(minutes=LOCK_MINUTES + 1)
    assert sign_in(registry, "boss", GOOD + "boss", now=later).ok              # the lock expires
    assert sign_in(registry, "nobody", "x").reason == "bad_credentials"         # unknown: same answer
    outcomes = [h["result"]["outcome"] for h in history(registry, command="web sign-in", limit=20)]
    assert outcomes.count("locked") == 2 and outcomes.count("bad_credentials") == MAX_FAILURES
    assert all("wrong" not in str(h) and GOOD not in str(h) for h in history(registry, limit=50))


def test_session_cookie_csrf_and_headers(registry):
    app = create_app(registry)
    c = app.test_client()
    assert c.get("/").headers["Location"].endswith("/login")
    r = c.get("/login")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"] and "unsafe-inline" not in \
        r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
    assert "<script>" not in r.text and " style=" not in r.text
    bad = _login(c, "li.qc", "wrong")
    assert bad.status_code == 401 and "li.qc" in bad.text and "wrong" not in bad.text
    no_token = c.post("/login", data={"name": "li.qc", "password": GOOD + "li.qc"})
    assert no_token.status_code == 400
    assert history(registry, limit=1)[0]["command"] == "web refused"
    ok = _login(c, "li.qc", GOOD + "li.qc")
    assert ok.status_code == 302
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert "li.qc" in c.get("/").text or c.get("/").status_code == 302
    # a disabled operator is out on the next request
    disable_operator(registry, "adm", "li.qc")
    assert c.get("/").headers["Location"].endswith("/login")
    # sign-out
    c2 = app.test_client()
    _login(c2, "boss", GOOD + "boss")
    token = _token(c2, "/login")
    c2.post("/logout", data={"csrf_token": token})
    assert c2.get("/").headers["Location"].endswith("/login")
    assert history(registry, limit=1)[0]["command"] == "web sign-out"


def test_language_switch_keeps_to_local_paths(registry):
    c = create_app(registry).test_client()
    token = _token(c)
    r = c.post("/lang/en", data={"csrf_token": token, "next": "https://evil.example/"})
    assert r.headers["Location"] == "/"
    assert "Sign in" in c.get("/login").text


def test_operator_passwd_cli(registry, db_url):
    r = CliRunner().invoke(cli, ["--db", db_url, "--operator", "adm", "operator", "passwd", "boss", "--password-stdin"],
                           input="another good one\n")
    assert r.exit_code == 0, r.output
    assert sign_in(registry, "boss", "another good one").ok
    r = CliRunner().invoke(cli, ["--db", db_url, "--operator", "adm", "operator", "passwd", "boss", "--password-stdin"],
                           input="short\n")
    assert r.exit_code == 2 and "at least" in r.output


def test_sign_out_and_a_new_password_end_copied_sessions(registry):
    app = create_app(registry)
    c = app.test_client()
    _login(c, "boss", GOOD + "boss")
    copied = c.get_cookie("census_audit_session").value
    c2 = app.test_client()
    c2.set_cookie("census_audit_session", copied)
    assert c2.get("/").status_code in (200, 302) and "/login" not in c2.get("/").headers.get("Location", "")
    c.post("/logout", data={"csrf_token": _token(c, "/login")})
    assert c2.get("/").headers["Location"].endswith("/login")             # the copy is dead too
    c3 = app.test_client()
    _login(c3, "boss", GOOD + "boss")
    set_password(registry, "adm", "boss", "a brand new secret")
    assert c3.get("/").headers["Location"].endswith("/login")


def test_language_redirect_refuses_backslash_paths(registry):
    c = create_app(registry).test_client()
    r = c.post("/lang/en", data={"csrf_token": _token(c), "next": "/\\evil.example"})
    assert r.headers["Location"] == "/"
