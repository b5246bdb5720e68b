"""Partitions, defined once and imported everywhere: UTC days of landing data.

The first day comes from GATEWAYLENS_PARTITIONS_START (YYYY-MM-DD; default 2025-01-01, the sample's first
day); partitions run to the current day.
"""

import os

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("GATEWAYLENS_PARTITIONS_START", "2025-01-01"),
    timezone="UTC",
)
