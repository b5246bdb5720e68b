"""Objects and lists written as strings of their JSON text (`"usage": "{\"prompt_tokens\": 3}"`).

Loggers that keep a body as text (a wire log's `"response": "{...}"`, a database's JSON column exported as a
string) write what the formats define as an object or a list as a string holding its JSON. Both paths read it as
the JSON it holds, so a line reads the same whichever way its logger wrote it: the line path decodes it in SQL
(`_sql.parse`, in a batch whose text may hold one: `transform.may_hold_encoded`), and the bulk path sends such
rows to the line path (`bulk.encoded_rows`, once `read_json`'s strict read failed on them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipelines.lib.ingest import bulk
from pipelines.lib.ingest import stage as stage_module
from pipelines.lib.transform import batch_sql, may_hold_encoded
from schemas.adapters import ADAPTERS, BY_NAME, detect
from tests.adapter_support import adapt
from tests.conftest import stored
from tests.test_bulk import _ingest_both, _same_outcome

CORPUS = Path(__file__).parent / "fixtures" / "real"
#: The JSON-lines formats whose lines hold objects or lists the adapters read.
NESTED_FORMATS = [adapter.name for adapter in ADAPTERS if adapter.bulk and adapter.bulk_nested]


def _as_text(obj: dict[str, Any], depth: int) -> dict[str, Any]:
    """`obj` with every non-empty object or list value written as a string of its JSON text: at its top level
    (`depth` 1), or inside its top-level objects (`depth` 2)."""
    out = {}
    for key, value in obj.items():
        if isinstance(value, dict) and depth == 2:
            out[key] = _as_text(value, 1)
        elif isinstance(value, dict | list) and value and depth == 1:
            out[key] = json.dumps(value)
        else:
            out[key] = value
    return out


def _samples(name: str) -> list[str]:
    """The lines of every real sample the format's adapter reads."""
    lines = []
    for sample in sorted(CORPUS.rglob("*.jsonl")):
        text = [line for line in sample.read_text().splitlines() if line.strip()]
        if detect(iter(text), str(sample)).name == name:
            lines += text
    return lines


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without what depends on the line's text itself: the key of a body with no id (its line's hash)."""
    return [{k: v for k, v in row.items() if not (k == "request_id" and str(v).startswith("body-"))} for row in rows]


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("name", NESTED_FORMATS)
def test_a_real_sample_reads_the_same_with_its_objects_written_as_strings(name, depth):
    lines = _samples(name)
    objects = [json.loads(line) for line in lines]
    written = [json.dumps(_as_text(obj, depth)) for obj in objects]
    assert sum(a != b for a, b in zip(written, lines, strict=True)) >= len(lines) // 2  # most lines change
    adapter = BY_NAME[name]
    if adapter.configure is not None:
        adapter = adapter.configure(lines[:100])
    as_objects = adapt(name, *lines, adapter=adapter)
    as_strings = adapt(name, *written, adapter=adapter)
    assert any(row["reason"] is None and row["ignored"] is None for row in as_objects)
    assert _comparable(as_strings) == _comparable(as_objects)


def _numbers_as_text(value: Any) -> Any:
    """`value` with every number (not a boolean) written as a string of its JSON text, as loggers that stringify
    numbers write them (OTel's intValue, a database's text column)."""
    if isinstance(value, dict):
        return {key: _numbers_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_text(item) for item in value]
    return json.dumps(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


@pytest.mark.fast_cases(1)
@pytest.mark.parametrize("name", [adapter.name for adapter in ADAPTERS if adapter.bulk and adapter.name != "canonical"])
def test_a_real_sample_reads_the_same_with_its_numbers_written_as_strings(name):
    """Every format the corpus holds (canonical is the project's own, with no sample of others)."""
    lines = _samples(name)
    written = [json.dumps(_numbers_as_text(json.loads(line))) for line in lines]
    assert sum(a != b for a, b in zip(written, lines, strict=True)) >= len(lines) // 2  # most lines change
    adapter = BY_NAME[name]
    if adapter.configure is not None:
        adapter = adapter.configure(lines[:100])
    as_numbers = adapt(name, *lines, adapter=adapter)
    assert any(row["reason"] is None and row["ignored"] is None for row in as_numbers)
    assert _comparable(adapt(name, *written, adapter=adapter)) == _comparable(as_numbers)


def test_a_body_written_as_a_string_is_detected_like_the_body():
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1788646068, "model": "m", "choices": []}
    envelope = {"request": {"model": "m"}, "status": 200, "response": json.dumps(body)}
    assert detect(iter([json.dumps(envelope)]), "x.jsonl").name == "provider-bodies"
    generation = {"data": json.dumps({"id": "gen-1", "created_at": "2025-06-01T12:00:00Z", "provider_name": "X"})}
    assert detect(iter([json.dumps(generation)]), "x.jsonl").name == "openrouter"


def _body(**usage: Any) -> dict[str, Any]:
    return {
        "timestamp": "2025-06-01T12:00:00Z",
        "request_id": "r1",
        "response": {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o",
            "choices": [{"finish_reason": "stop", "message": {"content": '{"a": 1}'}}],
            "usage": usage,
        },
    }


@pytest.mark.parametrize(
    ("usage", "prompt_tokens"),
    [
        ('{"prompt_tokens": 3}', 3),
        ('\n {"prompt_tokens": 4}\n', 4),  # blanks around it, as a JSON column may keep them
        ("null", None),
        ('{"prompt_tokens": 3', None),  # cut short: not JSON, read as a string where an object goes, as before
        ("[3]", None),  # JSON, but a list where an object goes
        ("rate limited", None),
    ],
)
def test_only_a_string_holding_the_json_the_format_puts_there_is_decoded(usage, prompt_tokens):
    line = _body()
    line["response"]["usage"] = usage
    [row] = adapt("provider-bodies", line)
    assert row["reason"] is None and row["prompt_tokens"] == prompt_tokens
    assert row["finish_reason"] == "stop" and row["tool_calls"] == 0  # a message whose text is JSON is text


def test_tool_call_arguments_stay_text_and_open_no_decoding():
    arguments = {"function": {"name": "f", "arguments": '{"city": "Paris"}'}, "type": "function"}
    line = _body(prompt_tokens=3)
    line["response"]["choices"] = [{"finish_reason": "tool_calls", "message": {"tool_calls": [arguments]}}]
    batch = pa.array([json.dumps(line)])
    assert not may_hold_encoded(batch)  # only a key the adapters read as an object or a list opens it
    [row] = adapt("provider-bodies", line)
    assert row["tool_calls"] == 1 and row["prompt_tokens"] == 3
    line["response"]["usage"] = json.dumps({"prompt_tokens": 3})
    assert may_hold_encoded(pa.array([json.dumps(line)]))
    assert may_hold_encoded(pa.array([json.dumps({"usage": "\n{}"})]))  # an escaped blank before the brace


def test_only_a_batch_that_may_hold_such_strings_runs_a_statement_that_decodes():
    for adapter in ADAPTERS:
        for bulk_form in (False, True) if adapter.bulk else (False,):
            assert "json_merge_patch" not in batch_sql(adapter, bulk_form, decode=False)
    assert "json_merge_patch" in batch_sql(BY_NAME["provider-bodies"], decode=True)


def test_a_big_file_with_bodies_written_as_strings_reads_them_in_bulk_like_the_line_path(tmp_path, monkeypatch):
    lines = []
    for i in range(300):
        line = _body(prompt_tokens=i, completion_tokens=1)
        line["request_id"] = f"r{i}"
        if i % 100 == 7:  # a few bodies as strings, after the strict read has given rows
            line["response"] = json.dumps(line["response"])
        elif i % 100 == 8:  # a few with only their usage as a string
            line["response"]["usage"] = json.dumps(line["response"]["usage"])
        lines.append(json.dumps(line))
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(lines) + "\n")
    found = []
    monkeypatch.setattr(bulk, "encoded_rows", _recording(bulk.encoded_rows, found))
    [entry] = _same_outcome(warehouses := _ingest_both(tmp_path, path, monkeypatch=monkeypatch))
    assert entry["written"] == 300 and entry["quarantined"] == 0
    assert found == [6]  # the bulk read found the six rows, the line path read them
    tokens = {row["request_id"]: row["prompt_tokens"] for row in stored(warehouses["bulk"])}
    assert tokens == {f"r{i}": i for i in range(300)}


def _recording(function: Any, found: list[int]) -> Any:
    def recording(*args: Any, **kwargs: Any) -> Any:
        rows = function(*args, **kwargs)
        found.append(int(rows.sum()))
        return rows

    return recording


def test_a_file_of_bodies_written_as_strings_takes_the_line_path_and_reads_them(tmp_path, monkeypatch):
    lines = []
    for i in range(300):
        line = _body(prompt_tokens=i)
        line["request_id"] = f"r{i}"
        line["response"] = json.dumps(line["response"])
        lines.append(json.dumps(line))
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(stage_module, "BULK_MIN_BYTES", 0)
    warehouses = _ingest_both(tmp_path, path, monkeypatch=monkeypatch)
    assert {row["request_id"]: row["prompt_tokens"] for row in stored(warehouses["bulk"])} == {
        f"r{i}": i for i in range(300)
    }
