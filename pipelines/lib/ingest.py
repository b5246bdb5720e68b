"""Ingest: source files -> canonical records in date partitions, rejected lines in quarantine.

Two phases, so that a failure leaves the warehouse as it was:

1. Stage. Each new source file (not in the ledger) is streamed in chunks (a background thread reads the
   next chunk meanwhile); each chunk of lines goes through the format's adapter and the shared transform in
   one DuckDB statement that writes valid records to a local staging folder partitioned by UTC day.
   Rejected records go, with their reasons, to a per-file quarantine file, batch by batch; lines that yield
   no record by design (a CSV header, an OTel export without a GenAI span) are counted as ignored, by reason.
2. Commit. Duplicates are found on the keys, across everything: a staged copy of a record (same
   (request_id, attempt), same content) that is already stored (on any day) or appeared earlier in the run
   (earlier file, then earlier line) is a duplicate. Records that share a key but disagree keep the more
   complete one, then the later file (stored ones are the earliest), and are counted as `conflicts`; a stored
   record that gives way is removed from its day. Each changed day is then rewritten from its stored rows plus
   its new ones, sorted by provider, model, created_at, and replaced atomically. Then each file's quarantine
   and ledger entry are published. A day whose staged records are all duplicates is left untouched.

A line yields one record or several (an OTel export holds many spans, an OpenRouter generation its failed
provider attempts), each keeping the line's number. Every record is counted once:
records = written + duplicates + quarantined + ignored, per file and per run, and every line read must have
yielded at least one of them (checked per batch: the distinct line numbers staged equal the batch's lines).
A file whose counts do not add up, or with a line that yielded nothing, is never marked done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.lib import privacy, quarantine, testhooks
from pipelines.lib.lock import warehouse_lock
from pipelines.lib.reader import DEFAULT_CHUNK_BYTES, LineReader, ReadMark, nonblank_lines, prefetch
from pipelines.lib.scratch import scratch_dir
from pipelines.lib.storage import QUARANTINE, STAGING, SourceFile, Warehouse, list_sources
from pipelines.lib.transform import batch_params, batch_sql
from schemas import normalize
from schemas.adapters import Adapter, UnknownFormatError, detect
from schemas.bulk import arrow_schema, field_specs, upgraded_select
from schemas.sqltext import literal

Progress = Callable[[str], None]
RECORD_COLUMNS = ", ".join(spec.name for spec in field_specs())
SORT_ORDER = "provider, model, created_at, request_id, attempt"
PARQUET_ROW_GROUP = 122_880
SCAN_CHUNK_ROWS = 16_384
DEFAULT_COMMIT_ROWS = 1_000_000  # staged rows merged per commit query (bounds the merge's working set)
# The dedupe's hash tables grow with every key staged and stored; under a memory limit DuckDB spills them to
# the scratch folder, so the ingest's peak memory is set by the batch and commit sizes, not by the data's size
# (10M rows: 2,065 MiB peak without it, 1,263 MiB with it, the dedupe no slower). DuckDB needs working memory
# per thread, so the limit is per thread: 512 MiB on 2 threads.
DEDUPE_MIB_PER_THREAD = 256
REJECTED = "rejected"  # staging partition of rejected rows
BLANK_LINE = "blank line"  # ignored: a line of nothing but whitespace
QUARANTINED_BEFORE = "quarantined by an earlier read of the file"  # ignored: not quarantined twice
IGNORED = "ignored"  # staging partition of lines that yield no record by design (one row per line, with why)
_HIVE = "hive_partitioning = true, hive_types = {'date': VARCHAR}"


@dataclass
class FileReport:
    """What happened to one source file."""

    url: str
    key: str
    size: int
    source_format: str | None = None
    lines: int = 0
    records: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    ignored: int = 0
    conflicts: int = 0  # records whose key was already used by a record with other content (see _find_losers)
    uncovered: int = 0  # lines that yielded no row at all (an adapter bug); must stay 0
    hash_key_id: str | None = None  # the public id of the key that hashed the file's user ids (see privacy)
    first_line: int = 1  # where reading began: past 1 when an earlier version of the file was read (it grew)
    prior_through_line: int = 0  # the last line an earlier version of the file counted (0: none was read)
    read_mark: dict[str, Any] | None = None  # how far the file was read (reader.ReadMark), to resume from
    ignored_reasons: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    error: str | None = None

    @property
    def balanced(self) -> bool:
        """Every line yielded a row, and every row is written, a duplicate, quarantined or ignored."""
        return self.uncovered == 0 and self.records == self.written + self.duplicates + self.quarantined + self.ignored


@dataclass
class IngestReport:
    """What one ingest run did, per file and in total."""

    files: list[FileReport] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    bytes_written: int = 0

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files if not f.skipped and not f.error)

    @property
    def lines(self) -> int:
        return self.total("lines")

    @property
    def records(self) -> int:
        return self.total("records")

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
    def ignored(self) -> int:
        return self.total("ignored")

    @property
    def skipped_files(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def balanced(self) -> bool:
        return all(f.balanced for f in self.files)

    def extend(self, other: IngestReport) -> None:
        """Add another run's files, days and bytes to this report (one report for staged and fresh files)."""
        self.files += other.files
        self.days = sorted(set(self.days) | set(other.days))
        self.bytes_written += other.bytes_written

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.files) - self.skipped_files,
            "files_skipped": self.skipped_files,
            "files_failed": sum(bool(f.error) for f in self.files),
            "lines": self.lines,
            "records": self.records,
            "written": self.written,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "ignored": self.ignored,
            "conflicts": self.total("conflicts"),
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

    def stage(
        self, source: SourceFile, index: int, report: FileReport, progress: Progress, prior: ReadMark | None = None
    ) -> str | None:
        """Stage one file; returns the local Parquet file of its quarantine rows (None when there are none).

        Quarantine rows are written batch by batch, so a file of nothing but bad lines does not pile up in
        memory. `prior` is how far an earlier version of the same URL was read: a file that only grew is read
        from there (see reader.LineReader).
        """
        adapter: Adapter | None = None
        try:
            adapter = detect(nonblank_lines(source.url, **self.storage_options), source.url)
        except UnknownFormatError as err:
            unknown = str(err).split(": ", 1)[1]
        report.source_format = adapter.name if adapter else None
        report.hash_key_id = privacy.key_id(self.hash_key)
        os.makedirs(self.staging, exist_ok=True)
        quarantine_file = os.path.join(self.staging, f"quarantine-{index}.parquet")
        report.prior_through_line = prior.through_line if prior else 0
        reader = LineReader(source.url, self.chunk_bytes, resume=prior, **self.storage_options)
        with quarantine.Writer(quarantine_file, source.url, report.source_format) as rejects:
            for number, batch in enumerate(prefetch(iter(reader))):
                report.lines += batch.count
                report.records += len(batch.rejected) + batch.blank  # lines the reader settled itself
                self._count_ignored(report, BLANK_LINE, batch.blank)
                rejected = list(batch.rejected)
                if adapter is None:
                    rejects.write_all(batch.lines, unknown)
                    report.records += batch.lines.num_rows
                else:
                    rejected += self._transform(batch.lines, adapter, source, index, number, report)
                rejects.write(sorted(self._not_quarantined_before(rejected, reader.first_line, report)))
                progress(f"{Path(source.url).name}: {report.lines:,} lines")
        report.first_line = reader.first_line
        report.read_mark = asdict(reader.mark) if reader.mark else None
        report.quarantined = rejects.count
        return quarantine_file if rejects.count else None

    def _not_quarantined_before(
        self, rejected: list[tuple[int, str, str]], first_line: int, report: FileReport
    ) -> list[tuple[int, str, str]]:
        """`rejected` without the rows of a line an earlier read of the file already quarantined (a grown file
        read again from a line that had no newline yet): those are counted as ignored."""
        if first_line == 1 or not rejected:
            return rejected
        before = [row for row in rejected if row[0] <= report.prior_through_line]
        self._count_ignored(report, QUARANTINED_BEFORE, len(before))
        return [row for row in rejected if row[0] > report.prior_through_line]

    def _transform(
        self, lines: pa.Table, adapter: Adapter, source: SourceFile, index: int, number: int, report: FileReport
    ) -> list[tuple[int, str, str]]:
        """One statement: transform the batch and stage it; valid rows by day, rejects under `date=rejected`,
        lines yielding no record by design under `date=ignored`. Then count the batch's rows (records,
        ignored by reason, lines covered) into `report` and return its quarantine rows."""
        # many small record batches (zero-copy slices) let DuckDB spread the scan over its threads
        self.con.register("lines", pa.Table.from_batches(lines.to_batches(max_chunksize=SCAN_CHUNK_ROWS)))
        try:
            self.con.execute(
                f"""copy (
                    select
                        {RECORD_COLUMNS},
                        item,
                        ignored,
                        reason,
                        {index} as _file,
                        case
                            when ignored is not null then '{IGNORED}'
                            when reason is null then strftime(created_at, '%Y-%m-%d')
                            else '{REJECTED}'
                        end as date
                    from ({batch_sql(adapter)})
                ) to {literal(self.staging)} (FORMAT parquet, COMPRESSION uncompressed, PARTITION_BY (date),
                    FILENAME_PATTERN 'f{index}_b{number}_{{i}}', OVERWRITE_OR_IGNORE true)""",
                batch_params(adapter, source.url, self.hash_key),
            )
        finally:
            self.con.unregister("lines")
        self._account(lines, index, number, report)
        return self._rejects(lines, index, number)

    def _batch_files(self, index: int, number: int, folder: str | None = None) -> list[str]:
        """Staged files of batch `number` of file `index`, in one `date=` folder or in all of them."""
        prefix = f"f{index}_b{number}_"
        folders = (
            [f"date={folder}"] if folder else sorted(os.listdir(self.staging)) if os.path.isdir(self.staging) else []
        )
        files = []
        for name in folders:
            path = os.path.join(self.staging, name)
            if os.path.isdir(path):
                files.extend(os.path.join(path, f) for f in sorted(os.listdir(path)) if f.startswith(prefix))
        return files

    def _account(self, lines: pa.Table, index: int, number: int, report: FileReport) -> None:
        """Count the batch's staged rows into `report`: records, ignored lines by reason, and lines that
        yielded no row at all (`uncovered`, which keeps the file from being marked done)."""
        files = self._batch_files(index, number)
        records, covered = (
            self.con.execute("select count(*), count(distinct source_line) from read_parquet(?)", [files]).fetchall()[0]
            if files
            else (0, 0)
        )
        report.records += records
        report.uncovered += lines.num_rows - covered
        if ignored := self._batch_files(index, number, IGNORED):
            for reason, count in self.con.execute(
                "select ignored, count(*) from read_parquet(?) group by all order by all", [ignored]
            ).fetchall():
                self._count_ignored(report, reason, count)

    @staticmethod
    def _count_ignored(report: FileReport, reason: str, count: int) -> None:
        if count:
            report.ignored += count
            report.ignored_reasons[reason] = report.ignored_reasons.get(reason, 0) + count

    def discard(self, index: int) -> None:
        """Forget everything staged from file `index` (it failed part way)."""
        prefix = f"f{index}_"
        for folder in os.listdir(self.staging) if os.path.isdir(self.staging) else []:
            path = os.path.join(self.staging, folder)
            if os.path.isdir(path):
                for name in os.listdir(path):
                    if name.startswith(prefix):
                        os.remove(os.path.join(path, name))
                if not os.listdir(path):
                    os.rmdir(path)

    def _rejects(self, lines: pa.Table, index: int, number: int) -> list[tuple[int, str, str]]:
        """(line number, reason, raw line) of the batch's rejected records, read back from staging: one row per
        rejected record, its reason prefixed with the item of the line it came from (e.g. "span 1.3 (chat
        gpt-4o): ...") when the line holds several."""
        files = self._batch_files(index, number, REJECTED)
        if not files:
            return []
        found = self.con.execute(
            """select source_line, case when item is null then reason else item || ': ' || reason end
            from read_parquet(?) order by source_line, item""",
            [files],
        ).fetchall()
        numbers = lines.column("source_line").to_numpy()
        raws = lines.column("raw").take(np.searchsorted(numbers, [n for n, _ in found])).to_pylist()
        return [(n, reason, raw.rstrip("\r\n")) for (n, reason), raw in zip(found, raws, strict=True)]


def _staged_files(staging: str) -> dict[str, list[str]]:
    """Staged Parquet files of valid records by day (listed, not globbed: paths may hold glob characters)."""
    files: dict[str, list[str]] = {}
    if not os.path.isdir(staging):
        return files
    for folder in sorted(os.listdir(staging)):
        day = folder.removeprefix("date=")
        if folder.startswith("date=") and day not in (REJECTED, IGNORED):
            names = sorted(os.listdir(os.path.join(staging, folder)))
            files[day] = [os.path.join(staging, folder, name) for name in names]
    return files


def _find_losers(con: duckdb.DuckDBPyConnection, staged: list[str], stored: list[str]) -> None:
    """Table `ranked`: the rows, staged or stored, of every key seen more than once, and which give way
    (`lost`) to another with the same (request_id, attempt).

    Uniqueness holds across all days. Copies of one record (the same content: every field but the lineage
    `source_*`) keep the stored one, then the earlier file, then the earlier line, so re-reading a file changes
    nothing. Records that disagree (same key, different content: a logger that rewrote a record, two exports
    of one request) resolve to the more complete one (more fields known), then the later file (stored rows
    are the earliest), then the later line; a stored record that loses is removed from its day. `conflict`
    marks rows of a key whose records disagree. `resumed` marks a staged row whose stored winner is that very
    line (source_uri, source_line): a run that failed after writing it is being redone, so the row counts as
    written, not as a duplicate. Only the stored rows whose key is staged are read.
    """
    content = [spec.name for spec in field_specs() if not spec.name.startswith("source_")]
    known = " + ".join(f"({name} is not null)::int" for name in content)
    columns = f"request_id, attempt, source_uri, source_line, hash(({', '.join(content)})) as _fp, {known} as _known"
    keys = f"select date, 1 as _prio, _file, coalesce(item, '') as _item, {columns} from read_parquet($staged, {_HIVE})"
    params: dict[str, list[str]] = {"staged": staged}
    if stored:
        keys += f"""
        union all
        select date, 0, -1, '', {columns}
        from ({_stored_records(con, stored)}) as stored
        semi join (select request_id, attempt from read_parquet($staged)) as staged using (request_id, attempt)"""
        params["stored"] = stored
    threads = int(con.execute("select current_setting('threads')").fetchall()[0][0])
    try:
        with _memory_limit(con, f"{DEDUPE_MIB_PER_THREAD * threads}MiB"):
            _rank_keys(con, keys, params)
    except duckdb.OutOfMemoryException:
        _rank_keys(con, keys, params)  # keys that would not spill under the limit: finish with DuckDB's own


@contextmanager
def _memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """Run the block under DuckDB memory limit `limit`, then restore the connection's own (as DuckDB shows it,
    rounded to a tenth of its unit)."""
    previous = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    con.execute("set memory_limit = ?", [limit])
    try:
        yield
    finally:
        con.execute("set memory_limit = ?", [previous])


def _rank_keys(con: duckdb.DuckDBPyConnection, keys: str, params: dict[str, list[str]]) -> None:
    """Table `ranked` from the key rows `keys` (see `_find_losers`): every row of a key seen more than once,
    with `lost` (it gives way), `stored`, `conflict` and `resumed`. Two orders: the first picks the winning
    content (records that disagree: the most complete, then the last read), the second keeps, among the rows
    of that content, the stored one, then the first read, so that a copy never replaces what is stored."""
    con.execute(
        f"""create or replace temp table ranked as
        select
            date, request_id, attempt, _file, source_uri, source_line, _item, conflict,
            _prio = 0 as stored,
            _rank > 1 as lost,
            winner_prio = 0 and winner = (source_uri, source_line) as resumed
        from (
            select
                *,
                row_number() over kept as _rank,
                first_value(_prio) over kept as winner_prio,
                first_value((source_uri, source_line)) over kept as winner
            from (
                select *, first_value(_fp) over content as winning_fp
                from (
                    select *, min(_fp) over k <> max(_fp) over k as conflict
                    from (
                        -- only keys seen more than once need ranking: a cheap aggregate first, then a small window
                        with all_keys as ({keys})
                        select * from all_keys
                        semi join (select request_id, attempt from all_keys group by all having count(*) > 1)
                            using (request_id, attempt)
                    )
                    window k as (partition by request_id, attempt)
                )
                window content as (
                    partition by request_id, attempt
                    order by
                        case when conflict then -_known else 0 end,
                        case when conflict then -_prio else 0 end,
                        case when conflict then -_file else 0 end,
                        case when conflict then -source_line else 0 end,
                        _item desc
                )
            )
            window kept as (
                partition by request_id, attempt
                order by _fp <> winning_fp, _prio, _file, source_line, _item
            )
        )""",
        params,
    )


def _count(con: duckdb.DuckDBPyConnection, staged: list[str], report: IngestReport) -> list[tuple[str, int, str, int]]:
    """(day, file index, outcome, rows) of the staged rows; outcome is `new` (to write), `resumed` (written by an
    earlier, failed run of the same file) or `duplicate`. A line an earlier version of the file counted (up to its
    `prior_through_line`) is never resumed: found stored, it is a duplicate, not written a second time."""
    priors = pa.table(
        {
            "_file": pa.array(range(len(report.files)), pa.int64()),
            "through": pa.array([f.prior_through_line for f in report.files], pa.int64()),
        }
    )
    con.register("_prior", priors)
    try:
        return con.execute(
            f"""with staged as (
                select date, _file, count(*) as n from read_parquet($staged, {_HIVE}) group by all
            ),
            dropped as (
                select
                    date,
                    _file,
                    case when resumed and source_line > through then 'resumed' else 'duplicate' end as outcome,
                    count(*) as n
                from ranked join _prior using (_file)
                where lost and not stored
                group by all
            )
            select s.date, s._file, 'new', s.n - coalesce((select sum(d.n) from dropped as d
                where d.date = s.date and d._file = s._file), 0)
            from staged as s
            union all
            select date, _file, outcome, n from dropped
            order by all""",
            {"staged": staged},
        ).fetchall()
    finally:
        con.unregister("_prior")


def _commit_group(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, staged: list[str], days: list[str]
) -> dict[str, int]:
    """Write the partitions of `days`: stored rows plus the staged rows that did not give way, sorted. Stored rows
    stay, even those that gave way: they are removed after every winner is written (`_drop_stored_losers`), so
    that a failure part way never loses a record. Returns the bytes written per day."""
    stored = [p for p in (warehouse.read_path(warehouse.partition_path(day)) for day in days) if p]
    staged_rows = (
        f"select {RECORD_COLUMNS}, date, _file, coalesce(item, '') as _item from read_parquet($staged, {_HIVE})"
    )
    query = f"""select {RECORD_COLUMNS}, date from ({staged_rows}) as s
        anti join (select * from ranked where lost and not stored) as l
            using (date, request_id, attempt, _file, source_line, _item)"""
    params = {"staged": staged}
    if stored:
        query += f" union all select {RECORD_COLUMNS}, date from ({_stored_records(con, stored)})"
        params["stored"] = stored
    return _write_days(con, warehouse, f"select * from ({query}) order by date, {SORT_ORDER}", params, days)


def _drop_stored_losers(con: duckdb.DuckDBPyConnection, warehouse: Warehouse, days: list[str]) -> dict[str, int]:
    """Rewrite `days` without their stored records that gave way to a more complete one (a day left with none is
    written empty). Returns the bytes written per day."""
    stored = [p for p in (warehouse.read_path(warehouse.partition_path(day)) for day in days) if p]
    if not stored:
        return {}
    query = f"""select {RECORD_COLUMNS}, date from ({_stored_records(con, stored)}) as s
        anti join (select * from ranked where lost and stored) as l
            using (date, request_id, attempt, source_uri, source_line)
        order by date, {SORT_ORDER}"""
    return _write_days(con, warehouse, query, {"stored": stored}, days)


def _write_days(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, query: str, params: dict[str, list[str]], days: list[str]
) -> dict[str, int]:
    """Write each of `days` from the rows of `query` (sorted by date), atomically; a day without rows empty."""
    by_day = dict(_split_by_day(con.sql(query, params=params).to_arrow_table()))
    empty = arrow_schema().empty_table()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(pool.map(lambda day: (day, _write_partition(warehouse, day, by_day.get(day, empty))), sorted(days)))


def _stored_records(con: duckdb.DuckDBPyConnection, stored: list[str]) -> str:
    """A query over the stored partitions `$stored` that reads partitions written by an older version (without
    a field added since) as current ones, with the field's default."""
    query = f"select * from read_parquet($stored, {_HIVE}, union_by_name = true)"
    present = [column[0] for column in con.execute(f"{query} limit 0", {"stored": stored}).description]
    return upgraded_select(present, query)


def _split_by_day(rows: pa.Table) -> list[tuple[str, pa.Table]]:
    """Slices of `rows` (sorted by date) per day, without the date column."""
    counts = pc.value_counts(rows.column("date")).to_pylist()  # in order of first appearance
    body = rows.drop_columns(["date"])
    slices, offset = [], 0
    for item in counts:
        slices.append((item["values"], body.slice(offset, item["counts"])))
        offset += item["counts"]
    return slices


@cache
def _parquet_options() -> dict[str, Any]:
    """zstd; dictionaries for the repetitive text columns only (not for unique ids), delta encoding for the
    sorted timestamps and line numbers: half the write time of the defaults and smaller files."""
    text = [spec.name for spec in field_specs() if spec.base is str and spec.name != "request_id"]
    return {
        "compression": "zstd",
        "row_group_size": PARQUET_ROW_GROUP,
        "use_dictionary": text,
        "column_encoding": {"created_at": "DELTA_BINARY_PACKED", "source_line": "DELTA_BINARY_PACKED"},
    }


def _write_partition(warehouse: Warehouse, day: str, rows: pa.Table) -> int:
    """Write one day's partition atomically; returns its size in bytes."""
    with warehouse.atomic_write(warehouse.partition_path(day)) as local:
        pq.write_table(rows.cast(arrow_schema()), local, **_parquet_options())
        return os.path.getsize(local)


def _day_groups(day_rows: list[tuple[str, int]], max_rows: int) -> list[list[str]]:
    """Consecutive days packed into groups of at most `max_rows` staged rows (a bigger day is alone)."""
    groups: list[list[str]] = []
    size = max_rows
    for day, rows in day_rows:
        if size + rows > max_rows:
            groups.append([])
            size = 0
        groups[-1].append(day)
        size += rows
    return groups


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
    commit_rows: int = DEFAULT_COMMIT_ROWS,
    progress: Progress = lambda _message: None,
) -> IngestReport:
    """Ingest every new file named by `sources` into `warehouse`; see the module docstring.

    Holds the warehouse lock for the whole run: the ledger read at the start decides what is staged, and the
    commit merges into partitions another writer must not replace meanwhile.
    """
    report = IngestReport()
    with warehouse_lock(warehouse, "ingest", progress), scratch_dir() as scratch:
        con = _connect(warehouse, scratch, threads)
        stager = _Stager(con, os.path.join(scratch, "staging"), hash_key, chunk_bytes, storage_options or {})
        quarantines = _stage_files(stager, expand_sources(sources, storage_options), warehouse, report, progress)
        testhooks.pause_at("ingest-commit")
        _commit(con, warehouse, stager.staging, commit_rows, report)
        for index, quarantine_file in quarantines.items():
            _finish_file(warehouse, report.files[index], quarantine_file)
        _record_keys(warehouse, report)
        con.close()
    if failed := [f for f in report.files if f.error]:
        raise UnreadableSourceError(report, failed)
    return report


def _connect(warehouse: Warehouse, scratch: str, threads: int | None) -> duckdb.DuckDBPyConnection:
    con = connect(threads=threads)
    con.execute("set temp_directory = ?", [os.path.join(scratch, "spill")])
    if not warehouse.is_local:
        con.register_filesystem(warehouse.fs)  # DuckDB reads stored partitions through fsspec
    return con


def _prior_read(warehouse: Warehouse, source: SourceFile) -> ReadMark | None:
    """How far the last ingested version of the source's URL was read (None: never, or by an older version)."""
    entry = warehouse.last_read(source.url)
    mark = (entry or {}).get("read_mark")
    return ReadMark(**mark) if mark else None


def _stage_files(
    stager: _Stager, files: list[SourceFile], warehouse: Warehouse, report: IngestReport, progress: Progress
) -> dict[int, str | None]:
    """Phase 1 over every file not in the ledger; returns the local quarantine file of each staged file index."""
    done = warehouse.ledger_keys()
    quarantines: dict[int, str | None] = {}
    for index, source in enumerate(files):
        file_report = FileReport(url=source.url, key=source.key, size=source.size)
        report.files.append(file_report)
        if source.key in done:
            file_report.skipped = True
            progress(f"skip {source.url} (already ingested)")
            continue
        progress(f"file {index + 1}/{len(files)}: {source.url}")
        try:
            quarantines[index] = stager.stage(source, index, file_report, progress, _prior_read(warehouse, source))
        except Exception as err:
            stager.discard(index)
            file_report.error = f"{type(err).__name__}: {err}".strip().rstrip(":")
            file_report.lines = file_report.records = file_report.quarantined = 0
            file_report.ignored = file_report.uncovered = 0
            file_report.ignored_reasons = {}
            progress(f"cannot read {source.url}: {file_report.error}")
    return quarantines


# ---------------------------------------------------------------------------------------------------------
# Staging in the warehouse: phase 1 in parallel workers (one per landing day), phase 2 by one committer
# ---------------------------------------------------------------------------------------------------------

MANIFEST = "manifest.json"


def stage(
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

    This is the expensive part of an ingest (reading, adapting, validating), and it writes nothing that
    readers see, so any number of workers can stage different batches at once (Dagster runs one per landing
    day). The batch holds the valid rows by day, each file's quarantine rows and, written last, a manifest of
    the file reports: a batch without its manifest is incomplete and is never committed. Staging a batch
    again replaces it. Files already in the ledger are skipped; unreadable files fail after the others are
    staged, as in `ingest`. Only the publishing of the batch holds the warehouse lock (a commit must not read
    a batch half replaced, nor remove one published after it read it); the staging before it runs unlocked.
    """
    report = IngestReport()
    with scratch_dir() as scratch:
        con = _connect(warehouse, scratch, threads)
        stager = _Stager(con, os.path.join(scratch, "staging"), hash_key, chunk_bytes, storage_options or {})
        quarantines = _stage_files(stager, expand_sources(sources, storage_options), warehouse, report, progress)
        con.close()
        manifest = {
            "files": [asdict(f) for f in report.files],
            "quarantine": {str(i): os.path.basename(q) for i, q in quarantines.items() if q},
        }
        with warehouse_lock(warehouse, f"stage batch {batch}", progress):
            _publish_batch(warehouse, batch, scratch, manifest)
    if failed := [f for f in report.files if f.error]:
        raise UnreadableSourceError(report, failed)
    return report


def _publish_batch(warehouse: Warehouse, batch: str, scratch: str, manifest: dict[str, Any]) -> None:
    """Replace `WAREHOUSE/_staging/<batch>/` with the valid rows and quarantine files staged under `scratch`,
    then write its manifest, which marks the batch complete."""
    target = warehouse.path(STAGING, batch)
    if warehouse.fs.exists(target):
        warehouse.fs.rm(target, recursive=True)
    for folder, _dirs, names in os.walk(os.path.join(scratch, "staging")):
        if os.path.basename(folder) in (f"date={REJECTED}", f"date={IGNORED}"):
            continue  # rejected rows are in the quarantine files already
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
    written count as written again, not as duplicates (see `_find_losers`), and ledger entries are rewritten.
    Holds the warehouse lock throughout."""
    report = IngestReport()
    with warehouse_lock(warehouse, "commit staged batches", progress):
        for batch in staged_batches(warehouse):
            report.extend(_commit_batch(warehouse, batch, threads, commit_rows, progress))
    return report


def _commit_batch(
    warehouse: Warehouse, batch: str, threads: int | None, commit_rows: int, progress: Progress
) -> IngestReport:
    """Phase 2 for one complete staged batch, then remove it."""
    progress(f"commit staged batch {batch}")
    with scratch_dir() as scratch:
        local = os.path.join(scratch, "batch")
        warehouse.fs.get(warehouse.path(STAGING, batch) + "/", local + "/", recursive=True)
        manifest = json.loads(Path(local, MANIFEST).read_text())
        batch_report = IngestReport(files=[FileReport(**f) for f in manifest["files"]])
        con = _connect(warehouse, scratch, threads)
        _commit(con, warehouse, os.path.join(local, "staging"), commit_rows, batch_report)
        con.close()
        for index, file_report in enumerate(batch_report.files):
            if not file_report.skipped and not file_report.error:
                name = manifest["quarantine"].get(str(index))
                _finish_file(warehouse, file_report, os.path.join(local, "staging", name) if name else None)
        _record_keys(warehouse, batch_report)
    warehouse.fs.rm(warehouse.path(STAGING, batch), recursive=True)
    return batch_report


class UnreadableSourceError(RuntimeError):
    """Some files could not be read; the others were ingested. The failed ones stay out of the ledger."""

    def __init__(self, report: IngestReport, failed: list[FileReport]) -> None:
        self.report = report
        listed = "; ".join(f"{f.url} ({f.error})" for f in failed)
        super().__init__(f"{len(failed)} of {len(report.files)} file(s) could not be read: {listed}")


def _commit(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, staging: str, commit_rows: int, report: IngestReport
) -> None:
    """Phase 2: find duplicates across everything stored, then rewrite each changed day atomically."""
    by_day = _staged_files(staging)
    if not by_day:
        return
    everything = [f for files in by_day.values() for f in files]
    stored = [p for p in (warehouse.read_path(path) for path in warehouse.partition_paths()) if p]
    _find_losers(con, everything, stored)
    written: dict[str, int] = {}
    for day, file_index, outcome, rows in _count(con, everything, report):
        file_report = report.files[file_index]
        if outcome == "duplicate":
            file_report.duplicates += rows
            continue
        file_report.written += rows
        if outcome == "new":
            written[day] = written.get(day, 0) + rows
    conflicts = "select _file, count(*) from ranked where conflict and not stored group by all"
    for file_index, rows in con.execute(conflicts).fetchall():
        report.files[file_index].conflicts += rows
    changed = sorted((day, rows) for day, rows in written.items() if rows)
    for days in _day_groups(changed, commit_rows):
        sizes = _commit_group(con, warehouse, [f for day in days for f in by_day[day]], days)
        report.days.extend(sizes)
        report.bytes_written += sum(sizes.values())
    # only once every winner is written: the stored records that gave way leave their days
    losing = [
        day for (day,) in con.execute("select distinct date from ranked where lost and stored order by 1").fetchall()
    ]
    sizes = _drop_stored_losers(con, warehouse, losing)
    report.days = sorted(set(report.days) | set(sizes))
    report.bytes_written += sum(sizes.values())


def _record_keys(warehouse: Warehouse, report: IngestReport) -> None:
    """Note in the warehouse which keys hashed the user ids of the files just finished."""
    privacy.record_keys(warehouse, {f.hash_key_id for f in report.files if f.hash_key_id and not f.error})


def _finish_file(warehouse: Warehouse, file_report: FileReport, quarantine_file: str | None) -> None:
    """Publish a file's quarantine rows (if any), then its ledger entry (which marks it done).

    A file whose counts do not add up is never marked done, so a rerun retries it instead of losing lines.
    """
    if not file_report.balanced:
        raise RuntimeError(
            f"{file_report.url}: {file_report.lines} lines read ({file_report.uncovered} yielded no record), "
            f"{file_report.records} records but {file_report.written} written + {file_report.duplicates} duplicates "
            f"+ {file_report.quarantined} quarantined + {file_report.ignored} ignored; not marking it done"
        )
    if quarantine_file:
        warehouse.publish(quarantine_file, warehouse.path(QUARANTINE, f"{file_report.key}.parquet"))
    entry = asdict(file_report) | {"ingested_at": datetime.now(UTC).isoformat(timespec="seconds")}
    entry.pop("skipped")
    entry.pop("error")
    warehouse.write_ledger(file_report.key, entry)
    warehouse.write_last_read(file_report.url, entry | {"key": file_report.key})
