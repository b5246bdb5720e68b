"""Section "Speed and context: how fast, how long": one model's time to first token and output speed on each of
its providers, and the median prompt per request by family. Each figure: query, draw, reading, then its `Figure`
(see `dashboards.base`)."""

from __future__ import annotations

from collections import defaultdict

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import palette
from dashboards.base import (
    LEFT_OUT,
    MAX_LINES,
    Figure,
    Range,
    Read,
    Row,
    Section,
    esc,
    in_period,
    mart,
    others_note,
    per_grain,
    period_axis,
    period_label,
    rows,
    top,
)

# -- ttft_by_provider: the most-served model on several providers, in the last period of the range ---------------


def ttft_by_provider_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """p50 and p90 time to first token and median output speed per provider of the most-served model that more
    than one provider serves, in the last period of the range."""
    col, table = period.grain, mart("provider_latency", period.grain)
    query = f"""with latest as (
            select max({col}) as period from {table} where {in_period(col)}
        ),
        served as (
            select l.* from {table} as l join latest on l.{col} = latest.period
            where l.ttft_attempts > 0
        ),
        model as (
            select model_key from served group by model_key having count(distinct provider) > 1
            order by sum(attempts) desc, model_key limit 1
        )
        select served.{col}, provider, served.model_key, sum(attempts)::bigint as attempts,
            sum(ttft_attempts)::bigint as ttft_attempts,
            -- one operation dominates a model; several are weighed by their attempts
            sum(ttft_p50_ms * ttft_attempts) / sum(ttft_attempts) as ttft_p50_ms,
            sum(ttft_p90_ms * ttft_attempts) / sum(ttft_attempts) as ttft_p90_ms,
            sum(tokens_per_second_p50 * speed_attempts) / nullif(sum(speed_attempts), 0) as tokens_per_second_p50,
            sum(speed_attempts)::bigint as speed_attempts
        from served join model using (model_key)
        group by all
        order by attempts desc, provider
        limit {MAX_LINES}"""
    return Read({table: rows(con, query, [period.lo, period.hi])})


def ttft_by_provider_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    providers = [esc(r["provider"]) for r in data]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("time to first token (ms)", "output speed (tokens/s, median)"))
    for label, name, color in (("p50", "ttft_p50_ms", "#74add1"), ("p90", "ttft_p90_ms", "#313695")):
        fig.add_trace(
            go.Bar(
                y=providers,
                x=[r[name] for r in data],
                orientation="h",
                name=f"TTFT {label}",
                marker={"color": color},
                customdata=[[r["ttft_attempts"]] for r in data],
                hovertemplate=f"<b>%{{y}}</b><br>TTFT {label} %{{x:,.0f}} ms<br>%{{customdata[0]:,}} streamed "
                "attempts<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
            y=providers,
            x=[r["tokens_per_second_p50"] for r in data],
            orientation="h",
            name="output speed p50",
            marker={"color": "#1a9850"},
            customdata=[[r["speed_attempts"]] for r in data],
            hovertemplate="<b>%{y}</b><br>%{x:,.0f} tokens/s (median)<br>%{customdata[0]:,} attempts<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(autorange="reversed")
    return fig


def ttft_by_provider_reading(read: Read, period: Range) -> str:
    col, data = period.grain, read.rows
    fastest = min(data, key=lambda r: (r["ttft_p50_ms"], r["provider"]))
    slowest = max(data, key=lambda r: (r["ttft_p50_ms"], r["provider"]))
    return (
        f"{data[0]['model_key']} in {period_label(data[0][col], col)} on {len(data)} providers: median TTFT "
        f"{fastest['ttft_p50_ms']:,.0f} ms on {fastest['provider']} to {slowest['ttft_p50_ms']:,.0f} ms on "
        f"{slowest['provider']}."
    )


ttft_by_provider = Figure(
    name="ttft_by_provider",
    title="Same model, different provider: time to first token and output speed",
    marts=per_grain("provider_latency"),
    query=ttft_by_provider_query,
    draw=ttft_by_provider_draw,
    reading=ttft_by_provider_reading,
    empty="No model served by two providers with time-to-first-token data in this period.",
    subject=lambda read: read.rows[0]["model_key"],
)


# -- context_growth: median prompt tokens per completed generation request, per family and month ----------------


def context_growth_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """Per family and month; embedding inputs are left out, and a family served through two generation operations
    (chat and responses) gets their medians weighed by requests."""
    query = """select month, model_family, sum(completed_requests)::bigint as completed_requests,
            sum(prompt_tokens_p50 * prompt_requests) / nullif(sum(prompt_requests), 0) as prompt_tokens_p50,
            max(prompt_tokens_p90) as prompt_tokens_p90, sum(prompt_requests)::bigint as prompt_requests
        from context_length_monthly
        where month between date_trunc('month', ?::date) and ? and gl_is_generation(operation)
        group by all
        having sum(prompt_requests) > 0
        order by month, model_family"""
    return Read({"context_length_monthly": rows(con, query, [period.lo, period.hi])})


def _families_by_requests(data: list[Row]) -> list[str]:
    totals: dict[str, float] = defaultdict(float)
    for r in data:
        totals[r["model_family"]] += r["completed_requests"]
    return top(totals, MAX_LINES)


def context_growth_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
    fig = go.Figure()
    for family in _families_by_requests(data):
        points = [r for r in data if r["model_family"] == family]
        fig.add_trace(
            go.Scatter(
                x=[r["month"] for r in points],
                y=[r["prompt_tokens_p50"] for r in points],
                customdata=[[r["prompt_tokens_p90"], r["prompt_requests"]] for r in points],
                name=esc(family),
                mode="lines+markers",
                line={"color": palette.family_color(family), "width": 2},
                hovertemplate=f"<b>{esc(family)}</b> %{{x|%b %Y}}<br>median %{{y:,.0f}} prompt tokens"
                "<br>p90 %{customdata[0]:,.0f}<br>%{customdata[1]:,} requests<extra></extra>",
            )
        )
    fig.update_yaxes(title="prompt tokens (median)", rangemode="tozero")
    period_axis(fig, "month", {r["month"] for r in data})
    return fig


def context_growth_reading(read: Read, period: Range) -> str:
    data = read.rows
    family = _families_by_requests(data)[0]
    leader = [r for r in data if r["model_family"] == family]
    first, last = leader[0], leader[-1]
    growth = last["prompt_tokens_p50"] / first["prompt_tokens_p50"] if first["prompt_tokens_p50"] else None
    return (
        f"{family}: median prompt {first['prompt_tokens_p50']:,.0f} tokens in {first['month']:%b %Y} -> "
        f"{last['prompt_tokens_p50']:,.0f} in {last['month']:%b %Y}"
        + (f" ({growth:.1f}x)." if growth and first is not last else ".")
        + others_note(data, _families_by_requests(data), "model_family", "families", "completed requests", LEFT_OUT)
    )


context_growth = Figure(
    name="context_growth",
    title="Prompt tokens per completed request by model family (median; p90 in the hover)",
    marts=("context_length_monthly",),
    query=context_growth_query,
    draw=context_growth_draw,
    reading=context_growth_reading,
    empty="No completed request reporting prompt tokens in this period.",
)


SECTION = Section("speed", "Speed and context: how fast, how long", (ttft_by_provider, context_growth))
