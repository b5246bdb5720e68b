"""A benchmark run: the inputs simulated, every step measured `runs` times, each run in a fresh spawned process
(so that `ru_maxrss` is that step's own peak), and the result document with the machine, the versions and the
ratios the targets are judged on. The CLI row and the per-format table alternate their steps within each run (a
change of load hits both sides of a ratio alike).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib.metadata
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from devkit.bench import processes
from devkit.bench.formats import TABLE_FORMATS, step_bare, step_file_ingest, step_simulate_formats
from devkit.bench.measurements import (
    ROOT,
    peak_rss_mib,
    step_baseline,
    step_build,
    step_ingest,
    step_naive,
    step_report,
    step_setup_history,
    step_simulate_inputs,
)
from devkit.bench.processes import (
    SMALL_COMMANDS,
    SMALL_LINES,
    prepare_dagster_home,
    step_baseline_process,
    step_cli_ingest,
    step_cli_small,
    step_cli_small_files,
    write_small_files,
    write_small_input,
)
from devkit.bench.transform_profile import step_profile

DEFAULT_ROWS = 2_000_000
DEFAULT_RUNS = 3
DEFAULT_NAIVE_ROWS = 200_000
#: Simulated attempts of the per-format table: its four files take 2.6 GB; on 2 cores, about a minute to write and
#: 1.5 minutes per run (measured 2026-12 with the ingest of that time).
DEFAULT_FORMAT_ROWS = 500_000
FORMAT_SEED = 4  # the per-format traffic: distinct from the main file's (2), the early days' (1), the new day's (3)
HISTORY_DAYS = 30
START = dt.date(2025, 3, 3)  # a Monday: the new day (START + 60) is a Friday, a full weekday


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `fn(*args)` in a fresh spawned process; its result plus the process's peak RSS and load average."""
    load_before = os.getloadavg()[0]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(_child_main, fn, *args).result()
    result["load_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def _child_main(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Import what the steps use, note the memory that takes (the same floor under every step), run the step; its
    peak RSS is this process's, unless the step reports its own (one that times a process of its own)."""
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from pipelines.lib import ingest  # noqa: F401
    from pipelines.lib.sqlmodels import engine  # noqa: F401
    from schemas.record import RequestRecord  # noqa: F401

    floor = peak_rss_mib()
    result = fn(*args)
    result.setdefault("peak_rss_mib", round(peak_rss_mib(), 1))
    result["rss_after_imports_mib"] = round(floor, 1)
    return result


def stats(runs: list[dict[str, Any]], key: str) -> dict[str, float] | None:
    """Median, min and max of `key` over the runs that have it (None when none has)."""
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _summarize(name: str, rows: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = stats(runs, "seconds")
    step = {"name": name, "rows": rows, "runs": runs, "seconds": seconds, "peak_rss_mib": stats(runs, "peak_rss_mib")}
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


def _alternate(
    measures: dict[str, Callable[[], dict[str, Any]]], rows: dict[str, int], count: int, log: Callable
) -> dict[str, Any]:
    """Each of `measures` `count` times, one of each in turn per run; the summary of each (name -> step)."""
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in measures}
    for number in range(count):
        for name, measure in measures.items():
            result = measure()
            found[name].append(result)
            log(f"  {name} run {number + 1}/{count}: {_describe(result)}")
    return {name: _summarize(name, rows[name], runs) for name, runs in found.items()}


def _in_scratch(step: Callable[..., dict[str, Any]], source: str, out: str, *rest: Any) -> Callable[[], dict[str, Any]]:
    """A measure: `step(source, out, *rest)` in a child process, `out` fresh for each call."""
    return lambda: in_child(step, source, _fresh(out), *rest)


def _repeat_in_scratch(
    name: str,
    rows: int,
    count: int,
    log: Callable,
    step: Callable[..., dict[str, Any]],
    source: str,
    out: str,
    *rest: Any,
) -> dict[str, Any]:
    """`_repeat` of `step(source, out, *rest)` in a child process, `out` fresh for every run and removed after."""
    summary = _repeat(name, rows, count, lambda i: in_child(step, source, _fresh(out), *rest), log)
    shutil.rmtree(out, ignore_errors=True)
    return summary


def _describe(result: dict[str, Any]) -> str:
    seconds = "-" if result.get("seconds") is None else f"{result['seconds']:.2f} s"
    return f"{seconds}, peak {result.get('peak_rss_mib', 0):.0f} MiB, load {result.get('load_1m')}"


def _fresh(path: str) -> str:
    """`path` removed (a folder or a file), its parent folder created."""
    if os.path.isfile(path):
        os.remove(path)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def run(
    rows: int,
    runs: int,
    workdir: str,
    naive_rows: int = DEFAULT_NAIVE_ROWS,
    log: Callable[[str], None] = print,
    format_rows: int | None = DEFAULT_FORMAT_ROWS,
    cli: bool = True,
) -> dict[str, Any]:
    """Simulate the inputs under `workdir`, measure every step `runs` times; the result document. `format_rows`:
    the simulated attempts of the per-format table (None: no table); `cli`: whether to measure the CLI row."""
    if rows < HISTORY_DAYS or (format_rows is not None and format_rows < HISTORY_DAYS):
        raise ValueError(f"rows and format rows must be at least {HISTORY_DAYS}")
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
    simulated = in_child(
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
    baseline_out = f"{runs_dir}/baseline"
    steps["baseline"] = _repeat_in_scratch(
        "baseline", rows, runs, log, step_baseline, main, baseline_out, columns, workdir
    )

    wh30 = os.path.join(workdir, "wh30")
    steps["ingest"] = _repeat(
        "ingest", rows, runs, lambda i: in_child(step_ingest, main, _fresh(wh30), workdir), log
    )  # the last run's warehouse stays: the 30-day history

    steps["profile"] = in_child(step_profile, main, columns, workdir)
    log(f"  profile of the transform: {steps['profile']['variants']}")

    naive_n = min(naive_rows, rows)
    naive_out = f"{runs_dir}/naive"
    steps["naive"] = _repeat_in_scratch("naive", naive_n, runs, log, step_naive, main, naive_out, naive_n, workdir)

    def full_build(_: int) -> dict[str, Any]:
        for name in os.listdir(wh30):
            if name.startswith("gatewaylens.duckdb"):
                os.remove(os.path.join(wh30, name))
        return in_child(step_build, wh30, True)

    steps["full_build"] = _repeat("full_build", rows, runs, full_build, log)  # leaves wh30 built

    log("preparing the 60-day history (not measured)")
    wh60 = os.path.join(workdir, "wh60")
    shutil.copytree(wh30, _fresh(wh60))
    steps["setup_60d"] = in_child(step_setup_history, early, wh60, workdir)

    for days, history in ((HISTORY_DAYS, wh30), (2 * HISTORY_DAYS, wh60)):
        copy = os.path.join(runs_dir, f"incremental-{days}")
        ingest_runs, build_runs, total_runs = [], [], []
        for number in range(runs):
            shutil.copytree(history, _fresh(copy))  # copy2 keeps mtimes: the partitions' fingerprints hold
            ingested = in_child(step_ingest, new_day, copy, workdir)
            built = in_child(step_build, copy, False)
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

    report = in_child(step_report, wh30, os.path.join(workdir, "report"))
    steps["report"] = _summarize("report", rows, [report]) | {"status": report["status"]}
    log(f"  report: {report['status']}")

    if cli:
        log(f"the CLI against the baseline's process, {rows:,} rows")
        steps |= measure_cli(main, columns, rows, runs, workdir, log)
    formats = None
    if format_rows is not None:
        format_steps, formats = measure_formats(format_rows, runs, workdir, log)
        steps |= format_steps

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
    if formats is not None:
        result["formats"] = formats
    result["ratios"] = ratios(steps)
    return result


def measure_cli(
    source: str, columns: dict[str, str], rows: int, runs: int, workdir: str, log: Callable
) -> dict[str, Any]:
    """The CLI row's steps on `source`, alternated in each run: `cli_baseline_process` (the baseline's statement
    in a `python -c` process of its own), `cli_ingest` (`gatewaylens ingest`, DAGSTER_HOME unset: an ephemeral
    instance) and `cli_ingest_dagster_home` (DAGSTER_HOME: a temporary instance with the project's settings, made
    before the runs). Whole processes, wall clock."""
    home = os.path.join(workdir, "dagster-home")
    prepare_dagster_home(home, workdir)
    out, warehouse = os.path.join(workdir, "runs", "cli-baseline"), os.path.join(workdir, "runs", "cli-warehouse")
    measures = {
        "cli_baseline_process": _in_scratch(step_baseline_process, source, out, columns, workdir),
        "cli_ingest": _in_scratch(step_cli_ingest, source, warehouse, workdir, None),
        "cli_ingest_dagster_home": _in_scratch(step_cli_ingest, source, warehouse, workdir, home),
    }
    steps = _alternate(measures, dict.fromkeys(measures, rows), runs, log)
    steps |= _measure_cli_small(source, runs, workdir, home, log)
    for path in (out, warehouse, home):
        shutil.rmtree(path, ignore_errors=True)
    return steps


def _measure_cli_small(source: str, runs: int, workdir: str, home: str, log: Callable) -> dict[str, Any]:
    """The commands' rows: in each run, what a new user does on SMALL_LINES lines, DAGSTER_HOME unset
    (`cli_small_<command>`: ingest into an empty warehouse, build every model, one query, the report) and set to
    the CLI row's instance (`cli_small_<command>_dagster_home`: ingest, build; `sql` and `report` never start
    Dagster); and `cli_small_files`, the ingest of a folder of SMALL_FILES such inputs into an empty warehouse.
    Whole processes, wall clock."""
    small = os.path.join(workdir, "small.jsonl")
    write_small_input(source, small)
    folder = os.path.join(workdir, "small-files")
    files_lines = write_small_files(source, folder, processes.SMALL_FILES)
    measures: dict[str, Callable[[], dict[str, Any]]] = {}
    files_warehouse = os.path.join(workdir, "runs", "cli-small-files")
    measures["cli_small_files"] = functools.partial(_small_files_ingest, folder, files_warehouse, workdir)
    warehouses = [files_warehouse]
    for suffix, dagster_home, commands in (("", None, SMALL_COMMANDS), ("_dagster_home", home, ("ingest", "build"))):
        warehouse = os.path.join(workdir, "runs", f"cli-small{suffix}")
        warehouses.append(warehouse)
        for command in commands:
            args = (small, warehouse, workdir, command, dagster_home)
            measures[f"cli_small_{command}{suffix}"] = functools.partial(_small_command, *args)
    rows = dict.fromkeys(measures, SMALL_LINES) | {"cli_small_files": files_lines}
    try:
        return _alternate(measures, rows, runs, log)
    finally:
        for path in warehouses:
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(folder)
        os.remove(small)


def _small_command(small: str, warehouse: str, workdir: str, command: str, dagster_home: str | None) -> dict[str, Any]:
    """`step_cli_small` from this process (its command is timed in a process of its own, its peak is that
    process's), with the load average around it; an ingest into a new warehouse."""
    if command == "ingest":
        _fresh(warehouse)
    return _small_command_timed(step_cli_small, small, warehouse, workdir, command, dagster_home)


def _small_files_ingest(folder: str, warehouse: str, workdir: str) -> dict[str, Any]:
    """`step_cli_small_files` into an empty warehouse, with the load average around it."""
    return _small_command_timed(step_cli_small_files, folder, _fresh(warehouse), workdir)


def _small_command_timed(step: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`step(*args)` from this process, with the load average around it."""
    load_before = os.getloadavg()[0]
    result = step(*args)
    return result | {"load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def measure_formats(rows: int, runs: int, workdir: str, log: Callable) -> tuple[dict[str, Any], dict[str, Any]]:
    """The per-format table: `rows` simulated attempts over the main file's 30 days written in each of
    TABLE_FORMATS, then per file and per run `format_<name>_bare` and `format_<name>_ingest` (rows: the file's
    lines). The steps, and the files (format -> lines, bytes)."""
    folder = os.path.join(workdir, "formats")
    os.makedirs(folder, exist_ok=True)
    outs = {name: os.path.join(folder, f"{name}.jsonl") for name in TABLE_FORMATS}
    log(f"simulating {rows:,} attempts over {HISTORY_DAYS} days as {', '.join(TABLE_FORMATS)} JSON lines")
    start = START + dt.timedelta(days=HISTORY_DAYS)
    simulated = in_child(step_simulate_formats, outs, start, HISTORY_DAYS, rows, FORMAT_SEED)
    files = simulated.pop("files")
    log(f"  simulate: {_describe(simulated)}; " + ", ".join(f"{k} {v['lines']:,} lines" for k, v in files.items()))
    bare_out, warehouses = os.path.join(workdir, "runs", "bare"), os.path.join(workdir, "runs", "format-wh")
    measures, lines = {}, {}
    for name, source in outs.items():
        bare, ingest = f"format_{name}_bare", f"format_{name}_ingest"
        out = os.path.join(bare_out, f"{name}.parquet")
        measures[bare] = _in_scratch(step_bare, source, out, files[name]["columns"], workdir)
        measures[ingest] = _in_scratch(step_file_ingest, source, os.path.join(warehouses, name), workdir)
        lines[bare] = lines[ingest] = files[name]["lines"]
    steps = {"format_simulate": _summarize("format_simulate", rows, [simulated])}
    steps |= _alternate(measures, lines, runs, log)
    for path in (bare_out, warehouses):
        shutil.rmtree(path, ignore_errors=True)
    described = {name: {"lines": f["lines"], "bytes": f["bytes"]} for name, f in files.items()}
    return steps, {"rows": rows, "seed": FORMAT_SEED, "files": described}


def ratios(steps: dict[str, Any]) -> dict[str, float | None]:
    """ingest / baseline and naive / baseline rows per second; 60-day / 30-day incremental seconds; where they
    were measured, the CLI's rows per second over the baseline process's, and each format's ingest over its bare
    read's (lines per second)."""

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
    for cli in ("cli_ingest", "cli_ingest_dagster_home"):
        if cli in steps:
            out[f"{cli}_vs_baseline_process"] = ratio(rate(cli), rate("cli_baseline_process"))
    for name in TABLE_FORMATS:
        if f"format_{name}_ingest" in steps:
            out[f"format_{name}_ingest_vs_bare"] = ratio(rate(f"format_{name}_ingest"), rate(f"format_{name}_bare"))
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
