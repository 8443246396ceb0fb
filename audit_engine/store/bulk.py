"""Bulk inserts inside the caller's transaction, in chunks so one executemany never holds a
whole run's rows (a national duplicate run writes millions of pairs)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import insert

CHUNK = 20_000


def insert_rows(conn, model, rows: pd.DataFrame | Sequence[dict], chunk: int = CHUNK) -> int:
    """Insert ``rows`` (a frame, or dicts keyed by column) into ``model``'s table; returns how many."""
    recs = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    for i in range(0, len(recs), chunk):
        conn.execute(insert(model), recs[i:i + chunk])
    return len(recs)
