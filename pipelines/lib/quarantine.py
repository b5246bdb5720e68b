"""Quarantine rows: rejected lines kept with their source, line number and reason, redacted for privacy.

Quarantine keeps enough of a rejected line for a human to see what was wrong, but gateway logs can carry
prompts, completions and user identifiers, which gatewaylens never stores. Redaction is by allowlist:

* JSON lines keep their structure, numbers, booleans and nulls; a string value is kept only under a key
  known to carry metadata (the canonical record's fields and the usual log fields: ids, model, provider,
  status, finish reasons, timestamps), no longer than MAX_KEPT_CHARS and holding no JSON object or array in
  text; every other string becomes "[redacted N chars]", and user identifiers become "[user id redacted]".
* Broken JSON (starts with '{' or '[') is redacted the same way token by token.
* Other text keeps nothing but its length: it may be a fragment of a prompt split across lines.

Rejected lines are rare, so this runs per line in Python.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.adapters import INPUT_COLUMNS, _sql
from schemas.record import RequestRecord

MAX_RAW_CHARS = 4096
#: The longest string kept under a metadata key: the longest text a record keeps (request_id, model: 256 chars).
#: A longer one is no id, model or status, and may be a prompt a logger put there.
MAX_KEPT_CHARS = 256
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
#: Key names the quarantine shows (every other key is replaced, since a key can carry personal data: an e-mail
#: address used as a map key): the keys any adapter reads, the metadata keys, and the usual structure of a
#: request body (whose values are redacted all the same).
SHOWN_KEYS = (
    frozenset(_sql.KEYS_READ)
    | KEEP_KEYS
    | USER_KEYS
    | frozenset(
        {
            "messages",
            "role",
            "text",
            "arguments",
            "input",
            "output",
            "instructions",
            "system",
            "prompt",
            "completion",
            "delta",
            "index",
            "logprobs",
            "refusal",
            "annotations",
            "scope",
            "version",
            "kvlistvalue",
            "bytesvalue",
            "droppedattributescount",
            "flags",
            "tracestate",
            "schemaurl",
            "timeunixnano",
            "links",
            "error_str",
            "error_message",
            "message",
            "param",
            "stream_options",
            "temperature",
            "max_tokens",
            "top_p",
            "response_format",
            "tool_choice",
            "functions",
            "parameters",
            "description",
            "contents",
            "generationconfig",
            "safetysettings",
            "systeminstruction",
        }
    )
)
#: OTel attribute namespaces whose attribute names are shown (the names are a schema's, their values are judged
#: as any other value); an attribute outside them has its name redacted too.
SHOWN_ATTRIBUTE_PREFIXES = (
    "gen_ai.",
    "llm.",
    "ai.",
    "http.",
    "server.",
    "error.",
    "service.",
    "telemetry.",
    "otel.",
    "traceloop.",
    "openinference.",
    "langfuse.",
    "logfire.",
    "code.",
    "url.",
    "network.",
    "input.",
    "output.",
    "tool.",
    "embedding.",
    "retrieval.",
    "operation.",
    "spring.",
    "strands.",
    "agent.",
    "event.",
    "rpc.",
    "process.",
    "host.",
    "deployment.",
    "cloud.",
    "k8s.",
    "container.",
    "litellm.",
    "openai.",
    "anthropic.",
    "gcp.",
    "aws.",
)
#: Values a broken line may show: KEEP_KEYS without the names that also occur inside messages and tool output
#: (a scan of broken text cannot tell at what depth it is).
BROKEN_KEEP_KEYS = KEEP_KEYS - {"name", "id", "type", "code", "object", "kind", "origin", "key"}
#: Objects nested deeper are not shown (nor parsed: Python's parser recurses, with a limit of its own).
MAX_DEPTH = 64
DEEP = f"nesting deeper than {MAX_DEPTH}"
_DEPTH_SCAN_CHARS = 1 << 20  # the depth is judged on the first MiB of a line (a deeper line fails to parse)
_FIELD_SCAN_CHARS = 1 << 16  # fields are looked for in the first 64 KiB of a broken line
_STRING = re.compile(r'"(?:[^"\\]|\\.)*("|$)')
_SCALAR_FIELD = re.compile(r'"([^"\\]{1,64})"\s*:\s*("(?:[^"\\]|\\.){0,512}"|-?\d[\d.eE+-]{0,30}|true|false|null)')
_SURROGATES = re.compile("[\ud800-\udfff]")
_OPENS = np.frombuffer(b"{[", dtype=np.uint8)
_CLOSES = np.frombuffer(b"}]", dtype=np.uint8)


def _mask(value: str) -> str:
    return f"[redacted {len(value)} chars]"


def _shown_key(key: str, index: int) -> str:
    return key if key.lower() in SHOWN_KEYS else f"[redacted key {index}: {len(key)} chars]"


def _shown_attribute(name: str) -> str:
    shown = name.lower() in SHOWN_KEYS or name.lower().startswith(SHOWN_ATTRIBUTE_PREFIXES)
    return name if shown else _mask(name)


def nesting_depth(text: str) -> int:
    """How deep objects and arrays nest in the (first MiB of the) JSON text, strings left out: a scan, no parse."""
    bare = _STRING.sub("", text[:_DEPTH_SCAN_CHARS]).encode("utf-8", errors="replace")
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = np.isin(codes, _OPENS).astype(np.int64) - np.isin(codes, _CLOSES).astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def _redact_value(key: str | None, value: Any, keep: frozenset[str], depth: int) -> Any:
    lowered = (key or "").lower()
    if lowered in USER_KEYS and value is not None:
        return "[user id redacted]"
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        return f"[{DEEP}: not shown]"
    if isinstance(value, dict):
        return _redact_object(value, depth=depth + 1)
    if isinstance(value, list):
        return [_redact_value(key, item, keep, depth + 1) for item in value]
    if isinstance(value, str) and (lowered not in keep or not _metadata_like(value)):
        return _mask(value)
    return value


def _metadata_like(value: str) -> bool:
    """A string a metadata key may show: at most MAX_KEPT_CHARS, and no JSON object or array in text (a message a
    logger wrote where a model or id goes)."""
    # any text that starts like JSON, parsed or not: the record model refuses only real JSON (`_container`), but
    # what a quarantined line shows errs on the side of hiding
    return len(value) <= MAX_KEPT_CHARS and not value.lstrip(" \t\r\n").startswith(("{", "["))


def _redact_attribute(name: str, value: Any, depth: int) -> Any:
    """An OTel attribute value ({stringValue: ...}, {arrayValue: {values: [...]}}) judged by its attribute name."""
    if depth >= MAX_DEPTH:
        return f"[{DEEP}: not shown]"
    if isinstance(value, dict):
        return {_shown_key(k, i): _redact_attribute(name, v, depth + 1) for i, (k, v) in enumerate(value.items())}
    if isinstance(value, list):
        return [_redact_attribute(name, v, depth + 1) for v in value]
    return _redact_value(name, value, KEEP_KEYS, depth)


def _redact_object(node: dict[str, Any], top: bool = False, depth: int = 0) -> dict[str, Any]:
    """Metadata keys are trusted at the top level and in OTel spans; inside other objects (messages, tool
    output, error bodies) only NESTED_KEEP_KEYS are, since keys like `name` or `id` carry text there. Keys
    outside SHOWN_KEYS are replaced, whatever their value."""
    name = node.get("key")
    if isinstance(name, str) and "value" in node:  # an OTel attribute {key, value}
        rest = {_shown_key(k, i): _redact_attribute(name, v, depth) for i, (k, v) in enumerate(node.items())}
        return {**rest, "key": _shown_attribute(name)}
    keep = KEEP_KEYS if top or "spanId" in node or "traceId" in node else NESTED_KEEP_KEYS
    return {_shown_key(k, i): _redact_value(k, v, keep, depth) for i, (k, v) in enumerate(node.items())}


def _broken(text: str, reason: str, position: int | None) -> str:
    """What a line that does not parse may show: its length, where parsing failed, and the metadata fields near
    its start that do parse (allowlisted keys with scalar values); never its structure or other text."""
    shown: dict[str, Any] = {"chars": len(text), "error": reason}
    if position is not None:
        shown["at_char"] = position
    fields: dict[str, Any] = {}
    for match in _SCALAR_FIELD.finditer(text[:_FIELD_SCAN_CHARS]):
        key = match.group(1)
        if key.lower() in BROKEN_KEEP_KEYS and key not in fields:
            try:
                fields[key] = json.loads(match.group(2))
            except ValueError:
                continue
    return json.dumps({"broken_json": shown, **fields}, ensure_ascii=False)


def redact(raw: str) -> str:
    """The line without prompt/completion text, user ids or unknown key names, cut to MAX_RAW_CHARS."""
    return _redacted(raw)[0]


def _redacted(raw: str) -> tuple[str, bool]:
    """The redacted line (see `redact`), and whether it nests deeper than MAX_DEPTH (one depth scan per line)."""
    stripped = raw.strip()
    deep = False
    if not stripped.startswith(("{", "[")):
        text = f"[not JSON: {len(raw)} chars, content not kept]"
    elif deep := nesting_depth(stripped) > MAX_DEPTH:
        text = _broken(stripped, DEEP, None)
    else:
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError as err:
            text = _broken(stripped, err.msg, err.pos)
        except (ValueError, RecursionError) as err:
            text = _broken(stripped, DEEP if isinstance(err, RecursionError) else str(err), None)
        else:
            top = (
                _redact_object(parsed, top=True)
                if isinstance(parsed, dict)
                else _redact_value(None, parsed, KEEP_KEYS, 0)
            )
            text = json.dumps(top, ensure_ascii=False)
    if len(text) > MAX_RAW_CHARS:
        text = text[:MAX_RAW_CHARS] + f"... [{len(text) - MAX_RAW_CHARS} more chars]"
    return writable(text), deep


def writable(text: str) -> str:
    """`text` with lone surrogates (which JSON escapes can spell but UTF-8 cannot store) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


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
    rejected (spans of one OTLP export) is redacted once. A line nested deeper than MAX_DEPTH says so first in
    its reason (whatever else failed, that is what a reader must know)."""
    redacted: dict[int, str] = {}
    deep: set[int] = set()
    for n, _, raw in rejected:
        if n not in redacted:
            redacted[n], too_deep = _redacted(raw)
            if too_deep:
                deep.add(n)
    reasons = [
        writable(f"{DEEP}; {reason}" if n in deep and DEEP not in reason else reason) for n, reason, _ in rejected
    ]
    return pa.table(
        {
            "source_uri": [source_uri] * len(rejected),
            "source_line": [n for n, _, _ in rejected],
            "source_format": [source_format] * len(rejected),
            "reason": reasons,
            "raw": [redacted[n] for n, _, _ in rejected],
        },
        schema=SCHEMA,
    )
