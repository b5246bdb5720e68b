"""Partitions, defined once and imported everywhere: UTC days of landing data.

The first day is the setting `partitions_start` (GATEWAYLENS_PARTITIONS_START, see `pipelines.settings`);
partitions run to the current day.
"""

import dagster as dg

from pipelines.settings import Settings

daily_partitions = dg.DailyPartitionsDefinition(start_date=Settings.from_env().partitions_start, timezone="UTC")
