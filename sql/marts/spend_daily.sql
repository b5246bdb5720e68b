-- spend_daily: what the traffic cost, per day, model family, provider, app and operation, and what a completed
-- request and a tool-call completion cost. A request's cost is the sum of its attempts' costs (failed attempts
-- that were billed included), put on the provider and family of its final attempt. Unknown cost stays unknown:
-- cost_usd sums only the requests whose log reports a cost (NULL when none does, never 0), cost_coverage says
-- what share that is, and the per-completion costs divide over those same requests. A reported cost of 0 (a
-- BYOK request, a free model) is a reported cost, counted in zero_cost_requests.
--
-- grain: one row per day x model_family x provider x app_id x operation
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the requests arrived
--   model_family: family of the model that served the final attempt (NULL when the log names no model)
--   provider: provider of the final attempt
--   app_id: the calling application (NULL when the log names none)
--   operation: what was asked (chat, responses, embeddings, ...)
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
--   prompt_tokens: prompt (input) tokens of the final attempts (NULL when none reports them)
--   completion_tokens: completion (output) tokens of the final attempts, reasoning included
--   reasoning_tokens: reasoning tokens of the final attempts (NULL when none reports them)
--   cached_prompt_tokens: prompt tokens read from a cache

with

requests as (
    select * from int_requests_rolled_up
),

summed as (
    select
        day,
        model_family,
        provider,
        app_id,
        operation,
        count(*) as requests,
        count(*) filter (where status = 'success') as completed_requests,
        count(*) filter (where status = 'success' and finish_reason = 'tool_calls') as tool_call_completions,
        count(cost_usd) as cost_reported_requests,
        count(*) filter (where cost_usd = 0) as zero_cost_requests,
        sum(cost_usd) as cost_usd,
        count(cost_usd) filter (where status = 'success') as completed_with_cost,
        count(cost_usd) filter (where status = 'success' and finish_reason = 'tool_calls')
            as tool_call_completions_with_cost,
        sum(prompt_tokens)::bigint as prompt_tokens,
        sum(completion_tokens)::bigint as completion_tokens,
        sum(reasoning_tokens)::bigint as reasoning_tokens,
        sum(cached_prompt_tokens)::bigint as cached_prompt_tokens,
    from requests
    group by all
),

final as (
    select
        day,
        model_family,
        provider,
        app_id,
        operation,
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
