"""OpenTelemetry GenAI spans in OTLP/JSON: one `ExportTraceServiceRequest` per line, as the collector's
`file` exporter writes them (`resourceSpans[].scopeSpans[].spans[]`).

Encoding (opentelemetry-proto `docs/specification.md`, JSON Protobuf Encoding): trace and span ids are hex
strings; `startTimeUnixNano`/`endTimeUnixNano` and `intValue` are 64-bit integers, written as decimal
strings (numbers are read too); attribute values are `{stringValue | intValue | doubleValue | boolValue |
arrayValue: {values: [...]}}`; `status.code` is an integer (2 = ERROR) since the spec forbade enum names in
2022, but older or generic protobuf encoders write `"STATUS_CODE_ERROR"`, which is read as well.

Attributes (semantic-conventions-genai `model/gen-ai/registry.yaml`): a span is a model call, and a record,
when `gen_ai.operation.name` is `chat`, `text_completion`, `generate_content` or `embeddings`, or, for
instrumentations older than that attribute, when it has no operation name but a provider
(`gen_ai.provider.name`, formerly `gen_ai.system`) and a model. Agent, tool, workflow and memory spans
(`invoke_agent`, `execute_tool`, ...) and non-GenAI spans (HTTP, database) are not records: an agent span
would count its model calls twice, a tool span is not a model call. A line holding no model-call span is
`ignored` with the reason "no GenAI model-call span among N span(s)", counted in the ledger.

| record | span |
| --- | --- |
| request_id | `traceId` + '/' + `spanId` (unique per span; `gen_ai.response.id` is missing on errors) |
| attempt | 1 |
| created_at, latency_ms | `startTimeUnixNano`; `endTimeUnixNano` - `startTimeUnixNano` |
| ttft_ms | `gen_ai.response.time_to_first_chunk` (seconds) x 1000 |
| app_id | the resource's `service.name` |
| user_key (hashed) | `user.id` |
| model_requested / model | `gen_ai.request.model` / `gen_ai.response.model`, else the requested one |
| provider_native | `gen_ai.provider.name`, else `gen_ai.system` |
| status | `status.code` 2 or "STATUS_CODE_ERROR" -> error (a cancellation `error.type` -> cancelled), else success |
| http_status, error_code | `http.response.status_code`, `error.type` |
| native_finish_reason | first of `gen_ai.response.finish_reasons` (OTel's `tool_call` -> tool_calls) |
| prompt_tokens | `gen_ai.usage.input_tokens` (includes cached), else pre-1.27 `gen_ai.usage.prompt_tokens` |
| completion_tokens | `gen_ai.usage.output_tokens` (includes reasoning), else `gen_ai.usage.completion_tokens` |
| reasoning_tokens | `gen_ai.usage.reasoning.output_tokens` |
| cached_prompt_tokens | `gen_ai.usage.cache_read.input_tokens` |
| streamed | `gen_ai.request.stream` |

What this format cannot express: no cost, no tool-call count and no tools offered (they live in opt-in
message content, which gatewaylens never reads), no attempt history (each span is one request; retries are
separate spans or HTTP child spans), and only the first finish reason of a multi-choice response.
"""

from __future__ import annotations

from schemas.adapters import _sql

CALL_OPERATIONS = ("chat", "text_completion", "generate_content", "embeddings")
_VALUE = {
    "stringValue": "VARCHAR",
    "intValue": "VARCHAR",
    "doubleValue": "VARCHAR",
    "boolValue": "VARCHAR",
    "arrayValue": {"values": [{"stringValue": "VARCHAR"}]},
}
_ATTRIBUTES = [{"key": "VARCHAR", "value": _VALUE}]
_SPEC = {
    "resourceSpans": [
        {
            "resource": {"attributes": _ATTRIBUTES},
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "VARCHAR",
                            "spanId": "VARCHAR",
                            "startTimeUnixNano": "VARCHAR",
                            "endTimeUnixNano": "VARCHAR",
                            "status": {"code": "VARCHAR"},
                            "attributes": _ATTRIBUTES,
                        }
                    ]
                }
            ],
        }
    ]
}


def sniff(line: str) -> bool:
    """A JSON object with a `resourceSpans` list at the top level."""
    if '"resourceSpans"' not in line:
        return False
    obj = _sql.json_object(line)
    return obj is not None and isinstance(obj.get("resourceSpans"), list)


def _has(attributes: str, condition: str) -> str:
    return f"len(list_filter({attributes}, lambda a: {condition})) > 0"


def _is_call(span: str) -> str:
    """SQL: the span is a GenAI model call (see the module docstring)."""
    a = f"{span}.attributes"
    operations = ", ".join(f"'{op}'" for op in CALL_OPERATIONS)
    return f"""(
        {_has(a, f"a.key = 'gen_ai.operation.name' AND a.value.stringValue IN ({operations})")}
        OR (
            NOT {_has(a, "a.key = 'gen_ai.operation.name'")}
            AND {_has(a, "a.key IN ('gen_ai.provider.name', 'gen_ai.system')")}
            AND {_has(a, "a.key IN ('gen_ai.request.model', 'gen_ai.response.model')")}
        )
    )"""


def _attr(name: str) -> str:
    """The attribute's scalar value as text (NULL when absent)."""
    return f"vals[list_position(keys, '{name}')]"


def select_sql(columns: tuple[str, ...]) -> str:
    """SELECT over `lines`: one JSON parse per line, one row per model-call span (or one ignored row)."""
    s = "c.span"
    exprs = {
        "request_id": f"{s}.traceId || '/' || {s}.spanId",
        "attempt": "1",
        "created_at": _sql.unix_nanos(f"{s}.startTimeUnixNano"),
        "app_id": "c.service",
        "user_key": _attr("user.id"),
        "model_requested": _attr("gen_ai.request.model"),
        "model": f"coalesce({_attr('gen_ai.response.model')}, {_attr('gen_ai.request.model')})",
        "provider": "NULL",
        "provider_native": f"coalesce({_attr('gen_ai.provider.name')}, {_attr('gen_ai.system')})",
        "status": f"""CASE
            WHEN {s}.status.code IN ('2', 'STATUS_CODE_ERROR') AND gl_is_cancellation({_attr("error.type")})
                THEN 'cancelled'
            WHEN {s}.status.code IN ('2', 'STATUS_CODE_ERROR') THEN 'error'
            ELSE 'success'
        END""",
        "http_status": _attr("http.response.status_code"),
        "error_code": _attr("error.type"),
        "error_class": "NULL",
        "finish_reason": "NULL",
        "native_finish_reason": "coalesce(arrays[list_position(keys, 'gen_ai.response.finish_reasons')][1]"
        f".stringValue, {_attr('gen_ai.response.finish_reasons')})",
        "prompt_tokens": f"coalesce({_attr('gen_ai.usage.input_tokens')}, {_attr('gen_ai.usage.prompt_tokens')})",
        "completion_tokens": f"coalesce({_attr('gen_ai.usage.output_tokens')}, "
        f"{_attr('gen_ai.usage.completion_tokens')})",
        "reasoning_tokens": _attr("gen_ai.usage.reasoning.output_tokens"),
        "cached_prompt_tokens": _attr("gen_ai.usage.cache_read.input_tokens"),
        "tool_calls": "NULL",
        "tools_offered": "NULL",
        "latency_ms": f"(try_cast({s}.endTimeUnixNano AS HUGEINT) - try_cast({s}.startTimeUnixNano AS HUGEINT)) / 1e6",
        "ttft_ms": f"try_cast({_attr('gen_ai.response.time_to_first_chunk')} AS DOUBLE) * 1000",
        "streamed": _attr("gen_ai.request.stream"),
        "cost_usd": "NULL",
    }
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    service = "list_filter(rs.resource.attributes, lambda a: a.key = 'service.name')[1].value.stringValue"
    spans = f"""flatten(list_transform(j.resourceSpans, lambda rs: list_transform(
        flatten(list_transform(rs.scopeSpans, lambda ss: ss.spans)),
        lambda sp: {{'span': sp, 'service': {service}}})))"""
    return f"""
select
    source_line,
    CASE WHEN c IS NOT NULL THEN format('span {{}} ({{}} {{}})', c.no,
        coalesce({_attr("gen_ai.operation.name")}, '?'), coalesce({_attr("gen_ai.request.model")}, '?')) END AS item,
    CASE
        WHEN c IS NULL AND j.resourceSpans IS NOT NULL AND {_sql.is_object("raw")}
            THEN format('no GenAI model-call span among {{}} span(s)', n_spans)
    END AS ignored,
    CASE
        WHEN j IS NULL THEN 'not JSON'
        WHEN NOT {_sql.is_object("raw")} THEN 'not a JSON object'
        WHEN j.resourceSpans IS NULL THEN 'not an OTLP/JSON trace export (no resourceSpans)'
    END AS reject,
    {columns_sql}
from (
    select
        *,
        list_transform(c.span.attributes, lambda a: a.key) AS keys,
        list_transform(c.span.attributes, lambda a: coalesce(
            a.value.stringValue, a.value.intValue, a.value.doubleValue, a.value.boolValue)) AS vals,
        list_transform(c.span.attributes, lambda a: a.value.arrayValue.values) AS arrays
    from (
        select
            source_line,
            raw,
            j,
            n_spans,
            -- one row per model-call span; a line without one keeps a single row (c NULL)
            unnest(list_resize(calls, greatest(len(calls), 1))) AS c
        from (
            select
                source_line,
                raw,
                j,
                coalesce(len(spans), 0) AS n_spans,
                coalesce(
                    list_filter(
                        list_transform(spans, lambda x, i: struct_insert(x, no := i)),
                        lambda x: {_is_call("x.span")}
                    ),
                    []
                ) AS calls
            from (
                select source_line, raw, j, {spans} AS spans
                from (select source_line, raw, {_sql.parse("raw", _SPEC)} AS j from lines)
            )
        )
    )
)
"""
