"""Census code lists, loaded once from ``census_codes.yaml``.

Every part of the engine (loaders, rules, the synthetic generator, reports) asks this module
for codes and labels, so a code list changes in exactly one file.
"""

from audit_engine.codes.lookup import CodeList, code_list, code_lists, label, standard_time

__all__ = ["CodeList", "code_list", "code_lists", "label", "standard_time"]
