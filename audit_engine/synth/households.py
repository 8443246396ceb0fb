"""Household composition: who lives with whom, their ages, sexes, surnames and marriages.

A family household is drawn from a small set of templates (single person, couple, couple with
children, three generations, grandparents with grandchildren, ...) whose weights give the
7th-census mix (a quarter single-person, mean size about 2.6). All households of one template
are generated together, one role at a time, so a million persons need a few dozen vectorised
steps. Each role's age is drawn from the age pyramid inside the interval its relatives allow
(children at least 18 years younger than both parents and born before the mother turned 45,
parents 20-42 years older than the head, ...).

The result is a "skeleton": per person the household, line, relationship, age, sex, marital
status, the person whose surname they carry and the index of their mother and partner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ages
from . import codes as C


@dataclass(frozen=True)
class Template:
    """A family-household shape: one letter per member, head first.

    H head, S spouse, C child, P parent of head, Q parent of spouse, L child-in-law (spouse of
    the first C), G grandchild (child of the first C and L, or of nobody present), B sibling,
    O other relative or lodger.
    """

    name: str
    weight: float
    roles: str
    head_age: tuple[int, int]


TEMPLATES: tuple[Template, ...] = (
    Template("single", 0.125, "H", (18, 59)),
    Template("single_elderly", 0.135, "H", (60, 95)),
    Template("couple", 0.055, "HS", (23, 49)),
    Template("couple_elderly", 0.16, "HS", (50, 90)),
    Template("couple_child", 0.150, "HSC", (28, 65)),
    Template("couple_two_children", 0.075, "HSCC", (32, 58)),
    Template("lone_parent", 0.040, "HC", (23, 80)),
    Template("three_gen_parent", 0.035, "HSCP", (23, 60)),
    Template("three_gen_parents", 0.020, "HSCCPP", (25, 58)),
    Template("three_gen_in_law", 0.015, "HSCQ", (23, 60)),
    Template("skipped_generation", 0.040, "HSG", (50, 80)),
    Template("stem", 0.055, "HSCLG", (48, 85)),
    Template("stem_two_grandchildren", 0.025, "HSCLGG", (50, 85)),
    Template("widowed_stem", 0.025, "HCLG", (55, 90)),
    Template("siblings", 0.020, "HB", (18, 80)),
    Template("couple_parent", 0.015, "HSP", (25, 65)),
    Template("couple_child_other", 0.015, "HSCO", (25, 70)),
)

RELATIONSHIP_OF_ROLE = {
    "H": C.HEAD, "S": C.SPOUSE, "C": C.CHILD, "P": C.PARENT, "Q": C.PARENT_IN_LAW,
    "L": C.CHILD_IN_LAW, "G": C.GRANDCHILD, "B": C.SIBLING, "O": C.OTHER,
}

#: collective household kinds: (name, share of collective persons, size range, age range, share male)
COLLECTIVE_KINDS = (
    ("factory_dormitory", 0.55, (8, 60), (18, 45), 0.6),
    ("school_dormitory", 0.25, (20, 120), (15, 22), 0.5),
    ("care_home", 0.20, (15, 80), (70, 100), 0.4),
)

SKELETON_FIELDS = ("hh", "line", "relationship", "age", "male", "surname_from", "marital", "mother", "partner")


def template_probabilities() -> np.ndarray:
    w = np.array([t.weight for t in TEMPLATES])
    return w / w.sum()


def draw_family_templates(rng: np.random.Generator, persons: int) -> np.ndarray:
    """Template index per household, just enough households for ``persons`` members."""
    sizes = np.array([len(t.roles) for t in TEMPLATES])
    p = template_probabilities()
    guess = int(persons / float(sizes @ p) * 1.05) + 20
    tmpl = rng.choice(len(TEMPLATES), size=guess, p=p)
    total = np.cumsum(sizes[tmpl])
    while total[-1] < persons:                      # rare: extend with more draws
        more = rng.choice(len(TEMPLATES), size=guess // 10 + 10, p=p)
        tmpl = np.concatenate([tmpl, more])
        total = np.cumsum(sizes[tmpl])
    n = int(np.searchsorted(total, persons)) + 1
    return tmpl[:n]


def draw_collective_sizes(rng: np.random.Generator, persons: int) -> tuple[np.ndarray, np.ndarray]:
    """(kind index, size) of collective households holding about ``persons`` members."""
    kinds, sizes, total = [], [], 0
    shares = np.array([k[1] for k in COLLECTIVE_KINDS])
    while total < persons:
        k = int(rng.choice(len(COLLECTIVE_KINDS), p=shares / shares.sum()))
        lo, hi = COLLECTIVE_KINDS[k][2]
        size = int(rng.integers(lo, hi + 1))
        size = min(size, max(persons - total, lo))
        kinds.append(k)
        sizes.append(size)
        total += size
    return np.array(kinds, dtype=np.int64), np.array(sizes, dtype=np.int64)


def _marital_alone(rng: np.random.Generator, age: np.ndarray, living_with_parents: bool = False) -> np.ndarray:
    """Marital status of an adult without a partner in the household, by age."""
    n = len(age)
    u = rng.random(n)
    if living_with_parents:
        never = np.where(age < 22, 1.0, np.where(age < 30, 0.92, 0.6))
        divorced = 1.0 - never
        widowed = np.zeros(n)
    else:
        never = np.where(age < 22, 1.0, np.where(age < 30, 0.85, np.where(age < 60, 0.35, 0.10)))
        widowed = np.where(age < 22, 0.0, np.where(age < 30, 0.02, np.where(age < 60, 0.20, 0.78)))
        divorced = 1.0 - never - widowed
    out = np.where(u < never, C.NEVER_MARRIED, np.where(u < never + divorced, C.DIVORCED, C.WIDOWED))
    return np.where(age < 15, "", out).astype(object)


def _legal_age(male: np.ndarray) -> np.ndarray:
    return np.where(male, 22, 20)


def _block(rng: np.random.Generator, t: Template, n: int) -> dict[str, np.ndarray]:
    """One template's members for ``n`` households, as (roles, n) arrays; refs are role rows."""
    roles = t.roles
    R = len(roles)
    age = np.zeros((R, n), dtype=np.int64)
    male = np.zeros((R, n), dtype=bool)
    sur = np.full((R, n), -1, dtype=np.int64)
    marital = np.full((R, n), "", dtype=object)
    mother = np.full((R, n), -1, dtype=np.int64)
    partner = np.full((R, n), -1, dtype=np.int64)
    full = np.full

    age[0] = ages.draw_in(rng, full(n, t.head_age[0]), full(n, t.head_age[1]))
    s = roles.find("S")
    if s >= 0:
        male[0] = rng.random(n) < 0.8
        gap = np.clip(np.rint(rng.normal(2.5, 3.0, n)), -6, 8).astype(np.int64)   # husband older
        male[s] = ~male[0]
        s_age = np.where(male[0], age[0] - gap, age[0] + gap)
        age[s] = np.clip(s_age, _legal_age(male[s]), ages.MAX_AGE)
        partner[0], partner[s] = s, 0
        marital[0] = marital[s] = C.MARRIED
        father_row = np.where(male[0], 0, s)
        mother_row = np.where(male[0], s, 0)
        youngest_parent = np.minimum(age[0], age[s])
    else:
        male[0] = rng.random(n) < np.where(age[0] >= 65, 0.4, 0.55)
        if t.name == "lone_parent":
            marital[0] = np.where(rng.random(n) < 0.55, C.DIVORCED, C.WIDOWED)
        elif t.name == "widowed_stem":
            marital[0] = C.WIDOWED
        else:
            marital[0] = _marital_alone(rng, age[0])
        father_row = np.where(male[0], 0, -1)
        mother_row = np.where(male[0], -1, 0)
        youngest_parent = age[0].copy()

    married_child = "L" in roles
    first_c = roles.find("C")
    for r, role in enumerate(roles):
        if role == "C":
            mom_age = np.where(mother_row >= 0, age[np.maximum(mother_row, 0), np.arange(n)], age[0] - 5)
            male[r] = rng.random(n) < (0.8 if married_child and r == first_c else 0.515)
            lo = np.maximum(0, mom_age - 45)
            if married_child and r == first_c:
                lo = np.maximum(lo, _legal_age(male[r]))
            age[r] = ages.draw_in(rng, lo, youngest_parent - 18)
            from_father = (rng.random(n) < 0.9) & (father_row >= 0)
            sur[r] = np.where(from_father, father_row, np.where(mother_row >= 0, mother_row, -1))
            sur[r] = np.where((father_row < 0) & (rng.random(n) < 0.5), -1, sur[r])
            mother[r] = mother_row
            if married_child and r == first_c:
                marital[r] = C.MARRIED
            else:
                marital[r] = _marital_alone(rng, age[r], living_with_parents=True)
        elif role == "L":
            c = first_c
            male[r] = ~male[c]
            gap = np.clip(np.rint(rng.normal(2.0, 2.5, n)), -5, 8).astype(np.int64)
            l_age = np.where(male[c], age[c] - gap, age[c] + gap)
            age[r] = np.clip(l_age, _legal_age(male[r]), ages.MAX_AGE)
            partner[c], partner[r] = r, c
            marital[r] = C.MARRIED
        elif role == "G":
            if first_c >= 0 and "L" in roles:
                lrow = roles.find("L")
                g_mother = np.where(male[first_c], lrow, first_c)
                g_father = np.where(male[first_c], first_c, lrow)
                mom_age = age[g_mother, np.arange(n)]
                hi = np.minimum(age[first_c], age[lrow]) - 18
                age[r] = ages.draw_in(rng, np.maximum(0, mom_age - 45), hi)
                sur[r] = np.where(rng.random(n) < 0.9, g_father, g_mother)
                mother[r] = g_mother
            else:                                   # grandparents bringing up a grandchild
                age[r] = ages.draw_in(rng, np.maximum(0, youngest_parent - 75),
                                      np.minimum(youngest_parent - 38, 22))
                sur[r] = np.where((rng.random(n) < 0.7) & (father_row >= 0), father_row, -1)
            male[r] = rng.random(n) < 0.515
            marital[r] = _marital_alone(rng, age[r], living_with_parents=True)
        elif role in "PQ":
            anchor = 0 if role == "P" else s
            rows = [i for i, x in enumerate(roles) if x == role]
            pair = len(rows) == 2
            if pair:
                male[r] = r == rows[0]
            else:
                male[r] = rng.random(n) >= 0.65
            age[r] = ages.draw_in(rng, age[anchor] + 20, np.minimum(age[anchor] + 42, ages.MAX_AGE))
            sur[r] = np.where(male[r], anchor, -1)
            if pair:
                other = rows[1] if r == rows[0] else rows[0]
                partner[r] = other
                marital[r] = C.MARRIED
            else:
                marital[r] = np.where(rng.random(n) < 0.9, C.WIDOWED, C.DIVORCED)
            mother[anchor] = np.where(~male[r], r, mother[anchor])
        elif role == "B":
            male[r] = rng.random(n) < 0.5
            age[r] = ages.draw_in(rng, np.maximum(15, age[0] - 12), age[0] + 12)
            sur[r] = np.where(rng.random(n) < 0.95, 0, -1)
            marital[r] = _marital_alone(rng, age[r])
        elif role == "O":
            male[r] = rng.random(n) < 0.5
            age[r] = ages.draw_in(rng, np.full(n, 16), np.full(n, 80))
            marital[r] = _marital_alone(rng, age[r])
    return {"age": age, "male": male, "surname_from": sur, "marital": marital, "mother": mother,
            "partner": partner}


def family_skeleton(rng: np.random.Generator, templates: np.ndarray, hh_index: np.ndarray) -> dict[str, np.ndarray]:
    """Members of the family households (``templates[i]`` is household ``hh_index[i]``'s shape),
    ordered by household then line; references are global person indices."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SKELETON_FIELDS}
    offset = 0
    for ti, t in enumerate(TEMPLATES):
        hhs = hh_index[templates == ti]
        n = len(hhs)
        if n == 0:
            continue
        b = _block(rng, t, n)
        R = len(t.roles)
        col = np.arange(n)
        for key in ("surname_from", "mother", "partner"):
            ref = b[key]
            b[key] = np.where(ref >= 0, offset + ref * n + col[None, :], -1)
        parts["hh"].append(np.tile(hhs, R))
        parts["line"].append(np.repeat(np.arange(R), n))
        parts["relationship"].append(np.repeat(np.array([RELATIONSHIP_OF_ROLE[x] for x in t.roles], dtype=object), n))
        for key in ("age", "male", "surname_from", "marital", "mother", "partner"):
            parts[key].append(b[key].reshape(-1))
        offset += R * n
    out = {k: np.concatenate(v) for k, v in parts.items()}
    return _reorder(out)


def _reorder(sk: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sort persons by (household, line) and remap the person references."""
    order = np.lexsort((sk["line"], sk["hh"]))
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    out = {k: v[order] for k, v in sk.items()}
    for key in ("surname_from", "mother", "partner"):
        ref = out[key]
        out[key] = np.where(ref >= 0, inv[np.maximum(ref, 0)], -1)
    return out


def collective_skeleton(rng: np.random.Generator, kinds: np.ndarray, sizes: np.ndarray,
                        hh_index: np.ndarray) -> dict[str, np.ndarray]:
    """Members of collective households: unrelated persons, relationship blank."""
    hh = np.repeat(hh_index, sizes)
    kind = np.repeat(kinds, sizes)
    n = len(hh)
    line = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    lo = np.array([k[3][0] for k in COLLECTIVE_KINDS])[kind]
    hi = np.array([k[3][1] for k in COLLECTIVE_KINDS])[kind]
    age = ages.draw_in(rng, lo, hi)
    male = rng.random(n) < np.array([k[4] for k in COLLECTIVE_KINDS])[kind]
    marital = _marital_alone(rng, age)
    young_worker = (kind == 0) & (rng.random(n) < np.where(age >= 25, 0.5, 0.1))
    marital = np.where(young_worker, C.MARRIED, marital)
    marital = np.where((marital == C.MARRIED) & (age < _legal_age(male)), C.NEVER_MARRIED, marital)
    return {
        "hh": hh, "line": line, "relationship": np.full(n, "", dtype=object), "age": age, "male": male,
        "surname_from": np.full(n, -1), "marital": marital.astype(object), "mother": np.full(n, -1),
        "partner": np.full(n, -1),
    }
