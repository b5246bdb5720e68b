"""A DuckDB connection's settings read, and set for one block only: the ingest runs some statements under its own
settings (the dedupe under a memory limit, the transform with an optimizer off) on a connection the others share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


def current(con: duckdb.DuckDBPyConnection, name: str) -> object:
    """The connection's value of setting `name` (as DuckDB shows it)."""
    return con.execute("select current_setting(?)", [name]).fetchall()[0][0]


@contextmanager
def scoped(con: duckdb.DuckDBPyConnection, name: str, value: object) -> Iterator[None]:
    """Run the block with setting `name` at `value`, then put the connection's own value back (as DuckDB shows
    it: a memory limit rounded to a tenth of its unit), whether the block ends or raises."""
    previous = current(con, name)
    con.execute(f"set {name} = ?", [value])
    try:
        yield
    finally:
        con.execute(f"set {name} = ?", [previous])
