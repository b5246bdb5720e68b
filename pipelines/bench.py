"""Benchmarks: the ingest and the SQL models against a bare DuckDB baseline, on one simulated file.

    python -m pipelines.bench [--rows 2000000] [--runs 3] [--workdir DIR] [--naive-rows 200000]

One run simulates a canonical JSON-lines file of `--rows` rows over 30 days (plus, for the incremental
steps, 30 earlier days and one later day of the same rows per day), then measures on that same file:

1. `baseline`: DuckDB `read_json` with the canonical keys and types given explicitly, then
   `COPY ... (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))`: no validation, no dedupe.
2. `ingest`: `pipelines.lib.ingest.ingest` of the file into an empty warehouse (validation, quarantine,
   dedupe, atomic day writes, ledger), with the time split by phase.
3. `naive`: what one writes without gatewaylens, on the first `--naive-rows` lines: per line, the input
   keys mapped onto the record (`user_id` replaced by its HMAC `user_hash`, the three lineage fields
   appended) by string surgery, `RequestRecord.model_validate_json`, then one Arrow table, then Parquet
   partitioned by day. No normalization (provider, error class), no dedupe, no quarantine file.
4. `full_build`: every seed and SQL model built from scratch over the ingested 30 days.
5. `incremental_{30,60}d`: one new day ingested, then the models built incrementally, on top of a 30-day and
   a 60-day warehouse (each run on a fresh copy); ingest and build are separate processes.
6. `report`: the static report (`dashboards.report`), rendered from the built database and written.

Once per run, `profile` (not timed as a step) runs DuckDB's profiler over the ingest's transform statement on
the file's first batch and times its JSON parse done several ways (`step_profile`).

Every measured run is its own spawned process, so `ru_maxrss` of the child is the peak resident memory of
that step alone (it includes the interpreter and libraries: `rss_after_imports_mib`). Times are wall
clock around the step's work only, after imports. The load average is recorded next to every run.

Results: a JSON file in `--results-dir` (default `benchmarks/results/`) and, unless `--markdown ''`, a
section of `BENCHMARKS.md` between markers per row count, replaced by a rerun at the same size.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from schemas.sqltext import literal

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROWS = 2_000_000
DEFAULT_RUNS = 3
DEFAULT_NAIVE_ROWS = 200_000
HISTORY_DAYS = 30
START = dt.date(2025, 3, 3)  # a Monday: the new day (START + 60) is a Friday, a full weekday
SIMULATE_PIECE_ROWS = 2_000_000  # rows simulated per call, to bound the simulator's memory
OVERSAMPLE = 1.03  # the simulator yields ~0.99 rows per requested request: simulate a few more, sample N
HASH_KEY = b"gatewaylens-bench"
BEGIN = "<!-- bench:{rows}:begin -->"
END = "<!-- bench:{rows}:end -->"
APPEND = "<!-- bench:new sections go here -->"

# ----------------------------------------------------------------------------
# Child processes
# ----------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `fn(*args)` in a fresh spawned process; its result plus the process's peak RSS and load average."""
    load_before = os.getloadavg()[0]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(_child_main, fn, *args).result()
    result["load_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def _child_main(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Import what the steps use, note the memory that takes (the same floor under every step), run the step."""
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from pipelines.lib import ingest, models  # noqa: F401
    from schemas.record import RequestRecord  # noqa: F401

    floor = _peak_rss_mib()
    result = fn(*args)
    result["peak_rss_mib"] = round(_peak_rss_mib(), 1)
    result["rss_after_imports_mib"] = round(floor, 1)
    return result


def _scratch_tempdir(workdir: str) -> None:
    """Temporary files of the step (the ingest's staging, DuckDB spill) go under the workdir, on local disk."""
    path = os.path.join(workdir, "tmp")
    os.makedirs(path, exist_ok=True)
    tempfile.tempdir = path


# ----------------------------------------------------------------------------
# Steps (each runs in a child process)
# ----------------------------------------------------------------------------


def step_simulate(out: str, start: dt.date, days: int, rows: int, seed: int) -> dict[str, Any]:
    """Simulate `days` days from `start` and write exactly `rows` canonical lines to `out`, in pieces of at
    most SIMULATE_PIECE_ROWS rows (each its own simulation with its own seed: request ids never collide)."""
    from devkit.simulate import simulate
    from devkit.simulate.formats.canonical import write_canonical

    t0 = time.perf_counter()
    per_day = rows / days
    piece_days = max(1, min(days, int(SIMULATE_PIECE_ROWS // max(per_day, 1))))
    written = 0
    parts = []
    for number, first in enumerate(range(0, days, piece_days)):
        span = min(piece_days, days - first)
        want = rows - written if first + span >= days else round(per_day * span)
        piece_start = start + dt.timedelta(days=first)
        factor = OVERSAMPLE
        while (frame := simulate(piece_start, span, math.ceil(per_day * factor), seed * 1000 + number)).height < want:
            factor *= 1.1  # a short piece may come out below the mean (batch jobs run on random days)
        # an even sample keeps every hour of every day (head() would cut the end of the last day)
        frame = frame.with_row_index("_i").sample(n=want, seed=number).sort("_i").drop("_i")
        part = f"{out}.part{number}"
        write_canonical(frame, part, compression=None)
        parts.append(part)
        written += frame.height
        del frame
    with open(out, "wb") as target:
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, target, 16 * 1024 * 1024)
            os.remove(part)
    return {"seconds": time.perf_counter() - t0, "rows": written, "bytes": os.path.getsize(out)}


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
    import duckdb

    _scratch_tempdir(workdir)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set temp_directory = ?", [os.path.join(workdir, "tmp", "duckdb")])
    t0 = time.perf_counter()
    con.execute(
        f"""copy (
            select *, strftime(created_at, '%Y-%m-%d') as date
            from read_json($source, format = 'newline_delimited', columns = {_struct_literal(columns)})
        ) to {literal(out)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date))""",
        {"source": source},
    )
    seconds = time.perf_counter() - t0
    files = os.path.join(out, "*", "*.parquet")
    rows = con.execute("select count(*) from read_parquet($p)", {"p": files}).fetchall()[0][0]
    return {"seconds": seconds, "rows": rows, "bytes": _tree_bytes(out)}


def step_ingest(source: str, warehouse_dir: str, workdir: str) -> dict[str, Any]:
    """`gatewaylens` ingest of `source` into the warehouse at `warehouse_dir`, with seconds per phase."""
    from pipelines.lib import ingest as ingest_module
    from pipelines.lib.storage import Warehouse

    _scratch_tempdir(workdir)
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
    transform (the adapter + validation statement per batch), account and rejects (reading a batch's staged
    rows back), find_losers (dedupe), commit_group (merge, sort, write each day), and within it
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
                    phases[f"peak_rss_mib_after_{name}"] = round(_peak_rss_mib(), 1)

        return wrapper

    stager = module._Stager
    stager._transform = timed("stage_total", stager._transform)
    stager._account = timed("account", stager._account)
    stager._rejects = timed("rejects", stager._rejects)
    module._find_losers = timed("find_losers", module._find_losers)
    module._commit_group = timed("commit_group", module._commit_group)
    module._write_partition = timed("write_partition_thread_s", module._write_partition)
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

    _scratch_tempdir(workdir)
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
    from pipelines.lib import models
    from pipelines.lib.storage import Warehouse

    warehouse = Warehouse(warehouse_dir)
    t0 = time.perf_counter()
    project = models.load_project()
    per_model: dict[str, float] = {}
    modes: dict[str, str] = {}
    days: dict[str, int] = {}  # days recomputed, per incremental model
    with models.open_database(warehouse) as con:
        models.install(con, project, warehouse, models.Parameters())
        for name, path in project.seeds.items():
            models.build_seed(con, name, path)
        for model in project.order():
            m0 = time.perf_counter()
            result = models.build_model(con, project, model.name, warehouse, full_refresh=full_refresh)
            per_model[model.name] = round(time.perf_counter() - m0, 3)
            modes[model.name] = result.mode
            if result.days:
                days[model.name] = len(result.days)
        seconds = time.perf_counter() - t0
        rows = con.execute("select count(*) from requests").fetchall()[0][0]
    return {
        "seconds": seconds,
        "rows": rows,
        "models": len(per_model),
        "per_model": per_model,
        "modes": modes,
        "days_recomputed": days,
        "bytes": os.path.getsize(models.database_path(warehouse)),
    }


def step_profile(source: str, columns: dict[str, str], workdir: str) -> dict[str, Any]:
    """Where the ingest's hot statement spends its time, on the first batch of `source` (one 128 MB chunk, as
    the ingest reads it), copied into a DuckDB table so every variant reads the same rows:

    * `operators`: DuckDB's profile (EXPLAIN ANALYZE, as JSON) of the whole transform, slowest operators first;
    * `variants`: seconds of the transform and of its JSON parse alone, done as the canonical adapter does it
      (`json_extract_string` over a list of paths) and as one `from_json` into a struct (all VARCHAR, as the
      adapter returns text; or typed), and whether the VARCHAR struct gives the adapter's values exactly.
    """
    import duckdb

    from pipelines.lib.ingest import connect
    from pipelines.lib.reader import iter_line_batches
    from pipelines.lib.transform import batch_params, batch_sql
    from schemas.adapters import BY_NAME, INPUT_COLUMNS, canonical

    _scratch_tempdir(workdir)
    adapter = BY_NAME["canonical"]
    batch = next(iter_line_batches(source))
    con = connect()
    con.register("arrow_lines", batch.lines)
    con.execute("create temp table lines as select * from arrow_lines")
    con.unregister("arrow_lines")
    keys = [key for column in INPUT_COLUMNS for key in canonical._KEYS.get(column, (column,))]  # 27 paths
    paths = "[" + ", ".join(literal(canonical._json_path(k)) for k in keys) + "]"
    text_struct = literal(json.dumps(dict.fromkeys(keys, "VARCHAR")))
    typed_struct = literal(json.dumps({k: columns.get(k, "VARCHAR") for k in keys}))
    params = batch_params(adapter, source, HASH_KEY)
    variants = {
        "transform (adapter + typing + validation + normalization)": (batch_sql(adapter), params),
        "canonical adapter alone (json_extract_string over the paths)": (adapter.select_sql, None),
        "json_extract_string over the paths, nothing else": (
            f"select source_line, json_extract_string(raw, {paths}) as v from lines",
            None,
        ),
        "from_json into a struct of VARCHAR": (
            f"select source_line, from_json(raw, {text_struct}) as v from lines",
            None,
        ),
        "from_json into a typed struct": (f"select source_line, from_json(raw, {typed_struct}) as v from lines", None),
    }
    seconds: dict[str, float] = {}
    for name, (sql, bound) in variants.items():
        best = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            con.execute(f"create or replace temp table out as {sql}", bound)
            best = min(best, time.perf_counter() - t0)
        seconds[name] = round(best, 3)
    con.execute(
        f"create or replace temp table a as select source_line, json_extract_string(raw, {paths}) as v from lines"
    )
    con.execute(f"create or replace temp table b as select source_line, from_json(raw, {text_struct}) as v from lines")
    mismatched = {}  # per key: rows whose VARCHAR struct value differs from the adapter's text
    for i, key in enumerate(keys):
        count = con.execute(
            f"select count(*) from a join b using (source_line) where a.v[{i + 1}] is distinct from b.v[{literal(key)}]"
        ).fetchall()[0][0]
        if count:
            mismatched[key] = count

    profile_file = os.path.join(workdir, "tmp", "profile.json")
    con.execute("set enable_profiling = 'json'")
    con.execute("set profiling_output = ?", [profile_file])
    con.execute(f"create or replace temp table out as {batch_sql(adapter)}", params)
    con.execute("set enable_profiling = 'no_output'")
    with open(profile_file) as handle:
        tree = json.load(handle)
    operators: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:  # DuckDB 2.0: {"name", "timing", "intermediate_rows", ...}
        extra = node.get("extra_info") or {}
        detail = extra.get("CTE Name") or extra.get("Projections") or extra.get("Aggregates") or extra.get("Join Type")
        operators.append(
            {
                "operator": str(node.get("name", "?")).strip(),
                "seconds": round(float(node.get("timing", 0.0)), 3),
                "rows": node.get("intermediate_rows"),
                "detail": json.dumps(detail, default=str)[:240] if detail else "",
            }
        )
        for child in node.get("children", []):
            walk(child)

    for root in tree.get("operator", []):
        walk(root)
    operators.sort(key=lambda op: -op["seconds"])
    return {
        "seconds": seconds["transform (adapter + typing + validation + normalization)"],
        "rows": batch.lines.num_rows,
        "batch_bytes": batch.lines.column("raw").nbytes,
        "threads": con.execute("select current_setting('threads')").fetchall()[0][0],
        "json_keys": len(keys),
        "variants": seconds,
        "from_json_varchar_mismatches": mismatched,
        "query": {k: v for k, v in tree.get("query", {}).items() if k != "sql"} | tree.get("system", {}),
        "operators": operators[:12],
        "duckdb": duckdb.__version__,
    }


def step_report(warehouse_dir: str, out: str) -> dict[str, Any]:
    """Render the static report (monthly grain, the whole period) from the built database and write it."""
    from dashboards import figures, report
    from pipelines.lib.models import open_database
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


def _struct_literal(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in columns.items()) + "}"


# ----------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------


def _stats(runs: list[dict[str, Any]], key: str) -> dict[str, float] | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _summarize(name: str, rows: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = _stats(runs, "seconds")
    step = {"name": name, "rows": rows, "runs": runs, "seconds": seconds, "peak_rss_mib": _stats(runs, "peak_rss_mib")}
    if seconds and seconds["median"]:
        step["rows_per_s"] = rows / seconds["median"]
    return step


def _repeat(name: str, rows: int, count: int, once: Callable[[int], dict[str, Any]], log: Callable) -> dict[str, Any]:
    runs = []
    for number in range(count):
        result = once(number)
        runs.append(result)
        log(f"  {name} run {number + 1}/{count}: {_describe(result)}")
    return _summarize(name, rows, runs)


def _describe(result: dict[str, Any]) -> str:
    seconds = "-" if result.get("seconds") is None else f"{result['seconds']:.2f} s"
    return f"{seconds}, peak {result.get('peak_rss_mib', 0):.0f} MiB, load {result.get('load_1m')}"


def _fresh(path: str) -> str:
    """`path` removed, its parent folder created."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def run(
    rows: int,
    runs: int,
    workdir: str,
    naive_rows: int = DEFAULT_NAIVE_ROWS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Simulate the inputs under `workdir`, measure every step `runs` times; the result document."""
    if rows < HISTORY_DAYS:
        raise ValueError(f"rows must be at least {HISTORY_DAYS}")
    started = dt.datetime.now(dt.UTC)
    measured = versions()  # of the code as the run starts
    inputs = os.path.join(workdir, "input")
    os.makedirs(inputs, exist_ok=True)
    main = os.path.join(inputs, "main.jsonl")  # days 30..59: the measured file
    early = os.path.join(inputs, "early.jsonl")  # days 0..29: makes the 60-day history
    new_day = os.path.join(inputs, "new-day.jsonl")  # day 60: the incremental day
    per_day = rows // HISTORY_DAYS
    steps: dict[str, Any] = {}

    log(f"simulating {rows:,} rows over {HISTORY_DAYS} days (+ {HISTORY_DAYS} earlier days, + 1 new day)")
    simulated = _in_child(
        step_simulate_inputs,
        [
            (main, START + dt.timedelta(days=HISTORY_DAYS), HISTORY_DAYS, rows, 2),
            (early, START, HISTORY_DAYS, rows, 1),
            (new_day, START + dt.timedelta(days=2 * HISTORY_DAYS), 1, per_day, 3),
        ],
    )
    columns = simulated.pop("columns")
    steps["simulate"] = _summarize("simulate", rows, [simulated])
    log(f"  simulate: {_describe(simulated)}")

    runs_dir = os.path.join(workdir, "runs")
    steps["baseline"] = _repeat(
        "baseline",
        rows,
        runs,
        lambda i: _in_child(step_baseline, main, _fresh(f"{runs_dir}/baseline"), columns, workdir),
        log,
    )
    shutil.rmtree(f"{runs_dir}/baseline", ignore_errors=True)

    wh30 = os.path.join(workdir, "wh30")
    steps["ingest"] = _repeat(
        "ingest", rows, runs, lambda i: _in_child(step_ingest, main, _fresh(wh30), workdir), log
    )  # the last run's warehouse stays: the 30-day history

    steps["profile"] = _in_child(step_profile, main, columns, workdir)
    log(f"  profile of the transform: {steps['profile']['variants']}")

    naive_n = min(naive_rows, rows)
    steps["naive"] = _repeat(
        "naive",
        naive_n,
        runs,
        lambda i: _in_child(step_naive, main, _fresh(f"{runs_dir}/naive"), naive_n, workdir),
        log,
    )
    shutil.rmtree(f"{runs_dir}/naive", ignore_errors=True)

    def full_build(_: int) -> dict[str, Any]:
        for name in os.listdir(wh30):
            if name.startswith("gatewaylens.duckdb"):
                os.remove(os.path.join(wh30, name))
        return _in_child(step_build, wh30, True)

    steps["full_build"] = _repeat("full_build", rows, runs, full_build, log)  # leaves wh30 built

    log("preparing the 60-day history (not measured)")
    wh60 = os.path.join(workdir, "wh60")
    shutil.copytree(wh30, _fresh(wh60))
    steps["setup_60d"] = _in_child(step_setup_history, early, wh60, workdir)

    for days, history in ((HISTORY_DAYS, wh30), (2 * HISTORY_DAYS, wh60)):
        copy = os.path.join(runs_dir, f"incremental-{days}")
        ingest_runs, build_runs, total_runs = [], [], []
        for number in range(runs):
            shutil.copytree(history, _fresh(copy))  # copy2 keeps mtimes: the partitions' fingerprints hold
            ingested = _in_child(step_ingest, new_day, copy, workdir)
            built = _in_child(step_build, copy, False)
            ingest_runs.append(ingested)
            build_runs.append(built)
            total_runs.append(
                {
                    "seconds": ingested["seconds"] + built["seconds"],
                    "peak_rss_mib": max(ingested["peak_rss_mib"], built["peak_rss_mib"]),
                    "load_1m": [ingested["load_1m"][0], built["load_1m"][1]],
                }
            )
            log(f"  +1 day on {days}d run {number + 1}/{runs}: ingest {_describe(ingested)}; models {_describe(built)}")
        shutil.rmtree(copy, ignore_errors=True)
        steps[f"incremental_{days}d_ingest"] = _summarize(f"incremental_{days}d_ingest", per_day, ingest_runs)
        steps[f"incremental_{days}d_build"] = _summarize(f"incremental_{days}d_build", per_day, build_runs)
        steps[f"incremental_{days}d_total"] = _summarize(f"incremental_{days}d_total", per_day, total_runs)

    report = _in_child(step_report, wh30, os.path.join(workdir, "report"))
    steps["report"] = _summarize("report", rows, [report]) | {"status": report["status"]}
    log(f"  report: {report['status']}")

    result = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "rows_per_day": per_day,
        "history_days": HISTORY_DAYS,
        "runs": runs,
        "naive_rows": naive_n,
        "machine": machine(),
        "versions": measured,
        "steps": steps,
    }
    result["ratios"] = ratios(steps)
    return result


def ratios(steps: dict[str, Any]) -> dict[str, float | None]:
    """ingest / baseline and naive / baseline rows per second; 60-day / 30-day incremental seconds."""

    def rate(name: str) -> float | None:
        return steps[name].get("rows_per_s")

    def median(name: str) -> float | None:
        return (steps[name].get("seconds") or {}).get("median")

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    out = {
        "ingest_vs_baseline": ratio(rate("ingest"), rate("baseline")),
        "naive_vs_baseline": ratio(rate("naive"), rate("baseline")),
        "ingest_vs_naive": ratio(rate("ingest"), rate("naive")),
    }
    for part in ("ingest", "build", "total"):
        out[f"incremental_60d_vs_30d_{part}"] = ratio(
            median(f"incremental_60d_{part}"), median(f"incremental_30d_{part}")
        )
    return out


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    memory = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as info:
        memory = next((int(line.split()[1]) / 1024**2 for line in info if line.startswith("MemTotal")), None)
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "cpu": cpu,
        "platform": platform.platform(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("duckdb", "polars", "pyarrow", "pydantic", "dagster"):
        found[name] = importlib.metadata.version(name)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
    )
    found["gatewaylens"] = (commit.stdout.strip() or "unknown") + (" (uncommitted changes)" if dirty.stdout else "")
    return found


# ----------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------

STEP_LABELS = {
    "baseline": "bare DuckDB: read_json (explicit columns) -> COPY zstd Parquet by day",
    "ingest": "gatewaylens ingest (validate, quarantine, dedupe, atomic days)",
    "naive": "naive per-row: pydantic model_validate_json -> Arrow -> Parquet",
    "full_build": "all SQL models from scratch",
    "incremental_30d_ingest": "+1 day on 30 days: ingest",
    "incremental_30d_build": "+1 day on 30 days: models",
    "incremental_30d_total": "+1 day on 30 days: ingest + models",
    "incremental_60d_ingest": "+1 day on 60 days: ingest",
    "incremental_60d_build": "+1 day on 60 days: models",
    "incremental_60d_total": "+1 day on 60 days: ingest + models",
    "report": "static report",
}


def _fmt(value: float | None, pattern: str = "{:,.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def targets(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, met / missed / not measured at this size) for the targets one run can answer."""
    steps, r = result["steps"], result["ratios"]
    out = []
    ratio = r["ingest_vs_baseline"]
    out.append(("ingest >= 0.5x bare baseline rows/s (aim 0.7x)", f"{ratio:.2f}x", _verdict(ratio >= 0.5)))
    rss = steps["ingest"]["peak_rss_mib"]["median"] / 1024
    if result["rows"] == DEFAULT_ROWS:
        out.append(("ingest peak RSS < 1.5 GiB at 2M rows", f"{rss:.2f} GiB", _verdict(rss < 1.5)))
    else:
        out.append(("ingest peak RSS < 1.5 GiB at 2M rows", f"{rss:.2f} GiB at {result['rows']:,}", "n/a at this size"))
    growth = r["incremental_60d_vs_30d_total"]
    out.append(
        (
            "one new day: cost on 60 days < 1.3x cost on 30 days (ingest + models)",
            f"{growth:.2f}x (ingest {r['incremental_60d_vs_30d_ingest']:.2f}x, "
            f"models {r['incremental_60d_vs_30d_build']:.2f}x)",
            _verdict(growth < 1.3),
        )
    )
    build = steps["full_build"]["seconds"]["median"]
    if result["rows"] >= 10_000_000:
        out.append(("all marts over 10M rows < 30 s", f"{build:.1f} s", _verdict(build < 30)))
    else:
        out.append(("all marts over 10M rows < 30 s", f"{build:.1f} s at {result['rows']:,}", "n/a at this size"))
    return out


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def markdown(result: dict[str, Any], json_path: str) -> str:
    rows, m, v = result["rows"], result["machine"], result["versions"]
    lines = [
        BEGIN.format(rows=rows),
        f"### {rows:,} rows over {result['history_days']} days, {result['runs']} run(s) per step",
        "",
        f"Run {result['started']} .. {result['finished']} (UTC); result `{json_path}`.  ",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}, {m['platform']}; "
        f"load average at the end {m['load_avg']}.  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".  ",
        "Peak RSS is each step's own process, interpreter and libraries included: they take "
        f"{_stats(result['steps']['ingest']['runs'], 'rss_after_imports_mib')['median']:.0f} MiB before any work.",
        "",
        "| step | rows | median s (min - max) | rows/s (median) | peak RSS MiB (median, max) | load 1m (runs) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, label in STEP_LABELS.items():
        step = result["steps"][name]
        seconds, rss = step["seconds"], step["peak_rss_mib"]
        loads = ", ".join(f"{r['load_1m'][0]:.2f}" for r in step["runs"] if r.get("load_1m"))
        if name == "report" and step.get("status") != "ok":
            lines.append(f"| {label} | - | {step.get('status')} | - | - | {loads} |")
            continue
        span = f"{seconds['median']:.2f} ({seconds['min']:.2f} - {seconds['max']:.2f})" if seconds else "-"
        lines.append(
            f"| {label} | {step['rows']:,} | {span} | {_fmt(step.get('rows_per_s'), '{:,.0f}')} "
            f"| {rss['median']:,.0f}, {rss['max']:,.0f} | {loads} |"
        )
    r = result["ratios"]
    lines += [
        "",
        f"Ratios: ingest / baseline rows/s **{r['ingest_vs_baseline']:.2f}x**; naive / baseline "
        f"{r['naive_vs_baseline']:.3f}x; ingest / naive {r['ingest_vs_naive']:.1f}x; one new day on 60 vs 30 days: "
        f"ingest {r['incremental_60d_vs_30d_ingest']:.2f}x, models {r['incremental_60d_vs_30d_build']:.2f}x, "
        f"together {r['incremental_60d_vs_30d_total']:.2f}x.",
        "",
        "Ingest phases (median run, seconds): "
        + ", ".join(
            f"{k} {val:.2f}"
            for k, val in _median_run(result["steps"]["ingest"])["phases"].items()
            if not k.startswith("peak_rss")
        )
        + " (stage_total: the adapter + validation statement per batch, staging and account included;"
        " commit_group: merge, sort and write of the days, write_partition_thread_s being pyarrow's writes summed"
        " over its threads).",
        "",
        "Slowest models in the full build (median run, seconds): "
        + ", ".join(f"{k} {val:.2f}" for k, val in _slowest(_median_run(result["steps"]["full_build"])["per_model"]))
        + ".",
        "",
        *_profile_lines(result["steps"]["profile"]),
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in targets(result)]
    lines.append(END.format(rows=rows))
    return "\n".join(lines) + "\n"


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = [
        f"Profile of the ingest's transform statement on the first batch ({profile['rows']:,} lines, "
        f"{profile['batch_bytes'] / 2**20:.0f} MiB, {profile['threads']} threads; best of 2, seconds):",
        "",
    ]
    lines += [f"- {name}: {seconds:.2f}" for name, seconds in profile["variants"].items()]
    mismatches = profile["from_json_varchar_mismatches"]
    lines.append(
        "- from_json (VARCHAR) vs the adapter's text: "
        + (", ".join(f"{k} differs in {n:,} rows" for k, n in mismatches.items()) if mismatches else "identical")
    )
    lines += ["", "Slowest operators of the transform (DuckDB JSON profile, operator seconds summed over threads):", ""]
    lines += (
        ["```"]
        + [
            f"{op['seconds']:7.3f} s  {op['operator']:<18} rows {op['rows'] or 0:>9,}  {op['detail'][:90]}"
            for op in profile["operators"][:8]
        ]
        + ["```"]
    )
    return lines


def _median_run(step: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(step["runs"], key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def _slowest(per_model: dict[str, float], count: int = 5) -> list[tuple[str, float]]:
    return sorted(per_model.items(), key=lambda item: -item[1])[:count]


def update_markdown(path: Path, section: str, rows: int) -> None:
    """Replace this size's section of `path` between its markers, or add it before the APPEND marker (else at
    the end)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n## Results\n\n"
    begin, end = BEGIN.format(rows=rows), END.format(rows=rows)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    elif APPEND in text:  # new sizes go where the file says, ahead of any text after the results
        head, rest = text.split(APPEND, 1)
        text = head + section + "\n" + APPEND + rest
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows of the 30-day file (default 2M)")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="measured runs per step (default 3)")
    parser.add_argument("--naive-rows", type=int, default=DEFAULT_NAIVE_ROWS, help="lines of the naive slice")
    parser.add_argument("--workdir", help="scratch folder on local disk (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir's inputs and warehouses")
    parser.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"), help="'' to skip")
    args = parser.parse_args(argv)
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="gatewaylens-bench-", dir=args.workdir)
    try:
        result = run(args.rows, args.runs, workdir, args.naive_rows, log=lambda line: print(line, flush=True))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(args.results_dir, exist_ok=True)
    stamp = result["started"].replace(":", "").replace("-", "").replace("+0000", "Z")
    json_path = os.path.join(args.results_dir, f"{stamp}-{args.rows}.json")
    with open(json_path, "w") as out:
        json.dump(result, out, indent=1, default=str)
    shown = os.path.relpath(json_path, ROOT) if json_path.startswith(str(ROOT)) else json_path
    if args.markdown:
        update_markdown(Path(args.markdown), markdown(result, shown), args.rows)
    print(f"wrote {shown}" + (f" and {args.markdown}" if args.markdown else ""))
    for target, measured, verdict in targets(result):
        print(f"  {target}: {measured} ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
