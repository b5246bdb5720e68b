"""Dagster definitions, one module per domain; `pipelines.definitions` merges them."""
