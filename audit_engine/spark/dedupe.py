"""``link duplicates`` on Spark: the census's duplicate records found on a cluster, with the very
functions and numbers of the local run (:func:`audit_engine.pes.duplicates.run_link_duplicates`).

National duplicates cross county lines, so nothing here is split by area. Each step is a Spark
job around the local code:

1. persons from the lake, shaped as :func:`~audit_engine.pes.persons.read_persons` shapes them,
   numbered in person-key order (the local order: the same positions, the same random pairs)
   and given their blocking keys by :func:`~audit_engine.linkage.census.person_keys`;
2. blocking: per rule a self-join on its keys (``a.pos < b.pos``), the union keeping the first
   rule that found a pair — per-rule ``pairs`` and ``new`` as :func:`~audit_engine.linkage.blocking.block`;
3. comparisons: :class:`~audit_engine.linkage.compare.Comparer` on batches of pairs, with the
   term frequencies counted over the whole census (not per batch);
4. EM on the comparison patterns and their counts (its sufficient statistics), u from the same
   random pairs as locally, compared on the cluster;
5. match weights and posteriors in the workers; the pairs that may link (weight above the floor:
   the likely duplicates, few) come to the driver for the threshold;
6. clusters: connected components in Spark (:mod:`audit_engine.spark.components`), numbered by
   their first record; the members' records come to the driver for the cluster summary and the
   kept/extra decision (:func:`~audit_engine.linkage.clusters.clusters`,
   :func:`~audit_engine.linkage.clusters.choose_kept` on the members only).

Only patterns, likely-duplicate pairs and cluster members ever reach the driver. Storing is
:func:`audit_engine.pes.duplicates.record_duplicates`, as locally; pairs and members are also
written as Parquet under the run's folder in the lake.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from audit_engine.linkage.blocking import DEFAULT_MAX_PAIRS_PER_RULE, BlockingRule, guard_pairs, random_pairs
from audit_engine.linkage.census import duplicate_settings, person_keys
from audit_engine.linkage.clusters import choose_kept, clusters
from audit_engine.linkage.compare import Comparer, ComparisonMatrix, ComparisonSpec, prepared
from audit_engine.linkage.fellegi_sunter import (
    Model,
    em_patterns,
    estimate_u_patterns,
    match_weights,
    patterns,
    posterior,
)
from audit_engine.linkage.pipeline import Clock, LinkSettings, start_model
from audit_engine.linkage.thresholds import choose_threshold
from audit_engine.pes.duplicates import (
    DuplicateLinks,
    DuplicatesSummary,
    duplicate_links,
    pair_levels,
    record_duplicates,
)
from audit_engine.pes.persons import COLUMNS, shape_persons
from audit_engine.pes.scoring import HIST_BINS, summarise_model
from audit_engine.spark.components import components
from audit_engine.spark.lake import fingerprint, run_dir, spark_table
from rules.check import data_hash

__all__ = ["run_link_duplicates_spark"]

#: record columns the cluster decision and the stored rows need besides the comparisons'
_RECORD = ("person_id", "ea_code", "registration_type")
#: derived columns that are integers (everything else the steps read is text)
_LONG = ("birth_year",)


def _lev(k: int) -> str:
    return f"lev{k}"


def _tfv(name: str) -> str:
    return f"tfv_{name}"


def _tf(name: str) -> str:
    return f"tf_{name}"


@dataclass(frozen=True)
class _Plan:
    """What the workers need to know about the settings: columns and specs."""

    specs: tuple[ComparisonSpec, ...]
    rules: tuple[BlockingRule, ...]

    @property
    def compare_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for s in self.specs for c in (*s.columns("left"), *s.columns("right"))))

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for r in self.rules for c in r.on))

    @property
    def tf_specs(self) -> tuple[ComparisonSpec, ...]:
        return tuple(s for s in self.specs if s.tf)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    @property
    def n_levels(self) -> tuple[int, ...]:
        return tuple(s.n_levels for s in self.specs)

    def record_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*_RECORD, *self.compare_columns, *self.key_columns)))


def _text(values: pd.Series) -> pd.Series:
    """Text as object with None for missing (Arrow needs one null, not NaN / pd.NA)."""
    return values.astype(object).where(values.notna(), None)


# ------------------------------------------------------------------------------ worker functions
def _keyed(plan: _Plan, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Lake rows → the local layout (``shape_persons``), blocking keys (``person_keys``) and the values
    each ``tf`` comparison counts (``prepared``)."""
    for df in batches:
        if df.empty:
            continue
        pos = df["pos"].to_numpy(dtype=np.int64)
        shaped = person_keys(shape_persons(df[list(COLUMNS)].copy()))
        out = pd.DataFrame({"pos": pos})
        for c in plan.record_columns():
            out[c] = pd.array(shaped[c], dtype="Int64") if c in _LONG else _text(shaped[c]).to_numpy()
        for s in plan.tf_specs:
            out[_tfv(s.name)] = _text(pd.Series(prepared(s, shaped))).to_numpy()
        yield out


def _compared(plan: _Plan, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Pairs with both records' columns (``a_*``, ``b_*``) → their levels and tf values, by the
    local :class:`Comparer` with the census-wide frequencies."""
    cols = plan.compare_columns
    for df in batches:
        if df.empty:
            continue
        n = len(df)
        left = pd.DataFrame({c: _text(df[f"a_{c}"]) for c in cols})
        right = pd.DataFrame({c: _text(df[f"b_{c}"]) for c in cols})
        freq = {s.name: (df[f"a_{_tf(s.name)}"].to_numpy(dtype=float), df[f"b_{_tf(s.name)}"].to_numpy(dtype=float))
                for s in plan.tf_specs}
        idx = np.arange(n, dtype=np.int64)
        matrix = Comparer(plan.specs, left, right, frequencies=freq)(idx, idx)
        out = {"l": df["l"].to_numpy(dtype=np.int64), "r": df["r"].to_numpy(dtype=np.int64)}
        for k in range(len(plan.specs)):
            out[_lev(k)] = matrix.levels[:, k]
        for s in plan.tf_specs:
            out[_tf(s.name)] = matrix.tf[s.name]
        yield pd.DataFrame(out)


def _matrix(plan: _Plan, df: pd.DataFrame) -> ComparisonMatrix:
    levels = np.column_stack([df[_lev(k)].to_numpy(dtype=np.int8) for k in range(len(plan.specs))]) \
        if len(df) else np.empty((0, len(plan.specs)), dtype=np.int8)
    tf = {s.name: df[_tf(s.name)].to_numpy(dtype=float) for s in plan.tf_specs}
    return ComparisonMatrix(plan.names, tuple(s.labels for s in plan.specs), levels, tf)


def _scored(plan: _Plan, model: Model, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Levels → match weights and posteriors (:func:`match_weights`, :func:`posterior`)."""
    for df in batches:
        if df.empty:
            continue
        w = match_weights(model, _matrix(plan, df))
        out = df[["l", "r", *(_lev(k) for k in range(len(plan.specs)))]].copy()
        out["weight"] = w
        out["posterior"] = posterior(w)
        yield out


@lru_cache(maxsize=2)
def _random_pairs(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return random_pairs(n, None, size, seed)


def _drawn(n: int, size: int, seed: int, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The random pairs numbered ``id`` of :func:`random_pairs` — the local run's very draws:
    each worker draws them all once (a few MB) and keeps its share, so no task carries them."""
    rl, rr = _random_pairs(n, size, seed)
    for df in batches:
        i = df["id"].to_numpy(dtype=np.int64)
        yield pd.DataFrame({"l": rl[i], "r": rr[i]})


def _histogram(edges: np.ndarray, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Per batch the weights' counts in the run record's bins (``np.histogram`` on the same edges)."""
    for df in batches:
        if df.empty:
            continue
        w = df["weight"].to_numpy(dtype=float)
        counts, _ = np.histogram(w[np.isfinite(w)], bins=edges)
        yield pd.DataFrame({"bin": np.arange(len(counts), dtype=np.int64), "n": counts.astype(np.int64)})


# ------------------------------------------------------------------------------------- the steps
def _persons(spark, lake, plan: _Plan):
    """Census persons numbered in person-key order, with blocking keys and tf values; and n."""
    from pyspark.sql import types as T

    raw = spark_table(spark, lake, "census", "persons").select(*COLUMNS)
    ordered = raw.orderBy("person_key")
    schema = T.StructType([*raw.schema.fields, T.StructField("pos", T.LongType(), False)])
    # zipWithIndex numbers the sorted rows across partitions (one small job counts each partition)
    numbered = spark.createDataFrame(ordered.rdd.zipWithIndex().map(lambda t: (*t[0], t[1])), schema)
    fields = ["pos long"] + [f"{c} {'long' if c in _LONG else 'string'}" for c in plan.record_columns()]
    fields += [f"{_tfv(s.name)} string" for s in plan.tf_specs]
    keyed = numbered.mapInPandas(partial(_keyed, plan), ", ".join(fields))
    return keyed


def _with_frequencies(keyed, plan: _Plan):
    """Each record's tf values' relative frequency over the whole census (as ``_frequencies``:
    the value's count over all non-missing values)."""
    from pyspark.sql import functions as F

    for s in plan.tf_specs:
        v = _tfv(s.name)
        counts = keyed.where(F.col(v).isNotNull()).groupBy(v).agg(F.count(F.lit(1)).alias("n"))
        total = counts.agg(F.sum("n").cast("double").alias("total"))  # one row: no job on the driver
        freq = counts.crossJoin(F.broadcast(total)).select(
            v, (F.col("n").cast("double") / F.greatest(F.col("total"), F.lit(1.0))).alias(_tf(s.name)))
        keyed = keyed.join(freq, v, "left")
    return keyed


def _candidates(keyed, plan: _Plan, max_pairs: int = DEFAULT_MAX_PAIRS_PER_RULE):
    """The union of the rules' self-joins (``l < r``), each pair tagged with the first rule that
    found it; and the per-rule counts as :func:`~audit_engine.linkage.blocking.block` gives them."""
    from pyspark.sql import functions as F

    found, sizes = [], []
    for i, r in enumerate(plan.rules):
        on = list(r.on)
        sub = keyed.select("pos", *on).where(F.expr(" and ".join(f"`{c}` is not null" for c in on)))
        # the pairs a rule makes, from its block sizes, before any pair is made (one job for all rules)
        sizes.append(sub.groupBy(*on).agg(F.count(F.lit(1)).alias("c"))
                     .agg(F.sum(F.col("c") * (F.col("c") - 1) / 2).cast("long").alias("n"))
                     .select(F.lit(i).alias("rule"), "n"))
        a = sub.select(F.col("pos").alias("l"), *on)
        b = sub.select(F.col("pos").alias("r"), *on)
        found.append(a.join(b, on).where(F.col("l") < F.col("r")).select("l", "r", F.lit(i).alias("rule")))
    sizes.append(keyed.agg(F.count(F.lit(1)).cast("long").alias("n")).select(F.lit(-1).alias("rule"), "n"))
    union_sizes = sizes[0]
    for x in sizes[1:]:
        union_sizes = union_sizes.unionByName(x)
    got = {int(r): int(n or 0) for r, n in union_sizes.collect()}
    for i, r in enumerate(plan.rules):
        guard_pairs(got[i], r.label, max_pairs)
    union = found[0]
    for f in found[1:]:
        union = union.unionByName(f)
    cand = union.groupBy("l", "r").agg(F.min("rule").alias("rule"))
    return cand, [got[i] for i in range(len(plan.rules))], got[-1]


def _compare(pairs, records, plan: _Plan, *, sample: bool = False):
    """Levels and tf values of ``pairs`` (``l``, ``r``: positions), compared in the workers.

    ``sample``: the pairs are a sample (random pairs for u) touching few of the records, so the
    records are first cut to those it names (a broadcast semi-join) instead of shuffling all."""
    from pyspark.sql import functions as F

    if sample:
        named = pairs.select(F.col("l").alias("pos")).unionByName(pairs.select(F.col("r").alias("pos"))).distinct()
        records = records.join(F.broadcast(named), "pos", "left_semi")
    cols = [*plan.compare_columns, *(_tf(s.name) for s in plan.tf_specs)]
    a = records.select(F.col("pos").alias("l"), *(F.col(c).alias(f"a_{c}") for c in cols))
    b = records.select(F.col("pos").alias("r"), *(F.col(c).alias(f"b_{c}") for c in cols))
    joined = pairs.select("l", "r").join(a, "l").join(b, "r")
    fields = ["l long", "r long"] + [f"{_lev(k)} byte" for k in range(len(plan.specs))]
    fields += [f"{_tf(s.name)} double" for s in plan.tf_specs]
    return joined.mapInPandas(partial(_compared, plan), ", ".join(fields))


def _patterns(compared, plan: _Plan):
    """The distinct comparison patterns and their counts (EM's sufficient statistics)."""
    from pyspark.sql import functions as F

    levs = [_lev(k) for k in range(len(plan.specs))]
    rows = compared.groupBy(*levs).agg(F.count(F.lit(1)).alias("n")).toPandas()
    levels = rows[levs].to_numpy(dtype=np.int8) if len(rows) else np.empty((0, len(levs)), dtype=np.int8)
    return patterns(levels, plan.n_levels, rows["n"].to_numpy(dtype=np.int64))


def _weight_histogram(scored) -> dict:
    """``np.histogram(weights, bins=40)`` of all candidate pairs' finite weights, counted in the
    workers on the edges the local run would have (they depend only on the minimum and maximum)."""
    from pyspark.sql import functions as F

    finite = scored.where(~F.isnan("weight") & (F.abs(F.col("weight")) != float("inf")))
    lo, hi = finite.agg(F.min("weight"), F.max("weight")).collect()[0]
    if lo is None:
        return {"edges": [0.0], "counts": []}
    edges = np.histogram_bin_edges(np.array([lo, hi], dtype=float), bins=HIST_BINS)
    part = (scored.select("weight").mapInPandas(partial(_histogram, edges), "bin long, n long")
            .groupBy("bin").agg(F.sum("n").alias("n")).toPandas())
    counts = np.zeros(len(edges) - 1, dtype=np.int64)
    counts[part["bin"].to_numpy(dtype=np.int64)] = part["n"].to_numpy(dtype=np.int64)
    return {"edges": [float(x) for x in edges], "counts": [int(x) for x in counts]}


def _find(spark, lake, settings: LinkSettings, run_id: int, say: Callable[[str], None],
          engine: Engine) -> DuplicateLinks:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    plan = _Plan(tuple(settings.comparisons), tuple(settings.rules))
    clock = Clock()
    cached = []

    def keep(df):
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(df)
        return df

    try:
        say("reading census persons from the lake")
        records = keep(_with_frequencies(keep(_persons(spark, lake, plan)), plan))
        cand, rule_pairs, n = _candidates(records, plan)
        if n == 0:
            raise ValueError("no census persons in the lake (census-audit lake export, or load --engine spark)")
        if n < 2:
            raise ValueError("a dedup needs at least two records")
        say(f"linking {n:,} census persons against each other")
        cand = keep(cand)
        new = {int(r): int(c) for r, c in cand.groupBy("rule").count().collect()}
        n_cand = sum(new.values())
        counts = pd.DataFrame([{"rule": r.label, "pairs": p, "new": int(new.get(i, 0))}
                               for i, (r, p) in enumerate(zip(plan.rules, rule_pairs, strict=True))],
                              columns=["rule", "pairs", "new"])
        clock.lap("block")
        compared = keep(_compare(cand, records, plan))
        pat = _patterns(compared, plan)
        clock.lap("compare")

        n_pop = n * (n - 1) // 2 if settings.u_from_random_pairs else n_cand
        u = None
        if settings.u_from_random_pairs:
            rand = spark.range(settings.random_pairs).mapInPandas(
                partial(_drawn, int(n), int(settings.random_pairs), int(settings.seed)), "l long, r long")
            sample = 2 * settings.random_pairs < n  # the draws name few of the records: cut those first
            u = estimate_u_patterns(_patterns(_compare(rand, records, plan, sample=sample), plan), plan.n_levels)
        clock.lap("u")
        start = start_model(plan.names, plan.n_levels, settings, smaller=n, n_pop=n_pop, u=u)
        model = em_patterns(pat, start, fix_u=settings.u_from_random_pairs, n_pairs=n_pop,
                            max_iter=settings.max_iter, tol=settings.tol, fix_m=tuple(settings.fixed_m or {}))
        clock.lap("em")

        fields = ["l long", "r long"] + [f"{_lev(k)} byte" for k in range(len(plan.specs))]
        scored = keep(compared.mapInPandas(partial(_scored, plan, model),
                                           ", ".join([*fields, "weight double", "posterior double"])))
        likely = scored.where(F.col("weight") > F.lit(float(settings.assign_floor)))
        kept = likely.toPandas().sort_values(["l", "r"], ignore_index=True)
        expected = float(model.prior * n_pop)
        clock.lap("score+assign")
        post = kept["posterior"].to_numpy(dtype=float)
        upper = choose_threshold(post, settings.target_fmr, None, expected_matches=expected)
        match = post >= upper.posterior_min
        clock.lap("threshold")
        hist = _weight_histogram(scored)

        say(f"{int(match.sum()):,} duplicate pairs; clustering")
        matched = likely.where(F.col("posterior") >= F.lit(float(upper.posterior_min))).select("l", "r")
        labels = keep(components(matched, "l", "r"))
        members = (labels.join(records, labels["node"] == records["pos"])
                   .select("pos", "label", *_RECORD).toPandas().sort_values("pos", ignore_index=True))
        pairs = kept[match].reset_index(drop=True)
        weights = pairs["weight"].to_numpy(dtype=float)
        table, left, right, cl, decided = _decide(members, pairs, weights)

        levels = pairs[[_lev(k) for k in range(len(plan.specs))]].to_numpy(dtype=np.int8)
        summary = summarise_model(model, tuple(s.labels for s in plan.specs), upper, upper,
                                  blocking=counts.to_dict("records"), candidates=int(n_cand), histogram=hist,
                                  seconds=clock.seconds)
        found = duplicate_links(table, left, right, weights, pairs["posterior"].to_numpy(dtype=float),
                                pair_levels(plan.names, levels), cl, decided, persons=int(n),
                                candidates=int(n_cand), model=summary)
        _write_parquet(found, lake, run_id, engine)
        return found
    finally:
        for df in cached:
            df.unpersist()


def _decide(members: pd.DataFrame, pairs: pd.DataFrame, weights: np.ndarray):
    """Clusters and kept/extra roles on the members' records only (``members``: ``pos``,
    ``label`` from :func:`components`, the record columns; ``pairs``: the matched ``l``, ``r``).

    Positions are renumbered 0.. in their own order, which changes neither the clusters'
    numbering (by first record) nor any decision, so :func:`clusters` and :func:`choose_kept`
    give what they give on the whole census. Returns the members' table, the pairs' new
    positions, the clusters and the decision."""
    table = pd.DataFrame({c: _text(members[c]) for c in _RECORD})
    positions = members["pos"].to_numpy(dtype=np.int64)
    left = np.searchsorted(positions, pairs["l"].to_numpy(dtype=np.int64))
    right = np.searchsorted(positions, pairs["r"].to_numpy(dtype=np.int64))
    cl = clusters(len(table), left, right, weights)
    # Spark's components, numbered by their smallest (first) record, are these clusters
    label = members["label"].to_numpy(dtype=np.int64)
    if not np.array_equal(np.searchsorted(np.unique(label), label) + 1, cl.record_cluster):
        raise RuntimeError("Spark's connected components disagree with the clusters of the matched pairs")
    return table, left, right, cl, choose_kept(cl, table)


def _write_parquet(found: DuplicateLinks, lake, run_id: int, engine: Engine) -> None:
    """The run's pairs and cluster members beside the lake (``runs/link-duplicates-<id>-<start>/``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = run_dir(lake, "link duplicates", run_id, engine)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(found.pairs, preserve_index=False), out / "pairs.parquet")
    pq.write_table(pa.Table.from_pandas(found.members, preserve_index=False), out / "members.parquet")


def run_link_duplicates_spark(engine: Engine, spark, lake, operator: str, *, target_fmr: float = 0.001,
                              progress: Callable[[str], None] | None = None) -> DuplicatesSummary:
    """:func:`~audit_engine.pes.duplicates.run_link_duplicates` on Spark, reading the census
    persons from ``lake``: the same pairs, weights, clusters, roles and review items, stored in
    the store ``engine`` the same way; the ledger entry adds ``engine: spark`` and the lake's
    fingerprint."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    params = {"kind": "duplicate", "target_fmr": target_fmr, "engine": "spark"}
    inputs = {"census": data_hash(engine, "census"), "lake": fingerprint(lake, "census")}
    settings = duplicate_settings(target_fmr=target_fmr)
    return record_duplicates(engine, operator, params, inputs,
                             lambda run_id: _find(spark, lake, settings, run_id, say, engine), say=say, t0=t0)
