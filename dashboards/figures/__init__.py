"""Every figure of the report, by section: one module per section of the page, in page order.

A figure is a `dashboards.base.Figure`: the marts it reads, its query, its drawing and its reading, each a plain
function (see `dashboards.base`). `MARTS` is derived from the figures' declarations; the report adds the headline's
(`dashboards.report.MARTS`), and the Dagster asset `dashboards` depends on exactly those.

Every figure reads only the marts (docs/metrics.md is the contract), never writes, and never fails on missing data:
with nothing to draw it returns an empty-state figure that says so. Labels that come from logs (model ids, provider
names, app ids, and, to be safe, family names) are escaped with `html.escape` before they reach Plotly, which
renders a subset of HTML in titles, legends, tick labels and hover text: a model named `<img src=x onerror=...>`
shows as that text, never as an element.
"""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go

from dashboards.base import Figure, Range, Section
from dashboards.figures import agents, providers, reliability, speed, spend, traffic, volume

__all__ = ["FIGURES", "MARTS", "SECTIONS", "Range", "build_all"]

SECTIONS: tuple[Section, ...] = (
    agents.SECTION,
    volume.SECTION,
    spend.SECTION,
    speed.SECTION,
    reliability.SECTION,
    traffic.SECTION,
    providers.SECTION,
)
FIGURES: dict[str, Figure] = {figure.name: figure for section in SECTIONS for figure in section.figures}
MARTS: tuple[str, ...] = tuple(sorted({mart for figure in FIGURES.values() for mart in figure.marts}))
"""Every mart a figure reads: the union of the figures' declarations."""


def build_all(con: duckdb.DuckDBPyConnection, period: Range) -> dict[str, go.Figure]:
    """Every figure of the report, by name, in report order."""
    return {name: figure(con, period) for name, figure in FIGURES.items()}
