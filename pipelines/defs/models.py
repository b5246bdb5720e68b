"""SQL models: one Dagster asset per `sql/<layer>/<name>.sql` (group = layer) and per seed, built together.

Dependencies come from the tables each SQL reads (see `pipelines.lib.sqlmodels.project`), so adding a model is
adding a file. Every model writes the one DuckDB file, so they are one multi-asset, subsettable as dagster-dbt's
are: a run opens the database once (one connection, one listing of the partitions and, on an object store, one
upload), builds the selected models in dependency order and reports each one's materialization and checks.
A run tagged `gatewaylens/full_refresh=true` rebuilds incremental models whole.
"""

import json
from collections.abc import Iterator

import dagster as dg
import duckdb

from pipelines.defs.resources import MetricsResource, WarehouseResource
from pipelines.lib.sqlmodels.database import DATABASE_FILE
from pipelines.lib.sqlmodels.engine import BuildResult, open_build
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.sqlmodels.project import LAYERS, SQL_DIR, SqlModel, load_project
from pipelines.lib.storage import REQUESTS, Warehouse

DUCKDB_POOL = "duckdb_writer"
FULL_REFRESH_TAG = "gatewaylens/full_refresh"
PROJECT = load_project()
UNMAPPED_CHECK_MODEL = "int_requests_rolled_up"


def _relative(path) -> str:
    return str(path.relative_to(SQL_DIR.parent))


def _model_spec(model: SqlModel) -> dg.AssetSpec:
    columns = [dg.TableColumn(name, description=doc) for name, doc in model.columns.items()]
    return dg.AssetSpec(
        model.name,
        group_name=model.layer,
        deps=[dg.AssetKey(dep) for dep in model.inputs],
        kinds={"duckdb", "sql"},
        description=f"{model.description}\n\nGrain: {model.grain}. Materialized: {model.materialized}.",
        metadata={
            "sql": dg.MetadataValue.path(_relative(model.path)),
            "grain": model.grain,
            "materialized": model.materialized,
            "dagster/column_schema": dg.TableSchema(columns=columns),
        },
    )


def _seed_spec(name: str) -> dg.AssetSpec:
    path = PROJECT.seeds[name]
    return dg.AssetSpec(
        name,
        group_name="seeds",
        kinds={"duckdb", "csv"},
        description=f"Reference data users may edit: {_relative(path)}, loaded as a table.",
        metadata={"csv": dg.MetadataValue.path(_relative(path))},
    )


def _check_specs(model: SqlModel) -> list[dg.AssetCheckSpec]:
    specs = []
    if model.grain_columns and model.materialized != "view":
        grain = ", ".join(model.grain_columns)
        specs.append(dg.AssetCheckSpec("grain_unique", asset=model.name, description=f"One row per ({grain})."))
    if model.name == UNMAPPED_CHECK_MODEL:
        specs.append(
            dg.AssetCheckSpec(
                "models_mapped",
                asset=model.name,
                description="Every served model id matches a rule of schemas/reference/model_families.csv; the "
                "ones no rule matches (family Other, vendor unknown) are listed with their request counts.",
            )
        )
    return specs


def _grain_check(con: duckdb.DuckDBPyConnection, model: SqlModel) -> dg.AssetCheckResult:
    columns = ", ".join(model.grain_columns)
    rows, keys = con.execute(f"select count(*), count(distinct ({columns})) from {model.name}").fetchall()[0]
    return dg.AssetCheckResult(
        asset_key=model.name,
        check_name="grain_unique",
        passed=rows == keys,
        metadata={"rows": rows, "distinct_grain_keys": keys, "grain": model.grain},
    )


def _unmapped_check(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    unmapped = con.execute(
        f"""select model, count(*) as requests from {UNMAPPED_CHECK_MODEL}
        where model_family = 'Other' and model_vendor = 'unknown'
        group by model order by requests desc, model limit 100"""
    ).fetchall()
    return dg.AssetCheckResult(
        asset_key=UNMAPPED_CHECK_MODEL,
        check_name="models_mapped",
        passed=not unmapped,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unmapped_models": len(unmapped), "unmapped (model, requests)": json.dumps(unmapped)},
    )


def _checks(con: duckdb.DuckDBPyConnection, name: str, selected: set[dg.AssetCheckKey]) -> list:
    """The selected checks of one built model, run on the connection that built it."""
    model = PROJECT.models.get(name)
    if model is None:
        return []
    results = []
    if dg.AssetCheckKey(dg.AssetKey(name), "grain_unique") in selected:
        results.append(_grain_check(con, model))
    if dg.AssetCheckKey(dg.AssetKey(name), "models_mapped") in selected:
        results.append(_unmapped_check(con))
    return results


def _materialization(result: BuildResult, database: str) -> dg.MaterializeResult:
    if result.name in PROJECT.seeds:  # a seed is loaded whole: no mode, no days
        return dg.MaterializeResult(asset_key=result.name, metadata={"rows": result.rows})
    return dg.MaterializeResult(
        asset_key=result.name, metadata={**result.metadata(), "database": dg.MetadataValue.path(database)}
    )


@dg.multi_asset(
    name="sql_models",
    specs=[_seed_spec(name) for name in PROJECT.seeds] + [_model_spec(m) for m in PROJECT.order()],
    check_specs=[spec for model in PROJECT.order() for spec in _check_specs(model)],
    can_subset=True,
    pool=DUCKDB_POOL,
    description="Build the selected SQL models (seeds, staging, intermediate, marts) into the warehouse database "
    "in one transaction per model, on one connection.",
)
def sql_models(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, metrics: MetricsResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Build the selected models in dependency order. A model that fails stops the run after the models built
    before it are kept (and, on an object store, published): each is its own transaction."""
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
    yield from _build(context, warehouse.get(), metrics.parameters(), full_refresh)


def _build(
    context: dg.AssetExecutionContext, warehouse: Warehouse, params: Parameters, full_refresh: bool
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    checks = set(context.selected_asset_check_keys)
    database = warehouse.uri(DATABASE_FILE)
    failure: Exception | None = None
    with open_build(warehouse, PROJECT, params, full_refresh=full_refresh) as builder:
        try:
            for result in builder.build(selected):
                context.log.info(f"{result.name}: {result.mode}, {result.rows:,} rows, {len(result.days)} days rebuilt")
                yield _materialization(result, database)
                yield from _checks(builder.con, result.name, checks)
        except Exception as exc:  # keep what was built: leave (and publish) the database cleanly, then fail
            failure = exc
    if failure is not None:
        raise failure


SQL_SELECTION = dg.AssetSelection.groups("seeds", *LAYERS)

models_job = dg.define_asset_job(
    "models_job",
    selection=SQL_SELECTION,
    description="Build the SQL models (seeds, staging, intermediate, marts) into the warehouse database.",
)


@dg.asset_sensor(
    asset_key=dg.AssetKey(REQUESTS),
    job=models_job,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def models_after_ingest(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest:
    """After every ingest of the requests dataset, bring the models up to date (incrementally: only the days
    the ingest changed are recomputed)."""
    return dg.RunRequest(run_key=str(asset_event.storage_id))


defs = dg.Definitions(
    assets=[sql_models],
    jobs=[models_job],
    sensors=[models_after_ingest],
)
