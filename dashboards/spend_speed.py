"""Figure builders of the Spend and Speed sections, and of the tool funnel, the two reasoning shares and the error
budget: what a leadership review asks after adoption (what does it cost, how fast is it, do agents use their tools,
how much budget is left). Same contract as `dashboards.figures`: marts in, a Plotly figure out, an empty state
that says why, a one-line reading in `fig.layout.meta["reading"]`, labels from logs escaped. A chart never draws
more than MAX_LINES series on one axis: the rest are summed as "others" or left to the hover text.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards import palette
from dashboards.base import (
    GRAINS,
    Range,
    _base_layout,
    _hover_period,
    _period_axis,
    _period_label,
    empty_figure,
    esc,
    pct,
    rows,
)

MAX_LINES = 8
OTHERS = "others"
NO_MODEL = "(no model)"


def usd(value: float | None) -> str:
    """Dollars with the precision small numbers need ($0.0042, $12.30, $1,234)."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.2g}" if value else "$0"


def _top(totals: dict[str, float], keep: int = MAX_LINES - 1) -> list[str]:
    """The `keep` largest keys (ties by name); the caller sums the rest as OTHERS."""
    return sorted(totals, key=lambda k: (-totals[k], k))[:keep]


def _in_period(col: str) -> str:
    return f"{col} between date_trunc('{col}', ?::date) and ?"


# -- spend ----------------------------------------------------------------------------------------------------


def _spend(con: duckdb.DuckDBPyConnection, period: Range) -> list[dict[str, Any]]:
    col = period.grain
    return rows(
        con,
        f"""select {col}, model_family, sum(requests)::bigint as requests,
            sum(cost_reported_requests)::bigint as cost_reported_requests, sum(cost_usd) as cost_usd,
            sum(completed_with_cost)::bigint as completed_with_cost,
            sum(tool_call_completions_with_cost)::bigint as tool_call_completions_with_cost
        from spend_{GRAINS[col]}
        where {_in_period(col)}
        group by all
        order by {col}, model_family nulls last""",
        [period.lo, period.hi],
    )


def spend_by_family(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """What the traffic cost per period, stacked by model family (the largest seven, then the others)."""
    title = "Spend by model family"
    data = _spend(con, period)
    if not any(r["cost_usd"] is not None for r in data):
        return empty_figure(title, "No request in this period reports a cost.")
    col = period.grain
    totals: dict[str, float] = defaultdict(float)
    for r in data:
        totals[r["model_family"] or NO_MODEL] += r["cost_usd"] or 0
    top = _top(totals)
    stacked: dict[tuple[Any, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in data:
        family = r["model_family"] or NO_MODEL
        key = (r[col], family if family in top else OTHERS)
        for name in ("cost_usd", "requests", "cost_reported_requests"):
            stacked[key][name] += r[name] or 0
    fig = go.Figure()
    for family in [*top, OTHERS]:
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
                hovertemplate=f"<b>{esc(family)}</b> {_hover_period(period.grain)}<br>spend $%{{y:,.2f}}"
                "<br>%{customdata[0]:,} of %{customdata[1]:,} requests report a cost<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="spend (USD)", tickprefix="$", rangemode="tozero")
    spend = sum(totals.values())
    requests = sum(r["requests"] for r in data)
    reported = sum(r["cost_reported_requests"] for r in data)
    leader = top[0]
    share = totals[leader] / spend if spend else None
    reading = (
        f"{usd(spend)} over {requests:,} requests in the period; {leader} {pct(share)} of it."
        f" {pct(reported / requests if requests else None)} of requests report a cost: the rest are unknown,"
        " not free."
    )
    _period_axis(fig, period.grain, {r[col] for r in data})
    return _base_layout(fig, title, reading, {f"spend_{GRAINS[col]}": data})


def cost_per_completion(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """What one completed request (left) and one tool-call completion, an agent step (right), cost per family over
    time: the period's cost over the completions that report a cost (failed attempts that were billed included)."""
    title = "Cost per completed request and per tool-call completion"
    col = period.grain
    read = _spend(con, period)
    data = [r for r in read if r["cost_usd"] is not None and r["model_family"] is not None]
    if not any(r["completed_with_cost"] for r in data):
        return empty_figure(title, "No completed request with a reported cost in this period.")
    totals: dict[str, float] = defaultdict(float)
    for r in data:
        totals[r["model_family"]] += r["cost_usd"]
    shown = _top(totals, MAX_LINES)
    panels = (
        ("per completed request", "completed_with_cost"),
        ("per tool-call completion", "tool_call_completions_with_cost"),
    )
    fig = make_subplots(rows=1, cols=2, subplot_titles=[label for label, _ in panels], horizontal_spacing=0.08)
    for family in shown:
        for column, (label, count) in enumerate(panels, start=1):
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
                    hovertemplate=f"<b>{esc(family)}</b> {_hover_period(period.grain)}<br>$%{{y:.4f}} {label}"
                    "<br>over %{customdata[0]:,} with a reported cost<extra></extra>",
                ),
                row=1,
                col=column,
            )
    fig.update_yaxes(tickprefix="$", rangemode="tozero")
    leader = shown[0]
    mine = [r for r in data if r["model_family"] == leader and r["completed_with_cost"]]
    first, last = mine[0], mine[-1]
    before, after = (usd(r["cost_usd"] / r["completed_with_cost"]) for r in (first, last))
    reading = (
        f"{leader} (the largest spend): {before} per completed request in "
        f"{_period_label(first[col], col)} -> {after} in "
        f"{_period_label(last[col], col)}; failed attempts that were billed are included."
    )
    _period_axis(fig, col, {r[col] for r in data})
    return _base_layout(fig, title, reading, {f"spend_{GRAINS[col]}": read})


# -- tools and reasoning ----------------------------------------------------------------------------------------


def tool_funnel(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Per family over the whole period: the share of completed requests that offer tools, of those the share whose
    response carries a tool call, and the share of completed requests that end in a tool call."""
    title = "The tool funnel: offered, used, ended in a tool call"
    col = period.grain
    data = rows(
        con,
        f"""select model_family, sum(completed_requests)::bigint as completed_requests,
            sum(tool_call_requests)::bigint as tool_call_requests,
            sum(tools_logged_requests)::bigint as tools_logged_requests,
            sum(tools_offered_requests)::bigint as tools_offered_requests,
            sum(tool_use_requests)::bigint as tool_use_requests
        from tool_call_rate_{GRAINS[col]}
        where {_in_period(col)} and model_family is not null
        group by all
        having sum(completed_requests) > 0
        order by completed_requests desc, model_family
        limit {MAX_LINES}""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No completed requests with a known model in this period.")
    families = [r["model_family"] for r in data]
    steps = (
        ("offer tools", "tools_offered_requests", "tools_logged_requests", "#9ecae1"),
        ("of those, use them", "tool_use_requests", "tools_offered_requests", "#4292c6"),
        ("end in a tool call", "tool_call_requests", "completed_requests", "#08519c"),
    )
    fig = go.Figure()
    for label, part, whole, color in steps:
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
    top = data[0]
    coverage = _ratio(top, "tools_logged_requests", "completed_requests")
    reading = (
        f"{top['model_family']}: {pct(_ratio(top, 'tools_offered_requests', 'tools_logged_requests'))} of completed "
        f"requests offer tools, {pct(_ratio(top, 'tool_use_requests', 'tools_offered_requests'))} of those use them, "
        f"{pct(_ratio(top, 'tool_call_requests', 'completed_requests'))} end in a tool call; the first two rest on the "
        f"{pct(coverage)} of requests whose log says how many tools were offered."
    )
    return _base_layout(fig, title, reading, {f"tool_call_rate_{GRAINS[col]}": data})


def _ratio(row: dict[str, Any], part: str, whole: str) -> float | None:
    """row[part] / row[whole], None when either is unknown or the whole is 0."""
    return row[part] / row[whole] if row[part] is not None and row[whole] else None


def reasoning_two_shares(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """The two figures called "reasoning share", all families together: reasoning tokens as a share of output
    (where logs report them) and the share of output served by models seen reasoning."""
    title = "Two reasoning shares: of output tokens, and of output from reasoning models"
    col = period.grain
    data = rows(
        con,
        f"""select {col}, sum(output_tokens)::bigint as output_tokens,
            sum(reported_output_tokens)::bigint as reported_output_tokens,
            sum(reasoning_tokens)::bigint as reasoning_tokens,
            sum(capable_output_tokens)::bigint as capable_output_tokens
        from reasoning_share_{GRAINS[col]}
        where {_in_period(col)}
        group by all
        having sum(output_tokens) > 0
        order by {col}""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No output tokens in this period.")
    series = (
        ("reasoning tokens / output tokens (logs that report reasoning)", "reasoning_tokens", "reported_output_tokens"),
        ("output served by reasoning-capable models / all output", "capable_output_tokens", "output_tokens"),
    )
    fig = go.Figure()
    for (label, part, whole), dash in zip(series, ("solid", "dash"), strict=True):
        kept = [r for r in data if r[whole]]
        fig.add_trace(
            go.Scatter(
                x=[r[col] for r in kept],
                y=[r[part] / r[whole] for r in kept],
                customdata=[[r[part], r[whole]] for r in kept],
                name=label,
                mode="lines+markers",
                line={"color": "#6a3d9a", "dash": dash, "width": 2},
                hovertemplate=f"{_hover_period(col)}<br>{label}<br>%{{y:.1%}} = %{{customdata[0]:,}} / "
                "%{customdata[1]:,} tokens<extra></extra>",
            )
        )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title="share of output tokens")
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.2})
    last = data[-1]
    reading = (
        f"In {_period_label(last[col], col)}: reasoning is "
        f"{pct(_ratio(last, 'reasoning_tokens', 'reported_output_tokens'))} of output tokens where logs report it, and "
        f"models seen reasoning served {pct(_ratio(last, 'capable_output_tokens', 'output_tokens'))} of all output. "
        "Quote the one you mean."
    )
    _period_axis(fig, col, {r[col] for r in data})
    return _base_layout(fig, title, reading, {f"reasoning_share_{GRAINS[col]}": data})


# -- open weights and labs -------------------------------------------------------------------------------------

_WEIGHTS = {True: ("open weights", "#1b9e77"), False: ("closed (API only)", "#7570b3"), None: ("unknown", "#bbbbbb")}


def open_weights_share(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """The share of output tokens served by open-weight and by closed models (left) and by lab (right, the
    largest seven, then the others), per period: completed generation requests with a known model."""
    title = "Output tokens by open / closed weights and by lab"
    col = period.grain
    data = rows(
        con,
        f"""select cast(date_trunc('{col}', day) as date) as {col}, model_vendor, open_weights,
            sum(output_tokens)::bigint as output_tokens
        from lab_mix_daily
        where day between date_trunc('{col}', ?::date) and ?
        group by all
        order by {col}, model_vendor, open_weights""",
        [period.lo, period.hi],
    )
    if not any(r["output_tokens"] for r in data):
        return empty_figure(title, "No output tokens of a known model in this period.")
    periods = sorted({r[col] for r in data})
    total = defaultdict(float)
    for r in data:
        total[r[col]] += r["output_tokens"] or 0
    fig = make_subplots(rows=1, cols=2, subplot_titles=("open / closed weights", "lab"), horizontal_spacing=0.1)
    for key, (label, color) in _WEIGHTS.items():
        tokens = defaultdict(float)
        for r in data:
            if r["open_weights"] is key:
                tokens[r[col]] += r["output_tokens"] or 0
        if tokens:
            _share_trace(fig, periods, tokens, total, label, color, col=1)
    labs: dict[str, float] = defaultdict(float)
    for r in data:
        labs[r["model_vendor"]] += r["output_tokens"] or 0
    top = _top(labs)
    for lab in [*top, OTHERS]:
        tokens = defaultdict(float)
        for r in data:
            if (r["model_vendor"] if r["model_vendor"] in top else OTHERS) == lab:
                tokens[r[col]] += r["output_tokens"] or 0
        if tokens:
            color = palette.NEUTRAL if lab == OTHERS else palette.provider_colors(top).get(lab, palette.NEUTRAL)
            _share_trace(fig, periods, tokens, total, lab, color, col=2)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    last = periods[-1]
    open_last = sum(r["output_tokens"] or 0 for r in data if r[col] == last and r["open_weights"] is True)
    leader = max((r for r in data if r[col] == last), key=lambda r: (r["output_tokens"] or 0, r["model_vendor"]))
    reading = (
        f"In {_period_label(last, col)}: open-weight models served {pct(open_last / total[last])} of output tokens; "
        f"the largest lab-and-kind was {leader['model_vendor']} ({pct((leader['output_tokens'] or 0) / total[last])})."
    )
    _period_axis(fig, col, set(periods))
    return _base_layout(fig, title, reading, {"lab_mix_daily": data})


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


# -- speed -----------------------------------------------------------------------------------------------------


def ttft_by_provider(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """The same model on different providers, in the last period of the range: p50 and p90 time to first token
    (left) and median output speed (right), for the most-served model that more than one provider serves."""
    title = "Same model, different provider: time to first token and output speed"
    col = period.grain
    data = rows(
        con,
        f"""with latest as (
            select max({col}) as period from provider_latency_{GRAINS[col]} where {_in_period(col)}
        ),
        served as (
            select l.* from provider_latency_{GRAINS[col]} as l join latest on l.{col} = latest.period
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
        limit {MAX_LINES}""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No model served by two providers with time-to-first-token data in this period.")
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
    model = data[0]["model_key"]
    fastest = min(data, key=lambda r: (r["ttft_p50_ms"], r["provider"]))
    slowest = max(data, key=lambda r: (r["ttft_p50_ms"], r["provider"]))
    reading = (
        f"{model} in {_period_label(data[0][col], col)} on {len(data)} providers: median TTFT "
        f"{fastest['ttft_p50_ms']:,.0f} ms on {fastest['provider']} to {slowest['ttft_p50_ms']:,.0f} ms on "
        f"{slowest['provider']}."
    )
    return _base_layout(fig, f"{title}: {esc(model)}", reading, {f"provider_latency_{GRAINS[col]}": data})


def context_growth(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Median prompt tokens per completed generation request, per family and month: contexts growing as agents
    carry history (embedding inputs are left out; a family served through two generation operations, chat and
    responses, shows their medians weighed by requests)."""
    title = "Prompt tokens per completed request by model family (median; p90 in the hover)"
    data = rows(
        con,
        """select month, model_family, sum(completed_requests)::bigint as completed_requests,
            sum(prompt_tokens_p50 * prompt_requests) / nullif(sum(prompt_requests), 0) as prompt_tokens_p50,
            max(prompt_tokens_p90) as prompt_tokens_p90, sum(prompt_requests)::bigint as prompt_requests
        from context_length_monthly
        where month between date_trunc('month', ?::date) and ? and gl_is_generation(operation)
        group by all
        having sum(prompt_requests) > 0
        order by month""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No completed request reporting prompt tokens in this period.")
    totals: dict[str, float] = defaultdict(float)
    for r in data:
        totals[r["model_family"]] += r["completed_requests"]
    families = _top(totals, MAX_LINES)
    fig = go.Figure()
    for family in families:
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
    leader = [r for r in data if r["model_family"] == families[0]]
    first, last = leader[0], leader[-1]
    growth = last["prompt_tokens_p50"] / first["prompt_tokens_p50"] if first["prompt_tokens_p50"] else None
    reading = (
        f"{families[0]}: median prompt {first['prompt_tokens_p50']:,.0f} tokens in {first['month']:%b %Y} -> "
        f"{last['prompt_tokens_p50']:,.0f} in {last['month']:%b %Y}"
        + (f" ({growth:.1f}x)." if growth and first is not last else ".")
    )
    _period_axis(fig, "month", {r["month"] for r in data})
    return _base_layout(fig, title, reading, {"context_length_monthly": data})


# -- error budget ----------------------------------------------------------------------------------------------

_ALERT_COLORS = {"page": "#d73027", "ticket": "#fc8d59", "ok": "#1a9850"}


def error_budget(con: duckdb.DuckDBPyConnection, period: Range) -> go.Figure:
    """Each provider's error budget left in the last month of the range, coloured by the burn-rate alert."""
    title = "Error budget left this month, by provider"
    data = rows(
        con,
        """select month, provider, attempts, provider_faults, allowed_faults, budget_left, burn_rate_1h,
            burn_rate_6h, burn_rate_3d, alert, slo
        from provider_error_budget_monthly
        where month = (select max(month) from provider_error_budget_monthly
                       where month between date_trunc('month', ?::date) and ?)
        order by attempts desc, provider
        limit 12""",
        [period.lo, period.hi],
    )
    if not data:
        return empty_figure(title, "No provider attempts in this period.")
    data.sort(key=lambda r: (r["budget_left"], r["provider"]))
    fig = go.Figure(
        go.Bar(
            y=[esc(r["provider"]) for r in data],
            x=[max(r["budget_left"], -1.0) for r in data],
            orientation="h",
            marker={"color": [_ALERT_COLORS[r["alert"]] for r in data]},
            text=[f"{r['budget_left']:.0%} · burn {r['alert']}" for r in data],
            textposition="auto",
            customdata=[
                [
                    r["budget_left"],
                    r["provider_faults"],
                    r["allowed_faults"],
                    r["burn_rate_1h"],
                    r["burn_rate_6h"],
                    r["burn_rate_3d"],
                    r["alert"],
                ]
                for r in data
            ],
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
    month, slo = data[0]["month"], data[0]["slo"]
    spent = [r for r in data if r["budget_left"] < 0]
    paging = [r["provider"] for r in data if r["alert"] == "page"]
    reading = f"{month:%b %Y} at a {slo:.1%} SLO: {len(spent)} of {len(data)} providers have overspent their budget" + (
        f"; burning fast enough to page: {', '.join(paging)}." if paging else "; none burns fast enough to page."
    )
    return _base_layout(
        fig, title, reading, {"provider_error_budget_monthly": data}, height=max(260, 40 * len(data) + 120)
    )
