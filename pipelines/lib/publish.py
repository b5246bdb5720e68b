"""The `dashboards` asset's work without Dagster: render the static report from the warehouse's marts and write it
into the warehouse (`WAREHOUSE/dashboards/index.html`, with report.pdf when asked).

The Dagster asset (`pipelines.defs.dashboards`) and `gatewaylens run` without DAGSTER_HOME (`pipelines.runs`) both
run `publish_report`. It opens the warehouse database read-only, so it takes no writer's pool or lock, and
replaces the report atomically (temporary file in the same folder, then a rename; one PUT on an object store),
so a reader never sees half a page.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from dashboards import export, report
from dashboards.base import Range
from pipelines.lib import privacy
from pipelines.lib.lock import Progress
from pipelines.lib.outcomes import Location, Materialization
from pipelines.lib.sqlmodels.database import open_database
from pipelines.lib.storage import Warehouse

ASSET = "dashboards"
REPORT_FOLDER = "dashboards"
LOCK_RETRIES = 30
LOCK_WAIT_SECONDS = 2.0


def _render(warehouse: Warehouse, period: Range) -> report.Report:
    """Render from a read-only connection; wait while another process holds the database for writing."""
    for attempt in range(LOCK_RETRIES):
        try:
            with open_database(warehouse, read_only=True) as con:
                notes = tuple(privacy.caveats(warehouse))
                return report.render_report(con, period, warehouse=warehouse.uri(), notes=notes)
        except duckdb.IOException as err:
            if "lock" not in str(err).lower() or attempt == LOCK_RETRIES - 1:
                raise
            time.sleep(LOCK_WAIT_SECONDS)
    raise AssertionError("unreachable")


def _write_pdf(page: report.Report, warehouse: Warehouse, warn: Progress) -> str:
    """Print the page to PDF next to it; what happened, for the materialization's metadata."""
    try:
        data = export.export_pdf(page.html)
    except export.ExportUnavailable as err:
        warn(str(err))
        return f"not written: {err}"
    with warehouse.atomic_write(warehouse.path(REPORT_FOLDER, export.PDF_FILE)) as local:
        Path(local).write_bytes(data)
    return f"{warehouse.uri(REPORT_FOLDER, export.PDF_FILE)} ({export.pdf_pages(data)} pages)"


def publish_report(
    warehouse: Warehouse,
    *,
    grain: str = Range.grain,
    pdf: bool = False,
    progress: Progress = lambda _message: None,
    warn: Progress = lambda _message: None,
) -> Materialization:
    """Render the report from `warehouse`'s marts at `grain`, write it (and the PDF when asked) into it, and say
    what was done. Without a browser the PDF is skipped with a warning; the HTML is still written."""
    page = _render(warehouse, Range(grain=grain))
    report.write_report(page, warehouse, warehouse.path(REPORT_FOLDER, report.REPORT_FILE))
    pdf_done = _write_pdf(page, warehouse, warn) if pdf else "not asked for (config pdf: true)"
    size = len(page.html.encode())
    progress(f"report: {size:,} bytes, {len(page.figures)} figures, rendered in {page.render_seconds:.1f}s")
    first, last = page.period
    return Materialization(
        ASSET,
        {
            "path": Location(warehouse.uri(REPORT_FOLDER, report.REPORT_FILE)),
            "bytes": size,
            "figures": len(page.figures),
            "empty_figures": ", ".join(page.empty_figures) or "none",
            "period": f"{first} to {last}" if first else "no data",
            "latest_data": str(page.latest_data) if page.latest_data else "none",
            "render_seconds": round(page.render_seconds, 2),
            "pdf": pdf_done,
        },
    )
