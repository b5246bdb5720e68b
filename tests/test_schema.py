"""The pydantic model is the single source of truth: JSON Schema, Arrow schema and bulk rules follow it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from pydantic import ValidationError

from pipelines.lib.ingest import ingest
from pipelines.lib.sqlmodels.database import DATABASE_FILE, open_database
from pipelines.lib.storage import Warehouse
from schemas.bulk import arrow_schema, blank_is_absent, field_specs
from schemas.jsonschema import ARTEFACTS, SCHEMA_PATH
from schemas.record import RequestRecord
from tests.conftest import HASH_KEY, quarantined, record, stored, write_lines


@pytest.mark.parametrize("path", list(ARTEFACTS), ids=lambda p: p.name)
def test_committed_artefacts_are_current(path):
    assert path.read_text() == ARTEFACTS[path](), "run `make schema` to regenerate it"


def test_every_field_is_documented():
    schema = json.loads(SCHEMA_PATH.read_text())
    undocumented = [name for name, prop in schema["properties"].items() if not prop.get("description")]
    assert undocumented == []


def test_arrow_schema_follows_the_model():
    schema = arrow_schema()
    assert schema.names == list(RequestRecord.model_fields)
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("reasoning_tokens").type == pa.int64()
    assert schema.field("request_id").nullable is False
    assert schema.field("reasoning_tokens").nullable is True
    assert schema.field("model").metadata[b"description"].startswith(b"Model id actually served")


def test_an_empty_warehouse_reads_with_the_columns_and_types_of_a_stored_one(tmp_path):
    """The `requests` view of a warehouse that stores nothing takes its columns from `schemas.stored` (no
    pydantic model): they must be those, typed as such, of a partition the ingest writes."""
    described = {}
    for name, lines in (("empty", []), ("stored", [record()])):
        warehouse = Warehouse(str(tmp_path / name))
        if lines:
            ingest([str(write_lines(tmp_path / "in.jsonl", lines))], warehouse, hash_key=HASH_KEY)
        Path(warehouse.root).mkdir(exist_ok=True)
        duckdb.connect(warehouse.path(DATABASE_FILE)).close()
        with open_database(warehouse, read_only=True) as con:
            described[name] = con.execute("select column_name, column_type from (describe requests)").fetchall()
    assert described["empty"] == described["stored"]
    assert [name for name, _ in described["empty"]] == [*RequestRecord.model_fields, "date"]


def test_field_specs_read_constraints_from_the_model():
    specs = {s.name: s for s in field_specs()}
    assert (specs["attempt"].ge, specs["attempt"].default) == (1, 1)
    assert specs["status"].choices == ("success", "error", "cancelled")
    assert specs["completion_tokens"].ge == 0 and specs["completion_tokens"].nullable
    assert specs["user_hash"].pattern == r"^[0-9a-f]{64}$"


# Records that exercise every kind of rule; the per-row pydantic validator and the bulk SQL must agree.
CORPUS: list[dict[str, Any]] = [
    record(),
    record(attempt=2, status="error", http_status=529, native_finish_reason=None, completion_tokens=None),
    record(attempt="3"),
    record(attempt=0),
    record(attempt="x"),
    record(created_at=None),
    record(created_at="2025-06-01"),
    record(created_at="2025-06-01T12:00:00"),
    record(created_at="not a time"),
    record(created_at="2014-12-31T23:59:59Z"),
    # epoch numbers: seconds, milliseconds, microseconds, nanoseconds by magnitude, as numbers or text
    record(created_at=1748779200),
    record(created_at=1748779200.25),
    record(created_at=1748779200123),
    record(created_at="1748779200123456"),
    record(created_at="1748779200123456789"),
    record(created_at=" 1.7487792e9 "),
    record(created_at=20250601),  # a day as a number: seconds in 1970, out of range
    record(created_at="0x1F"),
    record(created_at=10**30),
    record(created_at=True),
    record(created_at="\t1748779200\r\n"),
    record(created_at="".join(chr(0xFF10 + int(d)) for d in "1748779200")),  # full-width digits: not a number
    record(model="", app_id="", error_code="", native_finish_reason=""),
    record(model='{"role": "user"}'),
    record(request_id=" [1]"),
    record(model="[beta] x"),
    record(request_id="{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"),
    record(model="[]", app_id="{}"),
    record(status="cancelled", native_finish_reason=None),
    record(status="weird"),
    record(http_status=99),
    record(http_status=600),
    record(http_status=404, status="success"),
    record(prompt_tokens=-1),
    record(prompt_tokens="12"),
    record(prompt_tokens="twelve"),
    record(reasoning_tokens=301),
    record(reasoning_tokens=300),
    record(cached_prompt_tokens=1201),
    record(ttft_ms=2100.5),
    record(latency_ms=-0.5),
    record(cost_usd=-0.01),
    record(streamed=False),
    record(streamed="yes"),
    record(request_id=""),
    record(request_id="r" * 257),
    record(model="m" * 257),
    record(tool_calls=-2),
    record(attempt=1.5),
    record(attempt=2.0),
    record(http_status=200.7),
    record(latency_ms="NaN", ttft_ms=None),
    record(cost_usd="Infinity"),
    record(cost_usd="\u00a0NaN"),  # DuckDB's trim strips Unicode's spaces; the model strips the same
    record(cost_usd="NaN\t"),
    record(status="Success"),
    record(status=" error "),
]


def _pydantic_accepts(line: dict[str, Any]) -> bool:
    data = {k: v for k, v in line.items() if k in RequestRecord.model_fields and k != "provider_native"}
    data |= {"source_format": "canonical", "source_uri": "file:///x", "source_line": 1}
    try:
        RequestRecord.model_validate(data)
    except ValidationError:
        return False
    return True


@pytest.fixture(scope="module")
def bulk_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str | None]:
    """The bulk rules' verdict on each CORPUS record (its quarantine reason, None when stored), from one ingest of
    one file holding them all: an ingest costs about half a second whatever its size, and each line is judged
    on its own. A record with the default request id gets one of its own, so none is a duplicate of another."""
    root = tmp_path_factory.mktemp("bulk")
    lines = [
        line | {"request_id": f"case-{n}"} if line.get("request_id") == "req-1" else line
        for n, line in enumerate(CORPUS)
    ]
    warehouse = Warehouse(str(root / "warehouse"))
    report = ingest([str(write_lines(root / "corpus.jsonl", lines))], warehouse, hash_key=HASH_KEY)
    reasons = {row["source_line"]: row["reason"] for row in quarantined(warehouse)}
    assert report.written + report.quarantined == len(CORPUS) and report.duplicates == 0
    return {index: reasons.get(index + 1) for index in range(len(CORPUS))}


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_bulk_rules_agree_with_pydantic(bulk_verdicts, index):
    reason = bulk_verdicts[index]
    assert (reason is None) == _pydantic_accepts(CORPUS[index]), f"bulk reason: {reason}"


def test_an_empty_text_is_absent_in_the_model_for_the_fields_the_bulk_typing_reads_it_so():
    base = {"request_id": "r", "created_at": "2025-06-01T00:00:00Z", "status": "success"}
    base |= {"source_format": "canonical", "source_uri": "file:///x", "source_line": 1}
    got = RequestRecord.model_validate(base | dict.fromkeys(blank_is_absent(), ""))
    assert all(getattr(got, name) is None for name in blank_is_absent())


#: Epoch times whose microsecond depends on how each reader scales and rounds: halves, past the microsecond,
#: nanoseconds, blanks around them.
EPOCHS = [
    "1748779200.0000005",
    "1748779200123.4565",
    "1748779200123456.5",
    "1748779284628134991",
    "1748779209111.2743",
    1748779200.0000015,
    1748779200.1234565,
    "\t1748779200\n",
    " 1.7487792000000005e12 ",
]


def test_the_bulk_typing_and_the_model_read_each_epoch_time_to_the_same_microsecond(tmp_path):
    lines = [record(request_id=f"e{n}", created_at=value) for n, value in enumerate(EPOCHS)]
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    report = ingest([str(write_lines(tmp_path / "epochs.jsonl", lines))], warehouse, hash_key=HASH_KEY)
    assert report.written == len(EPOCHS)
    got = {row["request_id"]: row["created_at"] for row in stored(warehouse)}
    for n, line in enumerate(lines):
        model = RequestRecord.model_validate(
            {"request_id": "r", "created_at": line["created_at"], "status": "success"}
            | {"source_format": "canonical", "source_uri": "file:///x", "source_line": 1}
        )
        assert got[f"e{n}"] == model.created_at, line["created_at"]
