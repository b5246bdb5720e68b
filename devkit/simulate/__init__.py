"""Deterministic synthetic LLM gateway traffic, as canonical request records (one row per upstream attempt).

The simulator exists so that the pipeline and its metrics can be tested against traffic whose trends are
known: every effect below is a constant in the module that draws it, and the metrics should recover it. It is
a development tool: the product (pipelines/, schemas/, dashboards/) never imports it, except the CLI's
`simulate` command, lazily.

Modules
-------
* `traffic`: the parameters of who sends what when: time, trends, the model catalogue, apps, batch jobs.
* `arrivals`: the requests: when each arrives, from which app, to which model and provider, their sizes.
* `effects`: what goes wrong: faults, client errors, cancellations, outages, incidents, failover.
* `responses`: what comes back: finish, tool calls, tokens, latency, status, cost.
* `records`: the output frame (`COLUMNS`) and the embedding calls.
* `formats`: the frame written in each log format the ingest reads, one writer module per adapter.

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
`simulate` returns the canonical input keys (`records.COLUMNS`), one row per attempt, sorted by created_at,
request_id, attempt. Success rows have http_status 200 and a native finish reason in the model's own
vocabulary (`NATIVE_FINISH`); error rows have http_status and error_code in the provider's vocabulary
(`ERROR_VOCAB`), no tokens, no finish reason, no ttft and cost 0; cancelled rows have no http_status and
partial output. `formats.write` writes such a frame in any format (`formats.canonical.write_canonical`: as
(compressed) JSON lines for the ingest).

Everything is vectorized with NumPy (loops only over apps, models, families, providers, batch jobs and outage
and incident windows) and drawn from one `numpy.random.default_rng(seed)`, so the same arguments give the same frame.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from devkit.simulate import arrivals, effects, records, responses
from devkit.simulate.traffic import EPOCH, US_PER_DAY


def simulate(start: dt.date, days: int, requests_per_day: int, seed: int) -> pl.DataFrame:
    """Simulate `days` days of gateway traffic from `start` (UTC), about `requests_per_day` requests a day.

    Returns one row per upstream attempt with the canonical input keys (`records.COLUMNS`), sorted by created_at,
    request_id, attempt. Request ids are "gen-<seed>-<index>" (from a `start` other than
    `records.UNDATED_START`: "gen-<seed>-<YYYYMMDD>-<index>", so that runs from different days share no id), the
    index zero-padded and in order of the first attempt's time. The same arguments always give the same frame.
    """
    if days < 0 or requests_per_day < 0:
        raise ValueError("days and requests_per_day must be >= 0")
    rng = np.random.default_rng(seed)
    start = dt.date(start.year, start.month, start.day)
    t0 = (start - EPOCH).days * US_PER_DAY
    requests = arrivals.draw(rng, start, days, requests_per_day, t0)
    rows = effects.attempts(rng, requests, effects.failure_windows(start, days))
    responses.add(rng, rows, requests, t0)
    frame = records.assemble(rows, requests, records.id_prefix(seed, start))
    return records.with_embeddings(frame, np.random.default_rng(seed + records.EMBEDDING_SEED_OFFSET))
