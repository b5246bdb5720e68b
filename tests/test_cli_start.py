"""The CLI answers fast (issue 15): what each command imports, never how long it takes.

`sql` imports neither Dagster nor a dataframe library.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.sqlmodels.database import DATABASE_FILE
from pipelines.lib.storage import Warehouse
from tests.conftest import PROJECT_ROOT
from tests.test_cli import _environment

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
        env=_environment(None),
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
