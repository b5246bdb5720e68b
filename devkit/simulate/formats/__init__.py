"""Write simulated traffic (the frame `devkit.simulate.simulate` returns) in the log formats the ingest reads.

`write(frame, url, format)` writes the SAME attempts as gatewaylens canonical JSON lines, OpenRouter generation
stats, LiteLLM `StandardLoggingPayload`s, OpenTelemetry GenAI spans (OTLP/JSON), raw provider bodies or
OpenRouter's activity CSV, so that a simulated day has the same metrics whichever format carried it, wherever
the format can express them. Every writer is vectorized with Polars (structs and lists encoded with
`struct.json_encode`, OTLP attributes assembled as strings).

One writer module per format, named like the adapter module that reads it: `formats/openrouter.py` writes what
`schemas/adapters/openrouter.py` reads, and its docstring gives the shape (each checked against the real
source). A format's name is its adapter's (`WRITERS` is derived from `schemas.adapters.ADAPTERS`);
`tests/test_simulate_formats.py` checks that the writer modules and the adapter modules pair one to one.
`_shared.py` holds what every writer derives from the frame, `_files.py` the compressed line files.

Model ids keep the simulator's vendor-prefixed slugs in every format (a real LiteLLM or OTel log would name the
deployment, e.g. ``claude-sonnet-4-5``), so that per-model metrics compare across formats.

Cancelled attempts (the client aborted): OpenRouter says ``cancelled: true``; LiteLLM logs them as failures with
``error_class`` "CancelledError" and no HTTP status; OTel spans get ``error.type`` "CancelledError" and no
HTTP status.

End users: no format ever carries the simulator's raw ``user_id``. Each user becomes a stable pseudonymous id,
``eu-`` + 32 hex digits of SHA-256 of the id (what an application passes in the request's ``user`` field when it
follows OpenAI's advice to send a hash), written where the real format has an end-user field.

A response that carries a tool call but was cut at the output limit finishes ``length`` in every format (in
OpenAI's vocabulary too: the limit, not the call, ended it), as the ingest reads it.

Quirks of real logs, in realistic proportions (each kept and read alike on ingest): OpenRouter generations
served by an upstream in ``openrouter.OPENROUTER_REASONING_OUTSIDE`` count reasoning beside the completion tokens;
``otel.OTEL_JSON_FINISH_SIXTEENTHS``/16 of the OTel spans write their finish reasons as a JSON list inside a string.
The RAG apps' embedding calls are ``aembedding`` payloads (LiteLLM), ``embeddings`` spans (OTel) and
``api_type`` embeddings generations (OpenRouter).

What each format cannot express
-------------------------------
============  ==============================================================================================
format        not carried (the ingest gets NULL, or nothing)
============  ==============================================================================================
canonical     nothing (it is the frame)
openrouter    requests whose every attempt failed (no generation record); the start time, error code, tokens
              and cost of failed fallback attempts (only HTTP status and latency); ``tool_calls`` count and
              ``tools_offered``; ``model_requested`` except the ``openrouter/auto`` router; the app id as a
              string (an integer plus the referer URL)
litellm       ``native_finish_reason`` (LiteLLM maps it to the OpenAI vocabulary); reasoning and cached tokens of
              cancelled attempts (failure payloads carry no response); ``tools_offered``
otel          ``streamed``, ``ttft_ms``, ``cost_usd``, users, ``tool_calls`` count, ``tools_offered``, and a
              Gemini function call (its native finish reason is ``STOP``; only message content, which is
provider-     cancelled attempts, cost
bodies
openrouter-   failed attempts, error codes, ``tool_calls`` count, ``tools_offered``, ``model_requested``
activity
============  ==============================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import polars as pl

from devkit.simulate.formats import canonical, litellm, openrouter, openrouter_activity, otel, provider_bodies
from devkit.simulate.formats._files import write_lines
from devkit.simulate.formats._shared import api_key_hash, app_number, end_user_id, prepare
from schemas.adapters import ADAPTERS, Adapter

__all__ = ["FORMATS", "WRITERS", "ZSTD_LEVEL", "api_key_hash", "app_number", "end_user_id", "lines", "write"]

#: zstd level of the non-canonical writers (fsspec's own is 10: three times slower for 10% smaller files).
ZSTD_LEVEL = 3
_MODULES: tuple[ModuleType, ...] = (canonical, openrouter, litellm, otel, provider_bodies, openrouter_activity)


def module_name(module: ModuleType) -> str:
    """The last part of a module's dotted name (`schemas.adapters.openrouter` -> `openrouter`)."""
    return module.__name__.rpartition(".")[2]


def reader_module(adapter: Adapter) -> str:
    """The name of the module of `schemas/adapters/` that reads `adapter`'s format: where its `sniff` lives."""
    return adapter.sniff.__module__.rpartition(".")[2]


#: Format name (its adapter's) -> the writer module named like the adapter's module, in the adapters' order.
WRITERS: dict[str, ModuleType] = {
    adapter.name: module for adapter in ADAPTERS for module in _MODULES if module_name(module) == reader_module(adapter)
}
FORMATS: tuple[str, ...] = tuple(WRITERS)


def write(
    frame: pl.DataFrame,
    url: str,
    format: str = "canonical",
    compression: str | None = "infer",
    *,
    rows_per_file: int | None = None,
    suffix: str = ".jsonl",
    zstd_level: int = ZSTD_LEVEL,
) -> list[str]:
    """Write the simulated `frame` in `format` to the fsspec URL `url`; return the URLs written.

    `compression` names the codec ("infer": from the extension, .gz or .zst; None: plain text). Without
    `rows_per_file`, `url` is the file; with it, `url` is a folder receiving `<format>-0000<suffix>`, ... of at
    most `rows_per_file` lines each; OpenRouter lines are requests, the others' are attempts (OTel: export
    requests). `canonical` is `canonical.write_canonical` unchanged (files `requests-0000<suffix>`, fsspec's
    codecs); the other formats compress zstd at `zstd_level` and gzip with a zero mtime, so equal frames give
    equal bytes.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if WRITERS[format] is canonical:
        return canonical.write_canonical(
            frame, url, rows_per_file=rows_per_file, compression=compression, suffix=suffix
        )
    if rows_per_file is not None and rows_per_file < 1:
        raise ValueError("rows_per_file must be >= 1")
    name = format + "-{:04d}" + suffix
    return write_lines(lines(frame, format), url, compression, rows_per_file, name, zstd_level)


def lines(frame: pl.DataFrame, format: str) -> Iterator[pl.Series]:
    """The lines (without newline) of `frame` in `format` (openrouter, litellm, otel, provider-bodies: JSON;
    openrouter-activity: CSV with its header), as String Series of at most about CHUNK_ROWS lines each. The
    canonical format has no line writer: `canonical.write_canonical` serializes the frame itself."""
    writer = WRITERS.get(format)
    if writer is None or writer is canonical:
        raise ValueError(f"unknown format {format!r}")
    yield from writer.lines(prepare(frame))
