"""Render docs/data-format.md from the column spec, so the documentation cannot drift.

``python -m audit_engine.io.format_doc > docs/data-format.md``; a test checks they agree.
"""

from __future__ import annotations

from audit_engine.io.columns import KEYS, KINDS

HEAD = """# Input file formats

Generated from `audit_engine/io/columns.py` (`python -m audit_engine.io.format_doc > docs/data-format.md`):
one description drives the loaders, the synthetic generator and this page. Code lists:
`audit_engine/codes/census_codes.yaml`, the single source of codes and labels.

## General rules

- Formats: CSV (`.csv`, `.txt`, `.tsv`; delimiter `,` tab `;` or `|` detected from the header),
  Excel `.xlsx` (first sheet, row 1 is the header), Parquet.
- CSV encoding: UTF-8 (with or without BOM) or GB18030/GBK, detected from the first 4 MB; force it
  with `--encoding`. Lines that do not decode in the file's encoding are quarantined
  (`undecodable`) with their bytes kept (as `\\xNN` escapes).
- Headers: the English names below in any case, or the Chinese names. Unknown columns are ignored.
  The file kind is detected from the header (or given with `--kind`).
- Empty cell = missing value. Missing items load (rules measure item non-response); only key
  fields must be present.
- Codes with leading zeros (`ethnicity` 01–56) accept Excel's dropped zeros (`1` → `01`).
  Industry letters are upper-cased.
- Year-month: `YYYY-MM`, `YYYYMM`, `YYYY/MM`, `YYYY.MM`, `YYYY年MM月`, or a full date (the day is
  ignored). Years 1880–2021.
- A record whose key is repeated in the file, or already stored for the same source, is
  quarantined as `duplicate_key`. The same keys may exist in both sources (census and PES).
- Line numbers: CSV file lines (header = line 1); Excel sheet rows; Parquet row number + 1.

## Quarantine reasons

| reason | meaning |
|---|---|
| `undecodable` | the line's bytes are not valid in the file's encoding |
| `column_count` | the row has more or fewer fields than the header |
| `missing_key` | a key field is empty (or longer than 40 characters) |
| `not_a_number` | letters or fractions where a whole number belongs |
| `out_of_range` | a number above the item's maximum |
| `unknown_code` | a code not in the item's code list |
| `bad_date` | not a year-month, month outside 1–12, or year outside 1880–2021 |
| `bad_format` | text not matching its pattern (e.g. registration place: 6 digits) |
| `too_long` | text longer than the item allows |
| `duplicate_key` | the record's key is repeated in the file or already stored |
"""


def render() -> str:
    out = [HEAD]
    for kind, cols in KINDS.items():
        out += [f"## `{kind}`", "", f"Key: {', '.join('`' + k + '`' for k in KEYS[kind])}.", "",
                "| column | 中文 | type | required in header | notes |", "|---|---|---|---|---|"]
        for c in cols:
            t = c.type + (f" (`{c.code_list}`)" if c.code_list else "") + (f" ≤ {c.max}" if c.max else "")
            t += f" `{c.pattern}`" if c.pattern else ""
            out.append(f"| `{c.name}` | {c.zh} | {t} | {'yes' if c.required else ''} | {c.doc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
