"""Loading a national delivery (one census/PES file per county and kind) into the lake with Spark.

The rows are read and validated by exactly the local loader's code
(:func:`audit_engine.io.load.read_and_validate`), so a rejected row carries the same file, line,
field, reason and detail whichever engine loaded it. Spark only spreads the work:

1. *inspect*: one task per file finds its format, encoding and kind (the local loader's checks:
   a file that cannot be loaded stops the load before anything is written) and its SHA-256 (a
   file already ``done`` is skipped, as locally);
2. *stage*: one task per file reads and validates it chunk by chunk and writes its valid rows
   (the lake's columns plus load file, file order, line and raw text) and its rejects as Parquet
   under ``<lake>/_staging/<source>/<kind>/lf-<load_file_id>/``;
3. *de-duplicate and write*: one Spark job finds the keys that repeat within the load or are
   already in the lake (``duplicate_key``; the first occurrence by file order and line is kept,
   as the local loader keeps the first) and writes the good rows partitioned by province and
   county into a staging folder;
4. *commit*: the written files move into ``<lake>/<source>/<kind>/province=PP/county=CCCCCC/``
   as ``lf-<load_file_id>-….parquet`` and the rejects into ``<lake>/<source>/quarantine/``; then
   one store transaction marks the files done and adds their quarantine rows.

A crash anywhere leaves the files ``loading``: the next load of them removes their staging and
whatever of them already reached the lake (the ``lf-<id>-`` prefix says which) and loads them
from scratch. One load at a time per lake and source: a load clears the source's staging folder.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, delete, insert, update

from audit_engine.io.columns import SOURCED_KINDS
from audit_engine.io.load import (
    DEFAULT_CHUNK_ROWS,
    SOURCES,
    TABLES,
    FileInfo,
    LoadSummary,
    chunk_rejects,
    create_load_file,
    existing_load_file,
    inspect_file,
    quarantine_reasons,
    read_and_validate,
    stored_name,
)
from audit_engine.io.readers import InputError
from audit_engine.io.validate import Reject, Validated
from audit_engine.ledger import append as ledger_append
from audit_engine.ledger.chain import sha256_file
from audit_engine.spark.lake import PARTITIONS, arrow_schema, columns, table_path
from audit_engine.store.models import LoadFile, QuarantinedRow
from audit_engine.store.runs import finish_run, start_run

__all__ = ["QUARANTINE_COLUMNS", "load_to_lake", "quarantine_path"]

#: the lake's quarantine files: one per load file with rejects
QUARANTINE_COLUMNS = ("file_name", "sha256", "line", "field", "reason", "detail", "raw")
#: problem keys up to this many are broadcast to the rows (no shuffle of the rows themselves)
BROADCAST_KEYS = 2_000_000
#: rows per lake file at most (a county's persons otherwise make one file of gigabytes)
MAX_ROWS_PER_FILE = 5_000_000
_LF, _ORDER, _LINE, _RAW = "lf", "_order", "_line", "_raw"


@dataclass(frozen=True)
class _Task:
    """One file's staging task (pickled to a Spark executor)."""

    info: FileInfo
    chunk_rows: int
    load_file_id: int
    order: int
    staging: str


@dataclass
class _File:
    """A file of this load on the driver: what it is, its store row and what became of it."""

    info: FileInfo
    order: int
    sha256: str = ""
    load_file_id: int | None = None
    retry: bool = False             # an earlier load of it did not finish
    rows_read: int = 0
    valid: int = 0
    rejects: list[Reject] | None = None
    summary: LoadSummary | None = None


def quarantine_path(lake: str | os.PathLike, source: str) -> Path:
    """``<lake>/<source>/quarantine``: the rejected rows of Spark loads, as Parquet."""
    return Path(lake) / source / "quarantine"


def load_to_lake(engine: Engine, spark, paths: Iterable[str | os.PathLike], source: str,
                 lake: str | os.PathLike, *, operator: str, kind: str | None = None, encoding: str | None = None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 progress: Callable[[LoadSummary], None] | None = None) -> list[LoadSummary]:
    """Load census or PES persons, households or deaths files into the lake, one summary per file
    (in the order given).

    ``kind`` and ``encoding`` apply to every file (detected per file when omitted); ``progress``
    is called with each file's summary once the load is committed. Every file is checked before
    anything is loaded: a file that cannot be loaded (:class:`InputError`) stops the whole load.
    """
    if source not in SOURCES:
        raise InputError(f"the lake holds census and PES records, not {source!r} ones (load those locally)")
    started = time.perf_counter()
    lake = Path(lake).resolve()
    files = _inspect_files(spark, [str(Path(p).resolve()) for p in paths], source, kind, encoding)
    if not files:
        return []
    todo = _claim(engine, files, source, operator, chunk_rows)
    if todo:
        run_id = start_run(engine, "load", operator, {
            "engine": "spark", "lake": str(lake), "source": source,
            "files": [{"file": f.info.name, "kind": f.info.kind, "sha256": f.sha256} for f in todo]})
        try:
            _load(engine, spark, todo, source, lake, run_id, chunk_rows)
        except BaseException:
            finish_run(engine, run_id, {"error": "interrupted; run the same load again: the files not done "
                                                 "are loaded again from scratch"}, status="failed")
            raise
        seconds = round(time.perf_counter() - started, 3)
        for f in todo:
            f.summary = _summary(f, source, "loaded", seconds)
        _record(engine, todo, source, lake, operator, run_id)
    for f in files:
        if f.summary is None:       # already loaded, or the same content given twice in this load
            f.summary = _already(engine, f, source)
        if progress:
            progress(f.summary)
    return [f.summary for f in files]   # type: ignore[misc]


# ---------------------------------------------------------------------------- driver steps
def _inspect_files(spark, paths: Sequence[str], source: str, kind: str | None,
                   encoding: str | None) -> list[_File]:
    """Every file inspected and hashed, one Spark task per file (a national delivery is hundreds
    of GB: the driver reads none of it); :class:`InputError` naming every file that cannot load."""
    if not paths:
        return []
    jobs = [(p, source, kind, encoding) for p in paths]
    found = spark.sparkContext.parallelize(jobs, len(jobs)).map(_inspect).collect()
    errors = [error for _, _, error in found if error]
    if errors:
        raise InputError("\n".join(errors))
    return [_File(info, i, digest) for i, (info, digest, _) in enumerate(found)]


def _inspect(job: tuple[str, str, str | None, str | None]) -> tuple[FileInfo | None, str, str | None]:
    """(what the file is, its SHA-256, None) or (None, "", why it cannot be loaded): on an executor."""
    path, source, kind, encoding = job
    try:
        info = inspect_file(path, source, kind, encoding)
    except InputError as exc:
        return None, "", str(exc)
    return info, sha256_file(path), None


def _claim(engine: Engine, files: list[_File], source: str, operator: str, chunk_rows: int) -> list[_File]:
    """The files to load, each with a ``loading`` row in ``load_files`` (a new one, or the row of
    an earlier load that did not finish, reset). Files already done, and a second copy of a file
    in this load, are left out."""
    found: dict[tuple[str, str], tuple[_File, SimpleNamespace | None]] = {}
    for f in files:
        key = (f.sha256, f.info.kind)
        if key not in found:
            found[key] = (f, existing_load_file(engine, f.sha256, source, f.info.kind))
    partial = [f.info.name for f, lf in found.values() if lf is not None and lf.status != "done" and lf.rows_read]
    if partial:
        raise InputError(f"{', '.join(partial)}: partly loaded into the store by the local engine; finish that load "
                         "locally (census-audit load … without --engine spark) and export it to the lake")
    todo: list[_File] = []
    for f, lf in found.values():
        info = f.info
        if lf is None:
            lf = create_load_file(engine, f.sha256, source, info.kind, info.name, info.fmt, info.encoding,
                                  chunk_rows, operator)
        elif lf.status == "done":
            continue
        else:
            f.retry = True
            with engine.begin() as conn:
                conn.execute(delete(QuarantinedRow).where(QuarantinedRow.load_file_id == lf.id))
                conn.execute(update(LoadFile).where(LoadFile.id == lf.id).values(
                    file_name=info.name, file_format=info.fmt, encoding=info.encoding, chunk_size=chunk_rows,
                    operator=operator, started_at=datetime.now(UTC)))
        f.load_file_id = int(lf.id)
        todo.append(f)
    return todo


def _load(engine: Engine, spark, todo: list[_File], source: str, lake: Path, run_id: int, chunk_rows: int) -> None:
    """Stage every file, then de-duplicate, write and commit kind by kind."""
    staging = lake / "_staging" / source
    shutil.rmtree(staging, ignore_errors=True)
    _remove_leftovers(lake, source, todo)
    tasks = [_Task(f.info, chunk_rows, f.load_file_id, f.order,  # type: ignore[arg-type]
                   str(staging / f.info.kind / f"lf-{f.load_file_id}")) for f in todo]
    staged = spark.sparkContext.parallelize(tasks, len(tasks)).map(_stage_file).collect()
    by_lf = {f.load_file_id: f for f in todo}
    row_dirs: dict[str, list[str]] = {}
    for result in staged:
        f = by_lf[result["load_file_id"]]
        f.rows_read, f.valid = result["rows_read"], result["valid"]
        f.rejects = _read_rejects(result["rejects"])
        if result["valid"]:
            row_dirs.setdefault(f.info.kind, []).append(result["rows"])
    out = staging / f"load-{run_id}"
    for kind in SOURCED_KINDS:
        group = [f for f in todo if f.info.kind == kind]
        if not group:
            continue
        dups = _write_rows(spark, row_dirs[kind], kind, lake, source, out / kind) if kind in row_dirs else []
        names = {f.load_file_id: f.info.name for f in group}
        for lf_id, reject in _duplicate_rejects(dups, kind, names):
            by_lf[lf_id].rejects.append(reject)   # type: ignore[union-attr]
    _commit(engine, todo, source, lake, out)
    shutil.rmtree(staging, ignore_errors=True)


def _remove_leftovers(lake: Path, source: str, todo: list[_File]) -> None:
    """What an interrupted load of these files left in the lake (their ``lf-<id>-`` files)."""
    retried = [f for f in todo if f.retry]
    prefixes = tuple(f"lf-{f.load_file_id}-" for f in retried)
    for kind in {f.info.kind for f in retried}:
        root = table_path(lake, source, kind)
        for folder, _, names in os.walk(root) if root.exists() else ():
            for name in names:
                if name.startswith(prefixes):
                    os.remove(os.path.join(folder, name))
    q = quarantine_path(lake, source)
    for f in retried:
        (q / f"lf-{f.load_file_id}.parquet").unlink(missing_ok=True)


def _read_rejects(path: str | None) -> list[Reject]:
    if path is None:
        return []
    t = pq.read_table(path).to_pydict()
    return [Reject(*r) for r in zip(t["line"], t["field"], t["reason"], t["detail"], t["raw"], strict=True)]


# ---------------------------------------------------------------------------- the staging task
def _stage_file(task: _Task) -> dict:
    """Read and validate one file (on an executor) exactly as the local loader does; write its
    valid rows in the lake's shape and its rejects as Parquet. Starts over if Spark retries it."""
    info = task.info
    folder = Path(task.staging)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "rows").mkdir(parents=True)
    renames = TABLES[info.kind][1]
    rejects: list[Reject] = []
    rows_read = valid = 0
    for i, (chunk, checked) in enumerate(read_and_validate(info.path, info.fmt, info.encoding, task.chunk_rows, 0, 1,
                                                            info.kind, info.header, info.name)):
        rows_read += chunk.n_rows + len(chunk.undecodable)
        rejects += chunk_rejects(chunk, checked, info.name)
        if len(checked):
            raw_by_line = dict(zip(chunk.lines, chunk.raws, strict=True))
            table = _staged_table(checked, info.kind, renames, task, [raw_by_line[n] for n in checked.lines])
            path = folder / "rows" / f"part-{i:06d}.parquet"
            pq.write_table(table, path, compression="zstd")
            valid += len(checked)
    rejects_path = None
    if rejects:
        rejects_path = str(folder / "rejects.parquet")
        pq.write_table(_rejects_table(rejects), rejects_path)
    return {"load_file_id": task.load_file_id, "rows_read": rows_read, "valid": valid,
            "rows": str(folder / "rows"), "rejects": rejects_path}


def _staged_table(checked: Validated, kind: str, renames: dict[str, str], task: _Task, raws: list[str]) -> pa.Table:
    """Valid rows as the lake's columns and types, plus load file, file order, line and raw text."""
    arrays = {stored_name(name, renames): values for name, values in checked.good.items() if name != "ea_codes"}
    n = len(checked)
    cols = []
    for f in arrow_schema(kind):
        values = arrays.get(f.name)
        cols.append(pa.nulls(n, f.type) if values is None else pa.array(values).cast(f.type))
    cols += [pa.array([task.load_file_id] * n, pa.int64()), pa.array([task.order] * n, pa.int32()),
             pa.array(checked.lines, pa.int64()), pa.array(raws, pa.string())]
    names = [f.name for f in arrow_schema(kind)] + [_LF, _ORDER, _LINE, _RAW]
    return pa.Table.from_arrays(cols, names=names)


# ---------------------------------------------------------------------------- the Spark job
def _write_rows(spark, row_dirs: list[str], kind: str, lake: Path, source: str, out: Path) -> list:
    """Write the staged rows of ``kind`` whose key is new to ``out`` (partitioned by load file,
    province and county); return the duplicates (rows of ``lf``, ``_line``, keys, ``_raw``,
    ``_in_lake``, ``_first_lf``).

    A key is a duplicate when it occurs more than once in the load (all but the first by file
    order and line) or is already in the lake (every occurrence). Only the keys are shuffled to
    find those; the rows meet the (few) problem keys in a broadcast join.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = list(TABLES[kind][2])
    staged = spark.read.parquet(*row_dirs)
    tagged = staged.select(*keys, F.lit(1).alias("_s"), F.lit(0).alias("_l"))
    existing = table_path(lake, source, kind)
    if existing.exists() and next(existing.rglob("*.parquet"), None) is not None:
        in_lake = spark.read.option("basePath", str(existing)).parquet(str(existing))
        tagged = tagged.unionByName(in_lake.select(*keys, F.lit(0).alias("_s"), F.lit(1).alias("_l")))
    problem = (tagged.groupBy(*keys).agg(F.sum("_s").alias("_n"), F.max("_l").alias("_l"))
               .where("_n > 0 AND (_n > 1 OR _l = 1)")
               .select(*[F.col(k).alias(f"_p_{k}") for k in keys], (F.col("_l") == 1).alias("_in_lake"))
               .cache())
    n_problem = problem.count()
    lake_cols = columns(kind)
    dups: list = []
    if n_problem == 0:
        good = staged.select(*lake_cols, _LF)
    else:
        side = F.broadcast(problem) if n_problem <= BROADCAST_KEYS else problem
        cond = reduce(lambda a, b: a & b, [staged[k].eqNullSafe(problem[f"_p_{k}"]) for k in keys])
        joined = staged.join(side, cond, "left")
        w = Window.partitionBy(*keys).orderBy(_ORDER, _LINE)
        ranked = (joined.where(F.col("_in_lake").isNotNull())
                  .withColumn("_rn", F.row_number().over(w)).withColumn("_first_lf", F.first(_LF).over(w)))
        dups = (ranked.where(F.col("_in_lake") | (F.col("_rn") > 1))
                .select(_LF, _LINE, *keys, _RAW, "_in_lake", "_first_lf").collect())
        good = (joined.where(F.col("_in_lake").isNull()).select(*lake_cols, _LF)
                .unionByName(ranked.where(~F.col("_in_lake") & (F.col("_rn") == 1)).select(*lake_cols, _LF)))
    good = good.withColumn("province", F.substring("ea_code", 1, 2)).withColumn("county", F.substring("ea_code", 1, 6))
    if n_problem > BROADCAST_KEYS:      # rows were shuffled by key: gather each file's counties again
        good = good.repartition(_LF, *PARTITIONS)
    (good.write.mode("overwrite").option("maxRecordsPerFile", MAX_ROWS_PER_FILE)
     .partitionBy(_LF, *PARTITIONS).parquet(str(out)))
    problem.unpersist()
    return dups


def _duplicate_rejects(dups: list, kind: str, names: dict[int, str]) -> list[tuple[int, Reject]]:
    """The local loader's ``duplicate_key`` rejects (field, detail) for the rows Spark found."""
    _, renames, keys = TABLES[kind]
    inv = {v: k for k, v in renames.items()}
    field = inv.get(keys[0], keys[0])
    out = []
    for row in dups:
        lf_id, line = int(row[_LF]), int(row[_LINE])
        key = tuple(str(row[k]) for k in keys)
        if row["_in_lake"]:
            where = "already in the lake"
        elif int(row["_first_lf"]) == lf_id:
            where = "repeated in this file"
        else:
            where = f"already in {names[int(row['_first_lf'])]} of this load"
        name = names[lf_id]
        out.append((lf_id, Reject(line, field, "duplicate_key",
                                  f"{name}, line {line}, field {field}: key {key!r} {where}", row[_RAW] or "")))
    return out


# ---------------------------------------------------------------------------- commit
def _commit(engine: Engine, todo: list[_File], source: str, lake: Path, out: Path) -> None:
    """Move the written files and the quarantine into the lake, then mark the files done in the
    store, in one transaction with their quarantine rows."""
    qdir = quarantine_path(lake, source)
    qdir.mkdir(parents=True, exist_ok=True)
    for f in todo:
        f.rejects = sorted(f.rejects or [], key=lambda r: r.line)
        if f.rejects:
            tmp = out / f"quarantine-lf-{f.load_file_id}.parquet"
            tmp.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(_quarantine_table(f), tmp, compression="zstd")
            os.replace(tmp, qdir / f"lf-{f.load_file_id}.parquet")
    for kind in {f.info.kind for f in todo}:
        _move_rows(out / kind, table_path(lake, source, kind))
    with engine.begin() as conn:
        for f in todo:
            if f.rejects:
                conn.execute(insert(QuarantinedRow), [
                    {"load_file_id": f.load_file_id, "line": r.line, "field": r.field, "reason": r.reason,
                     "detail": r.detail, "raw": r.raw} for r in f.rejects])
            conn.execute(update(LoadFile).where(LoadFile.id == f.load_file_id).values(
                status="done", finished_at=datetime.now(UTC), rows_read=f.rows_read,
                rows_loaded=f.valid - _count(f.rejects, "duplicate_key"), rows_quarantined=len(f.rejects or [])))


def _move_rows(written: Path, table: Path) -> None:
    """``written/lf=N/province=P/county=C/part-….parquet`` -> ``table/province=P/county=C/lf-N-part-….parquet``."""
    if not written.exists():
        return
    for part in written.glob(f"{_LF}=*/province=*/county=*/*.parquet"):
        county, province, lf = part.parent, part.parent.parent, part.parent.parent.parent
        target = table / province.name / county.name
        target.mkdir(parents=True, exist_ok=True)
        os.replace(part, target / f"lf-{lf.name.split('=', 1)[1]}-{part.name}")


def _rejects_table(rejects: list[Reject]) -> pa.Table:
    """Rejects as Parquet columns: line, field, reason, detail, raw (read back by :func:`_read_rejects`)."""
    return pa.table({
        "line": pa.array([r.line for r in rejects], pa.int64()),
        "field": pa.array([r.field for r in rejects], pa.string()),
        "reason": pa.array([r.reason for r in rejects], pa.string()),
        "detail": pa.array([r.detail for r in rejects], pa.string()),
        "raw": pa.array([r.raw for r in rejects], pa.string())})


def _quarantine_table(f: _File) -> pa.Table:
    """A file's rejects in the lake's quarantine (:data:`QUARANTINE_COLUMNS`)."""
    rejects = f.rejects or []
    t = _rejects_table(rejects)
    t = t.add_column(0, "sha256", pa.array([f.sha256] * len(rejects), pa.string()))
    return t.add_column(0, "file_name", pa.array([f.info.name] * len(rejects), pa.string()))


def _count(rejects: list[Reject] | None, reason: str) -> int:
    return sum(1 for r in rejects or [] if r.reason == reason)


# ---------------------------------------------------------------------------- summaries and records
def _summary(f: _File, source: str, status: str, seconds: float) -> LoadSummary:
    rejects = f.rejects or []
    info = f.info
    return LoadSummary(
        info.name, f.sha256, source, info.kind, info.fmt, info.encoding, status, rows_read=f.rows_read,
        rows_loaded=f.valid - _count(rejects, "duplicate_key"), rows_quarantined=len(rejects),
        by_reason=dict(sorted(Counter(r.reason for r in rejects).items())),
        examples=[{"line": r.line, "field": r.field, "reason": r.reason, "detail": r.detail} for r in rejects[:10]],
        seconds=seconds, load_file_id=f.load_file_id)


def _already(engine: Engine, f: _File, source: str) -> LoadSummary:
    lf = existing_load_file(engine, f.sha256, source, f.info.kind)
    lf_id = int(lf.id) if lf is not None else None
    return LoadSummary(f.info.name, f.sha256, source, f.info.kind, f.info.fmt, f.info.encoding, "already loaded",
                       load_file_id=lf_id, by_reason=quarantine_reasons(engine, lf_id) if lf_id else {})


def _record(engine: Engine, todo: list[_File], source: str, lake: Path, operator: str, run_id: int) -> None:
    """The run's result and one ledger entry per file, as the local loader writes them (plus the
    engine and the lake)."""
    keys = ("status", "rows_read", "rows_loaded", "rows_quarantined", "by_reason")
    total = {k: sum(getattr(f.summary, k) for f in todo) for k in ("rows_read", "rows_loaded", "rows_quarantined")}
    finish_run(engine, run_id, {"files": len(todo), **total})
    for f in todo:
        s = f.summary
        assert s is not None
        ledger_append(engine, operator=operator, command=f"load {source}",
                      params={"file": s.file_name, "source": source, "kind": s.kind, "format": s.file_format,
                              "encoding": s.encoding, "run_id": run_id, "load_file_id": s.load_file_id,
                              "engine": "spark", "lake": str(lake)},
                      inputs={s.file_name: s.sha256}, result={k: getattr(s, k) for k in keys})
