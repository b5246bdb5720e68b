"""Section "Agent adoption: tool calls and reasoning": the tool-call rate by family, the tool funnel, the reasoning
share with its coverage, and the two reasoning shares side by side. Each figure: query, draw, reading, then its
`Figure` (see `dashboards.base`)."""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import palette
from dashboards.base import (
    LOW_COVERAGE,
    MAX_LINES,
    OTHERS,
    Figure,
    Range,
    Read,
    Row,
    Section,
    by_volume,
    days_column,
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


def _ratio(row: Row, part: str, whole: str) -> float | None:
    """row[part] / row[whole], None when either is unknown or the whole is 0."""
    return row[part] / row[whole] if row[part] is not None and row[whole] else None


# -- tool_call_rate: share of completed requests ending in a tool call, per family over time ------------------


def tool_call_rate_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    col, table = period.grain, mart("tool_call_rate", period.grain)
    query = f"""select {col}, model_family, {days_column(col)} as days, completed_requests, tool_call_requests,
            tool_call_rate
        from {table}
        where {in_period(col)} and model_family is not null
        order by {col}"""
    return Read({table: rows(con, query, [period.lo, period.hi])})


_TOOL_COUNTS = ("completed_requests", "tool_call_requests")


def _tool_call_rate(row: Row) -> float | None:
    return _ratio(row, "tool_call_requests", "completed_requests")


def _tool_rate_trace(family: str, points: list[Row], col: str) -> go.Scatter:
    """One family's tool-call rate; the OTHERS line's hover says how many families it pools instead of days."""
    last = "%{customdata[2]} families pooled" if family == OTHERS else "%{customdata[2]} days"
    return go.Scatter(
        x=[r[col] for r in points],
        y=[r["tool_call_rate"] for r in points],
        customdata=[[r["tool_call_requests"], r["completed_requests"], r.get("pooled", r.get("days"))] for r in points],
        name=esc(family),
        mode="lines+markers",
        line=series_line(family, palette.family_color(family), 2),
        marker={"size": 5},
        hovertemplate=f"<b>{esc(family)}</b> {hover_period(col)}<br>tool-call rate %{{y:.1%}}"
        f"<br>%{{customdata[0]:,}} tool calls / %{{customdata[1]:,}} completed<br>{last}<extra></extra>",
    )


def tool_call_rate_draw(read: Read, period: Range) -> go.Figure:
    """The largest families by completed requests, the rest pooled as one OTHERS line (`series`)."""
    col, data = period.grain, read.rows
    shown = series(data, "completed_requests")
    lines = fold_others(data, "model_family", shown, col, _TOOL_COUNTS, {"tool_call_rate": _tool_call_rate})
    fig = go.Figure()
    for family, points in drawn_series(lines, "model_family", shown):
        fig.add_trace(_tool_rate_trace(family, points, col))
    fig.update_yaxes(tickformat=".0%", title="tool calls / completed requests", rangemode="tozero")
    period_axis(fig, col, {r[col] for r in data})
    return fig


def tool_call_rate_reading(read: Read, period: Range) -> str:
    col, data = period.grain, read.rows
    families = by_volume(data, "completed_requests")
    last = max(r[col] for r in data)
    latest = sorted((r for r in data if r[col] == last), key=lambda r: -(r["tool_call_rate"] or 0))
    top = families[0]
    top_rows = [r for r in data if r["model_family"] == top]
    reading = (
        f"{top} (the largest family): {pct(top_rows[0]['tool_call_rate'])} in "
        f"{period_label(top_rows[0][col], col)} -> {pct(top_rows[-1]['tool_call_rate'])} in "
        f"{period_label(top_rows[-1][col], col)}; highest in {period_label(last, col)}: "
        f"{latest[0]['model_family']} at {pct(latest[0]['tool_call_rate'])}."
    )
    if "Claude" in families and top != "Claude":
        claude = [r for r in data if r["model_family"] == "Claude"]
        reading += (
            f" Claude: {pct(claude[0]['tool_call_rate'])} -> {pct(claude[-1]['tool_call_rate'])} over the period."
        )
    shown = series(data, "completed_requests")
    return reading + others_note(data, shown, "model_family", "families", "completed requests")


tool_call_rate = Figure(
    name="tool_call_rate",
    title="Tool-call termination rate by model family",
    marts=per_grain("tool_call_rate"),
    query=tool_call_rate_query,
    draw=tool_call_rate_draw,
    reading=tool_call_rate_reading,
    empty="No completed requests with a known model in this period.",
)


# -- tool_funnel: per family, the share offering tools, of those using them, and ending in a tool call ---------

_FUNNEL = (
    ("offer tools", "tools_offered_requests", "tools_logged_requests", "#9ecae1"),
    ("of those, use them", "tool_use_requests", "tools_offered_requests", "#4292c6"),
    ("end in a tool call", "tool_call_requests", "completed_requests", "#08519c"),
)


def tool_funnel_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    col, table = period.grain, mart("tool_call_rate", period.grain)
    query = f"""select model_family, sum(completed_requests)::bigint as completed_requests,
            sum(tool_call_requests)::bigint as tool_call_requests,
            sum(tools_logged_requests)::bigint as tools_logged_requests,
            sum(tools_offered_requests)::bigint as tools_offered_requests,
            sum(tool_use_requests)::bigint as tool_use_requests
        from {table}
        where {in_period(col)} and model_family is not null
        group by all
        having sum(completed_requests) > 0
        order by completed_requests desc, model_family
        limit {MAX_LINES}"""
    return Read({table: rows(con, query, [period.lo, period.hi])})


def tool_funnel_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    families = [r["model_family"] for r in data]
    fig = go.Figure()
    for label, part, whole, color in _FUNNEL:
        fig.add_trace(
            go.Bar(
                x=[esc(f) for f in families],
                y=[_ratio(r, part, whole) for r in data],
                customdata=[[r[part], r[whole], r["tools_logged_requests"], r["completed_requests"]] for r in data],
                name=label,
                marker={"color": color},
                hovertemplate=f"<b>%{{x}}</b><br>{label}: %{{y:.1%}} (%{{customdata[0]:,}} / %{{customdata[1]:,}})"
                "<br>tools offered logged for %{customdata[2]:,} of %{customdata[3]:,} completed<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title="share")
    return fig


def tool_funnel_reading(read: Read, period: Range) -> str:
    top = read.rows[0]
    coverage = _ratio(top, "tools_logged_requests", "completed_requests")
    return (
        f"{top['model_family']}: {pct(_ratio(top, 'tools_offered_requests', 'tools_logged_requests'))} of completed "
        f"requests offer tools, {pct(_ratio(top, 'tool_use_requests', 'tools_offered_requests'))} of those use them, "
        f"{pct(_ratio(top, 'tool_call_requests', 'completed_requests'))} end in a tool call; the first two rest on the "
        f"{pct(coverage)} of requests whose log says how many tools were offered."
    )


tool_funnel = Figure(
    name="tool_funnel",
    title="The tool funnel: offered, used, ended in a tool call",
    marts=per_grain("tool_call_rate"),
    query=tool_funnel_query,
    draw=tool_funnel_draw,
    reading=tool_funnel_reading,
    empty="No completed requests with a known model in this period.",
)


# -- reasoning_share: reasoning tokens / output per family, with the coverage the share describes under it ----


def reasoning_share_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    col, table = period.grain, mart("reasoning_share", period.grain)
    query = f"""select {col}, model_family, {days_column(col)} as days, output_tokens, reported_output_tokens,
            reasoning_tokens, reasoning_share, reasoning_coverage
        from {table}
        where {in_period(col)} and model_family is not null
        order by {col}"""
    return Read({table: rows(con, query, [period.lo, period.hi])})


def _reasoning_traces(fig: go.Figure, family: str, points: list[Row], col: str) -> None:
    """A family's share (top panel, hollow markers where coverage is low) and coverage (bottom panel; in the legend
    only when the family reports no reasoning at all); or those of the OTHERS pooled."""
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
                line=series_line(family, color, 2),
                # hollow markers where less than half of the output reports reasoning: read with care
                marker={
                    "size": 7,
                    "symbol": [
                        "circle-open" if (r["reasoning_coverage"] or 0) < LOW_COVERAGE else "circle" for r in reported
                    ],
                },
                hovertemplate=f"<b>{esc(family)}</b> {hover_period(col)}<br>reasoning share %{{y:.1%}}"
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
            line={**series_line(family, color, 1.5), "dash": "dot"},
            hovertemplate=f"<b>{esc(family)}</b> {hover_period(col)}<br>coverage %{{y:.0%}}"
            "<br>%{customdata[1]:,} of %{customdata[2]:,} output tokens report reasoning<extra></extra>",
        ),
        row=2,
        col=1,
    )


_REASONING_TOKENS = ("output_tokens", "reported_output_tokens", "reasoning_tokens")
_REASONING_RATES = {
    "reasoning_share": lambda r: _ratio(r, "reasoning_tokens", "reported_output_tokens"),
    "reasoning_coverage": lambda r: _ratio(r, "reported_output_tokens", "output_tokens"),
}
"""How the OTHERS rows get their share and coverage: from their pooled tokens, as the mart computes a family's."""


def reasoning_share_draw(read: Read, period: Range) -> go.Figure:
    """The largest families by output tokens, the rest pooled as OTHERS (`series`), in both panels."""
    col, data = period.grain, read.rows
    shown = series(data, "output_tokens")
    lines = fold_others(data, "model_family", shown, col, _REASONING_TOKENS, _REASONING_RATES)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    for family, points in drawn_series(lines, "model_family", shown):
        _reasoning_traces(fig, family, points, col)
    fig.update_yaxes(tickformat=".0%", title="reasoning share", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", title="coverage", range=[0, 1.05], row=2, col=1)
    period_axis(fig, col, {r[col] for r in data})
    return fig


def reasoning_share_reading(read: Read, period: Range) -> str:
    col, data = period.grain, read.rows
    last = max(r[col] for r in data)
    latest = [r for r in data if r[col] == last]
    shares = [r for r in latest if r["reasoning_share"] is not None]
    tokens = sum(r["reasoning_tokens"] or 0 for r in latest)
    reported_tokens = sum(r["reported_output_tokens"] or 0 for r in latest)
    output = sum(r["output_tokens"] or 0 for r in latest)
    unreported = sorted(r["model_family"] for r in latest if not r["reported_output_tokens"])
    reading = (
        f"In {period_label(last, col)} {pct(tokens / reported_tokens if reported_tokens else None)} of the reported "
        f"output was reasoning ({len(shares)} families), covering {pct(reported_tokens / output if output else None)} "
        "of all output"
    )
    if unreported:
        reading += f"; {', '.join(unreported)} report no reasoning tokens (left out, not zero)"
    shown = series(data, "output_tokens")
    return f"{reading}." + others_note(data, shown, "model_family", "families", "output tokens")


reasoning_share = Figure(
    name="reasoning_share",
    title="Reasoning share of output tokens (top) and how much of the output reports it (bottom)",
    marts=per_grain("reasoning_share"),
    query=reasoning_share_query,
    draw=reasoning_share_draw,
    reading=reasoning_share_reading,
    empty="No completed requests with output tokens in this period.",
    height=560,
)


# -- reasoning_two_shares: reasoning tokens / output, and output served by models seen reasoning -----------------

_TWO_SHARES = (
    ("reasoning tokens / output tokens (logs that report reasoning)", "reasoning_tokens", "reported_output_tokens"),
    ("output served by reasoning-capable models / all output", "capable_output_tokens", "output_tokens"),
)


def reasoning_two_shares_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    col, table = period.grain, mart("reasoning_share", period.grain)
    query = f"""select {col}, sum(output_tokens)::bigint as output_tokens,
            sum(reported_output_tokens)::bigint as reported_output_tokens,
            sum(reasoning_tokens)::bigint as reasoning_tokens,
            sum(capable_output_tokens)::bigint as capable_output_tokens
        from {table}
        where {in_period(col)}
        group by all
        having sum(output_tokens) > 0
        order by {col}"""
    return Read({table: rows(con, query, [period.lo, period.hi])})


def reasoning_two_shares_draw(read: Read, period: Range) -> go.Figure:
    col, data = period.grain, read.rows
    fig = go.Figure()
    for (label, part, whole), dash in zip(_TWO_SHARES, ("solid", "dash"), strict=True):
        kept = [r for r in data if r[whole]]
        fig.add_trace(
            go.Scatter(
                x=[r[col] for r in kept],
                y=[r[part] / r[whole] for r in kept],
                customdata=[[r[part], r[whole]] for r in kept],
                name=label,
                mode="lines+markers",
                line={"color": "#6a3d9a", "dash": dash, "width": 2},
                hovertemplate=f"{hover_period(col)}<br>{label}<br>%{{y:.1%}} = %{{customdata[0]:,}} / "
                "%{customdata[1]:,} tokens<extra></extra>",
            )
        )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title="share of output tokens")
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.2})
    period_axis(fig, col, {r[col] for r in data})
    return fig


def reasoning_two_shares_reading(read: Read, period: Range) -> str:
    col, last = period.grain, read.rows[-1]
    return (
        f"In {period_label(last[col], col)}: reasoning is "
        f"{pct(_ratio(last, 'reasoning_tokens', 'reported_output_tokens'))} of output tokens where logs report it, and "
        f"models seen reasoning served {pct(_ratio(last, 'capable_output_tokens', 'output_tokens'))} of all output. "
        "Quote the one you mean."
    )


reasoning_two_shares = Figure(
    name="reasoning_two_shares",
    title="Two reasoning shares: of output tokens, and of output from reasoning models",
    marts=per_grain("reasoning_share"),
    query=reasoning_two_shares_query,
    draw=reasoning_two_shares_draw,
    reading=reasoning_two_shares_reading,
    empty="No output tokens in this period.",
)


SECTION = Section(
    "agents",
    "Agent adoption: tool calls and reasoning",
    (tool_call_rate, tool_funnel, reasoning_share, reasoning_two_shares),
)
