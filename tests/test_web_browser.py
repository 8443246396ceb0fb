"""The review web application end to end in a real browser: Debian's Chromium under playwright,
against the real application served by waitress on 127.0.0.1 (tests/web_server.py) over a copy
of the demo store.

Every page visit fails the test on a console error, an uncaught page error or a
Content-Security-Policy violation (reported by a ``securitypolicyviolation`` listener as a
console error), and on any request that would leave 127.0.0.1 (such requests are aborted and
recorded). Expected HTTP errors (a 403 for a refused URL, a 401 for a wrong password) are
allowed by the test that provokes them, and only those.

Screenshots (full page, 1280 px) of the login page, the queue, a record, the four-eyes page,
the dashboard, the runs and the ledger stay in ``<pytest basetemp>/web-screenshots`` (the
paths are printed); no page may overflow horizontally at 1280 px.

Without Chromium or playwright the tests skip, unless ``CENSUS_AUDIT_REQUIRE_BROWSER=1`` (set
by .ci/run): then they fail. The pages of an audience whose view module is not in the
checkout yet (audit_engine/web/views/qc.py, dashboard.py, supervision.py) are skipped with
that reason.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from sqlalchemy import select
from web_server import Live, live_server

from audit_engine.ledger import history
from audit_engine.ledger.store import head
from audit_engine.store.models import Decision, Flag, Operator, Person, ReviewItem
from audit_engine.web.security import CSP

WIDTH = 1280
HEIGHT = 900
#: turns every CSP violation into a console error the test sees (init scripts are not subject to the CSP)
CSP_HOOK = """document.addEventListener('securitypolicyviolation', e => console.error(
  'CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' in ' + e.sourceFile + ':' + e.lineNumber));"""





# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def live(pipeline_store, tmp_path_factory) -> Iterator[Live]:
    with live_server(pipeline_store, tmp_path_factory.mktemp("web-browser")) as server:
        yield server


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "web-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- a browser tab that records everything that should not happen --------------------------


@dataclass
class Tab:
    live: Live
    page: Any = None
    problems: list[str] = field(default_factory=list)
    allowed_status: set[int] = field(default_factory=set)
    offsite: list[str] = field(default_factory=list)

    def console(self, msg) -> None:
        if msg.type != "error":
            return
        m = re.search(r"status of (\d{3})", msg.text)
        if m and int(m.group(1)) in self.allowed_status and "Failed to load resource" in msg.text:
            return                                   # the HTTP error this test provokes on purpose
        self.problems.append(f"console error: {msg.text} ({msg.location.get('url', '')})")

    def go(self, path: str, status: int = 200):
        resp = self.page.goto(self.live.url + path, wait_until="load")
        assert resp is not None and resp.status == status, f"GET {path}: {resp and resp.status}, expected {status}"
        return resp

    def sign_in(self, name: str, pw: str | None = None) -> None:
        self.go("/login")
        self.page.get_by_test_id("name").fill(name)
        self.page.get_by_test_id("password").fill(pw if pw is not None else self.live.password(name))
        with self.page.expect_navigation():
            self.page.get_by_test_id("sign-in").click()

    def screenshot(self, folder: Path, name: str) -> Path:
        self.page.evaluate("document.fonts.ready.then(() => true)")
        png = folder / f"{name}.png"
        self.page.screenshot(path=str(png), full_page=True)
        wide = self.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], f"{name}: horizontal overflow at {WIDTH} px: the page is {wide[0]} px wide"
        from PIL import Image

        with Image.open(png) as im:
            assert im.width == WIDTH, f"{png} is {im.width} px wide"
        print(f"\nscreenshot {name}: {png}")
        return png

    def html(self) -> str:
        return self.page.content()


@contextmanager
def tab(browser, live: Live, who: str | None = None) -> Iterator[Tab]:
    """A fresh context and page at 1280 px (signed in as ``who``); on leaving, no console error,
    page error, CSP violation or request beyond 127.0.0.1 may have happened."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1,
                                  service_workers="block", locale="zh-CN")
    context.add_init_script(CSP_HOOK)
    t = Tab(live)
    origin = urllib.parse.urlsplit(live.url)

    def route(r) -> None:
        u = urllib.parse.urlsplit(r.request.url)
        if u.scheme == "data" or (u.hostname == origin.hostname and u.port == origin.port):
            r.continue_()
        else:
            t.offsite.append(f"{r.request.method} {r.request.url}")
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    t.page = page
    page.on("console", t.console)
    page.on("pageerror", lambda e: t.problems.append(f"page error: {e}"))
    try:
        if who:
            t.sign_in(who)
        yield t
    finally:
        context.close()
    problems = t.problems + [f"request beyond 127.0.0.1: {r}" for r in t.offsite]
    assert not problems, "in the browser:\n  " + "\n  ".join(problems)


# -- helpers over the store -----------------------------------------------------------------


def _refs(t: Tab) -> list[str]:
    rows = t.page.get_by_test_id("queue-row")
    return [rows.nth(i).get_attribute("data-ref") for i in range(rows.count())]


def _outside_flag(live: Live) -> tuple[str, str, dict]:
    """A flag outside the officer's township: (ref, ea_code, its person's row)."""
    with live.engine.connect() as conn:
        f = conn.execute(select(Flag.id, Flag.ea_code, Flag.source, Flag.record_key).where(
            ~Flag.ea_code.like(f"{live.township}%"), Flag.scope == "person").order_by(Flag.id).limit(1)).first()
        p = conn.execute(select(Person.name, Person.id_number, Person.person_key).where(
            Person.source == f.source, Person.person_key == f.record_key)).mappings().first()
    return f"F{f.id}", f.ea_code, dict(p)


def _personal_values(live: Live) -> set[str]:
    """Every person key, name and ID number in the store (census, PES)."""
    with live.engine.connect() as conn:
        rows = conn.execute(select(Person.person_key, Person.name, Person.id_number)).all()
    return {str(v) for r in rows for v in r if v and len(str(v)) >= 2}


_RUNS = re.compile(r"[0-9Xx]{15,}|[\u3400-\u9fff\u00b7]{2,}")


def _leaks(html: str, personal: set[str]) -> list[str]:
    """The personal values (keys, ID numbers, names) that occur in ``html``: every substring of
    its digit runs and CJK runs, of the lengths those values have, looked up in the set."""
    lengths = {len(v) for v in personal}
    found = set()
    for run in _RUNS.findall(html):
        for n in lengths:
            for i in range(len(run) - n + 1):
                if run[i:i + n] in personal:
                    found.add(run[i:i + n])
    return sorted(found)


def _ledger_since(live: Live, seq: int, command: str) -> list[dict]:
    return [e for e in history(live.engine, limit=10_000, command=command) if e["seq"] > seq]


# -- sign-in page, lockout, sign-out, CSRF --------------------------------------------------


def test_login_page(browser, live, shots):
    with tab(browser, live) as t:
        resp = t.go("/login")
        assert resp.headers["content-security-policy"] == CSP
        assert resp.headers["x-frame-options"] == "DENY"
        assert t.page.get_by_test_id("sign-in").is_visible()
        t.screenshot(shots, "login")
        t.go("/", 200)                      # not signed in: sent to the sign-in page
        assert urllib.parse.urlsplit(t.page.url).path == "/login"


def test_wrong_password_five_times_locks_the_account(browser, live):
    before = head(live.engine)[0]
    with tab(browser, live) as t:
        t.allowed_status.add(401)
        for _ in range(5):
            t.sign_in(live.locked, "not-the-password")
            assert t.page.get_by_test_id("login-error").is_visible()
        t.sign_in(live.locked)               # the right password, now too late
        assert t.page.get_by_test_id("login-error").is_visible()
        assert urllib.parse.urlsplit(t.page.url).path == "/login"
        assert t.page.get_by_test_id("sign-out").count() == 0
    with live.engine.connect() as conn:
        locked_until = conn.execute(select(Operator.locked_until).where(Operator.name == live.locked)).scalar()
    assert locked_until is not None
    outcomes = [e["result"]["outcome"] for e in reversed(_ledger_since(live, before, "web sign-in"))
                if e["operator"] == live.locked]
    assert outcomes == ["bad_credentials"] * 4 + ["locked", "locked"], outcomes


def test_sign_out_ends_the_session(browser, live):
    with tab(browser, live, live.supervisor) as t:
        assert t.page.get_by_test_id("sign-out").is_visible()
        with t.page.expect_navigation():
            t.page.get_by_test_id("sign-out").click()
        assert urllib.parse.urlsplit(t.page.url).path == "/login"
        t.go("/")
        assert urllib.parse.urlsplit(t.page.url).path == "/login"
        assert t.page.get_by_test_id("sign-out").count() == 0
    assert any(e["operator"] == live.supervisor for e in history(live.engine, limit=50, command="web sign-out"))


def test_a_cookie_copied_before_sign_out_is_dead_after_it(browser, live):
    with tab(browser, live, live.supervisor) as t:
        stolen = t.page.context.cookies()
        with t.page.expect_navigation():
            t.page.get_by_test_id("sign-out").click()
    with tab(browser, live) as t:
        t.page.context.add_cookies(stolen)
        t.go("/")
        assert t.page.get_by_test_id("sign-out").count() == 0, "the old session cookie still works"


def test_posts_without_csrf_token_are_refused(browser, live):
    before = head(live.engine)[0]
    with tab(browser, live, live.supervisor) as t:
        t.allowed_status.add(400)
        for path in ("/logout", "/lang/en"):
            r = t.page.request.post(live.url + path, form={"next": "/"}, max_redirects=0)
            assert r.status == 400, f"POST {path} without a token: {r.status}"
            r = t.page.request.post(live.url + path, form={"csrf_token": "forged"}, max_redirects=0)
            assert r.status == 400, f"POST {path} with a forged token: {r.status}"
        t.go("/")                            # still signed in: the refused sign-out did nothing
        assert t.page.get_by_test_id("sign-out").is_visible()
    refused = [e for e in _ledger_since(live, before, "web refused") if e["result"].get("reason") == "csrf"]
    assert len(refused) >= 4 and all(e["operator"] == live.supervisor for e in refused)


# -- the QC officer ---------------------------------------------------------------------------


def test_officer_decides_flags_from_the_queue(browser, live, shots):
    with tab(browser, live, live.officer) as t:
        assert urllib.parse.urlsplit(t.page.url).path == "/queue", "an officer starts at the queue"
        refs = _refs(t)
        flags = [r for r in refs if r.startswith("F")]
        assert flags, f"no flag in the queue of {live.officer}: {refs[:10]}"
        t.screenshot(shots, "queue")
        ref = flags[0]
        link = t.page.locator(f'[data-testid="queue-row"][data-ref="{ref}"] a')
        if link.count():
            with t.page.expect_navigation():
                link.first.click()
        else:
            t.go(f"/item/{ref}")
        assert urllib.parse.urlsplit(t.page.url).path == f"/item/{ref}"
        t.screenshot(shots, "item")
        assert _leaks(t.html(), _personal_values(live)), "the record page shows no record: the leak check is blind"
        # a decision button without a reason does not submit: the reason is asked for
        first_button = t.page.locator('button[data-testid^="decide-"]').first
        first_button.click()
        assert urllib.parse.urlsplit(t.page.url).path == f"/item/{ref}"
        assert t.page.get_by_test_id("reason").get_attribute("aria-invalid") == "true"
        # r focuses the reason; Alt+f (a letter key types into the field) decides by the keyboard
        t.page.locator("body").click(position={"x": 5, "y": HEIGHT - 5})
        t.page.keyboard.press("r")
        assert t.page.evaluate("document.activeElement.getAttribute('data-testid')") == "reason"
        assert t.page.get_by_test_id("reason").input_value() == "", "r was typed into the reason"
        shortcut = t.page.locator('[data-key="f"]')
        assert shortcut.count() == 1, "no button answers the f shortcut"
        decision = (shortcut.get_attribute("data-decision")
                    or shortcut.get_attribute("data-testid").removeprefix("decide-"))
        t.page.keyboard.type("browser test: keyboard decision")
        with t.page.expect_navigation():
            t.page.keyboard.press("Alt+f")
        assert t.page.get_by_test_id("flash").is_visible()
        after = urllib.parse.urlsplit(t.page.url).path
        assert after != f"/item/{ref}", "the decision did not move on to the next item"
        # a second decision, by the mouse, on the item it moved on to
        second = None
        if after.startswith("/item/"):
            second = after.removeprefix("/item/")
            t.page.get_by_test_id("reason").fill("browser test: mouse decision")
            button = t.page.locator('button[data-testid^="decide-"]').first
            decision2 = button.get_attribute("data-testid").removeprefix("decide-")
            with t.page.expect_navigation():
                button.click()
            assert t.page.get_by_test_id("flash").is_visible()
        t.go("/queue")
        left = _refs(t)
        assert ref not in left and (second is None or second not in left), "a decided item is still queued"
    with live.engine.connect() as conn:
        rows = conn.execute(select(Decision.item_kind, Decision.item_id, Decision.decision, Decision.reason,
                                   Decision.operator, Decision.stage)).mappings().all()
    mine = {(("F" if r["item_kind"] == "flag" else "R") + str(r["item_id"])): r for r in rows
            if r["operator"] == live.officer}
    assert mine[ref]["decision"] == decision and mine[ref]["reason"] == "browser test: keyboard decision"
    ledgered = {e["params"]["item"]: e for e in history(live.engine, limit=500, command="review decide")
                if e["operator"] == live.officer}
    assert ref in ledgered and ledgered[ref]["result"]["decision"] == decision
    if second:
        assert mine[second]["decision"] == decision2 and second in ledgered


def test_officer_cannot_open_a_record_outside_scope(browser, live):
    ref, ea_code, person = _outside_flag(live)
    before = head(live.engine)[0]
    with tab(browser, live, live.officer) as t:
        t.allowed_status.add(403)
        t.go(f"/item/{ref}", 403)
        html = t.html()
        assert not [v for v in person.values() if v and str(v) in html], "the refused page shows the record"
        token = t.page.locator('input[name="csrf_token"]').first.get_attribute("value")
        r = t.page.request.post(f"{live.url}/item/{ref}/decide", max_redirects=0,
                                form={"decision": "false_alarm", "reason": "out of scope", "csrf_token": token})
        assert r.status == 403, f"deciding {ref} outside scope: {r.status}"
    refused = [e for e in _ledger_since(live, before, "refused") if e["operator"] == live.officer]
    assert any(e["params"].get("ea_code") == ea_code for e in refused), refused
    with live.engine.connect() as conn:
        assert conn.execute(select(Decision.id).where(Decision.item_kind == "flag",
                                                      Decision.item_id == int(ref[1:]))).first() is None


def test_four_eyes_page(browser, live, shots):
    with tab(browser, live, live.second_officer) as t:
        t.go("/four-eyes")
        t.screenshot(shots, "four-eyes")
        t.go("/next", 200)                   # follows to the next item (or the empty queue)
        assert urllib.parse.urlsplit(t.page.url).path.startswith(("/item/", "/queue"))


# -- leadership and supervision ---------------------------------------------------------------


def test_leadership_sees_the_dashboard_and_no_record(browser, live, shots):
    with live.engine.connect() as conn:
        inside = conn.execute(select(Flag.id).where(Flag.ea_code.like(f"{live.township}%"))
                              .order_by(Flag.id).limit(1)).scalar()
        item = conn.execute(select(ReviewItem.id).where(ReviewItem.ea_code.like(f"{live.township}%"))
                            .order_by(ReviewItem.id).limit(1)).scalar()
    personal = _personal_values(live)
    with tab(browser, live, live.leader) as t:
        assert urllib.parse.urlsplit(t.page.url).path == "/dashboard", "leadership starts at the dashboard"
        assert t.page.locator('[data-testid^="headline-"]').count() > 0
        t.screenshot(shots, "dashboard")
        html = t.html()
        shown = _leaks(html, personal)
        assert not shown, f"the dashboard shows personal data: {shown[:5]}"
        reports = t.page.locator('a[href*="/reports/"]')
        hrefs = [reports.nth(i).get_attribute("href") for i in range(reports.count())]
        for href in hrefs[:2]:
            t.go(href)
            leaked = _leaks(t.html(), personal)
            assert not leaked, f"{href} shows personal data: {leaked[:5]}"
        t.allowed_status.add(403)
        for path in ("/queue", f"/item/F{inside}", f"/item/R{item}", "/four-eyes"):
            t.go(path, 403)
            assert not _leaks(t.html(), personal)


def test_supervision_runs_ledger_and_verify(browser, live, shots):
    with tab(browser, live, live.supervisor) as t:
        assert urllib.parse.urlsplit(t.page.url).path == "/runs", "supervision starts at the runs"
        assert t.page.get_by_test_id("runs-table").is_visible()
        t.screenshot(shots, "runs")
        t.go("/ledger")
        assert t.page.get_by_test_id("ledger-head").is_visible()
        t.screenshot(shots, "ledger")
        button = t.page.locator('form[action$="/ledger/verify"] [type="submit"]')
        assert button.count() >= 1, "no verify button on the ledger page"
        with t.page.expect_navigation():
            button.first.click()
        assert t.page.get_by_test_id("verify-result").is_visible()
        ref, _, person = _outside_flag(live)
        t.allowed_status.add(403)
        t.go(f"/item/{ref}", 403)
        assert not [v for v in person.values() if v and str(v) in t.html()]
