"""The static report: every figure of `dashboards/` in one offline HTML file, WAREHOUSE/dashboards/index.html.

Downstream of the marts it reads (and only those). The work is `pipelines.lib.publish.publish_report`: it opens the
warehouse database read-only, so it does not take the `duckdb_writer` pool, and replaces the report atomically,
so a reader never sees half a page.
"""

import dagster as dg

from dashboards import figures, report
from pipelines.defs.outcomes import materialize_result
from pipelines.defs.resources import WarehouseResource
from pipelines.lib.publish import ASSET, REPORT_FOLDER, publish_report


class DashboardsConfig(dg.Config):
    grain: str = "month"
    """Grain of the time series and of the headline comparison: day, week or month."""
    pdf: bool = False
    """Also print the page to WAREHOUSE/dashboards/report.pdf in the local Chromium (about 10 s more). Off by
    default: scheduled runs need no browser; without one the PDF is skipped with a warning, the HTML still written."""


@dg.asset(
    name=ASSET,
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
    done = publish_report(
        warehouse.get(), grain=config.grain, pdf=config.pdf, progress=context.log.info, warn=context.log.warning
    )
    return materialize_result(done)


defs = dg.Definitions(assets=[dashboards])
