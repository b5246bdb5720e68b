"""Quarantine redaction: what a human needs to see what went wrong, and no prompt, completion or user id."""

from __future__ import annotations

import json

import pytest

from pipelines.lib.quarantine import redact

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


def test_broken_json_is_redacted_token_by_token():
    line = '{"request_id": "r2", "prompt": ["' + SECRET + '"], "model": "gpt-4o", "content": "' + SECRET[:20]
    out = redact(line)
    assert SECRET[:20] not in out
    assert '"request_id": "r2"' in out and '"model": "gpt-4o"' in out


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
