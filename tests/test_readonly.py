"""The analyst's connection: `gatewaylens sql` and read-only databases stay inside the warehouse, write nothing
and reach no network."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.ingest import ingest
from pipelines.lib.readonly import ReadOnlyQueryError, check_query
from pipelines.lib.sqlmodels import database
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, build_models, gatewaylens_sql, record, write_lines

#: The tester's attacks: (query, what the one error line says). `{partition}` is a stored partition file,
#: `{outside}` a folder next to the warehouse (its name shares the warehouse's prefix).
ATTACKS = {
    "copy over a partition": ("copy (select 1 as a) to '{partition}'", "COPY statements are not run"),
    "copy to /tmp, next to the warehouse": (
        "copy (select 1 as a) to '{outside}/out.csv'",
        "COPY statements are not run",
    ),
    "export database": ("export database '{outside}/export'", "EXPORT statements are not run"),
    "read /etc/passwd": ("select * from read_text('/etc/passwd')", 'Cannot access file "/etc/passwd"'),
    "read the environment": ("select * from read_text('/proc/self/environ')", 'file "/proc/self/environ"'),
    "install httpfs": ("install httpfs", "INSTALL statements are not run"),
    "load httpfs": ("load httpfs", "LOAD statements are not run"),
    "the network": ("select * from read_csv('https://example.com/a.csv')", 'file "https://example.com/a.csv"'),
    "attach another file": ("attach '{outside}/other.duckdb' as other", "ATTACH statements are not run"),
    "enable external access": ("set enable_external_access = true", "SET statements are not run"),
    "widen the directories": ("set allowed_directories = ['/']", "SET statements are not run"),
    "create a table": ("create table stolen as select 1 as a", "CREATE statements are not run"),
    "a write behind a CTE": ("with x as (select 1) insert into t select * from x", "INSERT statements are not run"),
    "read parquet outside": ("select * from read_parquet('{outside}/data.parquet')", "Cannot access file"),
    "a second statement": ("select 1; copy (select 1) to '{outside}/x.csv'", "one query at a time"),
}
#: Attacks that DuckDB's own settings stop, without `check_query`: all but writes inside the warehouse.
STOPPED_BY_SETTINGS = sorted(set(ATTACKS) - {"copy over a partition", "a second statement"})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A built warehouse of six requests over two days, and a Parquet file in a folder next to it."""
    base = tmp_path_factory.mktemp("readonly")
    warehouse = Warehouse(str(base / "warehouse"))
    lines = [record(request_id=f"r{i}", created_at=f"2025-06-0{1 + i % 2}T12:00:00Z") for i in range(6)]
    ingest([str(write_lines(base / "in.jsonl", lines))], warehouse, hash_key=HASH_KEY)
    build_models(warehouse, only=["tool_call_rate_daily"])  # the mart the queries read
    (base / "warehouse-outside").mkdir()
    duckdb.sql(f"copy (select 'secret' as a) to '{base / 'warehouse-outside' / 'data.parquet'}'")
    return warehouse


def _query(template: str, warehouse: Warehouse) -> str:
    outside = f"{warehouse.root}-outside"
    return template.format(partition=warehouse.partition_path("2025-06-01"), outside=outside)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_fails_with_one_line_and_exit_1(built, attack, capsys, monkeypatch):
    template, message = ATTACKS[attack]
    partition = Path(built.partition_path("2025-06-01"))
    before = partition.read_bytes()
    code, out, err = gatewaylens_sql(_query(template, built), built, capsys, monkeypatch)
    assert (code, out) == (1, "")
    assert err.startswith("gatewaylens: error: ") and err.count("\n") == 1, err
    assert message in err
    assert partition.read_bytes() == before
    outside = Path(f"{built.root}-outside")
    assert sorted(p.name for p in outside.iterdir()) == ["data.parquet"]


@pytest.mark.fast_cases(3)  # each attack also runs, checked end to end, in the test above
@pytest.mark.parametrize("attack", STOPPED_BY_SETTINGS)
def test_the_read_only_connection_stops_them_without_the_query_check(built, attack):
    """Defence in depth: `open_database(read_only=True)` alone refuses these (the dashboards rely on it)."""
    with database.open_database(built, read_only=True) as con:
        query = _query(ATTACKS[attack][0], built)
        with pytest.raises(duckdb.Error):
            con.sql(query).fetchall()


@pytest.mark.slow
def test_the_settings_alone_would_let_a_copy_write_inside_the_warehouse(tmp_path):
    """Why `check_query` exists: DuckDB's allowed_directories does not tell reading from writing."""
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    build_models(warehouse)
    with database.open_database(warehouse, read_only=True) as con:
        con.execute(f"copy (select 1 as a) to '{warehouse.path('written.csv')}'")
        with pytest.raises(ReadOnlyQueryError):
            check_query(con, f"copy (select 1 as a) to '{warehouse.path('again.csv')}'")
    assert Path(warehouse.path("written.csv")).exists()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("select count(*) as n from requests", [{"n": 6}]),
        ("from requests select count(*) as n where date = date '2025-06-02'", [{"n": 3}]),
        ("select sum(completed_requests)::int as n from tool_call_rate_daily", [{"n": 6}]),
        ("select count(*) as n from read_parquet('requests/date=2025-06-01/data.parquet')", [{"n": 3}]),
        ("select count(*) as n from read_parquet('requests/*/*.parquet')", [{"n": 6}]),
    ],
)
def test_analyst_queries_work(built, query, expected, capsys, monkeypatch):
    code, out, err = gatewaylens_sql(query, built, capsys, monkeypatch)
    assert (code, err) == (0, "")
    assert json.loads(out) == expected


def test_summarize_describe_and_show_work(built, capsys, monkeypatch):
    code, out, _ = gatewaylens_sql("summarize requests", built, capsys, monkeypatch)
    assert code == 0 and {"column_name": "request_id"}.items() <= json.loads(out)[0].items()
    code, out, _ = gatewaylens_sql("describe tool_call_rate_daily", built, capsys, monkeypatch)
    assert code == 0 and json.loads(out)[0]["column_name"] == "day"
    code, out, _ = gatewaylens_sql("show tables", built, capsys, monkeypatch)
    assert code == 0 and {"name": "tool_call_rate_daily"} in json.loads(out)
    relative = "summarize from read_parquet('requests/date=2025-06-01/data.parquet')"
    code, out, _ = gatewaylens_sql(relative, built, capsys, monkeypatch)
    assert code == 0 and json.loads(out)[0]["count"] == 3


@pytest.mark.parametrize(
    ("sql", "select"),
    [
        ("select 1 as x", "select 1 as x"),
        ("select 1 as x; -- the first", "select 1 as x"),
        ("select ';' as x /* a note */ ;\n", "select ';' as x"),
        ("from requests -- all of it\n;;", "from requests"),
        ('select 1 as "x; -- y"', 'select 1 as "x; -- y"'),
    ],
)
def test_the_checked_query_comes_back_without_what_follows_it(sql, select):
    """`gatewaylens sql` wraps the query to format its result: a trailing semicolon or comment would break it."""
    assert check_query(duckdb.connect(), sql) == select


@pytest.mark.parametrize("sql", ["", "   ", "-- a comment", "/* a note */ ;"])
def test_a_query_without_a_statement_says_so(sql):
    """Nothing to run is not "0 statements" (as if there were too many): it says there is no statement."""
    with pytest.raises(ReadOnlyQueryError, match=r"^no statement to run: the query is empty or only comments$"):
        check_query(duckdb.connect(), sql)
