"""The Spark execution backend (``--engine spark``): the same rules, comparators and model on a cluster.

Nothing here re-implements a rule or a comparator. Spark moves the data — reads the lake
(:mod:`~audit_engine.spark.lake`), partitions it by enumeration area or by blocking key, joins,
aggregates — and inside ``mapInPandas`` / ``applyInPandas`` calls the very functions the local
engine calls (:func:`rules.engine.confront`, :class:`audit_engine.linkage.compare.Comparer`,
:func:`audit_engine.linkage.fellegi_sunter.match_weights`). The tests hold the two backends to
identical flags and identical duplicate clusters on the same data (docs/scale.md).

PySpark is an optional dependency (``pip install 'census-audit[spark]'``, Java 17): importing
this package does not import it; :func:`~audit_engine.spark.session.spark_session` does, and
says what is missing.
"""
