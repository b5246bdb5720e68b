"""Staging in the warehouse (phase 1 by parallel workers) and committing the staged batches (phase 2); the
publishing of a batch, the commit and the `requests` asset's commit-then-ingest each take the warehouse lock."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.lib.ingest import MANIFEST, asset, commit_staged, ingest, stage_batch, staged_batches
from pipelines.lib.lock import LockSettings, WarehouseLocked
from pipelines.lib.lock_stores import LOCK_FILE
from pipelines.lib.storage import STAGING, Warehouse
from tests.conftest import HASH_KEY, ledger_entries, quarantined, record, stored, write_lines
from tests.test_lock import write_lock


def _days(tmp_path):
    first = write_lines(
        tmp_path / "landing" / "2025-06-01" / "a.jsonl",
        [record(request_id="a"), record(request_id="shared", app_id="first"), "junk"],
    )
    second = write_lines(
        tmp_path / "landing" / "2025-06-02" / "b.jsonl",
        [record(request_id="b", created_at="2025-06-02T01:00:00Z"), record(request_id="shared", app_id="second")],
    )
    return first, second


@pytest.mark.slow
def test_staged_batches_commit_to_what_one_ingest_writes(tmp_path):
    first, second = _days(tmp_path)
    direct = Warehouse(str(tmp_path / "direct"))
    ingest([str(first), str(second)], direct, hash_key=HASH_KEY)

    staged = Warehouse(str(tmp_path / "staged"))
    # the later day is staged first: batches commit in name order all the same
    stage_batch([str(second)], staged, batch="date=2025-06-02", hash_key=HASH_KEY)
    stage_batch([str(first)], staged, batch="date=2025-06-01", hash_key=HASH_KEY)
    assert stored(staged) == [] and staged.ledger_keys() == set()  # nothing visible before the commit
    assert staged_batches(staged) == ["date=2025-06-01", "date=2025-06-02"]

    report = commit_staged(staged)
    # "shared" disagrees between the days: the later one wins, written by the first batch and replaced by the
    # second (one ingest of both files counts the first as a duplicate instead); what is stored is the same
    assert (report.records, report.written, report.duplicates, report.quarantined) == (5, 4, 0, 1)
    assert report.summary()["conflicts"] == 1
    assert report.balanced and staged_batches(staged) == []
    assert not staged.fs.exists(staged.path(STAGING, "date=2025-06-01"))

    def rows(warehouse):
        return [{k: v for k, v in r.items() if k != "source_uri"} for r in stored(warehouse)]

    assert rows(staged) == rows(direct)
    assert [r["app_id"] for r in stored(staged) if r["request_id"] == "shared"] == ["second"]
    assert staged.ledger_keys() == direct.ledger_keys()
    assert len(staged.fs.glob(staged.path("quarantine", "*.parquet"))) == 1


def test_an_incomplete_batch_is_not_committed_and_restaging_replaces_a_batch(tmp_path):
    first, _ = _days(tmp_path)
    warehouse = Warehouse(str(tmp_path / "wh"))
    stage_batch([str(first)], warehouse, batch="date=2025-06-01", hash_key=HASH_KEY)
    manifest = warehouse.path(STAGING, "date=2025-06-01", MANIFEST)
    files = json.loads(warehouse.fs.cat(manifest))["files"]
    assert [f["records"] for f in files] == [3]
    warehouse.fs.rm(manifest)  # as if the worker died before finishing
    assert staged_batches(warehouse) == []
    assert commit_staged(warehouse).records == 0 and stored(warehouse) == []

    stage_batch([str(first)], warehouse, batch="date=2025-06-01", hash_key=HASH_KEY)
    assert commit_staged(warehouse).written == 2
    # staged again after the commit: the file is in the ledger now, so the batch stages nothing
    again = stage_batch([str(first)], warehouse, batch="date=2025-06-01", hash_key=HASH_KEY)
    assert again.skipped_files == 1
    assert commit_staged(warehouse).records == 0
    assert len(stored(warehouse)) == 2


def test_a_batch_staged_a_folder_per_day_by_an_earlier_version_commits_as_one_ingest_writes(tmp_path):
    """Earlier versions staged a folder of valid rows per day (`date=YYYY-MM-DD/`, rejected and ignored rows left
    out); a batch they published before an upgrade is committed after it."""
    first, _ = _days(tmp_path)
    direct = Warehouse(str(tmp_path / "direct"))
    ingest([str(first)], direct, hash_key=HASH_KEY)
    staged = Warehouse(str(tmp_path / "staged"))
    stage_batch([str(first)], staged, batch="date=2025-06-01", hash_key=HASH_KEY)
    rows = Path(staged.path(STAGING, "date=2025-06-01", "staging", "rows"))
    files = [str(path) for path in sorted(rows.glob("*.parquet"))]
    duckdb.execute(
        f"""copy (
            select * from read_parquet({files}, hive_partitioning = false) where date is not null
        ) to '{rows.parent}' (FORMAT parquet, PARTITION_BY (date), OVERWRITE_OR_IGNORE true)"""
    )
    shutil.rmtree(rows)
    assert sorted(p.name for p in rows.parent.iterdir() if p.is_dir()) == ["date=2025-06-01"]

    report = commit_staged(staged)
    assert (report.records, report.written, report.quarantined) == (3, 2, 1) and report.balanced
    assert stored(staged) == stored(direct)
    assert staged.ledger_keys() == direct.ledger_keys()


def test_a_scratch_folder_below_a_key_value_folder_does_not_rename_the_staged_days(tmp_path, monkeypatch):
    """A staged file's `date` column is its own: a folder above it named like a hive partition (`date=...`) must
    not be read as one (DuckDB would by default: the run failed, or every row would have had that folder's day)."""
    first, second = _days(tmp_path)
    temporary = tmp_path / "date=2025-01-01"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    warehouse = Warehouse(str(tmp_path / "wh"))
    report = ingest([str(first), str(second)], warehouse, hash_key=HASH_KEY)
    # "shared" disagrees between the files: the later file's wins, the first's counts as a duplicate
    assert (report.records, report.written, report.duplicates, report.quarantined) == (5, 3, 1, 1)
    assert warehouse.days() == ["2025-06-01", "2025-06-02"]


# ---------------------------------------------------------------------------------------------------------
# One writer per warehouse: the staged paths and the `requests` asset's path take the warehouse lock
# ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _refused_while_another_writer_holds_the_lock(warehouse: Warehouse) -> Iterator[None]:
    """Another writer holds the lock of `warehouse` (a fresh lock of another machine: live); the block must be
    refused the lock, with that holder named."""
    write_lock(Path(warehouse.root, LOCK_FILE), machine="elsewhere-1", pid=1, purpose="another writer's ingest")
    holder = "someone on elsewhere-1 (pid 1), another writer's ingest"
    with pytest.raises(WarehouseLocked, match=re.escape(f"the warehouse is locked by {holder}: ")):
        yield


def _written(warehouse: Warehouse) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """What readers would see: the stored days, the ledger entries and the quarantine rows."""
    return warehouse.days(), ledger_entries(warehouse), quarantined(warehouse)


def _staged_files(warehouse: Warehouse) -> dict[str, bytes]:
    """Every file of the staging area with its content."""
    return {path: warehouse.fs.cat_file(path) for path in sorted(warehouse.fs.find(warehouse.path(STAGING)))}


def _staged_first_day(tmp_path: Path) -> tuple[Warehouse, Path]:
    """A warehouse that refuses a held lock at once, with the first landing day staged; and the second day's file."""
    first, second = _days(tmp_path)
    warehouse = Warehouse(str(tmp_path / "wh"), lock=LockSettings(timeout=0))
    stage_batch([str(first)], warehouse, batch="date=2025-06-01", hash_key=HASH_KEY)
    return warehouse, second


def test_a_batch_is_not_published_while_another_writer_holds_the_lock(tmp_path):
    """Staging the same batch again would replace it: with the lock held elsewhere, the worker stages, then is
    refused at once, naming the holder, and the batch it would replace stays whole."""
    warehouse, second = _staged_first_day(tmp_path)
    before = _staged_files(warehouse)
    with _refused_while_another_writer_holds_the_lock(warehouse):
        stage_batch([str(second)], warehouse, batch="date=2025-06-01", hash_key=HASH_KEY)
    assert _staged_files(warehouse) == before and staged_batches(warehouse) == ["date=2025-06-01"]
    assert _written(warehouse) == ([], [], [])


def test_staged_batches_are_not_committed_while_another_writer_holds_the_lock(tmp_path):
    """The commit is refused at once, naming the holder: the batch is neither committed nor removed."""
    warehouse, _ = _staged_first_day(tmp_path)
    before = _staged_files(warehouse)
    with _refused_while_another_writer_holds_the_lock(warehouse):
        commit_staged(warehouse)
    assert _staged_files(warehouse) == before
    assert _written(warehouse) == ([], [], [])


def test_the_requests_asset_commits_and_ingests_nothing_while_another_writer_holds_the_lock(tmp_path):
    """`asset.commit_and_ingest`, the work of the Dagster `requests` asset (and of `gatewaylens ingest` without
    DAGSTER_HOME): the staged day stays staged, the new file is not ingested."""
    warehouse, second = _staged_first_day(tmp_path)
    before = _staged_files(warehouse)
    with _refused_while_another_writer_holds_the_lock(warehouse):
        asset.commit_and_ingest([str(second)], warehouse, hash_key=HASH_KEY)
    assert _staged_files(warehouse) == before
    assert _written(warehouse) == ([], [], [])


def test_the_requests_asset_holds_one_lock_from_the_commit_to_the_end_of_the_ingest(tmp_path):
    """No other writer can slip in between the commit of the staged days and the ingest of the new files: the
    lock seen at every step of both is the asset's own, one holding (one token)."""
    warehouse, second = _staged_first_day(tmp_path)
    seen: list[tuple[str, str, str]] = []

    def progress(message: str) -> None:
        holder = json.loads(Path(warehouse.root, LOCK_FILE).read_text())
        seen.append((message.split(" ")[0], holder["purpose"], holder["token"]))

    asset.commit_and_ingest([str(second)], warehouse, hash_key=HASH_KEY, progress=progress)
    assert staged_batches(warehouse) == [] and [r["request_id"] for r in stored(warehouse)] == ["a", "b", "shared"]
    assert {step for step, _, _ in seen} >= {"commit", "file"}  # "commit staged batch ...", "file 1/1: ..."
    assert {purpose for _, purpose, _ in seen} == {"ingest (commit staged days, then new files)"}
    assert len({token for _, _, token in seen}) == 1


def test_staged_files_of_many_row_groups_commit_the_same_days(tmp_path, monkeypatch):
    """The commit reads staged files a group of days at a time, skipping row groups by their dates: staged in row
    groups of 2,048 rows (DuckDB's least) and committed 3,000 rows at a time, the days are the same files, byte for
    byte."""
    from pipelines.lib.ingest import stage

    when = "2025-06-{:02d}T{:02d}:00:00Z"
    lines = [record(request_id=f"r{n}", created_at=when.format(1 + n * 7 % 9, n % 24)) for n in range(9_000)]
    source = write_lines(tmp_path / "logs.jsonl", [*lines, "not json", json.dumps(record(request_id="r5"))])
    row_groups: list[int] = []
    copy = stage.FileStager._copy

    def counted(self: stage.FileStager, *args: Any) -> None:
        copy(self, *args)
        row_groups.append(pq.ParquetFile(args[4]).num_row_groups)  # the staged file: `target`

    monkeypatch.setattr(stage.FileStager, "_copy", counted)
    days, most = {}, {}
    for name, row_group, commit_rows in (("default", stage.STAGED_ROW_GROUP, 600_000), ("small", 2_048, 3_000)):
        monkeypatch.setattr(stage, "STAGED_ROW_GROUP", row_group)
        row_groups.clear()
        warehouse = Warehouse(str(tmp_path / name))
        report = ingest([str(source)], warehouse, hash_key=HASH_KEY, commit_rows=commit_rows)
        assert report.summary()["written"] == 9_000
        days[name] = {Path(path).parent.name: Path(path).read_bytes() for path in warehouse.partition_paths()}
        most[name] = max(row_groups)
    assert len(days["default"]) == 9 and days["small"] == days["default"]
    assert most == {"default": 1, "small": 5}  # the 9,000 rows staged in one row group, then in five


def test_a_batch_manifest_from_another_version_gives_its_file_reports():
    """A field this version does not know (a batch staged by another version) is left out, not a TypeError that
    would stop every later batch behind it."""
    from pipelines.lib.ingest.batches import _file_report

    staged = {"url": "file:///x.jsonl", "key": "k", "size": 3, "lines": 2, "a_field_of_another_version": 1}
    report = _file_report(staged)
    assert (report.url, report.lines) == ("file:///x.jsonl", 2)
