"""`gatewaylens export`: a mart as CSV or Parquet, for a range of days, through the read-only connection."""

from __future__ import annotations

import csv
import datetime as dt
import io

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines import cli
from pipelines.lib import export
from pipelines.lib.ingest import ingest
from pipelines.lib.sqlmodels.project import load_project
from pipelines.lib.storage import Warehouse
from tests.conftest import HASH_KEY, build_models, record, write_lines

pytestmark = pytest.mark.slow  # every test reads a warehouse built for the module: `make test-fast` leaves them out


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    """Three requests: 2025-05-31 (Saturday), 2025-06-01 (Sunday) and 2025-06-02 (Monday, a new ISO week)."""
    root = tmp_path_factory.mktemp("export")
    store = Warehouse(str(root / "warehouse"))
    days = ["2025-05-31", "2025-06-01", "2025-06-02"]
    lines = [record(request_id=f"r-{day}", created_at=f"{day}T12:00:00Z", cost_usd=0.5) for day in days]
    ingest([str(write_lines(root / "logs.jsonl", lines))], store, hash_key=HASH_KEY)
    build_models(store, only=["spend_daily", "spend_weekly", "spend_monthly", "app_model_mix"])  # the marts exported
    return store


def _export(warehouse, capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["export", *args, "--warehouse", warehouse.url])
    out, err = capsys.readouterr()
    return code, out, err


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_daily_mart_for_a_range_of_days(warehouse, capsys):
    code, out, _ = _export(warehouse, capsys, "spend_daily", "--from", "2025-06-01", "--to", "2025-06-02")
    assert code == 0
    assert [(r["day"], r["requests"], r["cost_usd"]) for r in _csv_rows(out)] == [
        ("2025-06-01", "1", "0.5"),
        ("2025-06-02", "1", "0.5"),
    ]


def test_a_period_is_kept_when_it_overlaps_the_range(warehouse, capsys):
    """From Monday 2025-06-02: the week that starts that day; from Sunday 2025-06-01: also the week before."""
    _, monday, _ = _export(warehouse, capsys, "spend_weekly", "--from", "2025-06-02")
    _, sunday, _ = _export(warehouse, capsys, "spend_weekly", "--from", "2025-06-01")
    assert [r["week"] for r in _csv_rows(monday)] == ["2025-06-02"]
    assert [r["week"] for r in _csv_rows(sunday)] == ["2025-05-26", "2025-06-02"]
    _, june, _ = _export(warehouse, capsys, "spend_monthly", "--from", "2025-06-15", "--to", "2025-06-20")
    assert [(r["month"], r["requests"]) for r in _csv_rows(june)] == [("2025-06-01", "2")]


def test_parquet_to_a_file_keeps_the_types(warehouse, capsys, tmp_path):
    target = tmp_path / "spend.parquet"
    code, _, err = _export(warehouse, capsys, "spend_daily", "--format", "parquet", "--out", str(target))
    assert code == 0 and "3 rows" in err
    table = pq.read_table(target)
    assert table.column("day").to_pylist() == [dt.date(2025, 5, 31), dt.date(2025, 6, 1), dt.date(2025, 6, 2)]
    assert table.schema.field("requests").type == "int64"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no mart named 'nope'; marts: app_model_mix"),
        (["int_requests_rolled_up"], "no mart named 'int_requests_rolled_up'"),
        (["app_model_mix", "--from", "2025-06-01"], "app_model_mix has no time column"),
        (["spend_daily", "--format", "parquet"], "--format parquet writes a file: give --out PATH"),
        (["spend_daily", "--from", "2025-06-02", "--to", "2025-06-01"], "--from 2025-06-02 is after --to 2025-06-01"),
    ],
)
def test_mistakes_are_one_line_and_exit_1(warehouse, capsys, args, message):
    code, out, err = _export(warehouse, capsys, *args)
    assert code == 1 and out == "" and err.count("\n") == 1 and message in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{tmp}/spend.parquet"], "--out {tmp}/spend.parquet names a parquet file, but --format is csv"),
        (["--format", "parquet", "--out", "{tmp}/spend.CSV"], "names a csv file, but --format is parquet"),
        (["--out", "{tmp}/spend.csv.gz"], "names a compressed file (.gz), but the export writes it uncompressed"),
        (["--out", "{tmp}"], "--out {tmp} is a folder: give a file name"),
    ],
)
def test_an_out_that_cannot_hold_the_format_is_refused(warehouse, capsys, tmp_path, args, message):
    """The name of --out does not choose the format (--format does, CSV by default): a name that says another
    format, or a compression, would hold what it does not say; a folder holds no file of that name."""
    code, out, err = _export(warehouse, capsys, "spend_daily", *(arg.format(tmp=tmp_path) for arg in args))
    assert (code, out) == (1, "") and err.count("\n") == 1 and message.format(tmp=tmp_path) in err
    assert not list(tmp_path.iterdir())


def test_an_existing_out_is_replaced_and_the_line_says_so(warehouse, capsys, tmp_path):
    target = tmp_path / "spend.csv"
    code, _, first = _export(warehouse, capsys, "spend_daily", "--out", str(target))
    assert code == 0 and first == f"spend_daily: 3 rows -> {target}\n"
    target.write_text("an older export\n")
    code, _, again = _export(warehouse, capsys, "spend_daily", "--from", "2025-06-02", "--out", str(target))
    assert code == 0 and again == f"spend_daily: 1 rows -> {target} (replaced the file that was there)\n"
    assert [r["day"] for r in _csv_rows(target.read_text())] == ["2025-06-02"]


def test_a_mart_whose_grain_has_no_time_is_limited_by_the_column_its_model_says_places_a_row():
    """A burst is one row per episode (grain burst_id, placed_by started_at): a range of days keeps the bursts that
    started in it. An app's traffic profile has a first-seen time, a figure that places no row: refused, as a mart
    without time is."""
    con = duckdb.connect()
    con.execute("create table bursts (burst_id bigint, started_at timestamp, ended_at timestamp, requests bigint)")
    con.execute("create table app_traffic_profile (app_id varchar, first_seen timestamp, requests bigint)")
    con.execute("create table spend_weekly (week date, day_seen date, requests bigint)")
    assert export.time_column(con, "bursts", ("burst_id",), "started_at") == "started_at"
    assert export.time_column(con, "app_traffic_profile", ("app_id",)) is None
    assert export.time_column(con, "spend_weekly", ("week",)) == "week"  # the grain's own first
    assert load_project().models["bursts"].placed_by == "started_at"
