"""Comparators for Chinese person records: names (surname, given name, pinyin), citizen ID numbers
(GB 11643) and birth year-months.

Registered in :data:`~audit_engine.linkage.comparators.COMPARATORS` on import (the comparators
module imports this one at its end), so specs use them by name:

* ``chinese_name`` — exact; same pinyin without tones (homophone characters, 同音字); given-name
  characters swapped; one character differs (same length); surname agrees only; else.
* ``citizen_id`` — exact; one character differs; two adjacent characters transposed; birth
  segment (positions 7–14) agrees only; else.
* ``birth_ym`` — exact; within 1 month; same year; within each of ``years``; else.

Everything per value is done once per *distinct* value (splitting a name, its pinyin, the digits
of an ID number) in the ``prepare`` step; the per-pair work is numpy comparisons of those columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pypinyin import lazy_pinyin
from rapidfuzz.distance import Hamming

from audit_engine.linkage.comparators import NULL, _similarity, per_distinct, register

__all__ = ["COMPOUND_SURNAMES", "name_keys", "names", "pinyin", "split_name", "year_months"]

#: two-character (compound) surnames 复姓; any other surname is the first character
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 轩辕 端木 独孤 南宫 西门 "
    "百里 呼延 东郭 闻人 万俟 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 钟离 赫连 公羊 拓跋 "
    "乐正 漆雕 第五 左丘 司空 司寇 亓官 羊舌 微生 梁丘 东门 谷梁 鲜于 闾丘 子车 巫马 公西 颛孙 "
    "壤驷 公良 段干 宰父 夹谷 完颜".split())


def split_name(name: str) -> tuple[str, str]:
    """``(surname, given name)``: a known compound surname, else the first character.

    A name of one or two characters never loses its whole given name to a compound surname.
    """
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


@lru_cache(maxsize=65536)
def _char_pinyin(ch: str) -> str:
    # one character at a time: the same character always gets the same (default) reading,
    # whatever name it sits in, so both sides of a pair are read alike
    return lazy_pinyin(ch)[0]


def pinyin(text: str) -> str:
    """Toneless pinyin, syllables separated by blanks (``"欧阳明" -> "ou yang ming"``)."""
    return " ".join(_char_pinyin(ch) for ch in text)


#: columns of a prepared name: full name, surname, given, given reversed, surname pinyin, given pinyin,
#: length (-1 missing)
_FULL, _SUR, _GIVEN, _REV, _SUR_PY, _GIVEN_PY, _LEN = range(7)


def names(values: Any, **_: Any) -> np.ndarray:
    """Object array of names with all blanks removed (``"王 伟" -> "王伟"``), ``None`` if missing or blank.

    The prepared value stays one string per record, so term frequencies (``tf=True``) see it.
    """
    out = per_distinct(values, _names, None)
    return _names(values) if out is None else out


def _names(values: Any) -> np.ndarray:
    s = pd.Series(values).astype("string").str.replace(r"\s+", "", regex=True)
    s = s.mask(s == "")
    return s.to_numpy(dtype=object, na_value=None)


@lru_cache(maxsize=1 << 20)
def _name_row(name: str) -> tuple[Any, ...]:
    sur, given = split_name(name)
    return (name, sur, given, given[::-1], pinyin(sur), pinyin(given), len(name))


def name_keys(values: Any, **_: Any) -> np.ndarray:
    """Per name ``[name, surname, given, given reversed, surname pinyin, given pinyin, length]``.

    Computed once per distinct name (pinyin once per distinct surname, given name and character)
    and spread back to the records; a missing or blank name is ``None`` in every column and
    length -1.
    """
    codes, uniq = _name_codes(values)
    return _key_table(uniq)[codes]


def _key_table(uniq: Any) -> np.ndarray:
    """The key rows (as :func:`_name_row`) of distinct names, plus a last row for missing (code -1).

    Split once per name; pinyin and reversal once per distinct surname and given name.
    """
    n = len(uniq)
    table = np.empty((n + 1, 7), dtype=object)
    table[-1] = (None, None, None, None, None, None, -1)
    if n:
        full = np.asarray(uniq, dtype=object)
        parts = [split_name(name) for name in full]
        sur = np.fromiter((p[0] for p in parts), dtype=object, count=n)
        given = np.fromiter((p[1] for p in parts), dtype=object, count=n)
        sc, su = pd.factorize(sur)
        gc, gu = pd.factorize(given)
        table[:-1, _FULL] = full
        table[:-1, _SUR] = sur
        table[:-1, _GIVEN] = given
        table[:-1, _REV] = np.fromiter((g[::-1] for g in gu), dtype=object, count=len(gu))[gc]
        table[:-1, _SUR_PY] = np.fromiter((pinyin(x) for x in su), dtype=object, count=len(su))[sc]
        table[:-1, _GIVEN_PY] = np.fromiter((pinyin(g) for g in gu), dtype=object, count=len(gu))[gc]
        table[:-1, _LEN] = np.fromiter((len(x) for x in full), dtype=object, count=n)
    return table


def _name_labels() -> tuple[str, ...]:
    return ("else", "surname agrees only", "one character differs", "given-name characters swapped",
            "same pinyin", "exact")


@register("chinese_name", labels=_name_labels, prepare=names)
def chinese_name(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Chinese names, surname and given name apart, from closest:

    5 exact; 4 same toneless pinyin (同音字: 李明 / 李铭); 3 given-name characters swapped (张伟明 /
    张明伟); 2 one character differs, same length (王建国 / 王建华); 1 surname agrees (or sounds
    the same) only; 0 else; -1 missing.
    """
    code, uniq = _name_codes(np.concatenate([left, right]))  # split and pinyin once per distinct name
    keys = _key_table(uniq)[:-1]
    # every key column as integer codes per distinct name (given name and its reverse jointly), so
    # the per-pair work is integer comparisons; code -1 (missing) is masked out below
    sur = _column_codes(keys[:, _SUR])[code]
    sur_py = _column_codes(keys[:, _SUR_PY])[code]
    given_py = _column_codes(keys[:, _GIVEN_PY])[code]
    given_rev = _column_codes(np.concatenate([keys[:, _GIVEN], keys[:, _REV]]))[:-1]
    given = np.append(given_rev[: len(keys)], -1)[code]
    rev = np.append(given_rev[len(keys):], -1)[code]
    length = np.append(keys[:, _LEN].astype(np.int64), -1)[code]
    n = len(left)
    (cl, cr), (sl, sr), (spl, spr), (gpl, gpr) = ((x[:n], x[n:]) for x in (code, sur, sur_py, given_py))
    null = (cl < 0) | (cr < 0)
    ok = ~null
    out = np.zeros(n, dtype=np.int8)
    same_py = spl == spr
    sur_same = ok & ((sl == sr) | same_py)
    out[sur_same] = 1
    # one character differs: same length, Hamming distance 1 over the whole name (computed only
    # where it can matter: same length, not equal)
    differ = ok & (length[:n] == length[n:]) & (cl != cr)
    full = np.append(keys[:, _FULL], None)[code]
    ham = _similarity(Hamming.distance, full[:n], full[n:], differ, np.int32, 1)
    out[differ & (ham == 1)] = 2
    swapped = sur_same & (given[:n] == rev[n:]) & (given[:n] != given[n:])
    out[swapped] = 3
    out[sur_same & same_py & (gpl == gpr)] = 4
    out[ok & (cl == cr)] = 5
    out[null] = NULL
    return out


def _name_codes(values: Any) -> tuple[np.ndarray, Any]:
    """Codes of the cleaned names (as :func:`names`; -1 missing) and the distinct cleaned names."""
    s = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if s.dtype == object and s.ndim == 1 and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        raw, uniq_raw = pd.factorize(s, use_na_sentinel=True)  # clean each distinct raw value once
        clean = _names(np.asarray(uniq_raw, dtype=object))
        codes, uniq = pd.factorize(pd.Series(clean, dtype=object), use_na_sentinel=True)
        return np.append(codes, -1)[raw], uniq
    return pd.factorize(pd.Series(names(values), dtype=object), use_na_sentinel=True)


def _column_codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of an object column, with a trailing -1 (read by code -1, missing)."""
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return np.append(codes.astype(np.int64), -1)


# --- citizen ID numbers ------------------------------------------------------------------------

_ID_LEN = 18
_BIRTH = slice(6, 14)  # positions 7-14, 1-based: YYYYMMDD


def id_chars(values: Any, **_: Any) -> np.ndarray:
    """Per record the 18 character codes of the ID number (int16; ``x`` read as ``X``).

    Missing or blank: a row of -1. A number of another length is padded with 0 (no digit) or
    cut, so it can still agree in part; its "birth segment" is then only positions 7–14.
    """
    vals = values if isinstance(values, np.ndarray) else None
    if vals is not None and vals.dtype == object and vals.ndim == 1 \
            and pd.api.types.infer_dtype(vals, skipna=True) in ("string", "empty"):
        # the same steps as below, as one pass of Python's own str methods (what pandas calls)
        txt = [v.strip().upper() if isinstance(v, str) else "" for v in vals]
        present = np.fromiter((t != "" for t in txt), dtype=bool, count=len(txt))
        txt = [t[:_ID_LEN].ljust(_ID_LEN, "\0") for t, p in zip(txt, present, strict=True) if p]
    else:
        s = pd.Series(values).astype("string").str.strip().str.upper()
        s = s.mask(s == "")
        present = s.notna().to_numpy()
        txt = s[present].str.slice(0, _ID_LEN).str.pad(_ID_LEN, side="right", fillchar="\0").tolist()
    out = np.full((len(present), _ID_LEN), -1, dtype=np.int16)
    if present.any():
        raw = np.frombuffer("".join(txt).encode("utf-32-le"), dtype=np.uint32)
        out[present] = raw.reshape(-1, _ID_LEN).astype(np.int16)
    return out


def _id_labels(birth_segment: bool = True, valid_split: bool = False) -> tuple[str, ...]:
    rest = ("adjacent characters transposed", "one character differs", "exact")
    low = ("both valid, different", "else") if valid_split else ("else",)
    return (*low, *(("birth segment agrees only",) if birth_segment else ()), *rest)


_CHECK_CODES = np.frombuffer("10X98765432".encode("utf-32-le"), dtype=np.uint32).astype(np.int16)
_ID_WEIGHTS = np.array([2 ** (17 - i) % 11 for i in range(17)], dtype=np.int64)


def valid_id_chars(chars: np.ndarray) -> np.ndarray:
    """Per row of :func:`id_chars` codes: 18 characters, 17 digits and the right GB 11643 check
    character (ISO 7064 MOD 11-2)."""
    digits = chars[:, :17].astype(np.int64) - ord("0")
    ok = ((digits >= 0) & (digits <= 9)).all(axis=1)
    check = _CHECK_CODES[(np.where(ok[:, None], digits, 0) @ _ID_WEIGHTS) % 11]
    return ok & (chars[:, 17] == check)


@register("citizen_id", labels=_id_labels, prepare=id_chars)
def citizen_id(left: np.ndarray, right: np.ndarray, birth_segment: bool = True,
               valid_split: bool = False) -> np.ndarray:
    """Citizen ID numbers: 4 exact; 3 one character differs; 2 two adjacent characters transposed;
    1 birth segment (positions 7–14) agrees only; 0 else; -1 missing on either side.

    ``birth_segment=False`` drops level 1 (levels 3 exact, 2 one differs, 1 transposed, 0 else):
    in a large search area most pairs agreeing on the birth segment only are *different* persons
    born the same day, evidence the birth year-month comparison already counts; EM, assuming
    the comparisons independent, then gives the level a match weight it does not deserve.

    ``valid_split=True`` splits "else" in two, below everything else: level 0 both numbers pass
    the GB 11643 check and differ (two different persons, nearly always: one miswritten digit
    or a transposition breaks the check digit), level 1 else (at least one fails it, so the
    disagreement may be a recording error). Duplicate detection needs that distinction:
    namesakes born the same month otherwise look like a duplicate whose ID was miswritten.
    """
    null = (left[:, 0] < 0) | (right[:, 0] < 0)
    differ = left != right
    n_diff = differ.sum(axis=1)
    out = np.zeros(len(left), dtype=np.int8)
    out[(left[:, _BIRTH] == right[:, _BIRTH]).all(axis=1)] = 1
    two = np.flatnonzero(n_diff == 2)
    d, a, b = differ[two], left[two], right[two]
    swap = (d[:, :-1] & d[:, 1:] & (a[:, :-1] == b[:, 1:]) & (a[:, 1:] == b[:, :-1])).any(axis=1)
    out[two[swap]] = 2
    out[n_diff == 1] = 3
    out[n_diff == 0] = 4
    out[null] = NULL
    if not birth_segment:
        out = np.where(out >= 1, out - 1, out).astype(np.int8)   # level 1 folds into "else"
        out[null] = NULL
    if valid_split:
        both_valid = valid_id_chars(left) & valid_id_chars(right)
        out = np.where(out >= 0, out + 1, out).astype(np.int8)
        out[(out == 1) & both_valid] = 0
    return out


# --- birth year-month --------------------------------------------------------------------------

_YM = re.compile(r"^\s*(\d{4})\s*(?:-|/|年|\.)?\s*(\d{1,2})\s*月?\s*$")


def year_months(values: Any, **_: Any) -> np.ndarray:
    """Months since year 0 (``year * 12 + month - 1``) as float, NaN where missing or unreadable.

    Reads ``YYYY-MM``, ``YYYYMM``, ``YYYY/MM``, ``YYYY.MM`` and ``YYYY年MM月`` (data-format.md),
    once per distinct value.
    """
    out = per_distinct(values, _year_months, np.nan)
    return _year_months(values) if out is None else out


def _year_months(values: Any) -> np.ndarray:
    s = pd.Series(values).astype("string")
    parts = s.str.extract(_YM)
    year = pd.to_numeric(parts[0], errors="coerce")
    month = pd.to_numeric(parts[1], errors="coerce")
    month = month.where((month >= 1) & (month <= 12))
    return (year * 12 + month - 1).to_numpy(dtype=float, na_value=np.nan)


def _ym_labels(years: Sequence[int] = (1,)) -> tuple[str, ...]:
    return ("else", *(f"within {y} years" for y in sorted(years, reverse=True)), "same year",
            "within 1 month", "exact")


@register("birth_ym", labels=_ym_labels, prepare=year_months)
def birth_ym(left: np.ndarray, right: np.ndarray, years: Sequence[int] = (1,)) -> np.ndarray:
    """Birth year-months, from closest: exact; within 1 month (also across a year end); same year;
    within each of ``years`` (12·y months, smallest first); else; -1 missing.
    """
    null = np.isnan(left) | np.isnan(right)
    gap = np.abs(np.where(null, 0, left - right))
    yrs = np.sort(np.asarray(years, dtype=float))
    n = len(yrs)
    out = (n - np.searchsorted(yrs * 12, gap, side="left")).astype(np.int8)
    same_year = ~null & (np.floor(np.where(null, 0, left) / 12) == np.floor(np.where(null, 0, right) / 12))
    out[same_year] = n + 1
    out[gap <= 1] = n + 2
    out[gap == 0] = n + 3
    out[null] = NULL
    return out
