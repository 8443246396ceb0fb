"""Samples in the store: read the frame, save a sealed draw, load it back, verify it.

Verification recomputes everything from the sealed inputs: the frame as it stands must hash
to the sealed frame hash, the design to its hash, and a redraw with the sealed seed must give
exactly the stored units (same selection hash) — the proof, for the supervision team and
auditors, that the PES sample was drawn as declared and not hand-picked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select

from audit_engine.ledger import append as ledger_append
from audit_engine.ledger.chain import canonical_json
from audit_engine.store.models import EnumerationArea, Sample, SampleUnit
from audit_engine.store.runs import finish_run, start_run
from sampling.design import Design, DesignError, parse_design
from sampling.draw import Drawn, draw, frame_hash, prepare_frame, selection_hash


def read_frame(engine: Engine, design: Design) -> pd.DataFrame:
    """The enumeration-area frame: the store's table, or the design's CSV (areas.csv format)."""
    if design.frame_source == "store":
        with engine.connect() as conn:
            f = pd.read_sql(select(EnumerationArea.__table__), conn)
        f = f.rename(columns={"code": "ea_code"})
        if f.empty:
            raise DesignError("the store has no enumeration areas: load areas.csv first (census-audit load areas)")
        return f
    try:
        return pd.read_csv(design.frame_source, dtype=str)
    except OSError as exc:
        raise DesignError(f"{design.frame_source}: cannot read the frame ({exc.strerror})") from None


def _design_from_json(text: str) -> Design:
    from sampling.design import Allocation, Stage

    d = json.loads(text)
    d["stages"] = tuple(Stage(**s) for s in d["stages"])
    d["allocation"] = Allocation(**d["allocation"])
    d["strata"], d["sort"] = tuple(d["strata"]), tuple(d["sort"])
    return Design(**d)


def save_sample(engine: Engine, design: Design, seed: int, drawn: Drawn, operator: str) -> int:
    run_id = start_run(engine, "sample", operator, {"design": design.name, "seed": seed})
    with engine.begin() as conn:
        sid = conn.execute(insert(Sample).values(
            name=design.name, design=canonical_json(design.as_data()), design_hash=design.content_hash,
            frame_hash=drawn.frame_hash, seed=seed, selection_hash=drawn.selection_hash, units=len(drawn.units),
            replicate_scale=json.dumps([float(x) for x in drawn.replicate_scale]), operator=operator,
            created_at=datetime.now(UTC), run_id=run_id)).inserted_primary_key[0]
        u = drawn.units
        conn.execute(insert(SampleUnit), [
            {"sample_id": sid, "unit_code": str(r.unit), "stratum": str(r.stratum), "psu": str(r.psu),
             "stage1_pi": float(r.stage1_pi), "pi": float(r.pi), "weight": float(r.weight),
             "certainty": bool(r.certainty), "stratum_psus": int(r.N_h), "stratum_sample": int(r.n_h),
             "replicate_weights": json.dumps([float(x) for x in drawn.replicate_weights[i]])}
            for i, r in enumerate(u.itertuples(index=False))])
    result = {"sample_id": sid, "units": len(drawn.units), "strata": int((drawn.strata["n_h"] > 0).sum()),
              "psus": int(drawn.total), "selection_hash": drawn.selection_hash}
    finish_run(engine, run_id, result)
    ledger_append(engine, operator=operator, command="sample",
                  params={"design": design.name, "seed": seed, "sample_id": sid, "run_id": run_id},
                  inputs={"design": design.content_hash, "frame": drawn.frame_hash}, result=result)
    return int(sid)


@dataclass
class StoredSample:
    id: int
    design: Design
    seed: int
    design_hash: str
    frame_hash: str
    selection_hash: str
    units: pd.DataFrame
    replicate_weights: np.ndarray
    replicate_scale: np.ndarray


def load_sample(engine: Engine, sample_id: int | None = None) -> StoredSample:
    """A stored sample (the newest when ``sample_id`` is None)."""
    with engine.connect() as conn:
        stmt = select(Sample.__table__)
        stmt = stmt.where(Sample.id == sample_id) if sample_id else stmt.order_by(Sample.id.desc()).limit(1)
        s = conn.execute(stmt).mappings().first()
        if s is None:
            raise DesignError("no such sample" if sample_id else "no sample has been drawn yet (census-audit sample)")
        units = pd.read_sql(select(SampleUnit.__table__).where(SampleUnit.sample_id == s["id"])
                            .order_by(SampleUnit.id), conn)
    reps = np.array([json.loads(x) for x in units.pop("replicate_weights")], dtype=float)
    units = units.rename(columns={"unit_code": "unit", "stratum_psus": "N_h", "stratum_sample": "n_h"})
    return StoredSample(int(s["id"]), _design_from_json(s["design"]), int(s["seed"]), s["design_hash"], s["frame_hash"],
                        s["selection_hash"], units, reps, np.array(json.loads(s["replicate_scale"]), dtype=float))


@dataclass
class Verification:
    ok: bool
    sample_id: int
    checks: dict[str, bool]
    message: str


def verify_sample(engine: Engine, operator: str, sample_id: int | None = None) -> Verification:
    """Redraw from the sealed design, frame and seed; every check must hold."""
    s = load_sample(engine, sample_id)
    frame = read_frame(engine, s.design)
    checks = {"design": s.design.content_hash == s.design_hash}
    checks["frame"] = frame_hash(prepare_frame(frame, s.design), s.design) == s.frame_hash
    checks["stored units"] = selection_hash(s.units) == s.selection_hash
    redrawn = draw(s.design, frame, s.seed)
    checks["redraw"] = redrawn.selection_hash == s.selection_hash
    checks["replicate weights"] = (redrawn.replicate_weights.shape == s.replicate_weights.shape
                                   and np.allclose(redrawn.replicate_weights, s.replicate_weights, rtol=1e-12))
    ok = all(checks.values())
    failed = [k for k, v in checks.items() if not v]
    message = (f"sample {s.id} verified: the stored selection is exactly what design {s.design.name}, the frame and seed {s.seed} give"
                if ok else
               "sample {} FAILED verification: {} differ(s) from what the sealed inputs give".format(s.id, ", ".join(failed)))
    ledger_append(engine, operator=operator, command="sample verify", params={"sample_id": s.id},
                  inputs={"design": s.design_hash, "frame": s.frame_hash},
                  result={"ok": ok, "checks": checks, "selection_hash": s.selection_hash})
    return Verification(ok, s.id, checks, message)


def parse_design_text(text: str, name: str = "design") -> Design:
    import yaml

    return parse_design(yaml.safe_load(text), name)
