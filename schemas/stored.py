"""The stored columns of `requests` as readers need them, without the pydantic model.

Reading the warehouse needs two facts of each field of the record: its DuckDB type (an empty warehouse still has
a `requests` view with every column) and, for a field with a default, the value that fills it in partitions
written before it existed (`upgraded_select`). Both are rendered from `schemas.record` by
`schemas.bulk.render_stored_columns` into the committed file `stored_columns.json` (`gatewaylens schema` writes
it; tests/test_schema.py fails when it is out of date), so an analyst's `gatewaylens sql` reads them from a small
JSON file instead of importing pydantic and pyarrow and building the record model first (about 0.3 s per
command).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STORED_COLUMNS_PATH = Path(__file__).parent / "stored_columns.json"


@dataclass(frozen=True)
class StoredColumn:
    """One column of the stored records: its name, DuckDB type and, when the field has a default, the SQL of the
    value that stands in for it in older partitions (`fill`)."""

    name: str
    type: str
    fill: str | None = None


@cache
def stored_columns() -> tuple[StoredColumn, ...]:
    """The stored columns, in record order."""
    return tuple(StoredColumn(**column) for column in json.loads(STORED_COLUMNS_PATH.read_text()))


def upgraded_select(present: list[str], query: str) -> str:
    """`query` (over stored records) with every field that has a default filled in: a column that files
    written before the field existed lack is added with its default, and NULLs from such files (read with
    `union_by_name`) become the default. So a warehouse written by an older version reads as a current one."""
    filled = [column for column in stored_columns() if column.fill is not None]
    replace = [f"coalesce({c.name}, {c.fill}) AS {c.name}" for c in filled if c.name in present]
    added = [f"{c.fill} AS {c.name}" for c in filled if c.name not in present]
    select = "*" + (f" REPLACE ({', '.join(replace)})" if replace else "")
    return f"SELECT {', '.join([select, *added])} FROM ({query})"


def empty_select() -> str:
    """A query of no rows with every stored column, typed (the records of a warehouse that stores none)."""
    columns = ", ".join(f"CAST(NULL AS {column.type}) AS {column.name}" for column in stored_columns())
    return f"SELECT {columns} WHERE false"
