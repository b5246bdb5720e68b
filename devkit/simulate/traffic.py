"""The traffic model's parameters: time, the trends the metrics must recover, the model catalogue, the apps and
the overnight batch jobs (see the package docstring for the whole model).

Every effect is a constant here, so that a test can compare what the metrics recover with what was put in. The
integer codes the vectorized simulation works with (a model, provider or app is its index in `MODELS`,
`PROVIDERS`, `ALL_APPS`) are derived at the end of the module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

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
# Integer codes (the simulation's arrays hold indexes into these)
# ----------------------------------------------------------------------------

#: The simulation's working columns: one NumPy array per attribute, all of one length (requests or attempts).
Arrays = dict[str, np.ndarray]

MODEL_SLUGS: tuple[str, ...] = tuple(m.slug for m in MODELS)
MODEL_INDEX: dict[str, int] = {slug: i for i, slug in enumerate(MODEL_SLUGS)}
PROVIDERS: tuple[str, ...] = tuple(sorted({p for m in MODELS for p, _ in m.providers}))
PROVIDER_INDEX: dict[str, int] = {p: i for i, p in enumerate(PROVIDERS)}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(m.family for m in MODELS))
APP_IDS: tuple[str, ...] = tuple(a.app_id for a in ALL_APPS)
#: Model ids a request may name: the served slugs, then the aliases apps ask for (a router).
REQUESTED_IDS: tuple[str, ...] = tuple(
    dict.fromkeys([*MODEL_SLUGS, *(r.requested for a in ALL_APPS for r in a.routes if r.requested)])
)
assert set(TOOLS_UNLOGGED_APPS) | set(BYOK_SHARE) <= set(APP_IDS), "unknown app in TOOLS_UNLOGGED_APPS or BYOK_SHARE"
