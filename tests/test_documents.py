"""Files of JSON documents (an array of records, records pretty-printed, an API's page) read record by record.

The records of a document are the lines of a JSON-lines file: each shape of document holding the lines of a
JSON-lines file must store, quarantine and count exactly what that file does, the Nth record numbered as line N.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pipelines.lib.ingest import documents, ingest
from pipelines.lib.reader import MAX_LINE_BYTES, too_long
from pipelines.lib.storage import Warehouse
from tests.adapter_support import transform_connection
from tests.conftest import HASH_KEY, ledger_entries, quarantined, record, stored

REAL = Path(__file__).parent / "fixtures" / "real"


def _lines(*folders: str) -> list[str]:
    """The lines of every sample of the corpus folders, in order (each a JSON object)."""
    texts = []
    for folder in folders:
        for path in sorted((REAL / folder).rglob("*.jsonl")):
            texts += [line for line in path.read_text().splitlines() if line.strip()]
    return texts


def _shapes(lines: list[str]) -> dict[str, str]:
    """The same records written as each shape of document."""
    pretty = [json.dumps(json.loads(line), indent=2, ensure_ascii=False) for line in lines]
    return {
        "array": "[" + ",".join(lines) + "]",
        "pretty-array": "[\n" + ",\n".join("  " + text.replace("\n", "\n  ") for text in pretty) + "\n]\n",
        "pretty-records": "\n".join(pretty) + "\n",
        "page": '{"data": [\n' + ",\n".join(lines) + '\n], "total": ' + str(len(lines)) + ', "page": 1}',
    }


def _outcome(warehouse: Warehouse) -> tuple[list[dict[str, Any]], list[tuple[int, str]], dict[str, Any]]:
    """Stored records, quarantined (line, reason) and the ledger's counts, without what names the file."""
    rows = [{k: v for k, v in row.items() if k != "source_uri"} for row in stored(warehouse)]
    rejects = [(row["source_line"], row["reason"]) for row in quarantined(warehouse)]
    [entry] = ledger_entries(warehouse)
    counts = {k: entry[k] for k in ("lines", "records", "written", "duplicates", "quarantined", "ignored")}
    return rows, rejects, counts | {"format": entry["source_format"], "read_by": entry["read_by"]}


def _ingest(tmp_path: Path, name: str, content: str | bytes) -> Warehouse:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    warehouse = Warehouse(str(tmp_path / f"wh-{name}"))
    report = ingest([str(path)], warehouse, hash_key=HASH_KEY)
    assert report.balanced
    return warehouse


@pytest.mark.parametrize(
    "folders",
    [
        ("litellm-spendlogs", "litellm"),
        pytest.param(("openrouter",), marks=pytest.mark.slow),
        pytest.param(("otel/openllmetry", "anthropic-messages"), marks=pytest.mark.slow),
    ],
)
def test_every_shape_of_document_stores_what_its_records_as_json_lines_store(tmp_path, folders):
    lines = _lines(*folders)
    rows, rejects, counts = _outcome(_ingest(tmp_path, "lines.jsonl", "\n".join(lines) + "\n"))
    assert counts["read_by"] in ("lines", "bulk") and counts["lines"] == len(lines)
    for shape, text in _shapes(lines).items():
        got_rows, got_rejects, got_counts = _outcome(_ingest(tmp_path, f"{shape}.json", text))
        assert got_counts == counts | {"read_by": "documents"}, shape
        assert got_rejects == rejects, shape
        assert got_rows == rows, shape


@pytest.mark.slow
def test_a_litellm_spend_logs_api_answer_is_read_as_its_rows(tmp_path):
    """`GET /spend/logs` returns a JSON array of SpendLogs rows; saved as it came, the file is that array."""
    rows = [json.loads(line) for line in _lines("litellm-spendlogs")]
    warehouse = _ingest(tmp_path, "spend.json", json.dumps(rows, indent=2) + "\n")
    got, _rejects, counts = _outcome(warehouse)
    assert counts["lines"] == len(rows) and {row["source_format"] for row in got} == {"litellm-spendlogs"}
    assert counts["written"] + counts["duplicates"] + counts["quarantined"] == len(rows) and got


@pytest.mark.slow
def test_a_document_compressed_is_read_as_the_document(tmp_path):
    lines = [json.dumps(record(request_id=f"r{i}")) for i in range(5)] + ['{"request_id": null}']
    plain = _outcome(_ingest(tmp_path, "plain.json", "[\n" + ",\n".join(lines) + "\n]"))
    packed = _outcome(_ingest(tmp_path, "packed.json.gz", gzip.compress(("[\n" + ",\n".join(lines) + "\n]").encode())))
    assert packed == plain and plain[2]["written"] == 5 and plain[1][0][0] == 6


def test_records_are_numbered_by_position_and_a_bad_one_is_quarantined_with_its_number(tmp_path):
    good, bad = record(request_id="a"), record(request_id="b", created_at="yesterday")
    text = json.dumps([good, bad, [1, 2], "text", record(request_id="c")], indent=4)
    rows, rejects, counts = _outcome(_ingest(tmp_path, "mixed.json", text))
    assert [r["request_id"] for r in rows] == ["a", "c"] and [r["source_line"] for r in rows] == [1, 5]
    assert [line for line, _reason in rejects] == [2, 3, 4]
    assert (counts["lines"], counts["written"], counts["quarantined"]) == (5, 2, 3)


@pytest.mark.slow
def test_a_document_cut_short_is_read_as_json_lines_with_every_line_accounted_for(tmp_path):
    text = json.dumps([record(request_id="a"), record(request_id="b")], indent=2)
    cut = text[: text.index('"b"') + 3]  # a logger stopped mid-write: no closing brackets
    _rows, rejects, counts = _outcome(_ingest(tmp_path, "cut.json", cut))
    assert counts["read_by"] == "lines" and counts["lines"] == cut.count("\n") + 1
    assert counts["records"] == counts["quarantined"] + counts["ignored"] and counts["written"] == 0
    assert len(rejects) == counts["quarantined"]


def test_json_lines_whose_first_line_is_cut_stay_json_lines(tmp_path):
    lines = ['{"request_id": "cut", "attempt"', *(json.dumps(record(request_id=f"r{i}")) for i in range(3))]
    _rows, rejects, counts = _outcome(_ingest(tmp_path, "cut.jsonl", "\n".join(lines) + "\n"))
    assert counts["read_by"] in ("lines", "bulk") and counts["written"] == 3 and [r[0] for r in rejects] == [1]


@pytest.mark.slow
def test_json_lines_of_pages_read_each_page_as_its_records(tmp_path):
    pages = [{"data": [record(request_id=f"p{p}-{i}") for i in range(2)], "has_more": p == 0} for p in range(2)]
    rows, _rejects, counts = _outcome(_ingest(tmp_path, "pages.jsonl", "\n".join(map(json.dumps, pages)) + "\n"))
    assert [(r["request_id"], r["source_line"]) for r in rows] == [("p0-0", 1), ("p0-1", 2), ("p1-0", 3), ("p1-1", 4)]
    assert counts["lines"] == 4 and counts["read_by"] == "documents"


@pytest.mark.slow
def test_an_empty_array_is_a_file_of_no_records(tmp_path):
    _rows, _rejects, counts = _outcome(_ingest(tmp_path, "empty.json", "[]\n"))
    assert (counts["lines"], counts["records"]) == (0, 0)


def test_a_record_past_the_line_limit_is_rejected_with_its_length(tmp_path):
    path = tmp_path / "long.json"
    path.write_text(json.dumps([record(request_id="a"), record(request_id="b", model="m" * 2000)]))
    [batch] = documents.records(transform_connection(), str(path), "[", 1 << 20, longest=1000)
    assert batch.lines.column("source_line").to_pylist() == [1]
    [(number, reason, excerpt)] = batch.rejected
    assert number == 2 and reason.startswith(too_long(0, 1000).split("(")[0]) and excerpt.startswith("{")


def test_a_record_keeps_its_numbers_as_written_and_sits_on_one_line(tmp_path):
    path = tmp_path / "numbers.json"
    path.write_text('[\n  {"cost": 0.000059494,\n   "big": 123456789012345678901234567890, "s": "a\\nb"}\r\n]')
    [batch] = documents.records(transform_connection(), str(path), "[", 1 << 20)
    assert batch.lines.column("raw").to_pylist() == [
        '{"cost": 0.000059494,    "big": 123456789012345678901234567890, "s": "a\\nb"}'
    ]


@pytest.mark.parametrize(
    ("first", "opens"),
    [
        ("[", True),
        ('[{"a": 1}, {"a": 2}]', True),
        ("\ufeff  [", True),
        ("{", True),
        ('{"request_id": "x",', True),
        ('{"data": [{"id": 1}], "total": 1}', True),
        ('{"data": []}', True),
        ('{"request_id": "x"}', False),
        ('{"data": {"id": "gen-1"}}', False),  # OpenRouter's generation stats: one record
        ('{"data": [{"id": 1}], "choices": []}', False),  # another list: a record of its own
        ('{"data": [1, 2]}', False),
        ("not json", False),
        ("", False),
        ("[" * 100_000 + "]" * 100_000, False),  # too deep for Python's parser: the line path says so
    ],
)
def test_which_first_lines_open_documents(first, opens):
    assert documents.opens_document(first) is opens


def _embeddings(number: int) -> dict[str, Any]:
    """A bare OpenAI embeddings body: `{"object": "list", "data": [...]}`, a record, not a page."""
    vectors = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(2)]
    return {"object": "list", "data": vectors, "model": "text-embedding-3-small", "usage": {"prompt_tokens": number}}


def test_an_openai_embeddings_body_is_a_record_not_a_page(tmp_path):
    envelope = {"timestamp": "2025-06-01T12:00:00Z", "request_id": "e1", "response": _embeddings(3)}
    lines = [json.dumps(_embeddings(1)), json.dumps(envelope)]
    _rows, rejects, counts = _outcome(_ingest(tmp_path, "emb.jsonl", "\n".join(lines) + "\n"))
    assert counts["read_by"] != "documents" and counts["lines"] == 2 and counts["written"] == 1
    assert [line for line, _reason in rejects] == [1]  # bare: no time
    _rows, _rejects, counts = _outcome(_ingest(tmp_path, "emb.json", json.dumps([envelope, _embeddings(2)])))
    assert (counts["read_by"], counts["lines"], counts["written"]) == ("documents", 2, 1)


@pytest.mark.slow
def test_small_files_of_documents_share_statements(tmp_path, packs):
    folder = tmp_path / "pages"
    folder.mkdir()
    for n in range(4):
        page = {"data": [record(request_id=f"p{n}-{i}") for i in range(3)], "total": 3}
        (folder / f"page-{n}.json").write_text(json.dumps(page, indent=2))
    warehouse = Warehouse(str(tmp_path / "wh"))
    report = ingest([str(folder)], warehouse, hash_key=HASH_KEY)
    assert report.balanced and report.written == 12
    assert sorted(name for pack in packs for name in pack) == [f"page-{n}.json" for n in range(4)]
    assert {entry["read_by"] for entry in ledger_entries(warehouse)} == {"documents"}


@pytest.mark.slow
def test_a_document_read_again_after_a_rewrite_counts_its_stored_records_as_duplicates(tmp_path):
    path = tmp_path / "grow.json"
    first = [record(request_id=f"g{i}") for i in range(2)]
    path.write_text(json.dumps(first, indent=2))
    warehouse = Warehouse(str(tmp_path / "wh"))
    ingest([str(path)], warehouse, hash_key=HASH_KEY)
    path.write_text(json.dumps([first[0], record(request_id="g2"), first[1]], indent=2))
    os.utime(path, (1, 1))  # another version: the ledger keys files by size and time too
    again = ingest([str(path)], warehouse, hash_key=HASH_KEY)
    assert (again.lines, again.written, again.duplicates) == (3, 1, 2)


@pytest.mark.slow
def test_a_compact_array_longer_than_a_line_is_read_as_its_records(tmp_path):
    """A saved answer on one line longer than the line limit: the line reader leaves it out, its first bytes tell."""
    rows = [record(request_id=f"big{i}", app_id="a" * 600) for i in range(26_000)]
    text = json.dumps(rows)
    assert len(text) > MAX_LINE_BYTES
    _rows, _rejects, counts = _outcome(_ingest(tmp_path, "big.json", text))
    assert (counts["read_by"], counts["lines"], counts["written"]) == ("documents", 26_000, 26_000)
