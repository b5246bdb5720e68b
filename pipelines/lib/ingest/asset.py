"""The `requests` asset's work without Dagster: commit the staged days, then ingest the new files, under one lock;
what it wrote, and its four checks.

The Dagster asset and checks (`pipelines.defs.ingest`) and `gatewaylens ingest` / `run` without DAGSTER_HOME
(`pipelines.runs`) both run these functions, so the counts, the metadata and the check verdicts are the same
whichever ran them (`pipelines.lib.outcomes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from pipelines.lib.ingest.batches import commit_staged
from pipelines.lib.ingest.dedupe import spilling
from pipelines.lib.ingest.report import IngestReport
from pipelines.lib.ingest.run import ingest
from pipelines.lib.lock import Progress, warehouse_lock
from pipelines.lib.outcomes import CheckResult, CheckSpec, Location, Materialization
from pipelines.lib.reader import DEFAULT_CHUNK_BYTES
from pipelines.lib.scratch import scratch_dir
from pipelines.lib.storage import LEDGER, QUARANTINE, REQUESTS, Warehouse
from schemas.stored import upgraded_select

#: Warn when more than this share of the records read in a run is quarantined (the asset's config can change it).
QUARANTINE_WARN_RATIO = 0.05
#: A source format with more than this share of records flagged is worth a look (a check warning, not an error).
FLAGGED_WARN_SHARE = 0.1

LINES_CONSERVED = CheckSpec(
    REQUESTS,
    "lines_conserved",
    "Every line read in this run yielded at least one record, and every record is written, a duplicate, "
    "quarantined or ignored (a line that holds no record by design, counted with its reason).",
    blocking=True,
)
QUARANTINE_RATIO = CheckSpec(
    REQUESTS,
    "quarantine_ratio",
    "Share of records quarantined in this run stays under the configured threshold.",
    warn=True,
)
KEY_UNIQUE = CheckSpec(
    REQUESTS,
    "requests_key_unique",
    "(request_id, attempt) identifies exactly one stored record across all days.",
    blocking=True,
)
QUALITY_FLAGS = CheckSpec(
    REQUESTS,
    "requests_quality_flags",
    "Soft inconsistencies kept in the stored records (reasoning beyond completion, a long id, ...), counted per "
    "source format and flag; warns when a format has more than 10% of its records flagged.",
    warn=True,
)


def commit_and_ingest(
    sources: list[str],
    warehouse: Warehouse,
    *,
    hash_key: bytes,
    storage_options: dict[str, Any] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: Progress = lambda _message: None,
) -> IngestReport:
    """Commit the staged days (`WAREHOUSE/_staging/`), then ingest the new files of `sources`, holding the
    warehouse lock throughout, so no other writer merges at once; one report for both."""
    with warehouse_lock(warehouse, "ingest (commit staged days, then new files)", progress):
        report = commit_staged(warehouse, progress=progress)
        fresh = ingest(
            sources,
            warehouse,
            hash_key=hash_key,
            storage_options=storage_options,
            chunk_bytes=chunk_bytes,
            progress=progress,
        )
    report.extend(fresh)
    return report


def materialization(report: IngestReport, sources: list[str], warehouse: Warehouse) -> Materialization:
    """What the run wrote: the report's counts (rows_written, rows_duplicates, ...), the days, where things are."""
    counted = ("written", "duplicates", "quarantined", "ignored")
    summary = {f"rows_{k}" if k in counted else k: v for k, v in report.summary().items()}
    return Materialization(
        REQUESTS,
        {
            **summary,
            "days": json.dumps(report.days),
            "warehouse": Location(warehouse.uri(REQUESTS)),
            "quarantine": Location(warehouse.uri(QUARANTINE)),
            "ledger": Location(warehouse.uri(LEDGER)),
            "sources": json.dumps(sources),
        },
    )


def report_checks(report: IngestReport, warn_ratio: float = QUARANTINE_WARN_RATIO) -> list[CheckResult]:
    """`lines_conserved` and `quarantine_ratio` of one run's report."""
    accounted = report.written + report.duplicates + report.quarantined + report.ignored
    unbalanced = [f.url for f in report.files if not f.skipped and not f.balanced]
    ratio = report.quarantined / report.records if report.records else 0.0
    return [
        CheckResult(
            LINES_CONSERVED,
            passed=not unbalanced and accounted == report.records,
            metadata={
                "lines_read": report.lines,
                "records": report.records,
                "written + duplicates + quarantined + ignored": accounted,
                "unbalanced_files": json.dumps(unbalanced),
            },
        ),
        CheckResult(
            QUARANTINE_RATIO,
            passed=ratio <= warn_ratio,
            metadata={"quarantined_ratio": ratio, "threshold": warn_ratio, "quarantined": report.quarantined},
        ),
    ]


@contextmanager
def _stored(warehouse: Warehouse) -> Iterator[tuple[duckdb.DuckDBPyConnection, list[str]] | None]:
    """A connection that reads the warehouse and its stored partition files (None when nothing is stored), spilling
    into a temporary folder removed afterwards: the checks read every stored day, their statements under the
    dedupe's memory limit (`_fetch`). 10M stored records: `key_unique` peaked at 1,139 MiB, 622 MiB under the
    limit; the CLI's run of a 10M ingest, the checks included, at 1.44 GiB where the ingest alone did at 0.92 GiB."""
    files = [path for path in (warehouse.read_path(p) for p in warehouse.partition_paths()) if path]
    if not files:
        yield None
        return
    with scratch_dir() as spill:  # named after this process: a later run sweeps it if this one is killed
        con = duckdb.connect(config={"temp_directory": spill})
        try:
            if not warehouse.is_local:
                con.register_filesystem(warehouse.fs)
            yield con, files
        finally:
            con.close()


def _fetch(con: duckdb.DuckDBPyConnection, query: str, params: Any) -> list[tuple[Any, ...]]:
    """The rows of `query`, under the dedupe's memory limit (`dedupe.spilling`)."""
    return spilling(con, lambda: con.execute(query, params).fetchall())


def key_unique(warehouse: Warehouse) -> CheckResult:
    """`requests_key_unique` over every stored partition."""
    with _stored(warehouse) as stored:
        if stored is None:
            return CheckResult(KEY_UNIQUE, passed=True, metadata={"records": 0, "duplicate_keys": 0})
        con, files = stored
        query = "select count(*), count(distinct (request_id, attempt)) from read_parquet(?)"
        [(records, keys)] = _fetch(con, query, [files])
    metadata = {"records": records, "distinct_keys": keys, "duplicate_keys": records - keys, "days": len(files)}
    return CheckResult(KEY_UNIQUE, passed=records == keys, metadata=metadata)


def quality_flags(warehouse: Warehouse) -> CheckResult:
    """`requests_quality_flags` over every stored partition: records and flags per source format."""
    with _stored(warehouse) as stored:
        if stored is None:
            return CheckResult(QUALITY_FLAGS, passed=True, metadata={"records": 0, "flagged": 0})
        rows = _flags_per_format(*stored)
    per_format = {fmt: {"records": n, "flagged": f, "flags": dict(flags or {})} for fmt, n, f, flags in rows}
    worst = max((f / n for _fmt, n, f, _flags in rows if n), default=0.0)
    return CheckResult(
        QUALITY_FLAGS,
        passed=worst <= FLAGGED_WARN_SHARE,
        metadata={
            "flagged": sum(r[2] for r in rows),
            "records": sum(r[1] for r in rows),
            "worst_format_share": worst,
            "threshold": FLAGGED_WARN_SHARE,
            "per_format": per_format,
        },
    )


def _flags_per_format(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[tuple[Any, ...]]:
    """(source_format, records, records flagged, {flag: records}) of the stored partition `files`, in two scans of
    two columns: one query over a CTE of every record made DuckDB hold them all (1.25 GiB at 10M records)."""
    query = "select * from read_parquet($files, union_by_name = true)"
    present = [column[0] for column in con.execute(f"{query} limit 0", {"files": files}).description]
    records = f"(select source_format, quality_flags from ({upgraded_select(present, query)}))"
    counts = _fetch(
        con,
        f"""select source_format, count(*), count(*) filter (where len(quality_flags) > 0)
        from {records} group by source_format order by source_format""",
        {"files": files},
    )
    each = f"select source_format, unnest(quality_flags) as flag from {records}"
    flagged = _fetch(con, f"select *, count(*) from ({each}) group by all order by all", {"files": files})
    flags: dict[str, dict[str, int]] = {}
    for source_format, flag, n in flagged:
        flags.setdefault(source_format, {})[flag] = n
    return [(source_format, n, flagged, flags.get(source_format)) for source_format, n, flagged in counts]
