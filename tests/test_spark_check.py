"""``check --engine spark`` (audit_engine/spark/check.py) gives what the local ``check`` gives on
the same county: the same flags to the byte (values and localiser suggestions included), the same
per-rule counts, whatever the number of EA groups and with an area; the flags' Parquet is what
the store holds; the ledger entry names the lake it read."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import copy_county_store
from sqlalchemy import select

from audit_engine.ledger.store import history
from audit_engine.spark.check import FLAG_COLUMNS, run_check_spark
from audit_engine.spark.lake import fingerprint, read_table, run_dir, store_shaped
from audit_engine.store.models import Flag, Run
from rules.check import _read, check_group, ordered, run_check
from rules.frames import build_frames
from rules.localise import localise_failures
from rules.ruleset import load_ruleset

KEY = (Flag.rule_id, Flag.severity, Flag.scope, Flag.record_key, Flag.ea_code, Flag.fields, Flag.values,
       Flag.suggestion)


def _flags(engine, run_id: int) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(*KEY).where(Flag.run_id == run_id)).all())


def _parquet_flags(lake, run_id: int, engine) -> pd.DataFrame:
    return pd.read_parquet(run_dir(lake, "check", run_id, engine) / "flags")


def _as_tuples(frame: pd.DataFrame) -> list[tuple]:
    cols = [c.key for c in KEY]
    obj = frame[cols].astype(object).where(frame[cols].notna(), None)
    return sorted(tuple(r) for r in obj.itertuples(index=False))


def _run_summary(engine, run_id: int) -> dict:
    with engine.connect() as conn:
        return json.loads(conn.execute(select(Run.summary).where(Run.id == run_id)).scalar())


def _check_entry(engine, run_id: int) -> dict:
    return next(e for e in history(engine, command="check") if e["params"]["run_id"] == run_id)


@pytest.fixture(scope="module")
def both(spark, spark_county, tmp_path_factory):
    """The whole county checked both ways (bundled rule set, localiser on), each on its own store."""
    ruleset = load_ruleset(None)
    local_eng = copy_county_store(spark_county, tmp_path_factory.mktemp("check_local"))
    spark_eng = copy_county_store(spark_county, tmp_path_factory.mktemp("check_spark"))
    local = run_check(local_eng, ruleset, operator="li.qc", localiser=localise_failures)
    calls: list[tuple[int, int]] = []
    remote = run_check_spark(spark_eng, spark, spark_county[2], ruleset, operator="li.qc",
                             localiser=localise_failures, progress=lambda d, n: calls.append((d, n)))
    yield {"ruleset": ruleset, "local_eng": local_eng, "spark_eng": spark_eng, "local": local, "spark": remote,
           "calls": calls}
    local_eng.dispose()
    spark_eng.dispose()


def test_store_shaped_lake_rows_build_the_local_frames(spark_county):
    """The worker's tables equal ``pandas.read_sql``'s to the dtype (int64 / float64 / object
    None), whether the integers arrive nullable (lake reader) or as float64 (Arrow in Spark)."""
    _, url, lake = spark_county
    from audit_engine.store import make_engine

    eng = make_engine(url)
    deaths = read_table(lake, "census", "deaths")
    eas = sorted(set(deaths["ea_code"]))[:3]          # EAs with reported deaths
    try:
        store = dict(zip(("persons", "households", "deaths"), _read(eng, "census", eas), strict=True))
    finally:
        eng.dispose()
    assert len(store["persons"]) > 100 and len(store["deaths"]) > 0
    shaped = {}
    for kind, local in store.items():
        raw = read_table(lake, "census", kind, prefixes=eas)
        as_arrow = raw.astype({c: "float64" for c in raw.columns if str(raw[c].dtype) == "Int64" and raw[c].isna().any()})
        for variant in (raw, as_arrow):
            got = ordered(store_shaped(variant, kind), kind)
            pd.testing.assert_frame_equal(got, ordered(local, kind), check_dtype=True)
        shaped[kind] = ordered(store_shaped(raw, kind), kind)
    ours = build_frames(shaped["persons"], shaped["households"], shaped["deaths"])
    theirs = build_frames(*(ordered(store[k], k) for k in ("persons", "households", "deaths")))
    for a, b in ((ours.persons, theirs.persons), (ours.households, theirs.households), (ours.deaths, theirs.deaths)):
        pd.testing.assert_frame_equal(a, b, check_dtype=True)
    # all missing / no rows: object columns, as read_sql gives them
    empty = store_shaped(read_table(lake, "census", "deaths", prefixes=["99"]), "deaths")
    assert len(empty) == 0 and all(empty[c].dtype == object for c in empty.columns)
    nulls = store_shaped(pd.DataFrame({"household_key": ["H1"], "ea_code": ["320831100001001"], "line_no": [1],
                                       "birth_year": [pd.NA]}).astype({"birth_year": "Int64"}), "deaths")
    assert nulls["birth_year"].dtype == object and nulls["birth_year"].iat[0] is None
    assert nulls["line_no"].dtype == "int64" and nulls["name"].iat[0] is None


def test_check_group_is_blind_to_row_order(spark_county):
    """Rows reach a Spark worker in shuffle order; check_group orders them by their keys first."""
    _, url, lake = spark_county
    rs = load_ruleset(None)
    township = sorted(set(read_table(lake, "census", "persons")["ea_code"].str[:9]))[0]
    tables = [store_shaped(read_table(lake, "census", k, prefixes=[township]), k)
              for k in ("persons", "households", "deaths")]
    dups = {"id_number": set()}
    a = check_group(rs, *tables, dups, run_id=1, source="census", localiser=localise_failures)
    shuffled = [t.sample(frac=1.0, random_state=3) for t in tables]
    b = check_group(rs, *shuffled, dups, run_id=1, source="census", localiser=localise_failures)
    assert a.rows and sorted(map(json.dumps, a.rows)) == sorted(map(json.dumps, b.rows)) and a.counts == b.counts


def test_spark_flags_and_counts_equal_the_local_ones(both):
    local, remote = both["local"], both["spark"]
    lf, sf = _flags(both["local_eng"], local.run_id), _flags(both["spark_eng"], remote.run_id)
    scopes = pd.Series([f[2] for f in lf]).value_counts().to_dict()
    assert scopes.get("person", 0) > 0 and scopes.get("household", 0) > 0 and scopes.get("dataset", 0) > 0, scopes
    assert sum(1 for f in lf if f[7]) > 0          # localiser suggestions compared too
    assert sf == lf
    assert remote.rules == local.rules
    assert local.flags == len(lf) and local.persons > 10_000
    assert (remote.persons, remote.households, remote.deaths, remote.flags) == \
        (local.persons, local.households, local.deaths, local.flags)
    assert remote.data_hash == local.data_hash and remote.ruleset_hash == local.ruleset_hash
    a, b = _run_summary(both["local_eng"], local.run_id), _run_summary(both["spark_eng"], remote.run_id)
    a.pop("seconds"), b.pop("seconds")
    assert b == a and b["per_rule"] == local.rules
    assert both["calls"] and both["calls"][-1][0] == both["calls"][-1][1]


def test_spark_parquet_flags_equal_the_stored_ones_and_the_ledger_names_the_lake(both, spark_county):
    remote, lake = both["spark"], spark_county[2]
    pq = _parquet_flags(lake, remote.run_id, both["spark_eng"])
    assert list(pq.columns) == list(FLAG_COLUMNS)
    assert set(pq["run_id"]) == {remote.run_id} and set(pq["status"]) == {"open"} and set(pq["source"]) == {"census"}
    assert _as_tuples(pq) == _flags(both["spark_eng"], remote.run_id)
    s_entry = _check_entry(both["spark_eng"], remote.run_id)
    l_entry = _check_entry(both["local_eng"], both["local"].run_id)
    assert s_entry["inputs"]["lake"] == fingerprint(lake, "census")
    assert s_entry["params"]["engine"] == "spark" and s_entry["params"]["run_id"] == remote.run_id
    assert {k: v for k, v in s_entry["inputs"].items() if k != "lake"} == l_entry["inputs"]
    assert s_entry["result"] == l_entry["result"]


def test_more_groups_give_the_same_flags(both, spark, spark_county):
    """Four EA groups instead of one, and flags left in Parquet only (store_flags=False)."""
    local = both["local"]
    remote = run_check_spark(both["spark_eng"], spark, spark_county[2], both["ruleset"], operator="li.qc",
                             localiser=localise_failures, chunk_persons=3000, store_flags=False)
    assert _flags(both["spark_eng"], remote.run_id) == []
    assert (_as_tuples(_parquet_flags(spark_county[2], remote.run_id, both["spark_eng"]))
            == _flags(both["local_eng"], local.run_id))
    assert remote.rules == local.rules and remote.flags == local.flags


def test_area_check_equals_the_local_one(both, spark, spark_county):
    """One township: the same flags, and ID numbers held twice across the township's border
    still count (the dataset rule looks at the whole source, as locally)."""
    lake = spark_county[2]
    persons = read_table(lake, "census", "persons")
    township = persons["ea_code"].str[:9].value_counts().index[0]
    local = run_check(both["local_eng"], both["ruleset"], operator="li.qc", area=township,
                      localiser=localise_failures)
    remote = run_check_spark(both["spark_eng"], spark, lake, both["ruleset"], operator="li.qc", area=township,
                             localiser=localise_failures)
    lf = _flags(both["local_eng"], local.run_id)
    assert lf and all(f[4].startswith(township) for f in lf)
    assert any(f[2] == "dataset" for f in lf)
    assert local.persons == int(persons["ea_code"].str.startswith(township).sum()) < len(persons)
    assert _flags(both["spark_eng"], remote.run_id) == lf
    assert remote.rules == local.rules
    assert (remote.persons, remote.households, remote.deaths) == (local.persons, local.households, local.deaths)
