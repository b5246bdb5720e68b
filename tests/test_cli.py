"""The `gatewaylens` command: clear one-line errors, non-zero exits, summaries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import cli
from pipelines.lib import testhooks
from pipelines.lib.ingest import ingest
from pipelines.lib.lock import warehouse_lock
from pipelines.lib.privacy import UNPROTECTED
from pipelines.lib.scratch import HOST
from pipelines.lib.sqlmodels import project
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, PROJECT_ROOT, record, stored, write_lines

# Several tests here start two to six `gatewaylens` processes (one of them imports Dagster, with DAGSTER_HOME; tens
# of seconds on a busy machine): a longer limit than the suite's 300 s. A command without DAGSTER_HOME does not
# import Dagster (tests/test_cli_start.py): an ingest of a few lines is a fast test.
pytestmark = pytest.mark.timeout(900)


def command_environment(env: dict[str, str] | None) -> dict[str, str]:
    """This environment without DAGSTER_HOME (the jobs run without Dagster, no pool), plus `env`."""
    return {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | (env or {})


def gatewaylens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=PROJECT_ROOT,
        env=command_environment(env),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/no/such/file.jsonl", "gatewaylens: error: source not found: /no/such/file.jsonl"),
        ("nosuchproto://x/y", "gatewaylens: error: Protocol not known: nosuchproto"),
    ],
)
def test_bad_sources_give_one_line_and_exit_1(tmp_path, source, message):
    result = gatewaylens("ingest", source, "--warehouse", str(tmp_path / "wh"))
    assert result.returncode == 1
    assert result.stderr.strip() == message


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = gatewaylens("ingest", str(tmp_path / "empty"), "--warehouse", str(tmp_path / "wh"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"gatewaylens: error: no files under source: {tmp_path / 'empty'}"


def test_unreadable_file_fails_the_run_with_one_line(tmp_path):
    bad = tmp_path / "broken.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")
    result = gatewaylens("ingest", str(bad), "--warehouse", str(tmp_path / "wh"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("gatewaylens: error:")]
    assert len(errors) == 1 and "requests" in errors[0]
    assert not (tmp_path / "wh" / "requests").exists()


def test_ingest_reports_counts_and_quarantine_does_not_fail(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a"), record(request_id="b"), "junk"])
    result = gatewaylens("ingest", str(source), "--warehouse", str(tmp_path / "wh"))
    assert result.returncode == 0, result.stderr
    assert "3 lines read, 3 records = 2 written + 0 duplicates + 1 quarantined + 0 ignored" in result.stdout
    assert (tmp_path / "wh" / "requests" / "date=2025-06-01" / "data.parquet").exists()


@pytest.mark.parametrize(("hash_key", "warnings"), [(None, 1), ("a-secret", 0)], ids=["development", "secret"])
def test_ingest_warns_once_of_the_public_development_key(tmp_path, monkeypatch, capsys, hash_key, warnings):
    """Without DAGSTER_HOME no Dagster log says it: without GATEWAYLENS_HASH_KEY the user ids are hashed with
    the public development key, and the command says so once on stderr; with a key of its own, not at all."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("GATEWAYLENS_HASH_KEY", raising=False)
    if hash_key:
        monkeypatch.setenv("GATEWAYLENS_HASH_KEY", hash_key)
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a"), record(request_id="b")])
    assert cli.main(["ingest", str(source), "--warehouse", str(tmp_path / "wh")]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if UNPROTECTED in line]
    assert said == [f"gatewaylens: warning: {UNPROTECTED}"] * warnings


def test_ingest_warns_when_the_key_is_not_the_one_that_hashed_the_warehouses_users(tmp_path, monkeypatch, capsys):
    """One user hashed under two keys counts as two users: an ingest under another key than the warehouse's says so
    (the report says it too, later); under the same key, nothing."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    warehouse = ["--warehouse", str(tmp_path / "wh")]
    said = []
    for number, key in enumerate(["first-secret", "first-secret", "second-secret"]):
        monkeypatch.setenv("GATEWAYLENS_HASH_KEY", key)
        source = write_lines(tmp_path / f"in{number}.jsonl", [record(request_id=f"r{number}")])
        assert cli.main(["ingest", str(source), *warehouse]) == 0
        said.append([line for line in capsys.readouterr().err.splitlines() if "is not the key" in line])
    assert said[:2] == [[], []]
    [warning] = said[2]
    assert warning.startswith("gatewaylens: warning: GATEWAYLENS_HASH_KEY is not the key that hashed")
    assert "second-secret" not in warning and "first-secret" not in warning  # ids only, never the keys


def test_the_summary_says_when_stored_records_were_replaced(tmp_path, monkeypatch, capsys):
    """A record that replaces a stored one of the same key (other content) changes what was there before the run:
    the line says so, besides the key conflicts; a copy of a stored record replaces nothing."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    warehouse = ["--warehouse", str(tmp_path / "wh")]
    first = write_lines(tmp_path / "a.jsonl", [record(request_id="k", model="first"), record(request_id="m")])
    again = write_lines(tmp_path / "b.jsonl", [record(request_id="k", model="second"), record(request_id="m")])
    assert cli.main(["ingest", str(first), *warehouse]) == 0
    assert "; 0 key conflicts resolved (" in capsys.readouterr().out
    assert cli.main(["ingest", str(again), *warehouse]) == 0
    out = capsys.readouterr().out
    assert "1 written + 1 duplicates + 0 quarantined + 0 ignored; 1 key conflicts resolved, " in out
    assert ", 1 stored records replaced by other records with the same key (1 files ingested, " in out
    assert [r["model"] for r in stored(Warehouse(str(tmp_path / "wh"))) if r["request_id"] == "k"] == ["second"]


def test_the_warehouse_flag_wins_over_the_environment(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a")])
    env = {"GATEWAYLENS_WAREHOUSE": str(tmp_path / "from-env")}
    result = gatewaylens("ingest", str(source), "--warehouse", str(tmp_path / "from-flag"), env=env)
    assert result.returncode == 0, result.stderr
    assert [r["request_id"] for r in stored(Warehouse(str(tmp_path / "from-flag")))] == ["a"]
    assert not (tmp_path / "from-env").exists()


def test_a_bad_setting_is_one_line_and_exit_1(tmp_path):
    result = gatewaylens("sql", "select 1", env={"GATEWAYLENS_STORAGE_OPTIONS": "{oops"})
    assert result.returncode == 1
    assert result.stderr.startswith("gatewaylens: error: GATEWAYLENS_STORAGE_OPTIONS must be a JSON object: ")
    assert len(result.stderr.splitlines()) == 1


def test_missing_arguments_are_usage_errors():
    result = gatewaylens("ingest")
    assert result.returncode == 2
    assert "the following arguments are required: SOURCE" in result.stderr


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["ingest", ""], "SOURCE"),
        (["ingest", "{source}", ""], "SOURCE"),
        (["ingest", "{source}", "--warehouse", ""], "--warehouse"),
        (["run", "--source", ""], "--source"),
        (["build", "--warehouse", " "], "--warehouse"),
        (["sql", "select 1", "--warehouse", ""], "--warehouse"),
        (["export", "spend_daily", "--out", ""], "--out"),
        (["report", "--out", ""], "--out"),
        (["simulate", "--out", ""], "--out"),
    ],
)
def test_an_empty_place_is_a_usage_error_not_here_or_the_default(tmp_path, monkeypatch, capsys, args, name):
    """An unset variable (`gatewaylens ingest "$LOGDIR"`) gives an empty argument, which would otherwise mean the
    current folder, the default warehouse or landing, or standard output: refused in one line, nothing written."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("GATEWAYLENS_WAREHOUSE", str(tmp_path / "default"))
    work = tmp_path / "here"
    work.mkdir()
    write_lines(work / "in.jsonl", [record(request_id="a")])
    monkeypatch.chdir(work)
    code = cli.main([arg.format(source=work / "in.jsonl") for arg in args])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"gatewaylens: error: {name} is empty (an unset variable?): give a path or URL\n"
    assert not (tmp_path / "default").exists() and sorted(p.name for p in work.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("command", [["build"], ["ingest", "{source}"], ["sql", "select 1"], ["report"]])
def test_a_warehouse_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys, command):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a")])
    args = [arg.format(source=source) for arg in command]
    assert cli.main([*args, "--warehouse", str(source)]) == 1
    assert capsys.readouterr().err == f"gatewaylens: error: warehouse {source} is a file, not a folder\n"
    assert source.read_text().count("\n") == 1


def test_a_report_out_that_is_a_file_is_one_line(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert cli.main(["report", "--out", str(taken), "--warehouse", str(tmp_path / "wh")]) == 1
    assert capsys.readouterr().err == (
        f"gatewaylens: error: --out {taken} is a file, not a folder: the report writes index.html into a folder\n"
    )
    assert taken.read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "-3"], "argument --days: must be at least 1, not -3"),
        (["--requests-per-day", "0"], "argument --requests-per-day: must be at least 1, not 0"),
        (["--rows-per-file", "0"], "argument --rows-per-file: must be at least 1, not 0"),
        (["--days", "two"], "argument --days: not a whole number: 'two'"),
    ],
)
def test_simulate_counts_are_positive_whole_numbers(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulate", *args, "--out", str(tmp_path / "out.jsonl")])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"gatewaylens simulate: error: {message}"
    assert not list(tmp_path.iterdir())


def test_simulate_out_is_a_file_or_with_rows_per_file_a_folder(tmp_path, capsys):
    taken = tmp_path / "taken.jsonl"
    taken.write_text("mine")
    assert cli.main(["simulate", "--days", "1", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"gatewaylens: error: --out {tmp_path} is a folder: give a file name "
        "(or --rows-per-file N to write numbered files into it)\n"
    )
    assert cli.main(["simulate", "--days", "1", "--rows-per-file", "10", "--out", str(taken)]) == 1
    assert capsys.readouterr().err == (
        f"gatewaylens: error: --out {taken} is a file: with --rows-per-file it names the folder of the numbered files\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.jsonl"] and taken.read_text() == "mine"


@pytest.mark.parametrize("max_rows", ["0", "-2"])
def test_sql_max_rows_is_at_least_one_or_all(tmp_path, capsys, max_rows):
    """`--max-rows` is the rows shown (-1: all); DuckDB draws a small result whole whatever its limit, so 0
    cannot mean no rows: it is refused, not quietly taken as 1."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["sql", "select 1", "--max-rows", max_rows, "--warehouse", str(tmp_path)])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == (
        f"gatewaylens sql: error: argument --max-rows: must be at least 1, or -1 for all rows, not {max_rows}"
    )


@pytest.mark.parametrize("form", ["csv", "table"])
def test_a_reader_that_stops_early_ends_sql_quietly(tmp_path, form):
    """`gatewaylens sql ... | head -1`: no BrokenPipeError traceback, the Python documentation's way (exit 1). The
    output is far larger than a pipe holds, so the command is still writing when its reader goes."""
    root = tmp_path / "wh"
    root.mkdir()
    duckdb.connect(str(root / "gatewaylens.duckdb")).close()
    query = "select range as n, repeat('x', 50) as text from range(200000)"
    command = [sys.executable, "-m", "pipelines.cli", "sql", query, "--warehouse", str(root), "--max-rows", "-1"]
    command += ["--format", form]
    reader = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=command_environment(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.readline()
    reader.stdout.close()
    assert reader.wait(timeout=120) == 1
    assert reader.stderr.read() == b""


def test_a_dagster_home_that_is_not_a_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "nonexistent"))
    assert cli.main(["build", "--warehouse", str(tmp_path / "wh")]) == 1
    assert capsys.readouterr().err == (
        f"gatewaylens: error: DAGSTER_HOME {tmp_path / 'nonexistent'} is not a folder: create it, "
        "or unset DAGSTER_HOME to run without\n"
    )


@pytest.mark.slow  # imports Dagster
@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ("event_log_storage: [\n", "while parsing a flow node expected the node content, but found '<stream end>'"),
        ("no_such_setting: 1\n", 'Received unexpected config entry "no_such_setting" at the root.'),
    ],
)
def test_a_broken_dagster_yaml_is_one_line(tmp_path, monkeypatch, capsys, config, reason):
    (tmp_path / "dagster.yaml").write_text(config)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert cli.main(["build", "--warehouse", str(tmp_path / "wh")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"gatewaylens: error: the Dagster instance in DAGSTER_HOME {tmp_path} cannot be loaded: ")
    assert reason in err


@pytest.mark.slow
def test_a_killed_run_does_not_hold_the_writer_slot(tmp_path):
    """A run killed inside its ingest (stopped by the test hook before the commit, holding the Dagster writer
    slot and the warehouse lock) is marked orphaned by the next command, which then ingests."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / ".dagster" / "dagster.yaml").read_text())
    marker = tmp_path / "paused"
    source = write_lines(tmp_path / "first.jsonl", [record(request_id=f"r{i}") for i in range(3)])
    pause = {testhooks.PAUSE_AT_ENV: "ingest-commit", testhooks.MARKER_ENV: str(marker), "DAGSTER_HOME": str(home)}
    first = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "ingest", str(source), "--warehouse", str(tmp_path / "wh")],
        cwd=PROJECT_ROOT,
        env=command_environment(pause),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert first.poll() is None, "the first run ended before reaching the pause point"
            assert time.monotonic() < deadline, "the first run never reached the pause point"
            time.sleep(0.1)
    finally:
        first.kill()
        first.wait()
    small = write_lines(tmp_path / "small.jsonl", [record(request_id="after")])
    second = gatewaylens("ingest", str(small), "--warehouse", str(tmp_path / "wh"), env={"DAGSTER_HOME": str(home)})
    assert second.returncode == 0, second.stderr
    assert "marked orphaned run" in second.stderr
    assert _keys(Warehouse(str(tmp_path / "wh"))) == (1, {("after", 1)})


@pytest.mark.slow
def test_build_then_sql_in_every_output_format(tmp_path):
    warehouse = str(tmp_path / "wh")
    lines = [record(request_id="a", native_finish_reason="tool_use", tool_calls=1), record(request_id="b")]
    assert (
        gatewaylens("ingest", str(write_lines(tmp_path / "in.jsonl", lines)), "--warehouse", warehouse).returncode == 0
    )
    built = gatewaylens("build", "--warehouse", warehouse)
    assert built.returncode == 0, built.stderr
    assert f"models: {len(project.load_project().models)} built" in built.stdout
    assert f"database: file://{warehouse}/gatewaylens.duckdb" in built.stdout
    again = gatewaylens("build", "--warehouse", warehouse)
    assert f"({len(project.load_project().models) - 1} unchanged, 1 view)" in again.stdout

    query = "select model_family, completed_requests, tool_call_rate from tool_call_rate_daily"
    csv = gatewaylens("sql", query, "--warehouse", warehouse, "--format", "csv")
    assert csv.stdout.splitlines() == ["model_family,completed_requests,tool_call_rate", "Claude,2,0.5"]
    json_out = gatewaylens("sql", query, "--warehouse", warehouse, "--format", "json")
    assert json.loads(json_out.stdout) == [{"model_family": "Claude", "completed_requests": 2, "tool_call_rate": 0.5}]
    table = gatewaylens("sql", query, "--warehouse", warehouse)
    assert "Claude" in table.stdout and "0.5" in table.stdout


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("csv", 'n,text,nothing,items,day\n1,"a,""b",,"[1, 2]",2025-06-01\n'),
        ("json", '[{"n":1,"text":"a,\\"b","nothing":null,"items":[1,2],"day":"2025-06-01"}]\n'),
    ],
)
def test_sql_prints_values_as_duckdb_writes_them(tmp_path, monkeypatch, capsys, form, expected):
    """CSV quotes what needs quoting and leaves NULL empty; JSON keeps numbers, nulls and lists; a semicolon and
    a comment after the query are fine."""
    root = tmp_path / "wh"
    root.mkdir()
    duckdb.connect(str(root / "gatewaylens.duckdb")).close()
    monkeypatch.chdir(tmp_path)
    query = """select 1 as n, 'a,"b' as text, null as nothing, [1, 2] as items, date '2025-06-01' as day; -- note"""
    assert cli.main(["sql", query, "--warehouse", str(root), "--format", form]) == 0
    assert capsys.readouterr().out == expected
    assert cli.main(["sql", query, "--warehouse", str(root), "--max-rows", "-1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["│", "n", "│", "text", "│", "nothing", "│", "items", "│", "day", "│"]


@pytest.mark.slow
def test_sql_errors_are_one_line(tmp_path):
    missing = gatewaylens("sql", "select 1", "--warehouse", str(tmp_path / "nothing"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("gatewaylens: error: no warehouse database at ")
    warehouse = str(tmp_path / "wh")
    gatewaylens("build", "--warehouse", warehouse)
    bad = gatewaylens("sql", "select * from no_such_mart", "--warehouse", warehouse)
    assert bad.returncode == 1 and "no_such_mart" in bad.stderr
    write = gatewaylens("sql", "drop table tool_call_rate_daily", "--warehouse", warehouse)
    assert write.returncode == 1 and "read-only" in write.stderr
    copy = gatewaylens("sql", f"copy (select 1 as a) to '{warehouse}/requests.parquet'", "--warehouse", warehouse)
    assert copy.returncode == 1 and "COPY statements are not run" in copy.stderr
    assert not (tmp_path / "wh" / "requests.parquet").exists()
    environ = "select * from read_text('/proc/self/environ')"
    secret = gatewaylens("sql", environ, "--warehouse", warehouse, env={"GATEWAYLENS_HASH_KEY": "do-not-print"})
    assert secret.returncode == 1 and secret.stderr.count("\n") == 1 and "do-not-print" not in secret.stdout


@pytest.mark.slow
def test_a_warehouse_path_with_glob_characters_ingests_builds_and_answers(tmp_path):
    warehouse = str(tmp_path / "w[1]*")
    lines = [record(request_id="a"), record(request_id="b", created_at="2025-06-02T00:00:00Z")]
    ingested = gatewaylens("ingest", str(write_lines(tmp_path / "in.jsonl", lines)), "--warehouse", warehouse)
    assert ingested.returncode == 0, ingested.stderr
    built = gatewaylens("build", "--warehouse", warehouse)
    assert built.returncode == 0, built.stderr
    query = "select count(*) as n from requests"
    assert gatewaylens("sql", query, "--warehouse", warehouse, "--format", "csv").stdout.splitlines() == ["n", "2"]


# ---------------------------------------------------------------------------------------------------------
# Two writers of one warehouse (issue 12): the warehouse lock, without DAGSTER_HOME
# ---------------------------------------------------------------------------------------------------------


def _overlapping_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """Two canonical files over the same three days that share a third of their lines (about 1,300 lines each)."""
    from devkit.simulate import simulate
    from devkit.simulate.formats.canonical import write_canonical

    everything = tmp_path / "all.jsonl"
    write_canonical(simulate(date(2025, 1, 1), 3, 600, 5), str(everything))
    lines = everything.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(line for i, line in enumerate(lines) if i % 3 != 2))
    second.write_text("".join(line for i, line in enumerate(lines) if i % 3 != 0))
    return first, second


def _keys(warehouse: Warehouse) -> tuple[int, set[tuple[str, int]]]:
    """Rows stored and their distinct (request_id, attempt) keys."""
    keys = [(row["request_id"], row["attempt"]) for row in stored(warehouse)]
    return len(keys), set(keys)


class _Command:
    """A `gatewaylens` process in the background whose log lines are read as they come."""

    def __init__(self, *args: str, env: dict[str, str], out: Path) -> None:
        self.out = out.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", *args],
            cwd=PROJECT_ROOT,
            env=command_environment(env),
            stdout=self.out,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.waiting = threading.Event()
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)
            if "warehouse lock: waiting" in line:
                self.waiting.set()

    def finish(self, kill: bool = False) -> int:
        if kill:
            self.process.kill()
        code = self.process.wait(300)
        self.reader.join()
        self.out.close()
        return code


@pytest.mark.slow
def test_two_ingests_at_once_store_every_row(tmp_path):
    """Two `gatewaylens ingest` commands into one warehouse without DAGSTER_HOME (no Dagster pool) used to
    lose the rows of whichever merged a day first. Both start while the test holds the warehouse lock, so
    both must wait for it, then one for the other; every row of either file is stored once, and the two
    summaries account for every row stored."""
    first, second = _overlapping_inputs(tmp_path)
    reference = Warehouse(str(tmp_path / "reference"))
    ingest([str(first), str(second)], reference, hash_key=HASH_KEY)
    warehouse = Warehouse(str(tmp_path / "wh"))
    env = {"GATEWAYLENS_LOCK_TIMEOUT": "300"}
    commands = []
    try:
        with warehouse_lock(warehouse, "the test, until both commands wait"):
            for n, source in enumerate((first, second)):
                commands.append(
                    _Command("ingest", str(source), "--warehouse", warehouse.root, env=env, out=tmp_path / f"{n}")
                )
            for command in commands:
                assert command.waiting.wait(300), "".join(command.lines)[-3000:]
        codes = [command.finish() for command in commands]
    finally:
        for command in commands:
            if command.process.poll() is None:
                command.finish(kill=True)
    assert codes == [0, 0], "".join(commands[0].lines + commands[1].lines)[-3000:]
    rows, keys = _keys(warehouse)
    assert (rows, keys) == _keys(reference) and rows == len(keys) > 1500
    summaries = [(tmp_path / f"{n}").read_text() for n in (0, 1)]
    written = [int(re.search(r"records = ([\d,]+) written", text)[1].replace(",", "")) for text in summaries]
    assert sum(written) == rows


@pytest.mark.slow
def test_an_ingest_refused_by_the_lock_names_the_holder_and_a_rerun_stores_everything(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [record(request_id=f"r{i}") for i in range(20)])
    warehouse = Warehouse(str(tmp_path / "wh"))
    with warehouse_lock(warehouse, "a test holding the lock"):
        refused = gatewaylens(
            "ingest", str(source), "--warehouse", warehouse.root, env={"GATEWAYLENS_LOCK_TIMEOUT": "0"}
        )
    assert refused.returncode == 1
    error = refused.stderr.strip().splitlines()[-1]
    assert error.startswith("gatewaylens: error: requests: ") and "the warehouse is locked by " in error
    assert f"on {HOST} (pid {os.getpid()}), a test holding the lock:" in error
    assert (
        f"gave up at once (GATEWAYLENS_LOCK_TIMEOUT=0). If that process is gone, delete {warehouse.root}/_lock.json"
        in error
    )
    assert not warehouse.days() and not warehouse.ledger_keys()
    again = gatewaylens("ingest", str(source), "--warehouse", warehouse.root)
    assert again.returncode == 0, again.stderr
    assert _keys(warehouse) == (20, {(f"r{i}", 1) for i in range(20)})


def test_the_pause_hook_stops_only_where_asked(tmp_path, monkeypatch):
    marker = tmp_path / "paused"
    monkeypatch.setattr(testhooks, "PAUSE_SECONDS", 0.0)
    monkeypatch.setenv(testhooks.MARKER_ENV, str(marker))
    monkeypatch.delenv(testhooks.PAUSE_AT_ENV, raising=False)
    testhooks.pause_at("ingest-commit")
    assert not marker.exists()
    monkeypatch.setenv(testhooks.PAUSE_AT_ENV, "ingest-commit")
    testhooks.pause_at("somewhere-else")
    assert not marker.exists()
    testhooks.pause_at("ingest-commit")
    assert marker.read_text() == f"ingest-commit {os.getpid()}\n"


def test_ctrl_c_during_an_ingest_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    """Ctrl-C as DuckDB reports it (the statement it stopped fails with "Query interrupted") ends the command
    with one line, no traceback, the shell's code for SIGINT, and nothing ingested."""
    from pipelines.lib.ingest import stage

    def stopped(*args, **kwargs):
        raise RuntimeError("Query interrupted")

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr(stage.FileStager, "stage_file", stopped)
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a")])
    assert cli.main(["ingest", str(source), "--warehouse", str(tmp_path / "wh")]) == cli.EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "gatewaylens: interrupted" and not [line for line in err if "error" in line or "cannot" in line]
    assert stored(Warehouse(str(tmp_path / "wh"))) == []


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (KeyboardInterrupt(), True),
        (RuntimeError("Query interrupted"), True),
        (duckdb.InterruptException("INTERRUPT Error: Interrupted!"), True),
        (RuntimeError("Query interrupted by the disk"), False),
        (duckdb.IOException("IO Error: Query interrupted"), False),
        (ValueError("bad"), False),
    ],
)
def test_interrupts_are_told_from_other_errors(err, expected):
    from pipelines.lib.interrupts import interrupted

    assert interrupted(err) is expected


def test_a_dagster_run_stopped_by_ctrl_c_is_told_from_a_failed_one():
    """Dagster records a step Ctrl-C stopped as the step's failure (a KeyboardInterrupt, or the error of the
    DuckDB statement it stopped, inside Dagster's own error): the command raises KeyboardInterrupt for those."""
    from types import SimpleNamespace

    from pipelines import runs

    def result(cls_name: str, message: str) -> SimpleNamespace:
        cause = SimpleNamespace(cls_name=cls_name, message=message, cause=None)
        error = SimpleNamespace(cls_name="DagsterExecutionStepExecutionError", message="step failed", cause=cause)
        event = SimpleNamespace(is_step_failure=True, step_failure_data=SimpleNamespace(error=error))
        return SimpleNamespace(all_events=[event])

    assert runs._interrupted(result("RuntimeError", "RuntimeError: Query interrupted\n"))
    assert runs._interrupted(result("KeyboardInterrupt", "KeyboardInterrupt\n"))
    assert not runs._interrupted(result("RuntimeError", "RuntimeError: disk full\n"))
