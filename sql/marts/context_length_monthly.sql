-- context_length_monthly: how long the contexts agents send are, and how long the answers, per calendar month,
-- model family and operation: percentiles of prompt and completion tokens per completed request, and the
-- share of prompt tokens read from a cache. Prompts that grow month over month are the signature of agents
-- carrying long histories; a rising cached share is what keeps them affordable. Incremental by whole months: a
-- changed day recomputes its month from the month's requests (percentiles do not add up from days).
--
-- grain: one row per month x model_family x operation
-- materialized: incremental
-- partition_day: month
-- partition_period: month
-- columns:
--   month: first day of the calendar month
--   model_family: family of the model that served the final attempt
--   operation: what was asked (chat, responses, embeddings, ...)
--   completed_requests: requests whose final attempt succeeded
--   prompt_requests: of those, requests that report prompt tokens
--   prompt_tokens_p50: median prompt tokens per completed request
--   prompt_tokens_p90: 90th percentile of prompt tokens per completed request
--   completion_requests: completed requests that report completion tokens
--   completion_tokens_p50: median completion tokens per completed request (reasoning included)
--   completion_tokens_p90: 90th percentile of completion tokens per completed request
--   cached_requests: completed requests that report both prompt and cached prompt tokens
--   cached_prompt_share: cached prompt tokens / prompt tokens over cached_requests (NULL without any)

with

completed as (
    select * from int_requests_rolled_up
    where status = 'success' and model_family is not null
        and day between gl_context_from() and gl_context_to()
),

summed as (
    select
        cast(date_trunc('month', day) as date) as month,
        model_family,
        operation,
        count(*) as completed_requests,
        count(prompt_tokens) as prompt_requests,
        quantile_cont(prompt_tokens, [0.5, 0.9]) as prompt_q,
        count(completion_tokens) as completion_requests,
        quantile_cont(completion_tokens, [0.5, 0.9]) as completion_q,
        count(*) filter (where prompt_tokens is not null and cached_prompt_tokens is not null) as cached_requests,
        sum(cached_prompt_tokens) filter (where prompt_tokens is not null) as cached_tokens,
        sum(prompt_tokens) filter (where cached_prompt_tokens is not null) as prompt_tokens_with_cache_info,
    from completed
    group by all
),

final as (
    select
        month,
        model_family,
        operation,
        completed_requests,
        prompt_requests,
        prompt_q[1] as prompt_tokens_p50,
        prompt_q[2] as prompt_tokens_p90,
        completion_requests,
        completion_q[1] as completion_tokens_p50,
        completion_q[2] as completion_tokens_p90,
        cached_requests,
        gl_ratio(cached_tokens, prompt_tokens_with_cache_info) as cached_prompt_share,
    from summed
)

select * from final
