-- tool_call_rate_monthly: tool_call_rate_daily added up per calendar month, with its tool funnel, for
-- leadership trends. Rates and shares are recomputed from the summed counts (not averaged over days). The first
-- and last periods may be partial: `days` says how many days had data.
--
-- grain: one row per month x model_family
-- materialized: table
-- columns:
--   month: first day of the calendar month
--   model_family: model family
--   days: days of the period with completed requests of the family
--   completed_requests: requests whose final attempt succeeded
--   tool_call_requests: completed requests ending in a tool call
--   tool_call_rate: tool_call_requests / completed_requests
--   tools_logged_requests: completed requests whose log says how many tools were offered
--   tools_offered_requests: of those, requests that offered at least one tool
--   tool_use_requests: of those, requests whose response carries at least one tool call
--   tools_offered_share: tools_offered_requests / tools_logged_requests
--   tool_use_share: tool_use_requests / tools_offered_requests

with

daily as (
    select * from tool_call_rate_daily
),

summed as (
    select
        cast(date_trunc('month', day) as date) as month,
        model_family,
        count(*) filter (where completed_requests > 0) as days,
        sum(completed_requests)::bigint as completed_requests,
        sum(tool_call_requests)::bigint as tool_call_requests,
        sum(tools_logged_requests)::bigint as tools_logged_requests,
        sum(tools_offered_requests)::bigint as tools_offered_requests,
        sum(tool_use_requests)::bigint as tool_use_requests,
    from daily
    group by all
),

final as (
    select
        * exclude (tools_logged_requests, tools_offered_requests, tool_use_requests),
        gl_ratio(tool_call_requests, completed_requests) as tool_call_rate,
        tools_logged_requests,
        tools_offered_requests,
        tool_use_requests,
        gl_ratio(tools_offered_requests, tools_logged_requests) as tools_offered_share,
        gl_ratio(tool_use_requests, tools_offered_requests) as tool_use_share,
    from summed
)

select * from final
