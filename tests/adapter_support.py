"""Helpers for the adapter tests: run lines through one adapter and the shared transform."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.lib.ingest import connect
from pipelines.lib.transform import transform_lines
from schemas.adapters import BY_NAME, Adapter
from tests.conftest import HASH_KEY


@cache
def transform_connection() -> duckdb.DuckDBPyConnection:
    """One transform connection per test process: the reference tables and macros are installed once."""
    return connect()


def adapt(
    name: str, *lines: dict[str, Any] | str, source_uri: str = "file:///logs/t.jsonl", adapter: Adapter | None = None
) -> list[dict[str, Any]]:
    """Rows (records with `item`, `ignored` and `reason`) of `lines` read by adapter `name` (or by `adapter`, one
    of its forms bound to a file by its `configure`), in line order."""
    raw = [(json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines]
    table = pa.table(
        {"source_line": pa.array(range(1, len(raw) + 1), pa.int64()), "raw": pa.array(raw, pa.large_string())}
    )
    rows = transform_lines(transform_connection(), adapter or BY_NAME[name], table, source_uri, HASH_KEY).to_pylist()
    return sorted(rows, key=lambda r: (r["source_line"], r["attempt"] or 0, r["item"] or ""))


def one(name: str, line: dict[str, Any] | str) -> dict[str, Any]:
    """The single row of a one-record line."""
    [row] = adapt(name, line)
    return row


def valid(row: dict[str, Any]) -> dict[str, Any]:
    """Assert the row is a valid record and return it."""
    assert row["reason"] is None, row["reason"]
    assert row["ignored"] is None
    return row
