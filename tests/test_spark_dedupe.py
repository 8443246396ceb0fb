"""``link duplicates`` on Spark (audit_engine/spark/dedupe.py) against the local run on the same
rows: the same blocking counts, model, pairs and weights, clusters, kept/extra roles and review
items; and the Spark connected components (audit_engine/spark/components.py) against scipy's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import copy_county_store
from sqlalchemy import select

from audit_engine.pes.duplicates import run_link_duplicates
from audit_engine.spark.lake import fingerprint, parquet_rows, run_dir
from audit_engine.store.models import ClusterMember, LedgerEntry, LinkPair, ReviewItem, Run


def _scipy_labels(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a, b = np.array([e[0] for e in edges]), np.array([e[1] for e in edges])
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def test_components_agree_with_scipy(spark):
    from audit_engine.spark.components import components

    rng = np.random.default_rng(3)
    edges: list[tuple[int, int]] = []
    edges += [(0, 1), (1, 2), (2, 3)]                       # a short chain
    edges += [(10, k) for k in range(11, 20)]               # a star
    edges += [(30, 31), (31, 32), (32, 33), (33, 30)]       # a cycle
    edges += [(40, 40), (41, 42), (42, 41)]                 # a self-loop, an edge given both ways
    chain = rng.permutation(np.arange(100, 250))            # a long chain, nodes in random order
    edges += [(int(a), int(b)) for a, b in zip(chain[:-1], chain[1:], strict=True)]
    edges += [(500, 450), (450, 499), (499, 401)]           # a chain descending and ascending
    n = 520                                                 # 20-29, 43-99, ... are singletons
    df = spark.createDataFrame(pd.DataFrame({"src": [e[0] for e in edges], "dst": [e[1] for e in edges]}))
    got = components(df).toPandas()
    in_edge = sorted({v for e in edges for v in e if e[0] != e[1]} | {40} - {40})
    assert sorted(got["node"]) == in_edge                    # nodes in edges only (40's self-loop: none)
    ref = _scipy_labels(n, edges)
    label = dict(zip(got["node"], got["label"], strict=True))
    for v in in_edge:
        members = np.flatnonzero(ref == ref[v])
        assert label[v] == members.min(), v                  # the smallest node of its component
    assert label[int(chain[-1])] == 100 and label[3] == 0 and label[15] == 10 and label[33] == 30
    assert label[500] == 401


def _rows(engine, model, run_id: int, cols: list[str]) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(select(*[getattr(model, c) for c in cols]).where(model.run_id == run_id), conn)


def _summary(engine, run_id: int) -> dict:
    with engine.connect() as conn:
        return json.loads(conn.execute(select(Run.summary).where(Run.id == run_id)).scalar_one())


def _clusters(engine, run_id: int) -> dict[frozenset, dict[str, str]]:
    m = _rows(engine, ClusterMember, run_id, ["cluster", "person_key", "role", "ea_code", "evidence"])
    out = {}
    for _, g in m.groupby("cluster"):
        out[frozenset(g["person_key"])] = {r.person_key: (r.role, r.ea_code, r.evidence) for r in g.itertuples()}
    return out


@pytest.fixture(scope="module")
def both_runs(spark_county, spark, tmp_path_factory):
    from audit_engine.spark.dedupe import run_link_duplicates_spark

    _, _, lake = spark_county
    local_eng = copy_county_store(spark_county, tmp_path_factory.mktemp("dedupe_local"))
    spark_eng = copy_county_store(spark_county, tmp_path_factory.mktemp("dedupe_spark"))
    local = run_link_duplicates(local_eng, "test.sup")
    remote = run_link_duplicates_spark(spark_eng, spark, lake, "test.sup")
    yield local_eng, local, spark_eng, remote, lake
    local_eng.dispose()
    spark_eng.dispose()


def test_same_blocking_model_and_threshold(both_runs):
    local_eng, local, spark_eng, remote, _ = both_runs
    assert (remote.persons, remote.candidates, remote.pairs, remote.clusters, remote.extra_records,
            remote.weak_clusters, remote.review_items) == (
        local.persons, local.candidates, local.pairs, local.clusters, local.extra_records,
        local.weak_clusters, local.review_items)
    a, b = _summary(local_eng, local.run_id)["model"], _summary(spark_eng, remote.run_id)["model"]
    assert a["blocking"] == b["blocking"] and a["candidates"] == b["candidates"]
    assert a["candidates"] > 100 and all(r["pairs"] > 0 for r in a["blocking"])
    assert a["prior"] == pytest.approx(b["prior"], rel=1e-12)
    assert (a["em_iterations"], a["em_converged"]) == (b["em_iterations"], b["em_converged"])
    for ca, cb in zip(a["comparisons"], b["comparisons"], strict=True):
        assert ca["name"] == cb["name"]
        for la, lb in zip(ca["levels"], cb["levels"], strict=True):
            assert la["label"] == lb["label"]
            assert la["m"] == pytest.approx(lb["m"], rel=1e-12) and la["u"] == pytest.approx(lb["u"], rel=1e-12)
    assert a["upper"] == b["upper"] and a["lower"] == b["lower"]      # the same cut, bit for bit
    assert a["weight_histogram"]["counts"] == b["weight_histogram"]["counts"]
    assert np.allclose(a["weight_histogram"]["edges"], b["weight_histogram"]["edges"], rtol=1e-12)


def test_same_pairs_clusters_roles_and_items(both_runs):
    local_eng, local, spark_eng, remote, lake = both_runs
    cols = ["left_key", "right_key", "left_ea", "right_ea", "weight", "posterior", "levels", "status"]
    pa_ = _rows(local_eng, LinkPair, local.run_id, cols).sort_values(["left_key", "right_key"], ignore_index=True)
    pb = _rows(spark_eng, LinkPair, remote.run_id, cols).sort_values(["left_key", "right_key"], ignore_index=True)
    assert len(pa_) > 0
    assert pa_[["left_key", "right_key", "left_ea", "right_ea", "levels", "status"]].equals(
        pb[["left_key", "right_key", "left_ea", "right_ea", "levels", "status"]])
    assert np.allclose(pa_["weight"], pb["weight"], rtol=1e-9, atol=0)
    assert np.allclose(pa_["posterior"], pb["posterior"], rtol=1e-9, atol=0)

    ca, cb = _clusters(local_eng, local.run_id), _clusters(spark_eng, remote.run_id)
    assert ca == cb and len(ca) > 0
    roles = [r for members in ca.values() for r, _, _ in members.values()]
    assert roles.count("kept") == len(ca) and roles.count("extra") == local.extra_records > 0
    # national duplicates: found across townships (no partition by area restricts blocking)
    townships = [len({ea[:9] for _, ea, _ in members.values()}) for members in ca.values()]
    assert sum(t > 1 for t in townships) > 0

    icols = ["kind", "subject", "ea_code", "payload", "status"]
    ia = _rows(local_eng, ReviewItem, local.run_id, icols).sort_values("subject", ignore_index=True)
    ib = _rows(spark_eng, ReviewItem, remote.run_id, icols).sort_values("subject", ignore_index=True)
    assert len(ia) == local.clusters and ia.equals(ib)

    out = run_dir(lake, "link duplicates", remote.run_id, spark_eng)
    assert parquet_rows(out / "pairs.parquet") == len(pb)
    assert parquet_rows(out / "members.parquet") == sum(len(m) for m in cb.values())


def test_ledger_says_spark_and_the_lake(both_runs):
    local_eng, _, spark_eng, remote, lake = both_runs
    with spark_eng.connect() as conn:
        entry = conn.execute(select(LedgerEntry.params, LedgerEntry.inputs)
                             .where(LedgerEntry.command == "link duplicates")).one()
    params, inputs = json.loads(entry.params), json.loads(entry.inputs)
    assert params["engine"] == "spark" and params["run_id"] == remote.run_id
    assert inputs["lake"] == fingerprint(lake, "census") and "census" in inputs
    with local_eng.connect() as conn:
        local_entry = conn.execute(select(LedgerEntry.params, LedgerEntry.inputs)
                                   .where(LedgerEntry.command == "link duplicates")).one()
    assert "engine" not in json.loads(local_entry.params) and set(json.loads(local_entry.inputs)) == {"census"}
