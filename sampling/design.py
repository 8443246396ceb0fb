"""PES sampling designs as data: parse and check a design YAML into a typed object.

A design names the frame (enumeration areas from the store or a CSV), the stratification
variables, the sort order within strata (implicit stratification), the stages with their
selection method and size measure, the allocation across strata, and the replicate method.
Everything is checked when the design loads; its content hash (of what it means, not how the
file is laid out) seals every draw.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from audit_engine.ledger.chain import canonical_json

METHODS = ("srswor", "systematic", "pps_systematic", "pps_sampford")
PPS = ("pps_systematic", "pps_sampford")
ALLOCATIONS = ("proportional", "equal", "neyman", "fixed")
#: JKn: one replicate per PSU (n x n for a one-stage sample, so for samples of up to a few thousand
#: PSUs); bootstrap: 200 Rao-Wu replicates; none: no replicate weights (variance by linearisation),
#: for national samples.
REPLICATES = ("JKn", "bootstrap", "none")
FRAME_COLUMNS = ("ea_code", "county_code", "township_code", "village_code", "urban_rural", "urban",
                 "households_listed", "persons_listed")
BUNDLED = "pes_county.yaml"


class DesignError(ValueError):
    """A design that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Stage:
    unit: str                      # frame column identifying this stage's units (ea_code, township_code)
    method: str
    size: str | None = None        # size measure column for PPS (default: the frame's size)
    per_psu: int | None = None     # stage 2: units drawn in each selected stage-1 unit


@dataclass(frozen=True)
class Allocation:
    method: str
    total: int | None = None
    calculator: dict[str, float] | None = None   # sample-size calculator inputs, when total is derived
    by: str = "size"
    min_per_stratum: int = 2
    collapse_small_strata: bool = True
    fixed: dict[str, int] = field(default_factory=dict)
    prior_sd: dict[str, float] = field(default_factory=dict)   # Neyman: stratum key -> prior SD ("default" too)


@dataclass(frozen=True)
class Design:
    name: str
    title: dict[str, str]
    frame_source: str              # "store" or a CSV path
    frame_unit: str
    size: str
    strata: tuple[str, ...]
    sort: tuple[str, ...]
    stages: tuple[Stage, ...]
    allocation: Allocation
    replicates: str = "JKn"        # JKn | bootstrap | none

    def as_data(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.as_data()).encode("utf-8")).hexdigest()


def bundled_path() -> Path:
    return Path(str(resources.files("sampling").joinpath(BUNDLED)))


def load_design(path: str | Path | None = None) -> Design:
    path = Path(path) if path else bundled_path()
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise DesignError(f"{path}: cannot read the design ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise DesignError(f"{path.name}{where}: not valid YAML") from None
    return parse_design(doc, path.name, path.parent)


def parse_design(doc: Any, name: str = "design", base: Path | None = None) -> Design:
    def err(msg: str) -> DesignError:
        return DesignError(f"{name}: {msg}")

    if not isinstance(doc, dict):
        raise err("a design is a mapping with frame, strata, stages and allocation")
    unknown = set(doc) - {"design", "title", "frame", "strata", "sort", "stages", "allocation", "replicates"}
    if unknown:
        raise err(f"unknown key(s) {sorted(unknown)}")
    frame = doc.get("frame") or {}
    source = str(frame.get("file") or frame.get("source") or "store")
    if source != "store" and base is not None and not Path(source).is_absolute():
        source = str((base / source).resolve())
    unit = str(frame.get("unit", "ea_code"))
    size = str(frame.get("size", "persons_listed"))
    strata = tuple(str(s) for s in (doc.get("strata") or []))
    sort = tuple(str(s) for s in (doc.get("sort") or ["ea_code"]))
    for col in (unit, size, *strata, *sort):
        if col not in FRAME_COLUMNS:
            raise err(f"{col!r} is not a frame column (one of {', '.join(FRAME_COLUMNS)})")
    stages_doc = doc.get("stages") or []
    if not 1 <= len(stages_doc) <= 2:
        raise err("a design has one or two stages")
    stages = []
    for i, st in enumerate(stages_doc, 1):
        method = st.get("method")
        if method not in METHODS:
            raise err(f"stage {i}: method must be one of {', '.join(METHODS)}")
        s_unit = str(st.get("unit", unit))
        if s_unit not in FRAME_COLUMNS:
            raise err(f"stage {i}: unit {s_unit!r} is not a frame column")
        per_psu = st.get("per_psu")
        if i == 2 and not (isinstance(per_psu, int) and per_psu >= 1):
            raise err("stage 2 needs per_psu: the number of units drawn in each selected stage-1 unit")
        stages.append(Stage(s_unit, method, st.get("size"), per_psu))
    if len(stages) == 2 and stages[1].unit != unit:
        raise err(f"stage 2 must select the frame's unit ({unit})")
    if len(stages) == 1 and stages[0].unit != unit:
        raise err(f"a one-stage design selects the frame's unit ({unit})")
    a = doc.get("allocation") or {}
    method = a.get("method", "proportional")
    if method not in ALLOCATIONS:
        raise err(f"allocation method must be one of {', '.join(ALLOCATIONS)}")
    total, calculator = a.get("total"), None
    if isinstance(total, dict):
        calculator = {k: float(v) for k, v in total.items()}
        missing = {"expected_rate", "moe"} - set(calculator)
        if missing:
            raise err(f"allocation total: the calculator needs {sorted(missing)}")
        total = None
    elif method != "fixed" and not (isinstance(total, int) and total >= 1):
        raise err("allocation total must be a positive whole number or calculator inputs")
    min_h = int(a.get("min_per_stratum", 2))
    if min_h < 1:
        raise err("min_per_stratum must be at least 1")
    by = str(a.get("by", "size"))
    if by not in ("size", "units"):
        raise err("allocation by must be 'size' or 'units'")
    fixed = {str(k): int(v) for k, v in (a.get("sizes") or {}).items()}
    if method == "fixed" and not fixed:
        raise err("a fixed allocation lists sizes: {stratum key: n}")
    reps = doc.get("replicates") or {}
    if not isinstance(reps, dict) or set(reps) - {"method"}:
        raise err("replicates is a mapping {method: JKn | bootstrap | none}")
    replicates = str(reps.get("method", "JKn"))
    if replicates not in REPLICATES:
        raise err(f"replicates method must be one of {', '.join(REPLICATES)}")
    return Design(
        name=str(doc.get("design", name)), title=doc.get("title") or {}, frame_source=source, frame_unit=unit,
        size=size, strata=strata, sort=sort, stages=tuple(stages),
        allocation=Allocation(method, total, calculator, by, min_h, bool(a.get("collapse_small_strata", True)), fixed,
                              {str(k): float(v) for k, v in (a.get("prior_sd") or {}).items()}),
        replicates=replicates)
