"""The SQL models in `sql/`: parsing their headers, ordering them, and building them in the warehouse database.

Each `sql/<layer>/<name>.sql` is one model: a SELECT whose header comment says what it is, its grain, how it
is materialized and what its columns mean. Its inputs are read from the SQL itself (DuckDB's own parser), so
no list of dependencies is kept by hand. `sql/seeds/*.csv` are reference tables users may edit, and
`sql/macros/*.sql` hold macros every model may use.

Materializations:
* `view`: recreated on every build; reads through to its inputs.
* `table`: rebuilt whole on every build (used for small tables built from other models).
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

A `table` is rebuilt only when its SQL, macros, seeds or parameters changed or one of its inputs was rebuilt
since (each build of a model gets a new version; the `requests` input is the set of partition fingerprints),
so a build with nothing new costs almost nothing.

Model state lives in the database next to the tables (`_gl_models`, `_gl_model_days`), and each model is
built in one transaction: a crash leaves the previous tables and state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib import families, readonly
from pipelines.lib.lock import warehouse_lock
from pipelines.lib.storage import DATA_FILE, REQUESTS, Warehouse
from schemas.bulk import arrow_schema, upgraded_select
from schemas.sqltext import literal

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LAYERS = ("staging", "intermediate", "marts")
MATERIALIZATIONS = ("view", "table", "incremental")
SOURCES = frozenset({REQUESTS})  # tables the ingest provides
DATABASE_FILE = "gatewaylens.duckdb"
_HEADER_KEYS = ("grain", "inputs", "materialized", "partition_day", "partition_period", "columns")
PERIODS = ("week", "month")
_VARIABLE = re.compile(r"getvariable\('(gl_[a-z_]+)'\)")


class ModelError(ValueError):
    """A model file that breaks the conventions (header, inputs, columns)."""


@dataclass(frozen=True)
class Model:
    """One SQL model file."""

    name: str
    layer: str
    path: Path
    sql: str
    description: str
    grain: str
    materialized: str
    inputs: tuple[str, ...]
    partition_day: str | None = None
    partition_period: str | None = None
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def grain_columns(self) -> tuple[str, ...]:
        """The columns the grain names ("one row per day x model_family"), when they are all columns."""
        spec = re.sub(r"\(.*?\)", "", self.grain).removeprefix("one row per").strip()
        names = tuple(part.strip() for part in spec.split(" x "))
        return names if names and all(name in self.columns for name in names) else ()


def parse_model(path: Path) -> Model:
    """Read one model file: the header (the leading comment block), then the SELECT."""
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("--")), len(lines))
    header = [line[2:].strip() for line in lines[:start] if line.startswith("--")]
    body = "\n".join(lines[start:]).strip()
    if not header or not header[0].startswith(f"{path.stem}:"):
        raise ModelError(f"{path}: the header must start with '-- {path.stem}: <what it is>'")
    description, fields, columns = _header_fields(header, path)
    model = Model(
        name=path.stem,
        layer=path.parent.name,
        path=path,
        sql=body,
        description=description,
        grain=fields.get("grain", ""),
        materialized=fields.get("materialized", ""),
        inputs=tuple(sorted(i.strip() for i in fields.get("inputs", "").split(",") if i.strip())),
        partition_day=fields.get("partition_day"),
        partition_period=fields.get("partition_period"),
        columns=columns,
    )
    _validate(model)
    return model


def _header_fields(header: list[str], path: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    description: list[str] = [header[0].split(":", 1)[1].strip()]
    fields: dict[str, str] = {}
    columns: dict[str, str] = {}
    in_columns = False
    for line in header[1:]:
        key, _, value = line.partition(":")
        if key in _HEADER_KEYS:
            fields[key] = value.strip()
            in_columns = key == "columns"
        elif in_columns and key and " " not in key:
            columns[key] = value.strip()
        elif in_columns and line:
            raise ModelError(f"{path}: cannot read column line {line!r}")
        elif not fields:
            description.append(line)
    return " ".join(" ".join(description).split()), fields, columns


def _validate(model: Model) -> None:
    where = model.path
    if model.layer not in LAYERS:
        raise ModelError(f"{where}: models live in {', '.join(LAYERS)}")
    if not model.grain.startswith("one row per"):
        raise ModelError(f"{where}: the header must state the grain ('-- grain: one row per ...')")
    if model.materialized not in MATERIALIZATIONS:
        raise ModelError(f"{where}: materialized must be one of {', '.join(MATERIALIZATIONS)}")
    if (model.materialized == "incremental") != bool(model.partition_day):
        raise ModelError(f"{where}: an incremental model, and only one, names its partition_day")
    if model.partition_period is not None and (model.partition_period not in PERIODS or not model.partition_day):
        raise ModelError(f"{where}: partition_period is one of {', '.join(PERIODS)}, on an incremental model")
    if model.materialized != "view" and not model.columns:
        raise ModelError(f"{where}: tables document their columns ('-- columns:')")
    read = tuple(sorted(tables_read(model.sql)))
    if read != model.inputs:
        raise ModelError(f"{where}: header inputs {list(model.inputs)} but the SQL reads {list(read)}")


def tables_read(sql: str) -> set[str]:
    """The tables a SELECT reads (common table expressions excluded), from DuckDB's parse tree: parsed, not
    bound, so it needs no database."""
    tree = json.loads(duckdb.execute("select json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise ModelError(f"cannot parse SQL: {tree.get('error_message')}")
    tables: set[str] = set()
    ctes: set[str] = set()
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                tables.add(node["table_name"])
            ctes.update(entry["key"] for entry in node.get("cte_map", {}).get("map", []))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return tables - ctes


@dataclass(frozen=True)
class Project:
    """Every model, seed and macro under one `sql/` folder."""

    models: dict[str, Model]
    seeds: dict[str, Path]
    macros: tuple[Path, ...]

    def order(self) -> list[Model]:
        """Models in dependency order (inputs first)."""
        done: dict[str, Model] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in done or name not in self.models:
                return
            if name in path:
                raise ModelError(f"dependency cycle: {' -> '.join((*path, name))}")
            for dep in self.models[name].inputs:
                visit(dep, (*path, name))
            done[name] = self.models[name]

        for name in sorted(self.models):
            visit(name, ())
        return list(done.values())

    def macro_text(self) -> str:
        return "\n".join(path.read_text() for path in self.macros)

    def sources_of(self, name: str) -> set[str]:
        """The non-view inputs a model reads, looking through views."""
        found: set[str] = set()
        for dep in self.models[name].inputs:
            if dep in self.models and self.models[dep].materialized == "view":
                found |= self.sources_of(dep)
            else:
                found.add(dep)
        return found

    def variables_of(self, name: str) -> set[str]:
        """The gl_* variables a model's SQL reads, looking through views and macros."""
        model = self.models[name]
        found = set(_VARIABLE.findall(model.sql))
        for dep in model.inputs:
            if dep in self.models and self.models[dep].materialized == "view":
                found |= self.variables_of(dep)
        return found


def load_project(sql_dir: Path = SQL_DIR) -> Project:
    """Parse every model under `sql_dir` and check that each input exists."""
    models = {}
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).glob("*.sql")):
            model = parse_model(path)
            if model.name in models:
                raise ModelError(f"{path}: a second model named {model.name}")
            models[model.name] = model
    seeds = {path.stem: path for path in sorted((sql_dir / "seeds").glob("*.csv"))}
    project = Project(models, seeds, tuple(sorted((sql_dir / "macros").glob("*.sql"))))
    for model in models.values():
        unknown = set(model.inputs) - set(models) - set(seeds) - SOURCES
        if unknown:
            raise ModelError(f"{model.path}: reads unknown tables {sorted(unknown)}")
        for dep in project.sources_of(model.name):
            if model.materialized == "incremental" and dep in models and models[dep].materialized == "table":
                raise ModelError(f"{model.path}: an incremental model cannot read the table model {dep}")
    project.order()
    return project


@dataclass(frozen=True)
class Parameters:
    """The knobs of the metric definitions, set as DuckDB variables (`getvariable('gl_slo')`) for the models."""

    slo: float = 0.999
    burst_k: float = 3.0
    burst_min: int = 20
    baseline_minutes: int = 60
    overnight_tz: str = "UTC"
    overnight_start_hour: int = 0
    overnight_end_hour: int = 6
    variance_days: int = 28

    def variables(self) -> dict[str, Any]:
        return {f"gl_{name}": value for name, value in self.__dict__.items()}


@dataclass
class BuildResult:
    """What building one model did."""

    name: str
    mode: str  # view | table | full | incremental | unchanged
    rows: int
    days: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {"mode": self.mode, "rows": self.rows, "days_rebuilt": len(self.days), "days": ", ".join(self.days)}


# ---------------------------------------------------------------------------------------------------------
# The database
# ---------------------------------------------------------------------------------------------------------


def database_path(warehouse: Warehouse, cache_dir: Path | None = None) -> Path:
    """Where the DuckDB file is opened: in the warehouse folder, or (object stores) a local copy of it."""
    if warehouse.is_local:
        return Path(warehouse.path(DATABASE_FILE))
    cache = cache_dir or Path.home() / ".cache" / "gatewaylens"
    return cache / hashlib.sha256(warehouse.uri().encode()).hexdigest()[:16] / DATABASE_FILE


@contextmanager
def open_database(
    warehouse: Warehouse, *, read_only: bool = False, cache_dir: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse database, set up for the models (UTC, the warehouse as the folder that
    relative paths are searched in, so the stored `requests` view reads this warehouse's files).

    Read-only is the analyst's connection: confined to the warehouse and offline (`readonly.confine`), with
    `requests` as a temporary view over this warehouse's partition files, listed now by absolute path: it
    shadows the stored view, whose relative paths DuckDB would check against the process's working directory.

    On an object store the file is a local copy: fetched when the stored one is newer, uploaded (one PUT)
    after a successful write, so readers of the store never see a half-written database. Writing holds the
    warehouse lock (`pipelines.lib.lock`): two builders would each upload their own copy, and a build must
    not read partitions an ingest is replacing. Reading takes no lock.
    """
    path = database_path(warehouse, cache_dir)
    if "?" in str(path) and not read_only:  # DuckDB 2.0 puts the WAL at "<before ?>.wal?<after>", then fails
        raise ValueError(f"cannot write the database at {path}: DuckDB cannot write a path with '?' in it")
    with contextlib.nullcontext() if read_only else warehouse_lock(warehouse, "build the SQL models"):
        remote = None if warehouse.is_local else warehouse.path(DATABASE_FILE)
        if remote:
            _fetch(warehouse, remote, path)
        if read_only and not path.exists():
            raise FileNotFoundError(f"no warehouse database at {warehouse.uri(DATABASE_FILE)}: run `gatewaylens build`")
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            if not warehouse.is_local:
                con.register_filesystem(warehouse.fs)
            if read_only:
                readonly.confine(con, warehouse)
                _create_requests_view(con, warehouse, temporary=True)
            else:
                con.execute("set TimeZone = 'UTC'")
                if warehouse.is_local:
                    con.execute("set file_search_path = ?", [warehouse.root])
            yield con
            if not read_only:
                con.execute("checkpoint")
        finally:
            con.close()
        if remote and not read_only:
            warehouse.publish(str(path), remote)
            _remember_version(warehouse, remote, path)


def _fetch(warehouse: Warehouse, remote: str, local: Path) -> None:
    if not warehouse.fs.exists(remote):
        return
    version = json.dumps(warehouse.fs.info(remote), sort_keys=True, default=str)
    marker = local.with_suffix(".version")
    if local.exists() and marker.exists() and marker.read_text() == version:
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    warehouse.fs.get_file(remote, str(local))
    marker.write_text(version)


def _remember_version(warehouse: Warehouse, remote: str, local: Path) -> None:
    warehouse.fs.invalidate_cache()
    local.with_suffix(".version").write_text(json.dumps(warehouse.fs.info(remote), sort_keys=True, default=str))


def install(con: duckdb.DuckDBPyConnection, project: Project, warehouse: Warehouse, params: Parameters) -> None:
    """Create the `requests` view, the macros and the state tables; set the parameters as variables."""
    _create_requests_view(con, warehouse, temporary=False)
    con.execute(project.macro_text())
    con.execute(
        "create table if not exists _gl_models (model varchar primary key, build_hash varchar, inputs varchar, "
        "version varchar, built_at timestamp)"
    )
    con.execute("create table if not exists _gl_model_days (model varchar, day date, fingerprint varchar)")
    for name, value in params.variables().items():
        con.execute(f"set variable {name} = ?", [value])
    for name in ("gl_from", "gl_to"):
        con.execute(f"reset variable {name}")


#: The stored partitions relative to the warehouse root: the stored view's glob, free of the root's characters.
REQUESTS_GLOB = f"{REQUESTS}/date=*/{DATA_FILE}"
_REQUESTS_COMMENT = (
    "Every stored attempt (the canonical request record, one row per upstream attempt), read from the "
    "date-partitioned Parquet files; the partition column date (a DATE) is the UTC day of created_at: a filter on "
    "it, by constants or through a join, skips the files of other days. The files are named relative to the "
    f"warehouse folder ({REQUESTS_GLOB}), so a copied or moved warehouse reads its own: outside gatewaylens, start "
    "duckdb in that folder or SET file_search_path to it."
)


def _create_requests_view(con: duckdb.DuckDBPyConnection, warehouse: Warehouse, *, temporary: bool) -> None:
    """The `requests` view, with fields added since older partitions were written filled with their defaults.

    The stored view (built by `install`) reads `requests/date=*/data.parquet` relative to the warehouse folder, so
    it follows the folder when it is copied or moved, shows days ingested after the build, and has no glob
    characters of the root in its pattern. The trade-off: DuckDB resolves a relative path against its
    `file_search_path` (set by `open_database`) or the working directory, never against the database file, so the
    duckdb CLI must be started in the warehouse folder or be told `SET file_search_path = '<warehouse>'`. On an
    object store it reads the (escaped) URI glob: DuckDB does not search fsspec filesystems for relative paths.

    The temporary view (`temporary=True`, on read-only connections) lists this warehouse's partition files by
    absolute path instead, so neither the working directory nor glob characters matter."""
    source = _requests_sql(warehouse, listed=temporary)
    present = [row[0] for row in con.execute(f"describe {source}").fetchall()]
    kind = "temp view" if temporary else "view"
    con.execute(f"create or replace {kind} {REQUESTS} as {upgraded_select(present, source)}")
    if not temporary:
        con.execute(f"comment on view {REQUESTS} is {literal(_REQUESTS_COMMENT)}")


def _requests_sql(warehouse: Warehouse, *, listed: bool) -> str:
    """The view's query: the partition files (a relative glob, or `listed` by absolute path), or an empty
    relation of the same columns when there are none."""
    paths = warehouse.partition_paths()
    if paths:
        if listed:
            source = "[" + ", ".join(literal(warehouse.duckdb_path(p)) for p in paths) + "]"
        elif warehouse.is_local:
            source = literal(REQUESTS_GLOB)
        else:
            source = literal(warehouse.duckdb_path(warehouse.path(REQUESTS)) + f"/date=*/{DATA_FILE}")
        options = "hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true"
        return f"select * from read_parquet({source}, {options})"
    probe = duckdb.connect()
    empty = arrow_schema().empty_table()
    probe.register("empty", empty)
    types = probe.sql("select * from empty").types
    columns = [f"cast(null as {t}) as {name}" for name, t in zip(empty.column_names, types, strict=True)]
    probe.close()
    return f"select {', '.join(columns)}, cast(null as date) as date where false"


# ---------------------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------------------


#: Seeds with their own loader (typed columns, validation, compiled macros); others are read with detected types.
SEED_LOADERS: dict[str, Callable[[duckdb.DuckDBPyConnection, Path], None]] = {"model_families": families.load}


def build_seed(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> BuildResult:
    """Load a seed CSV as a table of the same name (every row kept)."""
    if name in SEED_LOADERS:
        SEED_LOADERS[name](con, path)
    else:
        con.execute(
            f"create or replace table {name} as select * from read_csv(?, header = true, auto_detect = true)",
            [str(path)],
        )
    rows = con.execute(f"select count(*) from {name}").fetchall()[0][0]
    # the version is the content: reloading an unchanged seed does not make its readers rebuild
    _record_model(con, name, "", "", hashlib.sha256(path.read_bytes()).hexdigest())
    return BuildResult(name, "table", rows)


def build_model(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    name: str,
    warehouse: Warehouse,
    *,
    full_refresh: bool = False,
) -> BuildResult:
    """Build one model (in one transaction) and document it with COMMENT ON."""
    model = project.models[name]
    con.execute("begin transaction")
    try:
        if model.materialized == "view":
            con.execute(f"create or replace view {name} as {model.sql}")
            result = BuildResult(name, "view", 0)
        elif model.materialized == "table":
            result = _build_table(con, project, model, warehouse, full_refresh)
        else:
            result = _build_incremental(con, project, model, warehouse, full_refresh)
        _check_columns(con, model)
        _comment(con, model)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def _rows(con: duckdb.DuckDBPyConnection, name: str) -> int:
    return con.execute(f"select count(*) from {name}").fetchall()[0][0]


def _check_columns(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    if model.materialized == "view":
        return
    actual = [row[0] for row in con.execute(f"describe {model.name}").fetchall()]
    if actual != list(model.columns):
        raise ModelError(f"{model.path}: the SQL returns columns {actual}, the header documents {list(model.columns)}")


def _comment(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    kind = "view" if model.materialized == "view" else "table"
    text = f"{model.description} Grain: {model.grain}."
    con.execute(f"comment on {kind} {model.name} is {literal(text)}")
    for column, doc in model.columns.items():
        con.execute(f"comment on column {model.name}.{column} is {literal(doc)}")


def _build_hash(con: duckdb.DuckDBPyConnection, project: Project, model: Model) -> str:
    """What, besides the input days, the model's rows depend on: its SQL, the macros, the seeds and upstream
    models' SQL it reads through views, and the parameters it uses."""
    parts = [model.sql, project.macro_text()]
    for dep in sorted(_upstream(project, model.name)):
        if dep in project.seeds:
            parts.append(project.seeds[dep].read_text())
        elif dep in project.models:
            parts.append(project.models[dep].sql)
    for variable in sorted(project.variables_of(model.name)):
        value = con.execute("select getvariable(?)", [variable]).fetchall()[0][0]
        parts.append(f"{variable}={value!r}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _upstream(project: Project, name: str) -> set[str]:
    found: set[str] = set()
    for dep in project.models[name].inputs if name in project.models else ():
        found |= {dep} | _upstream(project, dep)
    return found


def _input_days(con: duckdb.DuckDBPyConnection, project: Project, model: Model, warehouse: Warehouse) -> dict[str, str]:
    """Day -> fingerprint of everything the model reads for that day."""
    states: list[dict[str, str]] = []
    for dep in sorted(project.sources_of(model.name)):
        if dep == REQUESTS:
            states.append(warehouse.partition_fingerprints())
        elif dep in project.models:
            states.append(_recorded_days(con, dep))
    days = sorted(set().union(*states)) if states else []
    return {day: "|".join(state.get(day, "") for state in states) for day in days}


def _recorded_days(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    rows = con.execute("select strftime(day, '%Y-%m-%d'), fingerprint from _gl_model_days where model = ?", [name])
    return dict(rows.fetchall())


def _recorded(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str, str] | None:
    """(build_hash, inputs, version) of the model's last build, if it exists and was recorded."""
    if not con.execute("select 1 from duckdb_tables() where table_name = ?", [name]).fetchall():
        return None
    rows = con.execute("select build_hash, inputs, version from _gl_models where model = ?", [name]).fetchall()
    return rows[0] if rows else None


def _input_signature(con: duckdb.DuckDBPyConnection, project: Project, model: Model, warehouse: Warehouse) -> str:
    """What a table model read: the partition fingerprints and the versions of the models and seeds."""
    parts = []
    for dep in sorted(project.sources_of(model.name)):
        if dep == REQUESTS:
            parts.append(json.dumps(warehouse.partition_fingerprints()))
        else:
            rows = con.execute("select version from _gl_models where model = ?", [dep]).fetchall()
            parts.append(f"{dep}={rows[0][0] if rows else None}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _build_table(
    con: duckdb.DuckDBPyConnection, project: Project, model: Model, warehouse: Warehouse, full_refresh: bool
) -> BuildResult:
    build_hash = _build_hash(con, project, model)
    inputs = _input_signature(con, project, model, warehouse)
    recorded = _recorded(con, model.name)
    if not full_refresh and recorded and recorded[:2] == (build_hash, inputs):
        return BuildResult(model.name, "unchanged", _rows(con, model.name))
    con.execute(f"create or replace table {model.name} as {model.sql}")
    _record_model(con, model.name, build_hash, inputs)
    return BuildResult(model.name, "table", _rows(con, model.name))


def _build_incremental(
    con: duckdb.DuckDBPyConnection, project: Project, model: Model, warehouse: Warehouse, full_refresh: bool
) -> BuildResult:
    build_hash = _build_hash(con, project, model)
    current = _input_days(con, project, model, warehouse)
    recorded = _recorded(con, model.name)
    if full_refresh or not recorded or recorded[0] != build_hash:
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


def _rebuild_days(con: duckdb.DuckDBPyConnection, model: Model, first: dt.date, last: dt.date) -> None:
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
# Documentation
# ---------------------------------------------------------------------------------------------------------

METRICS_DOC = SQL_DIR.parent / "docs" / "metrics.md"
_DOC_PREFACE = """# Metrics reference

Generated from the headers of the SQL models in `sql/` by `gatewaylens schema` (a test keeps it current);
the same text is in the warehouse database as `COMMENT ON` every table and column, so
`select comment from duckdb_columns() where table_name = 'bursts'` shows it to analysts.

## Definitions used throughout

- **Attempt and request.** The `requests` dataset holds one row per upstream *attempt*. Attempts of one
  gateway request share `request_id`; the highest `attempt` is the *final* one. A request *arrives* with its
  first attempt (its `day`, `minute`), and its outcome is its final attempt's.
- **Operation.** Each record says what was asked (`operation`: chat, responses, text_completion, embeddings,
  image_generation, audio, rerank, moderation, other; chat when the log does not say). The generation
  metrics (tool-call rate, reasoning share, model mix, app model mix, provider variance) count only the
  operations that generate text (`gl_is_generation`: chat, responses, text_completion), so a gateway that
  also serves embeddings does not dilute them; traffic, error, uptime, failover and burst metrics count
  every operation, and `int_requests_rolled_up.operation` splits them.
- **Completed request.** The final attempt has status `success`. Tool-call and reasoning metrics count
  completed requests only.
- **Tool call.** The final attempt's normalized `finish_reason` is `tool_calls` (Anthropic `tool_use`,
  OpenAI `tool_calls`/`function_call`, Gemini responses with a function call, ...).
- **Reasoning tokens** are a subset of completion tokens. A log that does not report them leaves them NULL:
  such requests are excluded from the reasoning share, never counted as zero, and `reasoning_coverage`
  says how much of the output the share describes. Read a share with low coverage with care.
- **Provider faults** are errors a provider answers for: rate limits (429), timeouts and server errors
  (5xx, overloaded). Client errors (400, 401, 403, 404, 413, context too long) are the caller's and do not
  count against availability. Gateway errors (`error_class` gateway: the gateway's own auth, budget, rate
  limit, guardrail or routing refusal) are the gateway's and do not count either. Cancelled attempts are
  neither.
- **Quality flags.** A record whose numbers disagree is kept, repaired where one reading is right, and
  flagged (`quality_flags`, see `schemas/REQUEST_RECORD.md`). What the metrics see: reasoning reported
  beyond completion (`reasoning_outside_completion`) is counted inside output (completion_tokens = completion
  + reasoning), so the reasoning share stays a share; cached tokens beyond prompt (`cached_outside_prompt`)
  likewise inside prompt; a negative latency or TTFT is stored NULL and leaves the latency figures; a TTFT
  after the last byte (`ttft_exceeds_latency`) keeps both values as logged; `http_error_on_success` keeps
  the status the log gave; a shortened id (`long_id`) keys its record as the full id would. The
  `quality_flags` check of the `requests` asset counts each flag per source format.
- **Model family, vendor, tier, open weights** come from the editable seed `sql/seeds/model_families.csv`,
  matched against the canonical model key (`gl_model_key`: vendor prefixes, Bedrock/Vertex decorations, dates
  and variant suffixes removed). Unmapped models are family `Other` (the `models_mapped` check lists them);
  requests whose log names no model at all (workload traces) have no family and are left out of the
  per-family marts, though they count in the traffic marts. The vendor is the lab that trains the model (not
  the provider that served it). Open weights means the lab publishes the weights for download, whatever the
  licence (non-commercial ones included); API-only models are closed; unmapped models, and the seed's rules
  that cover both kinds, leave it NULL (unknown), never counted as either.
- **Cost.** A request costs what its attempts cost together (failed attempts that were billed included), and
  the spend marts put it on the family and provider of its final attempt. A log that reports no cost leaves it
  unknown: spend sums only the requests that report one (`cost_coverage` says what share), never counting the
  others as free, and cost per completed request or per tool-call completion divides over those same requests.
  A reported 0 (BYOK, free models) is a reported cost (`zero_cost_requests`).
- **Speed.** Latency is an attempt's whole duration; time to first token (TTFT) counts for streamed attempts
  only; output speed is completion tokens per second of generation time (latency minus TTFT) of streamed
  attempts. The latency marts read successful attempts, report p50/p75/p90/p99 (p10/p50/p90 for speed, where
  the slow end matters) with the number of attempts behind each, and compute weeks and months from the
  attempts, since percentiles of days do not combine.
- **Error budget.** An SLO of `slo` allows (1 - slo) x attempts provider faults a month; a burn rate is a
  window's fault rate over that allowed rate (1 spends the budget exactly over the period).
- **Time.** Every timestamp is naive UTC; days, hours and minutes are UTC unless a parameter says otherwise.
- **Bursts.** A minute is a burst when its arrivals reach `burst_k` x the rolling median of the preceding
  `baseline_minutes` minutes *and* at least `burst_min` requests; consecutive burst minutes, with a single
  quiet minute allowed inside, form one episode.

## Parameters

Set on the `metrics` resource in Dagster (or `pipelines.lib.models.Parameters`); changing one rebuilds the
models that read it.

| parameter | default | used by |
|---|---|---|
| `slo` | 0.999 | provider_uptime_*, provider_error_budget_monthly |
| `burst_k` | 3 | traffic_minutely, bursts |
| `burst_min` | 20 | traffic_minutely, bursts |
| `baseline_minutes` | 60 | traffic_minutely, bursts |
| `overnight_tz` | UTC | app_traffic_profile |
| `overnight_start_hour`, `overnight_end_hour` | 0, 6 | app_traffic_profile |
| `variance_days` | 28 | provider_variance |

## Freshness

Incremental models recompute only the days whose stored partitions changed (plus their neighbours); a full
rebuild (`gatewaylens build --full-refresh`) gives the same rows.
"""


def render_docs(project: Project | None = None) -> str:
    """docs/metrics.md: the definitions, then every model's description, grain and columns, marts first."""
    project = project or load_project()
    parts = [_DOC_PREFACE]
    titles = {"marts": "Marts", "intermediate": "Intermediate models", "staging": "Staging models"}
    for layer in ("marts", "intermediate", "staging"):
        parts.append(f"\n## {titles[layer]}\n")
        for model in sorted((m for m in project.models.values() if m.layer == layer), key=lambda m: m.name):
            parts.append(_model_doc(model))
    return "\n".join(parts)


def _model_doc(model: Model) -> str:
    lines = [
        f"### `{model.name}`\n",
        model.description + "\n",
        f"- grain: {model.grain}",
        f"- materialized: {model.materialized}"
        + (f" (by `{model.partition_day}`)" if model.partition_day else "")
        + (f", whole {model.partition_period}s" if model.partition_period else ""),
        f"- inputs: {', '.join(f'`{i}`' for i in model.inputs)}",
        f"- source: `{model.path.relative_to(SQL_DIR.parent)}`\n",
    ]
    if model.columns:
        lines += ["| column | meaning |", "|---|---|"]
        lines += [f"| `{name}` | {doc} |" for name, doc in model.columns.items()]
        lines.append("")
    return "\n".join(lines)
