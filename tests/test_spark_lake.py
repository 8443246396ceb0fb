"""The lake (audit_engine/spark/lake.py): the store's rows, partitioned by province and county,
read back unchanged; county pruning; the fingerprint changes when a file does."""

from __future__ import annotations

import pandas as pd

from audit_engine.spark.lake import columns, fingerprint, read_table, table_path, write_table
from audit_engine.store import make_engine
from audit_engine.store.models import Household, Person


def _store(url: str, model, kind: str) -> pd.DataFrame:
    from sqlalchemy import select

    eng = make_engine(url)
    with eng.connect() as conn:
        df = pd.read_sql(select(*[getattr(model, c) for c in columns(kind)]).where(model.source == "census"), conn)
    eng.dispose()
    return df


def _value(v):
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return int(v) if isinstance(v, float) else v


def _norm(df: pd.DataFrame, key: str) -> pd.DataFrame:
    return df.sort_values(key, ignore_index=True)


def test_lake_holds_the_stores_rows_unchanged(spark_county):
    _, url, lake = spark_county
    for model, kind, key in ((Person, "persons", "person_key"), (Household, "households", "household_key")):
        store = _norm(_store(url, model, kind), key)
        back = _norm(read_table(lake, "census", kind), key)
        assert len(store) > 1000
        assert list(back.columns) == list(store.columns)
        for c in store.columns:
            assert [_value(v) for v in store[c]] == [_value(v) for v in back[c]], c
    parts = sorted(p.name for p in table_path(lake, "census", "persons").iterdir())
    assert parts and all(p.startswith("province=") for p in parts)
    counties = list(table_path(lake, "census", "persons").glob("province=*/county=*"))
    assert counties and all(c.name[len("county="):].startswith(c.parent.name[len("province="):]) for c in counties)


def test_read_by_prefix_prunes_to_the_eas_asked_for(spark_county):
    _, _, lake = spark_county
    persons = read_table(lake, "census", "persons")
    township = persons["ea_code"].iat[0][:9]
    part = read_table(lake, "census", "persons", prefixes=[township])
    assert len(part) == int(persons["ea_code"].str.startswith(township).sum()) > 0
    assert read_table(lake, "census", "persons", prefixes=["99"]).empty


def test_fingerprint_changes_with_the_data(tmp_path):
    frame = pd.DataFrame({"person_key": ["A", "B"], "household_key": ["H", "H"], "ea_code": ["320831100001001"] * 2,
                          "birth_year": [1990, None], "name": ["甲", None]})
    write_table(frame, tmp_path, "census", "persons")
    first = fingerprint(tmp_path, "census")
    assert first == fingerprint(tmp_path, "census")
    write_table(frame.assign(birth_year=[1991, None]), tmp_path, "census", "persons", overwrite=True)
    assert fingerprint(tmp_path, "census") != first
    back = read_table(tmp_path, "census", "persons")
    assert back["birth_year"].tolist()[0] == 1991 and pd.isna(back["birth_year"].tolist()[1])
    assert back["name"].tolist()[1] is None
