"""CSV files and the manifest: byte-stable output.

UTF-8, '\\n' line endings, the empty string for a missing value, whole numbers without '.0',
year-months as 'YYYY-MM'. Columns are turned into strings here, once, so nothing depends on
pandas' float formatting; the manifest lists the SHA-256 of every file written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv


def fmt_int(values: np.ndarray) -> np.ndarray:
    """Integers as text; negative means missing and becomes ''."""
    a = np.asarray(values).astype(np.int64)
    return np.where(a < 0, "", a.astype(str)).astype(object)


def fmt_ym(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """'YYYY-MM'; a negative year means missing."""
    y = np.asarray(year).astype(np.int64)
    m = np.asarray(month).astype(np.int64)
    text = np.char.add(np.char.add(np.char.zfill(np.abs(y).astype(str), 4), "-"),
                       np.char.zfill(np.abs(m).astype(str), 2))
    return np.where(y < 0, "", text).astype(object)


def write_csv(path: Path, header: list[str], columns: dict[str, np.ndarray]) -> str:
    """Write the columns in ``header`` order; returns the file's SHA-256."""
    missing = [h for h in header if h not in columns]
    if missing:
        raise KeyError(f"{path.name}: no data for columns {missing}")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {h: np.asarray(columns[h], dtype=object) for h in header}
    try:
        # Arrow's writer is several times faster; without quoting it refuses any value holding
        # a comma, quote or newline, and then pandas writes the file with minimal quoting.
        table = pa.table({h: pa.array(v, type=pa.string()) for h, v in data.items()})
        pacsv.write_csv(table, str(path), pacsv.WriteOptions(quoting_style="none", include_header=False))
        body = path.read_bytes()
        path.write_bytes((",".join(header) + "\n").encode("utf-8") + body)
    except pa.ArrowInvalid:
        pd.DataFrame(data, columns=header).to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return sha256(path)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Sorted keys, two-space indent, trailing newline: the same dict gives the same bytes."""
    text = json.dumps(manifest, sort_keys=True, ensure_ascii=False, indent=2) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")
