"""Debian's Chromium under Playwright, for the browser tests (reports and the web application).

Without Chromium or Playwright the tests skip with what to install, unless
``CENSUS_AUDIT_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then they fail, so CI never passes by
skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

REQUIRE_ENV = "CENSUS_AUDIT_REQUIRE_BROWSER"
INSTALL_HINT = "Debian's chromium is not installed: apt-get install chromium fonts-noto-cjk"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def unavailable(reason: str) -> None:
    """Skip, or fail under CENSUS_AUDIT_REQUIRE_BROWSER=1."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 is set, so the browser tests must run")
    pytest.skip(reason)


def chromium_executable() -> str:
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    found = shutil.which("chromium")
    if not found:
        unavailable(INSTALL_HINT)
    return found  # type: ignore[return-value]


def chromium() -> Iterator[Any]:
    """A headless Chromium (the distribution's, never Playwright's download): ``yield from``
    it in a fixture; closed when the fixture ends."""
    executable = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        except Exception as exc:  # noqa: BLE001 - any reason the browser cannot start
            unavailable(f"{executable} does not start under playwright: {exc}")
        try:
            yield b
        finally:
            b.close()
