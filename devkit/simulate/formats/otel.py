"""Writes the OpenTelemetry format (read by `schemas/adapters/otel.py`): OTLP/JSON GenAI spans.

One OTLP/JSON ``ExportTraceServiceRequest`` per line, as the collector's ``file`` exporter writes
them: all attempts starting in one UTC minute, one ``resourceSpans`` entry per app (resource attribute
``service.name`` = app id), scope ``gatewaylens.simulate``. One CLIENT span (``kind`` 3) per ATTEMPT, named
``chat {model}``; the attempts of a request are sibling spans of one trace (``traceId`` from the request id,
no synthetic parent span), and a fallback carries ``http.request.resend_count`` = attempt - 1 (the HTTP
semconv's retry counter). Attributes follow the GenAI semantic conventions (registry
``model/gen-ai/registry.yaml``): ``gen_ai.operation.name`` = chat, ``gen_ai.provider.name`` (registry values
``anthropic``, ``openai``, ``aws.bedrock``, ``gcp.vertex_ai``, ``gcp.gemini``, ``azure.ai.openai``,
``mistral_ai``; hosts the registry does not list get their lower-case name), ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.response.id``, ``gen_ai.response.finish_reasons`` (the provider's native
reason), ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``, ``gen_ai.usage.reasoning.output_tokens``
(only when reported) and ``gen_ai.usage.cache_read.input_tokens`` (both experimental semconv attributes, part
of the input/output totals), ``server.address``, ``error.type`` (the provider's error code) and
``http.response.status_code``; failed spans have ``status`` ``{"code": 2, "message": ...}``. Integers are
``intValue`` strings and times unix-nanosecond strings (OTLP JSON mapping of int64).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import numpy as np
import polars as pl

from devkit.simulate.formats._shared import CANCELLED_ERROR, CHUNK_ROWS, json_object
from devkit.simulate.traffic import US_PER_MINUTE

#: OTLP instrumentation scope of the simulated spans.
OTEL_SCOPE = ("gatewaylens.simulate", "1.0")
#: Share of OTel spans whose finish reasons are a JSON list inside a string attribute, as Logfire and Spring AI
#: write them (by the attempt's hash: the first hex digit below this many sixteenths).
OTEL_JSON_FINISH_SIXTEENTHS = 4


def lines(rows: pl.DataFrame) -> Iterator[pl.Series]:
    """One export request per UTC minute, in chunks of about CHUNK_ROWS attempts that never split a minute."""
    for chunk in _minute_chunks(rows["t_us"].to_numpy(), CHUNK_ROWS):
        yield _otel(rows.slice(*chunk))


def _minute_chunks(t_us: np.ndarray, size: int) -> Iterator[tuple[int, int]]:
    """Slices of about `size` rows of a time-sorted column that never split a UTC minute."""
    minute = t_us // US_PER_MINUTE
    starts = sorted({0, *(int(np.searchsorted(minute, minute[i], "left")) for i in range(size, t_us.size, size))})
    bounds = [*starts, t_us.size]
    for begin, end in itertools.pairwise(bounds):
        if end > begin:
            yield begin, end - begin


def _json_string(value: pl.Expr) -> pl.Expr:
    """`value` as the inside of a JSON string (backslashes and quotes escaped; the simulator's values have no
    control characters)."""
    return value.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)


def _attribute(key: str, value: pl.Expr, kind: str) -> pl.Expr:
    """One OTLP KeyValue as JSON text, null when the value is null (the attribute is then left out). An intValue
    is a decimal string, as the OTLP JSON mapping writes int64."""
    text = value.cast(pl.Int64).cast(pl.String) if kind == "intValue" else _json_string(value)
    return pl.concat_str(pl.lit(f'{{"key":"{key}","value":{{"{kind}":"'), text, pl.lit('"}}'))


def _array_attribute(key: str, value: pl.Expr) -> pl.Expr:
    """A KeyValue holding an array of one string (null when the value is null)."""
    prefix = f'{{"key":"{key}","value":{{"arrayValue":{{"values":[{{"stringValue":"'
    return pl.concat_str(pl.lit(prefix), _json_string(value), pl.lit('"}]}}}'))


def _otel(rows: pl.DataFrame) -> pl.Series:
    error = pl.col("status") == "error"
    failed = ~pl.col("success")
    error_type = pl.when(pl.col("cancelled")).then(pl.lit(CANCELLED_ERROR)).when(error).then(pl.col("error_code"))
    responded = pl.col("responded")
    attributes = [
        _attribute("gen_ai.operation.name", pl.col("operation"), "stringValue"),
        _attribute("gen_ai.provider.name", pl.col("otel_provider"), "stringValue"),
        _attribute("gen_ai.request.model", pl.col("model_requested"), "stringValue"),
        _attribute("server.address", pl.col("server_address"), "stringValue"),
        _attribute("gen_ai.response.model", pl.when(responded).then(pl.col("model")), "stringValue"),
        _attribute("gen_ai.response.id", pl.col("response_id"), "stringValue"),
        pl.when(pl.col("att_hash").str.slice(0, 1).str.to_integer(base=16) < OTEL_JSON_FINISH_SIXTEENTHS)
        .then(
            _attribute(
                "gen_ai.response.finish_reasons",
                pl.concat_str(pl.lit('["'), pl.col("native_finish_reason"), pl.lit('"]')),
                "stringValue",
            )
        )
        .otherwise(_array_attribute("gen_ai.response.finish_reasons", pl.col("native_finish_reason"))),
        _attribute("gen_ai.usage.input_tokens", pl.col("prompt_tokens"), "intValue"),
        _attribute("gen_ai.usage.output_tokens", pl.col("completion_tokens"), "intValue"),
        _attribute("gen_ai.usage.reasoning.output_tokens", pl.col("reasoning_tokens"), "intValue"),
        _attribute("gen_ai.usage.cache_read.input_tokens", pl.col("cached_prompt_tokens"), "intValue"),
        _attribute("http.response.status_code", pl.col("http_status"), "intValue"),
        _attribute("error.type", error_type, "stringValue"),
        _attribute("http.request.resend_count", pl.when(pl.col("attempt") > 1).then(pl.col("attempt") - 1), "intValue"),
    ]
    status = (
        pl.when(failed)
        .then(
            json_object(
                code=pl.lit(2),
                message=pl.when(pl.col("cancelled"))
                .then(pl.lit("cancelled by the client"))
                .otherwise(pl.concat_str(pl.col("http_status").cast(pl.String), pl.col("error_code"), separator=" ")),
            )
        )
        .otherwise(pl.lit("{}"))
    )
    span = pl.concat_str(
        pl.lit('{"traceId":"'),
        pl.col("req_hash"),
        pl.lit('","spanId":"'),
        _span_id(),
        pl.lit('","name":"'),
        pl.col("operation"),
        pl.lit(" "),
        _json_string(pl.col("model")),
        pl.lit('","kind":3,"startTimeUnixNano":"'),
        (pl.col("t_us") * 1000).cast(pl.String),
        pl.lit('","endTimeUnixNano":"'),
        (pl.col("end_us") * 1000).cast(pl.String),
        pl.lit('","attributes":['),
        pl.concat_str(attributes, separator=",", ignore_nulls=True),
        pl.lit('],"status":'),
        status,
        pl.lit("}"),
    )
    spans = rows.select(
        minute=pl.col("t_us") // US_PER_MINUTE,
        app=pl.col("app_id").fill_null("unknown"),
        order=pl.int_range(pl.len()),
        span=span,
    )
    per_app = spans.group_by("minute", "app").agg(
        first=pl.col("order").min(),
        spans=pl.col("span").sort_by("order").str.join(","),
    )
    scope = json.dumps({"name": OTEL_SCOPE[0], "version": OTEL_SCOPE[1]}, separators=(",", ":"))
    resource = pl.concat_str(
        pl.lit('{"resource":{"attributes":['),
        _attribute("service.name", pl.col("app"), "stringValue"),
        pl.lit(f']}},"scopeSpans":[{{"scope":{scope},"spans":['),
        pl.col("spans"),
        pl.lit("]}]}"),
    )
    per_minute = (
        per_app.sort("first")
        .group_by("minute", maintain_order=True)
        .agg(resources=resource.str.join(","))
        .sort("minute")
        .select(line=pl.concat_str(pl.lit('{"resourceSpans":['), pl.col("resources"), pl.lit("]}")))
    )
    return per_minute.to_series()


def _span_id() -> pl.Expr:
    """16 hex digits of the attempt's hash (distinct from the trace id's digits)."""
    return pl.col("att_hash").str.slice(16, 16)
