"""Pseudonymous keys for linkage exports: HMAC-SHA256 under the office secret.

A linkage file that leaves the office carries, instead of ID numbers and person keys, their
HMAC-SHA256 under a secret only the office holds (environment variable ``CENSUS_AUDIT_SECRET``,
at least 32 characters). The same secret gives the same key, so files exported at different
times (or by another office sharing the secret) still link; without the secret the keys cannot
be reversed or recomputed from a guessed ID number (an unkeyed hash of an 18-character ID
number with its structured birth date and check digit is easily brute-forced).

ID numbers are normalised first (surrounding white space stripped, upper case: ``x`` and ``X``
are the same check digit). Person keys are hashed with their source, under a separate domain
prefix, so a person key never collides with an ID number's pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import numpy as np
import pandas as pd

SECRET_ENV = "CENSUS_AUDIT_SECRET"
MIN_SECRET_CHARS = 32

_ID_DOMAIN = b"id\x1f"
_PERSON_DOMAIN = b"person\x1f"


class SecretError(RuntimeError):
    """The office secret is missing or too short."""


def office_secret(secret: str | bytes | None = None) -> bytes:
    """The HMAC secret: ``secret`` if given, else ``$CENSUS_AUDIT_SECRET``; at least 32 characters."""
    value = os.environ.get(SECRET_ENV) if secret is None else secret
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SecretError(f"{SECRET_ENV} is not set: pseudonymous exports need the office secret "
                          f"(at least {MIN_SECRET_CHARS} characters) in the environment variable {SECRET_ENV}")
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if len(value) < MIN_SECRET_CHARS:
        raise SecretError(f"{SECRET_ENV} is too short ({len(value)} characters): the office secret needs at "
                          f"least {MIN_SECRET_CHARS}")
    return raw


def normalise_id(number: object) -> str | None:
    """An ID number as hashed: stripped, upper case; None for a missing or blank value."""
    if number is None or (isinstance(number, float) and number != number) or number is pd.NA:
        return None
    s = str(number).strip().upper()
    return s or None


def _hmac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonymise_id(number: object, secret: str | bytes | None = None) -> str | None:
    """The pseudonym of one ID number (64 hex digits), None when there is no number."""
    s = normalise_id(number)
    return None if s is None else _hmac(office_secret(secret), _ID_DOMAIN + s.encode("utf-8"))


def pseudonymise_ids(numbers: pd.Series, secret: str | bytes | None = None) -> pd.Series:
    """Pseudonyms of a Series of ID numbers (same index); missing or blank numbers give None.

    Normalisation runs vectorised; each distinct number is hashed once."""
    key = office_secret(secret)
    norm = numbers.astype("string").str.strip().str.upper()
    norm = norm.mask(norm == "")
    return _map_unique(norm, lambda s: _hmac(key, _ID_DOMAIN + s.encode("utf-8")))


def pseudonymise_person_keys(keys: pd.Series, source: str | pd.Series,
                             secret: str | bytes | None = None) -> pd.Series:
    """Pseudonyms of person keys (with their source: ``census`` / ``pes``), same index."""
    key = office_secret(secret)
    k = keys.astype("string")
    src = pd.Series(source, index=keys.index, dtype="string") if isinstance(source, str) else source.astype("string")
    combined = (src + "\x1f" + k).mask(k.isna() | src.isna())
    return _map_unique(combined, lambda s: _hmac(key, _PERSON_DOMAIN + s.encode("utf-8")))


def _map_unique(values: pd.Series, fn) -> pd.Series:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    hashed = [fn(str(u)) for u in uniques]
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    present = codes >= 0
    if present.any():
        out[present] = np.asarray(hashed, dtype=object)[codes[present]]
    return out
