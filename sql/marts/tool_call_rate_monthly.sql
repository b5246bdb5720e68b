-- tool_call_rate_monthly: tool_call_rate_daily added up per calendar month, for leadership trends. The rate is
-- recomputed from the summed counts (not averaged over days). The first and last periods may be partial:
-- `days` says how many days had data.
--
-- grain: one row per month x model_family
-- inputs: tool_call_rate_daily
-- materialized: table
-- columns:
--   month: first day of the calendar month
--   model_family: model family
--   days: days of the period with completed requests of the family
--   completed_requests: requests whose final attempt succeeded
--   tool_call_requests: completed requests ending in a tool call
--   tool_call_rate: tool_call_requests / completed_requests

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
    from daily
    group by all
),

final as (
    select
        *,
        gl_ratio(tool_call_requests, completed_requests) as tool_call_rate,
    from summed
)

select * from final
