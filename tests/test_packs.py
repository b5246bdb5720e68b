"""Small files read line by line share transform statements (`stage.PACK_BYTES`): a pack must stage exactly what
staging each file alone stages, file by file: the same records, quarantine rows (line numbers and reasons),
duplicates and conflicts between its files, and ledger entries."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.lib.ingest import FileReport, UnreadableSourceError, commit_staged, ingest, stage, stage_batch
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, ledger_entries, quarantined, record, spy, stored, write_lines

CORPUS = Path(__file__).parent / "fixtures" / "real"


def _odd_files(folder: Path) -> list[Path]:
    """Small files of several formats with the lines every reader must settle, and records shared across files."""
    files = [
        write_lines(
            folder / "a.jsonl",
            [record(request_id="a1"), record(request_id="shared", app_id="first"), "junk", "", "{}", "[1, 2]"],
        ),
        write_lines(
            folder / "b.jsonl",
            [
                "\ufeff" + json.dumps(record(request_id="b1")),
                "\f",
                record(request_id="shared", app_id="second"),  # a conflict: same key, other content
                record(request_id="bad-day", created_at="yesterday"),
            ],
        ),
        write_lines(folder / "c.jsonl", [record(request_id="a1"), "   \t"]),  # a duplicate of a.jsonl's first
        write_lines(
            folder / "azure.csv", ["TIMESTAMP,ContextTokens,GeneratedTokens", "2023-11-16 18:15:46.6805900,4808,10"]
        ),
        # keyed by file name and line: packed, its keys would be another file's
        write_lines(folder / "azure-2.csv", ["2023-11-16 18:15:47.0000000,100,20"]),
    ]
    invalid = folder / "d.jsonl"
    invalid.write_bytes(b"\xff\xfe{\n" + json.dumps(record(request_id="d1")).encode())  # no final newline
    empty = folder / "e.jsonl"
    empty.write_bytes(b"")
    compressed = folder / "g.jsonl.gz"  # read whole through its decompression, and held like the others
    compressed.write_bytes(gzip.compress((json.dumps(record(request_id="g1")) + "\n").encode()))
    last = write_lines(folder / "f.jsonl", [record(request_id="f1", provider_native=None)])
    return [*files, invalid, empty, compressed, last]


def _corpus(per_folder: int | None) -> list[Path]:
    """Real samples of every format, `per_folder` of each folder (None: all)."""
    by_folder: dict[Path, list[Path]] = {}
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix in (".jsonl", ".csv"):
            by_folder.setdefault(path.parent, []).append(path)
    return [path for paths in by_folder.values() for path in paths[:per_folder]]


def _outcome(warehouse: Warehouse) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Stored records, quarantine rows and ledger entries (without their time), each in a total order."""
    rows = sorted(quarantined(warehouse), key=lambda row: json.dumps(row, sort_keys=True, default=str))
    entries = []
    for entry in sorted(ledger_entries(warehouse), key=lambda e: e["url"]):
        entry.pop("ingested_at")
        entries.append(entry)
    return stored(warehouse), rows, entries


def _ingest_alone_and_packed(
    tmp_path: Path, sources: list[Path], monkeypatch: pytest.MonkeyPatch, **packing: int
) -> tuple[Any, Any]:
    """Ingest `sources` line by line, each file its own statement, then with packs (`packing`: PACK_BYTES or
    PACK_FILES); returns both outcomes."""
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)
    outcomes, default = [], stage.PACK_BYTES
    for mode in ("alone", "packed"):
        monkeypatch.setattr(stage, "PACK_BYTES", None if mode == "alone" else default)
        for name, value in packing.items() if mode == "packed" else ():
            monkeypatch.setattr(stage, name, value)
        warehouse = Warehouse(str(tmp_path / mode))
        report = ingest([str(s) for s in sources], warehouse, hash_key=HASH_KEY)
        assert report.balanced
        outcomes.append(_outcome(warehouse))
    return outcomes[0], outcomes[1]


def test_a_pack_stages_what_each_file_alone_stages(tmp_path, monkeypatch, packs):
    sources = _odd_files(tmp_path / "odd") + _corpus(per_folder=1)
    alone, packed = _ingest_alone_and_packed(tmp_path, sources, monkeypatch)
    packed_names = {name for pack in packs for name in pack}
    # files did share statements, a file without a final newline too (read as two batches); never a CSV trace
    assert max(map(len, packs)) > 2 and {"a.jsonl", "d.jsonl", "g.jsonl.gz"} <= packed_names
    assert not {"azure.csv", "azure-2.csv"} & packed_names
    assert packed == alone
    records, rows, entries = packed
    by_name = {Path(entry["url"]).name: entry for entry in entries}
    assert (by_name["c.jsonl"]["written"], by_name["c.jsonl"]["duplicates"]) == (0, 1)  # a.jsonl's a1 again
    assert by_name["a.jsonl"]["conflicts"] == by_name["b.jsonl"]["conflicts"] == 1  # the two "shared" records
    assert by_name["azure.csv"]["ignored_reasons"] == {"CSV header": 1}
    # line numbers are the files' own, URLs each record's file
    assert {(Path(r["source_uri"]).name, r["source_line"]) for r in rows} >= {("a.jsonl", 3), ("d.jsonl", 1)}
    assert {(Path(r["source_uri"]).name, r["source_line"]) for r in records if r["request_id"] == "b1"} == {
        ("b.jsonl", 1)
    }


@pytest.mark.slow
def test_the_whole_corpus_in_packs_of_a_few_files_stages_what_each_file_alone_stages(tmp_path, monkeypatch, packs):
    sources = _corpus(per_folder=None)
    alone, packed = _ingest_alone_and_packed(tmp_path, sources, monkeypatch, PACK_FILES=7)
    assert len(packs) > 10 and max(map(len, packs)) == 7
    assert packed == alone


def test_held_files_are_staged_once_they_hold_pack_bytes_in_all_formats(tmp_path, monkeypatch, packs):
    sources = [write_lines(tmp_path / f"{n}.jsonl", [record(request_id=str(n))]) for n in range(5)]
    size = sum(len(path.read_bytes()) for path in sources[:2])  # two files' lines fill the bound
    alone, packed = _ingest_alone_and_packed(tmp_path, sources, monkeypatch, PACK_BYTES=size)
    assert packs == [["0.jsonl", "1.jsonl"], ["2.jsonl", "3.jsonl"]] and packed == alone  # the fifth one alone


def test_a_compressed_file_with_more_lines_than_a_pack_holds_is_staged_as_it_is_read(tmp_path, monkeypatch, packs):
    small = [write_lines(tmp_path / f"{n}.jsonl", [record(request_id=str(n))]) for n in range(2)]
    big = tmp_path / "big.jsonl.gz"  # about 400 bytes stored, 40 KB of lines
    big.write_bytes(gzip.compress("".join(json.dumps(record(request_id=f"b{i}")) + "\n" for i in range(80)).encode()))
    bound = 4 * len(small[0].read_bytes())
    assert big.stat().st_size < bound  # held by its size, until its lines pass the bound as they are read
    alone, packed = _ingest_alone_and_packed(tmp_path, [small[0], big, small[1]], monkeypatch, PACK_BYTES=bound)
    assert packs == [["0.jsonl", "1.jsonl"]] and packed == alone
    assert len(packed[0]) == 82


def test_a_staged_batch_of_packed_files_commits_to_what_one_ingest_writes(tmp_path, monkeypatch, packs):
    sources = [str(s) for s in _odd_files(tmp_path / "odd")]
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)
    staged = Warehouse(str(tmp_path / "staged"))
    stage_batch(sources, staged, batch="date=2025-06-01", hash_key=HASH_KEY)
    assert packs  # the batch holds a pack
    commit_staged(staged)
    monkeypatch.setattr(stage, "PACK_BYTES", None)
    direct = Warehouse(str(tmp_path / "direct"))
    ingest(sources, direct, hash_key=HASH_KEY)
    assert _outcome(staged) == _outcome(direct)


def test_a_pack_whose_statement_fails_is_staged_again_file_by_file(tmp_path, monkeypatch):
    sources = _odd_files(tmp_path / "odd")
    original = stage.FileStager._stage_pack

    def fail_after_staging(self: stage.FileStager, adapter: Any, files: list[Any], staged: str) -> None:
        original(self, adapter, files, staged)  # everything counted and staged, then a failure
        raise OSError("disk full")

    monkeypatch.setattr(stage.FileStager, "_stage_pack", fail_after_staging)
    messages: list[str] = []
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)
    warehouse = Warehouse(str(tmp_path / "failed"))
    report = ingest([str(s) for s in sources], warehouse, hash_key=HASH_KEY, progress=messages.append)
    assert report.balanced and any("staging each alone" in m for m in messages)
    monkeypatch.setattr(stage, "PACK_BYTES", None)
    alone = Warehouse(str(tmp_path / "alone"))
    ingest([str(s) for s in sources], alone, hash_key=HASH_KEY)
    assert _outcome(warehouse) == _outcome(alone)  # nothing counted or staged twice


def test_a_file_whose_statement_fails_fails_alone_and_its_pack_is_staged_file_by_file(tmp_path, monkeypatch):
    sources = _odd_files(tmp_path / "odd")
    poison = sources[1]  # b.jsonl: its statement fails, in the pack and alone (a DuckDB error, say)
    original = stage.FileStager._copy

    def failing(self: stage.FileStager, name: str, table: Any, sql: str, adapter: Any, target: str, source: Any, *rest):
        urls = source.column("source_uri").to_pylist() if hasattr(source, "column") else [source]
        if poison.as_uri() in urls:
            raise duckdb.InvalidInputException("cannot read this one")
        return original(self, name, table, sql, adapter, target, source, *rest)

    monkeypatch.setattr(stage.FileStager, "_copy", failing)
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)
    failed = Warehouse(str(tmp_path / "failed"))
    with pytest.raises(UnreadableSourceError):
        ingest([str(s) for s in sources], failed, hash_key=HASH_KEY)
    monkeypatch.setattr(stage, "PACK_BYTES", None)
    others = Warehouse(str(tmp_path / "others"))
    ingest([str(s) for s in sources if s != poison], others, hash_key=HASH_KEY)
    assert _outcome(failed) == _outcome(others)  # the others as if the failed file were not there


def test_an_error_outside_a_files_staging_fails_the_run_and_marks_no_file_done(tmp_path, monkeypatch):
    """Files that share a staged file cannot fail one by one after it is written: an error past the per-file
    handling (here, the progress callback) stops the run before anything is published."""

    def fail_pack(self: stage.FileStager, adapter: Any, files: list[Any], target: str) -> None:
        raise OSError("disk full")

    def progress(message: str) -> None:
        if "staging each alone" in message:
            raise BrokenPipeError("stdout closed")

    monkeypatch.setattr(stage.FileStager, "_stage_pack", fail_pack)
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)
    monkeypatch.setattr(stage, "PACK_FILES", 3)
    warehouse = Warehouse(str(tmp_path / "w"))
    sources = [write_lines(tmp_path / f"{n}.jsonl", [record(request_id=str(n))] * 5) for n in range(4)]
    with pytest.raises(BrokenPipeError):
        ingest([str(s) for s in sources], warehouse, hash_key=HASH_KEY, progress=progress)
    assert ledger_entries(warehouse) == [] and stored(warehouse) == []


def test_a_file_whose_lines_were_never_staged_is_not_balanced():
    report = FileReport(url="file:///x.jsonl", key="k", size=10, lines=5)  # read, then nothing counted
    assert not report.balanced
    report.records = report.written = 5
    assert report.balanced


def test_adapters_that_read_the_file_name_are_never_packed():
    from schemas.adapters import ADAPTERS

    per_file = {adapter.name for adapter in ADAPTERS if adapter.per_file}
    assert per_file == {"azure-llm-trace", "mooncake-trace"}  # their keys are the file's name and line number


def test_whether_a_file_is_compressed_is_read_once(tmp_path, monkeypatch):
    """A compressed file near the bulk threshold: its first bytes decide both whether it is read in bulk and
    whether it is read whole to be held, and are read once (on an object store, a request)."""
    lines = "".join(json.dumps(record(request_id=f"z{i}")) + "\n" for i in range(200)).encode()
    path = tmp_path / "near.jsonl.gz"
    path.write_bytes(gzip.compress(lines))
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", 4 * path.stat().st_size)  # under it as stored, over it guessed
    calls = []
    monkeypatch.setattr(stage, "is_compressed", spy(stage.is_compressed, calls))
    report = ingest([str(path)], Warehouse(str(tmp_path / "w")), hash_key=HASH_KEY)
    assert (report.written, len(calls)) == (200, 1) and report.files[0].read_by == "bulk"


def test_small_files_of_provider_bodies_share_a_statement_whichever_bulk_form_their_first_lines_bind(
    tmp_path, monkeypatch, packs
):
    """Detection binds a file of envelopes to another bulk form than a file of bare bodies; read line by line,
    both forms read alike, so their small files share a pack."""
    envelope = {"timestamp": "2026-01-05T00:00:00Z", "provider": "anthropic"}
    message = {"type": "message", "model": "claude-sonnet-4-5", "content": [], "stop_reason": "end_turn"}
    vertex = {"createTime": "2026-01-05T00:00:00Z", "responseId": "v1", "candidates": [{"finishReason": "STOP"}]}
    sources = [tmp_path / "envelopes.jsonl", tmp_path / "bare.jsonl"]
    sources[0].write_text(json.dumps(envelope | {"request_id": "e1", "response": message | {"id": "msg_1"}}) + "\n")
    sources[1].write_text(json.dumps(vertex) + "\n")
    alone, packed = _ingest_alone_and_packed(tmp_path, sources, monkeypatch)
    assert packs == [["envelopes.jsonl", "bare.jsonl"]] and packed == alone
    assert len(packed[0]) == 2


#: Ctrl-C as a DuckDB statement meets it: SIGINT during a statement (duckdb 2.0), `con.interrupt()`.
INTERRUPTS = [RuntimeError("Query interrupted"), duckdb.InterruptException("INTERRUPT Error: Interrupted!")]


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=["sigint", "interrupt"])
@pytest.mark.parametrize("where", ["pack", "file alone"])
def test_ctrl_c_in_a_statement_stops_the_run_and_marks_no_file(tmp_path, monkeypatch, interrupt, where):
    """Ctrl-C stopping a pack's statement, or a file's statement once the pack failed otherwise, ends the run: no
    pack staged again file by file, no file marked unreadable, nothing in the ledger or the warehouse."""
    original = stage.FileStager._copy

    def stopped(self: stage.FileStager, name: str, table: Any, sql: str, adapter: Any, target: str, source: Any, *rest):
        if hasattr(source, "column"):  # a pack's statement
            raise interrupt if where == "pack" else OSError("disk full")
        if where == "file alone":
            raise interrupt
        return original(self, name, table, sql, adapter, target, source, *rest)

    monkeypatch.setattr(stage.FileStager, "_copy", stopped)
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", None)
    monkeypatch.setattr(stage, "PACK_FILES", 3)
    messages: list[str] = []
    warehouse = Warehouse(str(tmp_path / "w"))
    sources = [write_lines(tmp_path / f"{n}.jsonl", [record(request_id=str(n))]) for n in range(4)]
    with pytest.raises(type(interrupt)):
        ingest([str(s) for s in sources], warehouse, hash_key=HASH_KEY, progress=messages.append)
    fallback = [m for m in messages if "staging each alone" in m]
    assert len(fallback) == (where == "file alone")  # staged each alone after the pack's own error only
    assert not [m for m in messages if "cannot read" in m]
    assert ledger_entries(warehouse) == [] and stored(warehouse) == []
