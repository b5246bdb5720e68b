"""Ingest: the `staged_days` and `requests` assets, their checks, and the sensor and schedule that keep them fed."""

import datetime as dt
import json

import dagster as dg

from pipelines.defs.outcomes import asset_check, check_result, check_spec, materialize_result
from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import LandingResource, PrivacyResource, WarehouseResource
from pipelines.lib.ingest import asset, stage_batch
from pipelines.lib.privacy import UNPROTECTED, key_changed
from pipelines.lib.reader import DEFAULT_CHUNK_BYTES
from pipelines.lib.storage import STAGING, SourceError, Warehouse, list_sources

WRITER_POOL = "warehouse_writer"


class IngestConfig(dg.Config):
    """Which files to ingest and how strict to be about rejects."""

    sources: list[str] = []  # noqa: RUF012 - dagster Config copies defaults
    """fsspec URLs (files, folders, globs). Empty: the landing URL."""
    quarantine_warn_ratio: float = asset.QUARANTINE_WARN_RATIO
    """Warn when more than this share of the records read is quarantined."""
    chunk_mb: int = DEFAULT_CHUNK_BYTES // 2**20
    """Megabytes read per batch; peak memory grows with this, not with the file size."""

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_mb * 1024 * 1024


def _warn_of_the_key(context: dg.AssetExecutionContext, privacy: PrivacyResource, warehouse: Warehouse) -> None:
    """Warn when the user-hash key protects nothing (the public development key), or is not the key that hashed
    the warehouse's users (one user would count as two)."""
    if privacy.unprotected():
        context.log.warning(UNPROTECTED)
    if changed := key_changed(warehouse, privacy.key()):
        context.log.warning(changed)


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
    _warn_of_the_key(context, privacy, warehouse.get())
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
            "files_skipped_by_name": summary["files_skipped_by_name"],
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
    check_specs=[check_spec(asset.LINES_CONSERVED), check_spec(asset.QUARANTINE_RATIO)],
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
    _warn_of_the_key(context, privacy, warehouse.get())
    return _commit_and_ingest(context, config, warehouse.get(), landing, privacy.key())


def _commit_and_ingest(
    context: dg.AssetExecutionContext, config: IngestConfig, warehouse: Warehouse, landing: LandingResource, key: bytes
) -> dg.MaterializeResult:
    """Commit the staged days, then ingest the new files of the sources (see `requests`), under one lock."""
    sources = config.sources or [landing.url]
    report = asset.commit_and_ingest(
        sources,
        warehouse,
        hash_key=key,
        storage_options=landing.options(),
        chunk_bytes=config.chunk_bytes,
        progress=context.log.info,
    )
    context.log.info(f"ingest: {report.summary()}")
    checks = asset.report_checks(report, config.quarantine_warn_ratio)
    return materialize_result(asset.materialization(report, sources, warehouse), checks)


@asset_check(asset.KEY_UNIQUE, requests)
def requests_key_unique(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """(request_id, attempt) is unique across every stored day (`asset.key_unique`)."""
    return check_result(asset.key_unique(warehouse.get()))


@asset_check(asset.QUALITY_FLAGS, requests)
def requests_quality_flags(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """The quality flags of the stored records per source format (`asset.quality_flags`)."""
    return check_result(asset.quality_flags(warehouse.get()))


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
