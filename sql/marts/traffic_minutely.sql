-- traffic_minutely: request arrivals per minute, every minute from the first day with traffic to the last
-- (zero-filled), with the rolling baseline that burst detection compares against. A request arrives with
-- its first attempt; requests without a model (workload traces) count too.
-- A minute is a burst when requests >= gl_burst_k x baseline and requests >= gl_burst_min (defaults 3 and
-- 20): the ratio finds surges against the recent level, the floor keeps a quiet hour's 2 -> 6 from counting.
-- baseline = median of the preceding gl_baseline_minutes minutes (default 60), zeros included; the median
-- is not dragged up by the burst's own first minutes the way a mean would be.
--
-- grain: one row per minute
-- materialized: incremental
-- partition_day: cast(minute as date)
-- columns:
--   minute: UTC minute
--   requests: requests that arrived in the minute
--   baseline: median requests per minute over the preceding baseline window
--   is_burst: requests >= k x baseline and requests >= the minimum count

with

arrivals as (
    select date_trunc('minute', arrived_at) as minute
    from int_requests_rolled_up
    where day between gl_context_from() and gl_context_to()
),

bounds as (
    select
        greatest(min(day), gl_context_from()) as first_day,
        least(max(day), gl_context_to()) as last_day,
    from int_requests_rolled_up
    having count(*) > 0
),

spine as (
    select
        unnest(generate_series(
            cast(first_day as timestamp),
            cast(last_day as timestamp) + interval 1 day - interval 1 minute,
            interval 1 minute
        )) as minute,
    from bounds
    where first_day <= last_day
),

per_minute as (
    select
        minute,
        count(*) as requests,
    from arrivals
    group by minute
),

counted as (
    select
        spine.minute,
        coalesce(per_minute.requests, 0) as requests,
        -- the frame below is bounded by this column (the same on every row), not by the call: the SQL linter's
        -- grammar takes a literal or a column as a frame bound
        getvariable('gl_baseline_minutes') as baseline_minutes,
    from spine
    left join per_minute on per_minute.minute = spine.minute
),

final as (
    select
        minute,
        requests,
        coalesce(
            median(requests) over (
                order by minute rows between baseline_minutes preceding and 1 preceding
            ),
            0
        ) as baseline,
        requests >= getvariable('gl_burst_k') * baseline and requests >= getvariable('gl_burst_min') as is_burst,
    from counted
)

select * from final
