"""Where people are registered (户口登记地) versus where they live, and since when and why.

Migration is mostly a household matter (a family moves together), so the registration type,
the place, the time away and the household at the registration place are drawn per household
and inherited by most members; some members differ (a wife whose registration stayed home).
The items are kept consistent the way the census form requires: registered here means not
away and no reason; away means a time band no longer than the person has been alive and a
reason; only registration in another county carries a 6-digit county code; registration
pending has none of the three.

Persons registered in another committee of this county keep a link to a real household there
(``registration_household``): the census can enumerate them there a second time.
"""

from __future__ import annotations

import numpy as np

from . import ages
from . import codes as C
from .attributes import categorical

#: real county codes migrants to 金湖县 come from, with weights: neighbours first, then the
#: big sending regions (northern Jiangsu, Anhui, Henan, Sichuan, Guizhou)
MIGRANT_COUNTIES = (
    ("320830", 10), ("320804", 8), ("320803", 8), ("320812", 5), ("320813", 6), ("320826", 4),
    ("321084", 7), ("321023", 7), ("341122", 5), ("341181", 6), ("341182", 4), ("340121", 2),
    ("320922", 2), ("320923", 2), ("320925", 2), ("320102", 1), ("320106", 1), ("410102", 2),
    ("412721", 2), ("511002", 2), ("510722", 1), ("522422", 1),
)
COUNTY_CODES = np.array([c for c, _ in MIGRANT_COUNTIES], dtype=object)
COUNTY_P = np.array([w for _, w in MIGRANT_COUNTIES], dtype=float) / sum(w for _, w in MIGRANT_COUNTIES)
#: counties next door: the birth registration of locals who moved in long ago
NEIGHBOURS = COUNTY_CODES[:8]

# time-away bands (in the code list's order, "not away" excluded) for people living away
_BAND_P = np.array([0.06, 0.08, 0.12, 0.11, 0.10, 0.08, 0.07, 0.38])
assert len(_BAND_P) == len(C.AWAY_BANDS)


def registration_households(rng: np.random.Generator, reg_type: np.ndarray, from_township: np.ndarray,
                            from_village: np.ndarray, township: np.ndarray, village: np.ndarray,
                            family: np.ndarray) -> np.ndarray:
    """For each entry registered elsewhere in the county, a family household there (or -1).

    Entries are origins (households or persons) living in ``from_township``/``from_village``;
    ``township``/``village``/``family`` describe the households to pick from. Another
    committee of the same township for REG_TOWNSHIP, another township for REG_COUNTY. Drawn by
    rejection: a few tries, then give up (the entry then has no link).
    """
    n = len(reg_type)
    out = np.full(n, -1, dtype=np.int64)
    fam = np.flatnonzero(family)
    if fam.size == 0:
        return out
    # family households grouped by township, for same-township draws
    order = fam[np.argsort(township[fam], kind="stable")]
    t_sorted = township[order]
    starts = np.searchsorted(t_sorted, np.arange(township.max() + 2))
    for code, same_township in ((C.REG_TOWNSHIP, True), (C.REG_COUNTY, False)):
        todo = np.flatnonzero(reg_type == code)
        for _ in range(8):
            if todo.size == 0:
                break
            if same_township:
                t = from_township[todo]
                count = starts[t + 1] - starts[t]
                at = starts[t] + (rng.random(todo.size) * np.maximum(count, 1)).astype(np.int64)
                pick = order[np.minimum(at, len(order) - 1)]
                ok = (count > 0) & (village[pick] != from_village[todo])
            else:
                pick = fam[(rng.random(todo.size) * fam.size).astype(np.int64)]
                ok = township[pick] != from_township[todo]
            out[todo[ok]] = pick[ok]
            todo = todo[~ok]
    return out


def registration(rng: np.random.Generator, *, hh: np.ndarray, age: np.ndarray, male: np.ndarray,
                 birth_year: np.ndarray, birth_month: np.ndarray, urban_hh: np.ndarray,
                 collective_kind: np.ndarray, township: np.ndarray, village: np.ndarray,
                 shares: tuple[float, float, float, float]) -> dict[str, np.ndarray]:
    """Registration items per person plus the registration household index (-1 if none).

    ``shares``: persons away within the township, within the county, from another county, and
    registration pending. ``collective_kind`` per household: -1 family, else the kind index.
    """
    n_hh = len(urban_hh)
    township_share, county_share, other_share, pending = shares
    types = np.array([C.REG_HERE, C.REG_TOWNSHIP, C.REG_COUNTY, C.REG_OTHER_COUNTY], dtype=object)
    base = np.array([1 - township_share - county_share - other_share, township_share, county_share, other_share])
    # towns draw migrants, villages send them; collective quarters are mostly migrants
    lift = np.where(urban_hh, 1.4, 0.65)
    p = np.tile(base, (n_hh, 1))
    p[:, 1:] *= lift[:, None]
    p[collective_kind == 0] = [0.15, 0.05, 0.2, 0.6]           # factory dormitories
    p[collective_kind == 1] = [0.3, 0.1, 0.5, 0.1]             # school dormitories
    p[collective_kind == 2] = [0.6, 0.2, 0.15, 0.05]           # care homes
    p[:, 0] = np.maximum(0.0, 1 - p[:, 1:].sum(axis=1))
    hh_type = types[categorical(rng, p)]
    hh_place = COUNTY_CODES[rng.choice(len(COUNTY_CODES), n_hh, p=COUNTY_P)]
    hh_band = rng.choice(len(C.AWAY_BANDS), n_hh, p=_BAND_P)
    family = collective_kind < 0
    hh_reg_home = registration_households(rng, hh_type, township, village, township, village, family)

    n = len(hh)
    collective = ~family[hh]
    individual = collective | (rng.random(n) < 0.12)        # collective members are unrelated
    own_type = types[categorical(rng, p[hh])]
    reg_type = np.where(individual, own_type, hh_type[hh])
    place = np.where(individual, COUNTY_CODES[rng.choice(len(COUNTY_CODES), n, p=COUNTY_P)], hh_place[hh])
    band = np.where(individual, rng.choice(len(C.AWAY_BANDS), n, p=_BAND_P), hh_band[hh])
    reg_home = np.where(individual, -1, hh_reg_home[hh])
    own_home = registration_households(rng, np.where(individual, reg_type, ""), township[hh], village[hh],
                                       township, village, family)
    reg_home = np.where(individual, own_home, reg_home)
    reg_type = np.where(rng.random(n) < pending, C.REG_PENDING, reg_type)

    away = np.isin(reg_type, np.array(C.REG_AWAY, dtype=object))
    reg_home = np.where(np.isin(reg_type, np.array([C.REG_TOWNSHIP, C.REG_COUNTY], dtype=object)), reg_home, -1)
    # a band no longer than the person has lived
    lived = ages.months_lived(birth_year, birth_month)
    max_band = np.searchsorted(C.AWAY_MIN_MONTHS, lived, side="right") - 1
    band = np.minimum(band, np.maximum(max_band, 0))
    bands = np.array(C.AWAY_BANDS, dtype=object)
    time_away = np.where(away, bands[band], np.where(reg_type == C.REG_HERE, C.NOT_AWAY, "")).astype(object)
    registration_place = np.where(reg_type == C.REG_OTHER_COUNTY, place, "").astype(object)
    reason = np.where(away, _reasons(rng, age, male, collective_kind[hh]), "").astype(object)
    return {
        "registration_type": reg_type.astype(object),
        "registration_place": registration_place,
        "time_away": time_away,
        "reason_away": reason,
        "registration_household": reg_home.astype(np.int64),
    }


def _reasons(rng: np.random.Generator, age: np.ndarray, male: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Reason for living away, by age and sex (work for adults, study for the young ...)."""
    reasons = np.array([C.WORK, C.STUDY, C.ACCOMPANY, C.RELOCATION, C.LODGED, C.MARRIAGE, C.GRANDCHILDREN,
                        C.SCHOOLING, C.OTHER_REASON], dtype=object)
    n = len(age)
    p = np.zeros((n, len(reasons)))
    child = age < 15
    youth = (age >= 15) & (age < 23)
    adult = (age >= 23) & (age < 60)
    old = age >= 60
    p[child] = [0, 0.10, 0.85, 0.02, 0, 0, 0, 0, 0.03]
    p[youth] = [0.35, 0.50, 0.08, 0.02, 0, 0, 0, 0, 0.05]
    p[adult] = [0.60, 0.01, 0.05, 0.12, 0.02, 0.05, 0, 0.05, 0.10]
    p[adult & ~male, 5] = 0.15
    p[old] = [0.05, 0, 0.30, 0.25, 0.02, 0, 0.25, 0, 0.13]
    p[(kind == 0)] = [0.95, 0.02, 0, 0, 0, 0, 0, 0, 0.03]
    p[(kind == 1)] = [0, 0.97, 0, 0, 0, 0, 0, 0, 0.03]
    return reasons[categorical(rng, p)]
