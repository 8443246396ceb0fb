"""The census against the household-registration register (户口整顿 support): ``link register``.

* :mod:`~audit_engine.register.link` — the linkage (census ↔ register persons, county-wide);
* :mod:`~audit_engine.register.classify` — the classes of both sides' records (pure);
* :mod:`~audit_engine.register.run` — the run over the store, review items, ledger, and
  :func:`register_summary` (per-township / per-EA class counts of the newest run).

docs/register.md describes the classes, the rules and the measured accuracy.
"""

from audit_engine.register.classify import ACTIONABLE, CLASSES, classify
from audit_engine.register.link import link_register, read_register, register_settings
from audit_engine.register.run import RegisterLinkSummary, register_summary, run_link_register

__all__ = ["ACTIONABLE", "CLASSES", "RegisterLinkSummary", "classify", "link_register", "read_register",
           "register_settings", "register_summary", "run_link_register"]
