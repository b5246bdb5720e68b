"""Writes raw provider bodies (read by `schemas/adapters/provider_bodies.py`): an in-house proxy's log.

One line per ATTEMPT, the provider's own response body inside the envelope that
``schemas/adapters/provider_bodies.py`` documents (``timestamp``, ``request_id``, ``attempt``, ``provider``,
``status_code``, ``latency_ms``, ``ttft_ms`` when streamed, ``app_id``, ``user`` (the pseudonymous end-user id),
``request`` with the model asked for, the stream flag and the tools offered). The body is the one the serving
API returns: Claude (on Anthropic, Bedrock or Vertex) an Anthropic Messages body (``tool_use`` blocks; input
tokens without the cache reads, which are reported beside them; thinking tokens in
``output_tokens_details``), Gemini a generateContent body (``functionCall`` parts under ``STOP``; thoughts
beside the candidates' tokens; ``createTime`` on Vertex), every other model an OpenAI Chat Completions body,
and an embedding call an OpenAI embeddings list. A failed attempt carries the provider's error body (Anthropic
``{"type": "error", "error": {"type"}}``, Google ``{"error": {"code", "status"}}``, OpenAI ``{"error":
{"type", "code"}}``) and its HTTP status. Message text is the redaction marker only.

What it cannot express: a client abort (nothing came back: a cancelled attempt is not written) and cost. An
empty ``request.tools`` list is a request that offered none (0); an app that does not log its tools has no
list (NULL).
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from devkit.simulate.formats._shared import CHUNK_ROWS, REDACTED, chunks, iso, json_object, null

_SHAPES = ("anthropic", "gemini", "openai", "embeddings")


def lines(rows: pl.DataFrame) -> Iterator[pl.Series]:
    """Envelope lines of every attempt but the cancelled ones, in the frame's order, in chunks."""
    rows = rows.filter(~pl.col("cancelled")).with_columns(_order=pl.int_range(pl.len()), _shape=_shape())
    for offset, length in chunks(rows.height, CHUNK_ROWS):
        chunk = rows.slice(offset, length)
        parts = [_envelope(chunk.filter(pl.col("_shape") == shape), shape) for shape in _SHAPES]
        yield pl.concat([p for p in parts if p.height]).sort("_order")["line"]


def _shape() -> pl.Expr:
    model = pl.col("model")
    return (
        pl.when(pl.col("operation") == "embeddings")
        .then(pl.lit("embeddings"))
        .when(model.str.contains("claude"))
        .then(pl.lit("anthropic"))
        .when(model.str.contains("gemini"))
        .then(pl.lit("gemini"))
        .otherwise(pl.lit("openai"))
    )


def _envelope(rows: pl.DataFrame, shape: str) -> pl.DataFrame:
    tools = pl.int_ranges(0, pl.col("tools_offered")).list.eval(
        pl.struct(name=pl.concat_str(pl.lit("tool_"), pl.element().cast(pl.String)))
    )
    head = json_object(
        timestamp=iso("created_at"),
        request_id=pl.col("request_id"),
        attempt=pl.col("attempt"),
        provider=pl.col("provider_native"),
        status_code=pl.col("http_status"),
        latency_ms=pl.col("latency_ms"),
        ttft_ms=pl.when(pl.col("streamed")).then(pl.col("ttft_ms")),
        app_id=pl.col("app_id"),
        user=pl.col("end_user"),
        request=pl.struct(model=pl.col("model_requested"), stream=pl.col("streamed"), tools=tools),
    )
    body = pl.when(pl.col("success")).then(_BODIES[shape]()).otherwise(_ERRORS[shape]())
    line = pl.concat_str(head.str.head(-1), pl.lit(',"response":'), body, pl.lit("}"))
    return rows.select("_order", line=line)


def _anthropic() -> pl.Expr:
    uses = pl.int_ranges(0, pl.col("tool_calls").fill_null(0)).list.eval(pl.lit("tool_use"))
    blocks = pl.when(pl.col("tool")).then(uses).otherwise(pl.lit(["text"], pl.List(pl.String)))
    content = blocks.list.eval(pl.struct(type=pl.element()))
    cached = pl.col("cached_prompt_tokens").fill_null(0)
    return json_object(
        id=pl.concat_str(pl.lit("msg_"), pl.col("att_hash").str.slice(0, 24)),
        type=pl.lit("message"),
        role=pl.lit("assistant"),
        model=pl.col("model"),
        content=content,
        stop_reason=pl.col("native_finish_reason"),
        usage=pl.struct(
            input_tokens=pl.col("prompt_tokens") - cached,
            cache_read_input_tokens=cached,
            cache_creation_input_tokens=pl.lit(0),
            output_tokens=pl.col("completion_tokens"),
            output_tokens_details=pl.when(pl.col("reasoning_tokens").is_not_null()).then(
                pl.struct(thinking_tokens=pl.col("reasoning_tokens"))
            ),
        ),
    )


def _gemini() -> pl.Expr:
    call = pl.struct(name=pl.concat_str(pl.lit("tool_"), pl.element().cast(pl.String)))
    calls = pl.int_ranges(0, pl.col("tool_calls").fill_null(0)).list.eval(pl.struct(text=null(), functionCall=call))
    text = pl.concat_list(pl.struct(text=pl.lit(REDACTED), functionCall=pl.lit(None, pl.Struct({"name": pl.String}))))
    parts = pl.when(pl.col("tool")).then(calls).otherwise(text)
    reasoning = pl.col("reasoning_tokens")
    return json_object(
        responseId=pl.col("att_hash").str.slice(0, 22),
        modelVersion=pl.col("model"),
        createTime=pl.when(pl.col("provider_native") == "Google Vertex").then(iso("created_at")),
        candidates=pl.concat_list(
            pl.struct(content=pl.struct(role=pl.lit("model"), parts=parts), finishReason=pl.col("native_finish_reason"))
        ),
        usageMetadata=pl.struct(
            promptTokenCount=pl.col("prompt_tokens"),
            candidatesTokenCount=pl.col("completion_tokens") - reasoning.fill_null(0),
            thoughtsTokenCount=reasoning,
            cachedContentTokenCount=pl.col("cached_prompt_tokens"),
        ),
    )


def _openai() -> pl.Expr:
    calls = pl.int_ranges(0, pl.col("tool_calls").fill_null(0)).list.eval(
        pl.struct(id=pl.concat_str(pl.lit("call_"), pl.element().cast(pl.String)), type=pl.lit("function"))
    )
    message = pl.struct(
        role=pl.lit("assistant"),
        content=pl.when(pl.col("tool")).then(null()).otherwise(pl.lit(REDACTED)),
        tool_calls=pl.when(pl.col("tool")).then(calls),
    )
    return json_object(
        id=pl.col("response_id"),
        object=pl.lit("chat.completion"),
        created=pl.col("t_us") // 1_000_000,
        model=pl.col("model"),
        choices=pl.concat_list(
            pl.struct(index=pl.lit(0), finish_reason=pl.col("native_finish_reason"), message=message)
        ),
        usage=pl.struct(
            prompt_tokens=pl.col("prompt_tokens"),
            completion_tokens=pl.col("completion_tokens"),
            prompt_tokens_details=pl.struct(cached_tokens=pl.col("cached_prompt_tokens")),
            completion_tokens_details=pl.when(pl.col("reasoning_tokens").is_not_null()).then(
                pl.struct(reasoning_tokens=pl.col("reasoning_tokens"))
            ),
        ),
    )


def _embeddings() -> pl.Expr:
    return json_object(
        object=pl.lit("list"),
        model=pl.col("model"),
        data=pl.concat_list(pl.struct(object=pl.lit("embedding"), index=pl.lit(0))),
        usage=pl.struct(prompt_tokens=pl.col("prompt_tokens"), total_tokens=pl.col("prompt_tokens")),
    )


_BODIES = {"anthropic": _anthropic, "gemini": _gemini, "openai": _openai, "embeddings": _embeddings}
_ERRORS = {
    "anthropic": lambda: json_object(type=pl.lit("error"), error=pl.struct(type=pl.col("error_code"))),
    "gemini": lambda: json_object(error=pl.struct(code=pl.col("http_status"), status=pl.col("error_code"))),
    "openai": lambda: json_object(error=pl.struct(type=pl.col("error_code"), code=pl.col("error_code"))),
    "embeddings": lambda: json_object(error=pl.struct(type=pl.col("error_code"), code=pl.col("error_code"))),
}
