"""LiteLLM's two per-request logs, told apart per line: `StandardLoggingPayload`s and `LiteLLM_SpendLogs` rows.

**StandardLoggingPayload** (`source_format` litellm): the JSON lines LiteLLM's bucket loggers (GCS, S3) and its
Pub/Sub logger (by default) write. Field definitions: `litellm/types/utils.py` (`StandardLoggingPayload`,
`StandardLoggingMetadata`, `StandardLoggingPayloadErrorInformation`, `StandardLoggingHiddenParams`) and the proxy's
logging spec (`docs/my-website/docs/proxy/logging_spec.md`). One payload = one record:

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
| error_code | `error_information.error_class` (`RateLimitError`), else `.error_code`, else `error_str`'s exception |
| native_finish_reason | `response.choices[0].finish_reason` (LiteLLM already maps it to OpenAI's values) |
| tool_calls | `tool_calls` entries over every `response.choices[].message` (+1 per legacy `function_call`) |
| prompt / completion tokens | `prompt_tokens`, `completion_tokens` |
| reasoning_tokens | `response.usage.completion_tokens_details.reasoning_tokens`, else `metadata.usage_object`'s |
| cached_prompt_tokens | `response.usage.prompt_tokens_details.cached_tokens`, else `metadata.usage_object`'s |
| tools_offered | length of `model_parameters.tools` |
| streamed, cost_usd | `stream`, `response_cost` |

**SpendLogs rows** (`source_format` litellm-spendlogs): the proxy's `LiteLLM_SpendLogs` table, one row per
request, as `SpendLogsPayload` (`litellm/proxy/_types.py`, built by `get_logging_payload` in
`litellm/proxy/spend_tracking/spend_tracking_utils.py`) that the Pub/Sub logger publishes with
`gcs_pub_sub_use_v1` (and the GCS bucket logger wrote in 2024), or the table exported as JSON lines. A line is a
row when it has `request_id` or `spend` (a payload has neither); both shapes have `call_type` and `startTime`, so
one file may hold both (a Pub/Sub subscription across the switch). Where the row differs from a payload:

| record | SpendLogs row |
| --- | --- |
| request_id | `request_id` (a cache hit's ends in LiteLLM's `_cache_hit<epoch>`: SpendLogs keys are unique) |
| created_at | `startTime`, a datetime as text (`2025-03-24 22:02:42.975883+00:00`; no offset = UTC) |
| latency_ms | `endTime` - `startTime` |
| ttft_ms | `completionStartTime` - `startTime`, only where `completionStartTime` is not `endTime` (below) |
| app_id | `metadata.user_api_key_team_alias`, else `.user_api_key_team_id`, else `team_id`, else key alias |
| user_key (hashed) | `end_user`, else `user` (the LiteLLM user owning the key) |
| model_requested / model | `model_group`, else `model` / the stored response's `model`, else `model` (deployment's) |
| provider_native | `custom_llm_provider`, else `metadata.error_information.llm_provider`; host: `api_base` |
| status | `status`, else `metadata.status` (rows before the column), else success (below) |
| http_status, error_code, error_class | from `metadata.error_information`, as for payloads |
| prompt / completion tokens | `prompt_tokens` / `completion_tokens`, else `usage` (the first rows, early 2024) |
| reasoning / cached tokens | `metadata.usage_object` (else `.additional_usage_values`) token details |
| finish reason, tool calls | the stored response's, as a payload's (below) |
| tools offered, streamed | the stored request's (`proxy_server_request`): length of `tools`, `stream` |
| cost_usd | `spend` |
| operation | `call_type` (`""` on some failure rows: not said) |

Readings: LiteLLM writes `endTime` as `completionStartTime` when it measured no first token, and a row has no
stream flag to tell a one-chunk stream from that, so only a distinct time is a time to first token. A row with no
status at all comes from before LiteLLM logged failures to SpendLogs: a success. Older rows and table exports
hold naive datetimes (`2024-08-01T14:27:12.563246`, Postgres `timestamp(3)`), read as UTC like any time without
offset. The token details are `completion_tokens_details.reasoning_tokens` and
`prompt_tokens_details.cached_tokens`.

`metadata` is a JSON object in a table export and a string holding one in a `SpendLogsPayload`; both are read.
`response` and `proxy_server_request` are `"{}"` unless the proxy stores prompts (`store_prompts_in_spend_logs`); then
they hold the payload's response and the request body as JSON text (an object in some exports), read for the fields
above and nothing else (no text of either is kept); `messages` is never read. A file whose first lines are mostly rows
is read in the form of rows (`configure`: `response` read as text, then parsed), in bulk too; in a file mostly of
payloads, whose form types `response` as an object, the rows take the line path (`text_needed_sql`).

A failure is the gateway's (`error_class` gateway) when its exception is one the proxy raises itself (auth, key/
team budgets, its own limits: PROXY_EXCEPTIONS) and no upstream deployment was chosen (`llm_provider` and
`model_id` empty).

Retries and fallbacks: the payload's `trace_id` (a row's `session_id`) groups "multiple LLM calls belonging to same
overall request (e.g. fallbacks/retries)", but neither carries an attempt number, and LiteLLM's success and failure
callbacks fire once per call, after the router's retries and fallbacks are exhausted (the attempts in between are
not logged; LiteLLM issues #31878, #32574). So each line is stored as attempt 1 of its request, and `trace_id` is
not kept (the record has no field for it). Two lines with the same id (a caller that reuses `litellm_call_id`)
collide on the key and the later one counts as a duplicate.

What these logs cannot express: no attempt history (failed attempts before a fallback are not in the log; the
response headers `x-litellm-attempted-retries/-fallbacks` count only the final model group), no native finish
reason (LiteLLM rewrites it to OpenAI's vocabulary), cache hits (`cache_hit`) look like provider successes, and a
failure's tokens are as LiteLLM logged them (0). A SpendLogs row of a proxy that does not store prompts has no
finish reason, tool calls, tools offered, stream flag or served model; failure rows
written by the proxy's failure hook can carry `endTime` = `startTime` (LiteLLM issue #24888), so their latency is
as logged, about 0.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

from schemas.adapters import _sql
from schemas.sqltext import EPOCH_UNITS, epoch_micros_near

if TYPE_CHECKING:
    from schemas.adapters import Adapter

NAME = "litellm"
SPENDLOGS = "litellm-spendlogs"

_RESPONSES_USAGE = {
    "input_tokens": "VARCHAR",
    "output_tokens": "VARCHAR",
    "input_tokens_details": {"cached_tokens": "VARCHAR"},
    "output_tokens_details": {"reasoning_tokens": "VARCHAR"},
}
_ERROR_INFORMATION = {"error_code": "VARCHAR", "error_class": "VARCHAR", "llm_provider": "VARCHAR"}
_USAGE_DETAILS = {
    "prompt_tokens_details": {"cached_tokens": "VARCHAR"},
    "completion_tokens_details": {"reasoning_tokens": "VARCHAR"},
}
#: `metadata`, read from its text: a payload's object, a SpendLogs row's object or the string holding it.
_METADATA = {
    "user_api_key_team_alias": "VARCHAR",
    "user_api_key_team_id": "VARCHAR",
    "user_api_key_alias": "VARCHAR",
    "user_api_key_end_user_id": "VARCHAR",
    # SpendLogs rows only
    "status": "VARCHAR",
    "error_information": _ERROR_INFORMATION,
    # read as JSON, then typed (`_usage`): a logger may write them as strings of their JSON text
    "usage_object": _sql.OBJECT_OR_LIST,
    "additional_usage_values": _sql.OBJECT_OR_LIST,
}
#: The part of a response the mapping reads: a payload's `response` object, a SpendLogs row's `response` (the
#: payload's, as JSON text; `{}` unless the proxy stores prompts).
_RESPONSE = {
    "model": "VARCHAR",
    "choices": _sql.CHOICES,
    "usage": _sql.USAGE | _RESPONSES_USAGE,
    "status": "VARCHAR",
    "incomplete_details": {"reason": "VARCHAR"},
    "output": [_sql.OUTPUT_ITEM],
    "error": _sql.OBJECT_OR_LIST,
}
#: The part of a SpendLogs row's `proxy_server_request` (the request body as JSON text, `{}` unless the proxy
#: stores prompts) the mapping reads.
_REQUEST = {"tools": ["JSON"], "stream": "VARCHAR"}
#: A SpendLogs row's `usage` (the first rows, early 2024, before the token columns).
_ROW_TOKENS = {"prompt_tokens": "VARCHAR", "completion_tokens": "VARCHAR"}
SPEC = {
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
    "metadata": "VARCHAR",  # an object's JSON text, or the string a SpendLogs row holds: parsed as _METADATA
    "hidden_params": {"api_base": "VARCHAR"},
    "response": _RESPONSE,
    "error_information": _ERROR_INFORMATION,
    "error_str": "VARCHAR",
    "model_parameters": {"tools": ["JSON"], "stream": "VARCHAR"},
    # SpendLogs rows only
    "request_id": "VARCHAR",
    "spend": "VARCHAR",
    "user": "VARCHAR",
    "team_id": "VARCHAR",
    "usage": "VARCHAR",  # rows of early 2024 only: an object, or a string holding one; parsed as _ROW_TOKENS
    "proxy_server_request": "VARCHAR",  # an object's JSON text, or the string a SpendLogsPayload holds
}
#: The structure of a file of SpendLogs rows (`configure`): `response` read as text (a row holds it as a string
#: of JSON, which a `response` typed as an object would fail in `read_json` and read as empty in `from_json`),
#: then parsed; a payload's response object is read as its JSON text and parsed the same way.
ROWS_SPEC = SPEC | {"response": "VARCHAR"}

#: Exceptions the LiteLLM proxy raises itself (auth, key/team budgets, its own limits, guardrails): when no
#: upstream deployment was chosen (`llm_provider` and `model_id` empty), the failure is the gateway's.
PROXY_EXCEPTIONS = ("proxyexception", "httpexception", "budgetexceedederror", "routerratelimiterror")

_SIGNATURE = frozenset({"call_type", "startTime"})


def sniff(line: str) -> bool:
    """A JSON object with `call_type` and `startTime` at the top level (a StandardLoggingPayload or a SpendLogs
    row; which one is told per line when it is read)."""
    return _sql.has_keys(line, _SIGNATURE)


def configure(head: list[str]) -> Adapter:
    """The adapter for a file whose first lines are `head`: with the forms of a file of SpendLogs rows
    (`ROWS_SPEC`) when most of those that are JSON objects are rows, else the registered one (payloads)."""
    rows = _sql.mostly(head, lambda body: body.get("request_id") is not None or body.get("spend") is not None)
    return _of_rows() if rows else _of_payloads()


def _of_payloads() -> Adapter:
    """The format's registered adapter, which types a payload's `response` object."""
    from schemas.adapters import BY_NAME  # deferred: the package imports this module

    return BY_NAME[NAME]


@functools.cache
def _of_rows() -> Adapter:
    """The adapter of a file of SpendLogs rows (built once: `batch_sql` is cached per adapter)."""
    from schemas.adapters import INPUT_COLUMNS  # deferred: the package imports this module

    return dataclasses.replace(
        _of_payloads(),
        select_sql=select_sql(INPUT_COLUMNS, rows=True),
        **_sql.bulk_form(ROWS_SPEC),
        bulk_sql=select_sql(INPUT_COLUMNS, bulk=True, rows=True),
        bulk_text_needed=None,
    )


def _first(*exprs: str) -> str:
    """The first non-empty value: LiteLLM writes "" for absent strings (`end_user`, `error_information`)."""
    return "coalesce(" + ", ".join(f"nullif({e}, '')" for e in exprs) + ")"


def _micros(key: str) -> str:
    """SQL: the time `j.<key>` in microseconds since 1970, whether epoch seconds (as logged, or in another unit:
    `epoch_micros_near`) or ISO text; a row may spell its times differently."""
    number = f"try_cast(j.{key} AS DOUBLE)"
    return f"coalesce({epoch_micros_near(number)}, epoch_us(try_cast(j.{key} AS TIMESTAMPTZ)))"


def _millis_between(start: str, end: str) -> str:
    """Milliseconds between two times: of two epoch seconds, their difference as logged (full precision); else
    between the two as microseconds (`_micros`: other units, ISO text, or a mix)."""
    first, last = f"try_cast(j.{start} AS DOUBLE)", f"try_cast(j.{end} AS DOUBLE)"
    bound = f"{EPOCH_UNITS[0][0]:.0e}"
    seconds = f"CASE WHEN abs({first}) <= {bound} AND abs({last}) <= {bound} THEN ({last} - {first}) * 1000 END"
    return f"coalesce({seconds}, ({_micros(end)} - {_micros(start)}) / 1000)"


#: The exception class opening a payload's `error_str` (`RateLimitError: ...`, `litellm.BadRequestError: ...`).
_EXCEPTION = r"^\s*([A-Za-z_][A-Za-z0-9_.]*(?:Error|Exception))\b"


def _by_shape(row: str, payload: str) -> str:
    """SQL: `row` for a SpendLogs row, `payload` for a StandardLoggingPayload."""
    return f"CASE WHEN spendlogs THEN {row} ELSE {payload} END"


def _with_row_usage(details: str, response: str) -> str:
    """SQL: a usage detail (`prompt_tokens_details.cached_tokens`, ...): a SpendLogs row's from
    `metadata.usage_object`, else `metadata.additional_usage_values`, else its stored response (`response`); a
    payload's from its response, else its `metadata.usage_object` (where a payload whose response holds no usage
    keeps it)."""
    row = f"coalesce(uo.{details}, ua.{details}, {response})"
    return _by_shape(row, f"coalesce({response}, uo.{details})")


def _usage(key: str) -> str:
    """SQL: the usage details (`_USAGE_DETAILS`) at `metadata`'s `key`, an object or a string of its JSON text."""
    return _sql.typed(f"m.{key}", _USAGE_DETAILS, key)


def _response(bulk: bool, rows: bool) -> str:
    """SQL: the response the mapping reads (`_RESPONSE`). In a file of rows (`ROWS_SPEC`) `j.response` is text,
    parsed. Otherwise it is typed as an object: a payload's is read as it is; a row's string of JSON reads as an
    empty object (in both `from_json` and `read_json`), so the line form parses a row's `response` from the line,
    and the bulk form leaves rows to the line path (`text_needed_sql`), raising if one reaches it."""
    if rows:
        return _sql.parse("j.response", _RESPONSE)
    text = _sql.no_text() if bulk else "json_extract_string(raw, '$.response')"
    row = _sql.parse(text, _RESPONSE) if not bulk else f"from_json({text}, {_sql.structure(_RESPONSE)})"
    return _by_shape(row, "j.response")


def text_needed_sql() -> str:
    """SELECT over the bulk form's relation (a file of payloads): the `source_line` of every SpendLogs row, whose
    `response` (a string of JSON) only the line's text gives. A file mostly of rows takes the form of rows
    (`configure`), which needs no text."""
    return f"select source_line from {_sql.BULK} where coalesce(request_id, spend) IS NOT NULL"


def select_sql(columns: tuple[str, ...], bulk: bool = False, rows: bool = False) -> str:
    """SELECT over `lines` with one JSON parse per line (and one of its `metadata` text); with `bulk`, the same
    over `read_json`'s columns (`_sql.parsed`); with `rows`, the form of a file of SpendLogs rows (`configure`).

    The subqueries add `spendlogs` (the line is a SpendLogs row: it has `request_id` or `spend`, which a payload
    has not), `m` (the metadata), `e` (the error information: a payload's own, a row's in its metadata),
    `native_status` (a row's `status`, else its metadata's, else success; a payload's `status`), `r` (the
    response, `_response`) and `q` (a row's stored request)."""
    failed = "native_status = 'failure'"
    # a payload without error information names the exception only at the start of its `error_str`
    named = f"CASE WHEN NOT spendlogs THEN nullif(regexp_extract(j.error_str, {_sql.literal(_EXCEPTION)}, 1), '') END"
    error = _first("e.error_class", "e.error_code", named)
    proxy = ", ".join(f"'{name}'" for name in PROXY_EXCEPTIONS)
    ok = "native_status = 'success'"
    exprs = {
        "request_id": _by_shape("j.request_id", "j.id"),
        "attempt": "1",
        "created_at": "j.startTime",
        "app_id": _first(
            "m.user_api_key_team_alias",
            "m.user_api_key_team_id",
            "CASE WHEN spendlogs THEN j.team_id END",
            "m.user_api_key_alias",
        ),
        "user_key": _first("j.end_user", _by_shape("j.user", "m.user_api_key_end_user_id")),
        "model_requested": _first("j.model_group", "j.model"),
        "model": _first("r.model", "j.model"),
        "provider": "NULL",
        "provider_native": _first("j.custom_llm_provider", "e.llm_provider"),
        "provider_host": _first("j.api_base", "CASE WHEN NOT spendlogs THEN j.hidden_params.api_base END"),
        "operation": _by_shape(_first("j.call_type"), "j.call_type"),
        "status": f"""CASE
            WHEN {failed} AND gl_is_cancellation({error}) THEN 'cancelled'
            WHEN {failed} THEN 'error'
            -- a success whose response carries an error object (a failed Responses API call) is an error
            WHEN {ok} AND {_sql.is_error_object("r.error")} THEN 'error'
            WHEN {ok} AND r.status = 'failed' THEN 'error'
            WHEN {ok} THEN 'success'
            ELSE native_status
        END""",
        "http_status": "CASE WHEN try_cast(e.error_code AS INTEGER) BETWEEN 100 AND 599 THEN e.error_code END",
        "error_code": f"coalesce({error}, CASE WHEN {ok} THEN json_extract_string(r.error, '$.code') END)",
        "error_class": f"""CASE
            WHEN {failed} AND {_first("e.llm_provider", "j.model_id")} IS NULL
                AND lower({_first("e.error_class")}) IN ({proxy}) THEN 'gateway'
        END""",
        "finish_reason": "NULL",
        "native_finish_reason": "coalesce(r.choices[1].finish_reason, r.incomplete_details.reason, r.status)",
        "prompt_tokens": "coalesce(j.prompt_tokens, u.prompt_tokens, r.usage.prompt_tokens, r.usage.input_tokens)",
        "completion_tokens": "coalesce(j.completion_tokens, u.completion_tokens, r.usage.completion_tokens, "
        "r.usage.output_tokens)",
        "reasoning_tokens": _with_row_usage(
            "completion_tokens_details.reasoning_tokens",
            "coalesce(r.usage.completion_tokens_details.reasoning_tokens, "
            "r.usage.output_tokens_details.reasoning_tokens)",
        ),
        "cached_prompt_tokens": _with_row_usage(
            "prompt_tokens_details.cached_tokens",
            "coalesce(r.usage.prompt_tokens_details.cached_tokens, r.usage.input_tokens_details.cached_tokens)",
        ),
        "tool_calls": f"""coalesce(
            {_sql.count_tool_calls("r.choices")},
            CASE WHEN r.output IS NOT NULL THEN {_sql.count_output_tool_calls("r.output")} END
        )""",
        "tools_offered": _by_shape("len(q.tools)", "len(j.model_parameters.tools)"),
        "latency_ms": _millis_between("startTime", "endTime"),
        # a row's completionStartTime is its endTime when LiteLLM measured no first token, and a row has no stream
        # flag to tell a one-chunk stream from that: only a distinct time is a time to first token
        "ttft_ms": f"""CASE WHEN NOT spendlogs OR {_micros("completionStartTime")} IS DISTINCT FROM {_micros("endTime")}
            THEN {_millis_between("startTime", "completionStartTime")} END""",
        # the request's own stream flag: the payload's top-level `stream` has been seen true on calls that were
        # not streamed (LiteLLM proxy captures whose request, route and timings all say otherwise)
        "streamed": _by_shape("q.stream", "coalesce(j.model_parameters.stream, j.stream)"),
        "cost_usd": _by_shape("j.spend", "j.response_cost"),
        "source_format": f"CASE WHEN spendlogs THEN '{SPENDLOGS}' END",
    }
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    source = f"""
select
    *,
    CASE WHEN spendlogs THEN m.error_information ELSE j.error_information END AS e,
    -- LiteLLM writes `success` and `failure`; other spellings of them (`SUCCESS`) are read alike
    lower(CASE WHEN spendlogs THEN {_first("j.status", "m.status", "'success'")} ELSE j.status END) AS native_status,
    {_response(bulk, rows)} AS r,
    CASE WHEN spendlogs THEN {_sql.parse("j.proxy_server_request", _REQUEST)} END AS q,
    CASE WHEN spendlogs AND j.usage IS NOT NULL THEN {_sql.parse("j.usage", _ROW_TOKENS)} END AS u,
    {_usage("usage_object")} AS uo,
    CASE WHEN spendlogs THEN {_usage("additional_usage_values")} END AS ua
from (
    select *, coalesce(j.request_id, j.spend) IS NOT NULL AS spendlogs, {_sql.parse("j.metadata", _METADATA)} AS m
    from {{parsed}}
)"""
    return _sql.one_record_per_line(columns_sql, ROWS_SPEC if rows else SPEC, source=source, bulk=bulk)
