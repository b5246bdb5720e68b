"""Section "Spend: what agents cost": spend stacked by family, and the cost per completed request and per tool-call
completion. Unknown cost stays unknown: never drawn as $0. Each figure: query, draw, reading, then its `Figure`
(see `dashboards.base`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import palette
from dashboards.base import (
    LEFT_OUT,
    MAX_LINES,
    OTHERS,
    Figure,
    Range,
    Read,
    Row,
    Section,
    esc,
    hover_period,
    in_period,
    mart,
    others_note,
    pct,
    per_grain,
    period_axis,
    period_label,
    rows,
    top,
    usd,
)

NO_MODEL = "(no model)"


def spend_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """Spend, requests and the completions that report a cost, per period and family (both figures read this)."""
    col, table = period.grain, mart("spend", period.grain)
    query = f"""select {col}, model_family, sum(requests)::bigint as requests,
            sum(cost_reported_requests)::bigint as cost_reported_requests, sum(cost_usd) as cost_usd,
            sum(completed_with_cost)::bigint as completed_with_cost,
            sum(tool_call_completions_with_cost)::bigint as tool_call_completions_with_cost
        from {table}
        where {in_period(col)}
        group by all
        order by {col}, model_family nulls last"""
    return Read({table: rows(con, query, [period.lo, period.hi])})


# -- spend_by_family: what the traffic cost per period, the largest seven families, then the others -------------


def _cost_by_family(data: list[Row]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for r in data:
        totals[r["model_family"] or NO_MODEL] += r["cost_usd"] or 0
    return totals


def spend_by_family_draw(read: Read, period: Range) -> go.Figure:
    col, data = period.grain, read.rows
    shown = top(_cost_by_family(data))
    stacked: dict[tuple[Any, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in data:
        family = r["model_family"] or NO_MODEL
        key = (r[col], family if family in shown else OTHERS)
        for name in ("cost_usd", "requests", "cost_reported_requests"):
            stacked[key][name] += r[name] or 0
    fig = go.Figure()
    for family in [*shown, OTHERS]:
        points = sorted((p, v) for (p, f), v in stacked.items() if f == family)
        if not points:
            continue
        fig.add_trace(
            go.Bar(
                x=[p for p, _ in points],
                y=[v["cost_usd"] for _, v in points],
                customdata=[[v["cost_reported_requests"], v["requests"]] for _, v in points],
                name=esc(family),
                marker={"color": palette.NEUTRAL if family == OTHERS else palette.family_color(family)},
                hovertemplate=f"<b>{esc(family)}</b> {hover_period(col)}<br>spend $%{{y:,.2f}}"
                "<br>%{customdata[0]:,} of %{customdata[1]:,} requests report a cost<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="spend (USD)", tickprefix="$", rangemode="tozero")
    period_axis(fig, col, {r[col] for r in data})
    return fig


def spend_by_family_reading(read: Read, period: Range) -> str:
    data = read.rows
    totals = _cost_by_family(data)
    spend = sum(totals.values())
    requests = sum(r["requests"] for r in data)
    reported = sum(r["cost_reported_requests"] for r in data)
    leader = top(totals)[0]
    share = totals[leader] / spend if spend else None
    return (
        f"{usd(spend)} over {requests:,} requests in the period; {leader} {pct(share)} of it."
        f" {pct(reported / requests if requests else None)} of requests report a cost: the rest are unknown,"
        " not free."
    ) + others_note(data, top(totals), "model_family", "families", "spend")


spend_by_family = Figure(
    name="spend_by_family",
    title="Spend by model family",
    marts=per_grain("spend"),
    query=spend_query,
    draw=spend_by_family_draw,
    reading=spend_by_family_reading,
    empty="No request in this period reports a cost.",
    drawable=lambda read: any(r["cost_usd"] is not None for r in read.rows),
)


# -- cost_per_completion: per completed request (left) and per tool-call completion, an agent step (right) -------

_PER = (
    ("per completed request", "completed_with_cost"),
    ("per tool-call completion", "tool_call_completions_with_cost"),
)


def _priced(read: Read) -> list[Row]:
    """The rows of a known family with a reported cost: the period's cost over the completions that report one
    (failed attempts that were billed included). The CSV keeps every row read."""
    return [r for r in read.rows if r["cost_usd"] is not None and r["model_family"] is not None]


def _families_by_cost(data: list[Row]) -> list[str]:
    totals: dict[str, float] = defaultdict(float)
    for r in data:
        totals[r["model_family"]] += r["cost_usd"]
    return top(totals, MAX_LINES)


def cost_per_completion_draw(read: Read, period: Range) -> go.Figure:
    col, data = period.grain, _priced(read)
    fig = make_subplots(rows=1, cols=2, subplot_titles=[label for label, _ in _PER], horizontal_spacing=0.08)
    for family in _families_by_cost(data):
        for column, (label, count) in enumerate(_PER, start=1):
            kept = [r for r in data if r["model_family"] == family and r[count]]
            if not kept:  # no tool-call completion with a cost: no line (an empty trace draws nothing)
                continue
            fig.add_trace(
                go.Scatter(
                    x=[r[col] for r in kept],
                    y=[r["cost_usd"] / r[count] for r in kept],
                    customdata=[[r[count]] for r in kept],
                    name=esc(family),
                    legendgroup=esc(family),
                    showlegend=column == 1,
                    mode="lines+markers",
                    line={"color": palette.family_color(family), "width": 2},
                    marker={"size": 4},
                    hovertemplate=f"<b>{esc(family)}</b> {hover_period(col)}<br>$%{{y:.4f}} {label}"
                    "<br>over %{customdata[0]:,} with a reported cost<extra></extra>",
                ),
                row=1,
                col=column,
            )
    fig.update_yaxes(tickprefix="$", rangemode="tozero")
    period_axis(fig, col, {r[col] for r in data})
    return fig


def cost_per_completion_reading(read: Read, period: Range) -> str:
    col, data = period.grain, _priced(read)
    leader = _families_by_cost(data)[0]
    mine = [r for r in data if r["model_family"] == leader and r["completed_with_cost"]]
    first, last = mine[0], mine[-1]
    before, after = (usd(r["cost_usd"] / r["completed_with_cost"]) for r in (first, last))
    return (
        f"{leader} (the largest spend): {before} per completed request in "
        f"{period_label(first[col], col)} -> {after} in "
        f"{period_label(last[col], col)}; failed attempts that were billed are included."
    ) + others_note(data, _families_by_cost(data), "model_family", "families", "spend", LEFT_OUT)


cost_per_completion = Figure(
    name="cost_per_completion",
    title="Cost per completed request and per tool-call completion",
    marts=per_grain("spend"),
    query=spend_query,
    draw=cost_per_completion_draw,
    reading=cost_per_completion_reading,
    empty="No completed request with a reported cost in this period.",
    drawable=lambda read: any(r["completed_with_cost"] for r in _priced(read)),
)


SECTION = Section("spend", "Spend: what agents cost", (spend_by_family, cost_per_completion))
