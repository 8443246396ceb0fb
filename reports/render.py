"""HTML rendering: one Jinja2 environment for every report.

Templates live in ``reports/templates``; each report extends ``base.html.j2``, which inlines
the style sheet (``report.css``): the file a report writes is the whole report, with no link
to fetch. Autoescaping is on; only chart SVG (built by :mod:`reports.charts`) is marked safe.

Figures are written with :func:`fig`, which keeps the exact stored value beside the text
shown (``data-fig`` names it, ``data-value`` holds it), so a test can parse the report and
compare every figure with the store, to the digit.
"""

from __future__ import annotations

import math
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from reports.i18n import Translator


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None, digits: int = 2) -> str:
    """0.012776 -> '1.28%'; None -> '—'."""
    return "—" if _missing(value) else f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 0) -> str:
    """20026.46 -> '20,026'; None -> '—'."""
    return "—" if _missing(value) else f"{value:,.{digits}f}"


FORMATS = {"pct": pct, "num": num}


def fig(value: float | int | None, key: str, kind: str = "pct", digits: int | None = None) -> Markup:
    """A figure as ``<span class="fig" data-fig=KEY data-value=EXACT>TEXT</span>``."""
    shown = FORMATS[kind](value, digits if digits is not None else (2 if kind == "pct" else 0))
    exact = "" if _missing(value) else repr(value if isinstance(value, int) else float(value))
    return Markup('<span class="fig" data-fig="{}" data-value="{}">{}</span>').format(key, exact, shown)


def environment(lang: str) -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["j2", "html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(t=Translator(lang), fig=fig, lang=lang)
    env.filters.update(pct=pct, num=num)
    return env


def render(template: str, context: dict[str, Any], lang: str) -> str:
    """The report's HTML."""
    return environment(lang).get_template(template).render(**context)


__all__ = ["escape", "fig", "num", "pct", "render"]
