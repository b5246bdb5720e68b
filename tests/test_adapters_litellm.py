"""LiteLLM adapter: StandardLoggingPayload lines as the GCS/S3 bucket loggers write them.

`success_payload` is LiteLLM's own GCS bucket logger test fixture (`mock_response_data` in BerriAI/litellm's
GCS bucket tests: ids, times, metadata, `end_user: ""`, `error_information` of empty strings, the nested
`response`), keys as in `litellm/types/utils.py` `StandardLoggingPayload`. The failure payload follows the
same TypedDict with `status: "failure"`, `error_str` and `error_information {error_code, error_class,
llm_provider, traceback, error_message}` as LiteLLM fills them for an exception.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.adapters import litellm
from tests.adapter_support import one, valid

SUCCESS: dict[str, Any] = {
    "id": "chatcmpl-9870a859d6df402795f75dc5fca5b2e0",
    "trace_id": None,
    "call_type": "acompletion",
    "cache_hit": None,
    "stream": True,
    "status": "success",
    "custom_llm_provider": "openai",
    "saved_cache_cost": 0.0,
    "startTime": 1739235379.683053,
    "endTime": 1739235379.84533,
    "completionStartTime": 1739235379.84533,
    "response_time": 0.1622769832611084,
    "model": "my-fake-model",
    "metadata": {
        "user_api_key_hash": "sk-test-mock-api-key-123",
        "user_api_key_alias": None,
        "user_api_key_team_id": None,
        "user_api_key_org_id": None,
        "user_api_key_user_id": "default_user_id",
        "user_api_key_team_alias": None,
        "spend_logs_metadata": None,
        "requester_ip_address": "127.0.0.1",
        "requester_metadata": {},
        "user_api_key_end_user_id": None,
        "prompt_management_metadata": None,
    },
    "cache_key": None,
    "response_cost": 3.7500000000000003e-05,
    "total_tokens": 21,
    "prompt_tokens": 9,
    "completion_tokens": 12,
    "request_tags": [],
    "end_user": "",
    "api_base": "https://exampleopenaiendpoint-production.up.railway.app",
    "model_group": "fake-openai-endpoint",
    "model_id": "b68d56d76b0c24ac9462ab69541e90886342508212210116e300441155f37865",
    "requester_ip_address": "127.0.0.1",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "very gm to u"}]}],
    "response": {
        "id": "chatcmpl-9870a859d6df402795f75dc5fca5b2e0",
        "created": 1677652288,
        "model": "gpt-3.5-turbo-0301",
        "object": "chat.completion",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {
                "finish_reason": "stop",
                "index": 0,
                "message": {
                    "content": "\n\nHello there, how may I assist you today?",
                    "role": "assistant",
                    "tool_calls": None,
                    "function_call": None,
                    "refusal": None,
                },
            }
        ],
        "usage": {
            "completion_tokens": 12,
            "prompt_tokens": 9,
            "total_tokens": 21,
            "completion_tokens_details": None,
            "prompt_tokens_details": None,
        },
        "service_tier": None,
    },
    "model_parameters": {"stream": False, "max_retries": 0, "extra_body": {}},
    "hidden_params": {
        "model_id": "b68d56d76b0c24ac9462ab69541e90886342508212210116e300441155f37865",
        "cache_key": None,
        "api_base": "https://exampleopenaiendpoint-production.up.railway.app/",
        "response_cost": 3.7500000000000003e-05,
        "additional_headers": {},
        "litellm_overhead_time_ms": 2.126,
    },
    "model_map_information": {"model_map_key": "gpt-3.5-turbo-0301", "model_map_value": {}},
    "error_str": None,
    "error_information": {"error_code": "", "error_class": "", "llm_provider": ""},
    "response_cost_failure_debug_info": None,
    "guardrail_information": None,
}


def payload(**over: Any) -> dict[str, Any]:
    body = copy.deepcopy(SUCCESS)
    body.update(over)
    return body


def failure(code: str, error_class: str, provider: str = "anthropic") -> dict[str, Any]:
    return payload(
        id="b980db26-9512-45cc-b1da-c511a363b83f",
        status="failure",
        custom_llm_provider=provider,
        model="claude-sonnet-4-5",
        response_cost=0.0,
        prompt_tokens=0,
        completion_tokens=0,
        total_tokens=0,
        response={},
        error_str=f"litellm.{error_class}: AnthropicException - Overloaded",
        error_information={
            "error_code": code,
            "error_class": error_class,
            "llm_provider": provider,
            "traceback": "Traceback (most recent call last): ...",
            "error_message": "litellm.RateLimitError: AnthropicException - {...}",
        },
    )


def test_litellm_fixture_maps_every_field():
    row = valid(one("litellm", SUCCESS))
    assert (row["request_id"], row["attempt"]) == ("chatcmpl-9870a859d6df402795f75dc5fca5b2e0", 1)
    assert row["created_at"] == datetime.fromtimestamp(1739235379.683053, UTC)
    assert row["latency_ms"] == pytest.approx(162.277, abs=0.01)
    assert row["ttft_ms"] == pytest.approx(162.277, abs=0.01)  # completionStartTime = endTime when not streamed
    assert (row["model_requested"], row["model"]) == ("fake-openai-endpoint", "gpt-3.5-turbo-0301")
    assert (row["provider"], row["provider_native"]) == ("openai", "openai")
    assert (row["status"], row["http_status"], row["error_code"], row["error_class"]) == ("success", None, None, "none")
    assert (row["finish_reason"], row["native_finish_reason"], row["tool_calls"]) == ("stop", "stop", 0)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (9, 12)
    assert (row["reasoning_tokens"], row["cached_prompt_tokens"]) == (None, None)  # details: null -> not reported
    # top-level `stream` says true, the request's model_parameters say false, and completionStartTime = endTime:
    # the request's own flag wins
    assert (row["streamed"], row["cost_usd"]) == (False, pytest.approx(3.75e-05))
    assert row["user_hash"] is None  # end_user "" is no user
    assert row["app_id"] is None and row["tools_offered"] is None


def test_team_user_reasoning_tools_and_cache():
    usage = {
        "prompt_tokens": 2000,
        "completion_tokens": 900,
        "total_tokens": 2900,
        "completion_tokens_details": {"reasoning_tokens": 640, "accepted_prediction_tokens": 0},
        "prompt_tokens_details": {"cached_tokens": 1536, "audio_tokens": 0},
    }
    calls = [{"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}] * 2
    response = dict(
        SUCCESS["response"],
        model="o3-mini-2025-01-31",
        usage=usage,
        choices=[{"finish_reason": "tool_calls", "index": 0, "message": {"tool_calls": calls}}],
    )
    metadata = dict(SUCCESS["metadata"], user_api_key_team_alias="checkout-agents", user_api_key_team_id="team-42")
    line = payload(
        response=response,
        prompt_tokens=2000,
        completion_tokens=900,
        metadata=metadata,
        end_user="customer-7",
        model_parameters={"tools": [{"type": "function"}, {"type": "function"}, {"type": "function"}]},
    )
    row = valid(one("litellm", line))
    assert (row["app_id"], row["tools_offered"], row["tool_calls"], row["finish_reason"]) == (
        "checkout-agents",
        3,
        2,
        "tool_calls",
    )
    assert (row["reasoning_tokens"], row["cached_prompt_tokens"]) == (640, 1536)
    assert row["user_hash"] is not None


@pytest.mark.parametrize(
    ("code", "error_class", "expected"),
    [
        ("429", "RateLimitError", "rate_limit"),
        ("529", "InternalServerError", "server_error"),
        ("408", "Timeout", "timeout"),
        ("400", "ContextWindowExceededError", "client_error"),
        ("401", "AuthenticationError", "client_error"),
        ("", "APIConnectionError", "server_error"),
        ("", "Timeout", "timeout"),
    ],
)
def test_failures_are_error_attempts_with_their_class(code, error_class, expected):
    row = valid(one("litellm", failure(code, error_class)))
    assert (row["status"], row["error_code"], row["error_class"]) == ("error", error_class, expected)
    assert row["http_status"] == (int(code) if code else None)
    assert (row["provider"], row["finish_reason"], row["tool_calls"]) == ("anthropic", None, None)


def test_provider_ids_from_custom_llm_provider():
    for native, provider in [("vertex_ai", "google-vertex"), ("bedrock", "amazon-bedrock"), ("azure_ai", "azure")]:
        assert valid(one("litellm", payload(custom_llm_provider=native)))["provider"] == provider


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        (payload(status="pending"), "status 'pending' is not one of success|error|cancelled"),
        (payload(startTime=None), "created_at missing"),
        (payload(startTime="soon"), "created_at is not an ISO 8601 timestamp ('soon')"),
        (payload(id=None), "request_id missing"),
        (payload(completion_tokens=-3), "completion_tokens is negative (-3)"),
    ],
)
def test_malformed_and_partial_payloads_are_rejected(line, reason):
    assert one("litellm", line)["reason"] == reason


def test_a_first_token_after_the_last_byte_is_kept_and_flagged():
    row = valid(one("litellm", payload(completionStartTime=1739235380.9)))
    assert row["ttft_ms"] > row["latency_ms"]
    assert row["quality_flags"] == ["ttft_exceeds_latency"]


def test_sniff():
    import json

    assert litellm.sniff(json.dumps(SUCCESS))
    assert not litellm.sniff('{"request_id": "r", "created_at": "x", "status": "success"}')
    assert not litellm.sniff('{"id": "gen-1", "created": 1, "choices": []}')


def test_a_cancelled_call_is_a_cancellation_not_an_error():
    """LiteLLM logs a call the client abandoned as a failure whose class is asyncio's CancelledError."""
    row = valid(one("litellm", failure("", "CancelledError")))
    assert (row["status"], row["error_class"], row["http_status"]) == ("cancelled", "none", None)
