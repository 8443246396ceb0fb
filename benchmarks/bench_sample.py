"""A national PES draw: 5,000,000 enumeration areas, ~2,800 counties, ~40,000 townships.

Builds a synthetic national frame (the columns of areas.csv, vectorised with numpy) and times
``draw(design, frame, seed)`` for a national design — strata county x urban/rural, PPS
systematic on persons listed within strata sorted by village and EA, proportional allocation
of 30,000 EAs — as the median of repeated draws, with the time split into its steps
(prepare_frame, frame hash, allocation, selection, replicates) and the peak memory.

JKn replicate weights are n x n (one replicate per PSU): for 30,000 EAs that would be 7.2 GB,
so the national design declares ``replicates: {method: none}`` (estimation by linearisation),
and replicate generation is timed separately: the bootstrap (n x 200) on the national sample and
JKn on 1,000 to 5,000 of its EAs (JKn is refused beyond 25 million cells, about 5,000 EAs).
``--shuffle`` puts the frame's rows in random order (the draw is the same; it takes longer).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import peak_rss_mb, status_kb  # noqa: E402

URBAN = np.array(["111", "112", "121", "122", "123"])   # urban codes of the urban_rural code list
RURAL = np.array(["210", "220"])
PROVINCES = np.array([11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                      50, 51, 52, 53, 54, 61, 62, 63, 64, 65])


def _split(total: int, parts: int, sigma: float, rng: np.random.Generator, minimum: int = 1) -> np.ndarray:
    """``parts`` whole numbers >= ``minimum``, lognormally uneven, adding up to ``total``."""
    w = rng.lognormal(0.0, sigma, parts)
    exact = minimum + (total - minimum * parts) * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    base[np.argsort(base - exact)[: total - int(base.sum())]] += 1
    return base


def national_frame(eas: int = 5_000_000, counties: int = 2_800, townships: int = 40_000,
                   seed: int = 2020) -> pd.DataFrame:
    """A national EA frame with the columns of areas.csv; codes nest as in GB/T 2260 (county 6
    digits, township +3, village +3, EA +3). Codes are strings, counts integers (as read from the
    store). Every urban_rural is a valid code of the urban_rural list."""
    rng = np.random.default_rng(seed)
    # counties: province (2 digits) + prefecture (2) + county (2), all distinct
    i = np.arange(counties)
    per_prov = -(-counties // PROVINCES.size)
    county = PROVINCES[i // per_prov] * 10_000 + (i % per_prov) // 20 * 100 + 100 + (i % per_prov) % 20 + 1
    t_per_c = np.minimum(_split(townships, counties, 0.5, rng), 999)
    townships = int(t_per_c.sum())
    t_county = np.repeat(county, t_per_c)
    t_seq = np.arange(townships) - np.repeat(np.cumsum(t_per_c) - t_per_c, t_per_c) + 1
    township = t_county * 1_000 + t_seq
    urban_share = rng.beta(0.6, 1.4, townships)                       # most townships rural, some towns
    e_per_t = _split(eas, townships, 0.6, rng, minimum=4)
    v_per_t = np.maximum(1, np.round(e_per_t / rng.uniform(5, 12, townships))).astype(np.int64)
    villages = int(v_per_t.sum())
    v_town = np.repeat(np.arange(townships), v_per_t)
    v_seq = np.arange(villages) - np.repeat(np.cumsum(v_per_t) - v_per_t, v_per_t) + 1
    village = township[v_town] * 1_000 + v_seq
    v_urban = rng.uniform(size=villages) < urban_share[v_town]
    v_code = np.where(v_urban, URBAN[rng.integers(0, URBAN.size, villages)], RURAL[rng.integers(0, RURAL.size, villages)])
    # EAs of a township spread over its villages (each village at least one)
    e_per_v = np.ones(villages, dtype=np.int64)
    extra = np.repeat(e_per_t - v_per_t, v_per_t)                     # per village: its township's surplus
    w = rng.uniform(0.2, 1.0, villages)
    wsum = np.bincount(v_town, w)[v_town]
    e_per_v += np.floor(extra * w / wsum).astype(np.int64)
    short = e_per_t - np.bincount(v_town, e_per_v, minlength=townships).astype(np.int64)
    first_v = np.cumsum(v_per_t) - v_per_t
    e_per_v[first_v] += short                                          # remainder to the first village
    e_per_v = np.minimum(e_per_v, 999)
    n = int(e_per_v.sum())
    e_village = np.repeat(np.arange(villages), e_per_v)
    e_seq = np.arange(n) - np.repeat(np.cumsum(e_per_v) - e_per_v, e_per_v) + 1
    ea = village[e_village] * 1_000 + e_seq
    urban = v_urban[e_village]
    households = np.maximum(1, rng.poisson(np.where(urban, 130, 90))).astype(np.int64)
    persons = np.maximum(1, np.round(households * rng.uniform(2.2, 3.2, n))).astype(np.int64)
    e_town = v_town[e_village]

    def text(codes: np.ndarray) -> np.ndarray:
        return codes.astype(str).astype(object)

    names = np.char.add(np.char.add("T", (t_seq % 1000).astype(str)), np.where(urban_share > 0.5, "街道", "镇"))
    return pd.DataFrame({
        "ea_code": text(ea),
        "county_code": text(t_county)[e_town],
        "township_code": text(township)[e_town],
        "village_code": text(village)[e_village],
        "township_name": names.astype(object)[e_town],
        "urban_rural": v_code.astype(object)[e_village],
        "households_listed": households,
        "persons_listed": persons,
    })


def reset_peak_rss() -> bool:
    """Start the peak-RSS count afresh (Linux: write 5 to /proc/self/clear_refs), so the peak
    reported is that of the draws, not of building the frame. False when the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def national_design(total: int = 30_000, replicates: str = "none"):
    """Strata county x urban/rural, PPS systematic on persons listed, villages and EAs in code
    order within a stratum, proportional allocation of ``total`` EAs."""
    from sampling.design import parse_design

    return parse_design({
        "design": "pes_national_bench", "frame": {"source": "store", "unit": "ea_code", "size": "persons_listed"},
        "strata": ["county_code", "urban"], "sort": ["village_code", "ea_code"],
        "stages": [{"unit": "ea_code", "method": "pps_systematic"}],
        "allocation": {"method": "proportional", "by": "size", "total": total, "min_per_stratum": 2},
        "replicates": {"method": replicates}}, "bench")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--eas", type=int, default=5_000_000)
    ap.add_argument("--counties", type=int, default=2_800)
    ap.add_argument("--townships", type=int, default=40_000)
    ap.add_argument("--total", type=int, default=30_000, help="EAs in the sample")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20201115)
    ap.add_argument("--shuffle", action="store_true",
                    help="rows in random order (default: code order, as the store returns them)")
    args = ap.parse_args(argv)

    from sampling.draw import JKN_MAX_CELLS, draw, replicates

    t0 = time.perf_counter()
    frame = national_frame(args.eas, args.counties, args.townships)
    if args.shuffle:   # fresh string objects in the new row order, as a reader would make them
        frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
        for c in frame.columns:
            if frame[c].dtype == object:
                frame[c] = frame[c].to_numpy().astype("U").astype(object)
    built = time.perf_counter() - t0
    print(f"frame: {len(frame):,} EAs, {frame['county_code'].nunique():,} counties, "
          f"{frame['township_code'].nunique():,} townships, {frame['village_code'].nunique():,} villages "
          f"({'shuffled' if args.shuffle else 'code order'}); built in {built:.1f} s")
    gc.collect()
    rss_frame = status_kb("self", "VmRSS") / 1024
    fresh = reset_peak_rss()

    design = national_design(args.total)
    runs, steps, hashes = [], [], set()
    for _ in range(args.repeat):
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        drawn = draw(design, frame, args.seed, timings=timings)
        runs.append(time.perf_counter() - t0)
        steps.append(timings)
        hashes.add((drawn.selection_hash, drawn.frame_hash))
    assert len(hashes) == 1, "the same design, frame and seed gave different samples"
    med = statistics.median(runs)
    split = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
    u, strata = drawn.units, drawn.strata
    print(f"draw: {len(u):,} EAs in {int((strata['n_h'] > 0).sum()):,} strata "
          f"({int(u['certainty'].sum())} certainty); runs {', '.join(f'{t:.2f}' for t in runs)} s; "
          f"median {med:.2f} s = {len(frame) / med / 1e6:.2f} M frame EAs/s (target <= 10 s)")
    print(f"  memory: the frame {rss_frame:,.0f} MB; peak RSS {'during the draws' if fresh else 'of the process'} "
          f"{peak_rss_mb():,.0f} MB (+{peak_rss_mb() - rss_frame:,.0f} MB)")
    print("  split (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in split.items()))
    print(f"  seed {args.seed}: selection {drawn.selection_hash[:16]}, frame {drawn.frame_hash[:16]} (every run)")
    persons = frame.set_index("ea_code")["persons_listed"]
    ht = float((u["weight"] * persons.loc[u["unit"]].to_numpy()).sum())
    print(f"  check: HT estimate of persons listed {ht:,.0f} vs frame {persons.sum():,} "
          f"(PPS on that size: exact up to rounding); sum of weights {u['weight'].sum():,.0f} EAs")

    # replicate weights, timed on their own
    n = len(u)
    verdict = "refused: over" if n * n > JKN_MAX_CELLS else "allowed: within"
    print(f"replicates: JKn for {n:,} EAs would be {n:,} x {n:,} = {n * n * 8 / 1e9:.1f} GB "
          f"({verdict} {JKN_MAX_CELLS:,} cells); the national design says replicates: {{method: none}}")
    t0 = time.perf_counter()
    boot, _ = replicates(u, national_design(args.total, "bootstrap"), args.seed)
    print(f"  bootstrap (Rao-Wu, 200) for {n:,} EAs: {time.perf_counter() - t0:.2f} s, "
          f"{boot.nbytes / 1e6:.0f} MB")
    for m in (1_000, 3_000, 5_000):
        if m > n:
            break
        sub = u.iloc[:m]                                     # the first strata of the sample, whole
        sub = sub[sub["stratum"].isin(sub["stratum"].value_counts().loc[lambda c: c >= 2].index)]
        t0 = time.perf_counter()
        jk, _ = replicates(sub, national_design(args.total, "JKn"), args.seed)
        print(f"  JKn for {len(sub):,} EAs: {time.perf_counter() - t0:.2f} s, {jk.nbytes / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
