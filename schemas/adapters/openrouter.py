"""OpenRouter: chat-completion responses, error bodies and generation stats, one JSON object per line.

Three shapes, told apart per line (a file may mix them):

* **Chat completion** (the body of `POST /api/v1/chat/completions`): `id` (gen-...), `created` (epoch
  seconds), `model`, `provider` (else the `metadata.provider_name` of an error), `choices[].finish_reason`
  (OpenRouter's normalized value) and
  `.native_finish_reason`, `choices[].message.tool_calls`, `usage.{prompt_tokens, completion_tokens, cost,
  prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens}` (reasoning is part of
  completion_tokens, as in OpenAI's usage). One record, attempt 1; status `error` when the first choice
  finished with `error` or carries an `error` object, or the body itself does (a provider error after the
  response started, as the final chunk of an HTTP 200 stream; its `code` is the HTTP status), else `success`.
  When `finish_reason` is null, the native one is normalized; a `finish_reason` outside OpenRouter's normalized
  values (its bodies of 2024 passed the upstream's on: `end_turn`) is the native one too. A chat completion
  without `provider` and without a `gen-` id is a raw provider body (format `provider-bodies`). Tool calls are
  counted over every choice (`tool_calls` entries, plus one for a legacy `function_call`); a stream chunk
  (`chat.completion.chunk`, streamed) or a body logged without its messages has them NULL.
* **Error body** `{"error": {"code", "message", "metadata": {"provider_name", "raw"}}}`. OpenRouter puts no
  id or time in it, so it becomes a record only when the logger stored them next to it (`id`, `created`);
  otherwise the line is quarantined saying so. `code` is the HTTP status (400, 401, 402, 403, 408, 429, 502,
  503, ...) and is kept as error_code too; a `code` that is text (an error's name relayed from an upstream) is
  the error code alone, the HTTP status unknown; `message` is never read. An error that names no upstream
  (`metadata.provider_name`) with code 401, 402, 403, 404, 429 or 503 is OpenRouter's own refusal (its auth,
  credits, moderation, no allowed endpoint, its rate limit, no provider meeting the routing requirements):
  error class `gateway`, never counted against a provider. Some clients log the body doubly nested,
  `{"error": {"error": {code, message, metadata}, "code": N}}` (the outer object repeats the code and has no
  metadata): the inner object is read wherever the outer one lacks a field, so a named upstream is not lost.
* **Generation stats** as `GET /api/v1/generation?id=...` returns them, `{"data": {...}}`: `id`,
  `created_at` (ISO 8601), `model`, `provider_name`, `app_id`, `external_user` (hashed), `streamed`,
  `cancelled`, `finish_reason`, `native_finish_reason`, `api_type` (`completions` -> operation chat,
  `embeddings`, ...), `latency` (total, ms), `native_tokens_*` (the
  provider's own counts, preferred) or `tokens_*` (OpenRouter's normalized counts), `total_cost`,
  `provider_responses[{provider_name, status, latency, model_permaslug, ...}]`. With n provider responses
  the line yields n records of request `id`: entries 1..n-1 are the attempts OpenRouter moved on from
  (status `error` by definition, `http_status` = their status, their latency and provider), entry n is the
  generation itself (attempt n, with the tokens, cost and finish reason; `cancelled` -> status cancelled;
  a finish reason `error` or a last provider status >= 400 -> error). Without provider responses: one record,
  attempt 1. Every attempt carries the generation's `created_at` (per-attempt start times are not logged).

What OpenRouter's logs cannot express here: chat completions carry no latency, streaming flag, end user or
attempt history (a chat completion is stored as attempt 1; do not ingest chat completions and generation
stats of the same generations, their keys would collide); generation stats carry no tool-call count (the
finish reason `tool_calls` still says a tool call ended the generation) and no time to first token;
failed attempts carry no tokens, cost or error code beyond their HTTP status; no shape says how many tools
were offered.
"""

from __future__ import annotations

from schemas.adapters import _sql
from schemas.bulk import shown_sql

SPEC = {
    "id": "VARCHAR",
    "object": "VARCHAR",
    "created": "VARCHAR",
    "model": "VARCHAR",
    "provider": "VARCHAR",
    "choices": _sql.CHOICES,
    "usage": _sql.USAGE,
    "error": {
        "code": "VARCHAR",
        "metadata": {"provider_name": "VARCHAR"},
        # a doubly nested body: OpenRouter's error object under the logged one's `error`
        "error": {"code": "VARCHAR", "metadata": {"provider_name": "VARCHAR"}},
    },
    "data": {
        "id": "VARCHAR",
        "created_at": "VARCHAR",
        "model": "VARCHAR",
        "provider_name": "VARCHAR",
        "app_id": "VARCHAR",
        "external_user": "VARCHAR",
        "streamed": "VARCHAR",
        "cancelled": "VARCHAR",
        "finish_reason": "VARCHAR",
        "native_finish_reason": "VARCHAR",
        "latency": "VARCHAR",
        "tokens_prompt": "VARCHAR",
        "tokens_completion": "VARCHAR",
        "native_tokens_prompt": "VARCHAR",
        "native_tokens_completion": "VARCHAR",
        "native_tokens_reasoning": "VARCHAR",
        "native_tokens_cached": "VARCHAR",
        "total_cost": "VARCHAR",
        "api_type": "VARCHAR",
        "provider_responses": [
            {"provider_name": "VARCHAR", "status": "VARCHAR", "latency": "VARCHAR", "model_permaslug": "VARCHAR"}
        ],
    },
}


#: HTTP statuses of an error body that, without an upstream provider named, are OpenRouter's own refusals.
GATEWAY_CODES = (401, 402, 403, 404, 429, 503)


#: OpenRouter's normalized finish reasons (its API reference): any other value in `finish_reason` is the upstream's.
_NORMALIZED = "'stop', 'length', 'tool_calls', 'content_filter', 'error'"


def sniff(line: str) -> bool:
    """A chat completion (`choices` and `created`) naming its provider, an error body (`error` object with an
    integer code or `metadata`; with more than four keys beside it, `metadata`) or generation stats (`data` object
    with `id` and `created_at` or `provider_name`)."""
    obj = _sql.decoded_object(line)
    if obj is None:
        return False
    if isinstance(obj.get("choices"), list) and "created" in obj and "id" in obj:
        # OpenRouter's bodies name the provider (or carry its gen- id); other chat completions are raw bodies
        return "provider" in obj or str(obj["id"]).startswith("gen-")
    error = obj.get("error")
    if isinstance(error, dict) and (len(obj) <= 4 or "metadata" in error):
        # a small body, or any with OpenRouter's own mark (`metadata`) whatever a logger added beside it
        return _is_error_object(error)
    data = obj.get("data")
    return isinstance(data, dict) and "id" in data and ("created_at" in data or "provider_name" in data)


def _is_error_object(error: object) -> bool:
    """OpenRouter's error object: an integer code (the HTTP status) and `metadata`, not OpenAI's type/param; or
    one that wraps such an object under its own `error` (a doubly nested body)."""
    if not isinstance(error, dict):
        return False
    if "metadata" in error or (isinstance(error.get("code"), int) and "status" not in error):
        return True
    return _is_error_object(error.get("error"))


def _number(text: str) -> str:
    """SQL: `text` where it spells a decimal number (the shared typing then reads it, or rejects a fraction), else
    NULL: `NaN`, `Infinity`, hexadecimal and digits with `_` name an error, as any other text does."""
    decimal = r"[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?"
    return f"CASE WHEN regexp_full_match(trim({text}), '{decimal}') THEN {text} END"


def select_sql(columns: tuple[str, ...], bulk: bool = False) -> str:
    """SELECT over `lines`: one JSON parse per line; a generation line unnests into its attempts. With `bulk`,
    the same over
    `read_json`'s columns (`_sql.parsed`)."""
    d = "j.data"
    final = "k = n"
    chat = "shape = 'chat'"
    gen = "shape = 'generation'"
    err = "shape = 'error'"
    status_code = "try_cast(pr.status AS INTEGER)"
    # the error body's fields, from the inner object of a doubly nested body when the outer one lacks them
    error_code = "coalesce(j.error.code, j.error.error.code)"
    error_provider = "coalesce(j.error.metadata.provider_name, j.error.error.metadata.provider_name)"
    code = f"CASE WHEN {err} THEN {error_code} ELSE coalesce(j.choices[1].error.code, {error_code}) END"
    exprs = {
        "request_id": f"CASE WHEN {gen} THEN {d}.id ELSE j.id END",
        "attempt": "k",
        "created_at": f"CASE WHEN {gen} THEN {d}.created_at ELSE j.created END",
        "app_id": f"{d}.app_id",
        "user_key": f"{d}.external_user",
        "model_requested": "NULL",
        "model": f"CASE WHEN {gen} THEN CASE WHEN {final} THEN {d}.model "
        f"ELSE coalesce(pr.model_permaslug, {d}.model) END ELSE j.model END",
        "provider": "NULL",
        "provider_native": f"CASE WHEN {gen} THEN CASE WHEN {final} THEN coalesce({d}.provider_name, pr.provider_name) "
        f"ELSE pr.provider_name END WHEN {err} THEN {error_provider} ELSE coalesce(j.provider, "
        f"{error_provider}, j.choices[1].error.metadata.provider_name) END",
        "status": f"""CASE
            WHEN {err} THEN 'error'
            WHEN {chat} THEN CASE
                WHEN j.choices[1].finish_reason = 'error' OR j.choices[1].error IS NOT NULL OR j.error IS NOT NULL
                    THEN 'error'
                ELSE 'success'
            END
            WHEN NOT {final} THEN 'error'
            WHEN lower({d}.cancelled) = 'true' THEN 'cancelled'
            WHEN {d}.finish_reason = 'error' OR {status_code} >= 400 THEN 'error'
            ELSE 'success'
        END""",
        # an error's code is its HTTP status when it is a number; text names the error only
        "http_status": f"CASE WHEN {gen} THEN pr.status WHEN {err} OR {chat} THEN {_number(code)} END",
        "error_code": f"CASE WHEN {err} THEN {error_code} WHEN {chat} THEN {code} END",
        # OpenRouter's own refusals name no upstream provider: its auth (401), credits (402), moderation and
        # guardrails (403), no endpoint or allowed provider (404), its own rate limit (429), no provider meeting
        # the routing requirements (503)
        "error_class": f"""CASE
            WHEN {err} AND {error_provider} IS NULL
                AND try_cast({_number(error_code)} AS INTEGER) IN ({", ".join(map(str, GATEWAY_CODES))}) THEN 'gateway'
        END""",
        "finish_reason": f"CASE WHEN {chat} THEN j.choices[1].finish_reason "
        f"WHEN {gen} AND {final} THEN {d}.finish_reason END",
        # before OpenRouter wrote `native_finish_reason` (2024), its `finish_reason` passed the upstream's own on
        # (Anthropic's end_turn): a value outside OpenRouter's normalized ones is the native one
        "native_finish_reason": f"CASE WHEN {chat} THEN coalesce(j.choices[1].native_finish_reason, CASE WHEN "
        f"j.choices[1].finish_reason NOT IN ({_NORMALIZED}) THEN j.choices[1].finish_reason END) "
        f"WHEN {gen} AND {final} THEN {d}.native_finish_reason END",
        "prompt_tokens": f"CASE WHEN {chat} THEN j.usage.prompt_tokens "
        f"WHEN {gen} AND {final} THEN coalesce({d}.native_tokens_prompt, {d}.tokens_prompt) END",
        "completion_tokens": f"CASE WHEN {chat} THEN j.usage.completion_tokens "
        f"WHEN {gen} AND {final} THEN coalesce({d}.native_tokens_completion, {d}.tokens_completion) END",
        "reasoning_tokens": f"CASE WHEN {chat} THEN j.usage.completion_tokens_details.reasoning_tokens "
        f"WHEN {gen} AND {final} THEN {d}.native_tokens_reasoning END",
        "cached_prompt_tokens": f"CASE WHEN {chat} THEN j.usage.prompt_tokens_details.cached_tokens "
        f"WHEN {gen} AND {final} THEN {d}.native_tokens_cached END",
        "tool_calls": f"CASE WHEN {chat} THEN {_sql.count_tool_calls('j.choices')} END",
        "tools_offered": "NULL",
        "latency_ms": f"CASE WHEN {gen} THEN CASE WHEN {final} THEN coalesce({d}.latency, pr.latency) "
        "ELSE pr.latency END END",
        "ttft_ms": "NULL",
        "streamed": f"coalesce({d}.streamed, {_sql.streamed_chunk('j')})",
        # OpenRouter's `api_type` names the API family: `completions` is its chat completions API
        "operation": f"CASE WHEN {gen} THEN CASE lower({d}.api_type) WHEN 'completions' THEN 'chat' "
        f"ELSE {d}.api_type END END",
        "cost_usd": f"CASE WHEN {chat} THEN j.usage.cost WHEN {gen} AND {final} THEN {d}.total_cost END",
    }
    columns_sql = ",\n    ".join(f"{exprs.get(c, 'NULL')} AS {c}" for c in columns)
    return f"""
select
    source_line,
    CASE WHEN n > 1 THEN format('attempt {{}} of {{}} ({{}})', k, n, coalesce({shown_sql("pr.provider_name")}, '?'))
    END AS item,
    NULL::VARCHAR AS ignored,
    CASE
        {_sql.not_an_object()}
        WHEN shape IS NULL THEN 'not an OpenRouter chat completion, error body or generation stats object'
        WHEN {err} AND (j.id IS NULL OR j.created IS NULL)
            THEN 'OpenRouter error body without id and created: nothing to key it on (store them with the error)'
    END AS reject,
    {columns_sql}
from (
    select *, {d}.provider_responses[k] AS pr
    from (
        select
            source_line,
            raw,
            j,
            shape,
            n,
            unnest(generate_series(1, n)) AS k
        from (
            select
                source_line,
                raw,
                j,
                CASE
                    WHEN j.data IS NOT NULL THEN 'generation'
                    WHEN j.choices IS NOT NULL THEN 'chat'
                    WHEN j.error IS NOT NULL THEN 'error'
                END AS shape,
                greatest(coalesce(len(j.data.provider_responses), 0), 1) AS n
            from {_sql.parsed(SPEC, bulk)}
        )
    )
)
"""
