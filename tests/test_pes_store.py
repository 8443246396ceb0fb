"""The PES steps over the store, on SQLite and PostgreSQL: link duplicates, link pes, review
decisions, estimate — each run recorded, results checked against the synthetic truth, no
personal data outside the persons table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import COUNTY_FILES, count_rows, load_county
from sqlalchemy import select

from audit_engine.ledger import verify
from audit_engine.pes.duplicates import run_link_duplicates
from audit_engine.pes.estimating import run_estimate
from audit_engine.pes.linking import run_link_pes
from audit_engine.review.items import AlreadyDecided, ReviewError, decide, open_items
from audit_engine.store.models import (
    ClusterMember,
    CoverageEstimate,
    LedgerEntry,
    LinkPair,
    ReviewItem,
    Run,
    SampleStatus,
)
from sampling.design import load_design
from sampling.draw import draw
from sampling.store import read_frame, save_sample

FILES = COUNTY_FILES


@pytest.fixture(scope="module")
def county12k(tmp_path_factory) -> Path:
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("county12k")
    generate(SynthConfig(persons=12_000, seed=11), out)
    return out


@pytest.fixture
def loaded(engine, county12k):
    load_county(engine, county12k, FILES, operator="test.loader")
    design = load_design()
    drawn = draw(design, read_frame(engine, design), 5)
    save_sample(engine, design, 5, drawn, "test.sup")
    return engine


def _truth(folder: Path) -> pd.DataFrame:
    t = pd.read_csv(folder / "truth" / "records.csv", dtype=str, keep_default_na=False)
    t["kind"] = t["errors"].str.split(";").str[0]
    return t


def test_pes_pipeline_against_truth(loaded, county12k):
    engine = loaded
    truth = _truth(county12k)
    true_of = dict(zip(truth["person_id"], truth["true_person_id"], strict=True))

    dup = run_link_duplicates(engine, "test.sup")
    with engine.connect() as conn:
        members = pd.read_sql(select(ClusterMember.person_key, ClusterMember.cluster, ClusterMember.role)
                              .where(ClusterMember.run_id == dup.run_id), conn)
    planted = set(truth.loc[(truth["source"] == "census") & (truth["kind"] == "duplicate"), "person_id"])
    extra = set(members.loc[members["role"] == "extra", "person_key"])
    assert planted, "the synthetic county plants duplicates"
    found = len(planted & extra) / len(planted)
    assert found >= 0.9, found
    # every cluster's records are one true person, and every cluster is a review item
    same = members.assign(t=members["person_key"].map(true_of)).groupby("cluster")["t"].nunique()
    assert (same == 1).mean() >= 0.98
    assert count_rows(engine, ReviewItem, run_id=dup.run_id, kind="cluster") == dup.clusters == members["cluster"].nunique()

    s = run_link_pes(engine, "test.sup")
    with engine.connect() as conn:
        pairs = pd.read_sql(select(LinkPair.left_key, LinkPair.right_key, LinkPair.status, LinkPair.levels)
                            .where(LinkPair.run_id == s.run_id), conn)
        status = pd.read_sql(select(SampleStatus.sample, SampleStatus.person_key, SampleStatus.cls,
                                    SampleStatus.evidence).where(SampleStatus.run_id == s.run_id), conn)
    m = pairs[pairs["status"] == "match"]
    right = (m["left_key"].map(true_of) == m["right_key"].map(true_of)).mean()
    assert right >= 0.995, right
    assert s.matches == len(m) and s.possible == (pairs["status"] == "possible").sum()
    assert set(json.loads(pairs["levels"].iat[0])) >= {"name", "id_number", "sex", "birth_ym"}
    # P-sample: every PES person of the sample EAs has one status; matched ones are the match pairs
    p = status[status["sample"] == "P"]
    assert p["person_key"].is_unique and set(p["cls"]) <= {"matched", "possible", "not_matched", "invalid"}
    assert set(p.loc[p["cls"] == "matched", "person_key"]) == set(m["left_key"])
    # E-sample: the planted born-after records are found; records matched to the PES are correct
    e = status[status["sample"] == "E"].set_index("person_key")
    born = set(truth.loc[(truth["source"] == "census") & (truth["kind"] == "born_after"), "person_id"]) & set(e.index)
    assert born <= set(e.index[e["cls"] == "born_after"])
    assert (e.loc[e.index.isin(m["right_key"]), "cls"] == "correct").all()
    # unresolved census records and possible matches are review items
    assert count_rows(engine, ReviewItem, run_id=s.run_id, kind="followup") == (e["cls"] == "unresolved").sum()
    assert count_rows(engine, ReviewItem, run_id=s.run_id, kind="pair") == s.possible

    est = run_estimate(engine, "test.sup", post_strata=["age", "urban"], age_groups=((0, 29), (30, 59), (60, None)))
    with engine.connect() as conn:
        stored = pd.read_sql(select(CoverageEstimate.__table__).where(CoverageEstimate.run_id == est.run_id), conn)
    table = est.result.table()
    got = stored.set_index(["level", "domain", "statistic"])["value"]
    want = table.assign(domain=table["domain"].astype(str)).set_index(["level", "domain", "statistic"])["value"]
    assert np.allclose(got.reindex(want.index).to_numpy(), want.to_numpy(), rtol=1e-12)
    om = est.overall["omission"]
    true_rate = _true_omission(county12k)
    assert om["ci_low"] < om["value"] < om["ci_high"]
    assert abs(om["value"] - true_rate) < 0.02
    for kind in ("link duplicates", "link pes", "estimate"):
        with engine.connect() as conn:
            assert conn.execute(select(Run.status).where(Run.kind == kind)).scalar() == "done"
    assert verify(engine).ok
    _no_personal_data(engine, county12k)


def _true_omission(folder: Path) -> float:
    persons = pd.read_csv(folder / "truth" / "persons.csv", dtype={"status": str},
                          usecols=["status", "census_records"])
    res = persons[persons["status"] == "resident"]
    return float((res["census_records"] == 0).mean())


def _no_personal_data(engine, folder: Path) -> None:
    """Names and ID numbers appear nowhere but in the persons/deaths tables (and the quarantine)."""
    p = pd.read_csv(folder / "census" / "persons.csv", dtype=str, keep_default_na=False,
                    usecols=["name", "id_number"])
    names = set(p["name"]) - {""}
    ids = set(p["id_number"]) - {""}
    texts = []
    with engine.connect() as conn:
        for model, cols in ((LedgerEntry, ("params", "inputs", "result")), (Run, ("params", "summary")),
                            (ReviewItem, ("payload",)), (SampleStatus, ("evidence",)), (ClusterMember, ("evidence",)),
                            (LinkPair, ("levels",))):
            for row in conn.execute(select(*(getattr(model, c) for c in cols))):
                texts.extend(str(x) for x in row)
    blob = "\n".join(texts)
    assert not any(i in blob for i in ids)
    tokens = set(re.findall(r"[\u4e00-\u9fff]{2,4}", blob))
    assert not tokens & names


def test_decisions_are_written_once_and_feed_the_estimate(loaded, county12k):
    engine = loaded
    run_link_duplicates(engine, "test.sup")
    s = run_link_pes(engine, "test.sup")
    before = run_estimate(engine, "test.sup", post_strata=["urban"])
    items = open_items(engine, s.run_id, "followup")
    assert len(items) > 0
    first = int(items["id"].iat[0])
    with pytest.raises(ReviewError, match="reason"):
        decide(engine, first, "fictitious", "  ", "qc.li")
    with pytest.raises(ReviewError, match="takes"):
        decide(engine, first, "match", "wrong kind of decision", "qc.li")
    decide(engine, first, "fictitious", "household says no such person", "qc.li")
    with pytest.raises(AlreadyDecided, match="qc.li"):
        decide(engine, first, "correct", "second opinion", "qc.zhao")
    for item_id in items["id"].iloc[1:]:
        decide(engine, int(item_id), "fictitious", "field follow-up: not found", "qc.li")
    after = run_estimate(engine, "test.sup", post_strata=["urban"])
    assert after.imputed["unresolved_undecided"] == 0
    # all unresolved records now erroneous: the erroneous enumeration rate can only rise
    assert after.overall["erroneous"]["value"] > before.overall["erroneous"]["value"]
    with engine.connect() as conn:
        cmds = [r[0] for r in conn.execute(select(LedgerEntry.command).order_by(LedgerEntry.seq))]
    assert cmds.count("review decide") == len(items)
    assert verify(engine).ok


def test_reviewed_pairs_refine_the_next_run(loaded):
    engine = loaded
    # a very strict upper threshold sends the less certain matches to review
    s1 = run_link_pes(engine, "test.sup", target_fmr=1e-9)
    pairs = open_items(engine, s1.run_id, "pair")
    assert len(pairs) == s1.possible > 0
    for item_id in pairs["id"]:
        decide(engine, int(item_id), "match", "same person on the household visit", "qc.li")
    s2 = run_link_pes(engine, "test.sup", target_fmr=1e-9)
    assert s2.reviewed_pairs_used == len(pairs)
    # the estimate counts a possible match decided "match" as matched
    est = run_estimate(engine, "test.sup", link_run=s1.run_id, post_strata=["urban"])
    assert est.imputed["possible_matches_undecided"] == 0


def test_failed_run_leaves_nothing_half_written(engine, county12k):
    with pytest.raises(Exception, match="no sample"):
        run_link_pes(engine, "test.sup")
    load_county(engine, county12k, FILES[:4], operator="test.loader")   # no PES loaded
    design = load_design()
    save_sample(engine, design, 5, draw(design, read_frame(engine, design), 5), "test.sup")
    with pytest.raises(ValueError, match="no PES persons"):
        run_link_pes(engine, "test.sup")
    with engine.connect() as conn:
        assert conn.execute(select(Run.status).where(Run.kind == "link pes")).scalar() == "failed"
    assert count_rows(engine, LinkPair) == 0 and count_rows(engine, SampleStatus) == 0 and count_rows(engine, ReviewItem) == 0
    with pytest.raises(ValueError, match="link pes"):
        run_estimate(engine, "test.sup")


def test_cli_link_and_estimate(loaded, db_url):
    from click.testing import CliRunner

    from audit_engine.cli.main import cli

    runner = CliRunner()
    base = ["--db", db_url, "--operator", "sup.wang"]
    r = runner.invoke(cli, [*base, "estimate"])
    assert r.exit_code == 2 and "link pes" in r.output
    r = runner.invoke(cli, [*base, "link", "duplicates", "--json"])
    assert r.exit_code == 0, r.output
    dup = json.loads(r.output)
    r = runner.invoke(cli, [*base, "link", "pes", "--search-area", "village", "--json"])
    assert r.exit_code == 0, r.output
    lp = json.loads(r.output)
    assert lp["duplicates_run"] == dup["run_id"] and lp["search_area"] == "village"
    assert lp["matches"] > 0.95 * lp["p_sample"]["matched"]
    r = runner.invoke(cli, [*base, "estimate", "--post-strata", "age", "--age-groups", "0-29,30+"])
    assert r.exit_code == 0, r.output
    assert "omission (gross)" in r.output and "95% CI" in r.output
    r = runner.invoke(cli, [*base, "estimate", "--post-strata", "sex,religion"])
    assert r.exit_code == 2 and "religion" in r.output
    with loaded.connect() as conn:
        cmds = [c for (c,) in conn.execute(select(LedgerEntry.command).order_by(LedgerEntry.seq))]
    assert cmds[-3:] == ["link duplicates", "link pes", "estimate"]


def test_officer_sees_linkage_items_side_by_side(loaded):
    from audit_engine.access.operators import add_operator
    from audit_engine.review.queue import decide_item, show_item

    engine = loaded
    run_link_duplicates(engine, "test.sup")
    s = run_link_pes(engine, "test.sup", target_fmr=1e-9)
    items = open_items(engine)
    county = str(items["ea_code"].iat[0])[:6]
    add_operator(engine, "root", "admin", "admin")
    add_operator(engine, "admin", "qc.all", "qc", [county])
    seen = set()
    for kind, group in items.groupby("kind"):
        d = show_item(engine, "qc.all", f"R{int(group['id'].iat[0])}")
        want = {"pair": 2, "followup": 1, "cluster": 2}[kind]
        assert len(d["records"]) == want and all(r["name"] for r in d["records"]), kind
        seen.add(kind)
    assert {"pair", "followup", "cluster"} <= seen
    pair = items[items["kind"] == "pair"]
    decide_item(engine, "qc.all", f"R{int(pair['id'].iat[0])}", "match", "same household", four_eyes=0.0)
    est = run_estimate(engine, "test.sup", link_run=s.run_id, post_strata=["urban"])
    assert est.imputed["possible_matches_undecided"] == len(pair) - 1
