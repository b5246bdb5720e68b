"""What every format writer shares: the provider vocabularies, the stable ids that stand for the simulator's own
(end users, apps, API keys, request and attempt hashes), `prepare` (the frame plus the columns every writer
derives from it) and small Polars helpers. Only the per-value lookups (hashes of a few thousand user, app and
request ids) run in Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import polars as pl

from devkit.simulate.records import COLUMNS

#: Attempts (OpenRouter: requests) turned into JSON per step, to bound the memory of the text.
CHUNK_ROWS = 100_000
#: LiteLLM's placeholder for message text when message logging is off; the only "text" any writer emits.
REDACTED = "redacted-by-litellm"

# ----------------------------------------------------------------------------
# Per-provider vocabularies
# ----------------------------------------------------------------------------

#: Simulator provider name -> (LiteLLM custom_llm_provider, LiteLLM exception prefix, OTel gen_ai.provider.name,
#: api_base). OTel values are the semconv registry's where it has one.
PROVIDER_VOCAB: dict[str, tuple[str, str, str, str]] = {
    "Alibaba": ("dashscope", "DashscopeException", "alibaba", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
    "Amazon Bedrock": ("bedrock", "BedrockException", "aws.bedrock", "https://bedrock-runtime.us-east-1.amazonaws.com"),
    "Anthropic": ("anthropic", "AnthropicException", "anthropic", "https://api.anthropic.com/v1/messages"),
    "Azure": ("azure", "AzureException", "azure.ai.openai", "https://gatewaylens-sim.openai.azure.com"),
    "DeepInfra": ("deepinfra", "DeepInfraException", "deepinfra", "https://api.deepinfra.com/v1/openai"),
    "Fireworks": ("fireworks_ai", "Fireworks_aiException", "fireworks", "https://api.fireworks.ai/inference/v1"),
    "Google AI Studio": (
        "gemini",
        "GeminiException",
        "gcp.gemini",
        "https://generativelanguage.googleapis.com/v1beta",
    ),
    "Google Vertex": (
        "vertex_ai",
        "VertexAIException",
        "gcp.vertex_ai",
        "https://us-east5-aiplatform.googleapis.com/v1",
    ),
    "MiniMax": ("minimax", "MinimaxException", "minimax", "https://api.minimax.io/v1"),
    "Mistral": ("mistral", "MistralException", "mistral_ai", "https://api.mistral.ai/v1"),
    "Novita": ("novita", "NovitaException", "novita", "https://api.novita.ai/v3/openai"),
    "OpenAI": ("openai", "OpenAIException", "openai", "https://api.openai.com/v1"),
    "Together": ("together_ai", "Together_aiException", "together", "https://api.together.xyz/v1"),
}
#: Exception name of a client abort, in LiteLLM's error_class and OTel's error.type.
CANCELLED_ERROR = "CancelledError"
#: Native finish reasons that mean "cut off at the output limit".
LENGTH_REASONS: tuple[str, ...] = ("max_tokens", "length", "MAX_TOKENS")


def end_user_id(user_id: str) -> str:
    """The pseudonymous end-user id written for a simulated user id (never the raw id)."""
    return "eu-" + hashlib.sha256(f"gatewaylens-sim-user:{user_id}".encode()).hexdigest()[:32]


def app_number(app_id: str) -> int:
    """The integer OpenRouter app id standing for a simulated app id (stable, from its SHA-256)."""
    return 100_000 + int(hashlib.sha256(app_id.encode()).hexdigest()[:8], 16) % 900_000


def api_key_hash(app_id: str) -> str:
    """LiteLLM's `user_api_key_hash` for the app's (simulated) virtual key: SHA-256 hex of the key."""
    return hashlib.sha256(f"sk-gatewaylens-sim-{app_id}".encode()).hexdigest()


# ----------------------------------------------------------------------------
# Shared preparation
# ----------------------------------------------------------------------------


_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _request_digests(request_ids: pl.Series) -> np.ndarray:
    """128-bit BLAKE2b digest of each request id, as (n, 2) uint64 (stable across versions and machines)."""
    raw = b"".join(hashlib.blake2b(v.encode(), digest_size=16).digest() for v in request_ids.to_list())
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 2).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a well-spread 64-bit value from each input."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hex(words: np.ndarray) -> pl.Series:
    """Lower-case hex of each row of uint64 words (16 digits per word)."""
    if words.ndim == 1:
        words = words[:, None]
    words = np.ascontiguousarray(words.astype(">u8"))
    pairs = _HEX_PAIRS[words.view(np.uint8)]
    return pl.Series(np.ascontiguousarray(pairs).view(f"S{2 * pairs.shape[1]}").ravel()).cast(pl.String)


def lookup(column: str, mapping: dict[str, object], dtype: pl.DataType) -> pl.Expr:
    """The column's values mapped through `mapping` (null where a value is not in it)."""
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=dtype)


def prepare(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame plus the derived columns every writer uses: times in microseconds, ids, hashes, flags and the
    provider's vocabulary."""
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"not a simulated frame: missing {sorted(missing)}")
    users = frame["user_id"].drop_nulls().unique().to_list()
    apps = frame["app_id"].drop_nulls().unique().to_list()
    digest = _request_digests(frame["request_id"])
    attempt = frame["attempt"].to_numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        attempt_words = np.stack([_mix(digest[:, 0] ^ (attempt * _GOLDEN)), _mix(digest[:, 1] + attempt)], axis=1)
    vocab = {name: dict(zip(PROVIDER_VOCAB, column, strict=True)) for name, column in _vocab_columns().items()}
    success, cancelled = pl.col("status") == "success", pl.col("status") == "cancelled"
    t_us = pl.col("created_at").dt.epoch("us")
    return frame.with_columns(
        t_us=t_us,
        end_us=t_us + (pl.col("latency_ms") * 1000).round().cast(pl.Int64),
        first_us=(pl.col("ttft_ms") * 1000).round().cast(pl.Int64) + t_us,
        req_hash=_hex(digest),
        att_hash=_hex(attempt_words),
        end_user=lookup("user_id", {u: end_user_id(u) for u in users}, pl.String()),
        app_number=lookup("app_id", {a: app_number(a) for a in apps}, pl.Int64()),
        key_hash=lookup("app_id", {a: api_key_hash(a) for a in apps}, pl.String()),
        success=success,
        cancelled=cancelled,
        responded=success | cancelled,
        tool=(success & (pl.col("tool_calls") > 0)).fill_null(False),  # carries tool calls (maybe cut at the limit)
        byok=((success | cancelled) & (pl.col("cost_usd") == 0)).fill_null(False),  # the BYOK requests' cost is 0
        **{name: lookup("provider_native", mapping, pl.String()) for name, mapping in vocab.items()},
    ).with_columns(
        response_id=pl.when(pl.col("responded")).then(pl.concat_str(pl.lit("chatcmpl-"), pl.col("att_hash"))),
        openai_finish=pl.when(pl.col("native_finish_reason").is_in(LENGTH_REASONS))
        .then(pl.lit("length"))
        .when(pl.col("tool"))
        .then(pl.lit("tool_calls"))
        .when(pl.col("success"))
        .then(pl.lit("stop")),
        llm_provider=pl.col("llm_provider").fill_null(pl.col("provider_native").str.to_lowercase()),
        otel_provider=pl.col("otel_provider").fill_null(pl.col("provider_native").str.to_lowercase()),
        server_address=pl.col("api_base").str.extract(r"^https?://([^/]+)"),
    )


def _vocab_columns() -> dict[str, list[str]]:
    rows = list(PROVIDER_VOCAB.values())
    return {
        "llm_provider": [r[0] for r in rows],
        "exception_prefix": [r[1] for r in rows],
        "otel_provider": [r[2] for r in rows],
        "api_base": [r[3] for r in rows],
    }


def chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of consecutive slices of at most `size` of `n` rows."""
    for offset in range(0, n, size):
        yield offset, min(size, n - offset)


def iso(column: str) -> pl.Expr:
    """The time column as ISO 8601 with microseconds and "+00:00"."""
    return pl.col(column).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")


def json_object(**fields: pl.Expr) -> pl.Expr:
    """One JSON object per row, the fields in the order given."""
    return pl.struct(**fields).struct.json_encode()


def null(dtype: pl.DataType | None = None) -> pl.Expr:
    """A null literal (of `dtype`, else String)."""
    return pl.lit(None, dtype=dtype or pl.String())
