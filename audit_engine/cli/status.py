"""``census-audit status``: what the store holds (counts only, no personal data)."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from audit_engine.cli.context import AppContext, emit
from audit_engine.ledger import head
from audit_engine.store.models import (
    Death,
    EnumerationArea,
    Enumerator,
    Household,
    LoadFile,
    Person,
    QuarantinedRow,
)


def store_counts(engine) -> dict:
    """Record counts by table and source, quarantined rows by reason, files by status."""
    out: dict = {}
    with engine.connect() as conn:
        out["enumeration_areas"] = conn.execute(select(func.count()).select_from(EnumerationArea)).scalar_one()
        out["enumerators"] = conn.execute(select(func.count()).select_from(Enumerator)).scalar_one()
        for model in (Household, Person, Death):
            rows = conn.execute(select(model.source, func.count()).group_by(model.source)).all()
            out[model.__tablename__] = {s: int(n) for s, n in sorted(rows)}
        rows = conn.execute(select(QuarantinedRow.reason, func.count()).group_by(QuarantinedRow.reason)).all()
        out["quarantined"] = {r: int(n) for r, n in sorted(rows)}
        rows = conn.execute(select(LoadFile.status, func.count()).group_by(LoadFile.status)).all()
        out["files"] = {s: int(n) for s, n in sorted(rows)}
    return out


@click.command(epilog="\b\nExample:\n  census-audit status --json")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(app: AppContext, as_json: bool) -> None:
    """Counts of what the store holds, the quarantine, and the ledger head."""
    engine = app.ready_engine()
    data = store_counts(engine)
    seq, h = head(engine)
    data["ledger"] = {"entries": seq, "head_hash": h}
    lines = [f"store {app.safe_url}",
             f"  enumeration areas {data['enumeration_areas']:,}   enumerators {data['enumerators']:,}"]
    for t in ("households", "persons", "deaths"):
        lines.append(f"  {t:<11} " + "   ".join(f"{s} {n:,}" for s, n in data[t].items()) if data[t] else f"  {t:<11} none")
    lines.append("  quarantined " + (", ".join(f"{r} {n:,}" for r, n in data["quarantined"].items()) or "none"))
    if data["files"].get("loading"):
        lines.append(f"  {data['files']['loading']} load(s) interrupted: run the same load again to resume")
    lines.append(f"  ledger {seq} entries, head {h}")
    emit(data, as_json, "\n".join(lines))
