"""Twenty reviewers decide from the same queue at once, for DURATION seconds, over loopback.

The real application runs under waitress (tests/web_server.py) with the thread count
``census-audit serve`` uses by default, over a copy of the demo store (SQLite, WAL). Each
simulated reviewer is a thread with its own HTTP session (urllib and a cookie jar: the
standard library only), signed in as one of OFFICERS QC officers who share one scope (the
county), and does what the browser does: GET /next, which redirects to the oldest open item
(so they all compete for the same items), GET the item, POST the decision with a reason and
the form's CSRF token, follow the redirect to the next item and read its flash (decided, or
already decided by someone else). Every response time and outcome is recorded.

Checked: no 5xx; no item has two first decisions, and each flag's / review item's status
agrees with its decision; no decision is lost (every "decided" answer has its decisions row
and its ledger entry, and there are exactly as many rows and entries as answers); a 403 is only
the four-eyes rule refusing an officer's second decision on their own item (two of their
sessions raced), and each one is ledgered. The median and 95th-percentile response times and
the decisions per second are printed (pytest -s) and written to
``<pytest basetemp>/web-concurrency.txt``.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from web_server import Client, csrf_token, live_server

from audit_engine.ledger import history
from audit_engine.ledger.store import head
from audit_engine.store.models import Decision, Flag, ReviewItem

DURATION = 30.0          # seconds of deciding (CI runs the full 30 s)
REVIEWERS = 20           # simulated reviewers (threads, sessions)
OFFICERS = 5             # QC officers they sign in as (several sessions each)
SERVER_THREADS = 8       # waitress worker threads: census-audit serve's default

_DECISION = re.compile(r'data-decision="([a-z_]+)"')
_FLASH = re.compile(r'class="flash ([a-z]+)"[^>]*data-testid="flash"')


@dataclass
class Reviewer:
    index: int
    officer: str
    timings: dict[str, list[float]] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    decided: list[str] = field(default_factory=list)          # refs this session's decisions went in for
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failure: str | None = None

    def timed(self, what: str, response):
        self.timings.setdefault(what, []).append(response.seconds)
        self.statuses[(what, response.status)] += 1
        if response.status >= 500:
            self.server_errors.append(f"{what} {response.status}: {response.text[:300]!r}")
        return response


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _review(r: Reviewer, base: str, start: threading.Barrier, stop_at: list[float]) -> None:
    rng = random.Random(r.index)
    c = Client(base)
    try:
        c.sign_in(r.officer)
        start.wait()
        page = None                                   # the item page the last decision led to
        n = 0
        while time.perf_counter() < stop_at[0]:
            if page is None:
                nxt = r.timed("GET /next", c.get("/next"))
                if nxt.status != 302:
                    r.outcomes[f"/next {nxt.status}"] += 1
                    continue
                if "/item/" not in nxt.location:
                    r.outcomes["queue empty"] += 1
                    time.sleep(0.2)
                    continue
                page = r.timed("GET /item", c.get(nxt.location))
                page.ref = nxt.location.rsplit("/", 1)[1]
            if page.status != 200:
                r.outcomes[f"item {page.status}"] += 1
                page = None
                continue
            options = _DECISION.findall(page.text)
            if 'data-testid="decide-form"' not in page.text or not options:
                r.outcomes["shown already decided"] += 1
                page = None
                continue
            n += 1
            ref = page.ref
            post = r.timed("POST decide", c.post(f"/item/{ref}/decide", {
                "decision": rng.choice(options), "reason": f"concurrency test, reviewer {r.index}, #{n}",
                "csrf_token": csrf_token(page.text)}))
            if post.status == 403:
                r.outcomes["refused (403)"] += 1
                page = None
                continue
            if post.status != 303:
                r.outcomes[f"decide {post.status}"] += 1
                page = None
                continue
            follow = r.timed("GET /item" if "/item/" in post.location else "GET /queue", c.get(post.location))
            flashes = _FLASH.findall(follow.text)
            if "warning" in flashes:
                r.outcomes["already decided by someone else"] += 1
            elif "ok" in flashes:
                r.outcomes["decided"] += 1
                r.decided.append(ref)
            else:
                r.outcomes["no flash"] += 1
            if "/item/" in post.location:
                follow.ref = post.location.rsplit("/", 1)[1]
                page = follow
            else:
                page = None
    except Exception as exc:  # noqa: BLE001 - reported by the test, with the reviewer
        r.failure = f"{type(exc).__name__}: {exc}"


def test_twenty_reviewers_decide_from_one_queue(pipeline_store, tmp_path_factory):
    with live_server(pipeline_store, tmp_path_factory.mktemp("web-concurrency"), reviewers=OFFICERS,
                     threads=SERVER_THREADS, reviewer_scope="county") as live:   # enough items for 30 s
        seq0 = head(live.engine)[0]
        reviewers = [Reviewer(i, live.reviewers[i % OFFICERS]) for i in range(REVIEWERS)]
        barrier = threading.Barrier(REVIEWERS + 1)
        stop_at = [float("inf")]
        threads = [threading.Thread(target=_review, args=(r, live.url, barrier, stop_at), name=f"reviewer-{r.index}")
                   for r in reviewers]
        for t in threads:
            t.start()
        barrier.wait(timeout=120)
        t0 = time.perf_counter()
        stop_at[0] = t0 + DURATION
        for t in threads:
            t.join(DURATION + 120)
        elapsed = time.perf_counter() - t0

        with live.engine.connect() as conn:
            rows = conn.execute(select(Decision.item_kind, Decision.item_id, Decision.stage, Decision.decision,
                                       Decision.operator, Decision.reason)
                                .where(Decision.operator.in_(live.reviewers))).mappings().all()
            flags = {r.id: r.status for r in conn.execute(select(Flag.id, Flag.status))}
            items = {r.id: r for r in conn.execute(select(ReviewItem.id, ReviewItem.status, ReviewItem.decision,
                                                          ReviewItem.decided_by))}
        ledgered = [e for e in history(live.engine, limit=100_000, command="review decide")
                    if e["seq"] > seq0 and e["operator"] in live.reviewers]
        refusals = [e for e in history(live.engine, limit=100_000, command="refused")
                    if e["seq"] > seq0 and e["operator"] in live.reviewers]

    # -- the figures ------------------------------------------------------------------------
    timings: dict[str, list[float]] = {}
    outcomes: Counter = Counter()
    statuses: Counter = Counter()
    for r in reviewers:
        for k, v in r.timings.items():
            timings.setdefault(k, []).extend(v)
        outcomes.update(r.outcomes)
        statuses.update(r.statuses)
    every = [s for v in timings.values() for s in v]
    decided = [ref for r in reviewers for ref in r.decided]
    lines = [f"{REVIEWERS} reviewers ({OFFICERS} QC officers), {SERVER_THREADS} waitress threads, SQLite WAL, "
             f"{elapsed:.1f} s",
             f"requests: {len(every)} ({len(every) / elapsed:.1f}/s); decisions: {len(decided)} "
             f"({len(decided) / elapsed:.1f}/s)",
             f"all requests: median {statistics.median(every) * 1000:.0f} ms, "
             f"95th percentile {_percentile(every, 0.95) * 1000:.0f} ms"]
    for k in sorted(timings):
        v = timings[k]
        lines.append(f"  {k}: {len(v)} requests, median {statistics.median(v) * 1000:.0f} ms, "
                     f"95th percentile {_percentile(v, 0.95) * 1000:.0f} ms, max {max(v) * 1000:.0f} ms")
    stages = Counter(r["stage"] for r in rows)
    lines.append(f"decisions stored: {len(rows)} ({stages['first']} first, {stages['second']} four-eyes second)")
    lines.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    lines.append("statuses: " + ", ".join(f"{k[0]} {k[1]}: {v}" for k, v in sorted(statuses.items())))
    report = "\n".join(lines)
    print("\n" + report)
    (tmp_path_factory.getbasetemp() / "web-concurrency.txt").write_text(report + "\n", "utf-8")

    # -- the checks -------------------------------------------------------------------------
    failures = [f"reviewer {r.index}: {r.failure}" for r in reviewers if r.failure]
    assert not failures, "\n".join(failures)
    errors = [e for r in reviewers for e in r.server_errors]
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:10])
    assert not [t.name for t in threads if t.is_alive()], "reviewers still running after the time"
    assert decided, "no decision went in"
    other = {k: v for k, v in outcomes.items() if k not in (
        "decided", "already decided by someone else", "shown already decided", "refused (403)", "queue empty")}
    assert not other, f"unexpected outcomes: {other}"

    def ref(kind: str, item_id: int) -> str:
        return ("F" if kind == "flag" else "R") + str(item_id)

    firsts = Counter(ref(r["item_kind"], r["item_id"]) for r in rows if r["stage"] == "first")
    assert not [k for k, n in firsts.items() if n > 1], "an item was decided twice"
    for r in rows:
        if r["stage"] != "first":
            continue
        if r["item_kind"] == "flag":
            want = "revisit" if r["decision"] == "revisit" else "decided"
            assert flags[r["item_id"]] == want, f"F{r['item_id']}: {flags[r['item_id']]} after {r['decision']}"
        else:
            it = items[r["item_id"]]
            assert (it.status, it.decision, it.decided_by) == ("decided", r["decision"], r["operator"]), \
                f"R{r['item_id']}: {tuple(it)} after {r['decision']} by {r['operator']}"
    # no decision lost: each answer has its row and its ledger entry, one for one
    by_session = Counter((r.officer, ref_) for r in reviewers for ref_ in r.decided)
    in_store = Counter((r["operator"], ref(r["item_kind"], r["item_id"])) for r in rows)
    in_ledger = Counter((e["operator"], e["params"]["item"]) for e in ledgered)
    assert by_session == in_store, (f"decisions answered but not stored: {by_session - in_store}; "
                                    f"stored but not answered: {in_store - by_session}")
    assert in_store == in_ledger, f"ledger and decisions differ: {in_store - in_ledger} / {in_ledger - in_store}"
    assert len(decided) == len(rows) == len(ledgered)
    # a 403 is the four-eyes rule (an officer's second session deciding the officer's own item), ledgered
    four_eyes_refusals = [e for e in refusals if "four-eyes" in e["result"].get("reason", "")]
    assert outcomes["refused (403)"] == len(four_eyes_refusals), (outcomes["refused (403)"], refusals[:5])
    assert len(refusals) == len(four_eyes_refusals), [e["result"] for e in refusals][:5]


pytestmark = pytest.mark.slow
