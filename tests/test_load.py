"""Loaders: validation, quarantine, idempotence, resumption, formats and encodings."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import PERSON, csv_bytes, person_rows
from sqlalchemy import text

import audit_engine.io.load as load_mod
from audit_engine.io.columns import header_names
from audit_engine.io.load import load_file
from audit_engine.io.readers import InputError


def _persons(engine):
    with engine.connect() as c:
        return pd.read_sql(text("select * from persons order by person_key"), c)


def _quarantine(engine):
    with engine.connect() as c:
        return pd.read_sql(text("select line, field, reason, detail, raw from quarantine order by line"), c)


def mixed_file(tmp_path):
    """A UTF-8 file with one row of each kind of damage, and good rows around them."""
    good = person_rows(6)
    lines = [",".join(header_names("persons"))]
    lines += [",".join(r[h] for h in header_names("persons")) for r in good[:3]]          # lines 2-4 good
    bad_age = dict(good[3], person_id="B1", age="3O")                                       # line 5
    unknown = dict(good[3], person_id="B2", sex="7")                                        # line 6
    bad_date = dict(good[3], person_id="B3", birth_ym="1990-13")                            # line 7
    no_key = dict(good[3], person_id="")                                                    # line 8
    dup_key = dict(good[0])                                                                 # line 9
    for r in (bad_age, unknown, bad_date, no_key, dup_key):
        lines.append(",".join(r[h] for h in header_names("persons")))
    lines.append("P9,H9,320831100001001,1")                                                 # line 10 short
    data = ("\n".join(lines) + "\n").encode("utf-8")
    gbk_row = dict(good[4], name="李娜")                                                    # line 11 GBK bytes
    data += (",".join(gbk_row[h] for h in header_names("persons")) + "\n").encode("gbk")
    data += (",".join(good[5][h] for h in header_names("persons")) + "\n").encode("utf-8")  # line 12 good
    p = tmp_path / "mixed.csv"
    p.write_bytes(data)
    return p


def test_mixed_bad_rows_are_quarantined_with_reasons(engine, tmp_path):
    path = mixed_file(tmp_path)
    s = load_file(engine, path, "census", operator="qc1", chunk_rows=4)
    assert s.encoding == "utf-8"
    assert (s.rows_read, s.rows_loaded, s.rows_quarantined) == (11, 4, 7)
    q = _quarantine(engine)
    got = {(int(r.line), r.field, r.reason) for r in q.itertuples()}
    assert got == {
        (5, "age", "not_a_number"), (6, "sex", "unknown_code"), (7, "birth_ym", "bad_date"),
        (8, "person_id", "missing_key"), (9, "person_id", "duplicate_key"), (10, None, "column_count"),
        (11, None, "undecodable"),
    }
    assert all("mixed.csv, line" in d for d in q.detail)
    # nothing lost: the GBK row's bytes are kept and recoverable
    raw = q[q.reason == "undecodable"].raw.iloc[0]
    assert raw.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode("gbk").count("李娜") == 1
    assert list(_persons(engine).person_key) == ["P00000", "P00001", "P00002", "P00005"]


def test_reloading_the_same_file_adds_nothing(engine, tmp_path):
    path = mixed_file(tmp_path)
    load_file(engine, path, "census", operator="qc1")
    before = (len(_persons(engine)), len(_quarantine(engine)))
    again = load_file(engine, path, "census", operator="qc1")
    assert again.status == "already loaded" and again.rows_loaded == 0
    assert (len(_persons(engine)), len(_quarantine(engine))) == before
    with engine.connect() as c:
        assert c.execute(text("select count(*) from ledger")).scalar_one() == 1


def test_same_records_in_another_file_are_duplicate_keys(engine, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(csv_bytes(person_rows(5)))
    b.write_bytes(csv_bytes(person_rows(5)) + b"\n")  # same rows, different bytes
    load_file(engine, a, "census", operator="qc1")
    s = load_file(engine, b, "census", operator="qc1")
    assert s.rows_loaded == 0 and s.by_reason == {"duplicate_key": 5}
    # the same keys are fine in the other source
    assert load_file(engine, b, "pes", operator="qc1").rows_loaded == 5


def test_gbk_file_and_chinese_headers(engine, tmp_path):
    from audit_engine.io.columns import PERSONS

    rows = person_rows(4, name="欧阳娜")
    header = [c.zh for c in PERSONS]
    p = tmp_path / "gbk.csv"
    p.write_bytes(csv_bytes(rows, encoding="gbk", header=header))
    s = load_file(engine, p, "census", operator="qc1")
    assert s.encoding == "gb18030" and s.kind == "persons" and s.rows_loaded == 4
    assert set(_persons(engine).name) == {"欧阳娜"}


def test_codes_lose_no_leading_zero_and_dates_parse(engine, tmp_path):
    rows = [dict(PERSON, person_id="A", ethnicity="1", birth_ym="199001"),
            dict(PERSON, person_id="B", ethnicity="03", birth_ym="1990年1月"),
            dict(PERSON, person_id="C", ethnicity="03", birth_ym="1990/01/15"),
            dict(PERSON, person_id="D", industry="c", birth_ym="")]
    p = tmp_path / "codes.csv"
    p.write_bytes(csv_bytes(rows))
    s = load_file(engine, p, "census", operator="qc1")
    assert s.rows_loaded == 4, s.examples
    df = _persons(engine).set_index("person_key")
    assert df.loc["A", "ethnicity"] == "01" and df.loc["D", "industry"] == "C"
    assert list(df.loc[["A", "B", "C"], "birth_year"]) == [1990] * 3
    assert list(df.loc[["A", "B", "C"], "birth_month"]) == [1] * 3
    assert pd.isna(df.loc["D", "birth_year"])


def test_missing_required_column_is_a_clear_error(engine, tmp_path):
    p = tmp_path / "nohdr.csv"
    header = [h for h in header_names("persons") if h != "sex"]
    p.write_text(",".join(header) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"nohdr.csv, line 1 \(header\).*sex"):
        load_file(engine, p, "census", operator="qc1", kind="persons")


def test_crash_mid_load_leaves_store_consistent_and_resumes(engine, tmp_path, monkeypatch):
    rows = person_rows(50)
    rows[7]["sex"] = "9"        # a quarantined row in the first chunk
    rows[33]["age"] = "x"       # and one in a later chunk
    p = tmp_path / "big.csv"
    p.write_bytes(csv_bytes(rows))
    real = load_mod._load_chunk
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(load_mod, "_load_chunk", crashing)
    with pytest.raises(RuntimeError, match="power cut"):
        load_file(engine, p, "census", operator="qc1", chunk_rows=10)
    assert len(_persons(engine)) == 19 and len(_quarantine(engine)) == 1   # two whole chunks
    with engine.connect() as c:
        assert c.execute(text("select status from load_files")).scalar_one() == "loading"
        assert c.execute(text("select count(*) from ledger")).scalar_one() == 0
    monkeypatch.setattr(load_mod, "_load_chunk", real)
    s = load_file(engine, p, "census", operator="qc1", chunk_rows=10)
    assert s.status == "resumed" and (s.rows_read, s.rows_loaded, s.rows_quarantined) == (50, 48, 2)
    assert sorted(_persons(engine).person_key) == sorted(r["person_id"] for i, r in enumerate(rows) if i not in (7, 33))
    assert sorted(_quarantine(engine).line) == [9, 35]


def test_xlsx_and_parquet_load_like_csv(engine, tmp_path):
    rows = person_rows(12)
    rows[4]["sex"] = "5"
    df = pd.DataFrame(rows)[header_names("persons")]
    xlsx = tmp_path / "p.xlsx"
    typed = df.copy()
    typed["age"] = typed["age"].astype(int)          # numbers as numbers, as Excel holds them
    typed["ethnicity"] = typed["ethnicity"].astype(int)  # leading zero lost by Excel
    typed.to_excel(xlsx, index=False)
    s = load_file(engine, xlsx, "census", operator="qc1", chunk_rows=5)
    assert (s.rows_loaded, s.by_reason) == (11, {"unknown_code": 1})
    assert _quarantine(engine).line.tolist() == [6]   # sheet row of the 5th data row
    pq = tmp_path / "p.parquet"
    df.to_parquet(pq, index=False)
    s = load_file(engine, pq, "pes", operator="qc1", chunk_rows=5)
    assert (s.rows_loaded, s.by_reason) == (11, {"unknown_code": 1})
    got = _persons(engine)
    a = got[got.source == "census"].drop(columns=["id", "source", "load_file_id"]).reset_index(drop=True)
    b = got[got.source == "pes"].drop(columns=["id", "source", "load_file_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert set(a.ethnicity) == {"01"}


def test_enumerators_and_areas(engine, tmp_path):
    areas = tmp_path / "areas.csv"
    areas.write_text("ea_code,county_code,township_code,urban_rural,households_listed,persons_listed\n"
                     "320831100001001,320831,320831100,111,95,260\n320831100001002,320831,320831100,999,90,250\n",
                     encoding="utf-8")
    s = load_file(engine, areas, "reference", operator="qc1")
    assert s.kind == "areas" and s.rows_loaded == 1 and s.by_reason == {"unknown_code": 1}
    en = tmp_path / "enum.csv"
    en.write_text("enumerator_id,supervisor_id,ea_codes\nE01,S1,320831100001001;320831100001002\nE02,S1,\n",
                  encoding="utf-8")
    assert load_file(engine, en, "reference", operator="qc1").rows_loaded == 2
    with engine.connect() as c:
        pairs = c.execute(text("select enumerator_id, ea_code from enumerator_areas order by 2")).all()
    assert [tuple(p) for p in pairs] == [("E01", "320831100001001"), ("E01", "320831100001002")]


def test_no_personal_data_in_details_or_ledger(engine, tmp_path):
    rows = person_rows(3)
    rows[1]["name"] = "诸葛" + "明" * 70            # too long: the detail must not show it
    p = tmp_path / "pii.csv"
    p.write_bytes(csv_bytes(rows))
    load_file(engine, p, "census", operator="qc1")
    q = _quarantine(engine)
    assert q.reason.tolist() == ["too_long"] and "明明" not in q.detail.iloc[0] and "诸" in q.detail.iloc[0]
    with engine.connect() as c:
        entry = c.execute(text("select params, inputs, result from ledger")).one()
    blob = json.dumps(list(entry), ensure_ascii=False)
    assert PERSON["id_number"] not in blob and "张伟" not in blob


def test_two_process_path_loads_exactly_like_one_process(engine, tmp_path, db_url):
    from audit_engine.store import make_engine
    from audit_engine.store.migrate import upgrade

    rows = person_rows(300)
    rows[10]["sex"] = "8"
    rows[250]["birth_ym"] = "2090-01"
    p = tmp_path / "par.csv"
    p.write_bytes(csv_bytes(rows))
    a = load_file(engine, p, "census", operator="qc1", chunk_rows=40, parallel_min_bytes=0)   # reader process
    other = make_engine(f"sqlite:///{tmp_path / 'serial.db'}")
    upgrade(other)
    b = load_file(other, p, "census", operator="qc1", chunk_rows=40)                          # in process
    assert (a.rows_loaded, a.by_reason) == (b.rows_loaded, b.by_reason) == (298, {"bad_date": 1, "unknown_code": 1})
    cols = ["person_key", "name", "sex", "birth_year", "age", "ethnicity"]
    pd.testing.assert_frame_equal(_persons(engine)[cols], _persons(other)[cols])
    pd.testing.assert_frame_equal(_quarantine(engine), _quarantine(other))


def test_reader_process_errors_reach_the_caller(engine, tmp_path):
    p = tmp_path / "gone.csv"
    p.write_bytes(csv_bytes(person_rows(50)))
    import audit_engine.io.load as lm
    with pytest.raises(TypeError):   # a failure inside the reader process is re-raised here
        list(lm.prefetch_in_process(lm.read_and_validate, (str(p), "csv", "utf-8", 10, 0, 1, "persons", None, "gone.csv")))


def test_register_and_listing_load_with_quarantine(engine, tmp_path):
    """A household-registration extract and the pre-enumeration listing load like census files:
    checked row by row, bad rows quarantined with file, line and field, masked."""
    reg = tmp_path / "hukou.csv"
    reg.write_text("户籍人员编号,公民身份号码,姓名,性别,出生年月,户籍地址代码,户号,户籍状态,状态变更年月\n"
                   "R1,320831198503120011,张三丰,1,1985-03-12,320831001001,H1,1,\n"
                   "R2,320831198503120029,李四光,7,1985-03,320831001001,H1,1,\n"
                   "R3,,王五,2,1990-01,32083100100,H2,3,2020-05\n"
                   "R4,,赵六,2,1990-01,320831001,H2,3,2020-05\n", encoding="utf-8")
    s = load_file(engine, reg, "register", operator="t")
    assert (s.kind, s.rows_loaded, s.rows_quarantined) == ("register", 2, 2)
    with engine.connect() as c:
        rows = c.execute(text("select register_key, birth_year, birth_month, address_code, status, status_year "
                              "from register_persons order by register_key")).all()
    assert [tuple(r) for r in rows] == [("R1", 1985, 3, "320831001001", "1", None), ("R4", 1990, 1, "320831001", "3", 2020)]
    q = _quarantine(engine)
    assert list(q.field) == ["sex", "address_code"] and "hukou.csv, line 3, field sex" in q.detail[0]
    assert "李四光" not in " ".join(q.detail)
    lst = tmp_path / "listing.csv"
    lst.write_text("listing_id,ea_code,persons_listed,enumerator_id\nL1,320831001001001,3,E1\nL2,320831001001001,x,E1\n",
                   encoding="utf-8")
    s = load_file(engine, lst, "reference", operator="t")
    assert (s.kind, s.rows_loaded, s.rows_quarantined) == ("listing", 1, 1)
    with pytest.raises(InputError, match="cannot be loaded as census data"):
        load_file(engine, lst, "census", operator="t")
    with pytest.raises(InputError, match="cannot be loaded as register data"):
        load_file(engine, tmp_path / "listing.csv", "register", operator="t")
