"""Canonical JSON and the chained hash: the pure part of the ledger."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64  # the predecessor of the first entry


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the same object always gives the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_body(seq: int, ts: str, operator: str, command: str, params: Any, inputs: Any,
               code_version: str, result: Any) -> dict[str, Any]:
    """The hashed content of an entry. ``seq`` is inside it, so renumbering shows as tampering."""
    return {
        "seq": seq, "ts": ts, "operator": operator, "command": command, "params": params,
        "inputs": inputs, "code_version": code_version, "result": result,
    }


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """SHA-256 of the previous hash followed by the canonical JSON of this entry."""
    return hashlib.sha256((prev_hash + canonical_json(body)).encode("utf-8")).hexdigest()


def sha256_file(path: str, block: int = 1 << 20) -> str:
    """Streaming SHA-256 of a file (bounded memory for multi-GB census files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()
