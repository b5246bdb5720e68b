"""Streamed responses as a proxy logs them: the envelope's `response` holds the stream itself, not one body.

A proxy that records what went over the wire writes a streamed call's response as the SSE text the provider sent
(`"response": "event: message_start\\ndata: {...}\\n\\n..."`), or as the list of its parsed chunks
(`"response": [{chunk}, {chunk}, ...]`). Such a stream is assembled here into the body the same API returns
unstreamed, so the provider-bodies mapping reads it like any other body:

- Anthropic Messages (a `message_start` event): `message_start.message`, its `content` the blocks of the
  `content_block_start` events, `stop_reason` the last `message_delta`'s, `usage` that of `message_start` merged
  with each `message_delta`'s in turn, `error` an `error` event's.
- OpenAI Responses (events `response.*`): the last `response.completed`/`incomplete`/`failed`/`cancelled` event's
  `response` (else the last event's `response`), its `output` from the `response.output_item.done` events when it
  has none, an `error` event's error (flat, as documented, or nested, as the API sends it).
- Gemini (`candidates`, `usageMetadata` or `promptFeedback` in a chunk): one candidate holding every candidate's
  parts, the first candidate's last `finishReason`, the last usage, ids and error.
- OpenAI Chat Completions and compatible servers (`choices`, `chat.completion.chunk`): the first id and time that
  are not empty (Azure's first chunk has `""` and 0), the last model, provider, usage (Groq's in `x_groq`),
  prompt filter results, Cerebras's and llama.cpp's timings and error, and one choice per `index` (at most
  `MAX_CHOICES`) with its last finish reasons and as many tool calls as its deltas name.
- A stream of error chunks only: the last error.

Each `data:` line of the SSE text is one chunk (every one of these APIs writes a chunk on one line); comments,
`event:` lines, `[DONE]` and lines that are not JSON objects are skipped. A line whose stream holds no chunk of
these kinds is read as it was logged. A tool call in the chunks of a chat stream is counted once per distinct `id`
or distinct `index`, whichever names more calls (a server giving every parallel call index 0 still gives each its
id), plus each delta naming neither. A stream cut before its end (no finish or stop reason, no terminal event),
or ended by an error, leaves its tool calls unknown unless it streamed one, as an error body does.
"""

from __future__ import annotations

import re
from typing import Any

from schemas.adapters import _sql

#: The envelope's key whose value may be a stream.
KEY = "response"
#: An SSE line's field name (`data`, `event`, `id`, `retry`, or none: a comment, `: OPENROUTER PROCESSING`) and colon.
_FIELD = r"(?:data|event|id|retry)?\s*:"
#: A JSON string that opens like SSE text (blanks, then `_FIELD`) or like a list; or a list of objects (the parsed
#: chunks). RE2, as DuckDB and Arrow read it: the value's JSON text, after its key.
OPENS_LIKE_STREAM = r'(?:"(?:\s|\\[nrt])*(?:' + _FIELD + r"|\[)|\[\s*\{)"


def pattern(keys: tuple[str, ...] = (KEY,)) -> str:
    """A regular expression (RE2) found in a line's text where one of `keys` holds a stream
    (`_sql.keyed_pattern` of `OPENS_LIKE_STREAM`)."""
    return _sql.keyed_pattern(keys, OPENS_LIKE_STREAM)


#: SSE text's opening: blanks, then `_FIELD` (Python's `re` and RE2 read it alike).
_SSE = r"^\s*" + _FIELD


def chunks(value: Any) -> list[dict[str, Any]] | None:
    """The chunks of a stream (`value`: SSE text, or a list of chunk objects, as `_sql.decoded_object` gives a list
    written as a string) that are JSON objects; None for a value that is no stream. The Python reading, for the
    sniffs; the ingest reads streams in SQL (`assembled`)."""
    if isinstance(value, list):
        found = [chunk for chunk in value if isinstance(chunk, dict)]
        return found if found else None
    if not isinstance(value, str) or not re.match(_SSE, value):
        return None
    found = []
    for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.startswith("data:"):
            chunk = _sql.json_object(line[5:])
            if chunk is not None:
                found.append(chunk)
    return found or None


def first_body(stream: list[dict[str, Any]]) -> dict[str, Any]:
    """The part of a stream's first chunk shaped like its API's body (for telling the shape): an Anthropic
    `message_start`'s message, a Responses event's response, else the chunk."""
    chunk = stream[0]
    for key in ("message", "response"):
        if isinstance(chunk.get(key), dict):
            return chunk[key]
    return chunk


#: The part of a chunk of any of the four APIs the assembly reads, parsed once per chunk (`from_json`): objects it
#: passes on whole (usage, errors, an Anthropic message or block, a Responses response or item) as JSON.
CHUNK = {
    "type": "VARCHAR",
    "object": "VARCHAR",
    "id": "VARCHAR",
    "created": "VARCHAR",
    "model": "VARCHAR",
    "provider": "VARCHAR",
    "system_fingerprint": "VARCHAR",
    "prompt_filter_results": "JSON",
    "choices": [
        {
            "index": "VARCHAR",
            "finish_reason": "VARCHAR",
            "native_finish_reason": "VARCHAR",
            "delta": {"tool_calls": [{"id": "VARCHAR", "index": "VARCHAR"}], "function_call": "JSON"},
            "error": "JSON",
        }
    ],
    "usage": "JSON",
    "x_groq": "JSON",
    "time_info": "JSON",
    "timings": "JSON",
    "error": "JSON",
    "sequence_number": "VARCHAR",
    "message": "JSON",
    "content_block": "JSON",
    "delta": {"stop_reason": "VARCHAR"},
    "response": "JSON",
    "item": "JSON",
    "code": "JSON",
    "candidates": [{"index": "VARCHAR", "finishReason": "VARCHAR", "content": {"parts": [{"functionCall": "JSON"}]}}],
    "usageMetadata": "JSON",
    "modelVersion": "VARCHAR",
    "responseId": "VARCHAR",
    "createTime": "VARCHAR",
    "promptFeedback": "JSON",
}


def _let(name: str, value: str, expr: str) -> str:
    """SQL: `expr` with `name` bound to `value`, evaluated once (a lambda over a one-item list)."""
    return f"list_transform([{value}], lambda {name}: {expr})[1]"


def _last(items: str, value: str, where: str = "true", text: bool = False) -> str:
    """SQL: the last non-NULL `value` (over `x`) among `items` for which `where` (over `x`) holds; with `text`, the
    last that is neither empty nor 0 (Azure's first chunk: `"id": ""`, `"created": 0`)."""
    picked = f"list_transform({items}, lambda x: CASE WHEN {where} THEN {value} END)"
    kept = "v IS NOT NULL" + (" AND v NOT IN ('', '0')" if text else "")
    return f"list_filter({picked}, lambda v: {kept})[-1]"


def _first(items: str, value: str) -> str:
    """SQL: the first `value` (over `x`) among `items` that is neither NULL, empty nor 0."""
    return f"list_filter(list_transform({items}, lambda x: {value}), lambda v: v NOT IN ('', '0'))[1]"


def _each(items: str, value: str, where: str = "true") -> str:
    """SQL: the non-NULL `value`s (over `x`) of `items` for which `where` (over `x`) holds, in order."""
    picked = f"list_transform({items}, lambda x: CASE WHEN {where} THEN {value} END)"
    return f"list_filter({picked}, lambda v: v IS NOT NULL)"


def _any(items: str, where: str) -> str:
    """SQL: `where` (over `x`) holds for one of `items`."""
    return f"coalesce(list_bool_or(list_transform({items}, lambda x: {where})), false)"


def _patched(body: str, key: str, value: str) -> str:
    """SQL: the JSON object `body` with `key` set to `value`, left as it is where `value` is NULL (a merge patch
    would remove the key)."""
    patched = f"json_merge_patch({body}, json_object('{key}', pv))"
    return _let("pv", value, f"CASE WHEN pv IS NULL THEN {body} ELSE {patched} END")


#: SQL over an SSE `data:` line `l`: its data, and the Chat Completions terminator `[DONE]` as a chunk saying so (a
#: stream that reached it finished, even where its server writes no finish reason).
_DATA = f"""CASE WHEN trim(l[6:], {_sql.WHITESPACE}) = '[DONE]' THEN '{{"object": "[DONE]"}}' ELSE l[6:] END"""


def _chunks_sql(value: str) -> str:
    """SQL: the chunks (`CHUNK` structs) of the stream in the JSON `value`: each `data:` line of SSE text, or each
    item of a list (or of a list written as a string of its JSON), that parses as such; NULL for a value that is
    none of these. A chunk's JSON split over several `data:` lines (which SSE allows and none of these APIs
    writes) is not read."""
    shape = _sql.structure(CHUNK)
    sse = f"regexp_matches(st, {_sql.literal(_SSE)})"
    lines = "string_split(replace(replace(st, chr(13) || chr(10), chr(10)), chr(13), chr(10)), chr(10))"
    data = f"list_transform(list_filter({lines}, lambda l: starts_with(l, 'data:')), lambda l: {_DATA})"
    objects = f"list_filter(TEXTS, lambda c: starts_with(ltrim(c, {_sql.WHITESPACE}), '{{'))"
    parsed = f"list_filter(list_transform({objects}, lambda c: try(from_json(c, {shape}))), lambda c: c IS NOT NULL)"
    items = "list_transform(json_extract(LIST, '$[*]'), lambda c: c::VARCHAR)"
    # a list written as a string of its JSON text (the line's decoding reads `KEY` as an object, not a list)
    listed = f"CASE WHEN try(json_type(st)) = 'ARRAY' THEN {parsed.replace('TEXTS', items.replace('LIST', 'st'))} END"
    text = _let(
        "st", "json_extract_string(sv, '$')", f"CASE WHEN {sse} THEN {parsed.replace('TEXTS', data)} ELSE {listed} END"
    )
    chunks = parsed.replace("TEXTS", items.replace("LIST", "sv"))
    return _let("sv", value, f"CASE json_type(sv) WHEN 'VARCHAR' THEN {text} WHEN 'ARRAY' THEN {chunks} END")


def _anthropic(ch: str) -> str:
    """SQL: the Messages body of an Anthropic stream `ch`: `message_start`'s message with the blocks the stream
    started, the last stop reason and the usage of every event merged. A stream that never stopped (no stop
    reason), or that an error event ended, made no message to count tool calls in unless it started a tool_use
    block; and its output count is message_start's placeholder, dropped."""
    start = _last(ch, "x.message", "x.type = 'message_start'")
    blocks = _each(ch, "x.content_block", "x.type = 'content_block_start'")
    deltas = _each(ch, "x.usage", "x.type = 'message_delta'")
    usages = f"list_filter([json_extract(ms, '$.usage')] || {deltas}, lambda u: json_type(u) = 'OBJECT')"
    merged = f"CASE WHEN len({usages}) > 0 THEN list_reduce({usages}, lambda a, c: json_merge_patch(a, c)) END"
    stop = _last(ch, "x.delta.stop_reason", "x.type = 'message_delta'")
    error = _last(ch, "x.error", "x.type = 'error'")
    called = "list_contains(list_transform(bl, lambda b: b->>'type'), 'tool_use')"
    body = _let("b1", "json_merge_patch(ms, json_object('content', to_json(bl)))", _patched("b1", "stop_reason", stop))
    body = _let("b2", body, _patched("b2", "usage", merged))
    unfinished = f"""CASE WHEN NOT {called} THEN json_merge_patch(b3, json_object('content', NULL)) ELSE b3 END"""
    placeholder = (
        f'CASE WHEN len({deltas}) = 0 THEN json_merge_patch(b4, \'{{"usage": {{"output_tokens": null}}}}\') ELSE b4 END'
    )
    body = _let("b3", body, f"CASE WHEN ae IS NOT NULL OR {stop} IS NULL THEN {unfinished} ELSE b3 END")
    body = _let("b4", body, placeholder)
    body = _let("b5", body, _patched("b5", "error", "ae"))
    return _let("ms", start, _let("bl", blocks, _let("ae", error, body)))


def _responses(ch: str) -> str:
    """SQL: the Responses body of a Responses stream `ch`: the last terminal event's response, else the last
    response an event gave (the stream was cut: its status and, unless items were streamed, its output dropped),
    its output from the items streamed when it has none, and an error event's error (flat, as documented, or
    nested, as the API sends it)."""
    ends = "'response.completed', 'response.incomplete', 'response.failed', 'response.cancelled'"
    terminal = _last(ch, "x.response", f"x.type IN ({ends})")
    cut = f"json_merge_patch({_last(ch, 'x.response')}, json_object('status', NULL, 'output', NULL))"
    items = _each(ch, "x.item", "x.type = 'response.output_item.done'")
    event = _last(ch, "coalesce(x.error, json_object('code', x.code, 'message', x.message))", "x.type = 'error'")
    empty = "coalesce(json_array_length(rf, '$.output'), 0) = 0"
    output = f"CASE WHEN {empty} AND len({items}) > 0 THEN to_json({items}) END"
    error = f"CASE WHEN coalesce(json_type(r1, '$.error') = 'NULL', true) THEN {event} END"
    return _let(
        "rf",
        f"coalesce({terminal}, {cut})",
        _let("r1", _patched("rf", "output", output), _patched("r1", "error", error)),
    )


def _gemini(ch: str) -> str:
    """SQL: the generateContent body of a Gemini stream `ch`: one candidate holding every candidate's parts and the
    first candidate's last finish reason, the last usage, ids and prompt feedback, an error chunk's error. A
    stream with no finish reason and no function call made no candidate to count tool calls in."""
    candidates = f"flatten(list_transform({ch}, lambda x: coalesce(x.candidates, [])))"
    parts = "flatten(list_transform(gc, lambda x: coalesce(x.content.parts, [])))"
    first = _last("gc", "x.finishReason", "coalesce(x.index, '0') = '0'")
    reason = f"coalesce({first}, {_last('gc', 'x.finishReason')})"
    called = "len(list_filter(gp, lambda p: p.functionCall IS NOT NULL)) > 0"
    one = "json_object('content', json_object('parts', to_json(gp)), 'finishReason', gr)"
    one = _let("gp", parts, f"CASE WHEN gr IS NOT NULL OR {called} THEN [{one}] END")
    keys = ("usageMetadata", "modelVersion", "responseId", "createTime", "promptFeedback", "error")
    fields = ", ".join(f"'{key}', {_last(ch, f'x.{key}')}" for key in keys)
    return _let("gc", candidates, _let("gr", reason, f"json_object('candidates', {one}, {fields})"))


#: Choices a chat stream's chunks are read for, at most (OpenAI's `n` is at most 128): the assembly reads every
#: chunk once per choice.
MAX_CHOICES = 128


def _message(choices: str, done: str) -> str:
    """SQL: the message of one choice (`choices`: its deltas), as far as the mapping reads it: the tool calls its
    deltas make, as a JSON list of `{"type", "id"}` objects (distinct ids or distinct indexes, whichever more, plus
    deltas naming neither), and a `function_call` where a legacy one was streamed. NULL (tool calls not known)
    for a choice that never finished, or finished in an error, without streaming a call: it produced no
    response to count."""
    distinct = "len(list_distinct(list_filter(list_transform(tc, lambda t: t.{}), lambda v: v <> '')))"
    neither = "len(list_filter(tc, lambda t: t.id IS NULL AND t.index IS NULL))"
    count = f"greatest({distinct.format('id')}, {distinct.format('index')}) + {neither}"
    calls = f"flatten(list_transform({choices}, lambda x: coalesce(x.delta.tool_calls, [])))"
    # each call with an id its deltas gave (a platform's id says who served it: `_markers`), bound with the count
    ids = "list_filter(list_transform(tc, lambda t: t.id), lambda v: v <> '')"
    listed = "to_json(list_transform(range(tn.n), lambda k: {'type': 'function', 'id': tn.ids[k + 1]}))"
    called = _any(choices, _sql.names_a_function("x.delta.function_call"))
    finished = f"coalesce({_last(choices, 'x.finish_reason')} <> 'error', {done})"
    message = f"json_object('tool_calls', {listed}, 'function_call', CASE WHEN {called} THEN json_object() END)"
    bound = _let("tc", calls, f"{{'n': {count}, 'ids': {ids}}}")
    return _let("tn", bound, f"CASE WHEN tn.n > 0 OR {called} OR {finished} THEN {message} END")


def _chat(ch: str) -> str:
    """SQL: the chat completion of a Chat Completions stream `ch`: its first id and time, its last model, provider,
    fingerprint, prompt filter results, Groq extension and error, its last usage (Groq's in `x_groq`), and one
    choice per index (the first `MAX_CHOICES`) with its last finish reasons, error and message."""
    number = "coalesce(try_cast(x.index AS INTEGER), 0)"
    indexes = f"list_sort(list_distinct(list_transform(cd.cc, lambda x: {number})))[:{MAX_CHOICES}]"
    mine = f"list_filter(cd.cc, lambda x: {number} = i)"
    choice = f"""json_object('index', i, 'finish_reason', {_last("xs", "x.finish_reason")},
        'native_finish_reason', {_last("xs", "x.native_finish_reason")},
        'message', {_message("xs", "cd.dn")}, 'error', {_last("xs", "x.error")})"""
    each = f"list_transform({indexes}, lambda i: {_let('xs', mine, choice)})"
    first = ", ".join(f"'{key}', {_first(ch, f'x.{key}')}" for key in ("id", "created"))
    fields = ", ".join(
        f"'{key}', {_last(ch, f'x.{key}', text=True)}" for key in ("model", "provider", "system_fingerprint")
    )
    fields += ", " + ", ".join(
        f"'{key}', {_last(ch, f'x.{key}')}"
        for key in ("prompt_filter_results", "x_groq", "time_info", "timings", "error")
    )
    groq = _last(ch, "json_extract(x.x_groq, '$.usage')")
    usage = f"coalesce({_last(ch, 'x.usage')}, {groq})"
    # a legacy Completions stream (chunks of `object` text_completion) assembles into a completion, not a chat
    kind = f"CASE WHEN {_first(ch, 'x.object')} = 'text_completion' THEN 'text_completion' ELSE 'chat.completion' END"
    body = f"json_object({first}, 'object', {kind}, {fields}, 'usage', {usage}, 'choices', to_json({each}))"
    cc = f"flatten(list_transform({ch}, lambda x: coalesce(x.choices, [])))"
    # reached `[DONE]` with no error chunk: finished, even without a finish reason (bound with the choices in one
    # struct: a let of its own nests every lambda one level deeper, which DuckDB took 50 ms longer to plan)
    done = _any(ch, "x.object = '[DONE]'") + " AND NOT " + _any(ch, "x.error IS NOT NULL")
    return _let("cd", f"{{'cc': {cc}, 'dn': {done}}}", body)


def _body(ch: str) -> str:
    """SQL: the body the chunks `ch` (`CHUNK` structs) assemble into; NULL when they are no stream of a known
    API."""
    gemini = " OR ".join(f"x.{key} IS NOT NULL" for key in ("candidates", "usageMetadata", "promptFeedback"))
    return f"""CASE
        WHEN {_any(ch, "x.type = 'message_start'")} THEN {_anthropic(ch)}
        WHEN {_any(ch, "starts_with(x.type, 'response.')")} THEN {_responses(ch)}
        WHEN {_any(ch, gemini)} THEN {_gemini(ch)}
        WHEN {_any(ch, "x.choices IS NOT NULL OR x.object = 'chat.completion.chunk'")} THEN {_chat(ch)}
        WHEN {_any(ch, "x.error IS NOT NULL OR x.type = 'error'")} THEN {_errors(ch)}
    END"""


def _errors(ch: str) -> str:
    """SQL: the error body of a stream `ch` of error chunks only: the last error, an Anthropic error event keeping
    its `type` (a Responses error event, told by its `sequence_number`, is OpenAI's error body)."""
    error = "coalesce(x.error, json_object('code', x.code, 'message', x.message))"
    anthropic = _last(ch, "x.type", "x.type = 'error' AND x.error IS NOT NULL AND x.sequence_number IS NULL")
    last = _last(ch, error, "x.error IS NOT NULL OR x.type = 'error'")
    return f"json_object('type', {anthropic}, 'error', {last})"


def assembled(raw: str) -> str:
    """SQL: the line `raw` (text) with the stream at its `KEY` replaced by the body it assembles into, and `stream`
    true unless the line says otherwise; NULL for a line holding no stream of a known API there (then it is read
    as it was logged). Only a line whose text matches `pattern()` is parsed to look."""
    value = f"json_extract({raw}, {_sql.literal('$.' + KEY)})"
    body = _let("ch", _chunks_sql(value), f"CASE WHEN len(ch) > 0 THEN {_body('ch')} END")
    flag = f"coalesce(json_extract({raw}, '$.stream'), 'true'::JSON)"
    patch = f"json_object({_sql.literal(KEY)}, sb, 'stream', {flag})"
    line = _let("sb", body, f"CASE WHEN sb IS NOT NULL THEN json_merge_patch({raw}, {patch}) END")
    return f"CASE WHEN regexp_matches({raw}, {_sql.literal(pattern())}) THEN {line} END"
