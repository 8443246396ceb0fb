"""Report charts: matplotlib figures rendered to inline SVG.

Why matplotlib to SVG: the reports must be self-contained (no network, no script) and print
sharply. matplotlib's SVG backend writes text as paths (``svg.fonttype = 'path'``), so a chart
looks the same on a machine without the font it was drawn with, and the HTML needs no
JavaScript at all.

Fonts: Chinese labels need a CJK font at *render* time. :func:`cjk_font` looks for one of the
usual families (Debian's ``fonts-noto-cjk``, Source Han, WenQuanYi, the Windows and macOS
fonts). When there is none, :func:`chart_lang` falls back to English chart labels and the
report says so: a chart of empty boxes (tofu) is worse than an English axis title.

Every chart goes through :func:`to_svg`, which makes the SVG embeddable more than once per
page: element ids are prefixed with the chart's own name (matplotlib's ids are only unique
within one file), fixed width/height give way to the viewBox so the chart scales with the
page, and the date stamp is dropped so the same figures give the same bytes.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from markupsafe import Markup  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from audit_engine.accountability.funnel import funnel_limits  # noqa: E402

#: CJK families tried in order (Linux first: Noto is Debian's fonts-noto-cjk).
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC",
                "Heiti SC", "Arial Unicode MS")

#: Colours: a palette readable in greyscale print and by colour-blind readers (Okabe-Ito).
BLUE, ORANGE, GREEN, RED, GREY, SKY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#6b6b6b", "#56B4E9"


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first installed CJK family matplotlib can use, or None."""
    for family in CJK_FAMILIES:
        try:
            font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        return family
    return None


def chart_lang(lang: str) -> str:
    """The language chart labels are drawn in: ``lang``, or English when ``lang`` is zh and no
    CJK font is installed (the HTML text itself is the browser's to render)."""
    return "en" if lang == "zh" and cjk_font() is None else lang


def place(name: str | None, code: str) -> str:
    """A place's label in a chart: its (Chinese) name when a CJK font can draw it, else its code."""
    return name if name and (cjk_font() or name.isascii()) else code


def _style(lang: str) -> dict:
    # The CJK font also serves English charts: place names stay Chinese in either language.
    family = [cjk_font(), "DejaVu Sans"] if cjk_font() else ["DejaVu Sans"]
    if lang == "en" and cjk_font():
        family = ["DejaVu Sans", cjk_font()]
    return {"font.family": family, "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
            "axes.spines.right": False, "axes.grid": True, "grid.color": "#e3e3e3", "grid.linewidth": 0.6,
            "axes.axisbelow": True, "svg.fonttype": "path", "axes.unicode_minus": False,
            "svg.hashsalt": "census-audit", "figure.dpi": 100}


_ID = re.compile(r'\bid="([^"]+)"')


def to_svg(fig, name: str, title: str) -> Markup:
    """The figure as an inline ``<svg>`` element: ids prefixed by ``name``, scalable, titled
    for screen readers, no date stamp. Closes the figure."""
    buf = io.StringIO()
    with warnings.catch_warnings():
        # A missing glyph is an error here, not a warning: it would print as an empty box.
        warnings.filterwarnings("error", message=r".*Glyph .* missing from font")
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    ids = set(_ID.findall(svg))
    for old in sorted(ids, key=len, reverse=True):
        new = f"{name}-{old}"
        svg = svg.replace(f'id="{old}"', f'id="{new}"').replace(f"#{old})", f"#{new})").replace(
            f'href="#{old}"', f'href="#{new}"')
    svg = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1', svg, count=1)
    svg = svg.replace("<svg", f'<svg class="chart" role="img" aria-label="{_attr(title)}"', 1)
    return Markup(svg)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _figure(lang: str, width: float, height: float):
    with plt.rc_context(_style(lang)):
        fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


def _pct_axis(axis) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))


def ci_dotplot(name: str, labels: Sequence[str], values: Sequence[float], lows: Sequence[float | None],
               highs: Sequence[float | None], *, title: str, xlabel: str, lang: str,
               reference: float | None = None, reference_label: str = "") -> Markup:
    """Rates with 95 % interval bars, one row per domain (a forest plot); ``reference`` draws
    the overall rate as a dashed line."""
    with plt.rc_context(_style(lang)):
        n = len(labels)
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.26 * max(n, 1)))
        y = np.arange(n)[::-1]
        v = np.asarray(values, dtype=float)
        lo = np.array([np.nan if x is None else x for x in lows], dtype=float)
        hi = np.array([np.nan if x is None else x for x in highs], dtype=float)
        has = ~(np.isnan(lo) | np.isnan(hi))
        ax.errorbar(v[has], y[has], xerr=[v[has] - lo[has], hi[has] - v[has]], fmt="o", color=BLUE,
                    ecolor=SKY, elinewidth=2, capsize=2, markersize=4)
        if (~has).any():
            ax.plot(v[~has], y[~has], "o", color=GREY, markersize=4)
        if reference is not None:
            ax.axvline(reference, color=RED, linestyle="--", linewidth=1, label=reference_label or None)
            if reference_label:
                ax.legend(loc="lower right", frameon=False)
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, n - 0.3)
        _pct_axis(ax.xaxis)
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", visible=False)
        return to_svg(fig, name, title)


def hbar(name: str, labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str, lang: str,
         percent: bool = False, colors: Sequence[str] | None = None) -> Markup:
    """Horizontal bars, largest first as given (rule failures, township rates)."""
    with plt.rc_context(_style(lang)):
        n = len(labels)
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.24 * max(n, 1)))
        y = np.arange(n)[::-1]
        ax.barh(y, values, color=list(colors) if colors else BLUE, height=0.7)
        ax.set_yticks(y, labels)
        if percent:
            _pct_axis(ax.xaxis)
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", visible=False)
        return to_svg(fig, name, title)


def pyramid(name: str, groups: Sequence[str], male: Sequence[float], female: Sequence[float],
            male_ref: Sequence[float] | None, female_ref: Sequence[float] | None, *, title: str,
            labels: dict[str, str], lang: str) -> Markup:
    """An age-sex pyramid of shares (bars: census), with a second source's shares as outline
    steps (PES), so leadership sees at a glance whether the two age structures agree."""
    with plt.rc_context(_style(lang)):
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.2 * len(groups)))
        y = np.arange(len(groups))
        ax.barh(y, -np.asarray(male, float), color=BLUE, height=0.9, label=labels["male"])
        ax.barh(y, np.asarray(female, float), color=ORANGE, height=0.9, label=labels["female"])
        if male_ref is not None and female_ref is not None:
            ax.step(-np.asarray(male_ref, float), y, where="mid", color="black", linewidth=1.1,
                    label=labels["reference"])
            ax.step(np.asarray(female_ref, float), y, where="mid", color="black", linewidth=1.1)
        ax.set_yticks(y, groups)
        lim = max(np.nanmax(np.abs(male)), np.nanmax(np.abs(female)), 0.01) * 1.15
        ax.set_xlim(-lim, lim)
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{abs(x) * 100:.0f}%"))
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_xlabel(labels["share"])
        ax.set_title(title, loc="left")
        ax.legend(loc="upper right", frameon=False, fontsize=8)
        ax.grid(axis="y", visible=False)
        return to_svg(fig, name, title)


def histogram(name: str, edges: Sequence[float], counts: Sequence[int], *, title: str, xlabel: str,
              ylabel: str, lang: str, lines: Sequence[tuple[float, str, str]] = ()) -> Markup:
    """A histogram from stored bin edges and counts (log count axis: matches and non-matches
    differ by orders of magnitude), with vertical lines ``(x, label, colour)`` for thresholds."""
    with plt.rc_context(_style(lang)):
        fig, ax = plt.subplots(figsize=(6.4, 3.0))
        e = np.asarray(edges, float)
        c = np.asarray(counts, float)
        if len(c):
            ax.bar(e[:-1], c, width=np.diff(e), align="edge", color=SKY, edgecolor=BLUE, linewidth=0.4)
            if (c > 0).any():
                ax.set_yscale("log")
        for x, label, colour in lines:
            if x is not None and np.isfinite(x):
                ax.axvline(x, color=colour, linestyle="--", linewidth=1.2, label=label)
        if lines:
            ax.legend(loc="upper center", frameon=False, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        return to_svg(fig, name, title)


def funnel(name: str, units: list[str], sizes: list[float], counts: list[float], labels: list[str],
           p0: float, *, title: str, xlabel: str, ylabel: str, legend: dict[str, str], lang: str) -> Markup:
    """A funnel plot: each unit's rate (``counts / sizes``) against its size, the overall rate
    ``p0`` and the 95 % and 99.8 % limits; units above the limits (``labels``: the funnel labels
    of :func:`audit_engine.accountability.funnel.classify`) are marked and named beside their
    points: the reader of a printed report must find them without a lookup table."""
    n = np.asarray(sizes, float)
    rate = np.divide(np.asarray(counts, float), n, out=np.full(n.shape, np.nan), where=n > 0)
    above = np.array([str(x or "").startswith("above") for x in labels], bool)
    follow = np.array([x == "above 99.8%" for x in labels], bool)
    lo = max(2.0, 0.6 * float(np.nanmin(n[n > 0]))) if (n > 0).any() else 2.0
    hi = 1.08 * float(np.nanmax(n)) if (n > 0).any() else 10.0
    # whole sizes only: the binomial quantiles are NaN for a fractional n
    grid = np.unique(np.linspace(lo, max(hi, lo + 1), 240).round())
    lim = funnel_limits(grid, p0)
    with plt.rc_context(_style(lang)):
        fig, ax = plt.subplots(figsize=(7.2, 4.0))
        ax.fill_between(grid, lim["lower_95"], lim["upper_95"], color=SKY, alpha=0.12, linewidth=0)
        ax.plot(grid, lim["upper_95"], color=ORANGE, linewidth=1.1, label=legend["l95"])
        ax.plot(grid, lim["lower_95"], color=ORANGE, linewidth=1.1)
        ax.plot(grid, lim["upper_99_8"], color=RED, linewidth=1.1, linestyle="--", label=legend["l998"])
        ax.plot(grid, lim["lower_99_8"], color=RED, linewidth=1.1, linestyle="--")
        ax.axhline(p0, color="black", linewidth=0.8, label=legend["p0"])
        ax.scatter(n[~above], rate[~above], s=14, color=BLUE, alpha=0.75, label=legend["unit"], zorder=3)
        if (above & ~follow).any():
            ax.scatter(n[above & ~follow], rate[above & ~follow], s=22, color=ORANGE, marker="D",
                       label=legend["watch"], zorder=4)
        if follow.any():
            ax.scatter(n[follow], rate[follow], s=26, color=RED, marker="D", label=legend["follow"], zorder=4)
        for j, i in enumerate(np.flatnonzero(above)):   # alternate above/below: neighbours stay legible
            ax.annotate(units[i], (n[i], rate[i]), xytext=(5, 3 if j % 2 == 0 else -10), textcoords="offset points",
                        fontsize=7.5, color=RED if follow[i] else "#9a6700")
        top = max(float(np.nanmax(rate)) if np.isfinite(rate).any() else p0, p0) * 1.18
        top = max(top, float(lim["upper_99_8"][len(grid) // 8]) * 1.05)
        ax.set_ylim(0, top)
        ax.set_xlim(0, grid[-1])
        _pct_axis(ax.yaxis)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.legend(loc="upper right", frameon=False, fontsize=7.5, ncol=2)
        return to_svg(fig, name, title)
