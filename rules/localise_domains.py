"""Candidate values for error localisation: the finite domain each field is searched over.

Fellegi–Holt asks whether *some* values of a field set make a record pass every edit. Over a
finite, well-chosen domain that question becomes a vectorised evaluation of candidate records.
The domains here are chosen so that they stay small without losing solutions:

* coded fields are cut to one value per *equivalence class*: two codes that every edit of the
  scope treats alike (the edits only compare the field with literal codes, ``in [...]`` lists or
  ``is_missing``) give the same verdict, so one representative stands for all of them. The
  original value's class is left out — keeping it cannot help (the smaller set without the field
  was tried first and failed).
* numbers get the values other evidence points to (the birth date in the ID number, the recorded
  age, the household head's birth year and the age thresholds of the edits) before a coarse grid.
  Evidence comes first, so the example shown to the reviewer is the most plausible repair.
* ``age`` and ``id_number`` are *derived* candidates, filled in after the other changed fields:
  age = the completed years implied by the candidate birth year-month; ID number = the recorded
  number rebuilt to agree with the candidate birth year-month and sex, with its check character
  recomputed (and variants).
"""

from __future__ import annotations

from collections.abc import Iterable

from audit_engine.codes import code_list, standard_time
from audit_engine.codes.citizen_id import check_char
from audit_engine.io.columns import HOUSEHOLDS, PERSONS
from rules.fields import Field
from rules.language import Call, Compare, Const, FieldRef, ListLit, Node
from rules.ruleset import Rule

ST = standard_time()

#: derived candidate tokens (resolved per candidate row, after the other fields are set)
AGE_FROM_BIRTH = "<age from birth year-month>"
ID_REBUILT = "<id rebuilt>"          # birth date and sex digit from the record, check recomputed
ID_RECHECKED = "<id check recomputed>"
ID_RESEQUENCED = "<id new sequence>"  # rebuilt with another sequence number (a duplicated number)
TEXT_GIVEN = "?"                     # any non-empty text (a name, an enumerator id)

#: derived fields -> the fields they are computed from (frames.derive)
DERIVED_FROM = {"age_ym": ("birth_year", "birth_month"), "away_min_months": ("time_away",)}
#: fields that feed a derived field keep their whole code list (the derivation tells codes apart)
NO_CLASS_REDUCTION = {"time_away"}

COUNT_VALUES = (0, 1, 2, 3, 4, 5, 6, 8, 10)
#: columns a loaded record always has (the loader refuses a blank): a repair never blanks them
REQUIRED = {n for c in (*PERSONS, *HOUSEHOLDS) if c.required and c.type != "key"
            for n in ((f"{c.name[:-3]}_year", f"{c.name[:-3]}_month") if c.type == "ym" else (c.name,))}
YEAR_GRID = tuple(range(ST.year, 1899, -5))


# ------------------------------------------------------------------------- code classes
def _walk(node: Node) -> Iterable[Node]:
    yield node
    for name in ("operand", "left", "right"):
        child = getattr(node, name, None)
        if isinstance(child, Node):
            yield from _walk(child)
    for name in ("values", "args"):
        for child in getattr(node, name, ()) or ():
            if isinstance(child, Node):
                yield from _walk(child)


def _literal_uses(rules: Iterable[Rule]) -> tuple[dict[str, list[frozenset]], set[str]]:
    """Per field, the literal code sets it is compared with; and the fields used any other way
    (compared with another field, passed to a function other than is_missing)."""
    groups: dict[str, list[frozenset]] = {}
    opaque: set[str] = set()
    for rule in rules:
        for tree in (rule.test.tree, rule.when.tree if rule.when else None):
            if tree is None:
                continue
            literal_refs: set[int] = set()
            for n in _walk(tree):
                if isinstance(n, Compare) and n.op in ("==", "!=", "in", "notin"):
                    pairs = ((n.left, n.right), (n.right, n.left))
                    for a, b in pairs:
                        if isinstance(a, FieldRef) and isinstance(b, Const | ListLit):
                            vals = b.values if isinstance(b, ListLit) else (b.value,)
                            groups.setdefault(a.name, []).append(frozenset(vals))
                            literal_refs.add(id(a))
                elif isinstance(n, Call) and n.name == "is_missing":
                    literal_refs.update(id(a) for a in n.args if isinstance(a, FieldRef))
            for n in _walk(tree):
                if isinstance(n, FieldRef) and id(n) not in literal_refs:
                    opaque.add(n.name)
    return groups, opaque


def code_classes(rules: Iterable[Rule], fields: dict[str, Field]) -> dict[str, list[tuple[str, ...]]]:
    """Coded field -> its codes partitioned into classes no edit of ``rules`` tells apart."""
    groups, opaque = _literal_uses(rules)
    groups.setdefault("relationship", []).append(frozenset({"0"}))   # head() finds the head by code '0'
    out: dict[str, list[tuple[str, ...]]] = {}
    for name, f in fields.items():
        if f.type != "str" or not f.code_list:
            continue
        codes = code_list(f.code_list).codes
        if name in opaque or name in NO_CLASS_REDUCTION:
            out[name] = [(c,) for c in codes]
            continue
        classes: dict[tuple, list[str]] = {}
        for c in codes:
            classes.setdefault(tuple(c in g for g in groups.get(name, [])), []).append(c)
        out[name] = [tuple(v) for v in classes.values()]
    return out


def coded_domain(classes: list[tuple[str, ...]], original: object, required: bool = False) -> list[object]:
    """One representative per class other than the original's, then missing (unless original
    or the field is required)."""
    out: list[object] = [cls[0] for cls in classes if original not in cls]
    if original is not None and not required:
        out.append(None)
    return out


# ------------------------------------------------------------------------- person fields
def _num(v: object) -> float | None:
    return None if v is None else float(v)


def id_birth(id_number: object) -> tuple[int, int] | None:
    """Birth year and month inside a well-formed ID number (None when it has none)."""
    if isinstance(id_number, str) and len(id_number) == 18 and id_number[:17].isdigit():
        y, m = int(id_number[6:10]), int(id_number[10:12])
        if 1 <= m <= 12:
            return y, m
    return None


def person_domain(name: str, rec: dict, head: dict | None, classes: dict[str, list[tuple[str, ...]]],
                  params: dict) -> list[object]:
    """Candidate values of one person field for the record ``rec`` (its head ``head``)."""
    original = rec.get(name)
    if name in classes:
        return coded_domain(classes[name], original, name in REQUIRED)
    if name == "age":
        return [AGE_FROM_BIRTH] + ([None] if original is not None else [])
    if name == "id_number":
        return [ID_REBUILT, ID_RECHECKED, ID_RESEQUENCED] + ([None] if original is not None else [])
    if name == "birth_year":
        vals: list[float] = []
        born = id_birth(rec.get("id_number"))
        if born:
            vals.append(born[0])
        age = _num(rec.get("age"))
        if age is not None:
            vals += [ST.year - age - 1, ST.year - age]
        if head and head.get("birth_year") is not None:
            hy = float(head["birth_year"])
            gap = float(params.get("parent_child_gap", 12))
            vals += [hy + gap, hy + gap + 13, hy - gap, hy - gap - 13, hy + 1, hy - 1]
        vals += [ST.year - t - 1 for t in _age_thresholds(params)]
        vals += list(YEAR_GRID)
        return _unique(vals, original, lo=ST.year - int(params.get("max_age", 120)), hi=ST.year, blank=False)
    if name == "birth_month":
        born = id_birth(rec.get("id_number"))
        return _unique(([born[1]] if born else []) + list(range(1, 13)), original, blank=False)
    if name in ("children_born", "children_surviving", "births_last_year"):
        near = [] if original is None else [float(original) - 1, float(original) + 1]
        return [None] * (original is not None) + _unique(near + list(COUNT_VALUES), original, lo=0, hi=30)
    if name == "registration_place":
        ea = str(rec.get("ea_code") or "")
        other = (ea[:2] + "0100") if ea[:6] != ea[:2] + "0100" else (ea[:2] + "0200")
        return [v for v in (other, None) if v != original]
    # free text (name, enumerator): blank, or any non-empty value
    return [TEXT_GIVEN if original is None else None]


def _age_thresholds(params: dict) -> list[int]:
    keys = ("head_min_age", "marriage_age_male", "marriage_age_female", "fertility_min_age", "fertility_max_age",
            "university_min_age", "master_min_age", "doctorate_min_age", "employment_min_age")
    return sorted({0, 2, 3, 10, 13, *(int(params[k]) for k in keys if k in params)})


def _unique(values: Iterable[float], original: object, lo: float | None = None, hi: float | None = None,
            blank: bool = True) -> list:
    seen: dict[float, None] = {}
    for v in values:
        v = float(v)
        if v == original or (lo is not None and v < lo) or (hi is not None and v > hi):
            continue
        seen.setdefault(v, None)
    out: list[object] = list(seen)
    if original is not None and blank:
        out.append(None)
    return out


# ------------------------------------------------------------------------- derived candidates
def age_from_birth(birth_year: float | None, birth_month: float | None) -> float | None:
    if birth_year is None or birth_month is None:
        return None
    return float(ST.year - birth_year - (1 if birth_month >= ST.month else 0))


def repaired_id(token: str, original: object, ea_code: object, birth_year: float | None,
                birth_month: float | None, sex: object) -> str | None:
    """The ID number a token stands for, given the candidate record's birth year-month and sex."""
    raw = original if isinstance(original, str) else ""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if token == ID_RECHECKED:
        if len(raw) == 18 and raw[:17].isdigit():
            return raw[:17] + check_char(raw[:17])
        return None
    area = raw[:6] if len(raw) >= 6 and raw[:6].isdigit() else str(ea_code or "000000")[:6].ljust(6, "0")
    if birth_year is None or birth_month is None or not 0 <= birth_year <= 9999:
        return None
    day = raw[12:14] if len(raw) >= 14 and raw[12:14].isdigit() and 1 <= int(raw[12:14]) <= 31 else "01"
    seq = int(raw[14:17]) if len(raw) >= 17 and raw[14:17].isdigit() else int((digits or "0")[-3:])
    if token == ID_RESEQUENCED:
        seq = (seq + 2) % 1000
    if sex in ("1", "2") and (seq % 2 == 1) != (sex == "1"):
        seq = seq + 1 if seq < 999 else seq - 1
    first17 = f"{area}{int(birth_year):04d}{int(birth_month):02d}{day}{seq:03d}"
    return first17 + check_char(first17)


# ------------------------------------------------------------------------- household items
def household_domain(name: str, rec: dict, members: int, infants: int) -> list[object]:
    """Candidate values of a household item (``members``/``infants``: counted from the listing)."""
    original = rec.get(name)
    if name == "household_type":   # required: never blanked
        return [v for v in ("1", "2") if v != original]
    if name == "declared_size":
        return _unique([members], original)
    if name in ("births_count", "deaths_count"):
        return _unique([infants, infants + 1, 0, 1, 2, 3], original, lo=0)
    if name == "floor_area":
        return _unique([60, 90, 120, 4, 20, 40, 200, 400, 1000], original)
    if name == "rooms":
        return _unique([3, 1, 2, 4, 5, 6, 8, 10, 20, 50], original)
    return [None] if original is not None else []
