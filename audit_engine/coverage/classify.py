"""E-sample and P-sample status: which census records of the sample EAs are correct
enumerations, and which PES persons the census found.

E-sample classes (:data:`E_CLASSES`), first that applies:

* ``born_after`` — birth year-month at or after the month of the standard time (2020-11: the
  standard time is 2020-11-01 00:00, so every birth in November 2020 is after it);
* ``died_before`` — a death reported in the census deaths file with the same name, sex and birth
  year-month in the same household or EA, dated before the standard time;
* ``duplicate`` — an extra record of a duplicate cluster (:mod:`audit_engine.linkage.clusters`);
  a cluster member matched to a PES person is the kept one;
* ``correct`` — matched to a PES person;
* ``unresolved`` — none of these: a field follow-up item, whose outcome
  (:data:`FOLLOWUP_OUTCOMES`) :func:`resolve` applies.

:func:`ce_probability` turns the classes into the probability of correct enumeration the
estimate uses, imputing the unresolved cases. Evidence is JSON of ids, codes and numbers only —
never a name or an ID number.
"""

from __future__ import annotations

import json
import warnings as _warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit_engine.codes import standard_time
from audit_engine.linkage.chinese import year_months

__all__ = ["CLASSES", "E_CLASSES", "ERRONEOUS", "FOLLOWUP_OUTCOMES", "P_CLASSES", "CEProbability",
           "ce_probability", "classify_e_sample", "key_links", "p_sample_status", "resolve"]

#: what :func:`classify_e_sample` gives
E_CLASSES = ("correct", "duplicate", "born_after", "died_before", "unresolved")
#: what a field follow-up of an unresolved record can find (review item kind ``followup``)
FOLLOWUP_OUTCOMES = ("correct", "not_resident", "fictitious", "died_before", "duplicate")
#: every E-sample class, after :func:`resolve`
CLASSES = ("correct", "duplicate", "born_after", "died_before", "not_resident", "fictitious", "unresolved")
#: the erroneous enumerations among them
ERRONEOUS = ("duplicate", "born_after", "died_before", "not_resident", "fictitious")
#: P-sample classes: ``possible`` = only a possible match awaiting clerical review; ``invalid`` =
#: not a P-sample person (born after the standard time)
P_CLASSES = ("matched", "possible", "not_matched", "invalid")


def _first_month_after() -> int:
    """Months since year 0 of the first month all of whose births are after the standard time."""
    st = standard_time()
    ym = st.year * 12 + st.month - 1
    at_start = st.day == 1 and st.hour == 0 and st.minute == 0 and st.second == 0
    return ym if at_start else ym + 1


def _dumps(d: dict) -> str:
    return json.dumps(d, ensure_ascii=False, sort_keys=True)


def _w(x) -> float | None:
    return None if x is None or pd.isna(x) else round(float(x), 3)


def key_links(result, left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """A :class:`~audit_engine.linkage.LinkResult` of ``link(pes, census)`` as the key links the
    classifiers take: ``pes_key``, ``census_key``, ``weight``, ``posterior``, ``status`` (``match``)."""
    links = result.links()
    return pd.DataFrame({
        "pes_key": left["person_id"].astype(str).to_numpy(dtype=object)[links["left"].to_numpy()],
        "census_key": right["person_id"].astype(str).to_numpy(dtype=object)[links["right"].to_numpy()],
        "weight": links["weight"].to_numpy(), "posterior": links["posterior"].to_numpy(), "status": "match"})


def _split_links(links: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Key links as (matches, possible matches); without a ``status`` column every link is a match."""
    cols = ["pes_key", "census_key", "weight"]
    if links is None or len(links) == 0:
        empty = pd.DataFrame({c: pd.Series(dtype=object if c != "weight" else float) for c in cols})
        return empty, empty
    lk = links.copy()
    lk["pes_key"] = lk["pes_key"].astype(str)
    lk["census_key"] = lk["census_key"].astype(str)
    status = lk["status"] if "status" in lk else pd.Series("match", index=lk.index)
    match = lk[status == "match"].sort_values("weight", ascending=False, kind="stable")
    return (match[cols].reset_index(drop=True),
            lk[status == "possible"][cols].sort_values("weight", ascending=False, kind="stable").reset_index(drop=True))


def _died_before(records: pd.DataFrame, deaths: pd.DataFrame | None) -> pd.DataFrame:
    """Per record (index) matching a reported death before the standard time: the death's
    household_id, line_no, death_ym and where it matched (``household`` before ``ea``)."""
    out_cols = ["row", "death_household_id", "death_line_no", "death_ym", "same"]
    if deaths is None or len(deaths) == 0 or len(records) == 0:
        return pd.DataFrame(columns=out_cols)
    d = deaths.copy()
    dm = year_months(d["death_ym"].to_numpy(dtype=object))
    d = d[np.isfinite(dm) & (dm < _first_month_after())].copy()
    r = records.reset_index(drop=True).assign(row=lambda x: np.arange(len(x)))
    key = ["name", "sex", "birth_ym"]
    for t in (r, d):
        for c in key:
            t[c] = t[c].astype("string").str.strip()
        t["_bym"] = year_months(t["birth_ym"].to_numpy(dtype=object))
    r = r.dropna(subset=["name", "sex", "_bym"])
    d = d.dropna(subset=["name", "sex", "_bym"])
    d = d.assign(death_household_id=d["household_id"].astype(str), death_line_no=d["line_no"])
    found = []
    for where, on in (("household", "household_id"), ("ea", "ea_code")):
        m = r[["row", on, "name", "sex", "_bym"]].astype({on: str}).merge(
            d[[on, "name", "sex", "_bym", "death_household_id", "death_line_no", "death_ym"]].astype({on: str}),
            on=[on, "name", "sex", "_bym"])
        m["same"] = where
        found.append(m[out_cols])
    out = pd.concat(found, ignore_index=True)
    return out.drop_duplicates("row", keep="first").reset_index(drop=True)


def _normalise_clusters(duplicates: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["person_key", "cluster", "role", "weight"]
    if duplicates is None or len(duplicates) == 0:
        return pd.DataFrame(columns=cols)
    d = duplicates.rename(columns={"person_id": "person_key"}).copy()
    d["person_key"] = d["person_key"].astype(str)
    if "weight" not in d:
        if "evidence" in d:
            d["weight"] = [json.loads(e).get("weight") if isinstance(e, str) else None for e in d["evidence"]]
        else:
            d["weight"] = np.nan
    d["weight"] = pd.to_numeric(d["weight"], errors="coerce")
    return d[cols].reset_index(drop=True)


def _cluster_roles(dup: pd.DataFrame, matched_keys: set[str]) -> pd.DataFrame:
    """Roles of the cluster members with the PES taken into account: when the stored kept record
    is not matched to a PES person but another member is, that member is kept instead (the lowest
    key among several); every other member is extra. Adds ``kept_key`` and ``kept_by``."""
    if dup.empty:
        return dup.assign(kept_key=pd.Series(dtype=object), kept_by=pd.Series(dtype=object))
    d = dup.copy()
    d["matched"] = d["person_key"].isin(matched_keys)
    kept0 = d[d["role"] == "kept"].groupby("cluster")["person_key"].min()
    kept0_matched = d[(d["role"] == "kept") & d["matched"]].groupby("cluster").size()
    pes_kept = d[d["matched"]].groupby("cluster")["person_key"].min()
    swap = pes_kept.index.difference(kept0_matched.index)
    kept = kept0.copy()
    kept.loc[swap] = pes_kept.loc[swap]
    d["kept_key"] = d["cluster"].map(kept)
    d["kept_by"] = np.where(d["cluster"].isin(swap), "pes_match", "cluster_rule")
    d["role"] = np.where(d["person_key"] == d["kept_key"], "kept", "extra")
    return d


def classify_e_sample(records: pd.DataFrame, links: pd.DataFrame | None, duplicates: pd.DataFrame | None = None,
                      deaths: pd.DataFrame | None = None) -> pd.DataFrame:
    """Classify census records (the E-sample: every census record made in a sample EA).

    ``records``: person table (docs/data-format.md; ``person_id``, ``household_id``, ``ea_code``,
    ``name``, ``sex``, ``birth_ym``). ``links``: PES ↔ census links by key — ``pes_key``,
    ``census_key``, ``weight`` and optionally ``status`` (``match`` counts; ``possible`` is
    pending clerical review and only noted as evidence) — e.g. :func:`key_links`.
    ``duplicates``: duplicate cluster members — ``person_key`` (or ``person_id``), ``cluster``,
    ``role`` (``kept`` / ``extra``) and optionally ``weight`` or ``evidence`` (e.g.
    :attr:`~audit_engine.linkage.clusters.Kept.members`); members outside ``records`` may be
    included and are used to tell which member is kept. ``deaths``: the census deaths file
    (``household_id``, ``ea_code``, ``line_no``, ``name``, ``sex``, ``birth_ym``, ``death_ym``).

    Returns one row per record, in ``records`` order: ``person_id``, ``ea_code``, ``class``,
    ``erroneous`` (nullable boolean: NA while unresolved), ``matched`` (to a PES person),
    ``other_key`` (the PES person, the kept record, or the death's household), ``weight``,
    ``classified`` (the class this function gave; :func:`resolve` leaves it), ``followup`` (None
    until resolved) and ``evidence`` (JSON, ids / codes / numbers only).
    """
    n = len(records)
    pid = records["person_id"].astype(str).to_numpy(dtype=object)
    match, possible = _split_links(links)
    best = match.drop_duplicates("census_key", keep="first").set_index("census_key")
    matched = pd.Index(pid).isin(best.index)
    dup = _cluster_roles(_normalise_clusters(duplicates), set(best.index))
    extra = dup[dup["role"] == "extra"].drop_duplicates("person_key").set_index("person_key")
    deaths_found = _died_before(records, deaths).set_index("row")
    bym = year_months(records["birth_ym"].to_numpy(dtype=object))
    born_after = np.isfinite(bym) & (bym >= _first_month_after())
    poss = possible.groupby("census_key")[["pes_key", "weight"]].apply(
        lambda g: [{"pes_id": k, "weight": _w(x)} for k, x in zip(g["pes_key"], g["weight"], strict=True)]
    ) if len(possible) else pd.Series(dtype=object)

    m_key = best["pes_key"].reindex(pid).to_numpy(dtype=object)
    m_w = best["weight"].reindex(pid).to_numpy(dtype=float)
    is_extra = pd.Index(pid).isin(extra.index)
    x = extra.reindex(pid)
    x_cl, x_kept, x_w, x_by = (x[c].to_numpy(dtype=object) for c in ("cluster", "kept_key", "weight", "kept_by"))
    died = np.zeros(n, dtype=bool)
    died[deaths_found.index.to_numpy(dtype=np.int64)] = True
    dth = deaths_found.reindex(np.arange(n))
    d_hh, d_line, d_ym, d_same = (dth[c].to_numpy(dtype=object) for c in
                                  ("death_household_id", "death_line_no", "death_ym", "same"))
    has_poss = pd.Index(pid).isin(poss.index)

    cls = np.empty(n, dtype=object)
    other = np.full(n, None, dtype=object)
    weight = np.full(n, np.nan)
    evidence = np.empty(n, dtype=object)
    birth = records["birth_ym"].astype("string").to_numpy(dtype=object, na_value=None)
    for i in range(n):
        if born_after[i]:
            cls[i] = "born_after"
            ev = {"birth_ym": str(birth[i]).strip()}
        elif died[i]:
            cls[i] = "died_before"
            other[i] = str(d_hh[i])
            ev = {"death_household_id": other[i], "death_line_no": int(d_line[i]), "death_ym": str(d_ym[i]),
                  "same": d_same[i]}
        elif is_extra[i]:
            cls[i] = "duplicate"
            other[i] = x_kept[i]
            weight[i] = x_w[i]
            ev = {"cluster": int(x_cl[i]), "kept_id": x_kept[i], "weight": _w(x_w[i]), "kept_by": x_by[i]}
        elif matched[i]:
            cls[i] = "correct"
            other[i] = m_key[i]
            weight[i] = m_w[i]
            ev = {"pes_id": m_key[i], "weight": _w(m_w[i])}
        else:
            cls[i] = "unresolved"
            ev = {"reason": "unmatched", "followup": list(FOLLOWUP_OUTCOMES)}
            if has_poss[i]:
                ev["possible"] = poss.loc[pid[i]]
        if matched[i] and cls[i] != "correct":
            ev["pes_id"] = m_key[i]
        evidence[i] = _dumps(ev)
    out = pd.DataFrame({"person_id": pid, "ea_code": records["ea_code"].astype(str).to_numpy(dtype=object),
                        "class": cls, "matched": matched, "other_key": other, "weight": weight})
    out["erroneous"] = _erroneous(out["class"])
    out["classified"] = out["class"]
    out["followup"] = pd.Series([None] * n, dtype=object)
    out["evidence"] = evidence
    return out


def _erroneous(cls: pd.Series) -> pd.Series:
    return pd.Series(np.where(cls.isin(ERRONEOUS), True, np.where(cls == "unresolved", None, False)),
                     index=cls.index).astype("boolean")


def resolve(classes: pd.DataFrame, decisions: Mapping[str, str]) -> pd.DataFrame:
    """Apply field follow-up decisions (person_id → one of :data:`FOLLOWUP_OUTCOMES`) on top of
    :func:`classify_e_sample`'s output. A decision replaces the class of any record (an officer may
    overturn the data's evidence); ``followup`` records it and the evidence gains
    ``followup`` and ``was``. Unknown person_ids or outcomes raise ``ValueError``."""
    bad = sorted({v for v in decisions.values() if v not in FOLLOWUP_OUTCOMES})
    if bad:
        raise ValueError(f"unknown follow-up outcome(s) {bad}; expected one of {FOLLOWUP_OUTCOMES}")
    out = classes.copy()
    idx = pd.Index(out["person_id"].astype(str))
    keys = [str(k) for k in decisions]
    missing = [k for k in keys if k not in idx]
    if missing:
        raise ValueError(f"{len(missing)} decided person_id(s) not among the classified records, e.g. {missing[0]}")
    pos = idx.get_indexer(keys)
    vals = list(decisions.values())
    ev = out["evidence"].to_numpy(dtype=object).copy()
    for p, v in zip(pos, vals, strict=True):
        d = json.loads(ev[p])
        d.update({"followup": v, "was": out["class"].iat[p]})
        ev[p] = _dumps(d)
    cls = out["class"].to_numpy(dtype=object).copy()
    cls[pos] = vals
    fu = out["followup"].to_numpy(dtype=object).copy() if "followup" in out else np.full(len(out), None, object)
    fu[pos] = vals
    out["class"] = cls
    out["followup"] = fu
    out["erroneous"] = _erroneous(out["class"])
    out["evidence"] = ev
    return out


@dataclass(frozen=True)
class CEProbability:
    """Per record the probability of correct enumeration (``p``, aligned with the classes'
    rows), and per cell the rate imputed to its unresolved cases with where it came from
    (``cell``, ``sample`` or ``default``)."""

    p: np.ndarray
    rates: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def ce_probability(classes: pd.DataFrame, cell=None) -> CEProbability:
    """Probability of correct enumeration per E-sample record, for ĈE = Σ w·p.

    Correct → 1, erroneous (:data:`ERRONEOUS`) → 0. An **unresolved** record gets the share of
    ``correct`` among the *resolved unmatched* cases of its cell — records this classifier left
    unresolved (``classified == 'unresolved'``) and a field follow-up then decided — as the US
    Census Bureau's A.C.E. imputed unresolved E-sample cases from resolved cases like them. Cases
    the data resolved (born after, died before, computer-found duplicates) are not in that pool:
    none of them could have been unresolved, and they would pull the rate down. A cell without a
    resolved unmatched case takes the whole sample's share; with none anywhere the rate is 1.0
    (every unresolved case counted correct: ĈE is then an upper bound) and a warning is returned
    (also issued as a ``UserWarning``).

    ``cell``: imputation cells — a column name of ``classes`` or one label per row (e.g. the
    post-stratum); None: one cell.
    """
    n = len(classes)
    if cell is None:
        cells = np.zeros(n, dtype=object)
    elif isinstance(cell, str):
        cells = classes[cell].to_numpy(dtype=object)
    else:
        cells = np.asarray(cell, dtype=object)
        if len(cells) != n:
            raise ValueError(f"{len(cells)} cell labels for {n} records")
    cls = classes["class"].to_numpy(dtype=object)
    unknown = sorted(set(cls) - set(CLASSES))
    if unknown:
        raise ValueError(f"unknown class(es) {unknown}")
    first = classes["classified"].to_numpy(dtype=object) if "classified" in classes else cls
    pool = (first == "unresolved") & (cls != "unresolved")
    good = pool & (cls == "correct")
    unres = cls == "unresolved"
    cells = np.array(["∅" if pd.isna(x) else x for x in cells], dtype=object)
    frame = pd.DataFrame({"cell": cells, "pool": pool, "good": good,
                          "unresolved": unres})
    per = frame.groupby("cell", sort=True)[["pool", "good", "unresolved"]].sum()
    warn: list[str] = []
    if pool.any():
        overall, default = good.sum() / pool.sum(), "sample"
    else:
        overall, default = 1.0, "default"
        if unres.any():
            warn.append(f"{int(unres.sum())} unresolved E-sample record(s) and no resolved unmatched case to "
                        "impute from: their probability of correct enumeration is set to 1.0 (an upper bound)")
    rate = np.where(per["pool"] > 0, per["good"] / per["pool"].where(per["pool"] > 0, 1), overall)
    rates = pd.DataFrame({"cell": per.index, "resolved_unmatched": per["pool"].to_numpy(),
                          "resolved_correct": per["good"].to_numpy(), "unresolved": per["unresolved"].to_numpy(),
                          "rate": rate, "source": np.where(per["pool"] > 0, "cell", default)}).reset_index(drop=True)
    cell_rate = pd.Series(rate, index=per.index)
    p = np.where(cls == "correct", 1.0, 0.0)
    if unres.any():
        p[unres] = cell_rate.reindex(frame["cell"][unres]).to_numpy(dtype=float)
    for w in warn:
        _warnings.warn(w, UserWarning, stacklevel=2)
    return CEProbability(p, rates, warn)


def p_sample_status(pes: pd.DataFrame, links: pd.DataFrame | None) -> pd.DataFrame:
    """Status of each PES person (P-sample): ``matched`` (to a census record), ``possible`` (only a
    possible match, awaiting clerical review), ``not_matched``, or ``invalid`` (born at or after
    the standard time: not a P-sample person; evidence ``reason: born_after``). ``links`` as for
    :func:`classify_e_sample`.

    Returns one row per PES person, in ``pes`` order: ``person_id``, ``ea_code``, ``class``,
    ``valid`` (in the P-sample), ``matched``, ``other_key`` (the census record), ``weight``,
    ``evidence`` (JSON).
    """
    n = len(pes)
    pid = pes["person_id"].astype(str).to_numpy(dtype=object)
    match, possible = _split_links(links)
    best = match.drop_duplicates("pes_key", keep="first").set_index("pes_key")
    pbest = possible.drop_duplicates("pes_key", keep="first").set_index("pes_key")
    bym = year_months(pes["birth_ym"].to_numpy(dtype=object))
    born_after = np.isfinite(bym) & (bym >= _first_month_after())
    birth = pes["birth_ym"].astype("string").to_numpy(dtype=object, na_value=None)
    is_m = pd.Index(pid).isin(best.index)
    is_p = pd.Index(pid).isin(pbest.index)
    cls = np.where(born_after, "invalid", np.where(is_m, "matched", np.where(is_p, "possible", "not_matched")))
    other = np.full(n, None, dtype=object)
    weight = np.full(n, np.nan)
    evidence = np.empty(n, dtype=object)
    for i in range(n):
        k, ev = pid[i], {}
        if is_m[i] or is_p[i]:
            b = best.loc[k] if is_m[i] else pbest.loc[k]
            other[i], weight[i] = b["census_key"], b["weight"]
            ev = {"census_id": other[i], "weight": _w(weight[i]), "status": "match" if is_m[i] else "possible"}
        if born_after[i]:
            ev.update({"reason": "born_after", "birth_ym": str(birth[i]).strip()})
        evidence[i] = _dumps(ev)
    return pd.DataFrame({"person_id": pid, "ea_code": pes["ea_code"].astype(str).to_numpy(dtype=object),
                         "class": cls.astype(object), "valid": ~born_after, "matched": is_m & ~born_after,
                         "other_key": other, "weight": weight, "evidence": evidence})
