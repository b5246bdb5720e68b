"""The static report: every figure in one self-contained HTML file (PNG and PDF exports: `dashboards.export`).

`render_report(con, period)` builds the page (pure: connection in, HTML text out); `write_report(...)` writes it
atomically (a temporary file in the same folder renamed over `index.html`, or one PUT on an object store).
plotly.js is inlined once, from the installed plotly package, so the file opens offline from `file://`.

Escaping: figure labels are escaped in `dashboards.figures` before they reach Plotly; everything else on the page
(header, tiles, readings, caveats) goes through Jinja2 with autoescape on. Only two strings are marked safe: the
plotly.js bundle and the figure snippets Plotly generates from already-escaped labels (its JSON escapes `<`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import jinja2
import plotly
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from dashboards import figures, headline
from dashboards.base import GRAINS, HEIGHT, Data, Range
from dashboards.periods import period_end, period_start

REPORT_FILE = "index.html"
TEMPLATE = "report.html.j2"
METRICS_DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
MARTS: tuple[str, ...] = tuple(sorted({*figures.MARTS, *headline.MARTS}))
"""Every mart the report reads, derived from what its figures and its headline declare: the Dagster asset
`dashboards` depends on exactly these."""


@dataclass
class Report:
    """A rendered report: its HTML, the figures it holds, and what it took."""

    html: str
    figures: dict[str, go.Figure]
    period: tuple[dt.date | None, dt.date | None]
    latest_data: dt.datetime | None
    render_seconds: float
    tiles: list[dict[str, str]] = field(default_factory=list)
    period_text: str = ""  # the period as the page heads it (the days asked for, where they hold no data)

    @property
    def empty_figures(self) -> list[str]:
        return [name for name, fig in self.figures.items() if not fig.data]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


CAVEATS = (
    "The first and last periods may be partial: hover a point to see how many days it holds.",
    "Reasoning share counts only output whose log reports reasoning tokens; hollow markers and the coverage panel "
    "show where that is less than half of the output. Families that report none are left out, not counted as zero.",
    "Availability counts provider faults only (rate limits, timeouts, server errors); client errors are the "
    "caller's. Error rate counts every error.",
    "Provider variance uses the mart's trailing window (shown in its reading), the hour-of-week heatmap and app "
    "lock-in use the whole history: they do not follow --from/--to.",
    "Workload traces without a model count in the traffic figures but not in the per-family ones.",
)


# -- the data behind each figure ------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to a spreadsheet: it gets a leading apostrophe."""


def figure_data(fig: go.Figure) -> Data:
    """Per mart, the rows a builder read to draw the figure (empty for an empty state)."""
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    return meta.get("data") or {}


def csv_cell(value: Any) -> str:
    """One value as CSV text: NULL is empty (unknown, never 0), days and times ISO 8601, floats in full."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):  # a label from the logs: text, not a formula
        return "'" + value
    return str(value)


def to_csv(data: list[dict[str, Any]]) -> str:
    """Rows as CSV text with a header of their column names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(data[0]) if data else [])
    writer.writerows([csv_cell(value) for value in row.values()] for row in data)
    return buffer.getvalue()


def csv_links(name: str, data: Data) -> list[dict[str, Any]]:
    """One download link per mart a figure read: a `data:` URL, so it works offline from file:// and holds only
    percent-encoded text (nothing in it can close the attribute or the page)."""
    return [
        {
            "href": "data:text/csv;charset=utf-8," + quote(to_csv(read), safe=","),
            "download": f"{name}.csv" if len(data) == 1 else f"{name}.{mart}.csv",
            "mart": mart,
            "rows": len(read),
        }
        for mart, read in data.items()
        if read
    ]


# -- rendering ----------------------------------------------------------------------------------------------


def _figure_html(name: str, fig: go.Figure) -> tuple[str, str]:
    """The figure's Plotly snippet and reading; the meta (reading and data) stays out of the snippet, so the data
    is in the page once, in its CSV link."""
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    reading = str(meta.get("reading", ""))
    fig.update_layout(meta=None)
    snippet = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"plot-{name}",
        config=PLOTLY_CONFIG,
        default_width="100%",
        default_height=f"{fig.layout.height or HEIGHT}px",
    )
    fig.update_layout(meta=meta)
    return snippet, reading


def _asked(period: Range) -> str:
    """The period asked for, where it holds no data: the days given, open ends said so."""
    if period.start is None and period.end is None:
        return "no data"
    start = period.start.isoformat() if period.start else "the first day"
    end = period.end.isoformat() if period.end else "the last day"
    return f"{start} to {end} (UTC): no data"


def render_report(
    con: duckdb.DuckDBPyConnection,
    period: Range,
    *,
    warehouse: str = "",
    built_at: dt.datetime | None = None,
    notes: tuple[str, ...] = (),
) -> Report:
    """The report page for a period, from an open (read-only) connection to the warehouse database. `notes` are
    caveats about this warehouse that come before the general ones (e.g. unprotected user hashes)."""
    started = time.perf_counter()
    drawn = figures.build_all(con, period)
    first, last = headline.data_extent(con, period)
    fresh = headline.latest_data(con)
    tile_rows, comparison = headline.tiles(con, period)
    sections = []
    for section in figures.SECTIONS:
        items = []
        for figure in section.figures:
            name, fig = figure.name, drawn[figure.name]
            snippet, reading = _figure_html(name, fig)
            items.append(
                {
                    "name": name,
                    "html": Markup(snippet),
                    "reading": reading,
                    "traces": len(fig.data),
                    "empty": not fig.data,
                    "csv": csv_links(name, figure_data(fig)) if fig.data else [],
                }
            )
        sections.append({"name": section.name, "heading": section.heading, "figures": items})
    period_text = f"{first.isoformat()} to {last.isoformat()} (UTC)" if first is not None else _asked(period)
    partial = []
    if first is not None:
        if first != period_start(first, period.grain):
            partial.append(f"the first {period.grain} is partial")
        if last != period_end(period_start(last, period.grain), period.grain):
            partial.append(f"the last {period.grain} is partial")
    built = built_at or dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    html_text = (
        _environment()
        .get_template(TEMPLATE)
        .render(
            plotlyjs=Markup(get_plotlyjs()),
            plotly_version=plotly.__version__,
            period_text=period_text,
            grain_adjective=GRAINS[period.grain],
            partial_note="; ".join(partial),
            latest_data=f"{fresh.isoformat(sep=' ', timespec='minutes')} UTC" if fresh else "none",
            built_at=f"{built.isoformat(sep=' ')} UTC",
            warehouse=warehouse,
            tiles=tile_rows,
            comparison_text=comparison,
            sections=sections,
            caveats=(*notes, *CAVEATS),
            metrics_doc=METRICS_DOC.as_uri(),
        )
    )
    return Report(
        html=html_text,
        figures=drawn,
        period=(first, last),
        latest_data=fresh,
        render_seconds=time.perf_counter() - started,
        tiles=tile_rows,
        period_text=period_text,
    )


# -- files --------------------------------------------------------------------------------------------------


def write_report(report: Report, out: Any, target: str) -> None:
    """Write the page atomically: `out` is a `pipelines.lib.storage.Warehouse` rooted at the output folder (local
    disks: temporary file in the same folder, then `os.replace`; object stores: one PUT)."""
    with out.atomic_write(target) as local:
        Path(local).write_text(report.html, encoding="utf-8")
