"""What every figure shares: the report's period, the figure contract (`Figure`: the marts it reads, its query, its
drawing, its reading), and the helpers of each of those three parts. The figures themselves live by report
section in `dashboards.figures`.

A figure is built in three steps, each a plain function so it can be read (and tested) alone:

- query: a read-only DuckDB connection and the period in, the rows read from the marts out (`Read`). It reads only
  the marts the figure declares in `Figure.marts` (a test runs every query and checks);
- draw: the rows in, a Plotly figure out: traces, axes, colours (`dashboards.palette`); labels from logs escaped;
- reading: the rows in, one line of plain text saying what the figure shows (the report escapes it).

`Figure.__call__` runs them, gives the common layout, and returns the empty state when there is nothing to draw.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import plotly.graph_objects as go

from dashboards import palette

GRAINS = {"day": "daily", "week": "weekly", "month": "monthly"}
MIN_DATE = dt.date(1970, 1, 1)
MAX_DATE = dt.date(9999, 12, 31)
LOW_COVERAGE = 0.5
HEATMAP_FLOOR = 0.8
BURST_BAND_MINUTES = 15
TRAFFIC_WINDOW_DAYS = 7
WILSON_Z = 1.96
HEIGHT = 420
MAX_LINES = 8
"""A chart never draws more series than this on one axis (`series`): the rest are pooled as one OTHERS series
(`fold_others`: summed, a rate recomputed over their pooled counts), or left out where they cannot be pooled (a
median); the reading says which are drawn (`others_note`)."""
OTHERS = "others"
LEFT_OUT = "left out (their rows are in the CSV)"
"""What a reading says of the series a chart leaves out (a median or percentile cannot be pooled as OTHERS)."""


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


# -- the figure contract --------------------------------------------------------------------------------------

Row = dict[str, Any]
Data = dict[str, list[Row]]
"""What a figure was drawn from: per mart, the rows its query read (columns named as in the mart)."""


@dataclass(frozen=True)
class Read:
    """What a figure's query read: per mart, the rows it is drawn from (the report offers each as CSV), and, for
    the figures coloured by provider, the colour of every provider of the warehouse (the same in every figure)."""

    data: Data
    colors: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> list[Row]:
        """The rows of a figure that reads one mart."""
        [only] = self.data.values()
        return only


def _any_rows(read: Read) -> bool:
    return any(read.data.values())


@dataclass(frozen=True)
class Figure:
    """One figure of the report: its name (the figure's id, CSV and PNG name), title, the marts its query reads,
    its three parts (query, draw, reading) and its empty state: the message shown when `drawable` says there is
    nothing to draw. `height` (px) may depend on what was read; `subject`, when given, names what the drawn figure
    is about after its title (the model the speed figure compares). Call it like a builder: `fig(con, period)`."""

    name: str
    title: str
    marts: tuple[str, ...]
    query: Callable[[duckdb.DuckDBPyConnection, Range], Read]
    draw: Callable[[Read, Range], go.Figure]
    reading: Callable[[Read, Range], str]
    empty: str
    drawable: Callable[[Read], bool] = _any_rows
    height: int | Callable[[Read], int] = HEIGHT
    subject: Callable[[Read], str] | None = None

    def __call__(self, con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
        """The figure for a period: read, then drawn with its reading, or the empty state that says why not."""
        read = self.query(con, period)
        if not self.drawable(read):
            return empty_figure(self.title, self.empty)
        fig = self.draw(read, period)
        title = f"{self.title}: {esc(self.subject(read))}" if self.subject else self.title
        height = self.height(read) if callable(self.height) else self.height
        return _base_layout(fig, title, self.reading(read, period), read.data, height=height)


@dataclass(frozen=True)
class Section:
    """A section of the report: its id, its heading and its figures, in page order."""

    name: str
    heading: str
    figures: tuple[Figure, ...]


# -- query: reading the marts ---------------------------------------------------------------------------------


def per_grain(stem: str) -> tuple[str, ...]:
    """The daily, weekly and monthly marts of a metric (`tool_call_rate` -> `tool_call_rate_daily`, ...)."""
    return tuple(mart(stem, grain) for grain in GRAINS)


def mart(stem: str, grain: str) -> str:
    """The mart of a metric at a grain."""
    return f"{stem}_{GRAINS[grain]}"


def rows(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None) -> list[Row]:
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


def in_period(col: str) -> str:
    """The filter of a weekly or monthly mart's period column: every period the range touches."""
    return f"{col} between date_trunc('{col}', ?::date) and ?"


def days_column(grain: str) -> str:
    """The `days` column of a weekly or monthly mart; a daily row is one day."""
    return "1" if grain == "day" else "days"


# -- draw: the common layout, axes and series -----------------------------------------------------------------


def esc(value: Any) -> str:
    """A label from the logs, safe to hand to Plotly (which renders some HTML in labels)."""
    return html.escape("" if value is None else str(value), quote=False)  # Plotly does not decode &quot;


def hover_period(grain: str) -> str:
    """The period of a point in hover text, as the x axis shows it."""
    return {"month": "%{x|%b %Y}", "week": "week of %{x|%Y-%m-%d}", "day": "%{x|%Y-%m-%d}"}[grain]


def period_axis(fig: go.Figure, grain: str, periods: set[Any]) -> None:
    """One tick per period when there are few (no 06:00 ticks on three days of data), else Plotly's choice."""
    if len(periods) <= 16:
        dtick = {"month": "M1", "week": 7 * 86_400_000, "day": 86_400_000}[grain]
        fig.update_xaxes(tick0=min(periods), dtick=dtick, tickformat="%b %Y" if grain == "month" else "%d %b %Y")


def by_volume(data: list[Row], weight: str | tuple[str, ...], key: str = "model_family") -> list[str]:
    """The values of `key` (model families by default), largest total `weight` first (ties by the next weight of a
    tuple, then by name): the order of their series."""
    weights = (weight,) if isinstance(weight, str) else weight
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(weights))
    for row in data:
        for i, column in enumerate(weights):
            totals[row[key]][i] += row[column] or 0
    return sorted(totals, key=lambda f: (*(-total for total in totals[f]), f))


def top(totals: dict[str, float], keep: int = MAX_LINES - 1) -> list[str]:
    """The `keep` largest keys (ties by name); the caller sums the rest as OTHERS."""
    return sorted(totals, key=lambda k: (-totals[k], k))[:keep]


def series(
    data: list[Row], weight: str | tuple[str, ...], key: str = "model_family", room: int = MAX_LINES
) -> list[str]:
    """The values of `key` drawn as series of their own, largest `weight` first: all of them when they fit in the
    `room` an axis has (MAX_LINES, less the other series it draws), else the `room - 1` largest, the rest pooled
    as one OTHERS series (`fold_others`)."""
    keys = by_volume(data, weight, key)
    return keys if len(keys) <= room else keys[: room - 1]


def fold_others(
    data: list[Row],
    key: str,
    shown: list[str],
    col: str,
    sums: tuple[str, ...],
    rates: dict[str, Callable[[Row], float | None]] | None = None,
) -> list[Row]:
    """The rows of the `shown` values of `key` as read, then per period (`col`) one OTHERS row: the `sums` columns
    summed over the other values' rows, `pooled` how many values it holds, and each `rates` column computed from
    those summed counts (the rate of the others is the rate of their pooled counts, never an average of their
    rates). The rows read are left as they are: the CSV offers them."""
    kept = [r for r in data if r[key] in shown]
    pooled: dict[Any, Row] = {}
    members: dict[Any, set[Any]] = defaultdict(set)
    for r in data:
        if r[key] not in shown:
            row = pooled.setdefault(r[col], {col: r[col], key: OTHERS, **dict.fromkeys(sums, 0)})
            for column in sums:
                row[column] += r[column] or 0
            members[r[col]].add(r[key])
    for at, row in pooled.items():
        row["pooled"] = len(members[at])
        row.update({column: rate(row) for column, rate in (rates or {}).items()})
    return kept + sorted(pooled.values(), key=lambda r: r[col])


def drawn_series(lines: list[Row], key: str, shown: list[str]) -> list[tuple[str, list[Row]]]:
    """Each series a chart draws, in order (the `shown` values of `key`, then OTHERS) with its rows of `lines`
    (`fold_others`' output); a series without rows is left out."""
    groups: dict[Any, list[Row]] = defaultdict(list)
    for row in lines:
        groups[row[key]].append(row)
    return [(name, groups[name]) for name in [*shown, OTHERS] if groups.get(name)]


def others_note(
    data: list[Row], shown: list[str], key: str, what: str, weight: str, fate: str = f'pooled as "{OTHERS}"'
) -> str:
    """What a reading adds when its chart does not draw every value of `key` as a series of its own: which it
    draws, and the `fate` of the others (pooled as OTHERS, or left out); nothing when it draws every one."""
    rest = len({r[key] for r in data}) - len(shown)
    if not rest:
        return ""
    return f" Drawn: the {len(shown)} {what} with the most {weight}; the other {rest} {fate}."


def series_line(key: str, color: str, width: float) -> dict[str, Any]:
    """The line of a series: its own colour, or for OTHERS a grey dashed one, so that it never passes for one more
    family or provider."""
    if key == OTHERS:
        return {"color": palette.NEUTRAL, "width": width, "dash": "dash"}
    return {"color": color, "width": width}


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
    """A figure with no traces that says why: the empty state of every figure."""
    fig = go.Figure()
    fig.add_annotation(
        text=esc(message), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 16, "color": "#666"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, title, message, height=260)


# -- reading: numbers in plain text ---------------------------------------------------------------------------


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def usd(value: float | None) -> str:
    """Dollars with the precision small numbers need ($0.0042, $12.30, $1,234)."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.2g}" if value else "$0"


def period_label(day: dt.date, grain: str) -> str:
    """A period as a reading names it: 'Jun 2025', 'week of 2025-06-02', '2025-06-01'."""
    if grain == "month":
        return day.strftime("%b %Y")
    if grain == "week":
        return f"week of {day.isoformat()}"
    return day.isoformat()
