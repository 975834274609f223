"""Debian's Chromium for the browser tests, driven by Playwright: where it is, how it starts, screen sizes.

Playwright's own browser downloads are never used: every test runs /usr/bin/chromium.  A test
module that uses a real browser imports from here and sets ``pytestmark = needs_chromium``;
importing this module skips that test module when the ``playwright`` package is missing.
Fixtures are imported by name (``from tests.browser_support import browser``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

playwright_api = pytest.importorskip("playwright.async_api")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")


@pytest.fixture
async def browser():
    """Headless Chromium, closed (with every page opened in it) after the test."""
    async with playwright_api.async_playwright() as driver:
        chromium = await driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def shot(page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in ``tmp_path`` (copied to ``$FEDNODE_SCREENSHOTS`` when set, to look at it)."""
    path = tmp_path / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if os.environ.get("FEDNODE_SCREENSHOTS"):
        target = Path(os.environ["FEDNODE_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)
    return path
