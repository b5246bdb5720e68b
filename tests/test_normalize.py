"""Normalization rules of the canonical record, on records shaped like each vendor's real values."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from pipelines.lib.ingest import connect
from pipelines.lib.transform import transform_lines
from schemas.adapters import BY_NAME
from tests.conftest import HASH_KEY, record


def normalized(*lines: dict[str, Any]) -> list[dict[str, Any]]:
    """Run records through the canonical adapter and the shared transform."""
    raw = [json.dumps(line) for line in lines]
    table = pa.table({"source_line": pa.array(range(1, len(raw) + 1), pa.int64()), "raw": raw})
    rows = transform_lines(connect(), BY_NAME["canonical"], table, "file:///t.jsonl", HASH_KEY).to_pylist()
    return sorted(rows, key=lambda r: r["source_line"])


@pytest.mark.parametrize(
    ("native", "provider"),
    [
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
    ],
)
def test_provider_ids_are_canonical_and_native_is_kept(native, provider):
    [row] = normalized(record(provider_native=native))
    assert (row["provider"], row["provider_native"]) == (provider, native)


@pytest.mark.parametrize(
    ("fields", "finish_reason"),
    [
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
    ],
)
def test_finish_reasons_normalize_and_keep_the_native_value(fields, finish_reason):
    [row] = normalized(record(**fields))
    assert row["finish_reason"] == finish_reason
    assert row["native_finish_reason"] == fields["native_finish_reason"]


ERROR = {"status": "error", "native_finish_reason": None, "completion_tokens": None, "reasoning_tokens": None}


@pytest.mark.parametrize(
    ("fields", "error_class"),
    [
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
    ],
)
def test_error_classes(fields, error_class):
    [row] = normalized(record(**ERROR, **fields))
    assert row["reason"] is None
    assert row["error_class"] == error_class


@pytest.mark.parametrize("status", ["success", "cancelled"])
def test_non_errors_have_no_error_class(status):
    [row] = normalized(record(status=status, http_status=None))
    assert row["error_class"] == "none"


def test_unknown_reasoning_stays_unknown_not_zero():
    known, unknown, zero = normalized(
        record(request_id="a", reasoning_tokens=120),
        record(request_id="b", reasoning_tokens=None),
        record(request_id="c", reasoning_tokens=0),
    )
    assert (known["reasoning_tokens"], unknown["reasoning_tokens"], zero["reasoning_tokens"]) == (120, None, 0)


def test_reasoning_cannot_exceed_completion():
    [row] = normalized(record(completion_tokens=100, reasoning_tokens=101))
    assert row["reason"] == "reasoning_tokens (101) exceeds completion_tokens (100)"
