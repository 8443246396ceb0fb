"""Expected omission hot spots from the register comparison, next to the PES result.

Two independent sources point at where the census missed people. The household register says
who is registered in a village yet was not found in the census (``not_enumerated``: moved away
without deregistering, died without cancellation, or missed by the census); the PES says, for
the sample EAs, which PES persons the census did not have (omitted). Neither is the truth: the
register's rate is inflated everywhere by people who left, and the PES covers only the sample.
What leadership needs to see is whether the two *rank* places alike.

The comparison is by village (12-digit code): the register knows an address down to the village
(居/村委会), not the enumeration area, so the PES sample EAs are summed to their village.

- register rate = not_enumerated / live registrations (status 1: found in the census or not);
- PES rate = omitted / PES persons over the village's sample EAs (the accountability figures'
  ``omitted``, possible matches still open counted as found);
- agreement = Spearman's rank correlation across the villages both sources cover, with its
  two-sided p-value, and how many of the PES's top-quartile villages are also in the register's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sqlalchemy import Engine, select

from audit_engine.store.models import RegisterPerson, RegisterStatus
from audit_engine.store.runs import latest_run

VILLAGE_DIGITS = 12
LIVE = ("registered_here", "not_enumerated")   # register-side classes of a live (status 1) registration


@dataclass
class Hotspots:
    """Villages with both rates; ``agreement`` is None with fewer than 3 villages in both."""

    villages: pd.DataFrame   # village, township, registered, not_enumerated, register_rate, pes_eas, p_persons, omitted, pes_rate
    agreement: dict | None   # villages, spearman, p_value, top_quartile, top_quartile_shared
    register_run: int
    link_run: int | None


def village_rates(register: pd.DataFrame, pes: pd.DataFrame | None) -> pd.DataFrame:
    """Per village: the register's not-enumerated rate and the PES omission rate.

    ``register``: one row per register record (record ``R``) with ``address_code`` and ``cls``;
    ``pes``: one row per sample EA with ``unit`` (EA code), ``p_persons``, ``omitted`` (or None).
    Villages are sorted by the register rate, highest first, then code."""
    reg = register[register["address_code"].astype(str).str.len() >= VILLAGE_DIGITS].copy()
    reg["village"] = reg["address_code"].astype(str).str[:VILLAGE_DIGITS]
    live = reg[reg["cls"].isin(LIVE)]
    out = live.groupby("village").agg(registered=("cls", "size"),
                                      not_enumerated=("cls", lambda s: int((s == "not_enumerated").sum())))
    out["register_rate"] = out["not_enumerated"] / out["registered"]
    if pes is not None and len(pes):
        p = pes.assign(village=pes["unit"].astype(str).str[:VILLAGE_DIGITS])
        by_v = p.groupby("village").agg(pes_eas=("unit", "size"), p_persons=("p_persons", "sum"),
                                        omitted=("omitted", "sum"))
        out = out.join(by_v, how="outer")
    else:
        out = out.assign(pes_eas=np.nan, p_persons=np.nan, omitted=np.nan)
    out["registered"] = out["registered"].fillna(0).astype(int)
    out["not_enumerated"] = out["not_enumerated"].fillna(0).astype(int)
    out["pes_eas"] = out["pes_eas"].fillna(0).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pes_rate"] = np.where(out["p_persons"] > 0, out["omitted"] / out["p_persons"].where(out["p_persons"] > 0),
                                   np.nan)
    out = out.reset_index().rename(columns={"index": "village"})
    out["township"] = out["village"].str[:9]
    out = out.sort_values(["register_rate", "village"], ascending=[False, True], na_position="last")
    return out[["village", "township", "registered", "not_enumerated", "register_rate", "pes_eas", "p_persons",
                "omitted", "pes_rate"]].reset_index(drop=True)


def agreement(villages: pd.DataFrame) -> dict | None:
    """Rank agreement of the two rates over the villages both cover (None below 3)."""
    both = villages[(villages["registered"] > 0) & (villages["pes_eas"] > 0)]
    if len(both) < 3:
        return None
    rho, p = spearmanr(both["register_rate"], both["pes_rate"])
    k = max(1, len(both) // 4)
    top_pes = set(both.nlargest(k, "pes_rate")["village"])
    top_reg = set(both.nlargest(k, "register_rate")["village"])
    return {"villages": int(len(both)), "spearman": None if np.isnan(rho) else float(rho),
            "p_value": None if np.isnan(p) else float(p), "top_quartile": k,
            "top_quartile_shared": len(top_pes & top_reg)}


def hotspots(engine: Engine, register_run: int | None = None, link_run: int | None = None) -> Hotspots | None:
    """The villages' rates from the newest ``link register`` and ``link pes`` runs (or those given);
    None when there is no register run. Without a PES run, only the register's side."""
    from audit_engine.accountability.figures import NoData, omission_figures
    from audit_engine.register.run import RUN_KIND

    register_run = register_run if register_run is not None else latest_run(engine, RUN_KIND)
    if register_run is None:
        return None
    with engine.connect() as conn:
        reg = pd.read_sql(select(RegisterPerson.address_code, RegisterStatus.cls)
                          .join(RegisterPerson, RegisterPerson.register_key == RegisterStatus.record_key)
                          .where(RegisterStatus.run_id == register_run, RegisterStatus.record == "R"), conn)
    try:
        om = omission_figures(engine, "ea", run_id=link_run)
        pes = pd.DataFrame(om.rows)[["unit", "p_persons", "omitted"]]
        link_run = om.run_id
    except NoData:
        pes, link_run = None, None
    villages = village_rates(reg, pes)
    return Hotspots(villages, agreement(villages), int(register_run), link_run)
