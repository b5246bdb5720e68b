"""Writes the LiteLLM format (read by `schemas/adapters/litellm.py`): `StandardLoggingPayload` lines.

One ``StandardLoggingPayload`` per line (``litellm/types/utils.py``; fields as
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
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import polars as pl

from devkit.simulate.formats._shared import CANCELLED_ERROR, CHUNK_ROWS, REDACTED, chunks, json_object, lookup, null

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


def lines(rows: pl.DataFrame) -> Iterator[pl.Series]:
    """One payload per attempt, in the frame's order, in chunks of CHUNK_ROWS."""
    for chunk in chunks(rows.height, CHUNK_ROWS):
        yield _litellm(rows.slice(*chunk))


def _uuid(hex_column: str) -> pl.Expr:
    """A UUID-shaped string from 32 hex digits."""
    h = pl.col(hex_column)
    parts = [h.str.slice(0, 8), h.str.slice(8, 4), h.str.slice(12, 4), h.str.slice(16, 4), h.str.slice(20, 12)]
    return pl.concat_str(parts, separator="-")


def _seconds(column: str) -> pl.Expr:
    return pl.col(column) / 1_000_000


def _litellm(rows: pl.DataFrame) -> pl.Series:
    error = pl.col("status") == "error"
    error_class = (
        pl.when(pl.col("cancelled"))
        .then(pl.lit(CANCELLED_ERROR))
        .when(error)
        .then(
            pl.coalesce(
                lookup("error_code", LITELLM_ERROR_CLASS_BY_CODE, pl.String()),
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
        content=pl.when(pl.col("tool")).then(null()).otherwise(pl.lit(REDACTED)),
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
        user_api_key_user_id=null(),
        user_api_key_org_id=null(),
        user_api_key_end_user_id=pl.col("end_user"),
        spend_logs_metadata=null(),
        requester_ip_address=null(),
        requester_metadata=null(),
    )
    failed = ~pl.col("success")
    model_id = pl.concat_str(pl.col("model"), pl.col("llm_provider"), separator="@")
    payload = json_object(
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
        model_map_information=pl.struct(model_map_key=pl.col("model"), model_map_value=null()),
        model=pl.col("model"),
        model_id=_sha256_hex(model_id),
        model_group=pl.col("model_requested"),
        api_base=pl.col("api_base").fill_null(""),
        metadata=metadata,
        cache_hit=pl.lit(False),
        cache_key=null(),
        saved_cache_cost=pl.lit(0.0),
        request_tags=pl.lit([], dtype=pl.List(pl.String)),
        end_user=pl.col("end_user").fill_null(""),
        requester_ip_address=null(),
        user_agent=null(),
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
            cache_key=null(),
            api_base=pl.col("api_base"),
            response_cost=pl.col("cost_usd"),
            additional_headers=null(),
        ),
        guardrail_information=null(),
    )
    return rows.select(line=payload).to_series()


def _sha256_hex(expr: pl.Expr) -> pl.Expr:
    """SHA-256 hex of each distinct value (few: models x providers), looked up per row."""
    return expr.map_batches(_sha256_series, return_dtype=pl.String)


def _sha256_series(values: pl.Series) -> pl.Series:
    distinct = values.drop_nulls().unique().to_list()
    mapping = {v: hashlib.sha256(v.encode()).hexdigest() for v in distinct}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)
