"""The gatewaylens Dagster code location: `dg dev` / `dagster dev` load `defs` from here."""

from __future__ import annotations

import dagster as dg

from pipelines.defs import dashboards, ingest, models
from pipelines.defs.resources import resources_for
from pipelines.settings import Settings

main_job = dg.define_asset_job(
    "main",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(ingest.staged_days),
    description="Everything but the per-day staging: ingest the sources (and commit staged days), then every "
    "downstream asset.",
)


def definitions(settings: Settings) -> dg.Definitions:
    """The code location with the resources of `settings` (the CLI passes its own, with its flags applied)."""
    return dg.Definitions.merge(
        ingest.defs,
        models.defs,
        dashboards.defs,
        dg.Definitions(jobs=[main_job], resources=resources_for(settings)),
    )


defs = definitions(Settings.from_env())
