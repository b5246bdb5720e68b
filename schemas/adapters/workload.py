"""Public workload traces: arrival times and token counts only, for traffic and burst analysis.

Two formats, read in place (e.g. from `shared/data/external/`):

* **azure-llm-trace**: the Azure LLM inference trace 2023 (Splitwise, ISCA'24; Azure/AzurePublicDataset
  `data/AzureLLMInferenceTrace_{code,conv}.csv`), CSV with the header `TIMESTAMP,ContextTokens,GeneratedTokens`.
  `TIMESTAMP` (`YYYY-MM-DD HH:MM:SS.fffffff`, no zone given) is read as UTC (7 fractional digits are cut to
  microseconds); ContextTokens -> prompt_tokens, GeneratedTokens -> completion_tokens. The header line is
  not a record: it is `ignored` ("CSV header"), counted in the ledger. A row that is not three
  comma-separated fields is quarantined.
* **mooncake-trace**: the Mooncake FAST'25 traces (kvcache-ai/Mooncake `FAST25-release/traces/*.jsonl`),
  `{"timestamp", "input_length", "output_length", "hash_ids"}`. `timestamp` is an offset in milliseconds
  from the start of the trace, which gives no date: it is anchored at MOONCAKE_EPOCH (2025-01-01T00:00:00Z,
  a convention of gatewaylens, not a date from the trace), so created_at = MOONCAKE_EPOCH + timestamp.
  input_length -> prompt_tokens, output_length -> completion_tokens; `hash_ids` (prefix-cache blocks of 512
  tokens) are not read: which blocks hit a cache depends on the serving system, so they give no
  cached_prompt_tokens.

Neither trace has a request id: request_id is `<file name>:<line number>` (e.g.
`AzureLLMInferenceTrace_code.csv:2`), unique per file and the same wherever the file is read from, so
ingesting a copy of the file finds duplicates. Every row is a served request (the traces record no failures;
generated tokens are never 0), so status is success and attempt 1.

What these formats cannot express: model and provider (stored as NULL, which the record allows only for
workload traces; no placeholder such as 'unknown' is invented), status other than success, finish reasons,
tool calls, reasoning and cached tokens, latency, cost, user and application. Tell them apart from gateway
logs by `source_format`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from schemas.adapters import _sql

AZURE_HEADER = "timestamp,contexttokens,generatedtokens"
MOONCAKE_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_AZURE_ROW = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?,\d+,\d+")
_MOONCAKE_KEYS = frozenset({"timestamp", "input_length", "output_length"})


def sniff_azure(line: str) -> bool:
    """The trace's header or a row `YYYY-MM-DD HH:MM:SS.fffffff,<int>,<int>`."""
    line = line.strip()
    return line.lower() == AZURE_HEADER or bool(_AZURE_ROW.fullmatch(line))


def sniff_mooncake(line: str) -> bool:
    """A JSON object with timestamp, input_length and output_length."""
    return _sql.has_keys(line, _MOONCAKE_KEYS)


def _select(columns: tuple[str, ...], exprs: dict[str, str], inner: str, reject: str, ignored: str) -> str:
    defaults = {"request_id": f"{_sql.file_name()} || ':' || source_line", "attempt": "1", "status": "'success'"}
    columns_sql = ",\n    ".join(f"{exprs.get(c, defaults.get(c, 'NULL'))} AS {c}" for c in columns)
    return f"""
select
    source_line,
    NULL::VARCHAR AS item,
    {ignored} AS ignored,
    {reject} AS reject,
    {columns_sql}
from ({inner})
"""


def azure_select_sql(columns: tuple[str, ...]) -> str:
    """SELECT over `lines`: split each CSV row on commas (the trace has no quoting)."""
    inner = f"select source_line, string_split(trim(raw, {_sql.WHITESPACE}), ',') AS f from lines"
    exprs = {"created_at": "f[1]", "prompt_tokens": "f[2]", "completion_tokens": "f[3]"}
    header = f"lower(array_to_string(f, ',')) = '{AZURE_HEADER}'"
    reject = f"""CASE
        WHEN {header} THEN NULL
        WHEN len(f) = 1 AND f[1] = '' THEN 'blank line'
        WHEN len(f) <> 3 THEN format('expected 3 comma-separated fields (TIMESTAMP,ContextTokens,GeneratedTokens), '
            || 'got {{}}', len(f))
    END"""
    return _select(columns, exprs, inner, reject, f"CASE WHEN {header} THEN 'CSV header' END")


def mooncake_select_sql(columns: tuple[str, ...]) -> str:
    """SELECT over `lines` with one JSON parse per line."""
    spec = {"timestamp": "VARCHAR", "input_length": "VARCHAR", "output_length": "VARCHAR"}
    inner = f"select source_line, raw, {_sql.parse('raw', spec)} AS j from lines"
    anchor_us = int(MOONCAKE_EPOCH.timestamp()) * 1_000_000
    exprs = {
        "created_at": _sql.offset_ms("j.timestamp", anchor_us),
        "prompt_tokens": "j.input_length",
        "completion_tokens": "j.output_length",
    }
    reject = f"""CASE
        {_sql.not_an_object()}
    END"""
    return _select(columns, exprs, inner, reject, "NULL::VARCHAR")
