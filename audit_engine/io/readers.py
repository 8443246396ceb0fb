"""Chunked readers for CSV, Excel (.xlsx) and Parquet.

Each reader yields :class:`Chunk` objects of at most ``chunk_rows`` records, each carrying its
file line (or sheet row) numbers and the raw text of every record, plus the position to resume
from after it. Memory is bounded by the chunk size whatever the file size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet"}


class InputError(Exception):
    """A problem with an input file as a whole (unreadable, unknown format, bad header)."""


@dataclass
class Chunk:
    header: list[str]
    rows: list[list[str]]            # fields as text, one list per record
    lines: list[int]                 # file line / sheet row of each record
    raws: list[str]                  # the record as read, for the quarantine
    undecodable: list[tuple[int, str]] = field(default_factory=list)  # (line, raw with \\x escapes)
    end_position: int = 0            # byte offset (csv) or data-row index (xlsx, parquet)
    end_line: int = 0                # last file line consumed
    n_rows: int = 0                  # records read (kept when ``rows`` is dropped after validation)


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{Path(path).name}: unknown file format {suffix or '(none)'}; use .csv, .xlsx or .parquet")
    return FORMATS[suffix]


# ---------------------------------------------------------------------------- CSV
class _Lines:
    """Binary lines decoded one at a time; undecodable lines are set aside with their number."""

    def __init__(self, f, encoding: str, line_no: int, position: int) -> None:
        self.f, self.encoding = f, encoding
        self.line_no, self.position = line_no, position   # last line consumed, byte offset after it
        self.buf: list[str] = []
        self.buf_first = line_no + 1
        self.undecodable: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        while True:
            b = self.f.readline()
            if not b:
                raise StopIteration
            self.line_no += 1
            self.position += len(b)
            try:
                text = b.decode(self.encoding)
            except UnicodeDecodeError:
                self.undecodable.append((self.line_no, b.decode(self.encoding, errors="backslashreplace").rstrip("\r\n")))
                continue
            if not self.buf:
                self.buf_first = self.line_no
            self.buf.append(text)
            return text


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def read_csv_header(path: str, encoding: str) -> tuple[list[str], str, int]:
    """(header fields, delimiter, byte offset after the header line)."""
    with open(path, "rb") as f:
        first = f.readline()
        try:
            text = first.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputError(f"{Path(path).name}, line 1 (header): not decodable as {encoding}") from exc
    if not text.strip():
        raise InputError(f"{Path(path).name}, line 1: the file has no header")
    text = text.lstrip("\ufeff")
    delimiter = _sniff_delimiter(text)
    header = next(csv.reader([text], delimiter=delimiter))
    return [h.strip() for h in header], delimiter, len(first)


def iter_csv(path: str, encoding: str, chunk_rows: int, start_position: int = 0,
             start_line: int = 1) -> Iterator[Chunk]:
    """Yield chunks of records after the header, starting at a byte offset (for resuming)."""
    header, delimiter, header_end = read_csv_header(path, encoding)
    position = max(start_position, header_end)
    line_no = start_line if start_position > header_end else 1
    with open(path, "rb") as f:
        f.seek(position)
        lines = _Lines(f, encoding, line_no, position)
        reader = csv.reader(lines, delimiter=delimiter)
        while True:
            chunk = Chunk(header=header, rows=[], lines=[], raws=[])
            for fields in reader:
                if fields and (len(fields) > 1 or fields[0].strip()):
                    chunk.rows.append(fields)
                    chunk.lines.append(lines.buf_first)
                    chunk.raws.append("".join(lines.buf).rstrip("\r\n"))
                lines.buf.clear()
                if len(chunk.rows) >= chunk_rows:
                    break
            chunk.undecodable, lines.undecodable = lines.undecodable, []
            chunk.end_position, chunk.end_line = lines.position, lines.line_no
            if not chunk.rows and not chunk.undecodable:
                return
            yield chunk


# ---------------------------------------------------------------------------- cells
def cell_text(value: object) -> str:
    """Excel and Parquet cells as the text a CSV would hold: whole floats lose their '.0',
    dates become YYYY-MM-DD (year-month parsing takes the first two parts)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


# ---------------------------------------------------------------------------- Excel
def read_xlsx_header(path: str) -> list[str]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputError(f"{Path(path).name}: not a readable .xlsx file ({type(exc).__name__})") from exc
    try:
        for row in wb.worksheets[0].iter_rows(min_row=1, max_row=1, values_only=True):
            header = [cell_text(v) for v in row]
            while header and header[-1] == "":
                header.pop()
            return header
    finally:
        wb.close()
    raise InputError(f"{Path(path).name}: the first sheet is empty")


def iter_xlsx(path: str, chunk_rows: int, start_position: int = 0) -> Iterator[Chunk]:
    """First worksheet; row 1 is the header. Positions count data rows."""
    from openpyxl import load_workbook

    header = read_xlsx_header(path)
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb.worksheets[0].iter_rows(min_row=2, values_only=True)
        chunk = Chunk(header=header, rows=[], lines=[], raws=[])
        index = 0
        for index, values in enumerate(rows, start=1):
            if index <= start_position:
                continue
            fields = [cell_text(v) for v in values]
            while len(fields) > len(header) and fields[-1] == "":
                fields.pop()
            if any(fields):
                chunk.rows.append(fields)
                chunk.lines.append(index + 1)
                chunk.raws.append(json.dumps(fields, ensure_ascii=False))
            if len(chunk.rows) >= chunk_rows:
                chunk.end_position, chunk.end_line = index, index + 1
                yield chunk
                chunk = Chunk(header=header, rows=[], lines=[], raws=[])
        if chunk.rows:
            chunk.end_position, chunk.end_line = index, index + 1
            yield chunk
    finally:
        wb.close()


# ---------------------------------------------------------------------------- Parquet
def read_parquet_header(path: str) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except Exception as exc:
        raise InputError(f"{Path(path).name}: not a readable Parquet file ({type(exc).__name__})") from exc


def iter_parquet(path: str, chunk_rows: int, start_position: int = 0) -> Iterator[Chunk]:
    """Record batches as text; positions count rows (line = row number + 1, as if a header)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    header = list(pf.schema_arrow.names)
    offset = 0
    for batch in pf.iter_batches(batch_size=chunk_rows):
        n = batch.num_rows
        if offset + n <= start_position:
            offset += n
            continue
        cols = [[cell_text(v) for v in col.to_pylist()] for col in batch.columns]
        skip = max(0, start_position - offset)
        rows = [list(r) for r in zip(*cols, strict=True)][skip:]
        first = offset + skip
        yield Chunk(header=header, rows=rows, lines=list(range(first + 2, first + 2 + len(rows))),
                    raws=[json.dumps(r, ensure_ascii=False) for r in rows],
                    end_position=offset + n, end_line=offset + n + 1)
        offset += n
