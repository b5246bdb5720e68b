"""Figure builders and the report on tiny hand-made marts (in-memory DuckDB, the documented columns), plus a few
records through the real ingest and model build: traces per family, values, empty states, escaping.

(Long on purpose: the figures of every report section read one shared hand-made database and one small built
warehouse; split by section, each module would build them again.)"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import dagster as dg
import duckdb
import pyarrow as pa
import pytest
from plotly.offline import get_plotlyjs

from dashboards import base, export, headline, palette, periods, report
from dashboards import figures as F
from dashboards.base import Range
from dashboards.figures import agents, providers, reliability, speed, spend, volume
from pipelines.lib.sqlmodels import database
from pipelines.lib.sqlmodels.project import load_project, tables_read
from pipelines.lib.storage import Warehouse
from tests.conftest import build_models, built_warehouse, record, three_days, write_lines

PROJECT = load_project()
MODELS = {m.name: m for m in PROJECT.order()}
JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def make_mart(con: duckdb.DuckDBPyConnection, name: str, data: list[dict[str, Any]]) -> None:
    """Create a mart by hand with exactly its documented columns, in order (a missing key is NULL)."""
    columns = list(MODELS[name].columns)
    assert all(set(row) <= set(columns) for row in data), f"{name}: undocumented column"
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in data])
    con.register("_given", table)
    con.execute(f"create table {name} as select * from _given")
    con.unregister("_given")


def tool_rows(family: str, counts: list[tuple[dt.date, int, int]]) -> list[dict[str, Any]]:
    return [
        {
            "month": month,
            "model_family": family,
            "days": 28,
            "completed_requests": completed,
            "tool_call_requests": tools,
            "tool_call_rate": tools / completed,
        }
        for month, completed, tools in counts
    ]


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_tool_call_rate_one_trace_per_family_with_its_colour_and_values(con):
    make_mart(
        con,
        "tool_call_rate_monthly",
        tool_rows("Claude", [(JAN, 100, 5), (FEB, 200, 40)]) + tool_rows("GPT", [(JAN, 300, 30), (FEB, 300, 60)]),
    )
    fig = agents.tool_call_rate(con, Range(grain="month"))
    assert [t.name for t in fig.data] == ["GPT", "Claude"]  # by volume
    claude = fig.data[1]
    assert list(claude.x) == [JAN, FEB] and list(claude.y) == pytest.approx([0.05, 0.2])
    assert claude.line.color == palette.family_color("Claude") == palette.FAMILY_COLORS["Claude"]
    assert [list(c) for c in claude.customdata] == [[5, 100, 28], [40, 200, 28]]  # exact counts in the hover text
    assert fig.layout.yaxis.tickformat == ".0%"
    assert "Claude: 5% -> 20%" in fig.layout.meta["reading"]


def test_range_filters_periods(con):
    make_mart(con, "tool_call_rate_monthly", tool_rows("Claude", [(JAN, 100, 5), (FEB, 200, 40), (MAR, 10, 1)]))
    fig = agents.tool_call_rate(con, Range(dt.date(2025, 2, 10), dt.date(2025, 2, 20), "month"))
    assert list(fig.data[0].x) == [FEB]


def test_a_family_without_data_has_no_trace_and_the_same_colours_elsewhere(con):
    make_mart(con, "tool_call_rate_monthly", tool_rows("Claude", [(JAN, 100, 5)]))
    make_mart(
        con,
        "model_mix_daily",
        [
            {"day": dt.date(2025, 1, 3), "model_tier": "frontier", "model_family": "Claude", "requests": 10},
            {"day": dt.date(2025, 1, 3), "model_tier": "small", "model_family": "Mistral", "requests": 30},
        ],
    )
    rate = agents.tool_call_rate(con, Range())
    by_family = volume.volume_by_family(con, Range())
    assert [t.name for t in rate.data] == ["Claude"]
    assert {t.name: t.marker.color for t in by_family.data} == {
        "Mistral": palette.FAMILY_COLORS["Mistral"],
        "Claude": palette.FAMILY_COLORS["Claude"],
    }
    assert [list(c) for c in by_family.data[1].customdata] == [[0.25, None]]


def test_reasoning_share_marks_low_coverage_and_leaves_unreported_families_out(con):
    base = {"month": JAN, "days": 31}
    make_mart(
        con,
        "reasoning_share_monthly",
        [
            {**base, "model_family": "Claude", "output_tokens": 1000, "reported_output_tokens": 300,
             "reasoning_tokens": 150, "reasoning_share": 0.5, "reasoning_coverage": 0.3},
            {**base, "model_family": "Llama", "output_tokens": 500, "reported_output_tokens": 0,
             "reasoning_tokens": 0, "reasoning_share": None, "reasoning_coverage": 0.0},
        ],
    )  # fmt: skip
    fig = agents.reasoning_share(con, Range())
    names = [t.name for t in fig.data]
    assert names == ["Claude", "Claude coverage", "Llama (reports no reasoning)"]
    assert list(fig.data[0].marker.symbol) == ["circle-open"]  # coverage 30% < 50%: hollow
    assert list(fig.data[2].y) == [0.0]
    assert "Llama report no reasoning tokens" in fig.layout.meta["reading"]


def test_wilson_interval():
    lo, hi = providers.wilson(10, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.0552, 0.1744)
    assert providers.wilson(0, 0) == (0.0, 1.0)
    lo, hi = providers.wilson(0, 20)
    assert lo == 0.0 and 0 < hi < 0.2


def test_provider_variance_interval_and_model_rate(con):
    common = {"window_start": JAN, "window_end": dt.date(2025, 1, 28), "model": "qwen3-coder", "model_family": "Qwen"}
    make_mart(
        con,
        "provider_variance",
        [
            {**common, "provider": "novita", "completed_requests": 100, "tool_call_requests": 10,
             "tool_call_rate": 0.1, "model_tool_call_rate": 0.3, "deviation": -0.2, "z_score": -4.4},
            {**common, "provider": "together", "completed_requests": 100, "tool_call_requests": 50,
             "tool_call_rate": 0.5, "model_tool_call_rate": 0.3, "deviation": 0.2, "z_score": 4.4},
        ],
    )  # fmt: skip
    fig = providers.provider_variance(con, Range())
    qwen, overall = fig.data
    assert qwen.name == "Qwen" and overall.name == "model's rate, all providers"
    assert list(qwen.y) == ["qwen3-coder · novita", "qwen3-coder · together"]
    assert qwen.error_x.arrayminus[0] == pytest.approx(0.1 - 0.0552, abs=1e-4)
    assert qwen.error_x.array[0] == pytest.approx(0.1744 - 0.1, abs=1e-4)
    assert list(overall.x) == [0.3, 0.3]
    assert list(qwen.marker.symbol) == ["diamond", "diamond"]
    assert "novita" in fig.layout.meta["reading"]


def test_every_builder_has_an_empty_state_on_an_empty_database(con):
    for name, fig in F.build_all(con, Range()).items():
        assert not fig.data, name
        assert fig.layout.annotations[0].text, name
        assert fig.layout.meta["reading"], name


def test_labels_from_logs_are_escaped_before_plotly(con):
    make_mart(con, "tool_call_rate_monthly", tool_rows(SCRIPT, [(JAN, 100, 5)]))
    common = {
        "window_start": JAN,
        "window_end": JAN,
        "model": IMG,
        "model_family": SCRIPT,
        "completed_requests": 10,
        "tool_call_requests": 1,
        "tool_call_rate": 0.1,
        "model_tool_call_rate": 0.1,
        "z_score": 0.0,
    }
    make_mart(con, "provider_variance", [{**common, "provider": IMG}, {**common, "provider": "b"}])  # fmt: skip
    rate = agents.tool_call_rate(con, Range())
    variance = providers.provider_variance(con, Range())
    assert rate.data[0].name == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "&lt;script&gt;" in rate.data[0].hovertemplate and "<script>" not in rate.data[0].hovertemplate
    assert variance.data[0].y[0] == "&lt;img src=x onerror=alert(1)&gt; · &lt;img src=x onerror=alert(1)&gt;"
    day = dt.date(2025, 1, 5)
    make_mart(con, "traffic_minutely", [{"minute": dt.datetime(2025, 1, 5, 12), "requests": 3, "baseline": 0.0}])
    make_mart(
        con,
        "tool_call_rate_daily",
        [
            {
                "day": day,
                "model_family": SCRIPT,
                "completed_requests": 3,
                "tool_call_requests": 1,
                "tool_call_rate": 1 / 3,
            }
        ],
    )
    page = report.render_report(con, Range()).html
    assert SCRIPT not in page and IMG not in page
    # the tiles (Jinja2 autoescape) carry the family name as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; tool-call rate" in page


@pytest.mark.slow
def test_report_embeds_plotly_once_and_loads_nothing(con):
    make_mart(con, "tool_call_rate_monthly", tool_rows("Claude", [(JAN, 100, 5)]))
    page = report.render_report(con, Range()).html
    bundle = get_plotlyjs()
    assert page.count(bundle[:300]) == 1
    assert len(page) < len(bundle) + 2_000_000
    assert not re.search(r"<script[^>]+src=", page) and "cdn." not in page.replace(bundle, "")
    assert page.count('class="figure') == len(F.FIGURES)


@pytest.mark.slow
def test_report_on_an_empty_warehouse_says_so(con):
    rendered = report.render_report(con, Range())
    assert rendered.period == (None, None) and rendered.tiles == []
    assert "No data in this period" in rendered.html and "Period: no data" in rendered.html
    assert len(rendered.empty_figures) == len(F.FIGURES)
    asked = report.render_report(con, Range(dt.date(2030, 1, 1), dt.date(2030, 1, 31)))
    assert asked.period_text == "2030-01-01 to 2030-01-31 (UTC): no data"  # the days asked for, not "no data" alone
    assert "Period: 2030-01-01 to 2030-01-31 (UTC): no data" in asked.html
    open_end = report.render_report(con, Range(start=dt.date(2030, 1, 1))).period_text
    assert open_end == "2030-01-01 to the last day (UTC): no data"


@pytest.mark.parametrize(
    ("first", "last", "grain", "expected"),
    [
        (dt.date(2025, 1, 1), dt.date(2026, 1, 30), "month", (dt.date(2025, 12, 1), dt.date(2025, 1, 1), True)),
        (dt.date(2024, 12, 1), dt.date(2026, 1, 30), "month", (dt.date(2025, 12, 1), dt.date(2024, 12, 1), True)),
        (dt.date(2025, 1, 1), dt.date(2025, 1, 1), "month", (dt.date(2025, 1, 1), None, False)),
        (dt.date(2025, 1, 1), dt.date(2025, 1, 1), "day", (dt.date(2025, 1, 1), None, True)),
        (dt.date(2025, 1, 1), dt.date(2025, 1, 20), "week", (dt.date(2025, 1, 13), dt.date(2025, 1, 6), True)),
    ],
)
def test_comparison_periods(first, last, grain, expected):
    assert periods.comparison_periods(first, last, grain) == expected


@pytest.mark.slow
def test_one_day_of_data_through_the_real_models(tmp_path: Path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    lines = [
        record(request_id=f"r{i}", created_at=f"2025-06-01T12:{i:02d}:00Z", native_finish_reason="tool_use")
        for i in range(3)
    ] + [record(request_id="g1", model="openai/gpt-4o", provider_native="OpenAI")]
    from pipelines.lib.ingest import ingest

    ingest([str(write_lines(tmp_path / "one_day.jsonl", lines))], warehouse, hash_key=b"k")
    build_models(warehouse)
    with database.open_database(warehouse, read_only=True) as db:
        rendered = report.render_report(db, Range(grain="week"))
        claude = agents.tool_call_rate(db, Range(grain="day"))
    assert rendered.period == (dt.date(2025, 6, 1), dt.date(2025, 6, 1))
    assert {t.name: list(t.y) for t in claude.data} == {"Claude": [1.0], "GPT": [0.0]}
    tiles = {t["label"]: t for t in rendered.tiles}
    assert tiles["Claude tool-call rate"]["value"] == "100%"
    assert tiles["Claude tool-call rate"]["change"] == "no comparison"
    assert "no earlier full period" in rendered.html


def test_the_report_reads_the_marts_its_figures_and_tiles_declare():
    """The list of marts is derived, never kept by hand: the asset depends on what the figures and the headline
    declare, and each is a mart model of sql/marts/."""
    from pipelines.defs.dashboards import dashboards

    declared = {mart for figure in F.FIGURES.values() for mart in figure.marts} | set(headline.MARTS)
    assert set(report.MARTS) == declared
    assert set(dashboards.dependency_keys) == {dg.AssetKey(m) for m in declared}
    assert not dashboards.op.pool
    marts = Path(__file__).resolve().parents[1] / "sql" / "marts"
    assert {m for m in declared if not (marts / f"{m}.sql").is_file() or MODELS[m].layer != "marts"} == set()


class _Recording:
    """A connection that notes the tables every statement run through it reads (from DuckDB's parse tree)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.tables = con, set()

    def execute(self, query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        self.tables |= tables_read(query)
        return self.con.execute(query, params or [])


@pytest.mark.parametrize("name", list(F.FIGURES))
def test_a_figure_reads_exactly_the_marts_it_declares(small_warehouse: Warehouse, name: str):
    figure, read = F.FIGURES[name], set()
    with database.open_database(small_warehouse, read_only=True) as con:
        for grain in base.GRAINS:
            recording = _Recording(con)
            assert figure(recording, Range(grain=grain)).data, grain  # drawn: every query it makes was run
            read |= recording.tables
    assert read == set(figure.marts)


def test_the_tiles_read_exactly_the_marts_they_declare(small_warehouse: Warehouse):
    read = set()
    with database.open_database(small_warehouse, read_only=True) as con:
        for grain in base.GRAINS:
            recording = _Recording(con)
            assert headline.tiles(recording, Range(grain=grain))[0], grain
            assert headline.latest_data(recording) is not None
            read |= recording.tables
    assert read == set(headline.MARTS)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_cli_report_without_a_database_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from pipelines import cli  # in process: the message and the exit code are tested, not the process

    assert cli.main(["report", "--warehouse", str(tmp_path / "nothing")]) == 1
    assert capsys.readouterr().err.startswith("gatewaylens: error: no warehouse database")


@pytest.mark.slow
def test_cli_report_writes_to_out_and_png_and_pdf_without_a_browser_are_messages(tmp_path: Path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    build_models(warehouse)  # an empty warehouse: every mart exists and is empty
    out = tmp_path / "slides"
    done = _cli(
        "report", "--warehouse", str(tmp_path / "warehouse"), "--out", str(out), "--png", "--pdf", "--grain", "week",
        env={"BROWSER_PATH": str(tmp_path / "no-such-browser")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "index.html").is_file() and not list(out.glob(".*.tmp"))
    assert not (out / "report.pdf").exists()
    assert "PDF export needs Chromium and none was found" in done.stderr
    assert "PNG export needs Chromium and none was found" in done.stderr
    assert "Traceback" not in done.stderr
    assert f"dashboards: {out.as_uri()}/index.html" in done.stdout


@pytest.mark.slow
def test_png_export_with_chromium(tmp_path: Path, con):
    from tests.browser import chromium

    browser = chromium()
    make_mart(con, "tool_call_rate_monthly", tool_rows("Claude", [(JAN, 100, 5), (FEB, 100, 9)]))
    figs = {"tool_call_rate": agents.tool_call_rate(con, Range()), "empty": volume.volume_by_tier(con, Range())}
    import os

    previous = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = browser
    try:
        written = export.export_pngs(figs, tmp_path / "png", scale=1)
    finally:
        if previous is None:
            os.environ.pop("BROWSER_PATH", None)
        else:
            os.environ["BROWSER_PATH"] = previous
    assert written == [tmp_path / "png" / "tool_call_rate.png"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- spend, speed, the tool funnel, the two reasoning shares, the error budget ----------------------------------


def _spend_row(month: dt.date, family: str, cost: float | None, requests: int = 10) -> dict[str, Any]:
    return {
        "month": month,
        "model_family": family,
        "provider": "p",
        "app_id": "a",
        "operation": "chat",
        "days": 28,
        "requests": requests,
        "completed_requests": requests,
        "cost_reported_requests": requests if cost is not None else 0,
        "cost_usd": cost,
        "completed_with_cost": requests if cost is not None else 0,
        "tool_call_completions_with_cost": requests // 2 if cost is not None else 0,
    }


def test_spend_keeps_seven_families_and_sums_the_rest_as_others(con):
    families = [f"family-{i:02d}" for i in range(12)]
    make_mart(con, "spend_monthly", [_spend_row(JAN, f, 100.0 - i) for i, f in enumerate(families)])
    fig = spend.spend_by_family(con, Range())
    assert [trace.name for trace in fig.data] == [*families[:7], "others"]
    assert fig.data[-1].y == (sum(100.0 - i for i in range(7, 12)),)
    assert fig.layout.meta["reading"].startswith("$1,134 over 120 requests")
    assert fig.layout.meta["reading"].endswith('the 7 families with the most spend; the other 5 pooled as "others".')


def test_unknown_cost_is_said_not_drawn_as_zero(con):
    make_mart(con, "spend_monthly", [_spend_row(JAN, "Claude", 30.0), _spend_row(JAN, "GPT", None, requests=30)])
    fig = spend.spend_by_family(con, Range())
    assert [trace.name for trace in fig.data] == ["Claude", "GPT"]
    assert "25% of requests report a cost: the rest are unknown, not free" in fig.layout.meta["reading"]
    per = spend.cost_per_completion(con, Range())
    assert [trace.name for trace in per.data] == ["Claude", "Claude"]  # GPT has no reported cost: not a line at $0
    assert per.data[0].y == (3.0,) and per.data[1].y == (6.0,)


def test_tool_funnel_shares_and_their_coverage(con):
    row = {"month": JAN, "model_family": "Claude", "days": 28, "completed_requests": 100, "tool_call_requests": 40}
    funnel = {"tools_logged_requests": 80, "tools_offered_requests": 60, "tool_use_requests": 45}
    make_mart(con, "tool_call_rate_monthly", [{**row, **funnel}, {**row, "model_family": "GPT"}])
    fig = agents.tool_funnel(con, Range())
    assert [t.y for t in fig.data] == [(0.75, None), (0.75, None), (0.4, 0.4)]  # GPT logs no tools offered
    assert fig.layout.meta["reading"] == (
        "Claude: 75% of completed requests offer tools, 75% of those use them, 40% end in a tool call; the first two "
        "rest on the 80% of requests whose log says how many tools were offered."
    )


def test_the_two_reasoning_shares_are_drawn_and_named_apart(con):
    tokens = {
        "output_tokens": 1000,
        "reported_output_tokens": 500,
        "reasoning_tokens": 250,
        "capable_output_tokens": 600,
    }
    make_mart(con, "reasoning_share_monthly", [{"month": JAN, "model_family": "Claude", "days": 28, **tokens}])
    fig = agents.reasoning_two_shares(con, Range())
    assert [t.y for t in fig.data] == [(0.5,), (0.6,)]
    assert "reasoning is 50% of output tokens" in fig.layout.meta["reading"]
    assert "served 60% of all output" in fig.layout.meta["reading"]


def test_ttft_compares_one_model_across_providers_in_the_last_period(con):
    def latency(month, provider, model, p50, attempts=10):
        return {"month": month, "provider": provider, "model_key": model, "model_family": "Qwen", "operation": "chat",
                "attempts": attempts, "ttft_attempts": attempts, "ttft_p50_ms": p50, "ttft_p90_ms": 2 * p50,
                "speed_attempts": attempts, "tokens_per_second_p50": 100.0}  # fmt: skip

    make_mart(
        con,
        "provider_latency_monthly",
        [
            latency(JAN, "a", "qwen3-coder", 900.0),
            latency(FEB, "a", "qwen3-coder", 500.0),
            latency(FEB, "b", "qwen3-coder", 800.0),
            latency(FEB, "a", "solo-model", 100.0, attempts=99),  # one provider: nothing to compare
        ],
    )
    fig = speed.ttft_by_provider(con, Range())
    assert fig.data[0].y == ("a", "b") and fig.data[0].x == (500.0, 800.0)
    assert (
        "qwen3-coder in Feb 2025 on 2 providers: median TTFT 500 ms on a to 800 ms on b" in fig.layout.meta["reading"]
    )


def test_error_budget_colours_by_the_burn_rate_alert(con):
    base = {"month": JAN, "attempts": 1000, "allowed_faults": 1.0, "slo": 0.999, "burn_rate_6h": 0.0}
    make_mart(
        con,
        "provider_error_budget_monthly",
        [
            {
                **base,
                "provider": "calm",
                "provider_faults": 0,
                "budget_left": 1.0,
                "burn_rate_1h": 0.0,
                "burn_rate_3d": 0.0,
                "alert": "ok",
            },
            {
                **base,
                "provider": "burning",
                "provider_faults": 3,
                "budget_left": -2.0,
                "burn_rate_1h": 20.0,
                "burn_rate_3d": 3.0,
                "alert": "page",
            },
        ],
    )
    fig = reliability.error_budget(con, Range())
    bars = fig.data[0]
    assert bars.y == ("burning", "calm") and bars.x == (-1.0, 1.0)  # overspent budgets are drawn at -100%
    assert bars.text == ("-200% · burn page", "100% · burn ok")
    assert (
        "1 of 2 providers have overspent their budget; burning fast enough to page: burning."
        in (fig.layout.meta["reading"])
    )


def test_open_weights_and_labs_as_shares_of_each_periods_output(con):
    def lab(day, vendor, open_weights, tokens):
        return {"day": day, "model_vendor": vendor, "open_weights": open_weights, "output_tokens": tokens}

    make_mart(
        con,
        "lab_mix_daily",
        [
            lab(JAN, "Meta", True, 300),
            lab(JAN, "OpenAI", True, 100),  # gpt-oss: the same lab on both sides
            lab(JAN, "OpenAI", False, 600),
            lab(FEB, "unknown", None, 50),
            lab(FEB, "Anthropic", False, 150),
        ],
    )
    fig = volume.open_weights_share(con, Range())
    weights = {t.name: t.y for t in fig.data if t.legendgroup == "panel1"}
    assert weights == {"open weights": (0.4, 0.0), "closed (API only)": (0.6, 0.75), "unknown": (0.0, 0.25)}
    labs = {t.name: t.y for t in fig.data if t.legendgroup == "panel2"}
    assert labs["OpenAI"] == (0.7, 0.0) and labs["Anthropic"] == (0.0, 0.75)
    assert fig.layout.meta["reading"] == (
        "In Feb 2025: open-weight models served 0% of output tokens; the largest lab-and-kind was Anthropic (75%)."
    )


# -- never more than MAX_LINES series on one axis -----------------------------------------------------------------


def test_a_rate_line_of_the_others_is_the_rate_of_their_pooled_counts(con):
    big = [tool_rows(f"family-{i}", [(JAN, 1000 - i, 100)]) for i in range(7)]
    small = tool_rows("small-a", [(JAN, 100, 10)]) + tool_rows("small-b", [(JAN, 10, 9)])
    make_mart(con, "tool_call_rate_monthly", [row for rows in big for row in rows] + small)
    fig = agents.tool_call_rate(con, Range())  # nine families: seven lines and the others
    assert [t.name for t in fig.data] == [*(f"family-{i}" for i in range(7)), "others"]
    others = fig.data[-1]
    assert others.y == (pytest.approx(19 / 110),)  # not (10% + 90%) / 2
    assert [list(c) for c in others.customdata] == [[19, 110, 2]]  # tool calls, completed, families pooled
    assert others.line.color == palette.NEUTRAL and others.line.dash == "dash"  # never one more family
    assert fig.layout.meta["reading"].endswith('the other 2 pooled as "others".')
    con.execute("delete from tool_call_rate_monthly where model_family = 'small-b'")
    fig = agents.tool_call_rate(con, Range())  # eight fit: no others
    assert [t.name for t in fig.data] == [*(f"family-{i}" for i in range(7)), "small-a"]
    assert "others" not in fig.layout.meta["reading"]


def test_provider_variance_greys_the_smaller_families_and_keeps_each_rate(con):
    rows = [
        {"window_start": JAN, "window_end": dt.date(2025, 1, 28), "model": f"m{i}", "model_family": f"family-{i}",
         "provider": provider, "completed_requests": 100 - i, "tool_call_requests": 10 + i,
         "tool_call_rate": (10 + i) / (100 - i), "model_tool_call_rate": 0.1}
        for i in range(9) for provider in ("a", "b")
    ]  # fmt: skip
    make_mart(con, "provider_variance", rows)
    fig = providers.provider_variance(con, Range())
    assert [t.name for t in fig.data] == [*(f"family-{i}" for i in range(6)), "others", "model's rate, all providers"]
    others = fig.data[6]
    assert list(others.y) == ["m6 · a", "m6 · b", "m7 · a", "m7 · b", "m8 · a", "m8 · b"]
    assert list(others.x) == [r["tool_call_rate"] for r in rows[12:]]
    assert list(fig.layout.yaxis.categoryarray) == [f"m{i} · {p}" for i in range(9) for p in ("a", "b")]
    assert 'the other 3 in grey as "others".' in fig.layout.meta["reading"]


WIDE_MODELS = {
    "GPT": "openai/gpt-4.1",
    "Gemini": "google/gemini-2.5-pro",
    "Llama": "meta-llama/llama-3.3-70b-instruct",
    "Qwen": "qwen/qwen3-coder",
    "DeepSeek": "deepseek/deepseek-chat",
    "Mistral": "mistralai/mistral-large",
    "MiniMax": "minimax/minimax-m2",
    "Kimi": "moonshotai/kimi-k2",
    "GLM": "z-ai/glm-4.6",
    "Grok": "x-ai/grok-4",
}
WIDE_PROVIDERS = ["together", "fireworks", "deepinfra", "novita", "groq", "nebius", "baseten", "cerebras", "chutes",
                  "hyperbolic", "parasail"]  # fmt: skip


def wide_lines() -> list[dict[str, Any]]:
    """Ten models of ten families (all but GPT new to three_days()), each served by two of eleven more providers on
    the same three days, of different volumes (the i-th model 2 * (12 - i) requests a day, a tool call in three)."""
    lines = []
    for i, model in enumerate(WIDE_MODELS.values()):
        for day, k in ((day, k) for day in (1, 2, 3) for k in range(2 * (12 - i))):
            lines.append(
                record(
                    request_id=f"w{i}-{day}-{k}",
                    created_at=f"2025-06-0{day}T{12 + k % 6:02d}:{k:02d}:{i:02d}Z",
                    model=model,
                    provider_native=WIDE_PROVIDERS[(i + k % 2) % len(WIDE_PROVIDERS)],
                    native_finish_reason="tool_calls" if k % 3 == 0 else "stop",
                )
            )
    return lines


@pytest.fixture(scope="module")
def wide_warehouse(tmp_path_factory) -> Warehouse:
    """three_days() and wide_lines(): 14 providers and 11 families, more than a chart draws on one axis."""
    return built_warehouse(tmp_path_factory.mktemp("wide"), three_days() + wide_lines())


def _crowded_axes(fig: Any) -> dict[tuple[str, str], int]:
    """The axes (x, y) of a figure that draw more than MAX_LINES traces, with their count."""
    traces: dict[tuple[str, str], int] = defaultdict(int)
    for trace in fig.data:
        traces[(trace.xaxis or "x", trace.yaxis or "y")] += 1
    return {axes: n for axes, n in traces.items() if n > base.MAX_LINES}


@pytest.mark.slow
def test_no_axis_of_any_figure_draws_more_than_max_lines_series(wide_warehouse: Warehouse):
    crowded = {}
    with database.open_database(wide_warehouse, read_only=True) as con:
        [(providers_seen, families_seen)] = con.execute(
            "select count(distinct provider), count(distinct model_family) from provider_variance"
        ).fetchall()
        assert providers_seen > base.MAX_LINES and families_seen > base.MAX_LINES
        for grain in base.GRAINS:
            for name, fig in F.build_all(con, Range(grain=grain)).items():
                assert fig.data, (grain, name)  # drawn, not an empty state
                if _crowded_axes(fig):
                    crowded[(grain, name)] = _crowded_axes(fig)
    assert crowded == {}


@pytest.mark.slow
def test_a_figure_that_does_not_draw_every_series_says_which_it_draws(wide_warehouse: Warehouse):
    with database.open_database(wide_warehouse, read_only=True) as con:
        figs = F.build_all(con, Range())
    for name in ("context_growth", "cost_per_completion"):  # a median cannot be pooled; a cost per completion is not
        assert len(figs[name].data) in (8, 16), name  # one axis, or two
        reading = figs[name].layout.meta["reading"]
        assert reading.endswith("; the other 3 left out (their rows are in the CSV)."), (name, reading)
    labs = figs["open_weights_share"].layout.meta["reading"]
    assert labs.endswith('Drawn: the 7 labs with the most output tokens; the other 4 pooled as "others".'), labs


# -- the data behind every figure -------------------------------------------------------------------------------

PERIOD_COLUMNS = {"day", "week", "month", "days"}  # a period and its days, named as in the weekly and monthly marts
CSV_LINK = re.compile(
    r'<a class="csv" href="data:text/csv;charset=utf-8,([^"]*)" download="([^"]*)" data-mart="([^"]*)"'
)


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory) -> Warehouse:
    return built_warehouse(tmp_path_factory.mktemp("small"), three_days())


def _decoded(cell: str, value: Any) -> bool:
    """Whether a CSV cell says `value`, read back by the value's own type (not by the writer's rules)."""
    if value is None:
        return cell == ""
    if isinstance(value, bool):
        return cell == str(value).lower()
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(cell) == value
    if isinstance(value, dt.date):
        return dt.date.fromisoformat(cell) == value
    if isinstance(value, int | float | decimal.Decimal):
        return type(value)(cell) == value
    return cell == value


@pytest.mark.slow
def test_every_figures_csv_matches_its_mart(small_warehouse: Warehouse, monkeypatch):
    reads: list[list[dict[str, Any]]] = []

    def recording(con, query, params=None):
        result = base.rows(con, query, params)
        reads.append(result)
        return result

    for module in {sys.modules[figure.query.__module__] for figure in F.FIGURES.values()}:
        monkeypatch.setattr(module, "rows", recording)
    with database.open_database(small_warehouse, read_only=True) as con:
        page = report.render_report(con, Range(grain="day"))
        columns: dict[str, set[str]] = defaultdict(set)
        for table, column in con.execute("select table_name, column_name from duckdb_columns()").fetchall():
            columns[table].add(column)
    links = {download: (mart, unquote(href)) for href, download, mart in CSV_LINK.findall(page.html)}
    assert not page.empty_figures, page.empty_figures
    offered = set()
    for name, fig in page.figures.items():
        data = report.figure_data(fig)
        assert data and all(data.values()), name  # every drawn figure offers what it was drawn from
        for mart, read in data.items():
            assert any(read is r for r in reads), (name, mart)  # the very rows the builder read from the mart
            download = f"{name}.csv" if len(data) == 1 else f"{name}.{mart}.csv"
            assert links[download][0] == mart
            offered.add(download)
            header, *body = list(csv.reader(io.StringIO(links[download][1])))
            assert header == list(read[0]), (name, mart)  # same columns, in the order read
            assert set(header) <= columns[mart] | PERIOD_COLUMNS, (name, set(header) - columns[mart])
            assert len(body) == len(read), (name, mart)
            for row, cells in zip(read, body, strict=True):
                assert all(_decoded(c, v) for c, v in zip(cells, row.values(), strict=True)), (name, row, cells)
    assert offered == set(links)
    # the data is in the page once: in its link, not also in the figure's JSON
    assert '"meta":' not in page.html.replace(get_plotlyjs(), "")


def test_csv_cells_unknown_is_empty_and_labels_are_never_formulas():
    rows = [
        {"day": dt.date(2025, 6, 1), "app_id": '=HYPERLINK("http://x")', "cost_usd": None, "rate": 0.1, "n": 3},
        {"day": dt.date(2025, 6, 2), "app_id": "a,b", "cost_usd": 0.0, "rate": -0.25, "n": 0},
    ]
    assert report.to_csv(rows) == (
        'day,app_id,cost_usd,rate,n\n2025-06-01,"\'=HYPERLINK(""http://x"")",,0.1,3\n2025-06-02,"a,b",0.0,-0.25,0\n'
    )
    assert report.csv_cell(dt.datetime(2025, 6, 1, 3, 0)) == "2025-06-01 03:00:00"
    assert report.csv_links("f", {"m": []}) == []


# -- spend and speed tiles --------------------------------------------------------------------------------------


def test_pooled_quantile_bounds_hold_the_pooled_p90():
    import numpy as np

    rng = np.random.default_rng(7)
    for _ in range(300):
        groups = [
            rng.lognormal(rng.uniform(5, 9), rng.uniform(0.1, 1.5), size=int(rng.integers(1, 60)))
            for _ in range(int(rng.integers(1, 6)))
        ]
        parts = [(len(g), tuple(float(np.quantile(g, lv)) for lv in headline.TTFT_LEVELS)) for g in groups]
        truth = float(np.quantile(np.concatenate(groups), 0.9))  # numpy's linear = DuckDB's quantile_cont
        lower, upper = headline.pooled_quantile_bounds(parts)
        assert lower is not None and lower <= truth + 1e-9
        assert upper is None or truth <= upper + 1e-9
    one = [(40, (100.0, 200.0, 300.0, 900.0))]
    assert headline.pooled_quantile_bounds(one) == (300.0, 300.0)  # one group: its own p90
    assert headline.pooled_quantile_bounds([]) == (None, None)


@pytest.mark.parametrize(
    ("lower", "upper", "text"),
    [
        (1234.0, 1234.0, "1.2 s"),
        (900.0, 2400.0, "900 ms\u20132.4 s"),
        (1100.0, 2900.0, "1.1\u20132.9 s"),
        (2000.0, None, "at least 2.0 s"),
        (None, None, "n/a"),
    ],
)
def test_ms_range(lower, upper, text):
    assert headline.ms_range(lower, upper) == text


def _tile_marts(con, feb_cost: float | None) -> None:
    jan, feb = dt.date(2025, 1, 10), dt.date(2025, 2, 10)
    make_mart(con, "traffic_minutely", [{"minute": dt.datetime(2025, 1, 1), "requests": 1},
                                        {"minute": dt.datetime(2025, 2, 28, 23, 59), "requests": 1}])  # fmt: skip
    make_mart(
        con,
        "tool_call_rate_daily",
        [
            {"day": d, "model_family": f, "completed_requests": n, "tool_call_requests": n // 4}
            for d in (jan, feb)
            for f, n in (("Claude", 400), ("GPT", 300), ("Llama", 200))
        ],
    )
    spend = {"model_family": "Claude", "provider": "p", "app_id": "a", "operation": "chat", "requests": 100}
    make_mart(
        con,
        "spend_daily",
        [
            {**spend, "day": jan, "cost_usd": 10.0, "cost_reported_requests": 100, "completed_with_cost": 100},
            {**spend, "day": feb, "cost_usd": feb_cost, "cost_reported_requests": 0 if feb_cost is None else 50,
             "completed_with_cost": 0 if feb_cost is None else 50},
        ],
    )  # fmt: skip
    latency = {"provider": "p", "operation": "chat", "model_family": "Claude", "attempts": 10}
    make_mart(
        con,
        "provider_latency_monthly",
        [
            {**latency, "month": FEB, "model_key": "a", "ttft_attempts": 100, "ttft_p50_ms": 400.0,
             "ttft_p75_ms": 500.0, "ttft_p90_ms": 600.0, "ttft_p99_ms": 700.0},
            {**latency, "month": FEB, "model_key": "b", "ttft_attempts": 100, "ttft_p50_ms": 1400.0,
             "ttft_p75_ms": 1500.0, "ttft_p90_ms": 1600.0, "ttft_p99_ms": 1700.0},
            {**latency, "month": JAN, "model_key": "a", "ttft_attempts": 10, "ttft_p50_ms": 800.0,
             "ttft_p75_ms": 900.0, "ttft_p90_ms": 1000.0, "ttft_p99_ms": 1100.0},
        ],
    )  # fmt: skip


def test_spend_and_speed_tiles(con):
    _tile_marts(con, feb_cost=4.0)
    rows, comparison = headline.tiles(con, Range(grain="month"))
    tiles = {t["label"]: t for t in rows}
    assert "Feb 2025" in comparison and "Jan 2025" in comparison
    spend = tiles["Spend (50% of requests report a cost)"]
    assert (spend["value"], spend["change"], spend["direction"]) == (
        "$4.00",
        "-60% vs Jan 2025 (100% reported then)",
        "flat",
    )
    per = tiles["Cost per completed request (of those that report a cost)"]
    assert (per["value"], per["change"], per["direction"]) == ("$0.08", "-20% vs Jan 2025", "up")  # cheaper: good
    claude = tiles["Claude p90 time to first token"]  # two rows of 100: the pooled p90 is in the slower one's range
    assert claude["value"] == "1.5\u20131.6 s" and claude["change"] == "1.0 s in Jan 2025"
    assert claude["direction"] == "down" and claude["note"].endswith("cannot be averaged")
    gpt = tiles["GPT p90 time to first token"]
    assert gpt["value"] == "n/a" and gpt["change"] == "no streamed request reports it"
    assert "Llama p90 time to first token" not in tiles  # the two largest families only


def test_unknown_spend_is_na_never_zero(con):
    _tile_marts(con, feb_cost=None)
    tiles = {t["label"]: t for t in headline.tiles(con, Range(grain="month"))[0]}
    assert tiles["Spend (0% of requests report a cost)"]["value"] == "n/a"
    assert tiles["Spend (0% of requests report a cost)"]["change"] == "no comparison"
    assert tiles["Cost per completed request (of those that report a cost)"]["value"] == "n/a"
    assert "$0" not in str(tiles)


def test_ttft_tiles_colour_only_ranges_that_do_not_overlap():
    now = {"lower": 475.0, "upper": 712.0, "rows": 2, "attempts": 43}
    before = {"lower": 640.0, "upper": None, "rows": 2, "attempts": 30}
    assert headline._ttft_tile(now, before, "Claude", "June")["direction"] == "flat"  # may be faster or slower
    assert headline._ttft_tile({**now, "upper": 600.0}, before, "Claude", "June")["direction"] == "up"
    assert headline._ttft_tile(now, {**before, "lower": 300.0, "upper": 450.0}, "C", "June")["direction"] == "down"
