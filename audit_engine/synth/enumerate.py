"""One enumeration of the true county: the census, or the independent PES re-enumeration.

Coverage errors first (which true persons get a record, and where), then item errors on the
records, then the enumeration's own numbering of households and persons. Every record keeps
the index of the true person behind it (-1 for an invented one) and the list of errors
injected, and per EA the omitted, duplicated and erroneous counts are kept so that
``records = true persons - omitted + duplicates + erroneous`` holds in every EA.

Coverage errors:
  household omission      the whole household is missed
  person omission         a member is missed; higher for infants (0-1) and for mobile young
                          adults (18-35 living away from their registration place)
  duplicate               a person registered in another committee of this county, enumerated
                          at home, is enumerated again at the registration household
  died / born after       a person who died in the year before the standard time, or a baby
                          born after it, enumerated as a resident
  fictitious              an invented person added to an enumerated household
A person omitted at home is never "duplicated" elsewhere: the second record would then be an
enumeration in the wrong place, a different error this generator does not make.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ages, attributes, errors, households, ids, names
from . import codes as C
from .config import CaptureRates
from .population import BORN_AFTER, DIED, RESIDENT, Population

KIND_NAMES = ("", "duplicate", "died_before", "born_after", "fictitious")
BASE, DUPLICATE, DIED_BEFORE, BORN_AFTER_KIND, FICTITIOUS = range(5)

#: record columns carried from the true person (plus ``age`` and ``surname_len`` helpers)
ITEMS = ("name", "surname_len", "id_number", "sex", "birth_year", "birth_month", "age", "ethnicity",
         "relationship", "education", "industry", "occupation", "registration_type", "registration_place",
         "time_away", "reason_away", "marital_status", "children_born", "children_surviving",
         "births_last_year")


@dataclass
class Capture:
    """The files of one enumeration plus its truth."""

    households: dict[str, np.ndarray]
    persons: dict[str, np.ndarray]
    deaths: dict[str, np.ndarray]
    record_true: np.ndarray          # per person record: index into population persons, -1 invented
    record_errors: np.ndarray        # per person record: ';'-joined error names
    record_kind: np.ndarray          # per person record: BASE, DUPLICATE, DIED_BEFORE, ...
    ea_counts: dict[str, np.ndarray]
    person_records: np.ndarray       # per true person: how many records
    death_reported: np.ndarray       # per true person: reported as a death of the household


def capture(rng: np.random.Generator, pop: Population, rates: CaptureRates, *, id_prefix: str,
            ea_enumerator_id: np.ndarray, ea_bad: np.ndarray, shuffle_households: bool,
            death_report_omission: float, county_code: str, single_given_name_share: float) -> Capture:
    """Enumerate ``pop`` once with ``rates``; ids get ``id_prefix`` ('' census, 'P' PES)."""
    P, H, A = pop.persons, pop.households, pop.areas
    n_ea, n_hh, n = len(A["ea_code"]), len(H["ea"]), len(P["hh"])
    status = P["status"]
    res = status == RESIDENT
    n_true = int(res.sum())

    z = rng.standard_normal(n_ea)
    s = rates.ea_rate_sigma
    ea_mult = np.exp(s * z - s * s / 2) * np.where(ea_bad, rates.bad_enumerator_factor, 1.0)
    hh_mult = ea_mult[H["ea"]]
    p_mult = hh_mult[P["hh"]]

    def hit(rate: float | np.ndarray, mult: np.ndarray) -> np.ndarray:
        return rng.random(len(mult)) < np.clip(rate * mult, 0.0, 1.0)

    # coverage
    hh_enum = ~hit(rates.household_omission, hh_mult)
    age = P["age"]
    away = np.isin(P["registration_type"], np.array(C.REG_AWAY, dtype=object))
    p_omit = np.where(age <= 1, rates.infant_omission,
                      np.where((age >= 18) & (age <= 35) & away, rates.mobile_omission, rates.person_omission))
    enum_res = res & hh_enum[P["hh"]] & ~hit(p_omit, p_mult)

    reg_hh = P["registration_household"]
    dup_ok = enum_res & (reg_hh >= 0) & hh_enum[np.maximum(reg_hh, 0)]
    dup_p = rates.duplicate * n_true / max(int(dup_ok.sum()), 1)
    dup = dup_ok & hit(dup_p, ea_mult[H["ea"][np.maximum(reg_hh, 0)]])

    died = status == DIED
    died_enum = died & hh_enum[P["hh"]] & hit(rates.died_enumerated * n_true / max(int(died.sum()), 1), p_mult)
    born = status == BORN_AFTER
    born_enum = born & hh_enum[P["hh"]] & hit(rates.born_after_enumerated * n_true / max(int(born.sum()), 1), p_mult)
    fict_hh = np.flatnonzero(hh_enum & hit(rates.fictitious * n_true / max(int(hh_enum.sum()), 1), hh_mult))

    # records: (person, household, order within household, kind)
    base = np.flatnonzero(enum_res)
    d_idx, x_idx, b_idx = np.flatnonzero(dup), np.flatnonzero(died_enum), np.flatnonzero(born_enum)
    f_idx = n + np.arange(len(fict_hh))
    rec_person = np.concatenate([base, d_idx, x_idx, b_idx, f_idx])
    rec_hh = np.concatenate([P["hh"][base], reg_hh[d_idx], P["hh"][x_idx], P["hh"][b_idx], fict_hh])
    rec_kind = np.concatenate([np.full(len(base), BASE), np.full(len(d_idx), DUPLICATE),
                               np.full(len(x_idx), DIED_BEFORE), np.full(len(b_idx), BORN_AFTER_KIND),
                               np.full(len(f_idx), FICTITIOUS)])
    rec_order = np.concatenate([P["line"][base], 1000 * rec_kind[len(base):]])   # extras after the members

    fict = _fictitious(rng, len(fict_hh), H["collective_kind"][fict_hh] >= 0, county_code, single_given_name_share)
    rec = {k: np.concatenate([P[k], fict[k]])[rec_person] for k in ITEMS}
    for k in ("name", "id_number", "sex", "ethnicity", "education"):
        rec[k] = rec[k].astype(object).copy()

    # a duplicate is listed by the registration household as one of its own
    isdup = rec_kind == DUPLICATE
    if isdup.any():
        first = np.searchsorted(P["hh"][res], np.arange(n_hh))
        head_age = age[np.minimum(first[rec_hh[isdup]], n_true - 1)]
        diff = head_age - rec["age"][isdup]
        rec["relationship"][isdup] = np.where(diff >= 18, C.CHILD, np.where(diff <= -18, C.PARENT,
                                              np.where(np.abs(diff) < 15, C.SIBLING, C.OTHER)))
        rec["registration_type"][isdup] = C.REG_HERE
        rec["time_away"][isdup] = C.NOT_AWAY
        rec["registration_place"][isdup] = ""
        rec["reason_away"][isdup] = ""
    rec["relationship"] = np.where(H["collective_kind"][rec_hh] >= 0, "", rec["relationship"]).astype(object)

    rec_mult = hh_mult[rec_hh]
    item_err = errors.inject(rng, rec, rates, rec_mult)
    rec["age"] = np.maximum(ages.age_at_standard_time(rec["birth_year"], rec["birth_month"]), 0)

    # households with at least one record, numbered within their EA
    per_hh = np.bincount(rec_hh, minlength=n_hh)
    kept = np.flatnonzero(per_hh > 0)
    key = rng.random(len(kept)) if shuffle_households else np.arange(len(kept), dtype=float)
    kept = kept[np.lexsort((key, H["ea"][kept]))]
    ea_of = H["ea"][kept]
    hh_no = np.arange(len(kept)) - np.searchsorted(ea_of, ea_of, side="left") + 1
    width = max(3, len(str(int(hh_no.max(initial=1)))))
    hh_ids = np.array([f"{id_prefix}{A['ea_code'][e]}{k:0{width}d}" for e, k in zip(ea_of, hh_no, strict=True)],
                      dtype=object)
    pos = np.full(n_hh, -1)
    pos[kept] = np.arange(len(kept))

    order = np.lexsort((rec_person, rec_order, pos[rec_hh]))
    rec_person, rec_hh, rec_kind = rec_person[order], rec_hh[order], rec_kind[order]
    rec = {k: v[order] for k, v in rec.items()}
    item_err = {k: v[order] for k, v in item_err.items()}
    rp = pos[rec_hh]
    line_no = np.arange(len(rp)) - np.searchsorted(rp, rp, side="left") + 1
    lwidth = max(3, len(str(int(line_no.max(initial=1)))))
    person_ids = np.char.add(hh_ids[rp].astype(str), np.char.zfill(line_no.astype(str), lwidth)).astype(object)

    enum_of_ea = ea_enumerator_id
    persons = {
        "person_id": person_ids, "household_id": hh_ids[rp], "ea_code": A["ea_code"][H["ea"][rec_hh]],
        "line_no": line_no, **{k: rec[k] for k in ITEMS if k not in ("surname_len",)},
        "enumerator_id": enum_of_ea[H["ea"][rec_hh]],
    }

    # deaths reported by the households (not those listed as living, some forgotten)
    reported = died & (pos[P["hh"]] >= 0) & ~died_enum & ~hit(death_report_omission, np.ones(n))
    d = np.flatnonzero(reported)
    d = d[np.lexsort((d, pos[P["hh"][d]]))]
    dpos = pos[P["hh"][d]]
    d_line = np.arange(len(d)) - np.searchsorted(dpos, dpos, side="left") + 1
    deaths = {
        "household_id": hh_ids[dpos], "ea_code": A["ea_code"][H["ea"][P["hh"][d]]], "line_no": d_line,
        "name": P["name"][d], "sex": P["sex"][d], "birth_year": P["birth_year"][d],
        "birth_month": P["birth_month"][d], "death_year": P["death_year"][d], "death_month": P["death_month"][d],
    }
    deaths_per_hh = np.bincount(P["hh"][d], minlength=n_hh)

    households_out = {
        "household_id": hh_ids, "ea_code": A["ea_code"][ea_of], "household_type": H["household_type"][kept],
        "declared_size": per_hh[kept], "births_count": H["births"][kept], "deaths_count": deaths_per_hh[kept],
        "floor_area": H["floor_area"][kept], "rooms": H["rooms"][kept], "address": H["address"][kept],
        "enumerator_id": enum_of_ea[ea_of],
    }

    err_text = np.array([KIND_NAMES[k] for k in rec_kind], dtype=object)
    for name in errors.ITEM_ERRORS:
        m = item_err[name]
        err_text[m] = np.where(err_text[m] == "", name, err_text[m] + ";" + name)

    rec_ea = H["ea"][rec_hh]
    ea_counts = {
        "true_persons": np.bincount(H["ea"][P["hh"][res]], minlength=n_ea),
        "records": np.bincount(rec_ea, minlength=n_ea),
        "omitted": np.bincount(H["ea"][P["hh"][res & ~enum_res]], minlength=n_ea),
        "duplicates": np.bincount(rec_ea[rec_kind == DUPLICATE], minlength=n_ea),
        "erroneous": np.bincount(rec_ea[rec_kind >= DIED_BEFORE], minlength=n_ea),
    }
    true_rec = np.where(rec_person < n, rec_person, -1)
    person_records = np.bincount(true_rec[true_rec >= 0], minlength=n)
    return Capture(households=households_out, persons=persons, deaths=deaths, record_true=true_rec,
                   record_errors=err_text, record_kind=rec_kind, ea_counts=ea_counts, person_records=person_records,
                   death_reported=reported)


def _fictitious(rng: np.random.Generator, m: int, collective: np.ndarray, county_code: str,
                single_share: float) -> dict[str, np.ndarray]:
    """Invented persons: plausible names, ages and a well-formed local ID number."""
    age = ages.draw_in(rng, np.zeros(m, dtype=np.int64), np.full(m, 85))
    male = rng.random(m) < 0.5
    sex = np.where(male, C.MALE, C.FEMALE).astype(object)
    year, month, day = ages.birth_from_age(rng, age)
    surname = names.draw_surnames(rng, m)
    given = names.draw_given(rng, sex, year, single_share)
    area = np.full(m, int(county_code), dtype=np.int64)
    seq = 2 * rng.integers(0, 500, size=m) + male
    date = year * 10000 + month * 100 + day
    marital = households._marital_alone(rng, age)
    born, surv, last = attributes.fertility(rng, ~male, age, marital, np.full(m, -1), np.ones(m, dtype=bool))
    blank = np.full(m, "", dtype=object)
    return {
        "name": np.char.add(surname.astype(str), given.astype(str)).astype(object),
        "surname_len": np.array([len(s) for s in surname], dtype=np.int64),
        "id_number": ids.format_ids(ids.first17(area, date, seq)) if m else blank,
        "sex": sex, "birth_year": year, "birth_month": month, "age": age,
        "ethnicity": np.full(m, C.HAN, dtype=object),
        "relationship": np.where(collective, "", C.OTHER).astype(object),
        "education": attributes.education(rng, age, year, male, np.zeros(m, dtype=bool)),
        "industry": blank, "occupation": blank.copy(),
        "registration_type": np.full(m, C.REG_HERE, dtype=object), "registration_place": blank.copy(),
        "time_away": np.full(m, C.NOT_AWAY, dtype=object), "reason_away": blank.copy(),
        "marital_status": marital, "children_born": born, "children_surviving": surv, "births_last_year": last,
    }
