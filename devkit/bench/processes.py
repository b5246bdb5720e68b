"""The steps of the CLI row: whole processes timed from outside, start to exit (interpreter start and imports
included), on the measured canonical file: `gatewaylens ingest` (the venv's console script) against the
baseline's statement run by `python -c`.

Each is started from a spawned step process (`runs.in_child`) through `TIMER`, a bare Python process that forks
it, times it from fork to exit and takes its peak RSS from `wait4`: the step's `peak_rss_mib` is the timed
process's own. (Linux counts into a child's peak its parent's memory at the fork; forked from the bare timer, not
from the step process and its libraries, that floor is about 10 MiB.)
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from devkit.bench.measurements import HASH_KEY, ROOT, baseline_statement, scratch_tempdir

#: The instance settings `make run` uses (one writer per pool), copied into the temporary DAGSTER_HOME.
DAGSTER_YAML = ROOT / ".dagster" / "dagster.yaml"
#: What the timed `python -c` process runs: the baseline's statement, the file and the temporary folder as
#: arguments (`baseline_statement` fills the statement in).
BASELINE_CODE = """import sys
import duckdb
con = duckdb.connect()
con.execute("set TimeZone = 'UTC'")
con.execute("set temp_directory = ?", [sys.argv[2]])
con.execute({statement!r}, {{"source": sys.argv[1]}})
"""
#: `python -c TIMER RESULT COMMAND...`: run COMMAND, write its wall seconds (fork to exit) and peak RSS to the JSON
#: file RESULT, exit with its exit code. It imports nothing heavy before the fork.
TIMER = """import os, sys, time
result, command = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - t0
import json
with open(result, "w") as out:
    json.dump({"seconds": seconds, "peak_rss_kib": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def console_script() -> str:
    """The `gatewaylens` console script next to this interpreter (the venv's)."""
    path = Path(sys.executable).with_name("gatewaylens")
    if not path.exists():
        raise FileNotFoundError(f"no gatewaylens console script next to {sys.executable}: run `make env`")
    return str(path)


def cli_environment(workdir: str, dagster_home: str | None) -> dict[str, str]:
    """This environment without any GATEWAYLENS_* setting (the defaults, `--warehouse` given) and with the
    bench's hash key; DAGSTER_HOME removed (an ephemeral instance) or set to `dagster_home`; temporary files
    under the workdir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYLENS_") and k != "DAGSTER_HOME"}
    env["GATEWAYLENS_HASH_KEY"] = HASH_KEY.decode()
    env["TMPDIR"] = scratch_tempdir(workdir)
    if dagster_home:
        env["DAGSTER_HOME"] = dagster_home
    return env


def prepare_dagster_home(path: str, workdir: str) -> None:
    """A Dagster instance at `path` with the project's instance settings, its storage created (not timed: a
    user's instance exists before their command runs)."""
    os.makedirs(path, exist_ok=True)
    shutil.copyfile(DAGSTER_YAML, os.path.join(path, "dagster.yaml"))
    code = "import dagster as dg\ndg.DagsterInstance.get().get_runs(limit=1)"
    _run([sys.executable, "-c", code], cli_environment(workdir, path), name="dagster instance")


def step_cli_ingest(source: str, warehouse_dir: str, workdir: str, dagster_home: str | None) -> dict[str, Any]:
    """`gatewaylens ingest SOURCE --warehouse WAREHOUSE` into an empty warehouse, DAGSTER_HOME unset (None) or set;
    the whole process's wall time and peak RSS; rows: those of the warehouse's day files after it."""
    import pyarrow.parquet as pq

    from pipelines.lib.storage import Warehouse

    command = [console_script(), "ingest", source, "--warehouse", warehouse_dir]
    timed = _timed(command, cli_environment(workdir, dagster_home), workdir)
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in Warehouse(warehouse_dir).partition_paths())
    return timed | {"rows": rows}


#: The small input of the commands' rows: the first lines of the measured file, in a file of their own.
SMALL_LINES = 10
#: `gatewaylens` arguments (before `--warehouse`) of each command timed on the small input; `{small}`: its file.
SMALL_COMMANDS = {
    "ingest": ["ingest", "{small}"],
    "build": ["build"],
    "sql": ["sql", "select count(*) as requests from requests"],
    "report": ["report"],
}
#: Each command under 3 s wall on a small input, `sql` under 1 s (whole processes).
SMALL_MAX_SECONDS = {"ingest": 3.0, "build": 3.0, "report": 3.0, "sql": 1.0}


#: The folder of small files of the small-files row (a bucket of one-request objects, as LiteLLM's bucket loggers
#: write): this many files of SMALL_LINES lines each, cut from the start of the measured file.
SMALL_FILES = 1000


def write_small_files(source: str, folder: str, files: int) -> int:
    """The first `files` x SMALL_LINES lines of `source` into `files` files of SMALL_LINES lines under `folder`
    (fewer when `source` is shorter); returns the lines written."""
    os.makedirs(folder, exist_ok=True)
    written = 0
    with open(source, "rb") as lines:
        for number in range(files):
            chunk = list(itertools.islice(lines, SMALL_LINES))
            if not chunk:
                break
            Path(folder, f"part-{number:05d}.jsonl").write_bytes(b"".join(chunk))
            written += len(chunk)
    return written


def step_cli_small_files(folder: str, warehouse_dir: str, workdir: str) -> dict[str, Any]:
    """`gatewaylens ingest FOLDER --warehouse WAREHOUSE` of the small files into an empty warehouse, DAGSTER_HOME
    unset; the whole process's wall time and peak RSS; rows: the lines of the files; printed: its summary."""
    command = [console_script(), "ingest", folder, "--warehouse", warehouse_dir]
    timed = _timed(command, cli_environment(workdir, None), workdir, keep_output=True)
    lines = sum(len(path.read_bytes().splitlines()) for path in Path(folder).iterdir())
    return timed | {"rows": lines, "files": len(os.listdir(folder))}


def write_small_input(source: str, path: str) -> None:
    """The first SMALL_LINES lines of `source` into `path`."""
    with open(source, "rb") as lines, open(path, "wb") as out:
        for _, line in zip(range(SMALL_LINES), lines, strict=False):
            out.write(line)


def step_cli_small(small: str, warehouse_dir: str, workdir: str, command: str, dagster_home: str | None) -> dict:
    """`gatewaylens COMMAND --warehouse WAREHOUSE` (SMALL_COMMANDS) on the warehouse the commands before it in the
    run left (ingest: into an empty one), DAGSTER_HOME unset (None) or set; the whole process's wall time and peak
    RSS; rows: the small input's lines; printed: the start of what it printed (its summary)."""
    arguments = [part.format(small=small) for part in SMALL_COMMANDS[command]]
    command_line = [console_script(), *arguments, "--warehouse", warehouse_dir]
    timed = _timed(command_line, cli_environment(workdir, dagster_home), workdir, keep_output=True)
    return timed | {"rows": SMALL_LINES}


def step_baseline_process(source: str, out: str, columns: dict[str, str], workdir: str) -> dict[str, Any]:
    """`python -c` running the baseline's statement (`BASELINE_CODE`); the whole process's wall time and peak RSS;
    rows: those of the Parquet files it wrote."""
    import duckdb

    code = BASELINE_CODE.format(statement=baseline_statement(columns, out))
    command = [sys.executable, "-c", code, source, os.path.join(scratch_tempdir(workdir), "duckdb")]
    timed = _timed(command, cli_environment(workdir, None), workdir)
    files = os.path.join(out, "*", "*.parquet")
    rows = duckdb.connect().execute("select count(*) from read_parquet($p)", {"p": files}).fetchall()[0][0]
    return timed | {"rows": rows}


def _timed(command: list[str], env: dict[str, str], workdir: str, keep_output: bool = False) -> dict[str, Any]:
    """Run `command` through TIMER: its wall seconds and peak RSS (MiB), and with `keep_output` the first
    PRINTED_KEPT characters of its standard output (`printed`)."""
    result = os.path.join(scratch_tempdir(workdir), f"timed-{os.getpid()}.json")
    printed = _run([sys.executable, "-c", TIMER, result, *command], env, name=command[0])
    with open(result) as source:
        timed = json.load(source)
    os.remove(result)
    out = {"seconds": timed["seconds"], "peak_rss_mib": round(timed["peak_rss_kib"] / 1024, 1)}
    return out | ({"printed": printed[:PRINTED_KEPT]} if keep_output else {})


#: What a result keeps of a timed command's output: its summary lines.
PRINTED_KEPT = 400


def _run(command: list[str], env: dict[str, str], name: str) -> str:
    """Run `command` from the project folder (as a user would): its standard output; raise with the end of its
    output when it fails."""
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{name} exited {done.returncode}: {(done.stdout + done.stderr)[-2000:]}")
    return done.stdout
