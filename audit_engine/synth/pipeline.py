"""``generate``: the true county, its census, its PES, the ground truth, and the manifest.

Randomness: one ``numpy.random.default_rng(seed)`` is split (``Generator.spawn``) into one
independent stream per stage in a fixed order, so the same seed gives byte-identical files,
and the census and the PES draw their errors independently of each other. A stream added later
goes at the end of ``STREAMS``: SeedSequence children keep their spawn keys, so the existing
streams, and every file they make, stay byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from audit_engine.io.columns import header_names

from . import households, listing, register, staff, write
from .config import SynthConfig
from .enumerate import BASE, Capture, capture
from .population import DIED, RESIDENT, STATUS_NAMES, Population, build

Progress = Callable[[str, int, int], None]

STREAMS = ("households", "geography", "out_of_scope", "attributes", "names", "migration", "ids", "staff",
           "census", "pes", "listing", "register")
STEPS = ("population", "staff", "census", "pes", "register", "write")
FORMAT_VERSION = 1


def generate(config: SynthConfig, out: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Write the synthetic county under ``out`` and return the manifest (also out/manifest.json)."""
    out = Path(out)
    say: Progress = progress or (lambda step, done, total: None)
    total = len(STEPS)
    root = np.random.default_rng(config.seed)
    rng = dict(zip(STREAMS, root.spawn(len(STREAMS)), strict=True))

    say("population", 0, total)
    pop = build(config, rng)
    say("staff", 1, total)
    town = pop.areas["township_idx"]
    census_staff = staff.assign(rng["staff"], town, prefix="", max_eas=2,
                                per_supervisor=config.enumerators_per_supervisor,
                                bad_share=config.census.bad_enumerator_share)
    pes_staff = staff.assign(rng["staff"], town, prefix="P", max_eas=2,
                             per_supervisor=config.enumerators_per_supervisor,
                             bad_share=config.pes.bad_enumerator_share)
    say("census", 2, total)
    common = {"death_report_omission": config.death_report_omission, "county_code": config.county_code,
              "single_given_name_share": config.single_given_name_share}
    census = capture(rng["census"], pop, config.census, id_prefix="",
                     ea_enumerator_id=census_staff["enumerator_id"][census_staff["ea_enumerator"]],
                     ea_bad=census_staff["bad"][census_staff["ea_enumerator"]], shuffle_households=False, **common)
    say("pes", 3, total)
    pes = capture(rng["pes"], pop, config.pes, id_prefix="P",
                  ea_enumerator_id=pes_staff["enumerator_id"][pes_staff["ea_enumerator"]],
                  ea_bad=pes_staff["bad"][pes_staff["ea_enumerator"]], shuffle_households=True, **common)
    say("register", 4, total)
    reg = register.build(rng["register"], pop, census, config.register, county_code=config.county_code,
                         single_given_name_share=config.single_given_name_share)
    say("write", 5, total)
    files = _write_all(out, pop, census, pes, census_staff, pes_staff, reg)
    listed = listing.build(rng["listing"], pop, config.listing,
                           census_staff["enumerator_id"][census_staff["ea_enumerator"]], census)
    files.update(listing.write_files(out, listed))
    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": "audit_engine.synth",
        "seed": config.seed,
        "config": config.to_dict(),
        "counts": {**_counts(pop, census, pes, census_staff, pes_staff, reg),
                   "listing_households": len(listed.rows["listing_id"])},
        "files": files,
    }
    write.write_manifest(out / "manifest.json", manifest)
    say("done", total, total)
    return manifest


def _persons_columns(c: Capture) -> dict[str, np.ndarray]:
    p = dict(c.persons)
    for k in ("line_no", "age", "children_born", "children_surviving", "births_last_year"):
        p[k] = write.fmt_int(p[k])
    p["birth_ym"] = write.fmt_ym(p["birth_year"], p["birth_month"])
    return p


def _households_columns(c: Capture) -> dict[str, np.ndarray]:
    h = dict(c.households)
    for k in ("declared_size", "births_count", "deaths_count", "floor_area", "rooms"):
        h[k] = write.fmt_int(h[k])
    return h


def _deaths_columns(c: Capture) -> dict[str, np.ndarray]:
    d = dict(c.deaths)
    d["line_no"] = write.fmt_int(d["line_no"])
    d["birth_ym"] = write.fmt_ym(d["birth_year"], d["birth_month"])
    d["death_ym"] = write.fmt_ym(d["death_year"], d["death_month"])
    return d


def _write_all(out: Path, pop: Population, census: Capture, pes: Capture, cs: dict, ps: dict,
               reg: register.Register) -> dict[str, str]:
    files: dict[str, str] = {}
    A, P, H = pop.areas, pop.persons, pop.households

    def put(rel: str, header: list[str], cols: dict[str, np.ndarray]) -> None:
        files[rel] = write.write_csv(out / rel, header, cols)

    areas = dict(A)
    areas["households_listed"] = write.fmt_int(A["households_listed"])
    areas["persons_listed"] = write.fmt_int(A["persons_listed"])
    put("areas.csv", header_names("areas"), areas)

    ea_code = A["ea_code"]
    enum_ids = np.concatenate([cs["enumerator_id"], ps["enumerator_id"]])
    enum = {
        "enumerator_id": enum_ids,
        "supervisor_id": np.concatenate([cs["supervisor_id"], ps["supervisor_id"]]),
        "ea_codes": np.array([";".join(ea_code[i]) for i in list(cs["ea_index"]) + list(ps["ea_index"])],
                             dtype=object),
    }
    put("enumerators.csv", header_names("enumerators"), enum)

    for name, c in (("census", census), ("pes", pes)):
        put(f"{name}/households.csv", header_names("households"), _households_columns(c))
        put(f"{name}/persons.csv", header_names("persons"), _persons_columns(c))
    put("census/deaths.csv", header_names("deaths"), _deaths_columns(census))

    # ground truth
    tid = P["true_person_id"]
    mother = P["mother"]
    reg_hh = P["registration_household"]
    n_hh = len(H["ea"])
    truth_p = {
        "true_person_id": tid,
        "status": np.array(STATUS_NAMES, dtype=object)[P["status"]],
        "true_household_id": H["true_household_id"][P["hh"]],
        "ea_code": ea_code[H["ea"][P["hh"]]],
        "household_type": H["household_type"][P["hh"]],
        "line": write.fmt_int(np.where(P["status"] == RESIDENT, P["line"] + 1, -1)),
        "relationship": P["relationship"], "name": P["name"], "id_number": P["id_number"], "sex": P["sex"],
        "birth_ym": write.fmt_ym(P["birth_year"], P["birth_month"]),
        "birth_day": write.fmt_int(P["birth_day"]),
        "age": write.fmt_int(np.maximum(P["age"], 0)),
        "ethnicity": P["ethnicity"], "education": P["education"], "marital_status": P["marital_status"],
        "industry": P["industry"], "occupation": P["occupation"],
        "registration_type": P["registration_type"], "registration_place": P["registration_place"],
        "registration_household_id": np.where(reg_hh >= 0, H["true_household_id"][np.maximum(reg_hh, 0)], ""),
        "time_away": P["time_away"], "reason_away": P["reason_away"],
        "children_born": write.fmt_int(P["children_born"]),
        "children_surviving": write.fmt_int(P["children_surviving"]),
        "births_last_year": write.fmt_int(P["births_last_year"]),
        "mother_id": np.where(mother >= 0, tid[np.maximum(mother, 0)], ""),
        "death_ym": write.fmt_ym(P["death_year"], P["death_month"]),
        "census_records": write.fmt_int(census.person_records),
        "pes_records": write.fmt_int(pes.person_records),
        "census_death_reported": write.fmt_int(census.death_reported.astype(np.int64)),
    }
    put("truth/persons.csv", list(truth_p), truth_p)

    comp = np.array([t.name for t in households.TEMPLATES] + [k[0] for k in households.COLLECTIVE_KINDS],
                    dtype=object)
    comp_idx = np.where(H["collective_kind"] >= 0, len(households.TEMPLATES) + H["collective_kind"], H["template"])
    truth_h = {
        "true_household_id": H["true_household_id"], "ea_code": ea_code[H["ea"]],
        "household_type": H["household_type"], "composition": comp[comp_idx],
        "size": write.fmt_int(H["size"]), "births": write.fmt_int(H["births"]), "deaths": write.fmt_int(H["deaths"]),
        "census_household_id": _hh_map(census, pop, n_hh), "pes_household_id": _hh_map(pes, pop, n_hh),
    }
    put("truth/households.csv", list(truth_h), truth_h)

    rec = {
        "source": np.concatenate([np.full(len(census.record_true), "census", dtype=object),
                                  np.full(len(pes.record_true), "pes", dtype=object)]),
        "person_id": np.concatenate([census.persons["person_id"], pes.persons["person_id"]]),
        "true_person_id": np.concatenate([np.where(c.record_true >= 0, tid[np.maximum(c.record_true, 0)], "")
                                          for c in (census, pes)]),
        "errors": np.concatenate([census.record_errors, pes.record_errors]),
    }
    put("truth/records.csv", list(rec), rec)

    ta = {"ea_code": ea_code, "true_persons": write.fmt_int(census.ea_counts["true_persons"])}
    for name, c in (("census", census), ("pes", pes)):
        for k in ("records", "omitted", "duplicates", "erroneous"):
            ta[f"{name}_{k}"] = write.fmt_int(c.ea_counts[k])
    put("truth/areas.csv", list(ta), ta)

    te = {
        "enumerator_id": enum_ids,
        "source": np.concatenate([np.full(len(cs["bad"]), "census", dtype=object),
                                  np.full(len(ps["bad"]), "pes", dtype=object)]),
        "bad": write.fmt_int(np.concatenate([cs["bad"], ps["bad"]]).astype(np.int64)),
    }
    put("truth/enumerators.csv", list(te), te)

    put("register/register.csv", header_names("register"), reg.records)
    tr = {
        "register_id": reg.records["register_id"],
        "true_person_id": np.where(reg.true_index >= 0, tid[np.maximum(reg.true_index, 0)], ""),
        "situation": np.array(register.SITUATIONS, dtype=object)[reg.situation],
        "errors": reg.errors,
    }
    put("truth/register.csv", list(tr), tr)
    put("truth/register_classes.csv", ["record", "key", "expected"], register.classes(pop, census, reg))
    return files


def _hh_map(c: Capture, pop: Population, n_hh: int) -> np.ndarray:
    """Per true household, the id the enumeration gave it ('' when not enumerated).

    Follows the records of residents enumerated at home; a household holding only a duplicate
    or an erroneous record maps to nothing.
    """
    out = np.full(n_hh, "", dtype=object)
    base = c.record_kind == BASE
    out[pop.persons["hh"][c.record_true[base]]] = c.persons["household_id"][base]
    return out


def _counts(pop: Population, census: Capture, pes: Capture, cs: dict, ps: dict,
            reg: register.Register) -> dict[str, int]:
    P = pop.persons
    counts = {
        "true_persons": pop.n_residents,
        "true_households": len(pop.households["ea"]),
        "died_in_year": int((P["status"] == DIED).sum()),
        "born_after_standard_time": int((P["status"] == 2).sum()),
        "eas": len(pop.areas["ea_code"]),
        "townships": len(np.unique(pop.areas["township_code"].astype(str))),
        "villages": len(np.unique(pop.areas["village_code"].astype(str))),
        "census_enumerators": len(cs["enumerator_id"]),
        "census_bad_enumerators": int(cs["bad"].sum()),
        "pes_enumerators": len(ps["enumerator_id"]),
        "census_deaths": len(census.deaths["household_id"]),
    }
    for name, c in (("census", census), ("pes", pes)):
        counts[f"{name}_households"] = len(c.households["household_id"])
        counts[f"{name}_persons"] = len(c.persons["person_id"])
        for k in ("omitted", "duplicates", "erroneous"):
            counts[f"{name}_{k}"] = int(c.ea_counts[k].sum())
    status = reg.records["status"]
    counts["register_records"] = len(status)
    counts["register_registered"] = int((status == register.REGISTERED).sum())
    counts["register_moved_out"] = int((status == register.MOVED_OUT_STATUS).sum())
    counts["register_deceased"] = int((status == register.DECEASED_STATUS).sum())
    counts["register_moved_away"] = int((reg.situation == register.MOVED_AWAY).sum())
    counts["register_deaths_not_cancelled"] = int((reg.situation == register.DIED_NOT_CANCELLED).sum())
    return counts
