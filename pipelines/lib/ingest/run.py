"""One ingest run in one process: stage every new file, commit, publish; the warehouse lock held throughout."""

from __future__ import annotations

import os
from typing import Any

from pipelines.lib import testhooks
from pipelines.lib.ingest.commit import DEFAULT_COMMIT_ROWS, commit, publish_files
from pipelines.lib.ingest.report import IngestReport
from pipelines.lib.ingest.stage import FileStager, expand_sources, run_connection, stage_files
from pipelines.lib.lock import Progress, warehouse_lock
from pipelines.lib.reader import DEFAULT_CHUNK_BYTES
from pipelines.lib.scratch import scratch_dir
from pipelines.lib.storage import Warehouse


def ingest(
    sources: list[str],
    warehouse: Warehouse,
    *,
    hash_key: bytes,
    storage_options: dict[str, Any] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    threads: int | None = None,
    commit_rows: int = DEFAULT_COMMIT_ROWS,
    progress: Progress = lambda _message: None,
) -> IngestReport:
    """Ingest every new file named by `sources` into `warehouse` (see the package docstring); raises
    `UnreadableSourceError` after the others are ingested when some files cannot be read.

    Holds the warehouse lock for the whole run: the ledger read at the start decides what is staged, and the
    commit merges into partitions another writer must not replace meanwhile.
    """
    report = IngestReport()
    with warehouse_lock(warehouse, "ingest", progress), scratch_dir() as scratch:
        con = run_connection(warehouse, scratch, threads)
        stager = FileStager(
            con, os.path.join(scratch, "staging"), hash_key, chunk_bytes, storage_options or {}, threads
        )
        quarantines = stage_files(
            stager, expand_sources(sources, storage_options, report, progress), warehouse, report, progress
        )
        testhooks.pause_at("ingest-commit")
        commit(con, warehouse, stager.staging, commit_rows, report)
        publish_files(warehouse, report, quarantines)
        con.close()
    report.raise_for_unreadable()
    return report
