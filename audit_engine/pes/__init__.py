"""The post-enumeration survey's steps over the store: link the PES to the census, find the
census's duplicates, classify the sample's records, estimate coverage.

The engines (:mod:`audit_engine.linkage`, :mod:`audit_engine.coverage`, :mod:`sampling`) work on
frames and arrays and never touch the store; this package reads their inputs from the store,
runs them, and writes what they found back (pairs, clusters, sample statuses, review items,
estimates) with a run and a ledger entry — the only place where the two meet. A national
census is not in the store but in the lake (:mod:`audit_engine.spark.lake`); ``link pes`` and
``estimate`` then read the census records they need from there (``lake=``), everything else
from the store, with the same results.
"""
