"""The `sql_models` asset's work without Dagster: build the selected seeds and models on one connection, say what
each build did, and run each model's checks on the connection that built it.

The Dagster multi-asset (`pipelines.defs.models`) and `gatewaylens build` / `run` without DAGSTER_HOME
(`pipelines.runs`) both run `build_models`, so the materializations and check verdicts are the same whichever
ran them (`pipelines.lib.outcomes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb

from pipelines.lib.lock import Progress
from pipelines.lib.outcomes import CheckResult, CheckSpec, Location, Materialization
from pipelines.lib.sqlmodels.database import DATABASE_FILE
from pipelines.lib.sqlmodels.engine import BuildResult, open_build
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.sqlmodels.project import Project, SqlModel
from pipelines.lib.storage import Warehouse

#: The model whose rows name every served model with its family: the `models_mapped` check reads it.
UNMAPPED_CHECK_MODEL = "int_requests_rolled_up"
#: A run with this tag set to "true" rebuilds incremental models whole (`gatewaylens build --full-refresh`).
FULL_REFRESH_TAG = "gatewaylens/full_refresh"


def check_specs(model: SqlModel) -> list[CheckSpec]:
    """The checks of one model: one row per grain key (`grain_unique`, tables with a declared grain) and, on
    `UNMAPPED_CHECK_MODEL`, that every served model id has a family (`models_mapped`, a warning)."""
    specs = []
    if model.grain_columns and model.materialized != "view":
        grain = ", ".join(model.grain_columns)
        specs.append(CheckSpec(model.name, "grain_unique", f"One row per ({grain})."))
    if model.name == UNMAPPED_CHECK_MODEL:
        specs.append(
            CheckSpec(
                model.name,
                "models_mapped",
                "Every served model id matches a rule of schemas/reference/model_families.csv; the ones no rule "
                "matches (family Other, vendor unknown) are listed with their request counts.",
                warn=True,
            )
        )
    return specs


def _grain_check(con: duckdb.DuckDBPyConnection, spec: CheckSpec, model: SqlModel) -> CheckResult:
    columns = ", ".join(model.grain_columns)
    rows, keys = con.execute(f"select count(*), count(distinct ({columns})) from {model.name}").fetchall()[0]
    return CheckResult(spec, rows == keys, {"rows": rows, "distinct_grain_keys": keys, "grain": model.grain})


def _unmapped_check(con: duckdb.DuckDBPyConnection, spec: CheckSpec) -> CheckResult:
    unmapped = con.execute(
        f"""select model, count(*) as requests from {UNMAPPED_CHECK_MODEL}
        where model_family = 'Other' and model_vendor = 'unknown'
        group by model order by requests desc, model limit 100"""
    ).fetchall()
    metadata = {"unmapped_models": len(unmapped), "unmapped (model, requests)": json.dumps(unmapped)}
    return CheckResult(spec, not unmapped, metadata)


def run_checks(
    con: duckdb.DuckDBPyConnection, model: SqlModel, selected: set[tuple[str, str]] | None = None
) -> list[CheckResult]:
    """The checks of one built model (those of `selected` (asset, check) pairs when given)."""
    results = []
    for spec in check_specs(model):
        if selected is not None and (spec.asset, spec.name) not in selected:
            continue
        if spec.name == "grain_unique":
            results.append(_grain_check(con, spec, model))
        else:
            results.append(_unmapped_check(con, spec))
    return results


def materialization(project: Project, result: BuildResult, warehouse: Warehouse) -> Materialization:
    """What building one seed (its rows) or model (mode, rows, days rebuilt, the database) did."""
    if result.name in project.seeds:  # a seed is loaded whole: no mode, no days
        return Materialization(result.name, {"rows": result.rows})
    return Materialization(result.name, {**result.metadata(), "database": Location(warehouse.uri(DATABASE_FILE))})


def build_models(
    warehouse: Warehouse,
    project: Project,
    params: Parameters,
    *,
    full_refresh: bool = False,
    selected: set[str] | None = None,
    checks: set[tuple[str, str]] | None = None,
    progress: Progress = lambda _message: None,
) -> Iterator[Materialization | CheckResult]:
    """Build the `selected` seeds and models (all when None) in dependency order, each followed by its checks
    (those of `checks` when given). A model that fails stops the build after the models built before it are kept
    (and, on an object store, published): each is its own transaction; then its error is raised."""
    failure: Exception | None = None
    with open_build(warehouse, project, params, full_refresh=full_refresh) as builder:
        try:
            for result in builder.build(selected):
                progress(f"{result.name}: {result.mode}, {result.rows:,} rows, {len(result.days)} days rebuilt")
                yield materialization(project, result, warehouse)
                if result.name in project.models:
                    yield from run_checks(builder.con, project.models[result.name], checks)
        except Exception as exc:  # keep what was built: leave (and publish) the database cleanly, then fail
            failure = exc
    if failure is not None:
        raise failure
