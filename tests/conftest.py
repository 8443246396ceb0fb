"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``CENSUS_AUDIT_TEST_PG`` (set by .ci/run: then an unreachable server
fails the run). Without it we try the local default and skip with a clear message if there is
no server, so a newcomer's machine still runs the rest of the suite.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from audit_engine.store import make_engine
from audit_engine.store.migrate import upgrade

PG_ENV = "CENSUS_AUDIT_TEST_PG"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
_pg_state: dict[str, object] = {}


def _pg_base() -> str:
    """The PostgreSQL URL to test against, or skip/fail as explained above."""
    if "url" in _pg_state:
        return _pg_state["url"]  # type: ignore[return-value]
    if "skip" in _pg_state:
        pytest.skip(str(_pg_state["skip"]))
    url = os.environ.get(PG_ENV) or DEFAULT_PG
    try:
        eng = make_engine(url)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to connect
        msg = f"PostgreSQL not reachable at {url} ({type(exc).__name__})"
        if os.environ.get(PG_ENV):
            pytest.fail(f"{msg}, but {PG_ENV} is set: the PostgreSQL tests must run")
        _pg_state["skip"] = f"{msg}; set {PG_ENV} to a server URL to run the PostgreSQL tests"
        pytest.skip(str(_pg_state["skip"]))
    _pg_state["url"] = url
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path: Path):
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = _pg_base()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def engine(db_url):
    """An initialised store on each backend."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def county30k(tmp_path_factory) -> Path:
    """A 30,000-person synthetic county (seed 8), generated once for the sampler tests."""
    from audit_engine.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("county30k")
    generate(SynthConfig(persons=30_000, seed=8), out)
    return out


@pytest.fixture(scope="session")
def frame30k(county30k):
    """Its enumeration-area frame (areas.csv, all columns as text)."""
    import pandas as pd

    return pd.read_csv(county30k / "areas.csv", dtype=str)


@pytest.fixture(scope="session")
def pipeline_store(tmp_path_factory) -> tuple[Path, str]:
    """A store through the whole pipeline (demo: 4,000 persons, seed 5: loads, check, sample,
    link duplicates, link pes, estimate, operators; no QC decisions, no reports), built once:
    (demo folder, SQLite URL).
    Tests that issue reports from it add ledger entries; none may change its figures."""
    from click.testing import CliRunner

    from audit_engine.cli.main import cli

    out = tmp_path_factory.mktemp("pipeline") / "demo"
    r = CliRunner().invoke(cli, ["demo", "--persons", "4000", "--seed", "5", "--out", str(out), "--no-review",
                                 "--no-reports", "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    url = f"sqlite:///{out / 'census_audit.db'}"
    # Fold the write-ahead log into the file, so a test may copy census_audit.db alone.
    eng = make_engine(url)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return out, url


# ------------------------------------------------------------------------------------------ Spark
SPARK_ENV = "CENSUS_AUDIT_REQUIRE_SPARK"


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (``local[2]``) for every Spark test of the run.

    Without PySpark or Java the Spark tests skip with the reason; ``.ci/run`` sets
    ``CENSUS_AUDIT_REQUIRE_SPARK=1`` and then they fail instead."""
    from audit_engine.spark.session import SparkUnavailable, spark_session, stop

    try:
        session = spark_session("local[2]")
    except SparkUnavailable as exc:
        if os.environ.get(SPARK_ENV):
            pytest.fail(f"{exc}, but {SPARK_ENV} is set: the Spark tests must run")
        pytest.skip(f"{exc}; the Spark backend tests are skipped")
    yield session
    stop()


@pytest.fixture(scope="session")
def spark_county(tmp_path_factory):
    """A 12,000-person synthetic county (seed 21) loaded the local way into a SQLite store and
    copied from the store into a lake: the two backends' inputs hold the very same rows.
    Returns (county folder, SQLite URL, lake folder). Tests that write to the store copy it
    (:func:`helpers.copy_county_store`)."""
    from helpers import CENSUS_FILES, load_county

    from audit_engine.spark.lake import export_store
    from audit_engine.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("spark_county")
    folder = root / "county"
    generate(SynthConfig(persons=12_000, seed=21), folder)
    url = f"sqlite:///{root / 'store.db'}"
    eng = make_engine(url)
    upgrade(eng)
    load_county(eng, folder, CENSUS_FILES)
    export_store(eng, root / "lake", "census")
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return folder, url, root / "lake"
