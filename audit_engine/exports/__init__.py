"""Exports that leave the review view: files for QC officers and for linkage.

Every export is masked or pseudonymised (``flags``: names and ID numbers masked, only the
officer's scope; ``links``: HMAC pseudonyms instead of person keys and ID numbers), written
atomically (a failed export leaves no partial file) and recorded in the ledger with the file's
SHA-256 and row count — never its contents.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
EXCEL_MAX_ROWS = 1_048_575  # one row of the sheet is the header
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportSummary:
    path: str
    rows: int
    sha256: str
    file_format: str


def export_format(path: str | Path) -> str:
    """``csv`` or ``xlsx`` from the file name; ValueError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{Path(path).name}: export to a .csv or .xlsx file")
    return FORMATS[suffix]


def _defuse(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_table(df: pd.DataFrame, path: str | Path, sheet: str = "export") -> ExportSummary:
    """Write ``df`` as CSV (UTF-8 with BOM, so Excel reads Chinese) or .xlsx, atomically."""
    path = Path(path)
    fmt = export_format(path)
    if fmt == "xlsx" and len(df) > EXCEL_MAX_ROWS:
        raise ValueError(f"{path.name}: {len(df):,} rows do not fit in an Excel sheet; export to .csv")
    if not path.parent.exists():
        raise ValueError(f"{path.parent}: folder does not exist")
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_defuse)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        if fmt == "csv":
            out.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            out.to_excel(tmp, index=False, sheet_name=sheet, engine="openpyxl")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return ExportSummary(str(path), len(df), digest, fmt)
