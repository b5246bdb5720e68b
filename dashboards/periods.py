"""Calendar periods of the report (UTC days, weeks from Monday, months): where a period starts and ends, the same
period a year earlier, and which two periods the headline tiles compare."""

from __future__ import annotations

import datetime as dt


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
