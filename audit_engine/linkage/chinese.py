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

from audit_engine.linkage.comparators import NULL, _similarity, register

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
    s = pd.Series(values).astype("string").str.replace(r"\s+", "", regex=True)
    s = s.mask(s == "")
    return s.to_numpy(dtype=object, na_value=None)


@lru_cache(maxsize=1 << 20)
def _name_row(name: str) -> tuple[Any, ...]:
    sur, given = split_name(name)
    return (name, sur, given, given[::-1], pinyin(sur), pinyin(given), len(name))


def name_keys(values: Any, **_: Any) -> np.ndarray:
    """Per name ``[name, surname, given, given reversed, surname pinyin, given pinyin, length]``.

    Computed once per distinct name (and cached across calls) and spread back to the records; a
    missing or blank name is ``None`` in every column and length -1.
    """
    s = names(values)
    codes, uniq = pd.factorize(pd.Series(s, dtype=object), use_na_sentinel=True)
    table = np.empty((len(uniq) + 1, 7), dtype=object)
    table[-1] = (None, None, None, None, None, None, -1)  # code -1 (missing) reads the last row
    for k, name in enumerate(uniq):
        table[k] = _name_row(name)
    return table[codes]


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
    keys = name_keys(np.concatenate([left, right]))  # split and pinyin once per distinct name
    left, right = keys[: len(left)], keys[len(left):]
    null = np.equal(left[:, _FULL], None) | np.equal(right[:, _FULL], None)
    ok = ~null
    out = np.zeros(len(left), dtype=np.int8)
    sur_same = ok & ((left[:, _SUR] == right[:, _SUR]) | (left[:, _SUR_PY] == right[:, _SUR_PY]))
    out[sur_same] = 1
    # one character differs: same length, Hamming distance 1 over the whole name
    ham = _similarity(Hamming.distance, left[:, _FULL], right[:, _FULL], ok, np.int32, 1)
    out[ok & (left[:, _LEN] == right[:, _LEN]) & (ham == 1)] = 2
    swapped = (sur_same & (left[:, _GIVEN] == right[:, _REV]) & (left[:, _GIVEN] != right[:, _GIVEN]))
    out[swapped] = 3
    out[sur_same & (left[:, _SUR_PY] == right[:, _SUR_PY]) & (left[:, _GIVEN_PY] == right[:, _GIVEN_PY])] = 4
    out[ok & (left[:, _FULL] == right[:, _FULL])] = 5
    out[null] = NULL
    return out


# --- citizen ID numbers ------------------------------------------------------------------------

_ID_LEN = 18
_BIRTH = slice(6, 14)  # positions 7-14, 1-based: YYYYMMDD


def id_chars(values: Any, **_: Any) -> np.ndarray:
    """Per record the 18 character codes of the ID number (int16; ``x`` read as ``X``).

    Missing or blank: a row of -1. A number of another length is padded with 0 (no digit) or
    cut, so it can still agree in part; its "birth segment" is then only positions 7–14.
    """
    s = pd.Series(values).astype("string").str.strip().str.upper()
    s = s.mask(s == "")
    present = s.notna().to_numpy()
    out = np.full((len(s), _ID_LEN), -1, dtype=np.int16)
    if present.any():
        txt = s[present].str.slice(0, _ID_LEN).str.pad(_ID_LEN, side="right", fillchar="\0")
        raw = np.frombuffer("".join(txt.tolist()).encode("utf-32-le"), dtype=np.uint32)
        out[present] = raw.reshape(-1, _ID_LEN).astype(np.int16)
    return out


def _id_labels() -> tuple[str, ...]:
    return ("else", "birth segment agrees only", "adjacent characters transposed", "one character differs",
            "exact")


@register("citizen_id", labels=_id_labels, prepare=id_chars)
def citizen_id(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Citizen ID numbers: 4 exact; 3 one character differs; 2 two adjacent characters transposed;
    1 birth segment (positions 7–14) agrees only; 0 else; -1 missing on either side.
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
    return out


# --- birth year-month --------------------------------------------------------------------------

_YM = re.compile(r"^\s*(\d{4})\s*(?:-|/|年|\.)?\s*(\d{1,2})\s*月?\s*$")


def year_months(values: Any, **_: Any) -> np.ndarray:
    """Months since year 0 (``year * 12 + month - 1``) as float, NaN where missing or unreadable.

    Reads ``YYYY-MM``, ``YYYYMM``, ``YYYY/MM``, ``YYYY.MM`` and ``YYYY年MM月`` (data-format.md),
    once per distinct value.
    """
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
