"""Writes OpenRouter's activity CSV export (read by `schemas/adapters/openrouter_activity.py`).

The Activity page's CSV export, one row per generation (a request whose final attempt
produced a response, as OpenRouter's generation records), under the 24-column header documented in
``schemas/adapters/openrouter_activity.py``. ``created_at`` has no zone (UTC), booleans are ``true`` /
``false``, a missing number is an empty cell; ``api_key_name`` is the app's key name and ``app_name`` the app.

What it cannot express: failed attempts, error codes, tool-call counts and tools offered.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import polars as pl

from devkit.simulate.formats._shared import CHUNK_ROWS, chunks
from devkit.simulate.formats.openrouter import OPENROUTER_PROVIDER_NAME
from schemas.adapters import openrouter_activity as reader


def lines(rows: pl.DataFrame) -> Iterator[pl.Series]:
    """The header, then one CSV row per generation (see the module docstring), in order of arrival."""
    yield pl.Series("line", [",".join(reader.HEADER)])
    finals = rows.filter(pl.col("attempt") == pl.col("attempt").max().over("request_id"), pl.col("responded"))
    finals = finals.with_columns(arrived=pl.col("created_at").min().over("request_id")).sort("arrived", "request_id")
    for offset, length in chunks(finals.height, CHUNK_ROWS):
        yield _activity(finals.slice(offset, length))


def _activity(final: pl.DataFrame) -> pl.Series:
    """CSV rows (no header) of final attempts, quoted where needed."""
    text = lambda flag: pl.when(flag).then(pl.lit("true")).otherwise(pl.lit("false"))  # noqa: E731
    table = final.select(
        generation_id=pl.col("request_id"),
        created_at=pl.col("arrived").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.3f"),
        cost_total=pl.col("cost_usd"),
        cost_web_search=pl.lit(0.0),
        cost_cache=pl.lit(0.0),
        cost_file_processing=pl.lit(0.0),
        byok_usage_inference=pl.lit(0.0),
        tokens_prompt=pl.col("prompt_tokens"),
        tokens_completion=pl.col("completion_tokens"),
        tokens_reasoning=pl.col("reasoning_tokens"),
        tokens_cached=pl.col("cached_prompt_tokens"),
        model_permaslug=pl.col("model"),
        provider_name=pl.col("provider_native").replace(OPENROUTER_PROVIDER_NAME),
        variant=pl.lit("standard"),
        cancelled=text(pl.col("cancelled")),
        streamed=text(pl.col("streamed")),
        user=pl.col("end_user"),
        finish_reason_raw=pl.col("native_finish_reason"),
        finish_reason_normalized=pl.col("openai_finish"),
        generation_time_ms=pl.col("latency_ms"),
        time_to_first_token_ms=pl.col("ttft_ms"),
        api_key_disabled=pl.lit("false"),
        api_key_name=pl.concat_str(pl.lit("key for "), pl.col("app_id")),
        app_name=pl.col("app_id"),
    )
    buffer = io.StringIO()
    table.write_csv(buffer, include_header=False, null_value="")
    return pl.Series("line", buffer.getvalue().splitlines())
