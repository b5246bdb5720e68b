"""Section "Provider reliability against the SLO": availability against the SLO line, the provider x day heatmap,
the error rate, the error budget left this month, and failover recovery. Each figure: query, draw, reading, then
its `Figure` (see `dashboards.base`). A provider has one colour in every figure: its queries read the warehouse's
providers too (`provider_colors`). (Over 400 lines on purpose: one module per report section, and this section
has five figures, each a query, a drawing and a reading.)"""

from __future__ import annotations

from collections import defaultdict

import duckdb
import plotly.graph_objects as go

from dashboards import palette
from dashboards.base import (
    HEATMAP_FLOOR,
    OTHERS,
    Figure,
    Range,
    Read,
    Row,
    Section,
    drawn_series,
    esc,
    fold_others,
    hover_period,
    in_period,
    mart,
    others_note,
    pct,
    per_grain,
    period_axis,
    period_label,
    rows,
    series,
    series_line,
)

PROVIDER_COLOR_MARTS = ("provider_uptime_daily", "failover_daily")
"""The marts `provider_colors` reads: a figure that colours by provider reads them too, and declares them."""


def provider_colors(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """A colour per provider of the warehouse (not only of one figure's rows), so it is the same in every figure."""
    names = [r["provider"] for r in rows(con, "select distinct provider from provider_uptime_daily")]
    names += [r["provider"] for r in rows(con, "select distinct first_provider as provider from failover_daily")]
    return palette.provider_colors([n for n in names if n is not None])


def _with_colors(con: duckdb.DuckDBPyConnection, table: str, data: list[Row]) -> Read:
    return Read({table: data}, provider_colors(con) if data else {})


# -- provider_availability: each provider's availability (1 - provider faults / attempts) against the SLO --------


def provider_availability_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    col, table = period.grain, mart("provider_uptime", period.grain)
    query = (
        f"""select {col}, provider, days, days_below_slo, attempts, provider_faults, availability, slo
        from {table} where {in_period(col)} order by {col}, provider"""
        if col != "day"
        else """select day, provider, attempts, provider_faults, availability, slo, meets_slo
        from provider_uptime_daily where day between ? and ? order by day, provider"""
    )
    return _with_colors(con, table, rows(con, query, [period.lo, period.hi]))


def _days_below(r: Row) -> int:
    """Days below the SLO in a row: a daily row is one day, below the SLO or not."""
    return r["days_below_slo"] if "days_below_slo" in r else int(not r["meets_slo"])


_UPTIME_COUNTS = ("attempts", "provider_faults", "days_below_slo", "days")


_FAULTS_FIRST = ("provider_faults", "attempts")
"""The order of the availability lines: the providers that failed the most attempts draw theirs first (the rest
pool into a near-100% OTHERS line)."""


def _availability_lines(read: Read, period: Range) -> tuple[list[str], list[Row]]:
    """The providers with a line of their own (most provider faults first) and the rows of every line: theirs, each with
    its days below the SLO and its days, then the others' pooled per period (availability of their pooled
    attempts, their provider-days below the SLO)."""
    col = period.grain
    data = [{**r, "days_below_slo": _days_below(r), "days": r.get("days", 1)} for r in read.rows]
    shown = series(data, _FAULTS_FIRST, "provider")
    rates = {"availability": lambda r: 1 - r["provider_faults"] / r["attempts"] if r["attempts"] else None}
    return shown, fold_others(data, "provider", shown, col, _UPTIME_COUNTS, rates)


def _availability_trace(provider: str, points: list[Row], col: str, color: str) -> go.Scatter:
    days = "provider-days" if provider == OTHERS else "days"
    return go.Scatter(
        x=[r[col] for r in points],
        y=[r["availability"] for r in points],
        customdata=[[r["provider_faults"], r["attempts"], r["days_below_slo"], r["days"]] for r in points],
        name=esc(provider),
        mode="lines+markers",
        marker={"size": 4},
        line=series_line(provider, color, 1.5),
        hovertemplate=f"<b>{esc(provider)}</b> {hover_period(col)}<br>availability %{{y:.2%}}"
        "<br>%{customdata[0]:,} provider faults / %{customdata[1]:,} attempts"
        f"<br>%{{customdata[2]}} of %{{customdata[3]}} {days} below the SLO<extra></extra>",
    )


def provider_availability_draw(read: Read, period: Range) -> go.Figure:
    """The providers with the most provider faults, the rest pooled as OTHERS (`series`); the heatmap shows
    each."""
    col, data = period.grain, read.rows
    shown, lines = _availability_lines(read, period)
    fig = go.Figure()
    for provider, points in drawn_series(lines, "provider", shown):
        fig.add_trace(_availability_trace(provider, points, col, read.colors.get(provider, palette.NEUTRAL)))
    slo = data[-1]["slo"]
    fig.add_hline(
        y=slo, line={"color": palette.SLO_COLOR, "dash": "dash"}, annotation_text=f"SLO {slo:.1%}".replace(".0%", "%")
    )
    low = min(r["availability"] for r in lines)
    fig.update_yaxes(tickformat=".1%", title="availability", range=[max(0.0, min(low, slo) - 0.005), 1.001])
    period_axis(fig, col, {r[col] for r in data})
    return fig


def provider_availability_reading(read: Read, period: Range) -> str:
    col, data = period.grain, read.rows
    below: dict[str, int] = defaultdict(int)
    for r in data:
        below[r["provider"]] += _days_below(r)
    worst = max(below, key=lambda p: (below[p], p))
    misses = sum(1 for r in data if r["availability"] < r["slo"])
    shown, _ = _availability_lines(read, period)
    return (
        f"{misses} of {len(data)} provider-{col}s missed the {data[-1]['slo']:.1%} SLO; {sum(below.values())} "
        f"provider-days below it in all, most for {worst} ({below[worst]} days)."
    ) + others_note(data, shown, "provider", "providers", "provider faults")


provider_availability = Figure(
    name="provider_availability",
    title="Provider availability against the SLO",
    marts=(*per_grain("provider_uptime"), *PROVIDER_COLOR_MARTS),
    query=provider_availability_query,
    draw=provider_availability_draw,
    reading=provider_availability_reading,
    empty="No provider attempts in this period.",
)


# -- availability_heatmap: provider x day availability, outages as red cells --------------------------------------


def availability_heatmap_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    query = """select day, provider, attempts, provider_faults, availability, slo from provider_uptime_daily
        where day between ? and ? order by day, provider"""
    return Read({"provider_uptime_daily": rows(con, query, [period.lo, period.hi])})


def _heatmap_providers(data: list[Row]) -> list[str]:
    """The heatmap's rows, top to bottom."""
    return sorted({r["provider"] for r in data}, reverse=True)


def availability_heatmap_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    days = sorted({r["day"] for r in data})
    providers = _heatmap_providers(data)
    index = {(r["provider"], r["day"]): r for r in data}
    cells = [[index.get((provider, d)) for d in days] for provider in providers]  # None: no attempts that day
    z = [[c["availability"] if c else None for c in row] for row in cells]
    custom = [[[c["provider_faults"], c["attempts"]] if c else [0, 0] for c in row] for row in cells]
    # green at and above the SLO; below it, light red for a fault or two down to dark red at HEATMAP_FLOOR or less
    cut = (data[-1]["slo"] - HEATMAP_FLOOR) / (1 - HEATMAP_FLOOR)
    return go.Figure(
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


def availability_heatmap_reading(read: Read, period: Range) -> str:
    data = read.rows
    below = [r for r in data if r["availability"] < r["slo"]]
    worst = min(data, key=lambda r: r["availability"])
    return (
        f"{len(below)} provider-days below the {data[-1]['slo']:.1%} SLO out of {len(data):,}; the worst: "
        f"{worst['provider']} on {worst['day'].isoformat()} at {pct(worst['availability'], 1)}."
    )


availability_heatmap = Figure(
    name="availability_heatmap",
    title="Daily availability per provider: green meets the SLO, red misses it "
    "(darker = lower, darkest at 80% or less)",
    marts=("provider_uptime_daily",),
    query=availability_heatmap_query,
    draw=availability_heatmap_draw,
    reading=availability_heatmap_reading,
    empty="No provider attempts in this period.",
    height=lambda read: max(300, 60 + 26 * len(_heatmap_providers(read.rows))),
)


# -- provider_error_rate: errors / attempts per provider and period, the error classes in the hover --------------


def provider_error_rate_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    col = period.grain
    query = f"""select date_trunc('{col}', hour)::date as {col}, provider, sum(attempts)::bigint as attempts,
            sum(errors)::bigint as errors, sum(rate_limited)::bigint as rate_limited,
            sum(timeouts)::bigint as timeouts, sum(server_errors)::bigint as server_errors,
            sum(client_errors)::bigint as client_errors
        from provider_errors_hourly
        where cast(hour as date) between ? and ?
        group by all
        order by {col}, provider"""
    return _with_colors(con, "provider_errors_hourly", rows(con, query, [period.lo, period.hi]))


_ERROR_HOVER = ("errors", "attempts", "rate_limited", "timeouts", "server_errors", "client_errors")
"""customdata[0..5] of an error-rate point, in the order its hover template names them."""


_ERRORS_FIRST = ("errors", "attempts")
"""The order of the error-rate lines: the providers that failed the most attempts draw theirs first."""


def _error_rate(r: Row) -> float | None:
    return r["errors"] / r["attempts"] if r["attempts"] else None


def _error_rate_trace(provider: str, points: list[Row], col: str, color: str) -> go.Scatter:
    pooled = "<br>%{customdata[6]} providers pooled" if provider == OTHERS else ""
    return go.Scatter(
        x=[r[col] for r in points],
        y=[_error_rate(r) for r in points],
        customdata=[[*(r[c] for c in _ERROR_HOVER), r.get("pooled")] for r in points],
        name=esc(provider),
        mode="lines",
        line=series_line(provider, color, 1.5),
        hovertemplate=f"<b>{esc(provider)}</b> {hover_period(col)}<br>error rate %{{y:.2%}}"
        "<br>%{customdata[0]:,} errors / %{customdata[1]:,} attempts<br>rate limited %{customdata[2]:,}, "
        f"timeouts %{{customdata[3]:,}}, server %{{customdata[4]:,}}, client %{{customdata[5]:,}}{pooled}"
        "<extra></extra>",
    )


def provider_error_rate_draw(read: Read, period: Range) -> go.Figure:
    """The providers with the most errors, the rest pooled as OTHERS (`series`): their errors over their
    attempts."""
    col, data = period.grain, read.rows
    shown = series(data, _ERRORS_FIRST, "provider")
    lines = fold_others(data, "provider", shown, col, _ERROR_HOVER)
    fig = go.Figure()
    for provider, points in drawn_series(lines, "provider", shown):
        fig.add_trace(_error_rate_trace(provider, points, col, read.colors.get(provider, palette.NEUTRAL)))
    fig.update_yaxes(tickformat=".1%", title="errors / attempts", rangemode="tozero")
    period_axis(fig, col, {r[col] for r in data})
    return fig


def provider_error_rate_reading(read: Read, period: Range) -> str:
    col, data = period.grain, read.rows
    peak = max(data, key=lambda r: _error_rate(r) or 0)
    attempts = sum(r["attempts"] for r in data)
    errors = sum(r["errors"] for r in data)
    return (
        f"{pct(errors / attempts if attempts else None, 2)} of {attempts:,} attempts failed; the worst "
        f"{col}: {peak['provider']} in {period_label(peak[col], col)} at {pct(_error_rate(peak), 1)}."
    ) + others_note(data, series(data, _ERRORS_FIRST, "provider"), "provider", "providers", "errors")


provider_error_rate = Figure(
    name="provider_error_rate",
    title="Provider error rate (all errors per attempt)",
    marts=("provider_errors_hourly", *PROVIDER_COLOR_MARTS),
    query=provider_error_rate_query,
    draw=provider_error_rate_draw,
    reading=provider_error_rate_reading,
    empty="No provider attempts in this period.",
)


# -- error_budget: each provider's error budget left in the last month of the range, by burn-rate alert ----------

_ALERT_COLORS = {"page": "#d73027", "ticket": "#fc8d59", "ok": "#1a9850"}
_BUDGET_HOVER = (
    "budget_left",
    "provider_faults",
    "allowed_faults",
    "burn_rate_1h",
    "burn_rate_6h",
    "burn_rate_3d",
    "alert",
)
"""customdata[0..6] of a budget bar, in the order its hover template names them."""


def error_budget_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """The twelve providers with the most attempts in the last month of the range, least budget left first."""
    query = """select month, provider, attempts, provider_faults, allowed_faults, budget_left, burn_rate_1h,
            burn_rate_6h, burn_rate_3d, alert, slo
        from provider_error_budget_monthly
        where month = (select max(month) from provider_error_budget_monthly
                       where month between date_trunc('month', ?::date) and ?)
        order by attempts desc, provider
        limit 12"""
    data = rows(con, query, [period.lo, period.hi])
    data.sort(key=lambda r: (r["budget_left"], r["provider"]))
    return Read({"provider_error_budget_monthly": data})


def error_budget_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    fig = go.Figure(
        go.Bar(
            y=[esc(r["provider"]) for r in data],
            x=[max(r["budget_left"], -1.0) for r in data],
            orientation="h",
            marker={"color": [_ALERT_COLORS[r["alert"]] for r in data]},
            text=[f"{r['budget_left']:.0%} · burn {r['alert']}" for r in data],
            textposition="auto",
            customdata=[[r[c] for c in _BUDGET_HOVER] for r in data],
            hovertemplate="<b>%{y}</b><br>budget left %{customdata[0]:.0%}<br>%{customdata[1]:,} faults of "
            "%{customdata[2]:,.1f} allowed<br>burn 1h %{customdata[3]:.1f}, 6h %{customdata[4]:.1f}, "
            "3d %{customdata[5]:.1f}: %{customdata[6]}<extra></extra>",
            showlegend=False,
        )
    )
    fig.add_vline(x=0, line={"color": "#444", "width": 1})
    fig.update_xaxes(
        tickformat=".0%",
        range=[-1.05, 1.05],
        title="budget left (overspent budgets drawn at -100%); colour: burn-rate alert "
        "(red page, orange ticket, green ok)",
    )
    return fig


def error_budget_reading(read: Read, period: Range) -> str:
    data = read.rows
    month, slo = data[0]["month"], data[0]["slo"]
    spent = [r for r in data if r["budget_left"] < 0]
    paging = [r["provider"] for r in data if r["alert"] == "page"]
    return f"{month:%b %Y} at a {slo:.1%} SLO: {len(spent)} of {len(data)} providers have overspent their budget" + (
        f"; burning fast enough to page: {', '.join(paging)}." if paging else "; none burns fast enough to page."
    )


error_budget = Figure(
    name="error_budget",
    title="Error budget left this month, by provider",
    marts=("provider_error_budget_monthly",),
    query=error_budget_query,
    draw=error_budget_draw,
    reading=error_budget_reading,
    empty="No provider attempts in this period.",
    height=lambda read: max(260, 40 * len(read.rows) + 120),
)


# -- failover_recovery: per first provider, the requests that needed a fallback and the share recovered ----------


def failover_recovery_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    query = """select first_provider, sum(requests)::bigint as requests,
            sum(requests_with_fallback)::bigint as requests_with_fallback, sum(recovered)::bigint as recovered,
            median(added_latency_ms) as added_latency_ms
        from failover_daily where day between ? and ? and first_provider is not null
        group by all having sum(requests_with_fallback) > 0
        order by requests_with_fallback desc, first_provider"""
    return _with_colors(con, "failover_daily", rows(con, query, [period.lo, period.hi]))


def _recovery(r: Row) -> float:
    return r["recovered"] / r["requests_with_fallback"]


def failover_recovery_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    fig = go.Figure(
        go.Bar(
            x=[_recovery(r) for r in data],
            y=[esc(r["first_provider"]) for r in data],
            orientation="h",
            customdata=[
                [r["recovered"], r["requests_with_fallback"], r["requests"], r["added_latency_ms"] or 0] for r in data
            ],
            marker={"color": [read.colors.get(r["first_provider"], palette.NEUTRAL) for r in data]},
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
    return fig


def failover_recovery_reading(read: Read, period: Range) -> str:
    data = read.rows
    with_fallback = sum(r["requests_with_fallback"] for r in data)
    recovered = sum(r["recovered"] for r in data)
    worst = min(data, key=lambda r: (_recovery(r), r["first_provider"]))
    return (
        f"{with_fallback:,} requests needed a fallback, {pct(recovered / with_fallback)} recovered; the lowest "
        f"recovery after {worst['first_provider']} ({pct(_recovery(worst))})."
    )


failover_recovery = Figure(
    name="failover_recovery",
    title="Failover: requests that needed a fallback, and the share recovered, by first provider",
    marts=("failover_daily", *PROVIDER_COLOR_MARTS),
    query=failover_recovery_query,
    draw=failover_recovery_draw,
    reading=failover_recovery_reading,
    empty="No request fell back to another attempt in this period.",
    height=lambda read: max(320, 90 + 26 * len(read.rows)),
)


SECTION = Section(
    "reliability",
    "Provider reliability against the SLO",
    (provider_availability, availability_heatmap, provider_error_rate, error_budget, failover_recovery),
)
