"""Export of the flags in a QC officer's scope, masked, to CSV or .xlsx.

Only a registered, active QC officer may export, and only the flags of their scope (townships
or EAs). The file leaves the review view, so names and ID numbers in the flagged values are
masked (``张*``, ``3201**********123X``) even though the officer may see them in ``review show``.
The export is recorded in the ledger: who, how many rows, the file's SHA-256.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from audit_engine.access.masking import PERSONAL_FIELDS, mask_value
from audit_engine.access.operators import authorize, refuse, scope_condition
from audit_engine.exports import ExportSummary, export_format, write_table
from audit_engine.ledger import append as ledger_append
from audit_engine.store.models import Flag

COLUMNS = ["flag_id", "run_id", "rule_id", "severity", "scope", "source", "ea_code", "record_key", "fields",
           "values", "status"]


def mask_values(values_json: str | None) -> str:
    """The JSON of a flag's values with every personal field masked (names, ID numbers, address)."""
    try:
        values = json.loads(values_json or "{}")
    except ValueError:
        return "{}"
    if not isinstance(values, dict):
        return "{}"
    masked = {f: (None if v is None else mask_value(f, v)) if f in PERSONAL_FIELDS else v for f, v in values.items()}
    return json.dumps(masked, ensure_ascii=False, sort_keys=True)


def flags_in_scope(engine: Engine, operator: str) -> pd.DataFrame:
    """The flags the officer may export, values masked (authorises; refusals are ledgered)."""
    op = authorize(engine, operator, "review.read")
    if op is None:  # open mode: authorize refuses review actions there, but never export without an officer
        raise refuse(engine, operator, "review.read", "exports need a registered QC officer with a scope")
    stmt = (select(Flag.id, Flag.run_id, Flag.rule_id, Flag.severity, Flag.scope, Flag.source, Flag.ea_code,
                   Flag.record_key, Flag.fields, Flag.values, Flag.status)
            .where(scope_condition(op, Flag.ea_code)).order_by(Flag.id))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["values"] = [mask_values(v) for v in df["values"]]
    return df


def export_flags(engine: Engine, operator: str, out: str | Path) -> ExportSummary:
    """Write the officer's flags (masked) to ``out`` (.csv or .xlsx) and ledger the export."""
    export_format(out)  # a bad file name fails before anything is read
    df = flags_in_scope(engine, operator)
    summary = write_table(df, out, sheet="flags")
    ledger_append(engine, operator=operator, command="export flags",
                  params={"file": Path(out).name, "format": summary.file_format},
                  result={"rows": summary.rows, "sha256": summary.sha256,
                          "runs": sorted({int(r) for r in df["run_id"].unique()})})
    return summary
