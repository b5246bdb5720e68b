"""Section "When agent traffic bursts": traffic per minute over the last days with burst episodes shaded, every burst
episode by day and hour, and the hour-of-week heatmap. Each figure: query, draw, reading, then its `Figure` (see
`dashboards.base`)."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import duckdb
import plotly.graph_objects as go

from dashboards import palette
from dashboards.base import (
    BURST_BAND_MINUTES,
    TRAFFIC_WINDOW_DAYS,
    Figure,
    Range,
    Read,
    Section,
    esc,
    pct,
    rows,
)

# -- traffic_bursts: requests per minute over the last days of the period, burst episodes shaded ----------------


def traffic_bursts_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """The minutes of the last TRAFFIC_WINDOW_DAYS days with traffic in the period, and the bursts that start in
    them (two marts: two CSV files)."""
    [bounds] = rows(
        con,
        "select max(minute) as last_minute from traffic_minutely where cast(minute as date) between ? and ?",
        [period.lo, period.hi],
    ) or [{"last_minute": None}]
    if bounds["last_minute"] is None:
        return Read({"traffic_minutely": [], "bursts": []})
    end = bounds["last_minute"]
    first = max(
        dt.datetime.combine(end.date() - dt.timedelta(days=TRAFFIC_WINDOW_DAYS - 1), dt.time()),
        dt.datetime.combine(period.lo, dt.time()),
    )
    traffic = rows(
        con,
        "select minute, requests, baseline from traffic_minutely where minute between ? and ? order by minute",
        [first, end],
    )
    bursts = rows(
        con,
        """select burst_id, started_at, ended_at, minutes, requests, peak_rpm, baseline_rpm, top_app_id, top_app_share
        from bursts where started_at between ? and ? order by started_at""",
        [first, end],
    )
    return Read({"traffic_minutely": traffic, "bursts": bursts})


def traffic_bursts_draw(read: Read, period: Range) -> go.Figure:
    traffic, bursts = read.data["traffic_minutely"], read.data["bursts"]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[r["minute"] for r in traffic],
            y=[r["requests"] for r in traffic],
            customdata=[r["baseline"] for r in traffic],
            name="requests / minute",
            mode="lines",
            line={"color": palette.NEUTRAL, "width": 1},
            hovertemplate="%{x|%a %Y-%m-%d %H:%M} UTC<br>%{y:,} requests (baseline %{customdata:.1f})<extra></extra>",
        )
    )
    for b in bursts:
        width = max(b["ended_at"] + dt.timedelta(minutes=1) - b["started_at"], dt.timedelta(minutes=BURST_BAND_MINUTES))
        fig.add_vrect(
            x0=b["started_at"],
            x1=b["started_at"] + width,
            fillcolor=palette.BURST_COLOR,
            line_width=0,
            layer="below",
        )
    fig.add_trace(
        go.Scatter(
            x=[b["started_at"] for b in bursts],
            y=[b["peak_rpm"] for b in bursts],
            customdata=[
                [esc(b["top_app_id"]), b["top_app_share"] or 0, b["requests"], b["minutes"], b["baseline_rpm"]]
                for b in bursts
            ],
            name="burst episode",
            mode="markers",
            marker={"color": palette.BURST_MARKER, "size": 8, "symbol": "triangle-down"},
            hovertemplate="burst from %{x|%a %H:%M} UTC, %{customdata[3]} min<br>peak %{y:,} requests/min "
            "(baseline %{customdata[4]:.1f})<br>%{customdata[2]:,} requests, %{customdata[1]:.0%} from "
            "<b>%{customdata[0]}</b><extra></extra>",
        )
    )
    fig.update_yaxes(title="requests per minute", rangemode="tozero")
    fig.update_xaxes(tickformat="%a %d %b\n%H:%M")
    return fig


def traffic_bursts_reading(read: Read, period: Range) -> str:
    bursts = read.data["bursts"]
    if not bursts:
        return f"No burst episodes in the last {TRAFFIC_WINDOW_DAYS} days of the period."
    hours = sorted({b["started_at"].hour for b in bursts})
    apps: dict[str | None, int] = defaultdict(int)
    for b in bursts:
        apps[b["top_app_id"]] += 1
    app = max(apps, key=lambda a: (apps[a], str(a)))
    return (
        f"{len(bursts)} burst episodes in these {TRAFFIC_WINDOW_DAYS} days, starting at "
        f"{', '.join(f'{h:02d}:00' for h in hours)} UTC; most are from {app} ({apps[app]})."
    )


traffic_bursts = Figure(
    name="traffic_bursts",
    title=f"Traffic per minute, last {TRAFFIC_WINDOW_DAYS} days of the period, burst episodes shaded "
    f"(bands at least {BURST_BAND_MINUTES} min wide)",
    marts=("traffic_minutely", "bursts"),
    query=traffic_bursts_query,
    draw=traffic_bursts_draw,
    reading=traffic_bursts_reading,
    empty="No traffic in this period.",
    drawable=lambda read: bool(read.data["traffic_minutely"]),
)


# -- burst_calendar: every burst episode by date and time of day (scheduled agents line up night after night) -----


def burst_calendar_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    query = """select started_at, minutes, requests, peak_rpm, peak_ratio, top_app_id, top_app_share from bursts
        where cast(started_at as date) between ? and ? order by started_at"""
    return Read({"bursts": rows(con, query, [period.lo, period.hi])})


def burst_calendar_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    biggest = max(r["requests"] for r in data) or 1
    fig = go.Figure(
        go.Scatter(
            x=[r["started_at"].date() for r in data],
            y=[r["started_at"].hour + r["started_at"].minute / 60 for r in data],
            customdata=[
                [
                    esc(r["top_app_id"]),
                    r["top_app_share"] or 0,
                    r["requests"],
                    r["minutes"],
                    r["peak_rpm"],
                    r["peak_ratio"],
                ]
                for r in data
            ],
            text=[r["started_at"].strftime("%H:%M") for r in data],
            mode="markers",
            name="burst episode",
            marker={
                "size": [3 + 7 * math.sqrt(r["requests"] / biggest) for r in data],
                "color": palette.BURST_MARKER,
                "opacity": 0.5,
                "line": {"width": 0},
            },
            hovertemplate="%{x|%Y-%m-%d} %{text} UTC, %{customdata[3]} min<br>%{customdata[2]:,} requests, peak "
            "%{customdata[4]:,}/min (%{customdata[5]:.1f}x baseline)<br>%{customdata[1]:.0%} from "
            "<b>%{customdata[0]}</b><extra></extra>",
        )
    )
    fig.update_yaxes(title="UTC hour the episode started", range=[24, 0], dtick=3)
    return fig


def burst_calendar_reading(read: Read, period: Range) -> str:
    data = read.rows
    overnight = sum(1 for r in data if r["started_at"].hour < 6)
    return f"{len(data):,} burst episodes; {pct(overnight / len(data))} of them start between 00:00 and 06:00 UTC."


burst_calendar = Figure(
    name="burst_calendar",
    title="Burst episodes: day and UTC time of day (size: requests in the episode)",
    marts=("bursts",),
    query=burst_calendar_query,
    draw=burst_calendar_draw,
    reading=burst_calendar_reading,
    empty="No burst episodes in this period.",
)


# -- hour_of_week: mean requests per hour for each weekday x hour slot (whole history) ---------------------------


def hour_of_week_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """The whole history: the mart does not follow the period (the report's caveats say so)."""
    query = "select dow, day_name, hour, hours_observed, mean_requests, max_requests from traffic_hour_of_week"
    return Read({"traffic_hour_of_week": rows(con, query)})


def hour_of_week_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    names = {r["dow"]: r["day_name"] for r in data}
    dows = sorted(names)
    index = {(r["dow"], r["hour"]): r for r in data}
    z = [[index[(d, h)]["mean_requests"] if (d, h) in index else None for h in range(24)] for d in dows]
    custom = [
        [
            [index[(d, h)]["max_requests"], index[(d, h)]["hours_observed"]] if (d, h) in index else [0, 0]
            for h in range(24)
        ]
        for d in dows
    ]
    fig = go.Figure(
        go.Heatmap(
            x=list(range(24)),
            y=[esc(names[d]) for d in dows],
            z=z,
            customdata=custom,
            colorscale="Blues",
            colorbar={"title": {"text": "requests/hour"}},
            hovertemplate="%{y} %{x}:00 UTC<br>mean %{z:,.1f} requests/hour<br>busiest %{customdata[0]:,} "
            "(over %{customdata[1]} hours)<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="UTC hour", dtick=2)
    return fig


def hour_of_week_reading(read: Read, period: Range) -> str:
    peak = max(read.rows, key=lambda r: r["mean_requests"] or 0)
    return (
        f"The busiest slot is {peak['day_name']} {peak['hour']:02d}:00 UTC at {peak['mean_requests']:,.0f} "
        "requests/hour."
    )


hour_of_week = Figure(
    name="hour_of_week",
    title="Mean requests per hour by weekday and UTC hour (whole history)",
    marts=("traffic_hour_of_week",),
    query=hour_of_week_query,
    draw=hour_of_week_draw,
    reading=hour_of_week_reading,
    empty="No traffic yet.",
    height=340,
)


SECTION = Section("traffic", "When agent traffic bursts", (traffic_bursts, burst_calendar, hour_of_week))
