"""LiteLLM `StandardLoggingPayload` JSON lines, as LiteLLM's bucket loggers (GCS, S3) write them.

Field definitions: `litellm/types/utils.py` (`StandardLoggingPayload`, `StandardLoggingMetadata`,
`StandardLoggingPayloadErrorInformation`, `StandardLoggingHiddenParams`) and the proxy's logging spec
(`docs/my-website/docs/proxy/logging_spec.md`). One payload = one record:

| record | payload |
| --- | --- |
| request_id | `id` (the `litellm_call_id`) |
| attempt | 1 (see below) |
| created_at | `startTime` (epoch seconds, float) |
| latency_ms / ttft_ms | (`endTime` - `startTime`) / (`completionStartTime` - `startTime`), in ms |
| app_id | `metadata.user_api_key_team_alias`, else `.user_api_key_team_id`, else `.user_api_key_alias` |
| user_key (hashed) | `end_user`, else `metadata.user_api_key_end_user_id` (empty strings count as absent) |
| model_requested / model | `model_group` (the name the caller used) / `response.model`, else `model` |
| provider_native | `custom_llm_provider`, else `error_information.llm_provider` |
| status | `success` -> success, `failure` -> error (cancelled when the error is a `CancelledError`) |
| http_status | `error_information.error_code` when it is an HTTP status |
| error_code | `error_information.error_class` (e.g. `RateLimitError`), else `.error_code` |
| native_finish_reason | `response.choices[0].finish_reason` (LiteLLM already maps it to OpenAI's values) |
| tool_calls | `tool_calls` entries over every `response.choices[].message` (+1 per legacy `function_call`) |
| prompt / completion tokens | `prompt_tokens`, `completion_tokens` |
| reasoning_tokens | `response.usage.completion_tokens_details.reasoning_tokens` (part of completion_tokens) |
| cached_prompt_tokens | `response.usage.prompt_tokens_details.cached_tokens` |
| tools_offered | length of `model_parameters.tools` |
| streamed, cost_usd | `stream`, `response_cost` |

Retries and fallbacks: the payload's `trace_id` groups "multiple LLM calls belonging to same overall request
(e.g. fallbacks/retries)", but a payload carries no attempt number, and LiteLLM's success and failure
callbacks fire once per call, after the router's retries and fallbacks are exhausted (the attempts in
between are not logged as payloads; LiteLLM issues #31878, #32574). So each payload is stored as attempt 1 of
request `id`, and `trace_id` is not kept (the record has no field for it). Two payloads with the same `id`
(a caller that reuses `litellm_call_id`) collide on the key and the later one counts as a duplicate.

What this format cannot express: no attempt history (failed attempts before a fallback are not in the log;
the response headers `x-litellm-attempted-retries/-fallbacks` count only the final model group), no native
finish reason (LiteLLM rewrites it to OpenAI's vocabulary), cache hits (`cache_hit`) look like provider
successes, and a failure's tokens are as LiteLLM logged them (0).
"""

from __future__ import annotations

from schemas.adapters import _sql

_RESPONSES_USAGE = {
    "input_tokens": "VARCHAR",
    "output_tokens": "VARCHAR",
    "input_tokens_details": {"cached_tokens": "VARCHAR"},
    "output_tokens_details": {"reasoning_tokens": "VARCHAR"},
}
_SPEC = {
    "id": "VARCHAR",
    "call_type": "VARCHAR",
    "status": "VARCHAR",
    "startTime": "VARCHAR",
    "endTime": "VARCHAR",
    "completionStartTime": "VARCHAR",
    "model": "VARCHAR",
    "model_id": "VARCHAR",
    "model_group": "VARCHAR",
    "custom_llm_provider": "VARCHAR",
    "api_base": "VARCHAR",
    "stream": "VARCHAR",
    "response_cost": "VARCHAR",
    "prompt_tokens": "VARCHAR",
    "completion_tokens": "VARCHAR",
    "end_user": "VARCHAR",
    "metadata": {
        "user_api_key_team_alias": "VARCHAR",
        "user_api_key_team_id": "VARCHAR",
        "user_api_key_alias": "VARCHAR",
        "user_api_key_end_user_id": "VARCHAR",
    },
    "hidden_params": {"api_base": "VARCHAR"},
    "response": {
        "model": "VARCHAR",
        "choices": _sql.CHOICES,
        "usage": _sql.USAGE | _RESPONSES_USAGE,
        "status": "VARCHAR",
        "incomplete_details": {"reason": "VARCHAR"},
        "output": [_sql.OUTPUT_ITEM],
        "error": "JSON",
    },
    "error_information": {"error_code": "VARCHAR", "error_class": "VARCHAR", "llm_provider": "VARCHAR"},
    "model_parameters": {"tools": ["JSON"], "stream": "VARCHAR"},
}

#: Exceptions the LiteLLM proxy raises itself (auth, key/team budgets, its own limits, guardrails): when no
#: upstream deployment was chosen (`llm_provider` and `model_id` empty), the failure is the gateway's.
PROXY_EXCEPTIONS = ("proxyexception", "httpexception", "budgetexceedederror", "routerratelimiterror")

_SIGNATURE = frozenset({"call_type", "startTime"})


def sniff(line: str) -> bool:
    """A JSON object with `call_type` and `startTime` at the top level (StandardLoggingPayload)."""
    return _sql.has_keys(line, _SIGNATURE)


def _first(*exprs: str) -> str:
    """The first non-empty value: LiteLLM writes "" for absent strings (`end_user`, `error_information`)."""
    return "coalesce(" + ", ".join(f"nullif({e}, '')" for e in exprs) + ")"


def _millis_between(start: str, end: str) -> str:
    """Milliseconds between two times, each epoch seconds (as logged, full precision) or ISO text."""
    epochs = f"(try_cast(j.{end} AS DOUBLE) - try_cast(j.{start} AS DOUBLE)) * 1000"
    texts = f"(epoch_us(try_cast(j.{end} AS TIMESTAMPTZ)) - epoch_us(try_cast(j.{start} AS TIMESTAMPTZ))) / 1000"
    return f"coalesce({epochs}, {texts})"


def select_sql(columns: tuple[str, ...]) -> str:
    """SELECT over `lines` with one JSON parse per line."""
    m = "j.metadata"
    e = "j.error_information"
    failed = "j.status = 'failure'"
    error = _first(f"{e}.error_class", f"{e}.error_code")
    start = _sql.epoch_seconds("j.startTime")
    proxy = ", ".join(f"'{name}'" for name in PROXY_EXCEPTIONS)
    exprs = {
        "request_id": "j.id",
        "attempt": "1",
        "created_at": start,
        "app_id": _first(f"{m}.user_api_key_team_alias", f"{m}.user_api_key_team_id", f"{m}.user_api_key_alias"),
        "user_key": _first("j.end_user", f"{m}.user_api_key_end_user_id"),
        "model_requested": _first("j.model_group", "j.model"),
        "model": _first("j.response.model", "j.model"),
        "provider": "NULL",
        "provider_native": _first("j.custom_llm_provider", f"{e}.llm_provider"),
        "provider_host": _first("j.api_base", "j.hidden_params.api_base"),
        "operation": "j.call_type",
        "status": f"""CASE
            WHEN {failed} AND gl_is_cancellation({error}) THEN 'cancelled'
            WHEN {failed} THEN 'error'
            -- a success whose response carries an error object (a failed Responses API call) is an error
            WHEN j.status = 'success' AND {_sql.is_error_object("j.response.error")} THEN 'error'
            WHEN j.status = 'success' AND j.response.status = 'failed' THEN 'error'
            WHEN j.status = 'success' THEN 'success'
            ELSE j.status
        END""",
        "http_status": f"CASE WHEN try_cast({e}.error_code AS INTEGER) BETWEEN 100 AND 599 THEN {e}.error_code END",
        "error_code": f"coalesce({error}, CASE WHEN j.status = 'success' THEN "
        "json_extract_string(j.response.error, '$.code') END)",
        "error_class": f"""CASE
            WHEN {failed} AND {_first(f"{e}.llm_provider", "j.model_id")} IS NULL
                AND lower({_first(f"{e}.error_class")}) IN ({proxy}) THEN 'gateway'
        END""",
        "finish_reason": "NULL",
        "native_finish_reason": "coalesce(j.response.choices[1].finish_reason, "
        "j.response.incomplete_details.reason, j.response.status)",
        "prompt_tokens": "coalesce(j.prompt_tokens, j.response.usage.prompt_tokens, j.response.usage.input_tokens)",
        "completion_tokens": "coalesce(j.completion_tokens, j.response.usage.completion_tokens, "
        "j.response.usage.output_tokens)",
        "reasoning_tokens": "coalesce(j.response.usage.completion_tokens_details.reasoning_tokens, "
        "j.response.usage.output_tokens_details.reasoning_tokens)",
        "cached_prompt_tokens": "coalesce(j.response.usage.prompt_tokens_details.cached_tokens, "
        "j.response.usage.input_tokens_details.cached_tokens)",
        "tool_calls": f"""coalesce(
            {_sql.count_tool_calls("j.response.choices")},
            CASE WHEN j.response.output IS NOT NULL THEN {_sql.count_output_tool_calls("j.response.output")} END
        )""",
        "tools_offered": "len(j.model_parameters.tools)",
        "latency_ms": _millis_between("startTime", "endTime"),
        "ttft_ms": _millis_between("startTime", "completionStartTime"),
        # the request's own stream flag: the payload's top-level `stream` has been seen true on calls that were
        # not streamed (LiteLLM proxy captures whose request, route and timings all say otherwise)
        "streamed": "coalesce(j.model_parameters.stream, j.stream)",
        "cost_usd": "j.response_cost",
    }
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    return _sql.one_record_per_line(columns_sql, _SPEC)
