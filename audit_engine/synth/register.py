"""The county's household-registration register (户籍) at the standard time, with its truth.

A census is checked against the public-security register: who is registered here but was not
counted (candidate omissions, or people who left), who was counted but is registered elsewhere
(人户分离) or nowhere (未落户口), and whom the census counted although their registration was
cancelled by death. To test that comparison the register must hold what a real county extract
holds, for known reasons:

  resident_own_village     a resident registered in the village of their EA (registration type 1)
  resident_other_village   a resident registered in another committee of their township (type 2)
  resident_other_township  a resident registered in another township of the county (type 3)
  moved_away               registered here, status 1, living outside the county: an invented
                           person who is not in the true population
  died_not_cancelled       died in the year before the standard time, still status 1 (未销户口)
  died_cancelled           died in that year, cancelled (status 3, ``status_ym`` the month of
                           cancellation, never after 2020-10)
  moved_out                registration moved out (status 2) in the two years before the
                           standard time: an invented person
Residents registered in another county (type 4) or not registered (type 5) are not in this
county's register, nor are babies born after the standard time.

A decedent the census enumerated as living (``died_before`` in truth/records.csv) who was
registered in the county always gets a cancelled record dated before 2020-11: that is the
census error the comparison has to find (``deceased_enumerated``).

Register households (户号) follow the true households: members registered at their own village
share their household's number, and a person registered in another committee is in the
register household of their ``registration_household`` there (where the census may count them
a second time). Persons with no such link, collective residents and the invented persons get a
household of their own group, or (moved away: 60 %, moved out: 40 %) join a family household's.

Randomness comes only from the ``register`` stream, so adding the register left every census,
PES and truth file byte-identical for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ages, ids, migration, names, write
from . import codes as C
from .config import RegisterRates
from .enumerate import BORN_AFTER_KIND, DIED_BEFORE, FICTITIOUS, Capture
from .population import DIED, RESIDENT, Population

REGISTERED, MOVED_OUT_STATUS, DECEASED_STATUS = "1", "2", "3"

SITUATIONS = ("resident_own_village", "resident_other_village", "resident_other_township", "moved_away",
              "died_not_cancelled", "died_cancelled", "moved_out")
OWN_VILLAGE, OTHER_VILLAGE, OTHER_TOWNSHIP, MOVED_AWAY, DIED_NOT_CANCELLED, DIED_CANCELLED, MOVED_OUT = range(7)

#: register recording errors in the order they are listed in truth/register.csv
REGISTER_ERRORS = ("id_digit", "missing_id_number", "birth_month", "name_homophone")

#: the classes of truth/register_classes.csv (RegisterStatus.cls in the store)
CLASSES = ("registered_here", "registered_elsewhere", "no_registration", "deceased_enumerated",
           "not_enumerated", "moved_out", "deceased")

#: share of invented persons who stay in the register household of a family back home
JOIN_FAMILY = {MOVED_AWAY: 0.6, MOVED_OUT: 0.4}


@dataclass
class Register:
    """The register extract (loadable columns) and, per record, its truth."""

    records: dict[str, np.ndarray]   # header_names("register") columns, as text
    true_index: np.ndarray           # index into the population's persons, -1 for an invented person
    situation: np.ndarray            # index into SITUATIONS
    errors: np.ndarray               # ';'-joined REGISTER_ERRORS


def build(rng: np.random.Generator, pop: Population, census: Capture, rates: RegisterRates, *,
          county_code: str, single_given_name_share: float) -> Register:
    """The register of ``pop``'s county; ``census`` only decides which decedents are cancelled."""
    P, H, A = pop.persons, pop.households, pop.areas
    n, n_hh = len(P["hh"]), len(H["ea"])
    village_code, village_town = _villages(A)
    hh_village = A["village_idx"][H["ea"]]
    hh_town = A["township_idx"][H["ea"]]

    # --- true persons in the register: registered in this county, alive or recently dead
    rtype = P["registration_type"]
    in_county = np.isin(rtype, np.array([C.REG_HERE, C.REG_TOWNSHIP, C.REG_COUNTY], dtype=object))
    status = P["status"]
    chosen = np.flatnonzero(in_county & np.isin(status, [RESIDENT, DIED]))
    t_type = rtype[chosen]
    t_dead = status[chosen] == DIED
    enumerated_dead = t_dead & (census.person_records[chosen] > 0)
    uncancelled = t_dead & ~enumerated_dead & (rng.random(len(chosen)) < rates.death_uncancelled)
    sit = np.where(t_type == C.REG_HERE, OWN_VILLAGE, np.where(t_type == C.REG_TOWNSHIP, OTHER_VILLAGE, OTHER_TOWNSHIP))
    sit = np.where(t_dead, np.where(uncancelled, DIED_NOT_CANCELLED, DIED_CANCELLED), sit)

    # register household key: the true household, the linked registration household, or a
    # group (true household, type) with a drawn village for those without a link
    hh = P["hh"][chosen]
    link = P["registration_household"][chosen]
    key = np.where(t_type == C.REG_HERE, hh, link)
    loose = key < 0
    groups, g_of = np.unique(hh[loose] * 8 + (t_type[loose] == C.REG_COUNTY), return_inverse=True)
    g_hh = groups // 8
    g_village = _other_village(rng, hh_village[g_hh], hh_town[g_hh], (groups % 8) == 1, village_town)
    key[loose] = n_hh + g_of
    key_village = np.concatenate([hh_village, g_village])

    # --- invented persons: moved away (status 1) and moved out (status 2)
    n_res = pop.n_residents
    family = np.flatnonzero(H["collective_kind"] < 0)
    inv_sit, inv_key, inv_age_lo, inv_age_hi = [], [], [], []
    next_key = n_hh + len(groups)
    for which, rate in ((MOVED_AWAY, rates.moved_away), (MOVED_OUT, rates.moved_out)):
        m = int(rng.binomial(n_res, min(rate, 1.0)))
        home = family[rng.integers(0, len(family), size=m)] if len(family) else np.zeros(m, dtype=np.int64)
        join = rng.random(m) < JOIN_FAMILY[which]
        new = np.flatnonzero(~join)
        k = home.copy()
        k[new] = next_key + np.arange(len(new))
        key_village = np.concatenate([key_village, hh_village[home[new]]])
        next_key += len(new)
        inv_sit.append(np.full(m, which))
        inv_key.append(k)
        if which == MOVED_AWAY:
            # mostly working-age adults; some children and older people who went with them
            u = rng.random(m)
            lo = np.where(u < 0.75, 18, np.where(u < 0.9, 0, 46))
            hi = np.where(u < 0.75, 45, np.where(u < 0.9, 17, 75))
        else:
            lo, hi = np.full(m, 2), np.full(m, ages.MAX_AGE)
        inv_age_lo.append(lo)
        inv_age_hi.append(hi)
    inv_sit_a = np.concatenate(inv_sit)
    inv = _invented(rng, ages.draw_in(rng, np.concatenate(inv_age_lo), np.concatenate(inv_age_hi)), county_code,
                    single_given_name_share, P["id_number"])
    m_inv = len(inv_sit_a)

    # --- all records
    true_index = np.concatenate([chosen, np.full(m_inv, -1)])
    situation = np.concatenate([sit, inv_sit_a])
    rkey = np.concatenate([key, np.concatenate(inv_key)])
    rec = {
        "name": np.concatenate([P["name"][chosen], inv["name"]]).astype(object),
        "surname_len": np.concatenate([P["surname_len"][chosen], inv["surname_len"]]),
        "id_number": np.concatenate([P["id_number"][chosen], inv["id_number"]]).astype(object),
        "sex": np.concatenate([P["sex"][chosen], inv["sex"]]).astype(object),
        "birth_year": np.concatenate([P["birth_year"][chosen], inv["birth_year"]]).astype(np.int64),
        "birth_month": np.concatenate([P["birth_month"][chosen], inv["birth_month"]]).astype(np.int64),
    }
    n_rec = len(true_index)
    st_year = np.full(n_rec, -1, dtype=np.int64)
    st_month = np.full(n_rec, -1, dtype=np.int64)
    # cancellation 0-2 months after the death, never after 2020-10
    dc = np.flatnonzero(situation == DIED_CANCELLED)
    t = true_index[dc]
    months = P["death_year"][t] * 12 + P["death_month"][t] - 1 + rng.integers(0, 3, size=len(dc))
    months = np.minimum(months, ages.ST_YEAR * 12 + ages.ST_MONTH - 2)
    st_year[dc], st_month[dc] = months // 12, months % 12 + 1
    # moving out: a month of the two years before the standard time
    mo = np.flatnonzero(situation == MOVED_OUT)
    months = ages.ST_YEAR * 12 + ages.ST_MONTH - 2 - rng.integers(0, 24, size=len(mo))
    st_year[mo], st_month[mo] = months // 12, months % 12 + 1
    reg_status = np.where(situation == DIED_CANCELLED, DECEASED_STATUS,
                          np.where(situation == MOVED_OUT, MOVED_OUT_STATUS, REGISTERED)).astype(object)

    errors = _recording_errors(rng, rec, rates)

    # order: by address, register household, then residents / the dead / the invented in their order
    addr_rank = key_village[rkey]                      # village indices are in code order
    address = village_code[addr_rank]
    within = np.where(true_index >= 0, true_index, n + np.arange(n_rec))
    order = np.lexsort((within, rkey, addr_rank))
    hh_keys, hh_first = np.unique(rkey[order], return_index=True)
    hh_no = np.empty(len(hh_keys), dtype=np.int64)
    hh_no[np.argsort(hh_first, kind="stable")] = np.arange(1, len(hh_keys) + 1)
    hh_number = hh_no[np.searchsorted(hh_keys, rkey)]
    hwidth = max(9, len(str(len(hh_keys))))
    rwidth = max(8, len(str(n_rec)))
    records = {
        "register_id": np.char.add("R", np.char.zfill(np.arange(1, n_rec + 1).astype(str), rwidth)).astype(object),
        "id_number": rec["id_number"][order], "name": rec["name"][order], "sex": rec["sex"][order],
        "birth_ym": write.fmt_ym(rec["birth_year"], rec["birth_month"])[order],
        "address_code": address[order].astype(object),
        "register_household": np.char.zfill(hh_number.astype(str), hwidth).astype(object)[order],
        "status": reg_status[order], "status_ym": write.fmt_ym(st_year, st_month)[order],
    }
    return Register(records=records, true_index=true_index[order], situation=situation[order],
                    errors=errors[order])


def _villages(A: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Village codes by village index, and each village's township index."""
    n_v = int(A["village_idx"].max()) + 1
    code = np.empty(n_v, dtype=object)
    town = np.empty(n_v, dtype=np.int64)
    code[A["village_idx"]] = A["village_code"]
    town[A["village_idx"]] = A["township_idx"]
    return code, town


def _other_village(rng: np.random.Generator, village: np.ndarray, town: np.ndarray, other_township: np.ndarray,
                   village_town: np.ndarray) -> np.ndarray:
    """Per entry, a random village other than ``village``: in the same township, or (where
    ``other_township``) in another township. Village indices are in code order, so each
    township's villages are one run. Falls back to any village of the township / county when
    there is no other (a one-committee township, a one-township county)."""
    n_v = len(village_town)
    starts = np.searchsorted(village_town, np.arange(village_town.max() + 2))
    lo, hi = starts[town], starts[town + 1]
    cnt = hi - lo
    u = rng.random(len(village))
    # same township, skipping the own village
    same_n = np.maximum(cnt - 1, 1)
    pick = lo + (u * same_n).astype(np.int64)
    pick = np.where((cnt > 1) & (pick >= village), pick + 1, pick)
    pick = np.where(cnt > 1, pick, village)
    # another township: a draw among the villages outside [lo, hi)
    out_n = n_v - cnt
    j = (u * np.maximum(out_n, 1)).astype(np.int64)
    far = np.where(j < lo, j, j + cnt)
    far = np.where(out_n > 0, far, pick)
    return np.where(other_township, far, pick).astype(np.int64)


def _invented(rng: np.random.Generator, age: np.ndarray, county_code: str, single_share: float,
              taken_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Persons outside the true population: name, sex, birth and a valid ID number unique
    against everyone else's (mostly this county's area code, as for locals)."""
    m = len(age)
    male = rng.random(m) < 0.5
    sex = np.where(male, C.MALE, C.FEMALE).astype(object)
    year, month, day = ages.birth_from_age(rng, age)
    surname = names.draw_surnames(rng, m)
    given = names.draw_given(rng, sex, year, single_share)
    local_p = np.where(year >= 1995, 0.97, 0.88)
    area = np.where(rng.random(m) < local_p, county_code,
                    migration.NEIGHBOURS[rng.integers(0, len(migration.NEIGHBOURS), size=m)]).astype(np.int64)
    date = year * 10000 + month * 100 + day
    have = taken_ids[taken_ids != ""]
    taken = np.array([int(x[:17]) for x in have], dtype=np.int64)
    seq = ids.unique_sequences(rng, area, date, male, taken=taken)
    return {
        "name": np.char.add(surname.astype(str), given.astype(str)).astype(object),
        "surname_len": np.array([len(s) for s in surname], dtype=np.int64),
        "id_number": ids.format_ids(ids.first17(area, date, seq)) if m else np.full(0, "", dtype=object),
        "sex": sex, "birth_year": year, "birth_month": month,
    }


def _recording_errors(rng: np.random.Generator, rec: dict[str, np.ndarray], rates: RegisterRates) -> np.ndarray:
    """The register's own slips, applied in place; returns the ';'-joined names per record.

    A wrong digit always breaks the check character; a blank ID number is an unfilled field of an
    old record; a wrong birth month leaves the ID number's true date (a visible inconsistency);
    a homophone is a character typed for one that sounds the same.
    """
    n = len(rec["name"])
    hit: dict[str, np.ndarray] = {}
    u = rng.random(n)
    has_id = rec["id_number"] != ""
    hit["id_digit"] = has_id & (u < rates.id_digit)
    hit["missing_id_number"] = has_id & (u >= rates.id_digit) & (u < rates.id_digit + rates.missing_id_number)
    for i in np.flatnonzero(hit["id_digit"]):
        rec["id_number"][i] = ids.replace_digit(rng, rec["id_number"][i])
    rec["id_number"][hit["missing_id_number"]] = ""
    hit["birth_month"] = rng.random(n) < rates.birth_month
    bm = hit["birth_month"]
    year, month = rec["birth_year"], rec["birth_month"]
    months = np.where(year[bm] == ages.ST_YEAR, ages.ST_MONTH - 1, 12)       # never after the standard time
    shift = 1 + (rng.random(int(bm.sum())) * (months - 1)).astype(np.int64)
    month[bm] = (month[bm] - 1 + shift) % months + 1
    hit["name_homophone"] = rng.random(n) < rates.name_homophone
    for i in np.flatnonzero(hit["name_homophone"]):
        rec["name"][i] = names.homophone(rng, rec["name"][i], int(rec["surname_len"][i]))
    text = np.full(n, "", dtype=object)
    for name in REGISTER_ERRORS:
        m = hit[name]
        text[m] = np.where(text[m] == "", name, text[m] + ";" + name)
    return text


def person_class(registration_type: np.ndarray) -> np.ndarray:
    """The class of a census record of a living person, from their true registration type.

    Registered in the own township (own village or another committee of it) is
    ``registered_here``; another township of the county or another county is
    ``registered_elsewhere``; pending is ``no_registration``. Moving within a township is not
    人户分离 in the sense that matters to the audit (as the NBS leaves moves within a city
    district out of its floating population).
    """
    here = np.isin(registration_type, np.array([C.REG_HERE, C.REG_TOWNSHIP], dtype=object))
    away = np.isin(registration_type, np.array([C.REG_COUNTY, C.REG_OTHER_COUNTY], dtype=object))
    return np.where(here, "registered_here", np.where(away, "registered_elsewhere", "no_registration")).astype(object)


def classes(pop: Population, census: Capture, reg: Register) -> dict[str, np.ndarray]:
    """truth/register_classes.csv: the expected class of every census record and register record.

    Census (``C``) records: a resident's record (also a duplicate) takes the person's class
    (``person_class``); a decedent enumerated as living is ``deceased_enumerated`` if their
    registration here was cancelled, else the class of their registration type; a baby born
    after the standard time and a fictitious person are ``no_registration`` (no register
    record exists). Register (``R``) records: status 1 with a census record of the person is
    ``registered_here``, without one ``not_enumerated``; status 2 is ``moved_out``; status 3 is
    ``deceased_enumerated`` with a census record, else ``deceased``.
    """
    P = pop.persons
    n = len(P["hh"])
    kind = census.record_kind
    true = census.record_true
    rtype = P["registration_type"][np.maximum(true, 0)]
    c_cls = person_class(rtype)
    cancelled = np.zeros(n, dtype=bool)
    ti = reg.true_index
    st = reg.records["status"]
    cancelled[ti[(ti >= 0) & (st == DECEASED_STATUS)]] = True
    died = kind == DIED_BEFORE
    c_cls[died & cancelled[np.maximum(true, 0)]] = "deceased_enumerated"
    c_cls[(kind == BORN_AFTER_KIND) | (kind == FICTITIOUS)] = "no_registration"

    counted = np.zeros(len(ti), dtype=bool)
    counted[ti >= 0] = census.person_records[ti[ti >= 0]] > 0
    r_cls = np.where(st == MOVED_OUT_STATUS, "moved_out",
                     np.where(st == DECEASED_STATUS, np.where(counted, "deceased_enumerated", "deceased"),
                              np.where(counted, "registered_here", "not_enumerated"))).astype(object)
    m_c, m_r = len(kind), len(ti)
    return {
        "record": np.concatenate([np.full(m_c, "C", dtype=object), np.full(m_r, "R", dtype=object)]),
        "key": np.concatenate([census.persons["person_id"], reg.records["register_id"]]).astype(object),
        "expected": np.concatenate([c_cls, r_cls]).astype(object),
    }
