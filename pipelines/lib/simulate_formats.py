"""Write simulated traffic (the frame `simulate.simulate` returns) in the log formats of real gateways.

`write(frame, url, format)` writes the SAME attempts as gatewaylens canonical JSON lines, OpenRouter generation
stats, LiteLLM `StandardLoggingPayload`s or OpenTelemetry GenAI spans (OTLP/JSON), so that a simulated day has the
same metrics whichever format carried it, wherever the format can express them. Every writer is vectorized with
Polars (structs and lists encoded with `struct.json_encode`, OTLP attributes assembled as strings); only the
per-value lookups (hashes of a few thousand user, app and request ids) run in Python.

Shapes (each checked against the real source)
---------------------------------------------
* ``openrouter``: one ``{"data": {...}}`` per line, the response of ``GET /api/v1/generation`` (OpenRouter
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
  field) carries the pseudonymous end-user id (see below). A request whose every attempt failed has no
  generation record (OpenRouter bills and records generations only; the caller just receives the error JSON), so
  it is not written at all. A cancelled attempt has no HTTP status here either (``status`` null, as in the
  canonical record). A request on the customer's own key (the simulator's BYOK requests, whose responses cost
  0) has ``is_byok`` true and ``total_cost`` 0.
* ``litellm``: one ``StandardLoggingPayload`` per line (``litellm/types/utils.py``; fields as
  ``get_standard_logging_object_payload`` in ``litellm_logging.py`` fills them), one line per ATTEMPT. The attempts
  of one request share ``trace_id`` (the TypedDict: "Trace multiple LLM calls belonging to same overall request
  (e.g. fallbacks/retries)"); each attempt has its own ``litellm_call_id`` (a UUID). ``id`` is the provider
  response id on success and the ``litellm_call_id`` on failure (``response_obj.get("id", litellm_call_id)``).
  Times are epoch seconds (floats); ``completionStartTime`` equals ``endTime`` when nothing streamed back, and
  ``response_time`` is time to first token when streamed, else the whole call. ``response`` is the OpenAI-format
  ``ModelResponse`` (``choices[0].finish_reason`` in OpenAI vocabulary, ``message.tool_calls`` as many entries as
  tool calls, ``usage.completion_tokens_details.reasoning_tokens`` (null details when the provider reports
  none) and ``usage.prompt_tokens_details.cached_tokens``); message text is LiteLLM's own redaction marker
  ``redacted-by-litellm`` (as with ``turn_off_message_logging``). Failures have ``status`` "failure", no
  ``response``, ``error_str`` and ``error_information`` (``error_code`` = HTTP status as a string,
  ``error_class`` = LiteLLM exception class, ``llm_provider``, ``error_message`` naming the provider's native
  error code, empty ``traceback``). ``metadata``: ``user_api_key_hash`` = SHA-256 of a per-app virtual key
  (LiteLLM stores the hash of the key), ``user_api_key_alias`` and ``user_api_key_team_alias`` = app id,
  ``user_api_key_end_user_id`` and ``end_user`` = the pseudonymous end-user id. ``model_group`` is the model the
  caller asked for, ``model`` the one served; ``custom_llm_provider`` and ``api_base`` follow LiteLLM's provider
  names (``vertex_ai``, ``bedrock``, ``together_ai``, ...).
* ``otel``: one OTLP/JSON ``ExportTraceServiceRequest`` per line, as the collector's ``file`` exporter writes
  them: all attempts starting in one UTC minute, one ``resourceSpans`` entry per app (resource attribute
  ``service.name`` = app id), scope ``gatewaylens.simulate``. One CLIENT span (``kind`` 3) per ATTEMPT, named
  ``chat {model}``; the attempts of a request are sibling spans of one trace (``traceId`` from the request id,
  no synthetic parent span), and a fallback carries ``http.request.resend_count`` = attempt - 1 (the HTTP
  semconv's retry counter). Attributes follow the GenAI semantic conventions (registry
  ``model/gen-ai/registry.yaml``): ``gen_ai.operation.name`` = chat, ``gen_ai.provider.name`` (registry values
  ``anthropic``, ``openai``, ``aws.bedrock``, ``gcp.vertex_ai``, ``gcp.gemini``, ``azure.ai.openai``,
  ``mistral_ai``; hosts the registry does not list get their lower-case name), ``gen_ai.request.model``,
  ``gen_ai.response.model``, ``gen_ai.response.id``, ``gen_ai.response.finish_reasons`` (the provider's native
  reason), ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``, ``gen_ai.usage.reasoning.output_tokens``
  (only when reported) and ``gen_ai.usage.cache_read.input_tokens`` (both experimental semconv attributes, part
  of the input/output totals), ``server.address``, ``error.type`` (the provider's error code) and
  ``http.response.status_code``; failed spans have ``status`` ``{"code": 2, "message": ...}``. Integers are
  ``intValue`` strings and times unix-nanosecond strings (OTLP JSON mapping of int64).

Model ids keep the simulator's vendor-prefixed slugs in every format (a real LiteLLM or OTel log would name the
deployment, e.g. ``claude-sonnet-4-5``), so that per-model metrics compare across formats.

Cancelled attempts (the client aborted): OpenRouter says ``cancelled: true``; LiteLLM logs them as failures with
``error_class`` "CancelledError" and no HTTP status; OTel spans get ``error.type`` "CancelledError" and no
HTTP status.

End users: no format ever carries the simulator's raw ``user_id``. Each user becomes a stable pseudonymous id,
``eu-`` + 32 hex digits of SHA-256 of the id (what an application passes in the request's ``user`` field when it
follows OpenAI's advice to send a hash), written where the real format has an end-user field.

A response that carries a tool call but was cut at the output limit finishes ``length`` in every format (in
OpenAI's vocabulary too: the limit, not the call, ended it), as the ingest reads it.

Quirks of real logs, in realistic proportions (each kept and read alike on ingest): OpenRouter generations
served by an upstream in ``OPENROUTER_REASONING_OUTSIDE`` count reasoning beside the completion tokens;
``OTEL_JSON_FINISH_SIXTEENTHS``/16 of the OTel spans write their finish reasons as a JSON list inside a string.
The RAG apps' embedding calls are ``aembedding`` payloads (LiteLLM), ``embeddings`` spans (OTel) and
``api_type`` embeddings generations (OpenRouter).

What each format cannot express
-------------------------------
============  ==============================================================================================
format        not carried (the ingest gets NULL, or nothing)
============  ==============================================================================================
canonical     nothing (it is the frame)
openrouter    requests whose every attempt failed (no generation record); the start time, error code, tokens
              and cost of failed fallback attempts (only HTTP status and latency); ``tool_calls`` count and
              ``tools_offered``; ``model_requested`` except the ``openrouter/auto`` router; the app id as a
              string (an integer plus the referer URL)
litellm       ``native_finish_reason`` (LiteLLM maps it to the OpenAI vocabulary); reasoning and cached tokens of
              cancelled attempts (failure payloads carry no response); ``tools_offered``
otel          ``streamed``, ``ttft_ms``, ``cost_usd``, users, ``tool_calls`` count, ``tools_offered``, and a
              Gemini function call (its native finish reason is ``STOP``; only message content, which is
              not written, would show the call)
provider-     cancelled attempts, cost (see ``pipelines.lib.simulate_exports``)
bodies
openrouter-   failed attempts, error codes, ``tool_calls`` count, ``tools_offered``, ``model_requested``
activity
============  ==============================================================================================
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gzip
import hashlib
import itertools
import json
from collections.abc import Iterator
from typing import BinaryIO

import fsspec
import numpy as np
import polars as pl
import zstandard
from fsspec.implementations.local import LocalFileSystem

from pipelines.lib import simulate as sim

FORMATS: tuple[str, ...] = ("canonical", "openrouter", "litellm", "otel", "provider-bodies", "openrouter-activity")
#: Attempts (OpenRouter: requests) turned into JSON per step, to bound the memory of the text.
CHUNK_ROWS = 100_000
#: LiteLLM's placeholder for message text when message logging is off; the only "text" any writer emits.
REDACTED = "redacted-by-litellm"
#: zstd level of the non-canonical writers (fsspec's own is 10: three times slower for 10% smaller files).
ZSTD_LEVEL = 3
#: OTLP instrumentation scope of the simulated spans.
OTEL_SCOPE = ("gatewaylens.simulate", "1.0")


# ----------------------------------------------------------------------------
# Per-provider vocabularies
# ----------------------------------------------------------------------------

#: Simulator provider name -> (LiteLLM custom_llm_provider, LiteLLM exception prefix, OTel gen_ai.provider.name,
#: api_base). OTel values are the semconv registry's where it has one.
PROVIDER_VOCAB: dict[str, tuple[str, str, str, str]] = {
    "Alibaba": ("dashscope", "DashscopeException", "alibaba", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
    "Amazon Bedrock": ("bedrock", "BedrockException", "aws.bedrock", "https://bedrock-runtime.us-east-1.amazonaws.com"),
    "Anthropic": ("anthropic", "AnthropicException", "anthropic", "https://api.anthropic.com/v1/messages"),
    "Azure": ("azure", "AzureException", "azure.ai.openai", "https://gatewaylens-sim.openai.azure.com"),
    "DeepInfra": ("deepinfra", "DeepInfraException", "deepinfra", "https://api.deepinfra.com/v1/openai"),
    "Fireworks": ("fireworks_ai", "Fireworks_aiException", "fireworks", "https://api.fireworks.ai/inference/v1"),
    "Google AI Studio": (
        "gemini",
        "GeminiException",
        "gcp.gemini",
        "https://generativelanguage.googleapis.com/v1beta",
    ),
    "Google Vertex": (
        "vertex_ai",
        "VertexAIException",
        "gcp.vertex_ai",
        "https://us-east5-aiplatform.googleapis.com/v1",
    ),
    "MiniMax": ("minimax", "MinimaxException", "minimax", "https://api.minimax.io/v1"),
    "Mistral": ("mistral", "MistralException", "mistral_ai", "https://api.mistral.ai/v1"),
    "Novita": ("novita", "NovitaException", "novita", "https://api.novita.ai/v3/openai"),
    "OpenAI": ("openai", "OpenAIException", "openai", "https://api.openai.com/v1"),
    "Together": ("together_ai", "Together_aiException", "together", "https://api.together.xyz/v1"),
}
#: Upstreams whose OpenRouter generation records count reasoning tokens beside the completion tokens instead of
#: inside them (a quirk of real logs, kept and flagged on ingest: reasoning_outside_completion).
OPENROUTER_REASONING_OUTSIDE: frozenset[str] = frozenset({"Novita"})
#: Share of OTel spans whose finish reasons are a JSON list inside a string attribute, as Logfire and Spring AI
#: write them (by the attempt's hash: the first hex digit below this many sixteenths).
OTEL_JSON_FINISH_SIXTEENTHS = 4
#: Simulator provider names OpenRouter spells differently (OpenAPI ProviderResponse.provider_name enum).
OPENROUTER_PROVIDER_NAME: dict[str, str] = {"Google Vertex": "Google", "MiniMax": "Minimax"}
#: HTTP status -> LiteLLM exception class (litellm/exceptions.py); others are APIError.
LITELLM_ERROR_CLASS: dict[int, str] = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    408: "Timeout",
    413: "BadRequestError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "Timeout",
    529: "InternalServerError",
}
#: Simulated operation -> LiteLLM call_type (the async entry points a proxy uses).
LITELLM_CALL_TYPE: dict[str, str] = {"chat": "acompletion", "embeddings": "aembedding"}
#: Simulated operation -> OpenRouter api_type.
OPENROUTER_API_TYPE: dict[str, str] = {"chat": "completions", "embeddings": "embeddings"}
#: Native error codes LiteLLM raises a more specific class for.
LITELLM_ERROR_CLASS_BY_CODE: dict[str, str] = {"context_length_exceeded": "ContextWindowExceededError"}
#: Exception name of a client abort, in LiteLLM's error_class and OTel's error.type.
CANCELLED_ERROR = "CancelledError"
#: Native finish reasons that mean "cut off at the output limit".
LENGTH_REASONS: tuple[str, ...] = ("max_tokens", "length", "MAX_TOKENS")


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def write(
    frame: pl.DataFrame,
    url: str,
    format: str = "canonical",
    compression: str | None = "infer",
    *,
    rows_per_file: int | None = None,
    suffix: str = ".jsonl",
    zstd_level: int = ZSTD_LEVEL,
) -> list[str]:
    """Write the simulated `frame` in `format` to the fsspec URL `url`; return the URLs written.

    `compression` names the codec ("infer": from the extension, .gz or .zst; None: plain text). Without
    `rows_per_file`, `url` is the file; with it, `url` is a folder receiving `<format>-0000<suffix>`, ... of at
    most `rows_per_file` lines each; OpenRouter lines are requests, the others' are attempts (OTel: export
    requests). `canonical` is `simulate.write_canonical` unchanged (files `requests-0000<suffix>`, fsspec's
    codecs); the other formats compress zstd at `zstd_level` and gzip with a zero mtime, so equal frames give
    equal bytes.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if format == "canonical":
        return sim.write_canonical(frame, url, rows_per_file=rows_per_file, compression=compression, suffix=suffix)
    if rows_per_file is not None and rows_per_file < 1:
        raise ValueError("rows_per_file must be >= 1")
    name = format + "-{:04d}" + suffix
    return _write_lines(lines(frame, format), url, compression, rows_per_file, name, zstd_level)


def lines(frame: pl.DataFrame, format: str) -> Iterator[pl.Series]:
    """The lines (without newline) of `frame` in `format` (openrouter, litellm, otel, provider-bodies: JSON;
    openrouter-activity: CSV with its header), as String Series of at most about CHUNK_ROWS lines each."""
    prepared = _prepare(frame)
    if format == "openrouter":
        yield from _openrouter(prepared)
    elif format == "litellm":
        for chunk in _chunks(prepared.height, CHUNK_ROWS):
            yield _litellm(prepared.slice(*chunk))
    elif format == "otel":
        for chunk in _minute_chunks(prepared["t_us"].to_numpy(), CHUNK_ROWS):
            yield _otel(prepared.slice(*chunk))
    elif format in ("provider-bodies", "openrouter-activity"):
        from pipelines.lib import simulate_exports  # it builds on this module's helpers

        writer = (
            simulate_exports.provider_body_lines if format == "provider-bodies" else simulate_exports.activity_lines
        )
        yield from writer(prepared)
    else:
        raise ValueError(f"unknown format {format!r}")


def end_user_id(user_id: str) -> str:
    """The pseudonymous end-user id written for a simulated user id (never the raw id)."""
    return "eu-" + hashlib.sha256(f"gatewaylens-sim-user:{user_id}".encode()).hexdigest()[:32]


def app_number(app_id: str) -> int:
    """The integer OpenRouter app id standing for a simulated app id (stable, from its SHA-256)."""
    return 100_000 + int(hashlib.sha256(app_id.encode()).hexdigest()[:8], 16) % 900_000


def api_key_hash(app_id: str) -> str:
    """LiteLLM's `user_api_key_hash` for the app's (simulated) virtual key: SHA-256 hex of the key."""
    return hashlib.sha256(f"sk-gatewaylens-sim-{app_id}".encode()).hexdigest()


# ----------------------------------------------------------------------------
# Shared preparation
# ----------------------------------------------------------------------------


_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _request_digests(request_ids: pl.Series) -> np.ndarray:
    """128-bit BLAKE2b digest of each request id, as (n, 2) uint64 (stable across versions and machines)."""
    raw = b"".join(hashlib.blake2b(v.encode(), digest_size=16).digest() for v in request_ids.to_list())
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 2).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a well-spread 64-bit value from each input."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hex(words: np.ndarray) -> pl.Series:
    """Lower-case hex of each row of uint64 words (16 digits per word)."""
    if words.ndim == 1:
        words = words[:, None]
    words = np.ascontiguousarray(words.astype(">u8"))
    pairs = _HEX_PAIRS[words.view(np.uint8)]
    return pl.Series(np.ascontiguousarray(pairs).view(f"S{2 * pairs.shape[1]}").ravel()).cast(pl.String)


def _lookup(column: str, mapping: dict[str, object], dtype: pl.DataType) -> pl.Expr:
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=dtype)


def _uuid(hex_column: str) -> pl.Expr:
    """A UUID-shaped string from 32 hex digits."""
    h = pl.col(hex_column)
    parts = [h.str.slice(0, 8), h.str.slice(8, 4), h.str.slice(12, 4), h.str.slice(16, 4), h.str.slice(20, 12)]
    return pl.concat_str(parts, separator="-")


def _prepare(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame plus the derived columns every writer uses: times in microseconds, ids, hashes, flags and the
    provider's vocabulary."""
    missing = set(sim.COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"not a simulated frame: missing {sorted(missing)}")
    users = frame["user_id"].drop_nulls().unique().to_list()
    apps = frame["app_id"].drop_nulls().unique().to_list()
    digest = _request_digests(frame["request_id"])
    attempt = frame["attempt"].to_numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        attempt_words = np.stack([_mix(digest[:, 0] ^ (attempt * _GOLDEN)), _mix(digest[:, 1] + attempt)], axis=1)
    vocab = {name: dict(zip(PROVIDER_VOCAB, column, strict=True)) for name, column in _vocab_columns().items()}
    success, cancelled = pl.col("status") == "success", pl.col("status") == "cancelled"
    t_us = pl.col("created_at").dt.epoch("us")
    return frame.with_columns(
        t_us=t_us,
        end_us=t_us + (pl.col("latency_ms") * 1000).round().cast(pl.Int64),
        first_us=(pl.col("ttft_ms") * 1000).round().cast(pl.Int64) + t_us,
        req_hash=_hex(digest),
        att_hash=_hex(attempt_words),
        end_user=_lookup("user_id", {u: end_user_id(u) for u in users}, pl.String()),
        app_number=_lookup("app_id", {a: app_number(a) for a in apps}, pl.Int64()),
        key_hash=_lookup("app_id", {a: api_key_hash(a) for a in apps}, pl.String()),
        success=success,
        cancelled=cancelled,
        responded=success | cancelled,
        tool=(success & (pl.col("tool_calls") > 0)).fill_null(False),  # carries tool calls (maybe cut at the limit)
        byok=((success | cancelled) & (pl.col("cost_usd") == 0)).fill_null(False),  # the BYOK requests' cost is 0
        **{name: _lookup("provider_native", mapping, pl.String()) for name, mapping in vocab.items()},
    ).with_columns(
        response_id=pl.when(pl.col("responded")).then(pl.concat_str(pl.lit("chatcmpl-"), pl.col("att_hash"))),
        openai_finish=pl.when(pl.col("native_finish_reason").is_in(LENGTH_REASONS))
        .then(pl.lit("length"))
        .when(pl.col("tool"))
        .then(pl.lit("tool_calls"))
        .when(pl.col("success"))
        .then(pl.lit("stop")),
        llm_provider=pl.col("llm_provider").fill_null(pl.col("provider_native").str.to_lowercase()),
        otel_provider=pl.col("otel_provider").fill_null(pl.col("provider_native").str.to_lowercase()),
        server_address=pl.col("api_base").str.extract(r"^https?://([^/]+)"),
    )


def _vocab_columns() -> dict[str, list[str]]:
    rows = list(PROVIDER_VOCAB.values())
    return {
        "llm_provider": [r[0] for r in rows],
        "exception_prefix": [r[1] for r in rows],
        "otel_provider": [r[2] for r in rows],
        "api_base": [r[3] for r in rows],
    }


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for offset in range(0, n, size):
        yield offset, min(size, n - offset)


def _minute_chunks(t_us: np.ndarray, size: int) -> Iterator[tuple[int, int]]:
    """Slices of about `size` rows of a time-sorted column that never split a UTC minute."""
    minute = t_us // sim.US_PER_MINUTE
    starts = sorted({0, *(int(np.searchsorted(minute, minute[i], "left")) for i in range(size, t_us.size, size))})
    bounds = [*starts, t_us.size]
    for begin, end in itertools.pairwise(bounds):
        if end > begin:
            yield begin, end - begin


def _iso(column: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")


def _seconds(column: str) -> pl.Expr:
    return pl.col(column) / 1_000_000


def _json(**fields: pl.Expr) -> pl.Expr:
    return pl.struct(**fields).struct.json_encode()


def _null(dtype: pl.DataType | None = None) -> pl.Expr:
    return pl.lit(None, dtype=dtype or pl.String())


# ----------------------------------------------------------------------------
# OpenRouter: one generation per request
# ----------------------------------------------------------------------------


def _openrouter(rows: pl.DataFrame) -> Iterator[pl.Series]:
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
    for chunk in _chunks(finals.height, CHUNK_ROWS):
        yield _openrouter_lines(finals.slice(*chunk))


def _reasoning_outside() -> pl.Expr:
    """The generations whose upstream counts reasoning beside the completion, where a reader can tell: reasoning
    above what remains of the completion (where it is below, no log says the count is short, and none is
    simulated)."""
    reasoning = pl.col("reasoning_tokens")
    beside = pl.col("provider_native").is_in(list(OPENROUTER_REASONING_OUTSIDE))
    return (beside & (reasoning > pl.col("completion_tokens") - reasoning)).fill_null(False)


def _openrouter_lines(final: pl.DataFrame) -> pl.Series:
    int_null = _null(pl.Int64())
    data = pl.struct(
        id=pl.col("request_id"),
        upstream_id=pl.col("response_id"),
        total_cost=pl.col("cost_usd"),
        cache_discount=_null(pl.Float64()),
        upstream_inference_cost=_null(pl.Float64()),
        created_at=_iso("arrived"),
        model=pl.col("model"),
        app_id=pl.col("app_number"),
        streamed=pl.col("streamed"),
        cancelled=pl.col("cancelled"),
        provider_name=pl.col("openrouter_provider"),
        latency=pl.col("ttft_ms"),
        moderation_latency=_null(pl.Float64()),
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
        web_search_engine=_null(),
        origin=pl.lit(""),
        usage=pl.col("cost_usd"),
        is_byok=pl.col("byok"),
        external_user=pl.col("end_user"),
        api_type=pl.col("operation").replace_strict(OPENROUTER_API_TYPE, return_dtype=pl.String),
        preset_id=_null(),
        router=pl.when(pl.col("model_requested") == "openrouter/auto").then(pl.col("model_requested")),
        provider_responses=pl.col("provider_responses"),
        user_agent=_null(),
        http_referer=pl.concat_str(pl.lit("https://"), pl.col("app_id"), pl.lit(".example.com/")),
        data_region=pl.lit("global"),
        request_id=_null(),
        session_id=_null(),
        service_tier=_null(),
        workspace_id=_null(),
    )
    return final.select(line=_json(data=data)).to_series()


# ----------------------------------------------------------------------------
# LiteLLM: one StandardLoggingPayload per attempt
# ----------------------------------------------------------------------------


def _litellm(rows: pl.DataFrame) -> pl.Series:
    error = pl.col("status") == "error"
    error_class = (
        pl.when(pl.col("cancelled"))
        .then(pl.lit(CANCELLED_ERROR))
        .when(error)
        .then(
            pl.coalesce(
                _lookup("error_code", LITELLM_ERROR_CLASS_BY_CODE, pl.String()),
                pl.col("http_status").replace_strict(LITELLM_ERROR_CLASS, default="APIError", return_dtype=pl.String),
            )
        )
    )
    rows = rows.with_columns(
        call_id=_uuid("att_hash"),
        error_class=error_class,
        error_message=pl.when(pl.col("cancelled"))
        .then(pl.lit("litellm.CancelledError: the client closed the connection"))
        .when(error)
        .then(
            pl.concat_str(
                pl.lit("litellm."),
                error_class,
                pl.lit(": "),
                pl.col("exception_prefix").fill_null("APIException"),
                pl.lit(" - "),
                pl.col("error_code"),
            )
        ),
        completion_start=pl.coalesce(pl.when(pl.col("responded")).then("first_us"), "end_us"),
    )
    usage = pl.struct(
        prompt_tokens=pl.col("prompt_tokens"),
        completion_tokens=pl.col("completion_tokens"),
        total_tokens=pl.col("prompt_tokens") + pl.col("completion_tokens"),
        completion_tokens_details=pl.when(pl.col("reasoning_tokens").is_not_null()).then(
            pl.struct(reasoning_tokens=pl.col("reasoning_tokens"))
        ),
        prompt_tokens_details=pl.struct(cached_tokens=pl.col("cached_prompt_tokens")),
    )
    tool_calls = pl.int_ranges(0, pl.col("tool_calls")).list.eval(
        pl.struct(
            id=pl.concat_str(pl.lit("call_"), pl.element().cast(pl.String)),
            type=pl.lit("function"),
            function=pl.struct(
                name=pl.concat_str(pl.lit("tool_"), pl.element().cast(pl.String)), arguments=pl.lit("{}")
            ),
        )
    )
    message = pl.struct(
        role=pl.lit("assistant"),
        content=pl.when(pl.col("tool")).then(_null()).otherwise(pl.lit(REDACTED)),
        tool_calls=pl.when(pl.col("tool")).then(tool_calls),
    )
    response = pl.when(pl.col("success")).then(
        pl.struct(
            id=pl.col("response_id"),
            object=pl.when(pl.col("operation") == "chat").then(pl.lit("chat.completion")).otherwise(pl.lit("list")),
            created=pl.col("t_us") // 1_000_000,
            model=pl.col("model"),
            choices=pl.when(pl.col("operation") == "chat").then(
                pl.concat_list(pl.struct(index=pl.lit(0), finish_reason=pl.col("openai_finish"), message=message))
            ),
            usage=usage,
        )
    )
    metadata = pl.struct(
        user_api_key_hash=pl.col("key_hash"),
        user_api_key_alias=pl.col("app_id"),
        user_api_key_team_id=pl.concat_str(pl.lit("team-"), pl.col("key_hash").str.slice(0, 12)),
        user_api_key_team_alias=pl.col("app_id"),
        user_api_key_user_id=_null(),
        user_api_key_org_id=_null(),
        user_api_key_end_user_id=pl.col("end_user"),
        spend_logs_metadata=_null(),
        requester_ip_address=_null(),
        requester_metadata=_null(),
    )
    failed = ~pl.col("success")
    model_id = pl.concat_str(pl.col("model"), pl.col("llm_provider"), separator="@")
    payload = _json(
        id=pl.coalesce(pl.when(pl.col("success")).then("response_id"), "call_id"),
        trace_id=_uuid("req_hash"),
        litellm_call_id=pl.col("call_id"),
        call_type=pl.col("operation").replace_strict(LITELLM_CALL_TYPE, return_dtype=pl.String),
        stream=pl.col("streamed"),
        response_cost=pl.col("cost_usd"),
        status=pl.when(pl.col("success")).then(pl.lit("success")).otherwise(pl.lit("failure")),
        status_fields=pl.struct(
            llm_api_status=pl.when(pl.col("success")).then(pl.lit("success")).otherwise(pl.lit("failure")),
            guardrail_status=pl.lit("not_run"),
        ),
        custom_llm_provider=pl.col("llm_provider"),
        total_tokens=(pl.col("prompt_tokens") + pl.col("completion_tokens")).fill_null(0),
        prompt_tokens=pl.col("prompt_tokens").fill_null(0),
        completion_tokens=pl.col("completion_tokens").fill_null(0),
        startTime=_seconds("t_us"),
        endTime=_seconds("end_us"),
        completionStartTime=_seconds("completion_start"),
        response_time=pl.when(pl.col("streamed") & pl.col("responded"))
        .then(pl.col("ttft_ms"))
        .otherwise(pl.col("latency_ms"))
        / 1000,
        model_map_information=pl.struct(model_map_key=pl.col("model"), model_map_value=_null()),
        model=pl.col("model"),
        model_id=_sha256_hex(model_id),
        model_group=pl.col("model_requested"),
        api_base=pl.col("api_base").fill_null(""),
        metadata=metadata,
        cache_hit=pl.lit(False),
        cache_key=_null(),
        saved_cache_cost=pl.lit(0.0),
        request_tags=pl.lit([], dtype=pl.List(pl.String)),
        end_user=pl.col("end_user").fill_null(""),
        requester_ip_address=_null(),
        user_agent=_null(),
        messages=pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.lit(REDACTED))),
        response=response,
        error_str=pl.when(failed).then("error_message"),
        error_information=pl.when(failed).then(
            pl.struct(
                error_code=pl.col("http_status").cast(pl.String).fill_null(""),
                error_class=pl.col("error_class"),
                llm_provider=pl.col("llm_provider"),
                traceback=pl.lit(""),
                error_message=pl.col("error_message"),
            )
        ),
        model_parameters=pl.struct(stream=pl.col("streamed")),
        hidden_params=pl.struct(
            model_id=_sha256_hex(model_id),
            cache_key=_null(),
            api_base=pl.col("api_base"),
            response_cost=pl.col("cost_usd"),
            additional_headers=_null(),
        ),
        guardrail_information=_null(),
    )
    return rows.select(line=payload).to_series()


def _sha256_hex(expr: pl.Expr) -> pl.Expr:
    """SHA-256 hex of each distinct value (few: models x providers), looked up per row."""
    return expr.map_batches(_sha256_series, return_dtype=pl.String)


def _sha256_series(values: pl.Series) -> pl.Series:
    distinct = values.drop_nulls().unique().to_list()
    mapping = {v: hashlib.sha256(v.encode()).hexdigest() for v in distinct}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


# ----------------------------------------------------------------------------
# OpenTelemetry: OTLP/JSON spans, one export request per UTC minute
# ----------------------------------------------------------------------------


def _json_string(value: pl.Expr) -> pl.Expr:
    """`value` as the inside of a JSON string (backslashes and quotes escaped; the simulator's values have no
    control characters)."""
    return value.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)


def _attribute(key: str, value: pl.Expr, kind: str) -> pl.Expr:
    """One OTLP KeyValue as JSON text, null when the value is null (the attribute is then left out). An intValue
    is a decimal string, as the OTLP JSON mapping writes int64."""
    text = value.cast(pl.Int64).cast(pl.String) if kind == "intValue" else _json_string(value)
    return pl.concat_str(pl.lit(f'{{"key":"{key}","value":{{"{kind}":"'), text, pl.lit('"}}'))


def _array_attribute(key: str, value: pl.Expr) -> pl.Expr:
    """A KeyValue holding an array of one string (null when the value is null)."""
    prefix = f'{{"key":"{key}","value":{{"arrayValue":{{"values":[{{"stringValue":"'
    return pl.concat_str(pl.lit(prefix), _json_string(value), pl.lit('"}]}}}'))


def _otel(rows: pl.DataFrame) -> pl.Series:
    error = pl.col("status") == "error"
    failed = ~pl.col("success")
    error_type = pl.when(pl.col("cancelled")).then(pl.lit(CANCELLED_ERROR)).when(error).then(pl.col("error_code"))
    responded = pl.col("responded")
    attributes = [
        _attribute("gen_ai.operation.name", pl.col("operation"), "stringValue"),
        _attribute("gen_ai.provider.name", pl.col("otel_provider"), "stringValue"),
        _attribute("gen_ai.request.model", pl.col("model_requested"), "stringValue"),
        _attribute("server.address", pl.col("server_address"), "stringValue"),
        _attribute("gen_ai.response.model", pl.when(responded).then(pl.col("model")), "stringValue"),
        _attribute("gen_ai.response.id", pl.col("response_id"), "stringValue"),
        pl.when(pl.col("att_hash").str.slice(0, 1).str.to_integer(base=16) < OTEL_JSON_FINISH_SIXTEENTHS)
        .then(
            _attribute(
                "gen_ai.response.finish_reasons",
                pl.concat_str(pl.lit('["'), pl.col("native_finish_reason"), pl.lit('"]')),
                "stringValue",
            )
        )
        .otherwise(_array_attribute("gen_ai.response.finish_reasons", pl.col("native_finish_reason"))),
        _attribute("gen_ai.usage.input_tokens", pl.col("prompt_tokens"), "intValue"),
        _attribute("gen_ai.usage.output_tokens", pl.col("completion_tokens"), "intValue"),
        _attribute("gen_ai.usage.reasoning.output_tokens", pl.col("reasoning_tokens"), "intValue"),
        _attribute("gen_ai.usage.cache_read.input_tokens", pl.col("cached_prompt_tokens"), "intValue"),
        _attribute("http.response.status_code", pl.col("http_status"), "intValue"),
        _attribute("error.type", error_type, "stringValue"),
        _attribute("http.request.resend_count", pl.when(pl.col("attempt") > 1).then(pl.col("attempt") - 1), "intValue"),
    ]
    status = (
        pl.when(failed)
        .then(
            _json(
                code=pl.lit(2),
                message=pl.when(pl.col("cancelled"))
                .then(pl.lit("cancelled by the client"))
                .otherwise(pl.concat_str(pl.col("http_status").cast(pl.String), pl.col("error_code"), separator=" ")),
            )
        )
        .otherwise(pl.lit("{}"))
    )
    span = pl.concat_str(
        pl.lit('{"traceId":"'),
        pl.col("req_hash"),
        pl.lit('","spanId":"'),
        _span_id(),
        pl.lit('","name":"'),
        pl.col("operation"),
        pl.lit(" "),
        _json_string(pl.col("model")),
        pl.lit('","kind":3,"startTimeUnixNano":"'),
        (pl.col("t_us") * 1000).cast(pl.String),
        pl.lit('","endTimeUnixNano":"'),
        (pl.col("end_us") * 1000).cast(pl.String),
        pl.lit('","attributes":['),
        pl.concat_str(attributes, separator=",", ignore_nulls=True),
        pl.lit('],"status":'),
        status,
        pl.lit("}"),
    )
    spans = rows.select(
        minute=pl.col("t_us") // sim.US_PER_MINUTE,
        app=pl.col("app_id").fill_null("unknown"),
        order=pl.int_range(pl.len()),
        span=span,
    )
    per_app = spans.group_by("minute", "app").agg(
        first=pl.col("order").min(),
        spans=pl.col("span").sort_by("order").str.join(","),
    )
    scope = json.dumps({"name": OTEL_SCOPE[0], "version": OTEL_SCOPE[1]}, separators=(",", ":"))
    resource = pl.concat_str(
        pl.lit('{"resource":{"attributes":['),
        _attribute("service.name", pl.col("app"), "stringValue"),
        pl.lit(f']}},"scopeSpans":[{{"scope":{scope},"spans":['),
        pl.col("spans"),
        pl.lit("]}]}"),
    )
    per_minute = (
        per_app.sort("first")
        .group_by("minute", maintain_order=True)
        .agg(resources=resource.str.join(","))
        .sort("minute")
        .select(line=pl.concat_str(pl.lit('{"resourceSpans":['), pl.col("resources"), pl.lit("]}")))
    )
    return per_minute.to_series()


def _span_id() -> pl.Expr:
    """16 hex digits of the attempt's hash (distinct from the trace id's digits)."""
    return pl.col("att_hash").str.slice(16, 16)


# ----------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------


@contextlib.contextmanager
def _open(url: str, compression: str | None, zstd_level: int) -> Iterator[BinaryIO]:
    """A binary writer to `url`, compressed by name ("infer": from the extension). zstd and gzip are written here
    (zstd at `zstd_level`, gzip with mtime 0) so the bytes are reproducible and fast; other codecs go to fsspec."""
    fs, path = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(path), exist_ok=True)
    if compression == "infer":
        compression = fsspec.utils.infer_compression(url)
    if compression not in ("zstd", "gzip"):
        with fsspec.open(url, "wb", compression=compression) as handle:
            yield handle
        return
    with fsspec.open(url, "wb") as raw:
        if compression == "zstd":
            with zstandard.ZstdCompressor(level=zstd_level).stream_writer(raw, closefd=False) as handle:
                yield handle
        else:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as handle:
                yield handle


def _write_lines(
    chunks: Iterator[pl.Series],
    url: str,
    compression: str | None,
    rows_per_file: int | None,
    name: str,
    zstd_level: int,
) -> list[str]:
    """Write line chunks to `url`, or to numbered files (`name` with the number) of at most `rows_per_file` lines
    in the folder `url`. JSON text for the next chunk is built while the previous one is compressed."""
    if rows_per_file is None:
        with _open(url, compression, zstd_level) as handle:
            for chunk in _prefetch(chunks):
                handle.write(_text(chunk))
        return [url]
    base, urls = url.rstrip("/"), []
    with contextlib.ExitStack() as stack:
        handle, in_file = None, 0
        for chunk in _prefetch(chunks):
            offset = 0
            while offset < chunk.len():
                if handle is None or in_file == rows_per_file:
                    stack.close()
                    urls.append(f"{base}/{name.format(len(urls))}")
                    handle, in_file = stack.enter_context(_open(urls[-1], compression, zstd_level)), 0
                take = min(rows_per_file - in_file, chunk.len() - offset)
                handle.write(_text(chunk.slice(offset, take)))
                offset, in_file = offset + take, in_file + take
    return urls


def _prefetch(chunks: Iterator[pl.Series]) -> Iterator[pl.Series]:
    """`chunks`, produced one ahead in a thread (Polars and the compressors release the GIL)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


def _text(chunk: pl.Series) -> bytes:
    if chunk.len() == 0:
        return b""
    return (chunk.str.join("\n").item() + "\n").encode()
