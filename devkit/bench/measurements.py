"""The measured steps of a benchmark run. Each runs in a child process of its own (`runs.in_child`): it times its
own work (after imports) and returns a dict of seconds, rows, bytes and what else it counts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from schemas.sqltext import literal

if TYPE_CHECKING:
    import duckdb
    import polars as pl

SIMULATE_PIECE_ROWS = 2_000_000  # rows simulated per call, to bound the simulator's memory
OVERSAMPLE = 1.03  # the simulator yields ~0.99 rows per requested request: simulate a few more, sample N
HASH_KEY = b"gatewaylens-bench"
ROOT = Path(__file__).resolve().parents[2]


def peak_rss_mib() -> float:
    """The peak resident memory of this process so far (MiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def scratch_tempdir(workdir: str) -> str:
    """Temporary files of the step (the ingest's staging, DuckDB spill) go under the workdir, on local disk;
    that folder."""
    path = os.path.join(workdir, "tmp")
    os.makedirs(path, exist_ok=True)
    tempfile.tempdir = path
    return path


def step_simulate(out: str, start: dt.date, days: int, rows: int, seed: int) -> dict[str, Any]:
    """Simulate `days` days from `start` and write exactly `rows` canonical lines to `out`, in pieces of at
    most SIMULATE_PIECE_ROWS rows (each its own simulation with its own seed: request ids never collide)."""
    from devkit.simulate.formats.canonical import write_canonical

    t0 = time.perf_counter()
    written = 0
    parts = []
    for piece in simulation_pieces(start, days, rows):
        frame = simulate_piece(piece, rows / days, seed)
        part = f"{out}.part{piece.number}"
        write_canonical(frame, part, compression=None)
        parts.append(part)
        written += frame.height
        del frame
    concatenate(parts, out)
    return {"seconds": time.perf_counter() - t0, "rows": written, "bytes": os.path.getsize(out)}


class Piece(NamedTuple):
    """One simulation of a simulated file: its number, first day, days and rows."""

    number: int
    start: dt.date
    days: int
    rows: int


def simulation_pieces(start: dt.date, days: int, rows: int) -> list[Piece]:
    """Whole days of at most about SIMULATE_PIECE_ROWS rows each (to bound the simulator's memory) whose rows
    add up to exactly `rows`."""
    per_day = rows / days
    piece_days = max(1, min(days, int(SIMULATE_PIECE_ROWS // max(per_day, 1))))
    pieces, planned = [], 0
    for number, first in enumerate(range(0, days, piece_days)):
        span = min(piece_days, days - first)
        want = rows - planned if first + span >= days else round(per_day * span)
        pieces.append(Piece(number, start + dt.timedelta(days=first), span, want))
        planned += want
    return pieces


def simulate_piece(piece: Piece, per_day: float, seed: int) -> pl.DataFrame:
    """The piece's simulated attempts, exactly `piece.rows` of them (its own seed: `seed * 1000 + number`)."""
    from devkit.simulate import simulate

    factor = OVERSAMPLE
    while (
        frame := simulate(piece.start, piece.days, math.ceil(per_day * factor), seed * 1000 + piece.number)
    ).height < piece.rows:
        factor *= 1.1  # a short piece may come out below the mean (batch jobs run on random days)
    # an even sample keeps every hour of every day (head() would cut the end of the last day)
    return frame.with_row_index("_i").sample(n=piece.rows, seed=piece.number).sort("_i").drop("_i")


def concatenate(parts: list[str], out: str) -> None:
    """The files `parts` joined, in order, into `out`; the parts removed."""
    with open(out, "wb") as target:
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, target, 16 * 1024 * 1024)
            os.remove(part)


def step_simulate_inputs(files: list[tuple[str, dt.date, int, int, int]]) -> dict[str, Any]:
    """`step_simulate` for each (out, start, days, rows, seed), in one process."""
    t0 = time.perf_counter()
    inputs = [step_simulate(*args) for args in files]
    return {"seconds": time.perf_counter() - t0, "rows": inputs[0]["rows"], "inputs": inputs, "columns": _columns()}


def _columns() -> dict[str, str]:
    """The canonical input keys and their DuckDB types (what `simulate` writes)."""
    import polars as pl

    from devkit.simulate.records import COLUMNS

    types = {pl.String(): "VARCHAR", pl.Int64(): "BIGINT", pl.Float64(): "DOUBLE", pl.Boolean(): "BOOLEAN"}
    return {k: "TIMESTAMPTZ" if isinstance(v, pl.Datetime) else types[v] for k, v in COLUMNS.items()}


def step_baseline(source: str, out: str, columns: dict[str, str], workdir: str) -> dict[str, Any]:
    """Bare DuckDB: read_json with explicit columns -> COPY to zstd Parquet partitioned by UTC day."""
    con = bare_connection(workdir)
    t0 = time.perf_counter()
    con.execute(baseline_statement(columns, out), {"source": source})
    seconds = time.perf_counter() - t0
    files = os.path.join(out, "*", "*.parquet")
    rows = con.execute("select count(*) from read_parquet($p)", {"p": files}).fetchall()[0][0]
    return {"seconds": seconds, "rows": rows, "bytes": _tree_bytes(out)}


def bare_connection(workdir: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection as the bare baselines use it: a UTC session, spilling under the workdir."""
    import duckdb

    scratch_tempdir(workdir)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set temp_directory = ?", [os.path.join(workdir, "tmp", "duckdb")])
    return con


def baseline_statement(columns: dict[str, str], out: str) -> str:
    """The baseline's one statement (the file bound as `$source`): read_json with the canonical `columns`
    given explicitly, COPY to zstd Parquet under `out`, partitioned by UTC day (the session's TimeZone: UTC)."""
    return f"""copy (
            select *, strftime(created_at, '%Y-%m-%d') as date
            from read_json($source, format = 'newline_delimited', columns = {columns_literal(columns)})
        ) to {literal(out)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))"""


def step_ingest(source: str, warehouse_dir: str, workdir: str) -> dict[str, Any]:
    """`gatewaylens` ingest of `source` into the warehouse at `warehouse_dir`, with seconds per phase."""
    from pipelines.lib import ingest as ingest_module
    from pipelines.lib.storage import Warehouse

    scratch_tempdir(workdir)
    phases = _instrument_ingest(ingest_module)
    t0 = time.perf_counter()
    report = ingest_module.ingest([source], Warehouse(warehouse_dir), hash_key=HASH_KEY)
    seconds = time.perf_counter() - t0
    summary = report.summary()
    return {
        "seconds": seconds,
        "rows": summary["written"],
        "lines": summary["lines"],
        "quarantined": summary["quarantined"],
        "duplicates": summary["duplicates"],
        "bytes": summary["bytes_written"],
        "phases": {name: round(value, 3) for name, value in phases.items()},
    }


def _instrument_ingest(module: Any) -> dict[str, float]:
    """Time the ingest's phases by wrapping its functions in this process only (the module is not changed):
    stage_total (the staging of each file, whichever path reads it), within it scan (the bulk path's byte scan;
    for a local file on a thread alongside the parse, so that it overlaps the rest of stage_total) and transform
    (the adapter + validation statement per batch, written to staging), account and rejects (reading a batch's
    staged rows back); find_losers (dedupe), commit_group (merge, sort, write each day), and within it
    write_partition_thread_s (pyarrow's write of each day, summed over the writer threads)."""
    import threading

    phases: dict[str, float] = {}
    lock = threading.Lock()  # partitions are written by a thread pool

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with lock:
                    phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
                    # the process's peak so far, after this phase last ran: where the peak was reached
                    phases[f"peak_rss_mib_after_{name}"] = round(peak_rss_mib(), 1)

        return wrapper

    stager, commit = module.stage.FileStager, module.commit  # each function wrapped where it is looked up
    stager.stage_file = timed("stage_total", stager.stage_file)
    stager.release = timed("stage_total", stager.release)  # small files staged together, after their reads
    module.stage.bulk.scan = timed("scan", module.stage.bulk.scan)
    stager._copy = timed("transform", stager._copy)
    stager._account = timed("account", stager._account)
    stager._reasons = timed("rejects", stager._reasons)
    commit.find_losers = timed("find_losers", commit.find_losers)
    commit._commit_group = timed("commit_group", commit._commit_group)
    commit._write_partition = timed("write_partition_thread_s", commit._write_partition)
    return phases


def step_naive(source: str, out: str, rows: int, workdir: str) -> dict[str, Any]:
    """Per line: map the input keys onto the record by string surgery, `RequestRecord.model_validate_json`,
    then one Arrow table and Parquet partitioned by day. The first `rows` lines of `source`."""
    import hashlib
    import hmac

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pydantic import ValidationError

    from schemas.bulk import arrow_schema
    from schemas.record import RequestRecord

    scratch_tempdir(workdir)
    user = re.compile(r'"user_id":(null|"((?:[^"\\]|\\.)*)")')
    lineage = ',"source_format":"canonical","source_uri":' + json.dumps(source) + ',"source_line":{}}}'
    t0 = time.perf_counter()
    records, rejected = [], 0
    with open(source, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if number > rows:
                break
            line = line.rstrip("\r\n")
            match = user.search(line)
            if match:
                raw = match.group(2)
                digest = None if raw is None else hmac.new(HASH_KEY, json.loads(f'"{raw}"').encode(), hashlib.sha256)
                value = "null" if digest is None else f'"{digest.hexdigest()}"'
                line = f'{line[: match.start()]}"user_hash":{value}{line[match.end() :]}'
            line = line[: line.rindex("}")] + lineage.format(number)
            try:
                records.append(RequestRecord.model_validate_json(line).model_dump())
            except ValidationError:
                rejected += 1
    parsed = time.perf_counter() - t0
    table = pa.Table.from_pylist(records, schema=arrow_schema())
    table = table.append_column("date", pc.strftime(table.column("created_at"), "%Y-%m-%d"))
    pq.write_to_dataset(table, out, partition_cols=["date"], compression="zstd")
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rows": table.num_rows,
        "rejected": rejected,
        "bytes": _tree_bytes(out),
        "phases": {"parse_validate": round(parsed, 3), "arrow_parquet": round(seconds - parsed, 3)},
    }


def step_setup_history(source: str, warehouse_dir: str, workdir: str) -> dict[str, Any]:
    """Ingest `source` into the warehouse, then build every model from scratch (preparation, one process)."""
    return {"ingest": step_ingest(source, warehouse_dir, workdir), "build": step_build(warehouse_dir, True)}


def step_build(warehouse_dir: str, full_refresh: bool) -> dict[str, Any]:
    """Build every seed and SQL model (as `gatewaylens build` does); seconds per model."""
    from pipelines.lib.sqlmodels.database import database_path
    from pipelines.lib.sqlmodels.engine import open_build
    from pipelines.lib.sqlmodels.parameters import Parameters
    from pipelines.lib.sqlmodels.project import load_project
    from pipelines.lib.storage import Warehouse

    warehouse = Warehouse(warehouse_dir)
    t0 = time.perf_counter()
    per_model: dict[str, float] = {}
    modes: dict[str, str] = {}
    days: dict[str, int] = {}  # days recomputed, per incremental model
    with open_build(warehouse, load_project(), Parameters(), full_refresh=full_refresh) as builder:
        m0 = time.perf_counter()
        for result in builder.build():
            if result.name in builder.project.models:
                per_model[result.name] = round(time.perf_counter() - m0, 3)
                modes[result.name] = result.mode
                if result.days:
                    days[result.name] = len(result.days)
            m0 = time.perf_counter()
        seconds = time.perf_counter() - t0
        rows = builder.con.execute("select count(*) from requests").fetchall()[0][0]
    return {
        "seconds": seconds,
        "rows": rows,
        "models": len(per_model),
        "per_model": per_model,
        "modes": modes,
        "days_recomputed": days,
        "bytes": os.path.getsize(database_path(warehouse)),
    }


def step_report(warehouse_dir: str, out: str) -> dict[str, Any]:
    """Render the static report (monthly grain, the whole period) from the built database and write it."""
    from dashboards import figures, report
    from pipelines.lib.sqlmodels.database import open_database
    from pipelines.lib.storage import Warehouse

    store = Warehouse(warehouse_dir)
    t0 = time.perf_counter()
    with open_database(store, read_only=True) as con:
        page = report.render_report(con, figures.Range(None, None, "month"), warehouse=store.uri())
    target = Warehouse(out)
    report.write_report(page, target, target.path(report.REPORT_FILE))
    return {"seconds": time.perf_counter() - t0, "status": "ok", "bytes": len(page.html.encode())}


def _tree_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def columns_literal(columns: dict[str, str]) -> str:
    """`columns` (key -> DuckDB type) as the struct literal read_json's `columns` takes."""
    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in columns.items()) + "}"
