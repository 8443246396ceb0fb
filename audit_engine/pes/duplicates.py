"""``link duplicates``: the same person enumerated twice anywhere in the census.

Reads every census person, runs the unsupervised duplicate linkage
(:func:`~audit_engine.linkage.census.duplicate_settings`), groups the linked pairs into clusters
(connected components), decides in each cluster which record is the correct enumeration and
which are extra, and stores pairs, clusters and one review item per cluster. The run's model,
thresholds and blocking counts go into the run summary; counts and hashes into the ledger.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from audit_engine.ledger import append as ledger_append
from audit_engine.linkage import dedupe
from audit_engine.linkage.census import duplicate_settings, person_keys
from audit_engine.linkage.clusters import choose_kept, clusters
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


def run_link_duplicates(engine: Engine, operator: str, *, target_fmr: float = 0.001,
                        progress: Callable[[str], None] | None = None) -> DuplicatesSummary:
    """Find, cluster and store the census's duplicate records; record the run in the ledger."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    dhash = data_hash(engine, "census")
    params = {"kind": "duplicate", "target_fmr": target_fmr}
    run_id = start_run(engine, "link duplicates", operator, params)
    try:
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
        keys = census["person_id"].to_numpy(dtype=object)
        eas = census["ea_code"].to_numpy(dtype=object)
        pair_cluster = cl.record_cluster[left]
        pairs = pd.DataFrame({
            "run_id": run_id, "kind": "duplicate", "left_key": keys[left], "right_key": keys[right],
            "left_ea": eas[left], "right_ea": eas[right], "weight": b.weights[pos], "posterior": b.posteriors[pos],
            "levels": levels_json(res, pos), "status": "match", "cluster": pair_cluster.astype(int),
        })
        members = kept.members
        member_rows = pd.DataFrame({
            "run_id": run_id, "cluster": members["cluster"].astype(int), "person_key": keys[members["record"]],
            "ea_code": eas[members["record"]], "role": members["role"], "evidence": members["evidence"],
        })
        items = [NewItem("cluster", str(int(c.cluster)), str(eas[int(c.kept)]), json.loads(c.evidence))
                 for c in kept.clusters.itertuples(index=False)]
        say(f"storing {len(pairs):,} pairs, {len(member_rows):,} cluster members, {len(items):,} review items")
        with engine.begin() as conn:
            insert_rows(conn, LinkPair, pairs)
            insert_rows(conn, ClusterMember, member_rows)
            n_items = add_items(conn, run_id, items)
        ms = model_summary(res, b)
        summary = DuplicatesSummary(
            run_id, len(census), len(res.candidates), len(pairs), int(kept.clusters.shape[0]),
            int((members["role"] == "extra").sum()), int(kept.clusters["weak"].sum()), n_items,
            ms["upper"], round(time.perf_counter() - t0, 2))
    except BaseException:
        finish_run(engine, run_id, {"error": "interrupted or failed; this run's results are incomplete, run again"},
                   "failed")
        raise
    finish_run(engine, run_id, {**summary.to_dict(), "model": ms})
    ledger_append(engine, operator=operator, command="link duplicates", params={**params, "run_id": run_id},
                  inputs={"census": dhash},
                  result={k: v for k, v in summary.to_dict().items() if k not in ("seconds",)})
    return summary
