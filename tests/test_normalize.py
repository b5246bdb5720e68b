"""Normalization rules of the canonical record, on records shaped like each vendor's real values."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from pipelines.lib.transform import transform_lines
from schemas.adapters import BY_NAME
from tests.adapter_support import transform_connection
from tests.conftest import HASH_KEY, record


def normalized(*lines: dict[str, Any]) -> list[dict[str, Any]]:
    """Run records through the canonical adapter and the shared transform."""
    raw = [json.dumps(line) for line in lines]
    table = pa.table({"source_line": pa.array(range(1, len(raw) + 1), pa.int64()), "raw": raw})
    rows = transform_lines(transform_connection(), BY_NAME["canonical"], table, "file:///t.jsonl", HASH_KEY)
    return sorted(rows.to_pylist(), key=lambda r: r["source_line"])


def _case_records() -> dict[tuple[str, int], dict[str, Any]]:
    """The input record of every parametrized case below, by (case list, index in it)."""
    records = {
        "PROVIDER_IDS": [record(provider_native=native) for native, _ in PROVIDER_IDS],
        "FINISH_REASONS": [record(**fields) for fields, _ in FINISH_REASONS],
        "ERROR_CLASSES": [record(**ERROR, **fields) for fields, _ in ERROR_CLASSES],
        "NON_ERRORS": [record(status=status, http_status=None) for status in NON_ERRORS],
        "SOFT_INCONSISTENCIES": [record(**fields) for fields, _, _ in SOFT_INCONSISTENCIES],
        "EMITTED_FINISH_REASONS": [
            record(native_finish_reason=native, finish_reason=None) for native, _ in EMITTED_FINISH_REASONS
        ],
        "OPERATIONS": [record(operation=native) for native, _ in OPERATIONS],
        "COMPANIES": [record(**fields) for fields, _ in COMPANIES],
    }
    return {(name, index): line for name, lines in records.items() for index, line in enumerate(lines)}


@pytest.fixture(scope="module")
def case_rows() -> dict[tuple[str, int], dict[str, Any]]:
    """The row of every parametrized case, from one transform of all their records: a transform costs about half
    a second whatever its size, and each line is read on its own. Each record gets a request id of its own
    (no case looks at it), so none is a duplicate of another."""
    records = _case_records()
    rows = normalized(*(line | {"request_id": f"case-{n}"} for n, line in enumerate(records.values())))
    return dict(zip(records, rows, strict=True))


PROVIDER_IDS = [
    # OpenRouter provider names
    ("Anthropic", "anthropic"),
    ("Google Vertex", "google-vertex"),
    ("Google", "google-vertex"),
    ("Google AI Studio", "google-ai-studio"),
    ("Amazon Bedrock", "amazon-bedrock"),
    ("Together", "together"),
    ("DeepInfra", "deepinfra"),
    # LiteLLM custom_llm_provider
    ("anthropic", "anthropic"),
    ("vertex_ai", "google-vertex"),
    ("bedrock", "amazon-bedrock"),
    ("together_ai", "together"),
    ("gemini", "google-ai-studio"),
    ("azure", "azure"),
    # OpenTelemetry gen_ai.provider.name / gen_ai.system
    ("gcp.vertex_ai", "google-vertex"),
    ("aws.bedrock", "amazon-bedrock"),
    ("azure.ai.openai", "azure"),
    ("x_ai", "xai"),
    # unknown names are slugified, not dropped
    ("Some New Host, Inc.", "some-new-host-inc"),
]


FINISH_REASONS = [
    ({"native_finish_reason": "tool_calls"}, "tool_calls"),  # OpenAI / OpenRouter
    ({"native_finish_reason": "function_call"}, "tool_calls"),  # OpenAI legacy functions
    ({"native_finish_reason": "tool_use"}, "tool_calls"),  # Anthropic stop_reason
    ({"native_finish_reason": "STOP", "finish_reason": "tool_calls"}, "tool_calls"),  # Gemini functionCall part
    ({"native_finish_reason": "STOP"}, "stop"),  # Gemini text answer
    ({"native_finish_reason": "end_turn"}, "stop"),
    ({"native_finish_reason": "stop_sequence"}, "stop"),
    ({"native_finish_reason": "max_tokens"}, "length"),
    ({"native_finish_reason": "MAX_TOKENS"}, "length"),
    ({"native_finish_reason": "length"}, "length"),
    ({"native_finish_reason": "SAFETY"}, "content_filter"),
    ({"native_finish_reason": "refusal"}, "content_filter"),
    ({"native_finish_reason": "content_filter"}, "content_filter"),
    ({"native_finish_reason": "MALFORMED_FUNCTION_CALL"}, "error"),
    ({"native_finish_reason": "pause_turn"}, "other"),
    ({"native_finish_reason": "something_new"}, "other"),
    ({"native_finish_reason": None}, None),
]


ERROR_CLASSES = [
    ({"http_status": 429}, "rate_limit"),
    ({"http_status": 408}, "timeout"),
    ({"http_status": 504}, "timeout"),
    ({"http_status": 500}, "server_error"),
    ({"http_status": 502}, "server_error"),
    ({"http_status": 503}, "server_error"),
    ({"http_status": 529, "error_code": "overloaded_error"}, "server_error"),
    ({"http_status": 400}, "client_error"),
    ({"http_status": 401}, "client_error"),
    ({"http_status": 404}, "client_error"),
    ({"http_status": 413, "error_code": "request_too_large"}, "client_error"),
    ({"http_status": None, "error_code": "RateLimitError"}, "rate_limit"),  # LiteLLM exception class
    ({"http_status": None, "error_code": "Timeout"}, "timeout"),
    ({"http_status": None, "error_code": "Request timed out after 600s"}, "timeout"),
    ({"http_status": None, "error_code": "overloaded_error"}, "server_error"),  # Anthropic error type
    ({"http_status": None, "error_code": "invalid_request_error"}, "client_error"),
    ({"http_status": None, "error_code": "RESOURCE_EXHAUSTED"}, "rate_limit"),  # Gemini / gRPC status
    ({"http_status": None, "error_code": "DEADLINE_EXCEEDED"}, "timeout"),
    ({"http_status": None, "error_code": "503"}, "server_error"),
    ({"http_status": None, "error_code": "ContextWindowExceededError"}, "client_error"),
    ({"http_status": None, "error_code": None}, "server_error"),
]


SOFT_INCONSISTENCIES = [
    ({"prompt_tokens": 10, "cached_prompt_tokens": 900}, {"prompt_tokens": 910}, ["cached_outside_prompt"]),
    ({"ttft_ms": 3000.0, "latency_ms": 2000.0}, {"ttft_ms": 3000.0}, ["ttft_exceeds_latency"]),
    ({"latency_ms": -5.0, "ttft_ms": 3.0}, {"latency_ms": None, "ttft_ms": 3.0}, ["negative_latency"]),
    ({"ttft_ms": "-1"}, {"ttft_ms": None}, ["negative_ttft"]),
    ({"status": "success", "http_status": 404}, {"status": "success"}, ["http_error_on_success"]),
    (
        {"completion_tokens": 1, "reasoning_tokens": 5, "prompt_tokens": 1, "cached_prompt_tokens": 2},
        {"completion_tokens": 6, "prompt_tokens": 3},
        ["cached_outside_prompt", "reasoning_outside_completion"],
    ),
    ({}, {}, []),
]


EMITTED_FINISH_REASONS = [
    ('["tool_calls"]', "tool_calls"),  # a JSON list in a string attribute
    ('["STOP"]', "stop"),
    ("tool-calls", "tool_calls"),  # Vercel AI SDK
    ("FinishReason.MAX_TOKENS", "length"),  # a Python enum's str()
    ("STOP", "stop"),
    ("TOOL_USE", "tool_calls"),
    ('["stop", "tool_calls"]', "tool_calls"),  # several choices: a tool call wins
    ("completed", "stop"),  # OpenAI Responses status
    ("[]", None),
    ('["N/A"]', None),  # Semantic Kernel's placeholder: no reason given
    ("None", None),  # Python's str(None)
    ("eos_token", "stop"),  # text-generation-inference
    ("something new", "other"),
]


OPERATIONS = [
    (None, "chat"),
    ("acompletion", "chat"),
    ("aembedding", "embeddings"),
    ("generate_content", "chat"),
    ("aresponses", "responses"),
    ("image_generation", "image_generation"),
    ("arerank", "rerank"),
    ("atranscription", "audio"),
    ("Embeddings", "embeddings"),
    ("create_batch", "other"),
]


COMPANIES = [
    ({"provider_native": "openai.chat", "model": "gpt-4o"}, "openai"),  # Vercel AI SDK: the API flavour
    # the OpenAI SDK against an OpenAI-compatible gateway: 'openai' names the client, not the server
    ({"provider_native": "openai", "model": "google/gemini-2.5-flash"}, None),
    ({"provider_native": "openai", "model": "openai/gpt-4o"}, "openai"),
    ({"provider_native": "strands-agents", "model": "claude-sonnet-4"}, None),  # a framework names no one
    # ... but a Bedrock inference-profile id does
    (
        {"provider_native": "strands-agents", "model": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
        "amazon-bedrock",
    ),
    ({"provider_native": "strands-agents", "model": "bedrock/us.anthropic.claude"}, "amazon-bedrock"),
    ({"provider_native": None, "model": "anthropic/claude-sonnet-4"}, "anthropic"),
    ({"provider_native": None, "model": "meta-llama/llama-3.1-8b"}, None),  # a model's author, not a provider
]


@pytest.mark.parametrize(("native", "provider"), PROVIDER_IDS)
def test_provider_ids_are_canonical_and_native_is_kept(case_rows, native, provider):
    row = case_rows["PROVIDER_IDS", PROVIDER_IDS.index((native, provider))]
    assert (row["provider"], row["provider_native"]) == (provider, native)


@pytest.mark.parametrize(("fields", "finish_reason"), FINISH_REASONS)
def test_finish_reasons_normalize_and_keep_the_native_value(case_rows, fields, finish_reason):
    row = case_rows["FINISH_REASONS", FINISH_REASONS.index((fields, finish_reason))]
    assert row["finish_reason"] == finish_reason
    assert row["native_finish_reason"] == fields["native_finish_reason"]


ERROR = {"status": "error", "native_finish_reason": None, "completion_tokens": None, "reasoning_tokens": None}


@pytest.mark.parametrize(("fields", "error_class"), ERROR_CLASSES)
def test_error_classes(case_rows, fields, error_class):
    row = case_rows["ERROR_CLASSES", ERROR_CLASSES.index((fields, error_class))]
    assert row["reason"] is None
    assert row["error_class"] == error_class


NON_ERRORS = ["success", "cancelled"]


@pytest.mark.parametrize("status", NON_ERRORS)
def test_non_errors_have_no_error_class(case_rows, status):
    row = case_rows["NON_ERRORS", NON_ERRORS.index(status)]
    assert row["error_class"] == "none"


def test_unknown_reasoning_stays_unknown_not_zero():
    known, unknown, zero = normalized(
        record(request_id="a", reasoning_tokens=120),
        record(request_id="b", reasoning_tokens=None),
        record(request_id="c", reasoning_tokens=0),
    )
    assert (known["reasoning_tokens"], unknown["reasoning_tokens"], zero["reasoning_tokens"]) == (120, None, 0)


def test_reasoning_beyond_completion_is_kept_counted_outside_and_flagged():
    [row] = normalized(record(completion_tokens=100, reasoning_tokens=101))
    assert row["reason"] is None
    assert (row["completion_tokens"], row["reasoning_tokens"]) == (201, 101)
    assert row["quality_flags"] == ["reasoning_outside_completion"]


@pytest.mark.parametrize(("fields", "stored", "flags"), SOFT_INCONSISTENCIES)
def test_soft_inconsistencies_are_kept_and_flagged(case_rows, fields, stored, flags):
    row = case_rows["SOFT_INCONSISTENCIES", SOFT_INCONSISTENCIES.index((fields, stored, flags))]
    assert row["reason"] is None
    assert {k: row[k] for k in stored} == stored
    assert row["quality_flags"] == flags


def test_a_long_id_is_kept_as_a_stable_hash_with_its_prefix():
    long_id = "resp_" + "QmFzZTY0" * 60  # LiteLLM's Responses-API ids encode the upstream id and more
    first, again, model = normalized(
        record(request_id=long_id), record(request_id=long_id, attempt=2), record(model="m" * 300)
    )
    assert first["reason"] is None and first["quality_flags"] == ["long_id"]
    assert first["request_id"] == again["request_id"]
    assert first["request_id"].startswith(long_id[:128] + "~") and len(first["request_id"]) == 128 + 1 + 64
    assert model["quality_flags"] == ["long_value"] and len(model["model"]) == 193


@pytest.mark.parametrize(("native", "finish_reason"), EMITTED_FINISH_REASONS)
def test_finish_reasons_as_real_emitters_write_them(case_rows, native, finish_reason):
    row = case_rows["EMITTED_FINISH_REASONS", EMITTED_FINISH_REASONS.index((native, finish_reason))]
    assert row["finish_reason"] == finish_reason
    assert row["native_finish_reason"] == native


def test_tool_calls_in_the_response_mean_it_ended_in_a_tool_call():
    gemini, forced, none, failed = normalized(
        record(request_id="g", native_finish_reason="STOP", tool_calls=1),
        record(request_id="f", finish_reason="stop", tool_calls=2),
        record(request_id="n", native_finish_reason="stop", tool_calls=0),
        record(request_id="e", status="error", native_finish_reason=None, tool_calls=1),
    )
    assert [r["finish_reason"] for r in (gemini, forced, none, failed)] == ["tool_calls", "tool_calls", "stop", None]


@pytest.mark.parametrize(("native", "operation"), OPERATIONS)
def test_operations(case_rows, native, operation):
    row = case_rows["OPERATIONS", OPERATIONS.index((native, operation))]
    assert row["operation"] == operation


@pytest.mark.parametrize(("fields", "provider"), COMPANIES)
def test_provider_is_the_company_never_the_framework(case_rows, fields, provider):
    row = case_rows["COMPANIES", COMPANIES.index((fields, provider))]
    assert row["provider"] == provider


def test_reference_tables_name_each_native_value_once():
    """A native value listed twice would join twice and duplicate its records."""
    import csv

    from schemas.normalize import _TABLES, REFERENCE_DIR

    for filename, key in _TABLES.values():
        with (REFERENCE_DIR / filename).open() as handle:
            values = [row[key].strip().lower() for row in csv.DictReader(handle)]
        assert len(values) == len(set(values)), f"{filename}: {sorted(v for v in set(values) if values.count(v) > 1)}"
