"""The page's header and headline tiles: the period with data, how fresh it is, and the last full period of the data
against a comparison period (a year earlier when the data holds it, else the first full period; see
`dashboards.periods`). Two parts, as in a figure: what the tiles read (queries of the marts in `MARTS` only), and
the tiles, said in plain text (the report escapes them).

Percentiles cannot be averaged: the p90 time to first token of a family served by several providers and models is
not a mean of their p90s. `pooled_quantile_bounds` gives what the marts do allow, the bounds it lies between.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb

from dashboards.base import Range, Row, mart, pct, per_grain, period_label, rows, usd
from dashboards.periods import comparison_periods, period_end, year_before

MIN_TILE_REQUESTS = 100
SPEED_FAMILIES = 2
"""The families with a time-to-first-token tile: the largest by completed requests."""
TTFT_LEVELS = (0.5, 0.75, 0.9, 0.99)
"""The quantiles provider_latency_{grain} gives (ttft_p50_ms ... ttft_p99_ms): DuckDB's quantile_cont."""
MARTS = (
    "traffic_minutely",
    "tool_call_rate_daily",
    "reasoning_share_daily",
    "model_mix_daily",
    "provider_uptime_daily",
    "bursts",
    "spend_daily",
    *per_grain("provider_latency"),
)
"""The marts the header and the tiles read (a test runs every query and checks)."""

Tile = dict[str, str]


# -- what the header and the tiles read ---------------------------------------------------------------------------


def _one(con: duckdb.DuckDBPyConnection, query: str, params: list[Any], default: Row) -> Row:
    """The one row of an aggregate query; `default` when the mart does not exist."""
    [row] = rows(con, query, params) or [default]
    return row


def data_extent(con: duckdb.DuckDBPyConnection, period: Range) -> tuple[dt.date | None, dt.date | None]:
    """First and last UTC day with traffic inside the period (from traffic_minutely)."""
    row = _one(
        con,
        """select min(cast(minute as date)) as first_day, max(cast(minute as date)) as last_day
        from traffic_minutely where requests > 0 and cast(minute as date) between ? and ?""",
        [period.lo, period.hi],
        {"first_day": None, "last_day": None},
    )
    return row["first_day"], row["last_day"]


def latest_data(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The latest minute with any request in the warehouse: how fresh the data is."""
    return _one(con, "select max(minute) as latest from traffic_minutely where requests > 0", [], {"latest": None})[
        "latest"
    ]


def _sums(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[str, Any]:
    """What the tiles count in one period (inclusive days), from the daily marts."""
    params = [start, end]
    tool = rows(
        con,
        """select model_family, sum(completed_requests)::bigint as completed, sum(tool_call_requests)::bigint as tools
        from tool_call_rate_daily where day between ? and ? and model_family is not null group by all""",
        params,
    )
    reasoning = _one(
        con,
        """select sum(reasoning_tokens)::bigint as reasoning, sum(reported_output_tokens)::bigint as reported,
            sum(output_tokens)::bigint as output
        from reasoning_share_daily where day between ? and ?""",
        params,
        {"reasoning": None, "reported": None, "output": None},
    )
    volume = _one(
        con,
        "select sum(requests)::bigint as requests from model_mix_daily where day between ? and ?",
        params,
        {"requests": None},
    )
    uptime = _one(
        con,
        """select count(*) filter (where not meets_slo) as below, count(*) as provider_days
        from provider_uptime_daily where day between ? and ?""",
        params,
        {"below": 0, "provider_days": 0},
    )
    bursts = _one(
        con,
        "select count(*) as episodes from bursts where cast(started_at as date) between ? and ?",
        params,
        {"episodes": 0},
    )
    spend = _one(
        con,
        """select sum(cost_usd) as cost_usd, sum(requests)::bigint as requests,
            sum(cost_reported_requests)::bigint as cost_reported_requests,
            sum(completed_with_cost)::bigint as completed_with_cost
        from spend_daily where day between ? and ?""",
        params,
        {"cost_usd": None, "requests": None, "cost_reported_requests": None, "completed_with_cost": None},
    )
    return {
        "tool": {r["model_family"]: r for r in tool},
        "reasoning": reasoning,
        "requests": volume["requests"] or 0,
        "below_slo": uptime["below"] or 0,
        "provider_days": uptime["provider_days"] or 0,
        "bursts": bursts["episodes"] or 0,
        "spend": spend,
    }


def _ttft(con: duckdb.DuckDBPyConnection, grain: str, start: dt.date, family: str) -> dict[str, Any]:
    """A family's p90 time to first token in one period: bounds from its provider x model x operation rows."""
    data = rows(
        con,
        f"""select ttft_attempts, ttft_p50_ms, ttft_p75_ms, ttft_p90_ms, ttft_p99_ms
        from {mart("provider_latency", grain)}
        where {grain} = ? and model_family = ? and ttft_attempts > 0 and ttft_p99_ms is not null""",
        [start, family],
    )
    parts = [
        (r["ttft_attempts"], (r["ttft_p50_ms"], r["ttft_p75_ms"], r["ttft_p90_ms"], r["ttft_p99_ms"])) for r in data
    ]
    lower, upper = pooled_quantile_bounds(parts)
    return {"lower": lower, "upper": upper, "rows": len(data), "attempts": sum(n for n, _ in parts)}


# -- time to first token: bounds, not an average of percentiles ---------------------------------------------------


def pooled_quantile_bounds(
    parts: list[tuple[int, tuple[float, ...]]], level: float = 0.9, levels: tuple[float, ...] = TTFT_LEVELS
) -> tuple[float | None, float | None]:
    """Bounds on the `level` quantile (quantile_cont) of the values of several groups pooled, from each group's
    count n and its quantile_cont values at `levels`; None where the groups' quantiles set no bound.

    In a group of n sorted values x_0..x_(n-1), quantile_cont at l lies between x_floor(h) and x_ceil(h), h = (n-1)l.
    So at most ceil(h) values lie below it, and at least floor(h) + 1 lie at or below it: each group's count of
    values <= x is bounded above and below by step functions of x, and so is the pooled count. The pooled quantile
    lies between x_floor(H) and x_ceil(H) of the pooled values (H = (N-1)level): at or above the first x where the
    pooled count can reach floor(H) + 1, at or below the first x where it must reach ceil(H) + 1.
    """
    parts = [(n, q) for n, q in parts if n > 0]
    if not parts:
        return None, None
    if len(parts) == 1 and level in levels:  # one group: its own quantile
        value = parts[0][1][levels.index(level)]
        return value, value
    h = (sum(n for n, _ in parts) - 1) * level
    candidates = sorted({v for _, q in parts for v in q})

    def most(x: float) -> int:  # at most this many values are <= x
        return sum(
            next((math.ceil((n - 1) * lv) for lv, v in zip(levels, q, strict=True) if v > x), n) for n, q in parts
        )

    def least(x: float) -> int:  # at least this many values are <= x
        return sum(
            max((math.floor((n - 1) * lv) + 1 for lv, v in zip(levels, q, strict=True) if v <= x), default=0)
            for n, q in parts
        )

    lower = next((x for x in candidates if most(x) >= math.floor(h) + 1), None)
    upper = next((x for x in candidates if least(x) >= math.ceil(h) + 1), None)
    return lower, upper


# -- how a value and its change are said ---------------------------------------------------------------------------


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _points_change(now: float | None, before: float | None, label: str) -> tuple[str, str]:
    if now is None or before is None:
        return "no comparison", "flat"
    delta = (now - before) * 100
    return f"{delta:+.0f} pts vs {label}", "up" if delta > 0.5 else "down" if delta < -0.5 else "flat"


def _count_change(
    now: float | None,
    before: float | None,
    label: str,
    good_when_down: bool = False,
    neutral: bool = False,
    absolute: Any = "{:+,}".format,
) -> tuple[str, str]:
    """The relative change (the absolute one from 0), coloured by whether rising is good; `neutral`: never."""
    if now is None or before is None:
        return "no comparison", "flat"
    relative = round((now - before) / before, 2) if before else 0.0
    text = f"{absolute(now - before)} vs {label}" if before == 0 else f"{relative + 0.0:+.0%} vs {label}"  # no -0%
    if now == before or neutral or (before and abs(now - before) / abs(before) < 0.005):  # "+0%" is flat
        return text, "flat"
    rising = now > before
    return text, ("down" if rising else "up") if good_when_down else ("up" if rising else "down")


def _signed_usd(value: float) -> str:
    return ("+" if value >= 0 else "-") + usd(abs(value))


def _ms(value: float) -> tuple[str, str]:
    return (f"{value:,.0f}", "ms") if value < 1000 else (f"{value / 1000:,.1f}", "s")


def ms_range(lower: float | None, upper: float | None) -> str:
    """'1.2 s', '0.9-2.4 s', '850 ms-1.2 s', 'at least 2.0 s', or 'n/a' when nothing is known."""
    if lower is None and upper is None:
        return "n/a"
    if upper is None:
        return "at least " + " ".join(_ms(lower))
    if lower is None:
        return "at most " + " ".join(_ms(upper))
    (lo, lo_unit), (hi, hi_unit) = _ms(lower), _ms(upper)
    if (lo, lo_unit) == (hi, hi_unit):
        return f"{lo} {lo_unit}"
    return f"{lo}\u2013{hi} {hi_unit}" if lo_unit == hi_unit else f"{lo} {lo_unit}\u2013{hi} {hi_unit}"


def _tile(label: str, value: str, change: tuple[str, str]) -> Tile:
    return {"label": label, "value": value, "change": change[0], "direction": change[1]}


# -- the tiles ------------------------------------------------------------------------------------------------------


def _headline_families(now: dict[str, Any], before: dict[str, Any], count: int = 3) -> list[str]:
    """The families whose tool-call rate moved most between the two periods (among those with at least
    MIN_TILE_REQUESTS completed requests in both), else the largest ones."""
    movers = [
        f
        for f in now
        if f in before and now[f]["completed"] >= MIN_TILE_REQUESTS and before[f]["completed"] >= MIN_TILE_REQUESTS
    ]
    if movers:

        def change(f: str) -> float:
            return abs(now[f]["tools"] / now[f]["completed"] - before[f]["tools"] / before[f]["completed"])

        return sorted(movers, key=lambda f: (-change(f), f))[:count]
    return sorted(now, key=lambda f: (-now[f]["completed"], f))[:count]


def _comparison(current: dt.date, previous: dt.date | None, full: bool, grain: str) -> tuple[str, str]:
    """The comparison period's label in a tile's change, and the sentence under the tiles."""
    now_label = period_label(current, grain)
    if previous is None:
        return "", f"Headline numbers for {now_label}{'' if full else ' (partial)'}; no earlier full period to compare."
    ago = year_before(current, grain) == previous
    return period_label(previous, grain) + (" (a year earlier)" if ago else ""), (
        f"Headline numbers for {now_label}, the last full {grain} of the period, against "
        f"{period_label(previous, grain)}"
        + (", a year earlier." if ago else ", the first full one (no data a year earlier).")
    )


def _adoption_tiles(now: dict[str, Any], before: dict[str, Any] | None, label: str) -> list[Tile]:
    """The tool-call rate of all families and of the families that moved most, the reasoning share, the requests."""
    tool_before = before["tool"] if before else {}
    rate = _ratio(sum(r["tools"] for r in now["tool"].values()), sum(r["completed"] for r in now["tool"].values()))
    before_rate = (
        _ratio(sum(r["tools"] for r in tool_before.values()), sum(r["completed"] for r in tool_before.values()))
        if before
        else None
    )
    out = [_tile("Tool-call rate, all families", pct(rate), _points_change(rate, before_rate, label))]
    for family in _headline_families(now["tool"], tool_before):
        r, b = now["tool"][family], tool_before.get(family)
        family_rate = _ratio(r["tools"], r["completed"])
        change = _points_change(family_rate, _ratio(b["tools"], b["completed"]) if b else None, label)
        out.append(_tile(f"{family} tool-call rate", pct(family_rate), change))
    share = _ratio(now["reasoning"]["reasoning"], now["reasoning"]["reported"])
    coverage = _ratio(now["reasoning"]["reported"], now["reasoning"]["output"])
    before_share = _ratio(before["reasoning"]["reasoning"], before["reasoning"]["reported"]) if before else None
    out.append(
        _tile(
            f"Reasoning share of output ({pct(coverage)} of output reports it)",
            pct(share),
            _points_change(share, before_share, label),
        )
    )
    change = _count_change(now["requests"], before["requests"] if before else None, label)
    out.append(_tile("Requests with a known model", f"{now['requests']:,}", change))
    return out


def _cost_tiles(now: dict[str, Any], before: dict[str, Any] | None, label: str) -> list[Tile]:
    """Spend (labelled with the share of requests that report a cost) and the cost per completed request."""
    spend, spend_before = now["spend"], before["spend"] if before else None
    text, direction = _count_change(
        spend["cost_usd"], spend_before["cost_usd"] if spend_before else None, label, neutral=True, absolute=_signed_usd
    )
    coverage = _ratio(spend["cost_reported_requests"], spend["requests"])
    coverage_before = _ratio(spend_before["cost_reported_requests"], spend_before["requests"]) if spend_before else None
    if text != "no comparison" and coverage_before is not None and abs((coverage or 0) - coverage_before) >= 0.01:
        text += f" ({pct(coverage_before)} reported then)"  # the change mixes spend and coverage
    per = _ratio(spend["cost_usd"], spend["completed_with_cost"])
    per_before = _ratio(spend_before["cost_usd"], spend_before["completed_with_cost"]) if spend_before else None
    return [
        # None when no request reports a cost: n/a, never $0
        _tile(f"Spend ({pct(coverage)} of requests report a cost)", usd(spend["cost_usd"]), (text, direction)),
        _tile(
            "Cost per completed request (of those that report a cost)",
            usd(per),
            _count_change(per, per_before, label, good_when_down=True, absolute=_signed_usd),
        ),
    ]


def _ttft_tile(now: dict[str, Any], before: dict[str, Any] | None, family: str, label: str) -> Tile:
    if not now["rows"]:
        return _tile(f"{family} p90 time to first token", "n/a", ("no streamed request reports it", "flat"))
    known_before = before is not None and before["rows"] > 0
    if not known_before:
        change, direction = "no comparison", "flat"
    else:
        change = f"{ms_range(before['lower'], before['upper'])} in {label}"
        # only ranges that do not overlap say which period was faster
        faster = None not in (now["upper"], before["lower"]) and now["upper"] < before["lower"]
        slower = None not in (now["lower"], before["upper"]) and now["lower"] > before["upper"]
        direction = "up" if faster else "down" if slower else "flat"
    value = ms_range(now["lower"], now["upper"])
    requests = f"{now['attempts']:,} streamed request{'s' if now['attempts'] != 1 else ''}"
    note = (
        requests
        if now["lower"] is not None and now["upper"] is not None and "\u2013" not in value
        else f"bounds: percentiles of {now['rows']} provider/model rows ({requests}) cannot be averaged"
    )
    return {**_tile(f"{family} p90 time to first token", value, (change, direction)), "note": note}


def _reliability_tiles(now: dict[str, Any], before: dict[str, Any] | None, label: str) -> list[Tile]:
    """Provider-days below the SLO and burst episodes."""
    below = _count_change(now["below_slo"], before["below_slo"] if before else None, label, good_when_down=True)
    bursts = _count_change(now["bursts"], before["bursts"] if before else None, label)
    return [
        _tile(f"Provider-days below the SLO (of {now['provider_days']:,})", f"{now['below_slo']:,}", below),
        _tile("Burst episodes", f"{now['bursts']:,}", bursts),
    ]


def tiles(con: duckdb.DuckDBPyConnection, period: Range) -> tuple[list[Tile], str]:
    """Headline numbers of the last full period, each with its change against the comparison period, and the
    sentence that says which periods they compare."""
    first, last = data_extent(con, period)
    if first is None or last is None:
        return [], ""
    grain = period.grain
    current, previous, full = comparison_periods(first, last, grain)
    now = _sums(con, current, min(period_end(current, grain), last))
    before = _sums(con, previous, period_end(previous, grain)) if previous else None
    largest = sorted(now["tool"], key=lambda f: (-now["tool"][f]["completed"], f))[:SPEED_FAMILIES]
    speed = {f: (_ttft(con, grain, current, f), _ttft(con, grain, previous, f) if previous else None) for f in largest}
    label, comparison = _comparison(current, previous, full, grain)
    return [
        *_adoption_tiles(now, before, label),
        *_cost_tiles(now, before, label),
        *(_ttft_tile(ttft_now, ttft_before, family, label) for family, (ttft_now, ttft_before) in speed.items()),
        *_reliability_tiles(now, before, label),
    ], comparison
