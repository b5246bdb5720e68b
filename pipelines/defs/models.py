"""SQL models: one Dagster asset per `sql/<layer>/<name>.sql` (group = layer) and per seed, built together.

Dependencies come from the tables each SQL reads (see `pipelines.lib.sqlmodels.project`), so adding a model is
adding a file. Every model writes the one DuckDB file, so they are one multi-asset, subsettable as dagster-dbt's
are: a run opens the database once (one connection, one listing of the partitions and, on an object store, one
upload), builds the selected models in dependency order and reports each one's materialization and checks.
A run tagged `gatewaylens/full_refresh=true` rebuilds incremental models whole.
"""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.outcomes import check_spec, dagster_outcome
from pipelines.defs.resources import MetricsResource, WarehouseResource
from pipelines.lib.sqlmodels.asset import FULL_REFRESH_TAG, build_models, check_specs
from pipelines.lib.sqlmodels.project import LAYERS, SQL_DIR, SqlModel, load_project
from pipelines.lib.storage import REQUESTS

DUCKDB_POOL = "duckdb_writer"
PROJECT = load_project()


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


@dg.multi_asset(
    name="sql_models",
    specs=[_seed_spec(name) for name in PROJECT.seeds] + [_model_spec(m) for m in PROJECT.order()],
    check_specs=[check_spec(spec) for model in PROJECT.order() for spec in check_specs(model)],
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
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    checks = {(key.asset_key.to_user_string(), key.name) for key in context.selected_asset_check_keys}
    built = build_models(
        warehouse.get(),
        PROJECT,
        metrics.parameters(),
        full_refresh=full_refresh,
        selected=selected,
        checks=checks,
        progress=context.log.info,
    )
    for outcome in built:
        yield dagster_outcome(outcome)


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
