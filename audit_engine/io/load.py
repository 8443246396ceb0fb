"""Loading one file into the store: chunked, validated, quarantined, resumable, idempotent.

- The file's SHA-256 is recorded in ``load_files``: loading the same file again adds nothing.
- Each chunk commits in one transaction together with the file's resume position, so a crash
  leaves the store at a chunk boundary and the next ``load`` of the same file resumes there.
- Rejected rows go to ``quarantine`` with file line, field and reason; good rows load.
- A record whose key is already in the store (from this file or another) is quarantined as a
  duplicate key rather than silently overwriting.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Engine, Table, insert, select, update

from audit_engine.io import readers
from audit_engine.io.columns import KINDS, SOURCED_KINDS, canonical_header, detect_kind
from audit_engine.io.encoding import detect_encoding, normalise
from audit_engine.io.pipeline import prefetch_in_process
from audit_engine.io.readers import Chunk, InputError
from audit_engine.io.validate import Reject, Validated, validate_chunk
from audit_engine.ledger import append as ledger_append
from audit_engine.ledger.chain import sha256_file
from audit_engine.store.models import (
    Death,
    EnumerationArea,
    Enumerator,
    EnumeratorArea,
    Household,
    ListedHousehold,
    LoadFile,
    Person,
    QuarantinedRow,
    RegisterPerson,
)
from audit_engine.store.runs import finish_run, start_run

DEFAULT_CHUNK_ROWS = 50_000
PARALLEL_MIN_BYTES = 16 << 20   # below this, a second process costs more than it saves
SOURCES = ("census", "pes")
REFERENCE = "reference"
REGISTER = "register"
#: what each non-census source may load (census and PES load SOURCED_KINDS)
OTHER_SOURCES: dict[str, tuple[str, ...]] = {REFERENCE: ("areas", "enumerators", "listing"), REGISTER: ("register",)}

#: kind -> (table, {canonical column -> db column}, db key columns)
TABLES: dict[str, tuple[Table, dict[str, str], tuple[str, ...]]] = {
    "persons": (Person.__table__, {"person_id": "person_key", "household_id": "household_key"}, ("person_key",)),
    "households": (Household.__table__, {"household_id": "household_key"}, ("household_key",)),
    "deaths": (Death.__table__, {"household_id": "household_key"}, ("household_key", "line_no")),
    "areas": (EnumerationArea.__table__, {"ea_code": "code"}, ("code",)),
    "enumerators": (Enumerator.__table__, {"enumerator_id": "id"}, ("id",)),
    "register": (RegisterPerson.__table__, {"register_id": "register_key"}, ("register_key",)),
    "listing": (ListedHousehold.__table__, {"listing_id": "listing_key"}, ("listing_key",)),
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


@dataclass(frozen=True)
class FileInfo:
    """What a file is, found from its name and header before any row is read."""

    path: str
    name: str
    fmt: str
    encoding: str | None
    kind: str
    header: list[str | None]        # canonical column names, None for ignored columns


def inspect_file(path: str | Path, source: str, kind: str | None = None, encoding: str | None = None) -> FileInfo:
    """Format, encoding, kind and canonical header of ``path``; :class:`InputError` when the file
    cannot be loaded as ``source`` data (shared by the local and the Spark loader, so both refuse
    the same files with the same messages)."""
    path = str(path)
    name = Path(path).name
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    fmt = readers.file_format(path)
    enc = normalise(encoding) if encoding else (detect_encoding(path) if fmt == "csv" else None)
    raw_header = _header(path, fmt, enc)
    kind = _resolve_kind(name, raw_header, source, kind)
    return FileInfo(path, name, fmt, enc, kind, canonical_header(kind, raw_header))


def load_file(engine: Engine, path: str | Path, source: str, *, operator: str, kind: str | None = None,
              encoding: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
              progress: Callable[[Chunk], None] | None = None,
              parallel_min_bytes: int = PARALLEL_MIN_BYTES) -> LoadSummary:
    """Load ``path`` as records of ``source`` ('census', 'pes', 'reference' for areas,
    enumerators and the listing, or 'register' for a household-registration extract).

    Files of ``parallel_min_bytes`` or more are read and validated in a second process while
    this one stores the previous chunk (the two cores of a field-office machine both work).
    """
    info = inspect_file(path, source, kind, encoding)
    path, name, fmt, enc, kind, header = info.path, info.name, info.fmt, info.encoding, info.kind, info.header
    digest = sha256_file(path)
    started = time.perf_counter()

    lf = existing_load_file(engine, digest, source, kind)
    if lf is not None and lf.status == "done":
        return LoadSummary(name, digest, source, kind, fmt, enc, "already loaded", load_file_id=lf.id,
                           by_reason=quarantine_reasons(engine, lf.id))
    status = "resumed" if lf is not None else "loaded"
    if lf is None:
        lf = create_load_file(engine, digest, source, kind, name, fmt, enc, chunk_rows, operator)
    else:
        enc, chunk_rows = lf.encoding, lf.chunk_size
    run_id = start_run(engine, "load", operator, {"file": name, "source": source, "kind": kind, "sha256": digest})
    summary = LoadSummary(name, digest, source, kind, fmt, enc, status, load_file_id=lf.id)
    try:
        args = (path, fmt, enc, chunk_rows, lf.next_position, lf.next_line, kind, header, name)
        big = os.path.getsize(path) >= parallel_min_bytes
        for chunk, checked in (prefetch_in_process(read_and_validate, args) if big else read_and_validate(*args)):
            _load_chunk(engine, chunk, checked.materialise(), kind, source, name, lf.id)
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
    summary.by_reason = quarantine_reasons(engine, lf.id)
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
    allowed = SOURCED_KINDS if source in SOURCES else OTHER_SOURCES[source]
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


def existing_load_file(engine: Engine, digest: str, source: str, kind: str) -> SimpleNamespace | None:
    with engine.connect() as conn:
        row = conn.execute(select(LoadFile.__table__).where(LoadFile.sha256 == digest, LoadFile.source == source,
                                                            LoadFile.kind == kind)).mappings().first()
    return SimpleNamespace(**row) if row else None


def create_load_file(engine: Engine, digest: str, source: str, kind: str, name: str, fmt: str,
                     enc: str | None, chunk_rows: int, operator: str) -> SimpleNamespace:
    with engine.begin() as conn:
        res = conn.execute(insert(LoadFile).values(
            sha256=digest, source=source, kind=kind, file_name=name, file_format=fmt, encoding=enc,
            chunk_size=chunk_rows, status="loading", next_position=0, next_line=1, rows_read=0,
            rows_loaded=0, rows_quarantined=0, operator=operator, started_at=datetime.now(UTC)))
        lf_id = res.inserted_primary_key[0]
        return SimpleNamespace(**conn.execute(select(LoadFile.__table__).where(LoadFile.id == lf_id)).mappings().one())


def read_and_validate(path: str, fmt: str, enc: str | None, chunk_rows: int, position: int, line: int,
                      kind: str, header: list[str | None], name: str) -> Iterator[tuple[Chunk, Validated]]:
    """Chunks from the resume position, each with its validation (rows dropped once validated,
    so a chunk crossing processes carries only lines, raw text and the typed columns)."""
    if fmt == "csv":
        chunks = readers.iter_csv(path, enc or "utf-8", chunk_rows, position, line)
    elif fmt == "xlsx":
        chunks = readers.iter_xlsx(path, chunk_rows, position)
    else:
        chunks = readers.iter_parquet(path, chunk_rows, position)
    for chunk in chunks:
        checked = validate_chunk(kind, header, chunk.rows, chunk.lines, chunk.raws, name)
        chunk.n_rows, chunk.rows = len(chunk.rows), []
        yield chunk, checked


def _load_chunk(engine: Engine, chunk: Chunk, checked: Validated, kind: str, source: str,
                file_name: str, load_file_id: int) -> None:
    """De-duplicate and store one validated chunk, and move the resume position, atomically."""
    rejects = chunk_rejects(chunk, checked, file_name)
    table, renames, keys = TABLES[kind]
    with engine.begin() as conn:
        if len(checked):
            rejects += _drop_duplicate_keys(conn, checked, kind, source, table, renames, keys, file_name,
                                            dict(zip(chunk.lines, chunk.raws, strict=True)))
        if len(checked):
            columns, rows = _db_rows(checked, kind, source, renames, load_file_id)
            _executemany(conn, table, columns, rows)
            if kind == "enumerators":
                _insert_assignments(conn, checked)
        if rejects:
            conn.execute(insert(QuarantinedRow), [
                {"load_file_id": load_file_id, "line": r.line, "field": r.field, "reason": r.reason,
                 "detail": r.detail, "raw": r.raw} for r in rejects])
        conn.execute(update(LoadFile).where(LoadFile.id == load_file_id).values(
            next_position=chunk.end_position, next_line=chunk.end_line,
            rows_read=LoadFile.rows_read + chunk.n_rows + len(chunk.undecodable),
            rows_loaded=LoadFile.rows_loaded + len(checked),
            rows_quarantined=LoadFile.rows_quarantined + len(rejects)))


def chunk_rejects(chunk: Chunk, checked: Validated, file_name: str) -> list[Reject]:
    """A chunk's undecodable lines, then its rows that failed validation (before de-duplication)."""
    return [Reject(line, None, "undecodable", f"{file_name}, line {line}: bytes not valid in the file's encoding", raw)
            for line, raw in chunk.undecodable] + checked.rejects


def stored_name(name: str, renames: dict[str, str]) -> str:
    """The stored column of a validated one: keys renamed (``person_id`` -> ``person_key``),
    year-months split (``birth_ym:year`` -> ``birth_year``)."""
    if ":" in name:
        base, part = name.split(":")
        return f"{base.removesuffix('_ym')}_{part}"
    return renames.get(name, name)


def _drop_duplicate_keys(conn, checked: Validated, kind: str, source: str, table: Table,
                         renames: dict[str, str], keys: tuple[str, ...], file_name: str,
                         raw_by_line: dict[int, str]) -> list[Reject]:
    """Quarantine records whose key repeats within the chunk or is already in the store.

    Removes them from ``checked`` in place and returns their rejects.
    """
    inv = {v: k for k, v in renames.items()}
    key_cols = [inv.get(k, k) for k in keys]
    key_tuples = list(zip(*[[str(v) for v in checked.good[c]] for c in key_cols], strict=True))
    existing = _existing_keys(conn, table, keys, sorted({k[0] for k in key_tuples}),
                              source if kind in SOURCED_KINDS else None)
    seen: set[tuple] = set()
    bad: list[int] = []
    rejects: list[Reject] = []
    for j, key in enumerate(key_tuples):
        if key in existing or key in seen:
            bad.append(j)
            line = checked.lines[j]
            where = "already in the store" if key in existing else "repeated in this file"
            rejects.append(Reject(line, key_cols[0], "duplicate_key",
                                  f"{file_name}, line {line}, field {key_cols[0]}: key {key!r} {where}",
                                  raw_by_line.get(line, "")))
        seen.add(key)
    if bad:
        drop = set(bad)
        keep = [j for j in range(len(key_tuples)) if j not in drop]
        checked.good = {k: [v[j] for j in keep] for k, v in checked.good.items()}
        checked.lines = [checked.lines[j] for j in keep]
    return rejects


def _existing_keys(conn, table: Table, keys: tuple[str, ...], first_values: list[str],
                   source: str | None, batch: int = 5_000) -> set[tuple]:
    """Keys already stored among candidates (matched on the first key column, then whole).

    Plain driver SQL: compiling an IN list of thousands of bound parameters through the SQL
    expression layer costs more than the lookup itself.
    """
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = ", ".join(f"CAST({quote(k)} AS VARCHAR(40))" for k in keys)
    found: set[tuple] = set()
    for i in range(0, len(first_values), batch):
        part = first_values[i:i + batch]
        where = f"{quote(keys[0])} IN ({', '.join([mark] * len(part))})"
        params: list = list(part)
        if source is not None:
            where = f"source = {mark} AND " + where
            params.insert(0, source)
        found.update(tuple(r) for r in conn.exec_driver_sql(f"SELECT {cols} FROM {quote(table.name)} WHERE {where}",
                                                            tuple(params)))
    return found


def _db_rows(checked: Validated, kind: str, source: str, renames: dict[str, str],
             load_file_id: int) -> tuple[list[str], list[tuple]]:
    """Stored column names and row tuples (None for missing)."""
    names: list[str] = []
    values: list[list] = []
    for name, vals in checked.good.items():
        if name == "ea_codes":
            continue
        names.append(stored_name(name, renames))
        values.append(vals)
    n = len(checked)
    if kind in SOURCED_KINDS:
        names.append("source")
        values.append([source] * n)
    names.append("load_file_id")
    values.append([load_file_id] * n)
    return names, list(zip(*values, strict=True))


def _executemany(conn, table: Table, columns: list[str], rows: list[tuple]) -> None:
    """Driver-level executemany of plain tuples: the load's hot path. SQLAlchemy's per-row
    parameter processing costs more than SQLite's own insert, and the values are already
    validated and typed."""
    style = conn.dialect.paramstyle
    marks = ", ".join("?" if style == "qmark" else "%s" for _ in columns)
    quote = conn.dialect.identifier_preparer.quote
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES ({marks})"
    conn.exec_driver_sql(sql, rows)


def _insert_assignments(conn, checked: Validated) -> None:
    rows = []
    for enumerator, codes in zip(checked.good["enumerator_id"], checked.good["ea_codes"], strict=True):
        for code in dict.fromkeys(c.strip() for c in str(codes or "").split(";") if c.strip()):
            rows.append({"enumerator_id": enumerator, "ea_code": code})
    if rows:
        conn.execute(insert(EnumeratorArea), rows)


def quarantine_reasons(engine: Engine, load_file_id: int) -> dict[str, int]:
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
