"""Person items that follow from age, sex and place: ethnicity, education, work, fertility.

Each function takes whole columns and returns whole columns; probabilities are small tables
by age band (and urban/rural), drawn with one uniform per person. Items that the census does
not ask of a person stay blank: education under age 3, marital status under 15, industry and
occupation for anyone not employed, fertility items outside women aged 15-64.
"""

from __future__ import annotations

import numpy as np

from . import codes as C


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category index per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


_ETHNIC_CODES, _ETHNIC_P = C.weights_over("ethnicity", {
    "03": 0.35, "06": 0.07, "11": 0.06, "15": 0.06, "08": 0.05, "02": 0.03, "07": 0.03, "12": 0.02,
    "09": 0.02, "10": 0.02, "13": 0.01, "14": 0.01, "22": 0.01, "04": 0.01, "05": 0.01,
})


def ethnicity(rng: np.random.Generator, hh: np.ndarray, n_households: int, minority_share: float = 0.005) -> np.ndarray:
    """Han for almost everyone (Jiangsu is 99.6 % Han); members mostly share the household's."""
    hh_minority = rng.random(n_households) < minority_share
    hh_code = np.where(hh_minority, _ETHNIC_CODES[rng.choice(len(_ETHNIC_CODES), n_households, p=_ETHNIC_P)], C.HAN)
    own = rng.random(len(hh)) < minority_share * 0.5
    own_code = _ETHNIC_CODES[rng.choice(len(_ETHNIC_CODES), len(hh), p=_ETHNIC_P)]
    return np.where(own, own_code, hh_code[hh]).astype(object)


# Adult attainment by birth cohort (rows) over the education list's levels (columns, in order):
# never attended, pre-school, primary, junior, senior, college, bachelor, master, doctorate.
_EDU_COHORTS = np.array([1950, 1965, 1980, 1995, 9999])   # born up to and including
_EDU_ADULT = np.array([
    [0.30, 0.0, 0.40, 0.18, 0.08, 0.02, 0.02, 0.00, 0.000],
    [0.08, 0.0, 0.30, 0.40, 0.15, 0.04, 0.03, 0.00, 0.000],
    [0.02, 0.0, 0.15, 0.45, 0.22, 0.08, 0.07, 0.01, 0.000],
    [0.005, 0.0, 0.05, 0.30, 0.25, 0.18, 0.19, 0.02, 0.005],
    [0.002, 0.0, 0.02, 0.15, 0.32, 0.25, 0.25, 0.008, 0.0],
])
assert _EDU_ADULT.shape[1] == len(C.EDUCATION)


def education(rng: np.random.Generator, age: np.ndarray, birth_year: np.ndarray, male: np.ndarray,
              urban: np.ndarray) -> np.ndarray:
    """Highest level attended: by school age for the young, by cohort for adults (age 18+)."""
    levels = np.array(C.EDUCATION, dtype=object)
    n = len(age)
    cohort = np.searchsorted(_EDU_COHORTS, birth_year)
    idx = categorical(rng, _EDU_ADULT[cohort])
    u = rng.random(n)
    up = urban & (u < 0.3) & (idx >= 3) & (idx < len(levels) - 2)         # towns: more schooling
    idx = np.where(up, idx + 1, idx)
    down = ~male & (age >= 60) & (u > 0.7) & (idx > 0)                      # older women: less
    idx = np.where(down, idx - 1, idx)
    idx = np.where(idx == 1, 2, idx)                                        # no adult stops at pre-school
    idx = np.where(age < 22, np.minimum(idx, 6), np.where(age < 25, np.minimum(idx, 7), idx))  # still studying
    out = levels[idx]
    child = np.select(
        [age < 3, age < 6, age < 12, age < 15, age < 18],
        [np.full(n, ""), np.full(n, C.PRESCHOOL), np.full(n, C.PRIMARY), np.full(n, C.JUNIOR),
         np.where(u < 0.85, C.SENIOR, C.JUNIOR)],
        default="?",
    ).astype(object)
    out = np.where(child != "?", child, out)
    return out.astype(object)


_IND_RURAL = C.weights_over("industry", {
    "A": 0.35, "B": 0.002, "C": 0.22, "D": 0.005, "E": 0.10, "F": 0.09, "G": 0.04, "H": 0.04, "I": 0.005,
    "J": 0.005, "K": 0.005, "L": 0.01, "M": 0.003, "N": 0.01, "O": 0.04, "P": 0.03, "Q": 0.02, "R": 0.005,
    "S": 0.02,
})
_IND_URBAN = C.weights_over("industry", {
    "A": 0.04, "B": 0.002, "C": 0.28, "D": 0.01, "E": 0.08, "F": 0.14, "G": 0.06, "H": 0.07, "I": 0.02,
    "J": 0.02, "K": 0.02, "L": 0.03, "M": 0.01, "N": 0.01, "O": 0.06, "P": 0.05, "Q": 0.04, "R": 0.01,
    "S": 0.05,
})
# occupation major group by industry section: what kind of job each industry mostly offers
_OCC_BY_IND = {
    "A": {"5": 0.95, "1": 0.02, "3": 0.03},
    "B": {"6": 0.75, "2": 0.1, "3": 0.1, "1": 0.05}, "C": {"6": 0.75, "2": 0.1, "3": 0.08, "1": 0.04, "4": 0.03},
    "D": {"6": 0.6, "2": 0.2, "3": 0.15, "1": 0.05}, "E": {"6": 0.8, "2": 0.08, "3": 0.07, "1": 0.05},
    "F": {"4": 0.8, "3": 0.1, "1": 0.06, "6": 0.04}, "G": {"4": 0.5, "6": 0.3, "3": 0.15, "1": 0.05},
    "H": {"4": 0.85, "3": 0.08, "1": 0.07}, "I": {"2": 0.7, "3": 0.15, "1": 0.05, "4": 0.1},
    "J": {"2": 0.4, "3": 0.4, "1": 0.1, "4": 0.1}, "K": {"4": 0.6, "3": 0.25, "1": 0.1, "2": 0.05},
    "L": {"4": 0.6, "3": 0.25, "1": 0.1, "2": 0.05}, "M": {"2": 0.7, "3": 0.15, "1": 0.05, "4": 0.1},
    "N": {"4": 0.5, "6": 0.3, "3": 0.2}, "O": {"4": 0.85, "6": 0.1, "3": 0.05},
    "P": {"2": 0.75, "3": 0.15, "1": 0.05, "4": 0.05}, "Q": {"2": 0.7, "3": 0.15, "1": 0.05, "4": 0.1},
    "R": {"2": 0.4, "4": 0.4, "3": 0.2}, "S": {"3": 0.5, "1": 0.2, "2": 0.2, "4": 0.1},
    "T": {"8": 1.0},
}


def _occupation_matrix() -> tuple[np.ndarray, np.ndarray]:
    ind_codes = _IND_URBAN[0]
    rows = [C.weights_over("occupation", _OCC_BY_IND[code]) for code in ind_codes]
    return rows[0][0], np.vstack([r[1] for r in rows])


_OCC_CODES, _OCC_P = _occupation_matrix()


def work(rng: np.random.Generator, age: np.ndarray, male: np.ndarray, urban: np.ndarray,
         student: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(industry, occupation) for the employed aged 16+, blank for everyone else."""
    n = len(age)
    p = np.select(
        [age < 16, student, age < 55, age < 60, age < 65, age < 75],
        [0.0, 0.05, np.where(male, 0.88, 0.76), np.where(male, 0.82, np.where(urban, 0.3, 0.55)),
         np.where(urban, 0.2, 0.45), np.where(urban, 0.05, 0.3)],
        default=np.where(urban, 0.0, 0.05),
    )
    employed = rng.random(n) < p
    ind_codes = _IND_URBAN[0]
    probs = np.where(urban[:, None], _IND_URBAN[1][None, :], _IND_RURAL[1][None, :])
    ind_idx = categorical(rng, probs)
    agri = int(np.flatnonzero(ind_codes == C.AGRICULTURE)[0])
    ind_idx = np.where((age >= 65) & ~urban & (rng.random(n) < 0.8), agri, ind_idx)
    occ_idx = categorical(rng, _OCC_P[ind_idx])
    industry = np.where(employed, ind_codes[ind_idx], "").astype(object)
    occupation = np.where(employed, _OCC_CODES[occ_idx], "").astype(object)
    return industry, occupation


def fertility(rng: np.random.Generator, female: np.ndarray, age: np.ndarray, marital: np.ndarray,
              mother: np.ndarray, resident: np.ndarray,
              min_born: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(children_born, children_surviving, births_last_year) for women 15-64, -1 elsewhere.

    Children born are at least the resident children whose mother she is, and at least
    ``min_born`` (a grandmother of a resident grandchild had a child); births in the last year
    are exactly her resident infants (age 0), so the household's births agree.
    """
    n = len(age)
    has_mother = (mother >= 0) & resident
    coresident = np.bincount(mother[has_mother], minlength=n)
    infants = np.bincount(mother[has_mother & (age == 0)], minlength=n)
    ever_married = (marital != C.NEVER_MARRIED) & (marital != "")
    u = rng.random(n)
    # completed-fertility style draw by age band: P(0), P(1), P(2); the rest 3
    p0 = np.select([age < 20, age < 25, age < 35], [0.95, 0.5, 0.2], default=0.04)
    p1 = np.select([age < 20, age < 25, age < 35, age < 50], [0.05, 0.4, 0.5, 0.55], default=0.5)
    p2 = np.select([age < 20, age < 25, age < 35, age < 50], [0.0, 0.1, 0.28, 0.36], default=0.36)
    born = np.where(u < p0, 0, np.where(u < p0 + p1, 1, np.where(u < p0 + p1 + p2, 2, 3)))
    born = np.where(ever_married, born, np.where(rng.random(n) < 0.03, 1, 0))
    floor = coresident if min_born is None else np.maximum(coresident, min_born)
    born = np.maximum(born, floor)
    lost = (rng.random(n) < np.where(age >= 45, 0.04, 0.015)) & (born > floor)
    surviving = born - lost
    scope = female & (age >= 15) & (age <= 64) & resident
    blank = np.full(n, -1)
    return (np.where(scope, born, blank), np.where(scope, surviving, blank),
            np.where(scope, np.minimum(infants, 2), blank))
