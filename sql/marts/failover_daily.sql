-- failover_daily: how requests fare when their first provider fails, per day and first-attempt provider.
-- A request with a fallback has more than one attempt (a retry on the same provider or a fallback to
-- another); it is recovered when its final attempt succeeded. added_latency_ms is the median time from the
-- first attempt's start to the final attempt's start among recovered requests: what failing over cost.
--
-- grain: one row per day x first_provider
-- materialized: incremental
-- partition_day: day
-- columns:
--   day: UTC day the requests arrived
--   first_provider: provider of the requests' first attempt
--   requests: requests whose first attempt went to this provider
--   requests_with_fallback: of those, requests with more than one attempt
--   recovered: requests with a fallback whose final attempt succeeded
--   recovery_rate: recovered / requests_with_fallback
--   added_latency_ms: median first-to-final attempt start delay of recovered requests, milliseconds

with

requests as (
    select * from int_requests_rolled_up
    where first_provider is not null
),

final as (
    select
        day,
        first_provider,
        count(*) as requests,
        count(*) filter (where attempts > 1) as requests_with_fallback,
        count(*) filter (where attempts > 1 and status = 'success') as recovered,
        gl_ratio(recovered, requests_with_fallback) as recovery_rate,
        median(date_diff('millisecond', arrived_at, final_started_at)) filter (
            where attempts > 1 and status = 'success'
        ) as added_latency_ms,
    from requests
    group by day, first_provider
)

select * from final
