"""Pre-enumeration listing (摸底) vs. enumeration: households and persons per EA and per enumerator.

Before the count each census enumerator lists the households of the EA with the persons
expected in each. After the count the enumerated households and persons of every EA are set
against that listing. A gap beyond tolerance sends the EA back for a revisit (复查):

* ``shortfall`` — fewer persons enumerated than listed: households or persons possibly missed;
* ``surplus`` — more enumerated than listed: possible duplicates or over-counting (or households
  the listing missed).

Tolerance (:class:`Tolerance`): an EA is flagged when the persons gap is beyond
``relative`` (default 5 %) of the persons listed **and** at least ``min_persons`` (default 8)
persons::

    gap = persons_enumerated - persons_listed
    flag = |gap| > relative * persons_listed  and  |gap| >= min_persons

The relative part scales with the EA; the absolute floor keeps a small EA from being sent back
for one household that moved (about 2.6 persons; three households are about 8). A listing made
two to four weeks before the standard time is a few persons off in most EAs (households moving
in or out, a count off by one), and an ordinary enumerator's net coverage error is about 1-2 %;
5 % and 8 persons lie beyond what those two give together in an ordinary EA, while a skipped
building or a badly worked EA (several households, 5 % or more of the persons) is past them.
An EA with nobody listed has no relative part: only the floor applies. Households are
compared and reported too but do not set the flag.

Only the net gap is visible here: omissions offset by duplicates in the same EA are not, which
is what the PES and the duplicate linkage are for.

Pure functions over DataFrames here; the store in :mod:`audit_engine.listing.store`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

SHORTFALL, SURPLUS = "shortfall", "surplus"

#: the per-EA table's columns, in order
EA_COLUMNS = ("ea_code", "township_code", "enumerator_id", "households_listed", "households_enumerated",
              "households_gap", "persons_listed", "persons_enumerated", "persons_gap", "gap_rate", "limit", "flag")
#: the per-enumerator table's columns
ENUMERATOR_COLUMNS = ("enumerator_id", "township_code", "eas", "households_listed", "households_enumerated",
                      "households_gap", "persons_listed", "persons_enumerated", "persons_gap", "gap_rate", "limit",
                      "flag", "flagged_eas")
#: the per-township table's columns
TOWNSHIP_COLUMNS = ("township_code", "eas", "households_listed", "households_enumerated", "persons_listed",
                    "persons_enumerated", "persons_gap", "gap_rate", "shortfall_eas", "surplus_eas")


@dataclass(frozen=True)
class Tolerance:
    """Flag when ``|gap| > relative * persons_listed`` and ``|gap| >= min_persons``."""

    relative: float = 0.05
    min_persons: int = 8

    def __post_init__(self) -> None:
        if not 0.0 <= self.relative < 1.0:
            raise ValueError(f"tolerance: relative must be within 0-1, got {self.relative}")
        if self.min_persons < 1:
            raise ValueError(f"tolerance: min_persons must be at least 1, got {self.min_persons}")

    def limit(self, persons_listed) -> np.ndarray:
        """The smallest |gap| flagged for each listed count (persons)."""
        rel = np.floor(self._bound(persons_listed)) + 1
        return np.maximum(rel, self.min_persons).astype(np.int64)

    def flag(self, persons_listed, persons_gap) -> np.ndarray:
        """'' / 'shortfall' / 'surplus' per row."""
        listed = np.asarray(persons_listed, dtype=float)
        gap = np.asarray(persons_gap, dtype=float)
        beyond = (np.abs(gap) > self._bound(listed)) & (np.abs(gap) >= self.min_persons)
        return np.where(beyond & (gap < 0), SHORTFALL, np.where(beyond & (gap > 0), SURPLUS, "")).astype(object)

    def _bound(self, persons_listed) -> np.ndarray:
        # rounded so that 5 % of 200 is exactly 10 whatever the float product gives
        return np.round(self.relative * np.asarray(persons_listed, dtype=float), 9)

    def to_dict(self) -> dict:
        return {**asdict(self), "rule": "flag when |persons_enumerated - persons_listed| > relative * persons_listed "
                                          "and >= min_persons; shortfall when fewer enumerated, surplus when more"}


@dataclass
class Reconciliation:
    eas: pd.DataFrame             # EA_COLUMNS, by ea_code
    enumerators: pd.DataFrame     # ENUMERATOR_COLUMNS, by enumerator_id
    townships: pd.DataFrame       # TOWNSHIP_COLUMNS, by township_code
    tolerance: Tolerance


def _mode(values: pd.Series) -> str:
    v = values.dropna().astype(str)
    v = v[v != ""]
    if v.empty:
        return ""
    counts = v.value_counts()
    return str(sorted(counts[counts == counts.max()].index)[0])


def _rate(gap: pd.Series, listed: pd.Series) -> pd.Series:
    return (gap / listed.where(listed > 0)).astype(float)


def reconcile(listing: pd.DataFrame, enumerated: pd.DataFrame, areas: pd.DataFrame | None = None,
              tolerance: Tolerance | None = None) -> Reconciliation:
    """Set the listing against the enumeration.

    ``listing``: one row per listed household — ``ea_code``, ``persons_listed``, optional
    ``enumerator_id``. ``enumerated``: one row per EA — ``ea_code``, ``households``, ``persons``,
    optional ``enumerator_id`` (who enumerated it). ``areas`` (optional): ``ea_code``,
    ``township_code``; without it, or for an EA it lacks, the township is the EA code's first 9
    digits. An EA in only one of the two counts as zero in the other. The EA's enumerator is the
    one who listed most of its households, else the one who enumerated it.
    """
    tol = tolerance or Tolerance()
    lst = listing.copy()
    lst["ea_code"] = lst["ea_code"].astype(str)
    if "enumerator_id" not in lst:
        lst["enumerator_id"] = ""
    listed = lst.groupby("ea_code", sort=True).agg(
        households_listed=("ea_code", "size"),
        persons_listed=("persons_listed", lambda s: int(pd.to_numeric(s, errors="coerce").fillna(0).sum())),
        listing_enumerator=("enumerator_id", _mode))
    enu = enumerated.copy()
    enu["ea_code"] = enu["ea_code"].astype(str)
    if "enumerator_id" not in enu:
        enu["enumerator_id"] = ""
    enu = enu.groupby("ea_code", sort=True).agg(households_enumerated=("households", "sum"),
                                               persons_enumerated=("persons", "sum"),
                                               census_enumerator=("enumerator_id", _mode))
    df = listed.join(enu, how="outer").sort_index()
    df.index.name = "ea_code"
    df = df.reset_index()
    for c in ("households_listed", "persons_listed", "households_enumerated", "persons_enumerated"):
        df[c] = df[c].fillna(0).astype(np.int64)
    le = df["listing_enumerator"].fillna("").astype(str)
    ce = df["census_enumerator"].fillna("").astype(str)
    df["enumerator_id"] = np.where(le != "", le, ce)
    town = df["ea_code"].str[:9]
    if areas is not None and len(areas):
        tmap = dict(zip(areas["ea_code"].astype(str), areas["township_code"].astype(str), strict=True))
        town = pd.Series([tmap.get(e) or e[:9] for e in df["ea_code"]], index=df.index)
    df["township_code"] = town
    df["households_gap"] = df["households_enumerated"] - df["households_listed"]
    df["persons_gap"] = df["persons_enumerated"] - df["persons_listed"]
    df["gap_rate"] = _rate(df["persons_gap"], df["persons_listed"])
    df["limit"] = tol.limit(df["persons_listed"])
    df["flag"] = tol.flag(df["persons_listed"], df["persons_gap"])
    eas = df[list(EA_COLUMNS)].reset_index(drop=True)

    sums = ["households_listed", "households_enumerated", "persons_listed", "persons_enumerated"]
    g = eas.assign(flagged=(eas["flag"] != "").astype(np.int64)).groupby("enumerator_id", sort=True)
    en = g[sums].sum()
    en["eas"] = g.size()
    en["township_code"] = g["township_code"].agg(_mode)
    en["flagged_eas"] = g["flagged"].sum()
    en = en.reset_index()
    en["households_gap"] = en["households_enumerated"] - en["households_listed"]
    en["persons_gap"] = en["persons_enumerated"] - en["persons_listed"]
    en["gap_rate"] = _rate(en["persons_gap"], en["persons_listed"])
    en["limit"] = tol.limit(en["persons_listed"])
    en["flag"] = tol.flag(en["persons_listed"], en["persons_gap"])
    enumerators = en[list(ENUMERATOR_COLUMNS)]

    g = eas.groupby("township_code", sort=True)
    tw = g[sums].sum()
    tw["eas"] = g.size()
    tw["shortfall_eas"] = g["flag"].agg(lambda s: int((s == SHORTFALL).sum()))
    tw["surplus_eas"] = g["flag"].agg(lambda s: int((s == SURPLUS).sum()))
    tw = tw.reset_index()
    tw["persons_gap"] = tw["persons_enumerated"] - tw["persons_listed"]
    tw["gap_rate"] = _rate(tw["persons_gap"], tw["persons_listed"])
    townships = tw[list(TOWNSHIP_COLUMNS)]
    return Reconciliation(eas=eas, enumerators=enumerators, townships=townships, tolerance=tol)


def records(df: pd.DataFrame) -> list[dict]:
    """A table as JSON-ready dicts: ints as int, a missing rate as None, rates to 6 places."""
    out = []
    for row in df.to_dict(orient="records"):
        r = {}
        for k, v in row.items():
            if isinstance(v, (np.integer,)):
                v = int(v)
            elif isinstance(v, (float, np.floating)):
                v = None if np.isnan(v) else round(float(v), 6)
            r[k] = v
        out.append(r)
    return out
