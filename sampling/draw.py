"""Drawing a PES sample: frame + design + seed -> the selected units, their inclusion
probabilities, weights, strata, PSUs and replicate weights, and the hashes that seal them.

Everything comes from one ``numpy.random.default_rng(seed)``, strata taken in sorted order,
units within a stratum in the design's sort order, so the same design, frame and seed always
give the same sample — which is how ``sample verify`` proves a sample was not hand-picked.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit_engine.codes import code_list
from audit_engine.ledger.chain import canonical_json
from sampling.allocate import allocate
from sampling.design import PPS, Design, DesignError

COLLAPSED = "*"


@dataclass
class Drawn:
    units: pd.DataFrame            # one row per selected EA: unit, stratum, psu, stage1_pi, pi, weight, certainty, N_h, n_h
    replicate_weights: np.ndarray  # n x R (JKn: one replicate per PSU)
    replicate_scale: np.ndarray    # R
    strata: pd.DataFrame           # per stratum: key, frame PSUs N_h, sample PSUs n_h, size
    frame_hash: str
    selection_hash: str
    total: int                     # PSUs allocated


def prepare_frame(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Derived columns, checks, stratum keys (with small strata collapsed), sorted."""
    f = frame.copy()
    urban_codes = set(code_list("urban_rural").extra.get("urban", []))
    if "urban" in design.strata or "urban" in design.sort:
        f["urban"] = np.where(f["urban_rural"].astype(str).isin(urban_codes), "urban", "rural")
    need = {design.frame_unit, design.size, *design.strata, *design.sort} | {s.unit for s in design.stages}
    missing = sorted(need - set(f.columns))
    if missing:
        raise DesignError(f"the frame has no column(s) {missing}")
    size = pd.to_numeric(f[design.size], errors="coerce")
    bad = f.loc[~(size > 0), design.frame_unit].astype(str).tolist()
    if bad and any(s.method in PPS for s in design.stages) or (bad and design.allocation.by == "size"):
        raise DesignError(f"size measure {design.size} is missing or not positive for {len(bad)} unit(s), "
                          f"e.g. {', '.join(bad[:5])}")
    f[design.size] = size.fillna(0).astype(float)
    if f[design.frame_unit].duplicated().any():
        raise DesignError(f"the frame repeats unit codes ({design.frame_unit})")
    f["stratum"] = f[list(design.strata)].astype(str).agg("|".join, axis=1) if design.strata else "all"
    psu_col = design.stages[0].unit
    if len(design.stages) == 2:
        per_psu = f.groupby(psu_col)["stratum"].nunique()
        if (per_psu > 1).any():
            raise DesignError(f"stage-1 units ({psu_col}) must lie within one stratum: "
                              f"{', '.join(per_psu[per_psu > 1].index.astype(str)[:5])} span several")
    if design.allocation.collapse_small_strata:
        f["stratum"] = _collapse(f, psu_col, design)
    return f.sort_values(["stratum", *design.sort, design.frame_unit], kind="stable").reset_index(drop=True)


def _collapse(f: pd.DataFrame, psu_col: str, design: Design) -> pd.Series:
    """Strata with fewer PSUs than the minimum merge into '<first variable>|*', then into '*'."""
    minimum = design.allocation.min_per_stratum
    key = f["stratum"].copy()
    for level in ("first", "all"):
        psus = f.assign(_k=key).groupby("_k")[psu_col].nunique()
        small = set(psus[psus < minimum].index)
        if not small:
            break
        is_small = key.isin(small)
        if level == "first" and design.strata:
            key = key.where(~is_small, f[design.strata[0]].astype(str) + "|" + COLLAPSED)
        else:
            key = key.where(~is_small, COLLAPSED)
    return key


def frame_hash(f: pd.DataFrame, design: Design) -> str:
    cols = list(dict.fromkeys([design.frame_unit, *design.strata, *design.sort, design.size,
                               *(s.unit for s in design.stages)]))
    rows = f[cols].astype(str).sort_values(design.frame_unit).values.tolist()
    return hashlib.sha256(canonical_json({"columns": cols, "rows": rows}).encode()).hexdigest()


def selection_hash(units: pd.DataFrame) -> str:
    rows = [[str(u), str(s), str(p), format(float(pi), ".12g")]
            for u, s, p, pi in units[["unit", "stratum", "psu", "pi"]].sort_values("unit").itertuples(index=False)]
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()


def total_psus(design: Design, f: pd.DataFrame) -> int:
    """The allocation total: given, or from the sample-size calculator (EAs -> PSUs)."""
    a = design.allocation
    if a.total is not None:
        return int(a.total)
    if a.method == "fixed":
        return int(sum(a.fixed.values()))
    from sampling.size import eas_needed

    c = a.calculator or {}
    eas = eas_needed(c["expected_rate"], c["moe"], deff=c.get("deff", 1.0),
                     mean_persons_per_ea=float(f[design.size].mean()), confidence=c.get("confidence", 0.95),
                     population_eas=len(f), nonresponse=c.get("nonresponse", 0.0))
    per = design.stages[1].per_psu if len(design.stages) == 2 else 1
    return max(1, math.ceil(eas / per))


def draw(design: Design, frame: pd.DataFrame, seed: int) -> Drawn:
    from sampling.select import SELECTORS

    f = prepare_frame(frame, design)
    fhash = frame_hash(f, design)
    rng = np.random.default_rng(seed)
    s1 = design.stages[0]
    psu_col = s1.unit
    size_col = s1.size or design.size
    psus = (f.groupby(psu_col, sort=False).agg(stratum=("stratum", "first"), size=(size_col, "sum"))
            .reset_index().rename(columns={psu_col: "psu"}))
    strata = psus.groupby("stratum", sort=True).agg(N=("psu", "size"), size=("size", "sum")).reset_index()
    a = design.allocation
    total = total_psus(design, f)
    floor = int(np.minimum(strata["N"].to_numpy(), a.min_per_stratum).sum())
    if a.total is None and a.method != "fixed" and total < floor:
        # The calculator's answer is below what the design needs for a variance in every stratum.
        total = floor
    fixed = np.array([a.fixed.get(k, 0) for k in strata["stratum"]]) if a.method == "fixed" else None
    sd = (np.array([a.prior_sd.get(k, a.prior_sd.get("default", 1.0)) for k in strata["stratum"]])
          if a.method == "neyman" else None)
    try:
        strata["n"] = allocate(a.method, total, strata["N"].to_numpy(), strata["size"].to_numpy(),
                               minimum=a.min_per_stratum, fixed=fixed, prior_sd=sd, by=a.by)
    except ValueError as exc:
        raise DesignError(str(exc)) from None
    chosen = []
    for key, n_h in zip(strata["stratum"], strata["n"], strict=True):
        block = psus[psus["stratum"] == key]
        if n_h == 0:
            continue
        sel = SELECTORS[s1.method](block["size"].to_numpy(float) if s1.method in PPS else None, len(block), int(n_h), rng)
        picked = block.iloc[sel.index].assign(stage1_pi=sel.pi[sel.index], certainty=sel.certainty[sel.index],
                                              N_h=len(block), n_h=int(n_h))
        chosen.append(picked)
    first = pd.concat(chosen, ignore_index=True)
    if len(design.stages) == 1:
        units = first.assign(unit=first["psu"], pi=first["stage1_pi"])
    else:
        s2 = design.stages[1]
        size2 = s2.size or design.size
        parts = []
        for row in first.itertuples(index=False):
            eas = f[f[psu_col] == row.psu]
            m = min(int(s2.per_psu or 1), len(eas))
            sel = SELECTORS[s2.method](eas[size2].to_numpy(float) if s2.method in PPS else None, len(eas), m, rng)
            got = eas.iloc[sel.index]
            parts.append(pd.DataFrame({"unit": got[design.frame_unit].to_numpy(), "psu": row.psu, "stratum": row.stratum,
                                       "stage1_pi": row.stage1_pi, "pi": row.stage1_pi * sel.pi[sel.index],
                                       "certainty": bool(row.certainty) & bool(sel.certainty[sel.index].all()),
                                       "N_h": row.N_h, "n_h": row.n_h}))
        units = pd.concat(parts, ignore_index=True)
    units["weight"] = 1.0 / units["pi"]
    units = units[["unit", "stratum", "psu", "stage1_pi", "pi", "weight", "certainty", "N_h", "n_h"]]
    units = units.sort_values(["stratum", "psu", "unit"], kind="stable").reset_index(drop=True)
    rep_w, rep_scale = replicates(units, design, seed)
    return Drawn(units, rep_w, rep_scale, strata.rename(columns={"N": "N_h", "n": "n_h"}), fhash,
                 selection_hash(units), total)


def replicates(units: pd.DataFrame, design: Design, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """JKn (or bootstrap) replicate weights over the stage-1 PSUs of the sample."""
    from sampling.estimate import SurveyDesign
    from sampling.replicates import bootstrap_replicates, jkn_replicates

    sd = SurveyDesign(weights=units["weight"].to_numpy(float), strata=units["stratum"].to_numpy(),
                      psu=units["psu"].to_numpy(), fpc=units["N_h"].to_numpy(float))
    if design.replicates == "bootstrap":
        rep = bootstrap_replicates(sd, 200, np.random.default_rng([seed, 1]))   # sealed with the draw
    else:
        rep = jkn_replicates(sd)
    return np.asarray(rep.replicate_weights, dtype=float), np.asarray(rep.replicate_scale, dtype=float)
