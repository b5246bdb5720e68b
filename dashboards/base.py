"""What every figure builder shares: the report's period, safe labels, reading the marts, the common layout and
the empty state. The builders themselves live by report section (`dashboards.figures`, `dashboards.spend_speed`)."""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import duckdb
import plotly.graph_objects as go

GRAINS = {"day": "daily", "week": "weekly", "month": "monthly"}
MIN_DATE = dt.date(1970, 1, 1)
MAX_DATE = dt.date(9999, 12, 31)
LOW_COVERAGE = 0.5
HEATMAP_FLOOR = 0.8
BURST_BAND_MINUTES = 15
TRAFFIC_WINDOW_DAYS = 7
WILSON_Z = 1.96
HEIGHT = 420


@dataclass(frozen=True)
class Range:
    """The report's period: inclusive UTC days (None = open) and the grain of the time series."""

    start: dt.date | None = None
    end: dt.date | None = None
    grain: str = "month"

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            raise ValueError(f"grain must be one of {', '.join(GRAINS)}, not {self.grain!r}")

    @property
    def lo(self) -> dt.date:
        return self.start or MIN_DATE

    @property
    def hi(self) -> dt.date:
        return self.end or MAX_DATE


def esc(value: Any) -> str:
    """A label from the logs, safe to hand to Plotly (which renders some HTML in labels)."""
    return html.escape("" if value is None else str(value), quote=False)  # Plotly does not decode &quot;


def rows(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of a query as dicts; no rows when a mart does not exist (a warehouse never built)."""
    # a missing table must stay missing: never let DuckDB scan a Python object of the same name instead (an
    # analyst connection has that off already, and its settings locked: see pipelines/lib/readonly.py)
    if con.execute("select current_setting('python_enable_replacements')").fetchall()[0][0]:
        con.execute("set python_enable_replacements = false")
    try:
        cur = con.execute(query, params or [])
    except duckdb.CatalogException:
        return []
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _period_label(day: dt.date, grain: str) -> str:
    if grain == "month":
        return day.strftime("%b %Y")
    if grain == "week":
        return f"week of {day.isoformat()}"
    return day.isoformat()


def _hover_period(grain: str) -> str:
    return {"month": "%{x|%b %Y}", "week": "week of %{x|%Y-%m-%d}", "day": "%{x|%Y-%m-%d}"}[grain]


def _days(grain: str) -> str:
    """The `days` column of a weekly or monthly mart; a daily row is one day."""
    return "1" if grain == "day" else "days"


def _period_axis(fig: go.Figure, grain: str, periods: set[Any]) -> None:
    """One tick per period when there are few (no 06:00 ticks on three days of data), else Plotly's choice."""
    if len(periods) <= 16:
        dtick = {"month": "M1", "week": 7 * 86_400_000, "day": 86_400_000}[grain]
        fig.update_xaxes(tick0=min(periods), dtick=dtick, tickformat="%b %Y" if grain == "month" else "%d %b %Y")


Data = dict[str, list[dict[str, Any]]]
"""What a figure was drawn from: per mart, the rows its builder read (columns named as in the mart)."""


def _base_layout(fig: go.Figure, title: str, reading: str, data: Data | None = None, **layout: Any) -> go.Figure:
    """The common layout; `meta` carries the reading and the data (the report strips both before Plotly writes the
    figure into the page)."""
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        template="plotly_white",
        height=layout.pop("height", HEIGHT),
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "v", "x": 1.01, "y": 1},
        hovermode=layout.pop("hovermode", "closest"),
        meta={"reading": reading, "data": data or {}},
        **layout,
    )
    return fig


def empty_figure(title: str, message: str) -> go.Figure:
    """A figure with no traces that says why: the empty state of every builder."""
    fig = go.Figure()
    fig.add_annotation(
        text=esc(message), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 16, "color": "#666"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, title, message, height=260)


def _families_by_volume(data: list[dict[str, Any]], weight: str) -> list[str]:
    totals: dict[str, float] = defaultdict(float)
    for row in data:
        totals[row["model_family"]] += row[weight] or 0
    return sorted(totals, key=lambda f: (-totals[f], f))
