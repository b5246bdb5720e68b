"""Ingest: the `staged_days` and `requests` assets, their checks, and the sensor and schedule that keep them fed."""

import datetime as dt
import json

import dagster as dg
import duckdb

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import LandingResource, PrivacyResource, WarehouseResource
from pipelines.lib.ingest import IngestReport, commit_staged, ingest, stage_batch
from pipelines.lib.lock import warehouse_lock
from pipelines.lib.privacy import UNPROTECTED
from pipelines.lib.storage import LEDGER, QUARANTINE, REQUESTS, STAGING, SourceError, Warehouse, list_sources
from schemas.bulk import upgraded_select

WRITER_POOL = "warehouse_writer"


class IngestConfig(dg.Config):
    """Which files to ingest and how strict to be about rejects."""

    sources: list[str] = []  # noqa: RUF012 - dagster Config copies defaults
    """fsspec URLs (files, folders, globs). Empty: the landing URL."""
    quarantine_warn_ratio: float = 0.05
    """Warn when more than this share of the records read is quarantined."""
    chunk_mb: int = 128
    """Megabytes read per batch; peak memory grows with this, not with the file size."""

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_mb * 1024 * 1024


def _warn_if_unprotected(context: dg.AssetExecutionContext, privacy: PrivacyResource) -> None:
    if privacy.unprotected():
        context.log.warning(UNPROTECTED)


def _checks(report: IngestReport, warn_ratio: float) -> list[dg.AssetCheckResult]:
    accounted = report.written + report.duplicates + report.quarantined + report.ignored
    unbalanced = [f.url for f in report.files if not f.skipped and not f.balanced]
    ratio = report.quarantined / report.records if report.records else 0.0
    return [
        dg.AssetCheckResult(
            check_name="lines_conserved",
            passed=not unbalanced and accounted == report.records,
            metadata={
                "lines_read": report.lines,
                "records": report.records,
                "written + duplicates + quarantined + ignored": accounted,
                "unbalanced_files": json.dumps(unbalanced),
            },
        ),
        dg.AssetCheckResult(
            check_name="quarantine_ratio",
            passed=ratio <= warn_ratio,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantined_ratio": ratio, "threshold": warn_ratio, "quarantined": report.quarantined},
        ),
    ]


#: The freshness of `requests` (Dagster's freshness policy; red in the UI): the daily schedule lands every day,
#: so a day and a bit without a new materialization warns, two days fail: a stalled landing shows.
REQUESTS_WARN_AFTER = dt.timedelta(hours=26)
REQUESTS_FAIL_AFTER = dt.timedelta(hours=50)


@dg.asset(
    group_name="ingest",
    partitions_def=daily_partitions,
    kinds={"parquet"},
)
def staged_days(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingResource,
    privacy: PrivacyResource,
) -> dg.MaterializeResult:
    """One UTC day of landing files (`GATEWAYLENS_LANDING_DAILY`), read, adapted and validated into the
    warehouse's staging area (`WAREHOUSE/_staging/date=YYYY-MM-DD/`), for `requests` to commit.

    The expensive half of an ingest, done per day: days are independent, so a backfill runs them in
    parallel (one run per day, any executor) with memory bounded by one day's files; nothing readers see
    changes until `requests` commits the staged days, one writer at a time. A day without files stages
    nothing.
    """
    _warn_if_unprotected(context, privacy)
    return _stage_day(context, config, warehouse.get(), landing, privacy.key())


def _stage_day(
    context: dg.AssetExecutionContext, config: IngestConfig, warehouse: Warehouse, landing: LandingResource, key: bytes
) -> dg.MaterializeResult:
    """Stage the landing files of the run's partition day as the batch `date=YYYY-MM-DD` (see `staged_days`)."""
    day = context.partition_key
    url = landing.day_url(day)
    try:
        list_sources(url, landing.options())
    except SourceError as err:
        context.log.info(f"{day}: {err}")
        return dg.MaterializeResult(metadata={"files": 0, "records": 0, "source": url})
    batch = f"date={day}"
    report = stage_batch(
        [url],
        warehouse,
        batch=batch,
        hash_key=key,
        storage_options=landing.options(),
        chunk_bytes=config.chunk_bytes,
        progress=context.log.info,
    )
    summary = report.summary()
    return dg.MaterializeResult(
        metadata={
            "files": summary["files"],
            "files_skipped": summary["files_skipped"],
            "lines": summary["lines"],
            "records": summary["records"],
            "staged_quarantined": summary["quarantined"],
            "source": url,
            "staging": dg.MetadataValue.path(warehouse.uri(STAGING, batch)),
        }
    )


@dg.asset(
    group_name="ingest",
    pool=WRITER_POOL,
    deps=[staged_days],
    kinds={"parquet", "duckdb"},
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=REQUESTS_FAIL_AFTER, warn_window=REQUESTS_WARN_AFTER),
    check_specs=[
        dg.AssetCheckSpec(
            "lines_conserved",
            asset="requests",
            blocking=True,
            description="Every line read in this run yielded at least one record, and every record is written, "
            "a duplicate, quarantined or ignored (a line that holds no record by design, counted with its reason).",
        ),
        dg.AssetCheckSpec(
            "quarantine_ratio",
            asset="requests",
            description="Share of records quarantined in this run stays under the configured threshold.",
        ),
    ],
)
def requests(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingResource,
    privacy: PrivacyResource,
) -> dg.MaterializeResult:
    """Canonical gateway request records, one row per upstream attempt, as hive-partitioned Parquet
    (`WAREHOUSE/requests/date=YYYY-MM-DD/data.parquet`, UTC day, zstd, sorted by provider, model, created_at).

    Reads new files from the configured sources (default: the landing URL), detects each file's log format,
    validates every line against the canonical record, quarantines rejects with their reason
    (`WAREHOUSE/quarantine/`), deduplicates on (request_id, attempt) and merges touched days atomically.
    Files already in the ledger (`WAREHOUSE/_ledger/`) are skipped, so re-running changes nothing.
    First it commits what `staged_days` partitions staged (`WAREHOUSE/_staging/`), day by day. It holds the
    warehouse lock (`WAREHOUSE/_lock.json`) throughout, so no other writer, whoever started it, merges at once.
    """
    _warn_if_unprotected(context, privacy)
    return _commit_and_ingest(context, config, warehouse.get(), landing, privacy.key())


def _commit_and_ingest(
    context: dg.AssetExecutionContext, config: IngestConfig, warehouse: Warehouse, landing: LandingResource, key: bytes
) -> dg.MaterializeResult:
    """Commit the staged days, then ingest the new files of the sources (see `requests`), under one lock."""
    sources = config.sources or [landing.url]
    with warehouse_lock(warehouse, "ingest (commit staged days, then new files)", context.log.info):
        report = commit_staged(warehouse, progress=context.log.info)
        fresh = ingest(
            sources,
            warehouse,
            hash_key=key,
            storage_options=landing.options(),
            chunk_bytes=config.chunk_bytes,
            progress=context.log.info,
        )
    report.extend(fresh)
    summary = report.summary()
    context.log.info(f"ingest: {summary}")
    return dg.MaterializeResult(
        metadata={
            **{
                f"rows_{k}" if k in ("written", "duplicates", "quarantined", "ignored") else k: v
                for k, v in summary.items()
            },
            "days": json.dumps(report.days),
            "warehouse": dg.MetadataValue.path(warehouse.uri(REQUESTS)),
            "quarantine": dg.MetadataValue.path(warehouse.uri(QUARANTINE)),
            "ledger": dg.MetadataValue.path(warehouse.uri(LEDGER)),
            "sources": json.dumps(sources),
        },
        check_results=_checks(report, config.quarantine_warn_ratio),
    )


def _stored(warehouse: Warehouse) -> tuple[duckdb.DuckDBPyConnection, list[str]] | None:
    """A connection that reads the warehouse and its stored partition files; None when nothing is stored."""
    files = [path for path in (warehouse.read_path(p) for p in warehouse.partition_paths()) if path]
    if not files:
        return None
    con = duckdb.connect()
    if not warehouse.is_local:
        con.register_filesystem(warehouse.fs)
    return con, files


@dg.asset_check(asset=requests, blocking=True)
def requests_key_unique(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """(request_id, attempt) identifies exactly one stored record across all days."""
    if (stored := _stored(warehouse.get())) is None:
        return dg.AssetCheckResult(passed=True, metadata={"records": 0, "duplicate_keys": 0})
    con, files = stored
    records, keys = con.execute(
        "select count(*), count(distinct (request_id, attempt)) from read_parquet(?)", [files]
    ).fetchall()[0]
    metadata = {"records": records, "distinct_keys": keys, "duplicate_keys": records - keys, "days": len(files)}
    return dg.AssetCheckResult(passed=records == keys, metadata=metadata)


#: A source format with more than this share of records flagged is worth a look (a check warning, not an error).
FLAGGED_WARN_SHARE = 0.1


@dg.asset_check(asset=requests, blocking=False)
def requests_quality_flags(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Soft inconsistencies kept in the stored records (reasoning beyond completion, a long id, ...), counted
    per source format and flag; warns when a format has more than 10% of its records flagged."""
    if (stored := _stored(warehouse.get())) is None:
        return dg.AssetCheckResult(passed=True, metadata={"records": 0, "flagged": 0})
    con, files = stored
    query = "select * from read_parquet($files, union_by_name = true)"
    present = [column[0] for column in con.execute(f"{query} limit 0", {"files": files}).description]
    rows = con.execute(
        f"""with records as (select source_format, quality_flags from ({upgraded_select(present, query)})),
        flags as (
            select source_format, map_from_entries(list({{'k': flag, 'v': n}} order by flag)) as flags
            from (
                select source_format, flag, count(*) as n
                from (select source_format, unnest(quality_flags) as flag from records)
                group by all
            )
            group by all
        )
        select source_format, count(*), count(*) filter (where len(quality_flags) > 0), any_value(flags.flags)
        from records left join flags using (source_format)
        group by source_format order by source_format""",
        {"files": files},
    ).fetchall()
    per_format = {fmt: {"records": n, "flagged": f, "flags": dict(flags or {})} for fmt, n, f, flags in rows}
    worst = max((f / n for _fmt, n, f, _flags in rows if n), default=0.0)
    return dg.AssetCheckResult(
        passed=worst <= FLAGGED_WARN_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "flagged": sum(r[2] for r in rows),
            "records": sum(r[1] for r in rows),
            "worst_format_share": worst,
            "threshold": FLAGGED_WARN_SHARE,
            "per_format": dg.MetadataValue.json(per_format),
        },
    )


staging_job = dg.define_asset_job(
    "staging_job",
    selection=dg.AssetSelection.assets(staged_days),
    partitions_def=daily_partitions,
    description="Stage one landing day (backfills run one per day, in parallel).",
)

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(requests),
    description="Ingest gateway log files into the requests dataset.",
)


@dg.sensor(job=ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(
    context: dg.SensorEvaluationContext, landing: LandingResource, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    """Start one ingest run per new file under the landing URL.

    The run key is the file's version key (URL, size, etag/mtime), so a file is requested once per version;
    the cursor holds the keys requested but not yet ingested, so a file is not requested again while its
    run is in flight.
    """
    try:
        files = list_sources(landing.url, landing.options())
    except SourceError as err:
        return dg.SkipReason(str(err))
    done = warehouse.get().ledger_keys()
    pending_before = set(json.loads(context.cursor or "[]"))
    waiting = {f.key: f for f in files if f.key not in done}
    new = [f for key, f in waiting.items() if key not in pending_before]
    if not new:
        return dg.SkipReason(f"no new files under {landing.url} ({len(files)} seen, {len(waiting)} in flight)")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f.key,
                run_config={"ops": {"requests": {"config": {"sources": [f.url]}}}},
                tags={"gatewaylens/source": f.url},
            )
            for f in new
        ],
        cursor=json.dumps(sorted(waiting)),
    )


daily_ingest_schedule = dg.ScheduleDefinition(
    name="daily_ingest_schedule",
    job=ingest_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    description="Every day at 00:15 UTC, ingest whatever the landing URL holds that is not in the ledger yet.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

defs = dg.Definitions(
    assets=[staged_days, requests],
    asset_checks=[requests_key_unique, requests_quality_flags],
    jobs=[staging_job, ingest_job],
    sensors=[landing_sensor],
    schedules=[daily_ingest_schedule],
)
