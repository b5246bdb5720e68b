"""Files made from the rendered report in a local Chromium: a PNG per figure (kaleido) and the whole page as a PDF
for the review (Chromium's own print to PDF). Never downloads a browser: BROWSER_PATH, else a Chromium on PATH
(Debian's chromium), else a message that says what to do; the HTML report is written either way."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import plotly.graph_objects as go

from dashboards.base import HEIGHT

PNG_DIR = "png"
PDF_FILE = "report.pdf"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_WIDTH_PX = 1047
"""The printable width of an A4 landscape page with 10 mm margins (277 mm at 96 px to the inch): the page is laid
out, and its figures drawn, at this width, so the print has nothing to re-flow. The template's @page rule says A4
landscape."""
PRINT_SECONDS = 180
RENDER_BUDGET_MS = 20_000
"""Virtual time the page gets after its load event before it is printed: plotly.js draws every figure while the
page loads (one inline Plotly.newPlot each); the budget lets any timer it left run first."""
# offline and alone: no background or component traffic, every host name resolves to nothing, a profile of its own
PRINT_FLAGS = (
    "--headless",
    "--no-sandbox",  # as kaleido runs it; the page is our own file, and nothing is fetched
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",
)


class ExportUnavailable(RuntimeError):
    """PNG or PDF export needs a Chromium-based browser that works on this machine; the message says what to do."""


def find_browser() -> str | None:
    """A Chromium to render with: BROWSER_PATH when set, else the first Chromium on PATH. Never downloads."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    return None


def export_pngs(figures: dict[str, go.Figure], folder: Path, *, width: int = 1200, scale: float = 2) -> list[Path]:
    """One PNG per non-empty figure (for slides), rendered by kaleido in the local Chromium."""
    browser = find_browser()
    if browser is None:
        raise ExportUnavailable(
            "PNG export needs Chromium and none was found (set BROWSER_PATH, or install Debian's chromium: "
            "apt-get install chromium); the HTML report was written without PNGs"
        )
    import kaleido

    os.environ["BROWSER_PATH"] = browser  # kaleido/choreographer look here first; they never download on their own
    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for name, fig in figures.items():
        if not fig.data:
            continue
        dumped = fig.to_plotly_json()
        dumped["layout"].pop("meta", None)
        specs.append(
            {
                "fig": dumped,
                "path": folder / f"{name}.png",
                "opts": {"format": "png", "width": width, "height": fig.layout.height or HEIGHT, "scale": scale},
            }
        )
    try:
        kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False, "path": browser}, cancel_on_error=True)
    except Exception as err:  # a browser that cannot start is a message, not a crash
        raise ExportUnavailable(
            f"PNG export failed with the browser at {browser}: {type(err).__name__}: {err}"
        ) from err
    return [spec["path"] for spec in specs]


def export_pdf(html: str, *, timeout: float = PRINT_SECONDS) -> bytes:
    """The report page printed to PDF by the local Chromium: A4 landscape, each section from a new page (the
    template's print rules), every figure drawn before printing. `html` is the page's text (written to a private
    temporary folder, so an object-store report prints the same way)."""
    browser = find_browser()
    if browser is None:
        raise ExportUnavailable(
            "PDF export needs Chromium and none was found (set BROWSER_PATH, or install Debian's chromium: "
            "apt-get install chromium); the HTML report was written without a PDF"
        )
    with tempfile.TemporaryDirectory(prefix="gatewaylens-pdf-") as folder:
        page, pdf = Path(folder) / "index.html", Path(folder) / PDF_FILE
        page.write_text(html, encoding="utf-8")
        command = [
            browser,
            *PRINT_FLAGS,
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--window-size={PRINT_WIDTH_PX},800",
            f"--virtual-time-budget={RENDER_BUDGET_MS}",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            message = f"PDF export failed with the browser at {browser}: {type(err).__name__}: {err}"
            raise ExportUnavailable(message) from err
        data = pdf.read_bytes() if pdf.is_file() else b""
        if not data.startswith(b"%PDF-"):
            said = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["no message"]
            raise ExportUnavailable(
                f"PDF export failed with the browser at {browser} (exit {done.returncode}): {said[0][:300]}"
            )
        return data


def pdf_pages(data: bytes) -> int:
    """How many pages a PDF that Chromium printed holds (its page objects are not compressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))
