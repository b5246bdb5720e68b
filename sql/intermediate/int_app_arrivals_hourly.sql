-- int_app_arrivals_hourly: each app's request arrivals per hour, with the sums the burstiness measure needs
-- (count, sum and sum of squares of the inter-arrival times within the hour, and the first and last
-- arrival, so gaps across hours can be added later) and the arrivals in the overnight window.
-- The overnight window is [gl_overnight_start_hour, gl_overnight_end_hour) local time in gl_overnight_tz
-- (defaults 0, 6, UTC).
--
-- grain: one row per hour x app_id
-- materialized: incremental
-- partition_day: cast(hour as date)
-- columns:
--   hour: UTC hour
--   app_id: the calling application (NULL when the log names none)
--   requests: requests that arrived in the hour
--   overnight_requests: of those, the ones in the overnight window (local time)
--   gaps: inter-arrival times within the hour (requests - 1)
--   gap_seconds_sum: their sum, seconds
--   gap_seconds_sumsq: the sum of their squares, seconds squared
--   first_arrival: first arrival in the hour (UTC)
--   last_arrival: last arrival in the hour (UTC)

with

arrivals as (
    select
        app_id,
        arrived_at,
        date_trunc('hour', arrived_at) as hour,
        hour(timezone(getvariable('gl_overnight_tz'), timezone('UTC', arrived_at))) as local_hour,
    from int_requests_rolled_up
    where day between gl_context_from() and gl_context_to()
),

gaps as (
    select
        *,
        epoch(arrived_at - lag(arrived_at) over (partition by app_id, hour order by arrived_at)) as gap_seconds,
    from arrivals
),

final as (
    select
        hour,
        app_id,
        count(*) as requests,
        count(*) filter (
            where local_hour >= getvariable('gl_overnight_start_hour')
            and local_hour < getvariable('gl_overnight_end_hour')
        ) as overnight_requests,
        count(gap_seconds) as gaps,
        coalesce(sum(gap_seconds), 0) as gap_seconds_sum,
        coalesce(sum(gap_seconds * gap_seconds), 0) as gap_seconds_sumsq,
        min(arrived_at) as first_arrival,
        max(arrived_at) as last_arrival,
    from gaps
    group by hour, app_id
)

select * from final
