"""The `gatewaylens` command: clear one-line errors, non-zero exits, summaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from tests.conftest import PROJECT_ROOT, record, write_lines


def gatewaylens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=PROJECT_ROOT,
        env=environment,
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


def test_missing_arguments_are_usage_errors():
    result = gatewaylens("ingest")
    assert result.returncode == 2
    assert "the following arguments are required: SOURCE" in result.stderr


@pytest.mark.slow
def test_a_killed_run_does_not_hold_the_writer_slot(tmp_path):
    import signal
    import time

    import dagster as dg

    from pipelines.lib.simulate import simulate, write_canonical
    from tests.conftest import PROJECT_ROOT as ROOT

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / ".dagster" / "dagster.yaml").read_text())
    big = tmp_path / "big.jsonl"
    write_canonical(simulate(date(2025, 1, 1), 5, 60_000, 3), str(big))
    env = dict(os.environ) | {"DAGSTER_HOME": str(home)}
    first = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "ingest", str(big), "--warehouse", str(tmp_path / "wh")],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    small = write_lines(tmp_path / "small.jsonl", [record(request_id="after")])
    second = gatewaylens("ingest", str(small), "--warehouse", str(tmp_path / "wh"), env={"DAGSTER_HOME": str(home)})
    assert second.returncode == 0, second.stderr
    assert "marked orphaned run" in second.stderr


@pytest.mark.slow
def test_build_then_sql_in_every_output_format(tmp_path):
    warehouse = str(tmp_path / "wh")
    lines = [record(request_id="a", native_finish_reason="tool_use", tool_calls=1), record(request_id="b")]
    assert (
        gatewaylens("ingest", str(write_lines(tmp_path / "in.jsonl", lines)), "--warehouse", warehouse).returncode == 0
    )
    built = gatewaylens("build", "--warehouse", warehouse)
    assert built.returncode == 0, built.stderr
    assert "models: 23 built" in built.stdout and f"database: file://{warehouse}/gatewaylens.duckdb" in built.stdout
    again = gatewaylens("build", "--warehouse", warehouse)
    assert "(22 unchanged, 1 view)" in again.stdout

    query = "select model_family, completed_requests, tool_call_rate from tool_call_rate_daily"
    csv = gatewaylens("sql", query, "--warehouse", warehouse, "--format", "csv")
    assert csv.stdout.splitlines() == ["model_family,completed_requests,tool_call_rate", "Claude,2,0.5"]
    json_out = gatewaylens("sql", query, "--warehouse", warehouse, "--format", "json")
    assert json.loads(json_out.stdout) == [{"model_family": "Claude", "completed_requests": 2, "tool_call_rate": 0.5}]
    table = gatewaylens("sql", query, "--warehouse", warehouse)
    assert "Claude" in table.stdout and "0.5" in table.stdout


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
