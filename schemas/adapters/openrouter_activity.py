"""OpenRouter's activity export: the per-generation CSV of the Activity page (openrouter.ai/activity -> export).

One CSV row per generation, under a header line. OpenRouter publishes neither a sample nor a column reference,
so the columns are read **by name** from the file's header line: `detect()` binds the adapter to the header it
sampled (`configure`), so column order may differ between exports, unknown columns are skipped, and a column the
file lacks is NULL. Without a header (a caller that never configures) the adapter assumes the 24-column order
below. Every data row is one record, attempt 1 (the export has no attempt history).

| record | column (first present wins, per row where two are listed) |
| --- | --- |
| request_id | `generation_id`; attempt 1 |
| created_at | `created_at` (`2025-06-01 12:00:00.123`; no zone given: read as UTC) |
| app_id | `app_name` (OpenRouter's app attribution), else `api_key_name` |
| user_key | `user` (hashed by the shared transform), else `external_user` |
| model | `model_permaslug`, else `model` |
| provider_native | `provider_name` (the shared transform maps it: Google AI Studio -> google-ai-studio) |
| status | `cancelled` true -> cancelled; else finish reason `error` -> error; else success |
| finish_reason | `finish_reason_normalized`, else `finish_reason` (normalized again by the transform) |
| native_finish_reason | `finish_reason_raw`, else `native_finish_reason` |
| prompt_tokens, completion_tokens | `native_tokens_*`, else `tokens_prompt`, `tokens_completion` |
| reasoning_tokens, cached_prompt_tokens | `native_tokens_*`, else `tokens_reasoning`, `tokens_cached` |
| latency_ms | `latency` (OpenRouter: "total latency"), else `generation_time_ms`, else `generation_time` |
| ttft_ms | `time_to_first_token_ms` |
| streamed | `streamed` (`true` / `false`) |
| cost_usd | `cost_total` (what OpenRouter charged; a BYOK row's 0 stays 0), else `total_cost` |
| operation | `api_type` (see below); without it, the shared rule: the model's name (an embedding model), else chat |

Token counts are taken as they are: reasoning is part of completion, cached part of prompt (OpenRouter:
"reasoning tokens are included in completion tokens"). OpenRouter's `api_type` names an API family: `completions`
(text generation, which OpenRouter serves as chat completions) -> chat, `tts` and `stt` -> audio, `image` ->
image_generation, others (`embeddings`, `rerank`) as named for the shared operation table (unknown -> other).

Decisions: **app_id** is the app OpenRouter attributes the call to (`app_name`, from the caller's HTTP-Referer /
X-Title), as the generation-stats adapter's `app_id` is, falling back to the API key's name for calls no app is
attributed to (the same precedence as LiteLLM's team alias over key alias); a row names neither -> NULL.
**latency_ms** is the attempt's wall time: the known exports have only `generation_time_ms`, read as the time from
dispatching the request to the end of its body (it includes time_to_first_token_ms); an export carrying
OpenRouter's `latency` too (the generation API documents it as "total latency in milliseconds" and
`generation_time` as the time taken for generation, a part of it) is read from `latency`.

CSV reading: RFC 4180 within one line: fields separated by commas, a field may be quoted (`"Acme, Inc."`, a
quote inside doubled: `"My ""Pro"" App"`), an empty cell (quoted or not) is NULL, spaces around an unquoted cell
are dropped. A UTF-8 BOM before the header and CRLF line ends are tolerated. A quoted field spanning lines is
not supported (each piece is quarantined as a malformed row). The header line (a row whose generation_id cell
reads `generation_id`, wherever it appears) is `ignored` ("CSV header"); a row with another number of fields
than the header, an unbalanced quote or a blank line is quarantined saying so.

What the export cannot express: failed provider attempts before the one that served (one row per generation),
HTTP status and error code (an error row says only `error`), tool-call counts (the finish reason `tool_calls`
still says a tool call ended the generation), tools offered, the model requested (only the model that served).
Columns not read: the cost parts (`cost_web_search`, `cost_cache` (negative: a cache discount),
`cost_file_processing`, all included in `cost_total`), `byok_usage_inference` (the provider's bill on the
user's own key, not the gateway's cost), `variant` (`free`, `standard`: a pricing tier, no record field),
`api_key_disabled`.

Header sources (tests/fixtures/real/openrouter-activity/SOURCES.md; no real export is published): the column
names are well supported (a 24-column header quoted from a real export, a 23-column importer reading it by
name, scripts reading it by name and position); the order is medium confidence and has changed over time (one
source has app_name before api_key_name and no api_key_disabled). Known: generation_id, created_at and its
format (no zone; UTC is an assumption), cost_total and the cost parts, tokens_*, model_permaslug, provider_name,
variant, cancelled and streamed as lower-case `true`/`false`, user, the two finish reasons, generation_time_ms,
time_to_first_token_ms, api_key_name, app_name. Guessed: the values of finish_reason_raw and
finish_reason_normalized, empty cells for missing numbers, that cost_total includes the cost parts. The
alternative names (`latency`, `native_tokens_*`, `model`, `finish_reason`, `native_finish_reason`,
`external_user`, `total_cost`, `api_type`) come from the generation-stats JSON behind an activity row and are
read only if an export carries them.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from typing import TYPE_CHECKING

from schemas.adapters import _sql
from schemas.sqltext import literal

if TYPE_CHECKING:
    from schemas.adapters import Adapter

NAME = "openrouter-activity"

#: The header assumed when the adapter is not configured with the file's own (SOURCES.md, "Column list chosen").
HEADER: tuple[str, ...] = (
    "generation_id",
    "created_at",
    "cost_total",
    "cost_web_search",
    "cost_cache",
    "cost_file_processing",
    "byok_usage_inference",
    "tokens_prompt",
    "tokens_completion",
    "tokens_reasoning",
    "tokens_cached",
    "model_permaslug",
    "provider_name",
    "variant",
    "cancelled",
    "streamed",
    "user",
    "finish_reason_raw",
    "finish_reason_normalized",
    "generation_time_ms",
    "time_to_first_token_ms",
    "api_key_disabled",
    "api_key_name",
    "app_name",
)

#: Record column -> header names read for it, in order of preference (the first non-empty cell wins).
_SOURCES: dict[str, tuple[str, ...]] = {
    "request_id": ("generation_id",),
    "created_at": ("created_at",),
    "app_id": ("app_name", "api_key_name"),
    "user_key": ("user", "external_user"),
    "model": ("model_permaslug", "model"),
    "provider_native": ("provider_name",),
    "finish_reason": ("finish_reason_normalized", "finish_reason"),
    "native_finish_reason": ("finish_reason_raw", "native_finish_reason"),
    "prompt_tokens": ("native_tokens_prompt", "tokens_prompt"),
    "completion_tokens": ("native_tokens_completion", "tokens_completion"),
    "reasoning_tokens": ("native_tokens_reasoning", "tokens_reasoning"),
    "cached_prompt_tokens": ("native_tokens_cached", "tokens_cached"),
    "latency_ms": ("latency", "generation_time_ms", "generation_time"),
    "ttft_ms": ("time_to_first_token_ms",),
    "streamed": ("streamed",),
    "cost_usd": ("cost_total", "total_cost"),
    "cancelled": ("cancelled",),
    "api_type": ("api_type",),
}

#: Besides generation_id, a header names at least one of these (no other format's header does).
_DISTINCTIVE = frozenset({"model_permaslug", "finish_reason_normalized", "tokens_prompt", "cost_total"})
_GENERATION_ID = re.compile(r"gen-[A-Za-z0-9_-]+")
_MIN_ROW_FIELDS = 10
_BOM = "\ufeff"

# One field of a row: quoted (quotes inside doubled), unquoted (not starting with a quote), or empty.
_FIELD = r'"(?:[^"]|"")*"|[^,"][^,]*|'
_ROW = f"(?:{_FIELD})(?:,(?:{_FIELD}))*"


def _cells(line: str) -> list[str] | None:
    """The line's CSV cells (Python's csv module, for sniffing a few lines), None if it is not one CSV row."""
    line = line.strip().lstrip(_BOM).strip()
    if not line:
        return None
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return None
    return [cell.strip() for cell in rows[0]] if len(rows) == 1 else None


def header_names(line: str) -> tuple[str, ...] | None:
    """The column names (lower case) if the line is the export's header (BOM-tolerant), else None."""
    if "generation_id" not in line.lower():
        return None
    names = tuple(cell.lower() for cell in _cells(line) or ())
    return names if "generation_id" in names and _DISTINCTIVE & set(names) else None


def sniff(line: str) -> bool:
    """The export's header (generation_id and one of its distinctive names), or a data row: at least 10 CSV
    fields, the first an OpenRouter generation id (`gen-...`), which no JSON line or other CSV trace has."""
    if header_names(line) is not None:
        return True
    if not line.lstrip(_BOM + ' \t"').startswith("gen-"):
        return False
    cells = _cells(line)
    return cells is not None and len(cells) >= _MIN_ROW_FIELDS and bool(_GENERATION_ID.fullmatch(cells[0]))


def configure(head: list[str]) -> Adapter:
    """The adapter bound to the header found among the file's first lines (unconfigured if there is none)."""
    from schemas.adapters import BY_NAME, INPUT_COLUMNS  # deferred: the package imports this module

    adapter = BY_NAME[NAME]
    header = next((names for line in head if (names := header_names(line)) is not None), None)
    if header is None or header == HEADER:
        return adapter
    return dataclasses.replace(adapter, select_sql=select_sql(INPUT_COLUMNS, header))


def select_sql(columns: tuple[str, ...], header: tuple[str, ...] = HEADER) -> str:
    """SELECT over `lines` for a file whose header is `header` (lower-case names, in file order)."""
    position = {}
    for index, name in enumerate(header, start=1):
        position.setdefault(name, index)

    def cell(key: str) -> str:
        """The first non-empty cell among the columns read for `key`, NULL if the file has none of them."""
        present = [f"c[{position[name]}]" for name in _SOURCES[key] if name in position]
        if not present:
            return "NULL::VARCHAR"
        cells = ", ".join(f"nullif({c}, '')" for c in present)
        return present[0] if len(present) == 1 else f"coalesce({cells})"

    api_type = f"lower({cell('api_type')})"
    exprs = {key: cell(key) for key in _SOURCES}
    exprs |= {
        "attempt": "1",
        "status": f"""CASE
            WHEN try_cast(lower({cell("cancelled")}) AS BOOLEAN) THEN 'cancelled'
            WHEN lower(coalesce({cell("finish_reason")}, {cell("native_finish_reason")})) = 'error' THEN 'error'
            ELSE 'success'
        END""",
        # without an api_type the shared rule decides: the model's name (an embedding model), else chat
        "operation": f"""CASE {api_type}
            WHEN 'completions' THEN 'chat'
            WHEN 'tts' THEN 'audio'
            WHEN 'stt' THEN 'audio'
            WHEN 'image' THEN 'image_generation'
            ELSE {api_type}
        END""",
    }
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    is_header = f"coalesce(lower(c[{position.get('generation_id', 1)}]) = 'generation_id', false)"
    expected = len(header)
    split = f"""list_transform(
                CASE
                    WHEN contains(line, '"') THEN regexp_extract_all(',' || line, {literal(",(" + _FIELD + ")")}, 1)
                    ELSE string_split(line, ',')
                END,
                lambda x: nullif(CASE WHEN starts_with(x, '"') THEN replace(x[2:-2], '""', '"') ELSE trim(x) END, '')
            )"""
    return f"""
select
    source_line,
    NULL::VARCHAR AS item,
    CASE WHEN quoting_ok AND {is_header} THEN 'CSV header' END AS ignored,
    CASE
        WHEN line = '' THEN 'blank line'
        WHEN NOT quoting_ok
            THEN 'not a CSV row: unbalanced quotes (a quoted field spanning lines is not supported)'
        WHEN {is_header} THEN NULL
        WHEN len(c) <> {expected}
            THEN format('expected {expected} comma-separated fields (as many as the header), got {{}}', len(c))
    END AS reject,
    {columns_sql}
from (
    select
        source_line,
        line,
        NOT contains(line, '"') OR regexp_full_match(line, {literal(_ROW)}) AS quoting_ok,
        {split} AS c
    from (select source_line, trim(raw, {_sql.WHITESPACE} || chr(65279)) AS line from lines)
)
"""
