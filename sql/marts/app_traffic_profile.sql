-- app_traffic_profile: how each app's traffic is shaped in time, over all its history.
-- burstiness is the Goh-Barabasi coefficient B = (sigma - mu) / (sigma + mu) of the app's inter-arrival
-- times: 0 for a Poisson stream, -1 for a perfectly periodic one, towards 1 for traffic that comes in bursts
-- with long silences (scheduled agents). NULL with fewer than two inter-arrival times.
-- peak_to_mean_hourly = the busiest hour's requests / mean requests per hour over the app's span (first to
-- last active hour, quiet hours included). overnight_share = share of requests in the overnight window
-- (see int_app_arrivals_hourly).
--
-- grain: one row per app_id
-- materialized: table
-- columns:
--   app_id: the calling application (NULL when the log names none)
--   requests: requests the app sent
--   burstiness: Goh-Barabasi B of its inter-arrival times
--   peak_to_mean_hourly: busiest hour / mean hour over the app's active span
--   overnight_share: share of its requests in the overnight window (local time)
--   active_days: UTC days with at least one request
--   first_seen: first arrival (UTC)
--   last_seen: last arrival (UTC)

with

hourly as (
    select
        *,
        -- the gap from the app's previous active hour's last arrival to this hour's first
        epoch(first_arrival - lag(last_arrival) over (partition by app_id order by hour)) as gap_before_seconds,
    from int_app_arrivals_hourly
),

gap_moments as (
    select
        app_id,
        sum(requests)::bigint as total_requests,
        sum(overnight_requests)::bigint as total_overnight,
        sum(gaps) + count(gap_before_seconds) as all_gaps,
        (sum(gap_seconds_sum) + coalesce(sum(gap_before_seconds), 0)) / all_gaps as mu,
        sqrt(greatest(
            (sum(gap_seconds_sumsq) + coalesce(sum(gap_before_seconds * gap_before_seconds), 0)) / all_gaps - mu * mu,
            0
        )) as sigma,
        max(requests) as peak_hour_requests,
        date_diff('hour', min(hour), max(hour)) + 1 as span_hours,
        count(distinct cast(hour as date)) as active_days,
        min(first_arrival) as first_seen,
        max(last_arrival) as last_seen,
    from hourly
    group by app_id
),

final as (
    select
        app_id,
        total_requests as requests,
        case when all_gaps >= 2 and sigma + mu > 0 then (sigma - mu) / (sigma + mu) end as burstiness,
        peak_hour_requests / (total_requests / span_hours) as peak_to_mean_hourly,
        gl_ratio(total_overnight, total_requests) as overnight_share,
        active_days,
        first_seen,
        last_seen,
    from gap_moments
)

select * from final
