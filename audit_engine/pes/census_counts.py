"""Census counts for the dual-system estimate: every census person counted once, by design
stratum, urban/rural, sex and age — from the store (one SQL aggregate) or from the lake.

The estimate needs the census count ``C`` of each stratum × post-stratum cell over the *whole*
census, not just the sample EAs. Post-strata are built from sex, age and the EA's urban code,
and the stratum is the EA's, so the finest table the estimate can need is (stratum, urban, sex,
age): a few thousand rows however large the census. Both readers reduce to that table the same
way (integer sums, so the order rows are added in cannot change a count) and sort it, so the
estimate sees the same input whichever holds the census.

From the lake this is a column scan of three columns (``ea_code``, ``sex``, ``age``) of every
census person, one county partition at a time (memory: one county's rows): at national scale
minutes of local I/O, no Spark needed — the rest of ``estimate`` reads only the sample EAs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from sqlalchemy import Engine, func, select

from audit_engine.store.models import Person

#: the reduced table's columns and types (age int64: missing ages stay missing, as in the store)
CELLS = pa.schema([("stratum", pa.string()), ("urban", pa.bool_()), ("sex", pa.string()), ("age", pa.int64()),
                   ("n", pa.int64())])
_KEYS = ["stratum", "urban", "sex", "age"]


@dataclass(frozen=True)
class CensusCells:
    """``cells``: stratum, urban (bool), sex (None when missing), age (int64, or float64 with
    NaN when an age is missing — as the store's aggregate gives it), n; sorted by the keys.
    ``outside_frame``: census persons in EAs the frame does not know (counted nowhere)."""

    cells: pd.DataFrame
    outside_frame: int

    @property
    def persons(self) -> int:
        return int(self.cells["n"].sum()) + self.outside_frame


def _reduce(ea_cells: pd.DataFrame, stratum_of: pd.Series, urban: pd.Series) -> tuple[pa.Table, int]:
    """(ea_code, sex, age, n) → (stratum, urban, sex, age, n) summed, and the persons whose EA
    has no stratum. ``stratum_of`` / ``urban``: indexed by EA code (urban missing = rural)."""
    ea = ea_cells["ea_code"].astype(str)
    stratum = stratum_of.reindex(ea).to_numpy(dtype=object)
    known = ~pd.isna(stratum)
    n = pd.array(ea_cells["n"], dtype="Int64").to_numpy(dtype="int64")
    outside = int(n[~known].sum())
    sex = ea_cells["sex"].astype(object).where(ea_cells["sex"].notna(), None).to_numpy(dtype=object)
    t = pa.table({"stratum": pa.array(stratum[known].astype(str), pa.string()),
                  "urban": pa.array(urban.reindex(ea, fill_value=False).to_numpy(dtype=bool)[known], pa.bool_()),
                  "sex": pa.array(sex[known], pa.string()),
                  "age": pa.array(pd.array(ea_cells["age"], dtype="Int64")[known], pa.int64()),
                  "n": pa.array(n[known], pa.int64())}, schema=CELLS)
    return _sum(t), outside


def _sum(t: pa.Table) -> pa.Table:
    """Sum ``n`` per (stratum, urban, sex, age); missing keys are a group of their own."""
    out = t.group_by(_KEYS).aggregate([("n", "sum")]).rename_columns(_KEYS + ["n"])
    return out.cast(CELLS)


def _finish(parts: list[pa.Table], outside: int) -> CensusCells:
    t = _sum(pa.concat_tables(parts)) if parts else CELLS.empty_table()
    t = t.sort_by([(k, "ascending", "at_start") for k in _KEYS])
    df = t.to_pandas()      # age: int64, or float64 with NaN (as pd.read_sql); sex: None when missing
    return CensusCells(df.reset_index(drop=True), outside)


def from_store(engine: Engine, stratum_of: pd.Series, urban: pd.Series) -> CensusCells:
    """The store's census persons, aggregated in SQL by EA, sex and age, then reduced."""
    with engine.connect() as conn:
        ea_cells = pd.read_sql(select(Person.ea_code, Person.sex, Person.age, func.count().label("n"))
                               .where(Person.source == "census")
                               .group_by(Person.ea_code, Person.sex, Person.age), conn)
    if ea_cells.empty:
        return _finish([], 0)
    t, outside = _reduce(ea_cells, stratum_of, urban)
    return _finish([t], outside)


def from_lake(lake: str | os.PathLike, stratum_of: pd.Series, urban: pd.Series) -> CensusCells:
    """The lake's census persons: each county partition's ``ea_code``, ``sex``, ``age`` read,
    counted by EA, sex and age (pyarrow), reduced; the partial tables summed at the end."""
    from audit_engine.spark.lake import dataset_of, table_path

    path = table_path(lake, "census", "persons")
    if not path.exists():
        return _finish([], 0)
    dataset = dataset_of(path)
    by_county: dict[str, list] = {}
    for frag in dataset.get_fragments():
        county = ds.get_partition_keys(frag.partition_expression).get("county", "")
        by_county.setdefault(str(county), []).append(frag)
    parts, outside = [], 0
    for county in sorted(by_county):
        rows = pa.concat_tables([f.to_table(columns=["ea_code", "sex", "age"]) for f in by_county[county]])
        if rows.num_rows == 0:
            continue
        rows = rows.cast(pa.schema([("ea_code", pa.string()), ("sex", pa.string()), ("age", pa.int64())]))
        counted = rows.group_by(["ea_code", "sex", "age"]).aggregate([([], "count_all")])
        ea_cells = counted.rename_columns(["n" if c == "count_all" else c for c in counted.column_names]).to_pandas(
            types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        t, out = _reduce(ea_cells, stratum_of, urban)
        parts.append(t)
        outside += out
    return _finish(parts, outside)
