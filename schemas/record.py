"""The canonical request record: one row per upstream attempt of a gateway request.

This pydantic model is the single source of truth. The Arrow/Parquet schema (`schemas.arrow`), the committed
JSON Schema (`schemas/request_record.schema.json`), the bulk validation SQL (`schemas.bulk`) and the field
documentation all derive from it. Cross-field rules live in `CROSS_FIELD_RULES` so that the per-row validator
below and the vectorized SQL validator apply exactly the same rules. What is merely inconsistent (reasoning
beyond completion, a long id, ...) is not a rule: it is repaired and flagged (`schemas.quality`), never a reason
to lose the record.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas import quality
from schemas.sqltext import epoch_micros_of

Status = Literal["success", "error", "cancelled"]
ErrorClass = Literal["rate_limit", "timeout", "server_error", "client_error", "gateway", "none"]
FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "error", "other"]
Operation = Literal[
    "chat", "responses", "text_completion", "embeddings", "image_generation", "audio", "rerank", "moderation", "other"
]
QualityFlag = Literal[
    "reasoning_outside_completion",
    "cached_outside_prompt",
    "ttft_exceeds_latency",
    "negative_latency",
    "negative_ttft",
    "http_error_on_success",
    "long_id",
    "long_value",
    "non_finite_number",
]


def _container(text: str) -> bool:
    """The text is a JSON object or array (`[beta] x` or `{3F2504E0-4F89-11D3}` is not). DuckDB's `json_type`, which
    the bulk rule asks, also takes a few spellings Python's parser refuses (`[1,]`, `[nan]`): text no logger writes
    where a model or id goes. Nesting too deep for Python's parser counts as JSON."""
    try:
        return isinstance(json.loads(text), dict | list)
    except RecursionError:
        return True
    except ValueError:
        return False


EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

MAX_COUNT = 2**62


class RequestRecord(BaseModel):
    """One upstream attempt of one gateway request (a request that fell back to a second provider has two rows
    sharing `request_id`, with `attempt` 1 and 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    request_id: str = Field(
        min_length=1,
        max_length=256,
        description="Gateway request id; shared by every attempt of the same request.",
    )
    attempt: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="1-based attempt number within the request; the highest attempt is the final one.",
    )
    created_at: datetime = Field(
        description="When the attempt started, UTC (a timestamp without offset is read as UTC; an epoch number "
        "as seconds, milliseconds, microseconds or nanoseconds by its magnitude). Its UTC day is the storage "
        "partition.",
    )
    app_id: str | None = Field(
        default=None,
        max_length=256,
        description="Calling application or API key group as the gateway names it (OpenRouter app_id, "
        "LiteLLM team/key alias). NULL when the log does not say.",
    )
    user_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="HMAC-SHA256 (hex) of the end-user identifier under the deployment's secret key. "
        "The raw identifier is never stored.",
    )
    model_requested: str | None = Field(
        default=None, max_length=256, description="Model id the caller asked for (may be an alias or router)."
    )
    model: str | None = Field(
        default=None,
        max_length=256,
        description="Model id actually served by the provider for this attempt (vendor-prefixed slug where "
        "the gateway gives one). NULL only for workload traces that carry no model.",
    )
    provider: str | None = Field(
        default=None,
        max_length=128,
        description="Canonical provider id (e.g. anthropic, google-vertex, amazon-bedrock) from "
        "schemas/reference/providers.csv; unknown names are slugified.",
    )
    provider_native: str | None = Field(
        default=None, max_length=128, description="Provider name exactly as the source log wrote it."
    )
    status: Status = Field(
        description="Outcome of the attempt: success (a response was produced), error, or cancelled "
        "(the client aborted).",
    )
    http_status: int | None = Field(
        default=None, ge=100, le=599, description="HTTP status of the upstream response, when known."
    )
    error_code: str | None = Field(
        default=None,
        max_length=256,
        description="Native error code or type as logged (e.g. 'overloaded_error', 'RateLimitError', '529').",
    )
    error_class: ErrorClass = Field(
        default="none",
        description="Normalized error class: 429 -> rate_limit; 408/504 and timeouts -> timeout; other 5xx "
        "(incl. 529) -> server_error; other 4xx -> client_error (the caller's fault, not the provider's); "
        "gateway when the gateway itself refused or failed the call (its auth, key or team budget, its own rate "
        "limit, a guardrail, no allowed provider, its policy), which never counts against a provider; none for "
        "successes and cancellations.",
    )
    operation: Operation = Field(
        default="chat",
        description="What was asked of the model: chat | responses (OpenAI Responses API) | text_completion | "
        "embeddings | image_generation | audio | rerank | moderation | other, from LiteLLM call_type, OTel "
        "gen_ai.operation.name, OpenRouter api_type or the shape of a raw body; chat when the log does not say. "
        "Generation metrics count only chat, responses and text_completion.",
    )
    finish_reason: FinishReason | None = Field(
        default=None,
        description="Normalized reason generation ended: stop | tool_calls | length | content_filter | error "
        "| other. tool_calls covers OpenAI tool_calls/function_call, Anthropic tool_use, a Gemini "
        "functionCall part and OTel finish reasons naming a tool call. NULL when no response was produced.",
    )
    native_finish_reason: str | None = Field(
        default=None, max_length=128, description="Finish/stop reason exactly as the provider reported it."
    )
    prompt_tokens: int | None = Field(
        default=None,
        ge=0,
        le=MAX_COUNT,
        description="Input tokens billed for the attempt, including cached ones.",
    )
    completion_tokens: int | None = Field(
        default=None,
        ge=0,
        le=MAX_COUNT,
        description="Output tokens including reasoning/thinking tokens (Gemini: candidates + thoughts).",
    )
    reasoning_tokens: int | None = Field(
        default=None,
        ge=0,
        le=MAX_COUNT,
        description="Reasoning/thinking tokens, a part of completion_tokens. NULL means not reported, "
        "which is not the same as 0.",
    )
    cached_prompt_tokens: int | None = Field(
        default=None,
        ge=0,
        le=MAX_COUNT,
        description="Prompt tokens served from the provider's prompt cache (part of prompt_tokens).",
    )
    tool_calls: int | None = Field(
        default=None,
        ge=0,
        le=MAX_COUNT,
        description="Number of tool/function calls in the response; NULL when not logged.",
    )
    tools_offered: int | None = Field(
        default=None,
        ge=0,
        le=MAX_COUNT,
        description="Number of tools declared in the request; NULL when not logged.",
    )
    latency_ms: float | None = Field(
        ge=0, default=None, description="Wall time of the attempt from request to last byte, milliseconds."
    )
    ttft_ms: float | None = Field(
        ge=0, default=None, description="Time to first token (streamed) or first byte, milliseconds."
    )
    streamed: bool | None = Field(default=None, description="Whether the response was streamed.")
    cost_usd: float | None = Field(
        ge=0, default=None, description="Cost of the attempt in US dollars as the gateway computed it."
    )
    quality_flags: list[QualityFlag] = Field(
        default_factory=list,
        description="Soft inconsistencies found in the log, sorted; the record is kept. "
        "reasoning_outside_completion: reasoning was reported beyond completion (counted outside it), stored "
        "completion_tokens = completion + reasoning; cached_outside_prompt: likewise, prompt_tokens = prompt + "
        "cached; ttft_exceeds_latency: both kept as logged, TTFT left out of latency metrics; negative_latency, "
        "negative_ttft: the value is stored NULL; http_error_on_success: status success with an HTTP status "
        ">= 400, both kept; long_id / long_value: a request_id / another text value longer than its limit, "
        "stored as its first characters, '~' and the SHA-256 of the whole (the same in every run); "
        "non_finite_number: a number written NaN or Infinity, stored NULL.",
    )
    source_format: str = Field(
        min_length=1, max_length=64, description="Adapter that read the line (canonical, openrouter, ...)."
    )
    source_uri: str = Field(min_length=1, description="URL of the file the record came from.")
    source_line: int = Field(ge=1, description="1-based line number of the record in source_uri.")

    @field_validator(
        "app_id",
        "model_requested",
        "model",
        "provider",
        "provider_native",
        "error_code",
        "native_finish_reason",
        mode="before",
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        """An empty text says nothing: NULL (`schemas.bulk.blank_is_absent`, which lists these fields)."""
        return None if value == "" else value

    @field_validator("*")
    @classmethod
    def _text_not_structured(cls, value: Any) -> Any:
        """Text is never a JSON object or array (the bulk rules' `structured_sql`): a prompt could ride in one."""
        if isinstance(value, str) and value.lstrip(" \t\r\n").startswith(("{", "[")) and _container(value):
            raise ValueError("a JSON object or array, not text")
        return value

    @field_validator("created_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> Any:
        """An epoch number (or text holding one) is seconds, milliseconds, microseconds or nanoseconds by its
        magnitude (`schemas.sqltext.EPOCH_UNITS`), as the bulk typing reads it; pydantic alone would take only
        seconds and milliseconds."""
        micros = epoch_micros_of(value)
        if micros is None:
            return value
        try:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        except OverflowError:
            return value  # past the year 9999: pydantic refuses it

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """A timestamp without offset is UTC; every timestamp is stored in UTC."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="before")
    @classmethod
    def _repair(cls, data: Any) -> Any:
        """Keep and flag soft inconsistencies (`schemas.quality`), as the bulk transform does."""
        return quality.repair(data, TEXT_LIMITS, MEASURES) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _cross_field_rules(self) -> RequestRecord:
        """Apply CROSS_FIELD_RULES, the same rules the bulk validator applies in SQL."""
        problems = [rule.describe(self) for rule in CROSS_FIELD_RULES if rule.violated(self)]
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class CrossFieldRule:
    """A rule over several fields, written once for Python and once for DuckDB SQL.

    `sql_violated` is a SQL boolean over the typed columns; `sql_message` a SQL string expression for the
    human-readable reason. `tests/test_schema.py` checks that both forms agree on a corpus of records.
    """

    name: str
    violated: Callable[[Any], bool]
    describe: Callable[[Any], str]
    sql_violated: str
    sql_message: str


def _both(a: Any, b: Any) -> bool:
    return a is not None and b is not None


CROSS_FIELD_RULES: tuple[CrossFieldRule, ...] = (
    CrossFieldRule(
        name="reasoning_within_completion",
        violated=lambda r: _both(r.reasoning_tokens, r.completion_tokens) and r.reasoning_tokens > r.completion_tokens,
        describe=lambda r: f"reasoning_tokens ({r.reasoning_tokens}) exceeds completion_tokens ({r.completion_tokens})",
        sql_violated="reasoning_tokens > completion_tokens",
        sql_message="format('reasoning_tokens ({}) exceeds completion_tokens ({})', "
        "reasoning_tokens, completion_tokens)",
    ),
    CrossFieldRule(
        name="cached_within_prompt",
        violated=lambda r: _both(r.cached_prompt_tokens, r.prompt_tokens) and r.cached_prompt_tokens > r.prompt_tokens,
        describe=lambda r: f"cached_prompt_tokens ({r.cached_prompt_tokens}) exceeds prompt_tokens ({r.prompt_tokens})",
        sql_violated="cached_prompt_tokens > prompt_tokens",
        sql_message="format('cached_prompt_tokens ({}) exceeds prompt_tokens ({})', "
        "cached_prompt_tokens, prompt_tokens)",
    ),
    CrossFieldRule(
        name="created_at_in_range",
        violated=lambda r: not (EARLIEST <= r.created_at < LATEST),
        describe=lambda r: (
            f"created_at ({r.created_at.astimezone(UTC).isoformat()}) is outside {EARLIEST.year}..{LATEST.year - 1}"
        ),
        sql_violated=f"created_at < timestamptz '{EARLIEST.isoformat()}' "
        f"or created_at >= timestamptz '{LATEST.isoformat()}'",
        sql_message=f"format('created_at ({{}}) is outside {EARLIEST.year}..{LATEST.year - 1}', "
        "strftime(created_at, '%Y-%m-%dT%H:%M:%S+00:00'))",
    ),
)

FIELD_NAMES: tuple[str, ...] = tuple(RequestRecord.model_fields)
#: The numbers a value written as no finite number is repaired in (`schemas.quality.non_finite`): every number of
#: the record but the attempt, which keys it, and the line number, which the ingest gives.
MEASURES: tuple[str, ...] = tuple(
    name
    for name, info in RequestRecord.model_fields.items()
    if set(typing.get_args(info.annotation)) & {int, float} and name not in ("attempt", "source_line")
)


def _text_limits() -> dict[str, int]:
    limits = {}
    for name, info in RequestRecord.model_fields.items():
        for meta in info.metadata:
            if getattr(meta, "max_length", None) and name != "source_format":
                limits[name] = meta.max_length
    return limits


#: Text fields with a length limit: a longer value is kept shortened and flagged (`quality.shorten`).
TEXT_LIMITS: dict[str, int] = _text_limits()
