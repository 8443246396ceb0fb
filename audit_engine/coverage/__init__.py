"""Coverage measurement from the post-enumeration survey: dual-system estimation (DSE) of the
true population by post-stratum, and the coverage rates (net undercount, gross omission,
erroneous enumeration, duplication) with replicate (JKn) variances. See ``docs/coverage.md``."""

from audit_engine.coverage.dse import (
    AGE_GROUPS,
    PROPORTIONS,
    CensusCounts,
    CoverageResult,
    ESample,
    PSample,
    PSUReplicates,
    coverage_ci,
    dse,
    post_stratum,
)

__all__ = [
    "AGE_GROUPS",
    "CensusCounts",
    "CoverageResult",
    "ESample",
    "PSUReplicates",
    "PROPORTIONS",
    "PSample",
    "coverage_ci",
    "dse",
    "post_stratum",
]
