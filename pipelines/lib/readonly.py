"""The analyst's connection to the warehouse database: read-only, confined to the warehouse, offline.

`gatewaylens sql`, `gatewaylens report` and the `dashboards` asset open the database with
`sqlmodels.database.open_database(warehouse, read_only=True)`, which calls `confine` before anything else runs on it.
What each layer stops, as measured on the pinned duckdb (2.0.1, see tests/test_readonly.py):

* The read-only attach: CREATE, INSERT, DROP, ... on the database ("attached in read-only mode").
* `allowed_directories` = the warehouse root (on an object store its URI prefix), with
  `enable_external_access = false`: every other file or URL is refused, for reading and writing alike
  (`read_text('/etc/passwd')`, `/proc/self/environ`, COPY TO /tmp, ATTACH of another file, EXPORT DATABASE
  elsewhere, https://). `..` is resolved before the check. The check is a prefix check on the path string, so it
  holds for an fsspec filesystem registered on the connection too (s3:// through `register_filesystem`); a
  relative path is checked as resolved against the process's working directory, so one only passes when the
  working directory is inside the warehouse (`gatewaylens sql` runs there). DuckDB adds its own temporary
  directory (`gatewaylens.duckdb.tmp` next to the database) to the list.
* `autoinstall_known_extensions` and `autoload_known_extensions` off: no query downloads or loads an extension
  behind the analyst's back; INSTALL and LOAD fail anyway with external access off.
* `python_enable_replacements = false`: a missing table is never a scan of a Python object of that name
  (external access off stops those already; the setting says so to code that checks it, such as the figures).
* `lock_configuration = true`, set last: every later SET or RESET fails, so a query cannot undo the above.

What the settings do not stop: writing *inside* an allowed directory. DuckDB's check does not tell reading from
writing, so `COPY ... TO '<warehouse>/requests/date=.../data.parquet'` would overwrite a stored partition (on
s3:// as well) and `EXPORT DATABASE '<warehouse>/x'` write into the warehouse. (`allowed_paths`, a list of single
files, is no help: a warehouse gains partitions.) So an analyst's SQL also passes `check_query`: exactly one SELECT
statement, by DuckDB's own parser (FROM-first queries, WITH, VALUES, SUMMARIZE, DESCRIBE and SHOW are SELECTs;
COPY, EXPORT, ATTACH, INSTALL, LOAD, SET, PRAGMA, CREATE, EXPLAIN are not). The dashboards run only their own
SELECTs, so they need the settings alone.
"""

from __future__ import annotations

import duckdb

from pipelines.lib import duckdb_settings
from pipelines.lib.storage import Warehouse

_READ_ONLY_TYPES = frozenset({duckdb.StatementType.SELECT})


class ReadOnlyQueryError(ValueError):
    """SQL that an analyst connection does not run: anything but exactly one SELECT."""


def allowed_directories(warehouse: Warehouse) -> list[str]:
    """What an analyst connection may read: the warehouse root (on an object store its URI prefix), and, when it
    holds glob characters, the escaped form DuckDB is given (`Warehouse.duckdb_path`): DuckDB checks the path as
    written, then each file its glob finds."""
    root = warehouse.root if warehouse.is_local else warehouse.uri()
    return sorted({root + "/", warehouse.duckdb_path(warehouse.root) + "/"})


def confine(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> None:
    """Make `con` (opened read-only) read only inside `warehouse`, never reach the network or load an extension,
    and lock its settings. The settings belong to the database instance, which DuckDB shares between
    connections of one process to the same file: a second connection finds it confined and locked already."""
    if duckdb_settings.current(con, "lock_configuration"):
        if duckdb_settings.current(con, "enable_external_access"):
            raise RuntimeError("the database's settings are locked with external access on: cannot confine it")
        return
    con.execute("set global TimeZone = 'UTC'")  # global: a later connection to the locked instance cannot set it
    if warehouse.is_local:
        con.execute("set file_search_path = ?", [warehouse.root])
    con.execute("set allowed_directories = ?", [allowed_directories(warehouse)])
    con.execute("set enable_external_access = false")
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set autoload_known_extensions = false")
    con.execute("set python_enable_replacements = false")  # off with external access anyway; now it says so
    con.execute("set lock_configuration = true")


def check_query(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Raise ReadOnlyQueryError unless `sql` is exactly one SELECT (parsed, not run); return the SELECT without
    the semicolons and comments after it, so that it can be wrapped in another query (`gatewaylens sql` formats
    its result with DuckDB: `select 1; -- note` would not parse as a subquery)."""
    statements = con.extract_statements(sql)
    if not statements:
        raise ReadOnlyQueryError("no statement to run: the query is empty or only comments")
    if len(statements) != 1:
        raise ReadOnlyQueryError(f"one query at a time, please: this is {len(statements)} statements")
    if statements[0].type not in _READ_ONLY_TYPES:
        raise ReadOnlyQueryError(
            f"the warehouse is read-only here: {_verb(statements[0])} statements are not run "
            "(SELECT, FROM, WITH, SUMMARIZE, DESCRIBE and SHOW are)"
        )
    return _without_trailer(statements[0].query)


def _without_trailer(sql: str) -> str:
    """`sql` up to the end of its last token that is neither a semicolon nor a comment."""
    end = len(sql)
    for position, kind in reversed(duckdb.tokenize(sql)):
        if kind != duckdb.token_type.comment and not sql.startswith(";", position):
            break
        end = position
    return sql[:end].rstrip()


def _verb(statement: duckdb.Statement) -> str:
    """The statement's first word (INSTALL and LOAD share a type), else the name of its type; a statement opening
    with WITH is named by its type (`WITH ... INSERT`: an INSERT, not a query)."""
    words = statement.query.split(None, 1)
    if words and words[0].isalpha() and words[0].upper() != "WITH":
        return words[0].upper()
    return statement.type.name
