"""Writes the OpenRouter format (read by `schemas/adapters/openrouter.py`): generation records.

One ``{"data": {...}}`` per line, the response of ``GET /api/v1/generation`` (OpenRouter
OpenAPI ``GenerationResponse``: every required key is written, unknowns as null). One line per REQUEST: the
final attempt is the generation (``provider_name``, tokens, ``finish_reason`` normalized to OpenAI's vocabulary
with the vendor's value in ``native_finish_reason``: Anthropic ``tool_use`` -> ``tool_calls``, a Gemini function
call keeps native ``STOP``); ``provider_responses`` lists every attempt in order (``ProviderResponse``:
``provider_name``, ``status`` = HTTP status, ``latency`` ms, ``id``, ``model_permaslug``, ``is_byok``), the
failed fallbacks first and the served one last. ``created_at`` is when the request arrived (its first
attempt), ISO 8601 with ``+00:00``; ``latency`` is the time to first token and ``generation_time`` the whole
attempt (ms). The OpenAPI text calls ``latency`` "total latency", but a real record quoted in public code
(streamed: ``latency`` 1016, ``generation_time`` 2940) cannot be a total, so ``latency`` is read as
first-token latency, as OpenRouter shows it. Provider names follow the spec's
``ProviderResponse.provider_name`` enum (``Google`` for Vertex, ``Minimax``). ``app_id`` is an integer in
OpenRouter, so the simulated app name becomes a stable integer (``app_number``) and the app's site URL in
``http_referer`` (OpenRouter attributes apps by that header); ``router`` is ``openrouter/auto`` when the
caller asked for the router. ``external_user`` (the request's ``user``
field) carries the pseudonymous end-user id (see `devkit.simulate.formats`). A request whose every attempt failed has no
generation record (OpenRouter bills and records generations only; the caller just receives the error JSON), so
it is not written at all. A cancelled attempt has no HTTP status here either (``status`` null, as in the
canonical record). A request on the customer's own key (the simulator's BYOK requests, whose responses cost
0) has ``is_byok`` true and ``total_cost`` 0.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from devkit.simulate.formats._shared import CHUNK_ROWS, chunks, iso, json_object, null

#: Upstreams whose OpenRouter generation records count reasoning tokens beside the completion tokens instead of
#: inside them (a quirk of real logs, kept and flagged on ingest: reasoning_outside_completion).
OPENROUTER_REASONING_OUTSIDE: frozenset[str] = frozenset({"Novita"})
#: Simulator provider names OpenRouter spells differently (OpenAPI ProviderResponse.provider_name enum).
OPENROUTER_PROVIDER_NAME: dict[str, str] = {"Google Vertex": "Google", "MiniMax": "Minimax"}
#: Simulated operation -> OpenRouter api_type.
OPENROUTER_API_TYPE: dict[str, str] = {"chat": "completions", "embeddings": "embeddings"}


def lines(rows: pl.DataFrame) -> Iterator[pl.Series]:
    """Generation records of the requests whose final attempt produced a response, in order of arrival."""
    rows = rows.with_columns(openrouter_provider=pl.col("provider_native").replace(OPENROUTER_PROVIDER_NAME))
    entry = pl.struct(
        provider_name=pl.col("openrouter_provider"),
        status=pl.col("http_status"),
        latency=pl.col("latency_ms"),
        id=pl.col("response_id"),
        model_permaslug=pl.col("model"),
        is_byok=pl.col("byok"),
    )
    per_request = rows.group_by("request_id").agg(
        provider_responses=entry.sort_by("attempt"),
        arrived=pl.col("created_at").sort_by("attempt").first(),
        arrived_us=pl.col("t_us").min(),
        final=pl.col("attempt").max(),
    )
    finals = (
        rows.join(per_request, on="request_id")
        .filter(pl.col("attempt") == pl.col("final"), pl.col("responded"))
        .sort("arrived_us", "request_id")
    )
    for chunk in chunks(finals.height, CHUNK_ROWS):
        yield _openrouter_lines(finals.slice(*chunk))


def _reasoning_outside() -> pl.Expr:
    """The generations whose upstream counts reasoning beside the completion, where a reader can tell: reasoning
    above what remains of the completion (where it is below, no log says the count is short, and none is
    simulated)."""
    reasoning = pl.col("reasoning_tokens")
    beside = pl.col("provider_native").is_in(list(OPENROUTER_REASONING_OUTSIDE))
    return (beside & (reasoning > pl.col("completion_tokens") - reasoning)).fill_null(False)


def _openrouter_lines(final: pl.DataFrame) -> pl.Series:
    int_null = null(pl.Int64())
    data = pl.struct(
        id=pl.col("request_id"),
        upstream_id=pl.col("response_id"),
        total_cost=pl.col("cost_usd"),
        cache_discount=null(pl.Float64()),
        upstream_inference_cost=null(pl.Float64()),
        created_at=iso("arrived"),
        model=pl.col("model"),
        app_id=pl.col("app_number"),
        streamed=pl.col("streamed"),
        cancelled=pl.col("cancelled"),
        provider_name=pl.col("openrouter_provider"),
        latency=pl.col("ttft_ms"),
        moderation_latency=null(pl.Float64()),
        generation_time=pl.col("latency_ms"),
        finish_reason=pl.col("openai_finish"),
        native_finish_reason=pl.col("native_finish_reason"),
        tokens_prompt=pl.col("prompt_tokens"),
        tokens_completion=pl.col("completion_tokens"),
        native_tokens_prompt=pl.col("prompt_tokens"),
        native_tokens_completion=pl.when(_reasoning_outside())
        .then(pl.col("completion_tokens") - pl.col("reasoning_tokens"))
        .otherwise(pl.col("completion_tokens")),
        native_tokens_completion_images=int_null,
        native_tokens_reasoning=pl.col("reasoning_tokens"),
        native_tokens_cached=pl.col("cached_prompt_tokens"),
        num_media_prompt=int_null,
        num_input_audio_prompt=int_null,
        num_media_completion=int_null,
        num_search_results=int_null,
        num_fetches=int_null,
        web_search_engine=null(),
        origin=pl.lit(""),
        usage=pl.col("cost_usd"),
        is_byok=pl.col("byok"),
        external_user=pl.col("end_user"),
        api_type=pl.col("operation").replace_strict(OPENROUTER_API_TYPE, return_dtype=pl.String),
        preset_id=null(),
        router=pl.when(pl.col("model_requested") == "openrouter/auto").then(pl.col("model_requested")),
        provider_responses=pl.col("provider_responses"),
        user_agent=null(),
        http_referer=pl.concat_str(pl.lit("https://"), pl.col("app_id"), pl.lit(".example.com/")),
        data_region=pl.lit("global"),
        request_id=null(),
        session_id=null(),
        service_tier=null(),
        workspace_id=null(),
    )
    return final.select(line=json_object(data=data)).to_series()
