"""The report in a real browser: headless Chromium (Debian's, driven by Playwright) loads index.html from
file:// with the network blocked. A warehouse whose model, provider, family and app ids are script payloads
renders them as text: no dialog, no injected element, the payload visible in legends, ticks, tiles and hover."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from dashboards import export, report
from dashboards import figures as F
from pipelines.lib.sqlmodels import database
from pipelines.lib.storage import Warehouse
from tests.browser import chromium, figure_traces, open_report, render_pdf, screenshot
from tests.conftest import build_models, built_warehouse, three_days

# the whole pipeline over data and a browser: `make test-fast` leaves it out; the first test pays for the build
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror=alert("provider")>'
APP = '<img src=x onerror=alert("app")>'
LABELS = {  # mart columns that carry labels from logs -> the payload prefixed to every value
    "model_family": SCRIPT,
    "provider": IMG,
    "first_provider": IMG,
    "top_provider": IMG,
    "model": SCRIPT,
    "app_id": APP,
    "top_app_id": APP,
}


@pytest.fixture(scope="module")
def xss_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("xss")
    warehouse = built_warehouse(root, three_days(app=APP, odd_model=SCRIPT))
    # the ingest slugs provider names and canonicalizes model ids; put the payloads in every label column of
    # the marts the report reads, as a gateway that passes them through would
    with database.open_database(warehouse) as con:
        for mart in report.MARTS:
            columns = {
                r[0]
                for r in con.execute("select column_name from duckdb_columns() where table_name = ?", [mart]).fetchall()
            }
            for column, payload in LABELS.items():
                if column in columns:
                    con.execute(f"update {mart} set {column} = ? || coalesce({column}, '')", [payload])
    with database.open_database(warehouse, read_only=True) as con:
        page = report.render_report(con, F.Range(grain="day"))
    target = root / "index.html"
    report.write_report(page, warehouse, str(target))
    assert not page.empty_figures or set(page.empty_figures) <= {"failover_recovery"}, page.empty_figures
    return target


def test_payloads_render_as_text_and_never_run(xss_report: Path):
    with open_report(xss_report) as loaded:
        page = loaded.page
        assert loaded.dialogs == []
        assert loaded.console_errors == []
        assert loaded.blocked == []
        injected = page.evaluate(
            """() => ({
                img: document.querySelectorAll('img').length,
                handlers: document.querySelectorAll('[onerror],[onload],[onmouseover]').length,
                scripts: document.querySelectorAll('script').length,
                figures: document.querySelectorAll('.figure').length,
            })"""
        )
        assert injected["img"] == 0 and injected["handlers"] == 0
        assert injected["scripts"] == 1 + injected["figures"]  # plotly.js once, one Plotly.newPlot per figure
        legends = page.evaluate("() => [...document.querySelectorAll('.legendtext')].map(e => e.textContent)")
        assert any(text.startswith(SCRIPT) for text in legends), legends
        assert any(text.startswith(IMG) for text in legends), [t for t in legends if "img" in t]
        ticks = page.evaluate("() => [...document.querySelectorAll('.ytick text')].map(e => e.textContent)")
        assert any(SCRIPT in text and IMG in text for text in ticks), ticks  # provider variance: model · provider
        assert SCRIPT in page.inner_text("#tiles")
        hover = page.evaluate(
            """() => { const gd = document.getElementById('plot-app_concentration');
                const i = gd.data[0].text.findIndex(t => t.startsWith('&lt;img'));
                Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: i}]);
                return gd.querySelector('.hoverlayer').textContent; }"""
        )
        assert APP in hover
        assert page.evaluate("() => document.querySelectorAll('img').length") == 0
        assert loaded.dialogs == []
        traces = figure_traces(page)
        assert all(expected == drawn for expected, drawn in traces.values()), {
            k: v for k, v in traces.items() if v[0] != v[1]
        }
        # the data behind a figure downloads from file:// with nothing fetched; its labels are CSV text
        assert page.locator("a.csv").count() >= len(traces) - len(loaded_empty(page))
        with page.expect_download() as info:
            page.locator("#figure-tool_call_rate a.csv").click()
        assert info.value.suggested_filename == "tool_call_rate.csv"
        text = Path(info.value.path()).read_text(encoding="utf-8")
        assert text.startswith("day,model_family,days,completed_requests,") and f"\n{SCRIPT}" not in text
        assert f",{SCRIPT}Claude," in text
        assert loaded.blocked == [] and loaded.dialogs == []
        assert page.evaluate("() => document.querySelectorAll('img').length") == 0
        screenshot(page, "report-xss.png")


def loaded_empty(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('.figure.empty-figure')].map(d => d.dataset.figure)")


def test_an_empty_warehouse_renders_its_empty_states(tmp_path: Path):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    build_models(warehouse)
    with database.open_database(warehouse, read_only=True) as con:
        page = report.render_report(con, F.Range(dt.date(2025, 1, 1), dt.date(2025, 1, 31)))
    target = tmp_path / "index.html"
    report.write_report(page, warehouse, str(target))
    with open_report(target) as loaded:
        assert loaded.console_errors == [] and loaded.dialogs == [] and loaded.blocked == []
        traces = figure_traces(loaded.page)
        assert len(traces) == len(F.FIGURES) and all(t == (0, 0) for t in traces.values())
        assert "No data in this period" in loaded.page.inner_text("#tiles")
        assert loaded.page.locator("a.csv").count() == 0  # an empty state has no data to offer


def test_the_report_prints_to_an_a4_landscape_pdf_one_section_a_page(xss_report: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", chromium())
    data = export.export_pdf(xss_report.read_text(encoding="utf-8"))
    assert data.startswith(b"%PDF-")
    assert re.search(rb"/MediaBox \[0 0 841\.9\d* 594\.9\d*\]", data)  # A4 landscape, in points
    pages = export.pdf_pages(data)
    assert pages >= 1 + len(F.SECTIONS)  # the headline page, then every section from a page of its own
    target = tmp_path / export.PDF_FILE
    target.write_bytes(data)
    assert render_pdf(target, "report-pdf-page1.png") == pages  # Chromium's PDF viewer reads the same pages
    assert b"data:text/csv" not in data  # the download links are left out of the print
