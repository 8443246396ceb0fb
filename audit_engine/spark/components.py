"""Connected components of a graph held as a Spark DataFrame of edges (duplicate clusters).

GraphFrames is not available offline, and collecting a national link graph to one machine is
what the Spark backend exists to avoid, so the components are found with DataFrame joins by the
*large-star / small-star* alternation (Kiveris et al., "Connected Components in MapReduce and
Beyond", SoCC 2014). Both steps rewire each node's edges towards the smallest node in its
neighbourhood without ever splitting or merging components; the alternation ends in a set of
stars, each centred on its component's smallest node, after O(log² n) rounds — a chain of a
thousand nodes, which plain min-label propagation needs a thousand joins for, takes a handful.

Node ids are integers (record positions); a component's label is its smallest node, which is
exactly what :func:`audit_engine.linkage.clusters.clusters` numbers its clusters by ("in the
order of each cluster's first record").
"""

from __future__ import annotations

__all__ = ["MAX_ROUNDS", "components"]

#: a safety net: the alternation converges in O(log² n) rounds, far fewer than this
MAX_ROUNDS = 200


def _undirected(edges):
    """Each edge once as (hi, lo), hi > lo; self-loops dropped."""
    from pyspark.sql import functions as F

    return (edges.where(F.col("a") != F.col("b"))
            .select(F.greatest("a", "b").alias("a"), F.least("a", "b").alias("b")).distinct())


def _both(edges):
    """Every edge in both directions as (src, dst)."""
    from pyspark.sql import functions as F

    return (edges.select(F.col("a").alias("src"), F.col("b").alias("dst"))
            .unionByName(edges.select(F.col("b").alias("src"), F.col("a").alias("dst"))))


def _large_star(edges):
    """Each node u links its *larger* neighbours to the smallest of u and its neighbours."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    low = F.least(F.min("dst").over(Window.partitionBy("src")), F.col("src"))
    out = (_both(edges).select("src", "dst", low.alias("m")).where(F.col("dst") > F.col("src"))
           .select(F.col("dst").alias("a"), F.col("m").alias("b")))
    return _undirected(out)


def _small_star(edges):
    """Each node u links itself and its *smaller* neighbours to the smallest of them."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    low = F.min("dst").over(Window.partitionBy("src"))
    smaller = _both(edges).where(F.col("dst") < F.col("src")).select("src", "dst", low.alias("m"))
    # per edge (u, v), v < u: the spoke v–m and the centre u–m (each once after the distinct)
    spoke = F.explode(F.array(F.struct(F.col("dst").alias("a"), F.col("m").alias("b")),
                              F.struct(F.col("src").alias("a"), F.col("m").alias("b"))))
    out = smaller.select(spoke.alias("e")).select("e.a", "e.b")
    return _undirected(out)


def components(edges, src: str = "src", dst: str = "dst", *, checkpoint: bool = True):
    """``(node, label)`` for every node of ``edges`` (a DataFrame with integer columns ``src``
    and ``dst``, read as undirected): ``label`` is the smallest node of the node's component.
    Nodes that are in no edge are not in the result (they are their own components).

    Each round's edges are cut from their lineage (``localCheckpoint``) so that the plan does
    not grow with the rounds.
    """
    from pyspark.sql import functions as F

    current = _undirected(edges.select(F.col(src).cast("long").alias("a"), F.col(dst).cast("long").alias("b")))
    current = current.localCheckpoint() if checkpoint else current.cache()
    for _ in range(MAX_ROUNDS):
        nxt = _small_star(_large_star(current))
        nxt = nxt.localCheckpoint() if checkpoint else nxt.cache()
        # both are sets: equal when no edge is in one only (one job, not two)
        differ = (nxt.withColumn("_new", F.lit(True))
                  .join(current.withColumn("_old", F.lit(True)), ["a", "b"], "full_outer")
                  .where(F.col("_new").isNull() | F.col("_old").isNull()))
        same = differ.isEmpty()
        current = nxt
        if same:
            break
    else:  # pragma: no cover - the alternation provably converges long before
        raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")
    # a set of stars: every edge joins a node (a) to its component's smallest node (b)
    labels = current.select(F.col("a").alias("node"), F.col("b").alias("label"))
    centres = current.select(F.col("b").alias("node"), F.col("b").alias("label"))
    return labels.unionByName(centres).groupBy("node").agg(F.min("label").alias("label"))
