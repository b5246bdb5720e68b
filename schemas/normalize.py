"""Normalization of native values onto the canonical vocabulary, as DuckDB reference tables and SQL.

The mappings live in editable CSV files under `schemas/reference/` (one row per native spelling, matched
case-insensitively): providers.csv (native provider name -> canonical provider id; a framework or SDK name that
emitters put where the provider belongs, such as `strands-agents`, is listed with an empty provider, so that it is
never taken for one), provider_hosts.csv (ordered regexes over the host called -> provider), provider_model_ids.csv
(ordered regexes over a model id whose shape names where it is served, such as Bedrock's
`us.anthropic.claude-...-v1:0`; `decides` true when only that platform uses such ids, so that it wins over the
name a log gives), finish_reasons.csv (native finish/stop reason -> normalized finish_reason),
operations.csv (LiteLLM call_type, OTel gen_ai.operation.name, ... -> operation), operations_by_model.csv (ordered
regexes over the model id, for logs that do not say: an embedding, rerank, moderation, image or speech model) and
error_codes.csv (native error code or exception class -> error_class). Values not listed fall back to rules: unknown
providers are slugified, unknown finish reasons and operations become `other` (a missing operation is read from the
model's name, else `chat`), unknown errors are classified by HTTP status, then by wording, else `server_error`.

Finish reasons are read the way real emitters write them: a JSON-encoded list in a string (`"[\"tool_calls\"]"`),
enum names (`FinishReason.STOP`, `STOP`), hyphens (`tool-calls`); among several reasons (one per choice), a tool
call wins.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

REFERENCE_DIR = Path(__file__).parent / "reference"

_TABLES = {
    "ref_providers": ("providers.csv", "native_name"),
    "ref_provider_hosts": ("provider_hosts.csv", "pattern"),
    "ref_provider_model_ids": ("provider_model_ids.csv", "pattern"),
    "ref_finish_reasons": ("finish_reasons.csv", "native"),
    "ref_operations": ("operations.csv", "native"),
    "ref_operations_by_model": ("operations_by_model.csv", "pattern"),
    "ref_error_codes": ("error_codes.csv", "code"),
}

MACROS = r"""
create or replace temp macro gl_slug(x) as
    nullif(trim(regexp_replace(lower(trim(x)), '[^a-z0-9]+', '-', 'g'), '-'), '');
create or replace temp macro gl_http_error_class(code) as
    case
        when code = 429 then 'rate_limit'
        when code in (408, 504, 524) then 'timeout'  -- 524: Cloudflare's origin timeout, as gateways relay it
        when code between 500 and 599 then 'server_error'
        when code between 400 and 499 then 'client_error'
    end;
-- an error that is a cancellation by the caller (Python's asyncio.CancelledError, gRPC CANCELLED), not a failure
create or replace temp macro gl_is_cancellation(error_code) as
    coalesce(
        regexp_extract(lower(trim(error_code)), '([a-z_]+)$') in ('cancellederror', 'cancelled', 'canceled'),
        false
    );
-- a provider name without its API-flavour suffix: 'openai.chat' (gen_ai.system of some SDKs) -> 'openai';
-- NULL for a router's composite name ('fallback:openai,anthropic' of Pydantic AI's FallbackModel), no company
create or replace temp macro gl_provider_name(x) as
    case when not regexp_matches(lower(trim(x)), '^fallback:') then regexp_replace(
        lower(trim(x)), '[._-](chat|responses|completions?|text|messages|embeddings?|generate_?content|converse)$', ''
    ) end;
-- the host of a URL or host[:port] ('https://api.openai.com/v1' -> 'api.openai.com'), and with its port
create or replace temp macro gl_host(x) as
    nullif(regexp_extract(lower(trim(x)), '^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?([^/:?#]+)', 1), '');
create or replace temp macro gl_host_port(x) as
    nullif(regexp_extract(lower(trim(x)), '^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?([^/?#]+)', 1), '');
-- the vendor prefix of a model id ('bedrock/anthropic.claude-3' -> 'bedrock'), NULL without one
create or replace temp macro gl_model_vendor(model) as
    nullif(regexp_extract(lower(trim(model)), '^([a-z0-9_.-]+)/', 1), '');
-- the lookup keys of a finish reason as logged: each element of a JSON list in a string, else the value;
-- lower case, enum class prefix dropped ('FinishReason.STOP'), every run of other characters an underscore
create or replace temp macro gl_finish_keys(x) as
    list_filter(
        list_transform(
            case
                when starts_with(ltrim(x), '[') then coalesce(try(from_json(trim(x), '["VARCHAR"]')), [x])
                else [x]
            end,
            lambda v: trim(regexp_replace(regexp_replace(lower(trim(v)), '^.*\.', ''), '[^a-z0-9]+', '_', 'g'), '_')
        ),
        lambda k: k is not null and k <> ''
    );
-- the normalized finish reason of a list of keys: tool_calls when any names a tool call, else the first's
create or replace temp macro gl_finish_reason(keys) as
    case
        when keys is null or len(keys) = 0 then null
        when list_has_any(keys, (select list(native) from ref_finish_reasons where finish_reason = 'tool_calls'))
            then 'tool_calls'
        else coalesce((select any_value(finish_reason) from ref_finish_reasons where native = keys[1]), 'other')
    end;
create or replace temp macro gl_error_class(status, http_status, error_code, mapped_code, hint) as
    case
        when status <> 'error' then 'none'
        -- the gateway's own refusals never count against a provider, whatever their HTTP status
        when hint = 'gateway' or mapped_code = 'gateway' then 'gateway'
        else coalesce(
            gl_http_error_class(http_status),
            mapped_code,
            gl_http_error_class(try_cast(error_code as integer)),
            case
                when regexp_matches(lower(error_code), 'time.?out|timed out|deadline') then 'timeout'
                when regexp_matches(lower(error_code), 'rate.?limit|too many requests|throttl') then 'rate_limit'
            end,
            case when hint in ('rate_limit', 'timeout', 'server_error', 'client_error') then hint end,
            'server_error'
        )
    end;
"""


def install(con: duckdb.DuckDBPyConnection, reference_dir: Path = REFERENCE_DIR) -> None:
    """Load the reference tables and normalization macros into `con` (temp objects, per connection)."""
    for table, (filename, key) in _TABLES.items():
        path = reference_dir / filename
        con.execute(
            f"create or replace temp table {table} as "
            f"select * replace (lower(trim({key})) as {key}) "
            f"from read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )
    con.execute(MACROS)
