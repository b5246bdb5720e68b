-- int_requests_rolled_up: one row per request, its attempts rolled up. The request arrived with its first
-- attempt and ended with its final one (the highest attempt number): a request "completed" when its final
-- attempt succeeded, and its outcome (status, finish reason, tokens, model, provider) is that attempt's.
--
-- grain: one row per request_id
-- materialized: incremental
-- partition_day: day
-- columns:
--   request_id: the gateway's request id
--   day: UTC day the request arrived (its first attempt started)
--   arrived_at: when the first attempt started (UTC)
--   app_id: the calling application
--   user_hash: keyed hash of the end user (never the raw id)
--   attempts: number of upstream attempts (1 = no retry or fallback)
--   operation: what was asked (chat, responses, text_completion, embeddings, image_generation, ...)
--   is_generation: the operation generates text (gl_is_generation): what the generation metrics count
--   first_provider: provider of the first attempt
--   first_status: status of the first attempt
--   provider: provider of the final attempt
--   model: model id that served the final attempt (else the requested one)
--   model_key: the model id canonicalized (vendor prefixes, cloud decorations and dates removed)
--   model_family: family of the final attempt's model; NULL when the log names no model
--   model_vendor: the lab that trains that model (unknown when no rule of the seed matches)
--   model_tier: frontier or small (unknown for family Other)
--   model_open_weights: the model's weights are published (true) or it is API-only (false); NULL when unknown
--   status: status of the final attempt (success, error, cancelled)
--   error_class: error class of the final attempt
--   finish_reason: normalized finish reason of the final attempt
--   prompt_tokens: prompt tokens of the final attempt
--   completion_tokens: completion tokens of the final attempt (reasoning tokens included)
--   reasoning_tokens: reasoning tokens of the final attempt; NULL when not reported
--   cached_prompt_tokens: cached prompt tokens of the final attempt
--   tool_calls: tool calls in the final attempt's response
--   tools_offered: tools the final attempt's request offered (NULL when the log does not say)
--   final_started_at: when the final attempt started (UTC)
--   latency_ms: latency of the final attempt
--   cost_usd: cost of all attempts together

with

-- not materialized: each branch reads its own columns (materializing 10M attempts took 3.5 GiB more memory)
attempts as not materialized (
    select * from stg_gateway__attempts
),

-- requests with a retry or fallback: the only ones with an attempt after the first (a few percent of them).
-- Attempts are numbered from 1 and unique per request, so every other request has exactly one row; finding
-- the few retried ones by a filter avoids grouping every request id.
retried as (
    select distinct request_id
    from attempts
    where attempt > 1
),

single_attempt as (
    select
        attempts.request_id,
        attempts.created_at as arrived_at,
        1 as attempts,
        attempts.operation,
        attempts.app_id,
        attempts.user_hash,
        attempts.provider as first_provider,
        attempts.status as first_status,
        attempts.provider,
        coalesce(attempts.model, attempts.model_requested) as model,
        attempts.model_key,
        attempts.model_family,
        attempts.model_vendor,
        attempts.model_tier,
        attempts.model_open_weights,
        attempts.status,
        attempts.error_class,
        attempts.finish_reason,
        attempts.prompt_tokens,
        attempts.completion_tokens,
        attempts.reasoning_tokens,
        attempts.cached_prompt_tokens,
        attempts.tool_calls,
        attempts.tools_offered,
        attempts.created_at as final_started_at,
        attempts.latency_ms,
        attempts.cost_usd,
    from attempts
    anti join retried
        on retried.request_id = attempts.request_id
),

rolled as (
    select
        attempts.request_id,
        min(attempts.created_at) as arrived_at,
        count(*) as attempts,
        arg_min(
            {
                'provider': attempts.provider,
                'status': attempts.status,
                'app_id': attempts.app_id,
                'user_hash': attempts.user_hash,
                'operation': attempts.operation
            },
            attempts.attempt
        ) as first_attempt,
        arg_max(
            {
                'provider': attempts.provider,
                'model': coalesce(attempts.model, attempts.model_requested),
                'model_key': attempts.model_key,
                'model_family': attempts.model_family,
                'model_vendor': attempts.model_vendor,
                'model_tier': attempts.model_tier,
                'model_open_weights': attempts.model_open_weights,
                'status': attempts.status,
                'error_class': attempts.error_class,
                'finish_reason': attempts.finish_reason,
                'prompt_tokens': attempts.prompt_tokens,
                'completion_tokens': attempts.completion_tokens,
                'reasoning_tokens': attempts.reasoning_tokens,
                'cached_prompt_tokens': attempts.cached_prompt_tokens,
                'tool_calls': attempts.tool_calls,
                'tools_offered': attempts.tools_offered,
                'started_at': attempts.created_at,
                'latency_ms': attempts.latency_ms
            },
            attempts.attempt
        ) as final_attempt,
        sum(attempts.cost_usd) as cost_usd,
    from attempts
    semi join retried
        on retried.request_id = attempts.request_id
    group by attempts.request_id
),

several_attempts as (
    select
        request_id,
        arrived_at,
        attempts,
        first_attempt.operation as operation,
        first_attempt.app_id as app_id,
        first_attempt.user_hash as user_hash,
        first_attempt.provider as first_provider,
        first_attempt.status as first_status,
        final_attempt.provider as provider,
        final_attempt.model as model,
        final_attempt.model_key as model_key,
        final_attempt.model_family as model_family,
        final_attempt.model_vendor as model_vendor,
        final_attempt.model_tier as model_tier,
        final_attempt.model_open_weights as model_open_weights,
        final_attempt.status as status,
        final_attempt.error_class as error_class,
        final_attempt.finish_reason as finish_reason,
        final_attempt.prompt_tokens as prompt_tokens,
        final_attempt.completion_tokens as completion_tokens,
        final_attempt.reasoning_tokens as reasoning_tokens,
        final_attempt.cached_prompt_tokens as cached_prompt_tokens,
        final_attempt.tool_calls as tool_calls,
        final_attempt.tools_offered as tools_offered,
        final_attempt.started_at as final_started_at,
        final_attempt.latency_ms as latency_ms,
        cost_usd,
    from rolled
),

requests as (
    select * from single_attempt
    union all by name
    select * from several_attempts
),

final as (
    select
        request_id,
        cast(arrived_at as date) as day,
        arrived_at,
        app_id,
        user_hash,
        attempts,
        operation,
        gl_is_generation(operation) as is_generation,
        first_provider,
        first_status,
        provider,
        model,
        model_key,
        model_family,
        model_vendor,
        model_tier,
        model_open_weights,
        status,
        error_class,
        finish_reason,
        prompt_tokens,
        completion_tokens,
        reasoning_tokens,
        cached_prompt_tokens,
        tool_calls,
        tools_offered,
        final_started_at,
        latency_ms,
        cost_usd,
    from requests
)

select * from final
