"""Normalization of native values onto the canonical vocabulary, as DuckDB reference tables and SQL.

The mappings live in editable CSV files under `schemas/reference/` (one row per native spelling, matched
case-insensitively): providers.csv (native provider name -> canonical provider id), finish_reasons.csv
(native finish/stop reason -> normalized finish_reason) and error_codes.csv (native error code or exception
class -> error_class). Values not listed fall back to rules: unknown providers are slugified, unknown finish
reasons become `other`, unknown errors are classified by HTTP status, then by wording, else `server_error`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

REFERENCE_DIR = Path(__file__).parent / "reference"

_TABLES = {
    "ref_providers": ("providers.csv", "native_name"),
    "ref_finish_reasons": ("finish_reasons.csv", "native"),
    "ref_error_codes": ("error_codes.csv", "code"),
}

MACROS = """
create or replace temp macro gl_slug(x) as
    nullif(trim(regexp_replace(lower(trim(x)), '[^a-z0-9]+', '-', 'g'), '-'), '');
create or replace temp macro gl_http_error_class(code) as
    case
        when code = 429 then 'rate_limit'
        when code in (408, 504) then 'timeout'
        when code between 500 and 599 then 'server_error'
        when code between 400 and 499 then 'client_error'
    end;
-- an error that is a cancellation by the caller (Python's asyncio.CancelledError, gRPC CANCELLED), not a failure
create or replace temp macro gl_is_cancellation(error_code) as
    coalesce(
        regexp_extract(lower(trim(error_code)), '([a-z_]+)$') in ('cancellederror', 'cancelled', 'canceled'),
        false
    );
create or replace temp macro gl_error_class(status, http_status, error_code, mapped_code, hint) as
    case
        when status <> 'error' then 'none'
        else coalesce(
            gl_http_error_class(http_status),
            mapped_code,
            gl_http_error_class(try_cast(error_code as integer)),
            case
                when regexp_matches(lower(error_code), 'time.?out|timed out|deadline') then 'timeout'
                when regexp_matches(lower(error_code), 'rate.?limit|too many requests') then 'rate_limit'
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
