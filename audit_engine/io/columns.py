"""The columns of every input file kind: names, Chinese aliases, types and code lists.

This is the single description of the file formats: the loaders validate with it, the
synthetic generator writes with it, and docs/data-format.md documents it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["key", "text", "int", "code", "ym", "list", "pattern"]


@dataclass(frozen=True)
class Column:
    """One input column.

    ``type``: key (non-empty text, part of the record key), text, int (non-negative whole
    number within ``max``), code (member of ``code_list``), ym (birth or death year-month,
    stored as two integer columns), list (semicolon-separated codes), pattern (text matching
    ``pattern``, e.g. a 6-digit area code).
    """

    name: str
    zh: str
    type: ColumnType
    code_list: str | None = None
    required: bool = False          # the header must have it
    max: int | None = None
    pattern: str | None = None
    doc: str = ""


def _c(name: str, zh: str, type_: ColumnType, **kw: object) -> Column:
    return Column(name, zh, type_, **kw)  # type: ignore[arg-type]


AREAS = (
    _c("ea_code", "普查小区代码", "key", required=True, doc="15 digits: village code (12) + EA number (3)"),
    _c("county_code", "县级代码", "key", required=True, doc="6-digit county code (GB/T 2260)"),
    _c("township_code", "乡级代码", "key", required=True, doc="9-digit township code"),
    _c("village_code", "村级代码", "text", doc="12-digit village / neighbourhood committee code"),
    _c("township_name", "乡镇街道名称", "text"),
    _c("urban_rural", "城乡分类代码", "code", code_list="urban_rural", required=True),
    _c("households_listed", "摸底户数", "int", max=100_000, doc="households expected from the pre-enumeration listing"),
    _c("persons_listed", "摸底人数", "int", max=1_000_000, doc="persons expected from the listing"),
)

ENUMERATORS = (
    _c("enumerator_id", "普查员编号", "key", required=True),
    _c("supervisor_id", "普查指导员编号", "text"),
    _c("ea_codes", "负责普查小区", "list", doc="semicolon-separated EA codes assigned"),
)

HOUSEHOLDS = (
    _c("household_id", "户编号", "key", required=True, doc="unique within the source"),
    _c("ea_code", "普查小区代码", "key", required=True),
    _c("household_type", "户别", "code", code_list="household_type", required=True),
    _c("declared_size", "本户应登记人数", "int", max=10_000),
    _c("births_count", "本户出生人口", "int", max=100, doc="births 2019-11-01 to 2020-10-31"),
    _c("deaths_count", "本户死亡人口", "int", max=100, doc="deaths 2019-11-01 to 2020-10-31"),
    _c("floor_area", "住房建筑面积", "int", max=100_000, doc="square metres"),
    _c("rooms", "住房间数", "int", max=1_000),
    _c("address", "住址", "text"),
    _c("enumerator_id", "普查员编号", "text"),
)

PERSONS = (
    _c("person_id", "个人编号", "key", required=True, doc="unique within the source"),
    _c("household_id", "户编号", "key", required=True),
    _c("ea_code", "普查小区代码", "key", required=True),
    _c("line_no", "户内序号", "int", max=10_000),
    _c("name", "姓名", "text"),
    _c("id_number", "公民身份号码", "text", doc="kept as given; its check digit is a rule, not a load check"),
    _c("sex", "性别", "code", code_list="sex", required=True),
    _c("birth_ym", "出生年月", "ym", required=True, doc="YYYY-MM, YYYYMM, YYYY/MM or YYYY年MM月"),
    _c("age", "年龄", "int", max=150, doc="completed years at the standard time"),
    _c("ethnicity", "民族", "code", code_list="ethnicity"),
    _c("relationship", "与户主关系", "code", code_list="relationship"),
    _c("education", "受教育程度", "code", code_list="education"),
    _c("industry", "行业", "code", code_list="industry"),
    _c("occupation", "职业", "code", code_list="occupation"),
    _c("registration_type", "户口登记地", "code", code_list="registration_type"),
    _c("registration_place", "户口登记地代码", "pattern", pattern=r"\d{6}", doc="6-digit county code when registered elsewhere"),
    _c("time_away", "离开户口登记地时间", "code", code_list="time_away"),
    _c("reason_away", "离开户口登记地原因", "code", code_list="reason_away"),
    _c("marital_status", "婚姻状况", "code", code_list="marital_status"),
    _c("children_born", "生育子女数", "int", max=30),
    _c("children_surviving", "存活子女数", "int", max=30),
    _c("births_last_year", "过去一年生育子女数", "int", max=10),
    _c("enumerator_id", "普查员编号", "text"),
)

DEATHS = (
    _c("household_id", "户编号", "key", required=True),
    _c("ea_code", "普查小区代码", "key", required=True),
    _c("line_no", "死亡人口序号", "int", required=True, max=100),
    _c("name", "姓名", "text"),
    _c("sex", "性别", "code", code_list="sex"),
    _c("birth_ym", "出生年月", "ym"),
    _c("death_ym", "死亡年月", "ym", required=True),
)

REGISTER = (
    _c("register_id", "户籍人员编号", "key", required=True, doc="unique within the register extract"),
    _c("id_number", "公民身份号码", "text"),
    _c("name", "姓名", "text"),
    _c("sex", "性别", "code", code_list="sex", required=True),
    _c("birth_ym", "出生年月", "ym", required=True, doc="YYYY-MM (the day is in the ID number)"),
    _c("address_code", "户籍地址代码", "pattern", pattern=r"\d{6}(\d{3}(\d{3})?)?", required=True,
       doc="where the person is registered: 12-digit village code (or 9-digit township, 6-digit county)"),
    _c("register_household", "户号", "text", doc="the registration household (户口簿) number"),
    _c("status", "户籍状态", "code", code_list="register_status", required=True),
    _c("status_ym", "状态变更年月", "ym", doc="when the status last changed (moved out, death cancelled)"),
)

LISTING = (
    _c("listing_id", "摸底户编号", "key", required=True, doc="one listed household, unique in the listing"),
    _c("ea_code", "普查小区代码", "key", required=True),
    _c("persons_listed", "摸底人数", "int", required=True, max=10_000, doc="persons expected in the household"),
    _c("enumerator_id", "普查员编号", "text", doc="who listed it (and will enumerate it)"),
    _c("address", "住址", "text"),
)

#: file kind -> columns. The kind of a file is found from its header (see ``detect_kind``).
KINDS: dict[str, tuple[Column, ...]] = {
    "areas": AREAS,
    "enumerators": ENUMERATORS,
    "households": HOUSEHOLDS,
    "persons": PERSONS,
    "deaths": DEATHS,
    "register": REGISTER,
    "listing": LISTING,
}

#: the columns that identify a record within its source (unique in the store).
KEYS: dict[str, tuple[str, ...]] = {
    "areas": ("ea_code",),
    "enumerators": ("enumerator_id",),
    "households": ("household_id",),
    "persons": ("person_id",),
    "deaths": ("household_id", "line_no"),
    "register": ("register_id",),
    "listing": ("listing_id",),
}

#: kinds that belong to a source (census or PES); areas and enumerators are reference data.
SOURCED_KINDS = ("households", "persons", "deaths")


def header_names(kind: str) -> list[str]:
    """Column names in file order, as the generator writes them."""
    return [c.name for c in KINDS[kind]]


def alias_map(kind: str) -> dict[str, str]:
    """Accepted header spellings (English, any case; Chinese) -> canonical name."""
    out: dict[str, str] = {}
    for col in KINDS[kind]:
        out[col.name.lower()] = col.name
        out[col.zh] = col.name
    return out


def canonical_header(kind: str, header: list[str]) -> list[str | None]:
    """Map a file's header onto canonical names; unknown columns map to None (ignored)."""
    aliases = alias_map(kind)
    return [aliases.get(h.strip().lstrip("\ufeff").strip().lower(), aliases.get(h.strip().lstrip("\ufeff").strip()))
            for h in header]


def detect_kind(header: list[str]) -> str | None:
    """The kind whose required columns the header holds; the most specific one wins."""
    best: tuple[int, str] | None = None
    for kind in KINDS:
        names = {n for n in canonical_header(kind, header) if n}
        required = {c.name for c in KINDS[kind] if c.required}
        if required <= names:
            score = len(names)
            if best is None or score > best[0]:
                best = (score, kind)
    return best[1] if best else None
