"""SQL models: one Dagster asset per `sql/<layer>/<name>.sql` (group = layer) and per seed CSV.

Dependencies come from the tables each SQL reads (see `pipelines.lib.models`), so adding a model is adding a
file. Every model asset writes the one DuckDB file, so they share the `duckdb_writer` pool (limit 1).
A run tagged `gatewaylens/full_refresh=true` rebuilds incremental models whole.
"""

import json

import dagster as dg

from pipelines.defs.resources import MetricsResource, WarehouseResource
from pipelines.lib import models as sql

DUCKDB_POOL = "duckdb_writer"
FULL_REFRESH_TAG = "gatewaylens/full_refresh"
PROJECT = sql.load_project()
UNMAPPED_CHECK_MODEL = "int_requests_rolled_up"


def _column_schema(model: sql.Model) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, description=doc) for name, doc in model.columns.items()])


def _check_specs(model: sql.Model) -> list[dg.AssetCheckSpec]:
    specs = []
    if model.grain_columns and model.materialized != "view":
        grain = ", ".join(model.grain_columns)
        specs.append(dg.AssetCheckSpec("grain_unique", asset=model.name, description=f"One row per ({grain})."))
    if model.name == UNMAPPED_CHECK_MODEL:
        specs.append(
            dg.AssetCheckSpec(
                "models_mapped",
                asset=model.name,
                description="Every served model id matches a rule of sql/seeds/model_families.csv; the ones no "
                "rule matches (family Other, vendor unknown) are listed with their request counts.",
            )
        )
    return specs


def _grain_check(con, model: sql.Model) -> dg.AssetCheckResult:
    columns = ", ".join(model.grain_columns)
    rows, keys = con.execute(f"select count(*), count(distinct ({columns})) from {model.name}").fetchall()[0]
    return dg.AssetCheckResult(
        check_name="grain_unique",
        passed=rows == keys,
        metadata={"rows": rows, "distinct_grain_keys": keys, "grain": model.grain},
    )


def _unmapped_check(con) -> dg.AssetCheckResult:
    unmapped = con.execute(
        f"""select model, count(*) as requests from {UNMAPPED_CHECK_MODEL}
        where model_family = 'Other' and model_vendor = 'unknown'
        group by model order by requests desc, model limit 100"""
    ).fetchall()
    return dg.AssetCheckResult(
        check_name="models_mapped",
        passed=not unmapped,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unmapped_models": len(unmapped),
            "unmapped (model, requests)": json.dumps(unmapped),
        },
    )


def model_asset(model: sql.Model) -> dg.AssetsDefinition:
    """The asset that builds one SQL model in the warehouse database."""

    @dg.asset(
        name=model.name,
        group_name=model.layer,
        deps=[dg.AssetKey(dep) for dep in model.inputs],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "sql"},
        description=f"{model.description}\n\nGrain: {model.grain}. Materialized: {model.materialized}.",
        metadata={
            "sql": dg.MetadataValue.path(str(model.path.relative_to(sql.SQL_DIR.parent))),
            "grain": model.grain,
            "materialized": model.materialized,
            "dagster/column_schema": _column_schema(model),
        },
        check_specs=_check_specs(model),
    )
    def _build(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, metrics: MetricsResource
    ) -> dg.MaterializeResult:
        store = warehouse.get()
        full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
        with sql.open_database(store) as con:
            sql.install(con, PROJECT, store, metrics.parameters())
            result = sql.build_model(con, PROJECT, model.name, store, full_refresh=full_refresh)
            checks = []
            if model.grain_columns and model.materialized != "view":
                checks.append(_grain_check(con, model))
            if model.name == UNMAPPED_CHECK_MODEL:
                checks.append(_unmapped_check(con))
        context.log.info(f"{model.name}: {result.mode}, {result.rows:,} rows, {len(result.days)} days rebuilt")
        return dg.MaterializeResult(
            metadata={**result.metadata(), "database": dg.MetadataValue.path(store.uri(sql.DATABASE_FILE))},
            check_results=checks,
        )

    return _build


def seed_asset(name: str) -> dg.AssetsDefinition:
    """The asset that loads one seed CSV as a table."""
    path = PROJECT.seeds[name]

    @dg.asset(
        name=name,
        group_name="seeds",
        pool=DUCKDB_POOL,
        kinds={"duckdb", "csv"},
        description=f"Reference data users may edit: {path.relative_to(sql.SQL_DIR.parent)}, loaded as a table.",
        metadata={"csv": dg.MetadataValue.path(str(path.relative_to(sql.SQL_DIR.parent)))},
    )
    def _load(warehouse: WarehouseResource, metrics: MetricsResource) -> dg.MaterializeResult:
        store = warehouse.get()
        with sql.open_database(store) as con:
            sql.install(con, PROJECT, store, metrics.parameters())
            result = sql.build_seed(con, name, path)
        return dg.MaterializeResult(metadata={"rows": result.rows})

    return _load


model_assets = [seed_asset(name) for name in PROJECT.seeds] + [model_asset(m) for m in PROJECT.order()]
SQL_SELECTION = dg.AssetSelection.groups("seeds", *sql.LAYERS)

models_job = dg.define_asset_job(
    "models_job",
    selection=SQL_SELECTION,
    description="Build the SQL models (seeds, staging, intermediate, marts) into the warehouse database.",
)


@dg.asset_sensor(
    asset_key=dg.AssetKey("requests"),
    job=models_job,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def models_after_ingest(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest:
    """After every ingest of the requests dataset, bring the models up to date (incrementally: only the days
    the ingest changed are recomputed)."""
    return dg.RunRequest(run_key=str(asset_event.storage_id))


defs = dg.Definitions(assets=model_assets, jobs=[models_job], sensors=[models_after_ingest])
