"""Raw provider response bodies, as an in-house proxy logs them: one body per line, bare or in an envelope.

Five body shapes, told apart per line (one file may mix providers), each recorded under its own
`source_format`:

| source_format | body | told by |
| --- | --- | --- |
| openai-chat | OpenAI Chat Completions (and OpenAI-compatible servers) | `object` chat.completion, or `choices` |
| openai-responses | OpenAI Responses API | `object` response |
| openai-embeddings | OpenAI embeddings (operation embeddings; prompt tokens only) | `object` list, `data`, `usage` |
| anthropic-messages | Anthropic Messages (also as Bedrock and Vertex serve it) | `type` message, or `type` error |
| gemini | Gemini generateContent (AI Studio and Vertex) | `candidates`, `usageMetadata` or `promptFeedback` |

An error body `{"error": {...}}` is Gemini's when its `error.status` is a gRPC status name
(RESOURCE_EXHAUSTED) or the envelope names Google, else OpenAI's.

**The envelope** holds what a proxy knows beside the body; every key but `response` is optional:
`{"timestamp", "request_id", "attempt", "provider", "status_code", "latency_ms", "ttft_ms", "app_id", "user",
"request": {"model", "stream", "tools"}, "response": <body>}`. `timestamp` is ISO 8601 (no offset = UTC) or
epoch seconds; a wire log's `status` (a whole number) beside the `response` is read as `status_code`. The
envelope wins over the body where both say something (time, id, provider); a body alone
is placed by its own time (Chat `created`, Responses `created_at`, Vertex `createTime`) and keyed by its own
id (`id`, `responseId`, an error's `request_id`); a body with no id at all (OpenAI and Gemini error bodies; an
empty id is none) is keyed `body-` + the first 32 hex digits of the SHA-256 of its line's text as written, so the
same line read again is the same record (the same body written otherwise, pretty-printed say, is another).
Anthropic and AI Studio bodies carry no time: bare, they are quarantined ("no timestamp"); log them in the envelope.

- model: openai-chat `model`; openai-responses `model`; anthropic-messages `model`; gemini `modelVersion`
- native_finish_reason: openai-chat `choices[0].finish_reason`; openai-responses `incomplete_details.reason`, else
  `status` (none while queued or in progress); anthropic-messages `stop_reason`; gemini
  `candidates[0].finishReason`, else `promptFeedback.blockReason`
- tool_calls: openai-chat `message.tool_calls` over choices; openai-responses `function_call`, `custom_tool_call`
  items; anthropic-messages `tool_use` blocks; gemini `functionCall` parts over candidates
- tools_offered: the envelope's `request.tools`, else the `tools` a Responses body echoes
- prompt_tokens: openai-chat `prompt_tokens`; openai-responses `input_tokens`; anthropic-messages `input_tokens` +
  `cache_read_input_tokens` + `cache_creation_input_tokens`; gemini `promptTokenCount` + `toolUsePromptTokenCount`
- completion_tokens: openai-chat `completion_tokens`; openai-responses `output_tokens`; anthropic-messages
  `output_tokens`; gemini `candidatesTokenCount` + `thoughtsTokenCount`
- reasoning_tokens: openai-chat `completion_tokens_details.reasoning_tokens`; openai-responses
  `output_tokens_details.reasoning_tokens`; anthropic-messages `output_tokens_details.thinking_tokens`; gemini
  `thoughtsTokenCount`
- cached_prompt_tokens: openai-chat `prompt_tokens_details.cached_tokens`; openai-responses
  `input_tokens_details.cached_tokens`; anthropic-messages `cache_read_input_tokens`; gemini
  `cachedContentTokenCount`
- error_code: openai-chat `error.code`, else `error.type`; openai-responses `error.code`; anthropic-messages
  `error.type`; gemini `error.status`

Status: an error body, an `error` object inside a 200 body (or a choice finishing with `error`), a Responses
`status` failed, or an envelope `status_code` >= 400 is an error; a Responses `status` cancelled is a
cancellation. Tools run by the provider itself (Responses `web_search_call`, `mcp_call`, ...; Anthropic
`server_tool_use`) are not tool calls: the agent did not have to act on them. The provider is the envelope's,
else the body's own `provider` (OpenRouter; an empty name is none), else a field only one server writes
(`_markers`: Azure's `prompt_filter_results`, Groq's `x_groq`, Cerebras's `time_info`, ...; Bedrock's and
Vertex's Anthropic ids; google-vertex with `createTime`), else the shared rules (host, model id), else the
shape's company (openai, anthropic, google-ai-studio) unless the model is another lab's (then unknown).

What these bodies cannot express: no latency, time to first token, user or application without the envelope;
no cost; Anthropic reports thinking inside `output_tokens` without a separate count, so its reasoning tokens are
NULL unless `output_tokens_details` is present. A streamed response logged as the stream itself (SSE text or the
list of its chunks) is read as the body it assembles into (`_streams`); its chunks carry no times.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

from schemas.adapters import _sql, _streams
from schemas.quality import whole_number

if TYPE_CHECKING:
    from schemas.adapters import Adapter

NAME = "provider-bodies"
_GEMINI_USAGE = {
    "promptTokenCount": "VARCHAR",
    "candidatesTokenCount": "VARCHAR",
    "thoughtsTokenCount": "VARCHAR",
    "cachedContentTokenCount": "VARCHAR",
    "toolUsePromptTokenCount": "VARCHAR",
}
#: A tool the request offers: Gemini groups its functions in a list (counted one each); any other tool counts one.
#: Read as a struct of those two lists' JSON, not as the tool's JSON text (a tool's schema may be kilobytes).
_TOOL = {"functionDeclarations": _sql.OBJECT_OR_LIST, "function_declarations": _sql.OBJECT_OR_LIST}
_BODY = {
    "id": "VARCHAR",
    "object": "VARCHAR",
    "type": "VARCHAR",
    "created": "VARCHAR",
    "created_at": "VARCHAR",
    "createTime": "VARCHAR",
    "model": "VARCHAR",
    "modelVersion": "VARCHAR",
    "responseId": "VARCHAR",
    "request_id": "VARCHAR",
    "provider": "VARCHAR",
    "status": "VARCHAR",
    "stop_reason": "VARCHAR",
    "choices": _sql.CHOICES,
    "prompt_filter_results": _sql.OBJECT_OR_LIST,
    "output": [_sql.OUTPUT_ITEM],
    "tools": [_TOOL],  # a Responses body echoes the tools its request offered
    "code": "VARCHAR",
    "system_fingerprint": "VARCHAR",
    "x_groq": _sql.OBJECT_OR_LIST,
    "time_info": _sql.OBJECT_OR_LIST,
    "timings": _sql.OBJECT_OR_LIST,
    "data": _sql.OBJECT_OR_LIST,
    "incomplete_details": {"reason": "VARCHAR"},
    "content": [{"type": "VARCHAR"}],
    "candidates": [{"finishReason": "VARCHAR", "content": {"parts": [{"functionCall": _sql.OBJECT_OR_LIST}]}}],
    "promptFeedback": {"blockReason": "VARCHAR"},
    "usage": _sql.USAGE
    | {
        "cached_tokens": "VARCHAR",
        "prompt_cache_hit_tokens": "VARCHAR",
        "cost_in_usd_ticks": "VARCHAR",
        "input_tokens": "VARCHAR",
        "output_tokens": "VARCHAR",
        "cache_read_input_tokens": "VARCHAR",
        "cache_creation_input_tokens": "VARCHAR",
        "input_tokens_details": {"cached_tokens": "VARCHAR"},
        "output_tokens_details": {"reasoning_tokens": "VARCHAR", "thinking_tokens": "VARCHAR"},
    },
    "usageMetadata": _GEMINI_USAGE,
    "error": _sql.OBJECT_OR_LIST,
}
SPEC = _BODY | {
    "timestamp": "VARCHAR",
    "attempt": "VARCHAR",
    "status_code": "VARCHAR",
    "latency_ms": "VARCHAR",
    "ttft_ms": "VARCHAR",
    "app_id": "VARCHAR",
    "user": "VARCHAR",
    "stream": "VARCHAR",
    "request": {"model": "VARCHAR", "stream": "VARCHAR", "tools": [_TOOL]},
    "response": _BODY,
}
#: The HTTP status the envelope gives: its `status_code`, else a wire log's `status` (a whole number) beside the
#: `response` (a bare body's own `status` is the Responses API's, never an HTTP status).
_HTTP_STATUS = (
    "coalesce(j.status_code, CASE WHEN j.response IS NOT NULL "
    "AND regexp_full_match(trim(j.status), '[1-5][0-9][0-9](\\.0*)?') THEN split_part(trim(j.status), '.', 1) END)"
)
#: The envelope's keys of the request's id and the provider's name.
_ENVELOPE_ID, _ENVELOPE_NAME = "request_id", "provider"
#: The body's keys typed as an object or a list (not `error` nor `data`, read as JSON): at a line's top level, with
#: no `response`, they make it a bare body.
_NESTED = tuple(key for key, kind in _BODY.items() if not isinstance(kind, str))
#: The bulk form of a file of envelopes (`configure`): `SPEC`, but a body's nested keys at the top level read as
#: JSON, only to find the bare bodies among the envelopes (`_is_bare`), which take the line path. Typed beside the
#: `response`, they made every row carry two bodies' nested columns, and the body a CASE between two structs,
#: which copies every row's whole body.
ENVELOPES_SPEC = SPEC | dict.fromkeys(_NESTED, "JSON")
#: The ids a body may carry, in the order they key it; a body with none (an empty string is none: servers that fill
#: every unset field, as Snowflake Cortex does, write `"id": ""`) is keyed by its line's hash.
_IDS = tuple(f"nullif({key}, '')" for key in (f"j.{_ENVELOPE_ID}", "b.id", "b.responseId", "b.request_id"))
#: The provider's name, from the envelope or the body (OpenRouter's), an empty one none; without it the server is
#: told by markers.
_NAMED = f"coalesce(nullif(j.{_ENVELOPE_NAME}, ''), nullif(b.provider, ''))"
#: The shapes (`_by_shape`'s keys) whose server, when no name says it, is told by the fields only it writes
#: (`_markers`).
_MARKED = ("chat", "responses", "embeddings")
#: `_by_shape`'s keys -> the shapes' names.
_SHAPE_NAMES = {
    "chat": "openai-chat",
    "responses": "openai-responses",
    "anthropic": "anthropic-messages",
    "gemini": "gemini",
    "embeddings": "openai-embeddings",
}
#: The marked shapes' names, as an SQL list's items.
_MARKED_NAMES = ", ".join(f"'{_SHAPE_NAMES[key]}'" for key in _MARKED)


def _markers(text: str) -> str:
    """Fields only one server writes into an OpenAI-compatible body, when no name says who served it: Azure OpenAI's
    own (present even when null: the prompt filter results, the content filter result(s) of a choice, of a
    Responses content filter or of an error's inner error), Groq's, Ollama's fingerprint, DeepSeek's cache hits,
    xAI's cost ticks, Cerebras's timings (`time_info`), each found in the line's `text` as a key, its name in quotes
    (a name quoted inside a string shows its quotes escaped, and is no key), or in the body as read where it is not
    null (a stream's body, assembled from chunks whose keys the text holds only escaped). The content filter's key
    is matched by its opening quote alone: it also finds the key in a body written as a string, and a name quoted
    in a message text as well. llama.cpp's server's timings (`timings`, a common word) and Claude's tool-use ids
    from Vertex (`toolu_vrtx_`) and Bedrock (`toolu_bdrk_`) are read in the body alone: a request's schema or
    history may hold the same text."""
    azure = (
        f"(contains({text}, '\"prompt_filter_results\"') OR contains({text}, '\"content_filter_result') "
        "OR b.prompt_filter_results IS NOT NULL)"
    )
    groq = f"(contains({text}, '\"x_groq\"') OR b.x_groq IS NOT NULL)"
    deepseek = f"(contains({text}, '\"prompt_cache_hit_tokens\"') OR b.usage.prompt_cache_hit_tokens IS NOT NULL)"
    xai = f"(contains({text}, '\"cost_in_usd_ticks\"') OR b.usage.cost_in_usd_ticks IS NOT NULL)"
    cerebras = f"(contains({text}, '\"time_info\"') OR b.time_info IS NOT NULL)"
    # Claude's tool-use ids as Vertex and Bedrock write them, carried into an OpenAI-shaped body (a tool call's `id`,
    # a Responses `call_id`): read from the body, never from the line (a request's history holds earlier ones)
    ids = (
        "list_concat(flatten(list_transform(b.choices, lambda c: list_transform(c.message.tool_calls, "
        "lambda t: t.id))), list_transform(b.output, lambda o: o.call_id))"
    )
    platform = f"list_filter({ids}, lambda i: regexp_matches(i, '^toolu_(vrtx|bdrk)_'))[1]"
    return (
        f"CASE WHEN {azure} THEN 'azure' WHEN {groq} THEN 'groq' WHEN b.system_fingerprint = 'fp_ollama' "
        f"THEN 'ollama' WHEN {deepseek} THEN 'deepseek' WHEN {xai} THEN 'xai' WHEN {cerebras} THEN 'cerebras' "
        # llama.cpp's server's timings at the body's top level (a common word, so never looked for in the text)
        "WHEN b.timings IS NOT NULL THEN 'llama-cpp' "
        f"ELSE CASE substr({platform}, 7, 4) WHEN 'vrtx' THEN 'google-vertex' WHEN 'bdrk' THEN 'amazon-bedrock' END END"
    )


_GOOGLE = ("google", "gemini", "vertex", "vertex_ai", "google-vertex", "google-ai-studio", "google ai studio")


def _shape(body: dict) -> str | None:
    """The body shape of a parsed line (for sniffing), or None."""
    if not isinstance(body, dict):
        return None
    if body.get("object") == "chat.completion" or isinstance(body.get("choices"), list):
        return "openai-chat"
    if body.get("object") == "response":
        return "openai-responses"
    if body.get("object") == "list" and isinstance(body.get("data"), list) and isinstance(body.get("usage"), dict):
        return "openai-embeddings"
    if body.get("type") in ("message", "error") and ("content" in body or "error" in body):
        return "anthropic-messages"
    if any(k in body for k in ("candidates", "usageMetadata", "promptFeedback")):
        return "gemini"
    return None


def _response(line: dict) -> dict | None:
    """The envelope's `response` body of a parsed line, a logged stream's first body for a stream; else None."""
    response = line.get("response")
    stream = _streams.chunks(response)
    return _streams.first_body(stream) if stream else response if isinstance(response, dict) else None


def _provider_error(body: dict) -> bool:
    """An OpenAI (`type`, `param`) or Gemini (`status`) error body; OpenRouter's carry `metadata` instead."""
    error = body.get("error")
    return isinstance(error, dict) and bool({"type", "param", "status"} & error.keys()) and "metadata" not in error


def sniff(line: str) -> bool:
    """A body of one of the four shapes or a provider's error body, bare or as the envelope's `response` (or the
    stream logged there: `_streams`); for a bare chat completion, one that names no gateway `provider` (an
    OpenRouter body is read by its own format)."""
    obj = _sql.decoded_object(line)
    if obj is None:
        return False
    if isinstance(body := _response(obj), dict):
        # a wire log's `status` beside the response, where no `status_code` is given
        status = obj["status_code"] if obj.get("status_code") is not None else obj.get("status")
        failed = (code := whole_number(status)) is not None and code >= 400
        return (
            _shape(body) is not None or isinstance(body.get("error"), dict) or failed or body.get("object") == "error"
        )
    if _provider_error(obj) or (obj.get("object") == "error" and "message" in obj):
        return True
    shape = _shape(obj)
    return shape is not None and not (shape == "openai-chat" and "provider" in obj)


def _shape_sql(b: str) -> str:
    google = ", ".join(f"'{name}'" for name in _GOOGLE)
    return f"""CASE
        WHEN {b}.object = 'chat.completion' OR {b}.choices IS NOT NULL THEN 'openai-chat'
        WHEN {b}.object = 'response' THEN 'openai-responses'
        WHEN {b}.object = 'list' AND json_type({b}.data) = 'ARRAY' AND {b}.usage IS NOT NULL THEN 'openai-embeddings'
        WHEN {b}.type = 'message' OR ({b}.type = 'error' AND {b}.error IS NOT NULL) THEN 'anthropic-messages'
        WHEN {b}.candidates IS NOT NULL OR {b}.usageMetadata IS NOT NULL OR {b}.promptFeedback IS NOT NULL
            THEN 'gemini'
        -- Google's error names a gRPC status (RESOURCE_EXHAUSTED); Azure's carries a numeric one
        WHEN json_type({b}.error) = 'OBJECT' AND (
            regexp_full_match(json_extract_string({b}.error, '$.status'), '[A-Z][A-Z_]+')
            OR lower(j.provider) IN ({google})
        ) THEN 'gemini'
        WHEN json_type({b}.error) = 'OBJECT' AND lower(j.provider) = 'anthropic' THEN 'anthropic-messages'
        WHEN json_type({b}.error) = 'OBJECT' THEN 'openai-chat'
        -- a flat error body (Mistral's and vLLM's with object "error"; Bedrock's with only a message, under an
        -- HTTP error status the envelope gives)
        WHEN {b}.object = 'error' OR try_cast({_HTTP_STATUS} AS INTEGER) >= 400 THEN CASE
            WHEN lower(j.provider) IN ({google}) THEN 'gemini'
            WHEN lower(j.provider) = 'anthropic' THEN 'anthropic-messages'
            ELSE 'openai-chat'
        END
    END"""


def _count_tools(tools: str) -> str:
    """Tools declared in a request (`_TOOL`s): Gemini groups functions in `functionDeclarations`, which count one
    each (a value that is no list counts none); any other tool, a string included, counts one. An empty list is 0
    tools offered (a request that offered none); only a missing list is unknown."""
    each = "coalesce(json_array_length(t.functionDeclarations), json_array_length(t.function_declarations), 1)"
    return f"CASE WHEN {tools} IS NOT NULL THEN coalesce(list_sum(list_transform({tools}, lambda t: {each})), 0) END"


def _sum(first: str, *others: str) -> str:
    """Text of `first` plus `others` (each absent one counting 0); NULL when `first` is absent; text that is no
    number stays as it is, for the shared typing to reject with its value."""
    total = f"try_cast({first} AS HUGEINT)" + "".join(f" + coalesce(try_cast({o} AS HUGEINT), 0)" for o in others)
    return f"CASE WHEN try_cast({first} AS HUGEINT) IS NULL THEN {first} ELSE ({total})::VARCHAR END"


def _by_shape(**exprs: str) -> str:
    """CASE over the shape; keys those of _SHAPE_NAMES."""
    whens = " ".join(f"WHEN '{_SHAPE_NAMES[k]}' THEN ({v})::VARCHAR" for k, v in exprs.items())
    return f"CASE shape {whens} END"


def select_sql(columns: tuple[str, ...], bulk: bool = False, envelopes: bool = False) -> str:
    """SELECT over `lines`: one JSON parse per line, one record per body. With `bulk`, the SELECT of the bulk form,
    for the lines `text_needed_sql` leaves to it: it has no line text, and a row that would read it fails the
    statement (`_sql.no_text`) rather than map wrongly; with `envelopes` too, the bulk form of a file of envelopes
    (`ENVELOPES_SPEC`), which leaves bare bodies to the line path."""
    if envelopes and not bulk:
        raise ValueError("the form of a file of envelopes is a bulk form: the line form reads every line alike")
    text = _sql.no_text() if bulk else "raw"
    exprs = _columns(text)
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    rejects = f"""WHEN shape IS NULL THEN 'not an OpenAI Chat Completions, OpenAI Responses, Anthropic Messages or '
            || 'Gemini generateContent body, bare or in the envelope'
        WHEN {exprs["created_at"]} IS NULL AND j.response IS NULL THEN format('no timestamp: a bare {{}} body carries '
            || 'none; log it in the envelope with its timestamp', shape)
        WHEN {exprs["created_at"]} IS NULL THEN format('no timestamp: the envelope has no timestamp and its {{}} body '
            || 'carries none', shape)"""
    if not envelopes:
        return _sql.one_record_per_line(
            columns_sql,
            SPEC,
            rejects,
            _bodies("{parsed}", _bare("j")),
            bulk,
            rewrite=_streams.assembled,
            ignored=_EVENT_WITHOUT_RESPONSE,
        )
    # a bare body that slipped past `text_needed_sql` fails the statement instead of being read as no body
    rejects = f"WHEN {_is_bare('j')} THEN {text}\n        {rejects}"
    return _sql.one_record_per_line(
        columns_sql,
        ENVELOPES_SPEC,
        rejects,
        _bodies("{parsed}", _enveloped("j")),
        bulk,
        ignored=_EVENT_WITHOUT_RESPONSE,
    )


#: Why a line of a Responses stream logged event by event holds no record: an event without the response (a
#: delta, an item added); the events that carry it (`response.created`, ..., `response.completed`) are read as the
#: response they hold, the most complete of them kept (the dedupe's rule for records of one key).
_EVENT_WITHOUT_RESPONSE = (
    "CASE WHEN shape IS NULL AND starts_with(j.type, 'response.') "
    "THEN 'a Responses stream event without its response: the events that carry it hold the record' END"
)


def _columns(text: str) -> dict[str, str]:
    """The input columns' SQL over a line parsed (`j`), its body (`b`) and shape, and `text`, the line's text."""
    u, g = "b.usage", "b.usageMetadata"
    error = "json_type(b.error) = 'OBJECT'"
    err = "json_extract_string(b.error, '$.{}')"
    gemini_tools = "list_sum(list_transform(b.candidates, lambda c: coalesce(len(list_filter(c.content.parts, "
    gemini_tools += "lambda p: p.functionCall IS NOT NULL)), 0)))"
    created = "coalesce(b.created, b.created_at)"
    return {
        # a body without any id (Gemini and OpenAI error bodies) is keyed by its content: the same line read
        # again is the same record
        "request_id": f"coalesce({', '.join(_IDS)}, 'body-' || left(sha256(rtrim({text}, chr(13) || chr(10))), 32))",
        "attempt": "coalesce(j.attempt, '1')",
        "created_at": f"coalesce(j.timestamp, {_by_shape(chat=created, responses=created, gemini='b.createTime')})",
        "app_id": "j.app_id",
        "user_key": "j.user",
        "model_requested": "j.request.model",
        "model": "coalesce(b.model, b.modelVersion, j.request.model)",
        "provider_native": _NAMED,
        # when no name says who served it: what only one server writes into a body decides (Azure's content
        # filter results, Groq's x_groq, ...; Bedrock's and Vertex's Anthropic message ids), above the model id;
        # else, below every host and model id the shared resolution reads, the company whose API the shape is
        # (the markers once for the shapes that share them: each copy of an expression costs the statement's planning)
        "provider": f"CASE WHEN {_NAMED} IS NULL THEN CASE WHEN shape IN ({_MARKED_NAMES}) THEN {_markers(text)} "
        + "ELSE "
        + _by_shape(
            anthropic="CASE WHEN starts_with(b.id, 'msg_bdrk_') THEN 'amazon-bedrock' "
            "WHEN starts_with(b.id, 'msg_vrtx_') THEN 'google-vertex' END",
            gemini="CASE WHEN b.createTime IS NOT NULL THEN 'google-vertex' END",
        )
        + " END END",
        # an OpenRouter body (id gen-...) names its upstream in `provider`, or the shared rules read the model id
        "provider_default": _by_shape(
            chat="CASE WHEN NOT starts_with(b.id, 'gen-') THEN 'openai' END",
            responses="CASE WHEN NOT starts_with(b.id, 'gen-') THEN 'openai' END",
            embeddings="'openai'",
            anthropic="'anthropic'",
            gemini="'google-ai-studio'",
        ),
        # a legacy Completions body (`object` text_completion) has the chat shape's choices, each a `text`
        "operation": "CASE WHEN b.object = 'text_completion' THEN 'text_completion' "
        "ELSE CASE shape WHEN 'openai-responses' THEN 'responses' WHEN 'openai-embeddings' THEN 'embeddings' "
        "ELSE 'chat' END END",
        "source_format": "shape",
        "status": f"""CASE
            WHEN shape = 'openai-responses' AND b.status = 'cancelled' THEN 'cancelled'
            WHEN {error} OR b.type = 'error' OR b.object = 'error' OR b.choices[1].finish_reason = 'error'
                OR b.choices[1].error IS NOT NULL
                OR (shape = 'openai-responses' AND b.status = 'failed') THEN 'error'
            WHEN try_cast({_HTTP_STATUS} AS INTEGER) >= 400 AND b.choices IS NULL AND b.output IS NULL
                AND b.content IS NULL AND b.candidates IS NULL THEN 'error'
            ELSE 'success'
        END""",
        # the envelope's status, else one the error body carries (Google's code, Azure's numeric status)
        "http_status": f"""coalesce({_HTTP_STATUS}, CASE
            WHEN shape = 'gemini' THEN {err.format("code")}
            WHEN try_cast({err.format("status")} AS INTEGER) BETWEEN 100 AND 599 THEN {err.format("status")}
        END)""",
        "error_code": f"""CASE WHEN {error} THEN {
            _by_shape(
                chat=f"coalesce({err.format('code')}, {err.format('type')})",
                responses=f"coalesce({err.format('code')}, {err.format('type')})",
                anthropic=err.format("type"),
                gemini=f"coalesce({err.format('status')}, {err.format('code')})",
            )
        } WHEN b.object = 'error' THEN coalesce(b.code, b.type) ELSE b.choices[1].error.code END""",
        "native_finish_reason": _by_shape(
            chat="b.choices[1].finish_reason",
            # a body still queued or in progress (a background call's first answers, a stream's first events) has
            # not finished
            responses=f"CASE WHEN NOT coalesce({error}, false) THEN coalesce(b.incomplete_details.reason, "
            "CASE WHEN b.status NOT IN ('queued', 'in_progress') THEN b.status END) END",
            anthropic="b.stop_reason",
            gemini="coalesce(b.candidates[1].finishReason, b.promptFeedback.blockReason)",
        ),
        "prompt_tokens": _by_shape(
            chat=f"{u}.prompt_tokens",
            embeddings=f"{u}.prompt_tokens",
            responses=f"{u}.input_tokens",
            anthropic=_sum(f"{u}.input_tokens", f"{u}.cache_read_input_tokens", f"{u}.cache_creation_input_tokens"),
            gemini=_sum(f"{g}.promptTokenCount", f"{g}.toolUsePromptTokenCount"),
        ),
        "completion_tokens": _by_shape(
            chat=f"{u}.completion_tokens",
            responses=f"{u}.output_tokens",
            anthropic=f"{u}.output_tokens",
            gemini=f"CASE WHEN {g}.candidatesTokenCount IS NOT NULL OR {g}.thoughtsTokenCount IS NOT NULL THEN "
            + _sum(f"coalesce({g}.candidatesTokenCount, '0')", f"{g}.thoughtsTokenCount")
            + " END",
        ),
        "reasoning_tokens": _by_shape(
            chat=f"{u}.completion_tokens_details.reasoning_tokens",
            responses=f"{u}.output_tokens_details.reasoning_tokens",
            anthropic=f"coalesce({u}.output_tokens_details.thinking_tokens, "
            f"{u}.output_tokens_details.reasoning_tokens)",
            gemini=f"{g}.thoughtsTokenCount",
        ),
        "cached_prompt_tokens": _by_shape(
            # OpenAI's place, Together's and Moonshot's top-level count, DeepSeek's cache hits
            chat=f"coalesce({u}.prompt_tokens_details.cached_tokens, {u}.cached_tokens, {u}.prompt_cache_hit_tokens)",
            responses=f"{u}.input_tokens_details.cached_tokens",
            anthropic=f"{u}.cache_read_input_tokens",
            gemini=f"{g}.cachedContentTokenCount",
        ),
        "tool_calls": _by_shape(
            # a completion's choices are text: it cannot call a tool
            chat=f"CASE WHEN b.object = 'text_completion' AND b.choices IS NOT NULL THEN 0 "
            f"ELSE {_sql.count_tool_calls('b.choices')} END",
            # a failed response (an error object) produced no output to count in
            responses=f"CASE WHEN b.output IS NOT NULL AND NOT coalesce({error}, false) "
            f"THEN {_sql.count_output_tool_calls('b.output')} END",
            anthropic="CASE WHEN b.content IS NOT NULL "
            "THEN len(list_filter(b.content, lambda c: c.type = 'tool_use')) END",
            # a prompt blocked is a whole answer without candidates: no tool call
            gemini=f"CASE WHEN b.candidates IS NOT NULL THEN {gemini_tools} "
            "WHEN b.promptFeedback.blockReason IS NOT NULL THEN 0 END",
        ),
        # the request's tools as the envelope logs them, else as a Responses body echoes them
        "tools_offered": "coalesce("
        + _count_tools("j.request.tools")
        + ", CASE WHEN shape = 'openai-responses' THEN "
        + _count_tools("b.tools")
        + " END)",
        "latency_ms": "j.latency_ms",
        "ttft_ms": "j.ttft_ms",
        # ... and a Responses stream event logged on a line of its own, read as the response it carries
        "streamed": f"coalesce(j.request.stream, j.stream, {_sql.streamed_chunk('b')}, "
        "CASE WHEN starts_with(j.type, 'response.') AND j.response IS NOT NULL THEN 'true' END)",
        # what a gateway that answers in the provider's shape adds (OpenRouter's usage.cost)
        "cost_usd": f"{u}.cost",
    }


def _bodies(parsed: str, body: str) -> str:
    """The lines `parsed` (source_line, raw, j) with the body read (`b`, the SQL `body`) and its shape."""
    return f"select *, {_shape_sql('b')} AS shape from (select *, {body} AS b from {parsed})"


def _bare(j: str) -> str:
    """The body: the envelope's `response`, else the line's own top-level fields (a bare body)."""
    fields = ", ".join(f"'{key}': {j}.{_sql.quoted(key)}" for key in _BODY)
    return f"CASE WHEN {j}.response IS NOT NULL THEN {j}.response ELSE {{{fields}}} END"


def _enveloped(j: str) -> str:
    """The body in the bulk form of a file of envelopes (`ENVELOPES_SPEC`): `_bare`'s, field by field, the nested
    ones from the `response` alone (a line with one at its top level is bare: the line path maps it)."""

    def field(key: str) -> str:
        own, top = f"{j}.response.{_sql.quoted(key)}", f"{j}.{_sql.quoted(key)}"
        return own if key in _NESTED else f"CASE WHEN {j}.response IS NOT NULL THEN {own} ELSE {top} END"

    return "{" + ", ".join(f"'{key}': {field(key)}" for key in _BODY) + "}"


def _is_bare(j: str) -> str:
    """SQL over the bulk form of a file of envelopes: the line has no `response` and a nested key of a body at its
    top level (a body's own key beside the envelope's, such as an error's text or the model, is read in bulk)."""
    keys = ", ".join(f"{j}.{_sql.quoted(key)}" for key in _NESTED)
    return f"({j}.response IS NULL AND coalesce({keys}) IS NOT NULL)"


#: The envelope's keys whose value may be a logged stream (`_streams`): the line path assembles it.
STREAM_KEYS = (_streams.KEY,)
#: The envelope's keys that, given on a line, leave its mapping nothing to read from its text (`text_needed_sql`:
#: an id and a provider's name; in a file of envelopes, the body too).
TEXT_KEYS = (_ENVELOPE_ID, _ENVELOPE_NAME)


def text_needed_sql(envelopes: bool = False) -> str:
    """SELECT over the bulk form's relation: the `source_line` of every line whose mapping reads its text, which
    the bulk form does not have: a body with no id anywhere (keyed by its line's hash) and a body of a shape whose
    server no name gives (told by `_markers`); with `envelopes`, over the bulk form of a file of envelopes, a bare
    body too. Those lines take the line path (pipelines.lib.ingest.bulk); a proxy that logs the envelope with its
    request id and provider has none."""
    no_id = " AND ".join(f"{key} IS NULL" for key in _IDS)
    body, bare = (_enveloped("j"), _is_bare("j")) if envelopes else (_bare("j"), "false")
    return f"""select source_line from ({_bodies(_sql.parsed(ENVELOPES_SPEC if envelopes else SPEC, bulk=True), body)})
    where {bare} OR ({no_id}) OR ({_NAMED} IS NULL AND shape IN ({_MARKED_NAMES}))"""


def configure(head: list[str]) -> Adapter:
    """The adapter for a file whose first lines are `head`: with the bulk form of a file of envelopes when most of
    those that are JSON objects hold a `response` object or stream (a proxy's log), else the one that reads bare
    bodies in bulk too."""
    enveloped = _sql.mostly(head, lambda line: _response(line) is not None)
    return _of_envelopes() if enveloped else _of_any()


def _of_any() -> Adapter:
    """The format's registered adapter, whose bulk form reads bare bodies too."""
    from schemas.adapters import BY_NAME  # deferred: the package imports this module

    return BY_NAME[NAME]


@functools.cache
def _of_envelopes() -> Adapter:
    """The adapter with the bulk form of a file of envelopes (built once: `batch_sql` is cached per adapter)."""
    from schemas.adapters import INPUT_COLUMNS  # deferred: the package imports this module

    return dataclasses.replace(
        _of_any(),
        **_sql.bulk_form(ENVELOPES_SPEC),
        bulk_sql=select_sql(INPUT_COLUMNS, bulk=True, envelopes=True),
        bulk_text_needed=text_needed_sql(envelopes=True),
        bulk_text_keys=(*TEXT_KEYS, "response"),
    )
