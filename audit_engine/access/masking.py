"""Masking of personal data for every output outside the QC review view.

Census law limits personal data to census use: logs, errors, JSON, exports and reports show
only masked forms, e.g. ``3201**********123X`` and ``张*``.
"""

from __future__ import annotations


def mask_id(number: object) -> str:
    """Keep the first 4 and last 4 characters of an ID number, star the rest.

    Short or odd values are starred whole apart from their first character, so that a
    mistyped number is never shown in full either.
    """
    if number is None:
        return ""
    s = str(number)
    if len(s) >= 12:
        return s[:4] + "*" * (len(s) - 8) + s[-4:]
    if not s:
        return ""
    return s[0] + "*" * (len(s) - 1)


def mask_name(name: object) -> str:
    """Keep the first character (the surname in most Chinese names), star the rest."""
    if name is None:
        return ""
    s = str(name)
    if len(s) <= 1:
        return "*" if s else ""
    return s[0] + "*" * (len(s) - 1)


def mask_value(field: str, value: object) -> str:
    """Mask by field name: names and ID numbers are masked, other items pass unchanged."""
    if field in PERSONAL_FIELDS:
        return mask_id(value) if field == "id_number" else mask_name(value)
    return "" if value is None else str(value)


PERSONAL_FIELDS = frozenset({"id_number", "name", "address"})
