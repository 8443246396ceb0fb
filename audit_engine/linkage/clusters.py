"""Duplicate clusters: linked pairs of one table grouped into the records of one person.

:func:`~audit_engine.linkage.pipeline.dedupe` scores *pairs*; a person listed three times gives
up to three pairs, and a chain a–b, b–c makes a and c the same person even when the pair a–c was
never linked (or never even compared). :func:`clusters` takes the connected components of the
link graph (:func:`scipy.sparse.csgraph.connected_components`) and sums up each component's
evidence; :func:`choose_kept` then says, per cluster, which record is the correct enumeration
and which are the extra (erroneous duplicate) records.

Everything is on positions into the table the pairs came from, as in the rest of the package.
Evidence is JSON holding ids, codes and numbers only — never a name or an ID number — so it can
go into review items and the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["AWAY_CODES", "WEAK_WEIGHT", "Clusters", "Kept", "choose_kept", "clusters"]

#: a link whose match weight is below this (posterior below 0.9999) is *weak*; a cluster member
#: reached from another only through a weak link is not trusted without review
WEAK_WEIGHT = float(np.log2(9999.0))

#: ``registration_type`` codes of a person registered somewhere other than where they are
#: enumerated (census_codes.yaml: 2 other committee of the township, 3 other township of the
#: county, 4 other county); 1 is "this committee", 5 "registration pending"
AWAY_CODES = ("2", "3", "4")


@dataclass(frozen=True)
class Clusters:
    """Connected components of the link graph over ``n_records`` records.

    ``record_cluster``: per record of the table, its cluster number (1, 2, … in the order of each
    cluster's first record), -1 for a record in no linked pair. ``records``: one row per clustered
    record — ``record`` (position), ``cluster``, ``size``. ``summary``: one row per cluster —
    ``cluster``, ``size``, ``pairs`` (distinct linked pairs), ``weight_min`` / ``weight_max`` /
    ``weight_mean`` (match weights of those pairs), ``transitive_pairs`` (member pairs that were
    not linked: members only through others), ``weak`` (some transitive-only pair is joined only
    through a link weaker than ``weak_weight``: review it). ``pairs``: the distinct pairs
    (``left`` < ``right``, ``weight``: the highest if a pair was given twice, ``cluster``).
    """

    n_records: int
    record_cluster: np.ndarray
    records: pd.DataFrame
    summary: pd.DataFrame
    pairs: pd.DataFrame
    weak_weight: float

    @property
    def n_clusters(self) -> int:
        return len(self.summary)


def clusters(n_records: int, left, right, weight, *, weak_weight: float = WEAK_WEIGHT) -> Clusters:
    """Group the linked pairs ``(left[k], right[k])`` (positions < ``n_records``, match weight
    ``weight[k]``) into clusters.

    A cluster is *weak* when two of its members are joined neither directly nor through links of
    weight ≥ ``weak_weight``: with the weak links removed the cluster falls apart into strong
    parts, and some pair of members in different parts was not itself linked. A cluster of two
    records, or one whose members are all linked pairwise, is never weak (each of its pairs
    passed the link threshold on its own evidence).
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    weight = np.asarray(weight, dtype=float)
    if not (len(left) == len(right) == len(weight)):
        raise ValueError("left, right and weight must have the same length")
    if len(left) and (min(left.min(), right.min()) < 0 or max(left.max(), right.max()) >= n_records):
        raise ValueError(f"pair positions must lie in 0..{n_records - 1}")
    keep = left != right
    lo, hi, w = np.minimum(left, right)[keep], np.maximum(left, right)[keep], weight[keep]
    pairs = (pd.DataFrame({"left": lo, "right": hi, "weight": w})
             .groupby(["left", "right"], as_index=False, sort=True)["weight"].max())
    lo, hi, w = (pairs[c].to_numpy() for c in ("left", "right", "weight"))

    def components(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_records, n_records))
        return connected_components(graph, directed=False)[1]

    label = components(lo, hi)
    in_pair = np.zeros(n_records, dtype=bool)
    in_pair[lo] = in_pair[hi] = True
    # renumber the non-trivial components 1, 2, … by their first record
    first = np.full(label.max() + 1 if n_records else 0, n_records, dtype=np.int64)
    np.minimum.at(first, label[in_pair], np.flatnonzero(in_pair))
    used = np.flatnonzero(first < n_records)
    number = np.full(len(first), -1, dtype=np.int64)
    number[used[np.argsort(first[used], kind="stable")]] = np.arange(1, len(used) + 1)
    record_cluster = np.where(in_pair, number[label], -1)

    n_cl = len(used)
    size = np.bincount(record_cluster[in_pair], minlength=n_cl + 1)
    pair_cl = record_cluster[lo] if len(lo) else np.empty(0, np.int64)
    n_pairs = np.bincount(pair_cl, minlength=n_cl + 1)
    wsum = np.bincount(pair_cl, weights=w, minlength=n_cl + 1)
    wmin = np.full(n_cl + 1, np.inf)
    wmax = np.full(n_cl + 1, -np.inf)
    np.minimum.at(wmin, pair_cl, w)
    np.maximum.at(wmax, pair_cl, w)
    all_pairs = size * (size - 1) // 2
    transitive = all_pairs - n_pairs

    # weak: member pairs in different strong parts that are not linked directly
    strong = w >= weak_weight
    slabel = components(lo[strong], hi[strong])
    rec = np.flatnonzero(in_pair)
    part = pd.DataFrame({"cluster": record_cluster[rec], "part": slabel[rec]}).value_counts().reset_index()
    within = np.bincount(part["cluster"].to_numpy(), weights=part["count"].to_numpy() * (part["count"].to_numpy() - 1)
                         / 2, minlength=n_cl + 1)
    cross = all_pairs - within
    direct_cross = np.bincount(pair_cl[slabel[lo] != slabel[hi]], minlength=n_cl + 1)
    weak = (cross - direct_cross) > 0

    ids = np.arange(1, n_cl + 1)
    summary = pd.DataFrame({
        "cluster": ids, "size": size[ids], "pairs": n_pairs[ids], "weight_min": wmin[ids], "weight_max": wmax[ids],
        "weight_mean": wsum[ids] / np.maximum(n_pairs[ids], 1), "transitive_pairs": transitive[ids],
        "weak": weak[ids],
    })
    records = pd.DataFrame({"record": rec, "cluster": record_cluster[rec], "size": size[record_cluster[rec]]})
    pairs["cluster"] = pair_cl
    return Clusters(n_records, record_cluster, records, summary, pairs, float(weak_weight))


@dataclass(frozen=True)
class Kept:
    """Per cluster the kept (correct) record and the extra ones.

    ``members``: one row per clustered record — ``cluster``, ``record`` (position), ``person_id``,
    ``role`` (``kept`` / ``extra``), ``weight`` (the highest match weight of a direct link to the
    kept record, NaN if joined to it only through others), ``evidence`` (JSON). ``clusters``: the
    :attr:`Clusters.summary` columns plus ``kept`` (position), ``kept_id``, ``reason`` (why that
    record: ``pes_match`` / ``usual_residence`` / ``lowest_id``) and ``evidence`` (JSON of the
    cluster's summary and its members' ids, for a review item).
    """

    members: pd.DataFrame
    clusters: pd.DataFrame


def _matched_mask(table: pd.DataFrame, matched_to_pes) -> np.ndarray:
    """``matched_to_pes`` as a bool per record: given as such, or as a collection of person_ids."""
    n = len(table)
    if matched_to_pes is None:
        return np.zeros(n, dtype=bool)
    if isinstance(matched_to_pes, (np.ndarray, pd.Series)) and matched_to_pes.dtype == bool:
        arr = np.asarray(matched_to_pes)
        if arr.shape != (n,):
            raise ValueError(f"matched_to_pes: {arr.shape[0]} flags for {n} records")
        return arr
    ids = {str(x) for x in matched_to_pes}
    return table["person_id"].astype(str).isin(ids).to_numpy()


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 3)


def choose_kept(cl: Clusters, table: pd.DataFrame, matched_to_pes=None) -> Kept:
    """Which record of each cluster is the correct enumeration; the others are extra records.

    ``table``: the records the pair positions refer to (``person_id``, ``registration_type``);
    ``matched_to_pes``: a bool per record of ``table`` or a collection of person_ids of census
    records matched to a PES person (None: no PES information, e.g. a county-wide duplicate run).

    The rule, first that decides:

    1. **A record matched to a PES person is kept.** The PES re-enumerated the person where they
       live; the census record that matches it is, by the PES's own evidence, the enumeration at
       the usual residence. (A PES link is one-to-one, so normally only one member matches.)
    2. **The record at the usual residence is kept** — the one whose ``registration_type`` says
       the person is registered elsewhere (codes 2, 3, 4: 人户分离, living here with the 户口 in
       another committee, township or county). The 2020 census enumerates everyone where they
       live; the typical duplicate is a person enumerated at home (declaring the registration
       place elsewhere) and again by the household of the registration place, which lists them
       as its own member registered *here* (code 1). So the "registered elsewhere" record was
       made where the person lives and the other one is the extra.
    3. **Otherwise the lowest person_id is kept** — arbitrary but reproducible; for the estimate
       only the count of extra records matters, not which of two equivalent records it is.

    Ties within a step fall through to the next (two matched records → the one at the usual
    residence among them, then the lowest id).
    """
    if len(table) != cl.n_records:
        raise ValueError(f"table has {len(table)} records, the clusters were built on {cl.n_records}")
    rec = cl.records["record"].to_numpy()
    cid = cl.records["cluster"].to_numpy()
    pid = table["person_id"].astype(str).to_numpy(dtype=object)[rec]
    matched = _matched_mask(table, matched_to_pes)[rec]
    if "registration_type" in table:
        reg = table["registration_type"].astype("string").str.strip().to_numpy(dtype=object, na_value=None)
        away = np.array([r in AWAY_CODES for r in reg[rec]], dtype=bool)
    else:
        away = np.zeros(len(rec), dtype=bool)
    # best first: matched, away (usual residence), lowest person_id
    order = np.lexsort((pid, ~away, ~matched, cid))
    first = np.r_[True, cid[order][1:] != cid[order][:-1]] if len(order) else np.empty(0, bool)
    kept_idx = order[first]                      # one per cluster, clusters ascending
    kept_cl = cid[kept_idx]
    # why: the first criterion on which the kept record beats the runner-up of its cluster
    runner = order[np.flatnonzero(first) + 1]    # every cluster has at least two records
    reason = np.where(matched[kept_idx] != matched[runner], "pes_match",
                      np.where(away[kept_idx] != away[runner], "usual_residence", "lowest_id"))

    kept_of = np.full(cl.n_clusters + 1, -1, dtype=np.int64)
    kept_of[kept_cl] = rec[kept_idx]
    kept_id = np.empty(cl.n_clusters + 1, dtype=object)
    kept_id[kept_cl] = pid[kept_idx]
    role = np.where(rec == kept_of[cid], "kept", "extra")

    # direct link weight to the kept record
    p = cl.pairs
    lo, hi, pw = p["left"].to_numpy(), p["right"].to_numpy(), p["weight"].to_numpy()
    pc = p["cluster"].to_numpy()
    to_kept = pd.Series(pw, dtype=float)
    other = np.where(lo == kept_of[pc], hi, np.where(hi == kept_of[pc], lo, -1))
    direct = pd.Series(to_kept.to_numpy()[other >= 0], index=other[other >= 0]).groupby(level=0).max()
    member_w = direct.reindex(rec).to_numpy(dtype=float)
    member_w[role == "kept"] = np.nan

    summ = cl.summary.set_index("cluster")
    m_ev = [json.dumps({"cluster": int(c), "role": r, "kept_id": kept_id[c], "reason": reason_of,
                        "weight": _num(x) if np.isfinite(x) else None, "matched_to_pes": bool(m),
                        "registration_type": g},
                       ensure_ascii=False, sort_keys=True)
            for c, r, x, m, g, reason_of in zip(
                cid, role, member_w, matched,
                (reg[rec] if "registration_type" in table else [None] * len(rec)),
                pd.Series(reason, index=kept_cl).reindex(cid).to_numpy(), strict=True)]
    members = pd.DataFrame({"cluster": cid, "record": rec, "person_id": pid, "role": role, "weight": member_w,
                            "evidence": m_ev})
    members = members.sort_values(["cluster", "record"], ignore_index=True)

    extra_ids = members[members["role"] == "extra"].groupby("cluster")["person_id"].agg(list)
    out = cl.summary.copy()
    out["kept"] = kept_of[out["cluster"].to_numpy()]
    out["kept_id"] = kept_id[out["cluster"].to_numpy()]
    out["reason"] = pd.Series(reason, index=kept_cl).reindex(out["cluster"]).to_numpy()
    out["evidence"] = [
        json.dumps({"cluster": int(c), "size": int(summ.at[c, "size"]), "pairs": int(summ.at[c, "pairs"]),
                    "weight_min": _num(summ.at[c, "weight_min"]), "weight_max": _num(summ.at[c, "weight_max"]),
                    "weight_mean": _num(summ.at[c, "weight_mean"]),
                    "transitive_pairs": int(summ.at[c, "transitive_pairs"]), "weak": bool(summ.at[c, "weak"]),
                    "kept_id": kept_id[c], "reason": rs, "extra_ids": extra_ids.get(c, [])},
                   ensure_ascii=False, sort_keys=True)
        for c, rs in zip(out["cluster"].to_numpy(), out["reason"].to_numpy(), strict=True)]
    return Kept(members, out)
