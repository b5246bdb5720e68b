"""OpenTelemetry GenAI adapter: OTLP/JSON trace exports, one ExportTraceServiceRequest per line.

The envelope follows opentelemetry-proto `examples/trace.json` (resourceSpans -> resource.attributes,
scopeSpans -> scope, spans with hex ids, `startTimeUnixNano` written as a JSON number there) and the JSON
Protobuf Encoding of `docs/specification.md` (64-bit integers as decimal strings, `intValue` as a string,
`arrayValue.values`, enum `status.code` as an integer). GenAI attribute names and values come from
semantic-conventions-genai `model/gen-ai/registry.yaml` (`gen_ai.provider.name` members such as `openai`,
`aws.bedrock`, `gcp.vertex_ai`, `azure.ai.openai`; `gen_ai.usage.reasoning.output_tokens`,
`gen_ai.usage.cache_read.input_tokens`; operation names `chat`, `execute_tool`, `invoke_agent`, ...).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.adapters import otel
from tests.adapter_support import adapt, one, valid
from tests.test_bulk import _ingest_both, _same_outcome

TRACE = "5b8efff798038103d269b633813fc60c"
START = 1748779200000000000  # 2025-06-01T12:00:00Z


def attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}  # int64 as a decimal string
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def span(span_id: str, attributes: dict[str, Any], status: dict[str, Any] | None = None, **over: Any) -> dict:
    body = {
        "traceId": TRACE,
        "spanId": span_id,
        "parentSpanId": "eee19b7ec3c1b173",
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(START + 2_400_000_000),
        "attributes": [attr(k, v) for k, v in attributes.items()],
        "events": [{"timeUnixNano": str(START + 1), "name": "gen_ai.client.inference.operation.details"}],
        "status": status or {},
    }
    body.update(over)
    return body


def export(*spans: dict[str, Any], service: str = "travel-agent") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", service), attr("telemetry.sdk.language", "python")]},
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"},
                        "spans": list(spans),
                    }
                ],
            }
        ]
    }


CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.id": "chatcmpl-AEGz4hSR1xqFbEHS7qfQOmUN7ay9D",
    "gen_ai.response.finish_reasons": ["tool_call"],
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.reasoning.output_tokens": 120,
    "gen_ai.usage.cache_read.input_tokens": 200,
    "gen_ai.request.stream": True,
    "gen_ai.response.time_to_first_chunk": 0.45,
    "server.address": "api.openai.com",
    "server.port": 443,
}


def test_chat_span_maps_every_field():
    row = valid(one("otel", export(span("eee19b7ec3c1b174", CHAT))))
    assert (row["request_id"], row["attempt"]) == (f"{TRACE}/eee19b7ec3c1b174", 1)
    assert row["created_at"] == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert (row["latency_ms"], row["ttft_ms"]) == (2400.0, 450.0)
    assert row["app_id"] == "travel-agent"
    assert (row["model_requested"], row["model"]) == ("gpt-4o", "gpt-4o-2024-08-06")
    assert (row["provider"], row["provider_native"], row["status"], row["error_class"]) == (
        "openai",
        "openai",
        "success",
        "none",
    )
    assert (row["finish_reason"], row["native_finish_reason"]) == ("tool_calls", "tool_call")
    assert (row["prompt_tokens"], row["completion_tokens"], row["reasoning_tokens"], row["cached_prompt_tokens"]) == (
        1200,
        300,
        120,
        200,
    )
    assert row["streamed"] is True
    assert (row["cost_usd"], row["tool_calls"], row["tools_offered"]) == (None, None, None)  # not in spans
    assert row["item"] == "span 1 (chat gpt-4o)"


@pytest.mark.slow
def test_one_line_many_spans_only_model_calls_are_records():
    agent = span("a0", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}, name="invoke_agent")
    first = span("a1", CHAT)
    tool = span("a2", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"})
    http = span("a3", {"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat/completions"})
    second = span("a4", dict(CHAT, **{"gen_ai.response.finish_reasons": ["stop"]}))
    rows = adapt("otel", export(agent, first, tool, http, second))
    assert [(r["source_line"], r["request_id"].split("/")[1], r["finish_reason"]) for r in rows] == [
        (1, "a1", "tool_calls"),
        (1, "a4", "stop"),
    ]
    assert [r["item"] for r in rows] == ["span 2 (chat gpt-4o)", "span 5 (chat gpt-4o)"]


@pytest.mark.slow
def test_export_without_a_model_call_is_ignored_with_its_reason():
    tool = span("b1", {"gen_ai.operation.name": "execute_tool"})
    http = span("b2", {"http.request.method": "GET"})
    [row] = adapt("otel", export(tool, http))
    assert (row["ignored"], row["reason"]) == ("no GenAI model-call span among 2 span(s)", None)
    [empty] = adapt("otel", {"resourceSpans": []})
    assert empty["ignored"] == "no GenAI model-call span among 0 span(s)"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("native", "provider"),
    [
        ("aws.bedrock", "amazon-bedrock"),
        ("gcp.vertex_ai", "google-vertex"),
        ("gcp.gemini", "google-ai-studio"),
        ("azure.ai.openai", "azure"),
        ("anthropic", "anthropic"),
        ("x_ai", "xai"),
        ("mistral_ai", "mistral"),
        ("moonshot_ai", "moonshotai"),
        ("ibm.watsonx.ai", "ibm-watsonx"),
    ],
)
def test_provider_names_of_the_registry(native, provider):
    assert valid(one("otel", export(span("c1", dict(CHAT, **{"gen_ai.provider.name": native})))))["provider"] == (
        provider
    )


@pytest.mark.slow
def test_older_instrumentations_gen_ai_system_and_old_token_names():
    old = {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-3-5-sonnet-20241022",
        "gen_ai.usage.prompt_tokens": 50,
        "gen_ai.usage.completion_tokens": 20,
        "gen_ai.response.finish_reasons": ["end_turn"],
    }
    row = valid(one("otel", export(span("d1", old))))
    assert (row["provider"], row["prompt_tokens"], row["completion_tokens"], row["finish_reason"]) == (
        "anthropic",
        50,
        20,
        "stop",
    )


@pytest.mark.slow
@pytest.mark.parametrize("code", [2, "2", "STATUS_CODE_ERROR"])
def test_error_spans_in_every_status_encoding(code):
    failed = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "error.type": "ThrottlingException",
    }
    row = valid(one("otel", export(span("e1", failed, status={"code": code, "message": "Too many requests"}))))
    assert (row["status"], row["error_code"], row["error_class"], row["finish_reason"]) == (
        "error",
        "ThrottlingException",
        "rate_limit",
        None,
    )


@pytest.mark.slow
def test_http_status_and_qualified_exception_names():
    failed = dict(CHAT, **{"error.type": "openai.BadRequestError"})
    row = valid(one("otel", export(span("f1", failed, status={"code": 2}))))
    assert row["error_class"] == "client_error"  # by the exception's last name
    with_status = dict(failed, **{"http.response.status_code": 503})
    assert valid(one("otel", export(span("f2", with_status, status={"code": 2}))))["error_class"] == "server_error"
    ok = valid(one("otel", export(span("f3", CHAT, status={"code": 1}))))
    assert ok["status"] == "success"


@pytest.mark.slow
def test_integer_encodings_numbers_and_strings_both_read():
    numeric = span("g1", CHAT, startTimeUnixNano=START, endTimeUnixNano=START + 10**9)  # JSON numbers
    numeric["attributes"] = [
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 520}},  # a number, not the spec's string
        *[a for a in numeric["attributes"] if a["key"] != "gen_ai.usage.input_tokens"],
    ]
    row = valid(one("otel", export(numeric)))
    assert (row["prompt_tokens"], row["latency_ms"], row["created_at"]) == (
        520,
        1000.0,
        datetime(2025, 6, 1, 12, tzinfo=UTC),
    )


@pytest.mark.slow
def test_several_resources_and_scopes_number_spans_across_the_line():
    line = {
        "resourceSpans": [
            export(span("h1", CHAT), service="svc-a")["resourceSpans"][0],
            {
                "resource": {"attributes": [attr("service.name", "svc-b")]},
                "scopeSpans": [{"spans": [span("h2", {"db.system": "redis"})]}, {"spans": [span("h3", CHAT)]}],
            },
        ]
    }
    rows = adapt("otel", line)
    assert [(r["app_id"], r["item"]) for r in rows] == [
        ("svc-a", "span 1 (chat gpt-4o)"),
        ("svc-b", "span 3 (chat gpt-4o)"),
    ]


@pytest.mark.slow
def test_bad_spans_are_rejected_one_by_one_and_name_their_span():
    good = span("i1", CHAT)
    no_time = span("i2", CHAT, startTimeUnixNano=None)
    negative = span("i3", dict(CHAT, **{"gen_ai.usage.output_tokens": -1}))
    rows = adapt("otel", export(good, no_time, negative))
    assert [(r["item"], r["reason"]) for r in rows] == [
        ("span 1 (chat gpt-4o)", None),
        ("span 2 (chat gpt-4o)", "created_at missing"),
        ("span 3 (chat gpt-4o)", "completion_tokens is negative (-1)"),
    ]


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ({"resources": []}, "not an OTLP/JSON trace export (no resourceSpans)"),
    ],
)
def test_unreadable_lines_are_rejected(line, reason):
    assert one("otel", line)["reason"] == reason


def test_sniff():
    assert otel.sniff(json.dumps(export(span("j1", CHAT))))
    assert not otel.sniff('{"resourceLogs": []}')
    assert not otel.sniff('{"request_id": "r", "created_at": "x"}')


@pytest.mark.slow
@pytest.mark.parametrize("error_type", ["CancelledError", "asyncio.exceptions.CancelledError", "CANCELLED"])
def test_a_cancelled_call_is_a_cancellation_not_an_error(error_type):
    cancelled = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "error.type": error_type}
    row = valid(one("otel", export(span("c1", cancelled, status={"code": 2}))))
    assert (row["status"], row["error_class"]) == ("cancelled", "none")


@pytest.mark.slow
def test_a_call_like_span_wrapping_a_call_is_not_counted_twice():
    """Google ADK's `call_llm` span names a system and a model, and wraps the `generate_content` span of the same
    call: only the inner one is a record, whichever order the export lists them in."""
    wrapper = span("a1", {"gen_ai.system": "gcp.vertex.agent", "gen_ai.request.model": "gemini-2.5-flash"})
    inner = span(
        "a2",
        {
            "gen_ai.operation.name": "generate_content",
            "gen_ai.system": "gemini",
            "gen_ai.request.model": "gemini-2.5-flash",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 2,
        },
        parentSpanId="a1",
    )
    for spans in ((wrapper, inner), (inner, wrapper)):
        [row] = adapt("otel", export(*spans))
        assert valid(row)["request_id"].endswith("/a2")
        assert (row["provider"], row["prompt_tokens"]) == ("google-ai-studio", 10)
    alone = span("a3", {"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4"})
    [row] = adapt("otel", export(alone))
    assert valid(row)["provider"] == "anthropic"  # a span naming a provider and a model, with no call inside


@pytest.mark.slow
@pytest.mark.parametrize(
    ("error_type", "error_class"),
    [
        ("RuntimeError", "client_error"),
        ("KeyError", "client_error"),
        ("openai.RateLimitError", "rate_limit"),
        ("Whatever", "server_error"),
    ],
)
def test_an_exception_the_caller_raised_is_not_the_providers_fault(error_type, error_class):
    event = {
        "timeUnixNano": str(START + 5),
        "name": "exception",
        "attributes": [attr("exception.type", error_type), attr("exception.message", "x")],
    }
    failed = span(
        "e1",
        {k: v for k, v in CHAT.items() if k != "gen_ai.response.finish_reasons"},
        status={"code": 2},
        events=[event],
    )
    row = valid(one("otel", export(failed)))
    assert (row["status"], row["error_code"], row["error_class"]) == ("error", error_type, error_class)


def test_botocores_error_code_in_its_message_is_the_error_code():
    """botocore raises every service error as ClientError; the code the service gave is in the message alone."""
    message = "An error occurred (ThrottlingException) when calling the InvokeModel operation: Rate exceeded"
    event = {"name": "exception", "attributes": [attr("exception.type", "botocore.exceptions.ClientError")]}
    event["attributes"].append(attr("exception.message", message))
    attributes = {"gen_ai.system": "aws.bedrock", "gen_ai.request.model": "claude-v2:1", "error.type": "ClientError"}
    by_status = span("b1", attributes, status={"code": 2, "message": message})
    by_event = span("b2", attributes, status={"code": 2}, events=[event])
    by_event_beside_another_status = span(
        "b3", attributes, status={"code": 2, "message": "ClientError"}, events=[event]
    )
    without = span("b4", attributes, status={"code": 2, "message": "An error occurred"})
    rows = adapt("otel", export(by_status, by_event, by_event_beside_another_status, without))
    assert [(r["error_code"], r["error_class"]) for r in map(valid, rows)] == [
        *[("ThrottlingException", "rate_limit")] * 3,
        ("ClientError", "client_error"),
    ]


@pytest.mark.parametrize(
    ("read", "write", "prompt"),
    [
        (None, None, 4),
        (0, 18131, 18135),  # writes above the input: counted beside it, as the reads are
        (3, 100, 107),
        (1000, 5000, 6004),  # both above the input: both beside it, added together
        (1000, 1000, 2004),
        (18131, 0, 18135),  # reads above the input: the shared repair adds them (flagged)
        (10, 20, 30),  # neither above: the input holds them
    ],
)
def test_cache_tokens_counted_beside_the_input_are_added_to_the_prompt(read, write, prompt):
    usage = {"gen_ai.usage.input_tokens": 4 if prompt != 30 else 30, "gen_ai.usage.output_tokens": 9}
    if read is not None:
        usage["gen_ai.usage.cache_read.input_tokens"] = read
    if write is not None:
        usage["gen_ai.usage.cache_creation.input_tokens"] = write
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock"} | usage
    row = valid(one("otel", export(span("c1", attributes | {"gen_ai.request.model": "claude-3-5-haiku"}))))
    assert row["prompt_tokens"] == prompt


@pytest.mark.parametrize(
    ("attributes", "name", "provider", "streamed"),
    [
        # 'google' names the company; the endpoint called says which of its APIs (Semantic Kernel's spans)
        (
            {"gen_ai.system": "google", "server.address": "https://generativelanguage.googleapis.com/v1/x"},
            "chat gemini",
            "google-ai-studio",
            None,
        ),
        (
            {"gen_ai.system": "google", "server.address": "us-central1-aiplatform.googleapis.com"},
            "chat gemini",
            "google-vertex",
            None,
        ),
        # OpenInference: llm.provider google with llm.system vertexai; LlamaIndex names a stream's span for it
        ({"llm.provider": "google", "llm.system": "vertexai"}, "Vertex.astream_chat", "google-vertex", True),
        ({"llm.provider": "google", "llm.system": "google"}, "GoogleGenAI.chat", "google", None),
    ],
)
def test_a_span_says_which_google_api_served_and_whether_it_streamed(attributes, name, provider, streamed):
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gemini-2.5-flash"} | attributes
    row = valid(one("otel", export(span("g1", attributes, name=name))))
    assert (row["provider"], row["streamed"]) == (provider, streamed)


def test_a_spans_label_in_a_reason_never_quotes_a_message_written_where_the_model_goes():
    """A logger that put the request's messages in `gen_ai.request.model`: the span is refused, and the reason's
    label shows the length of what it refuses, not the text."""
    secret = "my SSN is 078-05-1120"
    model = json.dumps({"messages": [{"role": "user", "content": secret}]})
    [row] = adapt("otel", export(span("eee19b7ec3c1b174", CHAT | {"gen_ai.request.model": model})))
    assert row["reason"].startswith("model_requested is a JSON object or array, not text")
    assert secret not in row["reason"]
    assert row["item"] == f"span 1 (chat [{len(model)} chars not shown])" and secret not in row["item"]


@pytest.mark.parametrize(("finish", "native"), [("[]", None), ("[null]", None), ('[null, "stop"]', "stop")])
def test_a_finish_reasons_list_gives_its_first_reason_never_its_text(finish, native):
    row = valid(one("otel", export(span("eee19b7ec3c1b174", CHAT | {"gen_ai.response.finish_reasons": finish}))))
    assert row["native_finish_reason"] == native


def test_an_empty_operation_name_hides_no_other_mark_of_a_model_call():
    """`gen_ai.operation.name` "" says nothing: the Vercel AI SDK's `ai.operationId` still marks the model call."""
    attributes = {k: v for k, v in CHAT.items() if k != "gen_ai.operation.name"}
    attributes |= {"gen_ai.operation.name": "", "ai.operationId": "ai.generateText.doGenerate"}
    [row] = adapt("otel", export(span("eee19b7ec3c1b174", attributes)))
    assert row["ignored"] is None and row["reason"] is None


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("tools", "offered"),
    [
        ({"gen_ai.tool.definitions": json.dumps([{"type": "function", "name": "a"}, {"type": "web_search"}])}, 2),
        ({"ai.prompt.tools": [json.dumps({"type": "function", "name": "a"})] * 3}, 3),  # Vercel: a list of strings
        ({"ai.prompt.tools": json.dumps([{"name": "a"}])}, 1),  # ... or one string of a list
        ({"llm.tools.0.tool.json_schema": "{}", "llm.tools.1.tool.json_schema": "{}"}, 2),  # OpenInference
        ({"llm.request.functions.0.name": "a", "llm.request.functions.0.description": "d"}, 1),  # OpenLLMetry
        ({"gen_ai.tool.definitions": "[]"}, 0),  # a request that declared none
        ({"gen_ai.tool.definitions": json.dumps({"type": "function", "name": "a"})}, None),  # no list: not said
        ({}, None),  # the span says nothing of them: not 0
    ],
)
def test_the_tools_a_request_declared_are_counted_in_each_instrumentations_spelling(tools, offered):
    row = valid(one("otel", export(span("t1", dict(CHAT, **tools)))))
    assert row["tools_offered"] == offered


def test_the_sdks_default_service_name_names_no_application():
    row = valid(one("otel", export(span("u1", CHAT), service="unknown_service:python3")))
    assert row["app_id"] is None
    assert valid(one("otel", export(span("u2", CHAT), service="travel-agent")))["app_id"] == "travel-agent"


def test_openinference_and_openllmetry_spellings_of_stream_model_and_stop_reason():
    """OpenInference writes the request's parameters as one JSON object (the model asked for among them; Bedrock
    ConverseStream's stop reason as its only one) and names Bedrock's streaming spans for the call; OpenLLMetry
    writes an event per streamed chunk."""
    bedrock = {"openinference.span.kind": "LLM", "llm.model_name": "anthropic.claude-3-haiku-20240307-v1:0"}
    bedrock |= {"llm.provider": "aws", "llm.invocation_parameters": json.dumps({"stop_reason": "end_turn"})}
    row = valid(one("otel", export(span("b1", bedrock, name="bedrock.converse_stream"))))
    assert (row["streamed"], row["native_finish_reason"], row["finish_reason"]) == (True, "end_turn", "stop")
    portkey = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini-2024-07-18"}
    portkey["llm.invocation_parameters"] = json.dumps({"model": "gpt-4o-mini", "temperature": 0})
    row = valid(one("otel", export(span("p1", portkey, name="Completions"))))
    assert (row["model_requested"], row["model"], row["streamed"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", None)
    chunks = [{"timeUnixNano": str(START + k), "name": "llm.content.completion.chunk"} for k in range(3)]
    row = valid(one("otel", export(span("c1", {"llm.request.type": "chat", "gen_ai.system": "Cohere"}, events=chunks))))
    assert row["streamed"] is True


def test_log_and_metric_exports_beside_the_traces_are_ignored_by_both_paths(tmp_path, monkeypatch):
    """A collector's file exporter may write every signal to one file: a log or metric export holds no model call
    by design (the calls are the spans), so it is ignored with its reason, never quarantined."""
    logs = {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": [{"eventName": "e"}]}]}]}
    metrics = {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": []}]}
    profiles = {"resourceProfiles": []}
    spans = [export(span(f"s{n}", CHAT | {"gen_ai.response.id": f"r{n}"})) for n in range(3)]
    path = tmp_path / "all-signals.jsonl"
    lines = [*spans, logs, metrics, profiles, {"resourceOther": []}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    [entry] = _same_outcome(_ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert (entry["written"], entry["ignored"], entry["quarantined"]) == (3, 3, 1)


def test_the_application_named_on_the_span_is_the_app_where_the_resource_names_none():
    """OpenLIT writes its application's name on each span; the SDK's default resource names no application."""
    named = span("a1", CHAT | {"service.name": "support-bot"})
    defaulted = span("a2", CHAT | {"service.name": "unknown_service:python"})
    rows = adapt("otel", export(named, service="unknown_service"), export(defaulted, service="unknown_service"))
    rows += adapt("otel", export(span("a3", CHAT | {"service.name": "on-span"}), service="resource-app"))
    assert [valid(row)["app_id"] for row in rows] == ["support-bot", None, "resource-app"]


def test_the_ai_sdks_responses_flavour_is_the_responses_api_as_openllmetry_js_copies_it():
    """The Vercel AI SDK names the provider's API flavour (`openai.responses`); OpenLLMetry-JS copies it into
    gen_ai.system beside a `gen_ai.provider.name` of plain `openai`."""
    attributes = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
    flavoured = span(
        "r1", attributes | {"gen_ai.system": "openai.responses", "ai.operationId": "ai.generateText.doGenerate"}
    )
    plain = span("r2", attributes | {"gen_ai.system": "openai", "ai.operationId": "ai.generateText.doGenerate"})
    rows = adapt("otel", export(flavoured, plain))
    assert [(r["operation"], r["provider"]) for r in map(valid, rows)] == [("responses", "openai"), ("chat", "openai")]
