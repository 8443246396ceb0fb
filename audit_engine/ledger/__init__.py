"""The accountability ledger: append-only, hash-chained, verifiable.

Every command that changes or reports anything appends one entry (who, when, what, the
hashes of its inputs, the code version, a result summary). Each entry's hash covers the
previous entry's hash, so editing, deleting or reordering any entry breaks the chain at that
entry, and ``verify`` names it. Entries hold ids, counts and hashes, never personal data.
"""

from audit_engine.ledger.chain import GENESIS, canonical_json, entry_hash
from audit_engine.ledger.store import append, head, history
from audit_engine.ledger.verify import VerifyResult, verify

__all__ = ["GENESIS", "VerifyResult", "append", "canonical_json", "entry_hash", "head", "history", "verify"]
