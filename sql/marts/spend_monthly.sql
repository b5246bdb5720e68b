-- spend_monthly: spend_daily added up per calendar month, the per-completion costs recomputed
-- from the summed counts and costs (not averaged over days). The first and last periods may be partial: `days`
-- says how many days had requests.
--
-- grain: one row per month x model_family x provider x app_id x operation
-- materialized: table
-- columns:
--   month: first day of the calendar month
--   model_family: family of the model that served the final attempt (NULL when the log names no model)
--   provider: provider of the final attempt
--   app_id: the calling application (NULL when the log names none)
--   operation: what was asked (chat, responses, embeddings, ...)
--   days: days of the period with requests
--   requests: requests
--   completed_requests: requests whose final attempt succeeded
--   tool_call_completions: completed requests whose final attempt ended in a tool call
--   cost_reported_requests: requests whose log reports a cost (0 included)
--   zero_cost_requests: requests whose reported cost is 0 (BYOK, free models)
--   cost_coverage: cost_reported_requests / requests
--   cost_usd: cost of the requests that report one, in USD (NULL when none does)
--   completed_with_cost: completed requests that report a cost
--   tool_call_completions_with_cost: tool-call completions that report a cost
--   cost_per_completed_request: cost_usd / completed_with_cost
--   cost_per_tool_call_completion: cost_usd / tool_call_completions_with_cost
--   prompt_tokens: prompt (input) tokens of the final attempts
--   completion_tokens: completion (output) tokens of the final attempts, reasoning included
--   reasoning_tokens: reasoning tokens of the final attempts
--   cached_prompt_tokens: prompt tokens read from a cache

with

daily as (
    select * from spend_daily
),

summed as (
    select
        cast(date_trunc('month', day) as date) as month,
        model_family,
        provider,
        app_id,
        operation,
        count(*) as days,
        sum(requests)::bigint as requests,
        sum(completed_requests)::bigint as completed_requests,
        sum(tool_call_completions)::bigint as tool_call_completions,
        sum(cost_reported_requests)::bigint as cost_reported_requests,
        sum(zero_cost_requests)::bigint as zero_cost_requests,
        sum(cost_usd) as cost_usd,
        sum(completed_with_cost)::bigint as completed_with_cost,
        sum(tool_call_completions_with_cost)::bigint as tool_call_completions_with_cost,
        sum(prompt_tokens)::bigint as prompt_tokens,
        sum(completion_tokens)::bigint as completion_tokens,
        sum(reasoning_tokens)::bigint as reasoning_tokens,
        sum(cached_prompt_tokens)::bigint as cached_prompt_tokens,
    from daily
    group by all
),

final as (
    select
        month,
        model_family,
        provider,
        app_id,
        operation,
        days,
        requests,
        completed_requests,
        tool_call_completions,
        cost_reported_requests,
        zero_cost_requests,
        gl_ratio(cost_reported_requests, requests) as cost_coverage,
        cost_usd,
        completed_with_cost,
        tool_call_completions_with_cost,
        gl_ratio(cost_usd, completed_with_cost) as cost_per_completed_request,
        gl_ratio(cost_usd, tool_call_completions_with_cost) as cost_per_tool_call_completion,
        prompt_tokens,
        completion_tokens,
        reasoning_tokens,
        cached_prompt_tokens,
    from summed
)

select * from final
