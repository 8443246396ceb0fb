"""Clerical review: the items QC officers decide, and their decisions.

Linkage and classification create items (:mod:`.items`); a decision is written once, by one
officer, with a reason, and recorded in the ledger; the estimate and the m/u training read
the decisions back.
"""
