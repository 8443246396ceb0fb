"""The census codes the generator gives a meaning to, taken from the bundled code lists.

The generator has to say "head of household" or "village" somewhere. It says it by the code
list's English label, and weights over many codes are checked against the list, so a changed
code list fails here, at import, instead of producing files the loaders reject.
"""

from __future__ import annotations

import numpy as np

from audit_engine.codes.lookup import code_list


def by_label(list_name: str, label: str, lang: str = "en") -> str:
    """The code whose label (English by default) is ``label``."""
    cl = code_list(list_name)
    for code in cl.codes:
        if cl.label(code, lang) == label:
            return code
    raise KeyError(f"code list {list_name!r} has no code labelled {label!r}")


def weights_over(list_name: str, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(codes, probabilities) over the whole list; codes not named get weight 0."""
    codes = code_list(list_name).codes
    unknown = sorted(set(weights) - set(codes))
    if unknown:
        raise KeyError(f"codes {unknown} are not in code list {list_name!r}")
    w = np.array([weights.get(c, 0.0) for c in codes], dtype=float)
    return np.array(codes, dtype=object), w / w.sum()


MALE = by_label("sex", "Male")
FEMALE = by_label("sex", "Female")

HEAD = by_label("relationship", "Head")
SPOUSE = by_label("relationship", "Spouse")
CHILD = by_label("relationship", "Child")
PARENT = by_label("relationship", "Parent")
PARENT_IN_LAW = by_label("relationship", "Parent-in-law")
CHILD_IN_LAW = by_label("relationship", "Child-in-law")
GRANDCHILD = by_label("relationship", "Grandchild")
SIBLING = by_label("relationship", "Sibling")
OTHER = by_label("relationship", "Other")

FAMILY = by_label("household_type", "Family household")
COLLECTIVE = by_label("household_type", "Collective household")

NEVER_MARRIED = by_label("marital_status", "Never married")
MARRIED = by_label("marital_status", "Married")
DIVORCED = by_label("marital_status", "Divorced")
WIDOWED = by_label("marital_status", "Widowed")

REG_HERE = by_label("registration_type", "This village / neighbourhood committee")
REG_TOWNSHIP = by_label("registration_type", "Other committee in this township")
REG_COUNTY = by_label("registration_type", "Other township in this county")
REG_OTHER_COUNTY = by_label("registration_type", "Other county")
REG_PENDING = by_label("registration_type", "Registration pending")
#: registration types of persons living away from the place they are registered
REG_AWAY = (REG_TOWNSHIP, REG_COUNTY, REG_OTHER_COUNTY)

NOT_AWAY = by_label("time_away", "Not away")
AWAY_BANDS = tuple(c for c in code_list("time_away").codes if c != NOT_AWAY)
AWAY_MIN_MONTHS = np.array([int(code_list("time_away").extra["min_months"][c]) for c in AWAY_BANDS])

WORK = by_label("reason_away", "Work")
STUDY = by_label("reason_away", "Study or training")
ACCOMPANY = by_label("reason_away", "Accompanying family or joining relatives")
RELOCATION = by_label("reason_away", "Relocation or moving house")
LODGED = by_label("reason_away", "Registration lodged elsewhere")
MARRIAGE = by_label("reason_away", "Marriage")
GRANDCHILDREN = by_label("reason_away", "Caring for grandchildren")
SCHOOLING = by_label("reason_away", "Children's schooling")
OTHER_REASON = by_label("reason_away", "Other")

MAIN_URBAN = by_label("urban_rural", "Main urban area")
URBAN_FRINGE = by_label("urban_rural", "Urban-rural fringe")
TOWN_CENTRE = by_label("urban_rural", "Town centre")
TOWN_FRINGE = by_label("urban_rural", "Town-rural fringe")
VILLAGE = by_label("urban_rural", "Village")
URBAN_CODES = tuple(code_list("urban_rural").extra["urban"])

HAN = by_label("ethnicity", "Han")
# by the Chinese label: the English one has unquoted commas in the YAML flow mapping
AGRICULTURE = by_label("industry", "农、林、牧、渔业", lang="zh")

#: education levels in order of attainment (the list is ordered)
EDUCATION = code_list("education").codes
PRESCHOOL = by_label("education", "Pre-school")
PRIMARY = by_label("education", "Primary")
JUNIOR = by_label("education", "Junior secondary")
SENIOR = by_label("education", "Senior secondary")
