"""The project: every SQL model under `sql/`, parsed from its file, and the order they build in.

Each `sql/<layer>/<name>.sql` is one model: a SELECT whose header comment says what it is, its grain, how it
is materialized and what its columns mean. Its inputs are the tables the SQL reads, found by DuckDB's own
parser, and nowhere else: no list of dependencies is kept by hand. A model may read the `requests` dataset,
other models, and reference tables: the CSV files of `schemas/reference/` that some model reads are its seeds,
loaded as tables of the same name. `sql/macros/*.sql` hold the macros every model may use.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.storage import REQUESTS
from schemas.normalize import REFERENCE_DIR

SQL_DIR = Path(__file__).resolve().parents[3] / "sql"
LAYERS = ("staging", "intermediate", "marts")
MATERIALIZATIONS = ("view", "table", "incremental")
SOURCES = frozenset({REQUESTS})  # tables the ingest provides
PERIODS = ("week", "month")
_HEADER_KEYS = ("grain", "materialized", "partition_day", "partition_period", "placed_by", "columns")
_VARIABLE = re.compile(r"getvariable\('(gl_[a-z_]+)'\)")


class ModelError(ValueError):
    """A model file that breaks the conventions (header, inputs, columns)."""


@dataclass(frozen=True)
class SqlModel:
    """One SQL model file (a table or view built in the warehouse database; not an LLM)."""

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
    #: the time column that places a row whose grain names none (a burst by its start), for a range of days
    placed_by: str | None = None
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def grain_columns(self) -> tuple[str, ...]:
        """The columns the grain names ("one row per day x model_family"), when they are all columns."""
        spec = re.sub(r"\(.*?\)", "", self.grain).removeprefix("one row per").strip()
        names = tuple(part.strip() for part in spec.split(" x "))
        return names if names and all(name in self.columns for name in names) else ()


def parse_model(path: Path) -> SqlModel:
    """Read one model file: the header (the leading comment block), then the SELECT, whose tables are its
    inputs."""
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("--")), len(lines))
    header = [line[2:].strip() for line in lines[:start] if line.startswith("--")]
    body = "\n".join(lines[start:]).strip()
    if not header or not header[0].startswith(f"{path.stem}:"):
        raise ModelError(f"{path}: the header must start with '-- {path.stem}: <what it is>'")
    description, fields, columns = _header_fields(header, path)
    model = SqlModel(
        name=path.stem,
        layer=path.parent.name,
        path=path,
        sql=body,
        description=description,
        grain=fields.get("grain", ""),
        materialized=fields.get("materialized", ""),
        inputs=tuple(sorted(_tables_read_or_fail(body, path))),
        partition_day=fields.get("partition_day"),
        partition_period=fields.get("partition_period"),
        placed_by=fields.get("placed_by"),
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
        if key == "inputs":
            raise ModelError(f"{path}: a model's inputs are the tables its SQL reads; remove the 'inputs:' line")
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


def _validate(model: SqlModel) -> None:
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
    if model.placed_by is not None and model.placed_by not in model.columns:
        raise ModelError(f"{where}: placed_by names one of its columns")
    if model.materialized != "view" and not model.columns:
        raise ModelError(f"{where}: tables document their columns ('-- columns:')")


def _tables_read_or_fail(sql: str, path: Path) -> set[str]:
    try:
        return tables_read(sql)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


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
    """Every model of one `sql/` folder, the seeds they read and the macros they may use."""

    models: dict[str, SqlModel]
    seeds: dict[str, Path]
    macros: tuple[Path, ...]

    def order(self) -> list[SqlModel]:
        """Models in dependency order (inputs first)."""
        done: dict[str, SqlModel] = {}

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

    @cached_property
    def macro_text(self) -> str:
        """The macros' SQL, read once per project (every model's build hash includes it)."""
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

    def upstream(self, name: str) -> set[str]:
        """Every model, seed and source a model reads, directly or through other models."""
        found: set[str] = set()
        for dep in self.models[name].inputs if name in self.models else ():
            found |= {dep} | self.upstream(dep)
        return found

    def variables_of(self, name: str) -> set[str]:
        """The gl_* variables a model's SQL reads, looking through views and macros."""
        model = self.models[name]
        found = set(_VARIABLE.findall(model.sql))
        for dep in model.inputs:
            if dep in self.models and self.models[dep].materialized == "view":
                found |= self.variables_of(dep)
        return found


def load_project(sql_dir: Path = SQL_DIR, reference_dir: Path = REFERENCE_DIR) -> Project:
    """Parse every model under `sql_dir`, take as seeds the reference CSVs they read, and check that each input
    exists and the models form no cycle."""
    models: dict[str, SqlModel] = {}
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).glob("*.sql")):
            model = parse_model(path)
            if model.name in models:
                raise ModelError(f"{path}: a second model named {model.name}")
            models[model.name] = model
    read = set().union(*(m.inputs for m in models.values())) if models else set()
    references = {path.stem: path for path in sorted(reference_dir.glob("*.csv"))}
    seeds = {name: path for name, path in references.items() if name in read and name not in models}
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
