"""OpenRouter adapter: chat completions, error bodies, generation stats with failed provider attempts.

Shapes follow OpenRouter's API reference and SDK models: the chat completion response (`id`, `provider`,
`created`, `choices[].finish_reason/native_finish_reason/message.tool_calls/error`, `usage` with `cost`,
`prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`; openrouter.ai/docs
API reference "Responses"), the error body `{"error": {"code", "message", "metadata": {"provider_name",
"raw"}}}` (docs "Errors"), and `GET /api/v1/generation` (`GenerationResponseData` and `ProviderResponse` of
the Python/TypeScript SDK docs; the example values `gen-3bhGkxlo4XFrqiabUM7NDtwDzWwG`, "Infermatic",
latency 1250, native tokens 10/25/5/3, total_cost 0.0015 are the SDK docs' own).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.adapters import openrouter
from tests.adapter_support import adapt, one, valid


def chat(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "gen-1748779200-abcdEFGHijklMNOP",
        "provider": "Anthropic",
        "model": "anthropic/claude-sonnet-4.5",
        "object": "chat.completion",
        "created": 1748779200,
        "choices": [
            {
                "logprobs": None,
                "finish_reason": "tool_calls",
                "native_finish_reason": "tool_use",
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me look that up.",
                    "refusal": None,
                    "reasoning": "The user wants the weather...",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "index": 0,
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "cost": 0.0081,
            "is_byok": False,
            "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 120, "image_tokens": 0},
        },
    }
    body.update(over)
    return body


def generation(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "gen-3bhGkxlo4XFrqiabUM7NDtwDzWwG",
        "upstream_id": "chatcmpl-791bcf62-080e-4568-87d0-94c72e3b4946",
        "total_cost": 0.0015,
        "cache_discount": 0.0002,
        "upstream_inference_cost": 0.0012,
        "created_at": "2024-07-15T23:33:19.433273+00:00",
        "model": "sao10k/l3-stheno-8b",
        "app_id": 12345,
        "streamed": True,
        "cancelled": False,
        "provider_name": "Infermatic",
        "latency": 1250,
        "moderation_latency": 50,
        "generation_time": 1200,
        "finish_reason": "stop",
        "native_finish_reason": "stop",
        "tokens_prompt": 10,
        "tokens_completion": 25,
        "native_tokens_prompt": 10,
        "native_tokens_completion": 25,
        "native_tokens_completion_images": 0,
        "native_tokens_reasoning": 5,
        "native_tokens_cached": 3,
        "num_media_prompt": 1,
        "num_search_results": 5,
        "origin": "https://openrouter.ai/",
        "usage": 0.0015,
        "is_byok": False,
        "external_user": "user-123",
        "api_type": None,
        "router": "openrouter/auto",
        "provider_responses": None,
    }
    data.update(over)
    return {"data": data}


def test_chat_completion_maps_every_field():
    row = valid(one("openrouter", chat()))
    assert row["request_id"] == "gen-1748779200-abcdEFGHijklMNOP"
    assert row["attempt"] == 1
    assert row["created_at"] == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert (row["model"], row["provider"], row["provider_native"]) == (
        "anthropic/claude-sonnet-4.5",
        "anthropic",
        "Anthropic",
    )
    assert (row["status"], row["error_class"], row["http_status"]) == ("success", "none", None)
    assert (row["finish_reason"], row["native_finish_reason"], row["tool_calls"]) == ("tool_calls", "tool_use", 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)
    assert (row["reasoning_tokens"], row["cached_prompt_tokens"]) == (120, 200)  # parts of the totals
    assert row["cost_usd"] == pytest.approx(0.0081)
    assert row["latency_ms"] is None and row["streamed"] is None  # not in a chat completion


@pytest.mark.slow
def test_chat_tool_calls_are_counted_over_all_choices_and_legacy_function_calls():
    calls = [{"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in range(3)]
    choices = [
        {"finish_reason": "tool_calls", "native_finish_reason": "tool_calls", "message": {"tool_calls": calls}},
        {"finish_reason": "function_call", "message": {"function_call": {"name": "f", "arguments": "{}"}}},
    ]
    row = valid(one("openrouter", chat(choices=choices)))
    assert (row["tool_calls"], row["finish_reason"]) == (4, "tool_calls")
    stop = valid(one("openrouter", chat(choices=[{"finish_reason": "stop", "message": {"content": "hi"}}])))
    assert (stop["tool_calls"], stop["finish_reason"]) == (0, "stop")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("native", "expected"),
    [
        ("tool_use", "tool_calls"),  # Anthropic
        ("end_turn", "stop"),
        ("STOP", "stop"),  # Gemini
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("function_call", "tool_calls"),  # OpenAI legacy
        ("guardrail_intervened", "content_filter"),  # Bedrock
        ("something_new", "other"),
    ],
)
def test_native_finish_reason_decides_when_openrouter_gives_none(native, expected):
    choice = {"finish_reason": None, "native_finish_reason": native, "message": {"content": "x"}}
    row = valid(one("openrouter", chat(choices=[choice])))
    assert (row["finish_reason"], row["native_finish_reason"]) == (expected, native)


@pytest.mark.parametrize(
    ("finish", "native"),
    [("end_turn", "end_turn"), ("stop", None), ("tool_calls", None), ("", None)],
)
def test_a_finish_reason_outside_openrouters_own_is_the_upstreams(finish, native):
    """Before OpenRouter wrote `native_finish_reason` (2024), its `finish_reason` passed the upstream's value on."""
    choice = {"finish_reason": finish, "message": {"content": "x"}}
    row = valid(one("openrouter", chat(choices=[choice])))
    assert row["native_finish_reason"] == native


@pytest.mark.slow
def test_chat_without_reasoning_details_reports_null_not_zero():
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    row = valid(one("openrouter", chat(usage=usage)))
    assert (row["reasoning_tokens"], row["cached_prompt_tokens"], row["cost_usd"]) == (None, None, None)


@pytest.mark.slow
def test_chat_error_choice_is_an_error_attempt():
    choice = {
        "finish_reason": "error",
        "native_finish_reason": None,
        "message": {"content": ""},
        "error": {"code": 502, "message": "Upstream error"},
    }
    row = valid(one("openrouter", chat(choices=[choice])))
    assert (row["status"], row["http_status"], row["error_class"], row["finish_reason"]) == (
        "error",
        502,
        "server_error",
        "error",
    )


@pytest.mark.slow
def test_error_body_with_stored_id_is_a_record_and_without_is_quarantined():
    body = {"error": {"code": 429, "message": "Rate limit exceeded", "metadata": {"provider_name": "Google Vertex"}}}
    keyed = valid(one("openrouter", dict(body, id="gen-err-1", created=1748779200)))
    assert (keyed["status"], keyed["http_status"], keyed["error_code"], keyed["error_class"]) == (
        "error",
        429,
        "429",
        "rate_limit",
    )
    assert (keyed["provider"], keyed["finish_reason"]) == ("google-vertex", None)
    bare = one("openrouter", body)
    assert bare["reason"].startswith("OpenRouter error body without id and created")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "provider_name", "error_class"),
    [
        (400, None, "client_error"),
        (402, None, "gateway"),  # OpenRouter's own refusals: credits, its rate limit, no provider available
        (429, None, "gateway"),
        (503, None, "gateway"),
        (408, None, "timeout"),
        (429, "Google", "rate_limit"),  # an upstream's error, relayed: the provider's
        (503, "Together", "server_error"),
        (524, "DeepInfra", "timeout"),
    ],
)
def test_error_body_codes(code, provider_name, error_class):
    metadata = {"provider_name": provider_name} if provider_name else {}
    body = {"id": "gen-e", "created": 1748779200, "error": {"code": code, "message": "x", "metadata": metadata}}
    assert valid(one("openrouter", body))["error_class"] == error_class


@pytest.mark.parametrize("code", ["NaN", "Infinity", "0x1AD", "1_000"])
def test_an_error_code_that_is_no_decimal_number_is_text(code):
    body = {"id": "gen-e", "created": 1748779200, "error": {"code": code, "message": "x"}}
    row = valid(one("openrouter", body))  # kept: no HTTP status, and no gateway refusal read into it
    assert (row["http_status"], row["error_code"]) == (None, code) and row["error_class"] != "gateway"


@pytest.mark.parametrize("where", ["body", "choice"])
def test_an_error_code_in_text_names_the_error_and_leaves_the_http_status_unknown(where):
    error = {"code": "rate_limit_exceeded", "message": "x", "metadata": {"provider_name": "OpenAI"}}
    if where == "body":
        line = {"id": "gen-e", "created": 1748779200, "error": error}
    else:
        line = chat(choices=[{"finish_reason": "error", "message": {"content": ""}, "error": error}])
    row = valid(one("openrouter", line))  # kept, not quarantined: only its HTTP status is not known
    assert (row["status"], row["http_status"], row["error_code"]) == ("error", None, "rate_limit_exceeded")
    assert row["error_class"] == "rate_limit"  # by the code's name


@pytest.mark.slow
@pytest.mark.parametrize(
    ("inner_metadata", "provider", "error_class"),
    [
        ({"provider_name": "Google AI Studio", "raw": "{}"}, "google-ai-studio", "server_error"),
        ({"provider_name": None}, None, "gateway"),  # OpenRouter's own 503: no provider meets the routing
        ({}, None, "gateway"),
    ],
)
def test_doubly_nested_error_body_is_read_from_its_inner_error(inner_metadata, provider, error_class):
    """`{"error": {"error": {...}, "code": N}}`: the outer object repeats the code and has no metadata, so the
    upstream a body names is only in the inner object; the outer code still counts when the inner has none."""
    inner = {"message": "Provider returned error", "code": 503, "metadata": inner_metadata}
    body = {"id": "req-1", "created": 1748779200, "error": {"error": inner, "code": 503}}
    assert openrouter.sniff(json.dumps(body))
    row = valid(one("openrouter", body))
    assert (row["http_status"], row["error_code"], row["provider"], row["error_class"]) == (
        503,
        "503",
        provider,
        error_class,
    )
    only_inner_code = {"id": "req-2", "created": 1748779200, "error": {"error": {"message": "x", "code": 402}}}
    assert openrouter.sniff(json.dumps(only_inner_code))
    row = valid(one("openrouter", only_inner_code))
    assert (row["http_status"], row["error_class"]) == (402, "gateway")


def test_generation_stats_map_every_field():
    row = valid(one("openrouter", generation()))
    assert (row["request_id"], row["attempt"], row["item"]) == ("gen-3bhGkxlo4XFrqiabUM7NDtwDzWwG", 1, None)
    assert row["created_at"] == datetime(2024, 7, 15, 23, 33, 19, 433273, tzinfo=UTC)
    assert (row["app_id"], row["provider"], row["provider_native"]) == ("12345", "infermatic", "Infermatic")
    assert row["user_hash"] is not None and len(row["user_hash"]) == 64  # external_user, hashed
    assert (row["status"], row["finish_reason"], row["native_finish_reason"]) == ("success", "stop", "stop")
    assert (row["prompt_tokens"], row["completion_tokens"], row["reasoning_tokens"], row["cached_prompt_tokens"]) == (
        10,
        25,
        5,
        3,
    )
    assert (row["latency_ms"], row["streamed"], row["cost_usd"]) == (1250.0, True, 0.0015)


@pytest.mark.slow
def test_native_token_counts_win_over_normalized_ones():
    row = valid(one("openrouter", generation(tokens_prompt=12, native_tokens_prompt=None, native_tokens_completion=30)))
    assert (row["prompt_tokens"], row["completion_tokens"]) == (12, 30)


@pytest.mark.slow
def test_failed_provider_responses_become_earlier_attempts_of_the_same_request():
    responses = [
        {"provider_name": "Anthropic", "status": 529, "latency": 310, "model_permaslug": "anthropic/claude-4.5"},
        {"provider_name": "Google Vertex", "status": 429, "latency": 95},
        {"provider_name": "Amazon Bedrock", "status": 200, "latency": 1800, "is_byok": False},
    ]
    rows = adapt(
        "openrouter",
        generation(provider_responses=responses, provider_name="Amazon Bedrock", model="anthropic/claude-4.5"),
    )
    assert [(r["attempt"], r["status"], r["provider"], r["http_status"], r["error_class"]) for r in rows] == [
        (1, "error", "anthropic", 529, "server_error"),
        (2, "error", "google-vertex", 429, "rate_limit"),
        (3, "success", "amazon-bedrock", 200, "none"),
    ]
    assert {r["request_id"] for r in rows} == {"gen-3bhGkxlo4XFrqiabUM7NDtwDzWwG"}
    assert {r["source_line"] for r in rows} == {1}
    assert [r["item"] for r in rows] == [
        "attempt 1 of 3 (Anthropic)",
        "attempt 2 of 3 (Google Vertex)",
        "attempt 3 of 3 (Amazon Bedrock)",
    ]
    failed = rows[0]
    assert (failed["latency_ms"], failed["prompt_tokens"], failed["cost_usd"], failed["finish_reason"]) == (
        310.0,
        None,
        None,
        None,
    )
    assert rows[2]["cost_usd"] == 0.0015 and rows[2]["latency_ms"] == 1250.0


@pytest.mark.parametrize(
    "created",
    [1748779200000, "1748779200000000", 1748779200000000000, "1748779200"],
    ids=["ms", "us-text", "ns", "s-text"],
)
def test_a_chat_created_in_another_epoch_unit_is_the_same_time(created):
    assert valid(one("openrouter", chat(created=created)))["created_at"] == datetime(2025, 6, 1, 12, tzinfo=UTC)


def test_generation_stats_created_as_epoch_seconds_are_read():
    """The stats' `created_at` is ISO text; a logger that writes it as epoch seconds (a float) loses nothing."""
    row = valid(one("openrouter", generation(created_at=1721086399.433273)))
    assert row["created_at"] == datetime(2024, 7, 15, 23, 33, 19, 433273, tzinfo=UTC)


@pytest.mark.slow
def test_cancelled_and_failed_generations():
    cancelled = valid(one("openrouter", generation(cancelled=True, finish_reason=None, native_finish_reason=None)))
    assert (cancelled["status"], cancelled["error_class"]) == ("cancelled", "none")
    responses = [{"provider_name": "Infermatic", "status": 500, "latency": 40}]
    failed = valid(one("openrouter", generation(provider_responses=responses, finish_reason="error")))
    assert (failed["status"], failed["http_status"], failed["error_class"]) == ("error", 500, "server_error")


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ({"object": "list", "items": []}, "not an OpenRouter chat completion, error body or generation stats object"),
        (chat(created="yesterday"), "created_at is not an ISO 8601 timestamp ('yesterday')"),
        (chat(id=None), "request_id missing"),
        (generation(native_tokens_prompt=-1), "prompt_tokens is negative (-1)"),
    ],
)
def test_malformed_and_partial_lines_are_rejected_with_a_reason(line, reason):
    assert one("openrouter", line)["reason"] == reason


@pytest.mark.slow
def test_a_bad_attempt_is_rejected_alone_and_names_its_item():
    responses = [{"provider_name": "Anthropic", "status": 700}, {"provider_name": "Infermatic", "status": 200}]
    bad, good = adapt("openrouter", generation(provider_responses=responses))
    assert bad["reason"] == "http_status (700) is above 599" and bad["item"] == "attempt 1 of 2 (Anthropic)"
    valid(good)


def test_sniff():
    assert openrouter.sniff('{"id": "gen-1", "created": 1, "choices": []}')
    assert openrouter.sniff('{"error": {"code": 429, "message": "x"}}')
    # OpenRouter's `metadata` tells its error whatever a logger adds beside it; a bare integer code only in a small
    # body, and a code in text never (Azure's error bodies give theirs as text: `"code": "429"`)
    logged = {"id": "req-c", "created": 1747699200, "user_id": "u1", "x_trace": "t"}
    assert openrouter.sniff(json.dumps(logged | {"error": {"code": 400, "metadata": {"provider_name": "Anthropic"}}}))
    assert not openrouter.sniff(json.dumps(logged | {"error": {"code": 400, "message": "x"}}))
    assert not openrouter.sniff('{"error": {"code": "429", "message": "Requests exceeded the rate limit"}}')
    assert openrouter.sniff('{"data": {"id": "gen-1", "created_at": "2025-01-01T00:00:00Z"}}')
    assert not openrouter.sniff('{"request_id": "r", "created_at": "x", "status": "success"}')
    assert not openrouter.sniff("not json")


@pytest.mark.slow
def test_reasoning_counted_outside_completion_is_kept_and_flagged():
    """Some upstreams report reasoning tokens beside completion tokens rather than inside them."""
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "completion_tokens_details": {"reasoning_tokens": 9}}
    row = valid(one("openrouter", chat(usage=usage)))
    assert (row["completion_tokens"], row["reasoning_tokens"]) == (14, 9)
    assert row["quality_flags"] == ["reasoning_outside_completion"]
