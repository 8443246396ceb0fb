"""Pre-enumeration listing (摸底) vs. enumeration reconciliation (``census-audit reconcile listing``)."""

from audit_engine.listing.reconcile import SHORTFALL, SURPLUS, Reconciliation, Tolerance, reconcile
from audit_engine.listing.store import NoListing, latest_reconciliation, run_reconcile

__all__ = ["SHORTFALL", "SURPLUS", "NoListing", "Reconciliation", "Tolerance", "latest_reconciliation", "reconcile",
           "run_reconcile"]
