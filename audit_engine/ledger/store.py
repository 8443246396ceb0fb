"""Appending to and reading the ledger table."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError

from audit_engine import __version__
from audit_engine.ledger.chain import GENESIS, canonical_json, entry_body, entry_hash
from audit_engine.store.models import LedgerEntry


@cache
def code_version() -> str:
    """Package version, plus the git commit when running from a checkout (traceability)."""
    version = f"census-audit {__version__}"
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
        if out.returncode == 0 and out.stdout.strip():
            version += f"+g{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def append(engine: Engine, *, operator: str, command: str, params: dict[str, Any] | None = None,
           inputs: dict[str, str] | None = None, result: dict[str, Any] | None = None,
           retries: int = 20) -> LedgerEntry:
    """Append one entry at the head of the chain.

    Two writers racing for the same head both try to insert the same ``seq`` and
    ``prev_hash``; the unique constraints let exactly one win, the other re-reads the head and
    tries again, so the chain never forks.
    """
    params, inputs, result = params or {}, inputs or {}, result or {}
    # Round-trip through canonical JSON so what is hashed is exactly what is stored.
    params, inputs, result = (json.loads(canonical_json(x)) for x in (params, inputs, result))
    for attempt in range(retries):
        try:
            with engine.begin() as conn:
                last = conn.execute(select(LedgerEntry.seq, LedgerEntry.hash)
                                    .order_by(LedgerEntry.seq.desc()).limit(1)).first()
                seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
                ts = datetime.now(UTC).isoformat(timespec="microseconds")
                body = entry_body(seq, ts, operator, command, params, inputs, code_version(), result)
                values = dict(seq=seq, ts=ts, operator=operator, command=command, params=canonical_json(params),
                              inputs=canonical_json(inputs), code_version=body["code_version"],
                              result=canonical_json(result), prev_hash=prev, hash=entry_hash(prev, body))
                conn.execute(LedgerEntry.__table__.insert().values(**values))
            return LedgerEntry(**values)
        except (IntegrityError, OperationalError):
            # Another writer took this head (unique seq / prev_hash), or SQLite's snapshot went
            # stale under us: re-read the head and try again.
            time.sleep(min(0.5, 0.01 * (attempt + 1)))
    raise RuntimeError("could not append to the ledger: too much contention")


def head(engine: Engine) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, GENESIS) for an empty ledger. Publish it to anchor
    the chain: deleting the newest entries is only detectable against an anchored head."""
    with engine.connect() as conn:
        last = conn.execute(select(LedgerEntry.seq, LedgerEntry.hash).order_by(LedgerEntry.seq.desc()).limit(1)).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def history(engine: Engine, *, limit: int = 50, command: str | None = None) -> list[dict[str, Any]]:
    """The newest entries, newest first, as plain dicts."""
    stmt = select(LedgerEntry.__table__).order_by(LedgerEntry.seq.desc()).limit(limit)
    if command:
        stmt = stmt.where(LedgerEntry.command == command)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        {**dict(r), "params": json.loads(r["params"]), "inputs": json.loads(r["inputs"]), "result": json.loads(r["result"])}
        for r in rows
    ]
