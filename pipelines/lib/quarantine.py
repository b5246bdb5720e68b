"""Quarantine rows: rejected lines kept with their source, line number and reason, with text redacted.

Quarantine keeps the raw line so a human can see what was wrong, but gateway logs can carry prompts and
completions, which gatewaylens never stores. Before a line is kept, the values of text-bearing keys
(messages, content, prompt, ...) are replaced by a marker giving their length. Lines that are not JSON are
redacted with a pattern over `"key": "..."` pairs. Rejected lines are rare, so this runs per line in Python.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa

MAX_RAW_CHARS = 4096
TEXT_KEYS = frozenset(
    {
        "messages",
        "content",
        "prompt",
        "prompts",
        "completion",
        "text",
        "input",
        "output",
        "system",
        "instructions",
        "contents",
        "parts",
        "arguments",
        "reasoning",
        "reasoning_content",
        "thinking",
        "tool_result",
        "response_text",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
    }
)
_TEXT_PAIR = re.compile(
    r'"(' + "|".join(re.escape(k) for k in sorted(TEXT_KEYS)) + r')"\s*:\s*"(?:[^"\\]|\\.)*("|$)',
    re.IGNORECASE,
)

SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("source_format", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return f"[redacted {len(value)} chars]"
    if isinstance(value, list | dict):
        return f"[redacted {len(json.dumps(value))} chars of JSON]"
    return value


def _redact_tree(node: Any) -> Any:
    if isinstance(node, dict):
        redacted = {}
        for key, value in node.items():
            sensitive = key.lower() in TEXT_KEYS or (
                key == "value" and node.get("key") in TEXT_KEYS  # OTel attribute {key, value}
            )
            redacted[key] = _redact_value(value) if sensitive else _redact_tree(value)
        return redacted
    if isinstance(node, list):
        return [_redact_tree(item) for item in node]
    return node


def redact(raw: str) -> str:
    """The line with prompt/completion text removed, cut to MAX_RAW_CHARS."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        text = _TEXT_PAIR.sub(lambda m: f'"{m.group(1)}": "[redacted]"', raw)
    else:
        text = json.dumps(_redact_tree(parsed), ensure_ascii=False)
    if len(text) > MAX_RAW_CHARS:
        text = text[:MAX_RAW_CHARS] + f"... [{len(text) - MAX_RAW_CHARS} more chars]"
    return text


def rows(source_uri: str, source_format: str | None, rejected: list[tuple[int, str, str]]) -> pa.Table:
    """Quarantine table from (line number, reason, raw line) triples."""
    return pa.table(
        {
            "source_uri": [source_uri] * len(rejected),
            "source_line": [n for n, _, _ in rejected],
            "source_format": [source_format] * len(rejected),
            "reason": [reason for _, reason, _ in rejected],
            "raw": [redact(raw) for _, _, raw in rejected],
        },
        schema=SCHEMA,
    )
