"""The web application's leadership dashboard and supervision pages: the headline figures are the
stored estimate's, to the text shown; the dashboard holds no record key, name or ID number;
leadership cannot reach the supervision pages; a report is issued, ledgered and served under its
own script-free CSP; the runs table and the ledger head are the store's; verifying the chain is
ledgered and needs the CSRF token."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from helpers import copy_store
from sqlalchemy import select

from audit_engine.access.operators import add_operator
from audit_engine.ledger import head, history
from audit_engine.store import make_engine
from audit_engine.store.models import CoverageEstimate, LoadFile, Person, Run
from audit_engine.store.runs import latest_run
from audit_engine.web.app import create_app
from audit_engine.web.auth import set_password
from reports.render import pct

PASSWORD = "correct-horse-battery"
ADMIN = "demo.admin"            # the demo's first operator
VOID = {"input", "img", "br", "meta", "link", "hr"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def store(pipeline_store, tmp_path_factory):
    """A copy of the pipeline store with a leadership and a supervision operator."""
    engine = copy_store(pipeline_store, tmp_path_factory.mktemp("web_dashboard"))
    add_operator(engine, ADMIN, "lead.li", "leadership")
    add_operator(engine, ADMIN, "sup.wang", "supervision")
    add_operator(engine, ADMIN, "qc.zhao", "qc", ["320831001"])
    for name in ("lead.li", "sup.wang", "qc.zhao"):
        set_password(engine, ADMIN, name, PASSWORD)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def app(store, tmp_path_factory):
    app = create_app(store, secret_key="test-secret", secure_cookies=False, testing=True)
    app.config["REPORTS_DIR"] = str(tmp_path_factory.mktemp("web_reports"))
    return app


def sign_in(app, name: str):
    client = app.test_client()
    page = client.get("/login")
    token = TOKEN.search(page.get_data(as_text=True)).group(1)
    r = client.post("/login", data={"csrf_token": token, "name": name, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


@pytest.fixture(scope="module")
def lead(app):
    return sign_in(app, "lead.li")


@pytest.fixture(scope="module")
def sup(app):
    return sign_in(app, "sup.wang")


@pytest.fixture(scope="module")
def dashboard_html(lead) -> str:
    r = lead.get("/dashboard")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def by_testid(html: str, name: str) -> str:
    """The text inside the element carrying ``data-testid=name``."""
    class Finder(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.found, self.text = 0, False, []

        def handle_starttag(self, tag, attrs):
            if self.depth:
                self.depth += tag not in VOID
            elif dict(attrs).get("data-testid") == name and not self.found:
                self.depth, self.found = 1, True

        def handle_endtag(self, tag):
            if self.depth and tag not in VOID:
                self.depth -= 1

        def handle_data(self, data):
            if self.depth:
                self.text.append(data)

    finder = Finder()
    finder.feed(html)
    assert finder.found, f"no data-testid={name}"
    return " ".join("".join(finder.text).split())


def test_home_sends_leadership_to_the_dashboard(lead):
    r = lead.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/dashboard")


def test_headline_figures_are_the_stored_estimates(store, dashboard_html):
    run_id = latest_run(store, "estimate")
    with store.connect() as conn:
        rows = conn.execute(select(CoverageEstimate.__table__).where(CoverageEstimate.run_id == run_id,
                                                           CoverageEstimate.level == "overall")).all()
    stored = {r.statistic: r for r in rows}
    for stat in ("omission", "duplication", "erroneous", "net_undercount"):
        card = by_testid(dashboard_html, f"headline-{stat}")
        value = by_testid(dashboard_html, f"headline-{stat}-value").strip()
        assert value == pct(stored[stat].value)
        assert pct(stored[stat].ci_low) in card and pct(stored[stat].ci_high) in card
    # the other sections are there, with figures rather than "run this command"
    for section in ("strata-table", "listing-table", "register-table", "backlog-open"):
        assert f'data-testid="{section}"' in dashboard_html
    assert "missing-" not in dashboard_html
    for kind in ("accuracy", "rules", "linkage", "enumerators", "bulletin"):
        assert f'href="/reports/{kind}"' in dashboard_html


def test_dashboard_holds_no_personal_data(store, dashboard_html, lead):
    with store.connect() as conn:
        persons = conn.execute(select(Person.person_key, Person.household_key, Person.name, Person.id_number)).all()
    assert persons
    secrets = {v for p in persons for v in p if v and len(v) >= 2}
    html = dashboard_html + lead.get("/dashboard/chart/strata.svg").get_data(as_text=True)
    leaked = [s for s in secrets if s in html]
    assert not leaked, leaked[:5]
    # the strict policy on the page; the chart (matplotlib SVG with style attributes) as an image
    r = lead.get("/dashboard")
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'; style-src 'self'")
    assert ' style="' not in dashboard_html and "<script>" not in dashboard_html
    chart = lead.get("/dashboard/chart/strata.svg")
    assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
    assert "script" not in chart.headers["Content-Security-Policy"]


def test_leadership_is_refused_supervision_pages(lead):
    assert lead.get("/runs").status_code == 403
    assert lead.get("/ledger").status_code == 403
    page = lead.get("/dashboard").get_data(as_text=True)
    token = TOKEN.search(page).group(1)
    assert lead.post("/ledger/verify", data={"csrf_token": token}).status_code == 403
    assert lead.get("/reports/nonsense").status_code == 404


def test_leadership_reaches_no_record_page(app, lead):
    """Whatever other pages the application has, a record page (qc.*) refuses leadership."""
    from flask import url_for

    qc_pages = [e for e in app.view_functions if e.startswith("qc.")]
    with app.test_request_context():
        for endpoint in qc_pages:
            rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
            if "GET" not in rule.methods:
                continue
            args = {a: "1" for a in rule.arguments}
            try:
                url = url_for(endpoint, **args)
            except Exception:          # a converter that wants another shape: leave it out
                continue
            assert lead.get(url).status_code == 403, url


def test_qc_sees_aggregates_but_no_reports(app):
    qc = sign_in(app, "qc.zhao")
    html = qc.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="headline-omission"' in html and "/reports/" not in html
    assert qc.get("/reports/accuracy").status_code == 403
    assert qc.get("/runs").status_code == 403


def test_english_pages(app):
    client = sign_in(app, "sup.wang")
    token = TOKEN.search(client.get("/runs").get_data(as_text=True)).group(1)
    assert client.post("/lang/en", data={"csrf_token": token, "next": "/dashboard"}).status_code == 302
    for path, text in (("/dashboard", "Omission rate"), ("/runs", "Duration"), ("/ledger", "Verify the whole chain")):
        r = client.get(path)
        assert r.status_code == 200 and text in r.get_data(as_text=True), path


def test_a_store_without_runs_says_what_to_run(tmp_path):
    from audit_engine.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    add_operator(engine, "boot", "root.admin", "admin")
    set_password(engine, "root.admin", "root.admin", PASSWORD)
    app = create_app(engine, secret_key="x", secure_cookies=False, testing=True)
    app.config["REPORTS_DIR"] = str(tmp_path / "reports")
    client = sign_in(app, "root.admin")
    html = client.get("/dashboard").get_data(as_text=True)
    for what, command in (("estimate", "census-audit estimate"), ("listing", "census-audit reconcile listing"),
                          ("register", "census-audit link register")):
        assert command in by_testid(html, f"missing-{what}")
    r = client.get("/reports/accuracy")
    assert r.status_code == 409 and "census-audit estimate" in r.get_data(as_text=True)
    assert 'data-testid="runs-table"' in client.get("/runs").get_data(as_text=True)
    engine.dispose()


def test_signed_out_is_sent_to_sign_in(app):
    client = app.test_client()
    for path in ("/dashboard", "/runs", "/ledger", "/reports/accuracy"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/login")


def test_report_view_is_issued_ledgered_and_script_free(store, lead):
    r = lead.get("/reports/accuracy")
    assert r.status_code == 200 and r.mimetype == "text/html"
    body = r.get_data()
    sha = hashlib.sha256(body).hexdigest()
    assert b"<style>" in body and b"data-fig=" in body
    csp = r.headers["Content-Security-Policy"]
    assert "script" not in csp and "style-src 'unsafe-inline'" in csp and csp.startswith("default-src 'none'")
    view = history(store, limit=1, command="web report view")[0]
    assert view["operator"] == "lead.li" and view["params"]["kind"] == "accuracy"
    assert view["result"]["sha256"] == sha
    issued = history(store, limit=1, command="report")[0]
    assert issued["seq"] == view["result"]["issued_seq"] and issued["result"]["sha256"] == sha
    bulletin = lead.get("/reports/bulletin")
    assert bulletin.status_code == 200 and "script" not in bulletin.headers["Content-Security-Policy"]
    assert history(store, limit=1, command="web report view")[0]["params"]["kind"] == "bulletin"


def test_supervision_sees_runs_and_the_ledger_head(store, sup):
    r = sup.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/runs")
    html = sup.get("/runs").get_data(as_text=True)
    assert 'data-testid="runs-table"' in html
    with store.connect() as conn:
        runs = conn.execute(select(Run.id, Run.kind).order_by(Run.id.desc())).all()
    ids = [int(i) for i in re.findall(r'data-testid="run-(\d+)"', html)]
    assert ids == [r.id for r in runs][:len(ids)] and ids      # newest first
    with store.connect() as conn:    # a load's progress: its load_files row counts
        lf = conn.execute(select(LoadFile.__table__).order_by(LoadFile.id)).first()
        load = conn.execute(select(Run.id).where(Run.kind == "load", Run.params.contains(lf.sha256))).scalar_one()
    html = sup.get("/runs?kind=load").get_data(as_text=True)
    row = html[html.index(f'data-testid="run-{load}"'):]
    row = row[:row.index("</tr>")]
    assert (f'data-read="{lf.rows_read}" data-loaded="{lf.rows_loaded}" '
            f'data-quarantined="{lf.rows_quarantined}"') in row
    # a running run shows as running, with the time so far
    with store.begin() as conn:
        rid = conn.execute(Run.__table__.insert().values(
            kind="check", status="running", operator="sup.wang", started_at=datetime.now(UTC) - timedelta(seconds=90),
            params="{}", summary="{}")).inserted_primary_key[0]
    html = sup.get("/runs").get_data(as_text=True)
    row = html[html.index(f'data-testid="run-{rid}"'):]
    row = row[:row.index("</tr>")]
    assert "运行中" in row and "1 min" in row
    html = sup.get("/ledger").get_data(as_text=True)
    seq, head_hash = head(store)
    shown = by_testid(html, "ledger-head")
    assert f"#{seq}" in shown and head_hash in shown
    assert f'data-testid="ledger-entry-{seq}"' in html


def test_verify_is_shown_and_ledgered(store, sup):
    page = sup.get("/ledger").get_data(as_text=True)
    token = TOKEN.search(page).group(1)
    before, _ = head(store)
    r = sup.post("/ledger/verify", data={"csrf_token": token})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-ok="true"' in html
    entry = history(store, limit=1)[0]
    assert entry["seq"] == before + 1 and entry["command"] == "web ledger verify"
    assert entry["operator"] == "sup.wang" and entry["result"]["ok"] is True
    assert entry["result"]["entries"] == before
    assert entry["result"]["head_hash"] in by_testid(html, "verify-result")


def test_verify_without_csrf_token_is_refused(store, sup):
    before, _ = head(store)
    r = sup.post("/ledger/verify", data={})
    assert r.status_code == 400
    entry = history(store, limit=1)[0]
    assert entry["command"] == "web refused" and entry["seq"] == before + 1
