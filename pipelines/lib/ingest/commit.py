"""Phase 2, the commit: staged records into the date partitions, then each file's quarantine and ledger entry.

After the dedupe (`dedupe.find_losers`), each changed day is rewritten from its stored rows plus its new
ones, sorted by provider, model, created_at, and replaced atomically, a few days per query (`commit_rows`
bounds the merge's working set). Stored records that gave way leave their days only once every winner is
written, so a failure part way never loses a record. Then each file's quarantine rows and ledger entry are
published: the ledger entry marks the file done, and a file whose counts do not add up is never marked done.
A day whose staged records are all duplicates is left untouched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.lib import privacy
from pipelines.lib.ingest.dedupe import (
    conflicts_by_file,
    count_outcomes,
    days_losing_stored,
    find_losers,
    replaced_by_file,
    stored_records,
)
from pipelines.lib.ingest.report import COMPLETED_LATER, QUARANTINED_BEFORE, FileReport, IngestReport
from pipelines.lib.ingest.stage import RECORD_COLUMNS, read_staged, staged_files
from pipelines.lib.storage import QUARANTINE, Warehouse, concurrent_requests
from schemas.bulk import arrow_schema, field_specs
from schemas.sqltext import literal

#: The order of a day's rows in its partition (ascending, NULLs last). The record's key (request_id, attempt) is
#: unique in a written day; the source breaks the tie between a stored record and the one it gives way to, which
#: share a day file until `_drop_stored_losers` rewrites it, so that every file's bytes are determined.
SORT_KEYS = ("provider", "model", "created_at", "request_id", "attempt", "source_uri", "source_line")
#: ... of which these are text with few distinct values in a day: sorted by their rank among those values.
RANKED_KEYS = ("provider", "model", "source_uri")
PARQUET_ROW_GROUP = 122_880
#: Staged rows merged per commit query: it bounds the merge's working set, the group's rows in Arrow and the
#: sorted copy of each day being written, which set the ingest's peak memory. 2M canonical rows, alternated (with
#: DuckDB sorting the group then): 1M rows per group peaked at 1,208-1,410 MiB, 600k at 889-1,011 MiB, as fast
#: (10.0-11.6 s against 9.3-11.4 s).
DEFAULT_COMMIT_ROWS = 600_000
#: Files whose quarantine and ledger entries are published at once on an object store (`publish_files`).
PUBLISH_THREADS = 16


def commit(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, staging: str, commit_rows: int, report: IngestReport
) -> None:
    """Find duplicates across everything stored, then rewrite each changed day atomically; counts written,
    duplicates, conflicts and stored records replaced into the file reports of `report`, and the days written
    into `report`."""
    everything = staged_files(staging)
    if not everything:
        return
    stored = [p for p in (warehouse.read_path(path) for path in warehouse.partition_paths()) if p]
    find_losers(con, everything, stored)
    written = _count_outcomes(con, everything, report)
    for file_index, rows in conflicts_by_file(con):
        report.files[file_index].conflicts += rows
    for file_index, rows in replaced_by_file(con):
        report.files[file_index].replaced += rows
    changed = sorted((day, rows) for day, rows in written.items() if rows)
    for days in _day_groups(changed, commit_rows):
        report.add_days(_commit_group(con, warehouse, everything, days))
    # only once every winner is written: the stored records that gave way leave their days
    report.add_days(_drop_stored_losers(con, warehouse, days_losing_stored(con)))


def _count_outcomes(con: duckdb.DuckDBPyConnection, staged: list[str], report: IngestReport) -> dict[str, int]:
    """Count each file's written and duplicate rows into its report; returns the new rows to write per day."""
    new_by_day: dict[str, int] = {}
    for day, file_index, outcome, rows in count_outcomes(con, staged, report):
        file_report = report.files[file_index]
        if outcome == "duplicate":
            file_report.duplicates += rows
            continue
        file_report.written += rows
        if outcome == "new":
            new_by_day[day] = new_by_day.get(day, 0) + rows
    return new_by_day


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


def _stored_partitions(warehouse: Warehouse, days: list[str]) -> list[str]:
    """The stored partition files of `days`, as DuckDB reads them (days without one left out)."""
    return [p for p in (warehouse.read_path(warehouse.partition_path(day)) for day in days) if p]


def _commit_group(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, staged: list[str], days: list[str]
) -> dict[str, int]:
    """Write the partitions of `days`: stored rows plus the staged rows (of the files `staged`) of those days that
    did not give way, sorted. Stored rows stay, even those that gave way: they are removed after every winner is
    written (`_drop_stored_losers`), so that a failure part way never loses a record. Returns the bytes written
    per day."""
    stored = _stored_partitions(warehouse, days)
    # the range as well as the list: DuckDB skips a staged row group by its min and max date
    wanted = f"date between {literal(days[0])} and {literal(days[-1])} and date in ({', '.join(map(literal, days))})"
    staged_rows = f"""select {RECORD_COLUMNS}, date, _file, coalesce(item, '') as _item
        from {read_staged("$staged")} where {wanted}"""
    query = f"""select {RECORD_COLUMNS}, date from ({staged_rows}) as s
        anti join (select * from ranked where lost and not stored) as l
            using (date, request_id, attempt, _file, source_line, _item)"""
    params = {"staged": staged}
    if stored:
        query += f" union all select {RECORD_COLUMNS}, date from ({stored_records(con, stored)})"
        params["stored"] = stored
    return _write_days(con, warehouse, query, params, days)


def _drop_stored_losers(con: duckdb.DuckDBPyConnection, warehouse: Warehouse, days: list[str]) -> dict[str, int]:
    """Rewrite `days` without their stored records that gave way to a more complete one (a day left with none is
    written empty). Returns the bytes written per day."""
    stored = _stored_partitions(warehouse, days)
    if not stored:
        return {}
    query = f"""select {RECORD_COLUMNS}, date from ({stored_records(con, stored)}) as s
        anti join (select * from ranked where lost and stored) as l
            using (date, request_id, attempt, source_uri, source_line)"""
    return _write_days(con, warehouse, query, {"stored": stored}, days)


def _write_days(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, query: str, params: dict[str, list[str]], days: list[str]
) -> dict[str, int]:
    """Write each of `days` from the rows of `query` (in any order: each day is put in storage order on the writer
    threads), atomically; a day without rows empty. Returns the bytes written per day.

    The sort runs per day in Arrow, not in DuckDB over the whole query: 2M canonical rows, alternated, the commit
    took 1.89-2.03 s against 2.32-2.44 s with DuckDB's ORDER BY, and wrote the same bytes."""
    table = con.sql(query, params=params).to_arrow_table()
    dates, body = table.column("date"), table.drop_columns(["date"])
    threads = os.cpu_count() or 1

    def write(day: str) -> tuple[str, int]:
        return day, _write_partition(warehouse, day, *_day_rows(body, dates, day, len(days), threads))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return dict(pool.map(write, sorted(days)))


def _day_rows(
    body: pa.Table, dates: pa.ChunkedArray, day: str, group_days: int, threads: int
) -> tuple[pa.Table, pa.Array]:
    """`day`'s rows out of `body`, the rows of a group of `group_days` days written on `threads` threads, and the
    indices that put them in storage order: a table and the indices of its rows to write, in order.

    * A group of one day is that day: the group and its order.
    * A group of more days than threads: a copy of the day's rows and its order. The days written at once hold
      copies of `threads` of its days (most of the group only where one day is most of it), and each row group
      taken from a day's copy copies that day only.
    * A group of as many days as threads or fewer: the group, and the indices of the day's rows in order (only
      their sort keys copied). The days written at once would hold a copy of the whole group (10M shuffled rows,
      two-day groups: peak 1,077-1,111 MiB with copies, 947 MiB without); each row group taken from the group
      copies the group's columns (Arrow's `take` joins a table's chunks on every call), which only a few days
      can afford: one group of 365 days (547k rows) committed in 1.36-1.51 s with copies, 4.52-5.08 s without."""
    if group_days == 1:
        return body, sort_order(body)
    if group_days > threads:
        rows = body.filter(pc.equal(dates, day))
        return rows, sort_order(rows)
    where = pc.indices_nonzero(pc.equal(dates, day))
    return body, where.take(sort_order(body.select(list(SORT_KEYS)).take(where)))


def sort_order(rows: pa.Table) -> pa.Array:
    """The indices that put `rows` in storage order: by SORT_KEYS, ascending with NULLs last, as DuckDB's ORDER BY
    sorts them. The RANKED_KEYS are sorted by their dense rank among their distinct values (a few dozen in a day),
    which orders them as their bytes do: integers compared where strings were."""
    keys = {name: _dense_rank(rows.column(name)) if name in RANKED_KEYS else rows.column(name) for name in SORT_KEYS}
    return pc.sort_indices(pa.table(keys), sort_keys=[(name, "ascending") for name in SORT_KEYS])


def storage_order(rows: pa.Table) -> pa.Table:
    """`rows` in storage order (`sort_order`)."""
    return rows.take(sort_order(rows))


def _dense_rank(column: pa.ChunkedArray) -> pa.Array:
    """Each value's rank among the column's distinct values, compared as bytes (NULL stays NULL)."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    ranks = pc.rank(encoded.dictionary, sort_keys="ascending", tiebreaker="dense")
    return pc.take(ranks, encoded.indices)


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


def _write_partition(warehouse: Warehouse, day: str, rows: pa.Table, order: pa.Array) -> int:
    """Write one day's partition atomically: the rows of `rows` that `order` indexes, in that order, taken one row
    group at a time (a sorted copy of a whole day would double the commit's memory: a day of 333k rows,
    1,126-1,157 MiB against 960 MiB with DuckDB sorting). A day without rows is written empty. Returns its size in
    bytes."""
    schema, options = arrow_schema(), _parquet_options()
    with warehouse.atomic_write(warehouse.partition_path(day)) as local:
        if not len(order):
            pq.write_table(rows.slice(0, 0).cast(schema), local, **options)
            return os.path.getsize(local)
        size = options["row_group_size"]
        with pq.ParquetWriter(local, schema, **{k: v for k, v in options.items() if k != "row_group_size"}) as out:
            for start in range(0, len(order), size):
                out.write_table(rows.take(order.slice(start, size)).cast(schema), row_group_size=size)
        return os.path.getsize(local)


def publish_files(warehouse: Warehouse, report: IngestReport, quarantines: Mapping[int, str | None]) -> None:
    """Publish each file read in this run: its quarantine rows (the local file `quarantines[index]`, if any), then
    its ledger entry, which marks it done; then note which keys hashed their user ids.

    Files are independent of each other (each keeps its own order: quarantine, then ledger entry), so on an
    object store whose client is asynchronous (S3, GCS, Azure: one event loop serves every thread)
    PUBLISH_THREADS publish at once: each file's two or three PUTs are round trips (100 small files with 20 ms of
    latency a request: 6.3 s one file after another). A file that cannot be marked done raises once every other
    file is published and the keys are noted."""
    threads = PUBLISH_THREADS if concurrent_requests(warehouse.fs) else 1
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [
            pool.submit(_finish_file, warehouse, file_report, quarantines.get(index))
            for index, file_report in enumerate(report.files)
            if file_report.finished
        ]
    privacy.record_keys(warehouse, {f.hash_key_id for f in report.files if f.hash_key_id and not f.error})
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        if len(errors) > 1:
            errors[0].add_note(f"and {len(errors) - 1} more file(s) not marked done")
        raise errors[0]


def _finish_file(warehouse: Warehouse, file_report: FileReport, quarantine_file: str | None) -> None:
    """Publish a file's quarantine rows (if any), then its ledger entry (which marks it done).

    A file whose counts do not add up is never marked done, so a rerun retries it instead of losing lines.
    """
    if not file_report.balanced:
        raise RuntimeError(
            f"{file_report.url}: {file_report.lines} lines read ({file_report.uncovered} yielded no record), "
            f"{file_report.records} records (every line must yield one) and {file_report.written} written + "
            f"{file_report.duplicates} duplicates + {file_report.quarantined} quarantined + {file_report.ignored} "
            "ignored; not marking it done"
        )
    if quarantine_file:
        warehouse.publish(quarantine_file, warehouse.path(QUARANTINE, f"{file_report.key}.parquet"))
    file_report.partial_key = partial_key(file_report, quarantine_file)
    if file_report.completes_prior_line:
        drop_completed_line(warehouse, file_report)
    entry = asdict(file_report) | {"ingested_at": datetime.now(UTC).isoformat(timespec="seconds")}
    entry.pop("skipped")
    entry.pop("error")
    warehouse.write_ledger(file_report.key, entry)
    warehouse.write_last_read(file_report.url, entry | {"key": file_report.key})


def partial_key(file_report: FileReport, quarantine_file: str | None) -> str | None:
    """The ledger key whose quarantine holds the row of the line this read ended inside (no newline yet), for the
    read that completes it (`drop_completed_line`): this read's, when it quarantined that line; the earlier read's,
    when this read met the same line unfinished again (and so did not quarantine it twice); else None."""
    mark = file_report.read_mark or {}
    line = mark.get("through_line", 0)
    if line <= mark.get("lines", 0):
        return None  # the read ended at a newline
    if line == file_report.prior_through_line and file_report.ignored_reasons.get(QUARANTINED_BEFORE):
        return file_report.prior_partial_key
    if quarantine_file and os.path.exists(quarantine_file):
        lines = pq.read_table(quarantine_file, columns=["source_line"]).column("source_line")
        if pc.any(pc.equal(lines, line)).as_py():
            return file_report.key
    return None


def drop_completed_line(warehouse: Warehouse, file_report: FileReport) -> None:
    """Take the line this read completed (`FileReport.completes_prior_line`: an earlier read caught it without its
    newline and quarantined it) out of that read's quarantine rows, and count it in that read's ledger entry as
    ignored (COMPLETED_LATER): a line is stored or quarantined, once, for its last reading. Its records are
    written, and its new rows quarantined, by now (the days are published before any file's entries, this file's
    quarantine just before), so it is never in neither. The ledger entry is recounted first
    and says which line it recounted (`completed_lines`), then the row is taken out: a run stopped between the two
    is finished by the next, which recounts nothing twice."""
    key, line = file_report.prior_partial_key, file_report.prior_through_line
    path = warehouse.path(QUARANTINE, f"{key}.parquet")
    if key is None or not warehouse.fs.exists(path):
        return
    with warehouse.fs.open(path, "rb") as handle:
        rows = pq.read_table(handle)
    stale = pc.equal(rows.column("source_line"), line)
    removed = pc.sum(stale.cast(pa.int64())).as_py() or 0
    if not removed:
        return
    entry = warehouse.ledger_entry(key)
    if entry is not None and line not in entry.get("completed_lines", []):
        reasons = entry.setdefault("ignored_reasons", {})
        reasons[COMPLETED_LATER] = reasons.get(COMPLETED_LATER, 0) + removed
        entry["quarantined"] -= removed
        entry["ignored"] += removed
        entry["completed_lines"] = [*entry.get("completed_lines", []), line]
        warehouse.write_ledger(key, entry)
    with warehouse.atomic_write(path) as local:
        pq.write_table(rows.filter(pc.invert(stale)), local, compression="zstd")
