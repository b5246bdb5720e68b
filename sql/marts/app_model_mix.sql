-- app_model_mix: per app, how its requests split between frontier and small models, and how many of its
-- tool-call completions small models serve: "reason with the best, execute with the fast" shows as a high
-- tool_calls_on_small_share next to a real frontier_share. Requests without a known model, and operations that
-- generate no text (embeddings, images, ...: gl_is_generation), are left out.
--
-- grain: one row per app_id
-- materialized: table
-- columns:
--   app_id: the calling application (NULL when the log names none)
--   requests: generation requests with a known model
--   frontier_share: share of them served by frontier models
--   small_share: share of them served by small models
--   tool_call_requests: completed requests ending in a tool call
--   tool_calls_on_small_share: share of those served by small models (NULL without tool calls)

with

usage as (
    select * from int_app_usage_daily
    where model_key is not null
),

summed as (
    select
        app_id,
        sum(generation_requests)::bigint as total_requests,
        sum(generation_requests) filter (where model_tier = 'frontier') as frontier_requests,
        sum(generation_requests) filter (where model_tier = 'small') as small_requests,
        sum(tool_call_requests)::bigint as total_tool_calls,
        sum(tool_call_requests) filter (where model_tier = 'small') as small_tool_calls,
    from usage
    group by app_id
),

final as (
    select
        app_id,
        total_requests as requests,
        coalesce(gl_ratio(frontier_requests, total_requests), 0) as frontier_share,
        coalesce(gl_ratio(small_requests, total_requests), 0) as small_share,
        total_tool_calls as tool_call_requests,
        gl_ratio(coalesce(small_tool_calls, 0), total_tool_calls) as tool_calls_on_small_share,
    from summed
)

select * from final
