"""Section "Volume and model mix": requests stacked by model family and by tier, and output tokens by open / closed
weights and by lab. Each figure: query, draw, reading, then its `Figure` (see `dashboards.base`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import palette
from dashboards.base import (
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
    others_note,
    pct,
    period_axis,
    period_label,
    rows,
    series,
    top,
)

# -- volume_by_family, volume_by_tier: requests per period, stacked by family or by tier -------------------------


def _mix_query(key: str) -> Callable[[duckdb.DuckDBPyConnection, Range], Read]:
    """The query of requests per period and `key` (model_family or model_tier), from the daily model mix."""

    def query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
        col = period.grain
        sql = f"""select date_trunc('{col}', day)::date as {col}, {key}, sum(requests)::bigint as requests,
            sum(tool_call_requests)::bigint as tool_call_requests, count(distinct day) as days
        from model_mix_daily
        where day between ? and ?
        group by all
        order by {col}, {key}"""
        return Read({"model_mix_daily": rows(con, sql, [period.lo, period.hi])})

    return query


def _totals(data: list[Row], col: str) -> dict[Any, int]:
    """Requests per period."""
    totals: dict[Any, int] = defaultdict(int)
    for r in data:
        totals[r[col]] += r["requests"]
    return totals


def _stacked_draw(key: str, color: Callable[[str], str]) -> Callable[[Read, Range], go.Figure]:
    """Stacked bars of requests per period, one series per `key` value (largest first, the rest summed as OTHERS
    when they do not fit: `series`), coloured by `color`."""

    def draw(read: Read, period: Range) -> go.Figure:
        col, data = period.grain, read.rows
        totals = _totals(data, col)
        shown = series(data, "requests", key)
        stacks = fold_others(data, key, shown, col, ("requests", "tool_call_requests"))
        fig = go.Figure()
        for name, points in drawn_series(stacks, key, shown):
            fig.add_trace(
                go.Bar(
                    x=[r[col] for r in points],
                    y=[r["requests"] for r in points],
                    customdata=[[r["requests"] / totals[r[col]], r["tool_call_requests"]] for r in points],
                    name=esc(name),
                    marker={"color": palette.NEUTRAL if name == OTHERS else color(name)},
                    hovertemplate=f"<b>{esc(name)}</b> {hover_period(col)}<br>%{{y:,}} requests "
                    "(%{customdata[0]:.1%} of the period)<br>%{customdata[1]:,} tool calls<extra></extra>",
                )
            )
        fig.update_layout(barmode="stack", bargap=0.15)
        fig.update_yaxes(title="requests", tickformat=",d")
        period_axis(fig, col, {r[col] for r in data})
        return fig

    return draw


def _stacked_reading(key: str, what: str, plural: str) -> Callable[[Read, Range], str]:
    """The reading of a stacked volume: the last period against the first, its largest `what`, and which are
    drawn on their own when some are summed as OTHERS."""

    def reading(read: Read, period: Range) -> str:
        col, data = period.grain, read.rows
        totals = _totals(data, col)
        last, first = max(totals), min(totals)
        latest = sorted((r for r in data if r[col] == last), key=lambda r: -r["requests"])
        return (
            f"{totals[last]:,} requests in {period_label(last, col)} (vs {totals[first]:,} in "
            f"{period_label(first, col)}); the largest {what}: {latest[0][key]} "
            f"with {pct(latest[0]['requests'] / totals[last])}."
        ) + others_note(data, series(data, "requests", key), key, plural, "requests")

    return reading


volume_by_family = Figure(
    name="volume_by_family",
    title="Request volume by model family",
    marts=("model_mix_daily",),
    query=_mix_query("model_family"),
    draw=_stacked_draw("model_family", palette.family_color),
    reading=_stacked_reading("model_family", "family", "families"),
    empty="No requests with a known model in this period.",
)

volume_by_tier = Figure(
    name="volume_by_tier",
    title="Request volume by model tier (frontier vs small models)",
    marts=("model_mix_daily",),
    query=_mix_query("model_tier"),
    draw=_stacked_draw("model_tier", palette.tier_color),
    reading=_stacked_reading("model_tier", "tier", "tiers"),
    empty="No requests with a known model in this period.",
)


# -- open_weights_share: output tokens by open / closed weights (left) and by lab (right) ------------------------

_WEIGHTS = {True: ("open weights", "#1b9e77"), False: ("closed (API only)", "#7570b3"), None: ("unknown", "#bbbbbb")}


def open_weights_share_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    col = period.grain
    query = f"""select cast(date_trunc('{col}', day) as date) as {col}, model_vendor, open_weights,
            sum(output_tokens)::bigint as output_tokens
        from lab_mix_daily
        where day between date_trunc('{col}', ?::date) and ?
        group by all
        order by {col}, model_vendor, open_weights"""
    return Read({"lab_mix_daily": rows(con, query, [period.lo, period.hi])})


def _output_per_period(data: list[Row], col: str) -> dict[Any, float]:
    total: dict[Any, float] = defaultdict(float)
    for r in data:
        total[r[col]] += r["output_tokens"] or 0
    return total


def _share_trace(
    fig: go.Figure,
    periods: list[Any],
    tokens: dict[Any, float],
    total: dict[Any, float],
    name: str,
    color: str,
    col: int,
) -> None:
    """One stacked bar series of `tokens` as a share of each period's `total`."""
    fig.add_trace(
        go.Bar(
            x=periods,
            y=[tokens.get(p, 0) / total[p] if total[p] else None for p in periods],
            customdata=[[tokens.get(p, 0)] for p in periods],
            name=esc(name),
            marker={"color": color},
            legendgroup=f"panel{col}",
            hovertemplate=f"<b>{esc(name)}</b><br>%{{y:.1%}} of output (%{{customdata[0]:,.0f}} tokens)<extra></extra>",
        ),
        row=1,
        col=col,
    )


def _labs_shown(data: list[Row]) -> list[str]:
    """The labs with a series of their own in the right panel: the seven with the most output tokens."""
    labs: dict[str, float] = defaultdict(float)
    for r in data:
        labs[r["model_vendor"]] += r["output_tokens"] or 0
    return top(labs)


def open_weights_share_draw(read: Read, period: Range) -> go.Figure:
    """Left: open / closed / unknown; right: the largest seven labs, then the others."""
    col, data = period.grain, read.rows
    periods = sorted({r[col] for r in data})
    total = _output_per_period(data, col)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("open / closed weights", "lab"), horizontal_spacing=0.1)
    for key, (label, color) in _WEIGHTS.items():
        tokens = defaultdict(float)
        for r in data:
            if r["open_weights"] is key:
                tokens[r[col]] += r["output_tokens"] or 0
        if tokens:
            _share_trace(fig, periods, tokens, total, label, color, col=1)
    shown = _labs_shown(data)
    for lab in [*shown, OTHERS]:
        tokens = defaultdict(float)
        for r in data:
            if (r["model_vendor"] if r["model_vendor"] in shown else OTHERS) == lab:
                tokens[r[col]] += r["output_tokens"] or 0
        if tokens:
            color = palette.NEUTRAL if lab == OTHERS else palette.provider_colors(shown).get(lab, palette.NEUTRAL)
            _share_trace(fig, periods, tokens, total, lab, color, col=2)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    period_axis(fig, col, set(periods))
    return fig


def open_weights_share_reading(read: Read, period: Range) -> str:
    col, data = period.grain, read.rows
    total = _output_per_period(data, col)
    last = max(total)
    open_last = sum(r["output_tokens"] or 0 for r in data if r[col] == last and r["open_weights"] is True)
    leader = max((r for r in data if r[col] == last), key=lambda r: (r["output_tokens"] or 0, r["model_vendor"]))
    return (
        f"In {period_label(last, col)}: open-weight models served {pct(open_last / total[last])} of output tokens; "
        f"the largest lab-and-kind was {leader['model_vendor']} ({pct((leader['output_tokens'] or 0) / total[last])})."
    ) + others_note(data, _labs_shown(data), "model_vendor", "labs", "output tokens")


open_weights_share = Figure(
    name="open_weights_share",
    title="Output tokens by open / closed weights and by lab",
    marts=("lab_mix_daily",),
    query=open_weights_share_query,
    draw=open_weights_share_draw,
    reading=open_weights_share_reading,
    empty="No output tokens of a known model in this period.",
    drawable=lambda read: any(r["output_tokens"] for r in read.rows),
)


SECTION = Section("volume", "Volume and model mix", (volume_by_family, volume_by_tier, open_weights_share))
