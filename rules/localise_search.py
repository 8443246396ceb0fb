"""The Fellegi–Holt search itself: which field sets to try, cheapest first.

A failing record is a *problem*: its editable variables with their weights, the variable sets
of the edits it failed, and the variable sets of every edit of its scope (the links). A field
set S can only be the answer when

* it *covers* every failed edit (an edit none of whose variables changes fails as before), and
* each connected part of S (variables joined by a shared edit) touches a failed edit: a part
  that does not could be put back to its recorded values — the edits it reads did not fail on
  them — giving a cheaper feasible set, so S was not minimal.

The second condition also bounds the pool: a set of at most k variables only holds variables
within k-1 edit-hops of a failed edit, so farther fields are never generated. Feasibility of the
surviving sets is decided elsewhere (rules/localise.py), in weight order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEIGHT_DIGITS = 6
COVER_MAX_FIELDS = 4


@dataclass
class Problem:
    scope: str                          # "person" / "household"
    key: str                            # record key
    row: int                            # position in the scope's frame
    weights: dict[str, float]           # variable -> reliability weight
    failed: list[frozenset[str]]        # variables of each failed edit
    links: list[frozenset[str]]         # variables of every edit of the scope
    rec: dict = field(default_factory=dict)
    subsets: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    domains: dict[str, list] = field(default_factory=dict)
    truncated: bool = False             # a candidate product was cut at the row cap
    seconds: float = 0.0


def pool(problem: Problem, max_fields: int) -> set[str]:
    """Variables within ``max_fields - 1`` edit-hops of a failed edit."""
    frontier = set().union(*problem.failed) & set(problem.weights)
    out = set(frontier)
    for _ in range(max_fields - 1):
        nxt = set()
        for link in problem.links:
            if link & frontier:
                nxt |= link
        frontier = (nxt & set(problem.weights)) - out
        out |= frontier
        if not frontier:
            break
    return out


def candidate_sets(problem: Problem, max_fields: int) -> list[tuple[float, tuple[str, ...]]]:
    """Every admissible variable set of at most ``max_fields``, cheapest first (ties: fewer
    variables, then by name) — the order the search tries them in.

    Sets are grown one variable at a time, each new variable either in a failed edit or sharing
    an edit with the set so far: exactly the sets whose every part touches a failed edit. Sets
    are bit masks over the pool, so the growth costs microseconds per set."""
    if not problem.failed or any(not f for f in problem.failed):
        return []                       # an edit with no editable variable cannot be repaired here
    names = sorted(pool(problem, max_fields))
    bit = {v: 1 << i for i, v in enumerate(names)}

    def mask(vs: frozenset[str]) -> int:
        return sum(bit[v] for v in vs if v in bit)

    failed = [mask(f) for f in problem.failed]
    failed_all = 0
    for m in failed:
        failed_all |= m
    adj = [0] * len(names)
    for link in problem.links:
        m = mask(link)
        for i in range(len(names)):
            if m >> i & 1:
                adj[i] |= m
    level = {1 << i for i in range(len(names)) if failed_all >> i & 1}
    found: set[int] = set()
    for size in range(1, max_fields + 1):
        found |= level
        if size == max_fields:
            break
        nxt: set[int] = set()
        for s in level:
            reach = failed_all
            for i in range(len(names)):
                if s >> i & 1:
                    reach |= adj[i]
            grow = reach & ~s
            while grow:
                low = grow & -grow
                nxt.add(s | low)
                grow ^= low
        level = nxt
    weights = [problem.weights[v] for v in names]
    out = []
    for s in found:
        if all(s & m for m in failed):
            combo = tuple(names[i] for i in range(len(names)) if s >> i & 1)
            w = sum(weights[i] for i in range(len(names)) if s >> i & 1)
            out.append((round(w, WEIGHT_DIGITS), combo))
    out.sort(key=lambda t: (t[0], len(t[1]), t[1]))
    return out


def cheapest_cover(problem: Problem) -> tuple[float, tuple[str, ...]]:
    """The cheapest set that merely covers the failed edits: a lower bound on the answer, reported
    (as not exact) when no feasible set was found within the bounds."""
    sets = candidate_sets(problem, max_fields=max(1, min(len(problem.failed), COVER_MAX_FIELDS)))
    return sets[0] if sets else (0.0, ())
