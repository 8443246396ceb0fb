"""Allocating the sample across strata: proportional, equal, Neyman or fixed, at least a
minimum per stratum (2 by default, so every stratum yields a variance), never more than the
stratum holds. Rounding keeps the total exactly (largest remainder)."""

from __future__ import annotations

import numpy as np


def largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``shares`` that add up to ``total`` (Hamilton's method)."""
    shares = np.asarray(shares, dtype=float)
    if shares.sum() <= 0:
        raise ValueError("allocation shares must have a positive sum")
    exact = total * shares / shares.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - base.sum()
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


def allocate(method: str, total: int, units: np.ndarray, size: np.ndarray, *, minimum: int = 2,
             fixed: np.ndarray | None = None, prior_sd: np.ndarray | None = None, by: str = "size") -> np.ndarray:
    """Sample size per stratum.

    ``units``: frame units per stratum (N_h); ``size``: total size measure per stratum.
    Proportional: n_h ∝ size_h (or N_h); equal: n_h = total / H; Neyman: n_h ∝ N_h S_h with
    prior standard deviations S_h; fixed: as given. Then every stratum gets at least
    ``minimum`` (or all its units if it has fewer) and at most N_h; the surplus or deficit is
    taken from or given to the other strata in proportion, keeping the total.
    """
    units = np.asarray(units, dtype=np.int64)
    H = len(units)
    if method == "fixed":
        n = np.asarray(fixed, dtype=np.int64)
        if (n > units).any() or (n < 0).any():
            raise ValueError("a fixed allocation asks for more units than a stratum holds")
        return n
    floor = np.minimum(units, minimum)
    if total < floor.sum():
        raise ValueError(f"a total of {total} cannot give {minimum} units to each of {H} strata "
                         f"(needs at least {int(floor.sum())})")
    total = min(total, int(units.sum()))
    if method == "proportional":
        shares = np.asarray(size if by == "size" else units, dtype=float)
    elif method == "equal":
        shares = np.ones(H)
    elif method == "neyman":
        shares = units * np.asarray(prior_sd, dtype=float)
    else:
        raise ValueError(f"unknown allocation method {method!r}")
    n = np.clip(largest_remainder(shares, total), floor, units)
    # restore the total after clipping: move units to/from strata with room, by share
    for _ in range(4 * H + 10):
        diff = total - int(n.sum())
        if diff == 0:
            break
        room = (units - n) if diff > 0 else (n - floor)
        ok = room > 0
        if not ok.any():
            break
        w = np.where(ok, shares + 1e-12, 0)
        step = np.minimum(room, largest_remainder(w, abs(diff)))
        n = n + (step if diff > 0 else -step)
    return n
