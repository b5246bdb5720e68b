"""Small files read line by line share transform statements (`stage.PACK_BYTES`): a pack must stage exactly what
staging each file alone stages, file by file: the same records, quarantine rows (line numbers and reasons),
duplicates and conflicts between its files, and ledger entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipelines.lib.ingest import ingest, stage
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, ledger_entries, quarantined, record, stored, write_lines

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
    ]
    invalid = folder / "d.jsonl"
    invalid.write_bytes(b"\xff\xfe{\n" + json.dumps(record(request_id="d1")).encode())  # no final newline
    empty = folder / "e.jsonl"
    empty.write_bytes(b"")
    return [*files, invalid, empty, write_lines(folder / "f.jsonl", [record(request_id="f1", provider_native=None)])]


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


@pytest.fixture
def pack_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of files of each pack staged (a spy on `FileStager._stage_pack`, which runs as it is)."""
    sizes: list[int] = []
    original: Callable[..., None] = stage.FileStager._stage_pack

    def spy(self: stage.FileStager, adapter: Any, files: list[Any], staged: str) -> None:
        sizes.append(len(files))
        original(self, adapter, files, staged)

    monkeypatch.setattr(stage.FileStager, "_stage_pack", spy)
    return sizes


def test_a_pack_stages_what_each_file_alone_stages(tmp_path, monkeypatch, pack_sizes):
    sources = _odd_files(tmp_path / "odd") + _corpus(per_folder=1)
    alone, packed = _ingest_alone_and_packed(tmp_path, sources, monkeypatch)
    assert pack_sizes and max(pack_sizes) > 2  # files did share statements
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
def test_the_whole_corpus_in_packs_of_a_few_files_stages_what_each_file_alone_stages(tmp_path, monkeypatch, pack_sizes):
    sources = _corpus(per_folder=None)
    alone, packed = _ingest_alone_and_packed(tmp_path, sources, monkeypatch, PACK_FILES=7)
    assert len(pack_sizes) > 10 and max(pack_sizes) == 7
    assert packed == alone


def test_a_pack_bounded_by_bytes_is_staged_before_the_next_file(tmp_path, monkeypatch, pack_sizes):
    sources = [write_lines(tmp_path / f"{n}.jsonl", [record(request_id=str(n))]) for n in range(5)]
    size = sum(len(path.read_bytes()) for path in sources[:2])  # two files' lines fill a pack
    alone, packed = _ingest_alone_and_packed(tmp_path, sources, monkeypatch, PACK_BYTES=size)
    assert pack_sizes == [2, 2] and packed == alone  # the fifth file, left alone, is staged by itself


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


def test_adapters_that_read_the_file_name_are_never_packed():
    from schemas.adapters import ADAPTERS

    per_file = {adapter.name for adapter in ADAPTERS if adapter.per_file}
    assert per_file == {"azure-llm-trace", "mooncake-trace"}  # their keys are the file's name and line number
