-- tool_call_rate_daily: how often completed requests end in a tool call, per day and model family: the
-- "exhaust signature" of agents (a response that asks to run a tool instead of answering), with the tool funnel
-- before it: how many completed requests offered tools, and how many of those got a response carrying a tool
-- call. Completed = the final attempt succeeded; a tool call = its normalized finish_reason is 'tool_calls'.
-- The funnel rests on the requests whose log says how many tools were offered (tools_logged_requests: its
-- coverage); the tool-call rate on every completed request. Requests whose log names no model (workload traces)
-- have no family and are left out, and so are operations that generate no text (embeddings, images, audio,
-- rerank, moderation: gl_is_generation).
--
-- grain: one row per day x model_family
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the requests arrived
--   model_family: family of the model that served the final attempt
--   completed_requests: requests whose final attempt succeeded
--   tool_call_requests: completed requests whose final attempt ended in a tool call
--   tool_call_rate: tool_call_requests / completed_requests (NULL without completed requests)
--   tools_logged_requests: completed requests whose log says how many tools were offered
--   tools_offered_requests: of those, requests that offered at least one tool
--   tool_use_requests: of those, requests whose response carries at least one tool call
--   tools_offered_share: tools_offered_requests / tools_logged_requests
--   tool_use_share: tool_use_requests / tools_offered_requests

with

requests as (
    select * from int_requests_rolled_up
    where model_family is not null and is_generation
),

final as (
    select
        day,
        model_family,
        count(*) filter (where status = 'success') as completed_requests,
        count(*) filter (where status = 'success' and finish_reason = 'tool_calls') as tool_call_requests,
        gl_ratio(tool_call_requests, completed_requests) as tool_call_rate,
        count(tools_offered) filter (where status = 'success') as tools_logged_requests,
        count(*) filter (where status = 'success' and tools_offered > 0) as tools_offered_requests,
        count(*) filter (where status = 'success' and tools_offered > 0 and tool_calls > 0) as tool_use_requests,
        gl_ratio(tools_offered_requests, tools_logged_requests) as tools_offered_share,
        gl_ratio(tool_use_requests, tools_offered_requests) as tool_use_share,
    from requests
    group by day, model_family
)

select * from final
