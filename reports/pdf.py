"""Print a report to PDF with headless Chromium.

Why Chromium and not a Python PDF library: the HTML already has a print style sheet, and the
browser that renders it on screen is the one that lays it out for print, so screen and paper
agree (CJK line breaking, SVG, tables split across pages with their headers). WeasyPrint would
need its own Pango stack and lays out differently. Chromium is optional: without it, ``--pdf``
is refused with the package to install, and the HTML report is issued as usual.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: flags for a root user on a machine with no display and no network (the report loads nothing)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-pdf-header-footer", "--disable-extensions")


class PdfUnavailable(RuntimeError):
    """No Chromium to print with."""


def browser() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def print_pdf(html_path: Path, pdf_path: Path, timeout: float = 120.0) -> Path:
    """``html_path`` printed to ``pdf_path`` (A4, from the report's @page rule)."""
    exe = browser()
    if exe is None:
        raise PdfUnavailable("--pdf needs Chromium (Debian: apt-get install chromium fonts-noto-cjk)")
    with tempfile.TemporaryDirectory(prefix="census-audit-pdf-") as profile:
        tmp = pdf_path.with_suffix(".pdf.part")
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={tmp}",
                               html_path.resolve().as_uri()], capture_output=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            raise PdfUnavailable(f"Chromium could not print {html_path.name} (exit {proc.returncode})")
        tmp.replace(pdf_path)
    return pdf_path
