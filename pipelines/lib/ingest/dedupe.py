"""Phase 2's first step, the dedupe: which staged and stored rows give way to another with the same key.

Duplicates are found on the keys, across everything: a staged copy of a record (same (request_id, attempt),
same content) that is already stored (on any day) or appeared earlier in the run (earlier file, then earlier
line) is a duplicate. Records that share a key but disagree keep the more complete one, then the later file
(stored ones are the earliest), and are counted as `conflicts`; a stored record that gives way is removed from
its day (see `commit`). The result is the temporary table `ranked`, which the commit reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import duckdb
import pyarrow as pa

from pipelines.lib import duckdb_settings
from pipelines.lib.ingest.report import IngestReport
from pipelines.lib.ingest.stage import VALID, read_staged
from schemas.bulk import field_specs, upgraded_select

T = TypeVar("T")
HIVE = "hive_partitioning = true, hive_types = {'date': VARCHAR}"
# The dedupe's hash tables grow with every key staged and stored; under a memory limit DuckDB spills them to
# the scratch folder, so the ingest's peak memory is set by the batch and commit sizes, not by the data's size
# (10M rows: 2,065 MiB peak without it, 1,263 MiB with it, the dedupe no slower). DuckDB needs working memory
# per thread, so the limit is per thread: 512 MiB on 2 threads.
DEDUPE_MIB_PER_THREAD = 256


def find_losers(con: duckdb.DuckDBPyConnection, staged: list[str], stored: list[str]) -> None:
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
    lineage = "request_id, attempt, source_uri, source_line"
    rows = f"""select date, 1 as _prio, _file, coalesce(item, '') as _item, {lineage}, {", ".join(content)}
        from {read_staged("$staged")} where {VALID}"""
    key_rows = f"select request_id, attempt from {read_staged('$staged')} where {VALID}"
    params: dict[str, list[str]] = {"staged": staged}
    if stored:
        matching = f"""from ({stored_records(con, stored)}) as stored
            semi join ({key_rows}) as staged using (request_id, attempt)"""
        rows += f" union all select date, 0, -1, '', {lineage}, {', '.join(content)} {matching}"
        key_rows += f" union all select request_id, attempt {matching}"
        params["stored"] = stored
    known = " + ".join(f"({name} is not null)::int" for name in content)
    # the keys alone first (two columns): the rows, their content hashed, are read only for keys seen more than
    # once, and not at all when there are none (the semi join ends the scan of an empty right side)
    keys = f"""select date, _prio, _file, _item, {lineage}, hash(({", ".join(content)})) as _fp, {known} as _known
        from ({rows}) as r
        semi join (select request_id, attempt from ({key_rows}) group by all having count(*) > 1) as repeated
            using (request_id, attempt)"""
    spilling(con, lambda: _rank_keys(con, keys, params))


def spilling(con: duckdb.DuckDBPyConnection, run: Callable[[], T]) -> T:
    """`run()` under the dedupe's memory limit (DEDUPE_MIB_PER_THREAD for each of `con`'s threads), past which
    DuckDB spills into `con`'s temporary folder; run again under DuckDB's own limit when it cannot spill (an
    out-of-memory error)."""
    threads = int(str(duckdb_settings.current(con, "threads")))
    try:
        with duckdb_settings.scoped(con, "memory_limit", f"{DEDUPE_MIB_PER_THREAD * threads}MiB"):
            return run()
    except duckdb.OutOfMemoryException:
        return run()


def _rank_keys(con: duckdb.DuckDBPyConnection, keys: str, params: dict[str, list[str]]) -> None:
    """Table `ranked` from the key rows `keys` (see `find_losers`: the rows of every key seen more than once),
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
                    from ({keys})
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


def count_outcomes(
    con: duckdb.DuckDBPyConnection, staged: list[str], report: IngestReport
) -> list[tuple[str, int, str, int]]:
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
                select date, _file, count(*) as n from {read_staged("$staged")} where {VALID} group by all
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


def conflicts_by_file(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """(file index, rows) of the staged rows whose key another record with other content used too."""
    query = "select _file, count(*) from ranked where conflict and not stored group by all"
    return [(file_index, rows) for file_index, rows in con.execute(query).fetchall()]


def replaced_by_file(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """(file index, rows) of the stored records that gave way to a staged record of that file: one with the same
    key and other content (a copy never replaces what is stored)."""
    query = """select winner._file, count(*)
        from ranked as gone join ranked as winner using (request_id, attempt)
        where gone.stored and gone.lost and not winner.lost
        group by all"""
    return [(file_index, rows) for file_index, rows in con.execute(query).fetchall()]


def days_losing_stored(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The days that hold a stored record that gave way."""
    query = "select distinct date from ranked where lost and stored order by 1"
    return [day for (day,) in con.execute(query).fetchall()]


def stored_records(con: duckdb.DuckDBPyConnection, stored: list[str]) -> str:
    """A query over the stored partitions `$stored` that reads partitions written by an older version (without
    a field added since) as current ones, with the field's default."""
    query = f"select * from read_parquet($stored, {HIVE}, union_by_name = true)"
    present = [column[0] for column in con.execute(f"{query} limit 0", {"stored": stored}).description]
    return upgraded_select(present, query)
