"""Short holds on the items officers have open, so officers sharing a queue spread out.

Without them every officer's "next" is the same oldest item, and all but one find it already
decided when they submit. A hold is advisory (the store still decides races: a decision is
written once) and lives in the server process for ``HOLD_SECONDS`` after the item was opened —
``census-audit serve`` is one process with threads, so one table serves every officer.
"""

from __future__ import annotations

import threading
import time

HOLD_SECONDS = 120.0

_lock = threading.Lock()
_holds: dict[str, tuple[str, float]] = {}     # ref -> (operator, expiry)


def hold(ref: str, operator: str, *, now: float | None = None) -> None:
    """``operator`` (a holder: an officer's signed-in session) has ``ref`` open."""
    now = time.monotonic() if now is None else now
    with _lock:
        _holds[ref] = (operator, now + HOLD_SECONDS)
        if len(_holds) > 10_000:              # drop expired holds now and then
            for k in [k for k, (_, exp) in _holds.items() if exp <= now]:
                del _holds[k]


def release(ref: str) -> None:
    with _lock:
        _holds.pop(ref, None)


def held_by_other(ref: str, operator: str, *, now: float | None = None) -> bool:
    now = time.monotonic() if now is None else now
    with _lock:
        who = _holds.get(ref)
    return who is not None and who[0] != operator and who[1] > now


def clear() -> None:
    with _lock:
        _holds.clear()
