"""OpenTelemetry spans of LLM calls in OTLP/JSON: one `ExportTraceServiceRequest` per line, as the collector's
`file` exporter writes them (`resourceSpans[].scopeSpans[].spans[]`), from any of the instrumentations in use.

Encoding (opentelemetry-proto `docs/specification.md`, JSON Protobuf Encoding): trace and span ids are hex
strings (base64, as generic protobuf encoders write them, is read too and turned into hex);
`startTimeUnixNano`/`endTimeUnixNano` and `intValue` are 64-bit integers, written as decimal strings or numbers;
attribute values are `{stringValue | intValue | doubleValue | boolValue | arrayValue: {values: [...]}}`, and
real exporters put numbers and lists in strings too (Spring AI writes every value as a string, Logfire every
list as JSON text); `status.code` is 2 (or `STATUS_CODE_ERROR`, `ERROR`) for an error.

**Which spans are records.** Only model calls: an agent, chain, workflow or task span repeats its children's
totals and a tool span is no model call, so counting them would count the same tokens twice. In order:
`gen_ai.operation.name` (a call when it names an operation of `schemas/reference/operations.csv`: chat,
generate_content, text_completion, embeddings, ...; not `invoke_agent`, `execute_tool`, `create_agent`, ...);
else OpenInference `openinference.span.kind` (LLM or EMBEDDING; not CHAIN, AGENT, TOOL, RETRIEVER);
else the Vercel AI SDK's `ai.operationId` (`*.doGenerate`, `*.doStream`, `*.doEmbed`; not the `ai.generateText`
wrapper or `ai.toolCall`); else OpenLLMetry's `traceloop.span.kind` (workflow, task, agent, tool: not calls);
else OpenLLMetry's `llm.request.type` (a call); else a span naming a provider and a model. Of a call-like span
and a call-like child of it in the same export, only the child counts (Google ADK's `call_llm` wraps the
`generate_content` span of the same call and repeats its model and tokens). Logfire writes a
streamed call as an opening span and a log span carrying the usage: the opener (`logfire.span_type` span whose
`request_data` asks for a stream) is not a record, the log span is. A line holding no model-call span is
`ignored` ("no GenAI model-call span among N span(s)"), as is an export of another signal (`resourceLogs`,
`resourceMetrics`, `resourceProfiles`: a collector's file exporter may write every signal to one file).

**The attributes, first present wins** (each instrumentation's own spelling after the semantic convention's):

- request_id, attempt: `traceId` + '/' + `spanId`, 1
- created_at, latency_ms: `startTimeUnixNano`; end - start
- app_id, user_key: resource `service.name` (not the SDK's default, `unknown_service:...`), else the span's own
  (OpenLIT's); `user.id`, `enduser.id`,
  `gen_ai.request.user`, `ai.settings.context.userId`
- tools_offered: the entries of `gen_ai.tool.definitions` or `ai.prompt.tools`, the distinct N of `llm.tools.N.*`
  or `llm.request.functions.N.*`; NULL when the span records no tools
- model: `gen_ai.response.model`, `gen_ai.request.model`, `llm.model_name`, `ai.response.model`, `ai.model.id`;
  model_requested: `gen_ai.request.model`, `ai.model.id`, the `model` of OpenInference's `llm.invocation_parameters`
- provider_native: `gen_ai.provider.name`, `gen_ai.system`, `llm.provider`, `llm.system`, `ai.model.provider`
- provider_host: `server.address` (with `server.port`), `gen_ai.openai.api_base`
- operation: `gen_ai.operation.name`, the OpenInference kind, `ai.operationId`, `llm.request.type`; `responses` when
  the provider is `openai.responses`
- status, error_code: span status (a cancellation `error.type` -> cancelled); the error code in a botocore
  message (`status.message` or an `exception` event's `exception.message`), else `error.type`, else an
  `exception` event's `exception.type`
- http_status: `http.response.status_code`, `http.status_code`
- finish reasons: `gen_ai.response.finish_reasons`, `ai.response.finishReason`, `llm.finish_reason`,
  `gen_ai.response.finish_reason`, `gen_ai.completion.0.finish_reason`, else a span event's `finish_reason` or
  `gen_ai.response.finish_reasons` (Strands `gen_ai.choice`), else the `stop_reason` OpenInference's Bedrock
  ConverseStream writes as its `llm.invocation_parameters`
- prompt_tokens: `gen_ai.usage.input_tokens`, `gen_ai.usage.prompt_tokens`, `llm.token_count.prompt`,
  `ai.usage.inputTokens`, `ai.usage.promptTokens`
- completion_tokens: `gen_ai.usage.output_tokens`, `gen_ai.usage.completion_tokens`, `llm.token_count.completion`,
  `ai.usage.outputTokens`, `ai.usage.completionTokens`
- reasoning_tokens: `gen_ai.usage.reasoning.output_tokens`, `gen_ai.usage.reasoning_tokens`,
  `gen_ai.usage.details.reasoning_tokens`, `llm.token_count.completion_details.reasoning`,
  `ai.usage.reasoningTokens`, `ai.usage.outputTokenDetails.reasoningTokens`
- cached_prompt_tokens: `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_read_input_tokens`,
  `gen_ai.usage.details.cache_read_tokens`, `llm.token_count.prompt_details.cache_read`,
  `ai.usage.cachedInputTokens`, `ai.usage.inputTokenDetails.cacheReadTokens`
- tool_calls: distinct `llm.output_messages.N.message.tool_calls.M.*`, `gen_ai.completion.N.tool_calls.M.*` or
  `gen_ai.completion.N.function_call.*` (LiteLLM) keys
  (OpenInference, OpenLLMetry), the entries of `ai.response.toolCalls`, the comma-separated `gen_ai.tool.call.id` of
  OpenLIT; NULL otherwise
- ttft_ms: `gen_ai.response.time_to_first_chunk` (s), `gen_ai.server.time_to_first_token` (s; as an integer, ms, as
  Strands writes it; a value that would exceed the span's duration in seconds is ms), `ai.response.msToFirstChunk`
  (ms)
- streamed: `gen_ai.request.stream`, `gen_ai.is_streaming`, `llm.is_streaming`; `ai.operationId` doStream; a
  `*_stream` `code.function.name`; a span named for a streaming call (Bedrock's `*converse_stream`,
  `*with_response_stream`, LlamaIndex's `*.astream_chat`, `*.stream_complete`); OpenLLMetry's
  `llm.content.completion.chunk` events
- cost_usd: `operation.cost`, `gen_ai.usage.cost` or LiteLLM's `gen_ai.cost.total_cost` when above 0 (OpenLIT
  and LiteLLM write 0 when they have no price)

When a span reports its cache reads or writes beside its input tokens (either above the input: Strands,
Anthropic's own counting, OpenLLMetry's Bedrock instrumentation), both are added to the prompt: the writes here,
the reads here too unless they exceed the input and the writes together, where the shared transform adds them
and flags `cached_outside_prompt` (as it does where the span wrote no cache). Finish
reasons are passed on whole (a list, or a JSON list in a string): the shared normalization lets a tool call among
them win and keeps the first as the native reason.

What this format cannot express: no attempt history (each span is one request; retries are separate spans or
HTTP child spans), no tool-call count where an instrumentation writes tool calls only in opt-in message
content (gatewaylens never reads content), no finish reason where it lives only in content (OpenInference's
`output.value`, `gen_ai.output.messages`), usually no cost.

(Over 400 lines on purpose: this docstring is the format's reference, and the SQL pieces below each read one
field across a dozen instrumentations; split, a reader would have to join them again to see one field's rules.)
"""

from __future__ import annotations

import csv

from schemas import normalize
from schemas.adapters import _sql
from schemas.bulk import shown_sql
from schemas.sqltext import literal, literal_list

_VALUE = {
    "stringValue": "VARCHAR",
    "intValue": "VARCHAR",
    "doubleValue": "VARCHAR",
    "boolValue": "VARCHAR",
    "arrayValue": {"values": [{"stringValue": "VARCHAR"}]},
}
_ATTRIBUTES = [{"key": "VARCHAR", "value": _VALUE}]
SPEC = {
    "resourceSpans": [
        {
            "resource": {"attributes": _ATTRIBUTES},
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "VARCHAR",
                            "spanId": "VARCHAR",
                            "parentSpanId": "VARCHAR",
                            "name": "VARCHAR",
                            "startTimeUnixNano": "VARCHAR",
                            "endTimeUnixNano": "VARCHAR",
                            "status": {"code": "VARCHAR", "message": "VARCHAR"},
                            "attributes": _ATTRIBUTES,
                            "events": [{"name": "VARCHAR", "attributes": _ATTRIBUTES}],
                        }
                    ]
                }
            ],
        }
    ],
    # an export of the other signals (a collector's file exporter may write every signal to one file)
    "resourceLogs": _sql.OBJECT_OR_LIST,
    "resourceMetrics": _sql.OBJECT_OR_LIST,
    "resourceProfiles": _sql.OBJECT_OR_LIST,
}

#: An export of another signal than traces (one of `SPEC`'s keys beside `resourceSpans`).
_OTHER_SIGNAL = "coalesce(j.resourceLogs, j.resourceMetrics, j.resourceProfiles)"
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider")
#: LangChain's own provider and model names, in the `metadata` JSON that OpenInference's LangChain tracer copies.
METADATA_PROVIDER, METADATA_MODEL = "$.ls_provider", "$.ls_model_name"
MODEL = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.model_name",
    "ai.response.model",
    "ai.model.id",
    "langfuse.observation.model.name",
)
FINISH = (
    "gen_ai.response.finish_reasons",
    "ai.response.finishReason",
    "llm.finish_reason",
    "gen_ai.response.finish_reason",
    "gen_ai.completion.0.finish_reason",
    "langfuse.observation.metadata.finish_reason",
)
PROMPT = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.response.prompt_tokens",  # Semantic Kernel
    "ai.usage.tokens",  # Vercel AI SDK embeddings
    "llm.token_count.prompt",
    "ai.usage.inputTokens",
    "ai.usage.promptTokens",
)
COMPLETION = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.response.completion_tokens",  # Semantic Kernel
    "llm.token_count.completion",
    "ai.usage.outputTokens",
    "ai.usage.completionTokens",
)
REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.details.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
    "ai.usage.reasoningTokens",
    "ai.usage.outputTokenDetails.reasoningTokens",
)
CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.details.cache_read_tokens",
    "llm.token_count.prompt_details.cache_read",
    "ai.usage.cachedInputTokens",
    "ai.usage.inputTokenDetails.cacheReadTokens",
)
CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_write_input_tokens",
    "gen_ai.usage.details.cache_write_tokens",
    "llm.token_count.prompt_details.cache_write",
    "ai.usage.inputTokenDetails.cacheWriteTokens",
)
USER = ("user.id", "enduser.id", "gen_ai.request.user", "ai.settings.context.userId")
STREAMED = ("gen_ai.request.stream", "gen_ai.is_streaming", "llm.is_streaming")
_MESSAGE_KEYS = r"^(llm\.output_messages|gen_ai\.completion)\.\d+\."
_TOOL_CALL_KEYS = (
    r"^(llm\.output_messages\.\d+\.message\.tool_calls\.\d+\.|gen_ai\.completion\.\d+\.tool_calls\.\d+\."
    r"|llm\.output_messages\.\d+\.message\.function_call_name$|gen_ai\.completion\.\d+\.function_call\.)"
)


def sniff(line: str) -> bool:
    """A JSON object with a `resourceSpans` list at the top level."""
    if '"resourceSpans"' not in line:
        return False
    obj = _sql.json_object(line)
    return obj is not None and isinstance(obj.get("resourceSpans"), list)


def _attr(name: str) -> str:
    """The attribute's scalar value as text (NULL when absent)."""
    return f"vals[list_position(keys, '{name}')]"


def _langfuse_usage(*keys: str) -> str:
    """A count of Langfuse's `usage_details` (a JSON object in a string), first present of `keys`."""
    details = _attr("langfuse.observation.usage_details")
    return "coalesce(" + ", ".join(f"try(json_extract_string({details}, '$.{k}'))" for k in keys) + ")"


def _metadata(path: str) -> str:
    """A value of the `metadata` attribute, a JSON object in a string (LangChain's ls_provider, ...)."""
    return f"try(json_extract_string({_attr('metadata')}, '{path}'))"


def _first(names: tuple[str, ...]) -> str:
    """The first of the attributes `names` present and not empty (`vals` holds an empty value as NULL)."""
    return "coalesce(" + ", ".join(_attr(n) for n in names) + ")"


def _operations() -> str:
    """The operation names that are model calls, from the operations reference (one home for the names)."""
    with (normalize.REFERENCE_DIR / "operations.csv").open() as handle:
        names = [row["native"].strip().lower() for row in csv.DictReader(handle)]
    return literal_list(names)


def _is_call(keys: str, vals: str) -> str:
    """SQL: the span (its attribute `keys` and `vals` lists) is a model call (see the module docstring)."""

    def a(name: str) -> str:
        return f"{vals}[list_position({keys}, '{name}')]"

    named = " OR ".join(f"list_contains({keys}, '{n}')" for n in PROVIDER)
    modelled = " OR ".join(f"list_contains({keys}, '{n}')" for n in MODEL)
    return f"""CASE
        -- Logfire exports a long span's start as a `pending_span` copy of it: the span itself is the record
        WHEN {a("logfire.span_type")} = 'pending_span' THEN false
        WHEN {a("gen_ai.operation.name")} IS NOT NULL
            THEN lower({a("gen_ai.operation.name")}) IN ({_operations()})
                AND NOT coalesce(
                    {a("logfire.span_type")} = 'span'
                    AND contains(replace({a("request_data")}, ' ', ''), '"stream":true'),
                    false
                )
        WHEN {a("openinference.span.kind")} IS NOT NULL
            THEN upper({a("openinference.span.kind")}) IN ('LLM', 'EMBEDDING')
        WHEN {a("ai.operationId")} IS NOT NULL
            THEN regexp_matches({a("ai.operationId")}, '\\.(doGenerate|doStream|doEmbed)$')
        WHEN {a("traceloop.span.kind")} IS NOT NULL THEN false
        WHEN {a("langfuse.observation.type")} IS NOT NULL THEN lower({a("langfuse.observation.type")}) = 'generation'
        WHEN {a("llm.request.type")} IS NOT NULL THEN true
        ELSE ({named}) AND ({modelled})
    END"""


def _hex_id(expr: str) -> str:
    """A trace or span id as lower-case hex, from hex or base64 (the generic protobuf JSON encoding)."""
    return f"""CASE
        WHEN regexp_full_match({expr}, '[0-9a-fA-F]+') THEN lower({expr})
        ELSE coalesce(lower(hex(try(from_base64({expr})))), {expr})
    END"""


def _finish() -> str:
    """Every finish reason the span reports, as one text (a JSON list when several), for the shared
    normalization; else the first a span event reports."""
    array = "arrays[list_position(keys, 'gen_ai.response.finish_reasons')]"
    listed = f"CASE WHEN len({array}) > 0 THEN to_json(list_transform({array}, lambda v: v.stringValue))::VARCHAR END"
    events = (
        "list_filter(flatten(list_transform(c.span.events, lambda e: list_transform(e.attributes, lambda x: "
        "CASE WHEN x.key IN ('finish_reason', 'gen_ai.response.finish_reasons') THEN coalesce(x.value.stringValue, "
        "to_json(list_transform(x.value.arrayValue.values, lambda v: v.stringValue))::VARCHAR) END))), "
        "lambda v: v IS NOT NULL)[1]"
    )
    # OpenInference's Bedrock ConverseStream writes the stop reason as its one invocation parameter
    bedrock = f"try(json_extract_string({_attr('llm.invocation_parameters')}, '$.stop_reason'))"
    return f"coalesce({listed}, {_first(FINISH)}, {events}, {bedrock})"


def _first_of_list(text: str) -> str:
    """The first non-null element of a JSON list in text (NULL for an empty list or one of nulls: not the list's
    text), else the text itself (the native finish reason)."""
    listed = f"starts_with(ltrim({text}), '[') AND coalesce(try(json_type({text})) = 'ARRAY', false)"
    return f"""CASE
        WHEN {listed} THEN list_filter(try(from_json({text}, '["VARCHAR"]')), lambda r: r IS NOT NULL)[1]
        ELSE {text}
    END"""


def _tool_calls() -> str:
    keyed = f"len(list_distinct(list_transform(list_filter(keys, lambda k: regexp_matches(k, '{_TOOL_CALL_KEYS}')), "
    keyed += f"lambda k: regexp_extract(k, '{_TOOL_CALL_KEYS}', 1))))"
    # where an instrumentation writes the response's messages as keys, a message without tool-call keys has none
    messages = f"len(list_filter(keys, lambda k: regexp_matches(k, '{_MESSAGE_KEYS}'))) > 0"
    return f"""coalesce(
        CASE WHEN {keyed} > 0 OR {messages} THEN {keyed} END,
        try(json_array_length({_attr("ai.response.toolCalls")})),
        -- OpenLIT joins a response's tool calls with commas: names always, ids when the provider gives them
        len(list_filter(string_split({_attr("gen_ai.tool.name")}, ','), lambda v: trim(v) <> '')),
        len(list_filter(string_split({_attr("gen_ai.tool.call.id")}, ','), lambda v: trim(v) <> ''))
    )"""


#: Keys that name a tool the request declared, by its number: OpenInference's and OpenLLMetry's.
_TOOL_KEYS = r"^(llm\.tools|llm\.request\.functions|gen_ai\.request\.functions)\.(\d+)\."


def _tools_offered() -> str:
    """The tools the request declared: the entries of `gen_ai.tool.definitions` (semconv, a JSON list in a string)
    or of Vercel's `ai.prompt.tools` (a list of JSON strings, or one string of a list), else the distinct numbers
    of `llm.tools.N.*` (OpenInference) or `llm.request.functions.N.*` (OpenLLMetry) keys; NULL when the span says
    nothing of them (not 0: most instrumentations do not record the tools)."""
    array = "arrays[list_position(keys, 'ai.prompt.tools')]"
    numbered = f"list_distinct(list_transform(list_filter(keys, lambda k: regexp_matches(k, '{_TOOL_KEYS}')), "
    numbered += f"lambda k: regexp_extract(k, '{_TOOL_KEYS}', 2)))"
    return f"""coalesce(
        {_json_list_length(_attr("gen_ai.tool.definitions"))},
        CASE WHEN {array} IS NOT NULL THEN len({array}) END,
        {_json_list_length(_attr("ai.prompt.tools"))},
        nullif(len({numbered}), 0)
    )"""


def _json_list_length(text: str) -> str:
    """SQL: the entries of the JSON list in `text`; NULL for anything else (an object is no list of tools)."""
    return f"CASE WHEN try(json_type({text})) = 'ARRAY' THEN json_array_length({text}) END"


def _ttft(latency: str) -> str:
    """Time to first token in ms; `gen_ai.server.time_to_first_token` is seconds by the convention, but Strands
    writes integer milliseconds: an integer, or a value whose seconds would exceed the span, is ms."""
    server = _attr("gen_ai.server.time_to_first_token")
    as_int = "list_filter(c.span.attributes, lambda a: a.key = 'gen_ai.server.time_to_first_token')[1].value.intValue"
    seconds = f"try_cast({server} AS DOUBLE)"
    return f"""coalesce(
        try_cast({_attr("gen_ai.response.time_to_first_chunk")} AS DOUBLE) * 1000,
        CASE
            WHEN {as_int} IS NOT NULL OR {seconds} * 1000 > {latency} THEN {seconds}
            ELSE {seconds} * 1000
        END,
        try_cast({_attr("ai.response.msToFirstChunk")} AS DOUBLE)
    )"""


#: botocore's ClientError names the service's error code in its message alone ("An error occurred
#: (ThrottlingException) when calling the InvokeModel operation: Rate exceeded"), where `error.type` says ClientError.
_BOTOCORE_CODE = literal(r"An error occurred \(([A-Za-z][A-Za-z0-9_.]*)\) when calling the ")


def _exception(key: str) -> str:
    """The first `exception` event's attribute `exception.<key>` of the span `c.span`."""
    return (
        "list_filter(flatten(list_transform(c.span.events, lambda e: list_transform(e.attributes, lambda x: "
        f"CASE WHEN e.name = 'exception' AND x.key = 'exception.{key}' THEN x.value.stringValue END))), "
        "lambda v: v IS NOT NULL)[1]"
    )


def _prompt() -> str:
    """Input tokens, plus cache writes when the span counts its cache reads beside the input (see above)."""
    prompt, read, write = _first(PROMPT), _first(CACHE_READ), _first(CACHE_WRITE)
    p, r, w = (f"try_cast({x} AS HUGEINT)" for x in (prompt, read, write))
    return f"""CASE
        WHEN {w} > 0 AND {r} > {p} + {w} THEN ({p} + {w})::VARCHAR
        WHEN {w} > 0 AND ({r} > {p} OR {w} > {p}) THEN ({p} + {w} + coalesce({r}, 0))::VARCHAR
        ELSE {prompt}
    END"""


def select_sql(columns: tuple[str, ...], bulk: bool = False) -> str:
    """SELECT over `lines`: one JSON parse per line, one row per model-call span (or one ignored row). With
    `bulk`, the same over
    `read_json`'s columns (`_sql.parsed`)."""
    s = "c.span"
    failed = f"{s}.status.code IN ('2', 'STATUS_CODE_ERROR', 'ERROR')"
    botocore = ", ".join(
        f"nullif(regexp_extract({message}, {_BOTOCORE_CODE}, 1), '')"
        for message in (f"{s}.status.message", _exception("message"))
    )
    error_type = f"coalesce({botocore}, {_attr('error.type')}, {_exception('type')})"
    latency = f"((try_cast({s}.endTimeUnixNano AS HUGEINT) - try_cast({s}.startTimeUnixNano AS HUGEINT)) / 1e6)"
    ai_op = _attr("ai.operationId")
    kind = f"upper({_attr('openinference.span.kind')})"
    exprs = {
        "request_id": f"{_hex_id(f'{s}.traceId')} || '/' || {_hex_id(f'{s}.spanId')}",
        "attempt": "1",
        "created_at": _sql.unix_nanos(f"{s}.startTimeUnixNano"),
        # the SDK's default when no service is named (`unknown_service:<process>`) names no application
        # ... and OpenLIT writes its application's name on each span too, where the resource may name none
        "app_id": "coalesce("
        + ", ".join(
            f"CASE WHEN NOT starts_with({name}, 'unknown_service') THEN {name} END"
            for name in ("c.service", _attr("service.name"))
        )
        + ")",
        "tools_offered": _tools_offered(),
        "user_key": _first(USER),
        # OpenInference writes the request's parameters as one JSON object, the model asked for among them
        "model_requested": f"coalesce({_attr('gen_ai.request.model')}, {_attr('ai.model.id')}, "
        f"try(json_extract_string({_attr('llm.invocation_parameters')}, '$.model')))",
        "model": f"coalesce({_first(MODEL)}, {_metadata(METADATA_MODEL)})",
        "provider_native": f"coalesce({_first(PROVIDER)}, {_metadata(METADATA_PROVIDER)})",
        # OpenInference's llm.provider "google" names the Google GenAI SDK, whichever of its backends served, unless
        # its llm.system names Vertex AI
        "provider": f"CASE WHEN {_first(PROVIDER)} = 'google' AND {_attr('llm.provider')} = 'google' THEN "
        f"CASE WHEN lower({_attr('llm.system')}) IN ('vertexai', 'vertex_ai', 'vertex') THEN 'google-vertex' "
        "ELSE 'google' END END",
        "provider_host": f"""coalesce(
            {_attr("server.address")} || coalesce(':' || {_attr("server.port")}, ''),
            {_attr("gen_ai.openai.api_base")}
        )""",
        "operation": f"""coalesce(
            -- the Vercel AI SDK's provider flavour, as it writes it and as OpenLLMetry-JS copies it to gen_ai.system
            CASE WHEN lower(coalesce({_attr("ai.model.provider")}, {_attr("gen_ai.system")})) LIKE '%.responses'
                THEN 'responses' END,
            {_attr("gen_ai.operation.name")},
            -- OpenInference: a completions call's input is plain text, a chat call's its JSON request
            CASE {kind} WHEN 'EMBEDDING' THEN 'embeddings' WHEN 'LLM' THEN
                CASE WHEN {_attr("input.mime_type")} = 'text/plain' THEN 'text_completion' ELSE 'chat' END
            END,
            CASE WHEN {ai_op} LIKE '%.doEmbed' THEN 'embeddings' WHEN {ai_op} IS NOT NULL THEN 'chat' END,
            {_attr("llm.request.type")}
        )""",
        "status": f"""CASE
            WHEN {failed} AND gl_is_cancellation({error_type}) THEN 'cancelled'
            WHEN {failed} THEN 'error'
            ELSE 'success'
        END""",
        "http_status": f"coalesce({_attr('http.response.status_code')}, {_attr('http.status_code')})",
        "error_code": f"CASE WHEN {failed} THEN {error_type} END",
        "finish_reason": "finish",
        "native_finish_reason": _first_of_list("finish"),
        "prompt_tokens": f"coalesce({_prompt()}, {_langfuse_usage('prompt_tokens', 'input')})",
        "completion_tokens": f"coalesce({_first(COMPLETION)}, {_langfuse_usage('completion_tokens', 'output')})",
        "reasoning_tokens": f"coalesce({_first(REASONING)}, {_langfuse_usage('output_reasoning_tokens')})",
        "cached_prompt_tokens": f"coalesce({_first(CACHE_READ)}, {_langfuse_usage('input_cached_tokens')})",
        "tool_calls": _tool_calls(),
        "latency_ms": latency,
        "ttft_ms": _ttft(latency),
        "streamed": f"""coalesce(
            {_first(STREAMED)},
            CASE WHEN {ai_op} LIKE '%.doStream' THEN 'true' WHEN {ai_op} LIKE '%.doGenerate' THEN 'false' END,
            -- Logfire logs the end of a stream as a log span of its own (the model-call record, see above)
            CASE WHEN {_attr("logfire.span_type")} = 'log' THEN 'true' END,
            CASE WHEN {_attr("code.function.name")} LIKE 'google.genai.%' THEN
                CASE WHEN {_attr("code.function.name")} LIKE '%\\_stream' ESCAPE '\\' THEN 'true' ELSE 'false' END
            END,
            -- a span named for a streaming API call (OpenInference's `bedrock.converse_stream`,
            -- `bedrock.invoke_model_with_response_stream`, LlamaIndex's `OpenAI.astream_chat`)
            CASE WHEN regexp_matches(lower(c.span.name),
                '(converse_stream|with_response_stream|(^|[._])a?stream_(chat|complete))$') THEN 'true' END,
            -- OpenLLMetry's event per streamed chunk
            CASE WHEN list_contains(list_transform(c.span.events, lambda e: e.name), 'llm.content.completion.chunk')
                THEN 'true' END
        )""",
        # OpenLIT's usage cost and LiteLLM's total cost are 0 where they know no price: only a cost above 0 is one
        "cost_usd": f"coalesce({_attr('operation.cost')}, "
        f"CASE WHEN try_cast({_attr('gen_ai.usage.cost')} AS DOUBLE) > 0 THEN {_attr('gen_ai.usage.cost')} END, "
        f"CASE WHEN try_cast({_attr('gen_ai.cost.total_cost')} AS DOUBLE) > 0 "
        f"THEN {_attr('gen_ai.cost.total_cost')} END)",
    }
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    service = "list_filter(rs.resource.attributes, lambda a: a.key = 'service.name')[1].value.stringValue"
    spans = f"""flatten(list_transform(j.resourceSpans, lambda rs: list_transform(
        flatten(list_transform(rs.scopeSpans, lambda ss: ss.spans)),
        lambda sp: {{'span': sp, 'service': {service}}})))"""
    span_keys = "list_transform(x.span.attributes, lambda a: a.key)"
    span_vals = (
        "list_transform(x.span.attributes, lambda a: nullif(coalesce(a.value.stringValue, a.value.intValue, "
        "a.value.doubleValue, a.value.boolValue), ''))"
    )
    return f"""
select
    source_line,
    CASE WHEN c IS NOT NULL THEN format('span {{}} ({{}} {{}})', c.no,
        coalesce({shown_sql("label_operation")}, '?'), coalesce({shown_sql("label_model")}, '?')) END AS item,
    CASE
        WHEN c IS NULL AND j.resourceSpans IS NOT NULL AND {_sql.is_object("raw")}
            THEN format('no GenAI model-call span among {{}} span(s)', n_spans)
        WHEN j.resourceSpans IS NULL AND {_OTHER_SIGNAL} IS NOT NULL AND {_sql.is_object("raw")}
            THEN 'an OTLP/JSON export of logs, metrics or profiles: the model calls are read from the traces'
    END AS ignored,
    CASE
        {_sql.not_an_object()}
        WHEN j.resourceSpans IS NULL AND {_OTHER_SIGNAL} IS NULL THEN 'not an OTLP/JSON trace export (no resourceSpans)'
    END AS reject,
    {columns_sql}
from (
    select
        *,
        {_finish()} AS finish,
        -- what the span's label in a reason names, each looked up once (`shown_sql` reads its value several times)
        {_attr("gen_ai.operation.name")} AS label_operation,
        coalesce({_attr("gen_ai.request.model")}, {_first(MODEL)}) AS label_model
    from (
        select
            *,
            list_transform(c.span.attributes, lambda a: a.key) AS keys,
            -- an empty value says nothing and hides no later attribute (`_first`): NULL, once per attribute
            list_transform(c.span.attributes, lambda a: nullif(coalesce(
                a.value.stringValue, a.value.intValue, a.value.doubleValue, a.value.boolValue), '')) AS vals,
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
                -- a call-like span with a call-like child wraps it (Google ADK's call_llm around generate_content,
                -- a gateway span around its upstream request): only the innermost counts, once
                select
                    source_line,
                    raw,
                    j,
                    n_spans,
                    list_filter(candidates, lambda x: NOT coalesce(list_contains(
                        list_transform(candidates, lambda y: y.span.traceId || '/' || y.span.parentSpanId),
                        x.span.traceId || '/' || x.span.spanId
                    ), false)) AS calls
                from (
                select
                    source_line,
                    raw,
                    j,
                    coalesce(len(spans), 0) AS n_spans,
                    coalesce(
                        list_filter(
                            list_transform(spans, lambda x, i: struct_insert(x, no := i)),
                            lambda x: {_is_call(span_keys, span_vals)}
                        ),
                        []
                    ) AS candidates
                from (
                    select source_line, raw, j, {spans} AS spans
                    from {_sql.parsed(SPEC, bulk)}
                )
                )
            )
        )
    )
)
"""
