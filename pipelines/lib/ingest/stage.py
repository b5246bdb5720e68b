"""Phase 1, staging: each new source file's records into a local staging folder.

A file is streamed in chunks (a background thread reads the next chunk meanwhile); each chunk of lines goes
through the format's adapter and the shared transform in one DuckDB statement that writes all its rows to one
Parquet file of the staging folder (`rows/f<file>_b<batch>.parquet`): valid records with their UTC day in `date`
(`YYYY-MM-DD`), rejected ones (`reason`) and lines that yield no record by design (`ignored`: a CSV header, an OTel
export without a GenAI span) with none, so that a file's statistics give the days its records span. One file per
batch, not a folder per day: DuckDB's partitioned write cost a quarter of the statement's CPU (0.25-0.3 s of
1.1-1.2 s per 289k canonical rows). The rejected records go, with their reasons, to a per-file quarantine file,
batch by batch; the ignored lines are counted by reason.

Every line read must yield at least one row (checked per batch: the distinct line numbers staged equal the
batch's lines); a line that yields nothing is counted as `uncovered` and keeps its file from being marked done.

Small files read line by line share statements: a statement's fixed cost (about 45 ms, its plan of many operators
started once) would otherwise be most of a small file's cost (a bucket of one-request objects, as LiteLLM's
bucket loggers write, took 0.05 s a file). A file of at most PACK_BYTES (stored and read) is read whole and held
(`_Held`) with the others of its format until they number PACK_FILES or all held files hold PACK_BYTES, then one
statement transforms the files of a format,
each file's line numbers carrying its index in their high bits (`LINE_BITS`: adapters pass `source_line` on
untouched), into one staged file (`pack<n>.parquet`) whose `_file` and `source_line` are split out again. The
accounting and rejects are read back per file. A pack whose statement fails is staged again file by file, so
that one file's failure stays its own.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fsspec import get_filesystem_class
from fsspec.core import url_to_fs
from fsspec.utils import get_protocol

from pipelines.lib import families, privacy, quarantine
from pipelines.lib.blocks import IncompleteSourceError, is_compressed, iter_blocks
from pipelines.lib.fetch import LineFetcher, PastTheEndError
from pipelines.lib.ingest import bulk, documents
from pipelines.lib.ingest.report import QUARANTINED_BEFORE, FileReport, IngestReport
from pipelines.lib.interrupts import interrupted
from pipelines.lib.lock import Progress
from pipelines.lib.reader import (
    LineBatch,
    LineReader,
    ReadMark,
    join_batches,
    lines_batch,
    nonblank_lines,
    prefetch,
    stripped_lines,
)
from pipelines.lib.storage import SourceFile, Warehouse, concurrent_requests, list_files, skipped_note
from pipelines.lib.transform import batch_params, batch_sql, lines_sql, lookup_plans, transform_lines
from schemas import normalize
from schemas.adapters import Adapter, UnknownFormatError, detect
from schemas.adapters._sql import BULK
from schemas.bulk import field_specs
from schemas.sqltext import literal

RECORD_COLUMNS = ", ".join(spec.name for spec in field_specs())
SCAN_CHUNK_ROWS = 16_384
#: Rows per row group of a staged file, about half DuckDB's default (122,880), measured faster, for a reason not
#: established (289k rows are written as 4 groups of 65,536 and one of 26,856, against 2 of 122,880 and one of
#: 43,240). The 2M canonical ingest: 7.17 s against 7.34 s (median of 5 alternated pairs; faster in 7 of 10 pairs
#: over three sets); 500k provider bodies: 2.92-3.06 s against 3.08-3.24 s (3 pairs).
STAGED_ROW_GROUP = 65_536
ROWS = "rows"  # the staging folder's subfolder of staged rows, one file per batch
#: The staged rows that are records to commit (a day), not rejected or ignored ones.
VALID = "date is not null"
#: ... rejected ones (with their reasons), and the rows of lines that yield no record by design (with why).
REJECTED, IGNORED = "ignored is null and reason is not null", "ignored is not null"
BLANK_LINE = "blank line"  # ignored: a line of nothing but whitespace
#: Read a file whose format has a bulk form whole with DuckDB's reader (`bulk`) from this many bytes (uncompressed,
#: estimated: `big_enough_for_bulk`); a smaller file line by line; None: every file line by line (the
#: differential tests compare the two, and the test suite reads every file it can in bulk: 0). The bulk path's
#: fixed costs (a DuckDB connection of its own, the sample check that also transforms the first lines by the line
#: form, a second statement) outweigh its speed on small files: 2,000 files of 10 canonical lines took 6:46
#: (0.2 s a file) in bulk. Seconds per file, bulk against lines, 2 runs each alternated: 1 MiB canonical 0.23
#: against 0.14-0.16, OpenRouter 0.22 against 0.13-0.14, LiteLLM 0.24-0.26 against 0.14, OTel 0.36 against 0.21;
#: 16 MiB 0.38-0.39 against 0.27-0.29, 0.31-0.34 against 0.24-0.26, 0.33-0.34 against 0.24-0.31, 0.67-0.69
#: against 0.57-0.62; 28 MiB canonical 0.44-0.49 against 0.37-0.48.
BULK_MIN_BYTES: int | None = 16 * 1024 * 1024
#: A compressed file's size times this estimates its uncompressed size (JSON logs shrink 5-15 times with gzip or
#: zstd; the bundled sample's zstd files 13 times). A guess high rather than low: a compressed file read line by
#: line is then surely small, where the line path is slower the bigger the file (OTel, 2.39M simulated attempts:
#: 305 s against 58 s), and a small one read in bulk for want of it costs a tenth of a second.
COMPRESSION_RATIO_GUESS = 16
#: Small files of one format read line by line share a transform statement up to this many bytes of lines or this
#: many files (see the module's docstring); None: each file its own statements. 2,000 files of 10 canonical lines
#: (BENCHMARKS.md, "Small files share statements"): 180 s one statement a file, 7 s in packs.
PACK_BYTES: int | None = 32 * 1024 * 1024
PACK_FILES = 2048
#: A packed line's `source_line` is its file's index shifted by this many bits plus its number in the file.
LINE_BITS = 32
LINE_MASK = (1 << LINE_BITS) - 1

#: A rejected record: (line number, reason, the raw line).
Reject = tuple[int, str, str]


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for the transform: UTC, reference tables, macros (the model families' too: the
    transform reads a model's maker)."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")
    if threads:
        con.execute(f"set threads = {int(threads)}")
    if memory_limit:
        con.execute("set memory_limit = ?", [memory_limit])
    normalize.install(con)
    families.install(con)
    return con


def run_connection(warehouse: Warehouse, scratch: str, threads: int | None) -> duckdb.DuckDBPyConnection:
    """The connection of one ingest run: the transform's, spilling into `scratch`, reading `warehouse`'s files."""
    con = connect(threads=threads)
    con.execute("set temp_directory = ?", [os.path.join(scratch, "spill")])
    if not warehouse.is_local:
        con.register_filesystem(warehouse.fs)  # DuckDB reads stored partitions through fsspec
    return con


def _times_as_microseconds(schema: pa.Schema) -> pa.Schema:
    """`schema` with its timestamp columns as integers (microseconds since 1970), for rows compared as Python
    values: Python has no datetime past year 9999, which a record quarantined for its time may hold."""
    return pa.schema([f.with_type(pa.int64()) if pa.types.is_timestamp(f.type) else f for f in schema])


#: The staged columns of lines of several files (`FileStager._copy`): the URL of the line's file, its number in it.
_PACKED_COLUMNS = {
    "source_uri": "f.source_uri AS source_uri",
    "source_line": f"t.source_line & {LINE_MASK} AS source_line",
}


def read_staged(files: str) -> str:
    """SQL reading the staged files `files` (a parameter): `date` is a column of theirs, which a folder named
    `key=value` above them (a batch `date=2025-06-01` of the warehouse's staging area) must not replace."""
    return f"read_parquet({files}, hive_partitioning = false)"


@dataclass
class _Part:
    """The lines of one file among those a staged batch holds: its index in the run, its lines, its report."""

    index: int
    lines: pa.Table
    report: FileReport


@dataclass
class _Held:
    """A small file read whole, waiting to share a statement with others of its format (`FileStager.hold`)."""

    source: SourceFile
    index: int
    report: FileReport
    batch: LineBatch
    quarantine_file: str
    read_mark: dict[str, Any] | None
    read_by: str = "lines"

    @property
    def size(self) -> int:
        """Bytes held: the lines, and the excerpts of the lines the reader rejected itself."""
        return self.batch.lines.nbytes + sum(len(excerpt) for _n, _reason, excerpt in self.batch.rejected)

    def restart(self) -> None:
        """The file's report as its read left it, before any staging counted rows (again), and no quarantine
        file from an earlier attempt."""
        self.report.reset()
        self.report.read_by, self.report.lines, self.report.read_mark = self.read_by, self.batch.count, self.read_mark
        if os.path.exists(self.quarantine_file):
            os.remove(self.quarantine_file)


@dataclass
class FileStager:
    """Stages source files into one local staging folder: the connection, the folder and the hash key; the small
    files held for a shared statement (`held`, by format; `held_bytes` in all) and the quarantine files of those
    staged since (`released`, by file index)."""

    con: duckdb.DuckDBPyConnection
    staging: str
    hash_key: bytes
    chunk_bytes: int
    storage_options: dict[str, Any]
    threads: int | None = None
    held: dict[Adapter, list[_Held]] = field(default_factory=dict)
    held_bytes: int = 0
    released: dict[int, str | None] = field(default_factory=dict)
    packs: int = 0
    documents_con: duckdb.DuckDBPyConnection | None = None

    def stage_file(
        self,
        source: SourceFile,
        index: int,
        report: FileReport,
        progress: Progress,
        prior: ReadMark | None = None,
        content: bytes | None = None,
    ) -> str | None:
        """Stage the records of one file (number `index` of the run); returns the local Parquet file of its
        quarantine rows (None when there are none).

        A format with a bulk form is read whole by DuckDB (`bulk`), unless the file is read on from where an
        earlier read stopped (`prior`: a file that only grew is read from there, see reader.LineReader). A file
        whose bulk read does not account for every line is read again by the line path, in chunks of lines.
        Quarantine rows are written batch by batch, so a file of nothing but bad lines does not pile up in
        memory. `content`: the file's bytes, fetched ahead (`Prefetch`), read instead of the file when it is small.
        A file of JSON documents (an array, pages, pretty-printed records: `documents`) is read record by record.
        """
        big = prior is None and big_enough_for_bulk(source, self.storage_options)  # may read the first bytes: once
        small = None if big else self._read_small(source, prior, content)
        report.hash_key_id = privacy.key_id(self.hash_key)
        os.makedirs(self.staging, exist_ok=True)
        quarantine_file = os.path.join(self.staging, f"quarantine-{index}.parquet")
        lines = (
            stripped_lines(small.ahead) if small and small.whole else nonblank_lines(source.url, **self.storage_options)
        )
        first = next(lines, "")
        if documents.opens_document(first) or (
            not first and documents.opens_array(documents.head(source.url, self.storage_options, content))
        ):
            if prior is not None:  # read whole: what the earlier read counted is not resumed
                report.prior_through_line = prior.through_line
            staged = self._stage_documents(source, index, report, progress, first or "[", quarantine_file, content)
            if staged is not False:
                lines.close()  # its reader's file
                if small is not None:
                    small.rest.close()  # its reader's thread
                return staged
        adapter, unknown = _detected(itertools.chain([first], lines), source.url)
        report.source_format = adapter.name if adapter else None
        if adapter is not None and adapter.bulk and big:
            try:
                with quarantine.Writer(quarantine_file, source.url, report.source_format) as rejects:
                    self._stage_whole(source, index, report, adapter, rejects, progress)
                report.read_by = "bulk"
                report.quarantined = rejects.count
                return quarantine_file if rejects.count else None
            except (bulk.BulkMismatch, PastTheEndError) as err:  # past the end: shorter than when it was counted
                progress(f"{Path(source.url).name}: read line by line ({err})")
                self.discard(index)
                report.reset()
        return self._stage_by_lines(source, index, report, progress, prior, adapter, unknown, quarantine_file, small)

    def _stage_documents(
        self,
        source: SourceFile,
        index: int,
        report: FileReport,
        progress: Progress,
        first_line: str,
        quarantine_file: str,
        content: bytes | None,
    ) -> str | bool | None:
        """Stage a file of JSON documents record by record (see `documents`), each batch of records through the
        line path, a small file's records held to share a statement with others of its format (`hold`), as a
        small file's lines are; returns its quarantine file as `stage_file` does, or False when it does not read
        as JSON values to its end (nothing of it staged: the caller reads it as JSON lines). The file is read
        whole, never on from a mark: the records an earlier read of it counted (`_prior_read`) are not resumed."""
        scratch = os.path.join(os.path.dirname(self.staging), f"source-{index}.json")
        try:
            path = documents.local_copy(source.url, self.storage_options, scratch, content)
            batches = documents.records(self._documents_reader(), path, first_line, self.chunk_bytes)
            head = next(batches, None)
            adapter, unknown = _detected(stripped_lines([head] if head else []), source.url)
            report.source_format = adapter.name if adapter else None
            report.read_by = "documents"
            if head is not None and _packable(adapter) and head.lines.nbytes <= (PACK_BYTES or 0):
                rest = next(batches, None)
                if rest is None:  # all of it in one batch
                    self.hold(adapter, _Held(source, index, report, head, quarantine_file, None, "documents"))
                    return None
                batches = itertools.chain([rest], batches)
            with quarantine.Writer(quarantine_file, source.url, report.source_format) as rejects:
                for number, batch in enumerate(itertools.chain([head] if head else [], batches)):
                    report.lines += batch.count
                    self.stage_lines(batch, adapter, source, index, number, report, rejects, 1, unknown)
                    progress(f"{Path(source.url).name}: {report.lines:,} records of JSON documents")
        except documents.NotDocuments as err:
            progress(f"{Path(source.url).name}: read as JSON lines ({str(err)[:200]})")
            self.discard(index)
            report.reset()
            return False
        finally:
            if os.path.lexists(scratch):
                os.remove(scratch)
        report.quarantined = rejects.count
        return quarantine_file if rejects.count else None

    def _documents_reader(self) -> duckdb.DuckDBPyConnection:
        """The connection that reads files of JSON documents: one for the stager's files."""
        if self.documents_con is None:
            self.documents_con = bulk.reader_connection(self.threads)
        return self.documents_con

    def _read_small(self, source: SourceFile, prior: ReadMark | None, content: bytes | None) -> _ReadAhead | None:
        """A file that takes the line path (the caller found it too small for the bulk path) and may be held (never
        read before, at most PACK_BYTES as stored): its first batches, read before its format is detected, so that
        a small file is read once (on an object store, one request instead of two). None for any other file."""
        if not self._may_read_ahead(source, prior):
            return None
        reader = LineReader(source.url, self.chunk_bytes, content=content, **self.storage_options)
        batches: Iterator[LineBatch] = prefetch(iter(reader))
        return _ReadAhead(reader, *_read_ahead(batches, PACK_BYTES or 0), batches)

    def _stage_whole(
        self,
        source: SourceFile,
        index: int,
        report: FileReport,
        adapter: Adapter,
        rejects: quarantine.Writer,
        progress: Progress,
    ) -> None:
        """The bulk path (see `bulk`): a local uncompressed file is read in place (through a link when its name
        holds glob characters); any other is first written, decompressed and verified to its end, to a scratch
        file."""
        scratch_file = os.path.join(os.path.dirname(self.staging), f"source-{index}.jsonl")
        local = bulk.local_plain_path(source.url, self.storage_options)
        copy = local is None
        path = scratch_file if local is None else bulk.unglobbed(local, scratch_file)
        before = None if copy else _stat(path)
        thread = None
        try:
            if copy:
                try:
                    scan = bulk.scan(iter_blocks(source.url, bulk.SCAN_BYTES, **self.storage_options), path, copy)
                except IncompleteSourceError:
                    raise
                except OSError as err:  # no room for the copy, say: the line path needs none
                    raise bulk.BulkMismatch(f"cannot copy it to scratch: {err}") from err
            else:  # read in place: the scan runs alongside read_json
                thread = bulk.ScanThread(bulk.plain_blocks(path, bulk.PIECE_BYTES), path)
                scan = thread.scan
            bulk.BulkFile(self, source, index, report, adapter, scan, thread=thread).stage(rejects, progress)
            if before is not None and _stat(path) != before:  # read three times: it must not change meanwhile
                raise bulk.BulkMismatch("the file changed while it was read")
        finally:
            if thread is not None:
                thread.close()
            if os.path.lexists(scratch_file):  # the copy, or the link read_json reads a glob-like name through
                os.remove(scratch_file)

    def _stage_by_lines(
        self,
        source: SourceFile,
        index: int,
        report: FileReport,
        progress: Progress,
        prior: ReadMark | None,
        adapter: Adapter | None,
        unknown: str,
        quarantine_file: str,
        small: _ReadAhead | None = None,
    ) -> str | None:
        """The line path: the file read in chunks of lines (`small`: its first ones already read), each chunk
        through the adapter's line form. A small file read whole, in a format whose adapter does not read the
        file's URL, is held to share a statement with others (`hold`): its quarantine file is released later."""
        report.prior_through_line = prior.through_line if prior else 0
        report.read_by = "lines"
        if small is None and _packable(adapter):  # a file the bulk path gave back, or too big for it
            small = self._read_small(source, prior, None)
        if small is None:
            reader = LineReader(source.url, self.chunk_bytes, resume=prior, **self.storage_options)
            batches: Iterator[LineBatch] = prefetch(iter(reader))
        else:
            reader = small.reader
            if _packable(adapter) and small.whole and small.ahead:
                mark = asdict(reader.mark) if reader.mark else None
                self.hold(adapter, _Held(source, index, report, join_batches(small.ahead), quarantine_file, mark))
                return None
            batches = _unshift(small.ahead, small.rest)
        with quarantine.Writer(quarantine_file, source.url, report.source_format) as rejects:
            for number, batch in enumerate(batches):
                report.lines += batch.count
                self.stage_lines(batch, adapter, source, index, number, report, rejects, reader.first_line, unknown)
                progress(f"{Path(source.url).name}: {report.lines:,} lines")
        report.first_line = reader.first_line
        report.read_mark = asdict(reader.mark) if reader.mark else None
        report.quarantined = rejects.count
        return quarantine_file if rejects.count else None

    def stage_lines(
        self,
        batch: LineBatch,
        adapter: Adapter | None,
        source: SourceFile,
        index: int,
        number: int | str,
        report: FileReport,
        rejects: quarantine.Writer,
        first_line: int = 1,
        unknown: str = "",
    ) -> None:
        """Stage one batch of lines through the adapter's line form (no adapter: every line quarantined with the
        reason `unknown`) and count its records; its lines are counted by the caller."""
        if adapter is None:
            rejects.write_all(batch.lines, unknown)
            report.records += batch.lines.num_rows
            self._settle(batch, [], rejects, report, first_line)
            return
        staged = self.batch_file(index, number)
        self._copy("lines", batch.lines, lines_sql(adapter, batch.lines), adapter, staged, source.url, index)
        part = _Part(index, batch.lines, report)
        self._account(staged, [part])
        self._settle(batch, self._rejects(staged, [part])[index], rejects, report, first_line)

    def _settle(
        self, batch: LineBatch, found: list[Reject], rejects: quarantine.Writer, report: FileReport, first_line: int
    ) -> None:
        """Count the lines of `batch` the reader settled itself (rejected, blank) and quarantine them with the
        batch's rejected records `found`."""
        report.records += len(batch.rejected) + batch.blank
        report.count_ignored(BLANK_LINE, batch.blank)
        rejected = list(batch.rejected) + found
        rejects.write(
            sorted(self._not_quarantined_before(rejected, first_line, report, _whole_lines(batch, report, first_line)))
        )

    @staticmethod
    def _may_read_ahead(source: SourceFile, prior: ReadMark | None) -> bool:
        """Whether the file may be read whole to be held: packing on, never read before (no mark of an earlier
        read), no bigger than PACK_BYTES as stored (a compressed one may hold more: `_read_ahead` stops there)."""
        return bool(PACK_BYTES and prior is None and 0 < source.size <= PACK_BYTES)

    def hold(self, adapter: Adapter, held: _Held) -> None:
        """Hold a small file, read whole, for a statement shared with others of its format (`release_due`): with
        those its line form reads alike (an adapter bound to a file's first lines may differ in its bulk form only,
        as provider bodies' do)."""
        held.restart()
        line_form = (adapter.name, adapter.select_sql)
        adapter = next((other for other in self.held if (other.name, other.select_sql) == line_form), adapter)
        self.held.setdefault(adapter, []).append(held)
        self.held_bytes += held.size

    def release_due(self, progress: Progress) -> None:
        """Stage the held files of each format that holds PACK_FILES files, and every held file once all hold
        PACK_BYTES (formats together: the bound on what waits in memory)."""
        for adapter in [a for a, files in self.held.items() if len(files) >= PACK_FILES]:
            self.release(adapter, progress)
        if self.held_bytes >= (PACK_BYTES or 0):
            self.release_all(progress)

    def release_all(self, progress: Progress) -> None:
        """Stage every file still held."""
        for adapter in list(self.held):
            self.release(adapter, progress)

    def release(self, adapter: Adapter, progress: Progress) -> None:
        """Stage the files held in `adapter`'s format in one statement (one file alone as any file); a failure
        stages them again one by one, each failing alone (its report marked, its rows discarded); Ctrl-C stops the
        run instead (`interrupted`: DuckDB turns it into an error of the statement it stops). Nothing else
        may fail a file once it shares a staged file (`discard` cannot take its rows out of it): the caller lets
        any other error fail the run."""
        files = self.held.pop(adapter, [])
        self.held_bytes -= sum(held.size for held in files)
        if len(files) > 1:
            self.packs += 1
            staged = os.path.join(self.staging, ROWS, f"pack{self.packs}.parquet")
            try:
                self._stage_pack(adapter, files, staged)
                return
            except Exception as err:
                if interrupted(err):
                    raise
                if os.path.exists(staged):
                    os.remove(staged)
                progress(f"{len(files)} small files staged together failed ({err}); staging each alone")
        for held in files:
            held.restart()
            try:
                with self._quarantine_of(held) as rejects:
                    self.stage_lines(held.batch, adapter, held.source, held.index, 0, held.report, rejects)
            except Exception as err:
                if interrupted(err):
                    raise
                self.discard(held.index)
                held.report.fail(err)
                progress(f"cannot read {held.source.url}: {held.report.error}")

    def _stage_pack(self, adapter: Adapter, files: list[_Held], staged: str) -> None:
        """One statement over the lines of `files`, numbered apart (`LINE_BITS`), staged as `staged`; then each
        file's accounting and quarantine."""
        parts = [_Part(held.index, held.batch.lines, held.report) for held in files]
        if any(held.batch.count > LINE_MASK for held in files):
            raise ValueError(f"a file of more than {LINE_MASK:,} lines cannot share a statement")
        lines = pa.concat_tables(
            [
                pa.table(
                    {
                        "source_line": pc.add(part.lines.column("source_line"), part.index << LINE_BITS),
                        "raw": part.lines.column("raw").cast(pa.large_string()),
                    }
                )
                for part in parts
            ]
        )
        uris = pa.table(
            {"_file": [held.index for held in files], "source_uri": [held.source.url for held in files]},
            schema=pa.schema([("_file", pa.int32()), ("source_uri", pa.string())]),  # as `_copy`'s literal index
        )
        self._copy("lines", lines, lines_sql(adapter, lines), adapter, staged, uris)
        self._account(staged, parts)
        found = self._rejects(staged, parts)
        for held in files:
            with self._quarantine_of(held) as rejects:
                self._settle(held.batch, found[held.index], rejects, held.report, 1)

    @contextmanager
    def _quarantine_of(self, held: _Held) -> Iterator[quarantine.Writer]:
        """The quarantine writer of a held file; once it is written, the file's count and (when any row was
        written) the file `released`."""
        with quarantine.Writer(held.quarantine_file, held.source.url, held.report.source_format) as rejects:
            yield rejects
        held.report.quarantined = rejects.count
        self.released[held.index] = held.quarantine_file if rejects.count else None

    def stage_bulk(
        self, rows: pa.Table, adapter: Adapter, source: SourceFile, index: int, number: int, report: FileReport
    ) -> list[tuple[int, str]]:
        """Stage one table of the bulk form's rows (read_json's columns and `source_line`) and count its
        records; returns (line number, reason) of its rejected records, whose raw text the caller fetches."""
        staged = self.batch_file(index, number)
        self._copy(BULK, rows, batch_sql(adapter, bulk=True), adapter, staged, source.url, index)
        self._account(staged, [_Part(index, rows, report)])
        return self._reasons(staged).get(index, [])

    def check_sample(
        self, numbers: list[int], adapter: Adapter, source: SourceFile, path: str, index: int, number: int
    ) -> None:
        """The rows the bulk form staged for the sample lines `numbers` (the first rows of batch `number` of file
        `index`) must be what the line form makes of the same lines, read from `path`; else `bulk.BulkMismatch`
        (the caller discards what was staged and the file is read line by line). The staged rows are read back
        rather than transformed a second time: each transform statement costs 0.1-0.2 s to plan and start."""
        if not numbers:
            return
        fetched = LineFetcher(path, bulk.MAX_LINE_BYTES).fetch(numbers)
        by_lines = transform_lines(
            self.con, adapter, lines_batch(fetched, bulk.MAX_LINE_BYTES).lines, source.url, self.hash_key
        )
        staged = self.con.sql(  # the batch's rows only: odd lines are staged by another name
            f"select {RECORD_COLUMNS}, item, ignored, reason from {read_staged('?')} where source_line <= ?",
            params=[self.batch_file(index, number), max(numbers)],
        ).to_arrow_table()
        readings: list[list[dict[str, Any]]] = []
        for rows in (staged, by_lines):
            listed = rows.cast(_times_as_microseconds(rows.schema)).to_pylist()
            readings.append(sorted(listed, key=lambda row: (row["source_line"], row["item"] or "")))
        if readings[0] != readings[1]:
            differ = next((a, b) for a, b in itertools.zip_longest(*readings) if a != b)
            raise bulk.BulkMismatch(f"read_json and the line reader read a line differently (times in µs): {differ}")

    @staticmethod
    def _not_quarantined_before(
        rejected: list[Reject], first_line: int, report: FileReport, whole: frozenset[int] = frozenset()
    ) -> list[Reject]:
        """`rejected` without the rows of a line an earlier read of the file already quarantined (a grown file
        read again from a line that had no newline yet) and that is still unfinished: those are counted as
        ignored. A line of `whole` (it has its newline now) is quarantined for what it holds now; the earlier row
        of it is stale, and the commit takes it out (`commit.drop_completed_line`)."""
        if first_line == 1 or not rejected:
            return rejected
        before = [row for row in rejected if row[0] <= report.prior_through_line and row[0] not in whole]
        report.count_ignored(QUARANTINED_BEFORE, len(before))
        return [row for row in rejected if row[0] > report.prior_through_line or row[0] in whole]

    def _copy(
        self,
        name: str,
        table: pa.Table,
        sql: str,
        adapter: Adapter,
        target: str,
        source: str | pa.Table,
        index: int | None = None,
    ) -> None:
        """One statement: the transform `sql` over `table` (registered as `name`), staged as the file `target`
        whose `date` is a valid record's day (see the module's docstring): the lines of file `index`, whose URL is
        `source`, or of several files numbered apart (`LINE_BITS`), `source` then a table of their indices
        (`_file`) and URLs. The commit reads staged files once per group of days, skipping row groups by their
        dates: uncompressed, without the bloom filters DuckDB writes by default (a tenth of the write's time), in
        row groups of STAGED_ROW_GROUP rows."""
        # many small record batches (zero-copy slices) let DuckDB spread the scan over its threads
        self.con.register(name, pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_CHUNK_ROWS), table.schema))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        packed = isinstance(source, pa.Table)
        columns, file, join = RECORD_COLUMNS, str(index), ""
        if packed:
            self.con.register("packed_files", source)
            columns = ", ".join(_PACKED_COLUMNS.get(spec.name, "t." + spec.name) for spec in field_specs())
            file, join = "f._file", f"left join packed_files as f on f._file = t.source_line >> {LINE_BITS}"
        try:
            with lookup_plans(self.con):
                self.con.execute(
                    f"""copy (
                        select
                            {columns},
                            t.item,
                            t.ignored,
                            t.reason,
                            {file} as _file,
                            case
                                when t.ignored is null and t.reason is null then strftime(t.created_at, '%Y-%m-%d')
                            end as date
                        from ({sql}) as t
                        {join}
                    ) to {literal(target)} (
                        FORMAT parquet, COMPRESSION uncompressed, WRITE_BLOOM_FILTER false,
                        ROW_GROUP_SIZE {STAGED_ROW_GROUP}
                    )""",
                    batch_params(adapter, "" if packed else str(source), self.hash_key),
                )
        finally:
            self.con.unregister(name)
            if packed:
                self.con.unregister("packed_files")

    def batch_file(self, index: int, number: int | str) -> str:
        """The staged rows of batch `number` of file `index`."""
        return os.path.join(self.staging, ROWS, f"f{index}_b{number}.parquet")

    def _account(self, staged: str, parts: list[_Part]) -> None:
        """Count the staged rows of `staged` into the reports of the files whose lines it holds (`parts`):
        records, ignored lines by reason, and lines that yielded no row at all (`uncovered`, which keeps the file
        from being marked done)."""
        by_file = {part.index: part for part in parts}
        covered: dict[int, int] = {}
        for file, records, lines in self.con.execute(
            f"select _file, count(*), count(distinct source_line) from {read_staged('?')} group by _file", [staged]
        ).fetchall():
            by_file[file].report.records += records
            covered[file] = lines
        for part in parts:
            part.report.uncovered += part.lines.num_rows - covered.get(part.index, 0)
        for file, reason, count in self.con.execute(
            f"select _file, ignored, count(*) from {read_staged('?')} where {IGNORED} group by all order by all",
            [staged],
        ).fetchall():
            by_file[file].report.count_ignored(reason, count)

    def discard(self, index: int) -> None:
        """Forget everything staged from file `index` (it failed part way)."""
        folder = os.path.join(self.staging, ROWS)
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            if name.startswith(f"f{index}_"):
                os.remove(os.path.join(folder, name))

    def _reasons(self, staged: str) -> dict[int, list[tuple[int, str]]]:
        """(line number, reason) of the rejected records of `staged` by file index, read back from staging: one
        row per rejected record, its reason prefixed with the item of the line it came from (e.g. "span 1.3 (chat
        gpt-4o): ...") when the line holds several."""
        found: dict[int, list[tuple[int, str]]] = {}
        for file, line, reason in self.con.execute(
            f"""select _file, source_line, case when item is null then reason else item || ': ' || reason end
            from {read_staged("?")} where {REJECTED} order by _file, source_line, item""",
            [staged],
        ).fetchall():
            found.setdefault(file, []).append((line, reason))
        return found

    def _rejects(self, staged: str, parts: list[_Part]) -> dict[int, list[Reject]]:
        """(line number, reason, raw line) of the rejected records of `staged` (`_reasons`) for each of the files
        whose lines it holds (`parts`), the raw line from the file's lines."""
        found = self._reasons(staged)
        rejects: dict[int, list[Reject]] = {}
        for part in parts:
            mine = found.get(part.index, [])
            if not mine:
                rejects[part.index] = []
                continue
            numbers = part.lines.column("source_line").to_numpy()
            raws = part.lines.column("raw").take(np.searchsorted(numbers, [n for n, _ in mine])).to_pylist()
            rejects[part.index] = [(n, reason, raw.rstrip("\r\n")) for (n, reason), raw in zip(mine, raws, strict=True)]
        return rejects


#: A file held whole is read in at most this many batches: the lines of its one chunk, then its last line when it
#: has no final newline.
HOLD_BATCHES = 2


@dataclass
class _ReadAhead:
    """A file's reader, its first batches (`ahead`), whether they are all of it (`whole`) and the rest."""

    reader: LineReader
    ahead: list[LineBatch]
    whole: bool
    rest: Iterator[LineBatch]


def _detected(lines: Iterator[str], url: str) -> tuple[Adapter | None, str]:
    """The adapter `detect` picks for a file whose non-blank lines are `lines`, or None and why none does."""
    try:
        return detect(lines, url), ""
    except UnknownFormatError as err:
        return None, str(err).split(": ", 1)[1]


def _packable(adapter: Adapter | None) -> TypeGuard[Adapter]:
    """A format whose small files may share a statement: known, its adapter not reading the file's URL."""
    return adapter is not None and not adapter.per_file


def _read_ahead(batches: Iterator[LineBatch], limit: int) -> tuple[list[LineBatch], bool]:
    """The first batches of a file, and whether they are all of it: read until the file ends (whole), or until
    they are more than HOLD_BATCHES or hold more than `limit` bytes of lines (then the file is staged as it is
    read, with at most one batch more in memory than the line path keeps)."""
    ahead: list[LineBatch] = []
    for batch in batches:
        ahead.append(batch)
        if len(ahead) > HOLD_BATCHES or sum(b.lines.nbytes for b in ahead) > limit:
            return ahead, False
    return ahead, True


def _unshift(ahead: list[LineBatch], rest: Iterator[LineBatch]) -> Iterator[LineBatch]:
    """The batches read ahead, then the rest: each let go of once handed on (a chunk is up to 128 MiB)."""
    while ahead:
        yield ahead.pop(0)
    yield from rest


def _stat(path: str) -> tuple[int, int]:
    """Size and modification time (ns) of a local file."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def expand_sources(
    sources: list[str], storage_options: dict[str, Any] | None, report: IngestReport, progress: Progress
) -> list[SourceFile]:
    """All files named by the source URLs, each once, in the order given. The files their folders and globs left
    out for their names (`list_files`; a file another source names aside) go in `report` and are said once."""
    seen: dict[str, SourceFile] = {}
    skipped: dict[str, str] = {}  # the URL of each file left out: its name as its listing gives it
    for url in sources:
        listing = list_files(url, storage_options)
        for source in listing.files:
            seen.setdefault(source.url, source)
        for left_out, name in listing.skipped.items():
            skipped.setdefault(left_out, name)
    report.skipped_by_name = [name for url, name in skipped.items() if url not in seen]
    if report.skipped_by_name:
        progress(skipped_note(report.skipped_by_name))
    return list(seen.values())


def _whole_lines(batch: LineBatch, report: FileReport, first_line: int) -> frozenset[int]:
    """The line an earlier read of the file ended inside (`prior_through_line`), when `batch` holds it with its
    newline now: finished since, so what it holds now is what counts."""
    line = report.prior_through_line
    if first_line == 1 or line < first_line:  # not a resumed read, or one that ended at a newline
        return frozenset()
    numbers = batch.lines.column("source_line")
    found = pc.index(numbers, line).as_py()
    if found < 0 or not batch.lines.column("raw")[found].as_py().endswith("\n"):
        return frozenset()
    return frozenset({line})


def _prior_read(warehouse: Warehouse, source: SourceFile, known: set[str], report: FileReport) -> ReadMark | None:
    """How far the last ingested version of the source's URL was read (None: never, or by an older version);
    `known`: the names of the warehouse's last-read entries. Where a row of its unfinished last line is quarantined
    (`FileReport.prior_partial_key`) goes into `report`; so does, for a version read whole without a mark (JSON
    documents), how many records it counted (`prior_through_line`): found stored again, they are duplicates, not
    the resumed rows of a run that failed."""
    entry = warehouse.last_read(source.url, known)
    mark = (entry or {}).get("read_mark")
    if not mark:
        if entry and entry.get("read_by") == "documents":
            report.prior_through_line = int(entry.get("lines") or 0)
        return None
    # an entry of a version before `partial_key` was kept: its own quarantine is where the line's row would be
    report.prior_partial_key = entry.get("partial_key", entry.get("key")) if entry else None
    return ReadMark(**mark)


def big_enough_for_bulk(source: SourceFile, storage_options: dict[str, Any]) -> bool:
    """`source` is big enough to be read in bulk: BULK_MIN_BYTES or more, uncompressed. A size the store did not give
    (0: an HTTP server without Content-Length, say) counts as big. A compressed file (by its first bytes, as the
    readers tell, not by its name) counts COMPRESSION_RATIO_GUESS times its size; its first bytes are read only
    where that decides."""
    if BULK_MIN_BYTES is None:
        return False
    if not source.size or source.size >= BULK_MIN_BYTES:
        return True
    if source.size * COMPRESSION_RATIO_GUESS < BULK_MIN_BYTES:
        return False
    return is_compressed(source.url, **storage_options)


def stage_files(
    stager: FileStager, files: list[SourceFile], warehouse: Warehouse, report: IngestReport, progress: Progress
) -> dict[int, str | None]:
    """Stage every file not in the ledger, each with its report in `report`; returns the local quarantine file
    of each staged file's index. A file that cannot be read is discarded and marked failed; the others go on.
    Ctrl-C, even as the error of a DuckDB statement it stopped (`interrupted`), stops the run: no file marked."""
    done, known = warehouse.ledger_keys(), warehouse.last_read_names()
    quarantines: dict[int, str | None] = {}
    # prefetched: files not read before (a file with an earlier read is read on from its mark, not whole)
    fresh = [None if s.key in done or warehouse.last_read_name(s.url) in known else s for s in files]
    with Prefetch(fresh, stager.storage_options) as fetched:
        for index, source in enumerate(files):
            file_report = FileReport(url=source.url, key=source.key, size=source.size)
            report.files.append(file_report)
            if source.key in done:
                file_report.skipped = True
                progress(f"skip {source.url} (already ingested)")
                continue
            progress(f"file {index + 1}/{len(files)}: {source.url}")
            try:
                content = fetched.content(index)  # first: a file that fails leaves no fetch waiting
                prior = _prior_read(warehouse, source, known, file_report)
                quarantines[index] = stager.stage_file(source, index, file_report, progress, prior, content)
            except Exception as err:
                if interrupted(err):
                    raise
                stager.discard(index)
                file_report.fail(err)
                progress(f"cannot read {source.url}: {file_report.error}")
            stager.release_due(progress)  # outside the file's own failure: the files released are others too
    stager.release_all(progress)
    return quarantines | stager.released


#: Small files on a remote store (at most PREFETCH_BYTES as stored) are fetched this many at once ahead of the
#: staging, which then reads them from memory: each fetch is a round trip (100 files with 20 ms a request: staging
#: 2.9 s one file after another).
PREFETCH_FILES = 16
PREFETCH_BYTES = 1024 * 1024


class Prefetch:
    """Fetches the bytes of the small files among `files` (None: not to be read) that are on a store whose requests
    are round trips (`storage.concurrent_requests`, by the URL's filesystem class), on PREFETCH_FILES threads, at
    most twice as many ahead of the one asked for (`content`). A fetch that fails gives None: the staging reads
    the file itself, and reports what goes wrong."""

    def __init__(self, files: list[SourceFile | None], storage_options: dict[str, Any]) -> None:
        self.storage_options = storage_options
        self.wanted = [
            (index, source)
            for index, source in enumerate(files)
            if source is not None
            and 0 < source.size <= PREFETCH_BYTES
            and concurrent_requests(get_filesystem_class(get_protocol(source.url)))
        ]
        self.pool = ThreadPoolExecutor(max_workers=PREFETCH_FILES) if self.wanted else None
        self.pending: dict[int, Future[bytes]] = {}
        self.submitted = 0

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def content(self, index: int) -> bytes | None:
        """The bytes of file `index` when it was to be fetched (else None), topping up the fetches ahead."""
        while self.pool is not None and self.submitted < len(self.wanted) and len(self.pending) < 2 * PREFETCH_FILES:
            wanted, source = self.wanted[self.submitted]
            self.submitted += 1
            if wanted >= index:
                self.pending[wanted] = self.pool.submit(_fetch, source.url, self.storage_options)
        future = self.pending.pop(index, None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception:
            return None


def _fetch(url: str, storage_options: dict[str, Any]) -> bytes:
    """The bytes of a file, as stored: opened as the staging opens it, so the version listed (an object store's
    ETag) is the version read, or the read fails, and no more than the listed size is read."""
    fs, path = url_to_fs(url, **storage_options)
    with fs.open(path, "rb") as handle:
        return bytes(handle.read())


def upgrade_layout(con: duckdb.DuckDBPyConnection, staging: str) -> None:
    """Put the rows of a staging folder written by an earlier version, a folder per day (`date=YYYY-MM-DD/`), into
    this version's layout (one file under `ROWS`, `date` a column), so that a batch staged before an upgrade is
    committed after it. The day comes from each folder's own name (`read_staged`: not from any above it)."""
    days = {
        name.removeprefix("date="): os.path.join(staging, name)
        for name in (sorted(os.listdir(staging)) if os.path.isdir(staging) else [])
        if name.startswith("date=") and os.path.isdir(os.path.join(staging, name))
    }
    selects = [
        f"select *, {literal(day)} as date from read_parquet([{', '.join(map(literal, files))}], "
        "hive_partitioning = false)"
        for day, folder in days.items()
        if (files := [os.path.join(folder, name) for name in sorted(os.listdir(folder))])
    ]
    if selects:
        os.makedirs(os.path.join(staging, ROWS), exist_ok=True)
        con.execute(
            f"copy ({' union all '.join(selects)}) to {literal(os.path.join(staging, ROWS, 'by-day.parquet'))} "
            "(FORMAT parquet, COMPRESSION uncompressed)"
        )
    for folder in days.values():
        shutil.rmtree(folder)


def staged_files(staging: str) -> list[str]:
    """The staged row files (each holding valid, rejected and ignored rows: `VALID` picks the records), listed, not
    globbed: paths may hold glob characters."""
    folder = os.path.join(staging, ROWS)
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))] if os.path.isdir(folder) else []
