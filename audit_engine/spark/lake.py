"""The lake: census tables as Parquet, partitioned by province and county, beside the store.

A national census does not go into the SQL store: persons, households and deaths of each
source live as Parquet under one folder (the *lake*), Hive-partitioned so that a county's or a
province's records are read without touching the rest::

    <lake>/<source>/<kind>/province=32/county=320831/part-….parquet     kind: persons, households, deaths
    <lake>/runs/<command>-<run_id>/…                                   what a Spark run wrote (flags, pairs)

Columns are the store's own (``persons``: ``person_key``, ``household_key``, ``ea_code``,
``birth_year``… with the store's types), less ``id``, ``source`` and ``load_file_id``, so that
the same frame builders and linkage keys work on either. ``province`` is the first two
characters of the EA code, ``county`` the first six (GB/T 2260). The store keeps what is small
and must be attributable: load records, runs, the ledger, summaries, review items.

Functions here are plain pyarrow (no Spark): tests, the PES linkage and ``lake export`` use them
on one machine; :func:`spark_table` is the Spark reader.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import Engine, Integer, SmallInteger, select

from audit_engine.store.models import Death, Household, Person

__all__ = ["KINDS", "PARTITIONS", "arrow_schema", "dataset_of", "export_store", "fingerprint", "read_table", "run_dir",
           "spark_table", "store_shaped", "table_path", "write_table"]

#: lake table kinds and the store models whose columns they carry
KINDS = {"persons": Person, "households": Household, "deaths": Death}
#: partition columns, derived from ``ea_code``
PARTITIONS = ("province", "county")
_SKIP = ("id", "source", "load_file_id")


def columns(kind: str) -> list[str]:
    """The lake columns of ``kind``: the store table's, in the store's order."""
    return [c.name for c in KINDS[kind].__table__.columns if c.name not in _SKIP]


def arrow_schema(kind: str) -> pa.Schema:
    """Integers as int32 (the store's SMALLINT/INTEGER, nullable), everything else text."""
    fields = []
    for c in KINDS[kind].__table__.columns:
        if c.name in _SKIP:
            continue
        integer = isinstance(c.type, Integer | SmallInteger)
        fields.append(pa.field(c.name, pa.int32() if integer else pa.string()))
    return pa.schema(fields)


def table_path(lake: str | os.PathLike, source: str, kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown lake table {kind!r} (one of {', '.join(KINDS)})")
    return Path(lake) / source / kind


def run_dir(lake: str | os.PathLike, command: str, run_id: int, engine: Engine | None = None) -> Path:
    """Where a run's outputs go: one folder per run, named after the command, the run id and,
    given the store's ``engine``, the run's start time to the microsecond — two stores (a copy,
    a test store, a rehearsal) writing into one lake then never share a folder, and the store
    still finds its run's folder from the run alone."""
    name = f"{command.replace(' ', '-')}-{run_id}"
    if engine is not None:
        from audit_engine.store.models import Run

        with engine.connect() as conn:
            started = conn.execute(select(Run.started_at).where(Run.id == run_id)).scalar_one()
        name += "-" + started.strftime("%Y%m%dT%H%M%S%f")
    return Path(lake) / "runs" / name


def _with_partitions(table: pa.Table) -> pa.Table:
    ea = table.column("ea_code")
    return (table.append_column("province", pc.utf8_slice_codeunits(ea, 0, 2))
            .append_column("county", pc.utf8_slice_codeunits(ea, 0, 6)))


def to_arrow(frame: pd.DataFrame, kind: str) -> pa.Table:
    """A store-shaped frame as a lake table (missing columns null, types the lake's)."""
    schema = arrow_schema(kind)
    arrays = []
    for f in schema:
        if f.name in frame.columns:
            col = frame[f.name]
            if pa.types.is_integer(f.type):
                arrays.append(pa.array(pd.array(col, dtype="Int64"), type=pa.int64()).cast(f.type))
            else:
                arrays.append(pa.array(col.astype(object).where(col.notna(), None), type=pa.string()))
        else:
            arrays.append(pa.nulls(len(frame), f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_table(frame: pd.DataFrame | pa.Table, lake: str | os.PathLike, source: str, kind: str, *,
                basename: str = "part-{i}.parquet", overwrite: bool = False) -> Path:
    """Write ``frame`` into the lake table, partitioned by province and county.

    ``basename`` keeps the files of several writers apart (a load writes one name per input
    file); ``overwrite`` replaces the whole table first.
    """
    path = table_path(lake, source, kind)
    table = frame.cast(arrow_schema(kind)) if isinstance(frame, pa.Table) else to_arrow(frame, kind)
    table = _with_partitions(table)
    ds.write_dataset(table, path, format="parquet", partitioning=list(PARTITIONS), partitioning_flavor="hive",
                     basename_template=basename,
                     existing_data_behavior="delete_matching" if overwrite else "overwrite_or_ignore")
    return path


def dataset_of(path: str | os.PathLike) -> ds.Dataset:
    """A lake table as a pyarrow dataset, partition columns as text (inferred, ``county=320831``
    would be an integer and ``province=32`` too; codes are text everywhere else)."""
    part = ds.partitioning(pa.schema([pa.field(c, pa.string()) for c in PARTITIONS]), flavor="hive")
    return ds.dataset(path, format="parquet", partitioning=part)


def read_table(lake: str | os.PathLike, source: str, kind: str, *, prefixes: Iterable[str] | None = None,
               columns_: list[str] | None = None) -> pd.DataFrame:
    """A lake table (or the EAs under ``prefixes``: a county's, a township's codes) as pandas,
    in the store's shape (integers nullable ``Int64``, text ``object`` with None). Partition
    pruning: a prefix of six characters or more reads only its county's folders."""
    path = table_path(lake, source, kind)
    cols = columns_ or columns(kind)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    dataset = dataset_of(path)
    flt = None
    if prefixes is not None:
        pre = sorted(set(prefixes))
        if not pre:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        counties = {p[:6] for p in pre}
        flt = pc.field("county").isin(sorted(counties)) if all(len(p) >= 6 for p in pre) else None
        starts = None
        for p in pre:
            cond = pc.starts_with(pc.field("ea_code"), p)
            starts = cond if starts is None else starts | cond
        flt = starts if flt is None else flt & starts
    table = dataset.to_table(columns=cols, filter=flt)
    return table.to_pandas(types_mapper={pa.int32(): pd.Int64Dtype(), pa.int64(): pd.Int64Dtype()}.get)


def store_shaped(frame: pd.DataFrame, kind: str, columns_: list[str] | None = None) -> pd.DataFrame:
    """Rows of a lake table of ``kind`` in the exact shape ``pandas.read_sql`` gives them from
    the store, in the order of ``columns_`` (default all the table's columns; absent ones are
    all missing): an integer column is int64 when it has no missing value, float64 (NaN) when
    it has some, object (None) when all are missing; text is object with None. Whatever reads
    the lake instead of the store then builds the same frames — down to how a line number
    prints (``3``, not ``3.0``) and how ``build_frames`` keys deaths (``household#line``)."""
    types = {f.name: f.type for f in arrow_schema(kind)}
    out = {}
    for name in columns_ or list(types):
        col = frame[name] if name in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        missing = col.isna()
        if pa.types.is_integer(types[name]):
            if missing.all():      # also when there are no rows at all
                out[name] = pd.Series([None] * len(col), index=col.index, dtype=object)
            elif missing.any():
                out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
            else:
                out[name] = pd.to_numeric(col).astype("int64")
        else:
            out[name] = col.astype(object).where(~missing, None)
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def spark_table(spark, lake: str | os.PathLike, source: str, kind: str):
    """The lake table as a Spark DataFrame (partition columns included, for pruning)."""
    path = table_path(lake, source, kind)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {source} {kind} in the lake (census-audit load {source} … "
                                "--engine spark --lake DIR, or census-audit lake export)")
    return spark.read.option("basePath", str(path)).parquet(str(path))


def export_store(engine: Engine, lake: str | os.PathLike, source: str = "census", *,
                 chunk: int = 500_000) -> dict[str, int]:
    """Copy a source's persons, households and deaths from the store into the lake (replacing
    them there): a county already loaded the local way joins a national run this way, and the
    tests build the Spark backend's input from the very rows the local backend checks."""
    counts = {}
    for kind, model in KINDS.items():
        cols = [getattr(model, c) for c in columns(kind)]
        path = table_path(lake, source, kind)
        written = 0
        with engine.connect() as conn:
            stmt = select(*cols).where(model.source == source).order_by(model.id)
            first = True
            for part in pd.read_sql(stmt, conn, chunksize=chunk):
                write_table(part, lake, source, kind, basename=f"store-{written}-{{i}}.parquet", overwrite=first)
                first = False
                written += len(part)
        if written == 0 and path.exists():
            import shutil

            shutil.rmtree(path)
        counts[kind] = written
    return counts


def fingerprint(lake: str | os.PathLike, source: str) -> str:
    """SHA-256 over the source's Parquet files (relative path and content, in path order): what
    a Spark run read, for the ledger. Any rewritten file changes it."""
    root = Path(lake) / source
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.parquet")) if root.exists() else []:
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def parquet_rows(path: str | os.PathLike) -> int:
    """Rows in a Parquet folder or file (footers only)."""
    p = Path(path)
    files = [p] if p.is_file() else sorted(p.rglob("*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
