"""The static report: every figure of `dashboards/` in one offline HTML file, WAREHOUSE/dashboards/index.html.

Downstream of the marts it reads (and only those). It opens the warehouse database read-only, so it does not
take the `duckdb_writer` pool, and replaces the report atomically (temporary file in the same folder, then a
rename; one PUT on an object store), so a reader never sees half a page.
"""

import time
from pathlib import Path

import dagster as dg
import duckdb

from dashboards import export, figures, report
from dashboards.base import Range
from pipelines.defs.resources import WarehouseResource
from pipelines.lib import privacy
from pipelines.lib.sqlmodels.database import open_database
from pipelines.lib.storage import Warehouse

REPORT_FOLDER = "dashboards"
LOCK_RETRIES = 30
LOCK_WAIT_SECONDS = 2.0


class DashboardsConfig(dg.Config):
    grain: str = "month"
    """Grain of the time series and of the headline comparison: day, week or month."""
    pdf: bool = False
    """Also print the page to WAREHOUSE/dashboards/report.pdf in the local Chromium (about 10 s more). Off by
    default: scheduled runs need no browser; without one the PDF is skipped with a warning, the HTML still written."""


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


def _write_pdf(context: dg.AssetExecutionContext, page: report.Report, warehouse: Warehouse) -> str:
    """Print the page to PDF next to it; what happened, for the materialization's metadata."""
    try:
        data = export.export_pdf(page.html)
    except export.ExportUnavailable as err:
        context.log.warning(str(err))
        return f"not written: {err}"
    with warehouse.atomic_write(warehouse.path(REPORT_FOLDER, export.PDF_FILE)) as local:
        Path(local).write_bytes(data)
    return f"{warehouse.uri(REPORT_FOLDER, export.PDF_FILE)} ({export.pdf_pages(data)} pages)"


@dg.asset(
    name="dashboards",
    group_name="dashboards",
    deps=[dg.AssetKey(mart) for mart in report.MARTS],  # derived from what the figures and tiles declare
    kinds={"plotly", "html"},
    metadata={"figures": len(figures.FIGURES), "file": f"WAREHOUSE/{REPORT_FOLDER}/{report.REPORT_FILE}"},
)
def dashboards(
    context: dg.AssetExecutionContext, config: DashboardsConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The leadership report: tool-call and reasoning trends by model family, volume and mix, provider
    reliability against the SLO, bursts, provider variance, failover and lock-in, as one self-contained HTML file
    (plotly.js embedded once) that opens offline, each figure with its data as CSV; with `pdf: true` also
    report.pdf for the review. Reads only the marts."""
    return _publish(context, warehouse.get(), config)


def _publish(context: dg.AssetExecutionContext, warehouse: Warehouse, config: DashboardsConfig) -> dg.MaterializeResult:
    """Render the report from `warehouse`'s marts, write it (and the PDF when asked) into it, say what was done."""
    page = _render(warehouse, Range(grain=config.grain))
    report.write_report(page, warehouse, warehouse.path(REPORT_FOLDER, report.REPORT_FILE))
    pdf = _write_pdf(context, page, warehouse) if config.pdf else "not asked for (config pdf: true)"
    size = len(page.html.encode())
    context.log.info(f"report: {size:,} bytes, {len(page.figures)} figures, rendered in {page.render_seconds:.1f}s")
    first, last = page.period
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(warehouse.uri(REPORT_FOLDER, report.REPORT_FILE)),
            "bytes": size,
            "figures": len(page.figures),
            "empty_figures": ", ".join(page.empty_figures) or "none",
            "period": f"{first} to {last}" if first else "no data",
            "latest_data": str(page.latest_data) if page.latest_data else "none",
            "render_seconds": round(page.render_seconds, 2),
            "pdf": pdf,
        }
    )


defs = dg.Definitions(assets=[dashboards])
