"""``link duplicates``: the same person enumerated twice anywhere in the census.

Reads every census person, runs the unsupervised duplicate linkage
(:func:`~audit_engine.linkage.census.duplicate_settings`), groups the linked pairs into clusters
(connected components), decides in each cluster which record is the correct enumeration and
which are extra, and stores pairs, clusters and one review item per cluster. The run's model,
thresholds and blocking counts go into the run summary; counts and hashes into the ledger.

Two backends find the duplicates — :func:`run_link_duplicates` here on one machine, and
:func:`audit_engine.spark.dedupe.run_link_duplicates_spark` on a cluster — and both hand a
:class:`DuplicateLinks` to :func:`record_duplicates`, the one place that stores and records a run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from audit_engine.ledger import append as ledger_append
from audit_engine.linkage import dedupe
from audit_engine.linkage.census import duplicate_settings, person_keys
from audit_engine.linkage.clusters import Clusters, Kept, choose_kept, clusters
from audit_engine.linkage.compare import ComparisonMatrix
from audit_engine.pes.persons import read_persons
from audit_engine.pes.scoring import bands, levels_json, model_summary
from audit_engine.review.items import NewItem, add_items
from audit_engine.store.bulk import insert_rows
from audit_engine.store.models import ClusterMember, LinkPair
from audit_engine.store.runs import finish_run, start_run
from rules.check import data_hash


@dataclass
class DuplicatesSummary:
    run_id: int
    persons: int
    candidates: int
    pairs: int
    clusters: int
    extra_records: int
    weak_clusters: int
    review_items: int
    threshold: dict
    seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class DuplicateLinks:
    """What a backend found, in person keys, ready to store: the census's size, the candidate
    pairs' count, the matched ``pairs`` (``left_key``, ``right_key``, ``left_ea``, ``right_ea``,
    ``weight``, ``posterior``, ``levels``, ``cluster``), the cluster ``members`` (``cluster``,
    ``person_key``, ``ea_code``, ``role``, ``evidence``), the ``clusters`` (``cluster``,
    ``kept_ea``, ``weak``, ``evidence``) and the model summary for the run record."""

    persons: int
    candidates: int
    pairs: pd.DataFrame
    members: pd.DataFrame
    clusters: pd.DataFrame
    model: dict


def duplicate_links(table: pd.DataFrame, left: np.ndarray, right: np.ndarray, weights: np.ndarray,
                    posteriors: np.ndarray, levels: list[str], cl: Clusters, kept: Kept, *, persons: int,
                    candidates: int, model: dict) -> DuplicateLinks:
    """The matched pairs (positions ``left``/``right`` into ``table``, which holds ``person_id``
    and ``ea_code``: the whole census locally, only the clusters' members on Spark), their
    clusters ``cl`` and kept/extra roles ``kept`` in person keys."""
    keys = table["person_id"].to_numpy(dtype=object)
    eas = table["ea_code"].to_numpy(dtype=object)
    pairs = pd.DataFrame({
        "left_key": keys[left], "right_key": keys[right], "left_ea": eas[left], "right_ea": eas[right],
        "weight": weights, "posterior": posteriors, "levels": levels,
        "cluster": cl.record_cluster[left].astype(int),
    })
    members = kept.members
    member_rows = pd.DataFrame({
        "cluster": members["cluster"].astype(int), "person_key": keys[members["record"]],
        "ea_code": eas[members["record"]], "role": members["role"], "evidence": members["evidence"],
    })
    kc = kept.clusters
    cluster_rows = pd.DataFrame({"cluster": kc["cluster"].astype(int),
                                 "kept_ea": [str(eas[int(k)]) for k in kc["kept"]],
                                 "weak": kc["weak"].astype(bool), "evidence": kc["evidence"]})
    return DuplicateLinks(persons, candidates, pairs, member_rows, cluster_rows, model)


def record_duplicates(engine: Engine, operator: str, params: dict, inputs: dict,
                      find: Callable[[int], DuplicateLinks], *, say: Callable[[str], None],
                      t0: float) -> DuplicatesSummary:
    """Start the run, let ``find`` (given the run id) find the duplicates, store its pairs,
    cluster members and one review item per cluster, and record the run and the ledger entry —
    the same for every backend. A failure marks the run failed and is raised."""
    run_id = start_run(engine, "link duplicates", operator, params)
    try:
        found = find(run_id)
        pairs = found.pairs.assign(run_id=run_id, kind="duplicate", status="match")
        pairs = pairs[["run_id", "kind", "left_key", "right_key", "left_ea", "right_ea", "weight", "posterior",
                       "levels", "status", "cluster"]]
        member_rows = found.members.assign(run_id=run_id)
        member_rows = member_rows[["run_id", "cluster", "person_key", "ea_code", "role", "evidence"]]
        items = [NewItem("cluster", str(int(c.cluster)), str(c.kept_ea), json.loads(c.evidence))
                 for c in found.clusters.itertuples(index=False)]
        say(f"storing {len(pairs):,} pairs, {len(member_rows):,} cluster members, {len(items):,} review items")
        with engine.begin() as conn:
            insert_rows(conn, LinkPair, pairs)
            insert_rows(conn, ClusterMember, member_rows)
            n_items = add_items(conn, run_id, items)
        summary = DuplicatesSummary(
            run_id, found.persons, found.candidates, len(pairs), int(found.clusters.shape[0]),
            int((member_rows["role"] == "extra").sum()), int(found.clusters["weak"].sum()), n_items,
            found.model["upper"], round(time.perf_counter() - t0, 2))
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted or failed; this run's results are incomplete, run again"},
                   "failed")
        raise
    finish_run(engine, run_id, {**summary.to_dict(), "model": found.model})
    ledger_append(engine, operator=operator, command="link duplicates", params={**params, "run_id": run_id},
                  inputs=inputs, result={k: v for k, v in summary.to_dict().items() if k not in ("seconds",)})
    return summary


def run_link_duplicates(engine: Engine, operator: str, *, target_fmr: float = 0.001,
                        progress: Callable[[str], None] | None = None) -> DuplicatesSummary:
    """Find, cluster and store the census's duplicate records; record the run in the ledger."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    dhash = data_hash(engine, "census")
    params = {"kind": "duplicate", "target_fmr": target_fmr}

    def find(_run_id: int) -> DuplicateLinks:
        say("reading census persons")
        census = read_persons(engine, "census")
        if census.empty:
            raise ValueError("no census persons are loaded (census-audit load census persons.csv)")
        settings = duplicate_settings(target_fmr=target_fmr)
        say(f"linking {len(census):,} census persons against each other")
        res = dedupe(person_keys(census), settings)
        b = bands(res, settings, target_fnmr=None)
        pos = np.flatnonzero(b.match)
        left, right = res.candidates.left[pos], res.candidates.right[pos]
        say(f"{len(pos):,} duplicate pairs; clustering")
        cl = clusters(len(census), left, right, b.weights[pos])
        kept = choose_kept(cl, census)
        return duplicate_links(census, left, right, b.weights[pos], b.posteriors[pos], levels_json(res, pos), cl,
                               kept, persons=len(census), candidates=len(res.candidates),
                               model=model_summary(res, b))

    return record_duplicates(engine, operator, params, {"census": dhash}, find, say=say, t0=t0)


def pair_levels(names: tuple[str, ...], levels: np.ndarray) -> list[str]:
    """:func:`~audit_engine.pes.scoring.levels_json` of a level matrix of pairs (no LinkResult)."""
    matrix = ComparisonMatrix(tuple(names), tuple(() for _ in names), np.asarray(levels), {})
    return levels_json(SimpleNamespace(comparisons=matrix), np.arange(len(matrix)))
