"""Raw provider bodies: the rules the real-sample corpus (tests/fixtures/real/) does not pin down one by one.

Bodies follow the providers' API references (OpenAI Chat Completions and Responses `output` item types,
Anthropic Messages, Gemini generateContent, Azure OpenAI's content filter fields); the corpus holds recorded ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.adapters import detect, provider_bodies
from tests.adapter_support import adapt, one, valid
from tests.test_bulk import _ingest_both, _same_outcome

NAME = provider_bodies.NAME
WHEN = "2025-06-01T12:00:00Z"


def responses(*items: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1748779200,
        "status": "completed",
        "model": "gpt-5",
        "output": list(items),
        "usage": {"input_tokens": 10, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}},
    }
    return body | over


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("item", "calls"),
    [
        ({"type": "function_call", "status": "completed"}, 1),
        ({"type": "local_shell_call"}, 1),  # Codex: the caller runs the shell
        ({"type": "apply_patch_call"}, 1),
        ({"type": "computer_call"}, 1),
        ({"type": "shell_call", "environment": {"type": "local"}}, 1),
        ({"type": "shell_call", "environment": {"type": "container_auto"}}, 0),  # run in OpenAI's container
        ({"type": "tool_search_call", "execution": "client"}, 1),
        ({"type": "tool_search_call", "execution": "server"}, 0),
        ({"type": "web_search_call"}, 0),  # the provider ran it
        ({"type": "mcp_call"}, 0),
    ],
)
def test_responses_count_the_tools_the_caller_runs(item, calls):
    row = valid(one(NAME, responses({"type": "reasoning"}, item)))
    assert row["tool_calls"] == calls
    assert row["finish_reason"] == ("tool_calls" if calls else "stop")


def test_a_failed_response_made_no_tool_calls_to_count():
    error = {"code": "server_error", "message": "The model failed"}
    row = valid(one(NAME, responses(status="failed", error=error, usage=None)))
    assert (row["status"], row["tool_calls"], row["native_finish_reason"]) == ("error", None, None)
    assert valid(one(NAME, responses()))["tool_calls"] == 0  # a completed one with no call made none


@pytest.mark.slow
def test_an_azure_error_with_a_numeric_status_is_no_google_error():
    body = {"error": {"code": "content_filter", "status": 400, "param": "prompt", "innererror": {"code": "x"}}}
    row = valid(one(NAME, {"timestamp": WHEN, "request_id": "r1", "response": body}))
    assert (row["source_format"], row["http_status"], row["error_code"]) == ("openai-chat", 400, "content_filter")
    assert (row["status"], row["error_class"]) == ("error", "client_error")
    google = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}
    row = valid(one(NAME, {"timestamp": WHEN, "request_id": "r2", "response": google}))
    assert (row["source_format"], row["http_status"], row["error_class"]) == ("gemini", 429, "rate_limit")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("envelope", "error_class"),
    [
        (
            {"provider": "mistral", "status_code": 422, "response": {"object": "error", "type": "invalid_request"}},
            "client_error",
        ),
        ({"provider": "bedrock", "status_code": 429, "response": {"message": "Too many requests"}}, "rate_limit"),
    ],
)
def test_flat_error_bodies_under_an_http_error_are_errors(envelope, error_class):
    row = valid(one(NAME, {"timestamp": WHEN, "request_id": "r", **envelope}))
    assert (row["status"], row["error_class"], row["operation"]) == ("error", error_class, "chat")


@pytest.mark.parametrize("status", [429, "429", " 429 ", 429.0, "4.29e2"])
def test_a_flat_error_alone_in_its_file_is_told_by_its_status_however_spelled(status):
    line = json.dumps(
        {"timestamp": WHEN, "request_id": "r", "provider": "bedrock", "status_code": status}
        | {"response": {"message": "Too many requests"}}
    )
    assert detect([line], "one.jsonl").name == NAME
    row = valid(one(NAME, line))
    assert (row["status"], row["http_status"], row["error_class"]) == ("error", 429, "rate_limit")


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("body", "provider"),
    [
        ({"prompt_filter_results": None, "choices": [{"content_filter_results": {}}]}, "azure"),
        ({"x_groq": {"id": "req_1"}}, "groq"),
        ({"system_fingerprint": "fp_ollama"}, "ollama"),
        ({"usage": {"prompt_tokens": 5, "completion_tokens": 1, "prompt_cache_hit_tokens": 4}}, "deepseek"),
        ({"model": "grok-3-mini"}, "xai"),  # a model id only one API uses, when nothing else says
        ({"model": "glm-4.7"}, "z-ai"),  # Z.ai's API names; an open model's name of size is anyone's
        ({"model": "glm-4.5-air"}, "z-ai"),
        ({"model": "glm-4-air-250414"}, "z-ai"),  # dated API ids too
        ({"model": "glm-4.1v-thinking-flashx"}, "z-ai"),
        ({"model": "glm-4-9b-chat"}, None),
        ({"time_info": {"queue_time": 0.04, "total_time": 0.05}, "model": "llama-3.3-70b"}, "cerebras"),
        ({"timings": {"prompt_n": 8, "predicted_n": 25}, "model": "gpt-oss-20b-mxfp4.gguf"}, "llama-cpp"),
        ({"model": "sonar-pro"}, "perplexity"),
        ({"metadata": {"timings": "on"}}, "openai"),  # a key named so below the body's top level is no marker
        # Claude's tool-use ids as Bedrock and Vertex write them, in an OpenAI-shaped body (a gateway's)
        ({"choices": [{"message": {"role": "assistant", "tool_calls": [{"id": "toolu_bdrk_01A"}]}}]}, "amazon-bedrock"),
        ({"choices": [{"message": {"role": "assistant", "tool_calls": [{"id": "toolu_vrtx_01A"}]}}]}, "google-vertex"),
        ({}, "openai"),  # the shape's company, last
        ({"model": "o4-mini"}, "openai"),
        ({"model": "llama-3.3-70b"}, None),  # another lab's model: some server speaking OpenAI's API, unknown
        ({"model": "kimi-k2-instruct"}, None),
        ({"model": "my-finetune"}, "openai"),  # a model no rule knows: the shape's company still
        ({"id": "gen-1", "provider": "Fireworks"}, "fireworks"),  # OpenRouter names its upstream
    ],
)
def test_a_bare_chat_body_says_who_served_it(body, provider):
    base = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1748779200, "model": "gpt-4o"}
    choices = [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}]
    merged = base | {"choices": choices} | body
    if "choices" in body:
        merged["choices"] = [choices[0] | body["choices"][0]]
    assert valid(one(NAME, merged))["provider"] == provider


def test_a_responses_body_echoes_its_tools_and_has_no_finish_reason_until_it_finishes():
    """The Responses API echoes the request's `tools` (offered, when the envelope logs none); a background call's
    `queued` and `in_progress` answers are not finished."""

    def body(status: str) -> dict[str, Any]:
        return {"id": "resp_1", "object": "response", "created_at": 1748779200, "model": "gpt-5", "status": status}

    queued, running, done = (
        body(s) | {"tools": tools, "output": []}
        for s, tools in (("queued", []), ("in_progress", [{"type": "web_search"}]), ("completed", None))
    )
    logged = {"timestamp": "2025-06-01T12:00:00Z", "request": {"tools": [{"type": "function"}] * 2}, "response": done}
    rows = [valid(row) for row in adapt(NAME, queued, running, done, logged)]
    assert [(r["native_finish_reason"], r["tools_offered"]) for r in rows] == [
        (None, 0),
        (None, 1),
        ("completed", None),
        ("completed", 2),
    ]


def test_claudes_tool_use_ids_name_the_platform_only_in_the_response_itself():
    """Vertex's and Bedrock's tool-use ids in the body's own tool calls say who served it; the same ids in the
    request's history (an earlier turn's calls), in a message's text or in a request's tool schema do not."""
    history = {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "toolu_vrtx_01X"}]}]}
    schema = {"model": "m", "tools": [{"type": "function", "function": {"parameters": {"timings": {}}}}]}

    def body(calls: list[str], content: str = "x") -> dict[str, Any]:
        message = {
            "role": "assistant",
            "content": content,
            "tool_calls": [{"id": c, "type": "function"} for c in calls],
        }
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1748779200, "model": "gpt-4o"} | {
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}]
        }

    lines = [
        {"timestamp": "2025-06-01T12:00:00Z", "request": history, "response": body([])},
        {"timestamp": "2025-06-01T12:00:00Z", "request": history, "response": body(["toolu_bdrk_01Y"])},
        {"timestamp": "2025-06-01T12:00:00Z", "response": body([], 'The call "toolu_bdrk_01ABC" failed.')},
        {"timestamp": "2025-06-01T12:00:00Z", "request": schema, "response": body([])},
    ]
    assert [valid(row)["provider"] for row in adapt(NAME, *lines)] == ["openai", "amazon-bedrock", "openai", "openai"]


@pytest.mark.slow
def test_anthropic_bodies_from_bedrock_and_vertex_and_the_model_id_deciding():
    def message(message_id: str, **envelope: Any) -> dict[str, Any]:
        body = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
        return {"timestamp": WHEN, "response": body, **envelope}

    assert valid(one(NAME, message("msg_bdrk_01")))["provider"] == "amazon-bedrock"
    assert valid(one(NAME, message("msg_vrtx_01")))["provider"] == "google-vertex"
    assert valid(one(NAME, message("msg_01")))["provider"] == "anthropic"
    bedrock_id = {"request": {"model": "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}}
    assert valid(one(NAME, message("msg_01", provider="anthropic", **bedrock_id)))["provider"] == "amazon-bedrock"


@pytest.mark.slow
def test_an_openrouter_responses_body_keeps_its_cost_and_is_not_taken_for_openai_by_its_shape():
    body = responses(
        id="gen-123", model="openai/gpt-oss-20b", usage={"input_tokens": 9, "output_tokens": 3, "cost": 0.002}
    )
    row = valid(one(NAME, body))
    # no shape default for a gen- body: only the model id's vendor prefix speaks (as for every format), so an
    # unprefixed model leaves the provider unknown
    assert (row["provider"], row["cost_usd"], row["operation"]) == ("openai", 0.002, "responses")
    unprefixed = valid(one(NAME, responses(id="gen-124", model="gpt-oss-20b")))
    assert unprefixed["provider"] is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("request_part", "offered"),
    [
        ({"model": "gpt-5", "tools": []}, 0),  # offered none: a known zero, not unknown
        ({"model": "gpt-5", "tools": [{"type": "function"}, {"type": "function"}]}, 2),
        ({"model": "gemini-2.5-pro", "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}]}, 2),
        ({"model": "gpt-5"}, None),  # the envelope does not say
        # Vertex's snake case, a tool that only mentions the name, a string, a name that is not a list
        (
            {
                "tools": [
                    {"function_declarations": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
                    {"type": "function", "function": {"name": "f", "description": "functionDeclarations"}},
                    "web_search",
                    {"functionDeclarations": "a"},
                ]
            },
            5,
        ),
        # a Gemini tool with no declarations (a Google Search tool) is one tool
        ({"tools": [{"functionDeclarations": None, "googleSearch": {}}, {"functionDeclarations": []}]}, 1),
    ],
)
def test_tools_offered_counts_the_request_tools_and_an_empty_list_is_zero(request_part, offered):
    line = {"timestamp": WHEN, "request_id": "r1", "request": request_part, "response": responses()}
    assert valid(one(NAME, line))["tools_offered"] == offered


def test_a_gemini_tool_whose_key_is_written_with_escapes_counts_its_functions():
    line = json.dumps({"timestamp": WHEN, "request_id": "r1", "request": {"tools": []}, "response": responses()})
    tools = r'[{"\u0066unctionDeclarations": [{"name": "a"}, {"name": "b"}]}, {"type": "function"}]'
    assert valid(one(NAME, line.replace('"tools": []', f'"tools": {tools}')))["tools_offered"] == 3


def test_the_form_of_a_file_of_envelopes_is_a_bulk_form_only():
    with pytest.raises(ValueError, match="bulk form"):
        provider_bodies.select_sql(("request_id",), envelopes=True)


def test_a_wire_logs_status_beside_the_response_is_the_http_status(tmp_path, monkeypatch):
    error = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    lines = [
        {"timestamp": WHEN, "request_id": "r1", "status": 429, "response": error},
        {"timestamp": WHEN, "request_id": "r2", "status": "ok", "response": responses()},  # not a status code
        responses(id="r3"),  # a bare Responses body's own status: never an HTTP status
    ]
    rows = [valid(one(NAME, line)) for line in lines]
    assert [row["http_status"] for row in rows] == [429, None, None]
    assert (rows[0]["status"], rows[0]["error_class"]) == ("error", "rate_limit")
    path = tmp_path / "wire.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines * 40) + "\n")
    _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))  # the whole-file reader reads it alike


def test_a_line_without_a_time_says_where_it_should_have_been():
    body = {"id": "msg_1", "type": "message", "model": "claude-haiku-4-5", "content": [], "stop_reason": "end_turn"}
    assert one(NAME, body)["reason"].startswith("no timestamp: a bare anthropic-messages body carries none")
    enveloped = one(NAME, {"request_id": "r1", "response": body})["reason"]
    assert enveloped == "no timestamp: the envelope has no timestamp and its anthropic-messages body carries none"


def test_a_wire_log_naming_its_request_and_status_is_read_as_provider_bodies():
    body = {"id": "c1", "object": "chat.completion", "created": 1748779200, "model": "gpt-4o-mini", "choices": []}
    lines = [
        json.dumps({"timestamp": WHEN, "request_id": f"r{i}", "provider": "openai", "status": 200, "response": body})
        for i in range(5)
    ]
    assert detect(iter(lines), "wire.jsonl").name == NAME  # not canonical, though it has request_id and status
    spelled = {"timestamp": WHEN, "status_code": None, "status": 429.0, "response": {"message": "Too many requests"}}
    assert provider_bodies.sniff(json.dumps(spelled))
    row = valid(one(NAME, spelled | {"provider": "amazon-bedrock"}))
    assert (row["http_status"], row["error_class"]) == (429, "rate_limit")


def test_a_choices_content_filter_results_tell_azure():
    body = {"id": "c1", "object": "chat.completion", "created": 1748779200, "model": "gpt-4o-mini"}
    body["choices"] = [{"finish_reason": "stop", "message": {"content": "Hi"}}]
    assert one(NAME, {"timestamp": WHEN, "response": body})["provider"] == "openai"
    body["choices"][0]["content_filter_results"] = {"hate": {"filtered": False}}
    assert one(NAME, {"timestamp": WHEN, "response": body})["provider"] == "azure"


def test_empty_strings_and_zeros_a_server_fills_unset_fields_with_say_nothing():
    """Snowflake Cortex writes every unset field: `"id": ""`, `"finish_reason": ""`, an empty `function_call`."""
    message = {"role": "assistant", "content": "", "function_call": {"name": "", "arguments": ""}}
    message["tool_calls"] = [{"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    body = {"id": "", "object": "chat.completion", "created": 1748779200, "model": "claude-sonnet-4-6"}
    body["choices"] = [{"index": 0, "finish_reason": "", "message": message}]
    row = valid(one(NAME, {"provider": "", "request_id": "", "timestamp": WHEN, "response": body}))
    assert row["request_id"].startswith("body-") and row["provider_native"] is None
    assert (row["tool_calls"], row["finish_reason"]) == (1, "tool_calls")


def test_a_gemini_prompt_blocked_made_no_tool_call():
    body = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 12}}
    row = valid(one(NAME, {"timestamp": WHEN, "request_id": "g1", "response": body}))
    assert (row["status"], row["finish_reason"], row["tool_calls"]) == ("success", "content_filter", 0)
