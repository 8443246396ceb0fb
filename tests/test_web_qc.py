"""The QC officer's web pages: scope, filters, the record page, decisions, four-eyes, refusals,
CSRF, and no personal data in any URL the queue links to."""

from __future__ import annotations

import re

import pytest
from helpers import copy_store
from sqlalchemy import text

from audit_engine.access.operators import add_operator
from audit_engine.ledger.store import history
from audit_engine.review.queue import DEFAULT_FOUR_EYES, ItemRef, needs_second
from audit_engine.web import create_app
from audit_engine.web.auth import set_password
from rules.ruleset import load_ruleset

PW = "correct-horse-1"



@pytest.fixture(scope="module")
def store(pipeline_store, tmp_path_factory):
    """A private copy of the demo store, with passwords and extra operators."""
    engine = copy_store(pipeline_store, tmp_path_factory.mktemp("webqc"))
    with engine.connect() as conn:
        town = conn.execute(text("select scope from operators where name = 'demo.qc'")).scalar()[2:11]
        other = conn.execute(text("select substr(ea_code, 1, 9) from flags where ea_code not like :t "
                                  "order by id limit 1"), {"t": town + "%"}).scalar()
    add_operator(engine, "demo.admin", "qc.two", "qc", [town])
    add_operator(engine, "demo.admin", "qc.far", "qc", [other])
    add_operator(engine, "demo.admin", "lead.zhou", "leadership")
    for name in ("demo.qc", "qc.two", "qc.far", "lead.zhou"):
        set_password(engine, "demo.admin", name, PW)
    yield engine, town
    engine.dispose()


@pytest.fixture(scope="module")
def app(store):
    engine, _ = store
    app = create_app(engine, secure_cookies=False, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def login(app, name: str):
    client = app.test_client()
    r = client.post("/login", data={"name": name, "password": PW})
    assert r.status_code == 302, r.status_code
    return client


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="queue-row" data-ref="([FR]\d+)"', html)


def all_queue_refs(client, query: str = "") -> tuple[list[str], int]:
    refs, page = [], 1
    first = client.get(f"/queue?{query}").get_data(as_text=True)
    total = int(re.search(r'data-testid="queue-total">(\d+)<', first).group(1))
    html = first
    while True:
        refs += rows(html)
        if 'data-testid="page-next"' not in html:
            break
        page += 1
        html = client.get(f"/queue?{query}&page={page}").get_data(as_text=True)
    return refs, total


def sql_open(engine, town: str, where_flags: str = "1=1", where_items: str = "1=1", params=None) -> set[str]:
    p = {"t": town + "%", **(params or {})}
    with engine.connect() as conn:
        f = conn.execute(text(f"select f.id from flags f left join persons p on p.source = f.source and "
                              f"p.person_key = f.record_key and f.scope != 'household' left join households h on "
                              f"h.source = f.source and h.household_key = f.record_key and f.scope = 'household' "
                              f"where f.status = 'open' and f.ea_code like :t and {where_flags}"), p).scalars()
        refs = {f"F{i}" for i in f}
        r = conn.execute(text(f"select id from review_items where status = 'open' and ea_code like :t "
                              f"and {where_items}"), p).scalars()
    return refs | {f"R{i}" for i in r}


def open_flag(engine, town: str, rule: str | None = None, skip: set[str] = frozenset(), second: bool = False) -> str:
    """An open, person-scope flag in ``town`` (optionally of ``rule``; picked or not for four-eyes)."""
    with engine.connect() as conn:
        ids = conn.execute(text("select id from flags where status = 'open' and scope = 'person' and ea_code like :t "
                                + ("and rule_id = :r " if rule else "") + "order by id"),
                           {"t": town + "%", "r": rule}).scalars().all()
    for i in ids:
        ref = f"F{i}"
        if ref not in skip and needs_second(ItemRef("flag", i), DEFAULT_FOUR_EYES) == second:
            return ref
    raise AssertionError("no such flag in the demo store")


def test_queue_lists_exactly_the_open_items_in_scope(store, app):
    engine, town = store
    client = login(app, "demo.qc")
    refs, total = all_queue_refs(client)
    expected = sql_open(engine, town)
    assert len(refs) == len(set(refs)) == total
    assert set(refs) == expected
    assert total > 100   # more than one page
    # nothing outside the scope, and the other officer's queue is disjoint
    far_refs, _ = all_queue_refs(login(app, "qc.far"))
    assert far_refs and not set(far_refs) & set(refs)


@pytest.mark.parametrize("query,where_flags,where_items", [
    ("rule=I03", "f.rule_id = 'I03'", "0=1"),
    ("severity=warning", "f.severity = 'warning'", "0=1"),
    ("kind=register", "0=1", "kind = 'register'"),
    ("kind=flag&severity=error", "f.severity = 'error'", "0=1"),
    ("ea={ea}", "f.ea_code = :ea", "ea_code = :ea"),
    ("township={town}&enumerator={enum}", "coalesce(p.enumerator_id, h.enumerator_id) = :enum", "0=1"),
])
def test_filters_match_sql(store, app, query, where_flags, where_items):
    engine, town = store
    with engine.connect() as conn:
        ea = conn.execute(text("select ea_code from flags where ea_code like :t and status = 'open' "
                               "order by ea_code desc limit 1"), {"t": town + "%"}).scalar()
        enum = conn.execute(text("select p.enumerator_id from flags f join persons p on p.person_key = f.record_key "
                                 "and p.source = f.source where f.ea_code like :t limit 1"), {"t": town + "%"}).scalar()
    client = login(app, "demo.qc")
    refs, total = all_queue_refs(client, query.format(ea=ea, town=town, enum=enum))
    expected = sql_open(engine, town, where_flags, where_items, {"ea": ea, "enum": enum})
    if "enumerator" in query:   # review items with a census/PES person of that enumerator count too
        with engine.connect() as conn:
            expected |= {f"R{i}" for i in conn.execute(text(
                "select r.id from review_items r join persons p on p.enumerator_id = :enum and "
                "((r.kind = 'followup' and p.source = 'census' and p.person_key = r.subject) or "
                "(r.kind = 'pair' and p.source = 'pes' and p.person_key = r.subject) or "
                "(r.kind = 'register' and p.source = 'census' and 'C:' || p.person_key = r.subject)) "
                "where r.status = 'open' and r.ea_code like :t"), {"enum": enum, "t": town + "%"}).scalars()}
    assert total == len(expected) > 0
    assert set(refs) == expected


def test_filter_counts_per_value(store, app):
    engine, town = store
    client = login(app, "demo.qc")
    html = client.get("/queue").get_data(as_text=True)
    with engine.connect() as conn:
        per_rule = conn.execute(text("select rule_id, count(*) from flags where status = 'open' and ea_code like :t "
                                     "group by rule_id"), {"t": town + "%"}).all()
    select_html = html.split('data-testid="filter-rule"')[1].split("</select>")[0]
    for rule, n in per_rule:
        assert f'<option value="{rule}">{rule} ({n})</option>' in select_html
    # a filter that matches nothing keeps the value and shows an empty queue
    empty = client.get("/queue?rule=NOPE").get_data(as_text=True)
    assert 'data-testid="queue-empty"' in empty and "NOPE (0)" in empty
    # values that are not codes are ignored, not echoed
    odd = client.get("/queue?ea=%E5%BC%A0%E4%B8%89").get_data(as_text=True)
    assert "张三" not in odd


def test_item_page_shows_rule_record_and_suggestion(store, app):
    engine, town = store
    ref = open_flag(engine, town, "I03")
    client = login(app, "demo.qc")
    r = client.get(f"/item/{ref}")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    rule = load_ruleset().rule("I03")
    assert rule.description["zh"] in html
    with engine.connect() as conn:
        person = conn.execute(text("select p.name, p.id_number, f.suggestion from flags f join persons p on "
                                   "p.person_key = f.record_key and p.source = f.source where f.id = :i"),
                              {"i": int(ref[1:])}).first()
    assert person.name in html and person.id_number in html   # the QC review view shows the record unmasked
    with engine.connect() as conn:   # codes are shown with their labels from the code lists
        sex = conn.execute(text("select p.sex from flags f join persons p on p.person_key = f.record_key "
                                "and p.source = f.source where f.id = :i"), {"i": int(ref[1:])}).scalar()
    assert f">{sex} {'男' if sex == '1' else '女'}<" in html
    for field in __import__("json").loads(person.suggestion)["fields"]:
        assert re.search(rf'class="[^"]*suggested[^"]*" data-field="{field}" data-testid="suggested-field"', html)
    for d in ("confirmed", "false_alarm", "revisit"):
        assert f'data-testid="decide-{d}"' in html
    assert 'data-testid="reason"' in html and 'data-key="c"' in html and "<kbd>" in html
    shown = history(engine, limit=5, command="review show")
    assert shown[0]["operator"] == "demo.qc" and shown[0]["params"] == {"item": ref}
    # a register item: census and register records side by side with the comparison levels
    with engine.connect() as conn:
        rid = conn.execute(text("select id from review_items where kind = 'register' and status = 'open' "
                                "and ea_code like :t order by id limit 1"), {"t": town + "%"}).scalar()
    html = client.get(f"/item/R{rid}").get_data(as_text=True)
    assert 'data-testid="levels"' in html and 'data-testid="match-weight"' in html
    assert 'data-testid="decide-not_same_person"' in html and 'data-key="1"' in html


def test_decide_removes_from_queue_and_ledgers(store, app):
    engine, town = store
    ref = open_flag(engine, town, second=False)
    client = login(app, "demo.qc")
    assert ref in all_queue_refs(client)[0]
    r = client.post(f"/item/{ref}/decide", data={"decision": "false_alarm", "reason": "户口簿核实无误"})
    assert r.status_code == 303
    assert re.fullmatch(r"/item/[FR]\d+|/queue", r.headers["Location"])
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="flash"' in page and ref in page
    assert ref not in all_queue_refs(client)[0]
    entry = history(engine, limit=5, command="review decide")[0]
    assert entry["operator"] == "demo.qc" and entry["params"] == {"item": ref}
    assert entry["result"]["decision"] == "false_alarm" and "户口簿" not in str(entry)
    with engine.connect() as conn:
        assert conn.execute(text("select status from flags where id = :i"), {"i": int(ref[1:])}).scalar() == "decided"
    # deciding it again: someone else was first -> a clear message, and on to the next item
    again = client.post(f"/item/{ref}/decide", data={"decision": "confirmed", "reason": "again"})
    assert again.status_code == 303
    assert "已由其他质控员先行决定" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_decision_with_the_button_value_and_a_correction(store, app):
    engine, town = store
    ref = open_flag(engine, town, "I03", second=False)
    client = login(app, "demo.qc")
    r = client.post(f"/item/{ref}/decide", data={"decision": "", "decision_button": "confirmed",
                                                 "reason": "身份证核对", "fix_birth_month": "7"})
    assert r.status_code == 303
    with engine.connect() as conn:
        changes = conn.execute(text("select v.changes from person_versions v join flags f on f.record_key = "
                                    "v.person_key where f.id = :i"), {"i": int(ref[1:])}).scalar()
    assert '"birth_month"' in changes and '"7"' in changes


def test_empty_reason_and_wrong_decision_are_refused(store, app):
    engine, town = store
    ref = open_flag(engine, town)
    client = login(app, "demo.qc")
    for reason in ("", "   "):
        r = client.post(f"/item/{ref}/decide", data={"decision": "confirmed", "reason": reason})
        assert r.status_code == 400
        assert "请填写理由" in r.get_data(as_text=True)
    r = client.post(f"/item/{ref}/decide", data={"decision": "match", "reason": "x"})
    assert r.status_code == 400
    with engine.connect() as conn:
        assert conn.execute(text("select status from flags where id = :i"), {"i": int(ref[1:])}).scalar() == "open"
        assert conn.execute(text("select count(*) from decisions where item_kind = 'flag' and item_id = :i"),
                            {"i": int(ref[1:])}).scalar() == 0


def test_out_of_scope_item_is_refused_and_ledgered(store, app):
    engine, town = store
    with engine.connect() as conn:
        fid, ea = conn.execute(text("select id, ea_code from flags where ea_code not like :t and status = 'open' "
                                    "order by id limit 1"), {"t": town + "%"}).first()
    client = login(app, "demo.qc")
    r = client.get(f"/item/F{fid}")
    assert r.status_code == 403
    refused = history(engine, limit=1, command="refused")[0]
    assert refused["operator"] == "demo.qc" and refused["params"] == {"action": "review.read", "ea_code": ea}
    html = r.get_data(as_text=True)
    with engine.connect() as conn:
        name = conn.execute(text("select p.name from flags f join persons p on p.person_key = f.record_key "
                                 "where f.id = :i"), {"i": fid}).scalar()
    assert name not in html
    r = client.post(f"/item/F{fid}/decide", data={"decision": "confirmed", "reason": "x"})
    assert r.status_code == 403
    assert history(engine, limit=1, command="refused")[0]["params"]["action"] == "review.decide"
    assert client.get("/item/F99999999").status_code == 404
    assert client.get("/item/bogus").status_code == 404


def test_leadership_never_reaches_the_queue_or_a_record(store, app):
    engine, town = store
    ref = open_flag(engine, town)
    client = login(app, "lead.zhou")
    for url in ("/queue", f"/item/{ref}", "/four-eyes", "/next"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/item/{ref}/decide", data={"decision": "confirmed", "reason": "x"}).status_code == 403
    assert history(engine, limit=1, command="refused")[0]["operator"] == "lead.zhou"
    # not signed in: to the sign-in page
    assert app.test_client().get("/queue").headers["Location"].endswith("/login")


def test_post_without_csrf_token_is_refused(store):
    engine, town = store
    app = create_app(engine, secure_cookies=False, testing=True)   # CSRF on
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    assert client.post("/login", data={"name": "demo.qc", "password": PW, "csrf_token": token}).status_code == 302
    ref = open_flag(engine, town, second=False)
    r = client.post(f"/item/{ref}/decide", data={"decision": "false_alarm", "reason": "no token"})
    assert r.status_code == 400
    assert history(engine, limit=1, command="web refused")[0]["result"] == {"reason": "csrf"}
    page = client.get(f"/item/{ref}").get_data(as_text=True)
    token = re.search(r'id="decide-form".*?name="csrf_token" value="([^"]+)"', page, re.S).group(1)
    r = client.post(f"/item/{ref}/decide", data={"decision": "false_alarm", "reason": "with token",
                                                 "csrf_token": token})
    assert r.status_code == 303


def test_no_personal_data_in_any_queue_url(store, app):
    engine, town = store
    client = login(app, "demo.qc")
    urls = []
    for query in ("", "page=2", "kind=register", "severity=error"):
        html = client.get(f"/queue?{query}").get_data(as_text=True)
        urls += re.findall(r'(?:href|action|data-href)="([^"]*)"', html)
        urls += [f"/queue?{n}={v}" for n, v in re.findall(r'<select name="(\w+)"[^>]*>|<option value="([^"]*)"', html)]
    assert len(urls) > 100
    with engine.connect() as conn:
        people = conn.execute(text("select name, id_number from persons where ea_code like :t"),
                              {"t": town + "%"}).all()
    secrets = {p.name for p in people if p.name} | {p.id_number for p in people if p.id_number}
    for url in urls:
        assert not re.search(r"[\u4e00-\u9fff]", url), url
        assert not any(s in url for s in secrets), url
    # every item link is a bare ref
    for url in urls:
        if url.startswith("/item/"):
            assert re.fullmatch(r"/item/[FR]\d+", url), url


def test_four_eyes_second_decision(store, app):
    engine, town = store
    ref = open_flag(engine, town, second=True)
    first = login(app, "demo.qc")
    r = first.post(f"/item/{ref}/decide", data={"decision": "confirmed", "reason": "first look"})
    assert r.status_code == 303
    assert "另一位质控员复核" in first.get(r.headers["Location"]).get_data(as_text=True)
    # the first officer does not check their own decision
    assert ref not in first.get("/four-eyes").get_data(as_text=True)
    second = login(app, "qc.two")
    page = second.get("/four-eyes").get_data(as_text=True)
    assert f'data-ref="{ref}"' in page and 'data-testid="fe-agreement"' in page
    item = second.get(f"/item/{ref}").get_data(as_text=True)
    assert "复核前不显示初审结论" in item and 'data-testid="decide-confirmed"' in item
    assert second.get("/next").headers["Location"].endswith(f"/item/{ref}")   # four-eyes checks come first
    r = second.post(f"/item/{ref}/decide", data={"decision": "false_alarm", "reason": "second look"})
    assert r.status_code == 303
    entry = history(engine, limit=1, command="review decide")[0]
    assert entry["operator"] == "qc.two" and entry["result"]["stage"] == "second" and entry["result"]["agrees"] is False
    page = second.get("/four-eyes").get_data(as_text=True)
    assert f'data-ref="{ref}"' not in page and 'data-testid="disagreements"' in page


def test_next_and_skip(store, app):
    engine, town = store
    client = login(app, "qc.far")
    r = client.get("/next")
    assert r.status_code == 302 and re.search(r"/item/[FR]\d+$", r.headers["Location"])
    ref = r.headers["Location"].rsplit("/", 1)[1]
    skipped = client.get(f"/next?after={ref}").headers["Location"].rsplit("/", 1)[1]
    assert skipped != ref
    refs, _ = all_queue_refs(client)
    assert refs.index(skipped) == refs.index(ref) + 1


@pytest.fixture(scope="module")
def small_county(tmp_path_factory):
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("webqc_county")
    generate(SynthConfig(persons=1_500, seed=13), out)
    return out


def test_queue_query_on_each_backend(engine, small_county):
    """The queue's SQL (union, outer joins, facets, pages) on SQLite and PostgreSQL alike."""
    from helpers import CENSUS_FILES, load_county

    from audit_engine.access.operators import get_operator
    from audit_engine.web.queries import next_after, queue_page
    from rules.check import run_check

    load_county(engine, small_county, CENSUS_FILES, operator="loader")
    run_check(engine, load_ruleset(), operator="sup")
    with engine.connect() as conn:
        town, n = conn.execute(text("select substr(ea_code, 1, 9) t, count(*) from flags where status = 'open' "
                                    "group by t order by count(*) desc")).first()
        by_sev = dict(conn.execute(text("select severity, count(*) from flags where ea_code like :t "
                                        "group by severity"), {"t": town + "%"}).all())
    add_operator(engine, "root", "admin.chen", "admin")
    add_operator(engine, "admin.chen", "li.qc", "qc", [town])
    op = get_operator(engine, "li.qc")
    page = queue_page(engine, op, {}, page_size=7)
    assert page.total == n and len(page.rows) == min(7, n) and page.pages == -(-n // 7)
    assert dict(page.counts["severity"]) == by_sev
    assert {r["township"] for r in page.rows} == {town}
    ranks = [("error", "warning", "info").index(r["severity"]) for r in page.rows]
    assert ranks == sorted(ranks)
    sev = next(iter(by_sev))
    assert queue_page(engine, op, {"severity": sev}).total == by_sev[sev]
    last = queue_page(engine, op, {}, page=999, page_size=7)
    assert last.page == page.pages
    first, second = page.rows[0]["ref"], page.rows[1]["ref"]
    assert next_after(engine, op, ItemRef.parse(first)) == second
    # the pages render on this backend too
    set_password(engine, "admin.chen", "li.qc", PW)
    app = create_app(engine, secure_cookies=False, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False
    client = login(app, "li.qc")
    assert len(rows(client.get("/queue").get_data(as_text=True))) == min(100, n)
    assert client.get(f"/item/{first}").status_code == 200
