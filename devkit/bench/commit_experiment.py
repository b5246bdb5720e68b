"""Experiment behind an optimization idea for the ingest's commit phase (not part of `make bench`).

    .venv/bin/python -m devkit.bench.commit_experiment WAREHOUSE_DIR [--runs 3]

Takes the stored records of an ingested warehouse (e.g. `make bench ... --keep`, or `gatewaylens ingest`) as
if they were freshly staged, and writes them as date partitions three ways, each timed (best of `--runs`):

* `arrow`: close to what `pipelines.lib.ingest.commit._commit_group` does today: one DuckDB query (the union,
  unsorted) -> Arrow table -> each day's rows put in storage order (`commit.storage_order`) and written by
  `pyarrow.parquet.write_table` on a thread pool with the ingest's own Parquet options (the commit takes the
  sorted rows into its writer one row group at a time, for memory);
* `duckdb_sorted`: one DuckDB `COPY (... order by date, storage order) TO ... (PARTITION_BY (date), zstd)`;
* `duckdb_unsorted`: the same COPY without the sort (what the bare baseline does).

Prints seconds, rows/s and output bytes; nothing in the warehouse changes (outputs go to a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.lib.ingest.commit import SORT_KEYS, _parquet_options, storage_order
from pipelines.lib.ingest.stage import RECORD_COLUMNS
from schemas.bulk import arrow_schema


def _size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def arrow(con: duckdb.DuckDBPyConnection, source: str, out: str) -> None:
    rows = con.sql(
        f"select {RECORD_COLUMNS}, date from read_parquet(?, hive_partitioning = true, "
        "hive_types = {'date': VARCHAR})",
        params=[source],
    ).to_arrow_table()
    dates, body = rows.column("date"), rows.drop_columns(["date"])

    def write(day: str) -> None:
        table = storage_order(body.filter(pc.equal(dates, day)))
        os.makedirs(f"{out}/date={day}", exist_ok=True)
        pq.write_table(table.cast(arrow_schema()), f"{out}/date={day}/data.parquet", **_parquet_options())

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(write, sorted(set(dates.to_pylist()))))


def duckdb_copy(con: duckdb.DuckDBPyConnection, source: str, out: str, sort: bool) -> None:
    order = f"order by date, {', '.join(SORT_KEYS)}" if sort else ""
    con.execute(
        f"""copy (
            select {RECORD_COLUMNS}, date
            from read_parquet($source, hive_partitioning = true, hive_types = {{'date': VARCHAR}}) {order}
        ) to '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))""",
        {"source": source},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    source = os.path.join(args.warehouse, "requests", "date=*", "data.parquet")
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set preserve_insertion_order = false")
    rows = con.execute("select count(*) from read_parquet(?)", [source]).fetchall()[0][0]
    variants = {
        "arrow": lambda out: arrow(con, source, out),
        "duckdb_sorted": lambda out: duckdb_copy(con, source, out, True),
        "duckdb_unsorted": lambda out: duckdb_copy(con, source, out, False),
    }
    with tempfile.TemporaryDirectory(prefix="gatewaylens-commit-") as scratch:
        for name, write in variants.items():
            best, size = float("inf"), 0
            for number in range(args.runs):
                out = os.path.join(scratch, f"{name}-{number}")
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                write(out)
                best = min(best, time.perf_counter() - t0)
                size = _size(out)
                shutil.rmtree(out)
            print(f"{name:16} {best:7.2f} s  {rows / best:>10,.0f} rows/s  {size / 2**20:7.1f} MiB  load {load:.2f}")


if __name__ == "__main__":
    main()
