"""What goes wrong: each attempt's outcome (background provider faults, client errors, cancellations), the
scheduled outages and one-off incidents that fail most of one provider's attempts for a while, the failover of
a retryable failure to another provider, and the error each failure returns in its provider's vocabulary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from devkit.simulate.arrivals import pick_providers
from devkit.simulate.traffic import EPOCH, PROVIDER_INDEX, PROVIDERS, US_PER_DAY, US_PER_HOUR, US_PER_MS, Arrays

#: Attempt outcome kinds.
OK, SERVER, RATE_LIMIT, CLIENT, TIMEOUT, CANCELLED = range(6)
#: Outcome kinds the gateway retries on another provider.
RETRYABLE = (SERVER, RATE_LIMIT, TIMEOUT)
#: Background (no outage) provider-fault rate per attempt (rate limits, 5xx, timeouts: what an error budget
#: counts), and the mix of fault kinds. 0.02%: a month of a 99.9% SLO's budget (0.1%) is rarely spent.
BACKGROUND_FAULT_RATE = 0.0002
BACKGROUND_FAULT_MIX: dict[int, float] = {RATE_LIMIT: 0.45, SERVER: 0.35, TIMEOUT: 0.20}
#: Share of attempts rejected as the client's fault (4xx: invalid request, context too long): never a fault.
CLIENT_ERROR_RATE = 0.001
#: Share of attempts the client cancels.
CANCEL_RATE = 0.003
#: Median milliseconds until an error is returned, per kind (log-normal, sigma ERROR_LATENCY_SIGMA).
ERROR_LATENCY_MS: dict[int, float] = {SERVER: 1200.0, RATE_LIMIT: 150.0, CLIENT: 120.0, TIMEOUT: 45_000.0}
ERROR_LATENCY_SIGMA = 0.5
#: (http_status, native error code) options per provider error dialect and kind, drawn uniformly.
ERROR_VOCAB: dict[str, dict[int, tuple[tuple[int, str], ...]]] = {
    "anthropic": {
        SERVER: (
            (529, "overloaded_error"),
            (529, "overloaded_error"),
            (529, "overloaded_error"),
            (500, "api_error"),
        ),
        RATE_LIMIT: ((429, "rate_limit_error"),),
        CLIENT: ((400, "invalid_request_error"), (413, "request_too_large")),
        TIMEOUT: ((504, "timeout_error"),),
    },
    "bedrock": {
        SERVER: ((503, "ServiceUnavailableException"), (500, "InternalServerException")),
        RATE_LIMIT: ((429, "ThrottlingException"),),
        CLIENT: ((400, "ValidationException"),),
        TIMEOUT: ((408, "ModelTimeoutException"),),
    },
    "google": {
        SERVER: ((503, "UNAVAILABLE"), (500, "INTERNAL")),
        RATE_LIMIT: ((429, "RESOURCE_EXHAUSTED"),),
        CLIENT: ((400, "INVALID_ARGUMENT"),),
        TIMEOUT: ((504, "DEADLINE_EXCEEDED"),),
    },
    "openai": {
        SERVER: ((500, "server_error"), (502, "bad_gateway"), (503, "service_unavailable")),
        RATE_LIMIT: ((429, "rate_limit_exceeded"),),
        CLIENT: ((400, "invalid_request_error"), (400, "context_length_exceeded")),
        TIMEOUT: ((408, "timeout"), (504, "timeout")),
    },
}
#: Error dialect per provider; providers not listed speak "openai".
PROVIDER_ERROR_DIALECT: dict[str, str] = {
    "Anthropic": "anthropic",
    "Amazon Bedrock": "bedrock",
    "Google Vertex": "google",
    "Google AI Studio": "google",
}


@dataclass(frozen=True)
class Outage:
    """A provider outage `day` days after the start (within each cycle), from `start_hour` UTC for `hours`."""

    day: int
    start_hour: float
    hours: float
    provider: str


#: Outage schedule, repeated every OUTAGE_CYCLE_DAYS (about one outage every three weeks).
OUTAGES: tuple[Outage, ...] = (
    Outage(day=6, start_hour=14.0, hours=3.0, provider="Anthropic"),
    Outage(day=27, start_hour=9.5, hours=2.0, provider="Together"),
    Outage(day=48, start_hour=16.0, hours=4.0, provider="Google Vertex"),
    Outage(day=71, start_hour=13.0, hours=2.5, provider="Anthropic"),
    Outage(day=95, start_hour=11.0, hours=3.0, provider="Fireworks"),
    Outage(day=112, start_hour=15.5, hours=2.0, provider="OpenAI"),
)
OUTAGE_CYCLE_DAYS = 120
#: During an outage: share of the provider's attempts that fail, and the share of those failures that are 429s
#: (the rest are 5xx). Incidents (below) fail in the same mix.
OUTAGE_FAIL_SHARE = 0.85
OUTAGE_RATE_LIMIT_SHARE = 0.15


@dataclass(frozen=True)
class Incident:
    """A one-off raised fault rate of one provider in calendar month `month` of the run (1 = the month of
    `start`): over its last `last_hours` hours, or the whole month when `last_hours` is None. Clipped to the
    run; a run that does not reach the month has no incident."""

    provider: str
    month: int
    fault_rate: float
    last_hours: float | None = None


#: A brownout at the end of the 12th month (2025-12-31 in the sample): from 16:00 UTC, 80% of Anthropic's
#: attempts are overloaded or rate-limited. Its 1-hour and 6-hour burn rates at the month's end (~800 against
#: a 99.9% SLO) are far above the page thresholds (14.4 and 6). The rate is that of a severe brownout because at
#: the sample's volume Anthropic sees one or two attempts an hour in the evening: the 1-hour window rests on them.
BROWNOUT = Incident("Anthropic", month=12, fault_rate=0.8, last_hours=8.0)
#: A slow burn over the whole 8th month (2025-08 in the sample): DeepInfra's fault rate at 0.4%, a burn rate of
#: 4 (the month's budget gone in about a week): above the ticket threshold (3-day burn 1), below the page ones.
#: The alert needs volume to show: a 6-hour window of fewer than ~170 attempts pages on any single fault, and at
#: the sample's volume the last three days of the month see one fault or none; the month's budget is overspent
#: at any volume.
SLOW_BURN = Incident("DeepInfra", month=8, fault_rate=0.004)
INCIDENTS: tuple[Incident, ...] = (BROWNOUT, SLOW_BURN)
#: Share of retryable failures that fall back to another provider of the same model (attempt 2).
FAILOVER_SHARE = 0.8
#: Median delay between the failed attempt's end and the fallback attempt (log-normal, sigma 0.8).
FAILOVER_DELAY_MS = 600.0

_ERROR_DIALECTS: tuple[str, ...] = tuple(ERROR_VOCAB)
_PROVIDER_ERROR_DIALECT = np.array([_ERROR_DIALECTS.index(PROVIDER_ERROR_DIALECT.get(p, "openai")) for p in PROVIDERS])
#: Every native error code of ERROR_VOCAB once (an attempt's error code is its index here).
ERROR_CODES: tuple[str, ...] = tuple(
    dict.fromkeys(code for d in ERROR_VOCAB.values() for options in d.values() for _, code in options)
)


def outage_windows(start: dt.date, days: int) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """The scheduled outages of a simulation from `start` over `days` days: (provider, begin, end) in UTC."""
    t0 = (dt.date(start.year, start.month, start.day) - EPOCH).days * US_PER_DAY
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return [
        (PROVIDERS[p], epoch + dt.timedelta(microseconds=s), epoch + dt.timedelta(microseconds=e))
        for p, s, e in _outage_windows(t0, days)
    ]


def incident_windows(start: dt.date, days: int) -> list[tuple[str, dt.datetime, dt.datetime, float]]:
    """The incidents (`INCIDENTS`) of a simulation from `start` over `days` days: (provider, begin, end,
    fault rate), begin and end in UTC."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return [
        (PROVIDERS[p], epoch + dt.timedelta(microseconds=b), epoch + dt.timedelta(microseconds=e), rate)
        for p, b, e, rate in _incident_windows(dt.date(start.year, start.month, start.day), days)
    ]


def failure_windows(start: dt.date, days: int) -> list[tuple[int, int, int, float]]:
    """(provider code, begin, end, failing share) of every outage and incident within the run, in microseconds
    since the epoch: the windows `attempts` overlays on the background outcomes."""
    t0 = (start - EPOCH).days * US_PER_DAY
    outages = [(p, b, e, OUTAGE_FAIL_SHARE) for p, b, e in _outage_windows(t0, days)]
    return outages + _incident_windows(start, days)


def _outage_windows(t0: int, days: int) -> list[tuple[int, int, int]]:
    """(provider code, begin, end) of the outages within the run, in microseconds since the epoch."""
    windows = []
    for cycle in range(0, days, OUTAGE_CYCLE_DAYS):
        for outage in OUTAGES:
            day = cycle + outage.day
            if day < days:
                begin = t0 + day * US_PER_DAY + round(outage.start_hour * US_PER_HOUR)
                end = begin + round(outage.hours * US_PER_HOUR)
                windows.append((PROVIDER_INDEX[outage.provider], begin, end))
    return windows


def _incident_windows(start: dt.date, days: int) -> list[tuple[int, int, int, float]]:
    """(provider code, begin, end, fault rate) of the incidents within the run, in microseconds since the epoch."""
    run_begin = (start - EPOCH).days * US_PER_DAY
    run_end = run_begin + days * US_PER_DAY
    windows = []
    for incident in INCIDENTS:
        first = start.year * 12 + start.month - 1 + incident.month - 1  # months since year 0 of its first day
        month_begin = (dt.date(first // 12, first % 12 + 1, 1) - EPOCH).days * US_PER_DAY
        month_end = (dt.date((first + 1) // 12, (first + 1) % 12 + 1, 1) - EPOCH).days * US_PER_DAY
        begin = month_begin if incident.last_hours is None else month_end - round(incident.last_hours * US_PER_HOUR)
        begin, end = max(begin, run_begin), min(month_end, run_end)
        if begin < end:
            windows.append((PROVIDER_INDEX[incident.provider], begin, end, incident.fault_rate))
    return windows


def _outcomes(
    rng: np.random.Generator, provider: np.ndarray, t: np.ndarray, windows: list[tuple[int, int, int, float]]
) -> np.ndarray:
    """Outcome kind of each attempt: background faults, client errors and cancellations, overlaid by the
    failures of the outage and incident windows (each a provider, a time range and a failing share)."""
    n = provider.size
    u = rng.random(n)
    kind = np.full(n, OK, dtype=np.int64)
    fault = u < BACKGROUND_FAULT_RATE
    mix = np.array(list(BACKGROUND_FAULT_MIX.values()))
    kind[fault] = rng.choice(list(BACKGROUND_FAULT_MIX), size=int(fault.sum()), p=mix / mix.sum())
    client_end = BACKGROUND_FAULT_RATE + CLIENT_ERROR_RATE
    kind[(u >= BACKGROUND_FAULT_RATE) & (u < client_end)] = CLIENT
    kind[(u >= client_end) & (u < client_end + CANCEL_RATE)] = CANCELLED
    failing = np.zeros(n)
    for code, begin, end, share in windows:
        inside = (provider == code) & (t >= begin) & (t < end)
        failing[inside] = np.maximum(failing[inside], share)
    failed = rng.random(n) < failing
    throttled = rng.random(int(failed.sum())) < OUTAGE_RATE_LIMIT_SHARE
    kind[failed] = np.where(throttled, RATE_LIMIT, SERVER)
    return kind


def _error_latency(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    """Milliseconds until each error was returned (NaN for non-errors)."""
    median = np.full(kind.size, np.nan)
    for k, ms in ERROR_LATENCY_MS.items():
        median[kind == k] = ms
    return median * np.exp(ERROR_LATENCY_SIGMA * rng.standard_normal(kind.size))


def attempts(rng: np.random.Generator, req: Arrays, windows: list[tuple[int, int, int, float]]) -> Arrays:
    """Attempt rows: every request's first attempt plus a fallback attempt for retried failures."""
    t1, provider1 = req["t"], req["provider"]
    kind1 = _outcomes(rng, provider1, t1, windows)
    error_ms1 = _error_latency(rng, kind1)
    retry = np.isin(kind1, RETRYABLE) & (rng.random(kind1.size) < FAILOVER_SHARE)
    again = np.flatnonzero(retry)
    provider2 = pick_providers(rng, req["model"][again], exclude=provider1[again])
    delay_ms = FAILOVER_DELAY_MS * np.exp(0.8 * rng.standard_normal(again.size))
    t2 = t1[again] + np.rint((error_ms1[again] + delay_ms) * US_PER_MS).astype(np.int64)
    kind2 = _outcomes(rng, provider2, t2, windows)
    error_ms2 = _error_latency(rng, kind2)
    return {
        "req": np.concatenate([np.arange(t1.size), again]),
        "attempt": np.concatenate([np.ones(t1.size, np.int64), np.full(again.size, 2, np.int64)]),
        "t": np.concatenate([t1, t2]),
        "provider": np.concatenate([provider1, provider2]),
        "kind": np.concatenate([kind1, kind2]),
        "error_ms": np.concatenate([error_ms1, error_ms2]),
    }


def error_fields(rng: np.random.Generator, provider: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HTTP status and native error code index of each error row, in its provider's dialect."""
    http = np.zeros(kind.size, np.int64)
    code = np.full(kind.size, len(ERROR_CODES), np.int64)
    dialect = _PROVIDER_ERROR_DIALECT[provider]
    for d, name in enumerate(_ERROR_DIALECTS):
        for k, options in ERROR_VOCAB[name].items():
            idx = np.flatnonzero((dialect == d) & (kind == k))
            pick = rng.integers(0, len(options), idx.size)
            http[idx] = np.array([status for status, _ in options])[pick]
            code[idx] = np.array([ERROR_CODES.index(c) for _, c in options])[pick]
    return http, code
