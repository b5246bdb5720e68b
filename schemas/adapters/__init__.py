"""Adapters map one log format onto the canonical record's columns, in bulk, inside DuckDB.

An adapter is a SELECT over the relation `lines(source_line BIGINT, raw VARCHAR)` (one row per input line)
that returns `source_line`, `reject` (a reason when the line cannot be read at all, else NULL) and every
column of `INPUT_COLUMNS` (text or typed; NULL where the format does not carry it). Typing, validation,
normalization and key hashing are shared by all formats (`pipelines.lib.transform`), so a new format is one
module here plus its tests, and nothing downstream changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from schemas.adapters import canonical, litellm, openrouter, otel, workload

#: Columns every adapter returns. `user_key` is the raw end-user id (hashed, never stored); `provider`,
#: `finish_reason` and `error_class` are optional overrides of the values derived from the native fields.
INPUT_COLUMNS: tuple[str, ...] = (
    "request_id",
    "attempt",
    "created_at",
    "app_id",
    "user_key",
    "model_requested",
    "model",
    "provider",
    "provider_native",
    "status",
    "http_status",
    "error_code",
    "error_class",
    "finish_reason",
    "native_finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_prompt_tokens",
    "tool_calls",
    "tools_offered",
    "latency_ms",
    "ttft_ms",
    "streamed",
    "cost_usd",
)


@dataclass(frozen=True)
class Adapter:
    """One log format: how to recognise a file of it and how to map its lines."""

    name: str
    sniff: Callable[[str], bool]
    select_sql: str


ADAPTERS: tuple[Adapter, ...] = (
    Adapter(
        name="canonical",
        sniff=canonical.sniff,
        select_sql=canonical.select_sql(INPUT_COLUMNS),
    ),
    Adapter(name="openrouter", sniff=openrouter.sniff, select_sql=openrouter.select_sql(INPUT_COLUMNS)),
    Adapter(name="litellm", sniff=litellm.sniff, select_sql=litellm.select_sql(INPUT_COLUMNS)),
    Adapter(name="otel", sniff=otel.sniff, select_sql=otel.select_sql(INPUT_COLUMNS)),
    Adapter(
        name="azure-llm-trace",
        sniff=workload.sniff_azure,
        select_sql=workload.azure_select_sql(INPUT_COLUMNS),
    ),
    Adapter(
        name="mooncake-trace",
        sniff=workload.sniff_mooncake,
        select_sql=workload.mooncake_select_sql(INPUT_COLUMNS),
    ),
)

BY_NAME: dict[str, Adapter] = {adapter.name: adapter for adapter in ADAPTERS}


class UnknownFormatError(ValueError):
    """No adapter recognises the file."""


def detect(lines: Iterable[str], source: str, sample: int = 100) -> Adapter:
    """Pick the adapter for a file.

    The adapter recognising most of the first `sample` non-blank lines wins (a few bad lines do not
    matter). If none recognises any of them, the rest of the file is searched for the first line one does
    recognise, so a file that starts with junk is still read; only a file no adapter recognises anywhere
    raises UnknownFormatError.
    """
    lines = iter(lines)
    head = list(itertools.islice(lines, sample))
    votes = {adapter.name: sum(adapter.sniff(line) for line in head) for adapter in ADAPTERS}
    best = max(ADAPTERS, key=lambda adapter: votes[adapter.name])
    if votes[best.name]:
        return best
    for line in lines:
        for adapter in ADAPTERS:
            if adapter.sniff(line):
                return adapter
    names = ", ".join(a.name for a in ADAPTERS)
    raise UnknownFormatError(f"{source}: format not recognised (known formats: {names})")
