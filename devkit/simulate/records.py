"""The simulation's output: the working arrays assembled into one frame of canonical input keys (`COLUMNS`), one
row per attempt, plus the RAG apps' embedding calls drawn from their own random stream.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from devkit.simulate.effects import CANCELLED, ERROR_CODES, OK
from devkit.simulate.responses import FINISH_NAMES
from devkit.simulate.traffic import APP_IDS, MODEL_SLUGS, PROVIDERS, REQUESTED_IDS, US_PER_MS, Arrays

#: Output columns and their polars dtypes (canonical input keys).
COLUMNS: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "attempt": pl.Int64(),
    "created_at": pl.Datetime("us", "UTC"),
    "app_id": pl.String(),
    "user_id": pl.String(),
    "model_requested": pl.String(),
    "model": pl.String(),
    "provider_native": pl.String(),
    "status": pl.String(),
    "http_status": pl.Int64(),
    "error_code": pl.String(),
    "native_finish_reason": pl.String(),
    "finish_reason": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "cached_prompt_tokens": pl.Int64(),
    "tool_calls": pl.Int64(),
    "tools_offered": pl.Int64(),
    "latency_ms": pl.Float64(),
    "ttft_ms": pl.Float64(),
    "streamed": pl.Boolean(),
    "cost_usd": pl.Float64(),
    "operation": pl.String(),
}

# ----------------------------------------------------------------------------
# Retrieval: embedding calls
# ----------------------------------------------------------------------------

#: App -> share of its requests preceded by an embedding of the user's query.
EMBEDDING_APPS: dict[str, float] = {"app-support-agent": 0.6, "app-doc-summarizer": 0.8}
EMBEDDING_MODEL = "openai/text-embedding-3-small"
EMBEDDING_PROVIDER = "OpenAI"
#: Median query tokens, median latency (ms) and lead time before the request (ms), all log-normal (sigma 0.6).
EMBEDDING_TOKENS_MEDIAN = 40.0
EMBEDDING_LATENCY_MS = 120.0
EMBEDDING_LEAD_MS = 300.0
EMBEDDING_PRICE_PER_M = 0.02
#: Offset of the embedding calls' own random stream from the simulation's seed.
EMBEDDING_SEED_OFFSET = 7919


#: The start day whose request ids carry no date ("gen-<seed>-<index>"): the CLI's default --start and the start of
#: every file of the committed sample (data/sample/generate.py), whose ids stay what they were.
UNDATED_START = dt.date(2025, 1, 1)


def id_prefix(seed: int, start: dt.date) -> str:
    """The request ids' prefix: "gen-<seed>-", then the start day ("gen-<seed>-<YYYYMMDD>-") unless it is
    UNDATED_START. A run numbers its requests from 0, so without the day two runs of one seed from different
    days (two months simulated apart, ingested into one warehouse) would share ids, and the second would replace
    the first's records."""
    return f"gen-{seed}-" if start == UNDATED_START else f"gen-{seed}-{start:%Y%m%d}-"


def _names(vocab: tuple[str, ...], codes: str) -> pl.Expr:
    """Strings for the integer codes in column `codes` into `vocab` (a code of len(vocab) gives null)."""
    return pl.lit(pl.Series([*vocab, None], dtype=pl.String)).gather(pl.col(codes))


def _padded(prefix: str, column: str, width: int) -> pl.Expr:
    """`prefix` followed by the integer column zero-padded to `width` digits."""
    return pl.concat_str(pl.lit(prefix), (pl.col(column) + 10**width).cast(pl.String).str.slice(1))


def assemble(rows: Arrays, req: Arrays, prefix: str) -> pl.DataFrame:
    """The output DataFrame: rows sorted by created_at, request_id, attempt, with the canonical columns.

    Rows stay integer codes (-1 or len(vocab) for null) until they are sorted by time, request index and
    attempt, which is the order of created_at, request_id, attempt since ids are zero-padded indexes."""
    order = np.lexsort((rows["attempt"], rows["req"], rows["t"]))
    c = {name: values[order] for name, values in rows.items()}
    r, kind = c["req"], c["kind"]
    success, cancelled = kind == OK, kind == CANCELLED
    responded = success | cancelled
    codes = pl.DataFrame(
        {
            "t": c["t"],
            "req": r,
            "attempt": c["attempt"],
            "app": req["app"][r],
            "user": req["user"][r],
            "requested": req["requested"][r],
            "model": c["model"],
            "provider": c["provider"],
            "status": np.where(success, 0, np.where(cancelled, 2, 1)),
            "http_status": np.where(cancelled, -1, c["http"]),
            "error_code": c["error_code"],
            "native": np.where(success, c["native"], len(FINISH_NAMES)),
            "override": np.where(c["gemini_tool"], 0, 1),
            "prompt_tokens": np.where(responded, c["prompt"], -1),
            "completion_tokens": np.where(responded, c["completion"], -1),
            "reasoning_tokens": np.where(c["reasoning_reported"], c["reasoning"], -1),
            "cached_prompt_tokens": np.where(responded, c["cached"], -1),
            "tool_calls": np.where(success, c["tool_calls"], -1),
            "tools_offered": np.where(req["tools_logged"][r], req["tools_offered"][r], -1),
            "latency_ms": c["latency"],
            "ttft_ms": np.where(responded, c["ttft"], np.nan),
            "streamed": req["streamed"][r],
            "cost_usd": c["cost"],
        }
    )
    nullable = (
        "http_status",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "cached_prompt_tokens",
        "tools_offered",
    )
    frame = codes.select(
        request_id=_padded(prefix, "req", max(9, len(str(req["t"].size)))),
        attempt=pl.col("attempt"),
        created_at=pl.col("t").cast(pl.Datetime("us", "UTC")),
        app_id=_names(APP_IDS, "app"),
        user_id=_padded("user-", "user", 5),
        model_requested=_names(REQUESTED_IDS, "requested"),
        model=_names(MODEL_SLUGS, "model"),
        provider_native=_names(PROVIDERS, "provider"),
        status=_names(("success", "error", "cancelled"), "status"),
        error_code=_names(ERROR_CODES, "error_code"),
        native_finish_reason=_names(FINISH_NAMES, "native"),
        finish_reason=_names(("tool_calls",), "override"),
        **{name: pl.when(pl.col(name) >= 0).then(pl.col(name)) for name in (*nullable, "tool_calls")},
        latency_ms=pl.col("latency_ms"),
        ttft_ms=pl.col("ttft_ms").fill_nan(None),
        streamed=pl.col("streamed"),
        cost_usd=pl.col("cost_usd"),
    )
    return frame.select([pl.col(name).cast(dtype) for name, dtype in COLUMNS.items() if name != "operation"])


def with_embeddings(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """`frame` plus the embedding calls of the RAG apps (see the module docstring), sorted as `simulate` says."""
    firsts = frame.filter((pl.col("attempt") == 1) & pl.col("app_id").is_in(list(EMBEDDING_APPS)))
    share = firsts["app_id"].replace_strict(EMBEDDING_APPS, return_dtype=pl.Float64).to_numpy()
    chosen = firsts.filter(pl.Series(rng.random(firsts.height) < share))
    n = chosen.height
    tokens = np.maximum(1, np.round(rng.lognormal(np.log(EMBEDDING_TOKENS_MEDIAN), 0.6, n))).astype(np.int64)
    lead_us = np.round(rng.lognormal(np.log(EMBEDDING_LEAD_MS), 0.6, n) * US_PER_MS).astype(np.int64)
    latency = np.minimum(rng.lognormal(np.log(EMBEDDING_LATENCY_MS), 0.6, n), lead_us / US_PER_MS)
    embeddings = chosen.select(
        request_id=pl.col("request_id") + "-emb",
        attempt=pl.lit(1, pl.Int64),
        created_at=pl.col("created_at") - pl.duration(microseconds=pl.Series(lead_us)),
        app_id=pl.col("app_id"),
        user_id=pl.col("user_id"),
        model_requested=pl.lit(EMBEDDING_MODEL),
        model=pl.lit(EMBEDDING_MODEL),
        provider_native=pl.lit(EMBEDDING_PROVIDER),
        status=pl.lit("success"),
        http_status=pl.lit(200, pl.Int64),
        error_code=pl.lit(None, pl.String),
        native_finish_reason=pl.lit(None, pl.String),
        finish_reason=pl.lit(None, pl.String),
        prompt_tokens=pl.Series(tokens),
        completion_tokens=pl.lit(None, pl.Int64),
        reasoning_tokens=pl.lit(None, pl.Int64),
        cached_prompt_tokens=pl.lit(None, pl.Int64),
        tool_calls=pl.lit(None, pl.Int64),
        tools_offered=pl.lit(None, pl.Int64),
        latency_ms=pl.Series(np.round(latency, 3)),
        ttft_ms=pl.lit(None, pl.Float64),
        streamed=pl.lit(False),
        cost_usd=pl.Series(tokens * EMBEDDING_PRICE_PER_M / 1e6),
        operation=pl.lit("embeddings"),
    )
    chats = frame.with_columns(operation=pl.lit("chat"))
    merged = pl.concat([chats, embeddings.select([pl.col(c).cast(t) for c, t in COLUMNS.items()])])
    return merged.sort("created_at", "request_id", "attempt")
