"""SQL fragments the adapters share: one-parse JSON reading, time conversions, line labels.

Times are produced as ISO 8601 text (UTC, 'Z'), so that a value that does not convert reaches the shared
validation as the raw text and is quarantined with it in the reason ("created_at is not an ISO 8601
timestamp ('abc')") instead of as a bare "created_at missing".
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from schemas.sqltext import literal

ISO = "%Y-%m-%dT%H:%M:%S.%fZ"
WHITESPACE = "' ' || chr(9) || chr(10) || chr(13)"
#: SQL of a line's text -> SQL of the text its adapter rewrote it into, or NULL to read it as it is (`parse`).
Rewrite = Callable[[str], str]


#: Every key name an adapter reads (lower case), collected as the adapters build their SQL: names that describe
#: a log's structure, which the quarantine may show (it redacts every other key; see pipelines.lib.quarantine).
KEYS_READ: set[str] = set()


def remember_keys(spec: Any) -> None:
    """Add the key names of a `from_json` structure (or a list of names) to KEYS_READ."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            KEYS_READ.add(key.lower())
            remember_keys(value)
    elif isinstance(spec, list | tuple):
        for item in spec:
            if isinstance(item, str):
                KEYS_READ.add(item.lower())
            else:
                remember_keys(item)


@functools.lru_cache(maxsize=64)
def json_object(line: str) -> dict[str, Any] | None:
    """The line as a JSON object, else None (for the sniff functions, which run in Python on a few lines; cached,
    since every adapter sniffs the same lines). Nesting too deep for Python's parser is not an object either."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


@functools.lru_cache(maxsize=64)
def decoded_object(line: str) -> dict[str, Any] | None:
    """`json_object(line)` with each top-level string that holds a JSON object or list read as that JSON, as the
    adapters read such a line (`decoded`): for the sniff functions of formats whose loggers may write a body or its
    parts as text. A new object when one is decoded: the cached one is shared."""
    obj = json_object(line)
    if obj is None:
        return None
    decoded: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
            try:
                inner = json.loads(value)
            except (ValueError, RecursionError):
                continue
            if isinstance(inner, dict | list):
                decoded[key] = inner
    return obj | decoded if decoded else obj


def mostly(head: list[str], test: Callable[[dict[str, Any]], bool]) -> bool:
    """More than half of the lines in `head` that are JSON objects pass `test` (a file's form, told by its first
    lines: `configure`)."""
    objects = [body for line in head if (body := json_object(line)) is not None]
    return bool(objects) and sum(map(test, objects)) * 2 > len(objects)


def has_keys(line: str, keys: frozenset[str]) -> bool:
    """The line is a JSON object with all of `keys` at the top level."""
    obj = json_object(line)
    return obj is not None and obj.keys() >= keys


def structure(spec: dict[str, Any]) -> str:
    """A `from_json` structure literal: every leaf is read as VARCHAR (numbers keep their text, the shared
    typing casts them) unless given as "JSON"; lists are `[...]`, objects `{...}`."""
    remember_keys(spec)
    return literal(json.dumps(spec, separators=(",", ":")))


#: JSON escapes of UTF-16 surrogates (`\\ud83d`). A logger that cuts a string inside an emoji leaves one half
#: alone, which is valid JSON grammar but which DuckDB's parser refuses; the retry parse spells every surrogate
#: escape as U+FFFD (only text the adapters never read holds them), so the record is not lost for its prompt.
_SURROGATE_ESCAPE = r"'\\u[dD][89a-fA-F][0-9a-fA-F]{2}'"


def lenient(raw: str) -> str:
    """SQL: the line with every surrogate escape replaced by `\\ufffd` (for a retry once a strict parse failed)."""
    return rf"regexp_replace({raw}, {_SURROGATE_ESCAPE}, '\\ufffd', 'g')"


def parse(raw: str, spec: dict[str, Any], decode: bool = False, rewrite: Rewrite | None = None) -> str:
    """One JSON parse of the line into the structure `spec` (NULL when the line is not JSON), retried on the
    lenient spelling only when the strict parse fails (COALESCE evaluates it for those lines alone). With `decode`
    (a line's own text, not a column of it), an object or list `spec` reads that the line holds as a string of its
    JSON text is read as that JSON (`decoded`), in a statement built for a batch that may hold one (`DECODING`);
    and a line `rewrite` rewrites (`Rewrite`) is read rewritten, in a statement built for a batch that may hold
    one (`REWRITING`)."""
    if rewrite and not decode:
        raise ValueError("a line's rewrite is read in its own parse only (decode)")
    shape = structure(spec)
    arms = []
    for text in (raw, lenient(raw)):
        arm = f"try(from_json({text}, {shape}))"
        rebuilt = _decoded_line(text, spec) if decode else ""
        if rebuilt:
            arm = f"{DECODING}try(from_json({rebuilt}, {shape})), {DECODED}{arm}"
        if decode and rewrite:
            # rewritten once decoded, where it holds strings to decode (a list of chunks written as a string; a
            # request beside a stream): the line is bound once, the rewrite reading it several times
            source = f"coalesce({DECODING}{rebuilt}, {DECODED}{text})" if rebuilt else text
            line = f"list_transform([{source}], lambda rl: {rewrite('rl')})[1]"
            arm = f"{REWRITING}try(from_json({line}, {shape})), {REWRITTEN}{arm}"
        arms.append(arm)
    return f"coalesce({', '.join(arms)})"


#: Mark, in the adapters' SQL, the decoding arms of a line's parse (`parse`): `transform.batch_sql` keeps them for a
#: batch whose lines may hold an object or list written as a string of its JSON text (`encoded_pattern`) and cuts
#: them out of any other, whose statement then holds no decoding at all (even a branch never taken costs DuckDB
#: its planning and a third of the parse). SQL comments: harmless if ever left in.
DECODING, DECODED = "/*decode*/", "/*decoded*/"
_DECODING_ARM = re.compile(re.escape(DECODING) + ".*?" + re.escape(DECODED), re.DOTALL)


def without_decoding(sql: str) -> str:
    """`sql` with every decoding arm cut out (see DECODING)."""
    return _DECODING_ARM.sub("", sql)


#: Mark, alike, the arms of a line's parse that read it rewritten by its adapter (`parse`'s `rewrite`: a logged
#: stream assembled), kept for a batch that may hold such a line (`Adapter.streams`).
REWRITING, REWRITTEN = "/*rewrite*/", "/*rewritten*/"
_REWRITING_ARM = re.compile(re.escape(REWRITING) + ".*?" + re.escape(REWRITTEN), re.DOTALL)


def without_rewriting(sql: str) -> str:
    """`sql` with every rewriting arm cut out (see REWRITING)."""
    return _REWRITING_ARM.sub("", sql)


#: The keys the adapters read as an object or a list (`nested_keys`), whose value a logger may write as a string.
NESTED_KEYS: set[str] = set()


#: How deep the line path looks for objects and lists written as strings: a top-level key's value, and the
#: objects and lists right inside it (an envelope's `response` body as a string, or its `usage`). Deeper, an
#: exporter that writes a column as text has already written the rest as JSON inside it; and each level adds a
#: lambda inside the last one, which DuckDB binds in time and memory that grow with the depth.
DECODED_LEVELS = 2


class _ObjectOrList(str):
    """A leaf read as its JSON text (`JSON`) that the format defines as an object or a list (an error body, a
    function call): where a logger writes it as a string of its JSON text, it is decoded like an object or a
    list the structure spells out. Equal to "JSON" (and written as it), so every reading of the leaf is as before."""

    __slots__ = ()


#: The leaf type of an object or list read as its JSON text (see _ObjectOrList); "JSON" itself reads a value
#: whose text matters as it is (a number's spelling).
OBJECT_OR_LIST = _ObjectOrList("JSON")


def _nested(spec: Any) -> bool:
    return isinstance(spec, dict | list | _ObjectOrList)


def shallow(spec: dict[str, Any], levels: int = DECODED_LEVELS) -> dict[str, Any]:
    """The structure `spec` with every object or list more than `levels` deep read as a JSON leaf."""

    def cut(value: Any, left: int) -> Any:
        if not _nested(value):
            return value
        if not left:
            return "JSON"
        if isinstance(value, _ObjectOrList):
            return value
        if isinstance(value, list):
            return [cut(value[0], left - 1)]
        return {key: cut(part, left - 1) for key, part in value.items()}

    return {key: cut(value, levels) for key, value in spec.items()}


def nested_paths(spec: Any, path: str = "$") -> list[str]:
    """JSON paths (below `path`) of every object and list the structure `spec` reads, a list's items at its first
    item: where a logger may have written a JSON text as a string (`"usage": "{\\"prompt_tokens\\": 3}"`, a
    database's JSON column exported as text)."""
    if isinstance(spec, list):
        (item,) = spec
        return [f"{path}[0]", *nested_paths(item, f"{path}[0]")] if _nested(item) else []
    if not isinstance(spec, dict):
        return []
    paths = []
    for key, value in spec.items():
        if _nested(value):
            sub = f"{path}.{json_key(key)}"
            paths += [sub, *nested_paths(value, sub)]
    return paths


def nested_keys(spec: Any) -> set[str]:
    """The keys the structure `spec` reads as an object or a list, at any depth."""
    if isinstance(spec, list):
        return nested_keys(spec[0])
    if not isinstance(spec, dict):
        return set()
    return {key for key, value in spec.items() if _nested(value)}.union(*map(nested_keys, spec.values()))


def json_key(key: str) -> str:
    """`key` as a step of a JSON path (quoted unless a plain name)."""
    return key if key.isidentifier() and key.isascii() else '"' + key.replace('"', '\\"') + '"'


def holds_encoded(expr: str, paths: list[str]) -> str:
    """SQL: the JSON `expr` holds a string at one of `paths` (one parse of `expr`)."""
    listed = ", ".join(map(literal, paths))
    return f"coalesce(list_contains(json_type({expr}, [{listed}]), 'VARCHAR'), false)" if paths else "false"


#: A JSON string's text that opens like a JSON object or list: its quote, blanks (written or escaped), a brace or a
#: bracket (RE2, as DuckDB and Arrow read it). Every test for an object or list written as a string builds on it.
OPENS_LIKE_JSON = r'"(?:\s|\\[nrt])*[\[{]'


def keyed_pattern(keys: Iterable[str], value: str) -> str:
    """A regular expression (RE2, as DuckDB and Arrow read it) found in a line's text where one of `keys` holds a
    value whose JSON text opens with the pattern `value`: the key's name, its closing quote, the colon, `value`.
    Without the key's opening quote: RE2 looks for a pattern's first byte, and a quote is everywhere in JSON (0.015
    s per 100k provider bodies, against 0.06 s with it); a key ending in one of the names matches too, which only
    sends its line to a closer look."""
    names = "|".join(re.escape(key) for key in sorted(keys))
    return rf'(?:{names})"\s*:\s*' + value


def encoded_pattern(keys: Iterable[str] | None = None) -> str:
    """`keyed_pattern` of `keys` (default: NESTED_KEYS) holding a string opening with a brace or a bracket, after
    blanks or escaped ones (`"usage": "{\\"prompt_tokens\\"`, `"choices":"\\n[`): a line without a match holds
    no object or list written as a string at those keys. (Tool-call arguments, a JSON string by definition, are
    under no such key.)"""
    return keyed_pattern(NESTED_KEYS if keys is None else keys, OPENS_LIKE_JSON)


def _decoded_line(raw: str, spec: dict[str, Any]) -> str:
    """SQL: the line `raw` with every object or list `spec` reads that it holds as a string of its JSON text
    replaced by that JSON (`decoded`); NULL for a line that holds none (then `raw` is read as it is); "" when
    `spec` reads no object or list. Only a line whose text matches `encoded_pattern` is parsed to look."""
    spec = shallow(spec)
    paths = nested_paths(spec)
    if not paths:
        return ""
    keys = nested_keys(spec)
    NESTED_KEYS.update(keys)
    rebuilt = f"CASE WHEN {holds_encoded(raw, paths)} THEN {_rebuilt(raw, spec, 0)} END"
    # nested, not AND: DuckDB evaluates both sides of an AND over every row, a CASE's branch only where it holds
    return f"CASE WHEN regexp_matches({raw}, {literal(encoded_pattern(keys))}) THEN {rebuilt} END"


def decoded(expr: str, spec: Any, depth: int = 0) -> str:
    """SQL: the JSON value `expr` read as the object or list `spec` reads: a string holding such JSON text is
    replaced by that JSON, and so is each of its parts that `spec` reads as an object or a list, in every item of
    a list. Any other value is left as it is (`from_json` reads it as before)."""
    kinds = "'OBJECT'" if isinstance(spec, dict) else "'ARRAY'" if isinstance(spec, list) else "'OBJECT', 'ARRAY'"
    text = f"json_extract_string({expr}, '$')"
    unwrapped = (
        f"CASE WHEN json_type({expr}) = 'VARCHAR' AND try(json_type({text})) IN ({kinds})"
        f" THEN json({text}) ELSE {expr} END"
    )
    if isinstance(spec, _ObjectOrList) or not any(map(_nested, spec.values() if isinstance(spec, dict) else spec)):
        return unwrapped
    name = f"v{depth}"
    # its parts rebuilt only where one is a string: a body written as one string holds the rest as JSON
    rebuilt = f"CASE WHEN {holds_encoded(name, nested_paths(spec))} THEN {_rebuilt(name, spec, depth)} ELSE {name} END"
    return f"list_transform([{unwrapped}], lambda {name}: {rebuilt})[1]"


def _rebuilt(value: str, spec: Any, depth: int) -> str:
    """SQL: the JSON object or list `value` with its parts that `spec` reads as objects or lists `decoded`."""
    if isinstance(spec, list):
        item = f"e{depth}"
        items = f"list_transform(json_extract({value}, '$[*]'), lambda {item}: {decoded(item, spec[0], depth + 1)})"
        return f"CASE WHEN json_type({value}) = 'ARRAY' THEN to_json({items}) ELSE {value} END"
    keys = [key for key, part in spec.items() if _nested(part)]
    parts = f"p{depth}"  # the parts, extracted in one parse of `value` (a path each would parse it each time)
    extracted = f"json_extract({value}, [{', '.join(literal('$.' + json_key(key)) for key in keys)}])"
    pairs = ", ".join(
        f"{literal(key)}, {decoded(f'{parts}[{number}]', spec[key], depth + 1)}" for number, key in enumerate(keys, 1)
    )
    patched = f"list_transform([{extracted}], lambda {parts}: json_merge_patch({value}, json_object({pairs})))[1]"
    return f"CASE WHEN json_type({value}) = 'OBJECT' THEN {patched} ELSE {value} END"


def json_text(value: str) -> str:
    """SQL: the text of the JSON value `value` as `json_extract_string(value, '$')` gives it (a string decoded,
    any other value as the parser wrote it: 1.50 as 1.5, an object as its JSON; NULL for null), parsing only the
    strings again: a JSON value from `from_json` or `read_json` is already in the parser's spelling (0.07 s
    against 0.13 s for the twelve number keys of 289k canonical lines)."""
    text = f"{value}::VARCHAR"
    decoded = f"json_extract_string({value}, '$')"
    return f"CASE WHEN starts_with({text}, '\"') THEN {decoded} WHEN {text} <> 'null' THEN {text} END"


def duckdb_type(spec: Any) -> str:
    """The DuckDB type of a `from_json` structure (`structure`): a leaf's name, `T[]` for a list, STRUCT for an
    object; what `read_json` is given as a column type to read the same structure."""
    if isinstance(spec, dict):
        return "STRUCT(" + ", ".join(f"{quoted(key)} {duckdb_type(value)}" for key, value in spec.items()) + ")"
    if isinstance(spec, list):
        (item,) = spec
        return f"{duckdb_type(item)}[]"
    return str(spec)


def quoted(name: str) -> str:
    """`name` as a DuckDB identifier (a JSON key may hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def bulk_columns(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The `read_json` columns (key, DuckDB type) that read each line's top level into the structure `spec`."""
    remember_keys(spec)
    return tuple((key, duckdb_type(value)) for key, value in spec.items())


def bulk_form(spec: dict[str, Any]) -> dict[str, Any]:
    """An adapter's `bulk_columns`, `bulk_nested` and `bulk_json` for the structure `spec`: each top-level key typed
    as an object or a list with the JSON paths, inside its value, of the objects and lists the line path decodes
    (`nested_paths`); the paths of the objects or lists read as their JSON (`_json_leaves`)."""
    nested = tuple(
        (key, tuple(nested_paths(value))) for key, value in shallow(spec).items() if isinstance(value, dict | list)
    )
    return {"bulk_columns": bulk_columns(spec), "bulk_nested": nested, "bulk_json": _json_leaves(shallow(spec))}


def _json_leaves(spec: dict[str, Any], prefix: tuple[str, ...] = ()) -> tuple[tuple[str, ...], ...]:
    """The paths (keys from the top, through objects only) of the OBJECT_OR_LIST leaves of `spec`: `read_json`
    reads a string there as its column's JSON without failing, so the bulk path looks at each row's text."""
    leaves: list[tuple[str, ...]] = []
    for key, value in spec.items():
        if isinstance(value, _ObjectOrList):
            leaves.append((*prefix, key))
        elif isinstance(value, dict):
            leaves += _json_leaves(value, (*prefix, key))
    return tuple(leaves)


#: The relation the bulk form of an adapter reads: `read_json`'s columns plus `source_line`, one row per line
#: that starts with `{` (see pipelines.lib.ingest.bulk). Its rows are JSON objects by construction.
BULK = "bulk"
#: What the bulk form gives as `raw`: the line text is not read; the adapters test it only for being an object.
BULK_RAW = "'{'"
#: The error a bulk form raises where its mapping would read a line's text (`no_text`).
NO_TEXT = "gatewaylens: the bulk form has no line text"


def no_text() -> str:
    """SQL standing for a line's text in a bulk form whose mapping reads it for some lines: reaching it raises
    NO_TEXT (the bulk path then reads the file line by line), so a line the adapter's `bulk_text_needed` misses
    fails loudly instead of mapping with no text. DuckDB evaluates a CASE branch or a COALESCE argument only for
    the rows that reach it. Typed VARCHAR: `error()` is of DuckDB's NULL type, and a function of a NULL-typed
    argument is folded into a constant NULL, never evaluated."""
    return f"CASE WHEN source_line IS NOT NULL THEN error({literal(NO_TEXT)})::VARCHAR END"


def parsed(spec: dict[str, Any], bulk: bool = False, rewrite: Rewrite | None = None) -> str:
    """The relation (source_line, raw, j) of the lines parsed into the structure `spec`: from `lines`, one parse
    per line (`parse`, with the line `rewrite` if any); or, for the bulk form, `j` assembled from `read_json`'s
    columns of the same structure (a line to rewrite takes the line path: `Adapter.streams`)."""
    if not bulk:
        return f"(select source_line, raw, {parse('raw', spec, decode=True, rewrite=rewrite)} AS j from lines)"
    fields = ", ".join(f"{quoted(key)} := {quoted(key)}" for key in spec)
    return f"(select source_line, {BULK_RAW} AS raw, struct_pack({fields}) AS j from {BULK})"


def is_object(raw: str) -> str:
    """The line's first non-blank character opens a JSON object."""
    return f"starts_with(ltrim({raw}, {WHITESPACE}), '{{')"


def not_an_object(raw: str = "raw") -> str:
    """SQL: the WHEN clauses of a CASE giving the reason a line parsed into `j` holds no JSON object: 'not JSON'
    when it does not parse, 'not a JSON object' when it is other JSON. `j` is NULL for the JSON `null` too
    (from_json reads it as SQL NULL), which is JSON: only a line `json_type` cannot read is 'not JSON' (the test
    runs on the lines whose `j` is NULL alone)."""
    return f"""WHEN j IS NULL AND coalesce(try(json_type({raw})), '') <> 'NULL' THEN 'not JSON'
        WHEN NOT {is_object(raw)} THEN 'not a JSON object'"""


def is_error_object(expr: str) -> str:
    """SQL: the JSON value `expr` is an error object (not NULL, not JSON null, not empty)."""
    return f"coalesce(json_type({expr}) = 'OBJECT' AND {expr}::VARCHAR <> '{{}}', false)"


#: Responses `output` item types the caller executes (the agent acts on them): function and custom tools,
#: the local shell, patches, computer use; a shell call in the caller's own environment and a tool search the
#: caller runs (`execution` client) too.
CLIENT_TOOL_ITEMS = ("function_call", "custom_tool_call", "local_shell_call", "apply_patch_call", "computer_call")
#: The part of a Responses `output` item the adapters read.
OUTPUT_ITEM = {"type": "VARCHAR", "execution": "VARCHAR", "environment": {"type": "VARCHAR"}, "call_id": "VARCHAR"}


def count_output_tool_calls(output: str) -> str:
    """Tool calls among OpenAI Responses `output` items: those the caller executes (CLIENT_TOOL_ITEMS, a
    `shell_call` outside a hosted container, a `tool_search_call` with `execution` client); tools the provider
    runs itself (web_search_call, file_search_call, mcp_call, code_interpreter_call, ...) are not counted."""
    items = ", ".join(f"'{t}'" for t in CLIENT_TOOL_ITEMS)
    client = (
        f"o.type IN ({items}) "
        "OR (o.type = 'shell_call' AND NOT coalesce(starts_with(o.environment.type, 'container'), false)) "
        "OR (o.type = 'tool_search_call' AND o.execution = 'client')"
    )
    return f"len(list_filter({output}, lambda o: {client}))"


def unix_nanos(expr: str) -> str:
    """Unix nanoseconds (OTLP `startTimeUnixNano`, a decimal string) as ISO text; anything else passes through."""
    return f"coalesce(strftime(try(make_timestamp(try_cast({expr} AS BIGINT) // 1000)), '{ISO}'), {expr})"


def offset_ms(expr: str, anchor_us: int) -> str:
    """A millisecond offset from the anchor (epoch microseconds) as ISO text; anything else passes through."""
    micros = f"try_cast(round(try_cast({expr} AS DOUBLE) * 1000) AS BIGINT)"
    return f"coalesce(strftime(try(make_timestamp({anchor_us} + {micros})), '{ISO}'), {expr})"


def file_name() -> str:
    """The source file's name (last path segment of the bound `$source_uri`), for keys of keyless traces."""
    return "regexp_extract($source_uri, '[^/]+$')"


def streamed_chunk(body: str) -> str:
    """SQL: 'true' where the OpenAI-style `body` is a stream's chunk (`chat.completion.chunk`) logged on its own: it
    was streamed, whatever its line leaves unsaid; else NULL."""
    return f"CASE WHEN {body}.object = 'chat.completion.chunk' THEN 'true' END"


def names_a_function(call: str) -> str:
    """SQL: the legacy `function_call` object `call` (JSON) is a call: present, and not naming the empty function
    (servers that fill every unset field, as Snowflake Cortex does, write `{"name": "", "arguments": ""}`)."""
    return f"({call} IS NOT NULL AND coalesce(json_extract_string({call}, '$.name'), 'x') <> '')"


def typed(value: str, spec: dict[str, Any], key: str) -> str:
    """SQL: the JSON `value` (held at `key`) typed as `spec` (NULL for what is no such object); in a statement that
    decodes (`DECODING`: `key` joins the keys the batch test looks for), also where a logger wrote it as a string of
    its JSON text."""
    NESTED_KEYS.add(key)
    shape = structure(spec)
    as_text = f"try(from_json({decoded(value, spec)}, {shape}))"
    return f"coalesce({DECODING}{as_text}, {DECODED}try(from_json({value}, {shape})))"


def count_tool_calls(choices: str) -> str:
    """Tool calls across OpenAI-style `choices` (each `message.tool_calls` list, plus 1 for a legacy
    `message.function_call` that does not name the empty function: servers that fill every unset field, as
    Snowflake Cortex does, write `"function_call": {"name": "", "arguments": ""}`); NULL when no choice carries a
    message."""
    legacy = names_a_function("c.message.function_call")
    counted = (
        f"list_sum(list_transform({choices}, lambda c: coalesce(len(c.message.tool_calls), 0)"
        f" + CASE WHEN {legacy} THEN 1 ELSE 0 END))"
    )
    # a stream chunk or a logged body without its messages says nothing about tool calls: NULL, not 0
    return f"CASE WHEN len(list_filter({choices}, lambda c: c.message IS NOT NULL)) > 0 THEN {counted} END"


#: The part of an OpenAI-style chat completion the adapters read (never the message text). Tool calls are
#: counted: each is read as its `type` and `id`, not as its JSON text (which holds the call's arguments).
CHOICES = [
    {
        "finish_reason": "VARCHAR",
        "native_finish_reason": "VARCHAR",
        "message": {"tool_calls": [{"type": "VARCHAR", "id": "VARCHAR"}], "function_call": OBJECT_OR_LIST},
        "error": {"code": "VARCHAR", "metadata": {"provider_name": "VARCHAR"}},
    }
]
USAGE = {
    "prompt_tokens": "VARCHAR",
    "completion_tokens": "VARCHAR",
    "cost": "VARCHAR",
    "prompt_tokens_details": {"cached_tokens": "VARCHAR"},
    "completion_tokens_details": {"reasoning_tokens": "VARCHAR"},
}


def one_record_per_line(
    columns_sql: str,
    spec: dict[str, Any],
    rejects: str = "",
    source: str = "",
    bulk: bool = False,
    rewrite: Rewrite | None = None,
    ignored: str = "NULL",
) -> str:
    """The SELECT of a format whose every line is one JSON object and one record: `columns_sql` over the line
    parsed into `spec` as `j` (or over `source`, a query over that parse written `{parsed}`, adding columns),
    with the reject reasons 'not JSON', 'not a JSON object' and the WHEN clauses `rejects`, and `ignored` (SQL:
    why a line holds no record by design, else NULL). (A subquery, not a CTE: DuckDB may materialize a CTE over
    every line.) With `bulk`, the SELECT of the format's bulk form; with `rewrite`, lines it rewrites are parsed
    rewritten (`parse`)."""
    relation = parsed(spec, bulk, rewrite)
    return f"""
select
    source_line,
    NULL::VARCHAR AS item,
    ({ignored})::VARCHAR AS ignored,
    CASE
        {not_an_object()}
        {rejects}
    END AS reject,
    {columns_sql}
from ({source.replace("{parsed}", relation) if source else f"select * from {relation}"})
"""
