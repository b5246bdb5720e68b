"""The headline tiles: the last full period of the data against a comparison period (a year earlier when the data
holds it, else the first full period), and the periods they compare. Reads only the marts in `figures.MARTS`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from dashboards import figures as F

MIN_TILE_REQUESTS = 100


# -- periods --------------------------------------------------------------------------------------


def data_extent(con: duckdb.DuckDBPyConnection, period: F.Range) -> tuple[dt.date | None, dt.date | None]:
    """First and last UTC day with traffic inside the period (from traffic_minutely)."""
    [row] = F.rows(
        con,
        """select min(cast(minute as date)) as first_day, max(cast(minute as date)) as last_day
        from traffic_minutely where requests > 0 and cast(minute as date) between ? and ?""",
        [period.lo, period.hi],
    ) or [{"first_day": None, "last_day": None}]
    return row["first_day"], row["last_day"]


def latest_data(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The latest minute with any request in the warehouse: how fresh the data is."""
    [row] = F.rows(con, "select max(minute) as latest from traffic_minutely where requests > 0") or [{"latest": None}]
    return row["latest"]


def period_start(day: dt.date, grain: str) -> dt.date:
    if grain == "month":
        return day.replace(day=1)
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    return day


def period_end(start: dt.date, grain: str) -> dt.date:
    if grain == "month":
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return following - dt.timedelta(days=1)
    if grain == "week":
        return start + dt.timedelta(days=6)
    return start


def year_before(start: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return start - dt.timedelta(weeks=52)
    try:
        return start.replace(year=start.year - 1)
    except ValueError:  # 29 February
        return start.replace(year=start.year - 1, day=28)


def comparison_periods(first: dt.date, last: dt.date, grain: str) -> tuple[dt.date, dt.date | None, bool]:
    """(current, previous, current_is_full): the last full period, and the one a year earlier when the data
    holds all of it, else the first full period; a partial last period when no period is full."""
    starts = []
    start = period_start(first, grain)
    while start <= last:
        starts.append(start)
        start = period_end(start, grain) + dt.timedelta(days=1)
    full = [s for s in starts if s >= first and period_end(s, grain) <= last]
    if not full:
        return starts[-1], None, False
    current = full[-1]
    earlier = year_before(current, grain)
    if earlier in full:
        return current, earlier, True
    return current, (full[0] if full[0] != current else None), True


def _sums(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[str, Any]:
    params = [start, end]
    tool = F.rows(
        con,
        """select model_family, sum(completed_requests)::bigint as completed, sum(tool_call_requests)::bigint as tools
        from tool_call_rate_daily where day between ? and ? and model_family is not null group by all""",
        params,
    )
    [reasoning] = F.rows(
        con,
        """select sum(reasoning_tokens)::bigint as reasoning, sum(reported_output_tokens)::bigint as reported,
            sum(output_tokens)::bigint as output
        from reasoning_share_daily where day between ? and ?""",
        params,
    ) or [{"reasoning": None, "reported": None, "output": None}]
    [volume] = F.rows(
        con, "select sum(requests)::bigint as requests from model_mix_daily where day between ? and ?", params
    ) or [{"requests": None}]
    [uptime] = F.rows(
        con,
        """select count(*) filter (where not meets_slo) as below, count(*) as provider_days
        from provider_uptime_daily where day between ? and ?""",
        params,
    ) or [{"below": 0, "provider_days": 0}]
    [bursts] = F.rows(
        con, "select count(*) as episodes from bursts where cast(started_at as date) between ? and ?", params
    ) or [{"episodes": 0}]
    return {
        "tool": {r["model_family"]: r for r in tool},
        "reasoning": reasoning,
        "requests": volume["requests"] or 0,
        "below_slo": uptime["below"] or 0,
        "provider_days": uptime["provider_days"] or 0,
        "bursts": bursts["episodes"] or 0,
    }


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def _points_change(now: float | None, before: float | None, label: str) -> tuple[str, str]:
    if now is None or before is None:
        return "no comparison", "flat"
    delta = (now - before) * 100
    return f"{delta:+.0f} pts vs {label}", "up" if delta > 0.5 else "down" if delta < -0.5 else "flat"


def _count_change(now: int, before: int | None, label: str, good_when_down: bool = False) -> tuple[str, str]:
    if before is None:
        return "no comparison", "flat"
    text = f"{now - before:+,} vs {label}" if before == 0 else f"{(now - before) / before:+.0%} vs {label}"
    if now == before:
        return text, "flat"
    rising = now > before
    return text, ("down" if rising else "up") if good_when_down else ("up" if rising else "down")


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


def tiles(con: duckdb.DuckDBPyConnection, period: F.Range) -> tuple[list[dict[str, str]], str]:
    """Headline numbers of the last full period, each with its change against the comparison period."""
    first, last = data_extent(con, period)
    if first is None or last is None:
        return [], ""
    grain = period.grain
    current, previous, full = comparison_periods(first, last, grain)
    now = _sums(con, current, min(period_end(current, grain), last))
    before = _sums(con, previous, period_end(previous, grain)) if previous else None
    now_label = F._period_label(current, grain)
    if previous is None:
        label = ""
        comparison = (
            f"Headline numbers for {now_label}{'' if full else ' (partial)'}; no earlier full period to compare."
        )
    else:
        ago = year_before(current, grain) == previous
        label = F._period_label(previous, grain) + (" (a year earlier)" if ago else "")
        comparison = (
            f"Headline numbers for {now_label}, the last full {grain} of the period, against "
            f"{F._period_label(previous, grain)}"
            + (", a year earlier." if ago else ", the first full one (no data a year earlier).")
        )
    out = []
    total_completed = sum(r["completed"] for r in now["tool"].values())
    total_tools = sum(r["tools"] for r in now["tool"].values())
    before_rate = (
        _ratio(sum(r["tools"] for r in before["tool"].values()), sum(r["completed"] for r in before["tool"].values()))
        if before
        else None
    )
    rate = _ratio(total_tools, total_completed)
    change, direction = _points_change(rate, before_rate, label)
    out.append(
        {"label": "Tool-call rate, all families", "value": F.pct(rate), "change": change, "direction": direction}
    )
    for family in _headline_families(now["tool"], before["tool"] if before else {}):
        r = now["tool"][family]
        family_rate = _ratio(r["tools"], r["completed"])
        b = before["tool"].get(family) if before else None
        change, direction = _points_change(family_rate, _ratio(b["tools"], b["completed"]) if b else None, label)
        out.append(
            {"label": f"{family} tool-call rate", "value": F.pct(family_rate), "change": change, "direction": direction}
        )
    share = _ratio(now["reasoning"]["reasoning"], now["reasoning"]["reported"])
    coverage = _ratio(now["reasoning"]["reported"], now["reasoning"]["output"])
    before_share = _ratio(before["reasoning"]["reasoning"], before["reasoning"]["reported"]) if before else None
    change, direction = _points_change(share, before_share, label)
    out.append(
        {
            "label": f"Reasoning share of output ({F.pct(coverage)} of output reports it)",
            "value": F.pct(share),
            "change": change,
            "direction": direction,
        }
    )
    change, direction = _count_change(now["requests"], before["requests"] if before else None, label)
    out.append(
        {
            "label": "Requests with a known model",
            "value": f"{now['requests']:,}",
            "change": change,
            "direction": direction,
        }
    )
    change, direction = _count_change(
        now["below_slo"], before["below_slo"] if before else None, label, good_when_down=True
    )
    out.append(
        {
            "label": f"Provider-days below the SLO (of {now['provider_days']:,})",
            "value": f"{now['below_slo']:,}",
            "change": change,
            "direction": direction,
        }
    )
    change, direction = _count_change(now["bursts"], before["bursts"] if before else None, label)
    out.append({"label": "Burst episodes", "value": f"{now['bursts']:,}", "change": change, "direction": direction})
    return out, comparison
