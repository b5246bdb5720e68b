"""Headless Chromium for the report tests: Debian's chromium driven by Playwright, with the network blocked.

The browser is never downloaded: `make test` installs Debian's chromium when it is missing (as root), and the
tests look for it at BROWSER_PATH, /usr/bin/chromium or on PATH; without one they skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# offline: no background or component traffic, and every host name resolves to nothing
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
RENDERED = """() => [...document.querySelectorAll('.figure')].every(
    d => d.querySelector('.js-plotly-plot .main-svg') !== null)"""


def chromium() -> str:
    """Path of the Chromium to drive, or skip the test with the reason."""
    candidates = [os.environ.get("BROWSER_PATH"), "/usr/bin/chromium", shutil.which("chromium")]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    pytest.skip("no Chromium found (BROWSER_PATH, /usr/bin/chromium, PATH): `make test` installs Debian's chromium")
    raise AssertionError("unreachable")


@dataclass
class Loaded:
    page: Any
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@contextmanager
def open_report(path: Path, width: int = 1300) -> Iterator[Loaded]:
    """Load a report from file:// in headless Chromium with every non-file request aborted; yields the page and
    what happened (console errors, dialogs, blocked requests) once every figure drew its SVG."""
    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=FLAGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": width, "height": 900})
            loaded = Loaded(page=None)

            def route(request_route: Any) -> None:
                if request_route.request.url.startswith("file:"):
                    request_route.continue_()
                else:
                    loaded.blocked.append(request_route.request.url)
                    request_route.abort()

            context.route("**/*", route)
            page = context.new_page()
            loaded.page = page
            page.on("console", lambda m: loaded.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda err: loaded.console_errors.append(str(err)))

            def on_dialog(dialog: Any) -> None:
                loaded.dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function(RENDERED, timeout=60_000)
            yield loaded
        finally:
            browser.close()


PDF_PAGES = """() => { const viewer = document.querySelector('pdf-viewer');
    const dims = viewer && viewer.documentDimensions;
    return dims && dims.pageDimensions && dims.pageDimensions.length; }"""


def render_pdf(path: Path, screenshot_name: str, width: int = 1123, height: int = 794) -> int:
    """Open a PDF in Chromium's own PDF viewer (file://, network blocked), screenshot its first page fitted to the
    window into test-artifacts/, and return how many pages the viewer counted."""
    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{path.resolve().as_uri()}#toolbar=0&view=Fit", wait_until="load")
            viewer = None
            for _ in range(100):  # the viewer is an extension frame inside the page
                viewer = next((f for f in page.frames if f.url.startswith("chrome-extension://")), None)
                if viewer is not None:
                    break
                page.wait_for_timeout(100)
            assert viewer is not None, "Chromium opened no PDF viewer"
            pages = viewer.wait_for_function(PDF_PAGES, timeout=60_000).json_value()
            page.wait_for_timeout(1500)  # the viewer paints the page after it has laid the document out
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / screenshot_name))
            return int(pages)
        finally:
            browser.close()


def figure_traces(page: Any) -> dict[str, tuple[int, int]]:
    """Per figure container: (traces the report says it holds, traces drawn in its SVG: one `g.trace` per
    scatter or bar trace, one `.hm` image per heatmap)."""
    found = page.evaluate(
        """() => [...document.querySelectorAll('.figure')].map(d => [
            d.dataset.figure, Number(d.dataset.traces),
            d.querySelectorAll('.main-svg g.trace').length + d.querySelectorAll('.main-svg .hm').length])"""
    )
    return {name: (expected, drawn) for name, expected, drawn in found}


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
