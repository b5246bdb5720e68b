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

_SPEC = {
    "id": "VARCHAR",
    "status": "VARCHAR",
    "startTime": "VARCHAR",
    "endTime": "VARCHAR",
    "completionStartTime": "VARCHAR",
    "model": "VARCHAR",
    "model_group": "VARCHAR",
    "custom_llm_provider": "VARCHAR",
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
    "response": {"model": "VARCHAR", "choices": _sql.CHOICES, "usage": _sql.USAGE},
    "error_information": {"error_code": "VARCHAR", "error_class": "VARCHAR", "llm_provider": "VARCHAR"},
    "model_parameters": {"tools": ["JSON"]},
}

_SIGNATURE = frozenset({"call_type", "startTime"})


def sniff(line: str) -> bool:
    """A JSON object with `call_type` and `startTime` at the top level (StandardLoggingPayload)."""
    return _sql.has_keys(line, _SIGNATURE)


def _first(*exprs: str) -> str:
    """The first non-empty value: LiteLLM writes "" for absent strings (`end_user`, `error_information`)."""
    return "coalesce(" + ", ".join(f"nullif({e}, '')" for e in exprs) + ")"


def _millis_between(start: str, end: str) -> str:
    return f"(try_cast({end} AS DOUBLE) - try_cast({start} AS DOUBLE)) * 1000"


def select_sql(columns: tuple[str, ...]) -> str:
    """SELECT over `lines` with one JSON parse per line."""
    m = "j.metadata"
    e = "j.error_information"
    exprs = {
        "request_id": "j.id",
        "attempt": "1",
        "created_at": _sql.epoch_seconds("j.startTime"),
        "app_id": _first(f"{m}.user_api_key_team_alias", f"{m}.user_api_key_team_id", f"{m}.user_api_key_alias"),
        "user_key": _first("j.end_user", f"{m}.user_api_key_end_user_id"),
        "model_requested": "coalesce(j.model_group, j.model)",
        "model": "coalesce(j.response.model, j.model)",
        "provider": "NULL",
        "provider_native": _first("j.custom_llm_provider", f"{e}.llm_provider"),
        "status": f"""CASE
            WHEN j.status = 'failure' AND gl_is_cancellation({_first(f"{e}.error_class", f"{e}.error_code")})
                THEN 'cancelled'
            WHEN j.status = 'success' THEN 'success'
            WHEN j.status = 'failure' THEN 'error'
            ELSE j.status
        END""",
        "http_status": f"CASE WHEN try_cast({e}.error_code AS INTEGER) BETWEEN 100 AND 599 THEN {e}.error_code END",
        "error_code": _first(f"{e}.error_class", f"{e}.error_code"),
        "error_class": "NULL",
        "finish_reason": "NULL",
        "native_finish_reason": "j.response.choices[1].finish_reason",
        "prompt_tokens": "j.prompt_tokens",
        "completion_tokens": "j.completion_tokens",
        "reasoning_tokens": "j.response.usage.completion_tokens_details.reasoning_tokens",
        "cached_prompt_tokens": "j.response.usage.prompt_tokens_details.cached_tokens",
        "tool_calls": _sql.count_tool_calls("j.response.choices"),
        "tools_offered": "len(j.model_parameters.tools)",
        "latency_ms": _millis_between("j.startTime", "j.endTime"),
        "ttft_ms": _millis_between("j.startTime", "j.completionStartTime"),
        "streamed": "j.stream",
        "cost_usd": "j.response_cost",
    }
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    return f"""
select
    source_line,
    NULL::VARCHAR AS item,
    NULL::VARCHAR AS ignored,
    CASE
        WHEN j IS NULL THEN 'not JSON'
        WHEN NOT {_sql.is_object("raw")} THEN 'not a JSON object'
    END AS reject,
    {columns_sql}
from (select source_line, raw, {_sql.parse("raw", _SPEC)} AS j from lines)
"""
