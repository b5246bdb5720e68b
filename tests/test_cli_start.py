"""The CLI answers fast (issue 15): what each command imports and which way a job runs, never how long it takes.

`sql` imports neither Dagster nor a dataframe library; `ingest`, `build` and `run` without DAGSTER_HOME run the
assets' work directly, without Dagster, with the same checks and the same summary; with DAGSTER_HOME they are
Dagster runs of that instance (`pipelines.runs`).
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import cli, runs
from pipelines.lib.ingest import ingest
from pipelines.lib.sqlmodels.database import DATABASE_FILE
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, PROJECT_ROOT, record, write_lines
from tests.test_cli import command_environment, gatewaylens

#: Libraries `gatewaylens sql` must not import: each costs from 0.1 s (pydantic) to a second or more (Dagster).
NOT_FOR_SQL = ("dagster", "polars", "pyarrow", "pydantic", "numpy", "pandas", "plotly")

_LOADED = """
import json, sys
from pipelines import cli
code = cli.main(json.loads(sys.argv[1]))
with open(sys.argv[2], "w") as out:
    json.dump({"code": code, "packages": sorted({name.split(".")[0] for name in sys.modules})}, out)
"""


def _imports_of(tmp_path: Path, *args: str) -> tuple[int, set[str], str]:
    """Run `gatewaylens ARGS` in a fresh Python process without DAGSTER_HOME: its exit code, the top-level
    packages it had imported when it was done, and its standard output."""
    report = tmp_path / "loaded.json"
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, json.dumps(list(args)), str(report)],
        cwd=PROJECT_ROOT,
        env=command_environment(None),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.exists(), done.stderr[-3000:]
    loaded = json.loads(report.read_text())
    return loaded["code"], set(loaded["packages"]), done.stdout


def _empty_warehouse(root: Path) -> Warehouse:
    """A warehouse with a database and nothing stored (what `sql` needs to answer)."""
    root.mkdir(parents=True)
    duckdb.connect(str(root / DATABASE_FILE)).close()
    return Warehouse(str(root))


@pytest.mark.parametrize("form", ["table", "csv", "json"])
def test_sql_imports_no_dagster_and_no_dataframe_library(tmp_path, form):
    warehouse = _empty_warehouse(tmp_path / "wh")
    query = "select count(*) as stored from requests"
    code, loaded, out = _imports_of(tmp_path, "sql", query, "--warehouse", warehouse.root, "--format", form)
    assert code == 0
    assert "duckdb" in loaded and not loaded & set(NOT_FOR_SQL), sorted(loaded & set(NOT_FOR_SQL))
    assert "stored" in out and "0" in out


def test_ingest_without_dagster_home_does_not_import_dagster(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a"), record(request_id="b"), "junk"])
    code, loaded, out = _imports_of(tmp_path, "ingest", str(source), "--warehouse", str(tmp_path / "wh"))
    assert code == 0 and "dagster" not in loaded
    assert out.startswith("requests: 3 lines read")  # the summary (tests/test_cli.py checks its counts)


@pytest.mark.slow  # builds every model and renders the report
def test_run_without_dagster_home_ingests_builds_and_reports_without_dagster(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a"), record(request_id="b")])
    code, loaded, out = _imports_of(tmp_path, "run", "--source", str(source), "--warehouse", str(tmp_path / "wh"))
    assert code == 0 and "dagster" not in loaded
    lines = out.splitlines()
    assert lines[0].startswith("requests: 2 lines read, 2 records = 2 written")
    assert any(line.startswith("models: ") for line in lines)
    assert lines[-1] == f"dashboards: file://{tmp_path}/wh/dashboards/index.html"
    assert (tmp_path / "wh" / "dashboards" / "index.html").exists()


@pytest.mark.parametrize("job", [runs.INGEST, runs.BUILD, runs.MAIN], ids=lambda job: job.name)
def test_the_direct_path_runs_the_steps_of_the_dagster_job(job):
    """Without DAGSTER_HOME a job runs its assets (and the requests checks that are steps of their own) by hand:
    the same steps as the Dagster job of that name."""
    from pipelines.definitions import defs
    from pipelines.lib.ingest import asset

    check_steps = {f"{spec.asset}_{spec.name}" for spec in (asset.KEY_UNIQUE, asset.QUALITY_FLAGS)}
    steps = set(defs.resolve_job_def(job.name).graph.node_names())
    assert steps - check_steps == set(job.assets)
    assert (check_steps <= steps) == ("requests" in job.assets)


def _dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.mark.parametrize("dagster_home", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_failed_blocking_check_stops_the_job_before_the_models(tmp_path, monkeypatch, capsys, dagster_home):
    """A stored key in two days fails `requests_key_unique` (blocking) after the ingest: `run` exits 1 naming the
    check and builds no model, with or without Dagster."""
    warehouse = Warehouse(str(tmp_path / "wh"))
    ingest([str(write_lines(tmp_path / "a.jsonl", [record(request_id="a")]))], warehouse, hash_key=HASH_KEY)
    copy = Path(warehouse.partition_path("2025-06-02"))
    copy.parent.mkdir(parents=True)
    shutil.copy(warehouse.partition_path("2025-06-01"), copy)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    if dagster_home:
        monkeypatch.setenv("DAGSTER_HOME", str(_dagster_home(tmp_path)))
    source = write_lines(tmp_path / "b.jsonl", [record(request_id="b", created_at="2025-06-03T12:00:00Z")])
    frozen = gc.get_freeze_count()
    code = cli.main(["run", "--source", str(source), "--warehouse", warehouse.root])
    assert gc.get_freeze_count() == frozen  # a caller passing arguments keeps its heap as it is
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[-1] == "gatewaylens: error: blocking check failed: requests_key_unique"
    assert "gatewaylens: warning: blocking check requests_key_unique of requests failed: records 3" in err
    assert not Path(warehouse.path(DATABASE_FILE)).exists()


def test_only_a_command_in_its_own_process_freezes_what_dagster_loads():
    before, enabled = gc.get_freeze_count(), gc.isenabled()
    with runs._frozen_when_loaded(False):
        assert gc.isenabled() == enabled
    assert gc.get_freeze_count() == before
    try:
        with runs._frozen_when_loaded(True):
            assert not gc.isenabled()
            loaded = [[] for _ in range(1000)]
        assert gc.get_freeze_count() >= before + len(loaded) and gc.isenabled() == enabled
    finally:
        gc.unfreeze()


@pytest.mark.slow  # Dagster runs in a Dagster instance
def test_with_dagster_home_the_runs_are_in_the_instance_and_say_the_same(tmp_path, monkeypatch):
    """The same commands with and without DAGSTER_HOME print the same summary; with it, each is a successful run
    of its job in that instance (the UI's runs), and `requests` has its materialization there."""
    import dagster as dg

    home = _dagster_home(tmp_path)
    source = write_lines(tmp_path / "in.jsonl", [record(request_id="a"), record(request_id="b"), "junk"])
    printed = {}
    for name, where in (("direct", None), ("dagster", home)):
        warehouse = str(tmp_path / name)
        env = {"DAGSTER_HOME": str(where)} if where else None
        ingested = gatewaylens("ingest", str(source), "--warehouse", warehouse, env=env)
        built = gatewaylens("build", "--warehouse", warehouse, env=env)
        assert ingested.returncode == built.returncode == 0, ingested.stderr + built.stderr
        printed[name] = (ingested.stdout + built.stdout).replace(warehouse, "WAREHOUSE")
    assert printed["direct"] == printed["dagster"]
    assert "1 quarantined" in printed["direct"] and "models: " in printed["direct"]
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # as the commands found it (the settings name it)
    with dg.DagsterInstance.get() as instance:
        runs = {run.job_name: run for run in instance.get_runs()}
        assert set(runs) == {"ingest_job", "models_job"}
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs.values())
        assert runs["ingest_job"].tags["gatewaylens/host"]
        assert instance.get_latest_materialization_event(dg.AssetKey("requests")) is not None
