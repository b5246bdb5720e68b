"""The two phases split across processes: parallel workers stage batches in the warehouse, one writer commits.

`stage_batch` is the expensive part of an ingest (reading, adapting, validating) and writes nothing readers
see, so any number of workers stage different batches at once (Dagster runs one per landing day). A batch,
`WAREHOUSE/_staging/<batch>/`, holds the staged rows (`stage`: one file per batch of lines, whose `date` column
tells the records the commit takes from rejected and ignored rows), each file's quarantine rows and, written last,
a manifest of the file reports: a batch without its manifest is incomplete and is never committed.
`commit_staged` then commits every complete batch, one at a time in name order, and removes it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipelines.lib.ingest.commit import DEFAULT_COMMIT_ROWS, commit, publish_files
from pipelines.lib.ingest.report import FileReport, IngestReport
from pipelines.lib.ingest.stage import FileStager, expand_sources, run_connection, stage_files, upgrade_layout
from pipelines.lib.lock import Progress, warehouse_lock
from pipelines.lib.reader import DEFAULT_CHUNK_BYTES
from pipelines.lib.scratch import scratch_dir
from pipelines.lib.storage import STAGING, Warehouse

MANIFEST = "manifest.json"


def stage_batch(
    sources: list[str],
    warehouse: Warehouse,
    *,
    batch: str,
    hash_key: bytes,
    storage_options: dict[str, Any] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    threads: int | None = None,
    progress: Progress = lambda _message: None,
) -> IngestReport:
    """Phase 1 only: stage the new files of `sources` as `WAREHOUSE/_staging/<batch>/` for `commit_staged`.

    Staging a batch again replaces it. Files already in the ledger are skipped; unreadable files fail after the
    others are staged, as in `ingest`. Only the publishing of the batch holds the warehouse lock (a commit must
    not read a batch half replaced, nor remove one published after it read it); the staging before it runs
    unlocked.
    """
    report = IngestReport()
    with scratch_dir() as scratch:
        con = run_connection(warehouse, scratch, threads)
        stager = FileStager(
            con, os.path.join(scratch, "staging"), hash_key, chunk_bytes, storage_options or {}, threads
        )
        quarantines = stage_files(
            stager, expand_sources(sources, storage_options, report, progress), warehouse, report, progress
        )
        con.close()
        manifest = {
            "files": [asdict(f) for f in report.files],
            "quarantine": {str(i): os.path.basename(q) for i, q in quarantines.items() if q},
        }
        with warehouse_lock(warehouse, f"stage batch {batch}", progress):
            _publish_batch(warehouse, batch, scratch, manifest)
    report.raise_for_unreadable()
    return report


def _publish_batch(warehouse: Warehouse, batch: str, scratch: str, manifest: dict[str, Any]) -> None:
    """Replace `WAREHOUSE/_staging/<batch>/` with the valid rows and quarantine files staged under `scratch`,
    then write its manifest, which marks the batch complete."""
    target = warehouse.path(STAGING, batch)
    if warehouse.fs.exists(target):
        warehouse.fs.rm(target, recursive=True)
    for folder, _dirs, names in os.walk(os.path.join(scratch, "staging")):
        for name in names:
            local = os.path.join(folder, name)
            warehouse.publish(local, warehouse.path(STAGING, batch, os.path.relpath(local, scratch)))
    with warehouse.atomic_write(warehouse.path(STAGING, batch, MANIFEST)) as local:
        Path(local).write_text(json.dumps(manifest))


def staged_batches(warehouse: Warehouse) -> list[str]:
    """Complete staged batches (with their manifest), in name order."""
    names = warehouse.list_names(STAGING)
    return [name for name in names if warehouse.fs.exists(warehouse.path(STAGING, name, MANIFEST))]


def commit_staged(
    warehouse: Warehouse,
    *,
    threads: int | None = None,
    commit_rows: int = DEFAULT_COMMIT_ROWS,
    progress: Progress = lambda _message: None,
) -> IngestReport:
    """Phase 2 for every complete staged batch, one batch at a time in name order (landing days: earlier days
    win duplicates), then remove the batch. A crash part way leaves the batch to commit again: rows already
    written count as written again, not as duplicates (see `dedupe.find_losers`), and ledger entries are
    rewritten. Holds the warehouse lock throughout."""
    report = IngestReport()
    with warehouse_lock(warehouse, "commit staged batches", progress):
        for batch in staged_batches(warehouse):
            report.extend(_commit_batch(warehouse, batch, threads, commit_rows, progress))
    return report


def _file_report(staged: dict[str, Any]) -> FileReport:
    """A file's report as a batch's manifest holds it, written by this version or another: fields this version does
    not know are left out (a batch staged by one version is committed by the next)."""
    known = {f.name for f in dataclasses.fields(FileReport)}
    return FileReport(**{name: value for name, value in staged.items() if name in known})


def _commit_batch(
    warehouse: Warehouse, batch: str, threads: int | None, commit_rows: int, progress: Progress
) -> IngestReport:
    """Phase 2 for one complete staged batch, then remove it."""
    progress(f"commit staged batch {batch}")
    with scratch_dir() as scratch:
        local = os.path.join(scratch, "batch")
        warehouse.fs.get(warehouse.path(STAGING, batch) + "/", local + "/", recursive=True)
        manifest = json.loads(Path(local, MANIFEST).read_text())
        batch_report = IngestReport(files=[_file_report(f) for f in manifest["files"]])
        con = run_connection(warehouse, scratch, threads)
        upgrade_layout(con, os.path.join(local, "staging"))
        commit(con, warehouse, os.path.join(local, "staging"), commit_rows, batch_report)
        con.close()
        quarantines = {int(i): os.path.join(local, "staging", name) for i, name in manifest["quarantine"].items()}
        publish_files(warehouse, batch_report, quarantines)
    warehouse.fs.rm(warehouse.path(STAGING, batch), recursive=True)
    return batch_report
