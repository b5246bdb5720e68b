"""Figure builders: a DuckDB connection to the warehouse database and a date range in, a Plotly figure out.

Every builder reads only the marts (docs/metrics.md is the contract), never writes, and never fails on missing
data: with no rows it returns an empty-state figure that says so. Each figure carries a one-line reading of
what it shows in `fig.layout.meta["reading"]` (plain text; the report escapes it).

Labels that come from logs (model ids, provider names, app ids, and, to be safe, family names) are escaped with
`html.escape` before they reach Plotly, which renders a subset of HTML in titles, legends, tick labels and hover
text: a model named `<img src=x onerror=...>` shows as that text, never as an element.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import palette, spend_speed
from dashboards.base import (  # noqa: F401 - re-exported: the builders' shared vocabulary
    BURST_BAND_MINUTES,
    GRAINS,
    HEATMAP_FLOOR,
    HEIGHT,
    LOW_COVERAGE,
    MAX_DATE,
    MIN_DATE,
    TRAFFIC_WINDOW_DAYS,
    WILSON_Z,
    Range,
    _base_layout,
    _days,
    _families_by_volume,
    _hover_period,
    _period_axis,
    _period_label,
    empty_figure,
    esc,
    pct,
    rows,
)

MARTS = (
    "tool_call_rate_daily",
    "tool_call_rate_weekly",
    "tool_call_rate_monthly",
    "reasoning_share_daily",
    "reasoning_share_weekly",
    "reasoning_share_monthly",
    "model_mix_daily",
    "provider_uptime_daily",
    "provider_uptime_weekly",
    "provider_uptime_monthly",
    "provider_errors_hourly",
    "failover_daily",
    "traffic_minutely",
    "bursts",
    "traffic_hour_of_week",
    "provider_variance",
    "app_provider_concentration",
    "spend_daily",
    "spend_weekly",
    "spend_monthly",
    "provider_latency_daily",
    "provider_latency_weekly",
    "provider_latency_monthly",
    "context_length_monthly",
    "provider_error_budget_monthly",
    "lab_mix_daily",
)
"""Every mart the report reads (and nothing else): the `dashboards` asset depends on exactly these."""
# -- tool calls and reasoning -------------------------------------------------------------------------------


def tool_call_rate(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Share of completed requests ending in a tool call, per model family over time."""
    title = "Tool-call termination rate by model family"
    col = period.grain
    data = rows(
        con,
        f"""select {col}, model_family, {_days(col)} as days, completed_requests, tool_call_requests, tool_call_rate
        from tool_call_rate_{GRAINS[col]}
        where {col} between date_trunc('{col}', ?::date) and ? and model_family is not null
        order by {col}""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No completed requests with a known model in this period.")
    fig = go.Figure()
    families = _families_by_volume(data, "completed_requests")
    for family in families:
        points = [r for r in data if r["model_family"] == family]
        fig.add_trace(
            go.Scatter(
                x=[r[col] for r in points],
                y=[r["tool_call_rate"] for r in points],
                customdata=[[r["tool_call_requests"], r["completed_requests"], r["days"]] for r in points],
                name=esc(family),
                mode="lines+markers",
                line={"color": palette.family_color(family), "width": 2},
                marker={"size": 5},
                hovertemplate=f"<b>{esc(family)}</b> {_hover_period(col)}<br>tool-call rate %{{y:.1%}}"
                "<br>%{customdata[0]:,} tool calls / %{customdata[1]:,} completed<br>%{customdata[2]} days"
                "<extra></extra>",
            )
        )
    fig.update_yaxes(tickformat=".0%", title="tool calls / completed requests", rangemode="tozero")
    last = max(r[col] for r in data)
    latest = sorted((r for r in data if r[col] == last), key=lambda r: -(r["tool_call_rate"] or 0))
    top = families[0]
    top_rows = [r for r in data if r["model_family"] == top]
    reading = (
        f"{top} (the largest family): {pct(top_rows[0]['tool_call_rate'])} in "
        f"{_period_label(top_rows[0][col], col)} -> {pct(top_rows[-1]['tool_call_rate'])} in "
        f"{_period_label(top_rows[-1][col], col)}; highest in {_period_label(last, col)}: "
        f"{latest[0]['model_family']} at {pct(latest[0]['tool_call_rate'])}."
    )
    if "Claude" in families and top != "Claude":
        claude = [r for r in data if r["model_family"] == "Claude"]
        reading += (
            f" Claude: {pct(claude[0]['tool_call_rate'])} -> {pct(claude[-1]['tool_call_rate'])} over the period."
        )
    _period_axis(fig, period.grain, {r[col] for r in data})
    return _base_layout(fig, title, reading, {f"tool_call_rate_{GRAINS[col]}": data}, hovermode="closest")


def reasoning_share(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Reasoning tokens / output tokens per family, with the coverage the share describes under it."""
    title = "Reasoning share of output tokens (top) and how much of the output reports it (bottom)"
    col = period.grain
    data = rows(
        con,
        f"""select {col}, model_family, {_days(col)} as days, output_tokens, reported_output_tokens,
            reasoning_tokens, reasoning_share, reasoning_coverage
        from reasoning_share_{GRAINS[col]}
        where {col} between date_trunc('{col}', ?::date) and ? and model_family is not null
        order by {col}""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No completed requests with output tokens in this period.")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    families = _families_by_volume(data, "output_tokens")
    for family in families:
        points = [r for r in data if r["model_family"] == family]
        color = palette.family_color(family)
        custom = [
            [r["reasoning_tokens"], r["reported_output_tokens"], r["output_tokens"], r["reasoning_coverage"] or 0]
            for r in points
        ]
        reported = [r for r in points if r["reasoning_share"] is not None]
        if reported:
            fig.add_trace(
                go.Scatter(
                    x=[r[col] for r in reported],
                    y=[r["reasoning_share"] for r in reported],
                    customdata=[c for c, r in zip(custom, points, strict=True) if r["reasoning_share"] is not None],
                    name=esc(family),
                    legendgroup=esc(family),
                    mode="lines+markers",
                    line={"color": color, "width": 2},
                    # hollow markers where less than half of the output reports reasoning: read with care
                    marker={
                        "size": 7,
                        "symbol": [
                            "circle-open" if (r["reasoning_coverage"] or 0) < LOW_COVERAGE else "circle"
                            for r in reported
                        ],
                    },
                    hovertemplate=f"<b>{esc(family)}</b> {_hover_period(col)}<br>reasoning share %{{y:.1%}}"
                    "<br>%{customdata[0]:,} reasoning / %{customdata[1]:,} reported output tokens"
                    "<br>coverage %{customdata[3]:.0%} of %{customdata[2]:,} output tokens<extra></extra>",
                ),
                row=1,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=[r[col] for r in points],
                y=[r["reasoning_coverage"] or 0 for r in points],
                customdata=custom,
                name=f"{esc(family)} coverage" if reported else f"{esc(family)} (reports no reasoning)",
                legendgroup=esc(family),
                showlegend=not reported,
                mode="lines",
                line={"color": color, "width": 1.5, "dash": "dot"},
                hovertemplate=f"<b>{esc(family)}</b> {_hover_period(col)}<br>coverage %{{y:.0%}}"
                "<br>%{customdata[1]:,} of %{customdata[2]:,} output tokens report reasoning<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(tickformat=".0%", title="reasoning share", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", title="coverage", range=[0, 1.05], row=2, col=1)
    last = max(r[col] for r in data)
    latest = [r for r in data if r[col] == last]
    shares = [r for r in latest if r["reasoning_share"] is not None]
    tokens = sum(r["reasoning_tokens"] or 0 for r in latest)
    reported_tokens = sum(r["reported_output_tokens"] or 0 for r in latest)
    output = sum(r["output_tokens"] or 0 for r in latest)
    unreported = sorted(r["model_family"] for r in latest if not r["reported_output_tokens"])
    reading = (
        f"In {_period_label(last, col)} {pct(tokens / reported_tokens if reported_tokens else None)} of the reported "
        f"output was reasoning ({len(shares)} families), covering {pct(reported_tokens / output if output else None)} "
        "of all output"
    )
    reading += f"; {', '.join(unreported)} report no reasoning tokens (left out, not zero)." if unreported else "."
    _period_axis(fig, period.grain, {r[col] for r in data})
    return _base_layout(fig, title, reading, {f"reasoning_share_{GRAINS[col]}": data}, height=560)


# -- volume and mix -----------------------------------------------------------------------------------------


def _mix(con: duckdb.DuckDBPyConnection, period: Range, key: str) -> list[dict[str, Any]]:
    col = period.grain
    return rows(
        con,
        f"""select date_trunc('{col}', day)::date as {col}, {key}, sum(requests)::bigint as requests,
            sum(tool_call_requests)::bigint as tool_call_requests, count(distinct day) as days
        from model_mix_daily
        where day between ? and ?
        group by all
        order by {col}, {key}""",
        [period.lo, period.hi],
    )


def _stacked_volume(
    data: list[dict[str, Any]], period: Range, key: str, title: str, color: Callable[[str], str], what: str
):
    col = period.grain
    totals: dict[Any, int] = defaultdict(int)
    for r in data:
        totals[r[col]] += r["requests"]
    keys = _families_by_volume([{"model_family": r[key], "requests": r["requests"]} for r in data], "requests")
    fig = go.Figure()
    for name in keys:
        points = [r for r in data if r[key] == name]
        fig.add_trace(
            go.Bar(
                x=[r[col] for r in points],
                y=[r["requests"] for r in points],
                customdata=[[r["requests"] / totals[r[col]], r["tool_call_requests"]] for r in points],
                name=esc(name),
                marker={"color": color(name)},
                hovertemplate=f"<b>{esc(name)}</b> {_hover_period(col)}<br>%{{y:,}} requests "
                "(%{customdata[0]:.1%} of the period)<br>%{customdata[1]:,} tool calls<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack", bargap=0.15)
    fig.update_yaxes(title="requests", tickformat=",d")
    last = max(totals)
    latest = sorted((r for r in data if r[col] == last), key=lambda r: -r["requests"])
    first = min(totals)
    reading = (
        f"{totals[last]:,} requests in {_period_label(last, col)} (vs {totals[first]:,} in "
        f"{_period_label(first, col)}); the largest {what}: {latest[0][key]} "
        f"with {pct(latest[0]['requests'] / totals[last])}."
    )
    _period_axis(fig, col, {r[col] for r in data})
    return _base_layout(fig, title, reading, {"model_mix_daily": data})


def volume_by_family(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Requests per period, stacked by model family."""
    title = "Request volume by model family"
    data = _mix(con, period, "model_family")
    if not data:
        return empty_figure(title, "No requests with a known model in this period.")
    return _stacked_volume(data, period, "model_family", title, palette.family_color, "family")


def volume_by_tier(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Requests per period, stacked by model tier (frontier | small)."""
    title = "Request volume by model tier (frontier vs small models)"
    data = _mix(con, period, "model_tier")
    if not data:
        return empty_figure(title, "No requests with a known model in this period.")
    return _stacked_volume(data, period, "model_tier", title, palette.tier_color, "tier")


# -- providers ----------------------------------------------------------------------------------------------


def _provider_colors(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    names = [r["provider"] for r in rows(con, "select distinct provider from provider_uptime_daily")]
    names += [r["provider"] for r in rows(con, "select distinct first_provider as provider from failover_daily")]
    return palette.provider_colors([n for n in names if n is not None])


def provider_availability(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Each provider's availability (1 - provider faults / attempts) against the SLO."""
    title = "Provider availability against the SLO"
    col = period.grain
    data = rows(
        con,
        f"""select {col}, provider, days, days_below_slo, attempts, provider_faults, availability, slo
        from provider_uptime_{GRAINS[col]}
        where {col} between date_trunc('{col}', ?::date) and ?
        order by {col}, provider"""
        if col != "day"
        else """select day, provider, attempts, provider_faults, availability, slo, meets_slo
        from provider_uptime_daily where day between ? and ? order by day, provider""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No provider attempts in this period.")

    def days_below(r: dict[str, Any]) -> int:  # a daily row is one day, below the SLO or not
        return r["days_below_slo"] if "days_below_slo" in r else int(not r["meets_slo"])

    colors = _provider_colors(con)
    fig = go.Figure()
    for provider in sorted({r["provider"] for r in data}):
        points = [r for r in data if r["provider"] == provider]
        fig.add_trace(
            go.Scatter(
                x=[r[col] for r in points],
                y=[r["availability"] for r in points],
                customdata=[[r["provider_faults"], r["attempts"], days_below(r), r.get("days", 1)] for r in points],
                name=esc(provider),
                mode="lines+markers",
                marker={"size": 4},
                line={"color": colors.get(provider, palette.NEUTRAL), "width": 1.5},
                hovertemplate=f"<b>{esc(provider)}</b> {_hover_period(col)}<br>availability %{{y:.2%}}"
                "<br>%{customdata[0]:,} provider faults / %{customdata[1]:,} attempts"
                "<br>%{customdata[2]} of %{customdata[3]} days below the SLO<extra></extra>",
            )
        )
    slo = data[-1]["slo"]
    fig.add_hline(
        y=slo, line={"color": palette.SLO_COLOR, "dash": "dash"}, annotation_text=f"SLO {slo:.1%}".replace(".0%", "%")
    )
    low = min(r["availability"] for r in data)
    fig.update_yaxes(tickformat=".1%", title="availability", range=[max(0.0, min(low, slo) - 0.005), 1.001])
    below = defaultdict(int)
    for r in data:
        below[r["provider"]] += days_below(r)
    days_below = sum(below.values())
    worst = max(below, key=lambda p: (below[p], p))
    misses = sum(1 for r in data if r["availability"] < r["slo"])
    reading = (
        f"{misses} of {len(data)} provider-{col}s missed the {slo:.1%} SLO; {days_below} provider-days below it in "
        f"all, most for {worst} ({below[worst]} days)."
    )
    _period_axis(fig, period.grain, {r[col] for r in data})
    return _base_layout(fig, title, reading, {f"provider_uptime_{GRAINS[col]}": data})


def provider_error_rate(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Errors / attempts per provider and period, with the error classes in the hover text."""
    title = "Provider error rate (all errors per attempt)"
    col = period.grain
    data = rows(
        con,
        f"""select date_trunc('{col}', hour)::date as {col}, provider, sum(attempts)::bigint as attempts,
            sum(errors)::bigint as errors, sum(rate_limited)::bigint as rate_limited,
            sum(timeouts)::bigint as timeouts, sum(server_errors)::bigint as server_errors,
            sum(client_errors)::bigint as client_errors
        from provider_errors_hourly
        where cast(hour as date) between ? and ?
        group by all
        order by {col}, provider""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No provider attempts in this period.")
    colors = _provider_colors(con)
    fig = go.Figure()
    for provider in sorted({r["provider"] for r in data}):
        points = [r for r in data if r["provider"] == provider]
        fig.add_trace(
            go.Scatter(
                x=[r[col] for r in points],
                y=[r["errors"] / r["attempts"] if r["attempts"] else None for r in points],
                customdata=[
                    [
                        r["errors"],
                        r["attempts"],
                        r["rate_limited"],
                        r["timeouts"],
                        r["server_errors"],
                        r["client_errors"],
                    ]
                    for r in points
                ],
                name=esc(provider),
                mode="lines",
                line={"color": colors.get(provider, palette.NEUTRAL), "width": 1.5},
                hovertemplate=f"<b>{esc(provider)}</b> {_hover_period(col)}<br>error rate %{{y:.2%}}"
                "<br>%{customdata[0]:,} errors / %{customdata[1]:,} attempts<br>rate limited %{customdata[2]:,}, "
                "timeouts %{customdata[3]:,}, server %{customdata[4]:,}, client %{customdata[5]:,}<extra></extra>",
            )
        )
    fig.update_yaxes(tickformat=".1%", title="errors / attempts", rangemode="tozero")
    peak = max(data, key=lambda r: r["errors"] / r["attempts"] if r["attempts"] else 0)
    attempts = sum(r["attempts"] for r in data)
    errors = sum(r["errors"] for r in data)
    reading = (
        f"{pct(errors / attempts if attempts else None, 2)} of {attempts:,} attempts failed; the worst "
        f"{col}: {peak['provider']} in {_period_label(peak[col], col)} at "
        f"{pct(peak['errors'] / peak['attempts'] if peak['attempts'] else None, 1)}."
    )
    _period_axis(fig, period.grain, {r[col] for r in data})
    return _base_layout(fig, title, reading, {"provider_errors_hourly": data})


def availability_heatmap(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Provider x day availability: outages show as red cells."""
    title = (
        "Daily availability per provider: green meets the SLO, red misses it (darker = lower, darkest at 80% or less)"
    )
    data = rows(
        con,
        """select day, provider, attempts, provider_faults, availability, slo from provider_uptime_daily
        where day between ? and ? order by day, provider""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No provider attempts in this period.")
    days = sorted({r["day"] for r in data})
    providers = sorted({r["provider"] for r in data}, reverse=True)
    index = {(r["provider"], r["day"]): r for r in data}
    z, custom = [], []
    for provider in providers:
        z.append([index[(provider, d)]["availability"] if (provider, d) in index else None for d in days])
        custom.append(
            [
                [index[(provider, d)]["provider_faults"], index[(provider, d)]["attempts"]]
                if (provider, d) in index
                else [0, 0]
                for d in days
            ]
        )
    slo = data[-1]["slo"]
    # green at and above the SLO; below it, light red for a fault or two down to dark red at HEATMAP_FLOOR or less
    cut = (slo - HEATMAP_FLOOR) / (1 - HEATMAP_FLOOR)
    fig = go.Figure(
        go.Heatmap(
            x=days,
            y=[esc(p) for p in providers],
            z=z,
            customdata=custom,
            zmin=HEATMAP_FLOOR,
            zmax=1,
            colorscale=[[0, "#67000d"], [cut - 1e-9, "#fcbba1"], [cut, "#c7e9c0"], [1, "#1b7837"]],
            showscale=False,  # the title says it: a colour bar squeezes the green into a sliver above the SLO
            hovertemplate="<b>%{y}</b> %{x|%Y-%m-%d}<br>availability %{z:.2%}"
            "<br>%{customdata[0]:,} provider faults / %{customdata[1]:,} attempts<extra></extra>",
            xgap=0,
            ygap=1,
        )
    )
    below = [r for r in data if r["availability"] < r["slo"]]
    worst = min(data, key=lambda r: r["availability"])
    reading = (
        f"{len(below)} provider-days below the {slo:.1%} SLO out of {len(data):,}; the worst: {worst['provider']} on "
        f"{worst['day'].isoformat()} at {pct(worst['availability'], 1)}."
    )
    return _base_layout(fig, title, reading, {"provider_uptime_daily": data}, height=max(300, 60 + 26 * len(providers)))


# -- traffic and bursts -------------------------------------------------------------------------------------


def traffic_bursts(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Requests per minute over the last days of the period, burst episodes shaded."""
    title = (
        f"Traffic per minute, last {TRAFFIC_WINDOW_DAYS} days of the period, burst episodes shaded "
        f"(bands at least {BURST_BAND_MINUTES} min wide)"
    )
    [bounds] = rows(
        con,
        "select max(minute) as last_minute from traffic_minutely where cast(minute as date) between ? and ?",
        [period.lo, period.hi],
    ) or [{"last_minute": None}]
    if bounds["last_minute"] is None:
        return empty_figure(title, "No traffic in this period.")
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
            marker={"color": "#EF6C00", "size": 8, "symbol": "triangle-down"},
            hovertemplate="burst from %{x|%a %H:%M} UTC, %{customdata[3]} min<br>peak %{y:,} requests/min "
            "(baseline %{customdata[4]:.1f})<br>%{customdata[2]:,} requests, %{customdata[1]:.0%} from "
            "<b>%{customdata[0]}</b><extra></extra>",
        )
    )
    fig.update_yaxes(title="requests per minute", rangemode="tozero")
    fig.update_xaxes(tickformat="%a %d %b\n%H:%M")
    if bursts:
        hours = sorted({b["started_at"].hour for b in bursts})
        apps = defaultdict(int)
        for b in bursts:
            apps[b["top_app_id"]] += 1
        app = max(apps, key=lambda a: (apps[a], str(a)))
        reading = (
            f"{len(bursts)} burst episodes in these {TRAFFIC_WINDOW_DAYS} days, starting at "
            f"{', '.join(f'{h:02d}:00' for h in hours)} UTC; most are from {app} ({apps[app]})."
        )
    else:
        reading = f"No burst episodes in the last {TRAFFIC_WINDOW_DAYS} days of the period."
    return _base_layout(fig, title, reading, {"traffic_minutely": traffic, "bursts": bursts})


def burst_calendar(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Every burst episode of the period by date and time of day: scheduled agents line up night after night."""
    title = "Burst episodes: day and UTC time of day (size: requests in the episode)"
    data = rows(
        con,
        """select started_at, minutes, requests, peak_rpm, peak_ratio, top_app_id, top_app_share from bursts
        where cast(started_at as date) between ? and ? order by started_at""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No burst episodes in this period.")
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
                "color": "#EF6C00",
                "opacity": 0.5,
                "line": {"width": 0},
            },
            hovertemplate="%{x|%Y-%m-%d} %{text} UTC, %{customdata[3]} min<br>%{customdata[2]:,} requests, peak "
            "%{customdata[4]:,}/min (%{customdata[5]:.1f}x baseline)<br>%{customdata[1]:.0%} from "
            "<b>%{customdata[0]}</b><extra></extra>",
        )
    )
    fig.update_yaxes(title="UTC hour the episode started", range=[24, 0], dtick=3)
    overnight = sum(1 for r in data if r["started_at"].hour < 6)
    reading = f"{len(data):,} burst episodes; {pct(overnight / len(data))} of them start between 00:00 and 06:00 UTC."
    return _base_layout(fig, title, reading, {"bursts": data})


def hour_of_week(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Mean requests per hour for each weekday x hour slot (over the whole history)."""
    title = "Mean requests per hour by weekday and UTC hour (whole history)"
    data = rows(
        con, "select dow, day_name, hour, hours_observed, mean_requests, max_requests from traffic_hour_of_week"
    )
    if not data:
        return empty_figure(title, "No traffic yet.")
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
    peak = max(data, key=lambda r: r["mean_requests"] or 0)
    reading = (
        f"The busiest slot is {peak['day_name']} {peak['hour']:02d}:00 UTC at {peak['mean_requests']:,.0f} "
        "requests/hour."
    )
    return _base_layout(fig, title, reading, {"traffic_hour_of_week": data}, height=340)


# -- same model, different provider -------------------------------------------------------------------------


def wilson(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96)."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    center = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def provider_variance(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Per multi-provider model: each provider's tool-call rate with a 95% Wilson interval, and the model's rate."""
    title = "Same model, different provider: tool-call rate per provider (95% Wilson interval)"
    data = rows(
        con,
        """select window_start, window_end, model, model_family, provider, completed_requests, tool_call_requests,
            tool_call_rate, model_tool_call_rate, deviation, z_score, attempts, error_rate, p50_latency_ms
        from provider_variance where completed_requests > 0
        order by model_family, model, provider""",
    )
    if not data:
        return empty_figure(title, "No model is served by two or more providers in the window.")
    labels = [f"{esc(r['model'])} · {esc(r['provider'])}" for r in data]
    fig = go.Figure()
    for family in sorted({r["model_family"] for r in data}):
        idx = [i for i, r in enumerate(data) if r["model_family"] == family]
        lo_hi = [wilson(data[i]["tool_call_requests"], data[i]["completed_requests"]) for i in idx]
        fig.add_trace(
            go.Scatter(
                x=[data[i]["tool_call_rate"] for i in idx],
                y=[labels[i] for i in idx],
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [hi - data[i]["tool_call_rate"] for i, (_, hi) in zip(idx, lo_hi, strict=True)],
                    "arrayminus": [data[i]["tool_call_rate"] - lo for i, (lo, _) in zip(idx, lo_hi, strict=True)],
                    "thickness": 1.5,
                    "width": 4,
                },
                customdata=[
                    [
                        data[i]["tool_call_requests"],
                        data[i]["completed_requests"],
                        lo,
                        hi,
                        data[i]["z_score"] if data[i]["z_score"] is not None else float("nan"),
                        data[i]["error_rate"] or 0,
                        data[i]["model_tool_call_rate"] or 0,
                    ]
                    for i, (lo, hi) in zip(idx, lo_hi, strict=True)
                ],
                name=esc(family),
                mode="markers",
                marker={
                    "color": palette.family_color(family),
                    "size": 9,
                    "symbol": ["diamond" if abs(data[i]["z_score"] or 0) > 2 else "circle" for i in idx],
                },
                hovertemplate="<b>%{y}</b><br>tool-call rate %{x:.1%} (95%: %{customdata[2]:.1%} to "
                "%{customdata[3]:.1%})<br>%{customdata[0]:,} tool calls / %{customdata[1]:,} completed"
                "<br>model overall %{customdata[6]:.1%}, z = %{customdata[4]:.1f}<br>error rate "
                "%{customdata[5]:.1%}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[r["model_tool_call_rate"] for r in data],
            y=labels,
            name="model's rate, all providers",
            mode="markers",
            marker={"symbol": "line-ns-open", "size": 16, "color": "#333", "line": {"width": 2}},
            hovertemplate="<b>%{y}</b><br>the model over all its providers: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=".0%", title="tool calls / completed requests", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", type="category")
    window = f"{data[0]['window_start'].isoformat()} to {data[0]['window_end'].isoformat()}"
    outlier = max(data, key=lambda r: abs(r["z_score"] or 0))
    reading = (
        f"Window {window} (trailing, fixed by the mart). Biggest deviation: {outlier['model']} on "
        f"{outlier['provider']} at {pct(outlier['tool_call_rate'])} vs {pct(outlier['model_tool_call_rate'])} for the "
        f"model (z = {outlier['z_score']:.1f}); diamonds mark |z| > 2."
        if outlier["z_score"] is not None
        else f"Window {window} (trailing, fixed by the mart)."
    )
    return _base_layout(fig, title, reading, {"provider_variance": data}, height=max(360, 90 + 22 * len(data)))


# -- failover and lock-in -----------------------------------------------------------------------------------


def failover_recovery(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Per first provider: how many requests needed a fallback, and how many of those recovered."""
    title = "Failover: requests that needed a fallback, and the share recovered, by first provider"
    data = rows(
        con,
        """select first_provider, sum(requests)::bigint as requests,
            sum(requests_with_fallback)::bigint as requests_with_fallback, sum(recovered)::bigint as recovered,
            median(added_latency_ms) as added_latency_ms
        from failover_daily where day between ? and ? and first_provider is not null
        group by all having sum(requests_with_fallback) > 0
        order by requests_with_fallback desc, first_provider""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No request fell back to another attempt in this period.")
    colors = _provider_colors(con)
    fig = go.Figure(
        go.Bar(
            x=[r["recovered"] / r["requests_with_fallback"] for r in data],
            y=[esc(r["first_provider"]) for r in data],
            orientation="h",
            customdata=[
                [r["recovered"], r["requests_with_fallback"], r["requests"], r["added_latency_ms"] or 0] for r in data
            ],
            marker={"color": [colors.get(r["first_provider"], palette.NEUTRAL) for r in data]},
            name="recovery rate",
            text=[f"{r['recovered']:,} / {r['requests_with_fallback']:,}" for r in data],
            textposition="auto",
            hovertemplate="<b>%{y}</b><br>%{x:.1%} recovered: %{customdata[0]:,} of %{customdata[1]:,} requests "
            "with a fallback<br>(%{customdata[2]:,} requests first sent here)<br>added latency, median of daily "
            "medians: %{customdata[3]:,.0f} ms<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=".0%", title="recovered / requests with a fallback", range=[0, 1.02])
    fig.update_yaxes(autorange="reversed")
    with_fallback = sum(r["requests_with_fallback"] for r in data)
    recovered = sum(r["recovered"] for r in data)
    worst = min(data, key=lambda r: (r["recovered"] / r["requests_with_fallback"], r["first_provider"]))
    reading = (
        f"{with_fallback:,} requests needed a fallback, {pct(recovered / with_fallback)} recovered; the lowest "
        f"recovery after {worst['first_provider']} ({pct(worst['recovered'] / worst['requests_with_fallback'])})."
    )
    return _base_layout(fig, title, reading, {"failover_daily": data}, height=max(320, 90 + 26 * len(data)))


def app_concentration(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Apps by provider concentration (Herfindahl index): 1 = locked in to one provider."""
    title = "Provider lock-in per app: Herfindahl index of its requests across providers (whole history)"
    data = rows(
        con,
        """select app_id, requests, providers_used, models_used, top_provider, top_provider_share, provider_hhi
        from app_provider_concentration order by provider_hhi desc, app_id""",
    )
    if not data:
        return empty_figure(title, "No app with a known provider yet.")
    biggest = max(r["requests"] for r in data) or 1
    fig = go.Figure(
        go.Scatter(
            x=[r["provider_hhi"] for r in data],
            y=[r["requests"] for r in data],
            text=[esc(r["app_id"] if r["app_id"] is not None else "(no app id)") for r in data],
            customdata=[
                [r["providers_used"], r["models_used"], esc(r["top_provider"]), r["top_provider_share"] or 0]
                for r in data
            ],
            mode="markers",
            name="app",
            marker={
                "size": [8 + 16 * math.sqrt(r["requests"] / biggest) for r in data],
                "color": [r["provider_hhi"] for r in data],
                "colorscale": "OrRd",
                "cmin": 0,
                "cmax": 1,
                "line": {"width": 0.5, "color": "#333"},
            },
            hovertemplate="<b>%{text}</b><br>HHI %{x:.2f}, %{y:,} requests<br>%{customdata[0]} providers, "
            "%{customdata[1]} models<br>top provider %{customdata[2]} (%{customdata[3]:.0%})<extra></extra>",
        )
    )
    fig.update_xaxes(title="provider HHI (1 = a single provider)", range=[0, 1.05])
    fig.update_yaxes(title="requests", type="log")
    locked = sum(1 for r in data if (r["provider_hhi"] or 0) >= 0.999)
    concentrated = sum(1 for r in data if (r["provider_hhi"] or 0) > 0.5)
    reading = (
        f"{locked} of {len(data)} apps use a single provider; {concentrated} have an HHI above 0.5 (their requests "
        "concentrated on one or two providers)."
    )
    return _base_layout(fig, title, reading, {"app_provider_concentration": data})


@dataclass(frozen=True)
class Section:
    name: str
    heading: str
    builders: tuple[tuple[str, Callable[[duckdb.DuckDBPyConnection, Range], go.Figure]], ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        "agents",
        "Agent adoption: tool calls and reasoning",
        (
            ("tool_call_rate", tool_call_rate),
            ("tool_funnel", spend_speed.tool_funnel),
            ("reasoning_share", reasoning_share),
            ("reasoning_two_shares", spend_speed.reasoning_two_shares),
        ),
    ),
    Section(
        "volume",
        "Volume and model mix",
        (
            ("volume_by_family", volume_by_family),
            ("volume_by_tier", volume_by_tier),
            ("open_weights_share", spend_speed.open_weights_share),
        ),
    ),
    Section(
        "spend",
        "Spend: what agents cost",
        (("spend_by_family", spend_speed.spend_by_family), ("cost_per_completion", spend_speed.cost_per_completion)),
    ),
    Section(
        "speed",
        "Speed and context: how fast, how long",
        (("ttft_by_provider", spend_speed.ttft_by_provider), ("context_growth", spend_speed.context_growth)),
    ),
    Section(
        "reliability",
        "Provider reliability against the SLO",
        (
            ("provider_availability", provider_availability),
            ("availability_heatmap", availability_heatmap),
            ("provider_error_rate", provider_error_rate),
            ("error_budget", spend_speed.error_budget),
            ("failover_recovery", failover_recovery),
        ),
    ),
    Section(
        "traffic",
        "When agent traffic bursts",
        (("traffic_bursts", traffic_bursts), ("burst_calendar", burst_calendar), ("hour_of_week", hour_of_week)),
    ),
    Section(
        "providers",
        "Same model, different provider; lock-in",
        (("provider_variance", provider_variance), ("app_concentration", app_concentration)),
    ),
)
FIGURES: dict[str, Callable[[duckdb.DuckDBPyConnection, Range], go.Figure]] = {
    name: builder for section in SECTIONS for name, builder in section.builders
}


def build_all(con: duckdb.DuckDBPyConnection, period: Range) -> dict[str, go.Figure]:
    """Every figure of the report, by name, in report order."""
    return {name: builder(con, period) for name, builder in FIGURES.items()}
