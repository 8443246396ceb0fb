"""The register classes of census and register records (pure: frames in, frames out).

Census persons (record ``C``):

* matched to a register record (a match, a possible match, or a shared link — see
  :mod:`audit_engine.register.link`):
  - the register record is cancelled by death (status 3) dated before the standard time
    (2020-11), or with no date → ``deceased_enumerated``;
  - the register record moved out (status 2) before the standard time → ``registered_elsewhere``
    (the registration left this address; ``place`` the census's ``registration_place`` if
    the census gives one);
  - else the registration address's first 9 digits are the EA's township code →
    ``registered_here``; otherwise ``registered_elsewhere``, ``place`` the address code (a
    6-digit, county-level address cannot show the township: ``registered_elsewhere`` too,
    with ``address_level`` 6 in the evidence);
* not matched: the census says registered in another county (``registration_type`` 4) →
  ``registered_elsewhere``, ``place`` its ``registration_place`` (the extract is this county's
  register only, so no record is expected); else ``no_registration`` (candidate 未落户口).

When one register record has two census records (a census duplicate: enumerated at home and
again at the registration household) and one of them is outside the registration township,
both are ``registered_elsewhere``: the class describes the person, who lives away from the
registration place (``census_records`` 2 in the evidence).

Register persons (record ``R``), the record being registered in this county by definition:

* status 1 (or a move-out / death dated at or after the standard time, which does not explain
  an absence at the standard time): matched → ``registered_here`` (enumerated, registered in
  the county; ``ea_code`` the census EA, ``other_key`` the census key); not matched →
  ``not_enumerated`` (candidate omission, or moved away without moving the registration;
  ``ea_code`` the address code, so the field list is by place);
* status 2 before the standard time → ``moved_out`` (matched or not: a match is in the census
  record's evidence);
* status 3 before the standard time (or undated) → ``deceased_enumerated`` when matched, else
  ``deceased``.

A possible match is classified as a match (the most likely reading) and its census record goes
to review with the pair (``review`` true in the frame), so the officer can say it is not the
same person. Evidence is JSON of keys, codes and numbers only.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

__all__ = ["ACTIONABLE", "CENSUS_CLASSES", "CLASSES", "REGISTER_ONLY", "STANDARD_YM", "classify"]

#: the census standard time as a year-month: 2020-11-01 00:00
STANDARD_YM = "2020-11"
CENSUS_CLASSES = ("registered_here", "registered_elsewhere", "no_registration", "deceased_enumerated")
REGISTER_ONLY = ("not_enumerated", "moved_out", "deceased")
CLASSES = ("registered_here", "not_enumerated", "registered_elsewhere", "no_registration", "deceased_enumerated",
           "moved_out", "deceased")
#: classes that need someone to look: one review item per record
ACTIONABLE = ("not_enumerated", "registered_elsewhere", "no_registration", "deceased_enumerated")

_OUT = ["record", "record_key", "ea_code", "cls", "other_key", "place", "evidence", "review"]


def _s(v) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v)


def _before_standard(ym: str | None) -> bool:
    """A status date before the standard time; an unknown date counts as before."""
    return ym is None or str(ym)[:7] < STANDARD_YM


def classify(census: pd.DataFrame, register: pd.DataFrame, links: pd.DataFrame,
             townships: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per census and per register record: record (``C`` / ``R``), record_key, ea_code,
    cls, other_key, place, evidence (JSON), review (bool: goes to a review item).

    ``census``: ``person_id``, ``ea_code``, ``registration_type``, ``registration_place``.
    ``register``: ``register_id``, ``address_code``, ``status``, ``status_ym``.
    ``links``: ``census_key``, ``register_key``, ``status`` (match / possible / shared),
    ``weight``, ``posterior``, ``levels`` (JSON or dict) — at most one row per census key.
    ``townships``: EA code → township code (the ``enumeration_areas`` table); an EA not in it
    takes its first 9 digits.
    """
    townships = townships or {}
    reg = {str(r.register_id): (_s(r.address_code), _s(r.status), _s(r.status_ym))
           for r in register[["register_id", "address_code", "status", "status_ym"]].itertuples(index=False)}
    link_by_c = {str(r.census_key): r for r in links.itertuples(index=False)}
    rows: list[list] = []
    by_r: dict[str, list[int]] = {}   # register key -> row numbers of its census records
    for p in census[["person_id", "ea_code", "registration_type", "registration_place"]].itertuples(index=False):
        key, ea = str(p.person_id), str(p.ea_code)
        rtype, rplace = _s(p.registration_type), _s(p.registration_place)
        township = townships.get(ea, ea[:9])
        ev: dict = {"registration_type": rtype, "township": township}
        lk = link_by_c.get(key)
        other = place = None
        review = False
        if lk is None:
            ev["match"] = "none"
            if rtype == "4":
                cls, place = "registered_elsewhere", rplace
                ev["registration_place"] = rplace
            else:
                cls = "no_registration"
        else:
            other = str(lk.register_key)
            addr, rstatus, sym = reg[other]
            levels = lk.levels if isinstance(lk.levels, dict) else json.loads(lk.levels)
            ev.update({"match": lk.status, "weight": round(float(lk.weight), 3),
                       "posterior": round(float(lk.posterior), 4), "levels": levels, "address_code": addr,
                       "register_status": rstatus, "status_ym": sym})
            review = lk.status == "possible"
            if rstatus == "3" and _before_standard(sym):
                cls, place = "deceased_enumerated", addr
            elif rstatus == "2" and _before_standard(sym):
                cls, place = "registered_elsewhere", rplace
            elif addr is not None and len(addr) >= 9 and addr[:9] == township:
                cls = "registered_here"
            else:
                cls, place = "registered_elsewhere", addr
                if addr is not None and len(addr) < 9:
                    ev["address_level"] = len(addr)
            by_r.setdefault(other, []).append(len(rows))
        rows.append(["C", key, ea, cls, other, place, ev, review])
    # one register person, two census records (a census duplicate): the person lives where a
    # record is outside the registration township; the record at the registration place is the
    # duplicate, and the person is registered elsewhere on both
    for other, nums in by_r.items():
        if len(nums) > 1 and any(rows[i][3] == "registered_elsewhere" for i in nums):
            for i in nums:
                rows[i][6]["census_records"] = len(nums)
                if rows[i][3] == "registered_here":
                    rows[i][3], rows[i][5] = "registered_elsewhere", reg[other][0]
    for row in rows:
        row[7] = row[7] or row[3] in ACTIONABLE
    for r in register[["register_id", "address_code", "status", "status_ym"]].itertuples(index=False):
        key, addr, rstatus, sym = str(r.register_id), _s(r.address_code), _s(r.status), _s(r.status_ym)
        ev = {"register_status": rstatus, "status_ym": sym, "address_code": addr}
        partners = by_r.get(key)
        if rstatus == "2" and _before_standard(sym):
            cls = "moved_out"
        elif rstatus == "3" and _before_standard(sym):
            cls = "deceased_enumerated" if partners else "deceased"
        else:
            cls = "registered_here" if partners else "not_enumerated"
        if partners:
            first = rows[partners[0]]
            ev.update({k: first[6][k] for k in ("match", "weight", "posterior", "levels", "township")})
            ev["census_records"] = len(partners)
            rows.append(["R", key, first[2], cls, first[1], addr, ev, False])
        else:
            ev["match"] = "none"
            rows.append(["R", key, addr or "", cls, None, addr, ev, cls in ACTIONABLE])
    out = pd.DataFrame(rows, columns=_OUT)
    out["evidence"] = [json.dumps(e, ensure_ascii=False, sort_keys=True) for e in out["evidence"]]
    return out
