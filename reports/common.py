"""What several reports need from the store: place names and run summaries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from audit_engine.store.models import EnumerationArea, Run


def township_names(engine: Engine) -> dict[str, str]:
    """Township code -> name (place names are public, not personal data)."""
    with engine.connect() as conn:
        rows = conn.execute(select(EnumerationArea.township_code, EnumerationArea.township_name).distinct()).all()
    return {str(code): name or str(code) for code, name in rows}


def run_summary(engine: Engine, run_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params, summary) of a run, as stored."""
    with engine.connect() as conn:
        row = conn.execute(select(Run.params, Run.summary).where(Run.id == run_id)).one()
    return json.loads(row.params or "{}"), json.loads(row.summary or "{}")
