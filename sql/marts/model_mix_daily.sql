-- model_mix_daily: which models carry the traffic, per day, by tier (frontier | small) and family: agents
-- mix frontier models for planning with small fast ones for tool execution. A request counts for the
-- model of its final attempt; requests whose log names no model, and operations that generate no text
-- (embeddings, images, ...: gl_is_generation), are left out.
--
-- grain: one row per day x model_tier x model_family
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the requests arrived
--   model_tier: frontier, small, or unknown (unmapped models)
--   model_family: model family
--   requests: requests (any outcome)
--   tool_call_requests: completed requests ending in a tool call
--   output_tokens: completion tokens of the completed requests
--   share_of_requests: requests / all of the day's requests with a known model

with

requests as (
    select * from int_requests_rolled_up
    where model_family is not null and is_generation
),

counted as (
    select
        day,
        model_tier,
        model_family,
        count(*) as requests,
        count(*) filter (where status = 'success' and finish_reason = 'tool_calls') as tool_call_requests,
        coalesce(sum(completion_tokens) filter (where status = 'success'), 0)::bigint as output_tokens,
    from requests
    group by all
),

final as (
    select
        *,
        requests / sum(requests) over (partition by day) as share_of_requests,
    from counted
)

select * from final
