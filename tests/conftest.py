"""Shared fixtures: a scratch warehouse, a hash key and helpers that write log lines; the fast lane's sampling.

Two lanes (pyproject.toml, Makefile): `make test` runs everything, `make test-fast` (`-m "not slow"`) the edit
loop, under a minute. A test is `slow` when it starts Python processes that import Dagster, runs the simulator or
the whole pipeline, builds the models for a test of its own, starts an S3 server or drives the browser. A DuckDB
transform or an ingest costs about half a second whatever the number of lines, so each adapter, ingest and
reliability module keeps a representative few such tests in the fast lane (the field-mapping given/expect tests,
a rejected line) and marks the rest `slow`; a parametrized one is marked `fast_cases(n)`: its first n cases stay
in the fast lane and the others are slow. Where many cases are cheap records, one transform reads them all
(tests/test_normalize.py, tests/test_schema.py).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.lib.ingest import IngestReport, ingest, stage
from pipelines.lib.storage import Warehouse

HASH_KEY = b"test-key"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT_ROOT / "data" / "sample"


@pytest.fixture(autouse=True)
def bulk_read_whatever_the_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file whose format has a bulk form is read in bulk, however small (outside the tests, files under
    `stage.BULK_MIN_BYTES` are read line by line): the tests' files are small, and the bulk path is the one to
    cover. Tests of the line path set `stage.BULK_MIN_BYTES` to None, tests of the threshold a size of their own.
    (A `gatewaylens` or Dagster process a test starts reads with the defaults.)"""
    monkeypatch.setattr(stage, "BULK_MIN_BYTES", 0)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the marks added here must count
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark slow every case of a `fast_cases(n)` test after its first n."""
    seen: Counter[str] = Counter()
    for item in items:
        marker = item.get_closest_marker("fast_cases")
        if marker is None:
            continue
        test = item.nodeid.split("[", 1)[0]
        seen[test] += 1
        if seen[test] > marker.args[0]:
            item.add_marker(pytest.mark.slow)


def record(**fields: Any) -> dict[str, Any]:
    """A valid canonical input record; keyword arguments override or (with None) drop fields."""
    base: dict[str, Any] = {
        "request_id": "req-1",
        "attempt": 1,
        "created_at": "2025-06-01T12:00:00Z",
        "app_id": "app-a",
        "user_id": "alice@example.com",
        "model": "anthropic/claude-sonnet-4.5",
        "provider_native": "Anthropic",
        "status": "success",
        "http_status": 200,
        "native_finish_reason": "end_turn",
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "reasoning_tokens": 100,
        "cached_prompt_tokens": 200,
        "tool_calls": 0,
        "tools_offered": 3,
        "latency_ms": 2100.0,
        "ttft_ms": 450.0,
        "streamed": True,
        "cost_usd": 0.0081,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def three_days(app: str = "app-b", odd_model: str = "openai/gpt-4o") -> list[dict[str, Any]]:
    """Three days (2025-06-01..03) that fill every mart the report reads: Claude on two providers (a tool call in
    three, `app` one request in four), one `odd_model` request a day on OpenAI without a cost, one failover a day
    (529, then the other provider), and a burst of 30 requests in a minute from `app` on the last night."""
    lines = []
    for day in (1, 2, 3):
        for i in range(12):
            lines.append(
                record(
                    request_id=f"d{day}-{i}",
                    created_at=f"2025-06-0{day}T{10 + i % 8:02d}:{i:02d}:00Z",
                    provider_native="Anthropic" if i % 2 else "Amazon Bedrock",
                    native_finish_reason="tool_use" if i % 3 == 0 else "end_turn",
                    ttft_ms=300.0 + 40 * i,
                    app_id=app if i % 4 == 0 else "app-a",
                )
            )
        day_at = f"2025-06-0{day}T0"
        lines += [
            record(request_id=f"x{day}", created_at=f"{day_at}9:00:00Z", model=odd_model, provider_native="OpenAI",
                   cost_usd=None),
            record(request_id=f"f{day}", created_at=f"{day_at}8:00:00Z", status="error", http_status=529,
                   native_finish_reason=None, completion_tokens=None, reasoning_tokens=None, tool_calls=None,
                   ttft_ms=None, cost_usd=0.0),
            record(request_id=f"f{day}", attempt=2, created_at=f"{day_at}8:00:02Z", provider_native="Amazon Bedrock"),
        ]  # fmt: skip
    lines += [record(request_id=f"b{i}", created_at=f"2025-06-03T03:00:{i:02d}Z", app_id=app) for i in range(30)]
    return lines


def built_warehouse(root: Path, lines: list[dict[str, Any]]) -> Warehouse:
    """A warehouse under `root` with `lines` ingested and every model built."""
    warehouse = Warehouse(str(root / "warehouse"))
    ingest([str(write_lines(root / "lines.jsonl", lines))], warehouse, hash_key=HASH_KEY)
    build_models(warehouse)
    return warehouse


def spy(function: Callable[..., Any], calls: list[tuple[Any, ...]]) -> Callable[..., Any]:
    """`function`, run as it is, each call's arguments appended to `calls` (to count what a run did)."""

    def spied(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return function(*args, **kwargs)

    return spied


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    """Write JSON lines (dicts are serialized, strings written as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines)
    path.write_text(text)
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(str(tmp_path / "warehouse"))


@pytest.fixture
def run_ingest(warehouse: Warehouse) -> Callable[..., IngestReport]:
    def _run(*sources: Path | str, **kwargs: Any) -> IngestReport:
        return ingest([str(s) for s in sources], warehouse, hash_key=HASH_KEY, **kwargs)

    return _run


def stored(warehouse: Warehouse, where: str = "true") -> list[dict[str, Any]]:
    """Stored records (with the hive `date` column), ordered by key."""
    files = [warehouse.duckdb_path(path) for path in warehouse.partition_paths()]  # listed: no glob of the root
    if not files:
        return []
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    if not warehouse.is_local:
        con.register_filesystem(warehouse.fs)
    table = con.sql(
        f"select * from read_parquet($files, hive_partitioning = true) where {where} order by request_id, attempt",
        params={"files": files},
    ).to_arrow_table()
    return table.to_pylist()


def ledger_entries(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every ledger entry of the warehouse (one per ingested file version)."""
    return [json.loads(warehouse.fs.cat_file(p)) for p in warehouse.fs.glob(warehouse.path("_ledger", "*.json"))]


def quarantined(warehouse: Warehouse) -> list[dict[str, Any]]:
    names = [name for name in warehouse.list_names("quarantine") if name.endswith(".parquet")]
    paths = [warehouse.path("quarantine", name) for name in names]
    if not paths:
        return []
    con = duckdb.connect()
    return (
        con.sql(f"select * from read_parquet({paths!r}) order by source_uri, source_line").to_arrow_table().to_pylist()
    )


def build_models(
    warehouse: Warehouse, params: Any = None, full_refresh: bool = False, only: Collection[str] | None = None
) -> dict[str, Any]:
    """Build the seeds and every SQL model into the warehouse database; returns the build results by name.

    `only`: build just these models and the models they read (a test of a few marts need not pay for all).
    """
    from pipelines.lib.sqlmodels.engine import open_build
    from pipelines.lib.sqlmodels.parameters import Parameters
    from pipelines.lib.sqlmodels.project import load_project

    project = load_project()
    wanted = None
    if only is not None:
        assert set(only) <= set(project.models), f"unknown models: {sorted(set(only) - set(project.models))}"
        wanted = set(only).union(*(project.upstream(name) for name in only))
    with open_build(warehouse, project, params or Parameters(), full_refresh=full_refresh) as builder:
        return {result.name: result for result in builder.build(wanted)}


def mart(warehouse: Warehouse, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of a query against the built warehouse database (read-only, as an analyst opens it)."""
    from pipelines.lib.sqlmodels.database import open_database

    with open_database(warehouse, read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def gatewaylens_sql(
    query: str, warehouse: Warehouse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """`gatewaylens sql QUERY --format json` in process: (exit code, stdout, stderr)."""
    from pipelines import cli

    monkeypatch.chdir(os.getcwd())  # the command moves into the warehouse; this moves back afterwards
    code = cli.main(["sql", query, "--warehouse", warehouse.url, "--format", "json"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def packs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The file names of each pack staged (a spy on `FileStager._stage_pack`, which runs as it is)."""
    staged: list[list[str]] = []
    original: Callable[..., None] = stage.FileStager._stage_pack

    def spy(self: stage.FileStager, adapter: Any, files: list[Any], target: str) -> None:
        staged.append([Path(held.source.url).name for held in files])
        original(self, adapter, files, target)

    monkeypatch.setattr(stage.FileStager, "_stage_pack", spy)
    return staged
