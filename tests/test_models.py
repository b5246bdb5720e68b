"""The SQL model machinery: headers and inputs, dependency order, incremental builds against full rebuilds."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.ingest import ingest
from pipelines.lib.sqlmodels import docs, engine, project
from pipelines.lib.sqlmodels.database import DATABASE_FILE
from pipelines.lib.sqlmodels.parameters import Parameters
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, SAMPLE, build_models, gatewaylens_sql, mart, record, write_lines

PROJECT = project.load_project()
#: The marts are the files of sql/marts/ (their names and columns are a contract: docs/metrics.md, generated and
#: held current by a test below, shows any change for review).
MARTS = {m.name for m in PROJECT.models.values() if m.layer == "marts"}


def test_every_model_states_its_grain_and_documents_its_columns():
    for model in PROJECT.models.values():
        assert model.description and model.grain.startswith("one row per")
        if model.materialized != "view":
            assert model.columns and all(model.columns.values()), model.name
            assert model.grain_columns, f"{model.name}: the grain should name its key columns"


def test_the_readme_lists_every_mart_and_no_other():
    """README's table of marts (`tool_call_rate_daily` / `_weekly` / `_monthly` names three) is written by hand:
    it must name exactly the files of sql/marts/."""
    section = Path(__file__).parents[1].joinpath("README.md").read_text().split("| mart | grain |", 1)[1]
    listed = set()
    for row in section.split("\n\n", 1)[0].splitlines()[2:]:
        names = re.findall(r"`([a-z_]+)`", row.split("|")[1])
        stem = names[0].rsplit("_", 1)[0]
        listed.update(names[:1] + [stem + name for name in names[1:]])
    assert listed == MARTS


def test_inputs_come_from_the_sql_and_order_puts_inputs_first():
    order = [m.name for m in PROJECT.order()]
    for model in PROJECT.models.values():
        assert set(model.inputs) == project.tables_read(model.sql)
        for dep in model.inputs:
            if dep in PROJECT.models:
                assert order.index(dep) < order.index(model.name)


def test_tables_read_ignores_common_table_expressions():
    sql = "with a as (select * from x) select * from a join y using (k) where k in (select k from z)"
    assert project.tables_read(sql) == {"x", "y", "z"}


def _write_model(tmp_path: Path, layer: str, name: str, text: str) -> Path:
    path = tmp_path / "sql" / layer / f"{name}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


GOOD_HEADER = """-- m: a model
--
-- grain: one row per k
-- materialized: table
-- columns:
--   k: the key
"""


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("-- other: wrong name\n", "must start with '-- m:"),
        (GOOD_HEADER.replace("-- grain: one row per k\n", ""), "state the grain"),
        (GOOD_HEADER.replace("table", "ephemeral"), "materialized must be one of"),
        (GOOD_HEADER.replace("table", "incremental"), "names its partition_day"),
        (GOOD_HEADER + "-- inputs: requests\n", "inputs are the tables its SQL reads"),
        (GOOD_HEADER.split("-- columns:")[0], "document their columns"),
    ],
)
def test_a_model_that_breaks_the_conventions_is_refused(tmp_path, header, message):
    path = _write_model(tmp_path, "marts", "m", header + "select 1 as k from requests\n")
    with pytest.raises(project.ModelError, match=message):
        project.parse_model(path)


def test_a_model_reading_an_unknown_table_is_refused(tmp_path):
    _write_model(tmp_path, "marts", "m", GOOD_HEADER + "select 1 as k from nowhere\n")
    with pytest.raises(project.ModelError, match="unknown tables"):
        project.load_project(tmp_path / "sql")


def test_affected_days_are_the_changed_days_their_neighbours_and_new_range():
    before = {"2025-01-01": "a", "2025-01-02": "b", "2025-01-03": "c"}
    after = {**before, "2025-01-02": "B", "2025-01-06": "f"}
    days = [d.isoformat() for d in engine.affected_days(before, after)]
    # 01-02 changed (01..03), 01-06 new (05..07), and 01-03..01-06 is the grown range (zero-filled days)
    assert days == [f"2025-01-0{i}" for i in range(1, 8)]
    assert engine.affected_days(before, before) == []
    assert engine.day_runs([dt.date(2025, 1, d) for d in (1, 2, 3, 7, 9, 10)]) == [
        (dt.date(2025, 1, 1), dt.date(2025, 1, 3)),
        (dt.date(2025, 1, 7), dt.date(2025, 1, 7)),
        (dt.date(2025, 1, 9), dt.date(2025, 1, 10)),
    ]


def _snapshot(warehouse: Warehouse) -> dict[str, list[tuple]]:
    """Every model table's rows, sorted; doubles wrapped to compare within a relative 1e-9 (parallel sums add in
    any order, so the last bits differ; rounding would not do: a value on a rounding boundary rounds both ways)."""
    tables = [m.name for m in PROJECT.models.values() if m.materialized != "view"]
    return {
        name: [tuple(pytest.approx(v, rel=1e-9, abs=1e-12) if isinstance(v, float) else v for v in row) for row in rows]
        for name in tables
        for rows in [mart(warehouse, f"select * from {name} order by all")]
    }


def _ingest(warehouse: Warehouse, *paths: Path) -> None:
    ingest([str(p) for p in paths], warehouse, hash_key=HASH_KEY)


@pytest.mark.slow
def test_incremental_builds_equal_a_full_rebuild(tmp_path):
    """January, then February, then late records for a January day and a retry that crosses midnight:
    after each ingest only the affected days are rebuilt, and the result equals a rebuild from scratch."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    _ingest(warehouse, SAMPLE / "canonical" / "requests-2025-01.jsonl.zst")
    first = build_models(warehouse)
    assert first["tool_call_rate_daily"].mode == "full"

    _ingest(warehouse, SAMPLE / "canonical" / "requests-2025-02.jsonl.zst")
    second = build_models(warehouse)
    assert second["int_requests_rolled_up"].mode == "incremental"
    assert second["int_requests_rolled_up"].days[0] == "2025-01-31"  # the neighbour of the first new day
    assert len(second["tool_call_rate_daily"].days) == 28 + 2

    late = [
        record(request_id="late-1", created_at="2025-01-15T08:00:00Z", native_finish_reason="tool_use", tool_calls=1),
        record(
            request_id="late-2",
            created_at="2025-02-28T23:59:59Z",
            status="error",
            http_status=503,
            native_finish_reason=None,
            completion_tokens=None,
            reasoning_tokens=None,
            cached_prompt_tokens=None,
            tool_calls=None,
            ttft_ms=None,
            cost_usd=0.0,
        ),
        record(request_id="late-2", attempt=2, created_at="2025-03-01T00:00:01Z", provider_native="Amazon Bedrock"),
    ]
    _ingest(warehouse, write_lines(tmp_path / "late.jsonl", late))
    third = build_models(warehouse)
    assert third["failover_daily"].days == [
        "2025-01-14",
        "2025-01-15",
        "2025-01-16",
        "2025-02-27",
        "2025-02-28",
        "2025-03-01",
        "2025-03-02",
    ]
    incremental = _snapshot(warehouse)

    again = build_models(warehouse)
    # nothing new: no incremental model recomputes a day and no table is rebuilt
    assert {r.mode for name, r in again.items() if name in PROJECT.models and r.mode != "view"} == {"unchanged"}

    build_models(warehouse, full_refresh=True)
    assert _snapshot(warehouse) == incremental
    assert mart(
        warehouse,
        "select attempts, first_provider, provider, day from int_requests_rolled_up where request_id = 'late-2'",
    ) == [(2, "anthropic", "amazon-bedrock", dt.date(2025, 2, 28))]


@pytest.mark.slow
def test_days_without_traffic_between_builds_are_zero_filled(tmp_path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    _ingest(warehouse, write_lines(tmp_path / "a.jsonl", [record(request_id="a", created_at="2025-01-01T10:00:00Z")]))
    build_models(warehouse)
    _ingest(warehouse, write_lines(tmp_path / "b.jsonl", [record(request_id="b", created_at="2025-01-05T10:00:00Z")]))
    build_models(warehouse)
    assert mart(warehouse, "select count(*), sum(requests) from traffic_minutely") == [(5 * 1440, 2)]


@pytest.mark.slow
def test_a_changed_parameter_rebuilds_only_the_models_that_use_it(tmp_path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    _ingest(warehouse, write_lines(tmp_path / "a.jsonl", [record()]))
    build_models(warehouse)
    results = build_models(warehouse, Parameters(burst_k=5))
    assert results["traffic_minutely"].mode == "full"
    assert results["bursts"].mode == "table"  # its input changed
    assert results["tool_call_rate_daily"].mode == "unchanged"
    assert results["tool_call_rate_weekly"].mode == "unchanged"


@pytest.mark.slow
def test_an_empty_warehouse_builds_empty_marts(tmp_path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    results = build_models(warehouse)
    assert results["tool_call_rate_daily"].rows == 0
    assert mart(warehouse, "select count(*) from requests") == [(0,)]


@pytest.mark.slow
def test_the_database_documents_every_mart_and_column(tmp_path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    build_models(warehouse)
    tables = dict(
        mart(
            warehouse, "select table_name, comment from duckdb_tables() where not table_name like '\\_gl%' escape '\\'"
        )
    )
    for name in MARTS:
        assert tables[name] and "Grain: one row per" in tables[name]
    undocumented = mart(
        warehouse,
        "select c.table_name, c.column_name from duckdb_columns() as c join duckdb_tables() as t using (table_name) "
        "where not t.table_name like '\\_gl%' escape '\\' and t.table_name <> 'model_families' "
        "and (c.comment is null or c.comment = '')",
    )
    assert undocumented == []
    wide = mart(warehouse, "select table_name, column_name from duckdb_columns() where data_type = 'HUGEINT'")
    assert wide == [], "counts are BIGINT, not HUGEINT (cast sums)"


@pytest.mark.slow
def test_a_copied_warehouse_reads_its_own_files(tmp_path, capsys, monkeypatch):
    """The stored `requests` view names its files relative to the warehouse folder and read-only connections list
    the warehouse's own, so a copy whose original is gone reads its files (and days ingested into it since)."""
    original = Warehouse(str(tmp_path / "original"))
    _ingest(original, write_lines(tmp_path / "a.jsonl", [record(request_id=f"c{i}") for i in range(4)]))
    build_models(original)
    root = tmp_path / "elsewhere" / "copy"
    shutil.copytree(original.root, root)
    copy = Warehouse(str(root))
    _ingest(copy, write_lines(tmp_path / "b.jsonl", [record(request_id="late", created_at="2025-06-02T08:00:00Z")]))
    Path(original.root).rename(tmp_path / "gone")

    assert mart(copy, "select count(*) from requests") == [(5,)]
    code, out, err = gatewaylens_sql("select count(*) as n from requests", copy, capsys, monkeypatch)
    assert (code, err, json.loads(out)) == (0, "", [{"n": 5}])

    # plain DuckDB (the duckdb CLI): started in the warehouse folder, or told where it is
    database = str(root / DATABASE_FILE)
    monkeypatch.chdir(root)
    with duckdb.connect(database, read_only=True) as con:
        assert con.execute("select count(*) from requests").fetchall() == [(5,)]
    monkeypatch.chdir(tmp_path)
    with duckdb.connect(database, read_only=True) as con:
        with pytest.raises(duckdb.IOException, match="No files found"):
            con.execute("select count(*) from requests")
        con.execute("set file_search_path = ?", [str(root)])
        assert con.execute("select count(*) from requests").fetchall() == [(5,)]
        assert con.execute("select completed_requests from tool_call_rate_daily").fetchall() == [(4,)]


@pytest.mark.slow
def test_a_warehouse_path_with_glob_characters_builds_and_reads_its_own_files(tmp_path, capsys, monkeypatch):
    """`[1]` and `*` in the path: every read is listed or relative to the root, never a glob over it (a glob of
    `w[1]*` would also match the neighbour `w1-other`)."""
    neighbour = Warehouse(str(tmp_path / "w1-other"))
    ingest([str(write_lines(tmp_path / "other.jsonl", [record(request_id="other")]))], neighbour, hash_key=HASH_KEY)
    warehouse = Warehouse(str(tmp_path / "w[1]*"))
    lines = [record(request_id=f"g{i}", created_at=f"2025-06-0{1 + i % 2}T12:00:00Z") for i in range(3)]
    ingest([str(write_lines(tmp_path / "in.jsonl", lines))], warehouse, hash_key=HASH_KEY)
    ingest([str(write_lines(tmp_path / "more.jsonl", [record(request_id="g9")]))], warehouse, hash_key=HASH_KEY)
    assert build_models(warehouse)["tool_call_rate_daily"].rows == 2
    assert mart(warehouse, "select count(*) from requests") == [(4,)]
    assert mart(warehouse, "select sum(completed_requests) from tool_call_rate_daily") == [(4,)]
    code, out, err = gatewaylens_sql("select count(*) as n from requests", warehouse, capsys, monkeypatch)
    assert (code, err, json.loads(out)) == (0, "", [{"n": 4}])


def test_a_question_mark_in_the_path_is_refused_before_duckdb_writes(tmp_path):
    with pytest.raises(ValueError, match=r"cannot write the database at .*'\?'"):
        build_models(Warehouse(str(tmp_path / "wh?")))


def test_the_metrics_reference_is_current():
    assert docs.METRICS_DOC.read_text() == docs.render_docs(), "run `make schema` to regenerate docs/metrics.md"


def test_whole_periods_widen_days_to_their_weeks_and_months():
    days = [dt.date(2025, 1, 31), dt.date(2025, 2, 1)]
    assert engine.whole_periods(days, None) == days
    weeks = engine.whole_periods(days, "week")  # Friday and Saturday of the week of Monday 2025-01-27
    assert (weeks[0], weeks[-1], len(weeks)) == (dt.date(2025, 1, 27), dt.date(2025, 2, 2), 7)
    months = engine.whole_periods(days, "month")
    assert (months[0], months[-1], len(months)) == (dt.date(2025, 1, 1), dt.date(2025, 2, 28), 59)
    assert engine.period_end(dt.date(2024, 2, 10), "month") == dt.date(2024, 2, 29)
    assert engine.period_end(dt.date(2025, 12, 31), "month") == dt.date(2025, 12, 31)


@pytest.mark.slow
def test_a_period_model_recomputes_the_whole_month_of_a_late_day_and_nothing_else(tmp_path):
    """Latencies 100 and 300 on 2025-01-10, 500 on 2025-02-10; a late record (900) for 2025-01-20 changes January's
    median from its attempts (100, 300, 900: 300), while February is not recomputed."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    first = [
        record(request_id="a", latency_ms=100, created_at="2025-01-10T10:00:00Z"),
        record(request_id="b", latency_ms=300, created_at="2025-01-10T11:00:00Z"),
        record(request_id="c", latency_ms=500, created_at="2025-02-10T10:00:00Z"),
    ]
    _ingest(warehouse, write_lines(tmp_path / "a.jsonl", first))
    build_models(warehouse)
    query = "select month, days, attempts, latency_p50_ms from provider_latency_monthly order by month"
    assert mart(warehouse, query) == [(dt.date(2025, 1, 1), 1, 2, 200.0), (dt.date(2025, 2, 1), 1, 1, 500.0)]
    late = [record(request_id="d", latency_ms=900, created_at="2025-01-20T10:00:00Z")]
    _ingest(warehouse, write_lines(tmp_path / "b.jsonl", late))
    result = build_models(warehouse)["provider_latency_monthly"]
    assert result.mode == "incremental"
    assert mart(warehouse, query) == [(dt.date(2025, 1, 1), 2, 3, 300.0), (dt.date(2025, 2, 1), 1, 1, 500.0)]


def test_a_partition_period_must_be_a_week_or_a_month(tmp_path):
    path = tmp_path / "marts" / "bad_period.sql"
    path.parent.mkdir()
    path.write_text(
        "-- bad_period: x\n--\n-- grain: one row per day\n-- materialized: incremental\n"
        "-- partition_day: day\n-- partition_period: quarter\n-- columns:\n--   day: d\n\n"
        "select date as day from requests"
    )
    with pytest.raises(project.ModelError, match="partition_period is one of week, month"):
        project.parse_model(path)


def test_the_parameter_table_is_generated_from_parameters_and_the_sql():
    rows = {
        line.split("|")[1].strip(" `"): line.split("|")[2:5] for line in docs.parameter_table(PROJECT).splitlines()[2:]
    }
    assert list(rows) == [knob.name for knob in Parameters.documented()]
    assert rows["burst_k"][0].strip() == "3"
    assert "traffic_minutely" in rows["burst_k"][2] and "provider_uptime_daily" in rows["slo"][2]
    assert all(knob.doc for knob in Parameters.documented())
