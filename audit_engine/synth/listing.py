"""The pre-enumeration listing (摸底): one row per household the census enumerator expected to
find in the EA, made a few weeks before the standard time, with the listing's own errors.

The listing starts from the true households (family and collective), listed by the census
enumerator of their EA with their true number of residents, then:

  moved_out    a household that moved out before the standard time is still listed (per true
               family household of the EA, binomial): it has no true counterpart, so the census
               rightly finds nobody there and the listing overstates the EA;
  missed       a true family household is not listed (per family household; collective
               quarters are always listed): the census finds more
               than was listed;
  persons_off  a listed household's persons count is one too high or one too low (per listed
               household, either way with equal chance, never below 1).

It uses its own random stream, so the census and PES files do not change when it is added.
The per-EA ``households_listed`` / ``persons_listed`` of ``areas.csv`` are an older, coarser
summary drawn independently in ``population``; this detailed listing is the one reconciled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audit_engine.io.columns import header_names

from . import write
from .config import ListingErrors
from .enumerate import Capture
from .population import Population


@dataclass
class Listing:
    rows: dict[str, np.ndarray]          # the listing.csv columns
    truth: dict[str, np.ndarray]         # per EA, the truth/listing.csv columns (ints unformatted)


def build(rng: np.random.Generator, pop: Population, rates: ListingErrors, ea_enumerator_id: np.ndarray,
          census: Capture) -> Listing:
    """The listing of ``pop`` and its per-EA truth (``census`` gives the enumerated counts)."""
    A, H = pop.areas, pop.households
    n_ea, n_hh = len(A["ea_code"]), len(H["ea"])
    hh_ea = H["ea"]
    size = H["size"].astype(np.int64)

    family = H["collective_kind"] < 0
    missed = family & (rng.random(n_hh) < rates.missed)
    # moved-out households: per EA a binomial count, each the size of a random family household of
    # the EA (family households come first within an EA)
    true_hh = np.bincount(hh_ea, minlength=n_ea)
    fam_hh = np.bincount(hh_ea[family], minlength=n_ea)
    n_moved = rng.binomial(fam_hh, rates.moved_out)
    mv_ea = np.repeat(np.arange(n_ea), n_moved)
    first = np.searchsorted(hh_ea, np.arange(n_ea))
    donor = first[mv_ea] + np.floor(rng.random(len(mv_ea)) * fam_hh[mv_ea]).astype(np.int64)
    mv_size = np.maximum(size[donor], 1)

    kept = np.flatnonzero(~missed)
    l_ea = np.concatenate([hh_ea[kept], mv_ea])
    l_true = np.concatenate([size[kept], mv_size])
    l_moved = np.concatenate([np.zeros(len(kept), dtype=bool), np.ones(len(mv_ea), dtype=bool)])
    # addresses: the true one, or the next free house number of the village for a moved-out one
    village = A["village_idx"]
    hh_per_village = np.bincount(village[hh_ea], minlength=int(village.max(initial=0)) + 1)
    mv_village = village[mv_ea]
    order = np.lexsort((np.arange(len(mv_ea)), mv_village))
    rank = np.empty(len(mv_ea), dtype=np.int64)
    sv = mv_village[order]
    rank[order] = np.arange(len(sv)) - np.searchsorted(sv, sv, side="left") + 1
    mv_addr = np.array([f"{A['township_name'][e]}{A['village_name'][e]}{hh_per_village[v] + k}号"
                        for e, v, k in zip(mv_ea, mv_village, rank, strict=True)], dtype=object)
    l_addr = np.concatenate([H["address"][kept], mv_addr]).astype(object)

    # persons count off by one
    off = rng.random(len(l_ea)) < rates.persons_off
    step = np.where(rng.random(len(l_ea)) < 0.5, -1, 1)
    l_persons = np.where(off, np.maximum(l_true + step, 1), l_true)

    # listing order: by EA, the true households in their order, then the moved-out ones
    o = np.lexsort((np.arange(len(l_ea)), l_ea))
    l_ea, l_persons, l_true, l_moved, l_addr = l_ea[o], l_persons[o], l_true[o], l_moved[o], l_addr[o]
    no = np.arange(len(l_ea)) - np.searchsorted(l_ea, l_ea, side="left") + 1
    width = max(3, len(str(int(no.max(initial=1)))))
    ea_code = A["ea_code"]
    rows = {
        "listing_id": np.array([f"L{ea_code[e]}{k:0{width}d}" for e, k in zip(l_ea, no, strict=True)], dtype=object),
        "ea_code": ea_code[l_ea], "persons_listed": write.fmt_int(l_persons),
        "enumerator_id": np.asarray(ea_enumerator_id, dtype=object)[l_ea], "address": l_addr,
    }

    true_persons = census.ea_counts["true_persons"]
    census_hh = np.bincount(np.searchsorted(ea_code.astype(str), census.households["ea_code"].astype(str)),
                            minlength=n_ea)
    census_persons = census.ea_counts["records"]
    truth = {
        "ea_code": ea_code,
        "true_households": true_hh,
        "true_persons": true_persons,
        "listed_households": np.bincount(l_ea, minlength=n_ea),
        "listed_persons": np.bincount(l_ea, weights=l_persons, minlength=n_ea).astype(np.int64),
        "listing_moved_out": n_moved,
        "listing_missed": np.bincount(hh_ea[missed], minlength=n_ea),
        "listing_persons_off": np.bincount(l_ea, weights=l_persons - l_true, minlength=n_ea).astype(np.int64),
        "census_households": census_hh,
        "census_persons": census_persons,
        "census_omitted_persons": census.ea_counts["omitted"],
        "planted_gap": census_persons - true_persons,
    }
    return Listing(rows=rows, truth=truth)


def write_files(out: Path, listing: Listing) -> dict[str, str]:
    """Write ``listing.csv`` and ``truth/listing.csv``; returns {relative path: sha256}."""
    files = {"listing.csv": write.write_csv(out / "listing.csv", header_names("listing"), listing.rows)}
    # signed counts (planted_gap, listing_persons_off) are written as they are, '-3'
    t = {k: (v if k == "ea_code" else np.asarray(v).astype(np.int64).astype(str).astype(object))
         for k, v in listing.truth.items()}
    files["truth/listing.csv"] = write.write_csv(out / "truth" / "listing.csv", list(t), t)
    return files
