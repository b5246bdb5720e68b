"""Building the models in the warehouse database: the incremental engine and its state.

Materializations:
* `view`: recreated on every build; reads through to its inputs.
* `table`: rebuilt whole when its SQL, macros, seeds or parameters changed or one of its inputs was rebuilt
  since (each build of a model gets a new version; the `requests` input is the set of partition fingerprints),
  so a build with nothing new costs almost nothing.
* `incremental`: a table with a `partition_day` expression. The build compares, day by day, the fingerprints
  of the inputs (the stored `requests` partitions, or the recorded state of an incremental input) with the
  ones it last built from, and recomputes only the affected days: every changed day and its neighbours (a
  window that reaches across midnight, such as a rolling baseline or a retry after midnight, makes a day's
  result depend on the days next to it), reading one more day of context on each side. A change of the
  model's SQL, its macros, its seeds or its parameters rebuilds it whole; a full rebuild and an incremental
  one give the same rows (a test holds them to it).
  A model whose rows are whole weeks or months (percentiles of a period, which cannot be added up from days)
  also names its `partition_period` (`week` or `month`), and its `partition_day` gives a row's period start:
  the affected days are widened to the whole periods that hold them, those periods' rows are recomputed from
  their days (plus a day of context on each side), and no other period is touched.

Model state lives in the database next to the tables (`_gl_models`, `_gl_model_days`), and each model is
built in one transaction: a crash leaves the previous tables and state. One `Builder` builds any number of
models on one connection and one listing of the partitions (the warehouse lock, held while the database is
open for writing, keeps them from changing underneath).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib import families
from pipelines.lib.sqlmodels.database import create_requests_view, open_database
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.sqlmodels.project import ModelError, Project, SqlModel
from pipelines.lib.storage import REQUESTS, Warehouse
from schemas.sqltext import literal

#: Seeds with their own loader (typed columns, validation, compiled rules); others are read with detected types.
SEED_LOADERS: dict[str, Callable[[duckdb.DuckDBPyConnection, Path], None]] = {"model_families": families.load}


@dataclass
class BuildResult:
    """What building one model or seed did."""

    name: str
    mode: str  # view | table | full | incremental | unchanged
    rows: int
    days: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {"mode": self.mode, "rows": self.rows, "days_rebuilt": len(self.days), "days": ", ".join(self.days)}


@contextmanager
def open_build(
    warehouse: Warehouse,
    project: Project,
    params: Parameters,
    *,
    full_refresh: bool = False,
    cache_dir: Path | None = None,
) -> Iterator[Builder]:
    """The warehouse database opened for writing (lock held; on an object store, one upload when it closes),
    set up for `project`'s models."""
    with open_database(warehouse, cache_dir=cache_dir) as con:
        yield Builder(con, project, warehouse, params, full_refresh=full_refresh)


class Builder:
    """Builds the seeds and models of one project on one connection, from one listing of the partitions."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        project: Project,
        warehouse: Warehouse,
        params: Parameters,
        *,
        full_refresh: bool = False,
    ) -> None:
        self.con = con
        self.project = project
        self.full_refresh = full_refresh
        self.partitions = warehouse.partition_fingerprints()
        create_requests_view(con, warehouse, [warehouse.partition_path(d) for d in self.partitions], temporary=False)
        _install(con, project, params)

    def build(self, names: set[str] | None = None) -> Iterator[BuildResult]:
        """Build the seeds, then the models in dependency order (only those in `names` when given)."""
        for name in self.project.seeds:
            if names is None or name in names:
                yield self.seed(name)
        for model in self.project.order():
            if names is None or model.name in names:
                yield self.model(model.name)

    def seed(self, name: str) -> BuildResult:
        """Load a seed CSV as a table of the same name (every row kept)."""
        path = self.project.seeds[name]
        if name in SEED_LOADERS:
            SEED_LOADERS[name](self.con, path)
        else:
            self.con.execute(
                f"create or replace table {name} as select * from read_csv(?, header = true, auto_detect = true)",
                [str(path)],
            )
        # the version is the content: reloading an unchanged seed does not make its readers rebuild
        _record_model(self.con, name, "", "", hashlib.sha256(path.read_bytes()).hexdigest())
        return BuildResult(name, "table", _rows(self.con, name))

    def model(self, name: str) -> BuildResult:
        """Build one model (in one transaction) and document it with COMMENT ON."""
        model = self.project.models[name]
        self.con.execute("begin transaction")
        try:
            if model.materialized == "view":
                self.con.execute(f"create or replace view {name} as {model.sql}")
                result = BuildResult(name, "view", 0)
            elif model.materialized == "table":
                result = self._table(model)
            else:
                result = self._incremental(model)
            _check_columns(self.con, model)
            _comment(self.con, model)
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        return result

    def _table(self, model: SqlModel) -> BuildResult:
        con = self.con
        build_hash = self._build_hash(model)
        inputs = self._input_signature(model)
        recorded = _recorded(con, model.name)
        if not self.full_refresh and recorded and recorded[:2] == (build_hash, inputs):
            return BuildResult(model.name, "unchanged", _rows(con, model.name))
        con.execute(f"create or replace table {model.name} as {model.sql}")
        _record_model(con, model.name, build_hash, inputs)
        return BuildResult(model.name, "table", _rows(con, model.name))

    def _incremental(self, model: SqlModel) -> BuildResult:
        con = self.con
        build_hash = self._build_hash(model)
        current = self._input_days(model)
        recorded = _recorded(con, model.name)
        if self.full_refresh or not recorded or recorded[0] != build_hash:
            con.execute(f"create or replace table {model.name} as {model.sql}")
            result = BuildResult(model.name, "full", _rows(con, model.name), sorted(current))
        else:
            affected = affected_days(_recorded_days(con, model.name), current)
            for first, last in day_runs(whole_periods(affected, model.partition_period)):
                _rebuild_days(con, model, first, last)
            mode = "incremental" if affected else "unchanged"
            result = BuildResult(model.name, mode, _rows(con, model.name), [d.isoformat() for d in affected])
        if result.mode != "unchanged":
            _record_model(con, model.name, build_hash, "")
            _record_days(con, model.name, current)
        return result

    def _build_hash(self, model: SqlModel) -> str:
        """What, besides the input days, the model's rows depend on: its SQL, the macros, the seeds and upstream
        models' SQL it reads through views, and the parameters it uses."""
        project = self.project
        parts = [model.sql, project.macro_text]
        for dep in sorted(project.upstream(model.name)):
            if dep in project.seeds:
                parts.append(project.seeds[dep].read_text())
            elif dep in project.models:
                parts.append(project.models[dep].sql)
        for variable in sorted(project.variables_of(model.name)):
            value = self.con.execute("select getvariable(?)", [variable]).fetchall()[0][0]
            parts.append(f"{variable}={value!r}")
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def _input_days(self, model: SqlModel) -> dict[str, str]:
        """Day -> fingerprint of everything the model reads for that day."""
        states: list[dict[str, str]] = []
        for dep in sorted(self.project.sources_of(model.name)):
            if dep == REQUESTS:
                states.append(self.partitions)
            elif dep in self.project.models:
                states.append(_recorded_days(self.con, dep))
        days = sorted(set().union(*states)) if states else []
        return {day: "|".join(state.get(day, "") for state in states) for day in days}

    def _input_signature(self, model: SqlModel) -> str:
        """What a table model read: the partition fingerprints and the versions of the models and seeds."""
        parts = []
        for dep in sorted(self.project.sources_of(model.name)):
            if dep == REQUESTS:
                parts.append(json.dumps(self.partitions))
            else:
                rows = self.con.execute("select version from _gl_models where model = ?", [dep]).fetchall()
                parts.append(f"{dep}={rows[0][0] if rows else None}")
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _install(con: duckdb.DuckDBPyConnection, project: Project, params: Parameters) -> None:
    """Create the macros and the state tables; set the parameters as variables."""
    con.execute(project.macro_text)
    con.execute(
        "create table if not exists _gl_models (model varchar primary key, build_hash varchar, inputs varchar, "
        "version varchar, built_at timestamp)"
    )
    con.execute("create table if not exists _gl_model_days (model varchar, day date, fingerprint varchar)")
    for name, value in params.variables().items():
        con.execute(f"set variable {name} = ?", [value])
    for name in ("gl_from", "gl_to"):
        con.execute(f"reset variable {name}")


def _rows(con: duckdb.DuckDBPyConnection, name: str) -> int:
    return con.execute(f"select count(*) from {name}").fetchall()[0][0]


def _check_columns(con: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    if model.materialized == "view":
        return
    actual = [row[0] for row in con.execute(f"describe {model.name}").fetchall()]
    if actual != list(model.columns):
        raise ModelError(f"{model.path}: the SQL returns columns {actual}, the header documents {list(model.columns)}")


def _comment(con: duckdb.DuckDBPyConnection, model: SqlModel) -> None:
    kind = "view" if model.materialized == "view" else "table"
    text = f"{model.description} Grain: {model.grain}."
    con.execute(f"comment on {kind} {model.name} is {literal(text)}")
    for column, doc in model.columns.items():
        con.execute(f"comment on column {model.name}.{column} is {literal(doc)}")


def _recorded_days(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    rows = con.execute("select strftime(day, '%Y-%m-%d'), fingerprint from _gl_model_days where model = ?", [name])
    return dict(rows.fetchall())


def _recorded(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str, str] | None:
    """(build_hash, inputs, version) of the model's last build, if it exists and was recorded."""
    if not con.execute("select 1 from duckdb_tables() where table_name = ?", [name]).fetchall():
        return None
    rows = con.execute("select build_hash, inputs, version from _gl_models where model = ?", [name]).fetchall()
    return rows[0] if rows else None


def _rebuild_days(con: duckdb.DuckDBPyConnection, model: SqlModel, first: dt.date, last: dt.date) -> None:
    """Replace the rows of days first..last, reading one more day on each side for context."""
    con.execute("set variable gl_from = ?", [first - dt.timedelta(days=1)])
    con.execute("set variable gl_to = ?", [last + dt.timedelta(days=1)])
    try:
        window = f"{model.partition_day} between $first and $last"
        con.execute(f"delete from {model.name} where {window}", {"first": first, "last": last})
        con.execute(
            f"insert into {model.name} by name select * from ({model.sql}) where {window}",
            {"first": first, "last": last},
        )
    finally:
        con.execute("reset variable gl_from")
        con.execute("reset variable gl_to")


def _record_model(
    con: duckdb.DuckDBPyConnection, name: str, build_hash: str, inputs: str, version: str | None = None
) -> None:
    """Record a build; a new version (by default) tells the models reading this one that it changed."""
    con.execute("delete from _gl_models where model = ?", [name])
    con.execute(
        "insert into _gl_models values (?, ?, ?, coalesce(?, cast(uuid() as varchar)), current_timestamp)",
        [name, build_hash, inputs, version],
    )


def _record_days(con: duckdb.DuckDBPyConnection, name: str, days: dict[str, str]) -> None:
    con.execute("delete from _gl_model_days where model = ?", [name])
    if days:
        con.execute(
            "insert into _gl_model_days select ?, unnest(?::date[]), unnest(?::varchar[])",
            [name, list(days), list(days.values())],
        )


# ---------------------------------------------------------------------------------------------------------
# Which days to rebuild
# ---------------------------------------------------------------------------------------------------------


def period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the ISO week (Monday) or calendar month holding `day`."""
    return day - dt.timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


def period_end(day: dt.date, period: str) -> dt.date:
    """The last day of the ISO week (Sunday) or calendar month holding `day`."""
    if period == "week":
        return period_start(day, period) + dt.timedelta(days=6)
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def whole_periods(days: list[dt.date], period: str | None) -> list[dt.date]:
    """`days` widened to every day of the weeks or months that hold them (unchanged without a period)."""
    if period is None:
        return days
    widened: set[dt.date] = set()
    for start in sorted({period_start(day, period) for day in days}):
        widened.update(start + dt.timedelta(days=i) for i in range((period_end(start, period) - start).days + 1))
    return sorted(widened)


def affected_days(before: dict[str, str], after: dict[str, str]) -> list[dt.date]:
    """Days whose rows may change between two input states: each changed day and its neighbours, plus every
    day between the old and the new first and last day (a range that grows gains zero-filled days)."""
    changed = {dt.date.fromisoformat(d) for d in set(before) | set(after) if before.get(d) != after.get(d)}
    if not changed:
        return []
    affected = {day + dt.timedelta(days=shift) for day in changed for shift in (-1, 0, 1)}
    for a, b in _range_growth(before, after):
        affected |= {a + dt.timedelta(days=i) for i in range((b - a).days + 1)}
    return sorted(affected)


def _range_growth(before: dict[str, str], after: dict[str, str]) -> list[tuple[dt.date, dt.date]]:
    if not before or not after:
        return []
    old = (dt.date.fromisoformat(min(before)), dt.date.fromisoformat(max(before)))
    new = (dt.date.fromisoformat(min(after)), dt.date.fromisoformat(max(after)))
    spans = []
    if new[1] > old[1]:
        spans.append((old[1], new[1]))
    if new[0] < old[0]:
        spans.append((new[0], old[0]))
    return spans


def day_runs(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted days grouped into runs of consecutive days, as (first, last)."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if runs and day - runs[-1][1] == dt.timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
