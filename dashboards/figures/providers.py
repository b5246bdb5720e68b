"""Section "Same model, different provider; lock-in": each multi-provider model's tool-call rate per provider with
a 95% Wilson interval, and each app's provider concentration. Both read marts over a fixed window or the whole
history: they do not follow the period. Each figure: query, draw, reading, then its `Figure` (see
`dashboards.base`)."""

from __future__ import annotations

import math

import duckdb
import plotly.graph_objects as go

from dashboards import palette
from dashboards.base import (
    MAX_LINES,
    OTHERS,
    WILSON_Z,
    Figure,
    Range,
    Read,
    Row,
    Section,
    esc,
    pct,
    rows,
    series,
)

# -- provider_variance: per multi-provider model, each provider's tool-call rate and the model's overall rate -----


def wilson(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96)."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    center = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def provider_variance_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """The mart's trailing window, not the period."""
    query = """select window_start, window_end, model, model_family, provider, completed_requests, tool_call_requests,
            tool_call_rate, model_tool_call_rate, deviation, z_score, attempts, error_rate, p50_latency_ms
        from provider_variance where completed_requests > 0
        order by model_family, model, provider"""
    return Read({"provider_variance": rows(con, query)})


def _variance_trace(data: list[Row], labels: list[str], name: str, families: set[str]) -> go.Scatter:
    """The providers of `families` (one family, or the OTHERS in one colour: each row keeps its own rate, nothing
    is pooled): the rate with its interval, diamonds where |z| > 2."""
    idx = [i for i, r in enumerate(data) if r["model_family"] in families]
    lo_hi = [wilson(data[i]["tool_call_requests"], data[i]["completed_requests"]) for i in idx]
    return go.Scatter(
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
        name=esc(name),
        mode="markers",
        marker={
            "color": palette.NEUTRAL if name == OTHERS else palette.family_color(name),
            "size": 9,
            "symbol": ["diamond" if abs(data[i]["z_score"] or 0) > 2 else "circle" for i in idx],
        },
        hovertemplate="<b>%{y}</b><br>tool-call rate %{x:.1%} (95%: %{customdata[2]:.1%} to "
        "%{customdata[3]:.1%})<br>%{customdata[0]:,} tool calls / %{customdata[1]:,} completed"
        "<br>model overall %{customdata[6]:.1%}, z = %{customdata[4]:.1f}<br>error rate "
        "%{customdata[5]:.1%}<extra></extra>",
    )


def provider_variance_draw(read: Read, period: Range) -> go.Figure:
    """A colour per family with the most completed requests, the rest in one OTHERS colour (`series`, leaving
    room for the model's rate); the rows stay in the mart's order, by family name."""
    data = read.rows
    labels = [f"{esc(r['model'])} · {esc(r['provider'])}" for r in data]
    shown = series(data, "completed_requests", room=MAX_LINES - 1)
    groups = {family: {family} for family in sorted(shown)}
    if rest := {r["model_family"] for r in data} - set(shown):
        groups[OTHERS] = rest
    fig = go.Figure()
    for name, families in groups.items():
        fig.add_trace(_variance_trace(data, labels, name, families))
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
    fig.update_yaxes(autorange="reversed", type="category", categoryorder="array", categoryarray=labels)
    return fig


def _colour_note(data: list[Row]) -> str:
    """Which families have a colour of their own, when some share the OTHERS one; nothing when every one has."""
    shown = series(data, "completed_requests", room=MAX_LINES - 1)
    rest = len({r["model_family"] for r in data}) - len(shown)
    if not rest:
        return ""
    return (
        f" Coloured: the {len(shown)} families with the most completed requests; the other {rest} in grey as "
        f'"{OTHERS}".'
    )


def provider_variance_reading(read: Read, period: Range) -> str:
    data = read.rows
    start, end = data[0]["window_start"].isoformat(), data[0]["window_end"].isoformat()
    reading = f"Window {start} to {end} (trailing, fixed by the mart)."
    outlier = max(data, key=lambda r: abs(r["z_score"] or 0))
    if outlier["z_score"] is not None:
        reading += (
            f" Biggest deviation: {outlier['model']} on {outlier['provider']} at {pct(outlier['tool_call_rate'])} vs "
            f"{pct(outlier['model_tool_call_rate'])} for the model (z = {outlier['z_score']:.1f}); diamonds mark "
            "|z| > 2."
        )
    return reading + _colour_note(data)


provider_variance = Figure(
    name="provider_variance",
    title="Same model, different provider: tool-call rate per provider (95% Wilson interval)",
    marts=("provider_variance",),
    query=provider_variance_query,
    draw=provider_variance_draw,
    reading=provider_variance_reading,
    empty="No model is served by two or more providers in the window.",
    height=lambda read: max(360, 90 + 22 * len(read.rows)),
)


# -- app_concentration: apps by provider concentration (Herfindahl index; 1 = locked in to one provider) ----------


def app_concentration_query(con: duckdb.DuckDBPyConnection, period: Range) -> Read:
    """The whole history, not the period."""
    query = """select app_id, requests, providers_used, models_used, top_provider, top_provider_share, provider_hhi
        from app_provider_concentration order by provider_hhi desc, app_id"""
    return Read({"app_provider_concentration": rows(con, query)})


def app_concentration_draw(read: Read, period: Range) -> go.Figure:
    data = read.rows
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
    return fig


def app_concentration_reading(read: Read, period: Range) -> str:
    data = read.rows
    locked = sum(1 for r in data if (r["provider_hhi"] or 0) >= 0.999)
    concentrated = sum(1 for r in data if (r["provider_hhi"] or 0) > 0.5)
    return (
        f"{locked} of {len(data)} apps use a single provider; {concentrated} have an HHI above 0.5 (their requests "
        "concentrated on one or two providers)."
    )


app_concentration = Figure(
    name="app_concentration",
    title="Provider lock-in per app: Herfindahl index of its requests across providers (whole history)",
    marts=("app_provider_concentration",),
    query=app_concentration_query,
    draw=app_concentration_draw,
    reading=app_concentration_reading,
    empty="No app with a known provider yet.",
)


SECTION = Section("providers", "Same model, different provider; lock-in", (provider_variance, app_concentration))
