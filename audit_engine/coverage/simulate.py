"""Coverage estimation on a synthetic county with known truth: the evaluation behind
``benchmarks/sim_coverage.py`` and ``tests/test_coverage.py``.

Matching here comes from the generator's truth (a PES person is matched iff its true person has a
census record), so the study measures the estimator and its variance alone, not the linkage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit_engine.codes import code_list
from audit_engine.coverage.dse import CensusCounts, ESample, PSample, PSUReplicates, dse, post_stratum
from sampling.design import Design
from sampling.draw import draw, prepare_frame

RECORD_ERRORS = ("duplicate", "died_before", "born_after", "fictitious")


@dataclass
class County:
    """The synthetic county, reduced to what the DSE needs (one row per census record / PES
    person), plus the true values of the estimated quantities."""

    frame: pd.DataFrame
    census: pd.DataFrame  # ea_code, post_stratum, correct, duplicate
    pes: pd.DataFrame     # ea_code, post_stratum, matched (valid persons only)
    truth: dict[str, float]


def load_county(folder: Path, design: Design) -> County:
    frame = pd.read_csv(folder / "areas.csv", dtype=str)
    urban_codes = set(code_list("urban_rural").extra.get("urban", []))
    urban = frame.set_index("ea_code")["urban_rural"].isin(urban_codes)
    stratum = prepare_frame(frame, design).set_index("ea_code")["stratum"]
    records = pd.read_csv(folder / "truth" / "records.csv", dtype=str, keep_default_na=False)
    kind = records["errors"].str.split(";").str[0]
    records = records.assign(kind=np.where(kind.isin(RECORD_ERRORS), kind, ""))
    persons = pd.read_csv(folder / "truth" / "persons.csv", dtype={"true_person_id": str, "status": str},
                          usecols=["true_person_id", "status", "census_records"]).set_index("true_person_id")

    def read(source: str) -> pd.DataFrame:
        d = pd.read_csv(folder / source / "persons.csv", dtype={"person_id": str, "ea_code": str},
                        usecols=["person_id", "ea_code", "sex", "age"])
        d = d.merge(records[records["source"] == source][["person_id", "true_person_id", "kind"]], on="person_id")
        d["post_stratum"] = post_stratum(d["sex"], d["age"], urban.reindex(d["ea_code"]).to_numpy())
        d["stratum"] = stratum.reindex(d["ea_code"]).to_numpy()
        return d

    census = read("census")
    census["correct"] = census["kind"] == ""
    census["duplicate"] = census["kind"] == "duplicate"
    pes = read("pes")
    status = persons["status"].reindex(pes["true_person_id"]).to_numpy()
    pes = pes[(status == "resident") & (pes["kind"] == "")].copy()
    pes["matched"] = persons["census_records"].reindex(pes["true_person_id"]).to_numpy() > 0
    residents = persons[persons["status"] == "resident"]
    truth = {
        "N": float(len(residents)),
        "omission": float((residents["census_records"] == 0).mean()),
        "erroneous": float((~census["correct"]).mean()),
        "duplication": float(census["duplicate"].mean()),
    }
    truth["net_undercount"] = (truth["N"] - len(census)) / truth["N"]
    return County(frame, census, pes, truth)


def one_draw(c: County, design: Design, seed: int):
    """Draw the design with ``seed`` and estimate: a :class:`CoverageResult`."""
    drawn = draw(design, c.frame, seed)
    reps = PSUReplicates.from_drawn(drawn)
    w = drawn.units.set_index("psu")["weight"]
    st = drawn.units.set_index("psu")["stratum"]
    p = c.pes[c.pes["ea_code"].isin(w.index)]
    e = c.census[c.census["ea_code"].isin(w.index)]
    ps = PSample(w.reindex(p["ea_code"]).to_numpy(), st.reindex(p["ea_code"]).to_numpy(), p["ea_code"].to_numpy(),
                 p["post_stratum"].to_numpy(), p["matched"].to_numpy())
    es = ESample(w.reindex(e["ea_code"]).to_numpy(), st.reindex(e["ea_code"]).to_numpy(), e["ea_code"].to_numpy(),
                 e["post_stratum"].to_numpy(), e["correct"].to_numpy(), e["duplicate"].to_numpy())
    cc = CensusCounts(c.census["stratum"].to_numpy(), c.census["post_stratum"].to_numpy(),
                      np.ones(len(c.census)))
    return dse(ps, es, cc, reps), drawn


def study(c: County, design: Design, seeds) -> pd.DataFrame:
    """One row per (seed, statistic): estimate, se, ci, covered, truth."""
    rows = []
    for seed in seeds:
        res, drawn = one_draw(c, design, seed)
        for stat, e in res.overall.items():
            lo, hi = e.ci()
            t = c.truth[stat]
            rows.append((seed, len(drawn.units), stat, e.value, e.se, lo, hi, lo <= t <= hi, t))
    return pd.DataFrame(rows, columns=["seed", "eas", "statistic", "value", "se", "ci_low", "ci_high",
                                       "covered", "truth"])


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    g = runs.groupby("statistic", sort=False)
    out = pd.DataFrame({
        "truth": g["truth"].first(),
        "mean_est": g["value"].mean(),
        "bias": g["value"].mean() - g["truth"].first(),
        "emp_sd": g["value"].std(ddof=1),
        "mean_se": g["se"].mean(),
        "covered": g["covered"].sum(),
        "draws": g.size(),
    })
    out["rel_bias"] = out["bias"] / out["truth"]
    return out
