"""The warehouse database: one DuckDB file beside the partitions, opened for a build or for an analyst.

On a local warehouse the file lives in the warehouse folder. On an object store it is a local copy, fetched
when the stored one is newer and published (one PUT of the whole file) after a successful write, so readers of
the store never see a half-written database and a build uploads once, whatever it built.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.lib import readonly
from pipelines.lib.lock import warehouse_lock
from pipelines.lib.storage import DATA_FILE, REQUESTS, Warehouse
from schemas.sqltext import literal
from schemas.stored import empty_select, upgraded_select

DATABASE_FILE = "gatewaylens.duckdb"
#: The stored partitions relative to the warehouse root: the stored view's glob, free of the root's characters.
REQUESTS_GLOB = f"{REQUESTS}/date=*/{DATA_FILE}"
_REQUESTS_COMMENT = (
    "Every stored attempt (the canonical request record, one row per upstream attempt), read from the "
    "date-partitioned Parquet files; the partition column date (a DATE) is the UTC day of created_at: a filter on "
    "it, by constants or through a join, skips the files of other days. The files are named relative to the "
    f"warehouse folder ({REQUESTS_GLOB}), so a copied or moved warehouse reads its own: outside gatewaylens, start "
    "duckdb in that folder or SET file_search_path to it."
)


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

    Writing holds the warehouse lock (`pipelines.lib.lock`): two builders would each upload their own copy, and
    a build must not read partitions an ingest is replacing. Reading takes no lock.
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
            _set_up(con, warehouse, read_only)
            yield con
            if not read_only:
                con.execute("checkpoint")
        finally:
            con.close()
        if remote and not read_only:
            warehouse.publish(str(path), remote)
            _remember_version(warehouse, remote, path)


def _set_up(con: duckdb.DuckDBPyConnection, warehouse: Warehouse, read_only: bool) -> None:
    if not warehouse.is_local:
        con.register_filesystem(warehouse.fs)
    if read_only:
        readonly.confine(con, warehouse)
        create_requests_view(con, warehouse, warehouse.partition_paths(), temporary=True)
    else:
        con.execute("set TimeZone = 'UTC'")
        if warehouse.is_local:
            con.execute("set file_search_path = ?", [warehouse.root])


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


def create_requests_view(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, paths: list[str], *, temporary: bool
) -> None:
    """The `requests` view over the partition files `paths`, with fields added since older partitions were
    written filled with their defaults.

    The stored view (`temporary=False`, built with the models) reads `requests/date=*/data.parquet` relative to
    the warehouse folder, so it follows the folder when it is copied or moved, shows days ingested after the
    build, and has no glob characters of the root in its pattern. The trade-off: DuckDB resolves a relative path
    against its `file_search_path` (set by `open_database`) or the working directory, never against the database
    file, so the duckdb CLI must be started in the warehouse folder or be told `SET file_search_path =
    '<warehouse>'`. On an object store it reads the (escaped) URI glob: DuckDB does not search fsspec filesystems
    for relative paths.

    The temporary view (`temporary=True`, on read-only connections) lists `paths` by absolute path instead, so
    neither the working directory nor glob characters matter."""
    source = _requests_sql(warehouse, paths, listed=temporary)
    present = [row[0] for row in con.execute(f"describe {source}").fetchall()]
    kind = "temp view" if temporary else "view"
    con.execute(f"create or replace {kind} {REQUESTS} as {upgraded_select(present, source)}")
    if not temporary:
        con.execute(f"comment on view {REQUESTS} is {literal(_REQUESTS_COMMENT)}")


def _requests_sql(warehouse: Warehouse, paths: list[str], *, listed: bool) -> str:
    """The view's query: the partition files (a relative glob, or `listed` by absolute path), or an empty
    relation of the same columns when there are none."""
    if paths:
        if listed:
            source = "[" + ", ".join(literal(warehouse.duckdb_path(p)) for p in paths) + "]"
        elif warehouse.is_local:
            source = literal(REQUESTS_GLOB)
        else:
            source = literal(warehouse.duckdb_path(warehouse.path(REQUESTS)) + f"/date=*/{DATA_FILE}")
        options = "hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true"
        return f"select * from read_parquet({source}, {options})"
    return f"select *, cast(null as date) as date from ({empty_select()})"
