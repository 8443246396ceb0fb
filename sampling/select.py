"""Selection methods for one stratum: which units of a list of ``N`` are in the sample.

Every method takes a ``numpy.random.Generator`` and uses nothing else for randomness, so one
seeded generator, passed stratum after stratum, reproduces a whole draw (``sample verify``).
Each returns a :class:`Selection`: the positions chosen and, for *every* unit of the list, its
first-order inclusion probability and whether it was taken with certainty.

Methods (Särndal, Swensson & Wretman 1992, ch. 3; Tillé 2006, *Sampling Algorithms*):

* ``srswor``: simple random sampling without replacement, ``pi = n / N``.
* ``systematic``: equal-probability systematic sampling with a fractional interval ``N / n`` and
  one random start, in list order; the list order is the implicit stratification.
* ``pps_systematic``: probability proportional to size, systematic on the cumulated ``pi`` in list
  order (Madow 1949). Units whose ``n x_k / X`` reaches 1 are certainty units: taken out, and the
  rest recomputed, until none is left (Tillé 2006, §2.10) — the method of choice of census
  offices for EA samples because it spreads the sample over the sorted list.
* ``pps_sampford``: Sampford's (1967) rejective PPS without replacement. Its first-order
  probabilities are exactly ``pi`` and its joint probabilities ``pi_kl`` are known in closed form
  (:func:`joint_inclusion`), so an unbiased Horvitz-Thompson (Sen-Yates-Grundy) variance is
  possible — which systematic PPS cannot give (some ``pi_kl`` are 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SELECTORS",
    "Selection",
    "inclusion_probabilities",
    "joint_inclusion",
    "pps_sampford",
    "pps_systematic",
    "srswor",
    "systematic",
]


@dataclass(frozen=True)
class Selection:
    """``index``: ascending positions of the selected units; ``pi``: inclusion probability of
    every unit (length N); ``certainty``: which units were certainty selections (length N)."""

    index: np.ndarray
    pi: np.ndarray
    certainty: np.ndarray

    @property
    def n(self) -> int:
        return int(self.index.shape[0])


def _check_n(N: int, n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"sample size must be a whole number >= 0, not {n!r}")
    if n > N:
        raise ValueError(f"cannot select {n} units from a list of {N}")


def _sizes(size: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(size, dtype=float)
    if x.ndim != 1:
        raise ValueError("size must be a 1-d array")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("size measures must be finite and non-negative")
    _check_n(x.shape[0], n)
    if int(np.count_nonzero(x)) < n:
        raise ValueError(f"only {int(np.count_nonzero(x))} unit(s) have a positive size; cannot select {n}")
    return x


def inclusion_probabilities(size: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``pi_k = n x_k / X`` with certainty units removed iteratively.

    A unit whose ``pi`` would reach 1 is taken with certainty (``pi = 1``); the remaining sample
    ``n - #certainty`` is spread over the remaining units in proportion to size, and the check
    repeats until no ``pi`` exceeds 1. Returns ``(pi, certainty)``; ``sum(pi) == n``.
    """
    x = _sizes(size, n)
    N = x.shape[0]
    certainty = np.zeros(N, dtype=bool)
    if n == 0:
        return np.zeros(N), certainty
    first = np.ascontiguousarray(x)   # as x[free] below: the same sum, bit for bit
    pi = n * first / first.sum()      # the loop's first round; when no unit reaches 1 it is the answer
    if pi.max() < 1.0 - 1e-12:
        return pi, certainty
    pi = np.zeros(N)
    while True:
        rest = n - int(certainty.sum())
        free = ~certainty
        total = x[free].sum()
        pi[free] = rest * x[free] / total if rest > 0 else 0.0
        newly = free & (pi >= 1.0 - 1e-12)
        if not newly.any():
            break
        certainty |= newly
        pi[certainty] = 1.0
    pi[certainty] = 1.0
    return pi, certainty


def _systematic_on(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic selection on the cumulated ``pi`` (all < 1, sum an integer m): a start
    ``u ~ U[0, 1)`` and the points ``u, u+1, ..., u+m-1``; unit k is taken when a point falls in
    ``[c_{k-1}, c_k)``. Every unit is hit at most once since its interval is shorter than 1."""
    m = int(round(float(pi.sum())))
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(pi)
    points = rng.uniform() + np.arange(m)
    idx = np.searchsorted(cum, points, side="right")
    return np.minimum(idx, pi.shape[0] - 1).astype(np.int64)


def srswor(N: int, n: int, rng: np.random.Generator) -> Selection:
    """Simple random sample of ``n`` of ``N`` without replacement (``pi = n / N``)."""
    _check_n(N, n)
    index = np.sort(rng.choice(N, size=n, replace=False)).astype(np.int64)
    pi = np.full(N, n / N if N else 0.0)
    return Selection(index, pi, np.full(N, n == N))


def systematic(N: int, n: int, rng: np.random.Generator) -> Selection:
    """Equal-probability systematic sample in list order with interval ``N / n`` (fractional
    intervals allowed, so ``pi = n / N`` exactly for every unit)."""
    _check_n(N, n)
    pi = np.full(N, n / N if N else 0.0)
    if n == N:
        return Selection(np.arange(N, dtype=np.int64), pi, np.ones(N, dtype=bool))
    return Selection(_systematic_on(pi, rng), pi, np.zeros(N, dtype=bool))


def pps_systematic(size: np.ndarray, n: int, rng: np.random.Generator) -> Selection:
    """PPS systematic in list order, certainty units removed first (see module docstring)."""
    pi, certainty = inclusion_probabilities(size, n)
    if not certainty.any():
        return Selection(np.sort(_systematic_on(pi, rng)), pi, certainty)
    rest = np.flatnonzero(~certainty)
    chosen = rest[_systematic_on(pi[rest], rng)] if rest.size else rest
    index = np.sort(np.concatenate([np.flatnonzero(certainty), chosen])).astype(np.int64)
    return Selection(index, pi, certainty)


def pps_sampford(size: np.ndarray, n: int, rng: np.random.Generator, max_attempts: int = 1_000_000) -> Selection:
    """Sampford's rejective method: the first unit with probability ``pi_k / n``, the other
    ``n - 1`` with replacement with probabilities proportional to ``pi_k / (1 - pi_k)``; the
    sample is kept when all ``n`` are different, otherwise drawn again (Sampford 1967; Tillé
    2006, §7.3). Attempts are drawn in vectorised batches from ``rng``. Certainty units are
    removed first, as for systematic PPS."""
    pi, certainty = inclusion_probabilities(size, n)
    rest = np.flatnonzero(~certainty & (pi > 0))
    m = n - int(certainty.sum())
    chosen = np.zeros(0, dtype=np.int64)
    if m > 0:
        p = pi[rest]
        lam = p / (1.0 - p)
        first_p = p / p.sum()
        rest_p = lam / lam.sum()
        tried = 0
        batch = 64
        while True:
            first = rng.choice(p.shape[0], size=(batch, 1), p=first_p)
            others = rng.choice(p.shape[0], size=(batch, m - 1), p=rest_p)
            cand = np.sort(np.concatenate([first, others], axis=1), axis=1)
            ok = np.all(np.diff(cand, axis=1) > 0, axis=1) if m > 1 else np.ones(batch, dtype=bool)
            if ok.any():
                chosen = rest[cand[int(np.argmax(ok))]]
                break
            tried += batch
            if tried >= max_attempts:
                raise RuntimeError(f"Sampford: no sample without repeats after {tried} attempts; "
                                   "the inclusion probabilities are too close to 1 — use pps_systematic")
            batch = min(batch * 2, 65_536)
    index = np.sort(np.concatenate([np.flatnonzero(certainty), chosen])).astype(np.int64)
    return Selection(index, pi, certainty)


# --------------------------------------------------------------------------- joint probabilities


def _sampford_joint(pi: np.ndarray) -> np.ndarray:
    """Exact ``pi_kl`` of Sampford's design for ``0 < pi < 1`` summing to an integer ``n``.

    The design is ``p(s) = C (n - sum_{i in s} pi_i) prod_{j in s} lambda_j`` with
    ``lambda = pi / (1 - pi)`` (Sampford 1967, eq. 2). Summing over samples holding k and l:

        pi_kl = C lambda_k lambda_l [ (n - pi_k - pi_l) e_{n-2}(-kl) - G_{n-2}(-kl) ],

    ``e_m(-A)`` the elementary symmetric polynomials of the lambdas outside A, and
    ``G_m(-A) = sum_{|s|=m, s outside A} prod lambda_s * sum_{i in s} pi_i``, whose generating
    function is ``E_{-A}(t) * sum_{i not in A} pi_i lambda_i t / (1 + lambda_i t)``; both are
    obtained by deflating the full polynomials (O(N^2 n)). ``C = 1 / (n e_n - G_n)``.
    """
    N = pi.shape[0]
    n = int(round(float(pi.sum())))
    lam = pi / (1.0 - pi)
    # e_0..e_n of all lambdas.
    e = np.zeros(n + 1)
    e[0] = 1.0
    for lk in lam:
        e[1:] = e[1:] + lk * e[:-1]
    # Power sums S_r = sum pi_i lambda_i^r, r = 1..n; H(t) = sum_r (-1)^{r+1} S_r t^r.
    r = np.arange(1, n + 1)
    powers = lam[:, None] ** r[None, :]                       # N x n
    S = (pi[:, None] * powers).sum(axis=0)
    sign = np.where(r % 2 == 1, 1.0, -1.0)

    def conv_coef(E: np.ndarray, H: np.ndarray, m: int) -> np.ndarray:
        # coefficient m of E(t) * H(t), H with zero constant term; E, H shaped (..., n+1) / (..., n)
        out = np.zeros(E.shape[:-1])
        for j in range(1, m + 1):
            out = out + E[..., m - j] * H[..., j - 1]
        return out

    G_n = float(conv_coef(e, sign * S, n))
    C = 1.0 / (n * e[n] - G_n)
    # Deflate by k: e(-k)_m = e_m - lambda_k e(-k)_{m-1}; then by l.
    ek = np.zeros((N, n + 1))
    ek[:, 0] = 1.0
    for m in range(1, n + 1):
        ek[:, m] = e[m] - lam * ek[:, m - 1]
    ekl = np.zeros((N, N, n + 1))
    ekl[:, :, 0] = 1.0
    for m in range(1, n + 1):
        ekl[:, :, m] = ek[:, None, m] - lam[None, :] * ekl[:, :, m - 1]
    Hkl = sign * (S[None, None, :] - pi[:, None, None] * powers[:, None, :] - pi[None, :, None] * powers[None, :, :])
    m = n - 2
    G = conv_coef(ekl, Hkl, m) if m >= 1 else np.zeros((N, N))
    joint = C * np.outer(lam, lam) * ((n - pi[:, None] - pi[None, :]) * ekl[:, :, m] - G)
    np.fill_diagonal(joint, pi)
    return joint


def _systematic_joint(pi: np.ndarray) -> np.ndarray:
    """Exact ``pi_kl`` of systematic selection on the cumulated ``pi`` (list order fixed): unit k
    is taken for the starts ``u`` in its interval ``[c_{k-1}, c_k)`` reduced modulo 1, so
    ``pi_kl`` is the length of the overlap of those sets (Madow 1949). Many are 0."""
    cum = np.concatenate([[0.0], np.cumsum(pi)])
    a, b = cum[:-1], cum[1:]
    # Each interval modulo 1 is at most two pieces in [0, 1).
    lo1 = a - np.floor(a)
    hi1 = np.minimum(lo1 + (b - a), 1.0)
    lo2 = np.zeros_like(a)
    hi2 = np.maximum(lo1 + (b - a) - 1.0, 0.0)
    pieces = [(lo1, hi1), (lo2, hi2)]
    joint = np.zeros((pi.shape[0], pi.shape[0]))
    for la, ha in pieces:
        for lb, hb in pieces:
            joint += np.clip(np.minimum(ha[:, None], hb[None, :]) - np.maximum(la[:, None], lb[None, :]), 0.0, None)
    np.fill_diagonal(joint, pi)
    return joint


def joint_inclusion(method: str, size_or_N, n: int) -> np.ndarray:
    """The N x N matrix of joint inclusion probabilities ``pi_kl`` (diagonal ``pi_k``).

    ``size_or_N``: the size measures for the PPS methods, the list length for the others.
    Certainty units have ``pi_kl = pi_l``. For ``systematic`` and ``pps_systematic`` the list
    order given is the order of selection.
    """
    if method in ("srswor", "systematic"):
        N = int(size_or_N)
        _check_n(N, n)
        if method == "srswor":
            joint = np.full((N, N), n * (n - 1) / (N * (N - 1)) if N > 1 else 0.0)
            np.fill_diagonal(joint, n / N)
            return joint
        return _systematic_joint(np.full(N, n / N))
    if method not in ("pps_systematic", "pps_sampford"):
        raise ValueError(f"unknown selection method {method!r}")
    pi, certainty = inclusion_probabilities(size_or_N, n)
    N = pi.shape[0]
    joint = np.outer(pi, pi)  # placeholder for certainty rows/columns: pi_kl = pi_k pi_l when one is 1
    free = np.flatnonzero(~certainty & (pi > 0))
    if free.size:
        sub = _systematic_joint(pi[free]) if method == "pps_systematic" else (
            _sampford_joint(pi[free]) if int(round(pi[free].sum())) >= 2 else np.diag(pi[free]))
        joint[np.ix_(free, free)] = sub
    zero = pi == 0
    joint[zero, :] = 0.0
    joint[:, zero] = 0.0
    np.fill_diagonal(joint, pi)
    return joint


Selector = Callable[[np.ndarray | None, int, int, np.random.Generator], Selection]

#: Uniform call form used by :func:`sampling.draw.draw`: ``SELECTORS[name](size_or_None, N, n, rng)``.
SELECTORS: dict[str, Selector] = {
    "srswor": lambda size, N, n, rng: srswor(N, n, rng),
    "systematic": lambda size, N, n, rng: systematic(N, n, rng),
    "pps_systematic": lambda size, N, n, rng: pps_systematic(size, n, rng),
    "pps_sampford": lambda size, N, n, rng: pps_sampford(size, n, rng),
}
