"""OpenRouter activity-export adapter: the per-generation CSV of openrouter.ai/activity, read by header name.

No real export is published (see tests/fixtures/real/openrouter-activity/SOURCES.md): the header below is the
24-column one quoted from a real export, `VIEWER_HEADER` the 23-column order a public importer reads by name, and
every row is made up in their shape (created_at `YYYY-MM-DD HH:MM:SS.mmm` without a zone, `true`/`false`
booleans, empty cells for missing numbers).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from pipelines.lib.transform import batch_sql, transform_lines
from schemas.adapters import ADAPTERS, BY_NAME, detect, openrouter_activity
from tests.adapter_support import adapt, transform_connection, valid
from tests.conftest import HASH_KEY, record, stored
from tests.test_adapters_litellm import SUCCESS
from tests.test_adapters_openrouter import chat, generation
from tests.test_adapters_workload import AZURE_LINES, MOONCAKE_LINES

NAME = "openrouter-activity"
HEADER = ",".join(openrouter_activity.HEADER)
VIEWER_ORDER = (*openrouter_activity.HEADER[:21], "app_name", "api_key_name")
VIEWER_HEADER = ",".join(VIEWER_ORDER)

BASE: dict[str, str] = {
    "generation_id": "gen-1748779200-Qm3vT8xLk2PzR7wYc1Ab",
    "created_at": "2025-06-01 12:00:00.123",
    "cost_total": "0.0081",
    "cost_web_search": "0",
    "cost_cache": "0",
    "cost_file_processing": "0",
    "byok_usage_inference": "0",
    "tokens_prompt": "1200",
    "tokens_completion": "300",
    "tokens_reasoning": "40",
    "tokens_cached": "200",
    "model_permaslug": "anthropic/claude-4-sonnet-20250522",
    "provider_name": "Anthropic",
    "variant": "standard",
    "cancelled": "false",
    "streamed": "true",
    "user": "u-42",
    "finish_reason_raw": "end_turn",
    "finish_reason_normalized": "stop",
    "generation_time_ms": "4120",
    "time_to_first_token_ms": "610",
    "api_key_disabled": "false",
    "api_key_name": "prod-key",
    "app_name": "support-bot",
}


def row(order: tuple[str, ...] = openrouter_activity.HEADER, **over: str) -> str:
    """A data row in the column order `order` (cells written as they are: quote them in `over` if needed)."""
    cells = BASE | over
    return ",".join(cells.get(name, "") for name in order)


def read(*lines: str, end: str = "\n", source_uri: str = "file:///exports/activity.csv") -> list[dict[str, Any]]:
    """Rows of `lines` as a file would be read: detection (which binds the adapter to the header), then the
    adapter and the shared transform, each line ending with `end`."""
    adapter = detect([line.strip() for line in lines if line.strip()], source_uri)
    assert adapter.name == NAME
    raw = [line + end for line in lines]
    table = pa.table(
        {"source_line": pa.array(range(1, len(raw) + 1), pa.int64()), "raw": pa.array(raw, pa.large_string())}
    )
    rows = transform_lines(transform_connection(), adapter, table, source_uri, HASH_KEY).to_pylist()
    return sorted(rows, key=lambda r: r["source_line"])


def test_a_row_maps_every_column():
    header, first = read(HEADER, row())
    assert (header["ignored"], header["reason"]) == ("CSV header", None)
    got = valid(first)
    assert (got["request_id"], got["attempt"], got["source_format"]) == ("gen-1748779200-Qm3vT8xLk2PzR7wYc1Ab", 1, NAME)
    assert got["created_at"] == datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)  # no zone given: UTC
    assert (got["status"], got["operation"], got["finish_reason"], got["native_finish_reason"]) == (
        "success",
        "chat",
        "stop",
        "end_turn",
    )
    assert (got["model"], got["provider"], got["provider_native"]) == (
        "anthropic/claude-4-sonnet-20250522",
        "anthropic",
        "Anthropic",
    )
    tokens = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_prompt_tokens")
    assert [got[t] for t in tokens] == [1200, 300, 40, 200]
    assert (got["cost_usd"], got["latency_ms"], got["ttft_ms"], got["streamed"]) == (0.0081, 4120, 610, True)
    assert got["app_id"] == "support-bot"  # app_name wins over api_key_name
    assert got["user_hash"] is not None and "u-42" not in json.dumps(got, default=str)
    assert (got["tool_calls"], got["http_status"], got["error_code"], got["model_requested"]) == (None,) * 4
    assert (got["error_class"], got["quality_flags"]) == ("none", [])


@pytest.mark.slow
@pytest.mark.parametrize("order", [openrouter_activity.HEADER, VIEWER_ORDER, tuple(reversed(VIEWER_ORDER))])
def test_columns_are_read_by_header_name_in_any_order(order):
    header, first = read(",".join(order), row(order, app_name="", api_key_name="batch-key"))
    assert header["ignored"] == "CSV header"
    got = valid(first)
    assert (got["request_id"], got["model"], got["prompt_tokens"], got["completion_tokens"]) == (
        BASE["generation_id"],
        BASE["model_permaslug"],
        1200,
        300,
    )
    assert (got["latency_ms"], got["ttft_ms"], got["cost_usd"]) == (4120, 610, 0.0081)
    assert got["app_id"] == "batch-key"  # no app attributed: the key's name


def test_the_configured_adapter_is_bound_to_the_header_and_stays_hashable():
    viewer = detect([VIEWER_HEADER, row(VIEWER_ORDER)], "a.csv")
    assert viewer.name == NAME and viewer != BY_NAME[NAME]
    assert viewer == detect([VIEWER_HEADER], "b.csv")  # the same header binds the same adapter
    assert hash(viewer) == hash(detect([VIEWER_HEADER], "b.csv"))
    assert batch_sql(viewer) is batch_sql(detect([VIEWER_HEADER], "b.csv"))  # cached per adapter
    assert detect([HEADER, row()], "c.csv") == BY_NAME[NAME]  # the documented order is the unconfigured one
    assert detect([row(), row()], "headerless.csv") == BY_NAME[NAME]  # no header: the documented order


def test_detection_past_a_junk_head_binds_the_header_found():
    lines = ["junk", "more junk", VIEWER_HEADER, row(VIEWER_ORDER)]
    adapter = detect(lines, "late.csv", sample=2)
    assert adapter == detect([VIEWER_HEADER], "x.csv")


@pytest.mark.slow
def test_the_unconfigured_adapter_reads_the_documented_order():
    header, first = adapt(NAME, HEADER, row())
    assert header["ignored"] == "CSV header"
    assert valid(first)["request_id"] == BASE["generation_id"]
    assert first["app_id"] == "support-bot"


@pytest.mark.slow
def test_missing_and_extra_columns():
    order = ("generation_id", "created_at", "model_permaslug", "tokens_prompt", "brand_new_column", "cost_total")
    header, first = read(",".join(order), "gen-1-abc,2025-06-01 12:00:00.000,openai/gpt-4o,10,whatever,0.5")
    assert header["ignored"] == "CSV header"
    got = valid(first)
    assert (got["request_id"], got["model"], got["prompt_tokens"], got["cost_usd"]) == (
        "gen-1-abc",
        "openai/gpt-4o",
        10,
        0.5,
    )
    assert (got["completion_tokens"], got["latency_ms"], got["streamed"], got["provider_native"]) == (None,) * 4
    assert (got["status"], got["operation"], got["app_id"], got["user_hash"]) == ("success", "chat", None, None)


@pytest.mark.slow
def test_bom_and_crlf():
    rows = read("\ufeff" + HEADER, row(), row(generation_id="gen-2-x", streamed="false"), end="\r\n")
    assert rows[0]["ignored"] == "CSV header"
    first, second = valid(rows[1]), valid(rows[2])
    assert first["request_id"] == BASE["generation_id"]
    assert (first["app_id"], second["streamed"]) == ("support-bot", False)  # no trailing carriage return


@pytest.mark.slow
def test_quoted_fields_with_commas_and_doubled_quotes():
    line = row(VIEWER_ORDER, app_name='"My ""Pro"" App, v2"', api_key_name='"staging, eu-west"', user='""')
    _header, got = read(VIEWER_HEADER, line)
    assert valid(got)["app_id"] == 'My "Pro" App, v2'
    assert (got["ttft_ms"], got["user_hash"]) == (610, None)  # the fields after a quoted comma stay in place
    _header, got = read(HEADER, row(app_name="", api_key_name='"staging, eu-west"'))
    assert valid(got)["app_id"] == "staging, eu-west"


@pytest.mark.slow
def test_empty_cells_are_null():
    empty = ("cost_total", "tokens_reasoning", "tokens_cached", "user", "time_to_first_token_ms", "streamed")
    _header, got = read(HEADER, row(**dict.fromkeys(empty, "")))
    got = valid(got)
    assert [got[c] for c in ("cost_usd", "reasoning_tokens", "cached_prompt_tokens", "ttft_ms", "streamed")] == [
        None
    ] * 5
    assert got["user_hash"] is None


@pytest.mark.slow
def test_zero_cost_stays_zero():
    _header, got = read(HEADER, row(cost_total="0", byok_usage_inference="0.00046"))
    assert valid(got)["cost_usd"] == 0  # BYOK: the provider's bill on the user's key is not the gateway's cost


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cancelled", "raw", "normalized", "status", "finish_reason", "error_class"),
    [
        ("true", "", "", "cancelled", None, "none"),
        ("TRUE", "end_turn", "stop", "cancelled", "stop", "none"),
        ("false", "error", "error", "error", "error", "server_error"),
        ("false", "tool_use", "tool_calls", "success", "tool_calls", "none"),
        ("false", "MAX_TOKENS", "length", "success", "length", "none"),
        ("false", "tool_use", "", "success", "tool_calls", "none"),  # no normalized value: the raw one, normalized
    ],
)
def test_status_and_finish_reasons(cancelled, raw, normalized, status, finish_reason, error_class):
    _header, got = read(HEADER, row(cancelled=cancelled, finish_reason_raw=raw, finish_reason_normalized=normalized))
    got = valid(got)
    assert (got["status"], got["finish_reason"], got["native_finish_reason"], got["error_class"]) == (
        status,
        finish_reason,
        raw or None,
        error_class,
    )
    assert (got["tool_calls"], got["http_status"]) == (None, None)  # the export has neither


@pytest.mark.slow
def test_latency_and_api_type_when_an_export_carries_them():
    order = ("generation_id", "created_at", "model_permaslug", "api_type", "latency", "generation_time_ms")
    lines = [
        ",".join(order),
        "gen-1-a,2025-06-01 12:00:00.000,openai/gpt-4o,completions,1250,1200",
        "gen-1-b,2025-06-01 12:00:01.000,openai/text-embedding-3-small,embeddings,,80",
        "gen-1-c,2025-06-01 12:00:02.000,openai/gpt-4o-mini-tts,tts,300,250",
        "gen-1-d,2025-06-01 12:00:03.000,openai/gpt-4o,,300,250",
    ]
    got = [valid(r) for r in read(*lines)[1:]]
    assert [r["latency_ms"] for r in got] == [1250, 80, 300, 300]  # total latency, else generation time
    assert [r["operation"] for r in got] == ["chat", "embeddings", "audio", "chat"]


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("gen-1-a,2025-06-01 12:00:00.000,0.1", "expected 24 comma-separated fields (as many as the header), got 3"),
        (row() + ",extra", "expected 24 comma-separated fields (as many as the header), got 25"),
        (row(app_name='"Acme, Inc.'), "unbalanced quotes"),
        (row(app_name='"Acme" Inc.'), "unbalanced quotes"),
        ("", "blank line"),
        (row(created_at="01/06/2025 12:00"), "created_at is not an ISO 8601 timestamp ('01/06/2025 12:00')"),
        (row(tokens_prompt="many"), "prompt_tokens is not an integer ('many')"),
        (row(generation_id=""), "request_id"),
    ],
)
def test_bad_rows_are_quarantined_with_a_readable_reason(line, reason):
    _header, got = read(HEADER, line)
    assert got["ignored"] is None
    assert got["reason"] is not None and reason in got["reason"], got["reason"]


@pytest.mark.slow
def test_a_short_row_in_a_reordered_file_counts_the_header_columns():
    _header, got = read(VIEWER_HEADER, "gen-1-a,2025-06-01 12:00:00.000")
    assert got["reason"] == "expected 23 comma-separated fields (as many as the header), got 2"


def test_sniff_claims_the_header_and_rows_only():
    assert openrouter_activity.sniff(HEADER)
    assert openrouter_activity.sniff("\ufeff" + HEADER.upper() + "\r\n")  # BOM-tolerant, case-insensitive
    assert openrouter_activity.sniff(VIEWER_HEADER)
    assert openrouter_activity.sniff(row())
    assert openrouter_activity.sniff(row(app_name='"Acme, Inc."'))
    others = [
        json.dumps(record()),
        json.dumps(chat()),
        json.dumps(generation()),
        json.dumps(SUCCESS),
        *AZURE_LINES,
        "2023-11-16 18:15:46.6805900,374,44",
        "TIMESTAMP,ContextTokens,GeneratedTokens",
        *MOONCAKE_LINES,
        json.dumps({"generation_id": "gen-1-a", "model_permaslug": "x", "tokens_prompt": 1}),
        "gen-1-a,2025-06-01",  # too few fields for an export row
        "generation_id",
        "",
    ]
    assert not [line for line in others if openrouter_activity.sniff(line)]
    # and no other format claims the export's lines
    lines = ["\ufeff" + HEADER, HEADER, VIEWER_HEADER, row(), row(VIEWER_ORDER, app_name='"My ""Pro"" App, v2"')]
    assert not [(a.name, line) for a in ADAPTERS if a.name != NAME for line in lines if a.sniff(line)]


@pytest.mark.slow
def test_ingest_of_a_reordered_crlf_export(tmp_path, warehouse, run_ingest):
    path = tmp_path / "activity.csv"
    rows = [row(VIEWER_ORDER, generation_id=f"gen-1-{n}", app_name=f'"app, {n}"') for n in range(3)]
    path.write_bytes(("\ufeff" + "\r\n".join([VIEWER_HEADER, *rows, "gen-1-bad,2025-06-01"]) + "\r\n").encode())
    report = run_ingest(path)
    assert report.balanced
    [file_report] = report.files
    assert file_report.source_format == NAME
    assert (file_report.lines, file_report.written, file_report.ignored, file_report.quarantined) == (5, 3, 1, 1)
    assert file_report.ignored_reasons == {"CSV header": 1}
    assert sorted(r["app_id"] for r in stored(warehouse)) == ["app, 0", "app, 1", "app, 2"]
