"""SQL fragments the adapters share: one-parse JSON reading, time conversions, line labels.

Times are produced as ISO 8601 text (UTC, 'Z'), so that a value that does not convert reaches the shared
validation as the raw text and is quarantined with it in the reason ("created_at is not an ISO 8601
timestamp ('abc')") instead of as a bare "created_at missing".
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from schemas.sqltext import literal

ISO = "%Y-%m-%dT%H:%M:%S.%fZ"
WHITESPACE = "' ' || chr(9) || chr(10) || chr(13)"


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


def parse(raw: str, spec: dict[str, Any]) -> str:
    """One JSON parse of the line into the structure `spec` (NULL when the line is not JSON), retried on the
    lenient spelling only when the strict parse fails (COALESCE evaluates it for those lines alone)."""
    shape = structure(spec)
    return f"coalesce(try(from_json({raw}, {shape})), try(from_json({lenient(raw)}, {shape})))"


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


def parsed(spec: dict[str, Any], bulk: bool = False) -> str:
    """The relation (source_line, raw, j) of the lines parsed into the structure `spec`: from `lines`, one parse
    per line (`parse`); or, for the bulk form, `j` assembled from `read_json`'s columns of the same structure."""
    if not bulk:
        return f"(select source_line, raw, {parse('raw', spec)} AS j from lines)"
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
OUTPUT_ITEM = {"type": "VARCHAR", "execution": "VARCHAR", "environment": {"type": "VARCHAR"}}


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


def count_tool_calls(choices: str) -> str:
    """Tool calls across OpenAI-style `choices` (each `message.tool_calls` list, plus 1 for a legacy
    `message.function_call`); NULL when no choice carries a message."""
    counted = (
        f"list_sum(list_transform({choices}, lambda c: coalesce(len(c.message.tool_calls), 0)"
        " + CASE WHEN c.message.function_call IS NOT NULL THEN 1 ELSE 0 END))"
    )
    # a stream chunk or a logged body without its messages says nothing about tool calls: NULL, not 0
    return f"CASE WHEN len(list_filter({choices}, lambda c: c.message IS NOT NULL)) > 0 THEN {counted} END"


#: The part of an OpenAI-style chat completion the adapters read (never the message text). Tool calls are only
#: counted: each is read as its `type`, not as its JSON text (which holds the call's arguments).
CHOICES = [
    {
        "finish_reason": "VARCHAR",
        "native_finish_reason": "VARCHAR",
        "message": {"tool_calls": [{"type": "VARCHAR"}], "function_call": "JSON"},
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
    columns_sql: str, spec: dict[str, Any], rejects: str = "", source: str = "", bulk: bool = False
) -> str:
    """The SELECT of a format whose every line is one JSON object and one record: `columns_sql` over the line
    parsed into `spec` as `j` (or over `source`, a query over that parse written `{parsed}`, adding columns),
    with the reject reasons 'not JSON', 'not a JSON object' and the WHEN clauses `rejects`. (A subquery, not a
    CTE: DuckDB may materialize a CTE over every line.) With `bulk`, the SELECT of the format's bulk form."""
    relation = parsed(spec, bulk)
    return f"""
select
    source_line,
    NULL::VARCHAR AS item,
    NULL::VARCHAR AS ignored,
    CASE
        {not_an_object()}
        {rejects}
    END AS reject,
    {columns_sql}
from ({source.replace("{parsed}", relation) if source else f"select * from {relation}"})
"""
