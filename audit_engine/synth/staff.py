"""Enumerators and supervisors: who enumerated which EA, and which of them worked badly.

Each census enumerator takes one or two neighbouring EAs of one township; about five
enumerators share a supervisor (普查指导员). A configurable share of enumerators is "bad":
their EAs get several times the error and omission rates, which the truth records so funnel
plots of enumerator quality can be checked against it. The PES has its own staff.
"""

from __future__ import annotations

import numpy as np


def assign(rng: np.random.Generator, township_idx: np.ndarray, *, prefix: str, max_eas: int,
           per_supervisor: int, bad_share: float) -> dict[str, np.ndarray]:
    """Staff for EAs in code order.

    Returns ``ea_enumerator`` (enumerator index per EA) and per enumerator: ``enumerator_id``,
    ``supervisor_id``, ``bad`` (bool) and ``ea_index`` lists as an object array.
    """
    n_ea = len(township_idx)
    want = rng.integers(1, max_eas + 1, size=n_ea)
    ea_enum = np.empty(n_ea, dtype=np.int64)
    k, i = -1, 0
    while i < n_ea:
        k += 1
        take = 1
        while take < want[i] and i + take < n_ea and township_idx[i + take] == township_idx[i]:
            take += 1
        ea_enum[i:i + take] = k
        i += take
    n_enum = k + 1
    enum_town = township_idx[np.searchsorted(ea_enum, np.arange(n_enum))]
    # supervisors: runs of up to per_supervisor enumerators within a township
    sup = np.empty(n_enum, dtype=np.int64)
    s, run = -1, per_supervisor
    for e in range(n_enum):
        if run >= per_supervisor or (e > 0 and enum_town[e] != enum_town[e - 1]):
            s += 1
            run = 0
        sup[e] = s
        run += 1
    n_bad = int(round(bad_share * n_enum))
    bad = np.zeros(n_enum, dtype=bool)
    if n_bad:
        bad[rng.choice(n_enum, size=n_bad, replace=False)] = True
    width = max(4, len(str(n_enum)))
    enum_ids = np.array([f"{prefix}E{e + 1:0{width}d}" for e in range(n_enum)], dtype=object)
    sup_ids = np.array([f"{prefix}S{x + 1:0{max(3, len(str(s + 1)))}d}" for x in sup], dtype=object)
    starts = np.searchsorted(ea_enum, np.arange(n_enum + 1))
    ea_lists = np.empty(n_enum, dtype=object)
    for e in range(n_enum):
        ea_lists[e] = np.arange(starts[e], starts[e + 1])
    return {"ea_enumerator": ea_enum, "enumerator_id": enum_ids, "supervisor_id": sup_ids, "bad": bad,
            "ea_index": ea_lists}
