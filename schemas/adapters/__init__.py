"""Adapters map one log format onto the canonical record's columns, in bulk, inside DuckDB.

An adapter is a SELECT over the relation `lines(source_line BIGINT, raw VARCHAR)` (one row per input line,
`raw` keeping its line terminator) that returns `source_line`, `item`, `ignored`, `reject` and every column
of `INPUT_COLUMNS` (text or typed, read as text by the shared typing; NULL where the format does not carry
it). The bound parameter `$source_uri` may be used (keys of keyless traces). The rules:

* At least one row per input line, each with that line's `source_line`: a line that holds several records
  (an OTLP export of many spans, an OpenRouter generation with failed provider attempts) returns one row per
  record, and `item` names which part of the line each row is ("span 3 (chat gpt-4o)", "attempt 1 of 2
  (OpenAI)"; NULL for one-record lines), so that a quarantined record says where it came from.
* A line that cannot be read (not JSON, wrong shape) returns one row with `reject` set to the reason.
* A line that holds no record by design (a CSV header, an OTLP export without a GenAI model-call span)
  returns one row with `ignored` set to why; it is counted as ignored (by reason, in the ledger), neither
  written nor quarantined.
* Read only the fields mapped, never prompt or completion text; one JSON parse per line (`from_json` into a
  structure of just those fields, see `_sql.py`).
* `source_line` is passed on as it is, never computed with: the ingest transforms the lines of many small files in
  one statement, each file's line numbers carrying the file in their high bits (pipelines.lib.ingest.stage). An
  adapter that reads `$source_uri` (`per_file`) has its files transformed one at a time.
* A JSON-lines format may add a bulk form (`bulk_columns`, `bulk_sql`): the same SELECT over the relation
  `bulk`, which DuckDB's `read_json` fills with those columns for the whole file (`_sql.parsed` builds the
  parsed line either way). The ingest reads such files whole and checks both forms agree
  (pipelines.lib.ingest.bulk); a format without one is read line by line. The bulk form has no line text
  (`raw`): a format whose mapping reads it for some lines says which (`bulk_text_needed`, a SELECT of their
  `source_line` over `bulk`), those lines take the line path, and its bulk form reads `_sql.no_text()` in its
  place, which fails the statement should one slip through.

The ingest checks that the distinct `source_line`s returned cover the batch, and that every row is written,
a duplicate, quarantined or ignored (records = written + duplicates + quarantined + ignored); a file that
breaks either is not marked done. Records are keyed on (request_id, attempt) whatever line they come from.
Typing, validation, normalization and key hashing are shared by all formats (`pipelines.lib.transform`), so
a new format is one module here plus its tests, and nothing downstream changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from schemas.adapters import _sql, canonical, litellm, openrouter, openrouter_activity, otel, provider_bodies, workload

#: Columns every adapter returns. `user_key` is the raw end-user id (hashed, never stored); `provider`,
#: `finish_reason` and `error_class` are optional overrides of the values derived from the native fields
#: (`error_class` 'gateway' marks a failure of the gateway itself); `operation` is the native operation name
#: (LiteLLM call_type, OTel gen_ai.operation.name, ...); `provider_host` the host or URL called, for the
#: provider when no name says it; `provider_default` the company a format implies when nothing else names one
#: (a bare Anthropic body: anthropic), the last resort; `source_format` names the shape read, for adapters that
#: read several.
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
    "operation",
    "provider_host",
    "provider_default",
    "source_format",
)


@dataclass(frozen=True)
class Adapter:
    """One log format: how to recognise a file of it and how to map its lines.

    `configure`, for a format whose reading depends on the file's first lines (a CSV header naming its
    columns), returns the adapter bound to them (e.g. its `select_sql` built for that header's column order, or
    the bulk form that fits a file of provider bodies in envelopes); `detect` calls it with the lines it sampled.
    The dataclass stays frozen and hashable: `batch_sql` is cached per adapter.
    """

    name: str
    sniff: Callable[[str], bool]
    select_sql: str
    configure: Callable[[list[str]], Adapter] | None = None
    bulk_columns: tuple[tuple[str, str], ...] = ()
    bulk_sql: str | None = None
    bulk_text_needed: str | None = None
    bulk_text_keys: tuple[str, ...] = ()
    bulk_nested: tuple[tuple[str, tuple[str, ...]], ...] = ()
    bulk_json: tuple[tuple[str, ...], ...] = ()
    streams: tuple[str, ...] = ()

    @property
    def bulk(self) -> bool:
        """The format has a bulk form: DuckDB's `read_json` parses the whole file into `bulk_columns` (key,
        type) and `bulk_sql` maps them like `select_sql` maps a line (see pipelines.lib.ingest.bulk), except the
        lines `bulk_text_needed` (a SELECT of `source_line` over the same relation) returns: their mapping reads
        the line's text. No line does where every row has each of `bulk_text_keys` (top-level keys).
        `bulk_nested` (key, paths): the top-level keys typed as an object or a list, each with the JSON paths inside
        it where the line path decodes an object or a list written as a string; `bulk_json`: the paths of the objects or
        lists read as their JSON (`_sql.OBJECT_OR_LIST`), which `read_json` reads from a string too
        (`_sql.bulk_form`). `streams`: the top-level keys where a line may hold a logged stream
        (`_streams.OPENS_LIKE_STREAM`), which the line path's parse assembles (`_sql.parse`'s `rewrite`) and the
        bulk path leaves to it."""
        return self.bulk_sql is not None

    @property
    def per_file(self) -> bool:
        """The adapter reads the bound `$source_uri` (keys of keyless traces), so a statement transforms the lines
        of one file only; the lines of other formats' small files share one statement (see the module's rules)."""
        return "$source_uri" in self.select_sql


def _parsed_json(name: str, module: Any, spec: dict[str, Any] | None = None) -> Adapter:
    """The adapter of a JSON format whose module parses each line into a structure (`_sql.parsed`; the module's
    `SPEC` unless given), in both forms; the module's `text_needed_sql()`, if any, says which lines the bulk form
    leaves to the line form, and its `configure`, if any, binds the adapter to a file's first lines."""
    return Adapter(
        name=name,
        sniff=module.sniff,
        select_sql=module.select_sql(INPUT_COLUMNS),
        **_sql.bulk_form(module.SPEC if spec is None else spec),
        bulk_sql=module.select_sql(INPUT_COLUMNS, bulk=True),
        bulk_text_needed=module.text_needed_sql() if hasattr(module, "text_needed_sql") else None,
        bulk_text_keys=getattr(module, "TEXT_KEYS", ()),
        configure=getattr(module, "configure", None),
        streams=getattr(module, "STREAM_KEYS", ()),
    )


ADAPTERS: tuple[Adapter, ...] = (
    _parsed_json("canonical", canonical, canonical.spec(INPUT_COLUMNS)),
    _parsed_json("openrouter", openrouter),
    _parsed_json(litellm.NAME, litellm),
    _parsed_json("otel", otel),
    _parsed_json(provider_bodies.NAME, provider_bodies),
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
    Adapter(
        name=openrouter_activity.NAME,
        sniff=openrouter_activity.sniff,
        select_sql=openrouter_activity.select_sql(INPUT_COLUMNS),
        configure=openrouter_activity.configure,
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
    raises UnknownFormatError. An adapter with `configure` is returned bound to the lines read (the sampled
    ones, plus the recognised line when the search went further).
    """
    lines = iter(lines)
    head = list(itertools.islice(lines, sample))
    votes = {adapter.name: sum(adapter.sniff(line) for line in head) for adapter in ADAPTERS}
    best = max(ADAPTERS, key=lambda adapter: votes[adapter.name])
    if votes[best.name]:
        return best.configure(head) if best.configure else best
    for line in lines:
        for adapter in ADAPTERS:
            if adapter.sniff(line):
                return adapter.configure([*head, line]) if adapter.configure else adapter
    names = ", ".join(a.name for a in ADAPTERS)
    raise UnknownFormatError(f"{source}: format not recognised (known formats: {names})")
