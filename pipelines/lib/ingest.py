"""Ingest: source files -> canonical records in date partitions, rejected lines in quarantine.

Two phases, so that a failure leaves the warehouse as it was:

1. Stage. Each new source file (not in the ledger) is streamed in chunks; each chunk of lines goes through
   the format's adapter and the shared transform in one DuckDB statement. Valid records are appended to a
   local staging folder partitioned by UTC day; rejected lines are collected with their reasons.
2. Commit. For every touched day, the existing partition and the staged records are merged with DuckDB,
   deduplicated on (request_id, attempt) (records already stored win, then file order, then line order),
   sorted by provider, model, created_at and published atomically. Then the quarantine and ledger entries
   of each file are published. A day whose staged records are all duplicates is left untouched.

Every line is counted once: lines = written + duplicates + quarantined, per file and per run.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.lib import quarantine
from pipelines.lib.reader import DEFAULT_CHUNK_BYTES, INVALID_UTF8, iter_line_batches, sample_lines
from pipelines.lib.storage import QUARANTINE, SourceFile, Warehouse, list_sources
from pipelines.lib.transform import batch_sql, hmac_pads
from schemas import normalize
from schemas.adapters import Adapter, UnknownFormatError, detect
from schemas.bulk import field_specs

Progress = Callable[[str], None]
RECORD_COLUMNS = ", ".join(spec.name for spec in field_specs())
SORT_ORDER = "provider, model, created_at, request_id, attempt"
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880"


@dataclass
class FileReport:
    """What happened to one source file."""

    url: str
    key: str
    size: int
    source_format: str | None = None
    lines: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: bool = False

    @property
    def balanced(self) -> bool:
        return self.lines == self.written + self.duplicates + self.quarantined


@dataclass
class IngestReport:
    """What one ingest run did, per file and in total."""

    files: list[FileReport] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    bytes_written: int = 0

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files if not f.skipped)

    @property
    def lines(self) -> int:
        return self.total("lines")

    @property
    def written(self) -> int:
        return self.total("written")

    @property
    def duplicates(self) -> int:
        return self.total("duplicates")

    @property
    def quarantined(self) -> int:
        return self.total("quarantined")

    @property
    def skipped_files(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def balanced(self) -> bool:
        return all(f.balanced for f in self.files)

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.files) - self.skipped_files,
            "files_skipped": self.skipped_files,
            "lines": self.lines,
            "written": self.written,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "days_touched": len(self.days),
            "bytes_written": self.bytes_written,
        }


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for the transform: UTC, reference tables, macros."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set preserve_insertion_order = false")
    if threads:
        con.execute(f"set threads = {int(threads)}")
    if memory_limit:
        con.execute("set memory_limit = ?", [memory_limit])
    normalize.install(con)
    return con


@dataclass
class _Stager:
    """Phase 1 state: the connection, the staging folder and the hash key."""

    con: duckdb.DuckDBPyConnection
    staging: str
    hash_key: bytes
    chunk_bytes: int
    storage_options: dict[str, Any]

    def stage(self, source: SourceFile, index: int, report: FileReport, progress: Progress) -> pa.Table:
        """Stage one file; returns its quarantine rows."""
        rejected: list[tuple[int, str, str]] = []
        adapter: Adapter | None = None
        try:
            adapter = detect(sample_lines(source.url, **self.storage_options), source.url)
        except UnknownFormatError as err:
            unknown = str(err).split(": ", 1)[1]
        report.source_format = adapter.name if adapter else None
        for number, batch in enumerate(iter_line_batches(source.url, self.chunk_bytes, **self.storage_options)):
            report.lines += batch.count
            rejected.extend((n, INVALID_UTF8, raw) for n, raw in batch.undecodable)
            if adapter is None:
                lines = batch.lines.to_pydict()
                rejected.extend(zip(lines["source_line"], [unknown] * len(lines["raw"]), lines["raw"], strict=True))
                continue
            rejected.extend(self._transform(batch.lines, adapter, source, index, number))
            progress(f"{Path(source.url).name}: {report.lines:,} lines")
        report.quarantined = len(rejected)
        rejected.sort()
        return quarantine.rows(source.url, report.source_format, rejected)

    def _transform(
        self, lines: pa.Table, adapter: Adapter, source: SourceFile, index: int, number: int
    ) -> list[tuple[int, str, str]]:
        ipad, opad = hmac_pads(self.hash_key)
        self.con.register("lines", lines)
        try:
            self.con.execute(
                f"create or replace temp table batch as {batch_sql(adapter)}",
                {"source_format": adapter.name, "source_uri": source.url, "ipad": ipad, "opad": opad},
            )
            self.con.execute(
                f"""copy (
                    select {RECORD_COLUMNS}, {index} as _file, strftime(created_at, '%Y-%m-%d') as date
                    from batch where reason is null
                ) to '{self.staging}' (FORMAT parquet, COMPRESSION lz4_raw, PARTITION_BY (date),
                    FILENAME_PATTERN 'f{index}_b{number}_{{i}}', OVERWRITE_OR_IGNORE true)"""
            )
            return self.con.execute(
                "select b.source_line, b.reason, l.raw from batch as b join lines as l using (source_line) "
                "where b.reason is not null"
            ).fetchall()
        finally:
            self.con.unregister("lines")


def _commit_day(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, staging: str, day: str, scratch: str
) -> tuple[Counter[int], Counter[int], int]:
    """Merge one day's staged records into its partition; returns (written, duplicates) per file, bytes."""
    existing_local = os.path.join(scratch, f"existing-{day}.parquet")
    target = warehouse.partition_path(day)
    has_existing = os.path.exists(target) if warehouse.is_local else warehouse.fetch(target, existing_local)
    existing_file = target if warehouse.is_local else existing_local
    parts = [f"select {RECORD_COLUMNS}, 1 as _prio, _file from read_parquet('{staging}/date={day}/*.parquet')"]
    if has_existing:
        parts.insert(0, f"select {RECORD_COLUMNS}, 0 as _prio, -1 as _file from read_parquet('{existing_file}')")
    con.execute(
        f"""create or replace temp table merged as
        select *, row_number() over (
            partition by request_id, attempt order by _prio, _file, source_line
        ) as _rank
        from ({" union all ".join(parts)})"""
    )
    written: Counter[int] = Counter()
    duplicates: Counter[int] = Counter()
    for file_index, rank_one, count in con.execute(
        "select _file, _rank = 1, count(*) from merged where _prio = 1 group by all"
    ).fetchall():
        (written if rank_one else duplicates)[file_index] += count
    if not written:
        return written, duplicates, 0
    out = os.path.join(scratch, f"day-{day}.parquet")
    con.execute(
        f"copy (select {RECORD_COLUMNS} from merged where _rank = 1 order by {SORT_ORDER}) "
        f"to '{out}' ({PARQUET_OPTIONS})"
    )
    size = os.path.getsize(out)
    warehouse.publish(out, target)
    os.remove(out)
    return written, duplicates, size


def _staged_days(staging: str) -> list[str]:
    if not os.path.isdir(staging):
        return []
    return sorted(name.removeprefix("date=") for name in os.listdir(staging) if name.startswith("date="))


def expand_sources(sources: list[str], storage_options: dict[str, Any] | None = None) -> list[SourceFile]:
    """All files named by the source URLs, each once, in the order given."""
    seen: dict[str, SourceFile] = {}
    for url in sources:
        for source in list_sources(url, storage_options):
            seen.setdefault(source.url, source)
    return list(seen.values())


def ingest(
    sources: list[str],
    warehouse: Warehouse,
    *,
    hash_key: bytes,
    storage_options: dict[str, Any] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    threads: int | None = None,
    progress: Progress = lambda _message: None,
) -> IngestReport:
    """Ingest every new file named by `sources` into `warehouse`; see the module docstring."""
    files = expand_sources(sources, storage_options)
    done = warehouse.ledger_keys()
    report = IngestReport()
    with tempfile.TemporaryDirectory(prefix="gatewaylens-") as scratch:
        con = connect(threads=threads)
        con.execute("set temp_directory = ?", [os.path.join(scratch, "spill")])
        stager = _Stager(con, os.path.join(scratch, "staging"), hash_key, chunk_bytes, storage_options or {})
        quarantines: dict[int, pa.Table] = {}
        for index, source in enumerate(files):
            file_report = FileReport(url=source.url, key=source.key, size=source.size)
            report.files.append(file_report)
            if source.key in done:
                file_report.skipped = True
                progress(f"skip {source.url} (already ingested)")
                continue
            progress(f"file {index + 1}/{len(files)}: {source.url}")
            quarantines[index] = stager.stage(source, index, file_report, progress)
        for day in _staged_days(stager.staging):
            written, duplicates, size = _commit_day(con, warehouse, stager.staging, day, scratch)
            for file_index, count in written.items():
                report.files[file_index].written += count
            for file_index, count in duplicates.items():
                report.files[file_index].duplicates += count
            if written:
                report.days.append(day)
                report.bytes_written += size
        for index, table in quarantines.items():
            _finish_file(warehouse, report.files[index], table, scratch)
        con.close()
    return report


def _finish_file(warehouse: Warehouse, file_report: FileReport, table: pa.Table, scratch: str) -> None:
    """Publish a file's quarantine rows (if any), then its ledger entry (which marks it done)."""
    if table.num_rows:
        local = os.path.join(scratch, f"q-{file_report.key}.parquet")
        pq.write_table(table, local, compression="zstd")
        warehouse.publish(local, warehouse.path(QUARANTINE, f"{file_report.key}.parquet"))
    entry = asdict(file_report) | {"ingested_at": datetime.now(UTC).isoformat(timespec="seconds")}
    entry.pop("skipped")
    warehouse.write_ledger(file_report.key, entry, scratch)
