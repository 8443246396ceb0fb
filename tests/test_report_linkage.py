"""The linkage report shows the stored model (m, u, weights, λ), histograms and thresholds,
blocking counts, outcomes and the clerical review's workload and decisions to the digit, and
holds no personal data.

Expected figures are computed here from the store by SQL (run summaries as stored JSON,
sample_status, cluster_members, review_items, decisions), never through the report's gather."""

from __future__ import annotations

import csv
import json
import math
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from helpers import report_figures, shown
from sqlalchemy import text

from audit_engine.access.operators import add_operator
from audit_engine.ledger import history
from audit_engine.review.items import decide
from audit_engine.review.queue import decide_item
from audit_engine.store import make_engine
from reports.issue import ReportError, build, issue

P_CLASSES = ("matched", "possible", "not_matched", "invalid")
E_CLASSES = ("correct", "duplicate", "born_after", "died_before", "unresolved")
KIND_DECISIONS = {"pair": ("match", "non_match"), "cluster": ("duplicate", "not_duplicate"),
                  "followup": ("correct", "not_resident", "fictitious", "died_before", "duplicate")}


@pytest.fixture(scope="module")
def store(pipeline_store):
    folder, url = pipeline_store
    return folder, make_engine(url)


def _digits(v: float | None) -> int:
    """Decimals of a small percentage: three significant digits, between 2 and 10."""
    if v is None or v <= 0:
        return 2
    return min(10, max(2, 2 - math.floor(math.log10(100 * v))))


def _latest(conn, kind: str) -> tuple[int, dict] | None:
    row = conn.execute(text("select id, summary from runs where kind = :k and status = 'done' order by id desc"),
                       {"k": kind}).first()
    return (int(row[0]), json.loads(row[1])) if row else None


def _model_expected(p: str, s: dict) -> dict[str, tuple[float, str]]:
    m = s["model"]
    out: dict[str, tuple[float, str]] = {
        f"{p}.prior": (m["prior"], shown(m["prior"], "pct", _digits(m["prior"]))),
        f"{p}.em_iterations": (m["em_iterations"], shown(m["em_iterations"], "num")),
        f"{p}.candidates": (m["candidates"], shown(m["candidates"], "num")),
    }
    for c in m["comparisons"]:
        for lv in c["levels"]:
            k = f"{p}.model.{c['name']}.{lv['level']}"
            out[f"{k}.m"] = (lv["m"], shown(lv["m"], "num", 6))
            out[f"{k}.u"] = (lv["u"], shown(lv["u"], "num", 6))
            out[f"{k}.weight"] = (lv["weight"], shown(lv["weight"], "num", 2))
    bands = ["upper"] + (["lower"] if m["lower"]["target_fnmr"] is not None else [])
    for band in bands:
        th, k = m[band], f"{p}.{band}"
        out[f"{k}.weight_min"] = (th["weight_min"], shown(th["weight_min"], "num", 2))
        out[f"{k}.posterior_min"] = (th["posterior_min"], shown(th["posterior_min"], "pct", 4))
        out[f"{k}.accepted"] = (th["accepted"], shown(th["accepted"], "num"))
        out[f"{k}.est_fmr"] = (th["est_fmr"], shown(th["est_fmr"], "pct", _digits(th["est_fmr"])))
        out[f"{k}.est_fnmr"] = (th["est_fnmr"], shown(th["est_fnmr"], "pct", _digits(th["est_fnmr"])))
        target = "target_fmr" if th["target_fmr"] is not None else "target_fnmr"
        out[f"{k}.{target}"] = (th[target], shown(th[target], "pct"))
    for i, e in enumerate(m["weight_histogram"]["edges"]):
        out[f"{p}.hist.edge.{i}"] = (e, shown(e, "num", 2))
    for i, c in enumerate(m["weight_histogram"]["counts"]):
        out[f"{p}.hist.count.{i}"] = (c, shown(c, "num"))
    for b in m["blocking"]:
        k = f"{p}.blocking.{b['rule']}"
        out[f"{k}.pairs"] = (b["pairs"], shown(b["pairs"], "num"))
        out[f"{k}.new"] = (b["new"], shown(b["new"], "num"))
        share = b["new"] / m["candidates"]
        out[f"{k}.share"] = (share, shown(share, "pct"))
    return out


def _counts(figs: dict, key: str, n: int) -> None:
    figs[key] = (n, shown(n, "num"))


def _share(figs: dict, key: str, num: int, den: int, digits: int = 2) -> None:
    if den:
        figs[key] = (num / den, shown(num / den, "pct", digits))


def expected_figures(engine, now: datetime | None = None) -> dict[str, tuple[float, str]]:
    """Every figure the linkage report must show, from the store."""
    now = now or datetime.now(UTC)
    out: dict[str, tuple[float, str]] = {}
    with engine.connect() as conn:
        pes_id, pes = _latest(conn, "link pes")
        dup = _latest(conn, "link duplicates")
        out |= _model_expected("pes", pes)
        for k in ("pes_persons", "census_search_area", "matches", "possible", "review_items", "reviewed_pairs_used"):
            _counts(out, f"pes.{k}", pes[k])
        for sample, classes in (("P", P_CLASSES), ("E", E_CLASSES)):
            counts = dict(conn.execute(text("select cls, count(*) from sample_status where run_id = :r and sample = :s "
                                            "group by cls"), {"r": pes_id, "s": sample}).all())
            total = sum(counts.values())
            for cls in set(classes) | set(counts):
                _counts(out, f"pes.{sample.lower()}.{cls}", counts.get(cls, 0))
                _share(out, f"pes.{sample.lower()}.{cls}.share", counts.get(cls, 0), total)
            _counts(out, f"pes.{sample.lower()}.total", total)
        review_runs = [(pes_id, ("pair", "followup"))]
        if dup:
            dup_id, ds = dup
            out |= _model_expected("dup", ds)
            for k in ("persons", "pairs", "clusters", "extra_records", "weak_clusters", "review_items"):
                _counts(out, f"dup.{k}", ds[k])
            sizes = conn.execute(text("select size, count(*) from (select cluster, count(*) as size from "
                                      "cluster_members where run_id = :r group by cluster) s group by size"),
                                 {"r": dup_id}).all()
            for size, n in sizes:
                _counts(out, f"dup.cluster_size.{size}", n)
            review_runs.append((dup_id, ("cluster",)))
        totals = dict.fromkeys(("created", "open", "decided", "checked", "agree", "pending_second"), 0)
        for run_id, kinds in review_runs:
            finished = conn.execute(text("select finished_at from runs where id = :r"), {"r": run_id}).scalar()
            if isinstance(finished, str):
                finished = datetime.fromisoformat(finished)
            finished = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
            for kind in kinds:
                k = f"review.{kind}"
                q = {"r": run_id, "k": kind}
                created = conn.execute(text("select count(*) from review_items where run_id = :r and kind = :k"),
                                       q).scalar()
                n_open = conn.execute(text("select count(*) from review_items where run_id = :r and kind = :k "
                                           "and status = 'open'"), q).scalar()
                decided = conn.execute(text("select count(*) from review_items where run_id = :r and kind = :k "
                                            "and status = 'decided'"), q).scalar()
                pairs = conn.execute(text(
                    "select f.decision, s.decision from decisions f join decisions s on s.item_kind = f.item_kind "
                    "and s.item_id = f.item_id and s.stage = 'second' join review_items i on i.id = f.item_id "
                    "where f.item_kind = 'review' and f.stage = 'first' and i.run_id = :r and i.kind = :k"), q).all()
                pending = conn.execute(text(
                    "select count(*) from decisions f join review_items i on i.id = f.item_id "
                    "where f.item_kind = 'review' and f.stage = 'first' and f.needs_second and i.run_id = :r "
                    "and i.kind = :k and not exists (select 1 from decisions s where s.item_kind = 'review' "
                    "and s.item_id = f.item_id and s.stage = 'second')"), q).scalar()
                agree = sum(a == b for a, b in pairs)
                for name, n in (("created", created), ("open", n_open), ("decided", decided),
                                ("checked", len(pairs)), ("pending_second", pending)):
                    _counts(out, f"{k}.{name}", n)
                    totals[name] += n
                totals["agree"] += agree
                _share(out, f"{k}.decided_share", decided, created, 1)
                _share(out, f"{k}.agreement", agree, len(pairs), 1)
                if n_open:
                    _counts(out, f"{k}.backlog_days", int((now - finished).total_seconds() // 86400))
                if decided:
                    outcomes = dict(conn.execute(text("select decision, count(*) from review_items where run_id = :r "
                                                      "and kind = :k and status = 'decided' group by decision"),
                                                 q).all())
                    for d in set(KIND_DECISIONS[kind]) | set(outcomes):
                        _counts(out, f"{k}.outcome.{d}", outcomes.get(d, 0))
                        _share(out, f"{k}.outcome.{d}.share", outcomes.get(d, 0), decided, 1)
        for name in ("created", "open", "decided", "checked", "pending_second"):
            _counts(out, f"review.total.{name}", totals[name])
        _share(out, "review.total.decided_share", totals["decided"], totals["created"], 1)
        _share(out, "review.total.agreement", totals["agree"], totals["checked"], 1)
    return out


def _assert_figures(html: str, expected: dict[str, tuple[float, str]]) -> dict:
    figs = report_figures(html)
    missing = sorted(set(expected) - set(figs))
    assert not missing, missing[:10]
    for key, (value, txt) in expected.items():
        assert figs[key] == (value, txt), (key, figs[key], value, txt)
    extra = sorted(set(figs) - set(expected))
    assert not extra, extra[:10]
    return figs


def _personal(folder) -> set[str]:
    with open(folder / "data" / "census" / "persons.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {r["name"] for r in rows if len(r["name"] or "") >= 2} | {r["id_number"] for r in rows if r["id_number"]}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_stored_figure_is_shown_exactly(store, tmp_path, lang):
    folder, engine = store
    issued = issue(engine, "linkage", tmp_path, lang=lang, operator="test.sup")
    html = issued.path.read_text("utf-8")
    expected = expected_figures(engine)
    assert len(expected) > 200
    figs = _assert_figures(html, expected)
    with engine.connect() as conn:
        pes_id, pes = _latest(conn, "link pes")
        dup_id, _ = _latest(conn, "link duplicates")
    # the stored sample statuses agree with the run summary's counts
    for cls, n in pes["p_sample"].items():
        assert figs[f"pes.p.{cls}"][0] == n
    for cls, n in pes["e_sample"].items():
        assert figs[f"pes.e.{cls}"][0] == n
    # two histograms with threshold lines, two blocking charts, the review chart
    assert html.count('<svg class="chart"') == 5
    assert f'data-run="link_pes">{pes_id}<' in html and f'data-run="link_duplicates">{dup_id}<' in html
    entry = history(engine, limit=1, command="report")[0]
    assert entry["result"]["sha256"] == issued.sha256
    assert entry["params"]["runs"] == {"link_pes": pes_id, "link_duplicates": dup_id}
    assert ("人工复核" in html) == (lang == "zh") and ("Clerical review" in html) == (lang == "en")
    # aggregates only: no census name or ID number
    leaked = [v for v in _personal(folder) if v in html]
    assert not leaked, leaked[:3]


def test_review_outcomes_after_decisions(store, tmp_path):
    """On a copy: decide items (with four-eyes checks) and age the PES run; the review figures
    follow the store."""
    folder, _ = store
    db = tmp_path / "x.db"
    shutil.copy(folder / "census_audit.db", db)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        items = conn.execute(text("select id, kind, ea_code from review_items where status = 'open' "
                                  "order by id")).all()
    by_kind: dict[str, list] = {}
    for it in items:
        by_kind.setdefault(it.kind, []).append(it)
    assert len(by_kind.get("followup", [])) >= 4 and len(by_kind.get("cluster", [])) >= 6
    fu, cl = by_kind["followup"], by_kind["cluster"]
    for it, d in zip(fu[:4], ("correct", "correct", "not_resident", "fictitious"), strict=True):
        decide(engine, it.id, d, "field visit done", "demo.qc")
    for it, d in zip(cl[:3], ("duplicate", "duplicate", "not_duplicate"), strict=True):
        decide(engine, it.id, d, "records compared", "demo.qc")
    # four eyes on three more clusters: one agreement, one disagreement, one awaiting its check
    county = cl[3].ea_code[:6]
    add_operator(engine, "demo.admin", "li.qc", "qc", [county])
    add_operator(engine, "demo.admin", "zhao.qc", "qc", [county])
    for it in cl[3:6]:
        decide_item(engine, "li.qc", f"R{it.id}", "duplicate", "same person", four_eyes=1.0)
    decide_item(engine, "zhao.qc", f"R{cl[3].id}", "duplicate", "agree")
    decide_item(engine, "zhao.qc", f"R{cl[4].id}", "not_duplicate", "twins, not one person")
    with engine.begin() as conn:
        pes_id = conn.execute(text("select max(id) from runs where kind = 'link pes'")).scalar()
        conn.execute(text("update runs set finished_at = :t where id = :r"),
                     {"t": datetime.now(UTC) - timedelta(days=3, hours=1), "r": pes_id})
    html, ctx = build(engine, "linkage", lang="zh", operator="t")
    figs = _assert_figures(html, expected_figures(engine))
    assert figs["review.followup.decided"][0] == 4 and figs["review.followup.outcome.correct"][0] == 2
    assert figs["review.followup.outcome.fictitious"] == (1, "1")
    assert figs["review.followup.outcome.died_before"] == (0, "0")
    assert figs["review.cluster.decided"][0] == 6 and figs["review.cluster.outcome.duplicate"][0] == 5
    assert figs["review.cluster.checked"] == (2, "2") and figs["review.cluster.agreement"] == (0.5, "50.0%")
    assert figs["review.cluster.pending_second"] == (1, "1")
    assert figs["review.followup.backlog_days"] == (3, "3")
    assert figs["review.cluster.backlog_days"] == (0, "0")
    assert figs["review.total.decided"] == (10, "10")
    assert "reason" not in json.dumps(ctx["review"])     # decisions' reasons never reach the report


def test_without_duplicates_run(store, tmp_path):
    folder, _ = store
    db = tmp_path / "x.db"
    shutil.copy(folder / "census_audit.db", db)
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("update runs set status = 'failed' where kind = 'link duplicates'"))
    html, ctx = build(engine, "linkage", lang="en", operator="t")
    assert ctx["runs"] == {"link_pes": ctx["pes"]["run_id"]} and ctx["dup"] is None
    assert "no census duplicate linkage run" in html
    _assert_figures(html, expected_figures(engine))
    with pytest.raises(ReportError, match="not a finished link duplicates run"):
        build(engine, "linkage", operator="t", options={"duplicates_run": ctx["pes"]["run_id"]})
    with pytest.raises(ReportError, match="census-audit link pes"):
        build(engine, "linkage", operator="t", options={"pes_run": 999})


def test_no_pes_run_is_a_clear_error(engine, tmp_path):
    with pytest.raises(ReportError, match="census-audit link pes"):
        issue(engine, "linkage", tmp_path / "out", operator="t")
    assert not (tmp_path / "out").exists() and history(engine, command="report") == []
