"""Rendering a report page in the system's headless Chromium (Playwright drives it).

Playwright cannot download its own browsers on our machines, so it drives the Debian package's
``/usr/bin/chromium`` (``make setup-browser`` installs it; ``.ci/run`` does in CI). Without that
browser a test calling :func:`require_browser` is skipped with the reason, except in CI
(``CI=true``), where it fails: a CI run must render the page.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = Path(os.environ.get("RR_CHROMIUM", "/usr/bin/chromium"))

# per chart container: the SVG shapes the browser laid out with a non-zero size
_COUNT_MARKS = """
(selector) => {
  const out = {};
  for (const chart of document.querySelectorAll(selector)) {
    let marks = 0;
    for (const el of chart.querySelectorAll("svg path, svg rect, svg use")) {
      const box = el.getBoundingClientRect();
      if (box.width > 0 && box.height > 0) marks += 1;
    }
    out[chart.id] = marks;
  }
  return out;
}
"""


def require_browser() -> Path:
    """The Chromium binary; skips (fails in CI) when it or Playwright is missing."""
    problem = None
    if not CHROMIUM.exists() and shutil.which(CHROMIUM.name) is None:
        problem = f"no Chromium at {CHROMIUM} (install it: make setup-browser)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[dev]')"
    if problem is None:
        return CHROMIUM if CHROMIUM.exists() else Path(shutil.which(CHROMIUM.name) or CHROMIUM)
    if IN_CI:
        pytest.fail(f"{problem} (CI=true: the browser test must run in CI)", pytrace=False)
    pytest.skip(problem)


@dataclass
class Rendered:
    """What the browser saw: console errors, uncaught page errors, marks per chart, the text."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    marks: dict[str, int] = field(default_factory=dict)
    text: str = ""
    screenshot: Path | None = None
    pdf_bytes: int = 0


def render(
    page_path: Path,
    *,
    chart_selector: str = ".chart",
    screenshot: Path | None = None,
    width: int = 1366,
    height: int = 768,
    pdf: bool = True,
) -> Rendered:
    """Open ``page_path`` through file:// offline, collect errors, count chart marks, optionally
    take a full-page screenshot, and print it to PDF (print media) when ``pdf``."""
    from playwright.sync_api import sync_playwright

    browser_path = require_browser()
    result = Rendered()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(browser_path), args=["--no-sandbox"], headless=True)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
            page = context.new_page()
            page.on("console", lambda m: result.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: result.page_errors.append(str(e)))
            page.on("request", lambda r: result.requests.append(r.url))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            result.marks = page.evaluate(_COUNT_MARKS, chart_selector)
            result.text = page.inner_text("body")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
                result.screenshot = screenshot
            if pdf:
                page.emulate_media(media="print")
                result.pdf_bytes = len(page.pdf(format="A4", print_background=True))
            context.close()
        finally:
            browser.close()
    return result
