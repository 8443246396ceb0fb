"""``check --engine spark``: the rule set over the lake, EA group by EA group, on Spark.

Spark does only what is not a rule: it reads the lake (pruned to a county when ``area`` names
one), finds the values held twice anywhere in the source (one ``groupBy().count()`` per field a
dataset rule needs, joined back to the persons as a mark), and sends every enumeration area
whole — persons, households, deaths — to one group. Inside ``applyInPandas`` each group goes
through :func:`rules.check.check_group`, the very function the local backend calls per EA group:
frames, ``confront``, the localiser, the flag rows. The worker rebuilds the ``duplicates`` dict
from its own rows' marks, so no national set of ID numbers ever sits on the driver.

The frames a worker builds must equal the local ones, so the lake's rows are first put in the
shape ``pandas.read_sql`` gives the local backend (:func:`audit_engine.spark.lake.store_shaped`). Flags go to Parquet in
the run's folder of the lake and, unless told not to, into the store's ``flags`` table, from
that Parquet, so the two never differ. The run and its ledger entry are the local ones plus
``engine: spark`` and the lake's fingerprint.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from sqlalchemy import Engine, insert

from audit_engine.spark.lake import (
    arrow_schema,
    columns,
    fingerprint,
    run_dir,
    spark_table,
    store_shaped,
    table_path,
)
from audit_engine.store.models import Flag
from audit_engine.store.runs import finish_run, start_run
from rules.check import (
    CHUNK_PERSONS,
    CheckSummary,
    Localiser,
    add_counts,
    check_group,
    data_hash,
    dataset_fields,
    finish_check,
    new_totals,
)
from rules.ruleset import RuleSet

__all__ = ["FLAG_COLUMNS", "run_check_spark"]

KIND = "__kind"            # which table a row of the union came from
GROUP = "__group"          # the EA group a row goes to
DUP = "__dup_"             # prefix of the "value held twice in the source" marks
INSERT_ROWS = 20_000       # flags per INSERT into the store
#: the flags table's columns (less ``id``), as written to Parquet and inserted into the store
FLAG_COLUMNS = ("run_id", "rule_id", "severity", "scope", "source", "record_key", "ea_code", "fields", "values",
                "suggestion", "status")
_TEXT_OUT = ("rule_id", "severity", "scope", "record_key", "ea_code", "fields", "values", "suggestion")
_COUNT_OUT = ("items", "passes", "fails", "na", "persons", "households", "deaths")
#: what a worker returns: "flag" rows, one "count" row per rule, one "size" row per group
OUT_SCHEMA = ", ".join(["row string", *(f"`{c}` string" for c in _TEXT_OUT), *(f"{c} long" for c in _COUNT_OUT)])


# ------------------------------------------------------------------------------- in the worker
def _worker(ruleset: RuleSet, localiser: Localiser | None, run_id: int, source: str, dup_fields: list[str]):
    """The function each EA group runs through (closed over what cloudpickle ships to workers)."""

    def check(pdf: pd.DataFrame) -> pd.DataFrame:
        kind = pdf[KIND]
        tables = {k: store_shaped(pdf[kind == k], k) for k in ("persons", "households", "deaths")}
        raw_persons = pdf[kind == "persons"]
        duplicates = {f: set(raw_persons.loc[raw_persons[DUP + f].eq(True), f]) for f in dup_fields}
        got = check_group(ruleset, tables["persons"], tables["households"], tables["deaths"], duplicates,
                          run_id=run_id, source=source, localiser=localiser)
        rows = [{"row": "flag", **{c: r[c] for c in _TEXT_OUT}} for r in got.rows]
        rows += [{"row": "count", "rule_id": rid, **c} for rid, c in got.counts.items()]
        rows.append({"row": "size", "persons": got.persons, "households": got.households, "deaths": got.deaths})
        out = pd.DataFrame(rows, columns=["row", *_TEXT_OUT, *_COUNT_OUT])
        for c in _COUNT_OUT:
            out[c] = out[c].astype("Int64")
        for c in _TEXT_OUT:   # a column with no text at all (no suggestion without a localiser) is float NaN
            out[c] = out[c].astype(object).where(out[c].notna(), None)
        return out

    return check


# ------------------------------------------------------------------------------- on the driver
def _lake_table(spark, lake, source: str, kind: str):
    """The lake table, or an empty one of its schema (a source without reported deaths)."""
    if table_path(lake, source, kind).exists():
        return spark_table(spark, lake, source, kind)
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    schema = StructType([StructField(f.name, IntegerType() if pa.types.is_integer(f.type) else StringType())
                         for f in arrow_schema(kind)])
    return spark.createDataFrame([], schema)


def _in_area(df, area: str | None):
    """Rows of EAs under ``area``; partition pruning on province/county when the code is long
    enough to name them (partition values may be inferred as integers: compared as text)."""
    from pyspark.sql import functions as F

    if not area:
        return df
    if "province" in df.columns and len(area) >= 2:
        df = df.where(F.col("province").cast("string") == F.lit(area[:2]))
    if "county" in df.columns and len(area) >= 6:
        df = df.where(F.col("county").cast("string") == F.lit(area[:6]))
    return df.where(F.col("ea_code").startswith(area))


def _insert_flags(engine: Engine, folder: os.PathLike) -> int:
    """Copy the run's flag Parquet into the store, ``INSERT_ROWS`` at a time."""
    if not any(Path(folder).glob("*.parquet")):
        return 0
    dataset = ds.dataset(str(folder), format="parquet")
    n = 0
    for batch in dataset.to_batches(columns=list(FLAG_COLUMNS), batch_size=INSERT_ROWS):
        rows = batch.to_pylist()
        if rows:
            with engine.begin() as conn:
                conn.execute(insert(Flag), rows)
            n += len(rows)
    return n


def run_check_spark(engine: Engine, spark, lake: str | os.PathLike, ruleset: RuleSet, *, operator: str,
                    source: str = "census", area: str | None = None, localiser: Localiser | None = None,
                    chunk_persons: int = CHUNK_PERSONS, store_flags: bool = True,
                    progress: Callable[[int, int], None] | None = None) -> CheckSummary:
    """Check the lake's ``source`` on Spark; flags to Parquet (and the store); run and ledger as
    the local :func:`rules.check.run_check`, which gives the same flags and counts."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    dhash = data_hash(engine, source)
    params = {"ruleset": ruleset.name, "ruleset_hash": ruleset.content_hash, "source": source, "area": area,
              "engine": "spark"}
    run_id = start_run(engine, "check", operator, params)
    summary = CheckSummary(run_id, ruleset.name, ruleset.content_hash, dhash, source, area, 0, 0, 0)
    totals = new_totals(ruleset)
    out = None
    try:
        lake_print = fingerprint(lake, source)
        everyone = _lake_table(spark, lake, source, "persons")
        persons = _in_area(everyone, area).select(*columns("persons"))
        n_groups = max(1, math.ceil(persons.count() / max(chunk_persons, 1)))
        households = _in_area(_lake_table(spark, lake, source, "households"), area).select(*columns("households"))
        deaths = _in_area(_lake_table(spark, lake, source, "deaths"), area).select(*columns("deaths"))
        # Values held by more than one person anywhere in the source (not only in the area, as locally).
        dup_fields = dataset_fields(ruleset)
        for f in dup_fields:
            held_twice = (everyone.where(F.col(f).isNotNull()).groupBy(f).count().where(F.col("count") > 1)
                          .select(f, F.lit(True).alias(DUP + f)))
            persons = persons.join(held_twice, on=f, how="left")
        # As locally: the EAs checked are those with persons or households; their deaths come along.
        eas = persons.select("ea_code").union(households.select("ea_code")).distinct()
        deaths = deaths.join(eas, on="ea_code", how="left_semi")
        union = (persons.withColumn(KIND, F.lit("persons"))
                 .unionByName(households.withColumn(KIND, F.lit("households")), allowMissingColumns=True)
                 .unionByName(deaths.withColumn(KIND, F.lit("deaths")), allowMissingColumns=True)
                 .withColumn(GROUP, F.pmod(F.xxhash64("ea_code"), F.lit(n_groups))))
        if progress:
            progress(0, n_groups)
        out = (union.groupBy(GROUP).applyInPandas(_worker(ruleset, localiser, run_id, source, dup_fields),
                                                  schema=OUT_SCHEMA)
               .persist(StorageLevel.MEMORY_AND_DISK))
        folder = run_dir(lake, "check", run_id, engine) / "flags"
        lit = {"run_id": F.lit(run_id).cast("long"), "source": F.lit(source), "status": F.lit("open")}
        (out.where(F.col("row") == "flag")
            .select(*[lit[c].alias(c) if c in lit else F.col(c) for c in FLAG_COLUMNS])
            .write.mode("overwrite").parquet(str(folder)))
        # One small job: per rule its counts, and (rule_id null) the group sizes.
        sums = (out.where(F.col("row") != "flag").groupBy("row", "rule_id")
                .agg(*[F.sum(c).alias(c) for c in _COUNT_OUT]).collect())
        add_counts(totals, {r["rule_id"]: {k: int(r[k]) for k in ("items", "passes", "fails", "na")}
                            for r in sums if r["row"] == "count"})
        for r in sums:
            if r["row"] == "size":
                summary.persons, summary.households, summary.deaths = (int(r[c] or 0) for c in
                                                                         ("persons", "households", "deaths"))
        if progress:
            progress(n_groups, n_groups)
        summary.flags = _insert_flags(engine, folder) if store_flags else _parquet_count(folder)
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted; flags of this run are incomplete, run check again"}, "failed")
        raise
    finally:
        if out is not None:
            out.unpersist()
    summary.rules = list(totals.values())
    finish_check(engine, summary, ruleset, params, operator=operator, t0=t0, inputs={"lake": lake_print})
    return summary


def _parquet_count(folder: os.PathLike) -> int:
    if not any(Path(folder).glob("*.parquet")):
        return 0
    return ds.dataset(str(folder), format="parquet").count_rows()
