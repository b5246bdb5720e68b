"""`gatewaylens export`: one mart out of the warehouse database, as CSV or Parquet, for a range of days.

The mart is read through the analyst's read-only connection and written by this process (the connection itself
may not write files). A range applies to the mart's time column, the first column of its grain that is a date
or timestamp (`day`, `week`, `month`, `hour`, `minute`, ...): a week or month is kept when it overlaps the range
(its start is on or before `--to`, and its start is on or after the start of the period holding `--from`).
Marts without a time column (per app, per model) are exported whole, and a range is refused for them.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import PurePosixPath
from typing import Any

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipelines.lib.sqlmodels.project import load_project

_PERIODS = {"week": "week", "month": "month", "hour": "hour", "minute": "minute"}


class ExportError(ValueError):
    """The mart or the range cannot be exported (unknown mart, a range on a mart without a time column)."""


def time_column(
    con: duckdb.DuckDBPyConnection, mart: str, grain: tuple[str, ...], placed_by: str | None = None
) -> str | None:
    """The first grain column whose type is a date or a timestamp, else the column the model says places a row
    (`placed_by`: a burst, one row per episode, by its `started_at`); None for a mart without one (the model mix
    or the traffic profile of an app, whose first-seen time is a figure, not the row's place in time)."""
    types = {name: str(kind) for name, kind in zip(*_describe(con, mart), strict=True)}
    return next((c for c in grain if types.get(c, "").startswith(("DATE", "TIMESTAMP"))), placed_by)


def _describe(con: duckdb.DuckDBPyConnection, mart: str) -> tuple[list[str], list[Any]]:
    relation = con.table(mart)
    return relation.columns, relation.types


def mart_rows(
    con: duckdb.DuckDBPyConnection, mart: str, start: dt.date | None = None, end: dt.date | None = None
) -> pa.Table:
    """The mart's rows (in its grain's order), limited to the days from `start` to `end` when given."""
    project = load_project()
    model = project.models.get(mart)
    if model is None or model.layer != "marts":
        names = ", ".join(sorted(m.name for m in project.models.values() if m.layer == "marts"))
        raise ExportError(f"no mart named {mart!r}; marts: {names}")
    grain = model.grain_columns
    column = time_column(con, mart, grain, model.placed_by)
    if (start or end) and column is None:
        raise ExportError(f"{mart} has no time column (grain: {model.grain}): export it without --from/--to")
    query = f"select * from {mart}"
    params: list[Any] = []
    if column is not None and (start or end):
        floor = f"date_trunc('{_PERIODS.get(column, 'day')}', ?::date)" if column in _PERIODS else "?::date"
        query += f" where {column} >= {floor} and {column} < ?::date + 1"
        params = [start or dt.date.min, end or dt.date(9999, 12, 30)]
    order = ", ".join(grain)
    return con.sql(f"{query} order by {order}", params=params).to_arrow_table()


#: The name endings of each format's files, to refuse an `--out` whose name says another format than it receives.
FORMAT_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Compression endings: neither format is written compressed (Parquet compresses its columns inside the file).
COMPRESSION_SUFFIXES = (".gz", ".zst", ".bz2", ".xz", ".zip")


def check_out(out: str, fmt: str, storage_options: dict[str, Any] | None = None) -> bool:
    """Whether writing `fmt` to `out` replaces a file there; ExportError when `out` is a folder, or its name says
    another format (`x.parquet` for CSV) or a compression that the export does not write."""
    suffix = PurePosixPath(out).suffix.lower()
    if FORMAT_SUFFIXES.get(suffix, fmt) != fmt:
        raise ExportError(f"--out {out} names a {FORMAT_SUFFIXES[suffix]} file, but --format is {fmt}")
    if suffix in COMPRESSION_SUFFIXES:
        raise ExportError(f"--out {out} names a compressed file ({suffix}), but the export writes it uncompressed")
    fs, path = fsspec.core.url_to_fs(out, **(storage_options or {}))
    if fs.isdir(path):
        raise ExportError(f"--out {out} is a folder: give a file name")
    return bool(fs.exists(path))


def export_mart(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    start: dt.date | None,
    end: dt.date | None,
    fmt: str,
    out: str | None,
    storage_options: dict[str, Any] | None = None,
) -> int:
    """Write the mart (see mart_rows) as `fmt` to `out` (a path or fsspec URL; CSV may go to stdout). Returns the
    number of rows written."""
    table = mart_rows(con, mart, start, end)
    if out is None:
        sys.stdout.write(_csv(table))
        return table.num_rows
    with fsspec.open(out, "wb", **(storage_options or {})) as handle:
        if fmt == "parquet":
            pq.write_table(table, handle, compression="zstd")
        else:
            handle.write(_csv(table).encode())
    return table.num_rows


def _csv(table: pa.Table) -> str:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    return buffer.getvalue().decode()
