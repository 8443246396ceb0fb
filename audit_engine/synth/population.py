"""The true county at the standard time: areas, households, persons, and those just out of scope.

Assembles the pieces (geography, household composition, items, migration, names, ID numbers)
into one ``Population``. Besides the residents it holds two groups the census must *not*
count but sometimes does: persons who died in the year before the standard time (they are
also the household's reported deaths) and babies born between the standard time and the end
of enumeration. ``status`` tells them apart.

All tables are dicts of equal-length numpy columns; persons are ordered by household then
line, residents first; households by EA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ages, attributes, geography, households, ids, migration, names
from . import codes as C
from .config import SynthConfig

RESIDENT, DIED, BORN_AFTER = 0, 1, 2
STATUS_NAMES = ("resident", "died", "born_after")
COLLECTIVE_PLACE = ("工厂宿舍", "学校宿舍", "敬老院")


@dataclass
class Population:
    """The truth: ``areas`` per EA, ``households`` per true household, ``persons`` per person."""

    areas: dict[str, np.ndarray]
    households: dict[str, np.ndarray]
    persons: dict[str, np.ndarray]

    @property
    def n_residents(self) -> int:
        return int((self.persons["status"] == RESIDENT).sum())


def build(config: SynthConfig, rng: dict[str, np.random.Generator]) -> Population:
    """The true population for ``config``; ``rng`` holds one independent stream per stage."""
    family_target = round(config.persons * (1 - config.collective_share))
    templates = households.draw_family_templates(rng["households"], family_target)
    sizes = np.array([len(t.roles) for t in households.TEMPLATES])[templates]
    family_persons = int(sizes.sum())
    coll_kinds, coll_sizes = households.draw_collective_sizes(rng["households"],
                                                              max(0, config.persons - family_persons))
    areas, hh_per_ea = geography.build_areas(rng["geography"], config.persons, len(templates),
                                             config.ea_households_min, config.ea_households_max,
                                             config.county_code)
    n_ea = len(areas["ea_code"])
    _index_areas(areas)
    urban_ea = geography.is_urban(areas["urban_rural"])

    # households: family ones fill the EAs in turn; collective quarters sit in urban EAs
    fam_ea = np.repeat(np.arange(n_ea), hh_per_ea)
    urban_idx = np.flatnonzero(urban_ea) if urban_ea.any() else np.arange(n_ea)
    coll_ea = urban_idx[rng["geography"].integers(0, len(urban_idx), size=len(coll_kinds))]
    hh_ea = np.concatenate([fam_ea, coll_ea])
    kind = np.concatenate([np.full(len(fam_ea), -1), coll_kinds])
    order = np.lexsort((np.arange(len(hh_ea)), kind >= 0, hh_ea))
    hh_ea, kind = hh_ea[order], kind[order]
    tmpl_all = np.concatenate([templates, np.full(len(coll_kinds), -1)])[order]
    coll_size_all = np.concatenate([np.zeros(len(templates), dtype=np.int64), coll_sizes])[order]
    n_hh = len(hh_ea)
    hh_idx = np.arange(n_hh)

    fam = households.family_skeleton(rng["households"], tmpl_all[kind < 0], hh_idx[kind < 0])
    coll = households.collective_skeleton(rng["households"], kind[kind >= 0], coll_size_all[kind >= 0],
                                          hh_idx[kind >= 0])
    n_fam = len(fam["hh"])
    for key in ("surname_from", "mother", "partner"):
        coll[key] = np.where(coll[key] >= 0, coll[key] + n_fam, -1)
    skel = households._reorder({k: np.concatenate([fam[k], coll[k]]) for k in fam})
    skel["status"] = np.zeros(len(skel["hh"]), dtype=np.int64)

    out_rng = rng["out_of_scope"]
    dead = _decedents(out_rng, skel, n_hh, config.death_rate)
    babies = _born_after(out_rng, skel, kind, config.birth_after_rate)
    persons = {k: np.concatenate([skel[k], dead[k], babies[k]]) for k in skel}
    persons["death_year"] = np.concatenate([np.full(len(skel["hh"]), -1), dead["death_year"],
                                            np.full(len(babies["hh"]), -1)])
    persons["death_month"] = np.concatenate([np.full(len(skel["hh"]), -1), dead["death_month"],
                                             np.full(len(babies["hh"]), -1)])

    hh_tables = {"ea": hh_ea, "collective_kind": kind, "template": tmpl_all}
    _person_items(config, rng, persons, hh_tables, areas, urban_ea)
    _household_items(rng["households"], persons, hh_tables, areas)
    _listing(rng["geography"], areas, hh_tables, persons)
    return Population(areas=areas, households=hh_tables, persons=persons)


def _index_areas(areas: dict[str, np.ndarray]) -> None:
    """Integer township and village indices per EA (in code order)."""
    for key in ("township", "village"):
        codes = areas[f"{key}_code"]
        _, idx = np.unique(codes.astype(str), return_inverse=True)
        areas[f"{key}_idx"] = idx.astype(np.int64)


def _decedents(rng: np.random.Generator, sk: dict[str, np.ndarray], n_hh: int, rate: float) -> dict[str, np.ndarray]:
    """Deaths in the year before the standard time, each in the household of a resident of
    similar age (mortality rising ~9 % a year of age), about ``rate`` per resident."""
    age = sk["age"]
    q = np.exp(0.085 * (age - 80.0))
    p = np.minimum(1.0, rate * len(age) * q / q.sum())
    trig = np.flatnonzero(rng.random(len(age)) < p)
    m = len(trig)
    hh = sk["hh"][trig]
    d_age = np.clip(age[trig] + np.rint(rng.normal(0, 4, m)).astype(np.int64), 30, ages.MAX_AGE)
    d_age = np.where(age[trig] < 30, age[trig], d_age)
    male = np.where((age[trig] >= 50) & (rng.random(m) < 0.6), ~sk["male"][trig], rng.random(m) < 0.52)
    first = np.searchsorted(sk["hh"], np.arange(n_hh))
    head = first[hh]
    head_age = age[head]
    collective = sk["relationship"][head] == ""
    no_partner = sk["partner"][head] < 0
    rel = np.where(d_age >= head_age + 18, C.PARENT,
                   np.where(no_partner & (male != sk["male"][head]) & (np.abs(d_age - head_age) <= 12),
                            C.SPOUSE, C.OTHER))
    rel = np.where(collective, "", rel).astype(object)
    k = rng.integers(0, 12, size=m)                    # months since 2019-11
    death_year = ages.ST_YEAR - 1 + (ages.ST_MONTH - 1 + k) // 12
    death_month = (ages.ST_MONTH - 1 + k) % 12 + 1
    marital = np.where(rng.random(m) < 0.55, C.WIDOWED, C.MARRIED).astype(object)
    marital = np.where(d_age < 22, C.NEVER_MARRIED, marital).astype(object)
    order = np.lexsort((trig, hh))
    out = {
        "hh": hh, "line": np.full(m, 900), "relationship": rel, "age": d_age, "male": male,
        "surname_from": np.where((rel == C.PARENT) & male, head, -1), "marital": marital,
        "mother": np.full(m, -1), "partner": np.full(m, -1), "status": np.full(m, DIED),
        "death_year": death_year, "death_month": death_month,
    }
    return {key: v[order] for key, v in out.items()}


def _born_after(rng: np.random.Generator, sk: dict[str, np.ndarray], kind: np.ndarray, rate: float) -> dict[str, np.ndarray]:
    """Babies born between the standard time and the end of enumeration to married resident
    women aged 20-40 in family households, about ``rate`` per resident."""
    cand = np.flatnonzero(~sk["male"] & (sk["age"] >= 20) & (sk["age"] <= 40) & (sk["marital"] == C.MARRIED)
                          & (kind[sk["hh"]] < 0))
    p = min(1.0, rate * len(sk["age"]) / max(len(cand), 1))
    mothers = cand[rng.random(len(cand)) < p]
    m = len(mothers)
    mrel = sk["relationship"][mothers]
    rel = np.where(np.isin(mrel, [C.HEAD, C.SPOUSE]), C.CHILD,
                   np.where(np.isin(mrel, [C.CHILD, C.CHILD_IN_LAW]), C.GRANDCHILD, C.OTHER)).astype(object)
    partner = sk["partner"][mothers]
    return {
        "hh": sk["hh"][mothers], "line": np.full(m, 950), "relationship": rel, "age": np.zeros(m, dtype=np.int64),
        "male": rng.random(m) < 0.515, "surname_from": np.where(partner >= 0, partner, mothers),
        "marital": np.full(m, "", dtype=object), "mother": mothers, "partner": np.full(m, -1),
        "status": np.full(m, BORN_AFTER),
    }


def _person_items(config: SynthConfig, rng: dict[str, np.random.Generator], p: dict[str, np.ndarray],
                  hh: dict[str, np.ndarray], areas: dict[str, np.ndarray], urban_ea: np.ndarray) -> None:
    """Birth dates, names, ID numbers and every census item, in place."""
    r = rng["attributes"]
    n = len(p["hh"])
    status = p["status"]
    age = p["age"]
    male = p["male"]
    p["sex"] = np.where(male, C.MALE, C.FEMALE).astype(object)
    year, month, day = ages.birth_from_age(r, age)
    after = status == BORN_AFTER
    month = np.where(after, np.where(r.random(n) < 0.8, ages.ST_MONTH, ages.ST_MONTH % 12 + 1), month)
    year = np.where(after, ages.ST_YEAR + (month < ages.ST_MONTH), year)
    day = np.where(after, 1 + (r.random(n) * ages.days_in_month(year, month)).astype(np.int64), day)
    p["birth_year"], p["birth_month"], p["birth_day"] = year, month, day

    # names: own surname unless copied from a relative (chains are at most three long)
    rn = rng["names"]
    surname = names.draw_surnames(rn, n)
    src = p["surname_from"]
    has = src >= 0
    for _ in range(3):
        surname[has] = surname[src[has]]
    given = names.draw_given(rn, p["sex"], year, config.single_given_name_share)
    p["surname_len"] = np.array([len(s) for s in surname], dtype=np.int64)
    p["name"] = np.char.add(surname.astype(str), given.astype(str)).astype(object)

    ea = hh["ea"][p["hh"]]
    urban = urban_ea[ea]
    p["ethnicity"] = attributes.ethnicity(r, p["hh"], len(hh["ea"]))
    edu = attributes.education(r, age, year, male, urban)
    p["education"] = np.where(after, "", edu).astype(object)
    student = (age >= 15) & ((age < 18) | ((age <= 22) & (r.random(n) < 0.55)))
    p["industry"], p["occupation"] = attributes.work(r, age, male, urban, student)
    marital = np.where(age < 15, "", p["marital"])
    too_young = (marital == C.MARRIED) & (age < np.where(male, 22, 20))
    p["marital_status"] = np.where(too_young, C.NEVER_MARRIED, marital).astype(object)

    reg = migration.registration(
        rng["migration"], hh=p["hh"], age=age, male=male, birth_year=year, birth_month=month,
        urban_hh=urban_ea[hh["ea"]], collective_kind=hh["collective_kind"],
        township=areas["township_idx"][hh["ea"]], village=areas["village_idx"][hh["ea"]],
        shares=(config.away_within_township, config.away_within_county, config.away_other_county,
                config.registration_pending),
    )
    mother = p["mother"]
    for key, col in reg.items():
        # babies born after the standard time take their mother's registration
        p[key] = np.where(after & (mother >= 0), col[np.maximum(mother, 0)], col)
    p["time_away"] = np.where(after & (p["registration_type"] != C.REG_HERE) & (p["time_away"] != ""),
                              C.AWAY_BANDS[0], p["time_away"]).astype(object)

    # the head or spouse in a household with a child-in-law or grandchild had a child
    resident = status == RESIDENT
    rel = p["relationship"]
    next_gen = np.bincount(p["hh"][resident & np.isin(rel, [C.CHILD_IN_LAW, C.GRANDCHILD])],
                           minlength=len(hh["ea"])) > 0
    min_born = (np.isin(rel, [C.HEAD, C.SPOUSE]) & next_gen[p["hh"]]).astype(np.int64)
    p["children_born"], p["children_surviving"], p["births_last_year"] = attributes.fertility(
        r, ~male, age, p["marital_status"], mother, resident, min_born)

    # ID numbers: registered-elsewhere migrants mostly carry their home county's code,
    # locals mostly this county's, some a neighbour's (married or moved in long ago)
    ri = rng["ids"]
    local_p = np.where(year >= 1995, 0.97, 0.88)
    area = np.where(ri.random(n) < local_p, config.county_code,
                    migration.NEIGHBOURS[ri.integers(0, len(migration.NEIGHBOURS), size=n)])
    other = p["registration_type"] == C.REG_OTHER_COUNTY
    home = np.where(ri.random(n) < 0.9, p["registration_place"],
                    migration.COUNTY_CODES[ri.choice(len(migration.COUNTY_CODES), n, p=migration.COUNTY_P)])
    area = np.where(other, home, area).astype(np.int64)
    date = year * 10000 + month * 100 + day
    has_id = ~after
    seq = np.zeros(n, dtype=np.int64)
    seq[has_id] = ids.unique_sequences(ri, area[has_id], date[has_id], male[has_id])
    id_number = np.full(n, "", dtype=object)
    id_number[has_id] = ids.format_ids(ids.first17(area[has_id], date[has_id], seq[has_id]))
    p["id_number"] = id_number

    width = max(7, len(str(n)))
    p["true_person_id"] = np.char.add("T", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _household_items(rng: np.random.Generator, p: dict[str, np.ndarray], hh: dict[str, np.ndarray],
                     areas: dict[str, np.ndarray]) -> None:
    """Size, births, deaths, housing and address per true household, in place."""
    n_hh = len(hh["ea"])
    res = p["status"] == RESIDENT
    hh["size"] = np.bincount(p["hh"][res], minlength=n_hh)
    hh["births"] = np.bincount(p["hh"][res & (p["age"] == 0)], minlength=n_hh)
    hh["deaths"] = np.bincount(p["hh"][p["status"] == DIED], minlength=n_hh)
    collective = hh["collective_kind"] >= 0
    hh["household_type"] = np.where(collective, C.COLLECTIVE, C.FAMILY).astype(object)
    urban = geography.is_urban(areas["urban_rural"][hh["ea"]])
    size = hh["size"]
    per_head = np.where(urban, 32.0, 48.0) * rng.lognormal(0.0, 0.3, n_hh)
    area = np.rint(np.where(urban, 25.0, 60.0) + per_head * np.maximum(size, 1))
    hh["floor_area"] = np.where(collective, -1, np.clip(area, 15, 600)).astype(np.int64)
    rooms = np.rint(hh["floor_area"] / rng.uniform(18, 30, n_hh))
    hh["rooms"] = np.where(collective, -1, np.clip(rooms, 1, 15)).astype(np.int64)
    width = max(7, len(str(n_hh)))
    hh["true_household_id"] = np.char.add("H", np.char.zfill(np.arange(1, n_hh + 1).astype(str), width)).astype(object)
    # addresses: a house number within the village, or the quarters' name
    village = areas["village_idx"][hh["ea"]]          # non-decreasing: households are in EA order
    number = np.arange(n_hh) - np.searchsorted(village, village, side="left") + 1
    place = np.where(collective, np.array(COLLECTIVE_PLACE, dtype=object)[np.maximum(hh["collective_kind"], 0)], "")
    tname, vname = areas["township_name"][hh["ea"]], areas["village_name"][hh["ea"]]
    hh["address"] = np.array([f"{t}{v}{q}{k}号" for t, v, q, k in zip(tname, vname, place, number, strict=True)],
                             dtype=object)


def _listing(rng: np.random.Generator, areas: dict[str, np.ndarray], hh: dict[str, np.ndarray],
             p: dict[str, np.ndarray]) -> None:
    """The pre-enumeration listing per EA: the true counts, a little off as listings are."""
    n_ea = len(areas["ea_code"])
    households_true = np.bincount(hh["ea"], minlength=n_ea)
    res = p["status"] == RESIDENT
    persons_true = np.bincount(hh["ea"][p["hh"][res]], minlength=n_ea)
    areas["households_listed"] = np.maximum(0, np.rint(households_true * rng.normal(1.0, 0.02, n_ea))).astype(np.int64)
    areas["persons_listed"] = np.maximum(0, np.rint(persons_true * rng.normal(1.0, 0.03, n_ea))).astype(np.int64)
