"""Item errors an enumerator makes on a record, each one recorded by name in the truth.

One uniform per record and item group decides the error, scaled by the record's enumerator/
area multiplier, so rates are exact in expectation and errors within a group exclude each
other (a blank ID number cannot also have a swapped digit). The few records hit are edited
one by one (a string edit per record); choosing them is vectorised.

Reported ages are always re-derived from the reported birth year-month, as the census
software does, so a wrong birth month or a heaped birth year shows in the age as well.
"""

from __future__ import annotations

import numpy as np

from . import ages, ids, names
from . import codes as C
from .config import CaptureRates

#: error names in the order they are listed in truth/records.csv
ITEM_ERRORS = ("id_digit", "id_transpose", "missing_id_number", "birth_month", "age_heaping",
               "name_homophone", "sex_error", "missing_ethnicity", "missing_education")


def heaping_eligible(age: np.ndarray) -> np.ndarray:
    """Records whose age can be heaped: 15 and over, not already ending in 0 or 5."""
    return (age >= 15) & (age % 5 != 0)


def inject(rng: np.random.Generator, rec: dict[str, np.ndarray], rates: CaptureRates,
           mult: np.ndarray) -> dict[str, np.ndarray]:
    """Apply item errors to the record columns in place; returns error name -> mask."""
    n = len(mult)
    out: dict[str, np.ndarray] = {}

    def p(rate: float) -> np.ndarray:
        return np.clip(rate * mult, 0.0, 1.0)

    # ID number: one wrong digit, two adjacent digits swapped, or left blank
    u = rng.random(n)
    has_id = rec["id_number"] != ""
    a, b, c = p(rates.id_digit), p(rates.id_transpose), p(rates.missing_id_number)
    out["id_digit"] = has_id & (u < a)
    out["id_transpose"] = has_id & (u >= a) & (u < a + b)
    out["missing_id_number"] = has_id & (u >= a + b) & (u < a + b + c)
    for i in np.flatnonzero(out["id_digit"]):
        rec["id_number"][i] = ids.replace_digit(rng, rec["id_number"][i])
    for i in np.flatnonzero(out["id_transpose"]):
        rec["id_number"][i] = ids.transpose_digits(rng, rec["id_number"][i])
    rec["id_number"][out["missing_id_number"]] = ""

    # birth: a wrong month, or the year shifted so the age ends in 0 or 5
    u = rng.random(n)
    a, b = p(rates.birth_month), p(rates.age_heaping)
    year, month, age = rec["birth_year"], rec["birth_month"], rec["age"]
    out["birth_month"] = u < a
    out["age_heaping"] = heaping_eligible(age) & (u >= a) & (u < a + b)
    bm = out["birth_month"]
    months = np.where(year[bm] == ages.ST_YEAR, ages.ST_MONTH - 1, 12)   # never after the standard time
    shift = 1 + (rng.random(bm.sum()) * (months - 1)).astype(np.int64)
    month[bm] = (month[bm] - 1 + shift) % months + 1
    ah = out["age_heaping"]
    down = age[ah] - age[ah] % 5
    up = down + 5
    nearer_up = (up - age[ah] < age[ah] - down) | ((up - age[ah] == age[ah] - down) & (rng.random(ah.sum()) < 0.5))
    target = np.where(nearer_up, up, down)
    year[ah] = year[ah] - (target - age[ah])

    # name: one given-name character replaced by a homophone
    out["name_homophone"] = rng.random(n) < p(rates.name_homophone)
    for i in np.flatnonzero(out["name_homophone"]):
        rec["name"][i] = names.homophone(rng, rec["name"][i], int(rec["surname_len"][i]))

    # sex code flipped (the ID number keeps the true parity)
    out["sex_error"] = rng.random(n) < p(rates.sex_error)
    flip = out["sex_error"]
    rec["sex"][flip] = np.where(rec["sex"][flip] == C.MALE, C.FEMALE, C.MALE)

    out["missing_ethnicity"] = (rng.random(n) < p(rates.missing_ethnicity)) & (rec["ethnicity"] != "")
    rec["ethnicity"][out["missing_ethnicity"]] = ""
    out["missing_education"] = (rng.random(n) < p(rates.missing_education)) & (rec["education"] != "")
    rec["education"][out["missing_education"]] = ""
    return out
