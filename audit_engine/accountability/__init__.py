"""Accountability figures: flag, confirmed-error and PES omission rates by enumerator,
supervisor, EA and township, with binomial funnel limits marking outliers for follow-up."""

from audit_engine.accountability.figures import UNITS, Figures, NoData, flag_figures, omission_figures
from audit_engine.accountability.funnel import binomial_limit, classify, funnel_limits

__all__ = ["UNITS", "Figures", "NoData", "binomial_limit", "classify", "flag_figures", "funnel_limits",
           "omission_figures"]
