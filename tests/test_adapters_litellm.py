"""LiteLLM adapter: StandardLoggingPayload lines as the GCS/S3 bucket loggers write them.

`success_payload` is LiteLLM's own GCS bucket logger test fixture (`mock_response_data` in BerriAI/litellm's
GCS bucket tests: ids, times, metadata, `end_user: ""`, `error_information` of empty strings, the nested
`response`), keys as in `litellm/types/utils.py` `StandardLoggingPayload`. The failure payload follows the
same TypedDict with `status: "failure"`, `error_str` and `error_information {error_code, error_class,
llm_provider, traceback, error_message}` as LiteLLM fills them for an exception.

`ROW` is a `LiteLLM_SpendLogs` row as LiteLLM's own spend-logs test expects the proxy to write it
(`test_spend_logs_payload_success_log_with_router` in BerriAI/litellm's
`tests/test_litellm/proxy/spend_tracking/test_spend_management_endpoints.py`), times as the Pub/Sub logger publishes
them (`json.dumps(..., default=str)`); `metadata` is the JSON string `SpendLogsPayload` holds, shortened to the keys
read. Its failures follow `metadata.status` and `metadata.error_information` as the proxy's failure hook writes them
(LiteLLM PRs #37365, #37520: `Timeout` 408, `BadRequestError` 400, `ProxyException` 401 with every attribution field
empty).

(Long on purpose: LiteLLM's own payloads are kept whole at the top, so each case reads against the real shape.)
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.adapters import BY_NAME, canonical, detect, litellm
from tests.adapter_support import adapt, one, valid

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


# SpendLogs rows (LiteLLM_SpendLogs / SpendLogsPayload)

ROW_METADATA: dict[str, Any] = {
    "applied_guardrails": [],
    "usage_object": {
        "completion_tokens": 503,
        "prompt_tokens": 2095,
        "total_tokens": 2598,
        "completion_tokens_details": None,
        "prompt_tokens_details": {"audio_tokens": None, "cached_tokens": 0},
    },
    "additional_usage_values": {"completion_tokens_details": None, "prompt_tokens_details": {"cached_tokens": 0}},
}
ROW: dict[str, Any] = {
    "request_id": "chatcmpl-34df56d5-4807-45c1-bb99-61e52586b802",
    "call_type": "acompletion",
    "api_key": "",
    "cache_hit": "None",
    "startTime": "2025-03-24 22:02:42.975883+00:00",
    "endTime": "2025-03-24 22:02:42.989132+00:00",
    "completionStartTime": "2025-03-24 22:02:42.989132+00:00",
    "model": "claude-3-7-sonnet-20250219",
    "user": "",
    "team_id": "",
    "metadata": json.dumps(ROW_METADATA),
    "cache_key": "Cache OFF",
    "spend": 0.01383,
    "total_tokens": 2598,
    "prompt_tokens": 2095,
    "completion_tokens": 503,
    "request_tags": "[]",
    "end_user": "test_user_1",
    "api_base": "https://api.anthropic.com/v1/messages",
    "model_group": "my-anthropic-model-group",
    "model_id": "my-unique-model-id",
    "requester_ip_address": None,
    "custom_llm_provider": "anthropic",
    "messages": "{}",
    "response": "{}",
    "proxy_server_request": "{}",
    "status": "success",
    "mcp_namespaced_tool_name": None,
    "agent_id": None,
}


def row(metadata: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    body = copy.deepcopy(ROW)
    if metadata is not None:
        body["metadata"] = json.dumps(metadata)
    body.update(over)
    return body


def failed_row(code: str, error_class: str, provider: str = "anthropic", **over: Any) -> dict[str, Any]:
    """A failure as the proxy's failure hook writes it: status in the column and in metadata, error information in
    metadata, no spend, tokens 0."""
    error_information = {
        "error_code": code,
        "error_class": error_class,
        "llm_provider": provider,
        "traceback": "Traceback (most recent call last): ...",
        "error_message": f"litellm.{error_class}: ...",
    }
    return row(
        metadata={"status": "failure", "error_information": error_information},
        **{
            "status": "failure",
            "spend": 0.0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "endTime": ROW["startTime"],
            "completionStartTime": ROW["startTime"],
            **over,
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


@pytest.mark.slow
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


@pytest.mark.fast_cases(1)
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
@pytest.mark.parametrize("build", [failure, failed_row], ids=["payload", "spendlogs-row"])
def test_failures_are_error_attempts_with_their_class(build, code, error_class, expected):
    row = valid(one("litellm", build(code, error_class)))
    assert (row["status"], row["error_code"], row["error_class"]) == ("error", error_class, expected)
    assert row["http_status"] == (int(code) if code else None)
    assert (row["provider"], row["finish_reason"], row["tool_calls"]) == ("anthropic", None, None)


@pytest.mark.slow
def test_provider_ids_from_custom_llm_provider():
    for native, provider in [("vertex_ai", "google-vertex"), ("bedrock", "amazon-bedrock"), ("azure_ai", "azure")]:
        assert valid(one("litellm", payload(custom_llm_provider=native)))["provider"] == provider


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_first_token_after_the_last_byte_is_kept_and_flagged():
    row = valid(one("litellm", payload(completionStartTime=1739235380.9)))
    assert row["ttft_ms"] > row["latency_ms"]
    assert row["quality_flags"] == ["ttft_exceeds_latency"]


def test_sniff():
    assert litellm.sniff(json.dumps(SUCCESS))
    assert not litellm.sniff('{"request_id": "r", "created_at": "x", "status": "success"}')
    assert not litellm.sniff('{"id": "gen-1", "created": 1, "choices": []}')


@pytest.mark.slow
@pytest.mark.parametrize("build", [failure, failed_row], ids=["payload", "spendlogs-row"])
def test_a_cancelled_call_is_a_cancellation_not_an_error(build):
    """LiteLLM logs a call the client abandoned as a failure whose class is asyncio's CancelledError."""
    row = valid(one("litellm", build("", "CancelledError")))
    assert (row["status"], row["error_class"], row["http_status"]) == ("cancelled", "none", None)


def test_spendlogs_row_maps_every_field():
    got = valid(one("litellm", ROW))
    assert got["source_format"] == "litellm-spendlogs"
    assert (got["request_id"], got["attempt"]) == ("chatcmpl-34df56d5-4807-45c1-bb99-61e52586b802", 1)
    assert got["created_at"] == datetime(2025, 3, 24, 22, 2, 42, 975883, tzinfo=UTC)
    assert got["latency_ms"] == pytest.approx(13.249)
    assert got["ttft_ms"] is None  # completionStartTime = endTime: no first token measured
    assert (got["model_requested"], got["model"]) == ("my-anthropic-model-group", "claude-3-7-sonnet-20250219")
    assert (got["provider"], got["provider_native"]) == ("anthropic", "anthropic")
    assert (got["status"], got["http_status"], got["error_code"], got["error_class"]) == ("success", None, None, "none")
    assert (got["prompt_tokens"], got["completion_tokens"]) == (2095, 503)
    assert (got["reasoning_tokens"], got["cached_prompt_tokens"]) == (None, 0)
    assert (got["cost_usd"], got["operation"]) == (pytest.approx(0.01383), "chat")
    # the row keeps no response: nothing about how it finished, tools or streaming
    assert [got[k] for k in ("finish_reason", "native_finish_reason", "tool_calls", "tools_offered", "streamed")] == [
        None
    ] * 5
    assert got["user_hash"] is not None and got["app_id"] is None


@pytest.mark.slow
def test_spendlogs_numbers_as_strings_and_metadata_as_an_object_read_alike():
    """A table exported through a tool that quotes numbers, with `metadata` as the JSON object Postgres holds."""
    as_text = row(spend="0.01383", prompt_tokens="2095", completion_tokens="503", total_tokens="2598")
    as_text["metadata"] = ROW_METADATA
    columns = ("cost_usd", "prompt_tokens", "completion_tokens", "cached_prompt_tokens", "status", "source_format")
    assert {c: valid(one("litellm", as_text))[c] for c in columns} == {
        c: valid(one("litellm", ROW))[c] for c in columns
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("completion_start", "ttft"),
    [
        (None, None),  # not written (older rows, some failure paths)
        (ROW["endTime"], None),  # LiteLLM's default when no first token was measured
        ("2025-03-24 22:02:42.980883+00:00", 5.0),  # a first chunk before the end: a time to first token
    ],
)
def test_spendlogs_ttft_only_from_a_first_token_time_of_its_own(completion_start, ttft):
    got = valid(one("litellm", row(completionStartTime=completion_start)))
    assert got["ttft_ms"] == (None if ttft is None else pytest.approx(ttft))
    assert got["latency_ms"] == pytest.approx(13.249)


@pytest.mark.slow
def test_spendlogs_naive_times_of_older_rows_are_utc():
    """The 2024 shape (the GCS bucket logger's, and a Postgres `timestamp(3)` export): ISO text without offset, no
    status anywhere, no custom_llm_provider, the response as an `output` list that is not read."""
    older = {
        "request_id": "chatcmpl-3946ddc2-bcfe-43f6-9b8e-2427951de85c",
        "call_type": "acompletion",
        "api_key": "",
        "cache_hit": "None",
        "startTime": "2024-08-01T14:27:12.563246",
        "endTime": "2024-08-01T14:27:12.572709",
        "completionStartTime": "2024-08-01T14:27:12.572709",
        "model": "gpt-3.5-turbo",
        "user": "",
        "team_id": "",
        "metadata": "{}",
        "cache_key": "Cache OFF",
        "spend": 0.000054999999999999995,
        "total_tokens": 30,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "request_tags": "[]",
        "end_user": "ishaan-2",
        "api_base": "",
        "model_group": "",
        "model_id": "",
        "requester_ip_address": None,
        "output": ['{"finish_reason":"stop","index":0,"message":{"content":"Hi!","role":"assistant"}}'],
    }
    got = valid(one("litellm", older))
    assert got["created_at"] == datetime(2024, 8, 1, 14, 27, 12, 563246, tzinfo=UTC)
    assert (got["status"], got["model_requested"]) == ("success", "gpt-3.5-turbo")
    assert got["provider"] is None  # no custom_llm_provider, no api_base: a LiteLLM deployment of any company
    assert (got["latency_ms"], got["ttft_ms"], got["finish_reason"]) == (pytest.approx(9.463), None, None)
    assert got["source_format"] == "litellm-spendlogs"
    assert valid(one("litellm", dict(older, startTime="2025-06-23T06:55:47.49")))["created_at"] == datetime(
        2025, 6, 23, 6, 55, 47, 490000, tzinfo=UTC
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "metadata_status", "expected"),
    [
        (None, "failure", "error"),  # rows from before the status column: the status is in metadata
        (None, "success", "success"),
        (None, None, "success"),  # rows from before failures were logged to SpendLogs
        ("failure", "failure", "error"),
        ("success", None, "success"),  # current rows: metadata.status null, the column says
    ],
)
def test_spendlogs_status_from_the_column_else_metadata(status, metadata_status, expected):
    failed = failed_row("429", "RateLimitError")
    metadata = json.loads(failed["metadata"])
    metadata["status"] = metadata_status
    if metadata_status != "failure":
        metadata["error_information"] = None
    line = dict(failed, metadata=json.dumps(metadata), status=status)
    if status is None:
        del line["status"]
    got = valid(one("litellm", line))
    assert got["status"] == expected
    assert got["error_class"] == ("rate_limit" if expected == "error" else "none")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "error_class"), [("401", "ProxyException"), ("429", "BudgetExceededError"), ("", "ProxyException")]
)
def test_spendlogs_proxy_side_failures_are_the_gateways(code, error_class):
    """Rejected at the proxy's own auth or budget check: no deployment chosen, every attribution field empty."""
    line = failed_row(
        code, error_class, provider="", model_id="", model_group="", api_base="", custom_llm_provider="", call_type=""
    )
    got = valid(one("litellm", line))
    assert (got["status"], got["error_class"], got["error_code"]) == ("error", "gateway", error_class)
    assert (got["provider"], got["operation"]) == (None, "chat")  # call_type "": not said


@pytest.mark.slow
def test_spendlogs_user_and_app():
    by_end_user = valid(one("litellm", row()))
    by_user = valid(one("litellm", row(end_user="", user="test_user_1")))
    assert by_end_user["user_hash"] == by_user["user_hash"] is not None
    assert valid(one("litellm", row(end_user="", user="")))["user_hash"] is None
    assert valid(one("litellm", row(team_id="team-42")))["app_id"] == "team-42"
    aliased = dict(ROW_METADATA, user_api_key_team_alias="checkout-agents", user_api_key_alias="ci-key")
    assert valid(one("litellm", row(metadata=aliased, team_id="team-42")))["app_id"] == "checkout-agents"


@pytest.mark.slow
def test_spendlogs_reasoning_and_cached_tokens_from_the_usage_in_metadata():
    usage = {
        "completion_tokens_details": {"reasoning_tokens": 640},
        "prompt_tokens_details": {"cached_tokens": 1536},
    }
    got = valid(one("litellm", row(metadata={"usage_object": usage})))
    assert (got["reasoning_tokens"], got["cached_prompt_tokens"]) == (640, 1536)
    older = valid(one("litellm", row(metadata={"additional_usage_values": usage})))
    assert (older["reasoning_tokens"], older["cached_prompt_tokens"]) == (640, 1536)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (row(request_id=None), "request_id missing"),
        (row(startTime="soon"), "created_at is not an ISO 8601 timestamp ('soon')"),
        (row(status="pending"), "status 'pending' is not one of success|error|cancelled"),
        (row(spend="free"), "cost_usd"),
        (dict(ROW, metadata="{not json"), None),  # metadata unreadable: read without it
    ],
)
def test_spendlogs_malformed_rows(line, reason):
    got = one("litellm", line)
    if reason is None:
        assert valid(got)["status"] == "success"
    else:
        assert got["reason"] and reason in got["reason"]


@pytest.mark.slow
def test_sniffs_do_not_steal_each_others_lines():
    """Both LiteLLM shapes are litellm's (told apart per line); canonical lines are canonical's, and a SpendLogs
    row, which has canonical's request_id and status, is not."""
    for line in (ROW, SUCCESS, failed_row("401", "ProxyException")):
        assert litellm.sniff(json.dumps(line))
        assert not canonical.sniff(json.dumps(line))
    canonical_line = '{"request_id": "r", "created_at": "2025-01-01T00:00:00Z", "status": "success"}'
    assert canonical.sniff(canonical_line) and not litellm.sniff(canonical_line)
    assert detect([json.dumps(ROW)] * 3, "rows.jsonl").name == "litellm"


@pytest.mark.slow
def test_a_file_mixing_payloads_and_rows_reads_each_line_in_its_shape():
    """A Pub/Sub subscription across LiteLLM's switch from SpendLogs rows to payloads holds both."""
    rows = adapt("litellm", ROW, SUCCESS, failed_row("429", "RateLimitError"))
    assert [r["reason"] for r in rows] == [None, None, None]
    assert [r["source_format"] for r in rows] == ["litellm-spendlogs", "litellm", "litellm-spendlogs"]
    assert [r["request_id"] for r in rows] == [ROW["request_id"], SUCCESS["id"], ROW["request_id"]]


#: What a proxy that stores prompts (`store_prompts_in_spend_logs`) keeps in a row: the payload's `response` and the
#: request body, each as JSON text (`_get_response_for_spend_logs_payload`: `json.dumps(payload["response"])`;
#: `proxy_server_request` likewise); a Postgres export of the `Json` columns may hold the objects themselves.
STORED_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-34df56d5-4807-45c1-bb99-61e52586b802",
    "created": 1742853762,
    "model": "claude-3-7-sonnet-20250219",
    "object": "chat.completion",
    "choices": [
        {
            "finish_reason": "tool_calls",
            "index": 0,
            "message": {
                "content": "I'll look both up.",
                "role": "assistant",
                "tool_calls": [
                    {"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                    {"id": "toolu_02", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                ],
            },
        }
    ],
    "usage": {"completion_tokens": 503, "prompt_tokens": 2095, "total_tokens": 2598},
}
STORED_REQUEST: dict[str, Any] = {
    "model": "my-anthropic-model-group",
    "messages": [{"role": "user", "content": "Weather and time in Paris?"}],
    "tools": [{"type": "function", "function": {"name": name}} for name in ("get_weather", "get_time", "search")],
    "stream": True,
}


def _stored(as_text: bool, **over: Any) -> dict[str, Any]:
    encode = json.dumps if as_text else copy.deepcopy
    return row(response=encode(STORED_RESPONSE), proxy_server_request=encode(STORED_REQUEST), **over)


def _forms(*lines: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The rows of `lines` by the registered form (a file of payloads) and by the form of a file of rows."""
    rows_form = litellm.configure([json.dumps(ROW)])
    return [adapt("litellm", *lines), adapt("litellm", *lines, adapter=rows_form)]


def one_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    [only] = rows
    return only


@pytest.mark.parametrize("as_text", [True, False], ids=["as-published", "objects"])
def test_a_row_that_stores_its_response_and_request_says_how_it_finished(as_text):
    """The row's own columns as before; from its response: the served model, the finish reason and the tool calls;
    from its request: the tools offered and the stream flag. No text of either is kept."""
    for got in _forms(_stored(as_text)):
        got = valid(one_of(got))
        assert (got["model_requested"], got["model"]) == ("my-anthropic-model-group", "claude-3-7-sonnet-20250219")
        assert (got["finish_reason"], got["native_finish_reason"], got["tool_calls"]) == ("tool_calls", "tool_calls", 2)
        assert (got["tools_offered"], got["streamed"]) == (3, True)
        assert (got["prompt_tokens"], got["completion_tokens"], got["cost_usd"]) == (2095, 503, pytest.approx(0.01383))
        assert not any("Paris" in str(value) or "look both" in str(value) for value in got.values())


def test_a_row_that_stores_nothing_reads_alike_in_both_forms():
    payload_form, rows_form = _forms(ROW, failed_row("429", "RateLimitError"), SUCCESS)
    assert payload_form == rows_form
    assert [r["finish_reason"] for r in payload_form[:2]] == [None, None]


def test_rows_of_early_2024_give_their_tokens_from_usage():
    """The first SpendLogs rows (LiteLLM PR #1498's table; PR #1575 shows one through `/spend/logs`) held the
    tokens in a `usage` object and the response as a string of JSON, with no status or provider columns."""
    early = {
        "request_id": "chatcmpl-6dcb2540-d3d7-4e49-bb27-291f863f112e",
        "call_type": "acompletion",
        "api_key": "51**",
        "spend": 7.25e-05,
        "startTime": "2024-01-18T18:07:54.071000Z",
        "endTime": "2024-01-18T18:07:55.510000Z",
        "model": "cohere.command-text-v14",
        "user": "litellm-is-awesome-user",
        "modelParameters": {},
        "messages": [{"role": "user", "content": "what llm are you-444"}],
        "response": json.dumps(
            {
                "id": "chatcmpl-6dcb2540-d3d7-4e49-bb27-291f863f112e",
                "choices": [{"finish_reason": "stop", "index": 0, "message": {"content": "I am", "role": "assistant"}}],
                "created": 1705630075,
                "model": "cohere.command-text-v14",
                "object": "chat.completion",
                "usage": {"prompt_tokens": 7, "completion_tokens": 31, "total_tokens": 38},
            }
        ),
        "usage": {"total_tokens": 38, "prompt_tokens": 7, "completion_tokens": 31},
        "metadata": {"headers": {"host": "0.0.0.0:8000"}},
        "cache_hit": "",
    }
    for got in _forms(early):
        got = valid(one_of(got))
        assert (got["source_format"], got["status"], got["model"]) == ("litellm-spendlogs", "success", early["model"])
        assert (got["prompt_tokens"], got["completion_tokens"], got["finish_reason"]) == (7, 31, "stop")
        assert got["latency_ms"] == pytest.approx(1439.0)
    no_response = dict(early, response="{}")  # the tokens are the row's, not only its stored response's
    assert [valid(one_of(got))["prompt_tokens"] for got in _forms(no_response)] == [7, 7]
    as_text = dict(no_response, usage=json.dumps(early["usage"]))  # a `Json` column written as its text
    assert [valid(one_of(got))["completion_tokens"] for got in _forms(as_text)] == [31, 31]


def test_a_file_takes_the_form_of_rows_when_most_of_its_first_lines_are_rows():
    rows_form = litellm.configure([json.dumps(ROW), json.dumps(ROW), json.dumps(SUCCESS), "not json"])
    assert rows_form.name == "litellm" and rows_form.bulk_columns != BY_NAME["litellm"].bulk_columns
    assert litellm.configure([json.dumps(ROW), json.dumps(SUCCESS)]) is BY_NAME["litellm"]
    assert litellm.configure([]) is BY_NAME["litellm"]
    assert detect([json.dumps(ROW)] * 3, "rows.jsonl") == rows_form


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (1739235379683, 1739235379845),  # epoch milliseconds
        ("2025-02-11T00:56:19.683053Z", 1739235379.84533),  # the two times spelled differently
        ("1739235379683053", "2025-02-11 00:56:19.84533+00:00"),
    ],
)
def test_times_in_other_units_or_spellings_give_the_same_start_and_latency(start, end):
    got = valid(one("litellm", payload(startTime=start, endTime=end, completionStartTime=end)))
    assert got["created_at"].replace(microsecond=0) == datetime(2025, 2, 11, 0, 56, 19, tzinfo=UTC)
    assert got["latency_ms"] == pytest.approx(162.277, abs=0.5)


@pytest.mark.parametrize("status", ["SUCCESS", "Success", "FAILURE"])
def test_a_status_in_other_letters_is_read_alike(status):
    got, lower = (valid(one("litellm", payload(status=spelled))) for spelled in (status, status.lower()))
    assert got == lower and got["status"] in {"success", "error", "cancelled"}
    failed = row(status=status, metadata={"status": "failure"})  # a SpendLogs row's column
    assert valid(one("litellm", failed)) == valid(one("litellm", row(status=status.lower(), metadata={})))


def test_a_row_whose_first_token_is_its_end_spelled_otherwise_has_no_time_to_first_token():
    got = valid(one("litellm", row(completionStartTime="2025-03-24T22:02:42.989132Z")))
    assert got["ttft_ms"] is None


def test_the_latency_of_two_epoch_seconds_is_their_difference_as_logged():
    """Not rounded to the microsecond first: the value the records of earlier versions hold, bit for bit (a stored
    record read again from another file is a duplicate, not one with other content)."""
    got = valid(one("litellm", payload()))
    assert got["latency_ms"] == (SUCCESS["endTime"] - SUCCESS["startTime"]) * 1000


def test_a_payload_keeps_its_token_details_in_metadata_where_its_response_has_no_usage():
    details = {"prompt_tokens_details": {"cached_tokens": 5}, "completion_tokens_details": {"reasoning_tokens": 3}}
    body = payload(metadata=dict(SUCCESS["metadata"], usage_object=details))
    body["response"] = {k: v for k, v in body["response"].items() if k != "usage"}
    row = valid(one("litellm", body))
    assert (row["cached_prompt_tokens"], row["reasoning_tokens"]) == (5, 3)


@pytest.mark.parametrize(
    ("error_str", "code", "error_class"),
    [
        ("RateLimitError: slow down", "RateLimitError", "rate_limit"),
        ("litellm.BadRequestError: AnthropicException - bad", "litellm.BadRequestError", "client_error"),
        ("something broke", None, "server_error"),
    ],
)
def test_a_failure_without_error_information_is_named_by_its_error_string(error_str, code, error_class):
    body = payload(status="failure", error_str=error_str, error_information=None, response=None)
    row = valid(one("litellm", body))
    assert (row["status"], row["error_code"], row["error_class"]) == ("error", code, error_class)
