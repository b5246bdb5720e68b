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
  has none, an `error` event's code and message as its `error`.
- Gemini (`candidates`, `usageMetadata` or `promptFeedback` in a chunk): the chunks merged in order, with one
  candidate holding every candidate's parts and the last `finishReason`.
- OpenAI Chat Completions and compatible servers (`choices`, `chat.completion.chunk`): the chunks merged in order
  (`usage`, `error`, `x_groq`, ... as the last chunk holding them gives them), `object` chat.completion, one choice
  per choice `index` with its last `finish_reason` and as many tool calls as its deltas name.
- A stream of only error chunks: the last.

Each `data:` line of the SSE text is one chunk (every one of these APIs writes a chunk on one line); comments,
`event:` lines, `[DONE]` and lines that are not JSON objects are skipped. A line whose stream holds no chunk of
these kinds is read as it was logged. A tool call in the chunks of a chat stream is counted once per distinct `id`
or distinct `index`, whichever names more calls (a server giving every parallel call index 0 still gives each its
id), plus each delta naming neither.
"""

from __future__ import annotations

import re
from typing import Any

from schemas.adapters import _sql

#: The envelope's key whose value may be a stream.
KEY = "response"
#: A JSON string that opens like SSE text: a field name (`data`, `event`, `id`, `retry`) or nothing (a comment,
#: `: OPENROUTER PROCESSING`), then a colon; or a list of objects (the parsed chunks). RE2, as DuckDB and Arrow
#: read it: the value's JSON text, after its key.
OPENS_LIKE_STREAM = r'(?:"(?:\s|\\[nrt])*(?:data|event|id|retry)?\s*:|\[\s*\{)'
#: A line's text holding a stream at `KEY` (the line path's test, over the whole line).
PATTERN = rf'"{KEY}"\s*:\s*' + OPENS_LIKE_STREAM
_SSE = re.compile(r"\s*(?:data|event|id|retry)?\s*:")


def chunks(value: Any) -> list[dict[str, Any]] | None:
    """The chunks of a stream (`value`: SSE text, or a list of chunk objects) that are JSON objects; None for a
    value that is no stream. The Python reading, for the sniffs; the ingest reads streams in SQL (`assembled`)."""
    if isinstance(value, list):
        found = [chunk for chunk in value if isinstance(chunk, dict)]
        return found if found else None
    if not isinstance(value, str) or not _SSE.match(value):
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


def _has(value: str, path: str) -> str:
    """SQL: the JSON `value` holds something other than null at `path`."""
    return f"coalesce(json_type({value}, {_sql.literal(path)}) <> 'NULL', false)"


def _last(items: str, value: str, where: str = "true") -> str:
    """SQL: the last non-NULL `value` (over `x`) among the JSON `items` for which `where` (over `x`) holds."""
    picked = f"list_transform({items}, lambda x: CASE WHEN {where} THEN {value} END)"
    return f"list_filter({picked}, lambda v: v IS NOT NULL)[-1]"


def _any(items: str, where: str) -> str:
    """SQL: `where` (over `x`) holds for one of `items`."""
    return f"coalesce(list_bool_or(list_transform({items}, lambda x: {where})), false)"


def _all_of(items: str, path: str) -> str:
    """SQL: the JSON values at `path` (a list's items, `[*]`) of every one of `items`, in order, flattened."""
    return f"flatten(list_transform({items}, lambda x: json_extract(x, {_sql.literal(path)})))"


def _merged(items: str) -> str:
    """SQL: the JSON objects `items` merged in order (RFC 7396: a later key wins, a null removes it)."""
    return f"list_reduce({items}, lambda a, c: json_merge_patch(a, c))"


def _sse_chunks(text: str) -> str:
    """SQL: the chunks (JSON objects) of the SSE text `text`: each `data:` line parsed."""
    lines = f"string_split(replace(replace({text}, chr(13) || chr(10), chr(10)), chr(13), chr(10)), chr(10))"
    data = f"list_transform(list_filter({lines}, lambda l: starts_with(l, 'data:')), lambda l: try(json(l[6:])))"
    return f"list_filter({data}, lambda c: json_type(c) = 'OBJECT')"


def _chunks_sql(value: str) -> str:
    """SQL: the chunks (JSON objects) of the stream in the JSON `value`: SSE text or a list; NULL for neither."""
    text = f"json_extract_string({value}, '$')"
    sse = rf"regexp_matches({text}, '^\s*(?:data|event|id|retry)?\s*:')"
    items = f"list_filter(json_extract({value}, '$[*]'), lambda c: json_type(c) = 'OBJECT')"
    return f"""CASE json_type({value})
        WHEN 'VARCHAR' THEN CASE WHEN {sse} THEN {_sse_chunks(text)} END
        WHEN 'ARRAY' THEN {items}
    END"""


def _let(name: str, value: str, expr: str) -> str:
    """SQL: `expr` with `name` bound to `value`, evaluated once (a lambda over a one-item list)."""
    return f"list_transform([{value}], lambda {name}: {expr})[1]"


def _patched(body: str, key: str, value: str) -> str:
    """SQL: the JSON object `body` with `key` set to `value`, left as it is where `value` is NULL (a merge patch
    would remove the key)."""
    patched = f"json_merge_patch({body}, json_object('{key}', pv))"
    return _let("pv", value, f"CASE WHEN pv IS NULL THEN {body} ELSE {patched} END")


def _anthropic(ch: str) -> str:
    start = _last(ch, "json_extract(x, '$.message')", "x->>'type' = 'message_start'")
    blocks = f"list_filter(list_transform({ch}, lambda x: CASE WHEN x->>'type' = 'content_block_start' "
    blocks += "THEN json_extract(x, '$.content_block') END), lambda v: v IS NOT NULL)"
    deltas = f"list_filter({ch}, lambda x: x->>'type' = 'message_delta')"
    usages = "list_filter(list_transform([ms] || md, lambda x: json_extract(x, '$.usage')), "
    usages += "lambda u: json_type(u) = 'OBJECT')"
    stop = _last("md", "x->'delta'->>'stop_reason'")
    error = _last(ch, "json_extract(x, '$.error')", f"x->>'type' = 'error' AND {_has('x', '$.error')}")
    body = "json_merge_patch(ms, json_object('content', to_json(bl)))"
    body = _let("b1", body, _patched("b1", "stop_reason", stop))
    body = _let("b2", body, _patched("b2", "usage", f"CASE WHEN len({usages}) > 0 THEN {_merged(usages)} END"))
    body = _let("b3", body, _patched("b3", "error", error))
    return _let("ms", start, _let("bl", blocks, _let("md", deltas, body)))


def _responses(ch: str) -> str:
    ends = "'response.completed', 'response.incomplete', 'response.failed', 'response.cancelled'"
    response = "json_extract(x, '$.response')"
    final = f"""coalesce(
        {_last(ch, response, f"x->>'type' IN ({ends}) AND {_has('x', '$.response')}")},
        {_last(ch, response, _has("x", "$.response"))})"""
    items = f"list_filter(list_transform({ch}, lambda x: CASE WHEN x->>'type' = 'response.output_item.done' "
    items += "THEN json_extract(x, '$.item') END), lambda v: v IS NOT NULL)"
    event = _last(ch, "json_object('code', x->'code', 'message', x->'message')", "x->>'type' = 'error'")
    empty = "coalesce(json_array_length(rf, '$.output'), 0) = 0"
    output = f"CASE WHEN {empty} AND len({items}) > 0 THEN to_json({items}) END"
    error = f"CASE WHEN NOT {_has('r1', '$.error')} THEN {event} END"
    return _let("rf", final, _let("r1", _patched("rf", "output", output), _patched("r1", "error", error)))


def _gemini(ch: str) -> str:
    candidates = _all_of(ch, "$.candidates[*]")
    parts = _all_of("gc", "$.content.parts[*]")
    reason = _last("gc", "x->>'finishReason'")
    one = f"json_object('content', json_object('parts', to_json({parts})), 'finishReason', {reason})"
    merged = _let(
        "gm",
        _merged(ch),
        f"CASE WHEN len(gc) = 0 THEN gm ELSE json_merge_patch(gm, json_object('candidates', [{one}])) END",
    )
    return _let("gc", candidates, merged)


def _tool_calls(choices: str) -> str:
    """SQL: the tool calls the deltas of `choices` (one choice's chunks) make, as a JSON list of `{"type"}`
    objects (the mapping counts them): distinct ids or distinct indexes, whichever more, plus deltas naming
    neither; a legacy `function_call` delta makes the message's `function_call`."""
    distinct = "len(list_distinct(list_filter(list_transform(tc, lambda t: t->>'{}'), lambda v: v <> '')))"
    neither = "len(list_filter(tc, lambda t: t->>'id' IS NULL AND t->>'index' IS NULL))"
    count = f"greatest({distinct.format('id')}, {distinct.format('index')}) + {neither}"
    listed = _let("tc", _all_of(choices, "$.delta.tool_calls[*]"), f"range({count})")
    listed = f"to_json(list_transform({listed}, lambda k: {{'type': 'function'}}))"
    called = _any(choices, _has("x", "$.delta.function_call"))
    return f"json_object('tool_calls', {listed}, 'function_call', CASE WHEN {called} THEN json_object() END)"


def _chat(ch: str) -> str:
    number = "coalesce(try_cast(x->>'index' AS INTEGER), 0)"
    indexes = f"list_sort(list_distinct(list_transform(cc, lambda x: {number})))"
    mine = f"list_filter(cc, lambda x: {number} = i)"
    error = _last("xs", "json_extract(x, '$.error')", _has("x", "$.error"))
    choice = f"""json_object('index', i, 'finish_reason', {_last("xs", "x->>'finish_reason'")},
        'native_finish_reason', {_last("xs", "x->>'native_finish_reason'")},
        'message', {_tool_calls("xs")}, 'error', {error})"""
    each = f"list_transform({indexes}, lambda i: {_let('xs', mine, choice)})"
    patch = f"json_object('object', 'chat.completion', 'choices', to_json({each}))"
    return _let("cc", _all_of(ch, "$.choices[*]"), f"json_merge_patch({_merged(ch)}, {patch})")


def _body(ch: str) -> str:
    """SQL: the body the chunks `ch` (a JSON list) assemble into; NULL when they are no stream of a known API."""
    return f"""CASE
        WHEN {_any(ch, "x->>'type' = 'message_start'")} THEN {_anthropic(ch)}
        WHEN {_any(ch, "starts_with(x->>'type', 'response.')")} THEN {_responses(ch)}
        WHEN {_any(ch, " OR ".join(_has("x", f"$.{k}") for k in ("candidates", "usageMetadata", "promptFeedback")))}
            THEN {_gemini(ch)}
        WHEN {_any(ch, f"{_has('x', '$.choices')} OR x->>'object' = 'chat.completion.chunk'")} THEN {_chat(ch)}
        WHEN {_any(ch, _has("x", "$.error"))} THEN {_last(ch, "x", _has("x", "$.error"))}
    END"""


def assembled(raw: str) -> str:
    """SQL: the line `raw` (text) with the stream at its `response` replaced by the assembled body, and `stream`
    true unless the line says otherwise; NULL for a line holding no stream of a known API there (then it is read as
    it was logged). Only a line whose text matches `PATTERN` is parsed to look."""
    value = f"json_extract({raw}, {_sql.literal('$.' + KEY)})"
    body = _let("ch", _chunks_sql(value), f"CASE WHEN len(ch) > 0 THEN {_body('ch')} END")
    flag = f"coalesce(json_extract({raw}, '$.stream'), 'true'::JSON)"
    patch = f"json_object({_sql.literal(KEY)}, sb, 'stream', {flag})"
    line = _let("sb", body, f"CASE WHEN sb IS NOT NULL THEN json_merge_patch({raw}, {patch}) END")
    return f"CASE WHEN regexp_matches({raw}, {_sql.literal(PATTERN)}) THEN {line} END"
