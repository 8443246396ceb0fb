"""Engines from URLs: SQLite embedded by default, PostgreSQL in production."""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, event

DEFAULT_URL = "sqlite:///census_audit.db"
ENV_VAR = "CENSUS_AUDIT_DB"


def resolve_url(db: str | None = None) -> str:
    """``--db`` wins, then ``CENSUS_AUDIT_DB``, then ``sqlite:///census_audit.db`` here."""
    return db or os.environ.get(ENV_VAR) or DEFAULT_URL


def make_engine(url: str) -> Engine:
    """An engine with settings suited to bulk loads and concurrent readers.

    SQLite gets WAL (readers do not block the loader), NORMAL sync (durable at checkpoints,
    safe against application crashes), foreign keys on, a fixed 256 MiB page cache and a busy timeout so two processes
    wait for each other rather than fail. ``postgresql://`` URLs use psycopg 3.
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-262144")   # 256 MiB page cache: index upkeep on bulk loads
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
