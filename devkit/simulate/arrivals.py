"""The requests of a simulation: when each arrives (diurnal cycle, weekends, growth, overnight bursts), from which
app, to which model and provider, and its sizes (prompt, completion median, cache, tools, streaming, BYOK).

Everything is drawn in bulk from the simulation's one random generator, so the order of the draws is part of the
result: the same seed gives the same requests only while the calls below keep their order.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from devkit.simulate.traffic import (
    ALL_APPS,
    APP_IDS,
    APP_ZIPF_EXPONENT,
    BATCH_JOBS,
    BURST_MIN_PER_MINUTE,
    BYOK_SHARE,
    DIURNAL_WEIGHTS,
    GROWTH_PER_YEAR,
    INTERACTIVE_APPS,
    INTERACTIVE_SHARE,
    MODEL_INDEX,
    MODELS,
    PROVIDER_INDEX,
    REQUESTED_IDS,
    ROLE_COMPLETION_FACTOR,
    ROLE_PROMPT_FACTOR,
    TOOLS_UNLOGGED_APPS,
    TREND_DAYS,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    USER_SKEW,
    WEEKEND_FACTOR,
    Arrays,
)

PROMPT_SIGMA = 0.9  # log-normal sigma of prompt tokens
MAX_PROMPT_TOKENS = 200_000

# Per-app and per-role attribute tables, indexed by the app code (position in ALL_APPS) and the role code.
_ROLES: tuple[str, ...] = tuple(ROLE_PROMPT_FACTOR)
_APP_USERS = np.array([a.users for a in ALL_APPS])
_USER_OFFSET = np.cumsum([0, *_APP_USERS])[:-1]
_APP_TOOLS_MIN = np.array([a.tools[0] for a in ALL_APPS])
_APP_TOOLS_SPAN = np.array([a.tools[1] - a.tools[0] + 1 for a in ALL_APPS])
_APP_PROMPT = np.array([a.prompt_median for a in ALL_APPS])
_APP_COMPLETION = np.array([a.completion_median for a in ALL_APPS])
_APP_STREAM = np.array([a.stream_share for a in ALL_APPS])
_APP_TOOLS_SHARE = np.array([a.tools_share for a in ALL_APPS])
_APP_TOOLS_LOGGED = np.array([a.app_id not in TOOLS_UNLOGGED_APPS for a in ALL_APPS])
_APP_PROMPT_GROWTH = np.array([a.prompt_growth for a in ALL_APPS])
_APP_COMPLETION_GROWTH = np.array([a.completion_growth for a in ALL_APPS])
_APP_BYOK = np.array([BYOK_SHARE.get(a.app_id, 0.0) for a in ALL_APPS])
_ROLE_PROMPT = np.array([ROLE_PROMPT_FACTOR[r] for r in _ROLES])
_ROLE_COMPLETION = np.array([ROLE_COMPLETION_FACTOR[r] for r in _ROLES])


def _day_profile(start: dt.date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-day interactive volume (weekday x growth) and growth, each normalized to mean 1 over the run."""
    if days == 0:
        return np.zeros(0), np.zeros(0)
    day = np.arange(days)
    growth = 1.0 + GROWTH_PER_YEAR * day / TREND_DAYS
    weekend = (start.weekday() + day) % 7 >= 5
    volume = np.where(weekend, WEEKEND_FACTOR, 1.0) * growth
    return volume / volume.mean(), growth / growth.mean()


def _interactive(rng: np.random.Generator, volume: np.ndarray, per_day: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (microseconds from the start) and app codes of the interactive requests."""
    counts = rng.poisson(per_day * INTERACTIVE_SHARE * volume)
    day = np.repeat(np.arange(volume.size, dtype=np.int64), counts)
    hours = np.asarray(DIURNAL_WEIGHTS)
    hour = rng.choice(24, size=day.size, p=hours / hours.sum())
    t = day * US_PER_DAY + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, day.size)
    zipf = 1.0 / np.arange(1, len(INTERACTIVE_APPS) + 1) ** APP_ZIPF_EXPONENT
    app = rng.choice(len(INTERACTIVE_APPS), size=day.size, p=zipf / zipf.sum())
    return t, app


def _bursts(rng: np.random.Generator, growth: np.ndarray, per_day: float) -> tuple[np.ndarray, np.ndarray]:
    """Times and app codes of the overnight batch bursts (one loop step per job)."""
    times, apps = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for job in BATCH_JOBS:
        nominal = np.rint(job.share * per_day * growth).astype(np.int64)
        runs = (rng.random(growth.size) < job.run_share) & (nominal > 0)
        count = np.where(runs, np.maximum(nominal, BURST_MIN_PER_MINUTE), 0)
        minutes = np.clip(count // BURST_MIN_PER_MINUTE, 1, job.max_minutes)
        day = np.repeat(np.arange(growth.size, dtype=np.int64), count)
        spread = (rng.random(day.size) * np.repeat(minutes, count) * US_PER_MINUTE).astype(np.int64)
        times.append(day * US_PER_DAY + job.start_minute * US_PER_MINUTE + spread)
        apps.append(np.full(day.size, APP_IDS.index(job.app_id), dtype=np.int64))
    return np.concatenate(times), np.concatenate(apps)


def draw(rng: np.random.Generator, start: dt.date, days: int, per_day: int, t0: int) -> Arrays:
    """Request-level attributes, sorted by the first attempt's time: t (microseconds since the epoch; `t0` is
    the start), app, route, provider, user, prompt size, cache share, tools offered, streaming."""
    volume, growth = _day_profile(start, days)
    t_i, app_i = _interactive(rng, volume, per_day)
    t_b, app_b = _bursts(rng, growth, per_day)
    t = np.concatenate([t_i, t_b])
    order = np.argsort(t, kind="stable")
    req: Arrays = {"t": t[order] + t0, "app": np.concatenate([app_i, app_b])[order]}
    _assign_routes(rng, req)
    req["provider"] = pick_providers(rng, req["model"])
    _assign_request_sizes(rng, req, (req["t"] - t0) / US_PER_DAY)
    return req


def _assign_routes(rng: np.random.Generator, req: Arrays) -> None:
    """Model, role and requested model id of each request, from its app's routes (one loop step per app)."""
    n = req["app"].size
    req["model"] = np.zeros(n, np.int64)
    req["role"] = np.zeros(n, np.int64)
    req["requested"] = np.zeros(n, np.int64)
    for code, app in enumerate(ALL_APPS):
        idx = np.flatnonzero(req["app"] == code)
        weights = np.array([r.weight for r in app.routes])
        pick = rng.choice(len(app.routes), size=idx.size, p=weights / weights.sum())
        req["model"][idx] = np.array([MODEL_INDEX[r.model] for r in app.routes])[pick]
        req["role"][idx] = np.array([_ROLES.index(r.role) for r in app.routes])[pick]
        req["requested"][idx] = np.array([REQUESTED_IDS.index(r.requested or r.model) for r in app.routes])[pick]


def pick_providers(rng: np.random.Generator, model: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """A provider per row by the model's routing weights, avoiding `exclude` (a failed provider) if given."""
    provider = np.zeros(model.size, np.int64)
    for code, entry in enumerate(MODELS):
        hosts = np.array([PROVIDER_INDEX[p] for p, _ in entry.providers])
        weights = np.array([w for _, w in entry.providers])
        idx = np.flatnonzero(model == code)
        groups = [(idx, weights)] if exclude is None else _exclusion_groups(idx, exclude, hosts, weights)
        for rows, w in groups:
            provider[rows] = hosts[rng.choice(hosts.size, size=rows.size, p=w / w.sum())]
    return provider


def _exclusion_groups(
    idx: np.ndarray, exclude: np.ndarray, hosts: np.ndarray, weights: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows of `idx` grouped by excluded provider, each with the weights that exclude it."""
    groups = []
    for position, host in enumerate(hosts):
        rows = idx[exclude[idx] == host]
        w = weights.copy()
        w[position] = 0.0
        groups.append((rows, w if w.sum() > 0 else weights))
    return groups


def _assign_request_sizes(rng: np.random.Generator, req: Arrays, day: np.ndarray) -> None:
    """User, prompt tokens, completion median, cached share, tools offered (and whether the log says how many),
    BYOK and streaming of each request, from per-app attribute tables indexed by the app code; sizes grow with
    the (fractional) `day` counted from the start."""
    app, role, n = req["app"], req["role"], req["app"].size
    users = _APP_USERS[app]
    req["user"] = _USER_OFFSET[app] + (users * rng.random(n) ** USER_SKEW).astype(np.int64)
    tools = _APP_TOOLS_MIN[app] + (rng.random(n) * _APP_TOOLS_SPAN[app]).astype(np.int64)
    req["offers_tools"] = rng.random(n) < _APP_TOOLS_SHARE[app]
    req["tools_offered"] = np.where(req["offers_tools"], tools, 0)
    req["tools_logged"] = _APP_TOOLS_LOGGED[app]
    req["byok"] = rng.random(n) < _APP_BYOK[app]
    years = day / TREND_DAYS
    req["completion_median"] = _APP_COMPLETION[app] * _ROLE_COMPLETION[role] * _APP_COMPLETION_GROWTH[app] ** years
    prompt = _APP_PROMPT[app] * _ROLE_PROMPT[role] * _APP_PROMPT_GROWTH[app] ** years
    prompt *= np.exp(PROMPT_SIGMA * rng.standard_normal(n))
    req["prompt"] = np.clip(np.rint(prompt), 16, MAX_PROMPT_TOKENS).astype(np.int64)
    req["cache_frac"] = np.zeros(n)
    for code, entry in enumerate(ALL_APPS):  # Beta(4s, 4(1-s)): mean s, drawn with scalar parameters (faster)
        if entry.cache_share > 0:
            idx = np.flatnonzero(app == code)
            req["cache_frac"][idx] = rng.beta(4 * entry.cache_share, 4 * (1 - entry.cache_share), idx.size)
    req["streamed"] = rng.random(n) < _APP_STREAM[app]
