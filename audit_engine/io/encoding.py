"""Guessing the text encoding of a census CSV: UTF-8 (with or without BOM) or GB18030/GBK.

Offices export from Excel and older systems in GBK; newer systems write UTF-8; files pasted
together hold both. We decide per file from a sample, then decode line by line, so a stray
GBK line in a UTF-8 file is quarantined rather than failing the whole load.
"""

from __future__ import annotations

SAMPLE_BYTES = 4 << 20


def detect_encoding(path: str, sample_bytes: int = SAMPLE_BYTES) -> str:
    """'utf-8-sig', 'utf-8' or 'gb18030', by which decodes more of the sample's non-ASCII lines."""
    with open(path, "rb") as f:
        sample = f.read(sample_bytes)
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    lines = sample.split(b"\n")
    if len(sample) == sample_bytes and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut inside a character
    non_ascii = [line for line in lines if not line.isascii()]
    if not non_ascii:
        return "utf-8"
    utf8_ok = sum(_decodes(line, "utf-8") for line in non_ascii)
    # UTF-8 is strict: Chinese text in GBK almost never forms valid UTF-8, while UTF-8 bytes
    # often happen to be valid GB18030. So a file whose non-ASCII lines are mostly valid
    # UTF-8 is UTF-8, and its few GBK lines will be quarantined as undecodable.
    return "utf-8" if utf8_ok * 2 >= len(non_ascii) else "gb18030"


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def normalise(name: str) -> str:
    """Accept the usual spellings: gbk/gb2312/cp936 are read as their superset gb18030."""
    n = name.lower().replace("_", "-")
    if n in ("gbk", "gb2312", "cp936", "gb18030"):
        return "gb18030"
    if n in ("utf8", "utf-8"):
        return "utf-8"
    if n in ("utf-8-sig", "utf8-sig"):
        return "utf-8-sig"
    return n
