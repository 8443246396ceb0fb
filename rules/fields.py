"""The fields rules may name, with their types, per scope — derived from the input column spec.

Types: ``num`` (whole numbers, years, months, counts), ``str`` (codes and text). Coded fields
also carry their code list, so ``sex in codes('sex')`` and ``sex == '7'`` can be checked when
a rule set loads, before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit_engine.io.columns import DEATHS, HOUSEHOLDS, PERSONS, Column


@dataclass(frozen=True)
class Field:
    name: str
    type: str                 # "num" or "str"
    code_list: str | None = None


def _fields(columns: tuple[Column, ...], skip: set[str]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for c in columns:
        if c.name in skip:
            continue
        if c.type == "ym":
            base = c.name.removesuffix("_ym")
            out[f"{base}_year"] = Field(f"{base}_year", "num")
            out[f"{base}_month"] = Field(f"{base}_month", "num")
        elif c.type == "int":
            out[c.name] = Field(c.name, "num")
        else:
            out[c.name] = Field(c.name, "str", c.code_list)
    return out


HOUSEHOLD_FIELDS = _fields(HOUSEHOLDS, {"household_id", "ea_code", "enumerator_id"})
PERSON_FIELDS = {
    **_fields(PERSONS, {"person_id", "household_id"}),
    # household items are visible from a person's rules (joined on the household key)
    **{k: v for k, v in HOUSEHOLD_FIELDS.items() if k not in ("address",)},
}
#: derived person fields, computed when frames are built (rules/frames.py)
DERIVED = {
    "age_ym": Field("age_ym", "num"),                  # completed years at the standard time, from birth year-month
    "away_min_months": Field("away_min_months", "num"),  # lower bound of the time-away band, in months
}
PERSON_FIELDS.update(DERIVED)
DEATH_FIELDS = _fields(DEATHS, {"household_id"})

#: scope -> the fields a rule of that scope may name directly
SCOPE_FIELDS: dict[str, dict[str, Field]] = {
    "person": PERSON_FIELDS,
    "household": HOUSEHOLD_FIELDS,
    "dataset": PERSON_FIELDS,
    "death": DEATH_FIELDS,
}
#: inside household aggregates (count_if, sum, head …) the member's person fields are visible
MEMBER_FIELDS = PERSON_FIELDS
