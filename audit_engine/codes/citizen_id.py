"""Citizen ID numbers (GB 11643-1999): structure, check digit, embedded birth date and sex.

An 18-character number is: 6-digit administrative division code of the place of first
registration, 8-digit birth date YYYYMMDD, 3-digit sequence (odd for men, even for women) and a
check character from ISO 7064 MOD 11-2. The vectorised forms work on whole columns because the
loaders, the rule engine and the generator all handle millions of them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

WEIGHTS = np.array([2 ** (17 - i) % 11 for i in range(17)], dtype=np.int64)  # 7 9 10 5 8 4 2 1 6 3 ...
CHECK_CHARS = "10X98765432"
_PATTERN = re.compile(r"^\d{17}[\dX]$")


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("the check character needs exactly 17 digits")
    total = sum(int(d) * int(w) for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def is_well_formed(number: str) -> bool:
    """18 characters, 17 digits then a digit or X (upper case)."""
    return bool(_PATTERN.match(number))


def is_valid(number: str) -> bool:
    """Well formed and the check character agrees."""
    return is_well_formed(number) and check_char(number[:17]) == number[17]


def make(area: str, birth_yyyymmdd: str, sequence: int) -> str:
    """Build a valid number; ``sequence`` 0-999 (its parity carries the sex)."""
    first17 = f"{area}{birth_yyyymmdd}{sequence:03d}"
    return first17 + check_char(first17)


def well_formed_mask(numbers: pd.Series) -> np.ndarray:
    """Vectorised :func:`is_well_formed`; missing values are False."""
    s = numbers.astype("string")
    return s.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)


def valid_mask(numbers: pd.Series) -> np.ndarray:
    """Vectorised :func:`is_valid` over a column: no Python loop over the rows."""
    ok = well_formed_mask(numbers)
    out = np.zeros(len(numbers), dtype=bool)
    if not ok.any():
        return out
    good = numbers[ok].astype(str).to_numpy()
    raw = np.frombuffer("".join(good).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    digits = raw[:, :17].astype(np.int64) - ord("0")
    expected = np.frombuffer(CHECK_CHARS.encode("ascii"), dtype=np.uint8)[(digits @ WEIGHTS) % 11]
    out[ok] = expected == raw[:, 17]
    return out


def sex_code(number: str) -> str:
    """'1' (male) when the sequence is odd, '2' (female) when even."""
    return "1" if int(number[16]) % 2 == 1 else "2"


def birth_date(number: str) -> str:
    """The embedded birth date as YYYYMMDD."""
    return number[6:14]
