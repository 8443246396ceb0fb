"""Every report opens in a real browser: headless Chromium (Debian's ``chromium`` package, with
``fonts-noto-cjk``; .ci/run installs both) at 1280 px, with no console error or warning, no
page error, no request beyond the report file itself, no unrendered glyph (tofu), no
horizontal overflow, nothing wider than the page's column on screen nor, under the print
style sheet, than an A4 page (page.pdf would shrink every page to fit), every chart laid out,
and a print to A4 PDF. The reports, screenshots and PDFs stay in
``<pytest basetemp>/report-screenshots`` (the paths are printed) as CI artifacts.

Unrendered glyphs are found from what Chromium actually did, not guessed: for every rendered
text node, DevTools' ``CSS.getPlatformFontsForNode`` names the platform fonts Chromium drew it
with; each font is found on disk through fontconfig and every visible character of the text
must be in the character map of at least one of them. A character in none was drawn as a
missing-glyph box.

Without Chromium or playwright the tests skip, unless ``CENSUS_AUDIT_REQUIRE_BROWSER=1`` (set
by .ci/run): then they fail. Playwright never downloads a browser here: it launches
``/usr/bin/chromium``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser import chromium

from audit_engine.store import make_engine
from reports.issue import ALL_KINDS, issue

WIDTH = 1280
HEIGHT = 900
LANGS = ("zh", "en")
#: characters that need no glyph of their own: controls, format characters (soft hyphen,
#: zero-width joiners, ...) and separators (spaces)
_NO_GLYPH_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp"}
#: text under these elements is never drawn as text
_NOT_TEXT = {"head", "script", "style", "template", "noscript", "title"}




# -- fonts: what Chromium drew with, and which characters those fonts have ------------------


class FontCoverage:
    """Platform fonts (as Chromium names them) -> the set of code points their cmap maps."""

    def __init__(self) -> None:
        fc_list = shutil.which("fc-list")
        if not fc_list:
            pytest.fail("fc-list (fontconfig) not found: cannot map the fonts Chromium used to files")
        out = subprocess.run([fc_list, "--format", r"%{postscriptname}\t%{family}\t%{style}\t%{file}\t%{index}\n"],
                             capture_output=True, text=True, check=True).stdout
        self.by_ps: dict[str, tuple[str, int]] = {}
        self.by_family: dict[str, tuple[str, int]] = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) != 5 or not parts[3]:
                continue
            ps, families, style, path, index = parts
            face = (path, int(index or 0))
            if ps:
                self.by_ps.setdefault(ps, face)
            for fam in filter(None, (f.strip() for f in families.split(","))):
                # prefer the regular face of a family; any face will do otherwise
                if fam not in self.by_family or "Regular" in style.split(","):
                    self.by_family[fam] = face
        self._cmaps: dict[tuple[str, int], frozenset[int]] = {}

    def face(self, font: dict[str, Any]) -> tuple[str, int] | None:
        return self.by_ps.get(font.get("postScriptName") or "") or self.by_family.get(font.get("familyName") or "")

    def cmap(self, face: tuple[str, int]) -> frozenset[int]:
        if face not in self._cmaps:
            from fontTools.ttLib import TTFont

            path, index = face
            with TTFont(path, fontNumber=index, lazy=True) as tt:
                self._cmaps[face] = frozenset(tt.getBestCmap() or {})
        return self._cmaps[face]


def needs_glyph(ch: str) -> bool:
    cp = ord(ch)
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # variation selectors
        return False
    return not ch.isspace() and unicodedata.category(ch) not in _NO_GLYPH_CATEGORIES


def _describe(ancestors: list[dict[str, Any]]) -> str:
    """'section#strata > table > tbody > tr > td.n' for the element holding a text node."""
    parts = []
    for node in ancestors[-5:]:
        attrs = dict(zip(node.get("attributes", [])[::2], node.get("attributes", [])[1::2], strict=True))
        s = node.get("localName") or node.get("nodeName", "?").lower()
        if attrs.get("id"):
            s += "#" + attrs["id"]
        if attrs.get("class"):
            s += "." + ".".join(attrs["class"].split())
        if attrs.get("data-fig"):
            s += f'[data-fig="{attrs["data-fig"]}"]'
        parts.append(s)
    return " > ".join(parts)


def _text_nodes(node: dict[str, Any], ancestors: list[dict[str, Any]],
                shadow: bool = False) -> Iterator[tuple[dict, list[dict], bool]]:
    """(text node, its elements from the root, whether it is in a shadow tree or frame) for
    every non-blank text node outside head, script, style and title, in document order."""
    if node.get("nodeType") == 3:
        if (node.get("nodeValue") or "").strip():
            yield node, ancestors, shadow
        return
    if node.get("nodeType") == 1:
        if (node.get("localName") or "") in _NOT_TEXT:
            return
        ancestors = [*ancestors, node]
    for child in node.get("shadowRoots", []):
        yield from _text_nodes(child, ancestors, True)
    for child in node.get("children", []):
        yield from _text_nodes(child, ancestors, shadow)
    if "contentDocument" in node:
        yield from _text_nodes(node["contentDocument"], ancestors, True)


@dataclass
class GlyphCheck:
    text_nodes: int = 0                      # rendered text nodes whose fonts were asked for
    repeats: int = 0                         # nodes all of whose (style, character) pairs were checked before
    fonts: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


#: each non-blank text node outside head/script/style/title, in document order, with what
#: Chromium picks its fonts from: the font properties of its element and the language
STYLES_JS = """(skip) => {
  const out = [];
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.nodeValue.trim()) continue;
    let e = n.parentElement, hidden = false;
    for (let a = e; a; a = a.parentElement) if (skip.includes(a.localName)) { hidden = true; break; }
    if (hidden) continue;
    const cs = getComputedStyle(e), lang = e.closest('[lang]');
    out.push([n.nodeValue, [cs.fontFamily, cs.fontWeight, cs.fontStyle, cs.fontStretch, cs.fontSize,
                            lang ? lang.getAttribute('lang') : ''].join('|')]);
  }
  return out;
}"""


def unrendered_glyphs(page, coverage: FontCoverage) -> GlyphCheck:
    """Every visible character of every rendered text node of ``page`` that none of the fonts
    Chromium drew that node with can draw.

    Chromium picks a character's font from the element's font properties, its language and the
    character alone, so a node whose every character was already found drawable in the same
    style needs no second DevTools round trip (tables repeat the same digits hundreds of times).
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        nodes = list(_text_nodes(root, []))
        # the document's own text nodes share checks by style; those in shadow trees (the
        # built-in summary of a <details>, say) and frames share nothing
        keys = [f"node {i}" for i in range(len(nodes))]
        own = [i for i, (_, _, shadow) in enumerate(nodes) if not shadow]
        light = page.evaluate(STYLES_JS, sorted(_NOT_TEXT))       # [[text, style], ...]
        if [text for text, _ in light] == [nodes[i][0]["nodeValue"] for i in own]:
            for i, (_, style) in zip(own, light, strict=True):
                keys[i] = style
        drawable: set[tuple[str, str]] = set()
        result = GlyphCheck()
        for (node, ancestors, _), style in zip(nodes, keys, strict=True):
            text = node["nodeValue"]
            pairs = {(style, ch) for ch in text if needs_glyph(ch)}
            if pairs and pairs <= drawable:
                result.repeats += 1
                continue
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
            if not fonts:                    # not laid out (display: none): nothing drawn
                continue
            result.text_nodes += 1
            cmaps = []
            for font in fonts:
                name = font.get("postScriptName") or font.get("familyName")
                result.fonts.add(name)
                face = coverage.face(font)
                if face is None:
                    result.problems.append(f"font {name!r} used for {_describe(ancestors)} not found by fc-list")
                    continue
                cmaps.append(coverage.cmap(face))
            for s, ch in sorted(pairs):
                if any(ord(ch) in c for c in cmaps):
                    drawable.add((s, ch))
                else:
                    result.problems.append(
                        f"unrendered glyph U+{ord(ch):04X} {unicodedata.name(ch, '<unnamed>')} ({ch!r}) in "
                        f"{_describe(ancestors)}: {text.strip()[:60]!r}, drawn with "
                        f"{', '.join(str(f.get('postScriptName') or f.get('familyName')) for f in fonts)}")
        return result
    finally:
        cdp.detach()


# -- a page visit that records everything the page did ---------------------------------------


@dataclass
class Visit:
    url: str
    page: Any = None
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return ([f"console {m}" for m in self.console] + [f"page error: {e}" for e in self.page_errors]
                + [f"request: {r}" for r in self.requests])


@contextmanager
def visit(browser, url: str) -> Iterator[Visit]:
    """Open ``url`` in a fresh context at 1280 px; record console errors and warnings, page
    errors and every request but the page itself (and any failed request, the page's too)."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1,
                                  service_workers="block")
    v = Visit(url)
    page = context.new_page()
    page.on("console", lambda m: v.console.append(f"{m.type}: {m.text} ({m.location.get('url', '')})")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: v.page_errors.append(str(e)))
    page.on("request", lambda r: v.requests.append(f"{r.method} {r.url}") if r.url != url else None)
    page.on("requestfailed", lambda r: v.requests.append(f"FAILED {r.url}: {r.failure}"))
    try:
        page.goto(url, wait_until="load")
        page.evaluate("document.fonts.ready.then(() => true)")
        v.page = page
        yield v
    finally:
        context.close()


LAYOUT_JS = """() => {
  const d = document.documentElement;
  const main = document.querySelector('main') || document.body;
  const edge = main.getBoundingClientRect().right + 0.5;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  // the outermost elements that stick out of the page's column (a cut-off table in print)
  const out = [...main.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > edge
      && !(e.parentElement !== main && e.parentElement.getBoundingClientRect().right > edge))
    .map(e => `${name(e)} ends at ${Math.round(e.getBoundingClientRect().right)} px`);
  const charts = [...document.querySelectorAll('svg.chart')].map((svg, i) => {
    const r = svg.getBoundingClientRect();
    return {i, w: r.width, h: r.height, label: svg.getAttribute('aria-label') || ''};
  });
  return {scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, edge: Math.round(edge), out, charts};
}"""
#: the printable width of an A4 page with report.css's 14 mm side margins, in CSS px
A4_CONTENT_PX = round((210 - 2 * 14) / 25.4 * 96)


def layout_problems(page, where: str = "screen") -> tuple[list[str], int]:
    """Horizontal overflow of the document, elements sticking out of the page's column, and
    charts with an empty box."""
    info = page.evaluate(LAYOUT_JS)
    problems = []
    if info["scrollWidth"] > info["clientWidth"]:
        problems.append(f"{where}: horizontal overflow: document is {info['scrollWidth']} px wide in a "
                        f"{info['clientWidth']} px window")
    problems += [f"{where}: {o}, beyond the column's edge at {info['edge']} px" for o in info["out"][:5]]
    for c in info["charts"]:
        if not (c["w"] > 0 and c["h"] > 0):
            problems.append(f"{where}: svg.chart #{c['i']} ({c['label'][:40]!r}) has an empty box {c['w']}x{c['h']}")
    return problems, len(info["charts"])


def print_layout_problems(page) -> list[str]:
    """The same checks under the print style sheet at the width of an A4 page (what page.pdf
    lays out); anything wider is cut off on paper."""
    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_CONTENT_PX, "height": HEIGHT})
    try:
        problems = layout_problems(page, f"print (A4, {A4_CONTENT_PX} px)")[0]
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > A4_CONTENT_PX:             # what page.pdf then does (it does not cut it off)
            problems.insert(0, f"print: too wide for A4, so Chromium shrinks every page of the PDF to "
                               f"{A4_CONTENT_PX / wide:.0%}")
        return problems
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": WIDTH, "height": HEIGHT})


def screenshot_problems(png: Path) -> list[str]:
    from PIL import Image, ImageChops

    problems = []
    if png.stat().st_size < 10_000:
        problems.append(f"screenshot is only {png.stat().st_size} bytes")
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        if rgb.width != WIDTH or rgb.height < 400:
            problems.append(f"screenshot is {rgb.width}x{rgb.height}")
        colours = rgb.getcolors(maxcolors=1 << 16)      # None: more than 65,536 colours
        if colours is not None and len(colours) < 16:
            problems.append(f"screenshot has only {len(colours)} colours: blank?")
        box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
        if box is None or (box[2] - box[0]) < WIDTH // 3 or (box[3] - box[1]) < 300:
            problems.append(f"screenshot is nearly blank (drawn area {box})")
    return problems


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def fonts() -> FontCoverage:
    return FontCoverage()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """All screenshots, PDFs and the reports they show, of the whole run, in one folder."""
    folder = tmp_path_factory.getbasetemp() / "report-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def report_engine(pipeline_store):
    _, url = pipeline_store
    eng = make_engine(url)
    yield eng
    eng.dispose()


# -- the reports ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", list(ALL_KINDS))
def test_report_renders_in_chromium(browser, fonts, artifacts, report_engine, kind, lang):
    issued = issue(report_engine, kind, artifacts, lang=lang, operator="test.leader")
    url = issued.path.resolve().as_uri()
    png = artifacts / f"{kind}.{lang}.png"
    pdf = artifacts / f"{kind}.{lang}.pdf"
    start = time.perf_counter()
    with visit(browser, url) as v:
        page = v.page
        page.screenshot(path=str(png), full_page=True)
        glyphs = unrendered_glyphs(page, fonts)
        layout, n_charts = layout_problems(page)
        page.pdf(path=str(pdf), format="A4", print_background=True)
        layout += print_layout_problems(page)
        problems = v.problems()
    print(f"\n{kind}.{lang}: screenshot {png} | PDF {pdf} | glyphs of {glyphs.text_nodes} text nodes "
          f"(+{glyphs.repeats} repeats) in {sorted(glyphs.fonts)} | {n_charts} charts | {time.perf_counter() - start:.2f} s")
    problems += glyphs.problems + layout + screenshot_problems(png)
    pages = pdf_pages(pdf.read_bytes())
    print(f"{kind}.{lang}: {pages} A4 pages")
    if not pdf.read_bytes().startswith(b"%PDF-") or pages < 1:
        problems.append(f"printing to PDF gave {pages} pages")
    if glyphs.text_nodes < 20:
        problems.append(f"only {glyphs.text_nodes} rendered text nodes were checked for glyphs")
    assert not problems, f"{kind}.{lang} in Chromium (screenshot {png}):\n  " + "\n  ".join(problems)


# -- the checks can fail -------------------------------------------------------------------


def _page(tmp_path: Path, name: str, body: str, head: str = "") -> str:
    path = tmp_path / name
    path.write_text(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{head}</head>'
                    f"<body>{body}</body></html>", "utf-8")
    return path.resolve().as_uri()


def test_glyph_check_finds_tofu(browser, fonts, tmp_path):
    ok = _page(tmp_path, "ok.html", "<p>人口普查 accuracy — 1,234 (95% CI 0.12%–0.34%)</p>"
                                     "<p><b>粗体</b> <code>ab12</code></p><p hidden>\ue000</p><p>4,321</p>")
    with visit(browser, ok) as v:
        clean = unrendered_glyphs(v.page, fonts)
    # the hidden node is not drawn; '4,321' repeats characters already found drawable in that style
    assert (clean.text_nodes, clean.repeats, clean.problems) == (3, 1, []), clean
    tofu = _page(tmp_path, "tofu.html", '<p>普查 fine 12</p><p class="bad">x \ue000 y</p>'
                                        '<table><tr><td id="cell">\u0378 \U0010fffd</td></tr></table>'
                                        '<p id="again">21\ue001</p>')
    with visit(browser, tofu) as v:
        found = unrendered_glyphs(v.page, fonts)
    text = "\n".join(found.problems)
    assert found.text_nodes == 4 and len(found.problems) == 4, text
    assert "U+E000" in text and "p.bad" in text and "U+E001" in text and "p#again" in text
    assert "U+0378" in text and "U+10FFFD" in text and "td#cell" in text
    assert "普查" not in text


def test_visit_catches_console_and_page_errors_and_requests(browser, tmp_path):
    script = ("<script>console.error('boom: error'); console.warn('careful: warning');"
              "console.log('just a log'); setTimeout(() => { throw new Error('uncaught kaboom'); }, 0);</script>")
    url = _page(tmp_path, "errors.html", "<p>errors</p>" + script)
    with visit(browser, url) as v:
        v.page.wait_for_timeout(100)
        problems = v.problems()
    text = "\n".join(problems)
    assert "error: boom" in text and "warning: careful" in text and "uncaught kaboom" in text, text
    assert "just a log" not in text
    # a file that fetches something, even only another local file, is not self-contained
    (tmp_path / "pic.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', "utf-8")
    url = _page(tmp_path, "fetches.html", '<p>fetches</p><img src="pic.svg"><img src="http://127.0.0.1:9/x.png">')
    with visit(browser, url) as v:
        problems = v.problems()
    text = "\n".join(problems)
    assert "pic.svg" in text and "127.0.0.1:9/x.png" in text, text
    # and a page whose Content-Security-Policy blocks a load is a console error
    csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    url = _page(tmp_path, "csp.html", '<p>csp</p><img src="pic.svg">', head=csp)
    with visit(browser, url) as v:
        problems = v.problems()
    assert any(p.startswith("console error") and "Content Security Policy" in p for p in problems), problems


def test_layout_and_screenshot_checks_fail(browser, tmp_path):
    url = _page(tmp_path, "wide.html", '<div style="width:2000px">wide</div>'
                                       '<svg class="chart" width="0" height="0"></svg>')
    with visit(browser, url) as v:
        problems, n = layout_problems(v.page)
        png = tmp_path / "blank.png"
        v.page.screenshot(path=str(png), full_page=True)
    text = "\n".join(problems)
    assert n == 1 and "horizontal overflow" in text and "div ends at 2008 px" in text and "empty box" in text, text
    assert any("blank" in p or "bytes" in p for p in screenshot_problems(png))
    # a table that fits the screen but not an A4 page is cut off on paper
    url = _page(tmp_path, "print.html", '<main style="max-width:980px; margin:auto"><table class="t">'
                                        '<tr><td><div style="width:800px">0.12% – 3.45%</div></td></tr></table></main>')
    with visit(browser, url) as v:
        assert layout_problems(v.page)[0] == []
        problems = print_layout_problems(v.page)
        assert layout_problems(v.page)[0] == []                     # back to the screen
    assert any(p.startswith("print (A4") and "table.t ends at" in p for p in problems), problems
    assert pdf_pages(b"%PDF-1.4 << /Type /Pages /Count 0 >>") == 0
    assert pdf_pages(b"<< /Type /Page /Parent 1 0 R >> << /Type/Page >>") == 2
