"""Loading into the lake with Spark (audit_engine/spark/load.py): the very rows and the very
rejects of the local loader; nothing added by a second load; a county split into two files loads
as one; an interrupted load leaves no half file and loads again from scratch."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import csv_bytes, person_rows
from sqlalchemy import select, text

import audit_engine.spark.load as spark_load
from audit_engine.io.columns import header_names
from audit_engine.io.load import load_file
from audit_engine.io.readers import InputError
from audit_engine.spark.lake import columns, fingerprint, read_table, spark_table, table_path
from audit_engine.spark.load import load_to_lake, quarantine_path
from audit_engine.store import make_engine
from audit_engine.store.migrate import upgrade
from audit_engine.store.models import Death, Household, Person

MODELS = {"persons": Person, "households": Household, "deaths": Death}
KEYS = {"persons": ["person_key"], "households": ["household_key"], "deaths": ["household_key", "line_no"]}
CENSUS = ("census/households.csv", "census/persons.csv", "census/deaths.csv")


def _fresh(folder):
    eng = make_engine(f"sqlite:///{folder / 'store.db'}")
    upgrade(eng)
    return eng


def _value(v):
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return int(v) if isinstance(v, float) else v


def _rows(df: pd.DataFrame, kind: str) -> list[tuple]:
    """Every row as a tuple of plain values, sorted by key: two frames compare exactly."""
    df = df[columns(kind)]
    rows = [tuple(_value(v) for v in r) for r in df.itertuples(index=False)]
    idx = [columns(kind).index(k) for k in KEYS[kind]]
    return sorted(rows, key=lambda r: tuple(str(r[i]) for i in idx))


def _store_rows(engine, kind: str) -> list[tuple]:
    model = MODELS[kind]
    with engine.connect() as conn:
        df = pd.read_sql(select(*[getattr(model, c) for c in columns(kind)]).where(model.source == "census"), conn)
    return _rows(df, kind)


def _quarantine(engine) -> dict[str, list[tuple]]:
    """file name -> (line, field, reason, detail, raw) of its quarantined rows, by line."""
    with engine.connect() as conn:
        q = conn.execute(text("select f.file_name, q.line, q.field, q.reason, q.detail, q.raw from quarantine q "
                              "join load_files f on f.id = q.load_file_id where f.source = 'census' "
                              "order by f.file_name, q.line")).all()
    out: dict[str, list[tuple]] = {}
    for name, *rest in q:
        out.setdefault(name, []).append(tuple(rest))
    return out


def _load_files(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(text("select file_name, sha256, kind, file_format, encoding, status, rows_read, "
                                 "rows_loaded, rows_quarantined from load_files where source = 'census'")).all()
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.fixture(scope="module")
def lake_load(spark, spark_county, tmp_path_factory):
    """The fixture county's census files loaded with Spark into a fresh lake and a fresh store."""
    folder, _, _ = spark_county
    root = tmp_path_factory.mktemp("spark_load")
    eng = _fresh(root)
    summaries = load_to_lake(eng, spark, [folder / rel for rel in CENSUS], "census", root / "lake",
                             operator="test.spark")
    return eng, root / "lake", summaries


def test_lake_load_gives_the_local_loaders_rows_and_rejects(lake_load, spark, spark_county):
    eng, lake, summaries = lake_load
    _, url, fixture_lake = spark_county
    local = make_engine(url)
    for kind in MODELS:
        expected = _store_rows(local, kind)
        assert len(expected) > 100
        assert _rows(read_table(lake, "census", kind), kind) == expected, kind
        assert _rows(read_table(fixture_lake, "census", kind), kind) == expected, kind
        assert spark_table(spark, lake, "census", kind).count() == len(expected)
    # the same load records (hash, counts) and the same rejects, detail for detail
    assert _load_files(eng) == _load_files(local)
    assert _quarantine(eng) == _quarantine(local)
    by_name = {s.file_name: s for s in summaries}
    for name, (_sha, kind, *_rest, read, loaded, quarantined) in _load_files(local).items():
        s = by_name[name]
        assert (s.status, s.kind, s.rows_read, s.rows_loaded, s.rows_quarantined) == ("loaded", kind, read, loaded,
                                                                                      quarantined)
        assert sum(s.by_reason.values()) == quarantined
    # partitioned by province and county, each file's rows named after its load file
    files = list(table_path(lake, "census", "persons").glob("province=*/county=*/lf-*.parquet"))
    assert files and all(f.parent.name[len("county="):].startswith(f.parent.parent.name[len("province="):])
                         for f in files)
    assert not (lake / "_staging" / "census").exists()
    # the lake's quarantine holds what the store's does
    q = pd.concat([pq.read_table(p).to_pandas() for p in quarantine_path(lake, "census").glob("*.parquet")]) \
        if any(quarantine_path(lake, "census").glob("*.parquet")) else pd.DataFrame(columns=spark_load.QUARANTINE_COLUMNS)
    assert list(q.columns) == list(spark_load.QUARANTINE_COLUMNS)
    assert sorted((r.file_name, r.line, r.field, r.reason, r.detail, r.raw) for r in q.itertuples()) == sorted(
        (name, *row) for name, rows in _quarantine(eng).items() for row in rows)
    # one ledger entry per file, as locally, saying the engine and the lake
    with eng.connect() as conn:
        entries = conn.execute(text("select command, params, inputs from ledger order by seq")).all()
    assert [e.command for e in entries] == ["load census"] * 3
    assert all('"engine":"spark"' in e.params and str(lake) in e.params for e in entries)
    local.dispose()


def test_loading_again_adds_nothing(lake_load, spark, spark_county):
    eng, lake, _ = lake_load
    folder, _, _ = spark_county
    before = (fingerprint(lake, "census"), _load_files(eng), _quarantine(eng))
    with eng.connect() as conn:
        ledger = conn.execute(text("select count(*) from ledger")).scalar_one()
    again = load_to_lake(eng, spark, [folder / rel for rel in CENSUS], "census", lake, operator="test.spark")
    assert [s.status for s in again] == ["already loaded"] * 3
    assert all(s.rows_loaded == 0 and s.load_file_id for s in again)
    assert (fingerprint(lake, "census"), _load_files(eng), _quarantine(eng)) == before
    with eng.connect() as conn:
        assert conn.execute(text("select count(*) from ledger")).scalar_one() == ledger


def _bad_files(folder):
    """Two persons files: a wrong code, a bad year-month, an empty key, a key twice in the file
    and a key of the first file again in the second."""
    a = person_rows(10)
    a[1]["sex"] = "7"                       # line 3: unknown_code
    a[2]["birth_ym"] = "1990-13"            # line 4: bad_date
    a[3]["person_id"] = ""                  # line 5: missing_key
    a[6] = dict(a[0])                       # line 8: repeated in this file
    a[7]["age"] = "x"                       # line 9: not_a_number
    a[8] = dict(a[7], age="31")             # line 10: same key as a rejected row: loads
    b = [dict(r, person_id=f"Q{i:04d}", household_id=f"K{i // 3:03d}") for i, r in enumerate(person_rows(6))]
    b[2] = dict(a[4], household_id="K000")  # line 4: already in a.csv
    b[4] = dict(b[1])                       # line 6: repeated in this file
    (folder / "a.csv").write_bytes(csv_bytes(a))
    (folder / "b.csv").write_bytes(csv_bytes(b))
    return [folder / "a.csv", folder / "b.csv"]


def _without_where(rows: list[tuple]) -> list[tuple]:
    """Rejects with the duplicate's 'where' (store or lake) cut off the detail."""
    return [(line, field, reason, detail.split(" key (")[0] if reason == "duplicate_key" else detail, raw)
            for line, field, reason, detail, raw in rows]


def test_bad_rows_are_quarantined_as_the_local_loader_does(spark, tmp_path):
    paths = _bad_files(tmp_path)
    (tmp_path / "local").mkdir()
    (tmp_path / "spark").mkdir()
    local = _fresh(tmp_path / "local")
    for p in paths:
        load_file(local, p, "census", operator="test.local")
    eng = _fresh(tmp_path / "spark")
    summaries = load_to_lake(eng, spark, paths, "census", tmp_path / "lake", operator="test.spark", chunk_rows=4)
    got, want = _quarantine(eng), _quarantine(local)
    assert {n: [r[:3] for r in rows] for n, rows in got.items()} == {
        "a.csv": [(3, "sex", "unknown_code"), (4, "birth_ym", "bad_date"), (5, "person_id", "missing_key"),
                  (8, "person_id", "duplicate_key"), (9, "age", "not_a_number")],
        "b.csv": [(4, "person_id", "duplicate_key"), (6, "person_id", "duplicate_key")]}
    assert {n: _without_where(r) for n, r in got.items()} == {n: _without_where(r) for n, r in want.items()}
    details = [r[3] for rows in got.values() for r in rows if r[2] == "duplicate_key"]
    assert details == ["a.csv, line 8, field person_id: key ('P00000',) repeated in this file",
                       "b.csv, line 4, field person_id: key ('P00004',) already in a.csv of this load",
                       "b.csv, line 6, field person_id: key ('Q0001',) repeated in this file"]
    assert _rows(read_table(tmp_path / "lake", "census", "persons"), "persons") == _store_rows(local, "persons")
    assert [(s.rows_read, s.rows_loaded, s.rows_quarantined) for s in summaries] == [(10, 5, 5), (6, 4, 2)]
    assert summaries[0].by_reason == {"bad_date": 1, "duplicate_key": 1, "missing_key": 1, "not_a_number": 1,
                                      "unknown_code": 1}
    assert [e["line"] for e in summaries[0].examples] == [3, 4, 5, 8, 9]
    # a key already in the lake: every new occurrence is quarantined
    (tmp_path / "c.csv").write_bytes(csv_bytes([dict(person_rows(1)[0], person_id="P00005")] * 2))
    [c] = load_to_lake(eng, spark, [tmp_path / "c.csv"], "census", tmp_path / "lake", operator="test.spark")
    assert (c.rows_read, c.rows_loaded, c.by_reason) == (2, 0, {"duplicate_key": 2})
    assert all(e["detail"].endswith("already in the lake") for e in c.examples)


def test_a_county_split_in_two_files_loads_as_one(spark, spark_county, tmp_path):
    folder, url, _ = spark_county
    text_ = (folder / "census" / "persons.csv").read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text_)))
    ea = header.index("ea_code")
    townships = sorted({r[ea][:9] for r in rows})
    assert len(townships) > 1
    first = set(townships[: len(townships) // 2])
    paths = []
    for name, part in (("persons_a.csv", [r for r in rows if r[ea][:9] in first]),
                       ("persons_b.csv", [r for r in rows if r[ea][:9] not in first])):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *part])
        (tmp_path / name).write_text(buf.getvalue(), encoding="utf-8")
        paths.append(tmp_path / name)
    eng = _fresh(tmp_path)
    summaries = load_to_lake(eng, spark, paths, "census", tmp_path / "lake", operator="test.spark", kind="persons")
    local = make_engine(url)
    assert _rows(read_table(tmp_path / "lake", "census", "persons"), "persons") == _store_rows(local, "persons")
    assert sum(s.rows_loaded for s in summaries) == _load_files(local)["persons.csv"][-2]
    names = {p.name.split("-")[1] for p in table_path(tmp_path / "lake", "census", "persons").glob("*/*/*.parquet")}
    assert names == {str(s.load_file_id) for s in summaries}
    local.dispose()


def test_an_interrupted_load_leaves_no_half_file_and_loads_again(spark, tmp_path, monkeypatch):
    paths = _bad_files(tmp_path)
    (tmp_path / "local").mkdir()
    eng = _fresh(tmp_path)
    lake = tmp_path / "lake"
    real = spark_load._move_rows

    def crash(*args, **kwargs):
        real(*args, **kwargs)           # the rows reached the lake, the store never said so
        raise RuntimeError("power cut")

    monkeypatch.setattr(spark_load, "_move_rows", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        load_to_lake(eng, spark, paths, "census", lake, operator="test.spark")
    with eng.connect() as conn:
        assert {r[0] for r in conn.execute(text("select status from load_files"))} == {"loading"}
        assert conn.execute(text("select count(*) from quarantine")).scalar_one() == 0
        assert conn.execute(text("select count(*) from ledger")).scalar_one() == 0
        assert conn.execute(text("select status from runs")).scalar_one() == "failed"
    monkeypatch.setattr(spark_load, "_move_rows", real)
    monkeypatch.setattr(spark_load, "BROADCAST_KEYS", 0)     # and the rows shuffled by key this time
    summaries = load_to_lake(eng, spark, paths, "census", lake, operator="test.spark")
    assert [(s.status, s.rows_loaded, s.rows_quarantined) for s in summaries] == [("loaded", 5, 5), ("loaded", 4, 2)]
    local = _fresh(tmp_path / "local")
    for p in paths:
        load_file(local, p, "census", operator="test.local")
    assert _rows(read_table(lake, "census", "persons"), "persons") == _store_rows(local, "persons")
    assert {n: [r[:3] for r in rows] for n, rows in _quarantine(eng).items()} == {
        n: [r[:3] for r in rows] for n, rows in _quarantine(local).items()}
    assert len(list(quarantine_path(lake, "census").glob("*.parquet"))) == 2


def test_a_file_that_cannot_load_stops_the_load_before_anything_is_written(spark, tmp_path):
    paths = _bad_files(tmp_path)
    bad = tmp_path / "nohdr.csv"
    bad.write_text(",".join(h for h in header_names("persons") if h != "sex") + "\n", encoding="utf-8")
    eng = _fresh(tmp_path)
    with pytest.raises(InputError) as on_spark:
        load_to_lake(eng, spark, [*paths, bad], "census", tmp_path / "lake", operator="test.spark", kind="persons")
    with pytest.raises(InputError) as on_local:
        load_file(eng, bad, "census", operator="test.local", kind="persons")
    assert str(on_spark.value) == str(on_local.value) and "missing required column" in str(on_local.value)
    assert _load_files(eng) == {} and not (tmp_path / "lake").exists()
