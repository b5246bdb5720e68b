"""Ctrl-C in the forms it reaches the code, so that a handler that goes on after an error never goes on after it.

Python raises KeyboardInterrupt when SIGINT arrives while Python code runs. While a DuckDB statement runs, DuckDB
takes the signal and stops the statement instead: duckdb 2.0 then raises a plain `RuntimeError("Query
interrupted")` (checked with duckdb 2.0.1: SIGINT during `execute`, `sql(...).fetchall()` and a `copy`), and a
statement stopped by `con.interrupt()` raises `duckdb.InterruptException`. Neither is a KeyboardInterrupt, and
Python's own signal flag is cleared by then: a handler that catches `Exception` to go on with the next file or
statement (a file's failure, a pack's fallback) would swallow the user's Ctrl-C, and the run would finish as if
nothing had been asked. Such a handler asks `interrupted` first and re-raises.
"""

from __future__ import annotations

import duckdb

#: The message of the RuntimeError DuckDB raises for a statement SIGINT stopped.
QUERY_INTERRUPTED = "Query interrupted"


def interrupted(err: BaseException) -> bool:
    """Whether `err` is Ctrl-C (or `con.interrupt()`): a KeyboardInterrupt or a DuckDB statement it stopped."""
    if isinstance(err, KeyboardInterrupt | duckdb.InterruptException):
        return True
    return type(err) is RuntimeError and str(err) == QUERY_INTERRUPTED
