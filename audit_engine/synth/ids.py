"""Citizen ID numbers for whole columns at once, unique, with the sex in the sequence parity.

``audit_engine.codes.citizen_id.make`` builds one number; a county of a million needs them in
one vectorised pass, so the 17 digits are held as one int64 (area * 1e11 + date * 1e3 + seq)
and the ISO 7064 MOD 11-2 check character is computed with the same weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit_engine.codes.citizen_id import CHECK_CHARS, WEIGHTS

_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)       # digit i of a 17-digit int


def first17(area: np.ndarray, yyyymmdd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The 17 digits as int64: area (6) + birth date (8) + sequence (3)."""
    return area.astype(np.int64) * 10**11 + yyyymmdd.astype(np.int64) * 1000 + seq.astype(np.int64)


def format_ids(key17: np.ndarray) -> np.ndarray:
    """18-character numbers (object array) from 17-digit int64 keys."""
    digits = (key17[:, None] // _POW10) % 10
    check = np.array(list(CHECK_CHARS))[(digits @ WEIGHTS) % 11]
    body = np.char.zfill(key17.astype(str), 17)
    return np.char.add(body, check).astype(object)


def unique_sequences(rng: np.random.Generator, area: np.ndarray, yyyymmdd: np.ndarray,
                     male: np.ndarray, taken: np.ndarray | None = None) -> np.ndarray:
    """Sequence numbers 0-999, odd for men, such that every 17-digit key is new.

    Collisions (same area and birth date) are redrawn until none is left, first occurrence
    kept, so the result depends only on the random stream, never on hashing order.
    """
    n = len(area)
    seq = 2 * rng.integers(0, 500, size=n) + male.astype(np.int64)
    todo = np.arange(n)
    for _ in range(100):
        keys = first17(area, yyyymmdd, seq)
        clash = pd.Series(keys).duplicated(keep="first").to_numpy()
        if taken is not None and taken.size:
            clash |= np.isin(keys, taken)
        todo = np.flatnonzero(clash)
        if todo.size == 0:
            return seq
        seq[todo] = 2 * rng.integers(0, 500, size=todo.size) + male[todo].astype(np.int64)
    raise RuntimeError("could not give every person a unique ID number (too many on one date)")


def replace_digit(rng: np.random.Generator, number: str) -> str:
    """One of the first 17 digits changed to another digit (the check character then fails)."""
    i = int(rng.integers(17))
    d = (int(number[i]) + int(rng.integers(1, 10))) % 10
    return number[:i] + str(d) + number[i + 1:]


def transpose_digits(rng: np.random.Generator, number: str) -> str:
    """Two adjacent, different digits among the first 17 swapped (MOD 11-2 detects it)."""
    pairs = [i for i in range(16) if number[i] != number[i + 1]]
    if not pairs:
        return replace_digit(rng, number)
    i = pairs[int(rng.integers(len(pairs)))]
    return number[:i] + number[i + 1] + number[i] + number[i + 2:]
