"""Loading one file into the store: chunked, validated, quarantined, resumable, idempotent.

- The file's SHA-256 is recorded in ``load_files``: loading the same file again adds nothing.
- Each chunk commits in one transaction together with the file's resume position, so a crash
  leaves the store at a chunk boundary and the next ``load`` of the same file resumes there.
- Rejected rows go to ``quarantine`` with file line, field and reason; good rows load.
- A record whose key is already in the store (from this file or another) is quarantined as a
  duplicate key rather than silently overwriting.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Table, insert, select, update

from audit_engine.io import readers
from audit_engine.io.columns import KINDS, SOURCED_KINDS, canonical_header, detect_kind
from audit_engine.io.encoding import detect_encoding, normalise
from audit_engine.io.readers import Chunk, InputError
from audit_engine.io.validate import Reject, validate_chunk
from audit_engine.ledger import append as ledger_append
from audit_engine.ledger.chain import sha256_file
from audit_engine.store.models import (
    Death,
    EnumerationArea,
    Enumerator,
    EnumeratorArea,
    Household,
    LoadFile,
    Person,
    QuarantinedRow,
)
from audit_engine.store.runs import finish_run, start_run

DEFAULT_CHUNK_ROWS = 50_000
SOURCES = ("census", "pes")
REFERENCE = "reference"

#: kind -> (table, {canonical column -> db column}, db key columns)
TABLES: dict[str, tuple[Table, dict[str, str], tuple[str, ...]]] = {
    "persons": (Person.__table__, {"person_id": "person_key", "household_id": "household_key"}, ("person_key",)),
    "households": (Household.__table__, {"household_id": "household_key"}, ("household_key",)),
    "deaths": (Death.__table__, {"household_id": "household_key"}, ("household_key", "line_no")),
    "areas": (EnumerationArea.__table__, {"ea_code": "code"}, ("code",)),
    "enumerators": (Enumerator.__table__, {"enumerator_id": "id"}, ("id",)),
}


@dataclass
class LoadSummary:
    file_name: str
    sha256: str
    source: str
    kind: str
    file_format: str
    encoding: str | None
    status: str                      # loaded / resumed / already loaded
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)   # first quarantined rows: line, field, reason
    seconds: float = 0.0
    load_file_id: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)




def load_file(engine: Engine, path: str | Path, source: str, *, operator: str, kind: str | None = None,
              encoding: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
              progress: Callable[[Chunk], None] | None = None) -> LoadSummary:
    """Load ``path`` as records of ``source`` ('census', 'pes' or 'reference')."""
    path = str(path)
    name = Path(path).name
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    fmt = readers.file_format(path)
    enc = normalise(encoding) if encoding else (detect_encoding(path) if fmt == "csv" else None)
    raw_header = _header(path, fmt, enc)
    kind = _resolve_kind(name, raw_header, source, kind)
    header = canonical_header(kind, raw_header)
    digest = sha256_file(path)
    started = time.perf_counter()

    lf = _existing(engine, digest, source, kind)
    if lf is not None and lf.status == "done":
        return LoadSummary(name, digest, source, kind, fmt, enc, "already loaded", load_file_id=lf.id,
                           by_reason=_reasons(engine, lf.id))
    status = "resumed" if lf is not None else "loaded"
    if lf is None:
        lf = _create_load_file(engine, digest, source, kind, name, fmt, enc, chunk_rows, operator)
    else:
        enc, chunk_rows = lf.encoding, lf.chunk_size
    run_id = start_run(engine, "load", operator, {"file": name, "source": source, "kind": kind, "sha256": digest})
    summary = LoadSummary(name, digest, source, kind, fmt, enc, status, load_file_id=lf.id)
    try:
        for chunk in _chunks(path, fmt, enc, chunk_rows, lf):
            _load_chunk(engine, chunk, header, kind, source, name, lf.id)
            if progress:
                progress(chunk)
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted; run the same load again to resume"}, status="failed")
        raise
    with engine.begin() as conn:
        conn.execute(update(LoadFile).where(LoadFile.id == lf.id).values(status="done", finished_at=datetime.now(UTC)))
        row = conn.execute(select(LoadFile.__table__).where(LoadFile.id == lf.id)).mappings().one()
        summary.rows_read, summary.rows_loaded, summary.rows_quarantined = (
            int(row["rows_read"]), int(row["rows_loaded"]), int(row["rows_quarantined"]))
    summary.by_reason = _reasons(engine, lf.id)
    summary.examples = _examples(engine, lf.id)
    summary.seconds = round(time.perf_counter() - started, 3)
    result = {k: getattr(summary, k) for k in ("status", "rows_read", "rows_loaded", "rows_quarantined", "by_reason")}
    finish_run(engine, run_id, result)
    ledger_append(engine, operator=operator, command=f"load {source if source != REFERENCE else kind}",
                  params={"file": name, "source": source, "kind": kind, "format": fmt, "encoding": enc,
                          "run_id": run_id, "load_file_id": lf.id},
                  inputs={name: digest}, result=result)
    return summary


# ---------------------------------------------------------------------------- steps
def _header(path: str, fmt: str, enc: str | None) -> list[str]:
    if fmt == "csv":
        return readers.read_csv_header(path, enc or "utf-8")[0]
    if fmt == "xlsx":
        return readers.read_xlsx_header(path)
    return readers.read_parquet_header(path)


def _resolve_kind(name: str, header: list[str], source: str, kind: str | None) -> str:
    allowed = SOURCED_KINDS if source in SOURCES else ("areas", "enumerators")
    if kind is None:
        kind = detect_kind(header)
        if kind is None:
            raise InputError(f"{name}, line 1 (header): cannot tell what the file holds; the columns do not "
                             f"include the required ones of any file kind (see docs/data-format.md)")
    if kind not in allowed:
        raise InputError(f"{name}: a {kind} file cannot be loaded as {source} data (expected one of: {', '.join(allowed)})")
    names = {n for n in canonical_header(kind, header) if n}
    missing = [c.name for c in KINDS[kind] if c.required and c.name not in names]
    if missing:
        raise InputError(f"{name}, line 1 (header): missing required column(s) for a {kind} file: {', '.join(missing)}")
    dupes = [n for n, k in Counter(n for n in canonical_header(kind, header) if n).items() if k > 1]
    if dupes:
        raise InputError(f"{name}, line 1 (header): column(s) given twice: {', '.join(dupes)}")
    return kind


def _existing(engine: Engine, digest: str, source: str, kind: str) -> SimpleNamespace | None:
    with engine.connect() as conn:
        row = conn.execute(select(LoadFile.__table__).where(LoadFile.sha256 == digest, LoadFile.source == source,
                                                            LoadFile.kind == kind)).mappings().first()
    return SimpleNamespace(**row) if row else None


def _create_load_file(engine: Engine, digest: str, source: str, kind: str, name: str, fmt: str,
                      enc: str | None, chunk_rows: int, operator: str) -> SimpleNamespace:
    with engine.begin() as conn:
        res = conn.execute(insert(LoadFile).values(
            sha256=digest, source=source, kind=kind, file_name=name, file_format=fmt, encoding=enc,
            chunk_size=chunk_rows, status="loading", next_position=0, next_line=1, rows_read=0,
            rows_loaded=0, rows_quarantined=0, operator=operator, started_at=datetime.now(UTC)))
        lf_id = res.inserted_primary_key[0]
        return SimpleNamespace(**conn.execute(select(LoadFile.__table__).where(LoadFile.id == lf_id)).mappings().one())


def _chunks(path: str, fmt: str, enc: str | None, chunk_rows: int, lf: SimpleNamespace) -> Iterator[Chunk]:
    if fmt == "csv":
        return readers.iter_csv(path, enc or "utf-8", chunk_rows, lf.next_position, lf.next_line)
    if fmt == "xlsx":
        return readers.iter_xlsx(path, chunk_rows, lf.next_position)
    return readers.iter_parquet(path, chunk_rows, lf.next_position)


def _load_chunk(engine: Engine, chunk: Chunk, header: list[str | None], kind: str, source: str,
                file_name: str, load_file_id: int) -> None:
    """Validate, de-duplicate and store one chunk, and move the resume position, atomically."""
    checked = validate_chunk(kind, header, chunk.rows, chunk.lines, chunk.raws, file_name)
    rejects = [Reject(line, None, "undecodable", f"{file_name}, line {line}: bytes not valid in the file's encoding", raw)
               for line, raw in chunk.undecodable] + checked.rejects
    table, renames, keys = TABLES[kind]
    with engine.begin() as conn:
        good = checked.good
        if len(good):
            good, dup_rejects = _drop_duplicate_keys(conn, good, kind, source, table, renames, keys, file_name,
                                                     dict(zip(chunk.lines, chunk.raws, strict=True)))
            rejects += dup_rejects
        if len(good):
            rows = _db_rows(good, kind, source, renames, load_file_id)
            conn.execute(insert(table), rows)
            if kind == "enumerators":
                _insert_assignments(conn, good)
        if rejects:
            conn.execute(insert(QuarantinedRow), [
                {"load_file_id": load_file_id, "line": r.line, "field": r.field, "reason": r.reason,
                 "detail": r.detail, "raw": r.raw} for r in rejects])
        conn.execute(update(LoadFile).where(LoadFile.id == load_file_id).values(
            next_position=chunk.end_position, next_line=chunk.end_line,
            rows_read=LoadFile.rows_read + len(chunk.rows) + len(chunk.undecodable),
            rows_loaded=LoadFile.rows_loaded + len(good),
            rows_quarantined=LoadFile.rows_quarantined + len(rejects)))


def _drop_duplicate_keys(conn, good: pd.DataFrame, kind: str, source: str, table: Table,
                         renames: dict[str, str], keys: tuple[str, ...], file_name: str,
                         raw_by_line: dict[int, str]) -> tuple[pd.DataFrame, list[Reject]]:
    """Quarantine records whose key repeats within the chunk or is already in the store."""
    inv = {v: k for k, v in renames.items()}
    key_cols = [inv.get(k, k) for k in keys]
    key_frame = good[key_cols].astype(str)
    key_tuples = list(key_frame.itertuples(index=False, name=None))
    dup = key_frame.duplicated(keep="first").to_numpy()
    first_col = table.c[keys[0]]
    existing: set[tuple] = set()
    distinct_first = sorted({k[0] for k in key_tuples})
    for i in range(0, len(distinct_first), 5_000):
        stmt = select(*[table.c[k] for k in keys]).where(first_col.in_(distinct_first[i:i + 5_000]))
        if kind in SOURCED_KINDS:
            stmt = stmt.where(table.c.source == source)
        existing.update(tuple(str(v) for v in row) for row in conn.execute(stmt))
    in_store = np.fromiter((k in existing for k in key_tuples), dtype=bool, count=len(key_tuples))
    bad = dup | in_store
    rejects = []
    for j in np.flatnonzero(bad):
        line = int(good["line"].iat[j])
        where = "already in the store" if in_store[j] else "repeated in this file"
        rejects.append(Reject(line, key_cols[0], "duplicate_key",
                              f"{file_name}, line {line}, field {key_cols[0]}: key {key_tuples[j]!r} {where}",
                              raw_by_line.get(line, "")))
    return good[~bad].reset_index(drop=True), rejects


def _db_rows(good: pd.DataFrame, kind: str, source: str, renames: dict[str, str], load_file_id: int) -> list[dict]:
    cols: dict[str, object] = {}
    for name in good.columns:
        if name in ("line", "ea_codes"):
            continue
        if name.endswith(":year") or name.endswith(":month"):
            base, part = name.split(":")
            cols[f"{base.removesuffix('_ym')}_{part}"] = good[name]
        else:
            cols[renames.get(name, name)] = good[name]
    frame = pd.DataFrame(cols)
    frame = frame.astype(object).where(frame.notna(), None)
    frame = frame.replace({"": None})
    if kind in SOURCED_KINDS:
        frame["source"] = source
    frame["load_file_id"] = load_file_id
    return frame.to_dict("records")


def _insert_assignments(conn, good: pd.DataFrame) -> None:
    rows = []
    for enumerator, codes in zip(good["enumerator_id"], good["ea_codes"], strict=True):
        for code in dict.fromkeys(c.strip() for c in str(codes).split(";") if c.strip()):
            rows.append({"enumerator_id": enumerator, "ea_code": code})
    if rows:
        conn.execute(insert(EnumeratorArea), rows)


def _reasons(engine: Engine, load_file_id: int) -> dict[str, int]:
    from sqlalchemy import func

    with engine.connect() as conn:
        rows = conn.execute(select(QuarantinedRow.reason, func.count()).where(QuarantinedRow.load_file_id == load_file_id)
                            .group_by(QuarantinedRow.reason)).all()
    return {r: int(n) for r, n in sorted(rows)}


def _examples(engine: Engine, load_file_id: int, limit: int = 10) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(QuarantinedRow.line, QuarantinedRow.field, QuarantinedRow.reason, QuarantinedRow.detail)
                            .where(QuarantinedRow.load_file_id == load_file_id)
                            .order_by(QuarantinedRow.line).limit(limit)).all()
    return [{"line": int(r.line), "field": r.field, "reason": r.reason, "detail": r.detail} for r in rows]
