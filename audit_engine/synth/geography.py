"""The county's map: townships, villages / neighbourhood committees, enumeration areas.

County 320831 (金湖县, Jiangsu) is real; the townships below carry names from the county's
history but their codes, and every village and committee, are synthetic. Sub-district
(街道) codes start at 001, town (镇) codes at 100; neighbourhood committees (居委会) are
numbered from 001 and village committees (村委会) from 201, as in the statistical division
codes. An EA code is the 12-digit village code plus a 3-digit EA number.
"""

from __future__ import annotations

import math

import numpy as np

from . import codes as C

#: (3-digit code, name, is a sub-district) in the order they are used as the county grows
TOWNSHIPS = (
    ("001", "黎城街道", True), ("002", "戴楼街道", True), ("100", "金南镇", False),
    ("101", "银涂镇", False), ("102", "塔集镇", False), ("103", "前锋镇", False),
    ("104", "吕良镇", False), ("105", "陈桥镇", False), ("003", "金北街道", True),
    ("106", "闵桥镇", False), ("107", "涂沟镇", False), ("108", "卞塘镇", False),
)

_STEM1 = "新东西南北前后大小金银塔湖荷花宝利民建红光永安丰和平胜兴华幸福团结"
_STEM2 = "湖河桥庄集圩港湾荡岗庙塘园林星丰华安城湾滩"


def n_townships(persons: int) -> int:
    """8 townships for a small county, growing with log-size to 12 for a million persons."""
    return int(min(12, max(8, round(6 + 2 * math.log10(max(persons, 1000) / 1000)))))


def _split(rng: np.random.Generator, total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into len(weights) positive integer parts (largest remainder)."""
    k = len(weights)
    if total <= k:
        return np.concatenate([np.ones(total, dtype=np.int64), np.zeros(k - total, dtype=np.int64)])
    share = (total - k) * weights / weights.sum()
    parts = np.floor(share).astype(np.int64)
    rest = total - k - parts.sum()
    parts[np.argsort(-(share - parts), kind="stable")[:rest]] += 1
    return parts + 1


def _unit_sizes(rng: np.random.Generator, total: int, lo: int, hi: int) -> list[int]:
    """Consecutive group sizes in [lo, hi] summing to ``total`` (the last may be smaller)."""
    sizes: list[int] = []
    while total > 0:
        s = min(int(rng.integers(lo, hi + 1)), total)
        sizes.append(s)
        total -= s
    return sizes


def build_areas(rng: np.random.Generator, persons: int, n_households: int, ea_min: int, ea_max: int,
                county_code: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Areas table (one row per EA, code order) and the number of family households per EA."""
    mean = (ea_min + ea_max) / 2
    n_ea = max(1, round(n_households / mean))
    n_town = min(n_townships(persons), n_ea)
    towns = sorted(TOWNSHIPS[:n_town], key=lambda t: t[0])
    weights = np.array([1.4 if t[2] else 1.0 for t in towns]) * rng.uniform(0.75, 1.25, n_town)
    ea_per_town = _split(rng, n_ea, weights)

    used_names: set[str] = set()

    def new_name(suffix: str) -> str:
        while True:
            stem = _STEM1[int(rng.integers(len(_STEM1)))] + _STEM2[int(rng.integers(len(_STEM2)))]
            if stem + suffix not in used_names:
                used_names.add(stem + suffix)
                return stem + suffix

    rows: dict[str, list] = {k: [] for k in ("ea_code", "township_code", "village_code", "township_name",
                                             "village_name", "urban_rural")}
    for (tcode, tname, street), n in zip(towns, ea_per_town, strict=True):
        township_code = county_code + tcode
        committees: list[tuple[str, str, int]] = []            # (urban_rural, kind, EAs)
        if street:
            for i, size in enumerate(_unit_sizes(rng, int(n), 3, 8)):
                core = tcode == "001" or rng.random() < 0.7
                committees.append((C.MAIN_URBAN if core or i == 0 else C.URBAN_FRINGE, "社区", size))
        else:
            centre = max(1, round(n * 0.25))
            committees.append((C.TOWN_CENTRE, "社区", centre))
            rest = int(n) - centre
            if rest >= 4:
                fringe = max(1, round(n * 0.1))
                committees.append((C.TOWN_FRINGE, "社区", fringe))
                rest -= fringe
            committees += [(C.VILLAGE, "村", s) for s in _unit_sizes(rng, rest, 2, 6)]
        n_res = n_vil = 0
        for ur, kind, size in committees:
            if kind == "村":
                n_vil += 1
                vcode = township_code + f"{200 + n_vil:03d}"
            else:
                n_res += 1
                vcode = township_code + f"{n_res:03d}"
            vname = new_name(kind)
            for e in range(size):
                rows["ea_code"].append(vcode + f"{e + 1:03d}")
                rows["township_code"].append(township_code)
                rows["village_code"].append(vcode)
                rows["township_name"].append(tname)
                rows["village_name"].append(vname)
                rows["urban_rural"].append(ur)
    areas = {k: np.array(v, dtype=object) for k, v in rows.items()}
    areas["county_code"] = np.full(n_ea, county_code, dtype=object)

    raw = rng.integers(ea_min, ea_max + 1, size=n_ea).astype(float)
    exact = raw * n_households / raw.sum()
    hh_per_ea = np.floor(exact).astype(np.int64)
    short = n_households - hh_per_ea.sum()
    hh_per_ea[np.argsort(-(exact - hh_per_ea), kind="stable")[:short]] += 1
    return areas, hh_per_ea


def is_urban(urban_rural: np.ndarray) -> np.ndarray:
    """True for the urban codes of the urban-rural classification."""
    return np.isin(urban_rural, np.array(C.URBAN_CODES, dtype=object))
