"""Files made from the rendered report in a local Chromium: a PNG per figure (kaleido). Never downloads a browser:
Debian's chromium, BROWSER_PATH or a Chromium on PATH, else a message that says what to do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import plotly.graph_objects as go

from dashboards import figures as F

PNG_DIR = "png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PngUnavailable(RuntimeError):
    """PNG export needs a Chromium-based browser on this machine; the message says what to do."""


def find_browser() -> str | None:
    """A Chromium to render PNGs with: BROWSER_PATH when set, else the first Chromium on PATH. Never downloads."""
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
        raise PngUnavailable(
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
                "opts": {"format": "png", "width": width, "height": fig.layout.height or F.HEIGHT, "scale": scale},
            }
        )
    try:
        kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False, "path": browser}, cancel_on_error=True)
    except Exception as err:  # a browser that cannot start is a message, not a crash
        raise PngUnavailable(f"PNG export failed with the browser at {browser}: {type(err).__name__}: {err}") from err
    return [spec["path"] for spec in specs]
