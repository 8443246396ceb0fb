"""Export of a linkage run's pairs with pseudonymous keys, for linkage work outside the store.

Person keys and ID numbers never leave in the clear: each side carries ``*_pid`` (HMAC-SHA256
of the source and person key) and ``*_id_hmac`` (HMAC-SHA256 of the normalised ID number, empty
when the record has none), both under the office secret ``CENSUS_AUDIT_SECRET``
(:mod:`audit_engine.access.pseudonym`). The same secret gives the same pseudonyms, so two
exports (or an export and an office's own pseudonymised register) link on them. The export is
recorded in the ledger with the file's SHA-256 and a fingerprint of the secret, never the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import aliased

from audit_engine.access.operators import authorize
from audit_engine.access.pseudonym import office_secret, pseudonymise_ids, pseudonymise_person_keys
from audit_engine.exports import ExportSummary, export_format, write_table
from audit_engine.ledger import append as ledger_append
from audit_engine.store.models import LinkPair, Person, Run

LINK_RUNS = {"link pes": ("pes", "census"), "link duplicates": ("census", "census")}
"""run kind -> (source of the left record, source of the right record)"""

COLUMNS = ["run_id", "kind", "left_pid", "right_pid", "left_id_hmac", "right_id_hmac", "left_ea", "right_ea",
           "weight", "posterior", "levels", "status", "cluster"]


def secret_fingerprint(secret: bytes) -> str:
    """Names which secret made an export (16 hex digits), without revealing it."""
    return hmac.new(secret, b"census-audit secret fingerprint", hashlib.sha256).hexdigest()[:16]


def link_run_kind(engine: Engine, run_id: int) -> str:
    with engine.connect() as conn:
        row = conn.execute(select(Run.kind, Run.status).where(Run.id == run_id)).first()
    if row is None:
        raise ValueError(f"no run {run_id}")
    if row.kind not in LINK_RUNS:
        raise ValueError(f"run {run_id} is a {row.kind!r} run: export links of a 'link pes' or 'link duplicates' run")
    if row.status != "done":
        raise ValueError(f"run {run_id} did not finish (status {row.status}): its pairs are incomplete")
    return row.kind


def pseudonymous_pairs(engine: Engine, run_id: int, secret: str | bytes | None = None) -> pd.DataFrame:
    """The pairs of a link run, keys and ID numbers replaced by their HMAC pseudonyms."""
    key = office_secret(secret)
    kind = link_run_kind(engine, run_id)
    lsrc, rsrc = LINK_RUNS[kind]
    lp, rp = aliased(Person), aliased(Person)
    stmt = (select(LinkPair.run_id, LinkPair.kind, LinkPair.left_key, LinkPair.right_key,
                   lp.id_number.label("left_id"), rp.id_number.label("right_id"), LinkPair.left_ea, LinkPair.right_ea,
                   LinkPair.weight, LinkPair.posterior, LinkPair.levels, LinkPair.status, LinkPair.cluster)
            .outerjoin(lp, and_(lp.source == lsrc, lp.person_key == LinkPair.left_key))
            .outerjoin(rp, and_(rp.source == rsrc, rp.person_key == LinkPair.right_key))
            .where(LinkPair.run_id == run_id).order_by(LinkPair.id))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(stmt).all(),
                          columns=["run_id", "kind", "left_key", "right_key", "left_id", "right_id", "left_ea",
                                   "right_ea", "weight", "posterior", "levels", "status", "cluster"])
    df["left_pid"] = pseudonymise_person_keys(df["left_key"], lsrc, key)
    df["right_pid"] = pseudonymise_person_keys(df["right_key"], rsrc, key)
    df["left_id_hmac"] = pseudonymise_ids(df["left_id"], key)
    df["right_id_hmac"] = pseudonymise_ids(df["right_id"], key)
    df["cluster"] = df["cluster"].astype("Int64")
    return df[COLUMNS]


def export_links(engine: Engine, operator: str, run_id: int, out: str | Path,
                 secret: str | bytes | None = None) -> ExportSummary:
    """Write a link run's pseudonymous pairs to ``out`` (.csv, or .xlsx when they fit) and ledger it."""
    export_format(out)
    authorize(engine, operator, "run")
    key = office_secret(secret)  # no secret, no export: checked before anything is read
    df = pseudonymous_pairs(engine, run_id, key)
    summary = write_table(df, out, sheet="pairs")
    ledger_append(engine, operator=operator, command="export links",
                  params={"run_id": run_id, "file": Path(out).name, "format": summary.file_format},
                  result={"rows": summary.rows, "sha256": summary.sha256, "secret_id": secret_fingerprint(key)})
    return summary
