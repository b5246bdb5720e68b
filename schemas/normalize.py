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

#: The normalization macros (temp, per connection); they read the reference tables above.
MACROS = Path(__file__).with_name("normalize.sql")


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
    con.execute(MACROS.read_text())
