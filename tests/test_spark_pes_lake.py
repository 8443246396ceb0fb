"""``link pes`` and ``estimate`` with the census in the lake instead of the store.

A national census is not loaded into the SQL store: its persons, households and deaths are
Parquet in the lake, and the PES steps read what they need from there (pyarrow, no Spark).
One synthetic county is run twice from the same loaded store — (a) census in the store,
(b) a copy of the store with the census rows deleted and the census exported to a lake — and
every stored result must be identical: pairs, sample statuses, review items, estimates.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from helpers import COUNTY_FILES, load_county
from sqlalchemy import delete, func, select

from audit_engine.ledger import verify
from audit_engine.pes.census_counts import from_lake, from_store
from audit_engine.pes.duplicates import run_link_duplicates
from audit_engine.pes.estimating import run_estimate
from audit_engine.pes.linking import run_link_pes
from audit_engine.pes.persons import AREA_PREFIX, read_deaths, read_persons
from audit_engine.spark.lake import export_store, fingerprint
from audit_engine.store import make_engine
from audit_engine.store.migrate import upgrade
from audit_engine.store.models import (
    CoverageEstimate,
    Death,
    Household,
    LedgerEntry,
    LinkPair,
    Person,
    ReviewItem,
    SampleStatus,
)
from sampling.design import load_design
from sampling.draw import draw
from sampling.store import read_frame, save_sample

CENSUS_TABLES = (Person, Household, Death)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """(store with the census, store without it, lake with it): the same county, sample and
    ``link duplicates`` run in both stores (done before the census rows were deleted)."""
    from audit_engine.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("pes_lake")
    generate(SynthConfig(persons=6_000, seed=23), root / "county")
    full = make_engine(f"sqlite:///{root / 'full.db'}")
    upgrade(full)
    load_county(full, root / "county", COUNTY_FILES)
    design = load_design()
    save_sample(full, design, 7, draw(design, read_frame(full, design), 7), "test.sup")
    run_link_duplicates(full, "test.sup")
    export_store(full, root / "lake", "census")
    with full.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(root / "full.db", root / "nocensus.db")
    bare = make_engine(f"sqlite:///{root / 'nocensus.db'}")
    with bare.begin() as conn:
        for model in CENSUS_TABLES:
            conn.execute(delete(model).where(model.source == "census"))
    yield full, bare, root / "lake"
    full.dispose()
    bare.dispose()


def _count(engine, model, source: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(model.source == source)).scalar()


def _rows(engine, model, run_id: int, drop: tuple[str, ...] = ("id", "run_id")) -> pd.DataFrame:
    with engine.connect() as conn:
        df = pd.read_sql(select(model.__table__).where(model.run_id == run_id), conn)
    return df.drop(columns=[c for c in drop if c in df]).sort_values(
        [c for c in df.columns if c not in drop and c not in ("created_at", "decided_at")]).reset_index(drop=True)


def test_the_lake_holds_what_the_store_no_longer_does(stores):
    full, bare, lake = stores
    for model in CENSUS_TABLES:
        assert _count(bare, model, "census") == 0 < _count(full, model, "census")
        assert _count(bare, model, "pes") == _count(full, model, "pes")
    with full.connect() as conn:
        eas = sorted(r[0] for r in conn.execute(select(Person.ea_code).where(Person.source == "census").distinct()))
    sample_eas, townships = eas[::7], {ea[:AREA_PREFIX["township"]] for ea in eas[::7]}
    # the frames the PES steps read are the store's, value for value and dtype for dtype
    for kw in ({"eas": sample_eas}, {"prefixes": townships}, {}):
        want = read_persons(full, "census", **kw)
        got = read_persons(bare, "census", lake=lake, **kw)
        assert len(want) > 0
        pd.testing.assert_frame_equal(got, want)
    want_d = read_deaths(full, "census", eas=eas[:40])
    assert len(want_d) > 0
    pd.testing.assert_frame_equal(read_deaths(bare, "census", eas=eas[:40], lake=lake), want_d)
    pd.testing.assert_frame_equal(read_deaths(bare, "census", lake=lake), read_deaths(full, "census"))


def test_census_counts_from_the_lake_equal_the_stores(stores):
    full, _, lake = stores
    with full.connect() as conn:
        persons = pd.read_sql(select(Person.ea_code, Person.sex, Person.age).where(Person.source == "census"), conn)
    eas = sorted(persons["ea_code"].unique())
    # a hand-made frame: two strata alternating by EA, every third EA urban, the last EA unknown
    stratum_of = pd.Series([f"S{i % 2}" for i in range(len(eas) - 1)], index=eas[:-1])
    urban = pd.Series([i % 3 == 0 for i in range(len(eas) - 1)], index=eas[:-1])
    got, want = from_lake(lake, stratum_of, urban), from_store(full, stratum_of, urban)
    pd.testing.assert_frame_equal(got.cells, want.cells)
    assert got.outside_frame == want.outside_frame == (persons["ea_code"] == eas[-1]).sum() > 0
    assert got.persons == len(persons)
    # by hand: every person counted once in its EA's cell
    known = persons[persons["ea_code"] != eas[-1]]
    hand = known.assign(stratum=known["ea_code"].map(stratum_of), urban=known["ea_code"].map(urban)) \
        .groupby(["stratum", "urban", "sex", "age"], dropna=False).size()
    cells = got.cells.set_index(["stratum", "urban", "sex", "age"])["n"]
    assert cells.sum() == hand.sum() and len(cells) == len(hand)
    assert (cells.groupby(level="stratum").sum() == hand.groupby(level="stratum").sum()).all()


def test_link_pes_and_estimate_are_the_same_from_the_lake(stores):
    full, bare, lake = stores
    a = run_link_pes(full, "test.sup")
    b = run_link_pes(bare, "test.sup", lake=lake)
    skip = ("run_id", "seconds")
    assert {k: v for k, v in b.to_dict().items() if k not in skip} == \
        {k: v for k, v in a.to_dict().items() if k not in skip}
    assert a.matches > 0 and a.review_items > 0 and a.census_search_area > a.pes_persons > 0
    assert a.duplicates_run == b.duplicates_run is not None
    for model in (LinkPair, SampleStatus):
        pd.testing.assert_frame_equal(_rows(bare, model, b.run_id), _rows(full, model, a.run_id))
    items_a = _rows(full, ReviewItem, a.run_id)
    pd.testing.assert_frame_equal(_rows(bare, ReviewItem, b.run_id), items_a)
    assert (items_a["kind"] == "pair").sum() == a.possible and (items_a["kind"] == "followup").sum() > 0
    # the ledger says where the census came from
    with bare.connect() as conn:
        entry = conn.execute(select(LedgerEntry.params, LedgerEntry.inputs)
                             .where(LedgerEntry.command == "link pes").order_by(LedgerEntry.seq.desc())).first()
    assert json.loads(entry.params)["census_source"] == "lake"
    assert json.loads(entry.inputs)["census_lake"] == fingerprint(lake, "census")

    ea = run_estimate(full, "test.sup", link_run=a.run_id)
    eb = run_estimate(bare, "test.sup", link_run=b.run_id, lake=lake)
    assert eb.overall == ea.overall and eb.post_strata == ea.post_strata and eb.imputed == ea.imputed
    fa, fb = _rows(full, CoverageEstimate, ea.run_id), _rows(bare, CoverageEstimate, eb.run_id)
    assert len(fa) == ea.rows > 10
    pd.testing.assert_frame_equal(fb, fa, check_exact=True)
    assert verify(bare).ok
    n = fa.loc[(fa["level"] == "overall") & (fa["statistic"] == "N"), "value"].item()
    assert 5_000 < n < 8_000


def test_without_the_census_nothing_is_silently_counted_as_zero(stores, tmp_path):
    full, bare, lake = stores
    with pytest.raises(ValueError, match="no census persons are loaded"):
        run_link_pes(bare, "test.sup")
    with pytest.raises(ValueError, match="no census persons in the lake"):
        run_link_pes(bare, "test.sup", lake=tmp_path / "empty")
    lake_run = run_link_pes(bare, "test.sup", lake=lake).run_id
    with pytest.raises(ValueError, match="read the census from a lake"):
        run_estimate(bare, "test.sup", link_run=lake_run)
    with pytest.raises(ValueError, match="no census persons in the lake"):
        run_estimate(bare, "test.sup", link_run=lake_run, lake=tmp_path / "empty")


def test_only_the_sample_counties_are_opened(stores, tmp_path):
    """A census person read for ``link pes`` comes from its own county's files only: an
    unreadable file in another county's partition is never opened (and is, by a full read)."""
    full, bare, lake = stores
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    other = copy / "census" / "persons" / "province=99" / "county=999999"
    other.mkdir(parents=True)
    (other / "part-0.parquet").write_bytes(b"not parquet")
    with full.connect() as conn:
        eas = sorted(r[0] for r in conn.execute(select(Person.ea_code).where(Person.source == "census").distinct()))
    townships = {ea[:AREA_PREFIX["township"]] for ea in eas[:3]}
    pd.testing.assert_frame_equal(read_persons(bare, "census", prefixes=townships, lake=copy),
                                  read_persons(full, "census", prefixes=townships))
    with pytest.raises(Exception, match="(?i)parquet|magic"):
        read_persons(bare, "census", lake=copy)
