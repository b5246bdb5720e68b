"""Streamed responses logged as the stream itself: the envelope's `response` as SSE text or as a list of chunks.

A proxy that records the wire writes a streamed call's response as the text the provider sent, not as one body
(a published wire log in the corpus does). The line path assembles the body the API returns unstreamed
(`schemas.adapters._streams`) and maps it like any body; the bulk path sends such lines to it. The streams here
follow the APIs' documented event shapes; the real ones are in the corpus (`tests/fixtures/real/`).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from pipelines.lib.ingest import bulk
from pipelines.lib.transform import batch_sql, may_hold_stream
from schemas.adapters import BY_NAME, detect
from tests.adapter_support import adapt, one
from tests.conftest import stored
from tests.test_bulk import _ingest_both, _same_outcome
from tests.test_encoded_json import _recording

WHEN = "2025-06-01T12:00:00Z"


def sse(*chunks: dict[str, Any], events: bool = False, end: str = "\n", done: bool = True) -> str:
    """SSE text of `chunks`: each a `data:` line (after an `event:` line naming its type with `events`), events
    parted by a blank line, lines ended by `end`; OpenAI's `[DONE]` last unless `events` (or not `done`: a stream
    cut before its end)."""
    out = []
    for chunk in chunks:
        named = f"event: {chunk['type']}{end}" if events else ""
        out.append(f"{named}data: {json.dumps(chunk)}{end}{end}")
    return "".join(out) + ("" if events or not done else f"data: [DONE]{end}{end}")


def envelope(response: Any, **keys: Any) -> dict[str, Any]:
    return {"timestamp": WHEN, **keys, "response": response}


def _chat_chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1748779200, "model": "gpt-4o-mini"} | {
        "choices": choices,
        **top,
    }


def _call(index: int | None, call_id: str | None = None, arguments: str = "") -> dict[str, Any]:
    call: dict[str, Any] = {"function": {"arguments": arguments}}
    if index is not None:
        call["index"] = index
    if call_id is not None:
        call |= {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    return call


CHAT = [
    _chat_chunk({"role": "assistant", "content": None, "tool_calls": [_call(0, "call_a")]}),
    _chat_chunk({"tool_calls": [_call(0, arguments='{"city": "Paris"}')]}),
    _chat_chunk({"tool_calls": [_call(1, "call_b")]}),
    _chat_chunk({"tool_calls": [_call(1, arguments='{"city": "Rome"}')]}),
    _chat_chunk({}, "tool_calls"),
    _chat_chunk(usage={"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}),
]


def test_a_chat_stream_as_sse_text_reads_as_the_body_it_assembles():
    row = one("provider-bodies", envelope(sse(*CHAT), request={"model": "gpt-4o-mini", "stream": True}))
    assert row["source_format"] == "openai-chat" and row["status"] == "success"
    assert row["request_id"] == "chatcmpl-1" and row["model"] == "gpt-4o-mini" and row["provider"] == "openai"
    assert (row["finish_reason"], row["native_finish_reason"], row["tool_calls"]) == ("tool_calls", "tool_calls", 2)
    assert (row["prompt_tokens"], row["completion_tokens"], row["streamed"]) == (50, 20, True)


def test_claudes_vertex_tool_use_id_in_a_chat_stream_names_the_platform():
    """A gateway speaking OpenAI's API streams Claude's tool calls with Vertex's ids: the assembled body keeps them."""
    opened = _chat_chunk({"role": "assistant", "tool_calls": [_call(0, "toolu_vrtx_01A")]}, model="claude-sonnet-4-5")
    chunks = [opened, _chat_chunk({"tool_calls": [_call(0, arguments="{}")]}), _chat_chunk({}, "tool_calls")]
    row = one("provider-bodies", envelope(sse(*chunks)))
    assert (row["provider"], row["tool_calls"], row["finish_reason"]) == ("google-vertex", 1, "tool_calls")


def test_llama_cpps_timings_in_a_streams_last_chunk_name_the_server_as_sse_text_and_as_chunks():
    chunks = [*CHAT[:-1], _chat_chunk(usage=CHAT[-1]["usage"], timings={"prompt_n": 8, "predicted_n": 25})]
    for response in (sse(*chunks), chunks):
        assert one("provider-bodies", envelope(response))["provider"] == "llama-cpp"


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    "response",
    [
        CHAT,  # the chunks as a list
        sse(*CHAT, end="\r\n"),  # CRLF line ends
        ": OPENROUTER PROCESSING\n\n" + sse(*CHAT),  # a comment first
        "\n" + sse(*CHAT).replace("\n\n", "\n"),  # no blank lines between the events
    ],
    ids=["list", "crlf", "comment", "no-blank-lines"],
)
def test_every_way_of_logging_the_chunks_reads_alike(response):
    base = one("provider-bodies", envelope(sse(*CHAT)))
    row = one("provider-bodies", envelope(response))
    assert row == base


def test_a_stream_without_a_stream_flag_is_marked_streamed_and_a_flag_given_is_kept():
    assert one("provider-bodies", envelope(sse(*CHAT)))["streamed"] is True
    assert one("provider-bodies", envelope(sse(*CHAT), request={"stream": False}))["streamed"] is False


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([[_call(0, "a")], [_call(0, "b")]], 2),  # every parallel call at index 0, each with its id
        ([[_call(None, "a")], [_call(None, "b")]], 2),  # no index, whole calls
        ([[_call(None)], [_call(None)]], 2),  # neither: each delta a call
        ([[_call(0, "a"), _call(1, "b")], [_call(0, arguments="{}")], [_call(1, arguments="{}")]], 2),
        ([], 0),
    ],
)
def test_a_chat_stream_counts_the_calls_its_deltas_name(calls, expected):
    chunks = [_chat_chunk({"tool_calls": each}) for each in calls] + [_chat_chunk({}, "stop")]
    assert one("provider-bodies", envelope(sse(*chunks)))["tool_calls"] == expected


def test_a_chat_stream_of_two_choices_reads_each_choice_and_its_calls():
    second = _chat_chunk({"tool_calls": [_call(0, "c")]})
    second["choices"][0]["index"] = 1
    chunks = [_chat_chunk({"tool_calls": [_call(0, "a")]}), second, _chat_chunk({}, "tool_calls")]
    assert one("provider-bodies", envelope(sse(*chunks)))["tool_calls"] == 2


def test_a_legacy_function_call_delta_is_a_tool_call():
    chunks = [_chat_chunk({"function_call": {"name": "f", "arguments": ""}}), _chat_chunk({}, "function_call")]
    row = one("provider-bodies", envelope(sse(*chunks)))
    assert (row["tool_calls"], row["finish_reason"]) == (1, "tool_calls")


def test_a_function_call_delta_naming_the_empty_function_is_no_call():
    """Servers that fill every unset field stream `"function_call": {"name": "", "arguments": ""}` deltas."""
    chunks = [_chat_chunk({"content": "4", "function_call": {"name": "", "arguments": ""}}), _chat_chunk({}, "stop")]
    row = one("provider-bodies", envelope(sse(*chunks)))
    assert (row["tool_calls"], row["finish_reason"]) == (0, "stop")


def test_an_error_in_the_middle_of_a_chat_stream_is_an_error():
    error = {"code": 502, "message": "Upstream error"}
    chunks = [_chat_chunk({"content": "Hel"}), _chat_chunk({"content": ""}, "error", error=error)]
    row = one("provider-bodies", envelope(sse(*chunks), provider="openai"))
    assert (row["status"], row["finish_reason"], row["error_code"]) == ("error", "error", "502")
    assert row["tool_calls"] is None  # it produced no response to count tool calls in


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    ("chunks", "done", "expected"),
    [
        ([_chat_chunk({"content": "Hel"})], False, None),  # cut before it finished: not known
        ([_chat_chunk({"content": "Hel"}), _chat_chunk({}, "stop")], False, 0),
        ([_chat_chunk({"tool_calls": [_call(0, "a")]})], False, 1),  # cut, but a call was streamed
        # a server that never writes a finish reason (Snowflake Cortex) still ends with [DONE]: finished
        ([_chat_chunk({"content": "Hel"})], True, 0),
        # ... unless an error chunk came before it
        ([_chat_chunk({"content": "Hel"}), _chat_chunk({}, error={"code": 502, "message": "x"})], True, None),
    ],
)
def test_a_chat_streams_tool_calls_are_known_once_it_finished_or_streamed_one(chunks, done, expected):
    assert one("provider-bodies", envelope(sse(*chunks, done=done)))["tool_calls"] == expected


def test_a_servers_own_field_inside_the_stream_text_tells_the_server():
    chunks = [_chat_chunk({}, "stop", x_groq={"id": "req_01"}, model="llama-3.3-70b-versatile")]
    assert one("provider-bodies", envelope(sse(*chunks)))["provider"] == "groq"
    assert one("provider-bodies", envelope(chunks))["provider"] == "groq"


ANTHROPIC = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5-20250929",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 5,
                "output_tokens": 1,
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "t2", "name": "g", "input": {}},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 40},
    },
    {"type": "message_stop"},
]


def test_an_anthropic_stream_reads_its_blocks_stop_reason_and_merged_usage():
    row = one("provider-bodies", envelope(sse(*ANTHROPIC, events=True)))
    assert row["source_format"] == "anthropic-messages" and row["status"] == "success"
    assert (row["request_id"], row["model"], row["provider"]) == ("msg_01", "claude-sonnet-4-5-20250929", "anthropic")
    assert (row["finish_reason"], row["native_finish_reason"], row["tool_calls"]) == ("tool_calls", "tool_use", 2)
    # input 10 + cache read 5 from message_start; the final output count from message_delta
    assert (row["prompt_tokens"], row["cached_prompt_tokens"], row["completion_tokens"]) == (15, 5, 40)


def test_an_error_event_in_an_anthropic_stream_is_an_error():
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    row = one("provider-bodies", envelope(sse(*ANTHROPIC[:3], error, events=True)))
    assert (row["status"], row["error_code"], row["error_class"]) == ("error", "overloaded_error", "server_error")
    assert row["request_id"] == "msg_01" and row["tool_calls"] is None  # no message was produced to count in
    alone = one("provider-bodies", envelope(sse(error, events=True), provider="anthropic"))
    assert (alone["status"], alone["error_code"]) == ("error", "overloaded_error")


def _response(status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1748779200,
        "status": status,
        "model": "gpt-4.1-2025-04-14",
        "output": output,
        "incomplete_details": None,
        "usage": usage,
    }


CALL_ITEM = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"}
USAGE = {"input_tokens": 30, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 12}
RESPONSES = [
    {"type": "response.created", "sequence_number": 0, "response": _response("in_progress", [], None)},
    {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": CALL_ITEM},
    {"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": CALL_ITEM},
    {"type": "response.completed", "sequence_number": 3, "response": _response("completed", [CALL_ITEM], USAGE)},
]


def test_a_responses_stream_reads_its_final_response():
    row = one("provider-bodies", envelope(sse(*RESPONSES, events=True)))
    assert (row["source_format"], row["operation"], row["request_id"]) == ("openai-responses", "responses", "resp_1")
    assert (row["native_finish_reason"], row["tool_calls"], row["prompt_tokens"]) == ("completed", 1, 30)
    assert (row["completion_tokens"], row["cached_prompt_tokens"]) == (12, 4)


def test_a_responses_stream_cut_before_its_end_reads_the_items_it_streamed():
    row = one("provider-bodies", envelope(sse(*RESPONSES[:3], events=True)))
    assert (row["request_id"], row["tool_calls"], row["prompt_tokens"]) == ("resp_1", 1, None)


def test_an_error_event_in_a_responses_stream_is_an_error():
    error = {"type": "error", "sequence_number": 1, "code": "server_error", "message": "boom", "param": None}
    row = one("provider-bodies", envelope(sse(RESPONSES[0], error, events=True)))
    assert (row["status"], row["error_code"]) == ("error", "server_error")


def _gemini(parts: list[dict[str, Any]], usage: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "g1"}


GEMINI = [
    _gemini([{"text": "Let me look."}], {"promptTokenCount": 9, "totalTokenCount": 9}),
    _gemini(
        [{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {}}}],
        {"promptTokenCount": 9, "candidatesTokenCount": 5, "thoughtsTokenCount": 16, "totalTokenCount": 30},
        "STOP",
    ),
]


def test_a_gemini_stream_without_sse_is_its_list_of_chunks_as_text():
    text = "[" + ",\r\n".join(json.dumps(chunk) for chunk in GEMINI) + "]"  # the body without alt=sse
    row = one("provider-bodies", envelope(text))
    assert (row["finish_reason"], row["tool_calls"], row["completion_tokens"]) == ("tool_calls", 2, 21)


def test_a_gemini_stream_reads_every_chunks_parts_and_the_last_usage():
    row = one("provider-bodies", envelope(sse(*GEMINI, end="\r\n")[: -len("data: [DONE]\r\n\r\n")]))
    assert (row["source_format"], row["request_id"], row["provider"]) == ("gemini", "g1", "google-ai-studio")
    assert (row["finish_reason"], row["tool_calls"]) == ("tool_calls", 2)
    assert (row["prompt_tokens"], row["completion_tokens"], row["reasoning_tokens"]) == (9, 21, 16)


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize("response", ["data: [DONE]\n\n", "hello: world", "data: not json\n\n", [1, 2], []])
def test_a_response_that_is_no_stream_of_a_known_api_is_read_as_logged(response):
    [row] = adapt("provider-bodies", envelope(response))
    [before] = adapt("provider-bodies", envelope("plain text"))
    assert row["reason"] == before["reason"] and row["reason"] is not None


def test_a_file_of_streamed_responses_is_detected_as_provider_bodies():
    lines = [json.dumps(envelope(stream)) for stream in (sse(*CHAT), sse(*ANTHROPIC, events=True), GEMINI)]
    assert detect(iter(lines), "streams.jsonl").name == "provider-bodies"


def test_only_a_batch_holding_a_stream_runs_a_statement_that_assembles():
    adapter = BY_NAME["provider-bodies"]
    assert may_hold_stream(pa.array([json.dumps(envelope(sse(*CHAT)))]), adapter.streams)
    assert may_hold_stream(pa.array([json.dumps(envelope(CHAT))]), adapter.streams)
    plain = envelope(_chat_chunk({"content": "data: x"}) | {"note": "data: y"})
    assert not may_hold_stream(pa.array([json.dumps(plain)]), adapter.streams)
    assert not may_hold_stream(pa.array([json.dumps(envelope(sse(*CHAT)))]), ())
    for sql in (batch_sql(adapter), batch_sql(adapter, decode=True)):
        assert "string_split" not in sql and "message_start" not in sql
    assert "message_start" in batch_sql(adapter, assemble=True)
    assert "json_merge_patch" not in batch_sql(adapter, assemble=False)


@pytest.mark.slow
def test_a_big_file_with_a_few_streamed_responses_reads_them_in_bulk_like_the_line_path(tmp_path, monkeypatch):
    lines = []
    for i in range(300):
        chunks = [_chat_chunk({}, "stop", usage={"prompt_tokens": i, "completion_tokens": 1})]
        line = envelope(sse(*chunks) if i % 100 == 7 else chunks if i % 100 == 8 else CHAT[-1], request_id=f"r{i}")
        if i % 100 not in (7, 8):
            line["response"] = {"id": f"c{i}", "object": "chat.completion", "created": 1748779200, "model": "m"}
            line["response"] |= {"choices": [{"finish_reason": "stop", "message": {}}], "usage": {"prompt_tokens": i}}
        lines.append(json.dumps(line))
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(lines) + "\n")
    found: list[int] = []
    monkeypatch.setattr(bulk, "encoded_rows", _recording(bulk.encoded_rows, found))
    [entry] = _same_outcome(warehouses := _ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert entry["written"] == 300 and entry["quarantined"] == 0
    assert found == [6]  # the bulk read found the six streams, the line path read them
    rows = {row["request_id"]: row for row in stored(warehouses["bulk"])}
    assert {key: row["prompt_tokens"] for key, row in rows.items()} == {f"r{i}": i for i in range(300)}
    assert sorted(key for key, row in rows.items() if row["streamed"]) == ["r107", "r108", "r207", "r208", "r7", "r8"]


def test_quoted_words_in_the_text_tell_no_server():
    for content in ('Azure adds a "prompt_filter_results" field.', 'Use {"x_groq": 1}'):
        body = {"id": "c1", "object": "chat.completion", "created": 1748779200, "model": "gpt-4o-mini"}
        body["choices"] = [{"finish_reason": "stop", "message": {"content": content}}]
        assert one("provider-bodies", envelope(body))["provider"] == "openai"
        chunks = [_chat_chunk({"content": content}), _chat_chunk({}, "stop")]
        assert one("provider-bodies", envelope(sse(*chunks)))["provider"] == "openai"


def test_an_azure_stream_is_keyed_by_its_first_real_id_and_time():
    filters = [{"prompt_index": 0, "content_filter_results": {}}]
    first = {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": filters}
    row = one("provider-bodies", {"response": sse(first, *CHAT)})  # no envelope time: the chunks' own
    assert (row["request_id"], row["created_at"].year, row["provider"]) == ("chatcmpl-1", 2025, "azure")
    assert (row["model"], row["tool_calls"]) == ("gpt-4o-mini", 2)


def test_an_error_chunk_in_a_gemini_stream_is_an_error():
    error = {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}
    row = one("provider-bodies", envelope(sse(GEMINI[0], error)))
    assert (row["status"], row["error_code"], row["source_format"]) == ("error", "INTERNAL", "gemini")


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize(
    "error",
    [
        {
            "type": "error",
            "sequence_number": 2,
            "error": {"type": "invalid_request_error", "code": "context_length_exceeded", "message": "x"},
        },
        {"type": "error", "sequence_number": 2, "code": "context_length_exceeded", "message": "x", "param": None},
    ],
    ids=["nested", "flat"],
)
def test_a_responses_error_event_gives_its_code_with_or_without_a_response(error):
    row = one("provider-bodies", envelope(sse(RESPONSES[0], error, events=True)))
    assert (row["status"], row["error_code"], row["error_class"]) == (
        "error",
        "context_length_exceeded",
        "client_error",
    )
    assert row["source_format"] == "openai-responses"
    alone = one("provider-bodies", envelope(sse(error, events=True), request_id="r1"))
    assert (alone["status"], alone["error_code"], alone["source_format"]) == (
        "error",
        "context_length_exceeded",
        "openai-chat",
    )


def test_a_stream_cut_before_its_end_leaves_its_tool_calls_unknown_in_every_api():
    anthropic = one("provider-bodies", envelope(sse(*ANTHROPIC[:3], events=True)))
    assert (anthropic["tool_calls"], anthropic["completion_tokens"], anthropic["finish_reason"]) == (None, None, None)
    assert anthropic["prompt_tokens"] == 15  # message_start's input counts stand
    started = one("provider-bodies", envelope(sse(*ANTHROPIC[:5], events=True)))  # a tool_use block started
    assert started["tool_calls"] == 1
    responses = one("provider-bodies", envelope(sse(RESPONSES[0], events=True)))
    assert (responses["tool_calls"], responses["finish_reason"], responses["status"]) == (None, None, "success")
    gemini = one("provider-bodies", envelope(sse(GEMINI[0])))
    assert (gemini["tool_calls"], gemini["finish_reason"]) == (None, None)


def test_a_gemini_stream_of_two_candidates_finishes_as_its_first():
    first = _gemini([{"functionCall": {"name": "f", "args": {}}}], {"promptTokenCount": 9}, "STOP")
    second = _gemini([{"text": "x"}], {"promptTokenCount": 9}, "MAX_TOKENS")
    second["candidates"][0]["index"] = 1
    row = one("provider-bodies", envelope(sse(first, second)))
    assert (row["native_finish_reason"], row["finish_reason"], row["tool_calls"]) == ("STOP", "tool_calls", 1)


def test_a_chunk_split_over_several_data_lines_is_not_read():
    split = 'data: {"id": "chatcmpl-1",\ndata: "choices": []}\n\n'  # SSE allows it; no API writes it
    [row] = adapt("provider-bodies", envelope(split))
    assert row["reason"] is not None and row["reason"].startswith("not an OpenAI")


def test_a_chunk_logged_on_its_own_line_is_a_streamed_attempt():
    row = one("provider-bodies", envelope(CHAT[-1]))  # the usage chunk, as a logger of each chunk writes it
    assert (row["streamed"], row["prompt_tokens"], row["tool_calls"]) == (True, 50, None)


def test_a_responses_stream_logged_event_by_event_keeps_the_completed_response(tmp_path, monkeypatch):
    """Each event on a line of its own: those carrying the response are read as it (streamed), the most complete
    kept; the others (deltas, items added) hold no record by design and are ignored, never quarantined."""
    started = {"id": "resp_1", "object": "response", "created_at": 1748779200, "model": "gpt-4.1"}
    started |= {"status": "in_progress", "output": []}
    call = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"}
    done = started | {"status": "completed", "output": [call], "usage": {"input_tokens": 10, "output_tokens": 5}}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": started},
        {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": call},
        {"type": "response.function_call_arguments.delta", "sequence_number": 2, "delta": "{}"},
        {"type": "response.completed", "sequence_number": 3, "response": done},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(map(json.dumps, events)) + "\n")
    [entry] = _same_outcome(warehouses := _ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert (entry["written"], entry["duplicates"], entry["quarantined"], entry["ignored"]) == (1, 1, 0, 2)
    [row] = stored(warehouses["lines"])
    assert (row["source_line"], row["tool_calls"], row["prompt_tokens"], row["streamed"]) == (4, 1, 10, True)


def test_a_legacy_completions_stream_is_a_text_completion():
    """Completions chunks (`object` text_completion, each choice a `text`) assemble into a completion: operation
    text_completion, no tool call possible, as the same body unstreamed."""
    chunk = {"id": "cmpl-1", "object": "text_completion", "created": 1748779200, "model": "gpt-3.5-turbo-instruct"}
    chunks = [chunk | {"choices": [{"index": 0, "text": "Hel", "finish_reason": None}]}]
    chunks.append(chunk | {"choices": [{"index": 0, "text": "lo", "finish_reason": "length"}]})
    row = one("provider-bodies", envelope(sse(*chunks)))
    assert (row["operation"], row["tool_calls"], row["finish_reason"], row["streamed"]) == (
        "text_completion",
        0,
        "length",
        True,
    )
