"""Quarantine redaction: what a human needs to see what went wrong, and no prompt, completion or user id."""

from __future__ import annotations

import json

import pytest

from pipelines.lib.quarantine import DEEP, MAX_DEPTH, SCHEMA, redact, rows

SECRET = "Summarize the attached patient notes for Jane Doe"


def test_metadata_stays_and_text_goes():
    line = json.dumps(
        {
            "request_id": "r1",
            "created_at": "2025-06-01T00:00:00Z",
            "model": "anthropic/claude-sonnet-4.5",
            "completion_tokens": -1,
            "messages": [{"role": "user", "content": SECRET}],
            "query": SECRET,
            "request_body": json.dumps({"prompt": SECRET}),
        }
    )
    out = json.loads(redact(line))
    assert (out["request_id"], out["model"], out["completion_tokens"]) == ("r1", "anthropic/claude-sonnet-4.5", -1)
    assert out["messages"] == [{"role": "[redacted 4 chars]", "content": f"[redacted {len(SECRET)} chars]"}]
    assert SECRET not in json.dumps(out)


@pytest.mark.parametrize("key", ["user_id", "user", "user_hash", "end_user", "user_api_key_hash"])
def test_user_ids_are_redacted(key):
    assert "alice@example.com" not in redact(json.dumps({"request_id": "r", key: "alice@example.com"}))


def test_broken_json_shows_its_length_the_error_and_metadata_fields_only():
    line = '{"request_id": "r2", "prompt": ["' + SECRET + '"], "model": "gpt-4o", "content": "' + SECRET[:20]
    out = json.loads(redact(line))
    assert SECRET[:20] not in json.dumps(out) and "prompt" not in out
    assert out == {
        "broken_json": {"chars": len(line), "error": "Unterminated string starting at", "at_char": line.rindex('"')},
        "request_id": "r2",
        "model": "gpt-4o",
    }


def test_free_text_keeps_only_its_length():
    assert redact(SECRET) == f"[not JSON: {len(SECRET)} chars, content not kept]"


def test_otel_attribute_values_follow_the_attribute_key():
    line = json.dumps(
        {
            "attributes": [
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                {"key": "gen_ai.prompt", "value": {"stringValue": SECRET}},
            ]
        }
    )
    out = redact(line)
    assert "gpt-4o" in out and SECRET not in out


def test_metadata_names_inside_messages_and_tool_output_are_not_trusted():
    line = json.dumps(
        {
            "id": "gen-1",
            "messages": [{"role": "user", "name": "Jane Doe", "content": "hi"}],
            "output": [{"code": "patient=Jane Doe; ssn=078-05-1120", "id": "my secret plan", "type": "x"}],
            "choices": [{"finish_reason": "tool_calls"}],
        }
    )
    out = redact(line)
    assert "Jane Doe" not in out and "secret plan" not in out and "078-05" not in out
    assert '"id": "gen-1"' in out and '"finish_reason": "tool_calls"' in out


MARKER = "jane.doe@example.com"


@pytest.mark.parametrize(
    "line",
    [
        json.dumps({"request_id": "r", MARKER: 1}),
        json.dumps({"request_id": "r", "metadata": {"tags": {MARKER: "vip"}}}),
        json.dumps({"request_id": "r", "metadata": [{"by_user": {MARKER: [1, 2]}}]}),
        json.dumps({"attributes": [{"key": f"crm.{MARKER}", "value": {"stringValue": "x"}}]}),
        json.dumps({"attributes": [{"key": "app.customer", "value": {"kvlistValue": {MARKER: "x"}}}]}),
        '{"request_id": "r", "' + MARKER + '": 1, "meta": {"name": "Jane Doe"}, ',
        '{"request_id": "r", "meta": {"name": "' + MARKER + '"}, "x": [' * 3,
    ],
)
def test_keys_follow_the_allowlist_at_every_depth_in_whole_and_broken_lines(line):
    out = redact(line)
    assert MARKER not in out and "Jane Doe" not in out
    assert '"request_id": "r"' in out or "attributes" in out


def test_a_nesting_too_deep_for_python_never_raises_and_is_named():
    deep_valid = '{"a":' * 5000 + "1" + "}" * 5000
    deep_broken = "[" * 200_000
    for line in (deep_valid, deep_broken, '{"request_id": "r", "x": ' + deep_valid + "}"):
        out = json.loads(redact(line))
        assert out["broken_json"]["error"] == DEEP
    [row] = rows("file:///x.jsonl", "canonical", [(7, "not JSON", deep_broken)]).to_pylist()
    assert row["reason"] == f"{DEEP}; not JSON"
    shallow = json.dumps({"request_id": "r", "x": [[[[1]]]]})
    assert rows("file:///x.jsonl", None, [(1, "r", shallow)]).column("reason").to_pylist() == ["r"]


def test_objects_deeper_than_the_limit_are_not_shown():
    line = json.dumps({"request_id": "r", "metadata": {"usage": [{"prompt_tokens": 1}]}})
    assert json.loads(redact(line))["metadata"] == {"usage": [{"prompt_tokens": 1}]}
    nested: object = 1
    for _ in range(MAX_DEPTH + 5):
        nested = [nested]
    # the depth scan reads a line's first MiB only: deeper structure after it is cut where it is shown
    line = json.dumps({"request_id": "r", "content": "x" * (1 << 20), "metadata": nested})
    out = redact(line)
    assert f"[{DEEP}: not shown]" in out and '"request_id": "r"' in out


def test_lone_surrogates_are_replaced_in_what_is_written(tmp_path):
    whole = '{"request_id": "r\\ud800", "model": "m\ud800"}'  # parses into a str holding a lone surrogate
    broken = '{"request_id": "x\ud800", "broken": '
    table = rows("file:///x.jsonl", None, [(1, "reason \udc00", whole), (2, "not JSON", broken)])
    assert table.schema == SCHEMA
    written = tmp_path / "q.parquet"
    import pyarrow.parquet as pq

    pq.write_table(table, written)
    got = pq.read_table(written).to_pylist()
    assert got[0]["reason"] == "reason \ufffd" and "m\ufffd" in got[0]["raw"]
    assert "x\ufffd" in got[1]["raw"]
