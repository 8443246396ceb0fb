"""Census persons ↔ household-register persons: the linkage (pure: frames in, frames out).

The same engine as ``link pes`` / ``link duplicates`` (:mod:`audit_engine.linkage`): blocking
county-wide, the Chinese-aware comparators, Fellegi–Sunter with u from random pairs and m and λ
by EM on this comparison, optimal one-to-one assignment, two thresholds (matches; possible
matches between them for review, :func:`audit_engine.pes.scoring.bands`).

Census persons are the left table (``person_id``, ``name``, ``id_number``, ``sex``,
``birth_ym``, ``ea_code``, …, as :func:`audit_engine.pes.persons.read_persons` gives them);
register persons the right (``register_id``, ``name``, ``id_number``, ``sex``, ``birth_ym``,
``address_code``, ``status``, ``status_ym``), as :func:`read_register` gives them.

One-to-one leaves a census *duplicate* (the same person enumerated at home and again at the
registration household) without a register partner. So after the assignment, a census record
left unmatched whose best candidate pair is above the upper threshold with a register record
already taken gets that record too, as a ``shared`` link: the person is registered (their
duplicate enumeration is ``link duplicates``' business, not a missing registration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from audit_engine.linkage import LinkResult, LinkSettings, link, rule
from audit_engine.linkage.census import person_keys
from audit_engine.linkage.comparators import NULL, register
from audit_engine.linkage.compare import ComparisonSpec
from audit_engine.pes.scoring import Bands, bands, levels_json
from audit_engine.store.models import RegisterPerson

__all__ = ["PLACE_LABELS", "RegisterLink", "link_register", "read_register", "register_settings"]

#: levels of the ``place`` comparison (census EA ↔ registration address)
PLACE_LABELS = ("else", "same township", "same village")


def _place_labels() -> tuple[str, ...]:
    return PLACE_LABELS


def area_codes(values, **_) -> np.ndarray:
    """Per record ``[village, township]`` as integers (first 12 / 9 digits), -1 where the code is
    missing, not digits, or too short for that level; prepared once per record."""
    s = pd.Series(values, dtype=object).astype("string").str.strip()
    digits = s.str.fullmatch(r"\d+").fillna(False).to_numpy(dtype=bool)
    n = s.str.len().fillna(0).to_numpy(dtype=np.int64)
    out = np.full((len(s), 2), -1, dtype=np.int64)
    for col, width in ((0, 12), (1, 9)):
        ok = digits & (n >= width)
        if ok.any():
            out[ok, col] = s[ok].str.slice(0, width).astype("int64").to_numpy()
    return out


@register("area_code", labels=_place_labels, prepare=area_codes)
def area_code(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two administrative codes (an EA code, an address code): 2 same village (first 12 digits),
    1 same township (first 9), 0 else; -1 when either is missing or shorter than 9 digits (a
    county-level address says nothing about the township)."""
    out = (left[:, 1] == right[:, 1]).astype(np.int8)
    out[(left[:, 0] >= 0) & (left[:, 0] == right[:, 0])] = 2
    out[(left[:, 1] < 0) | (right[:, 1] < 0)] = NULL
    return out


def register_settings(**overrides) -> LinkSettings:
    """Census persons (left) ↔ register persons (right), both through :func:`person_keys`.

    Blocking (union, county-wide): same ID number; same name pinyin and birth year; same
    given-name pinyin and birth year-month; same ID birth segment and surname pinyin (an ID
    typo); same village and birth year-month (a name changed beyond its sound, registered
    where enumerated). Comparisons: name (``chinese_name``, tf), ID number (``citizen_id``
    without the "birth segment only" level, "else" split by the check digit: the register's
    numbers are issued ones, so two valid different numbers are two persons), sex, birth
    year-month (within 1 and 2 years), and place (the EA's village / township against the
    registration address: most persons live where registered). No ethnicity or relationship:
    the extract has neither. Most census persons registered in the county have a register record,
    so EM starts from ``expected_share`` 0.8.
    """
    rules = (
        rule("id_key"),
        rule("name_py", "birth_year"),
        rule("given_py", "birth_ym"),
        rule("id_birth", "surname_py"),
        rule("village", "birth_ym"),
    )
    comparisons = [
        ComparisonSpec("name", "chinese_name", "name", tf=True),
        ComparisonSpec("id_number", "citizen_id", "id_number", params={"birth_segment": False, "valid_split": True}),
        ComparisonSpec("sex", "exact", "sex"),
        ComparisonSpec("birth_ym", "birth_ym", "birth_ym", params={"years": (1, 2)}),
        ComparisonSpec("place", "area_code", "place"),
    ]
    settings = dict(rules=rules, comparisons=comparisons, expected_share=0.8, target_fmr=0.001)
    settings.update(overrides)
    return LinkSettings(**settings)


def _ym(year: pd.Series, month: pd.Series) -> pd.Series:
    y = pd.Series(pd.array(year, dtype="Int64"), index=year.index).astype("string").str.zfill(4)
    m = pd.Series(pd.array(month, dtype="Int64"), index=month.index).astype("string").str.zfill(2)
    return (y + "-" + m).astype(object).where(y.notna() & m.notna(), None)


REGISTER_COLUMNS = ("register_id", "name", "id_number", "sex", "birth_ym", "address_code", "register_household",
                    "status", "status_ym")


def read_register(engine: Engine) -> pd.DataFrame:
    """Every register person, sorted by register key (reproducible positions):
    ``register_id``, ``name``, ``id_number``, ``sex``, ``birth_ym``, ``address_code``,
    ``register_household``, ``status``, ``status_ym`` (``YYYY-MM`` or None)."""
    r = RegisterPerson
    with engine.connect() as conn:
        df = pd.read_sql(select(r.register_key, r.name, r.id_number, r.sex, r.birth_year, r.birth_month,
                                r.address_code, r.register_household, r.status, r.status_year, r.status_month),
                         conn)
    df = df.sort_values("register_key", kind="stable").reset_index(drop=True)
    df["birth_ym"] = _ym(df["birth_year"], df["birth_month"]).to_numpy()
    df["status_ym"] = _ym(df["status_year"], df["status_month"]).to_numpy()
    df = df.rename(columns={"register_key": "register_id"})
    for c in ("name", "id_number", "sex", "status", "address_code", "register_household"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df[list(REGISTER_COLUMNS)]


def _with_keys(df: pd.DataFrame, code_col: str) -> pd.DataFrame:
    out = person_keys(df)
    code = df[code_col].astype("string").str.strip()
    out["place"] = code.astype(object).where(code.notna(), None)
    out["village"] = code.str.slice(0, 12).where(code.str.len() >= 12)
    return out


@dataclass(frozen=True)
class RegisterLink:
    """The kept pairs (``pairs``: census, register positions, weight, posterior, status
    ``match`` / ``possible`` / ``shared``, levels JSON), the link result and its bands."""

    pairs: pd.DataFrame
    result: LinkResult
    bands: Bands


def link_register(census: pd.DataFrame, reg: pd.DataFrame, settings: LinkSettings | None = None, *,
                  target_fnmr: float | None = 0.001) -> RegisterLink:
    """Link ``census`` (left) with ``reg`` (right); see the module docstring."""
    settings = settings or register_settings()
    res = link(_with_keys(census, "ea_code"), _with_keys(reg, "address_code"), settings)
    b = bands(res, settings, target_fnmr)
    cand = res.candidates
    kept = np.flatnonzero(b.match | b.possible)
    status = np.where(b.match[kept], "match", "possible").astype(object)
    # census records left out by one-to-one whose best pair is a match-grade one with a taken register record
    taken_left = np.zeros(cand.n_left, dtype=bool)
    taken_left[cand.left[kept]] = True
    taken_right = np.zeros(cand.n_right, dtype=bool)
    taken_right[cand.right[kept]] = True
    extra = np.flatnonzero((b.posteriors >= b.upper.posterior_min) & ~taken_left[cand.left]
                           & taken_right[cand.right] & (b.weights > settings.assign_floor))
    if len(extra):
        order = extra[np.lexsort((-b.weights[extra], cand.left[extra]))]
        first = np.r_[True, cand.left[order][1:] != cand.left[order][:-1]]
        extra = np.sort(order[first])
    pos = np.r_[kept, extra].astype(np.int64)
    status = np.r_[status, np.full(len(extra), "shared", dtype=object)]
    pairs = pd.DataFrame({"census": cand.left[pos], "register": cand.right[pos], "weight": b.weights[pos],
                          "posterior": b.posteriors[pos], "status": status, "levels": levels_json(res, pos)})
    return RegisterLink(pairs, res, b)
