"""Deterministic synthetic LLM gateway traffic, as canonical request records (one row per upstream attempt).

The simulator exists so that the pipeline and its metrics can be tested against traffic whose trends are
known: every effect below is a constant at the top of this module, and the metrics should recover it.

The model of traffic
--------------------
* Volume. `requests_per_day` is the mean number of requests per day over the simulated period. Interactive
  traffic follows a UTC diurnal cycle (`DIURNAL_WEIGHTS`, peak in working hours), weekends run at
  `WEEKEND_FACTOR` of weekday volume, and volume grows linearly by `GROWTH_PER_YEAR`.
* Apps. Interactive apps (`INTERACTIVE_APPS`) get Zipf-distributed volume (`APP_ZIPF_EXPONENT`). Agent apps
  route planning calls to a frontier model and many more tool-execution calls to small models; the other
  apps use a single model (one uses a router alias). Each app has its own user pool, prompt and completion
  size, cache reuse, streaming share, number of tools offered and share of requests that offer any
  (`App.tools_share`: plain chat and translation offer none, the summarizer some).
* Context growth. Agent apps' prompts grow by `AGENT_PROMPT_GROWTH` per 365 days and their completions by
  `AGENT_COMPLETION_GROWTH` (compounding from the first day: a year in, prompts are 4x and completions 2.5x
  what they were), as OpenRouter measured for agentic traffic; the other apps keep their sizes.
* Overnight batches. `BATCH_JOBS` fire on most nights at a fixed UTC minute and send a burst of requests
  within 10-20 minutes. A burst never averages fewer than `BURST_MIN_PER_MINUTE` requests per minute, so it
  is visible even at tiny volumes (at `requests_per_day` below ~500 the floor makes bursts a larger share
  of the day than their nominal `share`).
* Models and providers. `MODELS` is the catalogue: family, vendor, tier, whether the model reports reasoning,
  the providers serving it (with routing weights), prices and speed. Claude runs on Anthropic, Google Vertex
  and Amazon Bedrock; open models on several inference providers. The closed frontier models (Claude, GPT,
  Gemini) cost 4-50x the small ones per token, the open frontier models (DeepSeek, Kimi, GLM) 2-8x. Each
  provider has a speed profile (`PROVIDER_SPEED`: a time-to-first-token multiplier and an output speed
  multiplier), so the same model is clearly slower on some hosts (Novita, Bedrock) than on others (Fireworks,
  Anthropic).
* Cost. Cost is tokens times the model's price and the provider's price factor (`PROVIDER_PRICE_FACTOR`),
  cached prompt tokens at `CACHED_PRICE_FACTOR`. A share of one app's requests (`BYOK_SHARE`) run on the
  customer's own provider key: the gateway reports their cost as 0 (a reported zero, not unknown).
* Outcomes. Each attempt fails with a small background provider-fault rate (`BACKGROUND_FAULT_RATE`: 429,
  5xx and timeouts, well under the 0.1% a 99.9% SLO allows), fails as the client's fault (`CLIENT_ERROR_RATE`,
  4xx) or is cancelled (`CANCEL_RATE`). During the scheduled outages (`OUTAGES`, deterministic offsets from
  `start`, repeating every `OUTAGE_CYCLE_DAYS`) one provider fails most attempts. Two one-off incidents
  (`INCIDENTS`) spend a provider's error budget: `BROWNOUT` fails most of one provider's attempts in the last
  hours of one calendar month (its burn rates at the month's end call for a page), `SLOW_BURN` raises another
  provider's fault rate to a few times the budget for a whole month (overspent; a ticket where six hours hold
  a few hundred of its attempts). A retryable failure falls back, with probability `FAILOVER_SHARE`, to
  another provider of the same model as attempt 2 of the same request, a moment later.
* Retrieval. The RAG apps in `EMBEDDING_APPS` embed the user's query before a share of their requests: an
  `embeddings` call (operation embeddings, `EMBEDDING_MODEL` on OpenAI, prompt tokens only) a moment before the
  request, as a request of its own ("<request id>-emb"). It is drawn from its own random stream, so the other
  rows are the same with or without it. Every other row is operation chat.
* Responses. The share of successful responses that end in a tool call follows `TOOL_CALL_SHARE` per model
  family (a linear trend over the first 365 days), with one deviating provider (`TOOL_CALL_OVERRIDES`). Only a
  request that offers tools can get a tool call, so the share is drawn among those requests, scaled by the
  family's share of requests offering tools (a family cannot exceed that share). `TOOL_CALL_CUT_SHARE` of the
  other responses to requests offering tools carry a tool call but are cut at the output limit (finish
  `length`), so more requests use their tools than end in a tool call. `TOOLS_UNLOGGED_APPS` do not log how
  many tools they offered (NULL). Reasoning models report reasoning tokens whose share of output follows
  `REASONING_SHARE` (except the (model, provider) pairs in `REASONING_UNREPORTED`, which report NULL). Tokens
  are log-normal; latency is time to first token (the provider's multiplier times the model's median and the
  prompt's prefill, plus the reasoning) plus generation at the model's speed times the provider's.

Output
------
`simulate` returns the canonical input keys (`COLUMNS`), one row per attempt, sorted by created_at,
request_id, attempt. Success rows have http_status 200 and a native finish reason in the model's own
vocabulary (`NATIVE_FINISH`); error rows have http_status and error_code in the provider's vocabulary
(`ERROR_VOCAB`), no tokens, no finish reason, no ttft and cost 0; cancelled rows have no http_status and
partial output. `write_canonical` writes such a frame as (compressed) JSON lines for the ingest.

Everything is vectorized with NumPy (loops only over apps, models, families, providers, batch jobs and outage
and incident windows)
and drawn from one `numpy.random.default_rng(seed)`, so the same arguments give the same frame.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import fsspec
import numpy as np
import polars as pl
from fsspec.implementations.local import LocalFileSystem

# ----------------------------------------------------------------------------
# Time
# ----------------------------------------------------------------------------

US_PER_MS = 1_000
US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000
US_PER_DAY = 86_400_000_000
EPOCH = dt.date(1970, 1, 1)

#: Relative interactive volume per UTC hour 0..23: quiet overnight, peak in European afternoon / US morning.
DIURNAL_WEIGHTS: tuple[float, ...] = (
    0.35, 0.25, 0.18, 0.15, 0.15, 0.20, 0.35, 0.60, 0.85, 1.00, 1.05, 1.05,
    1.00, 1.10, 1.25, 1.30, 1.30, 1.20, 1.05, 0.90, 0.75, 0.65, 0.55, 0.45,
)  # fmt: skip
#: Weekend (Saturday, Sunday) interactive volume relative to a weekday.
WEEKEND_FACTOR = 0.4
#: Linear volume growth per 365 days (0.3: the last day of a year-long run is 30% busier than the first).
GROWTH_PER_YEAR = 0.3
#: Trends below reach their "12 months" value on this day (counted from `start`) and keep their slope after.
TREND_DAYS = 365.0


@dataclass(frozen=True)
class Trend:
    """A share moving linearly from `start` (day 0) to `end` (day TREND_DAYS), continuing after, clamped to
    [0, cap]. Flat shares have start == end."""

    start: float
    end: float
    cap: float = 1.0

    def at(self, day: np.ndarray) -> np.ndarray:
        """The share on (fractional) day `day` counted from the start of the simulation."""
        return np.clip(self.start + (self.end - self.start) * (day / TREND_DAYS), 0.0, self.cap)


# ----------------------------------------------------------------------------
# Trends the metrics must recover
# ----------------------------------------------------------------------------

#: Share of successful responses that end in a tool call, per model family.
TOOL_CALL_SHARE: dict[str, Trend] = {
    "claude": Trend(0.04, 0.27, cap=0.40),  # agentic use of Claude grows: ~4% -> ~27% in 12 months
    "gpt": Trend(0.10, 0.20, cap=0.30),
    "gemini": Trend(0.08, 0.18, cap=0.28),
    "qwen": Trend(0.65, 0.65),  # small fast executor models end most turns in a tool call
    "minimax": Trend(0.80, 0.80),
}
#: Tool-call share of families not listed above.
DEFAULT_TOOL_CALL_SHARE = Trend(0.10, 0.10)
#: (model, provider) pairs whose tool-call share deviates from the family's: the "deviating provider".
TOOL_CALL_OVERRIDES: dict[tuple[str, str], Trend] = {("qwen/qwen3-coder", "Novita"): Trend(0.35, 0.35)}
#: Mean share of reasoning tokens in the completion tokens of reasoning models (token-weighted).
REASONING_SHARE = Trend(0.20, 0.50, cap=0.70)
#: Spread of the per-response reasoning share (Beta distribution concentration; larger = tighter).
REASONING_CONCENTRATION = 6.0
#: (model, provider) pairs that do not report reasoning tokens (NULL), so reasoning coverage is below 100%.
REASONING_UNREPORTED: frozenset[tuple[str, str]] = frozenset({("anthropic/claude-sonnet-4.5", "Amazon Bedrock")})
#: Share of the successful responses to requests offering tools that do not end in a tool call but carry one,
#: cut at the output limit while writing it (finish `length`): tool use beyond the final tool calls.
TOOL_CALL_CUT_SHARE = 0.03
#: Apps whose logs do not say how many tools a request offered (tools_offered NULL), so the funnel's coverage is
#: below 100%.
TOOLS_UNLOGGED_APPS: frozenset[str] = frozenset({"app-email-assistant"})
#: Agent apps' prompt and completion size multipliers per TREND_DAYS, compounding from day 0 (OpenRouter's 2025
#: study: prompt tokens per request up about 4x in a year, programming prompts near 20K; completions 2-3x).
AGENT_PROMPT_GROWTH = 4.0
AGENT_COMPLETION_GROWTH = 2.5

# ----------------------------------------------------------------------------
# Model catalogue
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A served model: family (drives trends and finish vocabulary), vendor, tier, whether it reports
    reasoning, the providers serving it with routing weights, USD per 1M tokens and speed."""

    slug: str
    family: str
    vendor: str
    tier: str  # frontier | small
    reasoning: bool
    providers: tuple[tuple[str, float], ...]
    price_in: float
    price_out: float
    tokens_per_s: float
    ttft_ms: float


_CLAUDE = (("Anthropic", 0.60), ("Google Vertex", 0.25), ("Amazon Bedrock", 0.15))
_OPENAI = (("OpenAI", 0.70), ("Azure", 0.30))
_GEMINI = (("Google Vertex", 0.55), ("Google AI Studio", 0.45))
_OPEN = (("Together", 0.30), ("Fireworks", 0.25), ("DeepInfra", 0.25), ("Novita", 0.20))
_QWEN = (("Alibaba", 0.2), ("Together", 0.2), ("Fireworks", 0.2), ("DeepInfra", 0.2), ("Novita", 0.2))
_MINIMAX = (("MiniMax", 0.50), ("Novita", 0.25), ("DeepInfra", 0.25))
_KIMI = (("Together", 0.35), ("Fireworks", 0.35), ("Novita", 0.30))
_GLM = (("Novita", 0.40), ("DeepInfra", 0.30), ("Together", 0.30))
_MISTRAL = (("Mistral", 0.60), ("DeepInfra", 0.40))

#: The catalogue. Columns: slug, family, vendor, tier, reports reasoning, providers, USD per 1M prompt and
#: completion tokens, output tokens per second, median time to first token (ms).
# fmt: off
MODELS: tuple[Model, ...] = (
    Model("anthropic/claude-sonnet-4.5", "claude", "Anthropic", "frontier", True, _CLAUDE, 3, 15, 70, 900),
    Model("anthropic/claude-3.5-sonnet", "claude", "Anthropic", "frontier", False, _CLAUDE, 3, 15, 65, 700),
    Model("openai/gpt-4o", "gpt", "OpenAI", "frontier", False, _OPENAI, 2.5, 10.0, 90, 450),
    Model("openai/o3", "gpt", "OpenAI", "frontier", True, _OPENAI, 2.0, 8.0, 80, 700),
    Model("google/gemini-2.5-pro", "gemini", "Google", "frontier", True, _GEMINI, 1.25, 10.0, 110, 800),
    Model("qwen/qwen3-coder", "qwen", "Qwen", "small", True, _QWEN, 0.22, 0.95, 150, 350),
    Model("minimax/minimax-m2", "minimax", "MiniMax", "small", True, _MINIMAX, 0.30, 1.20, 120, 400),
    Model("meta-llama/llama-3.3-70b-instruct", "llama", "Meta", "small", False, _OPEN, 0.13, 0.40, 140, 300),
    Model("deepseek/deepseek-r1", "deepseek", "DeepSeek", "frontier", True, _OPEN, 0.55, 2.19, 50, 600),
    Model("moonshotai/kimi-k2", "kimi", "Moonshot AI", "frontier", False, _KIMI, 0.60, 2.50, 60, 500),
    Model("z-ai/glm-4.6", "glm", "Z.ai", "frontier", True, _GLM, 0.60, 2.20, 70, 500),
    Model("mistralai/mistral-small", "mistral", "Mistral AI", "small", False, _MISTRAL, 0.10, 0.30, 160, 250),
)
# fmt: on

#: Native finish-reason vocabulary (stop, tool call, length) per dialect. Gemini reports STOP for a function
#: call, so such rows also carry the override finish_reason "tool_calls".
NATIVE_FINISH: dict[str, tuple[str, str, str]] = {
    "anthropic": ("end_turn", "tool_use", "max_tokens"),
    "openai": ("stop", "tool_calls", "length"),
    "gemini": ("STOP", "STOP", "MAX_TOKENS"),
}
#: Finish dialect per model family (on every provider); families not listed speak "openai".
FAMILY_FINISH_DIALECT: dict[str, str] = {"claude": "anthropic", "gemini": "gemini"}
#: Price multiplier per provider (open-model hosts compete on price); providers not listed: 1.0.
PROVIDER_PRICE_FACTOR: dict[str, float] = {"DeepInfra": 0.8, "Novita": 0.9, "Fireworks": 1.1}
#: Price of a cached prompt token relative to an uncached one.
CACHED_PRICE_FACTOR = 0.25
#: App -> share of its requests sent on the customer's own provider key (BYOK): the gateway reports cost 0.
BYOK_SHARE: dict[str, float] = {"app-agent-sandbox": 0.2}
#: Speed profile per provider: (time-to-first-token multiplier, output tokens-per-second multiplier), applied to
#: every model it serves; providers not listed: (1.0, 1.0). Fireworks is the fast open-model host, Novita the
#: slow one (its p90 time to first token 1.6-2x Fireworks' on the same model); Bedrock serves Claude slower than
#: Anthropic.
PROVIDER_SPEED: dict[str, tuple[float, float]] = {
    "Fireworks": (0.80, 1.30),
    "Together": (0.90, 1.15),
    "DeepInfra": (1.15, 0.85),
    "Alibaba": (1.25, 0.90),
    "Novita": (1.40, 0.80),
    "Google Vertex": (1.10, 0.95),
    "Amazon Bedrock": (1.50, 0.80),
    "Azure": (1.20, 0.90),
    "Google AI Studio": (0.90, 1.05),
}

# ----------------------------------------------------------------------------
# Apps
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where an app sends a share (`weight`) of its calls: the served model, the call's role (planner,
    executor or single) and the model id requested when it differs from the served one (an alias/router)."""

    model: str
    weight: float
    role: str = "single"
    requested: str | None = None


@dataclass(frozen=True)
class App:
    """A calling application: its routes, user pool size, tools offered per request that offers any
    (inclusive range), share of streamed requests, median prompt and completion tokens (on day 0), mean cached
    share of the prompt, share of requests that offer tools (the others offer none) and the prompt and
    completion size multipliers per TREND_DAYS."""

    app_id: str
    routes: tuple[Route, ...]
    users: int
    tools: tuple[int, int]
    stream_share: float
    prompt_median: float
    completion_median: float
    cache_share: float
    tools_share: float = 1.0
    prompt_growth: float = 1.0
    completion_growth: float = 1.0


def _agent(app_id: str, routes: tuple[Route, ...], users: int, prompt: float) -> App:
    return App(
        app_id,
        routes,
        users,
        (8, 40),
        0.9,
        prompt,
        250,
        0.6,
        prompt_growth=AGENT_PROMPT_GROWTH,
        completion_growth=AGENT_COMPLETION_GROWTH,
    )


def _single(
    app_id: str,
    model: str,
    users: int,
    prompt: float,
    completion: float,
    requested: str | None = None,
    tools_share: float = 1.0,
) -> App:
    route = (Route(model, 1.0, requested=requested),)
    return App(app_id, route, users, (1, 6), 0.8, prompt, completion, 0.2, tools_share=tools_share)


_SONNET = "anthropic/claude-sonnet-4.5"
#: Interactive apps in Zipf rank order (the first is the busiest).
INTERACTIVE_APPS: tuple[App, ...] = (
    _agent(
        "app-coding-agent",
        (
            Route(_SONNET, 0.16, "planner"),
            Route("openai/o3", 0.04, "planner"),
            Route("qwen/qwen3-coder", 0.50, "executor"),
            Route("minimax/minimax-m2", 0.30, "executor"),
        ),
        users=400,
        prompt=3000,
    ),
    _single("app-chat-web", "openai/gpt-4o", users=3000, prompt=1500, completion=350, tools_share=0.0),  # plain chat
    _agent(
        "app-support-agent",
        (
            Route(_SONNET, 0.25, "planner"),
            Route("minimax/minimax-m2", 0.45, "executor"),
            Route("qwen/qwen3-coder", 0.30, "executor"),
        ),
        users=800,
        prompt=2500,
    ),
    _single("app-sql-assistant", "anthropic/claude-3.5-sonnet", users=300, prompt=4000, completion=300),
    # the summarizer offers its fetch tool only when a document is linked, not pasted
    _single("app-doc-summarizer", "google/gemini-2.5-pro", users=500, prompt=9000, completion=500, tools_share=0.4),
    _agent(
        "app-research-agent",
        (
            Route("deepseek/deepseek-r1", 0.30, "planner"),
            Route("meta-llama/llama-3.3-70b-instruct", 0.40, "executor"),
            Route("mistralai/mistral-small", 0.30, "executor"),
        ),
        users=200,
        prompt=3500,
    ),
    _single("app-email-assistant", _SONNET, users=900, prompt=2000, completion=300),
    _single("app-translation", "mistralai/mistral-small", users=600, prompt=1200, completion=400, tools_share=0.0),
    _single("app-code-review", "z-ai/glm-4.6", users=150, prompt=6000, completion=450),
    _single("app-agent-sandbox", "moonshotai/kimi-k2", users=120, prompt=3000, completion=300),
    _single("app-reasoning-lab", "openai/o3", users=80, prompt=2500, completion=600),
    App(
        "app-router-playground",
        (
            Route("openai/gpt-4o", 0.4, requested="openrouter/auto"),
            Route(_SONNET, 0.3, requested="openrouter/auto"),
            Route("google/gemini-2.5-pro", 0.3, requested="openrouter/auto"),
        ),
        users=1500,
        tools=(1, 4),
        stream_share=0.95,
        prompt_median=800,
        completion_median=300,
        cache_share=0.0,
    ),
    _single("app-voice-assistant", "openai/gpt-4o", users=700, prompt=900, completion=150),
)
#: Zipf exponent of the interactive app volume distribution.
APP_ZIPF_EXPONENT = 1.1
#: Overnight batch apps (their volume comes only from `BATCH_JOBS`).
BATCH_APPS: tuple[App, ...] = (
    App(
        "app-nightly-evals",
        (Route("meta-llama/llama-3.3-70b-instruct", 1.0),),
        users=2,
        tools=(1, 10),
        stream_share=0.0,
        prompt_median=2000,
        completion_median=300,
        cache_share=0.3,
    ),
    App(
        "app-report-batch",
        (Route("mistralai/mistral-small", 1.0),),
        users=1,
        tools=(1, 3),
        stream_share=0.0,
        prompt_median=5000,
        completion_median=600,
        cache_share=0.1,
    ),
)
ALL_APPS: tuple[App, ...] = INTERACTIVE_APPS + BATCH_APPS
#: Prompt and completion size multipliers per call role (planners read and write more).
ROLE_PROMPT_FACTOR: dict[str, float] = {"planner": 3.0, "executor": 1.0, "single": 1.0}
ROLE_COMPLETION_FACTOR: dict[str, float] = {"planner": 2.0, "executor": 0.6, "single": 1.0}
#: User skew within an app: user index = floor(users * u ** USER_SKEW), u uniform (larger = more skewed).
USER_SKEW = 2.5


@dataclass(frozen=True)
class BatchJob:
    """A scheduled overnight job of a batch app: on a share `run_share` of nights, from `start_minute` (UTC
    minute of the day), it sends share x requests_per_day x growth requests within at most `max_minutes`."""

    app_id: str
    start_minute: int
    max_minutes: int
    share: float
    run_share: float = 0.9


BATCH_JOBS: tuple[BatchJob, ...] = (
    BatchJob("app-nightly-evals", start_minute=2 * 60, max_minutes=20, share=0.08),  # 02:00-02:20 UTC
    BatchJob("app-report-batch", start_minute=3 * 60 + 30, max_minutes=15, share=0.05),  # 03:30-03:45 UTC
)
#: A burst lasts n / BURST_MIN_PER_MINUTE minutes at most, so its mean rate is never below this.
BURST_MIN_PER_MINUTE = 20
#: Share of `requests_per_day` that is interactive (the rest is the batch jobs' nominal share).
INTERACTIVE_SHARE = 1.0 - sum(job.share for job in BATCH_JOBS)

# ----------------------------------------------------------------------------
# Errors, outages and failover
# ----------------------------------------------------------------------------

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

# ----------------------------------------------------------------------------
# Tokens and latency
# ----------------------------------------------------------------------------

PROMPT_SIGMA = 0.9  # log-normal sigma of prompt tokens
COMPLETION_SIGMA = 0.8  # log-normal sigma of completion tokens
MAX_PROMPT_TOKENS = 200_000
MAX_COMPLETION_TOKENS = 32_000
#: Completion size multipliers: reasoning models write more (their thinking), tool-call turns write less.
REASONING_COMPLETION_FACTOR = 1.8
TOOL_CALL_COMPLETION_FACTOR = 0.5
#: Share of non-tool successful responses cut off at the output limit.
LENGTH_SHARE = 0.03
#: Mean number of tool calls beyond the first in a tool-call response (Poisson).
EXTRA_TOOL_CALLS_MEAN = 0.3
#: Time to first token grows with the prompt: milliseconds per 1,000 prompt tokens.
PROMPT_MS_PER_1K_TOKENS = 15.0
TTFT_SIGMA = 0.35
GENERATION_SIGMA = 0.25

# ----------------------------------------------------------------------------
# Retrieval: embedding calls
# ----------------------------------------------------------------------------

#: App -> share of its requests preceded by an embedding of the user's query.
EMBEDDING_APPS: dict[str, float] = {"app-support-agent": 0.6, "app-doc-summarizer": 0.8}
EMBEDDING_MODEL = "openai/text-embedding-3-small"
EMBEDDING_PROVIDER = "OpenAI"
#: Median query tokens, median latency (ms) and lead time before the request (ms), all log-normal (sigma 0.6).
EMBEDDING_TOKENS_MEDIAN = 40.0
EMBEDDING_LATENCY_MS = 120.0
EMBEDDING_LEAD_MS = 300.0
EMBEDDING_PRICE_PER_M = 0.02
#: Offset of the embedding calls' own random stream from the simulation's seed.
EMBEDDING_SEED_OFFSET = 7919

# ----------------------------------------------------------------------------
# Derived lookup tables (indexed by integer codes)
# ----------------------------------------------------------------------------

MODEL_SLUGS: tuple[str, ...] = tuple(m.slug for m in MODELS)
MODEL_INDEX: dict[str, int] = {slug: i for i, slug in enumerate(MODEL_SLUGS)}
PROVIDERS: tuple[str, ...] = tuple(sorted({p for m in MODELS for p, _ in m.providers}))
PROVIDER_INDEX: dict[str, int] = {p: i for i, p in enumerate(PROVIDERS)}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(m.family for m in MODELS))
_MODEL_FAMILY = np.array([FAMILIES.index(m.family) for m in MODELS])
_MODEL_REASONING = np.array([m.reasoning for m in MODELS])
_MODEL_PRICE_IN = np.array([m.price_in for m in MODELS]) / 1e6
_MODEL_PRICE_OUT = np.array([m.price_out for m in MODELS]) / 1e6
_MODEL_TPS = np.array([float(m.tokens_per_s) for m in MODELS])
_MODEL_TTFT = np.array([float(m.ttft_ms) for m in MODELS])
_PROVIDER_PRICE = np.array([PROVIDER_PRICE_FACTOR.get(p, 1.0) for p in PROVIDERS])
_PROVIDER_TTFT = np.array([PROVIDER_SPEED.get(p, (1.0, 1.0))[0] for p in PROVIDERS])
_PROVIDER_TPS = np.array([PROVIDER_SPEED.get(p, (1.0, 1.0))[1] for p in PROVIDERS])
_UNREPORTED = np.zeros((len(MODELS), len(PROVIDERS)), dtype=bool)
for _model, _provider in REASONING_UNREPORTED:
    _UNREPORTED[MODEL_INDEX[_model], PROVIDER_INDEX[_provider]] = True
_DIALECTS: tuple[str, ...] = tuple(NATIVE_FINISH)
_MODEL_DIALECT = np.array([_DIALECTS.index(FAMILY_FINISH_DIALECT.get(m.family, "openai")) for m in MODELS])
_FINISH_NAMES: tuple[str, ...] = tuple(dict.fromkeys(r for d in _DIALECTS for r in NATIVE_FINISH[d]))
#: [dialect, outcome 0 stop / 1 tool / 2 length] -> index into _FINISH_NAMES.
_FINISH_CODE = np.array([[_FINISH_NAMES.index(r) for r in NATIVE_FINISH[d]] for d in _DIALECTS])
_ERROR_DIALECTS: tuple[str, ...] = tuple(ERROR_VOCAB)
_PROVIDER_ERROR_DIALECT = np.array([_ERROR_DIALECTS.index(PROVIDER_ERROR_DIALECT.get(p, "openai")) for p in PROVIDERS])
_ERROR_CODES: tuple[str, ...] = tuple(
    dict.fromkeys(code for d in ERROR_VOCAB.values() for options in d.values() for _, code in options)
)
_APP_IDS: tuple[str, ...] = tuple(a.app_id for a in ALL_APPS)
_ROLES: tuple[str, ...] = tuple(ROLE_PROMPT_FACTOR)
_REQUESTED: tuple[str, ...] = tuple(
    dict.fromkeys([*MODEL_SLUGS, *(r.requested for a in ALL_APPS for r in a.routes if r.requested)])
)
_APP_USERS = np.array([a.users for a in ALL_APPS])
_USER_OFFSET = np.cumsum([0, *_APP_USERS])[:-1]
_APP_TOOLS_MIN = np.array([a.tools[0] for a in ALL_APPS])
_APP_TOOLS_SPAN = np.array([a.tools[1] - a.tools[0] + 1 for a in ALL_APPS])
_APP_PROMPT = np.array([a.prompt_median for a in ALL_APPS])
_APP_COMPLETION = np.array([a.completion_median for a in ALL_APPS])
_APP_CACHE = np.array([a.cache_share for a in ALL_APPS])
_APP_STREAM = np.array([a.stream_share for a in ALL_APPS])
_APP_TOOLS_SHARE = np.array([a.tools_share for a in ALL_APPS])
_APP_TOOLS_LOGGED = np.array([a.app_id not in TOOLS_UNLOGGED_APPS for a in ALL_APPS])
_APP_PROMPT_GROWTH = np.array([a.prompt_growth for a in ALL_APPS])
_APP_COMPLETION_GROWTH = np.array([a.completion_growth for a in ALL_APPS])
_APP_BYOK = np.array([BYOK_SHARE.get(a.app_id, 0.0) for a in ALL_APPS])
assert set(TOOLS_UNLOGGED_APPS) | set(BYOK_SHARE) <= set(_APP_IDS), "unknown app in TOOLS_UNLOGGED_APPS or BYOK_SHARE"
_ROLE_PROMPT = np.array([ROLE_PROMPT_FACTOR[r] for r in _ROLES])
_ROLE_COMPLETION = np.array([ROLE_COMPLETION_FACTOR[r] for r in _ROLES])

#: Output columns and their polars dtypes (canonical input keys).
COLUMNS: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "attempt": pl.Int64(),
    "created_at": pl.Datetime("us", "UTC"),
    "app_id": pl.String(),
    "user_id": pl.String(),
    "model_requested": pl.String(),
    "model": pl.String(),
    "provider_native": pl.String(),
    "status": pl.String(),
    "http_status": pl.Int64(),
    "error_code": pl.String(),
    "native_finish_reason": pl.String(),
    "finish_reason": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "cached_prompt_tokens": pl.Int64(),
    "tool_calls": pl.Int64(),
    "tools_offered": pl.Int64(),
    "latency_ms": pl.Float64(),
    "ttft_ms": pl.Float64(),
    "streamed": pl.Boolean(),
    "cost_usd": pl.Float64(),
    "operation": pl.String(),
}

Arrays = dict[str, np.ndarray]

# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def simulate(start: dt.date, days: int, requests_per_day: int, seed: int) -> pl.DataFrame:
    """Simulate `days` days of gateway traffic from `start` (UTC), about `requests_per_day` requests a day.

    Returns one row per upstream attempt with the canonical input keys (`COLUMNS`), sorted by created_at,
    request_id, attempt. Request ids are "gen-<seed>-<index>", the index zero-padded and in order of the
    first attempt's time. The same arguments always give the same frame.
    """
    if days < 0 or requests_per_day < 0:
        raise ValueError("days and requests_per_day must be >= 0")
    rng = np.random.default_rng(seed)
    start = dt.date(start.year, start.month, start.day)
    t0 = (start - EPOCH).days * US_PER_DAY
    requests = _requests(rng, start, days, requests_per_day, t0)
    windows = [(p, b, e, OUTAGE_FAIL_SHARE) for p, b, e in _outage_windows(t0, days)] + _incident_windows(start, days)
    rows = _attempts(rng, requests, windows)
    _responses(rng, rows, requests, t0)
    frame = _frame(rows, requests, seed)
    return _with_embeddings(frame, np.random.default_rng(seed + EMBEDDING_SEED_OFFSET))


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


def write_canonical(
    frame: pl.DataFrame,
    out: str,
    *,
    rows_per_file: int | None = None,
    compression: str | None = "infer",
    suffix: str = ".jsonl",
) -> list[str]:
    """Write `frame` as canonical JSON lines to the fsspec URL `out`; return the URLs written.

    Without `rows_per_file`, `out` is the file. With it, `out` is a directory receiving
    `requests-0000<suffix>`, `requests-0001<suffix>`, ... of at most `rows_per_file` rows each; `suffix`
    (e.g. ".jsonl.zst") carries the compression extension. `compression` is passed to `fsspec.open`:
    "infer" picks it from the extension (.gz, .zst, ...), None writes plain text. `created_at` is written
    as ISO 8601 with a "Z"; nulls are written as null.
    """
    if rows_per_file is None:
        _write_file(frame, out, compression)
        return [out]
    if rows_per_file < 1:
        raise ValueError("rows_per_file must be >= 1")
    base = out.rstrip("/")
    urls = []
    for number, offset in enumerate(range(0, frame.height, rows_per_file)):
        url = f"{base}/requests-{number:04d}{suffix}"
        _write_file(frame.slice(offset, rows_per_file), url, compression)
        urls.append(url)
    return urls


# ----------------------------------------------------------------------------
# Requests: when, which app, which model
# ----------------------------------------------------------------------------


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
        apps.append(np.full(day.size, _APP_IDS.index(job.app_id), dtype=np.int64))
    return np.concatenate(times), np.concatenate(apps)


def _requests(rng: np.random.Generator, start: dt.date, days: int, per_day: int, t0: int) -> Arrays:
    """Request-level attributes, sorted by the first attempt's time: t (microseconds since the epoch; `t0` is
    the start), app, route, provider, user, prompt size, cache share, tools offered, streaming."""
    volume, growth = _day_profile(start, days)
    t_i, app_i = _interactive(rng, volume, per_day)
    t_b, app_b = _bursts(rng, growth, per_day)
    t = np.concatenate([t_i, t_b])
    order = np.argsort(t, kind="stable")
    req: Arrays = {"t": t[order] + t0, "app": np.concatenate([app_i, app_b])[order]}
    _assign_routes(rng, req)
    req["provider"] = _pick_providers(rng, req["model"])
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
        req["requested"][idx] = np.array([_REQUESTED.index(r.requested or r.model) for r in app.routes])[pick]


def _pick_providers(rng: np.random.Generator, model: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
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


# ----------------------------------------------------------------------------
# Attempts: outcomes, outages, failover
# ----------------------------------------------------------------------------


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


def _attempts(rng: np.random.Generator, req: Arrays, windows: list[tuple[int, int, int, float]]) -> Arrays:
    """Attempt rows: every request's first attempt plus a fallback attempt for retried failures."""
    t1, provider1 = req["t"], req["provider"]
    kind1 = _outcomes(rng, provider1, t1, windows)
    error_ms1 = _error_latency(rng, kind1)
    retry = np.isin(kind1, RETRYABLE) & (rng.random(kind1.size) < FAILOVER_SHARE)
    again = np.flatnonzero(retry)
    provider2 = _pick_providers(rng, req["model"][again], exclude=provider1[again])
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


# ----------------------------------------------------------------------------
# Responses: finish, tokens, latency, cost
# ----------------------------------------------------------------------------


def _tool_call_share(model: np.ndarray, provider: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Probability that a successful response ends in a tool call (family trend, then provider overrides)."""
    share = DEFAULT_TOOL_CALL_SHARE.at(day)
    family = _MODEL_FAMILY[model]
    for code, name in enumerate(FAMILIES):
        if name in TOOL_CALL_SHARE:
            mask = family == code
            share[mask] = TOOL_CALL_SHARE[name].at(day[mask])
    for (slug, host), trend in TOOL_CALL_OVERRIDES.items():
        mask = (model == MODEL_INDEX[slug]) & (provider == PROVIDER_INDEX[host])
        share[mask] = trend.at(day[mask])
    return share


def _offering_share(req: Arrays) -> np.ndarray:
    """Share of each model family's requests that offer tools, over the whole run (1 for a family none of whose
    requests does): the tool-call share of a family is drawn among those requests, divided by this."""
    family = _MODEL_FAMILY[req["model"]]
    requests = np.bincount(family, minlength=len(FAMILIES))
    offering = np.bincount(family, weights=req["offers_tools"], minlength=len(FAMILIES))
    return np.where(offering > 0, offering / np.maximum(requests, 1), 1.0)


def _output_tokens(
    rng: np.random.Generator, median: np.ndarray, model: np.ndarray, tool: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Completion tokens (log-normal) and the reasoning tokens within them.

    The reasoning share of each response is Beta-distributed with mean REASONING_SHARE(day), independent of
    the completion size, so the token-weighted share over many responses is REASONING_SHARE(day) too.
    """
    n = median.size
    reasoning_model = _MODEL_REASONING[model]
    scale = median * np.where(reasoning_model, REASONING_COMPLETION_FACTOR, 1.0)
    scale *= np.where(tool, TOOL_CALL_COMPLETION_FACTOR, 1.0)
    completion = np.clip(np.rint(scale * np.exp(COMPLETION_SIGMA * rng.standard_normal(n))), 1, MAX_COMPLETION_TOKENS)
    mean = REASONING_SHARE.at(day)
    share = rng.beta(REASONING_CONCENTRATION * mean + 1e-9, REASONING_CONCENTRATION * (1.0 - mean) + 1e-9)
    reasoning = np.where(reasoning_model, np.rint(completion * share), 0.0)
    return completion, reasoning


def _latency(
    rng: np.random.Generator,
    model: np.ndarray,
    provider: np.ndarray,
    prompt: np.ndarray,
    completion: np.ndarray,
    reasoning: np.ndarray,
    streamed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Latency and time to first token (ms). The first visible token waits for the prompt (the model's median
    and the prefill, times the provider's multiplier) and the thinking; the rest streams at the model's speed
    times the provider's. A non-streamed response's first byte is its last."""
    n = model.size
    ms_per_token = 1000.0 / (_MODEL_TPS[model] * _PROVIDER_TPS[provider])
    ttft = _MODEL_TTFT[model] * np.exp(TTFT_SIGMA * rng.standard_normal(n)) + prompt / 1000.0 * PROMPT_MS_PER_1K_TOKENS
    ttft = ttft * _PROVIDER_TTFT[provider] + reasoning * ms_per_token
    generation = (completion - reasoning) * ms_per_token * np.exp(GENERATION_SIGMA * rng.standard_normal(n))
    latency = ttft + generation
    return latency, np.where(streamed, ttft, latency)


def _error_fields(rng: np.random.Generator, provider: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HTTP status and native error code index of each error row, in its provider's dialect."""
    http = np.zeros(kind.size, np.int64)
    code = np.full(kind.size, len(_ERROR_CODES), np.int64)
    dialect = _PROVIDER_ERROR_DIALECT[provider]
    for d, name in enumerate(_ERROR_DIALECTS):
        for k, options in ERROR_VOCAB[name].items():
            idx = np.flatnonzero((dialect == d) & (kind == k))
            pick = rng.integers(0, len(options), idx.size)
            http[idx] = np.array([status for status, _ in options])[pick]
            code[idx] = np.array([_ERROR_CODES.index(c) for _, c in options])[pick]
    return http, code


def _responses(rng: np.random.Generator, rows: Arrays, req: Arrays, t0: int) -> None:
    """Add finish reasons, tool calls, tokens, latency, HTTP status, error code and cost to `rows`."""
    r, provider, kind = rows["req"], rows["provider"], rows["kind"]
    model = req["model"][r]
    n = kind.size
    success, cancelled = kind == OK, kind == CANCELLED
    day = (rows["t"] - t0) / US_PER_DAY
    offers = req["offers_tools"][r]
    family_share = _tool_call_share(model, provider, day) / _offering_share(req)[_MODEL_FAMILY[model]]
    tool = success & offers & (rng.random(n) < family_share)
    cut = success & offers & ~tool & (rng.random(n) < TOOL_CALL_CUT_SHARE)  # a tool call cut at the limit
    length = success & ~tool & (cut | (rng.random(n) < LENGTH_SHARE))
    completion, reasoning = _output_tokens(rng, req["completion_median"][r], model, tool, day)
    kept = np.where(cancelled, rng.random(n), 1.0)  # a cancelled response stops part way
    completion = np.floor(completion * kept)
    reasoning = np.minimum(np.floor(reasoning * kept), completion)
    prompt = req["prompt"][r]
    cached = np.where(rows["attempt"] == 1, np.floor(prompt * req["cache_frac"][r]), 0.0)  # fallback: cold cache
    latency, ttft = _latency(rng, model, provider, prompt, completion, reasoning, req["streamed"][r])
    http, error_code = _error_fields(rng, provider, kind)
    price = _PROVIDER_PRICE[provider]
    cost = price * ((prompt - cached + cached * CACHED_PRICE_FACTOR) * _MODEL_PRICE_IN[model])
    cost += price * completion * _MODEL_PRICE_OUT[model]
    responded = success | cancelled
    rows.update(
        model=model,
        prompt=prompt,
        cached=cached.astype(np.int64),
        completion=completion.astype(np.int64),
        reasoning=reasoning.astype(np.int64),
        reasoning_reported=_MODEL_REASONING[model] & ~_UNREPORTED[model, provider] & responded,
        tool_calls=np.where(tool | cut, 1 + rng.poisson(EXTRA_TOOL_CALLS_MEAN, n), 0),
        native=_FINISH_CODE[_MODEL_DIALECT[model], np.where(tool, 1, np.where(length, 2, 0))],
        gemini_tool=tool & (_MODEL_DIALECT[model] == _DIALECTS.index("gemini")),
        latency=np.round(np.where(responded, latency, rows["error_ms"]), 3),  # rounding keeps ttft <= latency
        ttft=np.round(ttft, 3),
        http=np.where(success, 200, http),
        error_code=error_code,
        cost=np.where(responded & ~req["byok"][r], np.round(cost, 10), 0.0),
    )


# ----------------------------------------------------------------------------
# Frame assembly and writing
# ----------------------------------------------------------------------------


def _names(vocab: tuple[str, ...], codes: str) -> pl.Expr:
    """Strings for the integer codes in column `codes` into `vocab` (a code of len(vocab) gives null)."""
    return pl.lit(pl.Series([*vocab, None], dtype=pl.String)).gather(pl.col(codes))


def _padded(prefix: str, column: str, width: int) -> pl.Expr:
    """`prefix` followed by the integer column zero-padded to `width` digits."""
    return pl.concat_str(pl.lit(prefix), (pl.col(column) + 10**width).cast(pl.String).str.slice(1))


def _frame(rows: Arrays, req: Arrays, seed: int) -> pl.DataFrame:
    """The output DataFrame: rows sorted by created_at, request_id, attempt, with the canonical columns.

    Rows stay integer codes (-1 or len(vocab) for null) until they are sorted by time, request index and
    attempt, which is the order of created_at, request_id, attempt since ids are zero-padded indexes."""
    order = np.lexsort((rows["attempt"], rows["req"], rows["t"]))
    c = {name: values[order] for name, values in rows.items()}
    r, kind = c["req"], c["kind"]
    success, cancelled = kind == OK, kind == CANCELLED
    responded = success | cancelled
    codes = pl.DataFrame(
        {
            "t": c["t"],
            "req": r,
            "attempt": c["attempt"],
            "app": req["app"][r],
            "user": req["user"][r],
            "requested": req["requested"][r],
            "model": c["model"],
            "provider": c["provider"],
            "status": np.where(success, 0, np.where(cancelled, 2, 1)),
            "http_status": np.where(cancelled, -1, c["http"]),
            "error_code": c["error_code"],
            "native": np.where(success, c["native"], len(_FINISH_NAMES)),
            "override": np.where(c["gemini_tool"], 0, 1),
            "prompt_tokens": np.where(responded, c["prompt"], -1),
            "completion_tokens": np.where(responded, c["completion"], -1),
            "reasoning_tokens": np.where(c["reasoning_reported"], c["reasoning"], -1),
            "cached_prompt_tokens": np.where(responded, c["cached"], -1),
            "tool_calls": np.where(success, c["tool_calls"], -1),
            "tools_offered": np.where(req["tools_logged"][r], req["tools_offered"][r], -1),
            "latency_ms": c["latency"],
            "ttft_ms": np.where(responded, c["ttft"], np.nan),
            "streamed": req["streamed"][r],
            "cost_usd": c["cost"],
        }
    )
    nullable = (
        "http_status",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "cached_prompt_tokens",
        "tools_offered",
    )
    frame = codes.select(
        request_id=_padded(f"gen-{seed}-", "req", max(9, len(str(req["t"].size)))),
        attempt=pl.col("attempt"),
        created_at=pl.col("t").cast(pl.Datetime("us", "UTC")),
        app_id=_names(_APP_IDS, "app"),
        user_id=_padded("user-", "user", 5),
        model_requested=_names(_REQUESTED, "requested"),
        model=_names(MODEL_SLUGS, "model"),
        provider_native=_names(PROVIDERS, "provider"),
        status=_names(("success", "error", "cancelled"), "status"),
        error_code=_names(_ERROR_CODES, "error_code"),
        native_finish_reason=_names(_FINISH_NAMES, "native"),
        finish_reason=_names(("tool_calls",), "override"),
        **{name: pl.when(pl.col(name) >= 0).then(pl.col(name)) for name in (*nullable, "tool_calls")},
        latency_ms=pl.col("latency_ms"),
        ttft_ms=pl.col("ttft_ms").fill_nan(None),
        streamed=pl.col("streamed"),
        cost_usd=pl.col("cost_usd"),
    )
    return frame.select([pl.col(name).cast(dtype) for name, dtype in COLUMNS.items() if name != "operation"])


def _with_embeddings(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """`frame` plus the embedding calls of the RAG apps (see the module docstring), sorted as `simulate` says."""
    firsts = frame.filter((pl.col("attempt") == 1) & pl.col("app_id").is_in(list(EMBEDDING_APPS)))
    share = firsts["app_id"].replace_strict(EMBEDDING_APPS, return_dtype=pl.Float64).to_numpy()
    chosen = firsts.filter(pl.Series(rng.random(firsts.height) < share))
    n = chosen.height
    tokens = np.maximum(1, np.round(rng.lognormal(np.log(EMBEDDING_TOKENS_MEDIAN), 0.6, n))).astype(np.int64)
    lead_us = np.round(rng.lognormal(np.log(EMBEDDING_LEAD_MS), 0.6, n) * US_PER_MS).astype(np.int64)
    latency = np.minimum(rng.lognormal(np.log(EMBEDDING_LATENCY_MS), 0.6, n), lead_us / US_PER_MS)
    embeddings = chosen.select(
        request_id=pl.col("request_id") + "-emb",
        attempt=pl.lit(1, pl.Int64),
        created_at=pl.col("created_at") - pl.duration(microseconds=pl.Series(lead_us)),
        app_id=pl.col("app_id"),
        user_id=pl.col("user_id"),
        model_requested=pl.lit(EMBEDDING_MODEL),
        model=pl.lit(EMBEDDING_MODEL),
        provider_native=pl.lit(EMBEDDING_PROVIDER),
        status=pl.lit("success"),
        http_status=pl.lit(200, pl.Int64),
        error_code=pl.lit(None, pl.String),
        native_finish_reason=pl.lit(None, pl.String),
        finish_reason=pl.lit(None, pl.String),
        prompt_tokens=pl.Series(tokens),
        completion_tokens=pl.lit(None, pl.Int64),
        reasoning_tokens=pl.lit(None, pl.Int64),
        cached_prompt_tokens=pl.lit(None, pl.Int64),
        tool_calls=pl.lit(None, pl.Int64),
        tools_offered=pl.lit(None, pl.Int64),
        latency_ms=pl.Series(np.round(latency, 3)),
        ttft_ms=pl.lit(None, pl.Float64),
        streamed=pl.lit(False),
        cost_usd=pl.Series(tokens * EMBEDDING_PRICE_PER_M / 1e6),
        operation=pl.lit("embeddings"),
    )
    chats = frame.with_columns(operation=pl.lit("chat"))
    merged = pl.concat([chats, embeddings.select([pl.col(c).cast(t) for c, t in COLUMNS.items()])])
    return merged.sort("created_at", "request_id", "attempt")


#: Rows serialized per write call, to bound the memory of the JSON buffer.
WRITE_CHUNK_ROWS = 200_000


def _write_file(frame: pl.DataFrame, url: str, compression: str | None) -> None:
    """Write `frame` as JSON lines to one fsspec URL, creating local parent folders."""
    fs, path = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(path), exist_ok=True)
    if "created_at" in frame.columns and isinstance(frame.schema["created_at"], pl.Datetime):
        frame = frame.with_columns(
            pl.col("created_at").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        )
    with fsspec.open(url, "wb", compression=compression) as handle:
        for offset in range(0, frame.height, WRITE_CHUNK_ROWS):
            buffer = io.BytesIO()
            frame.slice(offset, WRITE_CHUNK_ROWS).write_ndjson(buffer)
            handle.write(buffer.getvalue())
