"""What comes back: for each attempt its finish (stop, tool call, cut at the limit) in the model's own vocabulary,
its tool calls, tokens (prompt, completion, reasoning, cached), latency and time to first token, HTTP status and
error code, and cost.
"""

from __future__ import annotations

import numpy as np

from devkit.simulate.effects import CANCELLED, OK, error_fields
from devkit.simulate.traffic import (
    CACHED_PRICE_FACTOR,
    DEFAULT_TOOL_CALL_SHARE,
    FAMILIES,
    FAMILY_FINISH_DIALECT,
    MODEL_INDEX,
    MODELS,
    NATIVE_FINISH,
    PROVIDER_INDEX,
    PROVIDER_PRICE_FACTOR,
    PROVIDER_SPEED,
    PROVIDERS,
    REASONING_CONCENTRATION,
    REASONING_SHARE,
    REASONING_UNREPORTED,
    TOOL_CALL_CUT_SHARE,
    TOOL_CALL_OVERRIDES,
    TOOL_CALL_SHARE,
    US_PER_DAY,
    Arrays,
)

COMPLETION_SIGMA = 0.8  # log-normal sigma of completion tokens
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

# Per-model and per-provider attribute tables, indexed by the model and provider codes.
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
#: Every native finish reason of NATIVE_FINISH once (a response's finish is its index here).
FINISH_NAMES: tuple[str, ...] = tuple(dict.fromkeys(r for d in _DIALECTS for r in NATIVE_FINISH[d]))
#: [dialect, outcome 0 stop / 1 tool / 2 length] -> index into FINISH_NAMES.
_FINISH_CODE = np.array([[FINISH_NAMES.index(r) for r in NATIVE_FINISH[d]] for d in _DIALECTS])


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


def add(rng: np.random.Generator, rows: Arrays, req: Arrays, t0: int) -> None:
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
    http, error_code = error_fields(rng, provider, kind)
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
