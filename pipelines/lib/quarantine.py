"""Quarantine rows: rejected lines kept with their source, line number and reason, redacted for privacy.

Quarantine keeps enough of a rejected line for a human to see what was wrong, but gateway logs can carry
prompts, completions and user identifiers, which gatewaylens never stores. Redaction is by allowlist:

* JSON lines keep their structure, numbers, booleans and nulls; a string value is kept only under a key
  known to carry metadata (the canonical record's fields and the usual log fields: ids, model, provider,
  status, finish reasons, timestamps); every other string becomes "[redacted N chars]", and user
  identifiers become "[user id redacted]".
* Broken JSON (starts with '{' or '[') is redacted the same way token by token.
* Other text keeps nothing but its length: it may be a fragment of a prompt split across lines.

Rejected lines are rare, so this runs per line in Python.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.adapters import INPUT_COLUMNS
from schemas.record import RequestRecord

MAX_RAW_CHARS = 4096
USER_KEYS = frozenset({"user", "user_id", "user_key", "user_hash", "end_user", "user_api_key_hash", "user.id"})
KEEP_KEYS = (
    frozenset(RequestRecord.model_fields)
    | frozenset(INPUT_COLUMNS)
    | frozenset(
        {
            "id",
            "object",
            "created",
            "created_at",
            "timestamp",
            "starttime",
            "endtime",
            "completionstarttime",
            "model",
            "model_group",
            "model_id",
            "provider",
            "provider_name",
            "custom_llm_provider",
            "status",
            "code",
            "type",
            "error_code",
            "error_class",
            "finish_reason",
            "native_finish_reason",
            "stop_reason",
            "finishreason",
            "service_tier",
            "call_type",
            "origin",
            "app_id",
            "traceid",
            "spanid",
            "parentspanid",
            "name",
            "kind",
            "starttimeunixnano",
            "endtimeunixnano",
            "gen_ai.system",
            "gen_ai.provider.name",
            "gen_ai.operation.name",
            "gen_ai.request.model",
            "gen_ai.response.model",
            "gen_ai.response.id",
            "gen_ai.response.finish_reasons",
            "error.type",
            "trace_id",
            "server.address",
        }
    )
) - USER_KEYS
NESTED_KEEP_KEYS = frozenset(
    {"finish_reason", "native_finish_reason", "stop_reason", "finishreason", "status", "model", "provider_name"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*("|$)')


def _mask(value: str) -> str:
    return f"[redacted {len(value)} chars]"


def _redact_value(key: str | None, value: Any, keep: frozenset[str]) -> Any:
    lowered = (key or "").lower()
    if lowered in USER_KEYS and value is not None:
        return "[user id redacted]"
    if isinstance(value, dict):
        return _redact_object(value)
    if isinstance(value, list):
        return [_redact_value(key, item, keep) for item in value]
    if isinstance(value, str) and lowered not in keep:
        return _mask(value)
    return value


def _redact_attribute(name: str, value: Any) -> Any:
    """An OTel attribute value ({stringValue: ...}, {arrayValue: {values: [...]}}) judged by its attribute name."""
    if isinstance(value, dict):
        return {k: _redact_attribute(name, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_attribute(name, v) for v in value]
    return _redact_value(name, value, KEEP_KEYS)


def _redact_object(node: dict[str, Any], top: bool = False) -> dict[str, Any]:
    """Metadata keys are trusted at the top level and in OTel spans; inside other objects (messages, tool
    output, error bodies) only NESTED_KEEP_KEYS are, since keys like `name` or `id` carry text there."""
    name = node.get("key")
    if isinstance(name, str) and "value" in node:  # an OTel attribute {key, value}
        return {"key": name, **{k: _redact_attribute(name, v) for k, v in node.items() if k != "key"}}
    keep = KEEP_KEYS if top or "spanId" in node or "traceId" in node else NESTED_KEEP_KEYS
    return {k: _redact_value(k, v, keep) for k, v in node.items()}


def _redact_broken_json(raw: str) -> str:
    """Token-level redaction of JSON that does not parse: keys stay, values follow the allowlist."""
    out: list[str] = []
    last_key: str | None = None
    position = 0
    for match in _STRING.finditer(raw):
        out.append(raw[position : match.start()])
        token = match.group(0)
        is_key = raw[match.end() :].lstrip().startswith(":")
        text = token.strip('"')
        if is_key:
            out.append(token)
            last_key = text
        elif (last_key or "").lower() in KEEP_KEYS:
            out.append(token)
        else:
            out.append(f'"{_mask(text)}"')
        position = match.end()
    out.append(raw[position:])
    return "".join(out)


def redact(raw: str) -> str:
    """The line without prompt/completion text or user ids, cut to MAX_RAW_CHARS."""
    stripped = raw.strip()
    try:
        parsed = json.loads(stripped)
    except ValueError:
        if not stripped.startswith(("{", "[")):
            return f"[not JSON: {len(raw)} chars, content not kept]"
        text = _redact_broken_json(stripped)
    else:
        top = _redact_object(parsed, top=True) if isinstance(parsed, dict) else _redact_value(None, parsed, KEEP_KEYS)
        text = json.dumps(top, ensure_ascii=False)
    if len(text) > MAX_RAW_CHARS:
        text = text[:MAX_RAW_CHARS] + f"... [{len(text) - MAX_RAW_CHARS} more chars]"
    return text


SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("source_format", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)


class Writer:
    """Streams one source file's quarantine rows into a local Parquet file, a batch at a time."""

    SLICE = 10_000  # lines redacted per step when a whole batch is rejected

    def __init__(self, path: str, source_uri: str, source_format: str | None) -> None:
        self.path = path
        self.source_uri = source_uri
        self.source_format = source_format
        self.count = 0
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()

    def write(self, rejected: list[tuple[int, str, str]]) -> None:
        """Append (line number, reason, raw line) rows."""
        if not rejected:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, SCHEMA, compression="zstd")
        self._writer.write_table(rows(self.source_uri, self.source_format, rejected))
        self.count += len(rejected)

    def write_all(self, lines: pa.Table, reason: str) -> None:
        """Append every line of a batch with the same reason (a file no adapter reads)."""
        for offset in range(0, lines.num_rows, self.SLICE):
            part = lines.slice(offset, self.SLICE).to_pydict()
            raws = [raw.rstrip("\r\n") for raw in part["raw"]]
            self.write(list(zip(part["source_line"], [reason] * len(raws), raws, strict=True)))


def rows(source_uri: str, source_format: str | None, rejected: list[tuple[int, str, str]]) -> pa.Table:
    """Quarantine table from (line number, reason, raw line) triples; a line several records of which were
    rejected (spans of one OTLP export) is redacted once."""
    redacted: dict[int, str] = {}
    for n, _, raw in rejected:
        if n not in redacted:
            redacted[n] = redact(raw)
    return pa.table(
        {
            "source_uri": [source_uri] * len(rejected),
            "source_line": [n for n, _, _ in rejected],
            "source_format": [source_format] * len(rejected),
            "reason": [reason for _, reason, _ in rejected],
            "raw": [redacted[n] for n, _, _ in rejected],
        },
        schema=SCHEMA,
    )
